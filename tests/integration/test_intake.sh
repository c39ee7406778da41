# intake_http end to end: `purser serve` with the plugin against the test
# PostgreSQL. Tokens, every route's success path and errors, Idempotency-Key
# replays and races, batches, the three webhook platforms with their real
# fixtures (correct, tampered, duplicate), metrics, the OpenAPI document, and
# a database that goes away mid-run (503, then recovery, nothing lost).
. tests/lib/testlib.sh
B=$PURSER_BUILD
DB=$(fresh_db t_intake)
FIX=${PURSER_FIXTURES:-../shared/fixtures}/webhooks
PY=/usr/bin/python3
TOOL=tests/integration/intake_tool.py
free_port() { $PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
HPORT=$(free_port)
U=http://127.0.0.1:$HPORT
export INTAKE_SHOPIFY_SECRET=test_secret_key INTAKE_WC_SECRET='a&amp;b' INTAKE_STRIPE_SECRET=whsec_test_secret
mkdir -p "$T_TMP/jobs"
config() { # config FILE DBURL PORT
    cat >"$1" <<YAML
database:
  url: "$2"
plugins:
  dir: $PWD/$B/plugins
  intake_http:
    max_body: 64k
    idempotency_ttl: 1h
    token_cache: 1s
    webhooks:
      shopify:
        secret: \${INTAKE_SHOPIFY_SECRET}
      woocommerce:
        secret: \${INTAKE_WC_SECRET}
      stripe:
        secret: \${INTAKE_STRIPE_SECRET}
        tolerance: 5m
reports:
  output_dir: $T_TMP/reports
jobs:
  dir: $T_TMP/jobs
http:
  listen: 127.0.0.1:$3
  threads: 0
YAML
}
C="$T_TMP/purser.yaml"
config "$C" "$DB" "$HPORT"
unset PURSER_DATABASE_URL
P() { "$PURSER" -c "$C" "$@"; }
q() { sql "$DB" "$1"; }
SERVERS=""
cleanup() {
    for p in $SERVERS ${CLIENT:-}; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    [ -n "${PG2:-}" ] && tests/lib/pg_harness.sh stop "$PG2"
    rm -rf "$T_TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
wait_up() { i=0; until curl -sf "$1/healthz" >/dev/null || [ $i -ge 75 ]; do sleep 0.2; i=$((i + 1)); done; }

# ---- tokens -----------------------------------------------------------------
P migrate >/dev/null 2>&1
TOKEN=$(P token create shop-1 2>"$T_TMP/token.err")
expect_out 0 '^prs_[0-9a-f]{64}$' "token create prints the token once" printf '%s\n' "$TOKEN"
same "$(q "SELECT encode(token_sha256, 'hex') = encode(sha256('$TOKEN'::bytea), 'hex') FROM intake_tokens WHERE name = 'shop-1'")" t "only its SHA-256 is stored"
expect_out 1 "exists already" "a second token of the same name is refused" P token create shop-1
P token create old >/dev/null 2>&1
expect_out 0 "^shop-1 " "token list names the tokens" P token list
expect 0 "token revoke" P token revoke old
expect_out 1 "no active token" "revoking twice says so" P token revoke old
expect_out 2 "usage: purser token" "token with no subcommand: usage" P token

"$PURSER" -c "$C" serve >"$T_TMP/serve.log" 2>&1 & SERVERS="$!"
wait_up "$U"
q "INSERT INTO depots (code, name, latitude, longitude) VALUES ('BER-01', 'Berlin 1', 52.5, 13.4)" >/dev/null
q "INSERT INTO delivery_agents (name, home_depot_id, shift_start, shift_end, vehicle_capacity_grams) VALUES ('Ben', 1, '08:00', '16:00', 300000)" >/dev/null

# req METHOD PATH [curl args...]: sets CODE and BODY (JSON, with the token)
req() {
    m=$1; p=$2; shift 2
    BODY=$(curl -s -o - -w '\n%{http_code}' -X "$m" -H "Authorization: Bearer $TOKEN" \
        -H 'Content-Type: application/json' "$@" "$U$p")
    CODE=$(printf '%s' "$BODY" | tail -n 1)
    BODY=$(printf '%s' "$BODY" | sed '$d')
}
# check WANT_CODE PATTERN "what"
check() {
    if [ "$CODE" = "$1" ] && printf '%s\n' "$BODY" | grep -Eq -- "$2"; then t_ok "$3"; else t_fail "$3" "HTTP $CODE (expected $1), body should match: $2" "$BODY"; fi
}

# ---- auth, content type, routing ------------------------------------------------
BODY=$(curl -s -w ' %{http_code}' -H 'Content-Type: application/json' -d '{}' "$U/v1/orders")
same "$BODY" '{"error":{"code":"unauthorized","message":"authentication required"}} 401' "no token: 401 without detail"
BODY=$(curl -s -w ' %{http_code}' -H 'Authorization: Bearer prs_nope' -H 'Content-Type: application/json' -d '{}' "$U/v1/orders")
same "$BODY" '{"error":{"code":"unauthorized","message":"authentication required"}} 401' "wrong token: the same 401"
OLD=$(P token create old2 2>/dev/null); P token revoke old2 >/dev/null 2>&1; sleep 1.2
same "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $OLD" -H 'Content-Type: application/json' -d '{}' "$U/v1/orders")" 401 "a revoked token: 401 (after token_cache)"
BODY=$(curl -s -w ' %{http_code}' -H "Authorization: Bearer $TOKEN" -H 'Content-Type: text/plain' -d '{"external_ref":"x"}' "$U/v1/orders")
expect_out 0 '"unsupported_media_type".* 415$' "wrong content type: 415" printf '%s\n' "$BODY"
req GET /v1/orders
check 405 'method_not_allowed' "wrong method: 405"
req POST /v1/nope -d '{}'
check 404 'not_found' "unknown route: 404"
head -c 70000 /dev/zero | tr '\0' ' ' >"$T_TMP/big.json"
req POST /v1/orders --data-binary @"$T_TMP/big.json"
check 413 'too_large' "body over plugins.intake_http.max_body: 413"

# ---- catalogue, sellers, buyers -------------------------------------------------------
req PUT /v1/sellers/seller-1 -d '{"name":"Acme GmbH","currency":"EUR","commission_bp":1200,"commission_fixed":"0.30"}'
check 201 '"created":true' "PUT /v1/sellers/{ref}: created"
req PUT /v1/sellers/seller-1 -d '{"name":"Acme GmbH","currency":"EUR","commission_bp":1100}'
check 200 '"created":false' "PUT /v1/sellers/{ref} again: updated"
same "$(q "SELECT commission_bp || ' ' || commission_fixed_minor FROM sellers WHERE external_ref = 'seller-1'")" "1100 0" "the seller row holds the update"
req PUT /v1/catalog/products/SKU-1 -d '{"seller":"seller-1","name":"Lamp","category":"home","price":"10.00","currency":"EUR","weight_grams":800}'
check 201 '"sku":"SKU-1"' "PUT /v1/catalog/products/{sku}: created"
req PUT /v1/catalog/products/SKU-2 -d '{"seller":"seller-1","name":"Cable","category":"home","price_minor":499,"currency":"EUR","weight_grams":50}'
check 201 '"created":true' "a product priced in minor units"
req PUT /v1/catalog/products/SKU-3 -d '{"seller":"nobody","name":"x","category":"x","price":"1.00","currency":"EUR","weight_grams":5}'
check 422 '"field":"seller"' "a product of an unknown seller: 422 naming the field"
req PUT /v1/buyers/buyer-1 -d '{"email":"anna@example.com","name":"Anna","country":"DE"}'
check 201 '"external_ref":"buyer-1"' "PUT /v1/buyers/{ref}: created"
req PUT /v1/buyers/buyer-2 -d '{"email":"nope","name":"B","country":"DE"}'
check 400 '"field":"email"' "a buyer with a bad e-mail: 400"

# ---- orders ------------------------------------------------------------------------------
order() { # order REF [TOTAL]
    printf '{"external_ref":"%s","currency":"EUR","placed_at":"2025-01-01T10:00:00Z","buyer":{"external_ref":"buyer-1"},"items":[{"sku":"SKU-1","quantity":2,"unit_price":"10.00"},{"sku":"SKU-2","seller":"seller-1","quantity":1,"unit_price_minor":499}],"shipping":"4.90","total":"%s","delivery":{"depot":"BER-01","address":"Hauptstr. 1, 10115 Berlin","latitude":52.52,"longitude":13.405,"window_start":"2025-01-02T08:00:00Z","window_end":"2025-01-02T10:00:00Z"}}' "$1" "${2:-29.89}"
}
req POST /v1/orders -d "$(order W-1)"
check 201 '"created" ?: ?true' "POST /v1/orders: 201 once committed"
same "$(q "SELECT o.items_minor || ' ' || o.shipping_minor || ' ' || o.total_minor || ' ' || (SELECT count(*) FROM order_items WHERE order_id = o.id) || ' ' || d.weight_grams || ' ' || d.status FROM orders o JOIN deliveries d ON d.order_id = o.id WHERE o.external_ref = 'W-1'")" "2499 490 2989 2 1650 pending" "the order, its lines and its delivery are stored exactly"
req POST /v1/orders -d "$(order W-1)"
check 200 '"created" ?: ?false' "the same external reference again: 200 with the existing order"
same "$(q "SELECT count(*) FROM orders WHERE external_ref = 'W-1'")" 1 "and it is not stored twice"
req POST /v1/orders -d "$(order W-2 30.00)"
check 400 '"field":"total"' "a total that does not add up: 400"
req POST /v1/orders -d '{"external_ref":"W-3","currency":"EUR","placed_at":"2025-01-01T10:00:00Z","buyer":{"external_ref":"buyer-1"},"items":[{"sku":"SKU-1","quantity":1,"unit_price":"1.00"},{"sku":"SKU-1","quantity":1,"unit_price":"1.00"},{"sku":"SKU-1","quantity":0,"unit_price":"1.00"}]}'
same "$CODE $BODY" '400 {"error":{"code":"invalid","field":"items[2].quantity","message":"must be a positive integer"}}' "a bad line: the precise 400 of the issue"
printf '{"external_ref": "W-4",\n  "currency": EUR\n}' >"$T_TMP/bad.json"
req POST /v1/orders --data-binary @"$T_TMP/bad.json"
check 400 '"malformed_json".*line 2, column 15' "malformed JSON: 400 naming line and column"
req POST /v1/orders -d '{"external_ref":"W-5","currency":"XYZ","placed_at":"2025-01-01T10:00:00Z"}'
check 400 '"field":"currency".*unknown currency' "an unknown currency: 400"
req POST /v1/orders -d '{"external_ref":"W-5","currency":"EUR","placed_at":"2025-01-01T10:00:00Z","buyer":{"external_ref":"buyer-1"},"items":[{"sku":"SKU-1","quantity":1,"unit_price":"10.001"}]}'
check 400 '"field":"items\[0\].unit_price".*more decimals' "more decimals than EUR allows: 400"
req POST /v1/orders -d '{"external_ref":"W-5","currency":"JPY","placed_at":"2025-01-01T10:00:00Z","buyer":{"external_ref":"buyer-1"},"items":[{"sku":"SKU-1","quantity":1,"unit_price":"100.5"}]}'
check 400 'more decimals than the currency allows \(0\)' "decimals for JPY (exponent 0): 400"
req POST /v1/orders -d '{"external_ref":"W-5","currency":"EUR","placed_at":"2025-01-01T10:00:00Z","buyer":{"external_ref":"buyer-1"},"items":[{"sku":"SKU-1","quantity":1,"unit_price":10.5}]}'
check 400 '"field":"items\[0\].unit_price".*decimal string' "money as a JSON number with a fraction: 400 (never a double)"
req POST /v1/orders -d '{"external_ref":"W-6","currency":"EUR","placed_at":"2025-01-01T10:00:00Z","buyer":{"external_ref":"buyer-1"},"items":[{"sku":"SKU-1","quantity":1,"unit_price_minor":9007199254740993}]}'
check 201 '"total_minor" ?: ?9007199254740993' "an amount above 2^53 in minor units: kept to the last digit"
same "$(q "SELECT total_minor FROM orders WHERE external_ref = 'W-6'")" 9007199254740993 "and stored so"
req POST /v1/orders -d '{"external_ref":"W-7","currency":"EUR","placed_at":"2025-02-30T10:00:00Z","buyer":{"external_ref":"buyer-1"},"items":[{"sku":"SKU-1","quantity":1,"unit_price":"1.00"}]}'
check 400 '"field":"placed_at"' "a date that does not exist: 400"
req POST /v1/orders -d '{"external_ref":"W-8","currency":"EUR","placed_at":"2025-01-01T10:00:00Z","buyer":{"external_ref":"buyer-1"},"items":[{"sku":"NOPE","quantity":1,"unit_price":"1.00"}]}'
check 422 '"field":"items\[0\].sku"' "an unknown SKU: 422 naming the line"
req POST /v1/orders -d '{"external_ref":"W-8","currency":"EUR","placed_at":"2025-01-01T10:00:00Z","buyer":{"external_ref":"buyer-9"},"items":[{"sku":"SKU-1","quantity":1,"unit_price":"1.00"}]}'
check 422 '"field":"buyer.external_ref"' "an unknown buyer given by reference only: 422"
req POST /v1/orders -d '{"external_ref":"W-8","currency":"EUR","placed_at":"2025-01-01T10:00:00Z","buyer":{"external_ref":"buyer-9","email":"b9@example.com","name":"Nine","country":"FR"},"items":[{"sku":"SKU-1","quantity":1,"unit_price":"1.00"}],"colour":"red"}'
check 400 '"field":"colour".*unknown field' "an unknown field: 400"
same "$(q "SELECT count(*) FROM orders WHERE external_ref IN ('W-2','W-3','W-4','W-5','W-7','W-8')")" 0 "nothing of a refused order is stored"

# ---- Idempotency-Key ---------------------------------------------------------------------
req POST /v1/orders -H 'Idempotency-Key: k-1' -d "$(order K-1)"; FIRST="$CODE $BODY"
req POST /v1/orders -H 'Idempotency-Key: k-1' -d "$(order K-1)"
same "$CODE $BODY" "$FIRST" "same key, same body: the original response replayed"
req POST /v1/orders -H 'Idempotency-Key: k-1' -d "$(order K-2)"
check 422 'idempotency_mismatch' "same key, another body: 422"
same "$(q "SELECT count(*) FROM orders WHERE external_ref = 'K-2'")" 0 "and the other body is not stored"
req PUT /v1/buyers/buyer-3 -H 'Idempotency-Key: k-2' -d '{"email":"c@example.com","name":"C","country":"DE"}'; FIRST="$CODE $BODY"
req PUT /v1/buyers/buyer-3 -H 'Idempotency-Key: k-2' -d '{"email":"c@example.com","name":"C","country":"DE"}'
same "$CODE $BODY" "$FIRST" "replays on the other routes too (201 kept, not turned into 200)"
order K-3 >"$T_TMP/k3.json"
for i in $(seq 1 20); do
    curl -s -o "$T_TMP/race.$i" -w '%{http_code}\n' -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
        -H 'Idempotency-Key: race-1' --data-binary @"$T_TMP/k3.json" "$U/v1/orders" >"$T_TMP/race.code.$i" &
done
wait_jobs() { for j in $(jobs -p); do case " $SERVERS " in *" $j "*) ;; *) wait "$j";; esac; done; }
wait_jobs
same "$(q "SELECT count(*) FROM orders WHERE external_ref = 'K-3'")" 1 "20 parallel requests with one key: one order"
same "$(cat "$T_TMP"/race.code.* | sort -u | tr '\n' ' ')" "201 " "all 20 answered 201 with the same response"
same "$(cat "$T_TMP"/race.[0-9]* | sort -u | wc -l)" 1 "byte for byte"

