# The settlement plugin against a real PostgreSQL: hand-computed scenarios
# (figures worked out below), the database's own guards (balanced journals,
# settled once, append-only ledger), invariants on simulated data, a re-run
# that posts nothing, kill -9 in the middle of a run, and the workbook read
# back with openpyxl and compared with the ledger.
. tests/lib/testlib.sh
B=$PURSER_BUILD
unset PURSER_DATABASE_URL
PY=/usr/bin/python3
XLSX="$PY tests/integration/settlement_xlsx.py"

# setup NAME [SETTINGS]: a fresh database, a config (with the plugin's
# settings) and a daily UTC job; sets DB, C and R (the report folder)
setup() {
    plugin_store "$1" settlement "  settlement:
${2:-    rounding: half_even}"
    daily_job "$T_TMP/$1/jobs/settle.yaml" settle-orders settlement
    migrate_or_stop "$C" "$T_TMP/$1/migrate.log"
}
P() { "$PURSER" -c "$C" "$@"; }
q() { sql "$DB" "$1"; }
settle() { P run settle-orders --date "$1" >>"$T_TMP/runs.log" 2>&1; }
# payout SELLER DATE: gross commission fee refund chargeback held released carried_in carried_out payout
payout() {
    q "SELECT concat_ws(' ', p.gross_minor, p.commission_minor, p.fee_minor, p.refund_minor,
              p.chargeback_minor, p.reserve_held_minor, p.reserve_released_minor, p.carried_in_minor,
              p.carried_out_minor, p.payout_minor)
         FROM settlement_payouts p JOIN settlement_batches b ON b.id = p.batch_id
        WHERE b.business_date = '$2' AND p.seller_id = $1"
}
# lines SELLER DATE: kind:gross/commission/fee/basis/refund/chargeback/net per line
lines() {
    q "SELECT string_agg(concat_ws(':', l.order_item_id, l.kind, concat_ws('/', l.gross_minor,
              l.commission_minor, l.fee_minor, coalesce(l.fee_source, '-'), l.refund_minor,
              l.chargeback_minor, l.net_minor)), ' ' ORDER BY l.order_item_id, l.kind)
         FROM settlement_lines l JOIN settlement_batches b ON b.id = l.batch_id
        WHERE b.business_date = '$2' AND l.seller_id = $1"
}
# journal SELLER DATE: account=sum of the seller's journal of that batch
journal() {
    q "SELECT string_agg(account || '=' || s, ' ' ORDER BY account)
         FROM (SELECT e.account, sum(e.amount_minor) AS s FROM ledger_entries e
                 JOIN ledger_journals j ON j.journal_id = e.journal_id
                 JOIN settlement_batches b ON b.id = j.source_id AND j.source = 'settlement'
                WHERE b.business_date = '$2' AND j.seller_id = $1 GROUP BY e.account) x"
}
unbalanced() {
    q "SELECT count(*) FROM (SELECT journal_id, currency FROM ledger_entries
                              GROUP BY journal_id, currency HAVING sum(amount_minor) <> 0) x"
}

