#!/bin/sh
# `purser simulate` against a real PostgreSQL: refuses a missing or non-empty
# store, is deterministic (same seed: byte-identical provider files and
# identical table checksums), its totals tie out, and its answer key names
# references that are (or, for missing_at_provider, are not) in the reports.
. tests/lib/testlib.sh

SIM="--orders 3000 --days 10 --sellers 40 --buyers 800 --agents 20 --start 2025-03-01 --discrepancy-rate 0.05"

A=$(fresh_db purser_sim_a)
expect_out 1 'store.s tables are missing .*run `purser migrate` first' "simulate before migrate says what to do" \
    env PURSER_DATABASE_URL="$A" "$PURSER" simulate --out "$T_TMP/none"
expect_out 2 "--start '2025-02-30': expected a date" "an impossible start date is refused" \
    env PURSER_DATABASE_URL="$A" "$PURSER" simulate --start 2025-02-30
expect_out 2 "--discrepancy-rate '0.5'" "a discrepancy rate above 0.1 is refused" \
    env PURSER_DATABASE_URL="$A" "$PURSER" simulate --discrepancy-rate 0.5
expect_out 2 "--sellers '3': expected a whole number from 5" "fewer sellers than currencies is refused" \
    env PURSER_DATABASE_URL="$A" "$PURSER" simulate --sellers 3

B=$(fresh_db purser_sim_b)
for db in "$A" "$B"; do
    env PURSER_DATABASE_URL="$db" "$PURSER" migrate >/dev/null 2>&1
done
# shellcheck disable=SC2086
expect_out 0 "loaded [0-9]+ rows" "simulate fills a fresh store" \
    env PURSER_DATABASE_URL="$A" "$PURSER" simulate $SIM --seed 7 --out "$T_TMP/a"
# shellcheck disable=SC2086
expect 0 "the same seed into a second database" \
    env PURSER_DATABASE_URL="$B" "$PURSER" simulate $SIM --seed 7 --out "$T_TMP/b"
expect 0 "same seed: byte-identical provider files and answer key" diff -r "$T_TMP/a" "$T_TMP/b"

checksums() {
    for t in depots buyers sellers delivery_agents products inventory orders order_items payments \
             deliveries delivery_events; do
        printf '%s ' "$t"
        sql "$1" "SELECT count(*) || ' ' || md5(coalesce(string_agg(x::text, E'\n' ORDER BY x::text), '')) FROM $t x"
    done
}
checksums "$A" >"$T_TMP/sum_a"
checksums "$B" >"$T_TMP/sum_b"
expect 0 "same seed: identical table checksums" diff "$T_TMP/sum_a" "$T_TMP/sum_b"
same "$(grep -c ' 0 ' "$T_TMP/sum_a")" 0 "every store table has rows"

C=$(fresh_db purser_sim_c)
env PURSER_DATABASE_URL="$C" "$PURSER" migrate >/dev/null 2>&1
# shellcheck disable=SC2086
env PURSER_DATABASE_URL="$C" "$PURSER" simulate $SIM --seed 8 --out "$T_TMP/c" >/dev/null 2>&1
expect 1 "another seed gives other files" diff -q "$T_TMP/a/answer-key.csv" "$T_TMP/c/answer-key.csv"

# --- totals tie out -------------------------------------------------------------
same "$(sql "$A" "SELECT count(*) FROM orders o WHERE items_minor <> (SELECT coalesce(sum(line_total_minor), 0) FROM order_items i WHERE i.order_id = o.id)")" 0 \
    "order items total = sum of its lines"
same "$(sql "$A" "SELECT count(*) FROM orders WHERE total_minor <> items_minor + shipping_minor + tax_minor - discount_minor")" 0 \
    "order total = items + shipping + tax - discount"
same "$(sql "$A" "SELECT count(*) FROM (SELECT order_id, sum(amount_minor) FILTER (WHERE kind = 'capture') AS cap, sum(amount_minor) FILTER (WHERE kind IN ('refund', 'chargeback')) AS back FROM payments WHERE status = 'succeeded' GROUP BY order_id) p WHERE coalesce(cap, 0) - coalesce(back, 0) < 0")" 0 \
    "captured - refunded per order never below zero"
same "$(sql "$A" "SELECT count(*) FROM orders o JOIN payments p ON p.order_id = o.id AND p.kind = 'capture' WHERE p.amount_minor <> o.total_minor")" 0 \
    "each capture takes the order total"
same "$(sql "$A" "SELECT count(*) FROM deliveries d WHERE status <> (SELECT status FROM delivery_events e WHERE e.delivery_id = d.id ORDER BY seq DESC LIMIT 1)")" 0 \
    "a delivery's status is its last event's"
same "$(sql "$A" "SELECT string_agg(DISTINCT currency, ',' ORDER BY currency) FROM orders")" "EUR,GBP,JPY,KWD,USD" \
    "orders in EUR, GBP, JPY (exponent 0), KWD (exponent 3) and USD"
