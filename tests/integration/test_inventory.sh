# The inventory_sync plugin through the real binary against a real
# PostgreSQL and two local fakes on loopback (tests/lib/fake_warehouse.py,
# tests/lib/fake_storefront.py): cursor and Link pagination, the
# incremental updated_since cursor, ETag 304, 500 then success, 429 with
# Retry-After, a timeout, truncated and invalid JSON (nothing applied, the
# cursor unchanged), rejected records, a push that fails and succeeds next
# run (each level set exactly once), a lost answer replayed under its
# idempotency key, reorder-point maths against hand-computed values, alerts,
# the workbook read back with openpyxl; then oversold detection on
# simulated data with no warehouse or storefront configured.
. tests/lib/testlib.sh
PY=/usr/bin/python3
D=2026-03-05
unset PURSER_DATABASE_URL

free_port() { $PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
WPORT=$(free_port)
SPORT=$(free_port)
$PY tests/lib/fake_warehouse.py "$WPORT" "$T_TMP/wh.log" & WH=$!
$PY tests/lib/fake_storefront.py "$SPORT" "$T_TMP/alerts.log" & SF=$!
trap 'kill $WH $SF 2>/dev/null; rm -rf "$T_TMP"' EXIT
i=0; until curl -s -o /dev/null "http://127.0.0.1:$WPORT/" && curl -s -o /dev/null "http://127.0.0.1:$SPORT/stats" || [ $i -ge 50 ]; do sleep 0.1; i=$((i + 1)); done
W="http://127.0.0.1:$WPORT"
S="http://127.0.0.1:$SPORT"
wctl() { curl -s -o /dev/null -X POST -H 'Content-Type: application/json' -d "$1" "$W/control"; }
sctl() { curl -s -o /dev/null -X POST -H 'Content-Type: application/json' -d "$1" "$S/control"; }
stats() { curl -s "$S/stats" | $PY -c "import json, sys; d = json.load(sys.stdin); print($1)"; }

DB=$(fresh_db t_inventory)
mkdir -p "$T_TMP/jobs"
export INV_TEST_TOKEN=secret-token
cat >"$T_TMP/purser.yaml" <<YAML
database:
  url: "$DB"
plugins:
  dir: $PWD/$PURSER_BUILD/plugins
  inventory_sync:
    warehouse:
      url: $W/stock
      auth_header: "Authorization: Bearer \${INV_TEST_TOKEN}"
      page_size: 5
      timeout: 1s
    storefront:
      url: $S/inventory_levels/set.json
      batch_size: 4
    alerts_url: $S/alerts
    connect_timeout: 1s
    retries: 2
    backoff: 100ms
    max_wait: 5s
    demand_window_days: 7
    lead_time_days: 4
    review_days: 14
    service_level: "0.95"
reports:
  output_dir: $T_TMP/reports
jobs:
  dir: $T_TMP/jobs
YAML
cat >"$T_TMP/jobs/inventory.yaml" <<'YAML'
jobs:
  inv:
    plugin: inventory_sync
    schedule: "0 2 * * *"
    timezone: UTC
YAML
C="$T_TMP/purser.yaml"
P() { "$PURSER" -c "$C" "$@"; }
q() { sql "$DB" "$1"; }
onhand() { q "SELECT i.on_hand FROM inventory i JOIN products p ON p.id = i.product_id JOIN depots d ON d.id = i.warehouse_id WHERE p.sku = '$1' AND d.code = '$2'"; }
cursor() { q "SELECT coalesce(updated_since::text, 'none') FROM inventory_sync_cursor"; }

expect 0 "migrate (core + inventory_sync)" env PURSER_DATABASE_URL="$DB" "$PURSER" migrate
expect_out 0 "warehouse.page_size" "the settings are described" P plugins --describe inventory_sync

# A small store: two warehouses, two sellers, SKU DUP sold by both.
q "INSERT INTO depots (code, name, latitude, longitude) VALUES ('W1', 'North', 52.5, 13.4), ('W2', 'South', 52.4, 13.4);
   INSERT INTO sellers (external_ref, name, currency, commission_bp) VALUES ('S1', 'One', 'EUR', 1000), ('S2', 'Two', 'EUR', 1000);
   INSERT INTO products (seller_id, sku, name, category, price_minor, currency, weight_grams)
   SELECT s.id, x.sku, x.sku, 'misc', 1000, 'EUR', 100 FROM sellers s,
     (VALUES ('S1', 'A-1'), ('S1', 'A-2'), ('S1', 'A-3'), ('S1', 'DUP'), ('S2', 'DUP'), ('S1', 'DEM-1')) x(seller, sku)
   WHERE s.external_ref = x.seller;
   INSERT INTO buyers (external_ref, email, name, country) VALUES ('B1', 'b@example.com', 'B', 'DE');" >/dev/null
# DEM-1's demand over the 7-day window ending $D: 2, 4, 0, 6, 2, 4, 3 (delivered orders);
# A-3: one open (paid) order of 3, so it is oversold at 1 on hand.
q "WITH d(n, qty) AS (VALUES (0, 2), (1, 4), (3, 6), (4, 2), (5, 4), (6, 3)),
   o AS (INSERT INTO orders (source, external_ref, buyer_id, currency, status, placed_at, items_minor, total_minor)
         SELECT 'test', 'DEM-' || n, (SELECT id FROM buyers), 'EUR', 'delivered',
                timestamptz '2026-02-27 12:00Z' + make_interval(days => n), 1000 * qty, 1000 * qty FROM d
         RETURNING id, external_ref)
   INSERT INTO order_items (order_id, line_no, product_id, seller_id, currency, quantity, unit_price_minor, line_total_minor)
   SELECT o.id, 1, p.id, p.seller_id, 'EUR', d.qty, 1000, 1000 * d.qty
   FROM o JOIN d ON o.external_ref = 'DEM-' || d.n JOIN products p ON p.sku = 'DEM-1';
   WITH o AS (INSERT INTO orders (source, external_ref, buyer_id, currency, status, placed_at, items_minor, total_minor)
              VALUES ('test', 'OPEN-1', (SELECT id FROM buyers), 'EUR', 'paid', '2026-03-04 09:00Z', 3000, 3000) RETURNING id)
   INSERT INTO order_items (order_id, line_no, product_id, seller_id, currency, quantity, unit_price_minor, line_total_minor)
   SELECT o.id, 1, p.id, p.seller_id, 'EUR', 3, 1000, 3000 FROM o, products p WHERE p.sku = 'A-3'" >/dev/null

# 7 good records and 5 bad ones over 3 pages of 5.
wctl '{"records": [
 {"sku": "A-1", "warehouse": "W1", "on_hand": 40, "safety_stock": 2, "updated_at": "2026-03-05T01:00:00Z"},
 {"sku": "A-1", "warehouse": "W2", "on_hand": 12, "updated_at": "2026-03-05T01:00:01Z"},
 {"sku": "A-2", "warehouse": "W1", "on_hand": 0, "updated_at": "2026-03-05T01:00:02Z"},
 {"sku": "A-2", "warehouse": "W2", "on_hand": 7, "updated_at": "2026-03-05T01:00:03Z"},
 {"sku": "A-3", "warehouse": "W1", "on_hand": 1, "updated_at": "2026-03-05T01:00:04Z"},
 {"sku": "DUP", "seller": "S1", "warehouse": "W1", "on_hand": 5, "updated_at": "2026-03-05T01:00:05Z"},
 {"sku": "DEM-1", "warehouse": "W1", "on_hand": 10, "updated_at": "2026-03-05T01:00:06Z"},
 {"sku": "NOPE", "warehouse": "W1", "on_hand": 3, "updated_at": "2026-03-05T01:00:07Z"},
 {"sku": "A-3", "warehouse": "W2", "on_hand": -4, "updated_at": "2026-03-05T01:00:08Z"},
 {"sku": "DUP", "seller": "S2", "warehouse": "W2", "updated_at": "2026-03-05T01:00:09Z"},
 {"sku": "A-1", "warehouse": "W9", "on_hand": 1, "updated_at": "2026-03-05T01:00:10Z"},
 {"sku": "DUP", "warehouse": "W1", "on_hand": 1, "updated_at": "2026-03-05T01:00:11Z"}]}'

