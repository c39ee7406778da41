# The ratings plugin against a real PostgreSQL. Part 1: POST /v1/reviews
# under `purser serve` with intake_http's bearer tokens: the success path
# (by line id and by order reference), every rejection (auth, content type,
# size, malformed JSON, invalid UTF-8, NUL and control characters, text too
# long, rating out of range, missing and unknown fields), one review per
# line (also under 10 concurrent requests), a non-buyer and an undelivered
# line refused. Part 2: the nightly job against hand-computed figures
# (worked out in the comments below), including three 5-star reviews
# against three hundred averaging 4.8, the cutoff, the fulfilment signals,
# the composite score, the global-mean prior, and an idempotent re-run.
. tests/lib/testlib.sh
B=$PURSER_BUILD
unset PURSER_DATABASE_URL
PY=/usr/bin/python3
free_port() { $PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
SERVER=""
cleanup() {
    [ -n "$SERVER" ] && { kill "$SERVER" 2>/dev/null; wait "$SERVER" 2>/dev/null; }
    rm -rf "$T_TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# setup NAME SETTINGS: a fresh database, a config with intake_http and
# ratings (SETTINGS under plugins.ratings) and a daily UTC job; sets DB, C
setup() {
    HPORT=$(free_port)
    U=http://127.0.0.1:$HPORT
    plugin_store "$1" "intake_http ratings" "  intake_http:
    token_cache: 1s
  ratings:
$2" "http:
  listen: 127.0.0.1:$HPORT"
    daily_job "$T_TMP/$1/jobs/ratings.yaml" ratings-nightly ratings
    migrate_or_stop "$C" "$T_TMP/$1/migrate.log"
}
P() { "$PURSER" -c "$C" "$@"; }
q() { sql "$DB" "$1"; }

# Store helpers shared by both parts: sellers and products 1..5 (product id
# = seller id), orders of one line each (line id = order id * 10 + 1),
# deliveries with an optional 'delivered' event, reviews written directly.
cat >"$T_TMP/store.sql" <<'SQL'
INSERT INTO depots (id, code, name, latitude, longitude) VALUES (1, 'BER-01', 'Berlin', 52.5, 13.4);
INSERT INTO delivery_agents (id, name, home_depot_id, shift_start, shift_end, vehicle_capacity_grams)
VALUES (1, 'Agent', 1, '08:00', '18:00', 100000);
INSERT INTO buyers (id, external_ref, email, name, country)
VALUES (1, 'b-1', 'b1@x.de', 'Buyer 1', 'DE'), (2, 'b-2', 'b2@x.de', 'Buyer 2', 'DE');
INSERT INTO sellers (id, external_ref, name, currency, commission_bp)
SELECT g, 'seller-' || g, 'Seller ' || g, 'EUR', 1000 FROM generate_series(1, 5) g;
INSERT INTO products (id, seller_id, sku, name, category, price_minor, currency, weight_grams)
SELECT g, g, 'sku-' || g, 'Product ' || g, 'home', 1000, 'EUR', 100 FROM generate_series(1, 5) g;

CREATE FUNCTION t_order(p_id bigint, p_seller bigint, p_status text, p_placed timestamptz,
                        p_buyer bigint DEFAULT 1) RETURNS void LANGUAGE sql AS $$
    INSERT INTO orders (id, source, external_ref, buyer_id, currency, status, placed_at, items_minor,
                        total_minor)
    VALUES (p_id, 'web', 'W-' || p_id, p_buyer, 'EUR', p_status, p_placed, 1000, 1000);
    INSERT INTO order_items (id, order_id, line_no, product_id, seller_id, currency, quantity,
                             unit_price_minor, line_total_minor)
    VALUES (p_id * 10 + 1, p_id, 1, p_seller, p_seller, 'EUR', 1, 1000, 1000);
$$;

-- a delivery whose window is the two hours before p_end
CREATE FUNCTION t_delivery(p_order bigint, p_end timestamptz, p_status text,
                           p_delivered timestamptz, p_event timestamptz) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    d bigint;
BEGIN
    INSERT INTO deliveries (order_id, depot_id, agent_id, address, latitude, longitude, window_start,
                            window_end, weight_grams, service_minutes, status, delivered_at)
    VALUES (p_order, 1, 1, 'Street 1', 52.5, 13.4, p_end - interval '2 hours', p_end, 100, 5,
            p_status, p_delivered)
    RETURNING id INTO d;
    IF p_event IS NOT NULL THEN
        INSERT INTO delivery_events (delivery_id, seq, status, at, agent_id)
        VALUES (d, 1, 'delivered', p_event, 1);
    END IF;
END
$$;

CREATE FUNCTION t_review(p_order bigint, p_rating int, p_at timestamptz) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO ratings_reviews (order_item_id, buyer_id, rating, review_text, token_name, created_at)
    VALUES (p_order * 10 + 1, 1, p_rating, 'fine', 'test', p_at);
$$;
SQL

# ============================ part 1: POST /v1/reviews ============================
setup t_ratings_http "    max_body: 4k
    max_text: 200
    default_source: web"
q "$(cat "$T_TMP/store.sql")" >/dev/null
q "SELECT t_order(1, 1, 'delivered', '2025-03-01 10:00+00');
   SELECT t_delivery(1, '2025-03-02 10:00+00', 'delivered', '2025-03-02 09:00+00', '2025-03-02 09:00+00');
   SELECT t_order(2, 1, 'shipped', '2025-03-01 10:00+00');
   SELECT t_delivery(2, '2025-03-02 10:00+00', 'picked_up', NULL, NULL);
   SELECT t_order(3, 2, 'delivered', '2025-03-01 10:00+00', 2);
   SELECT t_order(4, 2, 'delivered', '2025-03-01 10:00+00', 2);
   SELECT t_order(5, 3, 'delivered', '2025-03-01 10:00+00', 2);
   INSERT INTO order_items (id, order_id, line_no, product_id, seller_id, currency, quantity,
                            unit_price_minor, line_total_minor)
   VALUES (12, 1, 2, 2, 2, 'EUR', 1, 1000, 1000)" >/dev/null
TOKEN=$(P token create shop-1 2>/dev/null)
OLD=$(P token create old 2>/dev/null)
P token revoke old >/dev/null 2>&1
"$PURSER" -c "$C" serve >"$T_TMP/serve.log" 2>&1 & SERVER=$!
i=0; until curl -sf "$U/healthz" >/dev/null || [ $i -ge 75 ]; do sleep 0.2; i=$((i + 1)); done

# post BODY [curl args...]: sets CODE and BODY (with the token)
post() {
    d=$1; shift
    BODY=$(curl -s -o - -w '\n%{http_code}' -H "Authorization: Bearer $TOKEN" \
        -H 'Content-Type: application/json' "$@" --data-binary "$d" "$U/v1/reviews")
    CODE=$(printf '%s' "$BODY" | tail -n 1)
    BODY=$(printf '%s' "$BODY" | sed '$d')
}
# check WANT_CODE PATTERN "what"
check() {
    if [ "$CODE" = "$1" ] && printf '%s\n' "$BODY" | grep -Eq -- "$2"; then t_ok "$3"; else t_fail "$3" "HTTP $CODE (expected $1), body should match: $2" "$BODY"; fi
}
n_reviews() { q "SELECT count(*) FROM ratings_reviews"; }

# ---- the success path, one review per line ----------------------------------------
post '{"order_line_id": 11, "buyer": "b-1", "rating": 5, "text": "Lovely lamp, fast delivery."}'
check 201 '"review":\{"id":[0-9]+,"order_line_id":11,"product":"sku-1","seller":"seller-1","buyer":"b-1","rating":5,"created_at":"20[0-9-]+T[0-9:]+Z"\}' \
    "POST /v1/reviews by order line id: 201 with the stored review"
same "$(q "SELECT order_item_id || ' ' || buyer_id || ' ' || rating || ' ' || review_text || ' ' || token_name FROM ratings_reviews")" \
    "11 1 5 Lovely lamp, fast delivery. shop-1" "the review is stored with its buyer and the token's name"
post '{"order_line_id": 11, "buyer": "b-1", "rating": 1, "text": "Changed my mind."}'
check 409 '"code":"conflict","field":"order_line_id","message":"order line 11 has a review already \(review [0-9]+\)' \
    "a second review of the same line: 409 naming the existing review"
same "$(q "SELECT rating FROM ratings_reviews WHERE order_item_id = 11")" 5 "and the first review stands"
post '{"order_ref": "W-1", "line_no": 2, "buyer": "b-1", "rating": 4, "text": "Good cable."}'
check 201 '"order_line_id":12,"product":"sku-2"' "by order reference and line number (source from default_source)"
post '{"order_ref": "W-1", "source": "web", "line_no": 2, "buyer": "b-1", "rating": 4, "text": "Again."}'
check 409 '"field":"line_no"' "the same line by reference again: 409"
PIDS=""
for i in 1 2 3 4 5 6 7 8 9 10; do
    curl -s -o /dev/null -w '%{http_code}\n' -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
        -d '{"order_line_id": 41, "buyer": "b-2", "rating": 3, "text": "race"}' "$U/v1/reviews" >"$T_TMP/race.$i" &
    PIDS="$PIDS $!"
done
wait $PIDS
same "$(sort "$T_TMP"/race.* | uniq -c | awk '{printf "%s:%s ", $2, $1}')" "201:1 409:9 " \
    "10 concurrent reviews of one line: one 201, nine 409"
same "$(q "SELECT count(*) FROM ratings_reviews WHERE order_item_id = 41")" 1 "and one row"

# ---- who may review ------------------------------------------------------------------
post '{"order_line_id": 31, "buyer": "b-1", "rating": 1, "text": "Never bought it."}'
check 403 '"code":"forbidden","field":"buyer","message":"buyer .b-1. did not buy order line 31' "a buyer who did not buy the line: 403"
post '{"order_line_id": 31, "buyer": "nobody", "rating": 1, "text": "Who am I?"}'
check 403 '"field":"buyer"' "an unknown buyer: 403 too"
post '{"order_line_id": 21, "buyer": "b-1", "rating": 2, "text": "Where is it?"}'
check 422 '"code":"not_delivered","field":"order_line_id","message":"order line 21 is not delivered yet \(order shipped\)' \
    "a line whose order is not delivered: 422 not_delivered"
post '{"order_line_id": 999, "buyer": "b-1", "rating": 2, "text": "x"}'
check 422 '"code":"unknown_reference","field":"order_line_id"' "an unknown order line: 422"
post '{"order_ref": "W-1", "line_no": 7, "buyer": "b-1", "rating": 2, "text": "x"}'
check 422 '"field":"line_no","message":"no line 7 in order .W-1. from source .web.' "an unknown line number: 422"
post '{"order_line_id": 31, "buyer": "b-2", "rating": 5, "text": "Delivered, says the order."}'
check 201 '"order_line_id":31' "an order marked delivered (no delivery row): the buyer may review"

# ---- authentication and transport --------------------------------------------------------
BODY=$(curl -s -w ' %{http_code}' -H 'Content-Type: application/json' -d '{}' "$U/v1/reviews")
same "$BODY" '{"error":{"code":"unauthorized","message":"authentication required"}} 401' "no token: 401"
BODY=$(curl -s -w ' %{http_code}' -H 'Authorization: Bearer prs_nope' -H 'Content-Type: application/json' -d '{}' "$U/v1/reviews")
same "$BODY" '{"error":{"code":"unauthorized","message":"authentication required"}} 401' "an unknown token: 401"
same "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $OLD" -H 'Content-Type: application/json' -d '{}' "$U/v1/reviews")" 401 \
    "a token revoked with purser token revoke: 401"
BODY=$(curl -s -w ' %{http_code}' -H "Authorization: Bearer $TOKEN" -H 'Content-Type: text/plain' -d '{"order_line_id": 51}' "$U/v1/reviews")
expect_out 0 '"unsupported_media_type".* 415$' "wrong content type: 415" printf '%s\n' "$BODY"
head -c 5000 /dev/zero | tr '\0' ' ' >"$T_TMP/big.json"
post "@$T_TMP/big.json"
check 413 '' "a body over plugins.ratings.max_body: 413, unread"

# ---- abusive and malformed input -------------------------------------------------------------
body() { printf '{"order_line_id": 51, "buyer": "b-2", "rating": %s, "text": "%s"}' "$1" "$2"; }
post "$(body 6 ok)"
same "$CODE $BODY" '400 {"error":{"code":"invalid","field":"rating","message":"must be a whole number from 1 to 5"}}' "rating 6: the 400 of the issue's form"
post "$(body 0 ok)"
check 400 '"field":"rating"' "rating 0: 400"
post "$(body 4.5 ok)"
check 400 '"field":"rating","message":"must be a whole number' "rating 4.5: 400"
post "$(body '"5"' ok)"
check 400 '"field":"rating"' "rating as a string: 400"
post '{"order_line_id": 51, "buyer": "b-2", "text": "no rating"}'
check 400 '"field":"rating","message":"is required' "missing rating: 400"
post '{"order_line_id": 51, "buyer": "b-2", "rating": 5}'
check 400 '"field":"text","message":"is required"' "missing text: 400"
post '{"order_line_id": 51, "rating": 5, "text": "who?"}'
check 400 '"field":"buyer","message":"is required"' "missing buyer: 400"
post '{"buyer": "b-2", "rating": 5, "text": "which?"}'
check 400 '"field":"order_line_id","message":"is required \(or order_ref with line_no\)"' "missing order line: 400"
post '{"order_ref": "W-5", "buyer": "b-2", "rating": 5, "text": "which line?"}'
check 400 '"field":"line_no","message":"is required with order_ref"' "order_ref without line_no: 400"
post '{"order_line_id": 51, "order_ref": "W-5", "line_no": 1, "buyer": "b-2", "rating": 5, "text": "both"}'
check 400 '"field":"order_ref","message":"give either' "both order_line_id and order_ref: 400"
post '{"order_line_id": 51, "buyer": "b-2", "rating": 5, "text": "hi", "stars": 5}'
check 400 '"field":"stars","message":"unknown field' "an unknown field: 400"
post "$(body 5 '   ')"
check 400 '"field":"text","message":"must not be empty"' "blank text: 400"
post "$(body 5 "$(head -c 201 /dev/zero | tr '\0' 'a')")"
check 400 '"field":"text","message":"is 201 characters long: at most 200 are accepted"' "text over plugins.ratings.max_text: 400"
post "$(body 5 'bell\u0007')"
check 400 '"field":"text","message":"must not contain control characters \(U\+0007 at character 5\)"' "a control character: 400"
post "$(body 5 'cut\u0000here')"
check 400 '"code":"invalid","message":"\\\\u0000 \(NUL\) at line 1, column 64' "an escaped NUL: 400 naming line and column"
printf '{"order_line_id": 51, "buyer": "b-2", "rating": 5, "text": "bad \377 byte"}' >"$T_TMP/latin.json"
post "@$T_TMP/latin.json"
check 400 '"field":"text","message":"is not valid UTF-8 \(byte 0xFF at byte 5 of the value\)"' "invalid UTF-8 in the text: 400 naming the byte"
printf '{"order_line_id": 51, "buyer": "b-2", "rating": 5, "text": "overlong \300\257"}' >"$T_TMP/overlong.json"
post "@$T_TMP/overlong.json"
check 400 '"field":"text","message":"is not valid UTF-8' "an overlong UTF-8 form: 400"
printf '{"order_line_id": 51, "buyer": "b-2", "rating": 5, "text": "surrogate \355\240\200"}' >"$T_TMP/surrogate.json"
post "@$T_TMP/surrogate.json"
check 400 '"field":"text","message":"is not valid UTF-8' "an encoded surrogate: 400"
printf '{"order_line_id": 51,\n  "buyer": "b-2",\n  "rating": 5\n  "text": "x"}' >"$T_TMP/malformed.json"
post "@$T_TMP/malformed.json"
same "$CODE $BODY" '400 {"error":{"code":"malformed_json","message":"malformed JSON at line 4, column 3"}}' "malformed JSON: 400 naming line and column"
post '[1, 2]'
check 400 '"message":"the body must be a JSON object"' "not an object: 400"
same "$(q "SELECT count(*) FROM ratings_reviews WHERE order_item_id = 51")" 0 "nothing of a refused review is stored"
ACCENTS=$(printf 'é%.0s' $(seq 1 200))
post "$(body 5 "$ACCENTS")"
check 201 '"order_line_id":51' "200 two-byte characters: accepted (max_text counts characters, not bytes)"
same "$(q "SELECT char_length(review_text) || ' ' || octet_length(review_text) FROM ratings_reviews WHERE order_item_id = 51")" "200 400" "and stored as sent"
kill "$SERVER"; wait "$SERVER" 2>/dev/null; SERVER=""
if grep -Eq 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$T_TMP/serve.log"; then
    t_fail "no sanitizer report from the server" "$(grep -E -A20 'Sanitizer|runtime error' "$T_TMP/serve.log" | head -n 60)"
else
    t_ok "no sanitizer report from the server"
fi

# ============================ part 2: the nightly job ============================
# Settings: m = 3, C = 10, a 30-day window, weights rating 50, on time 30,
# cancellation 10, refund 10. Business date D = 2025-03-10 in UTC: reviews
# written before 2025-03-11 00:00 count; the window is [2025-02-09, 2025-03-11).
setup t_ratings_job '    prior: { mean: "3", weight: 10 }
    window_days: 30
    weights: { rating: 50, on_time: 30, cancellation: 10, refund: 10 }'
q "$(cat "$T_TMP/store.sql")" >/dev/null
q "
-- seller 1: three orders, delivered on time, three 5-star reviews
SELECT t_order(g, 1, 'delivered', '2025-03-01 10:00+00') FROM generate_series(101, 103) g;
SELECT t_delivery(g, '2025-03-02 10:00+00', 'delivered', '2025-03-02 09:00+00', '2025-03-02 09:00+00') FROM generate_series(101, 103) g;
SELECT t_review(g, 5, '2025-03-05 12:00+00') FROM generate_series(101, 103) g;
-- seller 2: three hundred orders on time, 240 reviews of 5 and 60 of 4 (mean 4.8)
SELECT t_order(g, 2, 'delivered', '2025-03-01 10:00+00') FROM generate_series(1001, 1300) g;
SELECT t_delivery(g, '2025-03-02 10:00+00', 'delivered', '2025-03-02 09:00+00', '2025-03-02 09:00+00') FROM generate_series(1001, 1300) g;
SELECT t_review(g, CASE WHEN g <= 1240 THEN 5 ELSE 4 END, '2025-03-05 12:00+00') FROM generate_series(1001, 1300) g;
-- seller 3: the fulfilment signals
SELECT t_order(301, 3, 'delivered', '2025-03-05 10:00+00');  -- on time (event 09:30, window end 10:00)
SELECT t_delivery(301, '2025-03-06 10:00+00', 'delivered', '2025-03-06 09:30+00', '2025-03-06 09:30+00');
SELECT t_order(302, 3, 'delivered', '2025-03-05 10:00+00');  -- late (event 11:00)
SELECT t_delivery(302, '2025-03-06 10:00+00', 'delivered', '2025-03-06 11:00+00', '2025-03-06 11:00+00');
SELECT t_order(303, 3, 'cancelled', '2025-03-05 10:00+00');  -- cancelled
SELECT t_order(304, 3, 'delivered', '2025-03-05 10:00+00');  -- on time by delivered_at (no event), refunded
SELECT t_delivery(304, '2025-03-07 12:00+00', 'delivered', '2025-03-07 11:00+00', NULL);
INSERT INTO payments (id, order_id, provider, provider_ref, kind, parent_payment_id, amount_minor, currency, status, occurred_at)
VALUES (1, 304, 'stripe', 'c-304', 'capture', NULL, 1000, 'EUR', 'succeeded', '2025-03-05 10:00+00'),
       (2, 304, 'stripe', 'r-304', 'refund', 1, 1000, 'EUR', 'succeeded', '2025-03-08 10:00+00'),
       (3, 301, 'stripe', 'c-301', 'capture', NULL, 1000, 'EUR', 'succeeded', '2025-03-05 10:00+00'),
       (4, 301, 'stripe', 'r-301', 'refund', 3, 1000, 'EUR', 'succeeded', '2025-03-20 10:00+00');  -- after both cutoffs
SELECT t_order(305, 3, 'shipped', '2025-03-05 10:00+00');    -- delivery failed: late
SELECT t_delivery(305, '2025-03-07 12:00+00', 'failed', NULL, NULL);
SELECT t_order(306, 3, 'cancelled', '2025-01-01 10:00+00');  -- before the window
SELECT t_review(301, 2, '2025-03-09 12:00+00'), t_review(304, 4, '2025-03-09 12:00+00');
SELECT t_review(302, 1, '2025-03-11 05:00+00');              -- after D's cutoff: counts from D+1
-- seller 4: one cancelled order, nothing else
SELECT t_order(401, 4, 'cancelled', '2025-03-08 10:00+00');
-- seller 5: 200 reviews of 3 on orders long before the window
SELECT t_order(g, 5, 'delivered', '2024-12-01 10:00+00') FROM generate_series(501, 700) g;
SELECT t_delivery(g, '2024-12-02 10:00+00', 'delivered', '2024-12-02 09:00+00', '2024-12-02 09:00+00') FROM generate_series(501, 700) g;
SELECT t_review(g, 3, '2024-12-05 12:00+00') FROM generate_series(501, 700) g;
" >/dev/null
D=2025-03-10
product() { q "SELECT concat_ws(' ', reviews, rating_sum, mean, score) FROM ratings_product_scores WHERE business_date = '$2' AND product_id = $1"; }
seller() {
    q "SELECT concat_ws(' ', reviews, rating_sum, coalesce(mean::text, '-'), coalesce(rating::text, '-'),
              deliveries, on_time, coalesce(on_time_rate::text, '-'), orders, cancelled,
              coalesce(cancel_rate::text, '-'), refunded, coalesce(refund_rate::text, '-'), score)
         FROM ratings_seller_scores WHERE business_date = '$2' AND seller_id = $1"
}
snapshot() {
    q "SELECT (SELECT string_agg(concat_ws(':', product_id, reviews, rating_sum, mean, score), ' ' ORDER BY product_id) FROM ratings_product_scores WHERE business_date = '$1')
              || ' | ' || (SELECT string_agg(concat_ws(':', seller_id, reviews, rating, on_time_rate, cancel_rate, refund_rate, score), ' ' ORDER BY seller_id) FROM ratings_seller_scores WHERE business_date = '$1')"
}

