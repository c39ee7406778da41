#!/bin/sh
# bench_settlement.sh: settle ~1,000,000 simulated order lines with
# `purser run settle-orders` (the whole job: batch transaction, ledger,
# payouts, workbook), and, in the same run on the same database, a pure-SQL
# baseline: one INSERT ... SELECT of the same sale lines' ledger entries
# (the plugin's own settlement_sale_lines(), no batch, no marking, no
# payouts, no workbook) into a table shaped like ledger_entries without
# indexes or triggers. Prints seconds, rows/s, peak RSS and the ratio of
# each of BENCH_RUNS (3) pairs, each on a fresh copy of the store, and the
# median ratio.
#   tests/bench/bench_settlement.sh [PURSER]   (BENCH_ORDERS=540000 by default:
#                                               about a million settled lines)
# Uses the test harness's server when PURSER_TEST_PGHOST is set, else
# starts a throwaway one (tests/lib/pg_harness.sh) and stops it on exit.
set -eu
: "${PURSER_BUILD:=build}"
PURSER=${1:-$PURSER_BUILD/purser}
case "$PURSER" in /*) ;; *) PURSER="$PWD/$PURSER" ;; esac
ORDERS=${BENCH_ORDERS:-540000}
DAYS=${BENCH_DAYS:-30}
work=$(mktemp -d /tmp/purser-bench-settle.XXXXXX)
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
unset PURSER_DATABASE_URL
PSQL="$PURSER_TEST_PGBIN/psql -X -q -h $PURSER_TEST_PGHOST -p $PURSER_TEST_PGPORT -U purser"
$PSQL -d postgres -c "DROP DATABASE IF EXISTS bench_settle" -c "CREATE DATABASE bench_settle"
DB="host=$PURSER_TEST_PGHOST port=$PURSER_TEST_PGPORT dbname=bench_settle user=purser"
q() { $PSQL -d bench_settle -At -c "$1"; }
mkdir -p "$work/jobs" "$work/plugins"
# only this plugin: a half-built neighbour in build/plugins cannot skew the figures
ln -s "$(dirname "$PURSER")/plugins/settlement.so" "$work/plugins/settlement.so"
cat >"$work/purser.yaml" <<YAML
database:
  url: "$DB"
plugins:
  dir: $work/plugins
reports:
  output_dir: $work/reports
jobs:
  dir: $work/jobs
YAML
cat >"$work/jobs/settle.yaml" <<'YAML'
jobs:
  settle-orders:
    plugin: settlement
    schedule: "@daily"
    timezone: UTC
YAML
P() { "$PURSER" -c "$work/purser.yaml" "$@"; }
P migrate >/dev/null 2>&1
P --log-level warn simulate --orders "$ORDERS" --days "$DAYS" --buyers $((ORDERS / 5 + 1000)) \
    --out "$work/sim" >/dev/null
DATE=$(date -u -d "2025-01-01 + $DAYS days" +%F)
q "VACUUM ANALYZE"

# BENCH_RUNS (default 3) pairs, each on its own copy of the simulated store
# (this VM's timings vary by 15 % from run to run): the baseline, measured
# twice (the first pass also warms the cache for both sides), then the
# settlement run. The plugin's defaults: half-even, 290 bp estimate, 1000 bp.
baseline_sql="INSERT INTO bench_ledger (journal_id, account, amount_minor, currency, seller_id, line_id)
SELECT s.seller_id, e.account, e.amount, s.currency, s.seller_id, s.order_item_id
  FROM settlement_sale_lines(('$DATE'::date + 1)::timestamp AT TIME ZONE 'UTC',
                             ('$DATE'::date + 1 - 90)::timestamp AT TIME ZONE 'UTC',
                             NULL, 'half_even', 290, 1000, '{}', '{}', '{}') s
 CROSS JOIN LATERAL (VALUES ('provider_clearing', s.gross_minor),
                            ('commission_revenue', -s.commission_minor),
                            ('payment_fees', -s.fee_minor),
                            ('seller_payable', -(s.gross_minor - s.commission_minor - s.fee_minor)))
       AS e(account, amount)
 WHERE e.amount <> 0"
RUNS=${BENCH_RUNS:-3}
sed "s|dbname=bench_settle |dbname=bench_settle_run |" "$work/purser.yaml" >"$work/run.yaml"
r() { $PSQL -d bench_settle_run -At -c "$1"; }
: >"$work/pairs"
i=0
while [ $i -lt "$RUNS" ]; do
    i=$((i + 1))
    $PSQL -d postgres -c "DROP DATABASE IF EXISTS bench_settle_run" \
        -c "CREATE DATABASE bench_settle_run TEMPLATE bench_settle STRATEGY FILE_COPY"
    r "CREATE TABLE bench_ledger (LIKE ledger_entries INCLUDING DEFAULTS)"
    r "$baseline_sql"
    r "TRUNCATE bench_ledger"
    r "CHECKPOINT"
    t0=$(date +%s.%N)
    r "$baseline_sql"
    t1=$(date +%s.%N)
    base_rows=$(r "SELECT count(*) FROM bench_ledger")
    r "DROP TABLE bench_ledger"
    r "CHECKPOINT"
    rm -rf "$work/reports"
    /usr/bin/time -v -o "$work/time" "$PURSER" -c "$work/run.yaml" --log-level debug \
        run settle-orders --date "$DATE" >"$work/run.log" 2>&1 \
        || { cat "$work/run.log" >&2; echo "bench_settlement: the settlement run failed" >&2; exit 1; }
    rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$work/time")
    elapsed=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$work/time" |
        awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; print s }')
    # the split between the batch transaction and the workbook, from the log
    split=$(awk '/step .begin./ { b = $1 } / step .commit./ { c = $1 } /wrote .*xlsx/ { w = $1 }
        function sec(t) { split(substr(t, 12, 12), a, ":"); return a[1] * 3600 + a[2] * 60 + a[3] }
        END { printf "%.1f %.1f", sec(c) - sec(b), sec(w) - sec(c) }' "$work/run.log")
    echo "$t0 $t1 $elapsed $split $rss $base_rows" >>"$work/pairs"
    cp "$work/run.log" "$work/run$i.log"
done
lines=$(r "SELECT count(*) FROM settlement_lines")
entries=$(r "SELECT count(*) FROM ledger_entries")
same=$(r "SELECT count(*) FROM settlement_lines WHERE kind = 'sale'")
xlsx=$(ls -l "$work/reports/settlement_$DATE.xlsx" | awk '{ print $5 }')
awk -v o="$ORDERS" -v l="$lines" -v s="$same" -v e="$entries" -v x="$xlsx" '
{ base[NR] = $2 - $1; run[NR] = $3; batch[NR] = $4; wb[NR] = $5; rss[NR] = $6; br = $7
  ratio[NR] = run[NR] / base[NR]; n = NR }
END {
    printf "settle    %d orders: %d statement lines (%d sales), %d ledger entries, workbook %.0f MB; %d runs\n", o, l, s, e, x / 1048576, n
    for (i = 1; i <= n; i++) {
        printf "run %d     settle %.1f s (batch transaction %.1f s, workbook after it %.1f s), %.0f lines/s, peak RSS %.1f MiB;\n", i, run[i], batch[i], wb[i], l / run[i], rss[i] / 1024
        printf "          baseline (one INSERT ... SELECT of the %d sale-line ledger entries) %.1f s: ratio %.2f, batch transaction alone %.2f\n", br, base[i], ratio[i], batch[i] / base[i]
    }
    # the median run by its ratio
    for (i = 1; i <= n; i++) { k = 0; for (j = 1; j <= n; j++) if (ratio[j] < ratio[i] || (ratio[j] == ratio[i] && j < i)) k++; if (k == int((n - 1) / 2)) m = i }
    printf "ratio     settle / baseline, median of %d runs = %.2f (goal <= 1.5); its batch transaction alone %.2f\n", n, ratio[m], batch[m] / base[m]
}' "$work/pairs"
# where each run's batch transaction went (steps over 0.5 s)
i=0
while [ $i -lt "$RUNS" ]; do
    i=$((i + 1))
    wait_ms=$(sed -n 's/.*waited \([0-9]*\) ms for the writer thread.*/\1/p' "$work/run$i.log")
    sed -n "s/.*step '\([^']*\)': \([0-9]*\) rows in \([0-9]*\) ms.*/\1|\2|\3/p" "$work/run$i.log" |
        awk -F'|' -v i=$i -v w="${wait_ms:-?}" '$3 >= 500 { s = s sprintf("%s%s %.1f s", s == "" ? "" : ", ", $1, $3 / 1000) }
            END { printf "steps %d   %s; then waited %s ms for the workbook\n", i, s, w }'
done
$PSQL -d postgres -c "DROP DATABASE bench_settle_run" -c "DROP DATABASE bench_settle"
