/* analytics_xlsx.c: renders one report definition into a workbook —
 * a cover sheet, then one sheet per definition sheet streamed row by row
 * from its query (libpq single-row mode into libxlsxwriter's
 * constant_memory mode: memory stays flat whatever the row count), typed
 * cells, total rows (one per currency when money is totalled: amounts of
 * different currencies are never added), conditional formats and native
 * charts. All queries of a report run in one read-only transaction, so
 * the sheets agree with each other. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xlsxwriter.h>

#include "analytics.h"
#include "purser/money.h"

#define AN_MAX_ROWS 1048575L /* Excel's rows below the header */
#define AN_MAX_GROUPS 32     /* currencies with their own total row */
#define AN_STR_MAX 32767     /* Excel's characters per cell */

typedef struct an_cur {
    char code[8];
    int exponent;
} an_cur;

typedef struct an_wb {
    lxw_workbook *wb;
    lxw_format *head, *bold, *title, *label, *integer, *decimal, *percent, *date, *datetime;
    lxw_format *t_integer, *t_decimal, *t_percent, *money[PURSER_MONEY_MAX_EXPONENT + 1],
        *t_money[PURSER_MONEY_MAX_EXPONENT + 1], *bad, *good, *warn;
    an_cur *curs;
    size_t n_curs;
    int last_cur; /* index of the last currency looked up */
} an_wb;

/* Per total row: the group's currency ("" for a single total row). */
typedef struct an_group {
    char cur[8];
    __int128 *exact; /* per sheet column: exact sum (integer, money in minor units) */
    double *sum;     /* per sheet column: float sum (decimal) */
    int *inexact;    /* an integer column met a fraction: use sum */
} an_group;

typedef struct an_sheet_state {
    an_sheet *sh;
    lxw_worksheet *ws;
    lxw_format **fmt; /* per column, NULL: the type's */
    an_group groups[AN_MAX_GROUPS];
    int n_groups;
    int group_col; /* result column of the totals' currency, -1: one total row */
    int label_col; /* sheet column of the "Total" label, -1: none */
    int *is_total; /* per sheet column */
    int overflow;  /* more currencies than AN_MAX_GROUPS: no total rows */
    long rows;
} an_sheet_state;

static lxw_format *an_fmt(lxw_workbook *wb, const char *num, int bold)
{
    lxw_format *f = workbook_add_format(wb);
    if (num)
        format_set_num_format(f, num);
    if (bold) {
        format_set_bold(f);
        format_set_top(f, LXW_BORDER_THIN);
    }
    return f;
}

static void an_formats(an_wb *w)
{
    lxw_workbook *wb = w->wb;
    w->head = workbook_add_format(wb);
    format_set_bold(w->head);
    format_set_bottom(w->head, LXW_BORDER_THIN);
    format_set_bg_color(w->head, 0xDDEBF7);
    format_set_text_wrap(w->head);
    format_set_align(w->head, LXW_ALIGN_VERTICAL_TOP);
    w->bold = an_fmt(wb, NULL, 0);
    format_set_bold(w->bold);
    w->label = an_fmt(wb, NULL, 1);
    w->title = workbook_add_format(wb);
    format_set_bold(w->title);
    format_set_font_size(w->title, 16);
    w->integer = an_fmt(wb, "#,##0", 0);
    w->decimal = an_fmt(wb, "#,##0.00", 0);
    w->percent = an_fmt(wb, "0.0%", 0);
    w->date = an_fmt(wb, "yyyy-mm-dd", 0);
    w->datetime = an_fmt(wb, "yyyy-mm-dd hh:mm:ss", 0);
    w->t_integer = an_fmt(wb, "#,##0", 1);
    w->t_decimal = an_fmt(wb, "#,##0.00", 1);
    w->t_percent = an_fmt(wb, "0.0%", 1);
    for (int e = 0; e <= PURSER_MONEY_MAX_EXPONENT; e++) {
        char num[32] = "#,##0";
        if (e > 0) {
            strcat(num, ".");
            for (int k = 0; k < e; k++)
                strcat(num, "0");
        }
        w->money[e] = an_fmt(wb, num, 0);
        w->t_money[e] = an_fmt(wb, num, 1);
    }
    static const struct {
        lxw_color_t font, fill;
    } styles[3] = {{0x9C0006, 0xFFC7CE}, {0x006100, 0xC6EFCE}, {0x9C5700, 0xFFEB9C}};
    lxw_format **slot[3] = {&w->bad, &w->good, &w->warn};
    for (int i = 0; i < 3; i++) {
        *slot[i] = workbook_add_format(wb);
        format_set_font_color(*slot[i], styles[i].font);
        format_set_bg_color(*slot[i], styles[i].fill);
    }
}