cat >"$T_TMP/fixture.sql" <<'SQL'
-- Hand-computed settlement scenarios for tests/integration/test_settlement.sh:
-- helpers that insert store rows, then the scenarios. Every expected figure
-- is worked out in the comments of the test script. Dates are UTC (the
-- test's job runs in UTC); D1 = 2025-03-01, D2 = 2025-03-02, D3 = 2025-03-03.

INSERT INTO depots (id, code, name, latitude, longitude) VALUES (1, 'BER-01', 'Berlin', 52.5, 13.4);
INSERT INTO buyers (id, external_ref, email, name, country) VALUES (1, 'b-1', 'b@x.de', 'Buyer', 'DE');
INSERT INTO delivery_agents (id, name, home_depot_id, shift_start, shift_end, vehicle_capacity_grams)
VALUES (1, 'Agent', 1, '08:00', '18:00', 100000);

-- a seller with terms and one product (id = the seller's) in its currency
CREATE FUNCTION t_seller(p_id bigint, p_cur text, p_bp int, p_fixed bigint, p_min bigint)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO sellers (id, external_ref, name, currency, commission_bp, commission_fixed_minor,
                         commission_min_minor)
    VALUES (p_id, 'seller-' || lpad(p_id::text, 2, '0'), 'Seller ' || p_id, p_cur, p_bp, p_fixed, p_min);
    INSERT INTO products (id, seller_id, sku, name, category, price_minor, currency, weight_grams)
    VALUES (p_id, p_id, 'sku-' || p_id, 'Product ' || p_id, 'home', 0, p_cur, 100);
$$;

-- an order: lines as 'seller:qty:unit_price' separated by commas, plus shipping
CREATE FUNCTION t_order(p_id bigint, p_cur text, p_lines text, p_shipping bigint DEFAULT 0)
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
                        shipping_minor, total_minor)
    VALUES (p_id, 'web', 'W-' || p_id, 1, p_cur, 'delivered', '2025-02-27 10:00+00', items,
            p_shipping, items + p_shipping);
    FOREACH l IN ARRAY string_to_array(p_lines, ',') LOOP
        n := n + 1;
        INSERT INTO order_items (id, order_id, line_no, product_id, seller_id, currency, quantity,
                                 unit_price_minor, line_total_minor)
        VALUES (p_id * 10 + n, p_id, n, split_part(l, ':', 1)::bigint, split_part(l, ':', 1)::bigint,
                p_cur, split_part(l, ':', 2)::int, split_part(l, ':', 3)::bigint,
                split_part(l, ':', 2)::bigint * split_part(l, ':', 3)::bigint);
    END LOOP;
END
$$;

-- a payment event: kind capture/refund/chargeback; the parent of a refund or
-- chargeback is the order's capture (id = order id * 10)
CREATE FUNCTION t_pay(p_id bigint, p_order bigint, p_kind text, p_amount bigint, p_fee bigint,
                      p_at timestamptz) RETURNS void LANGUAGE sql AS $$
    INSERT INTO payments (id, order_id, provider, provider_ref, kind, parent_payment_id, amount_minor,
                          currency, status, occurred_at, fee_minor)
    SELECT p_id, p_order, 'stripe', 'ref-' || p_id, p_kind,
           CASE WHEN p_kind = 'capture' THEN NULL ELSE p_order * 10 END, p_amount, o.currency,
           'succeeded', p_at, p_fee
      FROM orders o WHERE o.id = p_order;
$$;

CREATE FUNCTION t_capture(p_order bigint, p_fee bigint) RETURNS void LANGUAGE sql AS $$
    SELECT t_pay(p_order * 10, p_order, 'capture', o.total_minor, p_fee, '2025-02-28 09:00+00')
      FROM orders o WHERE o.id = p_order;
$$;

CREATE FUNCTION t_deliver(p_order bigint, p_at timestamptz) RETURNS void LANGUAGE sql AS $$
    INSERT INTO deliveries (order_id, depot_id, agent_id, address, latitude, longitude, window_start,
                            window_end, weight_grams, service_minutes, status, delivered_at)
    VALUES (p_order, 1, 1, 'Street 1', 52.5, 13.4, p_at - interval '1 hour', p_at + interval '1 hour',
            100, 5, 'delivered', p_at);
$$;

-- S1 simple sale: seller 1 EUR 10 %
SELECT t_seller(1, 'EUR', 1000, 0, 0);
SELECT t_order(101, 'EUR', '1:1:10000');
SELECT t_capture(101, 320);
SELECT t_deliver(101, '2025-03-01 10:00+00');

-- S2 commission with a minimum (fee unknown: the estimate)
SELECT t_seller(2, 'EUR', 500, 30, 200);
SELECT t_order(201, 'EUR', '2:1:1000');
SELECT t_capture(201, NULL);
SELECT t_deliver(201, '2025-03-01 11:00+00');
SELECT t_order(202, 'EUR', '2:1:10000');
SELECT t_capture(202, NULL);
SELECT t_deliver(202, '2025-03-01 12:00+00');

-- S3 partial refund after settlement (settled on D1, refunded on D2, new sale on D2)
SELECT t_seller(3, 'EUR', 1000, 0, 0);
SELECT t_order(301, 'EUR', '3:1:5000');
SELECT t_capture(301, 150);
SELECT t_deliver(301, '2025-03-01 10:00+00');
SELECT t_pay(3011, 301, 'refund', 2000, 0, '2025-03-02 12:00+00');
SELECT t_order(302, 'EUR', '3:1:4000');
SELECT t_capture(302, 120);
SELECT t_deliver(302, '2025-03-02 10:00+00');

-- S4 chargeback with the provider's dispute fee (D2), and a sale that day
SELECT t_seller(4, 'EUR', 1000, 0, 0);
SELECT t_order(401, 'EUR', '4:1:6000');
SELECT t_capture(401, 180);
SELECT t_deliver(401, '2025-03-01 10:00+00');
SELECT t_pay(4011, 401, 'chargeback', 6000, 1500, '2025-03-02 08:00+00');
SELECT t_order(402, 'EUR', '4:1:10000');
SELECT t_capture(402, 300);
SELECT t_deliver(402, '2025-03-02 09:00+00');

-- S5 reserve (only in the database whose config holds 10 % for 2 days)
SELECT t_seller(5, 'EUR', 1000, 0, 0);
SELECT t_order(501, 'EUR', '5:1:10000');
SELECT t_capture(501, 0);
SELECT t_deliver(501, '2025-03-01 10:00+00');

-- S6 going negative (a full refund on D2) and recovering (a sale on D3)
SELECT t_seller(6, 'EUR', 1000, 0, 0);
SELECT t_order(601, 'EUR', '6:1:1000');
SELECT t_capture(601, 30);
SELECT t_deliver(601, '2025-03-01 10:00+00');
SELECT t_pay(6011, 601, 'refund', 1000, 0, '2025-03-02 10:00+00');
SELECT t_order(602, 'EUR', '6:1:2000');
SELECT t_capture(602, 60);
SELECT t_deliver(602, '2025-03-03 10:00+00');

-- S7 JPY (exponent 0) and KWD (exponent 3)
SELECT t_seller(7, 'JPY', 1000, 0, 0);
SELECT t_order(701, 'JPY', '7:1:1234');
SELECT t_capture(701, 37);
SELECT t_deliver(701, '2025-03-01 10:00+00');
SELECT t_seller(8, 'KWD', 750, 0, 0);
SELECT t_order(801, 'KWD', '8:1:12345');
SELECT t_capture(801, 370);
SELECT t_deliver(801, '2025-03-01 10:00+00');

-- S8 a tie: 1060 x 2.5 % = 26.5, half-even 26, half-up 27
SELECT t_seller(9, 'EUR', 250, 0, 0);
SELECT t_order(901, 'EUR', '9:1:1060');
SELECT t_capture(901, 0);
SELECT t_deliver(901, '2025-03-01 10:00+00');

-- S9 a fee that does not split evenly: 100 over three equal lines; and a
-- line of an order with shipping (the platform's part bears its fee share)
SELECT t_seller(10, 'EUR', 1000, 0, 0);
SELECT t_order(1001, 'EUR', '10:1:1000,10:1:1000,10:1:1000');
SELECT t_capture(1001, 100);
SELECT t_deliver(1001, '2025-03-01 10:00+00');
SELECT t_order(1002, 'EUR', '10:1:1000', 500);
SELECT t_capture(1002, 50);
SELECT t_deliver(1002, '2025-03-01 10:00+00');

-- not settleable: captured but delivered after D3; delivered but never captured
SELECT t_order(1101, 'EUR', '1:1:999');
SELECT t_capture(1101, 10);
SELECT t_deliver(1101, '2025-03-05 10:00+00');
SELECT t_order(1102, 'EUR', '1:1:888');
SELECT t_deliver(1102, '2025-03-01 10:00+00');
SQL

# ---- hand-computed scenarios, half-even, no reserve --------------------------------
setup t_settle_a
"$PURSER_TEST_PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -d "$DB" -f "$T_TMP/fixture.sql" >/dev/null 2>"$T_TMP/fixture.log" \
    || { t_fail "fixture" "$(cat "$T_TMP/fixture.log")"; t_done; }
expect_out 0 "would settle 12 lines" "a dry run with a 10:30 cutoff counts the lines delivered by then" \
    P run settle-orders --date 2025-03-01 --param cutoff=10:30 --dry-run
same "$(q "SELECT count(*) FROM settlement_batches")" 0 "the dry run wrote nothing"
expect_out 1 "cutoff '25:00'" "a cutoff that is not HH:MM is refused" \
    P run settle-orders --date 2025-03-01 --param cutoff=25:00
for d in 2025-03-01 2025-03-02 2025-03-03; do settle $d || t_fail "settle $d" "$(tail -5 "$T_TMP/runs.log")"; done
same "$(q "SELECT string_agg(business_date || ' ' || rounding, ',' ORDER BY business_date) FROM settlement_batches")" \
    "2025-03-01 half_even,2025-03-02 half_even,2025-03-03 half_even" "one batch per date, rounding recorded"

# S1: 100.00 at 10 %, provider fee 3.20: net 86.80, paid out
same "$(lines 1 2025-03-01)" "1011:sale:10000/1000/320/actual/0/0/8680" "simple sale: gross, commission, actual fee, net"
same "$(payout 1 2025-03-01)" "10000 1000 320 0 0 0 0 0 0 8680" "simple sale: payout 86.80"
same "$(journal 1 2025-03-01)" \
    "commission_revenue=-1000 payment_fees=-320 provider_clearing=10000 seller_payable=0 seller_payouts=-8680" \
    "simple sale: the journal (payable credited 86.80, then paid out)"
# S2: 5 % + 0.30, minimum 2.00: 10.00 -> max(2.00, 0.80) = 2.00; 100.00 -> 5.30;
# fees unknown: the 2.9 % estimate, 0.29 and 2.90
same "$(lines 2 2025-03-01)" "2011:sale:1000/200/29/estimate/0/0/771 2021:sale:10000/530/290/estimate/0/0/9180" \
    "commission with a minimum; estimated fees said so"
same "$(payout 2 2025-03-01)" "11000 730 319 0 0 0 0 0 0 9951" "commission with a minimum: payout 99.51"
# S3: settled on D1 (50.00 - 5.00 - 1.50), refunded 20.00 on D2: 2/5 of the
# 5.00 commission reversed; a new sale of 40.00 that day
same "$(lines 3 2025-03-02)" "3011:refund:0/-200/0/-/2000/0/-1800 3021:sale:4000/400/120/actual/0/0/3480" \
    "partial refund after settlement: commission reversed proportionally"
same "$(payout 3 2025-03-02)" "4000 200 120 2000 0 0 0 0 0 1680" "partial refund: payout 16.80"
same "$(journal 3 2025-03-02)" \
    "commission_revenue=-200 payment_fees=-120 provider_clearing=4000 refunds=-2000 seller_payable=0 seller_payouts=-1680" \
    "partial refund: the journal"
# S4: chargeback of 60.00 with the provider's 15.00 dispute fee, and a sale of 100.00
same "$(lines 4 2025-03-02)" "4011:chargeback:0/0/1500/actual/0/6000/-7500 4021:sale:10000/1000/300/actual/0/0/8700" \
    "chargeback with the dispute fee charged"
same "$(payout 4 2025-03-02)" "10000 1000 1800 0 6000 0 0 0 0 1200" "chargeback: payout 12.00"
same "$(journal 4 2025-03-02)" \
    "chargebacks=-6000 commission_revenue=-1000 payment_fees=-1800 provider_clearing=10000 seller_payable=0 seller_payouts=-1200" \
    "chargeback: the journal"
# S6: 10.00 sold on D1, fully refunded on D2 (-9.00), 20.00 sold on D3
same "$(payout 6 2025-03-02)" "0 -100 0 1000 0 0 0 0 -900 0" "a seller going negative: nothing paid, -9.00 carried"
same "$(journal 6 2025-03-02)" "commission_revenue=100 refunds=-1000 seller_payable=900" \
    "going negative: the payable is a debit of 9.00"
same "$(payout 6 2025-03-03)" "2000 200 60 0 0 0 0 -900 0 840" "recovering: 17.40 - 9.00 carried = 8.40 paid"
# S7: JPY 1234 at 10 % = 123.4 -> 123; KWD 12.345 at 7.5 % = 0.925875 -> 0.926
same "$(lines 7 2025-03-01)" "7011:sale:1234/123/37/actual/0/0/1074" "JPY: exponent 0"
same "$(lines 8 2025-03-01)" "8011:sale:12345/926/370/actual/0/0/11049" "KWD: exponent 3"
# S8: 10.60 at 2.5 % = 0.265: half-even 0.26
same "$(lines 9 2025-03-01)" "9011:sale:1060/26/0/actual/0/0/1034" "a tie rounds half-even to 26"
# S9: fee 1.00 over three lines of 10.00: 34 + 33 + 33 (largest remainder,
# lowest id first); 0.50 on 15.00 with 5.00 shipping: the line bears 1/3, 0.33
same "$(lines 10 2025-03-01)" \
    "10011:sale:1000/100/34/actual/0/0/866 10012:sale:1000/100/33/actual/0/0/867 10013:sale:1000/100/33/actual/0/0/867 10021:sale:1000/100/33/actual/0/0/867" \
    "a fee share with a remainder; shipping's share stays with the platform"
same "$(q "SELECT count(*) FROM settlement_lines WHERE order_id IN (1101, 1102)")" 0 \
    "not delivered by the cutoff, or never captured: not settled"
same "$(q "SELECT string_agg(sum::text, ' ' ORDER BY business_date) FROM (SELECT b.business_date, sum(payout_minor)
          FROM settlement_payouts p JOIN settlement_batches b ON b.id = p.batch_id WHERE p.currency = 'EUR'
         GROUP BY 1) x")" "42572 2880 840" "EUR payouts per batch"
same "$(unbalanced)" 0 "every journal balances"

# the database's guards
n_entries=$(q "SELECT count(*) FROM ledger_entries")
expect_out 0 "already settled" "running a date again" P run settle-orders --date 2025-03-01
same "$(q "SELECT count(*) FROM ledger_entries")/$(q "SELECT count(*) FROM settlement_batches")" "$n_entries/3" \
    "a second run posts nothing"
run q "BEGIN; INSERT INTO ledger_journals (source, currency, description) VALUES ('manual', 'EUR', 'test');
       INSERT INTO ledger_entries (journal_id, account, amount_minor, currency)
       VALUES (currval(pg_get_serial_sequence('ledger_journals', 'journal_id')), 'cash', 100, 'EUR'); COMMIT;"
case "$T_OUT" in *"does not balance"*) t_ok "an unbalanced journal does not commit (deferred check)";;
    *) t_fail "an unbalanced journal does not commit" "$T_OUT";; esac
