/* The workbook finance opens: reconciliation_<provider>_<date>.xlsx with a
 * Summary (per currency the report's total, each category, and a Difference
 * that must be 0; source files and their SHA-256; parameters), one sheet
 * per exception category named as recon.h names it, probable, pending,
 * Matched and Payouts. Amounts in the currency's exponent, IDs as text,
 * dates as Excel dates in the source's zone, frozen headers, autofilters.
 * Written in constant-memory mode (rows streamed from a cursor) to
 * ".tmp", renamed when complete. */
#include <errno.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xlsxwriter.h>

#include "purser/money.h"
#include "purser/recon.h"
#include "recon_internal.h"

typedef struct recon_book {
    recon_job *job;
    lxw_workbook *wb;
    lxw_format *head, *title, *bold, *date, *day, *text, *amount[5], *amount_bold[5];
    recon_refdata *ref;
    recon_lookup lookup;
    char run[24];
    int64_t max_rows;
    char err[512];
} recon_book;

typedef struct recon_col {
    const char *name;
    double width;
} recon_col;

static int recon_exp(recon_book *b, const char *cur)
{
    int e = cur && *cur ? b->lookup.exponent(b->lookup.arg, cur) : -1;
    return e < 0 || e > 4 ? 2 : e;
}

/* An amount cell (blank when v is NULL text). */
static void recon_cell_amount(recon_book *b, lxw_worksheet *ws, lxw_row_t r, lxw_col_t c,
                              const char *v, const char *cur)
{
    if (!v || !*v)
        return;
    int e = recon_exp(b, cur);
    worksheet_write_number(ws, r, c, purser_money_to_double(strtoll(v, NULL, 10), e), b->amount[e]);
}

static void recon_cell_text(recon_book *b, lxw_worksheet *ws, lxw_row_t r, lxw_col_t c,
                            const char *v)
{
    if (v && *v)
        worksheet_write_string(ws, r, c, v, b->text);
}

/* "YYYY-MM-DD HH:MM:SS" (or a date) as an Excel date. */
static void recon_cell_date(recon_book *b, lxw_worksheet *ws, lxw_row_t r, lxw_col_t c,
                            const char *v)
{
    lxw_datetime dt = {0, 0, 0, 0, 0, 0};
    int sec = 0;
    if (!v ||
        sscanf(v, "%d-%d-%d %d:%d:%d", &dt.year, &dt.month, &dt.day, &dt.hour, &dt.min, &sec) < 3)
        return;
    dt.sec = sec;
    worksheet_write_datetime(ws, r, c, &dt, strlen(v) > 10 ? b->date : b->day);
}

static lxw_worksheet *recon_sheet(recon_book *b, const char *name, const recon_col *cols, int n)
{
    lxw_worksheet *ws = workbook_add_worksheet(b->wb, name);
    if (!ws)
        return NULL;
    for (int i = 0; i < n; i++) {
        worksheet_set_column(ws, (lxw_col_t)i, (lxw_col_t)i, cols[i].width, NULL);
        worksheet_write_string(ws, 0, (lxw_col_t)i, cols[i].name, b->head);
    }
    worksheet_freeze_panes(ws, 1, 0);
    return ws;
}

/* Stream a query's rows through a cursor; fn writes one row. Returns rows
 * written, or -1. */
typedef void (*recon_row_fn)(recon_book *b, lxw_worksheet *ws, lxw_row_t r, PGresult *res, int i);

static int64_t recon_stream_rows(recon_book *b, lxw_worksheet *ws, const char *sql, int n,
                                 const char *const *p, recon_row_fn fn)
{
    PGconn *db = b->job->db;
    PGresult *r = PQexecParams(db, "BEGIN READ ONLY", 0, NULL, NULL, NULL, NULL, 0);
    PQclear(r);
    size_t qlen = strlen(sql) + 64;
    char *q = malloc(qlen);
    if (!q)
        return -1;
    snprintf(q, qlen, "DECLARE recon_cur NO SCROLL CURSOR FOR %s", sql);
    r = PQexecParams(db, q, n, NULL, p, NULL, NULL, 0);
    free(q);
    int64_t rows = 0;
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok)
        recon_pg_error("reading results", r, b->err, sizeof b->err);
    PQclear(r);
    while (ok) {
        r = PQexec(db, "FETCH 20000 FROM recon_cur");
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            recon_pg_error("reading results", r, b->err, sizeof b->err);
            ok = false;
        }
        int nt = ok ? PQntuples(r) : 0;
        for (int i = 0; i < nt && rows < b->max_rows; i++)
            fn(b, ws, (lxw_row_t)(++rows), r, i);
        PQclear(r);
        if (nt == 0 || rows >= b->max_rows)
            break;
    }
    r = PQexec(db, ok ? "COMMIT" : "ROLLBACK");
    PQclear(r);
    return ok ? rows : -1;
}