# ---- 40 orders at once: they meet in group commits (one set-based statement
# per batch); each gets the answer it would get alone --------------------------------------
$PY $TOOL burst "$U" "$TOKEN" G "$T_TMP/burst.txt"
same "$(awk '{print $2 "/" $3}' "$T_TMP/burst.txt" | sort | uniq -c | awk '{printf "%s:%s ", $2, $1}')" \
    "0/200:7 0/201:1 1/422:8 2/201:8 3/422:8 4/201:8 " "a burst of 40: one of 8 repeats created, the rest 200; unknown SKU or buyer 422; others 201"
same "$(q "SELECT count(*) || ' ' || sum((SELECT count(*) FROM order_items i WHERE i.order_id = o.id)) || ' ' || sum((SELECT count(*) FROM deliveries d WHERE d.order_id = o.id)) FROM orders o WHERE external_ref LIKE 'G-%'")" "17 34 8" "and the store holds exactly those 17 orders, 34 lines, 8 deliveries"
grep ' 1 422 ' "$T_TMP/burst.txt" | grep -q '"field":"items\[1\].sku"' && t_ok "a bad line in a group commit still names its field" || t_fail "a bad line in a group commit still names its field" "$(grep ' 1 422 ' "$T_TMP/burst.txt" | head -n 1)"