run q "BEGIN; INSERT INTO ledger_journals (source, currency, description) VALUES ('manual', 'EUR', 'test');
       INSERT INTO ledger_entries (journal_id, account, amount_minor, currency)
       VALUES (currval(pg_get_serial_sequence('ledger_journals', 'journal_id')), 'cash', 100, 'EUR'),
              (currval(pg_get_serial_sequence('ledger_journals', 'journal_id')), 'bank', -100, 'USD'); COMMIT;"
case "$T_OUT" in *"currencies are never mixed"*|*"is in EUR, an entry is in USD"*) t_ok "currencies are never mixed in a journal";;
    *) t_fail "currencies are never mixed in a journal" "$T_OUT";; esac
jid=$(q "SELECT min(journal_id) FROM ledger_journals WHERE source = 'settlement'")
run q "INSERT INTO ledger_entries (journal_id, account, amount_minor, currency) VALUES ($jid, 'cash', 5, 'EUR'), ($jid, 'bank', -5, 'EUR')"
case "$T_OUT" in *"is closed"*) t_ok "a posted journal is closed";; *) t_fail "a posted journal is closed" "$T_OUT";; esac
run q "UPDATE ledger_entries SET amount_minor = 0"
case "$T_OUT" in *"append-only"*) t_ok "ledger entries cannot be edited";; *) t_fail "ledger entries cannot be edited" "$T_OUT";; esac
run q "INSERT INTO settlement_lines (batch_id, seller_id, currency, kind, order_id, order_item_id, event_at,
        gross_minor, commission_minor, fee_minor, refund_minor, chargeback_minor, net_minor)
       VALUES (1, 1, 'EUR', 'sale', 101, 1011, now(), 1, 0, 0, 0, 0, 1)"