# --- first run: pagination, rejects, reconcile, push, alerts -----------------------
expect_out 0 "pulled 12 records in 3 pages: 7 changes applied, 5 rejected; 1 oversold; 7 levels pushed, 0 failed, 0 left" \
    "run 1: 12 records over 3 cursor pages, 7 applied, 5 rejected, 7 levels pushed" P run inv --date $D
same "$(onhand A-1 W1)/$(onhand A-2 W1)/$(onhand DEM-1 W1)/$(onhand A-3 W2)" "40/0/10/" "run 1: on hand applied (A-3@W2 not created: its negative record was refused)"
same "$(q "SELECT string_agg(reason, ' | ' ORDER BY seq) FROM inventory_sync_rejects")" \
    "unknown SKU NOPE | negative on_hand (-4) | missing field on_hand | unknown warehouse W9 (no depot with that code) | ambiguous SKU DUP: 2 sellers have it (send seller)" \
    "run 1: the malformed records are listed with their reasons, none applied"
same "$(grep -c '"auth": "Bearer secret-token"' "$T_TMP/wh.log")" 3 "run 1: the auth header (from \${INV_TEST_TOKEN}) on every page"
same "$(cursor)" "2026-03-05 01:00:11+00" "run 1: the cursor is the newest updated_at seen"
same "$(q "SELECT reserved FROM inventory i JOIN products p ON p.id = i.product_id WHERE p.sku = 'A-3'")" 3 "run 1: reserved = the open order's quantity"
same "$(stats 'len(d["sets"]), d["replays"], d["requests"]')" "7 0 2" "run 1: 7 levels set once each in 2 batches of at most 4"
same "$(stats 'd["levels"]' | $PY -c "import ast, sys; print(sorted(ast.literal_eval(sys.stdin.read()).values()))")" \
    "$(q "SELECT '[' || string_agg(available::text, ', ' ORDER BY available) || ']' FROM inventory_sync_levels")" \
    "run 1: the storefront holds the levels of the store"