# ---- batches --------------------------------------------------------------------------------
req POST /v1/orders:batch -d "{\"orders\":[$(order B-1),$(order W-1),$(order B-3 1.00)]}"
check 200 '"created":1,"existing":1,"refused":1' "POST /v1/orders:batch: a result per order"
printf '%s' "$BODY" | grep -q '"index":2,"status":400' && printf '%s' "$BODY" | grep -q '"field":"orders\[2\].total"' \
    && t_ok "a refused order in a batch names orders[i].field" || t_fail "a refused order in a batch names orders[i].field" "$BODY"
same "$(q "SELECT count(*) FROM orders WHERE external_ref IN ('B-1', 'B-3')")" 1 "all or nothing per order"
req POST /v1/orders:batch -d '{"orders":[]}'
check 400 '"field":"orders"' "an empty batch: 400"

# ---- cancel ---------------------------------------------------------------------------------------
req POST /v1/orders/B-1/cancel
check 200 '"cancelled":true' "POST /v1/orders/{ref}/cancel"
req POST /v1/orders/B-1/cancel
check 200 '"cancelled":false' "cancelling again: 200, nothing to do"
req POST /v1/orders/NOPE/cancel
check 404 'not_found' "cancelling an unknown order: 404"
q "UPDATE orders SET status = 'shipped' WHERE external_ref = 'K-1'" >/dev/null
req POST /v1/orders/K-1/cancel
check 409 'too late to cancel' "cancelling a shipped order: 409"