case "$T_OUT" in *settlement_lines_once*) t_ok "an order line is settled at most once (unique constraint)";;
    *) t_fail "an order line is settled at most once" "$T_OUT";; esac
same "$(unbalanced)" 0 "still every journal balances"

# the workbook of D2 against the ledger
W="$R/settlement_2025-03-02.xlsx"
[ -f "$W" ] && [ ! -f "$W.tmp" ] && t_ok "settlement_2025-03-02.xlsx written (no .tmp left)" || t_fail "workbook written" "$(ls "$R")"
$XLSX "$W" >"$T_TMP/wb.txt" 2>&1
same "$(grep '^statements' "$T_TMP/wb.txt")" "statements 3 ok" "each statement's lines add up to its totals; IDs are text; headers frozen"
same "$(grep '^summary EUR' "$T_TMP/wb.txt")" "summary EUR 14000 1100 1920 3000 6000 0 0 0 -900 2880 2880 0 0 0" \
    "Summary EUR: totals, ledger payouts, ledger sum 0, both check cells 0"
same "$(grep '^payout seller-06' "$T_TMP/wb.txt")" "payout seller-06 EUR 1 0 -100 0 1000 0 0 0 0 -900 0" \
    "the Payouts sheet shows the carried balance"
$XLSX "$R/settlement_2025-03-01.xlsx" >"$T_TMP/wb1.txt" 2>&1
same "$(grep -E '^payout seller-0[78] ' "$T_TMP/wb1.txt" | tr '\n' ';')" \
    "payout seller-07 JPY 1 1234 123 37 0 0 0 0 0 0 1074;payout seller-08 KWD 1 12345 926 370 0 0 0 0 0 0 11049;" \
    "JPY and KWD amounts in their own exponent's format"
