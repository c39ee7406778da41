# Shell helpers for integration tests: each check prints one TAP line
# ("ok N - what" / "not ok N - what") that tests/run.sh counts.
# Sourced by tests/integration/*.sh; expects PURSER_BUILD and the
# harness's PURSER_TEST_* variables.
: "${PURSER_BUILD:=build}"
PURSER="$PWD/$PURSER_BUILD/purser"
T_N=0
T_FAILED=0
T_TMP=$(mktemp -d /tmp/purser-test.XXXXXX)
trap 'rm -rf "$T_TMP"' EXIT

t_ok() { T_N=$((T_N + 1)); echo "ok $T_N - $1"; }
t_fail() { T_N=$((T_N + 1)); T_FAILED=$((T_FAILED + 1)); echo "not ok $T_N - $1"; shift; for l in "$@"; do echo "#   $l"; done; }
t_skip() { T_N=$((T_N + 1)); echo "ok $T_N - $1 # SKIP $2"; }

# run CMD...: sets T_OUT (stdout+stderr) and T_RC
run() { T_OUT=$("$@" 2>&1); T_RC=$?; }

# expect RC "what" CMD...: the command exits with RC
expect() {
    want=$1; what=$2; shift 2
    run "$@"
    if [ "$T_RC" = "$want" ]; then t_ok "$what"; else t_fail "$what" "exit $T_RC, expected $want" "$T_OUT"; fi
}

# expect_out RC PATTERN "what" CMD...: exit RC and output matching the grep -E pattern
expect_out() {
    want=$1; pat=$2; what=$3; shift 3
    run "$@"
    if [ "$T_RC" = "$want" ] && printf '%s\n' "$T_OUT" | grep -Eq -- "$pat"; then
        t_ok "$what"
    else
        t_fail "$what" "exit $T_RC (expected $want), output should match: $pat" "$T_OUT"
    fi
}

# same VALUE EXPECTED "what"
same() {
    if [ "$1" = "$2" ]; then t_ok "$3"; else t_fail "$3" "got '$1', expected '$2'"; fi
}

# fresh_db NAME: a new empty database on the harness server; prints its conninfo
fresh_db() {
    "$PURSER_TEST_PGBIN/psql" -X -q -h "$PURSER_TEST_PGHOST" -p "$PURSER_TEST_PGPORT" -U purser -d postgres \
        -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $1 WITH (FORCE)" \
        -c "CREATE DATABASE $1" >/dev/null
    echo "host=$PURSER_TEST_PGHOST port=$PURSER_TEST_PGPORT dbname=$1 user=purser"
}

# sql CONNINFO QUERY: one value, unaligned
sql() { "$PURSER_TEST_PGBIN/psql" -X -q -At -d "$1" -c "$2"; }

t_done() { exit $((T_FAILED > 0)); }