static void recon_filter(lxw_worksheet *ws, int64_t rows, int cols)
{
    worksheet_autofilter(ws, 0, 0, (lxw_row_t)(rows > 0 ? rows : 1), (lxw_col_t)(cols - 1));
}

/* ---- exception, probable and pending sheets ---------------------------------- */

static const recon_col recon_exc_cols[] = {{"reference", 26},
                                           {"kind", 12},
                                           {"currency", 9},
                                           {"amount", 14},
                                           {"our amount", 14},
                                           {"difference", 13},
                                           {"fee", 11},
                                           {"expected fee", 12},
                                           {"net currency", 12},
                                           {"net", 14},
                                           {"date", 19},
                                           {"zone", 11},
                                           {"our payment", 12},
                                           {"original reference", 24},
                                           {"our original payment", 20},
                                           {"source", 34},
                                           {"open since", 11},
                                           {"detail", 60}};
#define RECON_EXC_NCOLS ((int)(sizeof recon_exc_cols / sizeof *recon_exc_cols))

static const char *recon_get(PGresult *r, int i, int c)
{
    return PQgetisnull(r, i, c) ? NULL : PQgetvalue(r, i, c);
}

static void recon_exc_row(recon_book *b, lxw_worksheet *ws, lxw_row_t row, PGresult *r, int i)
{
    const char *cur = recon_get(r, i, 2), *our_cur = recon_get(r, i, 5);
    const char *ncur = recon_get(r, i, 8);
    recon_cell_text(b, ws, row, 0, recon_get(r, i, 0));
    recon_cell_text(b, ws, row, 1, recon_get(r, i, 1));
    recon_cell_text(b, ws, row, 2, cur);
    recon_cell_amount(b, ws, row, 3, recon_get(r, i, 3), cur);
    recon_cell_amount(b, ws, row, 4, recon_get(r, i, 4), our_cur);
    const char *a = recon_get(r, i, 3), *o = recon_get(r, i, 4);
    if (a && o && cur && our_cur && strcmp(cur, our_cur) == 0) {
        int e = recon_exp(b, cur);
        char f[64];
        snprintf(f, sizeof f, "=D%u-E%u", (unsigned)row + 1, (unsigned)row + 1);
        worksheet_write_formula_num(
            ws, row, 5, f, b->amount[e],
            purser_money_to_double(strtoll(a, NULL, 10) - strtoll(o, NULL, 10), e));
    }
    recon_cell_amount(b, ws, row, 6, recon_get(r, i, 6), ncur ? ncur : our_cur);
    recon_cell_amount(b, ws, row, 7, recon_get(r, i, 7), ncur ? ncur : our_cur);
    recon_cell_text(b, ws, row, 8, ncur);
    recon_cell_amount(b, ws, row, 9, recon_get(r, i, 9), ncur);
    recon_cell_date(b, ws, row, 10, recon_get(r, i, 10));
    recon_cell_text(b, ws, row, 11, recon_get(r, i, 11));
    for (int c = 12; c <= 15; c++)
        recon_cell_text(b, ws, row, (lxw_col_t)c, recon_get(r, i, c));
    recon_cell_date(b, ws, row, 16, recon_get(r, i, 16));
    recon_cell_text(b, ws, row, 17, recon_get(r, i, 17));
}

static const char *const recon_exc_sql =
    "SELECT x.reference, x.kind, coalesce(x.currency, x.our_currency), x.amount_minor, "
    "  x.our_amount_minor, x.our_currency, x.fee_minor, x.expected_fee_minor, x.net_currency, "
    "  x.net_minor, to_char(x.local_time, 'YYYY-MM-DD HH24:MI:SS'), x.zone, "
    "  x.payment_id::text, nullif(x.original_ref, ''), "
    "  (SELECT provider_ref FROM payments WHERE id = x.original_payment), "
    "  f.name || ':' || x.line, "
    "  (SELECT e.first_seen::text FROM recon_exceptions e WHERE e.provider = $2 "
    "   AND e.category = x.category AND e.reference = x.reference "
    "   AND e.currency = coalesce(x.currency, x.our_currency, '')), x.detail "
    "FROM recon_results x LEFT JOIN recon_files f ON f.id = x.file_id "
    "WHERE x.recon_run_id = $1 AND x.category = $3 "
    "ORDER BY x.reference, x.file_id, x.line";