rm "$R/settlement_2025-03-01.xlsx"
expect_out 0 "workbook written again" "a missing workbook is written again by a re-run" P run settle-orders --date 2025-03-01
$XLSX "$R/settlement_2025-03-01.xlsx" >"$T_TMP/wb1b.txt" 2>&1
same "$(md5sum <"$T_TMP/wb1b.txt")" "$(md5sum <"$T_TMP/wb1.txt")" "... with the same figures"

# ---- half-up, a 10 % reserve held 2 days ----------------------------------------------
setup t_settle_b "    rounding: half_up
    reserve: { bp: 1000, days: 2 }"
"$PURSER_TEST_PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -d "$DB" -f "$T_TMP/fixture.sql" >/dev/null 2>&1
for d in 2025-03-01 2025-03-02 2025-03-03; do settle $d || t_fail "settle $d (b)" "$(tail -5 "$T_TMP/runs.log")"; done
same "$(lines 9 2025-03-01)" "9011:sale:1060/27/0/actual/0/0/1033" "the same tie rounds half-up to 27"
same "$(q "SELECT rounding FROM settlement_batches ORDER BY id LIMIT 1")" "half_up" "half-up recorded with the batch"
# S5: 100.00 - 10.00 = 90.00 net; 9.00 held on D1, released on D3 (D1 + 2 days)
same "$(payout 5 2025-03-01)" "10000 1000 0 0 0 900 0 0 0 8100" "reserve held: 10 % of the net"
same "$(payout 5 2025-03-02)" "" "nothing for the seller on D2"
same "$(payout 5 2025-03-03)" "0 0 0 0 0 0 900 0 0 900" "reserve released by the batch two days later"
same "$(journal 5 2025-03-03)" "seller_payable=0 seller_payouts=-900 seller_reserve=900" "release: reserve debited, paid out"
same "$(q "SELECT coalesce(sum(amount_minor), 0) FROM ledger_entries WHERE account = 'seller_reserve' AND seller_id = 5")" 0 \
    "the seller's reserve account is back to zero"
