#!/bin/sh
# bench_simulate.sh: `purser simulate` into a fresh database, then a baseline
# in the same run: a plain COPY of the same rows (exported with COPY TO) into
# an empty copy of the schema. Prints seconds, rows/s and the ratio.
#   tests/bench/bench_simulate.sh            (BENCH_ORDERS=1000000 by default)
# Uses the test harness's server when PURSER_TEST_PGHOST is set, else
# starts a throwaway one (tests/lib/pg_harness.sh) and stops it on exit.
set -eu
: "${PURSER_BUILD:=build}"
PURSER="$PWD/$PURSER_BUILD/purser"
ORDERS=${BENCH_ORDERS:-1000000}
DAYS=${BENCH_DAYS:-30}
work=$(mktemp -d /tmp/purser-bench-sim.XXXXXX)
started=""
cleanup() {
    [ -n "$started" ] && tests/lib/pg_harness.sh stop "$PURSER_TEST_PGDIR"
    rm -rf "$work"
}
trap cleanup EXIT INT TERM
if [ -z "${PURSER_TEST_PGHOST:-}" ]; then
    tests/lib/pg_harness.sh start >"$work/env"
    . "$work/env"
    started=1
fi
PSQL="$PURSER_TEST_PGBIN/psql -X -q -h $PURSER_TEST_PGHOST -p $PURSER_TEST_PGPORT -U purser"
$PSQL -d postgres -c "DROP DATABASE IF EXISTS bench_sim" -c "CREATE DATABASE bench_sim" \
    -c "DROP DATABASE IF EXISTS bench_copy" -c "CREATE DATABASE bench_copy"
url() { echo "host=$PURSER_TEST_PGHOST port=$PURSER_TEST_PGPORT dbname=$1 user=purser"; }
PURSER_DATABASE_URL=$(url bench_sim) "$PURSER" migrate >/dev/null 2>&1
PURSER_DATABASE_URL=$(url bench_copy) "$PURSER" migrate >/dev/null 2>&1
tables="depots buyers sellers delivery_agents products inventory orders order_items payments deliveries delivery_events"

t0=$(date +%s.%N)
PURSER_DATABASE_URL=$(url bench_sim) "$PURSER" --log-level warn simulate --orders "$ORDERS" \
    --days "$DAYS" --buyers $((ORDERS / 5 + 1000)) --out "$work/out"
t1=$(date +%s.%N)
rows=0
for t in $tables; do
    n=$($PSQL -d bench_sim -At -c "SELECT count(*) FROM $t")
    rows=$((rows + n))
    $PSQL -d bench_sim -c "\\copy $t TO '$work/$t.tsv'"
done
# baseline: the same rows with plain COPY into the empty schema, keys,
# indexes and foreign keys in place, one transaction
{
    echo "BEGIN;"
    for t in $tables; do printf '\\copy %s FROM %s\n' "$t" "'$work/$t.tsv'"; done
    echo "COMMIT;"
} >"$work/load.sql"
t2=$(date +%s.%N)
$PSQL -d bench_copy -v ON_ERROR_STOP=1 -f "$work/load.sql"
t3=$(date +%s.%N)
loaded=$($PSQL -d bench_copy -At -c "SELECT count(*) FROM orders")
[ "$loaded" = "$ORDERS" ] || { echo "bench_simulate: baseline loaded $loaded orders, expected $ORDERS" >&2; exit 1; }
awk -v o="$ORDERS" -v r="$rows" -v a="$t0" -v b="$t1" -v c="$t2" -v d="$t3" 'BEGIN {
    s = b - a; p = d - c
    printf "simulate  %d orders, %d rows: %.1f s, %.0f rows/s (incl. provider reports)\n", o, r, s, r / s
    printf "baseline  plain COPY of the same rows: %.1f s, %.0f rows/s\n", p, r / p
    printf "ratio     simulate / COPY = %.2f\n", s / p
}'
$PSQL -d postgres -c "DROP DATABASE bench_sim" -c "DROP DATABASE bench_copy"
