# The loyalty plugin against a real PostgreSQL: hand-computed scenarios
# (figures worked out in the comments), the database's guards (an order
# accrues once, the ledger is append-only), idempotent re-runs, a run
# killed mid-transaction, and the workbook read back with openpyxl.
. tests/lib/testlib.sh
B=$PURSER_BUILD
unset PURSER_DATABASE_URL
XLSX="/usr/bin/python3 tests/integration/loyalty_xlsx.py"

# The rules of every scenario below:
#   EUR 1 point per euro, a point worth 0.01 EUR; JPY 0.01 per yen, worth
#   1 JPY; KWD 2 per dinar, worth 0.005 KWD. books x2, grocery x0.5,
#   campaign "spring" (orders placed on 2025-03-01) x1.5. Points expire
#   after 30 days. Tiers bronze < silver (100.00 EUR) < gold (300.00 EUR
#   or 50000 JPY) over 30 days of trailing spend.
RULES='    earn: { EUR: "1", JPY: "0.01", KWD: "2" }
    point_value: { EUR: "0.01", JPY: "1", KWD: "0.005" }
    categories: { books: "2", grocery: "0.5" }
    campaigns:
      spring: { from: "2025-03-01", to: "2025-03-01", multiplier: "1.5" }
    expiry_days: 30
    tiers:
      levels: [bronze, silver, gold]
      window_days: 30
      min_spend:
        silver: { EUR: "100.00" }
        gold: { EUR: "300.00", JPY: "50000" }'

# setup NAME [RULES]: a fresh database, a config and a daily UTC job; sets
# DB, C and R (the report folder)
setup() {
    plugin_store "$1" loyalty "  loyalty:
${2:-$RULES}"
    daily_job "$T_TMP/$1/jobs/loyalty.yaml" loyalty-nightly loyalty
    migrate_or_stop "$C" "$T_TMP/$1/migrate.log"
}
P() { "$PURSER" -c "$C" "$@"; }
q() { sql "$DB" "$1"; }
post() { P run loyalty-nightly --date "$1" >>"$T_TMP/runs.log" 2>&1 || t_fail "run $1" "$(tail -5 "$T_TMP/runs.log")"; }
# moves ORDER: kind:points per ledger row of the order, in posting order
moves() { q "SELECT string_agg(business_date || ':' || kind || ':' || points, ' ' ORDER BY id) FROM loyalty_points WHERE order_id = $1"; }
balance() { q "SELECT coalesce(sum(points), 0) FROM loyalty_points WHERE buyer_id = $1"; }
tiers() { q "SELECT string_agg(business_date || ':' || from_tier || '>' || to_tier || ':' || coalesce(currency, '-') || ':' || spend_minor, ' ' ORDER BY business_date, id) FROM loyalty_tier_changes WHERE buyer_id = $1"; }
ledger_md5() { q "SELECT count(*) || ' ' || md5(string_agg(concat_ws(',', business_date, buyer_id, currency, kind, order_id, payment_id, points, basis_minor, reason), ';' ORDER BY id)) FROM loyalty_points"; }

cat >"$T_TMP/fixture.sql" <<'SQL'
-- Stores for tests/integration/test_loyalty.sh. Dates are UTC (the job
-- runs in UTC): D1 = 2025-03-01, D2 = 03-02, D3 = 03-03.
INSERT INTO depots (id, code, name, latitude, longitude) VALUES (1, 'BER-01', 'Berlin', 52.5, 13.4);
INSERT INTO delivery_agents (id, name, home_depot_id, shift_start, shift_end, vehicle_capacity_grams)
VALUES (1, 'Agent', 1, '08:00', '18:00', 100000);
INSERT INTO buyers (id, external_ref, email, name, country)
SELECT i, 'b-' || i, 'b' || i || '@x.de', 'Buyer ' || i, 'DE' FROM generate_series(1, 9) i;
INSERT INTO sellers (id, external_ref, name, currency, commission_bp)
VALUES (1, 's-eur', 'EUR seller', 'EUR', 1000), (2, 's-jpy', 'JPY seller', 'JPY', 1000),
       (3, 's-kwd', 'KWD seller', 'KWD', 1000);