static int recon_exc_sheet(recon_book *b, const char *category)
{
    lxw_worksheet *ws = recon_sheet(b, category, recon_exc_cols, RECON_EXC_NCOLS);
    if (!ws)
        return -1;
    const char *p[3] = {b->run, b->job->prov->name, category};
    int64_t n = recon_stream_rows(b, ws, recon_exc_sql, 3, p, recon_exc_row);
    recon_filter(ws, n, RECON_EXC_NCOLS);
    return n < 0 ? -1 : 0;
}

/* ---- payouts ---------------------------------------------------------------- */

static const recon_col recon_pay_cols[] = {
    {"reference", 40}, {"payout / batch", 16}, {"currency", 9},    {"rows", 8},
    {"rows net", 14},  {"payout", 14},         {"difference", 13}, {"date", 19},
    {"zone", 11},      {"status", 16},         {"source", 34},     {"detail", 60}};
#define RECON_PAY_NCOLS ((int)(sizeof recon_pay_cols / sizeof *recon_pay_cols))

static void recon_pay_row(recon_book *b, lxw_worksheet *ws, lxw_row_t row, PGresult *r, int i)
{
    const char *cur = recon_get(r, i, 2);
    int e = recon_exp(b, cur);
    recon_cell_text(b, ws, row, 0, recon_get(r, i, 0));
    recon_cell_text(b, ws, row, 1, recon_get(r, i, 1));
    recon_cell_text(b, ws, row, 2, cur);
    worksheet_write_number(ws, row, 3, strtod(recon_get(r, i, 3), NULL), NULL);
    recon_cell_amount(b, ws, row, 4, recon_get(r, i, 4), cur);
    recon_cell_amount(b, ws, row, 5, recon_get(r, i, 5), cur);
    char f[64];
    snprintf(f, sizeof f, "=F%u-E%u", (unsigned)row + 1, (unsigned)row + 1);
    worksheet_write_formula_num(ws, row, 6, f, b->amount[e],
                                purser_money_to_double(strtoll(recon_get(r, i, 6), NULL, 10), e));
    recon_cell_date(b, ws, row, 7, recon_get(r, i, 7));
    for (int c = 8; c <= 11; c++)
        recon_cell_text(b, ws, row, (lxw_col_t)c, recon_get(r, i, c));
}

static int recon_pay_sheet(recon_book *b, const char *name, bool only_mismatches)
{
    lxw_worksheet *ws = recon_sheet(b, name, recon_pay_cols, RECON_PAY_NCOLS);
    if (!ws)
        return -1;
    const char *p[2] = {b->run, only_mismatches ? "t" : "f"};
    int64_t n = recon_stream_rows(
        b, ws,
        "SELECT y.reference, y.payout_ref, y.currency, y.row_count, y.rows_net_minor, "
        "  y.payout_minor, y.difference_minor, to_char(y.local_time, 'YYYY-MM-DD HH24:MI:SS'), "
        "  y.zone, y.category, f.name || ':' || y.line, y.detail "
        "FROM recon_payouts y JOIN recon_files f ON f.id = y.file_id "
        "WHERE y.recon_run_id = $1 AND (NOT $2::boolean OR y.category = 'payout_mismatch') "
        "ORDER BY y.file_id, y.line, y.currency",
        2, p, recon_pay_row);
    recon_filter(ws, n, RECON_PAY_NCOLS);
    return n < 0 ? -1 : 0;
}

/* ---- matched ----------------------------------------------------------------- */

static const recon_col recon_match_cols[] = {{"reference", 26},
                                             {"kind", 12},
                                             {"currency", 9},
                                             {"amount", 14},
                                             {"fee", 11},
                                             {"net", 14},
                                             {"date", 19},
                                             {"zone", 11},
                                             {"matched on", 18},
                                             {"our payment", 12},
                                             {"original reference", 24},
                                             {"line", 9}};
#define RECON_MATCH_NCOLS ((int)(sizeof recon_match_cols / sizeof *recon_match_cols))

