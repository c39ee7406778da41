/* The settlement workbook, settlement_<DATE>.xlsx: a Summary per currency
 * with check cells, a Payouts sheet (one row per payout line) and one
 * statement per seller and currency listing the lines behind the payout.
 * The main thread exports the batch's records with COPY into a temporary
 * file; a writer thread, reading right behind the export, turns them into
 * the workbook with libxlsxwriter's constant-memory mode while PostgreSQL
 * posts the ledger. Every statement's
 * totals block comes first (the payout records), then the lines in the
 * table's own order, each appended to its statement: constant-memory mode
 * only needs rows in order within a sheet, so nothing is sorted and memory
 * grows with the number of sellers, not of lines. Formulas carry their
 * computed values (worksheet_write_formula_num) for readers that do not
 * recalculate. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include <xlsxwriter.h>

#include "settlement.h"

#define SETTLE_MAX_FORMATS 64
/* Statement sheets: rows 0..11 the seller's totals, 13 the header. */
#define SETTLE_HEADER_ROW 13
#define SETTLE_LINE_COLS 12

typedef struct settle_fmt {
    char code[4];
    int exponent;
    lxw_format *money;
} settle_fmt;

/* Totals of one payout line, or of one currency on the Summary. */
typedef struct settle_totals {
    int64_t lines, gross, commission, fee, refund, chargeback, held, released, carried_in,
        carried_out, payout;
} settle_totals;

/* One statement: its sheets (more than one when its lines do not fit),
 * where its next line goes. */
typedef struct settle_stmt {
    int64_t seller_id;
    char currency[4];
    settle_fmt *fmt;
    lxw_worksheet **sheets; /* owned array of `parts` sheets */
    int parts, part;        /* part: the sheet being filled, 0-based */
    lxw_row_t row;          /* its next row */
} settle_stmt;

typedef struct settle_book {
    lxw_workbook *wb;
    lxw_worksheet *summary, *payouts;
    lxw_format *bold, *header, *date, *title;
    settle_fmt fmts[SETTLE_MAX_FORMATS];
    size_t n_fmts;
    int64_t sheet_rows; /* rows per sheet (LXW_ROW_MAX unless configured) */
    lxw_row_t payout_row;
    int64_t sheets;
    settle_stmt *stmts; /* one per payout line, by (seller id, currency); owned */
    size_t n_stmts, cap_stmts;
    int failed;
    char err[512]; /* the first failure */
} settle_book;

/* ---- cells ------------------------------------------------------------------ */

/* Record the first failure; the writer thread never logs (the host's log
 * is the main thread's), the main thread reports it after joining. */
static void settle_fail(settle_book *b, const char *fmt, ...) PURSER_PRINTF(2, 3);
static void settle_fail(settle_book *b, const char *fmt, ...)
{
    if (b->failed)
        return;
    b->failed = 1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b->err, sizeof b->err, fmt, ap);
    va_end(ap);
}

static void settle_check(settle_book *b, lxw_error err, const char *what)
{
    if (err != LXW_NO_ERROR)
        settle_fail(b, "%s: %s", what, lxw_strerror(err));
}

static void settle_text(settle_book *b, lxw_worksheet *ws, lxw_row_t r, lxw_col_t c, const char *s,
                        lxw_format *f)
{
    if (s && *s)
        settle_check(b, worksheet_write_string(ws, r, c, s, f), "writing text");
}

static void settle_money(settle_book *b, lxw_worksheet *ws, lxw_row_t r, lxw_col_t c, int64_t minor,
                         const settle_fmt *f)
{
    settle_check(
        b, worksheet_write_number(ws, r, c, purser_money_to_double(minor, f->exponent), f->money),
        "writing an amount");
}

static void settle_formula(settle_book *b, lxw_worksheet *ws, lxw_row_t r, lxw_col_t c,
                           const char *formula, int64_t value, const settle_fmt *f)
{
    settle_check(b,
                 worksheet_write_formula_num(ws, r, c, formula, f->money,
                                             purser_money_to_double(value, f->exponent)),
                 "writing a formula");
}

static void settle_int(settle_book *b, lxw_worksheet *ws, lxw_row_t r, lxw_col_t c, int64_t v)
{
    settle_check(b, worksheet_write_number(ws, r, c, (double)v, NULL), "writing a count");
}

/* The money format of a currency: "#,##0.00 \"EUR\"" for exponent 2. */
static settle_fmt *settle_format(settle_book *b, const char *code, int exponent)
{
    for (size_t i = 0; i < b->n_fmts; i++)
        if (strcmp(b->fmts[i].code, code) == 0)
            return &b->fmts[i];
    if (b->n_fmts == SETTLE_MAX_FORMATS) {
        settle_fail(b, "more than %d currencies in one workbook", SETTLE_MAX_FORMATS);
        return &b->fmts[0];
    }
    settle_fmt *f = &b->fmts[b->n_fmts++];
    snprintf(f->code, sizeof f->code, "%s", code);
    f->exponent = exponent;
    char num[64];
    int n = snprintf(num, sizeof num, "#,##0");
    if (exponent > 0) {
        num[n++] = '.';
        for (int i = 0; i < exponent && n < 40; i++)
            num[n++] = '0';
    }
    snprintf(num + n, sizeof num - (size_t)n, " \"%s\"", code);
    f->money = workbook_add_format(b->wb);
    format_set_num_format(f->money, num);
    return f;
}

static void settle_headers(settle_book *b, lxw_worksheet *ws, lxw_row_t r, const char *const *names,
                           int n)
{
    for (int i = 0; i < n; i++)
        settle_text(b, ws, r, (lxw_col_t)i, names[i], b->header);
}

/* ---- sums with overflow checks ------------------------------------------------ */

static int64_t settle_sum(settle_book *b, int64_t a, int64_t c)
{
    int64_t out = 0;
    if (purser_money_add(a, c, &out) != PURSER_MONEY_OK)
        settle_fail(b, "a total is out of range");
    return out;
}

/* gross - commission - fees - refunds - chargebacks - held + released
 * + carried in - carried out: what the payout must be. */