/* ---- currencies ---------------------------------------------------------------- */

static int an_load_currencies(PGconn *db, an_wb *w, char *err, size_t len)
{
    PGresult *r = PQexec(db, "SELECT code, exponent FROM iso4217");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        snprintf(err, len, "reading the currency exponents (iso4217): %s", PQresultErrorMessage(r));
        PQclear(r);
        return -1;
    }
    int n = PQntuples(r);
    w->curs = calloc(n ? (size_t)n : 1, sizeof *w->curs);
    for (int i = 0; w->curs && i < n; i++) {
        snprintf(w->curs[i].code, sizeof w->curs[i].code, "%s", PQgetvalue(r, i, 0));
        w->curs[i].exponent = atoi(PQgetvalue(r, i, 1));
    }
    w->n_curs = w->curs ? (size_t)n : 0;
    PQclear(r);
    return w->curs ? 0 : -1;
}

/* The currency's exponent, -1 if it is not an ISO 4217 code. */
static int an_exponent(an_wb *w, const char *code)
{
    if (w->last_cur >= 0 && strcmp(w->curs[w->last_cur].code, code) == 0)
        return w->curs[w->last_cur].exponent;
    for (size_t i = 0; i < w->n_curs; i++)
        if (strcmp(w->curs[i].code, code) == 0) {
            w->last_cur = (int)i;
            return w->curs[i].exponent;
        }
    return -1;
}

/* minor units as the decimal number they stand for (purser_money_to_double;
 * sums beyond int64 only divided). */
static double an_major(__int128 minor, int exponent)
{
    if (minor > INT64_MAX || minor < INT64_MIN)
        return (double)minor / pow(10, exponent);
    return purser_money_to_double((int64_t)minor, exponent);
}

/* ---- cells ---------------------------------------------------------------------- */

static int an_parse_date(const char *s, lxw_datetime *dt, int with_time)
{
    memset(dt, 0, sizeof *dt);
    int n = 0;
    if (sscanf(s, "%4d-%2d-%2d%n", &dt->year, &dt->month, &dt->day, &n) != 3 || n != 10)
        return -1;
    if (!with_time || s[n] == '\0')
        return 0;
    double sec = 0;
    int m = 0;
    if (sscanf(s + n, " %2d:%2d:%lf%n", &dt->hour, &dt->min, &sec, &m) < 3)
        return -1;
    dt->sec = sec;
    return 0;
}

static lxw_format *an_type_fmt(const an_wb *w, an_coltype t, int total)
{
    switch (t) {
    case AN_INTEGER:
        return total ? w->t_integer : w->integer;
    case AN_DECIMAL:
        return total ? w->t_decimal : w->decimal;
    case AN_PERCENT:
        return total ? w->t_percent : w->percent;
    case AN_DATE:
        return w->date;
    case AN_DATETIME:
        return w->datetime;
    default:
        return NULL;
    }
}

/* The group (total row) of a data row; NULL when there are too many. */
static an_group *an_group_of(an_sheet_state *s, const char *cur)
{
    for (int g = 0; g < s->n_groups; g++)
        if (strcmp(s->groups[g].cur, cur) == 0)
            return &s->groups[g];
    if (s->n_groups == AN_MAX_GROUPS)
        return NULL;
    an_group *g = &s->groups[s->n_groups++];
    snprintf(g->cur, sizeof g->cur, "%s", cur);
    size_t n = s->sh->n_cols;
    g->exact = calloc(n, sizeof *g->exact);
    g->sum = calloc(n, sizeof *g->sum);
    g->inexact = calloc(n, sizeof *g->inexact);
    if (!g->exact || !g->sum || !g->inexact)
        return NULL;
    return g;
}