static void recon_match_row(recon_book *b, lxw_worksheet *ws, lxw_row_t row, PGresult *r, int i)
{
    const char *cur = recon_get(r, i, 2), *ncur = recon_get(r, i, 11);
    recon_cell_text(b, ws, row, 0, recon_get(r, i, 0));
    recon_cell_text(b, ws, row, 1, recon_get(r, i, 1));
    recon_cell_text(b, ws, row, 2, cur);
    recon_cell_amount(b, ws, row, 3, recon_get(r, i, 3), cur);
    recon_cell_amount(b, ws, row, 4, recon_get(r, i, 4), ncur);
    recon_cell_amount(b, ws, row, 5, recon_get(r, i, 5), ncur);
    recon_cell_date(b, ws, row, 6, recon_get(r, i, 6));
    for (int c = 7; c <= 10; c++)
        recon_cell_text(b, ws, row, (lxw_col_t)c, recon_get(r, i, c));
    worksheet_write_number(ws, row, 11, strtod(recon_get(r, i, 12), NULL), NULL);
}

static int recon_match_sheet(recon_book *b)
{
    lxw_worksheet *ws = recon_sheet(b, "Matched", recon_match_cols, RECON_MATCH_NCOLS);
    if (!ws)
        return -1;
    const char *p[1] = {b->run};
    int64_t n = recon_stream_rows(
        b, ws,
        "SELECT r.reference, r.kind, r.currency, r.amount_minor, r.fee_minor, r.net_minor, "
        "  to_char(r.local_time, 'YYYY-MM-DD HH24:MI:SS'), r.zone, "
        "  coalesce(m.match_key, 'reference'), coalesce(m.payment_id, p.id)::text, "
        "  nullif(r.original_ref, ''), r.net_currency, r.line "
        "FROM recon_runs u JOIN recon_rows r ON r.file_id = ANY(u.files) AND r.kind <> 'payout' "
        "LEFT JOIN recon_results x ON x.recon_run_id = u.id AND x.file_id = r.file_id "
        "  AND x.line = r.line "
        "LEFT JOIN recon_matched m ON m.recon_run_id = u.id AND m.file_id = r.file_id "
        "  AND m.line = r.line "
        "LEFT JOIN payments p ON m.payment_id IS NULL AND p.provider = u.provider "
        "  AND p.provider_ref = r.reference "
        "  AND p.kind = CASE r.kind WHEN 'chargeback_reversal' THEN 'chargeback' ELSE r.kind END "
        "WHERE u.id = $1 AND x.recon_run_id IS NULL "
        "UNION ALL "
        "SELECT r.reference, r.kind, r.currency, r.amount_minor, r.fee_minor, r.net_minor, "
        "  to_char(r.local_time, 'YYYY-MM-DD HH24:MI:SS'), r.zone, m.match_key, "
        "  m.payment_id::text, nullif(r.original_ref, ''), r.net_currency, r.line "
        "FROM recon_runs u JOIN recon_matched m ON m.recon_run_id = u.id "
        "JOIN recon_rows r ON r.file_id = m.file_id AND r.line = m.line "
        "WHERE u.id = $1 AND NOT (m.file_id = ANY(u.files))",
        1, p, recon_match_row);
    recon_filter(ws, n, RECON_MATCH_NCOLS);
    return n < 0 ? -1 : 0;
}

/* ---- summary ----------------------------------------------------------------- */

static const char *const recon_row_cats[] = {"matched",
                                             "probable",
                                             "amount_mismatch",
                                             "currency_mismatch",
                                             "missing_internally",
                                             "duplicate_at_provider",
                                             "fee_discrepancy",
                                             "other"};
#define RECON_N_ROW_CATS ((int)(sizeof recon_row_cats / sizeof *recon_row_cats))

static PGresult *recon_q(recon_book *b, const char *sql, int n, const char *const *p)
{
    PGresult *r = PQexecParams(b->job->db, sql, n, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        recon_pg_error("summary", r, b->err, sizeof b->err);
        PQclear(r);
        return NULL;
    }
    return r;
}

/* Per currency: the report's total and each category, then Difference =
 * total - sum of the categories, as a formula with its value. `value`
 * columns: 1 or 2 amount columns (amount; or fee and net). */