static int64_t settle_components(settle_book *b, const settle_totals *t)
{
    int64_t v = t->gross;
    const int64_t minus[] = {t->commission, t->fee,  t->refund,
                             t->chargeback, t->held, t->carried_out};
    for (size_t i = 0; i < sizeof minus / sizeof minus[0]; i++)
        v = settle_sum(b, v, minus[i] == INT64_MIN ? INT64_MAX : -minus[i]);
    v = settle_sum(b, v, t->released);
    return settle_sum(b, v, t->carried_in);
}

/* ---- statement sheets -------------------------------------------------------- */

static const char *const settle_line_headers[SETTLE_LINE_COLS] = {
    "Date",       "Kind", "Order ID",  "Line ID", "Payment ID", "Gross",
    "Commission", "Fee",  "Fee basis", "Refund",  "Chargeback", "Net"};

/* The first `keep` characters of s (whole UTF-8 sequences) into out. */
static void settle_cut(const char *s, size_t keep, char *out, size_t len)
{
    size_t n = 0, chars = 0;
    while (s[n] && chars < keep) {
        n++;
        while (((unsigned char)s[n] & 0xC0) == 0x80)
            n++;
        chars++;
    }
    snprintf(out, len, "%.*s", (int)n, s);
}

/* out = head + suffix, cut to len - 1 bytes (names are cut to fit first). */
static void settle_join(char *out, size_t len, const char *head, const char *suffix)
{
    size_t h = strlen(head), t = strlen(suffix);
    if (h >= len)
        h = len - 1;
    if (h + t >= len)
        t = len - 1 - h;
    memmove(out, head, h);
    memcpy(out + h, suffix, t);
    out[h + t] = '\0';
}

/* The first sheet of a statement: "seller-000001 EUR" without []:*?/\' and
 * at most 31 characters; "~2", "~3"... when a cut name is taken. */
static void settle_first_name(settle_book *b, const char *ref, const char *cur, char *out,
                              size_t len)
{
    char base[256];
    snprintf(base, sizeof base, "%s %s", ref, cur);
    for (char *p = base; *p; p++)
        if (strchr("[]:*?/\\'", *p))
            *p = '_';
    settle_cut(base, LXW_SHEETNAME_MAX, out, len);
    for (int k = 2; k < 100000 && workbook_validate_sheet_name(b->wb, out) != LXW_NO_ERROR; k++) {
        char suffix[16], head[LXW_MAX_SHEETNAME_LENGTH];
        snprintf(suffix, sizeof suffix, "~%d", k);
        settle_cut(base, LXW_SHEETNAME_MAX - strlen(suffix), head, sizeof head);
        settle_join(out, len, head, suffix);
    }
}

/* The name of part p of the statement whose first sheet is `first`. */
static void settle_part_name(const char *first, int p, char *out, size_t len)
{
    if (p == 1) {
        snprintf(out, len, "%s", first);
        return;
    }
    char suffix[16], head[LXW_MAX_SHEETNAME_LENGTH];
    snprintf(suffix, sizeof suffix, " (%d)", p);
    settle_cut(first, LXW_SHEETNAME_MAX - strlen(suffix), head, sizeof head);
    settle_join(out, len, head, suffix);
}

/* Lines that part p can hold: the first sheet starts below the totals. */
static int64_t settle_part_capacity(const settle_book *b, int p)
{
    return p == 1 ? b->sheet_rows - (SETTLE_HEADER_ROW + 1) : b->sheet_rows - 1;
}

/* "=SUM(F15:F120,'seller-000001 EUR (2)'!F2:F9)": column col over every
 * part of a statement of n lines (an empty range when n is 0). */
static void settle_sum_formula(const settle_book *b, const char *first_name, int64_t n, char col,
                               char *out, size_t len)
{
    size_t used = (size_t)snprintf(out, len, "=SUM(");
    int64_t left = n;
    for (int p = 1; used < len && (p == 1 || left > 0); p++) {
        int64_t cap = settle_part_capacity(b, p), here = left < cap ? left : cap;
        int64_t first = p == 1 ? SETTLE_HEADER_ROW + 2 : 2, last = first + (here ? here : 1) - 1;
        char name[LXW_MAX_SHEETNAME_LENGTH], prefix[LXW_MAX_SHEETNAME_LENGTH + 4] = "";
        if (p > 1) {
            settle_part_name(first_name, p, name, sizeof name);
            snprintf(prefix, sizeof prefix, ",'%s'!", name);
        }
        used += (size_t)snprintf(out + used, len - used, "%s%c%lld:%c%lld", prefix, col,
                                 (long long)first, col, (long long)last);
        left -= here;
    }
    if (used < len)
        snprintf(out + used, len - used, ")");
}

/* Header, frozen panes and autofilter of a sheet of statement lines. */
static void settle_line_table(settle_book *b, lxw_worksheet *ws, lxw_row_t header, int64_t rows)
{
    settle_headers(b, ws, header, settle_line_headers, SETTLE_LINE_COLS);
    worksheet_freeze_panes(ws, header + 1, 0);
    settle_check(
        b, worksheet_autofilter(ws, header, 0, header + (lxw_row_t)rows, SETTLE_LINE_COLS - 1),
        "setting an autofilter");
    worksheet_set_column(ws, 0, 0, 17, NULL);
    worksheet_set_column(ws, 1, 4, 12, NULL);
    worksheet_set_column(ws, 5, 11, 15, NULL);
}

static lxw_worksheet *settle_add_sheet(settle_book *b, const char *name)
{
    lxw_worksheet *ws = workbook_add_worksheet(b->wb, name);
    if (!ws)
        settle_fail(b, "cannot add sheet '%s' (too many sheets or open files?)", name);
    else
        b->sheets++;
    return ws;
}

/* A payout record (see settle_sql_payout_records): 0 rec, 1 ref,
 * 2 currency, 3 seller id, 4 name, 5 exponent, 6.. lines, gross,
 * commission, fee, refund, chargeback, held, released, carried in,
 * carried out, payout. */