/* Writes one cell; -1 with a message for a value the type refuses. */
static int an_cell(an_wb *w, an_sheet_state *s, const PGresult *res, lxw_row_t row, size_t c,
                   an_group *g, char *err, size_t len)
{
    const an_column *col = &s->sh->cols[c];
    if (PQgetisnull(res, 0, col->idx))
        return 0;
    const char *v = PQgetvalue(res, 0, col->idx);
    lxw_col_t x = (lxw_col_t)c;
    lxw_format *f = s->fmt[c] ? s->fmt[c] : an_type_fmt(w, col->type, 0);
    lxw_datetime dt;
    switch (col->type) {
    case AN_TEXT: {
        size_t n = strlen(v);
        if (n <= AN_STR_MAX)
            worksheet_write_string(s->ws, row, x, v, f);
        else { /* Excel's cell limit: cut at a character boundary */
            char *cut = strndup(v, AN_STR_MAX);
            size_t k = AN_STR_MAX;
            while (cut && k > 0 && ((unsigned char)cut[k] & 0xC0) == 0x80)
                cut[k--] = '\0';
            if (cut)
                worksheet_write_string(s->ws, row, x, cut, f);
            free(cut);
        }
        return 0;
    }
    case AN_DATE:
    case AN_DATETIME:
        if (an_parse_date(v, &dt, col->type == AN_DATETIME) == 0)
            worksheet_write_datetime(s->ws, row, x, &dt, f);
        else
            worksheet_write_string(s->ws, row, x, v, NULL); /* infinity, BC */
        return 0;
    case AN_MONEY: {
        const char *code = col->currency;
        if (!code)
            code = col->cur_idx >= 0 && !PQgetisnull(res, 0, col->cur_idx)
                       ? PQgetvalue(res, 0, col->cur_idx)
                       : "";
        int e = an_exponent(w, code);
        if (e < 0) {
            snprintf(err, len, "column '%s': currency '%s' (from %s) is not in iso4217", col->field,
                     code, col->currency ? "currency:" : col->currency_field);
            return -1;
        }
        int64_t minor;
        if (purser_money_parse(v, 0, &minor) != PURSER_MONEY_OK) {
            snprintf(err, len,
                     "column '%s': money value '%s' is not a whole number of minor units "
                     "(round it in the query)",
                     col->field, v);
            return -1;
        }
        worksheet_write_number(s->ws, row, x, an_major(minor, e),
                               s->fmt[c] ? s->fmt[c] : w->money[e]);
        if (g && s->is_total[c])
            g->exact[c] += minor;
        return 0;
    }
    default: {
        char *end = NULL;
        double d = strtod(v, &end);
        if (end == v || *end || !isfinite(d))
            return 0; /* NaN, Infinity: Excel has no such number */
        worksheet_write_number(s->ws, row, x, d, f);
        if (g && s->is_total[c]) {
            g->sum[c] += d;
            long long ll;
            errno = 0;
            ll = strtoll(v, &end, 10);
            if (col->type == AN_INTEGER && !*end && !errno)
                g->exact[c] += ll;
            else
                g->inexact[c] = 1;
        }
        return 0;
    }
    }
}

/* ---- one sheet ------------------------------------------------------------------ */

static int an_setup_sheet(an_wb *w, an_sheet_state *s)
{
    an_sheet *sh = s->sh;
    size_t n = sh->n_cols;
    s->fmt = calloc(n, sizeof *s->fmt);
    s->is_total = calloc(n, sizeof *s->is_total);
    if (!s->fmt || !s->is_total)
        return -1;
    s->group_col = -1;
    s->label_col = -1;
    for (size_t i = 0; i < n; i++) {
        an_column *c = &sh->cols[i];
        if (c->format)
            s->fmt[i] = an_fmt(w->wb, c->format, 0);
        const char *head = c->header ? c->header : c->field;
        worksheet_write_string(s->ws, 0, (lxw_col_t)i, head, w->head);
        double width = c->width;
        if (width <= 0) {
            width = (double)strlen(head) + 2;
            if (width < 10)
                width = 10;
            if (width > 40)
                width = 40;
            if (c->type == AN_DATETIME && width < 19)
                width = 19;
        }
        worksheet_set_column(s->ws, (lxw_col_t)i, (lxw_col_t)i, width, NULL);
    }
    for (size_t t = 0; t < sh->n_totals; t++) {
        int c = an_col_index(sh, sh->totals[t]);
        s->is_total[c] = 1;
        if (sh->cols[c].type == AN_MONEY && sh->cols[c].currency_field)
            s->group_col = sh->cols[c].cur_idx;
    }
    for (size_t i = 0; sh->n_totals && i < n && s->label_col < 0; i++)
        if (!s->is_total[i] && (int)sh->cols[i].idx != s->group_col)
            s->label_col = (int)i;
    return 0;
}