same "$(q "SELECT available FROM inventory_sync_levels l JOIN products p ON p.id = l.product_id WHERE p.sku = 'A-1' AND l.warehouse_id = (SELECT id FROM depots WHERE code = 'W1')")" 38 "run 1: available = on hand 40 - safety 2"
same "$(q "SELECT count(*) FROM inventory_sync_outbox")" 0 "run 1: the outbox is empty"
if grep -q '"sku":"DEM-1"' "$T_TMP/alerts.log" && grep -q '"kind":"out_of_stock","sku":"A-3"' "$T_TMP/alerts.log"; then
    t_ok "run 1: low-stock (DEM-1) and out-of-stock (A-3) alerts posted to alerts_url"
else t_fail "alerts" "$(cat "$T_TMP/alerts.log" 2>&1)"; fi

# --- incremental: the boundary again (no change), then ETag 304 ----------------------
: >"$T_TMP/wh.log"
expect_out 0 "pulled 1 records in 1 pages: 0 changes applied, 1 rejected" "run 2: from the cursor on (updated_since, inclusive), nothing changes" P run inv --date $D
if grep -q 'updated_since=2026-03-05T01%3A00%3A11' "$T_TMP/wh.log" || grep -q 'updated_since=2026-03-05T01:00:11' "$T_TMP/wh.log"; then
    t_ok "run 2: asked with updated_since = the stored cursor"