static lxw_row_t recon_tie_table(recon_book *b, lxw_worksheet *ws, lxw_row_t row, const char *title,
                                 PGresult *tot, PGresult *cats, int nvals,
                                 const char *const *vnames)
{
    worksheet_write_string(ws, row++, 0, title, b->bold);
    worksheet_write_string(ws, row, 0, "currency", b->head);
    worksheet_write_string(ws, row, 1, "line", b->head);
    worksheet_write_string(ws, row, 2, "rows", b->head);
    for (int v = 0; v < nvals; v++)
        worksheet_write_string(ws, row, (lxw_col_t)(3 + v), vnames[v], b->head);
    row++;
    for (int t = 0; t < PQntuples(tot); t++) {
        const char *cur = PQgetvalue(tot, t, 0);
        int e = recon_exp(b, cur);
        lxw_row_t first = row;
        int64_t total[3], sum[3] = {0, 0, 0};
        worksheet_write_string(ws, row, 0, cur, b->bold);
        worksheet_write_string(ws, row, 1, "provider total", b->bold);
        for (int v = 0; v <= nvals; v++) {
            total[v] = strtoll(PQgetvalue(tot, t, 1 + v), NULL, 10);
            if (v == 0)
                worksheet_write_number(ws, row, 2, (double)total[0], b->bold);
            else
                worksheet_write_number(ws, row, (lxw_col_t)(2 + v),
                                       purser_money_to_double(total[v], e), b->amount_bold[e]);
        }
        row++;
        for (int c = 0; c < RECON_N_ROW_CATS; c++) {
            int64_t vals[3] = {0, 0, 0};
            for (int k = 0; k < PQntuples(cats); k++)
                if (strcmp(PQgetvalue(cats, k, 0), cur) == 0 &&
                    strcmp(PQgetvalue(cats, k, 1), recon_row_cats[c]) == 0)
                    for (int v = 0; v <= nvals; v++)
                        vals[v] = strtoll(PQgetvalue(cats, k, 2 + v), NULL, 10);
            worksheet_write_string(ws, row, 0, cur, NULL);
            worksheet_write_string(ws, row, 1,
                                   strcmp(recon_row_cats[c], "other") == 0
                                       ? "other (fees, adjustments: not payments)"
                                       : recon_row_cats[c],
                                   NULL);
            worksheet_write_number(ws, row, 2, (double)vals[0], NULL);
            for (int v = 1; v <= nvals; v++)
                worksheet_write_number(ws, row, (lxw_col_t)(2 + v),
                                       purser_money_to_double(vals[v], e), b->amount[e]);
            for (int v = 0; v <= nvals; v++)
                sum[v] += vals[v];
            row++;
        }
        worksheet_write_string(ws, row, 0, cur, b->bold);
        worksheet_write_string(ws, row, 1, "Difference (must be 0)", b->bold);
        for (int v = 0; v <= nvals; v++) {
            char col = (char)('C' + v), f[96];
            snprintf(f, sizeof f, "=%c%u-SUM(%c%u:%c%u)", col, (unsigned)first + 1, col,
                     (unsigned)first + 2, col, (unsigned)row);
            double val =
                v == 0 ? (double)(total[0] - sum[0]) : purser_money_to_double(total[v] - sum[v], e);
            worksheet_write_formula_num(ws, row, (lxw_col_t)(2 + v), f,
                                        v == 0 ? b->bold : b->amount_bold[e], val);
        }
        row += 2;
    }
    if (PQntuples(tot) == 0)
        worksheet_write_string(ws, row++, 0, "(the report has no rows)", NULL);
    return row + 1;
}

static lxw_row_t recon_plain_table(recon_book *b, lxw_worksheet *ws, lxw_row_t row,
                                   const char *title, const char *const *heads, int ncols,
                                   PGresult *r, unsigned amount_cols, int cur_col)
{
    worksheet_write_string(ws, row++, 0, title, b->bold);
    for (int c = 0; c < ncols; c++)
        worksheet_write_string(ws, row, (lxw_col_t)c, heads[c], b->head);
    row++;
    for (int i = 0; i < PQntuples(r); i++, row++)
        for (int c = 0; c < ncols; c++) {
            const char *v = recon_get(r, i, c);
            if (amount_cols & (1u << c))
                recon_cell_amount(b, ws, row, (lxw_col_t)c, v, recon_get(r, i, cur_col));
            else if (v && c > 0 && strspn(v, "-0123456789") == strlen(v) && c != cur_col &&
                     strlen(v) < 10)
                worksheet_write_number(ws, row, (lxw_col_t)c, strtod(v, NULL), NULL);
            else
                recon_cell_text(b, ws, row, (lxw_col_t)c, v);
        }
    if (PQntuples(r) == 0)
        worksheet_write_string(ws, row++, 0, "(none)", NULL);
    return row + 1;
}