/* The sheet column showing result column idx, or -1. */
static int an_sheet_col(const an_sheet *sh, int idx)
{
    for (size_t i = 0; i < sh->n_cols; i++)
        if (sh->cols[i].idx == idx)
            return (int)i;
    return -1;
}

/* Total rows below the data: SUBTOTAL over the column (one row), or
 * SUMIFS by currency (a row per currency); the formula's result is
 * written too, so readers other than Excel see the number. */
static void an_totals(an_wb *w, an_sheet_state *s)
{
    an_sheet *sh = s->sh;
    if (!sh->n_totals || s->rows == 0 || s->overflow)
        return;
    int cur_col = s->group_col >= 0 ? an_sheet_col(sh, s->group_col) : -1;
    for (int gi = 0; gi < s->n_groups; gi++) {
        an_group *g = &s->groups[gi];
        lxw_row_t row = (lxw_row_t)(s->rows + 1 + gi);
        int e = s->group_col >= 0 ? an_exponent(w, g->cur) : -1;
        if (s->label_col >= 0) {
            char label[32];
            snprintf(label, sizeof label, "Total%s%s", g->cur[0] && cur_col < 0 ? " " : "",
                     cur_col < 0 ? g->cur : "");
            worksheet_write_string(s->ws, row, (lxw_col_t)s->label_col, label, w->label);
        }
        if (cur_col >= 0)
            worksheet_write_string(s->ws, row, (lxw_col_t)cur_col, g->cur, w->label);
        for (size_t c = 0; c < sh->n_cols; c++) {
            if (!s->is_total[c])
                continue;
            const an_column *col = &sh->cols[c];
            char first[16], last[16], cfirst[16], clast[16], formula[256];
            lxw_rowcol_to_cell(first, 1, (lxw_col_t)c);
            lxw_rowcol_to_cell(last, (lxw_row_t)s->rows, (lxw_col_t)c);
            double value;
            lxw_format *f;
            if (col->type == AN_MONEY) {
                int ce = col->currency ? an_exponent(w, col->currency) : e;
                if (ce < 0)
                    ce = 2;
                value = an_major(g->exact[c], ce);
                f = w->t_money[ce];
            } else {
                value = col->type == AN_INTEGER && !g->inexact[c] ? (double)g->exact[c] : g->sum[c];
                f = an_type_fmt(w, col->type, 1);
            }
            if (cur_col >= 0) {
                lxw_rowcol_to_cell_abs(cfirst, 1, (lxw_col_t)cur_col, 1, 1);
                lxw_rowcol_to_cell_abs(clast, (lxw_row_t)s->rows, (lxw_col_t)cur_col, 1, 1);
                snprintf(formula, sizeof formula, "=SUMIFS(%s:%s,%s:%s,\"%s\")", first, last,
                         cfirst, clast, g->cur);
            } else if (s->group_col >= 0) { /* the currency is not shown: a plain number */
                worksheet_write_number(s->ws, row, (lxw_col_t)c, value, f);
                continue;
            } else {
                snprintf(formula, sizeof formula, "=SUBTOTAL(109,%s:%s)", first, last);
            }
            worksheet_write_formula_num(s->ws, row, (lxw_col_t)c, formula, f, value);
        }
    }
}