expect_out 0 "dry run: would write 4 product and 5 seller scores for $D" "a dry run counts what it would write" \
    P run ratings-nightly --date $D --dry-run
same "$(q "SELECT count(*) FROM ratings_runs")" 0 "and writes nothing"
expect_out 0 "computed $D: 4 product and 5 seller scores from 505 reviews \(m = 3.000000, C = 10\)" \
    "the nightly job for $D" P run ratings-nightly --date $D
# Products: score = (C*m + sum) / (C + n) = (30 + sum) / (10 + n)
#   three 5s:          (30 + 15) / 13     = 3.461538 -> 3.4615
#   240 5s and 60 4s:  (30 + 1440) / 310  = 4.741935 -> 4.7419
#   a 2 and a 4:       (30 + 6) / 12      = 3.0000 (the 1 written on the 11th is not counted yet)
#   200 3s:            (30 + 600) / 210   = 3.0000
same "$(product 1 $D)" "3 15 5.0000 3.4615" "three 5-star reviews: 45/13 = 3.4615"
same "$(product 2 $D)" "300 1440 4.8000 4.7419" "three hundred averaging 4.8: 1470/310 = 4.7419"
same "$(q "SELECT (SELECT score FROM ratings_product_scores WHERE business_date = '$D' AND product_id = 2) > (SELECT score FROM ratings_product_scores WHERE business_date = '$D' AND product_id = 1)")" t \
    "three 5-star reviews do not beat three hundred 4.8s"
