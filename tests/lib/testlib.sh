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

# plugin_store NAME "PLUGIN..." SETTINGS [MORE]: a fresh database NAME, a
# plugins folder holding just those plugins, and a config whose plugins:
# block ends with SETTINGS (YAML lines indented by two) and which ends with
# MORE; sets DB, C (the config) and R (its report folder)
plugin_store() {
    DB=$(fresh_db "$1")
    mkdir -p "$T_TMP/$1/jobs" "$T_TMP/$1/plugins"
    for p in $2; do ln -sf "$PWD/$PURSER_BUILD/plugins/$p.so" "$T_TMP/$1/plugins/$p.so"; done
    C="$T_TMP/$1/purser.yaml"
    R="$T_TMP/$1/reports"
    cat >"$C" <<YAML
database:
  url: "$DB"
plugins:
  dir: $T_TMP/$1/plugins
$3
reports:
  output_dir: $R
jobs:
  dir: $T_TMP/$1/jobs
${4:-}
YAML
}

# daily_job FILE JOB PLUGIN: a jobs file defining JOB, PLUGIN at @daily UTC
daily_job() {
    printf 'jobs:\n  %s:\n    plugin: %s\n    schedule: "@daily"\n    timezone: UTC\n' "$2" "$3" >"$1"
}

# migrate_or_stop CONFIG LOG: `purser migrate`, or fail and end the test
migrate_or_stop() {
    "$PURSER" -c "$1" migrate >"$2" 2>&1 || { t_fail "migrate ($1)" "$(cat "$2")"; t_done; }
}

# kill_mid_transaction CONNINFO TABLE PATTERN LOG CMD...: crash a run inside
# its transaction. Holds an exclusive lock on TABLE, starts CMD (a `purser
# run`, output to LOG) in the background, waits until its transaction waits
# for that lock at a statement LIKE PATTERN, then kill -9s the run's worker
# (CMD's children) and releases the lock. T_WAITERS is then the number of
# sessions that were waiting on a lock at that moment (1: the run was caught
# mid-transaction); when it returns no other session of the database is left.
kill_mid_transaction() {
    _kdb=$1 _ktable=$2 _kpattern=$3 _klog=$4
    shift 4
    _kname=$(sql "$_kdb" "SELECT current_database()")
    "$PURSER_TEST_PGBIN/psql" -X -q -d "$_kdb" -c "BEGIN" -c "LOCK TABLE $_ktable IN EXCLUSIVE MODE" \
        -c "SELECT pg_sleep(60)" >/dev/null 2>&1 &
    _klocker=$!
    _ki=0
    while [ "$(sql "$_kdb" "SELECT count(*) FROM pg_locks WHERE relation = '$_ktable'::regclass
                             AND mode = 'ExclusiveLock' AND granted")" != 1 ] && [ $_ki -lt 100 ]; do
        sleep 0.1; _ki=$((_ki + 1))
    done
    "$@" >"$_klog" 2>&1 &
    _krun=$!
    _ki=0
    while [ "$(sql "$_kdb" "SELECT count(*) FROM pg_stat_activity WHERE datname = '$_kname'
                             AND wait_event_type = 'Lock' AND query LIKE '$_kpattern'")" != 1 ] &&
          [ $_ki -lt 150 ]; do
        sleep 0.2; _ki=$((_ki + 1))
    done
    T_WAITERS=$(sql "$_kdb" "SELECT count(*) FROM pg_stat_activity WHERE datname = '$_kname'
                              AND wait_event_type = 'Lock'")
    for _kchild in $(ps -o pid= --ppid "$_krun"); do kill -9 "$_kchild"; done
    wait "$_krun"
    sql "$_kdb" "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                 WHERE datname = '$_kname' AND pid <> pg_backend_pid()" >/dev/null
    wait "$_klocker" 2>/dev/null
    _ki=0
    while [ "$(sql "$_kdb" "SELECT count(*) FROM pg_stat_activity WHERE datname = '$_kname'
                             AND pid <> pg_backend_pid()")" != 0 ] && [ $_ki -lt 50 ]; do
        sleep 0.2; _ki=$((_ki + 1))
    done
}

t_done() { exit $((T_FAILED > 0)); }