#define SETTLE_PAYOUT_FIELDS 17
/* A line record (see settle_sql_line_records): 0 rec, 1 seller id,
 * 2 currency, 3 kind, 4 order id, 5 line id, 6 payment id, 7 local time
 * (seconds since 1970 on the job zone's wall clock), 8 fee basis, 9 gross,
 * 10 commission, 11 fee, 12 refund, 13 chargeback, 14 net. */
#define SETTLE_LINE_FIELDS 15

static void settle_read_totals(char **f, settle_totals *t)
{
    int64_t *vals[] = {&t->lines,      &t->gross,       &t->commission, &t->fee,
                       &t->refund,     &t->chargeback,  &t->held,       &t->released,
                       &t->carried_in, &t->carried_out, &t->payout};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++)
        *vals[i] = strtoll(f[6 + i], NULL, 10);
}

/* The totals block of a statement's first sheet: the five sums as
 * formulas over the lines of every part, then reserve, carry and payout. */
static void settle_statement_head(settle_book *b, lxw_worksheet *ws, char **f,
                                  const settle_totals *t, const char *first, const char *date,
                                  const settle_fmt *m)
{
    settle_text(b, ws, 0, 0, "Seller", b->bold);
    settle_text(b, ws, 0, 1, f[1], NULL);
    settle_text(b, ws, 0, 2, f[4], NULL);
    settle_text(b, ws, 1, 0, "Currency", b->bold);
    settle_text(b, ws, 1, 1, f[2], NULL);
    settle_text(b, ws, 1, 2, "Business date", b->bold);
    settle_text(b, ws, 1, 3, date, NULL);
    static const char *const sum_labels[] = {"Gross", "Commission", "Payment fees", "Refunds",
                                             "Chargebacks"};
    static const char sum_cols[] = {'F', 'G', 'H', 'J', 'K'};
    const int64_t sum_vals[] = {t->gross, t->commission, t->fee, t->refund, t->chargeback};
    char formula[4096];
    for (int i = 0; i < 5; i++) {
        settle_text(b, ws, (lxw_row_t)(2 + i), 0, sum_labels[i], b->bold);
        settle_sum_formula(b, first, t->lines, sum_cols[i], formula, sizeof formula);
        settle_formula(b, ws, (lxw_row_t)(2 + i), 1, formula, sum_vals[i], m);
    }
    static const char *const labels[] = {"Reserve held", "Reserve released", "Carried in",
                                         "Carried out"};
    const int64_t plain[] = {t->held, t->released, t->carried_in, t->carried_out};
    for (int i = 0; i < 4; i++) {
        settle_text(b, ws, (lxw_row_t)(7 + i), 0, labels[i], b->bold);
        settle_money(b, ws, (lxw_row_t)(7 + i), 1, plain[i], m);
    }
    settle_text(b, ws, 11, 0, "Payout", b->bold);
    settle_formula(b, ws, 11, 1, "=B3-B4-B5-B6-B7-B8+B9+B10-B11", settle_components(b, t), m);
}

/* Open the statement of one payout record: all its sheets (their number
 * is known from its line count), its totals block and its row on the
 * Payouts sheet. Records come ordered by (seller id, currency). */
static void settle_open_statement(settle_book *b, char **f, const char *date)
{
    settle_totals t;
    settle_read_totals(f, &t);
    if (b->n_stmts == b->cap_stmts) {
        size_t cap = b->cap_stmts ? 2 * b->cap_stmts : 64;
        settle_stmt *ns = realloc(b->stmts, cap * sizeof *ns);
        if (!ns) {
            settle_fail(b, "out of memory");
            return;
        }
        b->stmts = ns;
        b->cap_stmts = cap;
    }
    settle_stmt *st = &b->stmts[b->n_stmts++];
    memset(st, 0, sizeof *st);
    st->seller_id = strtoll(f[3], NULL, 10);
    snprintf(st->currency, sizeof st->currency, "%s", f[2]);
    st->fmt = settle_format(b, f[2], atoi(f[5]));
    int64_t left = t.lines - settle_part_capacity(b, 1);
    st->parts = 1;
    for (int p = 2; left > 0; p++, st->parts++)
        left -= settle_part_capacity(b, p);
    st->sheets = calloc((size_t)st->parts, sizeof *st->sheets);
    if (!st->sheets) {
        settle_fail(b, "out of memory");
        return;
    }
    char first[LXW_MAX_SHEETNAME_LENGTH], name[LXW_MAX_SHEETNAME_LENGTH];
    settle_first_name(b, f[1], f[2], first, sizeof first);
    left = t.lines;
    for (int p = 1; p <= st->parts && !b->failed; p++) {
        settle_part_name(first, p, name, sizeof name);
        lxw_worksheet *ws = st->sheets[p - 1] = settle_add_sheet(b, name);
        if (!ws)
            return;
        int64_t cap = settle_part_capacity(b, p), here = left < cap ? left : cap;
        left -= here;
        if (p == 1)
            settle_statement_head(b, ws, f, &t, first, date, st->fmt);
        settle_line_table(b, ws, p == 1 ? SETTLE_HEADER_ROW : 0, here);
    }
    st->row = SETTLE_HEADER_ROW + 1;

    lxw_worksheet *ps = b->payouts;
    lxw_row_t r = ++b->payout_row;
    settle_text(b, ps, r, 0, f[1], NULL);
    settle_text(b, ps, r, 1, f[4], NULL);
    settle_text(b, ps, r, 2, f[2], NULL);
    settle_text(b, ps, r, 3, first, NULL);
    settle_int(b, ps, r, 4, t.lines);
    const int64_t money[] = {t.gross, t.commission, t.fee,        t.refund,      t.chargeback,
                             t.held,  t.released,   t.carried_in, t.carried_out, t.payout};
    for (size_t i = 0; i < sizeof money / sizeof money[0]; i++)
        settle_money(b, ps, r, (lxw_col_t)(5 + i), money[i], st->fmt);
}

