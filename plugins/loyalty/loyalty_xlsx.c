/* loyalty_<DATE>.xlsx: what the business date did to the points and what
 * the points outstanding are worth. Sheets: Summary (per currency: points
 * opening, issued, reversed, expired, redeemed, outstanding, the value of a
 * point and the liability, a check cell that is 0; then the tiers),
 * Movements (every ledger row of the date) and Tier movements. Read from
 * the database, so a workbook written again later has the same figures;
 * formulas carry their values for readers that do not recalculate.
 * Amounts are written as the double nearest to their exact decimal text:
 * no float arithmetic touches them. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xlsxwriter.h>

#include "loyalty.h"
#include "purser/money.h"

#define LOYALTY_MAX_FORMATS 64
#define LOYALTY_SUMMARY_HEADER 5 /* row of the per-currency header */

typedef struct loyalty_fmt {
    char code[4];
    int exponent;
    lxw_format *money;
} loyalty_fmt;

typedef struct loyalty_book {
    lxw_workbook *wb;
    lxw_format *bold, *header, *points;
    loyalty_fmt fmts[LOYALTY_MAX_FORMATS];
    size_t n_fmts;
    int failed;
    char err[512]; /* the first failure */
} loyalty_book;

/* ---- cells ---------------------------------------------------------------------- */

static void loyalty_fail(loyalty_book *b, const char *fmt, ...) PURSER_PRINTF(2, 3);
static void loyalty_fail(loyalty_book *b, const char *fmt, ...)
{
    if (b->failed)
        return;
    b->failed = 1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b->err, sizeof b->err, fmt, ap);
    va_end(ap);
}

static void loyalty_check(loyalty_book *b, lxw_error err, const char *what)
{
    if (err != LXW_NO_ERROR)
        loyalty_fail(b, "%s: %s", what, lxw_strerror(err));
}

/* The money format of a currency: "#,##0.00 \"EUR\"" for exponent 2. */
static lxw_format *loyalty_money_format(loyalty_book *b, const char *code, int exponent)
{
    for (size_t i = 0; i < b->n_fmts; i++)
        if (strcmp(b->fmts[i].code, code) == 0)
            return b->fmts[i].money;
    if (b->n_fmts == LOYALTY_MAX_FORMATS) {
        loyalty_fail(b, "more than %d currencies in one workbook", LOYALTY_MAX_FORMATS);
        return NULL;
    }
    loyalty_fmt *f = &b->fmts[b->n_fmts++];
    snprintf(f->code, sizeof f->code, "%s", code);
    f->exponent = exponent;
    char num[64];
    snprintf(num, sizeof num, "#,##0%s%.*s \"%s\"", exponent > 0 ? "." : "", exponent, "000000000",
             code);
    f->money = workbook_add_format(b->wb);
    format_set_num_format(f->money, num);
    return f->money;
}

static void loyalty_text(loyalty_book *b, lxw_worksheet *ws, lxw_row_t r, lxw_col_t c,
                         const char *s, lxw_format *f)
{
    if (s && *s)
        loyalty_check(b, worksheet_write_string(ws, r, c, s, f), "writing text");
}

static void loyalty_int(loyalty_book *b, lxw_worksheet *ws, lxw_row_t r, lxw_col_t c, int64_t v)
{
    loyalty_check(b, worksheet_write_number(ws, r, c, (double)v, b->points), "writing a number");
}

static void loyalty_money(loyalty_book *b, lxw_worksheet *ws, lxw_row_t r, lxw_col_t c,
                          const char *code, int exponent, int64_t minor)
{
    lxw_format *f = loyalty_money_format(b, code, exponent);
    loyalty_check(b, worksheet_write_number(ws, r, c, purser_money_to_double(minor, exponent), f),
                  "writing an amount");
}

static void loyalty_headers(loyalty_book *b, lxw_worksheet *ws, lxw_row_t r,
                            const char *const *names, int n)
{
    for (int c = 0; c < n; c++)
        loyalty_text(b, ws, r, (lxw_col_t)c, names[c], b->header);
}