/* Each row of the run's own report files (not the rows carried from
 * earlier nights) with its verdict: r.*, x.category. A row without a
 * stored verdict was matched (on its own reference, or in recon_matched). */
#define RECON_RUN_ROWS                                                                             \
    "recon_runs u JOIN recon_rows r ON r.file_id = ANY(u.files) AND r.kind <> 'payout' "           \
    "LEFT JOIN (SELECT file_id, line, category FROM recon_results WHERE recon_run_id = $1) y "     \
    "  ON y.file_id = r.file_id AND y.line = r.line "                                              \
    "CROSS JOIN LATERAL (SELECT coalesce(y.category, 'matched') AS category) x "                   \
    "WHERE u.id = $1"

static int recon_summary(recon_book *b)
{
    recon_job *job = b->job;
    lxw_worksheet *ws = workbook_add_worksheet(b->wb, "Summary");
    if (!ws)
        return -1;
    worksheet_set_column(ws, 0, 0, 40, NULL);
    worksheet_set_column(ws, 1, 1, 40, NULL);
    worksheet_set_column(ws, 2, 6, 16, NULL);
    char title[256], when[64];
    snprintf(title, sizeof title, "Payment reconciliation: %s, business date %s", job->prov->name,
             job->date);
    worksheet_write_string(ws, 0, 0, title, b->title);
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &tm);
    char sub[256];
    snprintf(sub, sizeof sub, "reconciliation run %s, purser run %lld, written %s", b->run,
             (long long)job->run_id, when);
    worksheet_write_string(ws, 1, 0, sub, NULL);
    worksheet_freeze_panes(ws, 3, 0);
    const char *p[2] = {b->run, job->prov->name};
    lxw_row_t row = 3;
    /* the report's rows: totals from the rows themselves, categories from
     * the results, so the Difference is a real check */
    PGresult *tot =
        recon_q(b,
                "SELECT r.currency, count(*), sum(r.amount_minor) FROM recon_rows r "
                "JOIN recon_runs u ON u.id = $1 AND r.file_id = ANY(u.files) WHERE true "
                "AND r.kind <> 'payout' GROUP BY 1 ORDER BY 1",
                1, p);
    PGresult *cats = tot ? recon_q(b,
                                   "SELECT r.currency, x.category, count(*), sum(r.amount_minor) "
                                   "FROM " RECON_RUN_ROWS " GROUP BY 1, 2",
                                   1, p)
                         : NULL;
    if (!cats) {
        PQclear(tot);
        return -1;
    }
    const char *amount_name[1] = {"amount"};
    row = recon_tie_table(b, ws, row, "The report's rows by transaction currency", tot, cats, 1,
                          amount_name);
    PQclear(tot);
    PQclear(cats);
    tot = recon_q(b,
                  "SELECT r.net_currency, count(*), sum(r.fee_minor), sum(r.net_minor) FROM "
                  "recon_rows r JOIN recon_runs u ON u.id = $1 AND r.file_id = ANY(u.files) "
                  "WHERE r.kind <> 'payout' GROUP BY 1 ORDER BY 1",
                  1, p);
    cats = tot ? recon_q(b,
                         "SELECT r.net_currency, x.category, count(*), sum(r.fee_minor), "
                         "sum(r.net_minor) FROM " RECON_RUN_ROWS " GROUP BY 1, 2",
                         1, p)
               : NULL;
    if (!cats) {
        PQclear(tot);
        return -1;
    }
    const char *net_names[2] = {"fees", "net"};
    row = recon_tie_table(b, ws, row, "The report's fees and net by settlement currency", tot, cats,
                          2, net_names);
    PQclear(tot);
    PQclear(cats);
    struct {
        const char *title;
        const char *sql;
        const char *heads[6];
        int ncols;
        unsigned amount_cols;
        int cur_col;
    } tables[] = {
        {"Our payments the reports do not have",
         "SELECT our_currency, category, count(*), sum(our_amount_minor), "
         "count(*) FILTER (WHERE carried) FROM recon_results WHERE recon_run_id = $1 AND "
         "category IN ('missing_at_provider', 'pending') AND $2::text IS NOT NULL "
         "GROUP BY 1, 2 ORDER BY 1, 2",
         {"currency", "category", "payments", "amount", "of earlier dates"},
         5,
         1u << 3,
         0},
        {"Payouts, batches and footers",
         "SELECT currency, category, count(*), sum(payout_minor), sum(difference_minor) "
         "FROM recon_payouts WHERE recon_run_id = $1 AND $2::text IS NOT NULL "
         "GROUP BY 1, 2 ORDER BY 1, 2",
         {"currency", "status", "payouts", "paid out", "difference"},
         5,
         1u << 3 | 1u << 4,
         0},
        {"Exceptions (each has its own sheet)",
         "SELECT c.category, coalesce(t.tonight, 0), coalesce(t.carried, 0), "
         "  coalesce(r.resolved, 0) FROM unnest(ARRAY['amount_mismatch', 'currency_mismatch', "
         "  'missing_at_provider', 'missing_internally', 'duplicate_at_provider', "
         "  'fee_discrepancy', 'payout_mismatch']) WITH ORDINALITY c(category, o) "
         "LEFT JOIN (SELECT category, count(*) FILTER (WHERE NOT carried) AS tonight, "
         "  count(*) FILTER (WHERE carried) AS carried FROM (SELECT category, carried FROM "
         "  recon_results WHERE recon_run_id = $1 UNION ALL SELECT category, false FROM "
         "  recon_payouts WHERE recon_run_id = $1) u GROUP BY 1) t USING (category) "
         "LEFT JOIN (SELECT category, count(*) AS resolved FROM recon_exceptions "
         "  WHERE provider = $2 AND resolved_run = $1 GROUP BY 1) r USING (category) "
         "ORDER BY c.o",
         {"category", "from tonight's report", "still open from earlier nights",
          "resolved tonight"},
         4,
         0,
         -1},
    };
    for (size_t t = 0; t < sizeof tables / sizeof *tables; t++) {
        PGresult *r = recon_q(b, tables[t].sql, 2, p);
        if (!r)
            return -1;
        row = recon_plain_table(b, ws, row, tables[t].title, tables[t].heads, tables[t].ncols, r,
                                tables[t].amount_cols, tables[t].cur_col);
        PQclear(r);
    }
    worksheet_write_string(ws, row++, 0, "Source files", b->bold);
    worksheet_write_string(ws, row, 0, "file", b->head);
    worksheet_write_string(ws, row, 1, "SHA-256", b->head);
    worksheet_write_string(ws, row++, 2, "file id", b->head);
    for (char *s = job->file_names; s && *s;) {
        char *nl = strchr(s, '\n');
        if (nl)
            *nl = '\0';
        char *t1 = strchr(s, '\t'), *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
        if (t1 && t2) {
            *t1 = *t2 = '\0';
            worksheet_write_string(ws, row, 0, s, b->text);
            worksheet_write_string(ws, row, 1, t1 + 1, b->text);
            worksheet_write_string(ws, row++, 2, t2 + 1, b->text);
            *t1 = *t2 = '\t';
        }
        if (nl)
            *nl = '\n';
        s = nl ? nl + 1 : s + strlen(s);
    }
    if (!job->file_names)
        worksheet_write_string(ws, row++, 0, "(no new report for this date)", NULL);
    row++;
    PGresult *r = recon_q(b, "SELECT parameters FROM recon_runs WHERE id = $1", 1, p);
    if (!r)
        return -1;
    worksheet_write_string(ws, row++, 0, "Parameters", b->bold);
    worksheet_write_string(ws, row++, 0, PQntuples(r) ? PQgetvalue(r, 0, 0) : "", NULL);
    worksheet_write_string(ws, row++, 0,
                           "matching keys, in order: the provider's transaction reference, its "
                           "reference of the original payment (captures), our order reference; "
                           "then amount + currency + date window, reported as probable",
                           NULL);
    PQclear(r);
    if (b->max_rows < 1048575) {
        char note[160];
        snprintf(note, sizeof note,
                 "list sheets hold at most %lld rows (workbook_max_rows); "
                 "all results are in the table recon_results",
                 (long long)b->max_rows);
        worksheet_write_string(ws, row++, 0, note, NULL);
    }
    return 0;
}

