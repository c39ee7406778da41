#!/bin/sh
# Runs the test suite: cmocka unit tests, then (with a throwaway PostgreSQL
# server started here and stopped on exit, even when a test fails) the
# C and shell integration tests. Ends with "N passed, N failed, N skipped".
#   tests/run.sh [--unit]
# PURSER_TESTS=WORD (make test TESTS=WORD) runs only the tests whose file
# name contains WORD, e.g. TESTS=settlement while working on that plugin.
set -u
: "${PURSER_BUILD:=build}"
export PURSER_BUILD
: "${PURSER_FIXTURES:=../shared/fixtures}"
export PURSER_FIXTURES
only_unit=0
[ "${1:-}" = "--unit" ] && only_unit=1
unset PURSER_CONFIG PURSER_DATABASE_URL
passed=0 failed=0 skipped=0
failures=""
logdir="$PURSER_BUILD/test-logs"
rm -rf "$logdir"; mkdir -p "$logdir"

# count_cmocka LOG: add the [ PASSED ] / [ FAILED ] / [ SKIPPED ] counts
count_cmocka() {
    p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$1" | awk '{s+=$1} END {print s+0}')
    f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$1" | awk '{s+=$1} END {print s+0}')
    s=$(sed -n 's/^\[  SKIPPED \] \([0-9]*\) test.*/\1/p' "$1" | awk '{s+=$1} END {print s+0}')
    passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
}

# count_tap LOG
count_tap() {
    s=$(grep -c '^ok .* # SKIP' "$1")
    p=$(grep -c '^ok ' "$1")
    f=$(grep -c '^not ok ' "$1")
    passed=$((passed + p - s)); failed=$((failed + f)); skipped=$((skipped + s))
}

# run_one KIND FILE: run a test program or script, keep its log, count it
run_one() {
    kind=$1; file=$2; name=$(basename "$file")
    case "$name" in *"${PURSER_TESTS:-}"*) ;; *) return 0 ;; esac
    log="$logdir/$name.log"
    start=$(date +%s)
    if [ "$kind" = tap ]; then sh "$file" >"$log" 2>&1; else "$file" >"$log" 2>&1; fi
    rc=$?
    before=$failed
    if [ "$kind" = tap ]; then count_tap "$log"; else count_cmocka "$log"; fi
    if [ $rc -ne 0 ] && [ "$failed" = "$before" ]; then
        failed=$((failed + 1))   # crashed or exited non-zero without saying which test
        echo "  $name exited $rc (crash or sanitizer report?)" >>"$log"
    fi
    status=ok; [ "$failed" != "$before" ] && { status=FAILED; failures="$failures $log"; }
    printf '%-40s %-7s %3ss\n' "$name" "$status" "$(( $(date +%s) - start ))"
}

echo "== unit tests"
for t in "$PURSER_BUILD"/tests/unit/test_*; do
    [ -x "$t" ] && run_one cmocka "$t"
done

if [ $only_unit = 0 ]; then
    echo "== integration tests (throwaway PostgreSQL)"
    env_file=$(mktemp)
    if tests/lib/pg_harness.sh start >"$env_file"; then
        . "$env_file"
        trap 'tests/lib/pg_harness.sh stop "$PURSER_TEST_PGDIR"; rm -f "$env_file"' EXIT INT TERM
        echo "   server: $PURSER_TEST_PGDIR (port $PURSER_TEST_PGPORT)"
        for t in "$PURSER_BUILD"/tests/integration/test_*; do
            [ -x "$t" ] && run_one cmocka "$t"
        done
        for t in tests/integration/test_*.sh; do
            [ -f "$t" ] && run_one tap "$t"
        done
    else
        echo "could not start the test PostgreSQL server" >&2
        failed=$((failed + 1))
    fi
fi

for log in $failures; do
    echo; echo "---- $log"; grep -v '^ok ' "$log" | tail -n 60
done
echo
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