same "$(product 3 $D)" "2 6 3.0000 3.0000" "a review written after the business date's end is not counted"
same "$(product 5 $D)" "200 600 3.0000 3.0000" "200 3-star reviews: 630/210 = 3.0000"
same "$(q "SELECT count(*) FROM ratings_product_scores WHERE business_date = '$D'")" 4 "products without reviews get no row"
# Sellers: score = 100 * sum(w * c) / sum(w) over the known components,
# c = (rating - 1)/4, on-time rate, 1 - cancellation rate, 1 - refund rate.
#   seller 1: rating 45/13, c = 8/13; everything on time: 100 * (50*8/13 + 30 + 10 + 10) / 100 = 80.77
#   seller 2: rating 1470/310, c = 29/31: 100 * (50*29/31 + 50) / 100 = 96.77
#   seller 3: rating 36/12 = 3, c = 0.5; 4 deliveries ended in the window (301 on time, 302 late,
#     304 on time by delivered_at, 305 failed), 2 on time = 0.5; 5 orders in the window
#     (306 is older), 1 cancelled = 0.2, 1 refunded (304; 301's refund comes later) = 0.2:
#     (50*0.5 + 30*0.5 + 10*0.8 + 10*0.8) = 56.00
#   seller 4: no reviews, rating = m = 3, c = 0.5; no deliveries (left out); 1 order, cancelled:
#     100 * (50*0.5 + 10*0 + 10*1) / 70 = 50.00
#   seller 5: reviews only, rating 3, c = 0.5: 100 * 50*0.5 / 50 = 50.00
same "$(seller 1 $D)" "3 15 5.0000 3.4615 3 3 1.0000 3 0 0.0000 0 0.0000 80.77" "seller 1: rating, signals, score 80.77"
same "$(seller 2 $D)" "300 1440 4.8000 4.7419 300 300 1.0000 300 0 0.0000 0 0.0000 96.77" "seller 2: score 96.77"
same "$(seller 3 $D)" "2 6 3.0000 3.0000 4 2 0.5000 5 1 0.2000 1 0.2000 56.00" \
    "seller 3: on time 2 of 4 (events, else delivered_at), cancelled 1 of 5, refunded 1 of 5, score 56.00"