else t_fail "run 2: updated_since" "$(cat "$T_TMP/wh.log")"; fi
: >"$T_TMP/wh.log"
expect_out 0 "warehouse not modified \(304\)" "run 3: same cursor, If-None-Match: 304, nothing pulled" P run inv --date $D
same "$(grep -c '"status": 304' "$T_TMP/wh.log")" 1 "run 3: one request, answered 304"

# --- Link pagination (full pull) --------------------------------------------------
wctl '{"link": true}'
: >"$T_TMP/wh.log"
expect_out 0 "pulled 12 records in 3 pages: 0 changes applied" "run 4: full=true, Link rel=next pagination" P run inv --date $D --param full=true
same "$(grep -c 'cursor=o%3A' "$T_TMP/wh.log")" 2 "run 4: the Link targets were followed"
wctl '{"link": false}'

# --- transient failures, retried within the run ---------------------------------------
wctl '{"upsert": [{"sku": "A-1", "warehouse": "W2", "on_hand": 13, "updated_at": "2026-03-05T02:00:00Z"}], "script": ["500"]}'
: >"$T_TMP/wh.log"
expect_out 0 "1 changes applied" "run 5: a 500, then success" P run inv --date $D
same "$(sed -n 's/.*"status": \([0-9]*\).*/\1/p' "$T_TMP/wh.log" | tr '\n' ' ')" "500 200 " "run 5: retried after the 500"
same "$(onhand A-1 W2)" 13 "run 5: applied"

wctl '{"upsert": [{"sku": "A-1", "warehouse": "W2", "on_hand": 14, "updated_at": "2026-03-05T03:00:00Z"}], "script": ["429:1"]}'
t0=$(date +%s.%N)
expect_out 0 "1 changes applied" "run 6: a 429 with Retry-After: 1, then success" P run inv --date $D
t1=$(date +%s.%N)
if printf '%s' "$T_OUT" | grep -Eq "HTTP 429; attempt 1 of 3, again in 1[0-9]{3} ms" && $PY -c "import sys; sys.exit(not $t1 - $t0 >= 1.0)"; then
    t_ok "run 6: waited the Retry-After second"
else t_fail "run 6: Retry-After" "$T_OUT"; fi

wctl '{"upsert": [{"sku": "A-1", "warehouse": "W2", "on_hand": 15, "updated_at": "2026-03-05T04:00:00Z"}], "script": ["sleep:2.5"]}'
expect_out 0 "1 changes applied" "run 7: a page that times out (1 s), then success" P run inv --date $D
if printf '%s' "$T_OUT" | grep -q "Timeout was reached\|timed out"; then t_ok "run 7: the timeout was logged and retried"; else t_fail "run 7: timeout" "$T_OUT"; fi
same "$(onhand A-1 W2)" 15 "run 7: applied"

wctl '{"script": ["500", "500", "500"]}'
CUR=$(cursor)
expect_out 1 "HTTP 500 after 3 attempts; nothing applied, the cursor stays" "run 8: the warehouse down for good: the run asks for a retry" P run inv --date $D
wctl '{"script": []}'

# --- malformed responses: nothing applied, the cursor unchanged -----------------------
wctl '{"upsert": [{"sku": "A-2", "warehouse": "W2", "on_hand": 99, "updated_at": "2026-03-05T05:00:00Z"}], "script": ["ok", "truncate"]}'
CUR=$(cursor)
CH=$(q "SELECT count(*) FROM inventory_sync_changes")
expect_out 1 "warehouse page 2 \(records from offset 5\): invalid JSON at byte [0-9]+ of [0-9]+ near .*; nothing applied, the cursor stays at 2026-03-05T04:00:00.000000Z" \
    "run 9: a truncated page 2 fails the run naming the page and offset" P run inv --date $D --param full=true