# ---- payments --------------------------------------------------------------------------------------
pay() { printf '{"order_ref":"W-1","provider":"stripe","provider_ref":"%s","kind":"%s",%s"amount":"%s","currency":"%s","occurred_at":"2025-01-01T10:01:00Z"}' "$1" "$2" "$3" "$4" "${5:-EUR}"; }
req POST /v1/payments -d "$(pay pi_1 capture '' 29.89)"
check 201 '"created":true' "POST /v1/payments: a capture"
req POST /v1/payments -d "$(pay pi_1 capture '' 29.89)"
check 200 '"created":false' "the same provider reference again: 200, one row"
req POST /v1/payments -d "$(pay re_1 refund '"parent_ref":"pi_1",' 4.99)"
check 201 '"provider_ref":"re_1"' "a refund of that capture"
same "$(q "SELECT p.amount_minor || ' ' || (p.parent_payment_id = c.id) FROM payments p, payments c WHERE p.provider_ref = 're_1' AND c.provider_ref = 'pi_1'")" "499 true" "the refund names its parent"
req POST /v1/payments -d "$(pay re_2 refund '' 1.00)"
check 400 '"field":"parent_ref"' "a refund without parent: 400"
req POST /v1/payments -d "$(pay re_3 chargeback '"parent_ref":"pi_9",' 1.00)"
check 422 '"field":"parent_ref"' "a chargeback of an unknown payment: 422"
req POST /v1/payments -d "$(pay pi_2 capture '' 1.00 USD)"
check 422 '"field":"currency"' "a payment in another currency than its order: 422"