-- products: 11 home, 12 books, 13 grocery (EUR); 21 home (JPY); 31 books (KWD)
INSERT INTO products (id, seller_id, sku, name, category, price_minor, currency, weight_grams)
VALUES (11, 1, 'home', 'Lamp', 'home', 0, 'EUR', 100), (12, 1, 'book', 'Book', 'books', 0, 'EUR', 100),
       (13, 1, 'food', 'Tea', 'grocery', 0, 'EUR', 100), (21, 2, 'home', 'Bowl', 'home', 0, 'JPY', 100),
       (31, 3, 'book', 'Book', 'books', 0, 'KWD', 100);

-- an order: lines 'product:qty:unit_price' separated by commas
CREATE FUNCTION t_order(p_id bigint, p_buyer bigint, p_cur text, p_lines text, p_placed timestamptz,
                        p_shipping bigint DEFAULT 0, p_discount bigint DEFAULT 0,
                        p_status text DEFAULT 'delivered')
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    l text;
    n int := 0;
    items bigint := 0;
BEGIN
    FOREACH l IN ARRAY string_to_array(p_lines, ',') LOOP
        items := items + split_part(l, ':', 2)::bigint * split_part(l, ':', 3)::bigint;
    END LOOP;
    INSERT INTO orders (id, source, external_ref, buyer_id, currency, status, placed_at, items_minor,
                        shipping_minor, discount_minor, total_minor)
    VALUES (p_id, 'web', 'W-' || p_id, p_buyer, p_cur, p_status, p_placed, items, p_shipping,
            p_discount, items + p_shipping - p_discount);
    FOREACH l IN ARRAY string_to_array(p_lines, ',') LOOP
        n := n + 1;
        INSERT INTO order_items (order_id, line_no, product_id, seller_id, currency, quantity,
                                 unit_price_minor, line_total_minor)
        SELECT p_id, n, p.id, p.seller_id, p_cur, split_part(l, ':', 2)::int,
               split_part(l, ':', 3)::bigint, split_part(l, ':', 2)::bigint * split_part(l, ':', 3)::bigint
          FROM products p WHERE p.id = split_part(l, ':', 1)::bigint;
    END LOOP;
END
$$;

-- the capture of the whole order (payment id = order id * 10)
CREATE FUNCTION t_capture(p_order bigint) RETURNS void LANGUAGE sql AS $$
    INSERT INTO payments (id, order_id, provider, provider_ref, kind, amount_minor, currency, status, occurred_at)
    SELECT p_order * 10, o.id, 'stripe', 'cap-' || o.id, 'capture', o.total_minor, o.currency,
           'succeeded', o.placed_at + interval '1 hour'
      FROM orders o WHERE o.id = p_order;
$$;

-- a refund or chargeback of the order's capture
CREATE FUNCTION t_back(p_id bigint, p_order bigint, p_kind text, p_amount bigint, p_at timestamptz)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO payments (id, order_id, provider, provider_ref, kind, parent_payment_id, amount_minor,
                          currency, status, occurred_at)
    SELECT p_id, p_order, 'stripe', p_kind || '-' || p_id, p_kind, p_order * 10, p_amount, o.currency,
           'succeeded', p_at
      FROM orders o WHERE o.id = p_order;
$$;

CREATE FUNCTION t_deliver(p_order bigint, p_at timestamptz) RETURNS void LANGUAGE sql AS $$
    INSERT INTO deliveries (order_id, depot_id, agent_id, address, latitude, longitude, window_start,
                            window_end, weight_grams, service_minutes, status, delivered_at)
    VALUES (p_order, 1, 1, 'Street 1', 52.5, 13.4, p_at - interval '1 hour', p_at + interval '1 hour',
            100, 5, 'delivered', p_at);
$$;