same "$(unbalanced)" 0 "every journal balances (b)"

# ---- simulated data: invariants, re-run, workbook vs ledger ---------------------------
# (statements longer than 40 rows continue on a second sheet)
setup t_settle_s "    workbook: { sheet_rows: 40 }"
P simulate --orders 3000 --days 5 --sellers 40 --buyers 800 --agents 20 --out "$T_TMP/sim" >/dev/null 2>&1 \
    || t_fail "simulate"
expect 0 "backfill settles six nights" P backfill settle-orders --from 2025-01-01 --to 2025-01-06
same "$(q "SELECT count(*) FROM settlement_batches")" 6 "six batches"
same "$(unbalanced)" 0 "every journal balances (simulated)"
same "$(q "SELECT count(*) FROM settlement_lines WHERE kind = 'sale'")" \
     "$(q "SELECT count(*) FROM order_items i
            WHERE EXISTS (SELECT 1 FROM deliveries d WHERE d.order_id = i.order_id AND d.status = 'delivered'
                            AND d.delivered_at < '2025-01-07')
              AND EXISTS (SELECT 1 FROM payments p WHERE p.order_id = i.order_id AND p.kind = 'capture'
                            AND p.status = 'succeeded' AND p.occurred_at < '2025-01-07')")" \
    "every delivered and captured line settled exactly once"
same "$(q "SELECT count(*) FROM (SELECT l.currency FROM settlement_lines l GROUP BY 1
          HAVING sum(l.net_minor)
                 - coalesce((SELECT sum(amount_minor) FROM settlement_reserves r WHERE r.currency = l.currency), 0)
                 + coalesce((SELECT sum(amount_minor) FROM settlement_reserves r WHERE r.currency = l.currency
                               AND released_batch_id IS NOT NULL), 0)
                 - (SELECT sum(p.payout_minor + p.carried_out_minor - p.carried_in_minor) FROM settlement_payouts p
                     WHERE p.currency = l.currency) <> 0) x")" 0 \
    "per currency: payouts = gross - commission - fees - refunds - chargebacks - held + released + carried"