static int64_t loyalty_cell_int(const PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? 0 : strtoll(PQgetvalue(res, row, col), NULL, 10);
}

/* ---- queries ------------------------------------------------------------------- */

static PGresult *loyalty_query(loyalty_state *st, purser_ctx *ctx, PGconn *db, const char *what,
                               const char *sql, const char *date)
{
    const char *p[1] = {date};
    PGresult *r = PQexecParams(db, sql, 1, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) == PGRES_TUPLES_OK)
        return r;
    char buf[1024];
    st->host->log(ctx, PURSER_LOG_ERROR, "workbook, %s: %s", what,
                  loyalty_pg_error(r, buf, sizeof buf));
    PQclear(r);
    return NULL;
}

static const char loyalty_sql_run_info[] =
    "SELECT to_char(cutoff AT TIME ZONE timezone, 'YYYY-MM-DD HH24:MI') || ' ' || timezone, "
    "       (rules->>'expiry_days')::integer, (rules->>'tier_window_days')::integer, "
    "       jsonb_array_length(rules->'tiers') "
    "  FROM loyalty_runs WHERE business_date = $1::date";

/* Per currency: the ledger up to the date, the date's movements by kind,
 * and the value of a point as the run had it. */
static const char loyalty_sql_summary[] =
    "WITH r AS (SELECT rules FROM loyalty_runs WHERE business_date = $1::date), "
    "cur AS (SELECT DISTINCT currency FROM loyalty_points WHERE business_date <= $1::date "
    "        UNION SELECT jsonb_object_keys(rules->'point_value_minor') FROM r), "
    "t AS ("
    "  SELECT c.currency, i.exponent, "
    "         (SELECT (rules->'point_value_minor'->>c.currency)::bigint FROM r) AS value_minor, "
    "         count(l.id) FILTER (WHERE l.business_date = $1::date AND l.kind = 'accrual') AS "
    "orders, "
    "         coalesce(sum(l.points) FILTER (WHERE l.business_date < $1::date), 0) AS opening, "
    "         coalesce(sum(l.points) FILTER (WHERE l.business_date = $1::date "
    "                                           AND l.kind = 'accrual'), 0) AS issued, "
    "         coalesce(-sum(l.points) FILTER (WHERE l.business_date = $1::date "
    "                        AND l.kind = 'reversal' AND l.reason = 'refund'), 0) AS refunds, "
    "         coalesce(-sum(l.points) FILTER (WHERE l.business_date = $1::date "
    "                        AND l.kind = 'reversal' AND l.reason = 'chargeback'), 0) AS cbs, "
    "         coalesce(-sum(l.points) FILTER (WHERE l.business_date = $1::date "
    "                                            AND l.kind = 'expiry'), 0) AS expired, "
    "         coalesce(-sum(l.points) FILTER (WHERE l.business_date = $1::date "
    "                                            AND l.kind = 'redemption'), 0) AS redeemed, "
    "         coalesce(sum(l.points) FILTER (WHERE l.business_date <= $1::date), 0) AS closing "
    "    FROM cur c JOIN iso4217 i ON i.code = c.currency "
    "    LEFT JOIN loyalty_points l ON l.currency = c.currency "
    "   GROUP BY c.currency, i.exponent) "
    "SELECT currency, exponent, value_minor, orders, opening, issued, refunds, cbs, expired, "
    "       redeemed, closing, (closing::numeric * value_minor)::bigint "
    "  FROM t ORDER BY currency";

/* Per tier of the run's rules: buyers in it after the date, and the
 * date's moves into it from below and from above. */