# ---- delivery events -----------------------------------------------------------------------------
req POST /v1/deliveries/W-1/events -d '{"status":"picked_up","at":"2025-01-02T08:10:00Z"}'
check 422 '"field":"agent_id"' "picked up without any agent: 422"
req POST /v1/deliveries/W-1/events -d '{"status":"picked_up","at":"2025-01-02T08:10:00Z","agent_id":1}'
check 201 '"seq":2' "POST /v1/deliveries/{order_ref}/events (seq 1 is the 'pending' the order opened)"
req POST /v1/deliveries/W-1/events -d '{"status":"picked_up","at":"2025-01-02T08:10:00Z","agent_id":1}'
check 200 '"created":false' "the same event again: not appended twice"
req POST /v1/deliveries/W-1/events -d '{"status":"delivered","at":"2025-01-02T09:10:00Z"}'
check 201 '"seq":3' "delivered"
same "$(q "SELECT d.status || ' ' || d.agent_id || ' ' || (d.delivered_at = '2025-01-02T09:10:00Z') || ' ' || (SELECT count(*) FROM delivery_events WHERE delivery_id = d.id) FROM deliveries d JOIN orders o ON o.id = d.order_id WHERE o.external_ref = 'W-1'")" "delivered 1 true 3" "the delivery's state follows its events"
same "$(q "SELECT string_agg(e.status, ' ' ORDER BY e.seq) || ' ' || bool_and(e.seq > 1 OR e.at = o.placed_at) FROM delivery_events e JOIN deliveries d ON d.id = e.delivery_id JOIN orders o ON o.id = d.order_id WHERE o.external_ref = 'W-1'")" "pending picked_up delivered true" \
    "a delivery's history opens with 'pending' at the order's time"
req POST /v1/deliveries/W-1/events -d '{"status":"lost","at":"2025-01-02T09:10:00Z"}'
check 400 '"field":"status"' "an unknown delivery status: 400"

# ---- inventory ----------------------------------------------------------------------------------
req POST /v1/inventory -d '{"items":[{"sku":"SKU-1","warehouse":"BER-01","on_hand":10},{"sku":"SKU-2","seller":"seller-1","warehouse":"BER-01","adjust":5}]}'
check 200 '"on_hand":10.*"on_hand":5' "POST /v1/inventory: absolute and relative"
req POST /v1/inventory -d '{"items":[{"sku":"SKU-2","warehouse":"BER-01","adjust":2},{"sku":"SKU-1","warehouse":"BER-01","adjust":-11}]}'
check 422 '"field":"items\[1\].adjust"' "stock below zero: 422 naming the item"
same "$(q "SELECT string_agg(on_hand::text, ' ' ORDER BY product_id) FROM inventory")" "10 5" "and nothing of that request is applied"
req POST /v1/inventory -d '{"items":[{"sku":"SKU-1","warehouse":"BER-01","on_hand":1,"adjust":1}]}'
check 400 'exactly one of on_hand' "on_hand and adjust together: 400"

# ---- webhooks ----------------------------------------------------------------------------------------
hook() { # hook PATH FILE [headers...]: sets CODE and BODY
    p=$1; f=$2; shift 2
    BODY=$(curl -s -w '\n%{http_code}' -H 'Content-Type: application/json' "$@" --data-binary @"$f" "$U$p")
    CODE=$(printf '%s' "$BODY" | tail -n 1); BODY=$(printf '%s' "$BODY" | sed '$d')
}
if [ ! -f "$FIX/shopify-orders-create.json" ]; then
    t_skip "webhooks with the real fixtures" "no fixtures at $FIX (PURSER_FIXTURES)"
