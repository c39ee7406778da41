/* Matching a provider's rows against our payments, set-based, inside the
 * caller's transaction:
 *   1. the rows in scope (the date's files, plus rows of exceptions still
 *      open) meet payments on the provider's transaction reference, then on
 *      its reference of the original payment (captures);
 *   2. rows claiming a reference or a payment twice, or a payment another
 *      night already reconciled, are duplicate_at_provider;
 *   3. still unmatched rows meet our order reference (merchant reference);
 *   4. then amount + currency + a date window pairs them as "probable"
 *      (only rows naming no order, or an order we know: a row naming an
 *      order we have never heard of is not ours to guess at);
 *   5. each pair is classified (currency, amount, fee and the row's own
 *      arithmetic), payments nobody claimed are pending or
 *      missing_at_provider, payouts and footers are summed and compared;
 *   6. the open exception list is updated and the provider's fees are
 *      written to payments.fee_minor.
 * Parameters are always bound ($n), never spliced into the SQL. */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "recon_internal.h"

/* The bound parameters every statement below may use. */
enum {
    RP_PROVIDER,
    RP_DATE,
    RP_TZ,
    RP_FILES,
    RP_RUN,
    RP_AMOUNT_TOL,
    RP_FEE_TOL,
    RP_GRACE,
    RP_WINDOW,
    RP_N
};

/* $1 provider, $2 date, $3 the job's zone, $4 file ids, $5 recon run, $6
 * amount tolerance, $7 fee tolerance, $8 grace, $9 probable window; bound
 * with declared types so that a statement may leave some unused. */
static const Oid recon_param_types[RP_N] = {25, 1082, 25, 1016, 20, 20, 20, 1186, 1186};

#define RECON_DAY_START "(($2::date)::timestamp AT TIME ZONE $3)"
#define RECON_DAY_END "((($2::date) + 1)::timestamp AT TIME ZONE $3)"
#define RECON_PAYMENT_KINDS "('capture', 'refund', 'chargeback', 'chargeback_reversal')"
#define RECON_MATCHED_CATS                                                                         \
    "('matched', 'probable', 'amount_mismatch', 'currency_mismatch', 'fee_discrepancy')"

/* Open exceptions of earlier dates whose payment is carried into tonight's
 * scope (a backfill of an earlier date leaves later dates' alone). */
#define RECON_OPEN_PAYMENTS                                                                        \
    "(SELECT e.payment_id FROM recon_exceptions e JOIN payments q ON q.id = e.payment_id "         \
    "WHERE e.provider = $1 AND e.resolved_on IS NULL AND e.category IN "                           \
    "('missing_at_provider', 'pending') AND q.occurred_at < " RECON_DAY_START ")"

/* Is payment p in tonight's scope: succeeded, of this date or still open. */
#define RECON_IN_SCOPE(p)                                                                          \
    "((" p ".status = 'succeeded' AND " p ".occurred_at >= " RECON_DAY_START " AND " p             \
    ".occurred_at < " RECON_DAY_END ") OR " p ".id IN " RECON_OPEN_PAYMENTS ")"

/* Did another current run (another night, or this provider's other
 * dates) already reconcile payment `id` (reference `ref`) with a row other
 * than this one? Recorded (recon_matched, or a mismatch verdict), or
 * implied: a row of that run's files with the payment's reference and no
 * stored verdict was matched on it. */