-- A: buyer 1, categories and the campaign. 101 placed in the campaign:
-- books 20.00 x2 + home 30.00 = 70 x1.5 = 105 (shipping earns nothing).
SELECT t_order(101, 1, 'EUR', '12:1:2000,11:1:3000', '2025-03-01 08:00+00', 490);
SELECT t_capture(101);
SELECT t_deliver(101, '2025-03-01 12:00+00');
-- 102 before it: grocery 9.99 x0.5 + home 10.01 = 15.005, less the 10 %
-- discount (2.00 of 20.00) = 13.5045 -> 13.
SELECT t_order(102, 1, 'EUR', '13:1:999,11:1:1001', '2025-02-27 08:00+00', 0, 200);
SELECT t_capture(102);
SELECT t_deliver(102, '2025-03-01 12:00+00');
-- B: buyer 2, JPY (exponent 0): 12345 yen x 0.01 = 123.45 -> 123.
SELECT t_order(201, 2, 'JPY', '21:1:12345', '2025-02-28 08:00+00');
SELECT t_capture(201);
SELECT t_deliver(201, '2025-03-01 12:00+00');
-- C: buyer 3, KWD (exponent 3): books 12.345 x2 x2 per dinar = 49.38 -> 49.
SELECT t_order(301, 3, 'KWD', '31:1:12345', '2025-02-28 08:00+00');
SELECT t_capture(301);
SELECT t_deliver(301, '2025-03-01 12:00+00');
-- D: buyer 4, refunds. 401 100.00 -> 100, refunded 30.00 on D2 (30 back)
-- and 70.00 on D3 (the other 70); 402 50.00 -> 50, refunded whole on D2;
-- 403 33.33 -> 33, refunded 10.00 on D2: floor(33 x 1000 / 3333) = 9;
-- 404 refunded whole before delivery: never earns.
SELECT t_order(401, 4, 'EUR', '11:1:10000', '2025-02-27 08:00+00');
SELECT t_capture(401);
SELECT t_deliver(401, '2025-03-01 12:00+00');
SELECT t_back(4011, 401, 'refund', 3000, '2025-03-02 10:00+00');
SELECT t_back(4012, 401, 'refund', 7000, '2025-03-03 10:00+00');
SELECT t_order(402, 4, 'EUR', '11:1:5000', '2025-02-27 08:00+00');
SELECT t_capture(402);
SELECT t_deliver(402, '2025-03-01 12:00+00');
SELECT t_back(4021, 402, 'refund', 5000, '2025-03-02 10:00+00');
SELECT t_order(403, 4, 'EUR', '11:1:3333', '2025-02-27 08:00+00');
SELECT t_capture(403);
SELECT t_deliver(403, '2025-03-01 12:00+00');
SELECT t_back(4031, 403, 'refund', 1000, '2025-03-02 10:00+00');
SELECT t_order(404, 4, 'EUR', '11:1:2000', '2025-02-27 08:00+00');
SELECT t_capture(404);
SELECT t_back(4041, 404, 'refund', 2000, '2025-02-28 10:00+00');
SELECT t_deliver(404, '2025-03-01 12:00+00');
-- E: buyer 5, 80.00 -> 80, charged back on D2.
SELECT t_order(501, 5, 'EUR', '11:1:8000', '2025-02-27 08:00+00');
SELECT t_capture(501);
SELECT t_deliver(501, '2025-03-01 12:00+00');
SELECT t_back(5011, 501, 'chargeback', 8000, '2025-03-02 10:00+00');
-- F: buyer 6, not yet or never: 601 delivered 03-05 (accrues on 03-31,
-- 25); 602 never captured; 603 cancelled.
SELECT t_order(601, 6, 'EUR', '11:1:2500', '2025-02-27 08:00+00');
SELECT t_capture(601);
SELECT t_deliver(601, '2025-03-05 12:00+00');
SELECT t_order(602, 6, 'EUR', '11:1:2500', '2025-02-27 08:00+00');
SELECT t_deliver(602, '2025-03-01 12:00+00');
SELECT t_order(603, 6, 'EUR', '11:1:2500', '2025-02-27 08:00+00', 0, 0, 'cancelled');
SELECT t_capture(603);
SELECT t_deliver(603, '2025-03-01 12:00+00');
-- G: buyer 7, FIFO expiry: 701 60.00 on D1, 702 40.00 on D2, 70 points
-- spent on 03-10 (inserted by the test).
SELECT t_order(701, 7, 'EUR', '11:1:6000', '2025-02-27 08:00+00');
SELECT t_capture(701);
SELECT t_deliver(701, '2025-03-01 12:00+00');
SELECT t_order(702, 7, 'EUR', '11:1:4000', '2025-02-27 08:00+00');
SELECT t_capture(702);
SELECT t_deliver(702, '2025-03-02 12:00+00');
-- H: buyer 8, 50.00 on D1, expired on 03-31, refunded on 04-01.
SELECT t_order(801, 8, 'EUR', '11:1:5000', '2025-02-27 08:00+00');
SELECT t_capture(801);
SELECT t_deliver(801, '2025-03-01 12:00+00');
SELECT t_back(8011, 801, 'refund', 5000, '2025-04-01 10:00+00');
-- I: buyer 9, 350.00 on D1: gold.
SELECT t_order(901, 9, 'EUR', '11:1:35000', '2025-02-27 08:00+00');
SELECT t_capture(901);
SELECT t_deliver(901, '2025-03-01 12:00+00');
SQL