else
    for s in SKU2006-001 SKU2006-020 SKU2006-035 WC-SKU-0 Bar3; do
        req PUT /v1/catalog/products/$s -d '{"seller":"seller-1","name":"x","category":"x","price":"1.00","currency":"EUR","weight_grams":100}'
    done
    SH="-H X-Shopify-Topic:orders/create -H X-Shopify-Shop-Domain:shop1.myshopify.com -H X-Shopify-API-Version:2025-04"
    hook /v1/webhooks/shopify "$FIX/shopify-orders-create.json" $SH -H 'X-Shopify-Webhook-Id: d-1' -H 'X-Shopify-Hmac-Sha256: vwP5kB5FaO+6gJFY1iaA+c0YOwy2yAQyEUtp2aukbHo='
    check 200 '"mapped":true' "Shopify orders/create, real fixture and signature: stored and mapped"
    same "$(q "SELECT external_ref || ' ' || currency || ' ' || items_minor || ' ' || shipping_minor || ' ' || discount_minor || ' ' || total_minor || ' ' || status FROM orders WHERE source = 'shopify'")" \
        "820982911946154508 USD 36997 1000 2000 35997 cancelled" "its 18-digit id and its money (359.97 USD) exactly"
    hook /v1/webhooks/shopify "$FIX/shopify-orders-create.json" $SH -H 'X-Shopify-Webhook-Id: d-1' -H 'X-Shopify-Hmac-Sha256: vwP5kB5FaO+6gJFY1iaA+c0YOwy2yAQyEUtp2aukbHo='
    check 200 '"duplicate":true' "the same delivery again: 200, a duplicate"
    same "$(q "SELECT count(*) FROM intake_webhook_events WHERE platform = 'shopify'") $(q "SELECT count(*) FROM orders WHERE source = 'shopify'")" "1 1" "stored once"
    hook /v1/webhooks/shopify "$FIX/shopify-orders-create.json" $SH -H 'X-Shopify-Webhook-Id: d-9' -H 'X-Shopify-Hmac-Sha256: wwP5kB5FaO+6gJFY1iaA+c0YOwy2yAQyEUtp2aukbHo='
    check 401 '"authentication required"' "Shopify with a tampered signature: 401"
    sed 's/359.97/359.98/' "$FIX/shopify-orders-create.json" >"$T_TMP/tampered.json"
    hook /v1/webhooks/shopify "$T_TMP/tampered.json" $SH -H 'X-Shopify-Webhook-Id: d-9' -H 'X-Shopify-Hmac-Sha256: vwP5kB5FaO+6gJFY1iaA+c0YOwy2yAQyEUtp2aukbHo='
    check 401 'unauthorized' "Shopify with a tampered body: 401"
    printf '{"foo": "bar"}' >"$T_TMP/foo.json"
    hook /v1/webhooks/shopify "$T_TMP/foo.json" -H 'X-Shopify-Topic: products/create' -H 'X-Shopify-Shop-Domain: shop1.myshopify.io' -H 'X-Shopify-Webhook-Id: 123456789' -H 'X-Shopify-Hmac-Sha256: B23tXN681gZ0qIWNRrgtzBE9XSDo5yaUu6wfmhu3a7g='
    check 200 '"mapped":false' "Shopify's own test vector verifies (topic kept, not mapped)"
    hook /v1/webhooks/shopify "$FIX/shopify-orders-paid.json" -H 'X-Shopify-Topic: orders/paid' -H 'X-Shopify-Shop-Domain: shop1.myshopify.com' -H 'X-Shopify-Webhook-Id: d-2' -H 'X-Shopify-Hmac-Sha256: LhASbyzfcQqs9sV1T7LsKkmXJaXg98nKfC8zMSvi4vc='
    check 200 "no product with sku 'LENS-PROTECT-2YR'" "Shopify orders/paid with unknown SKUs: kept, not mapped, 200"
    hook /v1/webhooks/shopify "$FIX/shopify-refunds-create.json" -H 'X-Shopify-Topic: refunds/create' -H 'X-Shopify-Shop-Domain: shop1.myshopify.com' -H 'X-Shopify-Webhook-Id: d-3' -H 'X-Shopify-Hmac-Sha256: elMZDHaiaNAAk5Ae/Mna3qyhl9aSD9x0Ul2Ht1CEHqM='
    check 200 'refund of order 6273085767965' "Shopify refunds/create: verified and kept"
    hook /v1/webhooks/shopify "$FIX/shopify-inventory_levels-update.json" -H 'X-Shopify-Topic: inventory_levels/update' -H 'X-Shopify-Shop-Domain: shop1.myshopify.com' -H 'X-Shopify-Webhook-Id: d-4' -H 'X-Shopify-Hmac-Sha256: OCfjadPFvVdfKnlArOwLrIHOAlqCCMq8xfnp0L4BsF8='
    check 200 'inventory_item_id' "Shopify inventory_levels/update: verified and kept"
    hook /v1/webhooks/shopify "$FIX/shopify-inventory_levels-update.json" -H 'X-Shopify-Shop-Domain: shop1.myshopify.com' -H 'X-Shopify-Hmac-Sha256: OCfjadPFvVdfKnlArOwLrIHOAlqCCMq8xfnp0L4BsF8='
    check 400 'X-Shopify-Topic' "Shopify without its delivery headers: 400"

    # WooCommerce: the secret is configured as WordPress stores it, a&amp;b
    hook /v1/webhooks/woocommerce "$FIX/woocommerce-order-created.json" -H 'X-WC-Webhook-Topic: order.created' -H 'X-WC-Webhook-Source: https://shop.example/' -H 'X-WC-Webhook-Signature: 4cO/0WuMKPo+OcCUVPQ+8DsQIe32d3/W4YmGekVndCg='
    check 200 'has no SKU' "WooCommerce order.created, real fixture signed with the decoded secret: kept (a line has no SKU)"
    hook /v1/webhooks/woocommerce "$FIX/woocommerce-order-updated.json" -H 'X-WC-Webhook-Topic: order.updated' -H 'X-WC-Webhook-Signature: TaoSAdn9dqoRAZIZWGvX2omqi/zSG5O7Nqd+47U1kUg='
    check 401 'unauthorized' "WooCommerce signed with another secret: 401"
    $PY $TOOL wc-with-skus "$FIX/woocommerce-order-created.json" "$T_TMP/wc.json"
    hook /v1/webhooks/woocommerce "$T_TMP/wc.json" -H 'X-WC-Webhook-Topic: order.created' -H 'X-WC-Webhook-Source: https://shop.example/' -H "X-WC-Webhook-Signature: $($PY $TOOL sign-hmac 'a&b' "$T_TMP/wc.json")"
    check 200 '"mapped":true' "WooCommerce order with SKUs: mapped"
    same "$(q "SELECT external_ref || ' ' || items_minor || ' ' || shipping_minor || ' ' || tax_minor || ' ' || total_minor || ' ' || status FROM orders WHERE source = 'woocommerce'")" "727 1800 1000 135 2935 paid" "its money (29.35 USD, price as a JSON number) exactly"
    hook /v1/webhooks/woocommerce "$T_TMP/wc.json" -H 'X-WC-Webhook-Topic: order.created' -H 'X-WC-Webhook-Source: https://shop.example/' -H "X-WC-Webhook-Signature: $($PY $TOOL sign-hmac 'a&b' "$T_TMP/wc.json")"
    check 200 '"duplicate":true' "WooCommerce duplicate delivery: 200, once"
    BODY=$(curl -s -w ' %{http_code}' -d 'webhook_id=3' "$U/v1/webhooks/woocommerce")
    same "$BODY" '{"received":true,"ping":true} 200' "WooCommerce's unsigned ping: 200, nothing stored"

    # Stripe: tolerance 5m, so the published vector (2025) is too old
    hook /v1/webhooks/stripe "$FIX/stripe-payment_intent-succeeded.json" -H 'Stripe-Signature: t=1742218937,v1=a039f454aed6ff62ea5a1a6134d46ed8dfbedfd23cf082b01cbdb3cb748a500c'
    check 401 'unauthorized' "Stripe: a correct signature outside the timestamp tolerance: 401"
    hook /v1/webhooks/stripe "$FIX/stripe-payment_intent-succeeded.json" -H "Stripe-Signature: $($PY $TOOL sign-stripe whsec_test_secret "$FIX/stripe-payment_intent-succeeded.json")"
    check 200 'metadata.order_ref' "Stripe payment_intent.succeeded, real fixture freshly signed: kept (no order named)"
    hook /v1/webhooks/stripe "$FIX/stripe-payment_intent-succeeded.json" -H "Stripe-Signature: $($PY $TOOL sign-stripe whsec_test_secret "$FIX/stripe-payment_intent-succeeded.json")"
    check 200 '"duplicate":true' "Stripe: the same event id again: a duplicate"
    $PY $TOOL stripe-pi "$FIX/stripe-payment_intent-succeeded.json" "$T_TMP/pi.json" W-1 evt_ours_1
    SIG=$($PY $TOOL sign-stripe whsec_test_secret "$T_TMP/pi.json")
    hook /v1/webhooks/stripe "$T_TMP/pi.json" -H "Stripe-Signature: ${SIG%%,*},v1=bad_signature,${SIG#*,},v0=zzz"
    check 200 '"mapped":true' "Stripe with one bad and one good v1 (secret rotation): accepted and mapped"
    same "$(q "SELECT kind || ' ' || amount_minor || ' ' || currency FROM payments WHERE provider_ref = 'pi_3R3dvoQ8iJWBZFaM0uu1G1rx'")" "capture 3897 EUR" "the capture is stored in minor units"
    hook /v1/webhooks/stripe "$T_TMP/pi.json" -H "Stripe-Signature: ${SIG%%,*},v1=$(printf '%064d' 0)"
    check 401 'unauthorized' "Stripe with a tampered signature: 401"