same "$(onhand A-2 W2)/$(cursor)/$(q "SELECT count(*) FROM inventory_sync_changes")" "7/$CUR/$CH" "run 9: nothing applied, the cursor unchanged"
wctl '{"script": ["invalid"]}'
expect_out 1 "warehouse page 1 \(records from offset 0\): invalid JSON at byte [0-9]+ of 65 near '" \
    "run 10: invalid JSON fails the run with the byte at fault" P run inv --date $D
same "$(onhand A-2 W2)/$(cursor)" "7/$CUR" "run 10: nothing applied, the cursor unchanged"
expect_out 0 "1 changes applied" "run 11: the next run resumes from the committed cursor" P run inv --date $D
same "$(onhand A-2 W2)" 99 "run 11: applied"

# --- push: the storefront down, then back; a lost answer replayed ------------------------
B=$(stats 'len(d["sets"])')
wctl '{"upsert": [{"sku": "A-1", "warehouse": "W1", "on_hand": 30, "updated_at": "2026-03-05T06:00:00Z"},
                  {"sku": "A-2", "warehouse": "W1", "on_hand": 6, "updated_at": "2026-03-05T06:00:00Z"}]}'
sctl '{"down": true}'
expect_out 1 "2 failed, 2 left in the outbox" "run 12: the storefront is down: the levels stay in the outbox" P run inv --date $D
same "$(q "SELECT count(*) || ' ' || min(attempts) FROM inventory_sync_outbox")" "2 1" "run 12: 2 levels in the outbox, one attempt each"
sctl '{"down": false}'
expect_out 0 "0 changes applied.*2 levels pushed, 0 failed, 0 left in the outbox" "run 13: the storefront is back: the outbox drains" P run inv --date $D
same "$(stats 'len(d["sets"]) - '"$B"', d["replays"], max(d["sets"].values())')" "2 0 1" "run 13: each level set exactly once, nothing replayed"
wctl '{"upsert": [{"sku": "A-1", "warehouse": "W1", "on_hand": 31, "updated_at": "2026-03-05T07:00:00Z"}]}'
sctl '{"script": ["apply500"]}'
expect_out 0 "1 levels pushed, 0 failed" "run 14: an answer lost after the storefront applied: resent under the same key" P run inv --date $D
same "$(stats 'd["replays"], max(d["sets"].values())')" "1 1" "run 14: the storefront saw a replay and set the level once"
same "$(stats 'd["levels"]' | $PY -c "import ast, sys; print(sorted(ast.literal_eval(sys.stdin.read()).values()))")" \
    "$(q "SELECT '[' || string_agg(available::text, ', ' ORDER BY available) || ']' FROM inventory_sync_levels")" \
    "run 14: the storefront holds the levels of the store"