#define RECON_ELSEWHERE(id, ref, fileexpr, lineexpr)                                               \
    "(EXISTS (SELECT 1 FROM recon_matched x JOIN recon_runs u ON u.id = x.recon_run_id "           \
    "  WHERE x.payment_id = " id " AND u.is_current AND u.provider = $1 AND u.id <> $5 AND "       \
    "  (x.file_id IS DISTINCT FROM " fileexpr " OR x.line IS DISTINCT FROM " lineexpr ")) "        \
    "OR EXISTS (SELECT 1 FROM recon_results x JOIN recon_runs u ON u.id = x.recon_run_id "         \
    "  WHERE x.payment_id = " id " AND u.is_current AND u.provider = $1 AND u.id <> $5 AND "       \
    "  x.category IN " RECON_MATCHED_CATS " AND (x.file_id IS DISTINCT FROM " fileexpr             \
    "  OR x.line IS DISTINCT FROM " lineexpr ")) "                                                 \
    "OR EXISTS (SELECT 1 FROM recon_rows r JOIN recon_runs u ON r.file_id = ANY(u.files) "         \
    "  JOIN payments q ON q.id = " id " "                                                          \
    "  WHERE r.reference = " ref " AND u.is_current AND u.provider = $1 AND u.id <> $5 "           \
    "  AND q.kind = CASE r.kind WHEN 'chargeback_reversal' THEN 'chargeback' ELSE r.kind END "     \
    "  AND (r.file_id IS DISTINCT FROM " fileexpr " OR r.line IS DISTINCT FROM " lineexpr ") "     \
    "  AND NOT EXISTS (SELECT 1 FROM recon_results x WHERE x.recon_run_id = u.id "                 \
    "    AND x.file_id = r.file_id AND x.line = r.line) "                                          \
    "  AND NOT EXISTS (SELECT 1 FROM recon_matched x WHERE x.recon_run_id = u.id "                 \
    "    AND x.file_id = r.file_id AND x.line = r.line)))"

/* Our side of a matched payment, as recon_work carries it. */
#define RECON_OUR(p)                                                                               \
    p ".id AS payment_id, " p ".currency AS our_currency, " p ".status AS our_status, " p          \
      ".amount_minor AS our_abs, " p ".fee_minor AS our_fee, " p ".parent_payment_id AS "          \
      "original_payment, " p ".occurred_at AS our_at"
#define RECON_OUR_SET(p)                                                                           \
    "payment_id = " p ".id, our_currency = " p ".currency, our_status = " p ".status, "            \
    "our_abs = " p ".amount_minor, our_fee = " p ".fee_minor, original_payment = " p               \
    ".parent_payment_id, our_at = " p ".occurred_at"

/* Minor units as "12.34 EUR" with the currency row i (iso4217), exactly. */
#define RECON_FMT(v, i)                                                                            \
    "(round((" v ")::numeric / power(10::numeric, " i ".exponent), " i ".exponent)::text || ' ' "  \
    "|| " i ".code)"

typedef struct recon_step {
    const char *what;
    const char *sql; /* with $1..$9 bound, or without parameters when `plain` */
    bool plain;
} recon_step;