same "$(seller 4 $D)" "0 0 - 3.0000 0 0 - 1 1 1.0000 0 0.0000 50.00" "seller 4: no reviews (rating = m), no deliveries (left out): 50.00"
same "$(seller 5 $D)" "200 600 3.0000 3.0000 0 0 - 0 0 - 0 - 50.00" "seller 5: rating only: 50.00"

# ---- history per date, idempotent re-run ------------------------------------------------------
BEFORE=$(snapshot $D)
expect_out 0 "recomputed $D" "running the same date again" P run ratings-nightly --date $D
same "$(snapshot $D)" "$BEFORE" "gives the same figures"
same "$(q "SELECT (SELECT count(*) FROM ratings_runs) || ' ' || (SELECT count(*) FROM ratings_product_scores) || ' ' || (SELECT count(*) FROM ratings_seller_scores)")" "1 4 5" \
    "and replaces the date's rows instead of adding to them"
# 2025-03-11: the 1 on order 302 now counts: seller 3 has 2, 4, 1 = 7 over 3 reviews,
# rating (30 + 7)/13 = 2.8462, c = (37/13 - 1)/4 = 6/13: 100 * (50*6/13 + 15 + 8 + 8)/100 = 54.08
expect 0 "the next date" P run ratings-nightly --date 2025-03-11
same "$(product 3 2025-03-11)" "3 7 2.3333 2.8462" "2025-03-11 counts the review written that day"
same "$(seller 3 2025-03-11)" "3 7 2.3333 2.8462 4 2 0.5000 5 1 0.2000 1 0.2000 54.08" "seller 3 on 2025-03-11: 54.08"
same "$(snapshot $D)" "$BEFORE" "while $D's history is kept unchanged"
q "INSERT INTO ratings_reviews (order_item_id, buyer_id, rating, review_text, token_name, created_at)
   VALUES (3051, 1, 1, 'late', 'test', '2025-03-09 12:00+00')" >/dev/null
