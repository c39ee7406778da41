#!/bin/sh
# bench_inventory.sh: the inventory sync at scale — BENCH_SKUS (100,000)
# SKUs x 3 warehouses pulled from the local fake warehouse (pages of 1,000),
# reconciled and pushed to the local fake storefront (batches of 500), with
# the workbook, by `purser run`. Prints seconds, peak RSS and the plugin's
# own split of its time (HTTP, SQL, own code), then an incremental run
# (nothing changed: one 304) and a run with 1% of the stock changed.
# Baseline in the same run: the same pages fetched and parsed by one
# keep-alive python client (the fake warehouse's floor) plus one INSERT of
# as many rows into a bare table.
#   tests/bench/bench_inventory.sh [PURSER]
# Uses the test harness's server when PURSER_TEST_PGHOST is set, else
# starts a throwaway one (tests/lib/pg_harness.sh) and stops it on exit.
set -eu
: "${PURSER_BUILD:=build}"
PURSER=${1:-$PURSER_BUILD/purser}
case "$PURSER" in /*) ;; *) PURSER="$PWD/$PURSER" ;; esac
SKUS=${BENCH_SKUS:-100000}
PY=/usr/bin/python3
work=$(mktemp -d /tmp/purser-bench-inv.XXXXXX)
started="" pids=""
cleanup() {
    for p in $pids; do kill "$p" 2>/dev/null || true; done
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
$PSQL -d postgres -c "DROP DATABASE IF EXISTS bench_inventory" -c "CREATE DATABASE bench_inventory"
DB="host=$PURSER_TEST_PGHOST port=$PURSER_TEST_PGPORT dbname=bench_inventory user=purser"
q() { $PSQL -d bench_inventory -At -c "$1"; }

free_port() { $PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
WPORT=$(free_port)
SPORT=$(free_port)
$PY tests/lib/fake_warehouse.py "$WPORT" /dev/null & pids="$pids $!"
$PY tests/lib/fake_storefront.py "$SPORT" "$work/alerts.log" & pids="$pids $!"
W="http://127.0.0.1:$WPORT"
S="http://127.0.0.1:$SPORT"
i=0; until curl -s -o /dev/null "$W/" && curl -s -o /dev/null "$S/stats" || [ $i -ge 50 ]; do sleep 0.1; i=$((i + 1)); done

mkdir -p "$work/jobs" "$work/plugins"
ln -s "$(dirname "$PURSER")/plugins/inventory_sync.so" "$work/plugins/inventory_sync.so"
cat >"$work/purser.yaml" <<YAML
database:
  url: "$DB"
plugins:
  dir: $work/plugins
  inventory_sync:
    warehouse:
      url: $W/stock
      page_size: 1000
    storefront:
      url: $S/inventory_levels/set.json
      batch_size: 500
reports:
  output_dir: $work/reports
jobs:
  dir: $work/jobs
YAML
printf 'jobs:\n  inv:\n    plugin: inventory_sync\n    schedule: "0 2 * * *"\n    timezone: UTC\n' >"$work/jobs/inv.yaml"
"$PURSER" -c "$work/purser.yaml" --log-level warn migrate >/dev/null
q "INSERT INTO depots (code, name, latitude, longitude) VALUES ('W1', 'W1', 52.5, 13.4), ('W2', 'W2', 52.4, 13.3), ('W3', 'W3', 52.6, 13.5);
   INSERT INTO sellers (external_ref, name, currency, commission_bp) VALUES ('S1', 'S1', 'EUR', 1000);
   INSERT INTO products (seller_id, sku, name, category, price_minor, currency, weight_grams)
   SELECT 1, 'B-' || lpad(g::text, 6, '0'), 'item ' || g, 'misc', 1000, 'EUR', 100 FROM generate_series(0, $SKUS - 1) g;
   ANALYZE products" >/dev/null
curl -s -o /dev/null -X POST -d "{\"generate\": {\"skus\": $SKUS, \"warehouses\": [\"W1\", \"W2\", \"W3\"], \"prefix\": \"B\"}}" "$W/control"
ROWS=$((SKUS * 3))

# run LABEL: one `purser run`, prints its line; needs the plugin's timing log line
run() {
    /usr/bin/time -v -o "$work/time" "$PURSER" -c "$work/purser.yaml" run inv --date 2026-03-05 >"$work/out" 2>&1 || {
        echo "bench inventory: run failed"; tail -n 20 "$work/out"; exit 1; }
    rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$work/time")
    sed -n 's/.*timing: \([0-9.]*\) s in all: HTTP \([0-9.]*\) s (\([0-9.]*\)%), SQL \([0-9.]*\) s (\([0-9.]*\)%), own code \([0-9.]*\) s (\([0-9.]*\)%).*/\1 \2 \3 \4 \5 \6 \7/p' "$work/out" >"$work/t"
    read -r tot http hp sqls sp own op <"$work/t"
    res=$(sed -n 's/.* succeeded: //p' "$work/out" | sed 's/ (.*//' | head -n 1)
    printf '%-10s %6.2f s, peak RSS %5.1f MiB | HTTP %5.2f s (%2.0f%%), SQL %5.2f s (%2.0f%%), own %5.2f s (%2.0f%%)\n' \
        "$1" "$tot" "$(echo "$rss" | awk '{ print $1 / 1024 }')" "$http" "$hp" "$sqls" "$sp" "$own" "$op"
    echo "           $res"
}

echo "inventory sync: $SKUS SKUs x 3 warehouses = $ROWS stock rows (pages of 1,000, batches of 500)"
run "full"
FULL=$tot
pushed=$(curl -s "$S/stats" | $PY -c 'import json, sys; d = json.load(sys.stdin); print(len(d["sets"]), d["replays"])')
echo "           storefront: levels set, replays = $pushed (expected $ROWS 0)"
run "unchanged"
n=$((SKUS / 100))
$PY - "$W" "$n" <<'PY'
import json, sys, urllib.request
w, n = sys.argv[1], int(sys.argv[2])
recs = [{"sku": "B-%06d" % (i * 100), "warehouse": "W2", "on_hand": 1000 + i, "updated_at": "2026-03-05T05:00:00Z"} for i in range(n)]
urllib.request.urlopen(urllib.request.Request(w + "/control", json.dumps({"upsert": recs}).encode(), {"Content-Type": "application/json"})).read()
PY
run "1% moved"

# baseline: the pages fetched and parsed by one keep-alive client, then as many rows inserted in SQL
t0=$(date +%s.%N)
p=$($PY - "$WPORT" <<'PY'
import http.client, json, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]))
cur, pages = None, 0
while True:
    c.request("GET", "/stock?limit=1000" + ("&cursor=" + cur if cur else ""))
    cur = json.loads(c.getresponse().read())["next_cursor"]
    pages += 1
    if not cur:
        break
print(pages)
PY
)
t1=$(date +%s.%N)
q "CREATE TABLE bare (product_id bigint, warehouse_id bigint, on_hand int)"
t2=$(date +%s.%N)
q "INSERT INTO bare SELECT g, g % 3, g % 500 FROM generate_series(1, $ROWS) g" >/dev/null
t3=$(date +%s.%N)
echo "$t0 $t1 $t2 $t3 $p $FULL $ROWS" | awk '{ printf "baseline   %6.2f s: %d pages fetched and parsed by one python client %.2f s + %d rows inserted in SQL %.2f s\nratio      full run / baseline = %.2f\n", ($2 - $1) + ($4 - $3), $5, $2 - $1, $7, $4 - $3, $6 / (($2 - $1) + ($4 - $3)) }'