/* The statement of (seller id, currency): binary search, the records
 * being sorted. */
static settle_stmt *settle_find_statement(settle_book *b, int64_t seller, const char *cur)
{
    size_t lo = 0, hi = b->n_stmts;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const settle_stmt *m = &b->stmts[mid];
        int c = m->seller_id < seller ? -1 : m->seller_id > seller ? 1 : strcmp(m->currency, cur);
        if (c == 0)
            return &b->stmts[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* Append one line to its statement, on its next part when full. Zero
 * refunds, chargebacks, fees and commissions are left blank so the kind
 * of each line stands out. */
static void settle_write_line(settle_book *b, char **f)
{
    settle_stmt *st = settle_find_statement(b, strtoll(f[1], NULL, 10), f[2]);
    if (!st) {
        settle_fail(b, "a line of seller %s in %s has no payout record", f[1], f[2]);
        return;
    }
    if ((int64_t)st->row >= b->sheet_rows) {
        if (st->part + 1 >= st->parts) {
            settle_fail(b, "seller %s in %s has more lines than announced", f[1], f[2]);
            return;
        }
        st->part++;
        st->row = 1;
    }
    lxw_worksheet *ws = st->sheets[st->part];
    lxw_row_t r = st->row++;
    double serial = (double)strtoll(f[7], NULL, 10) / 86400.0 + 25569.0; /* Excel's epoch */
    settle_check(b, worksheet_write_number(ws, r, 0, serial, b->date), "writing a date");
    settle_text(b, ws, r, 1, f[3], NULL);
    settle_text(b, ws, r, 2, f[4], NULL);
    settle_text(b, ws, r, 3, f[5], NULL);
    settle_text(b, ws, r, 4, f[6], NULL);
    settle_text(b, ws, r, 8, f[8], NULL);
    static const struct {
        int field;
        lxw_col_t col;
        int always;
    } amounts[] = {{9, 5, 1}, {10, 6, 0}, {11, 7, 0}, {12, 9, 0}, {13, 10, 0}, {14, 11, 1}};
    for (size_t i = 0; i < sizeof amounts / sizeof amounts[0]; i++) {
        int64_t v = strtoll(f[amounts[i].field], NULL, 10);
        if (v != 0 || amounts[i].always)
            settle_money(b, ws, r, amounts[i].col, v, st->fmt);
    }
}

/* ---- the records: exported by the main thread, read by the writer ------------------ */

/* The batch's title block, per-currency totals with the ledger's view of
 * them, and the statement records. The
 * export runs with the batch id and the job's zone in transaction-local
 * settings, as COPY takes no parameters. */
static const char settle_sql_header[] =
    "SELECT b.business_date, to_char(b.cutoff AT TIME ZONE b.timezone, 'YYYY-MM-DD HH24:MI'), "
    "       b.timezone, b.rounding, b.settle_on, b.fee_estimate_bp, b.reserve_bp, "
    "       b.reserve_days, set_config('TimeZone', b.timezone, true), "
    "       set_config('purser_settlement.batch_id', b.id::text, true) "
    "  FROM settlement_batches b WHERE b.id = $1";

/* Per currency: the payouts' totals and the ledger's (ledger_balances, kept
 * by the database). While the ledger is being posted ($2 false) the ledger
 * columns hold what the posting must produce: the payouts credited to
 * seller_payouts, entries summing to zero, and the sellers' payable account
 * left holding the carried balances (lines credit their net, the batch
 * debits payout and held reserve and credits the released one: what stays
 * is carried in - carried out); settle_writer_verify reads the posted
 * ledger ($2 true) and refuses the batch unless they agree. The workbook
 * shows the first two (the third is a check only). */
enum { SETTLE_CUR_LEDGER_PAYOUTS = 14, SETTLE_CUR_LEDGER_TOTAL, SETTLE_CUR_LEDGER_PAYABLE };
static const char settle_sql_currencies[] =
    "WITH j AS (SELECT journal_id, currency FROM ledger_journals "
    "            WHERE source = 'settlement' AND source_id = $1), "
    "lb AS (SELECT j.currency, "
    "              -coalesce(sum(b.amount_minor) FILTER (WHERE b.account = 'seller_payouts'), 0) "
    "                AS payouts, coalesce(sum(b.amount_minor), 0) AS total, "
    "              coalesce(sum(b.amount_minor) FILTER (WHERE b.account = 'seller_payable'), 0) "
    "                AS payable "
    "         FROM j JOIN ledger_balances b ON b.journal_id = j.journal_id GROUP BY j.currency) "
    "SELECT p.currency, c.exponent, count(*), sum(p.lines), sum(p.gross_minor), "
    "       sum(p.commission_minor), sum(p.fee_minor), sum(p.refund_minor), "
    "       sum(p.chargeback_minor), sum(p.reserve_held_minor), sum(p.reserve_released_minor), "
    "       sum(p.carried_in_minor), sum(p.carried_out_minor), sum(p.payout_minor), "
    "       CASE WHEN $2 THEN coalesce(min(lb.payouts), 0) ELSE sum(p.payout_minor) END, "
    "       CASE WHEN $2 THEN coalesce(min(lb.total), 0) ELSE 0 END, "
    "       CASE WHEN $2 THEN coalesce(min(lb.payable), 0) "
    "            ELSE sum(p.carried_in_minor - p.carried_out_minor) END "
    "  FROM settlement_payouts p JOIN iso4217 c ON c.code = p.currency "
    "  LEFT JOIN lb ON lb.currency = p.currency "
    " WHERE p.batch_id = $1 GROUP BY p.currency, c.exponent ORDER BY p.currency";

/* The payout records, by (seller id, currency), then the lines in the
 * table's order. */
static const char settle_sql_payout_records[] =
    "COPY (SELECT 0, s.external_ref, p.currency, p.seller_id, s.name, c.exponent, p.lines, "
    "             p.gross_minor, p.commission_minor, p.fee_minor, p.refund_minor, "
    "             p.chargeback_minor, p.reserve_held_minor, p.reserve_released_minor, "
    "             p.carried_in_minor, p.carried_out_minor, p.payout_minor "
    "        FROM settlement_payouts p JOIN sellers s ON s.id = p.seller_id "
    "        JOIN iso4217 c ON c.code = p.currency "
    "       WHERE p.batch_id = current_setting('purser_settlement.batch_id')::bigint "
    "       ORDER BY p.seller_id, p.currency) TO STDOUT";

#define SETTLE_LINE_RECORD                                                                   \
    "SELECT 1, l.seller_id, l.currency, l.kind, l.order_id, l.order_item_id, l.payment_id, " \
    "       extract(epoch FROM l.event_at::timestamp)::bigint, l.fee_source, l.gross_minor, " \
    "       l.commission_minor, l.fee_minor, l.refund_minor, l.chargeback_minor, l.net_minor "

/* A committed batch's lines; the lines of the batch being settled. */
static const char settle_sql_line_records[] =
    "COPY (" SETTLE_LINE_RECORD
    "        FROM settlement_lines l "
    "       WHERE l.batch_id = current_setting('purser_settlement.batch_id')::bigint) TO STDOUT";
static const char settle_sql_new_line_records[] =
    "COPY (" SETTLE_LINE_RECORD " FROM " SETTLE_NEW_LINES " l) TO STDOUT";

/* Split a COPY text line in place into at most max fields, undoing its
 * backslash escapes; NULL (\N) becomes "". Returns the number of fields. */
static int settle_split(char *line, char **f, int max)
{
    int n = 0;
    char *p = line;
    while (n < max) {
        f[n++] = p;
        char *w = p;
        while (*p && *p != '\t' && *p != '\n') {
            if (*p != '\\') {
                *w++ = *p++;
                continue;
            }
            char e = p[1];
            p += 2;
            *w++ = e == 't' ? '\t' : e == 'n' ? '\n' : e == 'r' ? '\r' : e == 'N' ? '\0' : e;
        }
        char end = *p;
        *w = '\0';
        if (end != '\t')
            break;
        p++;
    }
    return n;
}

/* The exported records spool through an anonymous temporary file: the
 * main thread appends whole records and publishes how many bytes are
 * written (under mu, signalling cv); the writer thread reads behind it
 * with pread, so the first statements are written while the export goes
 * on. */
#define SETTLE_SPOOL_CHUNK (256 * 1024)

struct settle_writer {
    settle_book book;
    char path[4096], tmp[4200];
    PGresult *header;     /* owned */
    PGresult *currencies; /* owned; read by the thread, and by settle_writer_verify */
    FILE *spool;          /* the anonymous temporary file, owned; used by descriptor */
    char *out;            /* main thread: records not written yet, owned */
    size_t out_len;
    char *in;             /* writer thread: records read, not used yet, owned */
    size_t in_pos, in_len, in_cap;
    off_t in_off;         /* writer thread: bytes read from the spool */
    off_t written;        /* under mu: bytes of whole records in the spool */
    int exported, abort;  /* under mu */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
};

/* Main thread: write whole records to the spool and publish them. */
static int settle_spool_write(settle_writer *w, const char *data, size_t len)
{
    for (size_t done = 0; done < len;) {
        ssize_t n = write(fileno(w->spool), data + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        done += (size_t)n;
    }
    pthread_mutex_lock(&w->mu);
    w->written += (off_t)len;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    return 0;
}

static int settle_spool_flush(settle_writer *w)
{
    int rc = settle_spool_write(w, w->out, w->out_len);
    w->out_len = 0;
    return rc;
}

/* Main thread: append one whole record (a COPY row), in chunks. */
static int settle_spool_put(settle_writer *w, const char *data, size_t len)
{
    if (w->out_len + len > SETTLE_SPOOL_CHUNK && settle_spool_flush(w) != 0)
        return -1;
    if (len > SETTLE_SPOOL_CHUNK)
        return settle_spool_write(w, data, len);
    memcpy(w->out + w->out_len, data, len);
    w->out_len += len;
    return 0;
}

/* Main thread: the export ended; on failure the writer stops too. */
static void settle_spool_end(settle_writer *w, int ok)
{
    if (ok && settle_spool_flush(w) != 0)
        ok = 0;
    pthread_mutex_lock(&w->mu);
    w->exported = 1;
    if (!ok)
        w->abort = 1;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

/* Writer thread: the next record, NUL-terminated in place; NULL at the end
 * of the export or when told to stop. */
static char *settle_spool_line(settle_writer *w)
{
    for (;;) {
        char *nl = memchr(w->in + w->in_pos, '\n', w->in_len - w->in_pos);
        if (nl) {
            char *line = w->in + w->in_pos;
            *nl = '\0';
            w->in_pos = (size_t)(nl - w->in) + 1;
            return line;
        }
        memmove(w->in, w->in + w->in_pos, w->in_len - w->in_pos);
        w->in_len -= w->in_pos;
        w->in_pos = 0;
        if (w->in_len + 1 >= w->in_cap) {
            char *bigger = realloc(w->in, w->in_cap * 2);
            if (!bigger) {
                settle_fail(&w->book, "out of memory reading the records");
                return NULL;
            }
            w->in = bigger;
            w->in_cap *= 2;
        }
        pthread_mutex_lock(&w->mu);
        while (w->written == w->in_off && !w->exported && !w->abort)
            pthread_cond_wait(&w->cv, &w->mu);
        off_t avail = w->written - w->in_off;
        int stop = w->abort || (avail == 0 && w->exported);
        pthread_mutex_unlock(&w->mu);
        if (stop) {
            if (w->in_len > 0 && !w->abort)
                settle_fail(&w->book, "the exported records end in the middle of one");
            return NULL;
        }
        size_t room = w->in_cap - 1 - w->in_len;
        ssize_t n = pread(fileno(w->spool), w->in + w->in_len,
                          (size_t)avail < room ? (size_t)avail : room, w->in_off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            settle_fail(&w->book, "reading the exported records failed");
            return NULL;
        }
        w->in_len += (size_t)n;
        w->in_off += n;
    }
}

/* Read the records into the statement sheets. */
static void settle_write_records(settle_writer *w)
{
    settle_book *b = &w->book;
    char *line, *f[SETTLE_PAYOUT_FIELDS];
    const char *date = PQgetvalue(w->header, 0, 0);
    uint64_t n = 0;
    while (!b->failed && (line = settle_spool_line(w)) != NULL) {
        if (++n % 4096 == 0) {
            pthread_mutex_lock(&w->mu);
            int stop = w->abort;
            pthread_mutex_unlock(&w->mu);
            if (stop)
                break;
        }
        int nf = settle_split(line, f, SETTLE_PAYOUT_FIELDS);
        if (nf == SETTLE_PAYOUT_FIELDS && f[0][0] == '0')
            settle_open_statement(b, f, date);
        else if (nf == SETTLE_LINE_FIELDS && f[0][0] == '1')
            settle_write_line(b, f);
        else
            settle_fail(b, "malformed record %llu", (unsigned long long)n);
    }
}

/* ---- Summary and Payouts ---------------------------------------------------------- */

static const char *const settle_summary_headers[] = {"Currency",
                                                     "Payout lines",
                                                     "Statement lines",
                                                     "Gross",
                                                     "Commission",
                                                     "Payment fees",
                                                     "Refunds",
                                                     "Chargebacks",
                                                     "Reserve held",
                                                     "Reserve released",
                                                     "Carried in",
                                                     "Carried out",
                                                     "Payouts",
                                                     "Ledger: payouts",
                                                     "Ledger: sum of entries",
                                                     "Check: components - payouts",
                                                     "Check: ledger - payouts"};
#define SETTLE_SUMMARY_COLS 17
#define SETTLE_SUMMARY_HEADER 7

static const char *const settle_payout_headers[] = {
    "Seller",     "Name",         "Currency", "Statement sheet", "Lines",        "Gross",
    "Commission", "Payment fees", "Refunds",  "Chargebacks",     "Reserve held", "Reserve released",
    "Carried in", "Carried out",  "Payout"};
#define SETTLE_PAYOUT_COLS 15

/* The Summary's title block from the batch row. */
static void settle_summary_head(settle_book *b, PGresult *h)
{
    lxw_worksheet *ws = b->summary;
    char text[160];
    settle_text(b, ws, 0, 0, "Settlement", b->title);
    settle_text(b, ws, 0, 1, PQgetvalue(h, 0, 0), b->title);
    settle_text(b, ws, 1, 0, "Cutoff", b->bold);
    snprintf(text, sizeof text, "%s %s", PQgetvalue(h, 0, 1), PQgetvalue(h, 0, 2));
    settle_text(b, ws, 1, 1, text, NULL);
    settle_text(b, ws, 2, 0, "Rounding", b->bold);
    settle_text(b, ws, 2, 1, PQgetvalue(h, 0, 3), NULL);
    settle_text(b, ws, 3, 0, "Settles on", b->bold);
    settle_text(b, ws, 3, 1, PQgetvalue(h, 0, 4), NULL);
    settle_text(b, ws, 4, 0, "Fee estimate", b->bold);
    snprintf(text, sizeof text, "%s bp of the line while the provider's fee is unknown",
             PQgetvalue(h, 0, 5));
    settle_text(b, ws, 4, 1, text, NULL);
    settle_text(b, ws, 5, 0, "Reserve", b->bold);
    snprintf(text, sizeof text, "%s bp held for %s days", PQgetvalue(h, 0, 6), PQgetvalue(h, 0, 7));
    settle_text(b, ws, 5, 1, text, NULL);
    settle_headers(b, ws, SETTLE_SUMMARY_HEADER, settle_summary_headers, SETTLE_SUMMARY_COLS);
    worksheet_freeze_panes(ws, SETTLE_SUMMARY_HEADER + 1, 1);
    worksheet_set_column(ws, 0, 0, 14, NULL);
    worksheet_set_column(ws, 1, SETTLE_SUMMARY_COLS - 1, 17, NULL);
}

/* One Summary row per currency, with its two check cells. */
static void settle_summary_row(settle_book *b, PGresult *c, int i)
{
    lxw_worksheet *ws = b->summary;
    lxw_row_t r = (lxw_row_t)(SETTLE_SUMMARY_HEADER + 1 + i);
    unsigned R = r + 1; /* 1-based for formulas */
    const settle_fmt *m = settle_format(b, PQgetvalue(c, i, 0), atoi(PQgetvalue(c, i, 1)));
    settle_totals t;
    t.lines = strtoll(PQgetvalue(c, i, 3), NULL, 10);
    int64_t *vals[] = {&t.gross, &t.commission, &t.fee,        &t.refund,      &t.chargeback,
                       &t.held,  &t.released,   &t.carried_in, &t.carried_out, &t.payout};
    for (int k = 0; k < 10; k++)
        *vals[k] = strtoll(PQgetvalue(c, i, 4 + k), NULL, 10);
    int64_t ledger_payouts = strtoll(PQgetvalue(c, i, SETTLE_CUR_LEDGER_PAYOUTS), NULL, 10);
    int64_t ledger_total = strtoll(PQgetvalue(c, i, SETTLE_CUR_LEDGER_TOTAL), NULL, 10);
    settle_text(b, ws, r, 0, m->code, b->bold);
    settle_int(b, ws, r, 1, strtoll(PQgetvalue(c, i, 2), NULL, 10));
    settle_int(b, ws, r, 2, t.lines);
    for (int k = 0; k < 10; k++)
        settle_money(b, ws, r, (lxw_col_t)(3 + k), *vals[k], m);
    settle_money(b, ws, r, 13, ledger_payouts, m);
    settle_money(b, ws, r, 14, ledger_total, m);
    char formula[160];
    snprintf(formula, sizeof formula, "=D%u-E%u-F%u-G%u-H%u-I%u+J%u+K%u-L%u-M%u", R, R, R, R, R, R,
             R, R, R, R);
    settle_formula(b, ws, r, 15, formula, settle_sum(b, settle_components(b, &t), -t.payout), m);
    snprintf(formula, sizeof formula, "=N%u-M%u", R, R);
    settle_formula(b, ws, r, 16, formula, settle_sum(b, ledger_payouts, -t.payout), m);
}

static void settle_write_summary(settle_book *b, PGresult *c)
{
    int n = PQntuples(c);
    for (int i = 0; i < n; i++)
        settle_summary_row(b, c, i);
    settle_check(b,
                 worksheet_autofilter(b->summary, SETTLE_SUMMARY_HEADER, 0,
                                      (lxw_row_t)(SETTLE_SUMMARY_HEADER + n),
                                      SETTLE_SUMMARY_COLS - 1),
                 "setting an autofilter");
    if (n == 0)
        settle_text(b, b->summary, SETTLE_SUMMARY_HEADER + 1, 0, "nothing to settle", NULL);
    settle_check(b, worksheet_autofilter(b->payouts, 0, 0, b->payout_row, SETTLE_PAYOUT_COLS - 1),
                 "setting an autofilter");
}

/* ---- the workbook ------------------------------------------------------------------ */

/* A statement sheet keeps a temporary file open until the workbook
 * closes: allow as many open files as the hard limit does. */
static void settle_raise_file_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

/* Where the spool and the sheets' XML wait for the zip: TMPDIR when set,
 * else NULL (libxlsxwriter's default, /tmp). Borrowed from the environment. */
static char *settle_tmpdir(void)
{
    char *t = getenv("TMPDIR");
    return t && *t ? t : NULL;
}

static int settle_book_open(settle_book *b, const char *tmp)
{
    lxw_workbook_options opt = {
        .constant_memory = LXW_TRUE, .tmpdir = settle_tmpdir(), .use_zip64 = LXW_TRUE};
    b->wb = workbook_new_opt(tmp, &opt);
    if (!b->wb)
        return -1;
    b->bold = workbook_add_format(b->wb);
    format_set_bold(b->bold);
    b->title = workbook_add_format(b->wb);
    format_set_bold(b->title);
    format_set_font_size(b->title, 14);
    b->header = workbook_add_format(b->wb);
    format_set_bold(b->header);
    format_set_bottom(b->header, LXW_BORDER_THIN);
    b->date = workbook_add_format(b->wb);
    format_set_num_format(b->date, "yyyy-mm-dd hh:mm");
    b->summary = settle_add_sheet(b, "Summary");
    b->payouts = settle_add_sheet(b, "Payouts");
    if (!b->summary || !b->payouts)
        return -1;
    settle_headers(b, b->payouts, 0, settle_payout_headers, SETTLE_PAYOUT_COLS);
    worksheet_freeze_panes(b->payouts, 1, 1);
    worksheet_set_column(b->payouts, 0, 3, 18, NULL);
    worksheet_set_column(b->payouts, 4, SETTLE_PAYOUT_COLS - 1, 16, NULL);
    return 0;
}

/* The writer thread: statements, the Summary, then close (the zip, most of
 * the time), all while the main thread posts the ledger. */
static void *settle_writer_main(void *arg)
{
    settle_writer *w = arg;
    settle_book *b = &w->book;
    settle_summary_head(b, w->header);
    settle_write_records(w);
    pthread_mutex_lock(&w->mu);
    int abort = w->abort;
    pthread_mutex_unlock(&w->mu);
    if (!abort && !b->failed)
        settle_write_summary(b, w->currencies);
    lxw_error err = workbook_close(b->wb);
    b->wb = NULL;
    if (err != LXW_NO_ERROR)
        settle_fail(b, "writing %s: %s", w->tmp, lxw_strerror(err));
    return NULL;
}

static void settle_writer_free(settle_writer *w)
{
    for (size_t i = 0; i < w->book.n_stmts; i++)
        free(w->book.stmts[i].sheets);
    free(w->book.stmts);
    if (w->spool)
        fclose(w->spool);
    free(w->out);
    free(w->in);
    PQclear(w->header);
    PQclear(w->currencies);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    free(w);
}

/* COPY one query's records to the end of the spool. */
static int settle_copy_out(settle_state *st, purser_ctx *ctx, PGconn *db, const char *sql,
                           settle_writer *w)
{
    char buf[1024];
    PGresult *r = PQexec(db, sql);
    if (PQresultStatus(r) != PGRES_COPY_OUT) {
        st->host->log(ctx, PURSER_LOG_ERROR, "workbook: exporting the lines: %s",
                      settle_pg_error(r, buf, sizeof buf));
        PQclear(r);
        return -1;
    }
    PQclear(r);
    char *data;
    int len, ok = 1;
    while ((len = PQgetCopyData(db, &data, 0)) > 0) {
        ok = ok && settle_spool_put(w, data, (size_t)len) == 0;
        PQfreemem(data);
    }
    while ((r = PQgetResult(db)) != NULL) {
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            st->host->log(ctx, PURSER_LOG_ERROR, "workbook: exporting the lines: %s",
                          settle_pg_error(r, buf, sizeof buf));
            ok = 0;
        }
        PQclear(r);
    }
    if (!ok || len == -2) {
        st->host->log(ctx, PURSER_LOG_ERROR, "workbook: exporting the lines failed: %s",
                      len == -2 ? PQerrorMessage(db) : "cannot write the temporary file");
        return -1;
    }
    return 0;
}

/* The payout records, then the line records, into the spool. */
static int settle_export(settle_state *st, purser_ctx *ctx, PGconn *db, settle_writer *w,
                         int posted)
{
    int ok = settle_copy_out(st, ctx, db, settle_sql_payout_records, w) == 0 &&
             settle_copy_out(st, ctx, db,
                             posted ? settle_sql_line_records : settle_sql_new_line_records,
                             w) == 0;
    settle_spool_end(w, ok);
    return ok ? 0 : -1;
}

/* The per-currency totals; posted: the ledger's columns from the ledger,
 * else what the posting must produce. NULL after logging. */
static PGresult *settle_currencies(settle_state *st, purser_ctx *ctx, PGconn *db, const char *id,
                                   int posted)
{
    char buf[1024];
    const char *params[2] = {id, posted ? "true" : "false"};
    PGresult *c = PQexecParams(db, settle_sql_currencies, 2, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(c) != PGRES_TUPLES_OK) {
        st->host->log(ctx, PURSER_LOG_ERROR, "workbook: totals per currency: %s",
                      settle_pg_error(c, buf, sizeof buf));
        PQclear(c);
        return NULL;
    }
    return c;
}

settle_writer *settle_writer_start(settle_state *st, purser_ctx *ctx, PGconn *db, int64_t batch_id,
                                   const char *path, int posted)
{
    settle_writer *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    w->book.sheet_rows = st->cfg.sheet_rows;
    snprintf(w->path, sizeof w->path, "%s", path);
    snprintf(w->tmp, sizeof w->tmp, "%s.tmp", path);
    char id[24], buf[1024];
    snprintf(id, sizeof id, "%lld", (long long)batch_id);
    const char *params[1] = {id};
    w->header = PQexecParams(db, settle_sql_header, 1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(w->header) != PGRES_TUPLES_OK || PQntuples(w->header) != 1) {
        st->host->log(ctx, PURSER_LOG_ERROR, "workbook: reading batch %s: %s", id,
                      settle_pg_error(w->header, buf, sizeof buf));
        settle_writer_free(w);
        return NULL;
    }
    if (!(w->currencies = settle_currencies(st, ctx, db, id, posted))) {
        settle_writer_free(w);
        return NULL;
    }
    w->in_cap = 1 << 20;
    w->out = malloc(SETTLE_SPOOL_CHUNK);
    w->in = malloc(w->in_cap);
    w->spool = lxw_tmpfile(settle_tmpdir()); /* where the sheets' files go too */
    if (!w->out || !w->in || !w->spool) {
        st->host->log(ctx, PURSER_LOG_ERROR, "workbook: %s",
                      w->spool ? "out of memory" : "no temporary file for the records");
        settle_writer_free(w);
        return NULL;
    }
    settle_raise_file_limit();
    if (settle_book_open(&w->book, w->tmp) != 0) {
        st->host->log(ctx, PURSER_LOG_ERROR, "workbook: cannot create %s: %s", w->tmp,
                      w->book.failed ? w->book.err : "libxlsxwriter refused it");
        if (w->book.wb)
            workbook_close(w->book.wb);
        unlink(w->tmp);
        settle_writer_free(w);
        return NULL;
    }
    if (pthread_create(&w->thread, NULL, settle_writer_main, w) != 0) {
        st->host->log(ctx, PURSER_LOG_ERROR, "workbook: cannot start the writer thread");
        workbook_close(w->book.wb);
        unlink(w->tmp);
        settle_writer_free(w);
        return NULL;
    }
    if (settle_export(st, ctx, db, w, posted) != 0) {
        settle_writer_finish(st, ctx, w, 0);
        return NULL;
    }
    return w;
}

int settle_writer_verify(settle_state *st, purser_ctx *ctx, settle_writer *w, PGconn *db,
                         int64_t batch_id)
{
    char id[24];
    snprintf(id, sizeof id, "%lld", (long long)batch_id);
    PGresult *c = settle_currencies(st, ctx, db, id, 1);
    if (!c)
        return -1;
    const PGresult *s = w->currencies; /* the thread only reads it */
    /* both list the payouts' currencies in order: only the ledger's
     * columns can differ */
    int ok = PQntuples(c) == PQntuples(s);
    if (!ok)
        st->host->log(ctx, PURSER_LOG_ERROR,
                      "ledger of batch %s: %d currencies, the workbook's Summary has %d: "
                      "nothing posted",
                      id, PQntuples(c), PQntuples(s));
    for (int i = 0; ok && i < PQntuples(c); i++) {
        static const char *const what[] = {"payouts credited", "entries sum to",
                                           "sellers' payable holds"};
        for (int k = SETTLE_CUR_LEDGER_PAYOUTS; k <= SETTLE_CUR_LEDGER_PAYABLE; k++) {
            if (strcmp(PQgetvalue(c, i, k), PQgetvalue(s, i, k)) == 0)
                continue;
            st->host->log(ctx, PURSER_LOG_ERROR,
                          "ledger of batch %s in %s: %s %s, but the payouts say %s: "
                          "nothing posted",
                          id, PQgetvalue(c, i, 0), what[k - SETTLE_CUR_LEDGER_PAYOUTS],
                          PQgetvalue(c, i, k), PQgetvalue(s, i, k));
            ok = 0;
        }
    }
    PQclear(c);
    return ok ? 0 : -1;
}

purser_status settle_writer_finish(settle_state *st, purser_ctx *ctx, settle_writer *w, int keep)
{
    if (!keep) {
        pthread_mutex_lock(&w->mu);
        w->abort = 1;
        pthread_mutex_unlock(&w->mu);
    }
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pthread_join(w->thread, NULL);
    /* how long the run waited for the workbook: 0 when the writer kept up */
    st->host->log(ctx, PURSER_LOG_DEBUG, "workbook: waited %.0f ms for the writer thread",
                  settle_ms_since(&t0));
    purser_status s = PURSER_OK;
    if (keep && w->book.failed) {
        st->host->log(ctx, PURSER_LOG_ERROR, "workbook %s: %s", w->path, w->book.err);
        s = PURSER_ERROR;
    }
    if (keep && s == PURSER_OK && rename(w->tmp, w->path) != 0) {
        st->host->log(ctx, PURSER_LOG_ERROR, "workbook: renaming %s: %m", w->tmp);
        s = PURSER_ERROR;
    }
    if (!keep || s != PURSER_OK)
        unlink(w->tmp);
    else
        st->host->log(ctx, PURSER_LOG_INFO, "wrote %s: %lld payout lines, %lld sheets", w->path,
                      (long long)w->book.payout_row, (long long)w->book.sheets);
    settle_writer_free(w);
    return s;
}