expect 0 "a backfill of $D after a late-arriving review" P run ratings-nightly --date $D
same "$(product 3 $D)" "3 7 2.3333 2.8462" "re-running a date replaces its rows with the new figures"

# ---- the prior from the data: m = the mean of all reviews ---------------------------------------
# Without prior.mean, m = round(sum / n, 6) over every review before the cutoff:
# 15 + 1440 + 7 + 600 = 2062 over 3 + 300 + 3 + 200 = 506 reviews: m = 4.075099
#   three 5s:  (40.75099 + 15) / 13    = 4.2885
#   300 4.8s:  (40.75099 + 1440) / 310 = 4.7766
sed -i 's/prior: { mean: "3", weight: 10 }/prior: { weight: 10 }/' "$C"
expect_out 0 "m = 4.075099, C = 10" "without prior.mean the prior is the mean of all reviews" P run ratings-nightly --date $D
same "$(q "SELECT prior_source || ' ' || prior_mean FROM ratings_runs WHERE business_date = '$D'")" "global 4.075099" "the run row records m and where it came from"
same "$(product 1 $D) / $(product 2 $D)" "3 15 5.0000 4.2885 / 300 1440 4.8000 4.7766" "the products against hand-computed values with m = 4.075099"
sed -i 's/prior: { weight: 10 }/prior: { mean: "5.5", weight: 10 }/' "$C"
expect_out 1 "prior.mean '5.5': expected a decimal from 1 to 5" "a prior mean outside 1..5 is refused" P run ratings-nightly --date $D
expect_out 2 "prior.mean '5.5'" "and purser check names it" P check
t_done
