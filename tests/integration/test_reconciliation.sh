#!/bin/sh
# The reconciliation plugin against a real PostgreSQL, through the real
# binary: the real provider samples classified as their sources say, a
# malformed report rejected whole, fetch failures (404, 500 then success,
# 429, timeout, a cut transfer, a truncated file) against a local HTTP
# server, and on simulated data every injected discrepancy reported in its
# category and nothing else (precision = recall = 1, exactly), read back
# from the workbooks with openpyxl.
. tests/lib/testlib.sh
unset PURSER_DATABASE_URL
PY=/usr/bin/python3
FX="${PURSER_FIXTURES:-../shared/fixtures}/providers"
H=tests/integration
SERVER=""
trap '[ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null; rm -rf "$T_TMP"' EXIT

# fails PATTERN "what" CMD...: a non-zero exit and output matching PATTERN
fails() {
    pat=$1; what=$2; shift 2
    run "$@"
    if [ "$T_RC" != 0 ] && printf '%s\n' "$T_OUT" | grep -Eq -- "$pat"; then
        t_ok "$what"
    else
        t_fail "$what" "exit $T_RC (expected non-zero), output should match: $pat" "$T_OUT"
    fi
}

DB=$(fresh_db t_recon)
mkdir -p "$T_TMP/jobs" "$T_TMP/bad" "$T_TMP/www"
cat >"$T_TMP/jobs/recon.yaml" <<'YAML'
jobs:
  reconcile-payments:
    plugin: reconciliation
    schedule: "30 4 * * *"
    timezone: UTC
YAML

