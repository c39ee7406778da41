#!/bin/sh
# `make bench`: every tests/bench/bench_*.sh, each printing its figures and
# their ratio to a baseline measured in the same run. BENCH_ONLY=NAME runs
# one (e.g. BENCH_ONLY=simulate).
set -u
: "${PURSER_BUILD:=build}"
export PURSER_BUILD
status=0
for b in tests/bench/bench_*.sh; do
    [ -f "$b" ] || continue
    name=$(basename "$b" .sh); name=${name#bench_}
    [ -n "${BENCH_ONLY:-}" ] && [ "$BENCH_ONLY" != "$name" ] && continue
    echo "== bench: $name"
    sh "$b" "$PURSER_BUILD/purser" || { echo "bench $name failed"; status=1; }
done
exit $status
