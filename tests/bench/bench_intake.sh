#!/bin/sh
# bench_intake.sh: POST /v1/orders (3 lines each) with wrk over 64
# connections against `purser serve` and a PostgreSQL with fsync and
# synchronous_commit on; then, in the same run, the baseline: pgbench
# inserting the same rows (order + 3 lines) one transaction per order with
# 16 clients. Prints orders/s, p50/p99, the ratio, and the server's RSS at
# start and end.   BENCH_SECONDS=30 (default), BENCH_CONNECTIONS=64,
# BENCH_LEADERS=4 (plugins.intake_http.group_commit_leaders), BENCH_ROUNDS=3
# (the two sides alternate, BENCH_SECONDS split between the rounds).
# Needs wrk (apt-get install wrk): skipped with a message when missing.
set -eu
: "${PURSER_BUILD:=build}"
PURSER="$PWD/$PURSER_BUILD/purser"
SECONDS_=${BENCH_SECONDS:-30}
CONNS=${BENCH_CONNECTIONS:-64}
LEADERS=${BENCH_LEADERS:-4}
ROUNDS=${BENCH_ROUNDS:-3}
command -v wrk >/dev/null 2>&1 || { echo "bench_intake: wrk is not installed (apt-get install wrk): skipped"; exit 0; }
work=$(mktemp -d /tmp/purser-bench-intake.XXXXXX)
pgdir="" server=""
cleanup() {
    [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
    [ -n "$pgdir" ] && tests/lib/pg_harness.sh stop "$pgdir"
    rm -rf "$work"
}
trap cleanup EXIT INT TERM
# A private server: the bench must not share its disk and CPU with a test run.
PURSER_TEST_PGPORT=$(( 40000 + $$ % 10000 )) tests/lib/pg_harness.sh start >"$work/env"
. "$work/env"
pgdir=$PURSER_TEST_PGDIR
PSQL="$PURSER_TEST_PGBIN/psql -X -q -v ON_ERROR_STOP=1 -h $PURSER_TEST_PGHOST -p $PURSER_TEST_PGPORT -U purser"
$PSQL -d postgres -c "CREATE DATABASE bench_intake" -c "CREATE DATABASE bench_pgbench"
url() { echo "host=$PURSER_TEST_PGHOST port=$PURSER_TEST_PGPORT dbname=$1 user=purser"; }
PURSER_DATABASE_URL=$(url bench_intake)   # the harness exported its own: ours wins
export PURSER_DATABASE_URL
free_port() { /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
PORT=$(free_port)
cat >"$work/purser.yaml" <<YAML
database:
  url: "$(url bench_intake)"
plugins:
  dir: $PWD/$PURSER_BUILD/plugins
  intake_http:
    group_commit_leaders: $LEADERS
reports:
  output_dir: $work/reports
jobs:
  dir: $work/jobs
http:
  listen: 127.0.0.1:$PORT
  threads: 0
log:
  level: warn
YAML
mkdir -p "$work/jobs"
# The same store in both databases: 1 seller, 100 products, 1000 buyers and
# a history of 50,000 orders (a store is never empty: plans and statistics
# are those of a live database).
seed="INSERT INTO sellers (external_ref, name, currency, commission_bp) VALUES ('seller-1', 'Bench GmbH', 'EUR', 1000);
INSERT INTO products (seller_id, sku, name, category, price_minor, currency, weight_grams)
  SELECT 1, format('SKU-%s', lpad(i::text, 5, '0')), 'item ' || i, 'bench', 500 + (i * 37) % 5000, 'EUR', 100 + i
  FROM generate_series(1, 100) i;
INSERT INTO buyers (external_ref, email, name, country)
  SELECT format('buyer-%s', lpad(i::text, 6, '0')), format('b%s@example.com', i), 'Buyer ' || i, 'DE'
  FROM generate_series(1, 1000) i;
INSERT INTO orders (source, external_ref, buyer_id, currency, status, placed_at, items_minor, total_minor)
  SELECT 'history', 'h-' || i, 1 + i % 1000, 'EUR', 'delivered', '2025-01-01'::timestamptz + i * interval '1 minute', 1611, 1611
  FROM generate_series(1, 50000) i;
INSERT INTO order_items (order_id, line_no, product_id, seller_id, currency, quantity, unit_price_minor, line_total_minor)
  SELECT o.id, n, 1 + (o.id + n) % 100, 1, 'EUR', 1, 537, 537 FROM orders o, generate_series(1, 3) n;"
for db in bench_intake bench_pgbench; do
    PURSER_DATABASE_URL=$(url $db) "$PURSER" -c "$work/purser.yaml" migrate >/dev/null 2>&1
    $PSQL -d $db -c "$seed" -c "VACUUM ANALYZE"
done
TOKEN=$("$PURSER" -c "$work/purser.yaml" token create bench 2>"$work/token.log") || { cat "$work/token.log" >&2; exit 1; }
"$PURSER" -c "$work/purser.yaml" serve >"$work/serve.log" 2>&1 &
server=$!
i=0; until curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null || [ $i -ge 50 ]; do sleep 0.2; i=$((i + 1)); done
rss() { awk '/^VmRSS/ {print $2}' "/proc/$server/status"; }
# warm up: connections, prepared statements, caches
wrk -t2 -c"$CONNS" -d2s -s tests/bench/intake_orders.lua "http://127.0.0.1:$PORT" -- "$TOKEN" warm 100 1000 >/dev/null
# Baseline: pgbench, the same rows (an order + 3 lines, buyer and products
# looked up as the intake does), one transaction per order, 16 clients.
cat >"$work/order.sql" <<'SQL'
\set b random(1, 1000)
\set p1 random(1, 100)
\set p2 random(1, 100)
\set p3 random(1, 100)
BEGIN;
INSERT INTO orders (source, external_ref, buyer_id, currency, status, placed_at, items_minor, shipping_minor, tax_minor, discount_minor, total_minor)
  SELECT 'pgbench', 'pgb-' || nextval('bench_ref'), id, 'EUR', 'placed', '2025-03-01T10:00:00Z', 6000, 490, 0, 0, 6490
  FROM buyers WHERE external_ref = 'buyer-' || lpad(:b::text, 6, '0') RETURNING id AS oid \gset
INSERT INTO order_items (order_id, line_no, product_id, seller_id, currency, quantity, unit_price_minor, line_total_minor)
  SELECT :oid, n, p.id, p.seller_id, 'EUR', 1, 2000, 2000
  FROM unnest(ARRAY['SKU-' || lpad(:p1::text, 5, '0'), 'SKU-' || lpad(:p2::text, 5, '0'), 'SKU-' || lpad(:p3::text, 5, '0')]) WITH ORDINALITY AS l(sku, n)
  JOIN products p ON p.sku = l.sku;
END;
SQL
$PSQL -d bench_pgbench -c "CREATE SEQUENCE bench_ref"
PGB="$PURSER_TEST_PGBIN/pgbench"
[ -x "$PGB" ] || PGB=pgbench
# Alternate the two in rounds, so that a change of load on the machine
# during the run weighs on both sides alike.
per=$(( SECONDS_ / ROUNDS )); [ "$per" -ge 1 ] || per=1
rss0=$(rss)
: >"$work/rounds.txt"
r=1
while [ $r -le "$ROUNDS" ]; do
    wrk -t2 -c"$CONNS" -d"${per}s" --latency -s tests/bench/intake_orders.lua \
        "http://127.0.0.1:$PORT" -- "$TOKEN" run$r 100 1000 >"$work/wrk.txt"
    grep '^WRK' "$work/wrk.txt" >>"$work/rounds.txt" || { cat "$work/wrk.txt"; echo "bench_intake: wrk gave no summary" >&2; exit 1; }
    "$PGB" -n -h "$PURSER_TEST_PGHOST" -p "$PURSER_TEST_PGPORT" -U purser -c 16 -j 2 -M prepared \
        -T "$per" -f "$work/order.sql" bench_pgbench >"$work/pgbench.txt" 2>&1 \
        || { cat "$work/pgbench.txt"; exit 1; }
    echo "PGB $(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/tx=\1/p' "$work/pgbench.txt") $(sed -n 's/^tps = \([0-9.]*\) .*/tps=\1/p' "$work/pgbench.txt" | tail -n 1) $(sed -n 's/^latency average = \([0-9.]*\) ms/lat=\1/p' "$work/pgbench.txt")" >>"$work/rounds.txt"
    r=$((r + 1))
done
rss1=$(rss)
stored=$($PSQL -d bench_intake -At -c "SELECT count(*) FROM orders WHERE external_ref LIKE 'run%'")
lines=$($PSQL -d bench_intake -At -c "SELECT count(*) FROM order_items i JOIN orders o ON o.id = i.order_id WHERE o.external_ref LIKE 'run%'")
curl -s "http://127.0.0.1:$PORT/metrics" >"$work/metrics.txt"
kill "$server"; wait "$server" 2>/dev/null || true; server=""
batches=$(sed -n 's/^purser_intake_http_group_commits_total //p' "$work/metrics.txt")
batched=$(sed -n 's/^purser_intake_http_group_commit_orders_total //p' "$work/metrics.txt")
awk -v stored="$stored" -v lines="$lines" -v r0="$rss0" -v r1="$rss1" -v c="$CONNS" \
    -v nb="${batches:-0}" -v no="${batched:-0}" -v rounds="$ROUNDS" '
function val(k,   i, kv) { for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == k) return kv[2] } return 0 }
/^WRK/ { req += val("requests"); secs += val("seconds"); bad += val("non2xx"); serr += val("socket_errors")
         p50 += val("p50_us"); if (val("p99_us") > p99) p99 = val("p99_us"); n++ }
/^PGB/ { ptx += val("tx"); ptps += val("tps"); plat += val("lat"); m++ }
END {
    ops = req / secs; tps = ptps / m
    printf "intake    POST /v1/orders, 3 lines, %d connections, %d rounds, %.0f s: %.0f orders/s, p50 %.2f ms (mean of rounds), p99 %.2f ms (worst round)\n", c, rounds, secs, ops, p50 / n / 1000, p99 / 1000
    printf "          %d answered, %d non-2xx, %d socket errors; stored %d orders, %d lines\n", req, bad, serr, stored, lines
    if (nb > 0) printf "          group commit: %d transactions, %.1f orders each on average\n", nb, no / nb
    printf "baseline  pgbench -M prepared, 16 clients, order + 3 lines per transaction: %.0f orders/s (latency avg %.1f ms)\n", tps, plat / m
    printf "ratio     intake / pgbench = %.2f\n", ops / tps
    printf "memory    server RSS %.1f MiB at start, %.1f MiB at end\n", r0 / 1024, r1 / 1024
    if (stored < req - bad) { printf "bench_intake: %d orders acknowledged but %d stored\n", req - bad, stored > "/dev/stderr"; exit 1 }
}' "$work/rounds.txt"