/* ---- the workbook -------------------------------------------------------------- */

static void recon_formats(recon_book *b)
{
    static const char *const amt[5] = {"#,##0", "#,##0.0", "#,##0.00", "#,##0.000", "#,##0.0000"};
    b->head = workbook_add_format(b->wb);
    format_set_bold(b->head);
    format_set_bottom(b->head, LXW_BORDER_THIN);
    format_set_bg_color(b->head, 0xDDEBF7);
    b->title = workbook_add_format(b->wb);
    format_set_bold(b->title);
    format_set_font_size(b->title, 14);
    b->bold = workbook_add_format(b->wb);
    format_set_bold(b->bold);
    b->date = workbook_add_format(b->wb);
    format_set_num_format(b->date, "yyyy-mm-dd hh:mm:ss");
    b->day = workbook_add_format(b->wb);
    format_set_num_format(b->day, "yyyy-mm-dd");
    b->text = workbook_add_format(b->wb);
    format_set_num_format(b->text, "@");
    for (int e = 0; e < 5; e++) {
        b->amount[e] = workbook_add_format(b->wb);
        format_set_num_format(b->amount[e], amt[e]);
        b->amount_bold[e] = workbook_add_format(b->wb);
        format_set_num_format(b->amount_bold[e], amt[e]);
        format_set_bold(b->amount_bold[e]);
    }
}