# --- reorder-point maths, the workbook ----------------------------------------------
XLSX="$T_TMP/reports/inventory_$D.xlsx"
if [ -f "$XLSX" ] && ! ls "$T_TMP/reports"/*.tmp >/dev/null 2>&1; then t_ok "inventory_$D.xlsx written, no .tmp left"
else t_fail "workbook missing" "$(ls -la "$T_TMP/reports" 2>&1)"; fi
same "$($PY - "$XLSX" <<'PY'
import math, sys, openpyxl
wb = openpyxl.load_workbook(sys.argv[1])
p = []
want = ["Summary", "Oversold", "Low stock", "Changes applied", "Rejected records", "Push results"]
if wb.sheetnames != want: p.append("sheets %s" % wb.sheetnames)
rows = lambda n: [dict(zip([c.value for c in wb[n][1]], r)) for r in wb[n].iter_rows(min_row=2, values_only=True)]
low = {r["SKU"]: r for r in rows("Low stock")}
d = [2, 4, 0, 6, 2, 4, 3]                  # DEM-1, 7-day window
mean = sum(d) / 7
sd = math.sqrt(sum((x - mean) ** 2 for x in d) / 6)
z, L = 1.6448536269514722, 4             # service level 0.95, lead time 4 days
rop = mean * L + z * sd * math.sqrt(L)   # 18.2994...
r = low.get("DEM-1")
if not r: p.append("DEM-1 not in Low stock")
else:
    if abs(r["Avg daily demand"] - 3) > 1e-9: p.append("mean %s" % r["Avg daily demand"])
    if abs(r["Demand std dev"] - sd) > 1e-6: p.append("sd %s vs %s" % (r["Demand std dev"], sd))
    if abs(r["Reorder point"] - rop) > 1e-6 or abs(rop - 18.2994) > 1e-4: p.append("rop %s vs %s" % (r["Reorder point"], rop))
    if r["Suggested order"] != math.ceil(rop + mean * 14 - 10) or r["Suggested order"] != 51: p.append("suggested %s" % r["Suggested order"])
    if abs(r["Days of cover"] - 10 / 3) > 1e-9: p.append("cover %s" % r["Days of cover"])
    if r["Status"] != "low stock": p.append("status %s" % r["Status"])
if low.get("A-3", {}).get("Status") != "out of stock": p.append("A-3 %s" % low.get("A-3"))
covers = [r["Days of cover"] for r in rows("Low stock")]
if covers != sorted(covers, key=lambda c: (c is not None, c or 0)): p.append("not sorted by days of cover: %s" % covers)
over = rows("Oversold")
if len(over) != 1 or over[0]["SKU"] != "A-3" or over[0]["Available"] != -2 or "OPEN-1 x3" not in (over[0]["Orders that oversold (ref x quantity, oldest first)"] or ""):
    p.append("oversold %s" % over)
summary = {r["Item"]: r["Value"] for r in rows("Summary")}
if summary.get("Changes applied") != 1 or summary.get("Levels pushed") != 1: p.append("summary %s" % summary)
push = rows("Push results")
if len(push) != 1 or push[0]["Result"] != "pushed" or push[0]["SKU"] != "A-1": p.append("push %s" % push)
if wb["Low stock"].freeze_panes != "A2" or not wb["Low stock"].auto_filter.ref: p.append("panes/filter")
print("; ".join(p) if p else "ok")
PY
)" ok "workbook: sheets; DEM-1 reorder point, sd, suggested order, days of cover = hand-computed; oversold A-3 with OPEN-1"
P run inv --date $D --param full=true >/dev/null 2>&1
same "$($PY - "$XLSX" <<'PY'
import sys, openpyxl
wb = openpyxl.load_workbook(sys.argv[1])
rej = [[c for c in r] for r in wb["Rejected records"].iter_rows(min_row=2, values_only=True)]
print(len(rej), rej[0][2], rej[0][6], '"on_hand":-4' in (rej[1][7] or ""))
PY
)" "5 NOPE unknown SKU NOPE True" "workbook: Rejected records with offset, reason and the record itself"

# --- dry run: nothing written --------------------------------------------------------
wctl '{"upsert": [{"sku": "A-1", "warehouse": "W1", "on_hand": 1, "updated_at": "2026-03-05T08:00:00Z"}]}'
N=$(stats 'd["requests"]')
expect_out 0 "dry run: .*1 changes applied.*1 levels would be pushed" "a dry run computes" P run inv --date $D --dry-run
same "$(onhand A-1 W1)/$(stats 'd["requests"]')/$(q "SELECT count(*) FROM inventory_sync_outbox")" "31/$N/0" "a dry run writes nothing and pushes nothing"

# --- oversold on simulated data; no warehouse, no storefront ---------------------------
DB2=$(fresh_db t_inventory_sim)
sed -e "s|url: \"$DB\"|url: \"$DB2\"|" -e '/^    warehouse:/,/^      timeout: 1s/d' -e '/^    storefront:/,/^      batch_size: 4/d' -e '/alerts_url/d' "$C" >"$T_TMP/sim.yaml"
# no alerts_url: the digest goes to the core's alerts.webhook_url
APORT=$($PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
$PY tests/lib/webhook_sink.py "$APORT" "$T_TMP/core-alerts.txt" & SINK=$!
printf 'alerts:\n  webhook_url: http://127.0.0.1:%s/hook\n' "$APORT" >>"$T_TMP/sim.yaml"
expect 0 "migrate a second store" env PURSER_DATABASE_URL="$DB2" "$PURSER" migrate
expect 0 "simulate 3000 orders over 10 days" env PURSER_DATABASE_URL="$DB2" "$PURSER" simulate --orders 3000 --days 10 --start 2026-02-24 --out "$T_TMP/sim"
sql "$DB2" "CREATE TABLE t_res AS SELECT product_id, sum(reserved) AS r FROM inventory GROUP BY 1" >/dev/null
expect_out 0 "pull skipped \(no warehouse.url\); [1-9][0-9]* oversold; push skipped \(no storefront.url\)" \
    "no warehouse, no storefront: the pull and push are skipped, reconcile and report run" "$PURSER" -c "$T_TMP/sim.yaml" run inv --date 2026-03-05
same "$(sql "$DB2" "SELECT count(*) FROM t_res t JOIN (SELECT product_id, sum(reserved) AS r FROM inventory GROUP BY 1) i USING (product_id) WHERE i.r <> t.r")" 0 \
    "simulated: per SKU, reservations from open orders = what the simulator reserved"
same "$(sql "$DB2" "SELECT count(*) FROM inventory i WHERE reserved <> coalesce((SELECT sum(oi.quantity) FROM order_items oi JOIN orders o ON o.id = oi.order_id
      WHERE o.status IN ('placed', 'paid') AND oi.product_id = i.product_id AND i.warehouse_id = coalesce(
        (SELECT d.depot_id FROM deliveries d JOIN inventory x ON x.product_id = oi.product_id AND x.warehouse_id = d.depot_id WHERE d.order_id = o.id ORDER BY d.id DESC LIMIT 1),
        (SELECT min(warehouse_id) FROM inventory x WHERE x.product_id = oi.product_id))), 0)")" 0 \
    "simulated: reserved per SKU x warehouse follows the documented rule (delivery depot, else first warehouse)"
OVER=$(sql "$DB2" "SELECT count(*) FROM inventory WHERE on_hand - reserved - safety_stock < 0")
same "$($PY - "$T_TMP/reports/inventory_2026-03-05.xlsx" "$OVER" <<'PY'
import sys, openpyxl
wb = openpyxl.load_workbook(sys.argv[1])
rows = list(wb["Oversold"].iter_rows(min_row=2, values_only=True))
bad = [r for r in rows if r[6] != r[3] - r[4] - r[5] or r[6] >= 0]
caused = [r for r in rows if r[4] > 0 and (not r[8] or r[8].startswith('('))]
print("ok" if len(rows) == int(sys.argv[2]) > 0 and not bad and not caused else "rows %d of %s, bad %s, no orders %s" % (len(rows), sys.argv[2], bad[:2], caused[:2]))
PY
)" ok "simulated: every oversold SKU x warehouse in the workbook ($OVER), with the orders that oversold it"
same "$(sql "$DB2" "SELECT count(*) FROM inventory_sync_outbox") = $(sql "$DB2" "SELECT count(*) FROM inventory")" \
    "$(sql "$DB2" "SELECT count(*) FROM inventory") = $(sql "$DB2" "SELECT count(*) FROM inventory")" "simulated: with no storefront every level waits in the outbox"
i=0; until [ -s "$T_TMP/core-alerts.txt" ] || [ $i -ge 50 ]; do sleep 0.2; i=$((i + 1)); done
kill $SINK 2>/dev/null
expect_out 0 '^\{"text": "purser inventory_sync: 2026-03-05: [0-9]+ out of stock, [0-9]+ low stock \(inventory_2026-03-05.xlsx\)"\}$' \
    "without alerts_url, a digest line goes to the core's alerts.webhook_url" cat "$T_TMP/core-alerts.txt"
t_done