static const char loyalty_sql_tier_counts[] =
    "WITH r AS (SELECT rules FROM loyalty_runs WHERE business_date = $1::date), "
    "lv AS (SELECT e.name, e.ord FROM r, "
    "         jsonb_array_elements_text(r.rules->'tiers') WITH ORDINALITY e(name, ord)), "
    "cur AS (SELECT DISTINCT ON (buyer_id) buyer_id, to_tier AS tier FROM loyalty_tier_changes "
    "         WHERE business_date <= $1::date ORDER BY buyer_id, business_date DESC, id DESC), "
    "moved AS (SELECT m.to_tier, coalesce(f.ord, 0) AS from_ord FROM loyalty_tier_changes m "
    "           LEFT JOIN lv f ON f.name = m.from_tier WHERE m.business_date = $1::date) "
    "SELECT lv.name, "
    "       CASE WHEN lv.ord = 1 THEN (SELECT count(*) FROM buyers) "
    "                                 - (SELECT count(*) FROM cur WHERE cur.tier <> lv.name) "
    "            ELSE (SELECT count(*) FROM cur WHERE cur.tier = lv.name) END, "
    "       (SELECT count(*) FROM moved WHERE to_tier = lv.name AND from_ord < lv.ord), "
    "       (SELECT count(*) FROM moved WHERE to_tier = lv.name AND from_ord > lv.ord) "
    "  FROM lv ORDER BY lv.ord";

static const char loyalty_sql_movements[] =
    "SELECT l.kind, l.reason, b.external_ref, o.external_ref, p.provider_ref, l.currency, "
    "       i.exponent, l.points, l.basis_minor "
    "  FROM loyalty_points l JOIN buyers b ON b.id = l.buyer_id "
    "  JOIN iso4217 i ON i.code = l.currency "
    "  LEFT JOIN orders o ON o.id = l.order_id LEFT JOIN payments p ON p.id = l.payment_id "
    " WHERE l.business_date = $1::date ORDER BY l.id";

static const char loyalty_sql_tier_moves[] =
    "WITH r AS (SELECT rules FROM loyalty_runs WHERE business_date = $1::date), "
    "lv AS (SELECT e.name, e.ord FROM r, "
    "         jsonb_array_elements_text(r.rules->'tiers') WITH ORDINALITY e(name, ord)) "
    "SELECT b.external_ref, t.from_tier, t.to_tier, "
    "       CASE WHEN coalesce(f.ord, 0) < coalesce(g.ord, 0) THEN 'up' ELSE 'down' END, "
    "       t.currency, i.exponent, t.spend_minor, t.window_days "
    "  FROM loyalty_tier_changes t JOIN buyers b ON b.id = t.buyer_id "
    "  LEFT JOIN iso4217 i ON i.code = t.currency "
    "  LEFT JOIN lv f ON f.name = t.from_tier LEFT JOIN lv g ON g.name = t.to_tier "
    " WHERE t.business_date = $1::date ORDER BY b.external_ref";

/* ---- sheets --------------------------------------------------------------------- */

static void loyalty_days(loyalty_book *b, lxw_worksheet *ws, lxw_row_t r, const char *label,
                         int64_t days, const char *none)
{
    char text[64];
    snprintf(text, sizeof text, "%lld days", (long long)days);
    loyalty_text(b, ws, r, 0, label, b->bold);
    loyalty_text(b, ws, r, 1, days > 0 ? text : none, NULL);
}

/* One row of the per-currency table; r is 0-based, formulas are 1-based. */
static void loyalty_summary_row(loyalty_book *b, lxw_worksheet *ws, lxw_row_t r,
                                const PGresult *res, int i)
{
    const char *code = PQgetvalue(res, i, 0);
    int exponent = (int)loyalty_cell_int(res, i, 1);
    int64_t v[8];
    for (int k = 0; k < 8; k++)
        v[k] = loyalty_cell_int(res, i, 3 + k); /* orders .. closing */
    loyalty_text(b, ws, r, 0, code, NULL);
    for (int k = 0; k < 8; k++)
        loyalty_int(b, ws, r, (lxw_col_t)(1 + k), v[k]);
    char f[128];
    unsigned row = (unsigned)r + 1;
    if (!PQgetisnull(res, i, 2)) {
        lxw_format *money = loyalty_money_format(b, code, exponent);
        loyalty_money(b, ws, r, 9, code, exponent, loyalty_cell_int(res, i, 2));
        snprintf(f, sizeof f, "=I%u*J%u", row, row);
        loyalty_check(b,
                      worksheet_write_formula_num(
                          ws, r, 10, f, money,
                          purser_money_to_double(loyalty_cell_int(res, i, 11), exponent)),
                      "writing a formula");
    }
    snprintf(f, sizeof f, "=C%u+D%u-E%u-F%u-G%u-H%u-I%u", row, row, row, row, row, row, row);
    int64_t check = v[1] + v[2] - v[3] - v[4] - v[5] - v[6] - v[7];
    loyalty_check(b, worksheet_write_formula_num(ws, r, 11, f, b->points, (double)check),
                  "writing a formula");
}