/* Column ranges [first, last] of the fields, contiguous runs merged. */
static size_t an_runs(const an_sheet *sh, char **fields, size_t n, int (*runs)[2], int merge)
{
    int cols[256];
    size_t k = 0;
    for (size_t i = 0; i < n && k < 256; i++)
        cols[k++] = an_col_index(sh, fields[i]);
    for (size_t i = 1; i < k; i++) /* sort */
        for (size_t j = i; j > 0 && cols[j - 1] > cols[j]; j--) {
            int t = cols[j];
            cols[j] = cols[j - 1];
            cols[j - 1] = t;
        }
    size_t r = 0;
    for (size_t i = 0; i < k; i++) {
        if (merge && r > 0 && cols[i] == runs[r - 1][1] + 1)
            runs[r - 1][1] = cols[i];
        else {
            runs[r][0] = runs[r][1] = cols[i];
            r++;
        }
    }
    return r;
}

static void an_conditionals(an_wb *w, an_sheet_state *s)
{
    an_sheet *sh = s->sh;
    if (s->rows == 0)
        return;
    lxw_row_t last = (lxw_row_t)s->rows;
    for (size_t i = 0; i < sh->n_conds; i++) {
        const an_cond *cd = &sh->conds[i];
        int runs[256][2];
        size_t nr = an_runs(sh, cd->fields, cd->n_fields, runs, cd->type == AN_COND_HEAT_MAP);
        for (size_t r = 0; r < nr; r++) {
            lxw_conditional_format cf;
            memset(&cf, 0, sizeof cf);
            if (cd->type == AN_COND_THRESHOLD) {
                cf.type = LXW_CONDITIONAL_TYPE_CELL;
                cf.criteria = (uint8_t)cd->op;
                cf.format = cd->style == 1 ? w->good : cd->style == 2 ? w->warn : w->bad;
                if (cd->op == LXW_CONDITIONAL_CRITERIA_BETWEEN) {
                    cf.min_value = cd->value;
                    cf.max_value = cd->value2;
                } else {
                    cf.value = cd->value;
                }
            } else if (cd->type == AN_COND_DATA_BAR) {
                cf.type = LXW_CONDITIONAL_DATA_BAR;
                cf.bar_color = 0x638EC6;
            } else {
                cf.type = LXW_CONDITIONAL_3_COLOR_SCALE;
                cf.min_color = cd->reverse ? 0x63BE7B : 0xF8696B;
                cf.mid_color = 0xFFEB84;
                cf.max_color = cd->reverse ? 0xF8696B : 0x63BE7B;
            }
            worksheet_conditional_format_range(s->ws, 1, (lxw_col_t)runs[r][0], last,
                                               (lxw_col_t)runs[r][1], &cf);
        }
    }
}

static void an_charts(an_wb *w, an_sheet_state *s)
{
    an_sheet *sh = s->sh;
    if (s->rows == 0)
        return;
    static const uint8_t types[] = {LXW_CHART_LINE, LXW_CHART_COLUMN, LXW_CHART_BAR, LXW_CHART_PIE,
                                    LXW_CHART_SCATTER};
    lxw_row_t last = (lxw_row_t)s->rows;
    for (size_t i = 0; i < sh->n_charts; i++) {
        const an_chart *ch = &sh->charts[i];
        lxw_chart *chart = workbook_add_chart(w->wb, types[ch->type]);
        if (!chart)
            continue;
        lxw_col_t cat = (lxw_col_t)an_col_index(sh, ch->categories);
        int percent = 1;
        for (size_t v = 0; v < ch->n_values; v++) {
            lxw_col_t vc = (lxw_col_t)an_col_index(sh, ch->values[v]);
            percent &= sh->cols[vc].type == AN_PERCENT;
            lxw_chart_series *ser = chart_add_series(chart, NULL, NULL);
            chart_series_set_categories(ser, sh->name, 1, cat, last, cat);
            chart_series_set_values(ser, sh->name, 1, vc, last, vc);
            chart_series_set_name_range(ser, sh->name, 0, vc);
        }
        if (ch->title)
            chart_title_set_name(chart, ch->title);
        if (ch->type != AN_PIE) {
            if (ch->x_title)
                chart_axis_set_name(chart->x_axis, ch->x_title);
            if (ch->y_title)
                chart_axis_set_name(chart->y_axis, ch->y_title);
            if (percent)
                chart_axis_set_num_format(ch->type == AN_BAR ? chart->x_axis : chart->y_axis, "0%");
            if (ch->n_values == 1)
                chart_legend_set_position(chart, LXW_CHART_LEGEND_NONE);
            else
                chart_legend_set_position(chart, LXW_CHART_LEGEND_BOTTOM);
        }
        lxw_chart_options opt = {.x_offset = 10, .y_offset = 10, .x_scale = 1.5, .y_scale = 1.5};
        worksheet_insert_chart_opt(s->ws, (lxw_row_t)(1 + 23 * i), (lxw_col_t)(sh->n_cols + 1),
                                   chart, &opt);
    }
}