static const recon_step recon_steps[] = {
    {"analysing the loaded rows", "ANALYZE recon_rows (file_id)", true},
    {"collecting the rows in scope and matching them on the provider's reference",
     "CREATE TEMP TABLE recon_work ON COMMIT DROP AS "
     "SELECT s.*, " RECON_OUR(
         "p") ", "
              "  CASE WHEN p.id IS NOT NULL THEN 'reference' END AS match_key, "
              "  p.id IS NOT NULL AND " RECON_IN_SCOPE(
                  "p") " AS in_scope, "
                       "  false AS dup, false AS elsewhere "
                       "FROM (SELECT r.*, false AS carried FROM recon_rows r "
                       "      WHERE r.file_id = ANY($4) AND r.kind <> 'payout' "
                       "      UNION ALL "
                       "      SELECT r.*, true FROM recon_exceptions e "
                       "      JOIN recon_rows r ON r.file_id = e.file_id AND r.line = e.line "
                       "      JOIN recon_files f ON f.id = e.file_id AND f.superseded_at IS NULL "
                       "        AND f.business_date < $2 "
                       "      WHERE e.provider = $1 AND e.resolved_on IS NULL AND e.category <> "
                       "'payout_mismatch' "
                       "        AND NOT (e.file_id = ANY($4))) s "
                       "LEFT JOIN payments p ON p.provider = $1 AND p.provider_ref = s.reference "
                       "  AND p.kind = CASE s.kind WHEN 'chargeback_reversal' THEN 'chargeback' "
                       "ELSE s.kind END",
     false},
    {"analysing the work table", "ANALYZE recon_work (payment_id, kind, reference)", true},
    {"matching captures on the provider's reference of the original payment",
     "UPDATE recon_work w SET " RECON_OUR_SET(
         "p") ", match_key = 'original_reference', "
              "  in_scope = " RECON_IN_SCOPE(
                  "p") " "
                       "FROM payments p WHERE w.payment_id IS NULL AND w.kind = 'capture' "
                       "  AND w.original_ref <> '' AND p.provider = $1 AND p.provider_ref = "
                       "w.original_ref "
                       "  AND p.kind = 'capture'",
     false},
    {"finding payments another night already reconciled",
     "UPDATE recon_work w SET elsewhere = true "
     "WHERE w.payment_id IS NOT NULL AND NOT w.in_scope AND " RECON_ELSEWHERE(
         "w.payment_id", "(SELECT q2.provider_ref FROM payments q2 WHERE q2.id = w.payment_id)",
         "w.file_id", "w.line"),
     false},
    /* the few payments claimed twice, in a table of their own with
     * statistics, so that the flagging pass reads the work table once
     * instead of hashing all of it */
    {"finding payments claimed twice",
     "CREATE TEMP TABLE recon_claimed_twice ON COMMIT DROP AS "
     "SELECT kind, payment_id, min(file_id * 4294967296 + line) AS first "
     "  FROM recon_work WHERE payment_id IS NOT NULL AND kind IN " RECON_PAYMENT_KINDS
     "  GROUP BY 1, 2 HAVING count(*) > 1",
     false},
    {"analysing the payments claimed twice", "ANALYZE recon_claimed_twice", true},
    {"flagging the rows that claim a payment twice",
     "UPDATE recon_work w SET dup = true FROM recon_claimed_twice g "
     "WHERE w.payment_id = g.payment_id AND w.kind = g.kind "
     "  AND w.file_id * 4294967296 + w.line <> g.first",
     false},
    {"finding unknown references twice",
     "WITH g AS MATERIALIZED (SELECT kind, reference, min(file_id * 4294967296 + line) AS first "
     "  FROM recon_work WHERE payment_id IS NULL AND kind IN " RECON_PAYMENT_KINDS
     "  GROUP BY 1, 2 HAVING count(*) > 1) "
     "UPDATE recon_work w SET dup = true FROM g "
     "WHERE w.payment_id IS NULL AND w.reference = g.reference AND w.kind = g.kind "
     "  AND w.file_id * 4294967296 + w.line <> g.first",
     false},
    {"matching on our order reference",
     "WITH cand AS MATERIALIZED ("
     "    SELECT u.file_id, u.line, u.currency AS rcur, u.amount_minor AS ramount, p.*, "
     "           " RECON_IN_SCOPE(
         "p") " AS scope "
              "    FROM recon_work u JOIN orders o ON o.external_ref = u.merchant_ref "
              "    JOIN payments p ON p.order_id = o.id AND p.provider = $1 "
              "      AND p.kind = CASE u.kind WHEN 'chargeback_reversal' THEN 'chargeback' ELSE "
              "u.kind END "
              "    WHERE u.payment_id IS NULL AND NOT u.dup AND u.merchant_ref <> '' "
              "      AND u.kind IN ('capture', 'refund', 'chargeback') "
              "      AND NOT EXISTS (SELECT 1 FROM recon_work x WHERE x.payment_id = p.id)), "
              "  ok AS MATERIALIZED (SELECT * FROM cand c WHERE c.scope "
              "      OR NOT " RECON_ELSEWHERE(
                  "c.id", "c.provider_ref", "c.file_id",
                  "c.line") ") "
                            "UPDATE recon_work w SET " RECON_OUR_SET(
                                "m") ", match_key = 'merchant_reference', "
                                     "  in_scope = m.scope FROM ("
                                     "  SELECT DISTINCT ON (b.id) b.* FROM ("
                                     "    SELECT DISTINCT ON (file_id, line) * FROM ok "
                                     "    ORDER BY file_id, line, (currency = rcur AND "
                                     "amount_minor = abs(ramount)) DESC, id) b "
                                     "  ORDER BY b.id, b.file_id, b.line) m "
                                     "WHERE w.file_id = m.file_id AND w.line = m.line",
     false},
    {"collecting the payments nobody claimed",
     "CREATE TEMP TABLE recon_unclaimed ON COMMIT DROP AS "
     "WITH c AS MATERIALIZED ("
     "  SELECT p.* FROM payments p WHERE p.provider = $1 "
     "    AND p.kind IN ('capture', 'refund', 'chargeback') AND " RECON_IN_SCOPE(
         "p") " "
              "    AND NOT EXISTS (SELECT 1 FROM recon_work w WHERE w.payment_id = p.id)) "
              "SELECT * FROM c WHERE NOT " RECON_ELSEWHERE("c.id", "c.provider_ref", "NULL::bigint",
                                                           "NULL::bigint"),
     false},
    {"pairing on amount, currency and date (probable)",
     "UPDATE recon_work w SET " RECON_OUR_SET(
         "m") ", match_key = 'amount_date', "
              "  in_scope = true FROM ("
              "  SELECT r.file_id, r.line, p.* FROM ("
              "    SELECT file_id, line, kind AS rkind, currency AS rcur, abs(amount_minor) AS a, "
              "      occurred_at AS rat, row_number() OVER (PARTITION BY kind, currency, "
              "      abs(amount_minor) ORDER BY occurred_at, file_id, line) AS rn "
              "    FROM recon_work v WHERE payment_id IS NULL AND NOT dup "
              "      AND kind IN ('capture', 'refund', 'chargeback') "
              "      AND (merchant_ref = '' OR EXISTS (SELECT 1 FROM orders o "
              "                                         WHERE o.external_ref = v.merchant_ref))) r "
              "  JOIN (SELECT *, row_number() OVER (PARTITION BY kind, currency, amount_minor "
              "                                     ORDER BY occurred_at, id) AS rn "
              "        FROM recon_unclaimed) p ON p.kind = r.rkind AND p.currency = r.rcur "
              "          AND p.amount_minor = r.a AND p.rn = r.rn "
              "  WHERE r.rat BETWEEN p.occurred_at - $9 AND p.occurred_at + $9) m "
              "WHERE w.file_id = m.file_id AND w.line = m.line",
     false},
    {"classifying",
     "CREATE TEMP TABLE recon_class ON COMMIT DROP AS "
     "SELECT CASE WHEN f.dup OR f.elsewhere THEN 'duplicate_at_provider' "
     "       WHEN f.kind NOT IN " RECON_PAYMENT_KINDS " THEN 'other' "
     "       WHEN f.payment_id IS NULL THEN 'missing_internally' "
     "       WHEN f.match_key = 'amount_date' THEN 'probable' "
     "       WHEN f.our_status <> 'succeeded' THEN 'missing_internally' "
     "       WHEN f.currency <> f.our_currency THEN 'currency_mismatch' "
     "       WHEN abs(f.amount_minor - f.our_amount) > $6 THEN 'amount_mismatch' "
     "       WHEN abs(coalesce(f.identity_minor, 0)) > $7 OR f.fee_off THEN 'fee_discrepancy' "
     "       ELSE 'matched' END AS category, f.* "
     "FROM (SELECT e.*, (e.expected_fee IS NOT NULL AND e.kind <> 'chargeback_reversal' "
     "        AND e.net_currency = e.our_currency AND e.currency = e.our_currency "
     "        AND abs(e.fee_minor - e.expected_fee) > $7) AS fee_off "
     "  FROM (SELECT w.match_key, w.file_id, w.line, w.payment_id, w.reference, w.kind, "
     "          w.currency, w.amount_minor, w.net_currency, w.net_minor, w.fee_minor, "
     "          w.identity_minor, w.original_ref, w.occurred_at, w.local_time, w.zone, "
     "          w.carried, w.dup, w.elsewhere, w.our_currency, w.our_status, "
     "          w.original_payment, w.our_fee, "
     "          (w.match_key = 'reference' AND w.our_at >= " RECON_DAY_START
     "           AND w.our_at < " RECON_DAY_END ") AS implicit, "
     "          CASE WHEN fi.payment_id IS NOT NULL THEN fi.intake_fee_minor "
     "               ELSE w.our_fee END AS expected_fee, "
     "          CASE WHEN w.kind IN ('capture', 'chargeback_reversal') THEN w.our_abs "
     "               ELSE -w.our_abs END AS our_amount "
     "        FROM recon_work w "
     "        LEFT JOIN recon_fee_intake fi ON fi.payment_id = w.payment_id) e) f "
     "UNION ALL "
     "SELECT CASE WHEN u.occurred_at < " RECON_DAY_END " - $8 THEN 'missing_at_provider' "
     "         ELSE 'pending' END, NULL, NULL, NULL, u.id, u.provider_ref, u.kind, NULL, NULL, "
     "       NULL, NULL, NULL, NULL, NULL, u.occurred_at, u.occurred_at AT TIME ZONE $3, "
     "       $3, u.occurred_at < " RECON_DAY_START ", false, false, u.currency, 'succeeded', "
     "       u.parent_payment_id, u.fee_minor, false, u.fee_minor, "
     "       CASE WHEN u.kind = 'capture' THEN u.amount_minor ELSE -u.amount_minor END, false "
     "FROM recon_unclaimed u WHERE NOT EXISTS (SELECT 1 FROM recon_work w "
     "  WHERE w.payment_id = u.id)",
     false},
    {"analysing the classification", "ANALYZE recon_class (category, payment_id, file_id)", true},
    {"storing the matches not implied by a reference",
     "INSERT INTO recon_matched (recon_run_id, file_id, line, payment_id, match_key) "
     "SELECT $5, file_id, line, payment_id, match_key FROM recon_class "
     "WHERE category = 'matched' AND NOT implicit",
     false},
    {"storing the other results",
     "INSERT INTO recon_results (recon_run_id, category, match_key, file_id, line, payment_id, "
     "  reference, kind, currency, amount_minor, our_currency, our_amount_minor, net_currency, "
     "  net_minor, fee_minor, expected_fee_minor, identity_minor, original_ref, "
     "  original_payment, occurred_at, local_time, zone, carried, detail) "
     "SELECT $5, c.category, c.match_key, c.file_id, c.line, c.payment_id, c.reference, c.kind, "
     "  c.currency, c.amount_minor, c.our_currency, c.our_amount, c.net_currency, c.net_minor, "
     "  c.fee_minor, c.expected_fee, c.identity_minor, c.original_ref, c.original_payment, "
     "  c.occurred_at, c.local_time, c.zone, c.carried, "
     "  CASE c.category "
     "    WHEN 'amount_mismatch' THEN 'provider ' || " RECON_FMT(
         "c.amount_minor",
         "gc") " || "
               "      ' vs ours ' || " RECON_FMT(
                   "c.our_amount",
                   "oc") " "
                         "    WHEN 'currency_mismatch' THEN 'provider ' || c.currency || ', ours ' "
                         "|| c.our_currency "
                         "    WHEN 'fee_discrepancy' THEN concat_ws('; ', "
                         "      CASE WHEN abs(coalesce(c.identity_minor, 0)) > $7 THEN 'the row "
                         "does not add up: "
                         "gross x rate - fees - net = ' || " RECON_FMT(
                             "c.identity_minor",
                             "nc") " END, "
                                   "      CASE WHEN c.fee_off THEN 'fee ' || " RECON_FMT(
                                       "c.fee_minor",
                                       "nc") " || "
                                             "        ' vs expected ' || " RECON_FMT(
                                                 "c.expected_fee",
                                                 "nc") " END) "
                                                       "    WHEN 'duplicate_at_provider' THEN CASE "
                                                       "WHEN c.dup "
                                                       "      THEN 'the reference (or its payment) "
                                                       "appears more than once' "
                                                       "      ELSE 'already reconciled on another "
                                                       "night' END "
                                                       "    WHEN 'missing_internally' THEN CASE "
                                                       "WHEN c.payment_id IS NOT NULL "
                                                       "      THEN 'our payment is ' || "
                                                       "c.our_status "
                                                       "      ELSE 'no payment of ours has this "
                                                       "reference' END "
                                                       "    WHEN 'probable' THEN 'same amount, "
                                                       "currency and date window; references "
                                                       "differ' "
                                                       "    WHEN 'missing_at_provider' THEN 'in "
                                                       "none of the provider''s reports; grace "
                                                       "period (' "
                                                       "      || $8 || ') over' "
                                                       "    WHEN 'pending' THEN 'within the grace "
                                                       "period (' || $8 || ')' "
                                                       "  END "
                                                       "FROM recon_class c LEFT JOIN iso4217 gc ON "
                                                       "gc.code = c.currency "
                                                       "LEFT JOIN iso4217 nc ON nc.code = "
                                                       "c.net_currency "
                                                       "LEFT JOIN iso4217 oc ON oc.code = "
                                                       "c.our_currency "
                                                       "WHERE c.category <> 'matched'",
     false},
    /* the workbook's queries join tonight's results with the rows: without
     * statistics for them (a re-run of a date adds a second set) the
     * planner may pick a nested loop over a million rows */
    {"analysing the stored results", "ANALYZE recon_results, recon_matched", true},
    {"checking payouts",
     "INSERT INTO recon_payouts (recon_run_id, category, file_id, line, reference, payout_ref, "
     "  currency, row_count, rows_net_minor, payout_minor, difference_minor, occurred_at, "
     "  local_time, zone, detail) "
     "SELECT $5, CASE WHEN g.rows_net = g.payout THEN 'matched' ELSE 'payout_mismatch' END, "
     "  g.file_id, g.pline, pr.reference, g.payout_ref, g.net_currency, g.n, g.rows_net, "
     "  g.payout, g.payout - g.rows_net, pr.occurred_at, pr.local_time, pr.zone, "
     "  CASE WHEN g.rows_net <> g.payout THEN 'payout ' || recon_fmt(g.payout, g.net_currency) "
     "    || ', its ' || g.n || ' rows sum to ' || recon_fmt(g.rows_net, g.net_currency) END "
     "FROM (SELECT file_id, payout_ref, net_currency, "
     "        count(*) FILTER (WHERE kind <> 'payout') AS n, "
     "        coalesce(sum(net_minor) FILTER (WHERE kind <> 'payout'), 0) AS rows_net, "
     "        sum(net_minor) FILTER (WHERE kind = 'payout') AS payout, "
     "        min(line) FILTER (WHERE kind = 'payout') AS pline "
     "      FROM recon_rows WHERE file_id = ANY($4) AND payout_ref <> '' "
     "      GROUP BY file_id, payout_ref, net_currency) g "
     "JOIN recon_rows pr ON pr.file_id = g.file_id AND pr.line = g.pline "
     "WHERE g.payout IS NOT NULL",
     false},
    {"checking report footers",
     "INSERT INTO recon_payouts (recon_run_id, category, file_id, line, reference, payout_ref, "
     "  currency, row_count, rows_net_minor, payout_minor, difference_minor, detail) "
     "SELECT $5, CASE WHEN d.detail = '' THEN 'matched' ELSE 'payout_mismatch' END, "
     "  d.file_id, d.line, d.name || ' SF ' || d.currency, 'SF', d.currency, d.n, d.rows_net, "
     "  d.foot_net, d.foot_net - d.rows_net, nullif(d.detail, '') "
     "FROM (SELECT f.*, coalesce(r.n, 0) AS n, "
     "        coalesce(r.gcr, 0) - coalesce(r.gdr, 0) + coalesce(r.fcr, 0) - coalesce(r.fdr, 0) "
     "          AS rows_net, "
     "        f.gcr - f.gdr + f.fcr - f.fdr AS foot_net, "
     "        concat_ws('; ', "
     "          CASE WHEN f.gcr <> coalesce(r.gcr, 0) THEN 'gross credit ' || "
     "            recon_fmt(f.gcr, f.currency) || ' vs rows ' || "
     "            recon_fmt(coalesce(r.gcr, 0), f.currency) END, "
     "          CASE WHEN f.gdr <> coalesce(r.gdr, 0) THEN 'gross debit ' || "
     "            recon_fmt(f.gdr, f.currency) || ' vs rows ' || "
     "            recon_fmt(coalesce(r.gdr, 0), f.currency) END, "
     "          CASE WHEN f.fcr <> coalesce(r.fcr, 0) THEN 'fee credit ' || "
     "            recon_fmt(f.fcr, f.currency) || ' vs rows ' || "
     "            recon_fmt(coalesce(r.fcr, 0), f.currency) END, "
     "          CASE WHEN f.fdr <> coalesce(r.fdr, 0) THEN 'fee debit ' || "
     "            recon_fmt(f.fdr, f.currency) || ' vs rows ' || "
     "            recon_fmt(coalesce(r.fdr, 0), f.currency) END, "
     "          CASE WHEN f.cnt <> coalesce(r.n, 0) THEN 'record count ' || f.cnt || "
     "            ' vs ' || coalesce(r.n, 0) || ' rows' END) AS detail "
     "      FROM (SELECT ft.file_id, fl.name, ft.currency, min(ft.line) AS line, "
     "              sum(gross_cr) AS gcr, sum(gross_dr) AS gdr, sum(fee_cr) AS fcr, "
     "              sum(fee_dr) AS fdr, sum(record_count) AS cnt "
     "            FROM recon_footers ft JOIN recon_files fl ON fl.id = ft.file_id "
     "            WHERE ft.file_id = ANY($4) GROUP BY 1, 2, 3) f "
     "      LEFT JOIN (SELECT file_id, currency, count(*) AS n, "
     "              sum(amount_minor) FILTER (WHERE amount_minor > 0) AS gcr, "
     "              -sum(amount_minor) FILTER (WHERE amount_minor < 0) AS gdr, "
     "              -sum(fee_minor) FILTER (WHERE fee_minor < 0) AS fcr, "
     "              sum(fee_minor) FILTER (WHERE fee_minor > 0) AS fdr "
     "            FROM recon_rows WHERE file_id = ANY($4) GROUP BY 1, 2) r "
     "      USING (file_id, currency)) d",
     false},
    {"opening and refreshing exceptions",
     "INSERT INTO recon_exceptions AS e (provider, category, reference, currency, file_id, line, "
     "  payment_id, first_seen, last_seen, last_run) "
     "SELECT DISTINCT ON (category, reference, cur) $1, category, reference, cur, file_id, line, "
     "  payment_id, $2, $2, $5 "
     "FROM (SELECT category, reference, coalesce(currency, our_currency, '') AS cur, file_id, "
     "        line, payment_id FROM recon_results WHERE recon_run_id = $5 "
     "        AND category NOT IN ('probable', 'other') "
     "      UNION ALL "
     "      SELECT category, reference, currency, file_id, line, NULL FROM recon_payouts "
     "      WHERE recon_run_id = $5 AND category = 'payout_mismatch') x "
     "ORDER BY category, reference, cur, file_id, line "
     "ON CONFLICT (provider, category, reference, currency) DO UPDATE SET "
     "  last_seen = greatest(e.last_seen, EXCLUDED.last_seen), last_run = EXCLUDED.last_run, "
     "  file_id = EXCLUDED.file_id, line = EXCLUDED.line, payment_id = EXCLUDED.payment_id, "
     "  resolved_on = NULL, resolved_run = NULL, resolution = NULL",
     false},
    {"resolving row exceptions explained tonight",
     "UPDATE recon_exceptions e SET resolved_on = $2, resolved_run = $5, "
     "  resolution = x.category "
     "FROM recon_class x WHERE x.file_id = e.file_id AND x.line = e.line AND e.provider = $1 "
     "  AND e.resolved_on IS NULL AND e.last_run <> $5 AND e.category <> 'payout_mismatch'",
     false},
    {"resolving payment exceptions explained tonight",
     "UPDATE recon_exceptions e SET resolved_on = $2, resolved_run = $5, "
     "  resolution = x.category "
     "FROM recon_class x WHERE x.payment_id = e.payment_id AND e.file_id IS NULL "
     "  AND e.provider = $1 AND e.resolved_on IS NULL AND e.last_run <> $5",
     false},
    {"resolving exceptions no longer found",
     "UPDATE recon_exceptions e SET resolved_on = $2, resolved_run = $5, "
     "  resolution = CASE WHEN f.superseded_at IS NOT NULL "
     "    THEN 'file superseded by a corrected one' ELSE 'no longer found' END "
     "FROM (SELECT e2.id, f2.superseded_at, f2.business_date, q.occurred_at "
     "      FROM recon_exceptions e2 LEFT JOIN recon_files f2 ON f2.id = e2.file_id "
     "      LEFT JOIN payments q ON q.id = e2.payment_id AND e2.file_id IS NULL "
     "      WHERE e2.provider = $1 AND e2.resolved_on IS NULL AND e2.last_run <> $5) f "
     "WHERE e.id = f.id AND (f.superseded_at IS NOT NULL "
     "  OR (e.category = 'payout_mismatch' AND e.file_id = ANY($4)) "
     "  OR (e.category <> 'payout_mismatch' AND f.business_date <= $2) "
     "  OR (e.file_id IS NULL AND f.occurred_at < " RECON_DAY_END "))",
     false},
    {"writing the provider's fees to payments.fee_minor",
     "WITH w AS (SELECT payment_id, fee_minor, our_fee FROM recon_class "
     "    WHERE category IN ('matched', 'fee_discrepancy') "
     "      AND kind IN ('capture', 'refund', 'chargeback') AND net_currency = our_currency "
     "      AND fee_minor >= 0 AND our_fee IS DISTINCT FROM fee_minor), "
     "  kept AS (INSERT INTO recon_fee_intake (payment_id, intake_fee_minor, provider_fee, "
     "      recon_run_id) SELECT payment_id, our_fee, fee_minor, $5 FROM w "
     "    ON CONFLICT (payment_id) DO UPDATE SET provider_fee = EXCLUDED.provider_fee, "
     "      recon_run_id = EXCLUDED.recon_run_id, written_at = now()) "
     "UPDATE payments p SET fee_minor = w.fee_minor FROM w WHERE p.id = w.payment_id",
     false},
};