static int loyalty_summary(loyalty_state *st, purser_ctx *ctx, PGconn *db, loyalty_book *b,
                           const char *date)
{
    PGresult *info = loyalty_query(st, ctx, db, "the run", loyalty_sql_run_info, date);
    if (!info || PQntuples(info) != 1) {
        if (info)
            st->host->log(ctx, PURSER_LOG_ERROR, "workbook: %s has not been posted", date);
        PQclear(info);
        return -1;
    }
    lxw_worksheet *ws = workbook_add_worksheet(b->wb, "Summary");
    loyalty_text(b, ws, 0, 0, "Loyalty points", b->bold);
    loyalty_text(b, ws, 0, 1, date, NULL);
    loyalty_text(b, ws, 1, 0, "Cutoff", b->bold);
    loyalty_text(b, ws, 1, 1, PQgetvalue(info, 0, 0), NULL);
    loyalty_days(b, ws, 2, "Points expire after", loyalty_cell_int(info, 0, 1), "never");
    loyalty_days(b, ws, 3, "Tier window",
                 loyalty_cell_int(info, 0, 3) > 0 ? loyalty_cell_int(info, 0, 2) : 0, "no tiers");
    PQclear(info);

    static const char *const cols[] = {
        "Currency",           "Orders accrued",        "Opening points", "Issued",
        "Reversed: refunds",  "Reversed: chargebacks", "Expired",        "Redeemed",
        "Outstanding points", "Value per point",       "Liability",      "Check"};
    loyalty_headers(b, ws, LOYALTY_SUMMARY_HEADER, cols, 12);
    worksheet_freeze_panes(ws, LOYALTY_SUMMARY_HEADER + 1, 1);
    worksheet_set_column(ws, 0, 0, 20, NULL);
    worksheet_set_column(ws, 1, 11, 16, NULL);
    PGresult *res = loyalty_query(st, ctx, db, "the summary", loyalty_sql_summary, date);
    if (!res)
        return -1;
    lxw_row_t r = LOYALTY_SUMMARY_HEADER + 1;
    for (int i = 0; i < PQntuples(res); i++)
        loyalty_summary_row(b, ws, r++, res, i);
    PQclear(res);

    res = loyalty_query(st, ctx, db, "the tiers", loyalty_sql_tier_counts, date);
    if (!res)
        return -1;
    if (PQntuples(res) > 0) {
        static const char *const tcols[] = {"Tier", "Buyers", "Moved up into", "Moved down into"};
        loyalty_headers(b, ws, ++r, tcols, 4);
        for (int i = 0; i < PQntuples(res); i++) {
            loyalty_text(b, ws, ++r, 0, PQgetvalue(res, i, 0), NULL);
            for (int k = 1; k <= 3; k++)
                loyalty_int(b, ws, r, (lxw_col_t)k, loyalty_cell_int(res, i, k));
        }
    }
    PQclear(res);
    return 0;
}