# --- a local report server that fails on purpose ---------------------------------
export RECON_TEST_TOKEN=s3cret-token
"$PY" $H/recon_http.py "$T_TMP/www" "$T_TMP/port" >"$T_TMP/http.log" 2>&1 &
SERVER=$!
i=0; while [ ! -s "$T_TMP/port" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
PORT=$(cat "$T_TMP/port" 2>/dev/null)
URL="http://127.0.0.1:$PORT"

ABS_FX=$(cd "$FX" 2>/dev/null && pwd)
cat >"$T_TMP/purser.yaml" <<YAML
database:
  url: "$DB"
plugins:
  dir: $PWD/$PURSER_BUILD/plugins
  reconciliation:
    grace_period: 1d
    providers:
      stripe: { format: stripe, drop_folder: "${ABS_FX:-/nonexistent}", pattern: stripe-settlement_report.csv }
      stripe2: { format: stripe, drop_folder: "${ABS_FX:-/nonexistent}", pattern: stripe-payments_activity.csv }
      adyen: { format: adyen, source: "file://${ABS_FX:-/nonexistent}/adyen-settlement_detail_report_batch_1128.csv" }
      adyendocs: { format: adyen, drop_folder: "${ABS_FX:-/nonexistent}", pattern: adyen-docs-sample.csv }
      paypal: { format: paypal, drop_folder: "${ABS_FX:-/nonexistent}", pattern: paypal-stl.csv }
      bad: { format: stripe, drop_folder: "$T_TMP/bad", pattern: "bad_{date}.csv" }
      h_missing: { format: stripe, source: "$URL/missing/stripe_{date}.csv" }
      h_flaky: { format: stripe, source: "$URL/flaky/stripe_{date}.csv", retry_backoff: 100ms }
      h_busy: { format: stripe, source: "$URL/busy/stripe_{date}.csv", retry_backoff: 100ms }
      h_slow: { format: stripe, source: "$URL/slow/stripe_{date}.csv", timeout: 1s, retries: 1, retry_backoff: 100ms }
      h_cut: { format: stripe, source: "$URL/cut/stripe_{date}.csv", retries: 1, retry_backoff: 100ms }
      h_trunc: { format: stripe, source: "$URL/ok/trunc_{date}.csv" }
      h_auth: { format: stripe, source: "$URL/auth/stripe_{date}.csv", auth_header: "Authorization: Bearer \${RECON_TEST_TOKEN}" }
reports:
  output_dir: $T_TMP/reports
jobs:
  dir: $T_TMP/jobs
YAML
C="$T_TMP/purser.yaml"
P() { "$PURSER" -c "$C" "$@"; }
q() { sql "$DB" "$1"; }
P migrate >/dev/null 2>&1 || { t_fail "migrate"; t_done; }
expect_out 0 "configuration .*: ok" "purser check accepts the providers block" P check

# --- the real provider samples ----------------------------------------------------
if [ -z "$ABS_FX" ] || [ ! -f "$ABS_FX/paypal-stl.csv" ]; then
    for w in "samples parsed" "samples classified"; do t_skip "$w" "no fixtures at $FX"; done
else
    run P recon-parse adyen "$ABS_FX/adyen-settlement_detail_report_batch_1128.csv"
    same "$(printf '%s\n' "$T_OUT" | awk -F'\t' '$1 == 2 { print $2, $8, $9, $10, $11, $12, $13, $15 }')" \
        "capture JPY 3158 USD 188 14 1924 PDT" \
        "adyen row 2: JPY 3158 settled as USD 1.88 + fees 0.14, gross x rate - fees - net = 19.24"
    same "$(printf '%s\n' "$T_OUT" | awk -F'\t' '$2 == "payout" { print $8, $9 }' | tr '\n' ' ')" \
        "USD 5975 CAD 954 " "adyen: the batch's two MerchantPayout rows, paid out per currency"
    run P recon-parse stripe2 "$ABS_FX/stripe-payments_activity.csv"
    same "$(printf '%s\n' "$T_OUT" | awk -F'\t' '$4 == "dp_bbb" { print $2, $5, $9, $12, $11 }')" \
        "chargeback ch_bbb -3000 1500 -4500" "stripe dispute: -30.00, its 15.00 fee adds to the debit (net -45.00)"
    run P recon-parse paypal "$ABS_FX/paypal-stl.csv"
    same "$(printf '%s\n' "$T_OUT" | awk -F'\t' '$4 == "6899" { print $2, $5, $9, $12, $15 }')" \
        "refund 99900 -134 -47 -08:00" "paypal T1107: a refund debit of 1.34 GBP, its fee credited back"
    same "$(printf '%s\n' "$T_OUT" | grep -c 'footer')" 2 "paypal: two SF footers"

    sql "$DB" "$(cat $H/recon_fixtures.sql)" >/dev/null
    expect_out 0 "fee_discrepancy 1" "reconciling the Adyen batch: exceptions are results, not failures" \
        P run reconcile-payments --date 2026-01-30 --param provider=adyen
    res() { q "SELECT category || ' ' || coalesce(detail, '') FROM recon_verdicts WHERE is_current AND provider = '$1' AND reference = '$2' AND business_date = '${3:-2026-01-30}'"; }
    same "$(res adyen 2VXYZ12345678910)" "fee_discrepancy the row does not add up: gross x rate - fees - net = 19.24 USD" \
        "adyen: the JPY row that does not tie is a fee discrepancy"
    same "$(res adyen 4VXYZ12345678910)|$(res adyen 6VXYZ12345678910)" "matched |matched " "adyen: the rows that tie are matched"
    same "$(q "SELECT string_agg(y.currency || ' ' || y.category || ' ' || y.difference_minor, ', ' ORDER BY y.currency) FROM recon_payouts y JOIN recon_runs u ON u.id = y.recon_run_id WHERE u.provider = 'adyen'")" \
        "CAD matched 0, USD payout_mismatch 5580" "adyen: CAD batch ties; USD (a subset of the batch's rows) does not, by 55.80"
    for p in stripe stripe2 adyendocs paypal; do
        P run reconcile-payments --date 2026-01-30 --param provider=$p >/dev/null 2>&1
    done
    same "$(res stripe2 dp_bbb)" "matched " "stripe: the dispute is matched to our chargeback"
    same "$(q "SELECT x.fee_minor || ' ' || x.net_minor || ' ' || x.original_ref || ' ' || (SELECT provider_ref FROM payments WHERE id = x.original_payment) FROM recon_verdicts x WHERE x.reference = 'dp_bbb'")" \
        "1500 -4500 ch_bbb ch_bbb" "stripe: the dispute's fee 15.00 and net -45.00, linked to its original charge ch_bbb"
    same "$(q "SELECT fee_minor FROM payments WHERE provider_ref = 'dp_bbb'")|$(q "SELECT coalesce(intake_fee_minor::text, 'unknown') FROM recon_fee_intake WHERE payment_id = 5")" \
        "1500|unknown" "stripe: the dispute fee written to payments.fee_minor, the unknown intake fee kept"
    same "$(res stripe re_123)" "missing_internally no payment of ours has this reference" "stripe: a refund we never recorded is missing_internally"
    same "$(res stripe ch_late)" "pending within the grace period (1 day)" "stripe: a capture the report lacks is pending within the grace period"
    same "$(q "SELECT category FROM recon_payouts WHERE reference = 'po_123'")" "matched" "stripe: payout 123 = the net of its rows"
    same "$(q "SELECT string_agg(y.reference || ': ' || y.detail, ' | ' ORDER BY y.reference) FROM recon_payouts y WHERE y.category = 'payout_mismatch' AND y.payout_ref = 'SF'")" \
        "paypal-stl.csv SF AUD: fee credit 3.00 AUD vs rows 0.00 AUD; fee debit 6.00 AUD vs rows 3.00 AUD | paypal-stl.csv SF GBP: fee credit 0.87 GBP vs rows 0.47 GBP; fee debit 0.47 GBP vs rows 0.87 GBP; record count 1 vs 2 rows" \
        "paypal: the SF footers do not tie to the SB rows (fees, record count)"
    same "$(q "SELECT string_agg(reference || ' ' || category, ', ' ORDER BY reference) FROM recon_verdicts WHERE provider = 'paypal'")" \
        "5678 matched, 6789 matched, 6899 matched, 68C7 matched" "paypal: every SB row matched by transaction id"
    same "$(q "SELECT (SELECT provider_ref FROM payments WHERE id = x.original_payment) FROM recon_verdicts x WHERE x.reference = '6899'")" \
        "99900" "paypal: the refund linked to its original payment"
    same "$(q "SELECT string_agg(reference || ' ' || category, ', ' ORDER BY reference) FROM recon_verdicts WHERE provider = 'adyendocs'")" \
        "1713702551795048 matched, 2313642467170922 matched" "adyen documentation sample: Settled and Chargeback rows tie and match"
    run $PY $H/recon_workbook.py "$T_TMP/reports/reconciliation_adyen_2026-01-30.xlsx" \
        fee_discrepancy=2VXYZ12345678910 "payout_mismatch=TX53913667600XT batch 1129, WikimediaDonations" "Matched=4VXYZ12345678910|6VXYZ12345678910"
    if [ "$T_RC" = 0 ]; then t_ok "adyen workbook read back: sheets, Difference = 0, the exceptions listed"; else t_fail "adyen workbook" "$T_OUT"; fi
    run $PY $H/recon_workbook.py "$T_TMP/reports/reconciliation_paypal_2026-01-30.xlsx" \
        "payout_mismatch=paypal-stl.csv SF AUD|paypal-stl.csv SF GBP" "Matched=5678|6789|68C7|6899"
    if [ "$T_RC" = 0 ]; then t_ok "paypal workbook: PayPal ids kept as text"; else t_fail "paypal workbook" "$T_OUT"; fi

    # the next night: the same files again (not counted twice), the refund
    # recorded since (its exception resolved), the grace period over
    files=$(q "SELECT count(*) || ' ' || (SELECT count(*) FROM recon_rows) FROM recon_files")
    q "INSERT INTO payments (order_id, provider, provider_ref, kind, parent_payment_id, amount_minor, currency, status, occurred_at, fee_minor) VALUES (1, 'stripe', 're_123', 'refund', 1, 1000, 'USD', 'succeeded', '2026-01-30 12:30Z', 0)" >/dev/null
    expect_out 0 "not counted twice" "the next night: the same report again is recognised by its SHA-256" \
        P run reconcile-payments --date 2026-01-31 --param provider=stripe
    same "$(q "SELECT count(*) || ' ' || (SELECT count(*) FROM recon_rows) FROM recon_files")" "$files" "nothing loaded twice"
    same "$(q "SELECT resolved_on || ' ' || resolution FROM recon_exceptions WHERE reference = 're_123'")" "2026-01-31 matched" \
        "the refund's exception is resolved on the night it was explained"
    same "$(res stripe ch_late 2026-01-31)" "missing_at_provider in none of the provider's reports; grace period (1 day) over" \
        "after the grace period the capture is missing_at_provider"
    same "$(q "SELECT resolved_on || ' ' || resolution FROM recon_exceptions WHERE reference = 'ch_late' AND category = 'pending'")" \
        "2026-01-31 missing_at_provider" "its pending entry is closed"
    expect 0 "a re-run of the night" P run reconcile-payments --date 2026-01-31 --param provider=stripe
    same "$(q "SELECT count(*) FROM recon_exceptions WHERE provider = 'stripe' AND resolved_on IS NULL")|$(q "SELECT count(*) FROM recon_runs WHERE provider = 'stripe' AND is_current")" \
        "1|2" "a re-run replaces the night's run and keeps the open list as it was"
    expect_out 0 "dry run" "a dry run computes and keeps nothing" \
        P run reconcile-payments --date 2026-02-01 --param provider=stripe --dry-run
    same "$(q "SELECT count(*) FROM recon_runs WHERE business_date = '2026-02-01'")" 0 "the dry run left no run behind"
fi

# --- a malformed report is rejected whole -----------------------------------------------
STRIPE_HEAD="balance_transaction_id,source_id,charge_id,created,currency,gross,fee,net,reporting_category,automatic_payout_id"
good="txn_1,ch_good,ch_good,2026-03-01 10:00:00,USD,10.00,0.59,9.41,charge,po_1"
printf '%s\n%s\n' "balance_transaction_id,source_id,charge_id,created,currency,gross,net,reporting_category" "$good" >"$T_TMP/bad/bad_2026-03-01.csv"
printf '%s\n%s\n%s\n' "$STRIPE_HEAD" "$good" "txn_2,ch_2,ch_2,2026-03-02 10:00:00,USD,12;50,0.59,11.91,charge,po_1" >"$T_TMP/bad/bad_2026-03-02.csv"
printf '%s\n%s\n%s\n' "$STRIPE_HEAD" "$good" "txn_2,ch_2,ch_2,2026-03-03 10:00:00,XYZ,12.50,0.59,11.91,charge,po_1" >"$T_TMP/bad/bad_2026-03-03.csv"
printf '%s\n%s\n%s\n' "$STRIPE_HEAD" "$good" "txn_2,ch_2,ch_2,2026-03-04 10:00:00,USD,12.505,0.59,11.915,charge,po_1" >"$T_TMP/bad/bad_2026-03-04.csv"
printf '%s\n%s\n%s\n' "$STRIPE_HEAD" "$good" "txn_2,ch_2,ch_2,2026-03-05 10:00:00,JPY,1250.5,59,1191.5,charge,po_1" >"$T_TMP/bad/bad_2026-03-05.csv"
printf '%s\n%s\n%s\n' "$STRIPE_HEAD" "$good" "txn_2,ch_2,ch_2,2026-02-30 10:00:00,USD,12.50,0.59,11.91,charge,po_1" >"$T_TMP/bad/bad_2026-03-06.csv"
rows_before=$(q "SELECT count(*) FROM recon_rows")
fails "bad_2026-03-01.csv:1: column 'fee': missing from the header" "a missing column: FILE:LINE: column 'fee'" \
    P run reconcile-payments --date 2026-03-01 --param provider=bad
fails "bad_2026-03-02.csv:3: column 'gross': '12;50': not a decimal amount" "a bad number: FILE:LINE: column 'gross'" \
    P run reconcile-payments --date 2026-03-02 --param provider=bad
fails "bad_2026-03-03.csv:3: column 'currency': unknown currency 'XYZ'" "an unknown currency: FILE:LINE: column 'currency'" \
    P run reconcile-payments --date 2026-03-03 --param provider=bad
fails "bad_2026-03-04.csv:3: column 'gross': '12.505' has more decimals than USD allows \(2\)" "USD with three decimals: wrong exponent" \
    P run reconcile-payments --date 2026-03-04 --param provider=bad
fails "bad_2026-03-05.csv:3: column 'gross': '1250.5' has decimals but JPY has none" "JPY with decimals: wrong exponent" \
    P run reconcile-payments --date 2026-03-05 --param provider=bad
fails "bad_2026-03-06.csv:3: column 'created': '2026-02-30 10:00:00' is not a date" "an impossible date" \
    P run reconcile-payments --date 2026-03-06 --param provider=bad
same "$(q "SELECT count(*) FROM recon_files WHERE provider = 'bad'")|$(q "SELECT count(*) FROM recon_rows")|$(q "SELECT count(*) FROM recon_runs WHERE provider = 'bad'")" \
    "0|$rows_before|0" "nothing of a rejected file is kept (not even its good first row)"
same "$(ls "$T_TMP/reports" 2>/dev/null | grep -c '^reconciliation_bad_')" 0 "no workbook for a rejected file"

# --- fetching over HTTP: failures retried or reported, nothing half-loaded -------------------
if [ -z "$PORT" ]; then
    t_fail "the test HTTP server did not start" "$(cat "$T_TMP/http.log")"
else
    {
        echo "$STRIPE_HEAD"
        i=1; while [ $i -le 200 ]; do
            echo "txn_$i,ch_web$i,ch_web$i,2026-04-01 10:00:00,EUR,12.34,0.50,11.84,charge,po_w"; i=$((i + 1))
        done
    } >"$T_TMP/www/stripe_2026-04-01.csv"
    head -c 4990 "$T_TMP/www/stripe_2026-04-01.csv" >"$T_TMP/www/trunc_2026-04-01.csv"
    loaded() { q "SELECT count(*) || ' ' || coalesce(sum(rows), 0) FROM recon_files WHERE provider = '$1'"; }
    hits() { grep -c "^$1 " "$T_TMP/http.log"; }
    R() { P run reconcile-payments --date 2026-04-01 --param provider="$1"; }
    fails "HTTP 404: the report is not there \(yet\)" "404: failed clearly, no retry" R h_missing
    same "$(hits missing)|$(loaded h_missing)" "1|0 0" "404: one request, nothing loaded"
    expect 0 "500 then success: retried" R h_flaky
    same "$(grep '^flaky ' "$T_TMP/http.log" | awk '{print $3}' | tr '\n' ' ')|$(loaded h_flaky)" "500 200 |1 200" \
        "500 then 200: the whole file loaded once"
    expect 0 "429 then success: retried" R h_busy
    same "$(grep '^busy ' "$T_TMP/http.log" | awk '{print $3}' | tr '\n' ' ')" "429 200 " "429 backed off, then 200"
    fails "slow/stripe_2026-04-01.csv: .*(timed out|Timeout).*after 2 attempts" "timeout: retried, then failed clearly" R h_slow
    same "$(hits slow)|$(loaded h_slow)" "2|0 0" "timeout: two attempts, nothing loaded"
    fails "cut/stripe_2026-04-01.csv: .*after 2 attempts" "a cut transfer: retried, then failed clearly" R h_cut
    same "$(hits cut)|$(loaded h_cut)" "2|0 0" "cut transfer: two attempts, nothing loaded"
    fails "trunc_2026-04-01.csv:[0-9]+: the last line has no line ending: the file is truncated" "a truncated file: rejected with its line" R h_trunc
    same "$(loaded h_trunc)" "0 0" "truncated file: nothing loaded"
    expect 0 "auth_header from \${RECON_TEST_TOKEN} is sent" R h_auth
    same "$(grep '^auth ' "$T_TMP/http.log" | awk '{print $3}')" "200" "the authorised request succeeded at once"
fi
kill "$SERVER" 2>/dev/null; SERVER=""

# --- simulated data: every injected discrepancy, nothing else ----------------------------------
SDB=$(fresh_db t_recon_sim)
cat >"$T_TMP/sim.yaml" <<YAML
database:
  url: "$SDB"
plugins:
  dir: $PWD/$PURSER_BUILD/plugins
  reconciliation:
    grace_period: 0s
    providers:
      stripe: { format: stripe, source: "file://$T_TMP/sim/stripe_{date}.csv" }
      adyen: { format: adyen, drop_folder: "$T_TMP/sim", pattern: "adyen_{date}.csv" }
      paypal: { format: paypal, drop_folder: "$T_TMP/sim", pattern: "paypal_{date}.csv" }
reports:
  output_dir: $T_TMP/simreports
jobs:
  dir: $T_TMP/jobs
YAML
S() { "$PURSER" -c "$T_TMP/sim.yaml" "$@"; }
expect 0 "migrate the simulation's database" S migrate
expect 0 "simulate 3000 orders over 3 days, 2% discrepancies of each kind" \
    S simulate --orders 3000 --days 3 --discrepancy-rate 0.02 --start 2025-03-01 --out "$T_TMP/sim"
for d in 2025-03-01 2025-03-02 2025-03-03; do
    expect 0 "reconcile $d (stripe, adyen, paypal)" S run reconcile-payments --date $d
done
echo "provider,reference,category" >"$T_TMP/found.csv"
for p in stripe adyen paypal; do
    for d in 2025-03-01 2025-03-02 2025-03-03; do
        $PY $H/recon_workbook.py "$T_TMP/simreports/reconciliation_${p}_$d.xlsx" --export "$T_TMP/found.csv" $p >"$T_TMP/wb_${p}_$d.log" 2>&1 \
            || { t_fail "workbook $p $d" "$(grep FAIL "$T_TMP/wb_${p}_$d.log")"; }
    done
done
run $PY $H/recon_score.py "$T_TMP/sim/answer-key.csv" "$T_TMP/found.csv"
if [ "$T_RC" = 0 ]; then t_ok "workbooks: precision = recall = 1 ($(printf '%s' "$T_OUT" | head -n 1))"; else t_fail "workbooks against the answer key" "$T_OUT"; fi
same "$(cat "$T_TMP"/wb_*.log | grep -c '^FAIL')" 0 "all nine workbooks read back: sheets, Difference = 0, text ids, dates, formats"
sql "$SDB" "COPY (SELECT DISTINCT u.provider, x.reference, x.category FROM recon_results x JOIN recon_runs u ON u.id = x.recon_run_id WHERE u.is_current AND x.category NOT IN ('matched', 'probable', 'pending', 'other') UNION SELECT u.provider, y.reference, y.category FROM recon_payouts y JOIN recon_runs u ON u.id = y.recon_run_id WHERE u.is_current AND y.category = 'payout_mismatch') TO STDOUT WITH (FORMAT csv)" >"$T_TMP/db.csv"
sed -i '1i provider,reference,category' "$T_TMP/db.csv"
run $PY $H/recon_score.py "$T_TMP/sim/answer-key.csv" "$T_TMP/db.csv"
if [ "$T_RC" = 0 ]; then t_ok "stored results: precision = recall = 1"; else t_fail "stored results against the answer key" "$T_OUT"; fi
for d in 2025-03-03 2025-03-01; do S run reconcile-payments --date $d >/dev/null 2>&1; done
sql "$SDB" "COPY (SELECT DISTINCT u.provider, x.reference, x.category FROM recon_results x JOIN recon_runs u ON u.id = x.recon_run_id WHERE u.is_current AND x.category NOT IN ('matched', 'probable', 'pending', 'other') UNION SELECT u.provider, y.reference, y.category FROM recon_payouts y JOIN recon_runs u ON u.id = y.recon_run_id WHERE u.is_current AND y.category = 'payout_mismatch') TO STDOUT WITH (FORMAT csv)" >"$T_TMP/db2.csv"
sed -i '1i provider,reference,category' "$T_TMP/db2.csv"
run $PY $H/recon_score.py "$T_TMP/sim/answer-key.csv" "$T_TMP/db2.csv"
if [ "$T_RC" = 0 ]; then t_ok "re-running nights out of order changes nothing"; else t_fail "re-runs" "$T_OUT"; fi
same "$(sql "$SDB" "SELECT count(*) FROM payments p JOIN recon_fee_intake f ON f.payment_id = p.id WHERE p.fee_minor <> f.provider_fee")" 0 \
    "the providers' fees are in payments.fee_minor"
same "$(sql "$SDB" "SELECT count(*) || ' ' || count(*) FILTER (WHERE p.fee_minor <> x.fee_minor) FROM recon_verdicts x JOIN payments p ON p.id = x.payment_id WHERE x.is_current AND x.category IN ('matched', 'fee_discrepancy') AND x.fee_minor >= 0 AND x.kind <> 'chargeback_reversal' AND x.net_currency = p.currency" | awk '{print ($1 > 1000) " " $2}')" "1 0" \
    "every matched payment carries the fee the provider charged"

t_done