/* One step with all parameters bound and typed. */
static int recon_step_exec(PGconn *db, const recon_step *st, const char *const *p, char *err,
                           size_t errlen)
{
    PGresult *r = st->plain ? PQexec(db, st->sql)
                            : PQexecParams(db, st->sql, RP_N, recon_param_types, p, NULL, NULL, 0);
    ExecStatusType s = PQresultStatus(r);
    int rc = s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK ? 0 : -1;
    if (rc != 0)
        recon_pg_error(st->what, r, err, errlen);
    PQclear(r);
    return rc;
}

/* Milliseconds as interval text that reads well in messages ("1 day"). */
static void recon_interval(int64_t ms, char *buf, size_t len)
{
    if (ms > 0 && ms % 86400000 == 0)
        snprintf(buf, len, "%lld days", (long long)(ms / 86400000));
    else if (ms % 1000 == 0)
        snprintf(buf, len, "%lld seconds", (long long)(ms / 1000));
    else
        snprintf(buf, len, "%lld milliseconds", (long long)ms);
}

int recon_match(recon_job *job, char *err, size_t errlen)
{
    char files[4096], run[24], amount_tol[24], fee_tol[24], grace[48], window[48];
    size_t used = (size_t)snprintf(files, sizeof files, "{");
    for (size_t i = 0; i < job->n_files && used < sizeof files - 24; i++)
        used += (size_t)snprintf(files + used, sizeof files - used, "%s%lld", i ? "," : "",
                                 (long long)job->files[i]);
    snprintf(files + used, sizeof files - used, "}");
    snprintf(run, sizeof run, "%lld", (long long)job->recon_run);
    snprintf(amount_tol, sizeof amount_tol, "%lld", (long long)job->params.amount_tolerance);
    snprintf(fee_tol, sizeof fee_tol, "%lld", (long long)job->params.fee_tolerance);
    recon_interval(job->params.grace_ms, grace, sizeof grace);
    recon_interval(job->params.window_ms, window, sizeof window);
    const char *p[RP_N] = {job->prov->name, job->date, job->params.timezone,
                           files,           run,       amount_tol,
                           fee_tol,         grace,     window};
    size_t n = sizeof recon_steps / sizeof *recon_steps;
    for (size_t i = 0; i < n; i++) {
        if (job->h->cancelled(job->ctx)) {
            snprintf(err, errlen, "cancelled before %s", recon_steps[i].what);
            return -1;
        }
        job->h->log(job->ctx, PURSER_LOG_DEBUG, "%s: %s", job->prov->name, recon_steps[i].what);
        if (recon_step_exec(job->db, &recon_steps[i], p, err, errlen) != 0)
            return -1;
        job->h->progress(job->ctx, i + 1, n, "steps");
    }
    return 0;
}

int recon_counts(recon_job *job, char *buf, size_t len)
{
    char run[24];
    snprintf(run, sizeof run, "%lld", (long long)job->recon_run);
    const char *p[1] = {run};
    PGresult *r = PQexecParams(job->db,
                               "SELECT category, count(*) FROM (SELECT category FROM recon_class "
                               "UNION ALL SELECT category FROM recon_payouts WHERE "
                               "recon_run_id = $1 AND category <> 'matched') x "
                               "GROUP BY 1 ORDER BY 1",
                               1, NULL, p, NULL, NULL, 0);
    buf[0] = '\0';
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        PQclear(r);
        return -1;
    }
    size_t used = 0;
    for (int i = 0; i < PQntuples(r) && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, "%s%s %s", i ? ", " : "",
                                 PQgetvalue(r, i, 0), PQgetvalue(r, i, 1));
    PQclear(r);
    return 0;
}