setup t_loyalty_a
"$PURSER_TEST_PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -d "$DB" -f "$T_TMP/fixture.sql" >/dev/null 2>"$T_TMP/fixture.log" \
    || { t_fail "fixture" "$(cat "$T_TMP/fixture.log")"; t_done; }

# ---- D1: accrual ---------------------------------------------------------------------
# EUR 105+13+100+50+33+80+60+50+350 = 841 on 9 orders, JPY 123, KWD 49
expect_out 0 "dry run, would post 2025-03-01: 1013 points issued on 11 orders" \
    "a dry run says what it would post" \
    P run loyalty-nightly --date 2025-03-01 --dry-run
same "$(q "SELECT (SELECT count(*) FROM loyalty_points) + (SELECT count(*) FROM loyalty_runs)")" 0 "the dry run wrote nothing"
post 2025-03-01
same "$(moves 101)" "2025-03-01:accrual:105" "category x2 and campaign x1.5: 105, shipping earns nothing"
same "$(moves 102)" "2025-03-01:accrual:13" "grocery x0.5 and a 10 % discount: 13.5045 -> 13"
same "$(q "SELECT reason FROM loyalty_points WHERE order_id = 101")" "delivered and paid, campaign spring" \
    "the accrual names its campaign"
same "$(moves 201)" "2025-03-01:accrual:123" "JPY (exponent 0): 12345 yen x 0.01 = 123"
same "$(moves 301)" "2025-03-01:accrual:49" "KWD (exponent 3): 12.345 x 2 per dinar x books 2 = 49"
same "$(moves 404)/$(moves 601)/$(moves 602)/$(moves 603)" "///" \
    "not accrued: refunded whole, not delivered yet, never captured, cancelled"
same "$(q "SELECT basis_minor FROM loyalty_points WHERE order_id = 102")" 1800 "the basis: goods less discount"
same "$(tiers 4)/$(tiers 9)/$(tiers 1)" "2025-03-01:bronze>silver:EUR:18333/2025-03-01:bronze>gold:EUR:35000/" \
    "tiers up: 183.33 EUR is silver, 350.00 EUR gold; 72.90 stays bronze"

# ---- D2, D3: reversals ------------------------------------------------------------------
post 2025-03-02
post 2025-03-03
same "$(moves 401)" "2025-03-01:accrual:100 2025-03-02:reversal:-30 2025-03-03:reversal:-70" \
    "partial refund 30 %, then the rest: 30 + 70 reversed"
same "$(moves 402)" "2025-03-01:accrual:50 2025-03-02:reversal:-50" "full refund: all 50 reversed"
same "$(moves 403)" "2025-03-01:accrual:33 2025-03-02:reversal:-9" "partial refund: floor(33 x 10.00 / 33.33) = 9"
same "$(moves 501)" "2025-03-01:accrual:80 2025-03-02:reversal:-80" "chargeback: all 80 reversed"
same "$(q "SELECT string_agg(reason || ':' || basis_minor, ' ' ORDER BY payment_id) FROM loyalty_points WHERE kind = 'reversal'")" \
    "refund:3000 refund:7000 refund:5000 refund:1000 chargeback:8000" "each reversal names its refund or chargeback and amount"
same "$(moves 702)" "2025-03-02:accrual:40" "an order delivered on D2 accrues on D2"
same "$(tiers 4)" "2025-03-01:bronze>silver:EUR:18333 2025-03-02:silver>bronze:EUR:9333" \
    "tier down: 90.00 refunded leaves 93.33 EUR, bronze"
same "$(tiers 7)" "2025-03-02:bronze>silver:EUR:10000" "tier up on the second order: 100.00 EUR is silver"

# ---- idempotence and the database's guards ----------------------------------------------
before=$(ledger_md5)
expect_out 0 "2025-03-02 already posted: nothing to do" "running D2 again" P run loyalty-nightly --date 2025-03-02
same "$(ledger_md5)/$(q "SELECT count(*) FROM loyalty_runs")/$(q "SELECT count(*) FROM loyalty_tier_changes")" "$before/3/4" \
    "a re-run changes nothing (ledger, runs, tier history)"