fi

# ---- metrics, OpenAPI --------------------------------------------------------------------------
M=$(curl -s "$U/metrics")
expect_out 0 '^purser_intake_http_rows_written_total [0-9]+' "/metrics: rows written" printf '%s\n' "$M"
expect_out 0 '^purser_intake_http_group_commits_total [0-9]+' "/metrics: group commits" printf '%s\n' "$M"
expect_out 0 '^purser_http_requests_total\{route="/v1/orders",method="POST",status="201"\} [0-9]+' "/metrics: requests by route and status" printf '%s\n' "$M"
expect_out 0 'token=shop-1' "the access log names the token, never the token itself" cat "$T_TMP/serve.log"
if grep -q "$TOKEN" "$T_TMP/serve.log"; then t_fail "the token never reaches the log"; else t_ok "the token never reaches the log"; fi
P plugins --describe intake_http | sed -n 's/^  \(GET\|POST\|PUT\|DELETE\) \(\/.*\)$/\1 \2/p' | LC_ALL=C sort >"$T_TMP/routes.txt"
$PY $TOOL openapi plugins/intake_http/openapi.yaml >"$T_TMP/openapi.txt" 2>&1
if [ -s "$T_TMP/routes.txt" ] && diff -u "$T_TMP/routes.txt" "$T_TMP/openapi.txt" >"$T_TMP/openapi.diff"; then
    t_ok "openapi.yaml lists exactly the routes the plugin registers"