static int loyalty_movements(loyalty_state *st, purser_ctx *ctx, PGconn *db, loyalty_book *b,
                             const char *date)
{
    lxw_worksheet *ws = workbook_add_worksheet(b->wb, "Movements");
    static const char *const cols[] = {"Kind",    "Reason",   "Buyer",  "Order",
                                       "Payment", "Currency", "Points", "Basis"};
    loyalty_headers(b, ws, 0, cols, 8);
    worksheet_freeze_panes(ws, 1, 0);
    worksheet_set_column(ws, 0, 0, 11, NULL);
    worksheet_set_column(ws, 1, 1, 40, NULL);
    worksheet_set_column(ws, 2, 7, 15, NULL);
    PGresult *res = loyalty_query(st, ctx, db, "the movements", loyalty_sql_movements, date);
    if (!res)
        return -1;
    int n = PQntuples(res);
    for (int i = 0; i < n; i++) {
        lxw_row_t r = (lxw_row_t)i + 1;
        for (int c = 0; c < 6; c++)
            loyalty_text(b, ws, r, (lxw_col_t)c, PQgetvalue(res, i, c), NULL);
        loyalty_int(b, ws, r, 6, loyalty_cell_int(res, i, 7));
        if (!PQgetisnull(res, i, 8))
            loyalty_money(b, ws, r, 7, PQgetvalue(res, i, 5), (int)loyalty_cell_int(res, i, 6),
                          loyalty_cell_int(res, i, 8));
    }
    PQclear(res);
    loyalty_check(b, worksheet_autofilter(ws, 0, 0, (lxw_row_t)n, 7), "setting an autofilter");
    return 0;
}

static int loyalty_tier_moves(loyalty_state *st, purser_ctx *ctx, PGconn *db, loyalty_book *b,
                              const char *date)
{
    lxw_worksheet *ws = workbook_add_worksheet(b->wb, "Tier movements");
    static const char *const cols[] = {"Buyer",    "From",           "To",         "Direction",
                                       "Currency", "Trailing spend", "Window days"};
    loyalty_headers(b, ws, 0, cols, 7);
    worksheet_freeze_panes(ws, 1, 0);
    worksheet_set_column(ws, 0, 6, 15, NULL);
    PGresult *res = loyalty_query(st, ctx, db, "the tier movements", loyalty_sql_tier_moves, date);
    if (!res)
        return -1;
    int n = PQntuples(res);
    for (int i = 0; i < n; i++) {
        lxw_row_t r = (lxw_row_t)i + 1;
        for (int c = 0; c < 5; c++)
            loyalty_text(b, ws, r, (lxw_col_t)c, PQgetvalue(res, i, c), NULL);
        if (!PQgetisnull(res, i, 4))
            loyalty_money(b, ws, r, 5, PQgetvalue(res, i, 4), (int)loyalty_cell_int(res, i, 5),
                          loyalty_cell_int(res, i, 6));
        loyalty_int(b, ws, r, 6, loyalty_cell_int(res, i, 7));
    }
    PQclear(res);
    loyalty_check(b, worksheet_autofilter(ws, 0, 0, (lxw_row_t)n, 6), "setting an autofilter");
    return 0;
}

/* ---- the workbook ----------------------------------------------------------------- */

int loyalty_workbook_write(loyalty_state *st, purser_ctx *ctx, PGconn *db, const char *date,
                           const char *tmp_path)
{
    loyalty_book b = {0};
    lxw_workbook_options opt = {.constant_memory = LXW_TRUE, .tmpdir = NULL, .use_zip64 = LXW_TRUE};
    b.wb = workbook_new_opt(tmp_path, &opt);
    if (!b.wb) {
        st->host->log(ctx, PURSER_LOG_ERROR, "cannot create %s: check the report folder", tmp_path);
        return -1;
    }
    b.bold = workbook_add_format(b.wb);
    format_set_bold(b.bold);
    b.header = workbook_add_format(b.wb);
    format_set_bold(b.header);
    format_set_bottom(b.header, LXW_BORDER_THIN);
    b.points = workbook_add_format(b.wb);
    format_set_num_format(b.points, "#,##0");
    int rc = loyalty_summary(st, ctx, db, &b, date) == 0 &&
                     loyalty_movements(st, ctx, db, &b, date) == 0 &&
                     loyalty_tier_moves(st, ctx, db, &b, date) == 0
                 ? 0
                 : -1;
    lxw_error err = workbook_close(b.wb);
    if (err != LXW_NO_ERROR)
        loyalty_fail(&b, "writing %s: %s", tmp_path, lxw_strerror(err));
    if (b.failed) {
        st->host->log(ctx, PURSER_LOG_ERROR, "workbook %s: %s", tmp_path, b.err);
        rc = -1;
    }
    return rc;
}