run q "INSERT INTO loyalty_points (loyalty_run_id, business_date, buyer_id, currency, kind, order_id, points, reason)
       VALUES (1, '2025-03-01', 1, 'EUR', 'accrual', 101, 5, 'again')"
case "$T_OUT" in *loyalty_points_accrual_once*) t_ok "an order accrues at most once (unique constraint)";;
    *) t_fail "an order accrues at most once" "$T_OUT";; esac
run q "UPDATE loyalty_points SET points = points + 1 WHERE order_id = 101"
case "$T_OUT" in *"loyalty_points is append-only: UPDATE refused"*) t_ok "the append-only trigger refuses UPDATE";;
    *) t_fail "the append-only trigger refuses UPDATE" "$T_OUT";; esac
run q "DELETE FROM loyalty_points"
case "$T_OUT" in *"append-only: DELETE refused"*) t_ok "... and DELETE";; *) t_fail "... and DELETE" "$T_OUT";; esac
run q "UPDATE loyalty_tier_changes SET to_tier = 'gold'"
case "$T_OUT" in *"loyalty_tier_changes is append-only"*) t_ok "the tier history is append-only too";;
    *) t_fail "the tier history is append-only" "$T_OUT";; esac

# ---- the workbook of D2 ------------------------------------------------------------------
W="$R/loyalty_2025-03-02.xlsx"
[ -f "$W" ] && [ -z "$(ls "$R" | grep tmp)" ] && t_ok "loyalty_2025-03-02.xlsx written, no temporary file left" \
    || t_fail "workbook written" "$(ls "$R")"
$XLSX "$W" >"$T_TMP/wb2.txt" 2>&1
# EUR: 841 + 40 issued - 89 refunds (30+50+9) - 80 chargeback = 712 points,
# worth 7.12 EUR; JPY 123 x 1 JPY; KWD 49 x 0.005 = 0.245 KWD
same "$(grep '^summary' "$T_TMP/wb2.txt" | tr '\n' ';')" \
    "summary EUR 1 841 40 89 80 0 0 712 1 712 0;summary JPY 0 123 0 0 0 0 0 123 1 123 0;summary KWD 0 49 0 0 0 0 0 49 5 245 0;" \
    "Summary per currency: opening, issued, reversed, outstanding, value, liability in its exponent, check 0"
same "$(grep '^tier' "$T_TMP/wb2.txt" | tr '\n' ';')" "tier bronze 7 0 1;tier silver 1 1 0;tier gold 1 0 0;" \
    "Summary tiers: buyers per tier and the day's moves"
same "$(grep '^movement' "$T_TMP/wb2.txt" | tr '\n' ';')" \
    "movement accrual b-7 W-702 - EUR 40 4000;movement reversal b-4 W-401 refund-4011 EUR -30 3000;movement reversal b-4 W-402 refund-4021 EUR -50 5000;movement reversal b-4 W-403 refund-4031 EUR -9 1000;movement reversal b-5 W-501 chargeback-5011 EUR -80 8000;" \
    "Movements: every ledger row of the date, IDs as text"
same "$(grep '^change' "$T_TMP/wb2.txt" | tr '\n' ';')" \
    "change b-4 silver bronze down EUR 9333 30;change b-7 bronze silver up EUR 10000 30;" "Tier movements with the trailing spend"
same "$(grep '^layout' "$T_TMP/wb2.txt")" "layout ok" "frozen headers, filters, formulas"
rm "$W"
expect_out 0 "its missing workbook written again" "a missing workbook is written again by a re-run" \
    P run loyalty-nightly --date 2025-03-02
$XLSX "$W" >"$T_TMP/wb2b.txt" 2>&1
same "$(md5sum <"$T_TMP/wb2b.txt")" "$(md5sum <"$T_TMP/wb2.txt")" "... with the same figures"

# ---- FIFO expiry after 30 days --------------------------------------------------------------
q "INSERT INTO loyalty_points (business_date, buyer_id, currency, kind, points, reason)
   VALUES ('2025-03-10', 7, 'EUR', 'redemption', -70, 'checkout W-799')" >/dev/null