static void an_sheet_state_free(an_sheet_state *s)
{
    for (int g = 0; g < s->n_groups; g++) {
        free(s->groups[g].exact);
        free(s->groups[g].sum);
        free(s->groups[g].inexact);
    }
    free(s->fmt);
    free(s->is_total);
}

/* Drains a query that is being given up (error, cancel). */
static void an_drain(PGconn *db, int cancel)
{
    if (cancel) {
        PGcancel *c = PQgetCancel(db);
        char buf[256];
        if (c) {
            PQcancel(c, buf, sizeof buf);
            PQfreeCancel(c);
        }
    }
    PGresult *r;
    while ((r = PQgetResult(db)) != NULL)
        PQclear(r);
}

/* Streams the query's rows into the sheet. */
static purser_status an_stream(an_render *rd, an_wb *w, an_sheet_state *s, const an_query *q,
                               an_errs *errs)
{
    const an_def *def = rd->def;
    an_sheet *sh = s->sh;
    if (!PQsendQueryPrepared(rd->db, "", q->n, q->values, NULL, NULL, 0) ||
        !PQsetSingleRowMode(rd->db)) {
        an_err(errs, def->path, sh->query_pos, "sheet '%s': sending the query: %s", sh->name,
               PQerrorMessage(rd->db));
        an_drain(rd->db, 0);
        return PURSER_RETRY;
    }
    an_group *single = s->group_col < 0 && sh->n_totals ? an_group_of(s, "") : NULL;
    char err[512];
    PGresult *r;
    while ((r = PQgetResult(rd->db)) != NULL) {
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_TUPLES_OK) {
            PQclear(r);
            continue;
        }
        if (st != PGRES_SINGLE_TUPLE) {
            an_query_error(def, sh, q, r, "query", errs);
            PQclear(r);
            an_drain(rd->db, 0);
            return PURSER_ERROR;
        }
        if (s->rows + 1 + s->n_groups >= AN_MAX_ROWS) {
            an_err(errs, def->path, sh->query_pos,
                   "sheet '%s': more than %ld rows, Excel's limit: aggregate the query or add a "
                   "LIMIT",
                   sh->name, AN_MAX_ROWS - 1);
            PQclear(r);
            an_drain(rd->db, 1);
            return PURSER_ERROR;
        }
        an_group *g = single;
        if (s->group_col >= 0) {
            const char *cur = PQgetisnull(r, 0, s->group_col) ? "" : PQgetvalue(r, 0, s->group_col);
            if (!(g = an_group_of(s, cur)))
                s->overflow = 1;
        }
        lxw_row_t row = (lxw_row_t)(++s->rows);
        for (size_t c = 0; c < sh->n_cols; c++)
            if (an_cell(w, s, r, row, c, g, err, sizeof err) != 0) {
                an_err(errs, def->path, sh->cols[c].pos, "sheet '%s', row %ld: %s", sh->name,
                       s->rows, err);
                PQclear(r);
                an_drain(rd->db, 1);
                return PURSER_ERROR;
            }
        PQclear(r);
        if ((s->rows & 4095) == 0) {
            if (rd->host->cancelled(rd->ctx)) {
                an_drain(rd->db, 1);
                an_err(errs, def->path, sh->pos, "sheet '%s': cancelled after %ld rows", sh->name,
                       s->rows);
                return PURSER_RETRY;
            }
            rd->host->progress(rd->ctx, (uint64_t)(rd->rows_total + s->rows), 0, "rows");
        }
    }
    return PURSER_OK;
}

