#!/bin/sh
# bench_reconciliation.sh PURSER: the reconciliation of BENCH_ROWS (default
# 1,000,000) internal payments against a Stripe report of as many rows with
# 1% injected discrepancies of each kind (amount, currency, missing at the
# provider, duplicate, fee, missing internally) and a payout that does not
# tie. Prints seconds (load + match + store, and the workbook), the peak
# memory of purser, and the ratio to a baseline measured in the same run on
# the same database: a plain COPY of the report + one join on the reference.
# Then the same at a tenth of the rows: memory must not grow with the file.
# Uses the test harness's server when PURSER_TEST_PGHOST is set, else starts
# a throwaway one (tests/lib/pg_harness.sh) and stops it on exit.
set -eu
: "${PURSER_BUILD:=build}"
PURSER=${1:-$PURSER_BUILD/purser}
case "$PURSER" in /*) ;; *) PURSER="$PWD/$PURSER" ;; esac
ROWS=${BENCH_ROWS:-1000000}
D=2026-02-02
work=$(mktemp -d /tmp/purser-bench-recon.XXXXXX)
started=""
cleanup() {
    [ -n "$started" ] && tests/lib/pg_harness.sh stop "$PURSER_TEST_PGDIR"
    [ -n "${BENCH_KEEP:-}" ] && echo "kept $work" >&2 || rm -rf "$work"
}
trap cleanup EXIT INT TERM
if [ -z "${PURSER_TEST_PGHOST:-}" ]; then
    tests/lib/pg_harness.sh start >"$work/env"
    . "$work/env"
    started=1
fi
unset PURSER_DATABASE_URL
PSQL="$PURSER_TEST_PGBIN/psql -X -q -v ON_ERROR_STOP=1 -h $PURSER_TEST_PGHOST -p $PURSER_TEST_PGPORT -U purser"
url() { echo "host=$PURSER_TEST_PGHOST port=$PURSER_TEST_PGPORT dbname=$1 user=purser"; }
now() { date +%s.%N; }

# bench N: one database, N payments, the report, the run and the baseline;
# prints "seconds workbook_seconds peak_kib baseline_seconds"
bench() {
    n=$1; db=bench_recon_$n; dir="$work/$n"
    mkdir -p "$dir/drop" "$dir/jobs" "$dir/reports"
    $PSQL -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
    cat >"$dir/purser.yaml" <<YAML
database:
  url: "$(url $db)"
plugins:
  dir: $(dirname "$PURSER")/plugins
  reconciliation:
    grace_period: 0s
    providers:
      stripe: { format: stripe, drop_folder: "$dir/drop", pattern: "stripe_{date}.csv" }
reports:
  output_dir: $dir/reports
jobs:
  dir: $dir/jobs
YAML
    printf 'jobs:\n  reconcile-payments:\n    plugin: reconciliation\n    schedule: "30 4 * * *"\n' >"$dir/jobs/r.yaml"
    "$PURSER" -c "$dir/purser.yaml" migrate >/dev/null 2>&1
    # our side: n captures of the business date in four currencies
    $PSQL -d $db <<SQL
INSERT INTO buyers (id, external_ref, email, name, country) VALUES (1, 'b1', 'b@example.org', 'B', 'DE');
INSERT INTO orders (id, source, external_ref, buyer_id, currency, status, placed_at, items_minor, total_minor)
SELECT g, 'web', 'W-' || g, 1, 'EUR', 'paid', '$D', 0, 0 FROM generate_series(1, 1000) g;
CREATE TEMP TABLE cur (k int, code text, e int);
INSERT INTO cur VALUES (0, 'EUR', 2), (1, 'USD', 2), (2, 'GBP', 2), (3, 'JPY', 0);
INSERT INTO payments (id, order_id, provider, provider_ref, kind, amount_minor, currency, status, occurred_at, fee_minor)
SELECT g, g % 1000 + 1, 'stripe', 'ch_' || lpad(g::text, 10, '0'), 'capture', 500 + (g::bigint * 7919) % 90000,
       c.code, 'succeeded', '$D'::timestamptz + (g % 86400) * interval '1 second',
       (500 + (g::bigint * 7919) % 90000) * 14 / 1000 + 25
FROM generate_series(1, $n) g JOIN cur c ON c.k = g % 4;
ANALYZE payments;
SQL
    # their side: the report, with 1% of each discrepancy; payout per currency
    $PSQL -d $db -At <<SQL >"$dir/drop/stripe_$D.csv"
\\pset footer off
CREATE TEMP TABLE cur (k int, code text, e int);
INSERT INTO cur VALUES (0, 'EUR', 2), (1, 'USD', 2), (2, 'GBP', 2), (3, 'JPY', 0);
CREATE TEMP TABLE r AS
SELECT 'txn_' || g || '_' || copy AS txn, CASE WHEN copy = 2 THEN 'ch_x' || g ELSE p.provider_ref END AS ref,
       to_char(p.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') AS created,
       CASE WHEN g % 100 = 1 THEN (SELECT code FROM cur WHERE k = (g % 4 + 1) % 4) ELSE p.currency END AS cur,
       p.amount_minor + CASE WHEN g % 100 = 0 THEN 1 ELSE 0 END AS gross,
       p.fee_minor + CASE WHEN g % 100 = 4 THEN 1 ELSE 0 END AS fee
FROM payments p CROSS JOIN LATERAL (SELECT 0 AS copy UNION ALL SELECT 1 WHERE p.id % 100 = 3
                                     UNION ALL SELECT 2 WHERE p.id % 100 = 5) c,
     LATERAL (SELECT p.id AS g) x
WHERE p.id % 100 <> 2;
COPY (
  SELECT 'balance_transaction_id,source_id,charge_id,created,currency,gross,fee,net,reporting_category,automatic_payout_id'
  UNION ALL
  SELECT * FROM (
    SELECT txn || ',' || ref || ',' || ref || ',' || created || ',' || r.cur || ',' ||
           round(gross::numeric / power(10::numeric, c.e), c.e) || ',' || round(fee::numeric / power(10::numeric, c.e), c.e) || ',' ||
           round((gross - fee)::numeric / power(10::numeric, c.e), c.e) || ',charge,po_' || r.cur
    FROM r JOIN cur c ON c.code = r.cur ORDER BY created, txn) rows
  UNION ALL
  SELECT 'txn_payout_' || r.cur || ',po_' || r.cur || ',,$D 23:59:59,' || r.cur || ',' ||
         round(s::numeric / power(10::numeric, c.e), c.e) || ',' || round(0, c.e) || ',' || round(s::numeric / power(10::numeric, c.e), c.e) ||
         ',payout,po_' || r.cur
  FROM (SELECT cur, sum(gross - fee) + CASE WHEN cur = 'GBP' THEN 1 ELSE 0 END AS s FROM r GROUP BY cur) r
  JOIN cur c ON c.code = r.cur
) TO STDOUT;
SQL
    lines=$(($(wc -l <"$dir/drop/stripe_$D.csv") - 1))
    $PSQL -d $db -c "CHECKPOINT"
    t0=$(now)
    /usr/bin/time -f "%M" -o "$dir/rss" "$PURSER" -c "$dir/purser.yaml" --log-level debug run reconcile-payments --date $D >"$dir/run.log" 2>&1 \
        || { cat "$dir/run.log" >&2; exit 1; }
    t1=$(now)
    # the reconcile (start, fetch, COPY, match, store, commit) and the workbook, from the log's stamps
    stamps=$(awk '/ attempt 1\// { a = $1 } / rows loaded; / { b = $1 } / wrote .*xlsx/ { c = $1 } END { print a, b, c }' "$dir/run.log")
    # baseline: COPY of the same file into a table + one join on the reference
    $PSQL -d $db -c "CREATE TABLE base (balance_transaction_id text, source_id text, charge_id text, created timestamp, currency text, gross numeric, fee numeric, net numeric, reporting_category text, automatic_payout_id text)" -c "CHECKPOINT"
    b0=$(now)
    $PSQL -d $db -c "\\copy base FROM '$dir/drop/stripe_$D.csv' WITH (FORMAT csv, HEADER)" \
        -c "SELECT count(*) FROM base b JOIN payments p ON p.provider = 'stripe' AND p.provider_ref = b.source_id" >/dev/null
    b1=$(now)
    counts=$($PSQL -d $db -At -c "SELECT string_agg(category || ' ' || n, ', ' ORDER BY category) FROM (SELECT category, count(*) AS n FROM recon_verdicts GROUP BY 1 UNION ALL SELECT category, count(*) FROM recon_payouts WHERE category <> 'matched' GROUP BY 1) x")
    # a re-run of the same date (the file is recognised, the matching and the
    # workbook run again, beside the first run's results)
    r0=$(now)
    "$PURSER" -c "$dir/purser.yaml" run reconcile-payments --date $D >"$dir/rerun.log" 2>&1 \
        || { cat "$dir/rerun.log" >&2; exit 1; }
    r1=$(now)
    # the slowest steps (debug log: each step's start; a step lasts until the next line)
    awk '/\[reconciliation\]/ { split(substr($1, 12, 12), t, ":"); s = t[1] * 3600 + t[2] * 60 + t[3];
         if (prev != "") d[prev] += s - ps; prev = $0; sub(/.*run [0-9]+: /, "", prev); ps = s }
         END { for (k in d) printf "%.2f %s\n", d[k], substr(k, 1, 70) }' "$dir/run.log" \
        | sort -rn | head -n 6 >"$work/steps_$n"
    echo "$n $lines $t0 $t1 $stamps $(cat "$dir/rss") $b0 $b1 $r0 $r1|$counts"
    [ -n "${BENCH_KEEP:-}" ] || $PSQL -d postgres -c "DROP DATABASE $db"
}

big=$(bench "$ROWS")
small=$(bench $((ROWS / 10)))
printf '%s\n%s\n' "$big" "$small" | awk -F'|' -v steps="$work/steps_$ROWS" '
function secs(stamp) { split(substr(stamp, 12, 12), t, ":"); return t[1] * 3600 + t[2] * 60 + t[3] }
{
    split($1, f, " ")
    n = f[1]; lines = f[2]; total = f[4] - f[3]
    rec = secs(f[6]) - secs(f[5]); wb = secs(f[7]) - secs(f[6]); rss = f[8]; base = f[10] - f[9]
    if (NR == 1) {
        printf "reconcile  %d payments vs a %d-row Stripe report (1%% of each discrepancy)\n", n, lines
        printf "           %s\n", $2
        printf "           load + match + store: %.1f s; workbook: %.1f s; purser run in all: %.1f s\n", rec, wb, total
        printf "           peak memory (purser, RSS): %.1f MiB\n", rss / 1024
        printf "           a re-run of the same date (file recognised, matched and written again): %.1f s\n", f[12] - f[11]
        printf "baseline   COPY of the report + one join on the reference: %.1f s\n", base
        printf "ratio      load + match + store / baseline = %.2f (goal <= 2); with the workbook %.2f\n", rec / base, (rec + wb) / base
        big_rss = rss
        while ((getline line < steps) > 0) printf "           step %s s\n", line
    } else {
        printf "memory     at %d rows: %.1f MiB peak, at %d: %.1f MiB (memory independent of file size)\n", n, rss / 1024, n * 10, big_rss / 1024
    }
}'