else
    t_fail "openapi.yaml lists exactly the routes the plugin registers" "$(cat "$T_TMP/openapi.diff" "$T_TMP/openapi.txt")"
fi

# ---- the database goes away mid-run ----------------------------------------------------------------
# A private PostgreSQL (the shared test server stays up), stopped and
# started under a client that retries on 503: every acknowledged order is
# stored, once.
PG2PORT=$(free_port)
if PURSER_TEST_PGPORT=$PG2PORT tests/lib/pg_harness.sh start >"$T_TMP/pg2.env" 2>"$T_TMP/pg2.err"; then
    PG2=$(sed -n "s/.*PURSER_TEST_PGDIR='\([^']*\)'.*/\1/p" "$T_TMP/pg2.env")
    DB2="host=$PG2 port=$PG2PORT dbname=purser_test user=purser"
    H2=$(free_port); U2=http://127.0.0.1:$H2
    config "$T_TMP/p2.yaml" "$DB2" "$H2"
    "$PURSER" -c "$T_TMP/p2.yaml" migrate >/dev/null 2>&1
    T2=$("$PURSER" -c "$T_TMP/p2.yaml" token create down 2>/dev/null)
    sql "$DB2" "INSERT INTO sellers (external_ref, name, currency, commission_bp) VALUES ('s', 'S', 'EUR', 0);
        INSERT INTO products (seller_id, sku, name, category, price_minor, currency, weight_grams) VALUES (1, 'SKU-1', 'x', 'x', 1000, 'EUR', 5);
        INSERT INTO buyers (external_ref, email, name, country) VALUES ('buyer-1', 'a@b.c', 'A', 'DE')" >/dev/null
    "$PURSER" -c "$T_TMP/p2.yaml" serve >"$T_TMP/serve2.log" 2>&1 & S2=$!; SERVERS="$SERVERS $S2"
    wait_up "$U2"
    curl -sf "$U2/healthz" >/dev/null || t_fail "the second server is up" "$(cat "$T_TMP/serve2.log")"
    pgctl() {
        bindir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
        if [ "$(id -u)" = 0 ]; then
            u=postgres; id postgres >/dev/null 2>&1 || u=nobody
            setpriv --reuid="$u" --regid="$(id -g "$u")" --clear-groups "$bindir/pg_ctl" -D "$PG2/data" -l "$PG2/server.log" -w "$@" >/dev/null 2>&1
        else
            "$bindir/pg_ctl" -D "$PG2/data" -l "$PG2/server.log" -w "$@" >/dev/null 2>&1
        fi
    }
    $PY $TOOL post-until-stored "$U2" "$T2" 40 D "$T_TMP/acked" & CLIENT=$!
    sleep 1
    pgctl -m fast stop
    sleep 0.3
    CODE=$(curl -s -o "$T_TMP/down.body" -D "$T_TMP/down.headers" -w '%{http_code}' -H "Authorization: Bearer $T2" -H 'Content-Type: application/json' --data-binary @"$T_TMP/k3.json" "$U2/v1/orders")
    same "$CODE" 503 "database down: 503"
    if grep -qi '^Retry-After: ' "$T_TMP/down.headers"; then t_ok "with Retry-After"; else t_fail "with Retry-After" "$(cat "$T_TMP/down.headers")"; fi
    same "$(curl -s -o /dev/null -w '%{http_code}' "$U2/healthz")" 503 "/healthz: 503 while the database is down"
    sleep 1
    pgctl start
    wait "$CLIENT"; rc=$?; CLIENT=""
    same "$rc" 0 "the client got every order acknowledged after retrying"
    acked=$(wc -l <"$T_TMP/acked")
    same "$acked" 40 "40 orders acknowledged"
    same "$(sql "$DB2" "SELECT count(*) FROM orders WHERE external_ref LIKE 'D-%'")" 40 "all 40 stored, none twice"
    if [ -s "$T_TMP/acked.503" ]; then t_ok "the client did see 503s during the outage"; else t_fail "the client did see 503s during the outage"; fi
    same "$(sql "$DB2" "SELECT count(*) FROM orders WHERE external_ref = 'K-3'")" 0 "the order answered 503 was not stored"
    expect_out 0 '^purser_intake_http_db_errors_total [0-9]+' "/metrics: database errors counted" curl -s "$U2/metrics"
else
    t_fail "a private PostgreSQL for the outage test" "$(cat "$T_TMP/pg2.err")"
fi

# ---- shutdown: clean, and nothing for the sanitizers to say --------------------------------
for p in $SERVERS; do kill -TERM "$p"; wait "$p"; rc=$?; same "$rc" 0 "purser serve (pid $p) stops cleanly on SIGTERM"; done
SERVERS=""
if grep -Eq 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$T_TMP"/serve*.log; then
    t_fail "no sanitizer report from the servers" "$(grep -E -A20 'Sanitizer|runtime error' "$T_TMP"/serve*.log | head -n 60)"
else
    t_ok "no sanitizer report from the servers"
fi
t_done