same "$(q "SELECT count(*) FROM settlement_payouts p WHERE -p.payout_minor <> (SELECT coalesce(sum(amount_minor), 0)
          FROM ledger_entries e WHERE e.journal_id = p.journal_id AND e.account = 'seller_payouts')")" 0 \
    "each payout line is the ledger's seller_payouts credit"
same "$(q "SELECT count(*) FROM (SELECT DISTINCT ON (seller_id, currency) seller_id, currency, carried_out_minor
          FROM settlement_payouts ORDER BY seller_id, currency, batch_id DESC) c
          WHERE -c.carried_out_minor <> (SELECT coalesce(sum(amount_minor), 0) FROM ledger_entries e
                                          WHERE e.seller_id = c.seller_id AND e.currency = c.currency
                                            AND e.account = 'seller_payable')")" 0 \
    "each seller's payable balance is the negative balance carried"
n_entries=$(q "SELECT count(*) FROM ledger_entries")
expect_out 0 "already settled" "the last date again" P run settle-orders --date "$(q "SELECT max(business_date) FROM settlement_batches")"
same "$(q "SELECT count(*) FROM ledger_entries")" "$n_entries" "running the same date twice posts nothing new"
last=$(q "SELECT max(business_date) FROM settlement_batches b WHERE EXISTS (SELECT 1 FROM settlement_lines l WHERE l.batch_id = b.id)")
$XLSX "$R/settlement_$last.xlsx" >"$T_TMP/wbs.txt" 2>&1
grep '^summary' "$T_TMP/wbs.txt" >"$T_TMP/wbs_summary.txt"
q "SELECT concat_ws(' ', 'summary', p.currency, sum(p.gross_minor), sum(p.commission_minor), sum(p.fee_minor),
          sum(p.refund_minor), sum(p.chargeback_minor), sum(p.reserve_held_minor), sum(p.reserve_released_minor),
          sum(p.carried_in_minor), sum(p.carried_out_minor), sum(p.payout_minor),
          (SELECT -coalesce(sum(e.amount_minor), 0) FROM ledger_entries e JOIN ledger_journals j USING (journal_id)
            WHERE j.source_id = b.id AND j.currency = p.currency AND e.account = 'seller_payouts'),
          (SELECT coalesce(sum(e.amount_minor), 0) FROM ledger_entries e JOIN ledger_journals j USING (journal_id)
            WHERE j.source_id = b.id AND j.currency = p.currency), 0, 0)
     FROM settlement_payouts p JOIN settlement_batches b ON b.id = p.batch_id
    WHERE b.business_date = '$last' GROUP BY p.currency, b.id ORDER BY p.currency" >"$T_TMP/db_summary.txt"
if [ -s "$T_TMP/db_summary.txt" ] && cmp -s "$T_TMP/wbs_summary.txt" "$T_TMP/db_summary.txt"; then
    t_ok "workbook Summary of $last read back with openpyxl = the ledger, per currency"
else
    t_fail "workbook Summary = ledger" "$(diff "$T_TMP/wbs_summary.txt" "$T_TMP/db_summary.txt")"
fi
same "$(grep '^statements' "$T_TMP/wbs.txt" | sed 's/ [0-9]* / N /')" "statements N ok" \
    "every statement adds up, across its continuation sheets (simulated)"
same "$(grep -c '^continuation sheets [1-9]' "$T_TMP/wbs.txt")" 1 "long statements continued on further sheets"
same "$(grep -c '^payout' "$T_TMP/wbs.txt")" "$(q "SELECT count(*) FROM settlement_payouts p JOIN settlement_batches b ON b.id = p.batch_id WHERE b.business_date = '$last'")" \
    "one Payouts row per payout line"