same "$(sql "$A" "SELECT count(DISTINCT kind) || ' ' || bool_or(status = 'failed') FROM payments")" "4 true" \
    "authorisations, captures, refunds, chargebacks and failures"
same "$(sql "$A" "SELECT count(*) FROM deliveries WHERE latitude NOT BETWEEN 52.3383 AND 52.6755 OR longitude NOT BETWEEN 13.0884 AND 13.7612")" 0 \
    "deliveries lie inside Berlin"
same "$(ls "$T_TMP/a" | grep -cE '^(stripe|adyen|paypal)_2025-03-(0[1-9]|10)\.csv$')" 30 \
    "one report per provider and business date"

# --- the answer key --------------------------------------------------------------
sql "$A" "SELECT provider || ',' || provider_ref FROM payments" >"$T_TMP/refs"
run /usr/bin/python3 - "$T_TMP/a" "$T_TMP/refs" <<'PY'
import csv, glob, os, sys
out, refs = sys.argv[1], sys.argv[2]
ours = set(l.strip() for l in open(refs))
# the reference column of each format (recon.h): a list, duplicates kept
column = {"stripe": "source_id", "adyen": "Modification Reference"}
text = {}
for p in ("stripe", "adyen", "paypal"):
    text[p] = []
    for f in sorted(glob.glob(os.path.join(out, p + "_*.csv"))):
        if p == "paypal":
            text[p] += [r[1] for r in csv.reader(open(f)) if r and r[0] == "SB"]
        else:
            text[p] += [r[column[p]] for r in csv.DictReader(open(f))]
rows = list(csv.reader(open(os.path.join(out, "answer-key.csv"))))
assert rows[0] == ["provider", "reference", "category"], rows[0]
names = {"amount_mismatch", "currency_mismatch", "missing_at_provider", "missing_internally",
         "duplicate_at_provider", "fee_discrepancy", "payout_mismatch"}
seen = set()
for prov, ref, cat in rows[1:]:
    assert cat in names, cat
    seen.add(cat)
    present = ref in text[prov]
    if cat == "missing_at_provider":
        assert not present and prov + "," + ref in ours, (prov, ref, cat)
    elif cat == "missing_internally":
        assert present and prov + "," + ref not in ours, (prov, ref, cat)
    else:
        assert present, (prov, ref, cat)
    if cat == "duplicate_at_provider":
        assert text[prov].count(ref) >= 2, (prov, ref)
assert seen == names, names - seen
print("answer key: %d rows, all categories" % (len(rows) - 1))
PY
if [ "$T_RC" = 0 ]; then t_ok "answer key: known categories, references present (absent for missing_at_provider)"; else t_fail "answer key" "$T_OUT"; fi

# --- refusals and --append ------------------------------------------------------------
# shellcheck disable=SC2086
expect_out 1 "already holds data.*--append" "a store with data is refused without --append" \
    env PURSER_DATABASE_URL="$A" "$PURSER" simulate $SIM --seed 9 --out "$T_TMP/x"
# shellcheck disable=SC2086
expect 0 "--append adds to it" \
    env PURSER_DATABASE_URL="$A" "$PURSER" simulate $SIM --seed 9 --start 2025-04-01 --append --out "$T_TMP/x"
same "$(sql "$A" "SELECT count(*) FROM orders")" 6000 "appended orders are added"
same "$(sql "$A" "SELECT nextval(pg_get_serial_sequence('orders', 'id')) > max(id) FROM orders")" t \
    "identity sequences continue after the loaded ids"

# --- --via http: a day of traffic through the intake ends as the same store ----------------
DAY="--orders 1500 --days 1 --sellers 30 --buyers 600 --agents 20 --start 2025-05-01 --seed 11"
VD=$(fresh_db purser_sim_via_db)
VH=$(fresh_db purser_sim_via_http)
HPORT=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$T_TMP/http.yaml" <<YAML
database:
  url: "$VH"
plugins:
  dir: $PWD/$PURSER_BUILD/plugins
jobs:
  dir: $T_TMP/no-jobs
http:
  listen: 127.0.0.1:$HPORT
YAML
mkdir -p "$T_TMP/no-jobs"
unset PURSER_DATABASE_URL
env PURSER_DATABASE_URL="$VD" "$PURSER" migrate >/dev/null 2>&1
"$PURSER" -c "$T_TMP/http.yaml" migrate >/dev/null 2>&1
TOKEN=$("$PURSER" -c "$T_TMP/http.yaml" token create simulator 2>/dev/null | tail -n 1)
"$PURSER" -c "$T_TMP/http.yaml" serve >"$T_TMP/serve.log" 2>&1 &
SERVE=$!
trap 'kill $SERVE 2>/dev/null' EXIT
i=0; until curl -sf "http://127.0.0.1:$HPORT/healthz" >/dev/null || [ $i -ge 75 ]; do sleep 0.2; i=$((i + 1)); done
expect_out 2 "needs an intake token" "--via http without a token says how to get one" \
    env -u PURSER_INTAKE_TOKEN PURSER_DATABASE_URL="$VH" "$PURSER" simulate --via http