static purser_status an_sheet_render(an_render *rd, an_wb *w, an_sheet *sh, an_errs *errs)
{
    an_def *def = rd->def;
    an_query q;
    if (an_query_build(def, sh, rd->bind, &q, errs) != 0) {
        an_query_free(&q);
        return PURSER_ERROR;
    }
    purser_status st = PURSER_ERROR;
    an_sheet_state s = {.sh = sh};
    PGresult *r = PQprepare(rd->db, "", q.sql, q.n, q.types);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        an_query_error(def, sh, &q, r, "query", errs);
        goto out;
    }
    PQclear(r);
    r = PQdescribePrepared(rd->db, "");
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        an_query_error(def, sh, &q, r, "query", errs);
        goto out;
    }
    if (an_match_columns(def, sh, r, errs) != 0)
        goto out;
    PQclear(r);
    r = NULL;
    if (!(s.ws = workbook_add_worksheet(w->wb, sh->name))) {
        an_err(errs, def->path, sh->pos, "sheet '%s': the workbook refused the sheet name",
               sh->name);
        goto out;
    }
    if (an_setup_sheet(w, &s) != 0)
        goto out;
    if ((st = an_stream(rd, w, &s, &q, errs)) != PURSER_OK)
        goto out;
    /* constant_memory: the filter must be set before a later row is written */
    if (sh->autofilter)
        worksheet_autofilter(s.ws, 0, 0, (lxw_row_t)s.rows, (lxw_col_t)(sh->n_cols - 1));
    if (s.overflow)
        rd->host->log(rd->ctx, PURSER_LOG_WARN,
                      "%s: sheet '%s': more than %d currencies: no total rows", def->report,
                      sh->name, AN_MAX_GROUPS);
    an_totals(w, &s);
    if (sh->freeze)
        worksheet_freeze_panes(s.ws, 1, 0);
    an_conditionals(w, &s);
    an_charts(w, &s);
    rd->rows_total += s.rows;
    rd->host->log(rd->ctx, PURSER_LOG_INFO, "%s: sheet '%s': %ld rows", def->report, sh->name,
                  s.rows);
    rd->host->metric_add(rd->ctx, "rows_written_total", (double)s.rows);
out:
    PQclear(r);
    an_sheet_state_free(&s);
    an_query_free(&q);
    return st;
}

/* ---- the cover sheet -------------------------------------------------------------- */

static void an_cover_row(an_wb *w, lxw_worksheet *ws, lxw_row_t *row, const char *k, const char *v)
{
    worksheet_write_string(ws, *row, 0, k, w->bold);
    worksheet_write_string(ws, *row, 1, v ? v : "", NULL);
    (*row)++;
}

static void an_cover(an_render *rd, an_wb *w, lxw_worksheet *ws, const long *rows)
{
    const an_def *d = rd->def;
    static const char *const periods[] = {"day", "week", "month"};
    char buf[512], now[32];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", &tm);
    worksheet_set_column(ws, 0, 0, 24, NULL);
    worksheet_set_column(ws, 1, 1, 70, NULL);
    worksheet_set_column(ws, 2, 2, 60, NULL);
    worksheet_write_string(ws, 0, 0, d->title ? d->title : d->report, w->title);
    lxw_row_t row = 2;
    if (d->description)
        an_cover_row(w, ws, &row, "Description", d->description);
    an_cover_row(w, ws, &row, "Report", d->report);
    snprintf(buf, sizeof buf, "%s to %s (%s of %s)", rd->from_date, rd->to_date, periods[d->period],
             rd->bind->date);
    an_cover_row(w, ws, &row, "Period", buf);
    snprintf(buf, sizeof buf, "[%s 00:00, %s 00:00) %s", rd->bind->from, rd->bind->to,
             rd->timezone);
    an_cover_row(w, ws, &row, "Bounds (:from, :to)", buf);
    an_cover_row(w, ws, &row, "Generated at (UTC)", now);
    snprintf(buf, sizeof buf, "%lld", (long long)rd->run_id);
    an_cover_row(w, ws, &row, "Run", rd->run_id ? buf : "(not recorded)");
    an_cover_row(w, ws, &row, "Definition", d->path);
    an_cover_row(w, ws, &row, "Definition SHA-256", d->sha256);
    an_cover_row(w, ws, &row, "Definition version", d->version ? d->version : "(none)");
    snprintf(buf, sizeof buf, "analytics %s", rd->plugin_version);
    an_cover_row(w, ws, &row, "Rendered by", buf);
    for (size_t i = 0; i < d->n_params; i++) {
        snprintf(buf, sizeof buf, "Parameter :%s", d->params[i].name);
        an_cover_row(w, ws, &row, buf, rd->bind->values[i]);
    }
    row++;
    worksheet_write_string(ws, row, 0, "Sheet", w->head);
    worksheet_write_string(ws, row, 1, "Description", w->head);
    worksheet_write_string(ws, row, 2, "Rows", w->head);
    row++;
    for (size_t i = 0; i < d->n_sheets; i++, row++) {
        worksheet_write_string(ws, row, 0, d->sheets[i].name, NULL);
        worksheet_write_string(ws, row, 1, d->sheets[i].description ? d->sheets[i].description : "",
                               NULL);
        worksheet_write_number(ws, row, 2, (double)rows[i], w->integer);
    }
}