static int recon_sheets(recon_book *b)
{
    if (recon_summary(b) != 0)
        return -1;
    static const purser_recon_category order[] = {
        PURSER_RECON_AMOUNT_MISMATCH,       PURSER_RECON_CURRENCY_MISMATCH,
        PURSER_RECON_MISSING_AT_PROVIDER,   PURSER_RECON_MISSING_INTERNALLY,
        PURSER_RECON_DUPLICATE_AT_PROVIDER, PURSER_RECON_FEE_DISCREPANCY};
    for (size_t i = 0; i < sizeof order / sizeof *order; i++)
        if (recon_exc_sheet(b, purser_recon_category_name(order[i])) != 0)
            return -1;
    if (recon_pay_sheet(b, purser_recon_category_name(PURSER_RECON_PAYOUT_MISMATCH), true) != 0 ||
        recon_exc_sheet(b, purser_recon_category_name(PURSER_RECON_PROBABLE)) != 0 ||
        recon_exc_sheet(b, "pending") != 0 || recon_match_sheet(b) != 0 ||
        recon_pay_sheet(b, "Payouts", false) != 0)
        return -1;
    return 0;
}

int recon_workbook(recon_job *job, char *err, size_t errlen)
{
    char name[256], path[4096], tmp[4200];
    snprintf(name, sizeof name, "reconciliation_%s_%s.xlsx", job->prov->name, job->date);
    if (job->h->report_path(job->ctx, name, path, sizeof path) != 0) {
        snprintf(err, errlen, "no report path for %s", name);
        return -1;
    }
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    recon_book b = {.job = job};
    b.ref = recon_refdata_load(job->db, err, errlen);
    if (!b.ref)
        return -1;
    b.lookup = recon_refdata_lookup(b.ref);
    snprintf(b.run, sizeof b.run, "%lld", (long long)job->recon_run);
    b.max_rows = 1048575;
    job->h->config_int(job->ctx, "workbook_max_rows", &b.max_rows);
    if (b.max_rows < 1 || b.max_rows > 1048575)
        b.max_rows = 1048575;
    const char *tmpdir = getenv("TMPDIR");
    lxw_workbook_options opt = {.constant_memory = LXW_TRUE,
                                .tmpdir = (char *)(tmpdir && *tmpdir ? tmpdir : "/tmp")};
    b.wb = workbook_new_opt(tmp, &opt);
    if (!b.wb) {
        snprintf(err, errlen, "%s: cannot create", tmp);
        recon_refdata_free(b.ref);
        return -1;
    }
    recon_formats(&b);
    workbook_set_properties(b.wb, &(lxw_doc_properties){.title = name, .author = "purser"});
    int rc = recon_sheets(&b);
    lxw_error xe = workbook_close(b.wb);
    recon_refdata_free(b.ref);
    if (rc != 0 || xe != LXW_NO_ERROR) {
        snprintf(err, errlen, "%s: %s", tmp, rc != 0 ? b.err : lxw_strerror(xe));
        remove(tmp);
        return -1;
    }
    if (rename(tmp, path) != 0) {
        snprintf(err, errlen, "renaming %s: %s", tmp, strerror(errno));
        remove(tmp);
        return -1;
    }
    job->h->log(job->ctx, PURSER_LOG_INFO, "wrote %s", path);
    return 0;
}