expect_out 2 "--via 'ftp': expected db or http" "an unknown --via is refused" \
    env PURSER_DATABASE_URL="$VH" "$PURSER" simulate --via ftp
VX=$(fresh_db purser_sim_via_x)
env PURSER_DATABASE_URL="$VX" "$PURSER" migrate >/dev/null 2>&1
# shellcheck disable=SC2086
expect_out 1 "PUT /v1/sellers/seller-[0-9]+ answered 401: .*unauthorized" "a wrong token stops at the first request, naming it" \
    env PURSER_DATABASE_URL="$VX" "$PURSER" simulate $DAY --via http --url "http://127.0.0.1:$HPORT" --token nope --out "$T_TMP/vx"
# shellcheck disable=SC2086
expect_out 0 "loaded [0-9]+ rows" "a day of traffic loads with --via db" \
    env PURSER_DATABASE_URL="$VD" "$PURSER" simulate $DAY --out "$T_TMP/vd"
# shellcheck disable=SC2086
expect_out 0 "requests to http" "the same day through the intake with --via http" \
    env PURSER_DATABASE_URL="$VH" PURSER_INTAKE_TOKEN="$TOKEN" "$PURSER" simulate $DAY --via http --url "http://127.0.0.1:$HPORT/" --out "$T_TMP/vh"
T_OUT=$(cat "$T_TMP/serve.log"); grep -q '"status":5' "$T_TMP/serve.log" && t_fail "no 5xx answered during the replay" "$(grep '"status":5' "$T_TMP/serve.log" | head -3)" || t_ok "no 5xx answered during the replay"
kill $SERVE 2>/dev/null; wait $SERVE 2>/dev/null
# row counts and money totals, per table and currency
store_totals() {
    sql "$1" "
      SELECT 'depots ' || count(*) FROM depots UNION ALL
      SELECT 'delivery_agents ' || count(*) FROM delivery_agents UNION ALL
      SELECT 'sellers ' || count(*) || ' ' || sum(commission_bp) || ' ' || sum(commission_fixed_minor) || ' ' || sum(commission_min_minor) FROM sellers UNION ALL
      SELECT 'buyers ' || count(*) FROM buyers UNION ALL
      (SELECT 'products ' || currency || ' ' || count(*) || ' ' || sum(price_minor) || ' ' || sum(weight_grams) FROM products GROUP BY currency ORDER BY currency) UNION ALL
      SELECT 'inventory ' || count(*) || ' ' || sum(on_hand) || ' ' || sum(reserved) || ' ' || sum(safety_stock) FROM inventory UNION ALL
      (SELECT 'orders ' || currency || ' ' || status || ' ' || count(*) || ' ' || sum(items_minor) || ' ' || sum(shipping_minor) || ' ' || sum(tax_minor) || ' ' || sum(discount_minor) || ' ' || sum(total_minor) FROM orders GROUP BY currency, status ORDER BY 1) UNION ALL
      (SELECT 'order_items ' || currency || ' ' || count(*) || ' ' || sum(quantity) || ' ' || sum(line_total_minor) FROM order_items GROUP BY currency ORDER BY currency) UNION ALL
      (SELECT 'payments ' || provider || ' ' || kind || ' ' || status || ' ' || currency || ' ' || count(*) || ' ' || sum(amount_minor) || ' ' || coalesce(sum(fee_minor), 0) FROM payments GROUP BY provider, kind, status, currency ORDER BY 1) UNION ALL
      (SELECT 'deliveries ' || status || ' ' || count(*) || ' ' || sum(weight_grams) || ' ' || count(delivered_at) || ' ' || sum(round(latitude::numeric, 6)) || ' ' || sum(round(longitude::numeric, 6)) FROM deliveries GROUP BY status ORDER BY status) UNION ALL
      (SELECT 'delivery_events ' || status || ' ' || count(*) FROM delivery_events GROUP BY status ORDER BY status)"
}
store_totals "$VD" >"$T_TMP/tot_db"
store_totals "$VH" >"$T_TMP/tot_http"
if diff "$T_TMP/tot_db" "$T_TMP/tot_http" >"$T_TMP/tot_diff"; then
    t_ok "--via http and --via db end with the same row counts and money totals ($(wc -l <"$T_TMP/tot_db") groups)"
else
    t_fail "--via http and --via db end with the same row counts and money totals" "$(head -20 "$T_TMP/tot_diff")"
fi
expect 0 "--via http writes the same provider reports and answer key" diff -r "$T_TMP/vd" "$T_TMP/vh"

t_done