/* Checks each declared parameter's value against its type in the server. */
static int an_check_values(an_render *rd, an_errs *errs)
{
    static const char *const casts[] = {"text", "bigint",      "numeric",
                                        "date", "timestamptz", "boolean"};
    const an_def *d = rd->def;
    for (size_t i = 0; i < d->n_params; i++) {
        char sql[64];
        snprintf(sql, sizeof sql, "SELECT $1::%s", casts[d->params[i].type]);
        const char *v = rd->bind->values[i];
        PQclear(PQexec(rd->db, "SAVEPOINT an_value"));
        PGresult *r = PQexecParams(rd->db, sql, 1, NULL, &v, NULL, NULL, 0);
        int ok = PQresultStatus(r) == PGRES_TUPLES_OK;
        if (!ok)
            an_err(errs, d->path, d->params[i].pos, "parameter :%s = '%s': %s", d->params[i].name,
                   v,
                   PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY)
                       ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY)
                       : PQresultErrorMessage(r));
        PQclear(r);
        PQclear(PQexec(rd->db, ok ? "RELEASE an_value" : "ROLLBACK TO an_value"));
        if (!ok)
            return -1;
    }
    return 0;
}

purser_status an_render_report(an_render *rd, an_errs *errs)
{
    an_def *d = rd->def;
    char err[1024];
    if (an_tx_begin(rd->db, rd->timeout_ms, rd->jit, rd->timezone, err, sizeof err) != 0) {
        an_err(errs, d->path, (an_pos){0, 0}, "%s", err);
        return PQstatus(rd->db) == CONNECTION_OK ? PURSER_ERROR : PURSER_RETRY;
    }
    an_wb w = {.last_cur = -1};
    purser_status st = PURSER_ERROR;
    long *rows = calloc(d->n_sheets, sizeof *rows);
    if (!rows || an_check_values(rd, errs) != 0)
        goto out;
    if (an_load_currencies(rd->db, &w, err, sizeof err) != 0) {
        an_err(errs, d->path, (an_pos){0, 0}, "%s", err);
        goto out;
    }
    lxw_workbook_options opt = {.constant_memory = LXW_TRUE};
    if (!(w.wb = workbook_new_opt(rd->tmp, &opt))) {
        an_err(errs, d->path, (an_pos){0, 0}, "creating %s failed", rd->tmp);
        goto out;
    }
    an_formats(&w);
    lxw_doc_properties props = {
        .title = d->title ? d->title : d->report, .subject = d->report, .comments = d->sha256};
    workbook_set_properties(w.wb, &props);
    lxw_worksheet *cover = workbook_add_worksheet(w.wb, "Cover");
    st = PURSER_OK;
    for (size_t i = 0; st == PURSER_OK && i < d->n_sheets; i++) {
        long before = rd->rows_total;
        st = an_sheet_render(rd, &w, &d->sheets[i], errs);
        rows[i] = rd->rows_total - before;
    }
    if (st == PURSER_OK)
        an_cover(rd, &w, cover, rows);
    lxw_error e = workbook_close(w.wb);
    if (st == PURSER_OK && e != LXW_NO_ERROR) {
        an_err(errs, d->path, (an_pos){0, 0}, "writing %s: %s", rd->tmp, lxw_strerror(e));
        st = PURSER_ERROR;
    }
    if (st != PURSER_OK)
        remove(rd->tmp);
out:
    an_tx_end(rd->db);
    free(w.curs);
    free(rows);
    return st;
}