# ---- kill -9 in the middle of a run ----------------------------------------------------
# Two stores from the same seed: K settles uninterrupted; L is killed while
# its transaction has written lines and payouts (held at "open journals" by
# a lock), then settles again. Their ledgers must be the same.
ledger_md5() {
    sql "$1" "SELECT count(*) || ' ' || md5(string_agg(concat_ws(',', b.business_date, j.seller_id, j.currency,
                 e.account, e.amount_minor, l.kind, l.order_item_id, l.payment_id, e.memo), E'\n'
                 ORDER BY b.business_date, j.seller_id, j.currency, e.account, e.amount_minor, l.kind,
                          l.order_item_id, l.payment_id, e.memo))
                FROM ledger_entries e JOIN ledger_journals j ON j.journal_id = e.journal_id
                JOIN settlement_batches b ON b.id = j.source_id
                LEFT JOIN settlement_lines l ON l.id = e.line_id"
}
SIM="--orders 2000 --days 5 --sellers 40 --buyers 800 --agents 20 --seed 11"
setup t_settle_k
# shellcheck disable=SC2086
P simulate $SIM --out "$T_TMP/simk" >/dev/null 2>&1
settle 2025-01-06 || t_fail "uninterrupted run"
K_DB=$DB
setup t_settle_l
# shellcheck disable=SC2086
P simulate $SIM --out "$T_TMP/siml" >/dev/null 2>&1
# skewed_refused CONDITION DELTA MESSAGE LABEL: with a row trigger adding
# DELTA to every ledger entry that matches CONDITION, the run fails saying
# MESSAGE and leaves no batch, no entries, no workbook.
skewed_refused() {
    q "CREATE FUNCTION t_skew() RETURNS trigger LANGUAGE plpgsql AS \$\$ BEGIN
         IF $1 THEN NEW.amount_minor := NEW.amount_minor + ($2); END IF; RETURN NEW; END \$\$;
       CREATE TRIGGER t_skew BEFORE INSERT ON ledger_entries FOR EACH ROW EXECUTE FUNCTION t_skew();"
    expect_out 1 "$3" "$4" P run settle-orders --date 2025-01-06
    same "$(q "SELECT (SELECT count(*) FROM settlement_batches) + (SELECT count(*) FROM ledger_entries)")/$(ls "$R" 2>/dev/null | wc -l)" \
        "0/0" "... nothing of the batch is left, and no workbook (nor its temporary file)"
    q "DROP TRIGGER t_skew ON ledger_entries; DROP FUNCTION t_skew()"
}
# The Summary is written while the ledger is posted, saying what the posting
# must produce; the posted ledger is compared with it before COMMIT. A
# posting that credits seller_payouts a unit more than the payouts (the
# journal still balances) is refused: nothing posted, no workbook.
skewed_refused "NEW.memo = 'payout'" \
    "CASE WHEN NEW.account = 'seller_payouts' THEN -1 ELSE 1 END" \
    "but the payouts say" "a ledger that disagrees with the workbook's Summary is refused"
# The lines are posted from settlement_lines, the payouts computed before
# most of them are inserted: a line that posts one unit of the seller's
# net to provider clearing instead (journal balanced, payouts credited
# right) leaves the sellers' payable account off the carried balances.
skewed_refused "NEW.account IN ('seller_payable', 'provider_clearing') AND NEW.line_id =
        (SELECT l.id FROM settlement_lines l WHERE l.kind = 'sale' AND l.net_minor <> 0 ORDER BY l.id LIMIT 1)" \
    "CASE WHEN NEW.account = 'seller_payable' THEN 1 ELSE -1 END" \
    "sellers' payable holds" "a ledger whose sellers' payable is off the carried balances is refused"
kill_mid_transaction "$DB" ledger_journals '%INSERT INTO ledger_journals%' "$T_TMP/killed.log" \
    "$PURSER" -c "$C" run settle-orders --date 2025-01-06
same "$T_WAITERS" 1 "the run is mid-transaction (payouts written, waiting to open journals)"
same "$(q "SELECT (SELECT count(*) FROM settlement_batches) + (SELECT count(*) FROM settlement_lines)
             + (SELECT count(*) FROM settlement_payouts) + (SELECT count(*) FROM ledger_entries)")" 0 \
    "killed mid-run: nothing of the batch is left"
settle 2025-01-06 || t_fail "the run after kill -9" "$(tail -5 "$T_TMP/runs.log")"
k=$(ledger_md5 "$K_DB"); l=$(ledger_md5 "$DB")
case "$k" in 0\ *) t_fail "the uninterrupted run posted nothing";; esac
same "$l" "$k" "after kill -9 and a re-run: the same ledger as an uninterrupted run ($k)"
same "$(ls "$R")" "settlement_2025-01-06.xlsx" "one workbook, no temporary file left"

t_done