post 2025-03-31
# D1's lots expire what is left of them: buyer 1 105 + 13, buyer 4's 403
# 33 - 9 = 24 (401, 402 wholly reversed), buyer 8 50, buyer 9 350, JPY 123,
# KWD 49. Buyer 7's 70 spent used up lot 701 (60) and 10 of 702: nothing
# of 701 is left to expire.
same "$(q "SELECT string_agg(order_id || ':' || points, ' ' ORDER BY order_id) FROM loyalty_points WHERE kind = 'expiry'")" \
    "101:-105 102:-13 201:-123 301:-49 403:-24 801:-50 901:-350" "expiry on 03-31: D1's lots, net of reversals and of what was spent"
same "$(moves 601)" "2025-03-31:accrual:25" "an order delivered on 03-05 accrues on the next run"
same "$(tiers 9)" "2025-03-01:bronze>gold:EUR:35000 2025-03-31:gold>bronze:-:0" "tier down: D1's spend left the 30-day window"
same "$(tiers 7)" "2025-03-02:bronze>silver:EUR:10000 2025-03-31:silver>bronze:EUR:4000" "tier down: 40.00 EUR left in the window"
post 2025-04-01
same "$(moves 702)" "2025-03-02:accrual:40 2025-04-01:expiry:-30" "FIFO: of lot 702 the 30 not spent expire on 04-01"
same "$(moves 701)" "2025-03-01:accrual:60" "lot 701, wholly spent, never expires"
same "$(balance 7)" 0 "buyer 7: 100 earned - 70 spent - 30 expired = 0"
same "$(moves 801)" "2025-03-01:accrual:50 2025-03-31:expiry:-50" "a refund after expiry reverses nothing: expired points are gone"
same "$(balance 8)" 0 "buyer 8 does not go negative"
expect_out 0 "2025-03-15 is covered by the run of 2025-03-31" "a date before the last posted one is covered by it" \
    P run loyalty-nightly --date 2025-03-15
$XLSX "$R/loyalty_2025-03-31.xlsx" >"$T_TMP/wb31.txt" 2>&1
# EUR: 642 after D3 - 70 spent on 03-10 = 572 opening, + 25 - 542 expired = 55
same "$(grep '^summary' "$T_TMP/wb31.txt" | tr '\n' ';')" \
    "summary EUR 1 572 25 0 0 542 0 55 1 55 0;summary JPY 0 123 0 0 0 123 0 0 1 0 0;summary KWD 0 49 0 0 0 49 0 0 5 0 0;" \
    "03-31 Summary: expiry, liability 0.55 EUR, nothing left in JPY and KWD"
same "$(q "SELECT sum(points) FROM loyalty_points WHERE currency = 'EUR'")" 25 "EUR points outstanding after 04-01: buyer 6's 25"

# ---- rules refused before anything runs ------------------------------------------------------
setup t_loyalty_b '    earn: { EUR: "1" }
    point_value: { EUR: "0.001" }'
expect_out 1 "point_value.EUR: '0.001'.*EUR has 2 decimals" "a point value finer than the currency is refused, naming the key" \
    P run loyalty-nightly --date 2025-03-01
same "$(q "SELECT count(*) FROM loyalty_runs")" 0 "... and nothing is posted"
setup t_loyalty_c '    earn: { EUR: "1" }'
expect_out 2 "point_value.EUR: missing" "an earning currency without a point value is refused" P check

# ---- kill -9 in the middle of a run ------------------------------------------------------------
# The run is held at its last step (tiers, "WITH spend AS ...") by a lock,
# after its accruals and reversals are written, and killed: nothing of it
# may be left.
setup t_loyalty_k
"$PURSER_TEST_PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -d "$DB" -f "$T_TMP/fixture.sql" >/dev/null 2>&1
kill_mid_transaction "$DB" loyalty_tier_changes 'WITH spend AS%' "$T_TMP/killed.log" \
    "$PURSER" -c "$C" run loyalty-nightly --date 2025-03-01
same "$T_WAITERS" 1 "the run is mid-transaction (accruals written, waiting at the tiers)"
same "$(q "SELECT (SELECT count(*) FROM loyalty_runs) + (SELECT count(*) FROM loyalty_points)
             + (SELECT count(*) FROM loyalty_tier_changes)")" 0 "killed mid-run: nothing of it is left"
post 2025-03-01
same "$(q "SELECT sum(points) FROM loyalty_points WHERE currency = 'EUR'")" 841 "the run after kill -9 posts the date whole"
same "$(ls "$R")" "loyalty_2025-03-01.xlsx" "one workbook, no temporary file left"

t_done
