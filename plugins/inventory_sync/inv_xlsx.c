/* inv_xlsx.c: inventory_<D>.xlsx for buyers and operations — Summary,
 * Oversold (with the open orders that oversold each row), Low stock
 * (reorder suggestions, sorted by days of cover), Changes applied, Rejected
 * records and Push results of this run. Rows are streamed from PostgreSQL
 * (single-row mode) into a constant-memory workbook, written to
 * "<path>.<run_id>.tmp" and renamed when complete. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xlsxwriter.h>

#include "inventory_sync.h"

typedef struct inv_fmt {
    lxw_format *head, *num2, *num3;
} inv_fmt;

/* One detail sheet: its SQL (parameter $1 = sync id, $2 = row limit)
 * and per column a header, a width and a type: 's' text, 'i' whole
 * number, '2' / '3' decimals. */
typedef struct inv_sheet {
    const char *name;
    const char *sql;
    const char *const *cols;
    const char *types;
    const double *widths;
} inv_sheet;

static const char *const inv_over_cols[] = {
    "SKU",       "Seller",      "Warehouse",
    "On hand",   "Reserved",    "Safety stock",
    "Available", "Open orders", "Orders that oversold (ref x quantity, oldest first)"};
static const double inv_over_w[] = {14, 12, 12, 9, 9, 11, 10, 11, 70};
static const char inv_over_sql[] =
    "WITH over AS (SELECT product_id, warehouse_id, on_hand, reserved, safety_stock, "
    "    on_hand - reserved - safety_stock AS available FROM inventory "
    "    WHERE on_hand - reserved - safety_stock < 0), "
    "lines AS (SELECT o.*, v.on_hand - v.safety_stock AS room, sum(o.quantity) OVER "
    "    (PARTITION BY o.product_id, o.warehouse_id ORDER BY o.placed_at, o.order_id "
    "    ROWS UNBOUNDED PRECEDING) AS running FROM inv_open o JOIN over v "
    "    USING (product_id, warehouse_id)) "
    "SELECT p.sku, se.external_ref, d.code, v.on_hand, v.reserved, v.safety_stock, v.available, "
    "  (SELECT count(DISTINCT l.order_id) FROM lines l WHERE l.product_id = v.product_id "
    "    AND l.warehouse_id = v.warehouse_id), "
    "  coalesce((SELECT string_agg(l.external_ref || ' x' || l.quantity, ', ' "
    "    ORDER BY l.placed_at, l.order_id) FROM lines l WHERE l.product_id = v.product_id "
    "    AND l.warehouse_id = v.warehouse_id AND l.running > l.room), "
    "    '(no open orders: safety stock above on hand)') "
    "FROM over v JOIN products p ON p.id = v.product_id JOIN sellers se ON se.id = p.seller_id "
    "JOIN depots d ON d.id = v.warehouse_id WHERE $1::bigint IS NOT NULL "
    "ORDER BY v.available, p.sku, d.code LIMIT $2::int";

static const char *const inv_low_cols[] = {
    "SKU",           "Seller",          "Status",           "On hand",
    "Reserved",      "Available",       "Avg daily demand", "Demand std dev",
    "Reorder point", "Suggested order", "Days of cover"};
static const double inv_low_w[] = {14, 12, 13, 9, 9, 10, 16, 15, 13, 15, 13};
static const char inv_low_sql[] =
    "SELECT sku, seller, status, on_hand, reserved, available, mean, sd, rop, suggested, cover "
    "FROM inv_plan WHERE $1::bigint IS NOT NULL "
    "ORDER BY cover NULLS FIRST, available, sku, seller LIMIT $2::int";

static const char *const inv_chg_cols[] = {
    "SKU",    "Seller",        "Warehouse",    "On hand before",      "On hand after",
    "Change", "Safety before", "Safety after", "Warehouse updated at"};
static const double inv_chg_w[] = {14, 12, 12, 14, 13, 9, 13, 12, 26};
static const char inv_chg_sql[] =
    "SELECT p.sku, se.external_ref, d.code, c.on_hand_before, c.on_hand_after, "
    "  c.on_hand_after - coalesce(c.on_hand_before, 0), c.safety_before, c.safety_after, "
    "  to_char(c.source_updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS \"UTC\"') "
    "FROM inventory_sync_changes c JOIN products p ON p.id = c.product_id "
    "JOIN sellers se ON se.id = p.seller_id JOIN depots d ON d.id = c.warehouse_id "
    "WHERE c.sync_id = $1::bigint ORDER BY p.sku, se.external_ref, d.code LIMIT $2::int";

static const char *const inv_rej_cols[] = {"Offset",    "Page",    "SKU",    "Seller",
                                           "Warehouse", "On hand", "Reason", "Record"};
static const double inv_rej_w[] = {8, 6, 14, 12, 12, 9, 50, 70};
static const char inv_rej_sql[] =
    "SELECT seq, page + 1, sku, seller, warehouse, on_hand, reason, record "
    "FROM inventory_sync_rejects WHERE sync_id = $1::bigint ORDER BY seq LIMIT $2::int";

static const char *const inv_push_cols[] = {"SKU",         "Warehouse",   "Item id",
                                            "Location id", "Available",   "Version",
                                            "Result",      "HTTP status", "Error"};
static const double inv_push_w[] = {14, 12, 10, 11, 10, 9, 10, 11, 60};
static const char inv_push_sql[] =
    "SELECT p.sku, d.code, x.product_id, x.warehouse_id, x.available, x.version, "
    "  CASE WHEN x.ok THEN 'pushed' ELSE 'failed' END, x.http_status, x.error "
    "FROM inventory_sync_pushes x JOIN products p ON p.id = x.product_id "
    "JOIN depots d ON d.id = x.warehouse_id WHERE x.sync_id = $1::bigint "
    "ORDER BY x.ok, p.sku, d.code LIMIT $2::int";

static const inv_sheet inv_sheets[] = {
    {"Oversold", inv_over_sql, inv_over_cols, "sssiiiiis", inv_over_w},
    {"Low stock", inv_low_sql, inv_low_cols, "sssiii332i2", inv_low_w},
    {"Changes applied", inv_chg_sql, inv_chg_cols, "sssiiiiis", inv_chg_w},
    {"Rejected records", inv_rej_sql, inv_rej_cols, "iisssiss", inv_rej_w},
    {"Push results", inv_push_sql, inv_push_cols, "ssiiiisis", inv_push_w},
};

static void inv_header(lxw_worksheet *ws, const char *const *cols, const double *widths, int n,
                       const inv_fmt *f)
{
    for (int c = 0; c < n; c++) {
        worksheet_set_column(ws, (lxw_col_t)c, (lxw_col_t)c, widths[c], NULL);
        worksheet_write_string(ws, 0, (lxw_col_t)c, cols[c], f->head);
    }
    worksheet_freeze_panes(ws, 1, 0);
}

static void inv_cell(lxw_worksheet *ws, lxw_row_t row, lxw_col_t col, char type, const char *v,
                     const inv_fmt *f)
{
    if (type == 's')
        worksheet_write_string(ws, row, col, v, NULL);
    else
        worksheet_write_number(ws, row, col, strtod(v, NULL),
                               type == '2'   ? f->num2
                               : type == '3' ? f->num3
                                             : NULL);
}

/* Stream one sheet's rows; returns rows written, or -1 on a SQL error. */
static int64_t inv_sheet_rows(inv_run *r, lxw_worksheet *ws, const inv_sheet *sh, int ncols,
                              const inv_fmt *f, int *truncated)
{
    char sync[24], lim[24];
    snprintf(sync, sizeof sync, "%lld", (long long)r->sync_id);
    snprintf(lim, sizeof lim, "%lld", (long long)r->st->max_rows + 1);
    const char *p[2] = {sync, lim};
    int64_t rows = 0, sql = 0;
    int ok =
        PQsendQueryParams(r->db, sh->sql, 2, NULL, p, NULL, NULL, 0) && PQsetSingleRowMode(r->db);
    if (!ok)
        inv_fail(r, "sheet %s: %s", sh->name, PQerrorMessage(r->db));
    PGresult *res;
    for (;;) {
        int64_t g0 = inv_now_ns();
        res = PQgetResult(r->db);
        sql += inv_now_ns() - g0;
        if (!res)
            break;
        ExecStatusType st = PQresultStatus(res);
        if (st == PGRES_SINGLE_TUPLE && rows < r->st->max_rows) {
            rows++;
            for (int c = 0; c < ncols && c < PQnfields(res); c++)
                if (!PQgetisnull(res, 0, c))
                    inv_cell(ws, (lxw_row_t)rows, (lxw_col_t)c, sh->types[c], PQgetvalue(res, 0, c),
                             f);
        } else if (st == PGRES_SINGLE_TUPLE) {
            *truncated = 1;
        } else if (st != PGRES_TUPLES_OK && ok) {
            char step[64];
            snprintf(step, sizeof step, "sheet %s", sh->name);
            inv_sql_ok(r, step, res, PGRES_TUPLES_OK);
            ok = 0;
        }
        PQclear(res);
    }
    r->t.sql += sql;
    return ok ? rows : -1;
}

static void inv_summary_row(lxw_worksheet *ws, int *row, const char *what, double v,
                            const char *text)
{
    worksheet_write_string(ws, (lxw_row_t)*row, 0, what, NULL);
    if (text)
        worksheet_write_string(ws, (lxw_row_t)*row, 1, text, NULL);
    else
        worksheet_write_number(ws, (lxw_row_t)*row, 1, v, NULL);
    (*row)++;
}

/* The Summary's rows, written last (its header went first, so the sheet
 * comes first and its rows stay in order, as constant memory requires). */
static void inv_summary(inv_run *r, lxw_worksheet *ws, const int64_t *counts, const int *truncated)
{
    const char *pull = r->pulled == 0   ? "skipped (plugins.inventory_sync.warehouse.url not set)"
                       : r->pulled == 2 ? "not modified (HTTP 304)"
                                        : "pulled";
    char note[160];
    int row = 1;
    inv_summary_row(ws, &row, "Business date", 0, r->info->business_date);
    inv_summary_row(ws, &row, "Run", (double)r->info->run_id, NULL);
    inv_summary_row(ws, &row, "Sync", (double)r->sync_id, NULL);
    inv_summary_row(ws, &row, "Warehouse", 0, r->st->warehouse.url ? r->st->warehouse.url : "-");
    inv_summary_row(ws, &row, "Pull", 0, pull);
    inv_summary_row(ws, &row, "Cursor (updated_since) before", 0,
                    r->cursor_before[0] ? r->cursor_before : "-");
    inv_summary_row(ws, &row, "Cursor (updated_since) after", 0,
                    r->cursor_after[0] ? r->cursor_after : "-");
    inv_summary_row(ws, &row, "Pages", (double)r->pages, NULL);
    inv_summary_row(ws, &row, "Records pulled", (double)r->records, NULL);
    inv_summary_row(ws, &row, "Changes applied", (double)r->applied, NULL);
    inv_summary_row(ws, &row, "Records rejected", (double)r->rejected, NULL);
    inv_summary_row(ws, &row, "Stock rows (SKU x warehouse)", (double)r->rows, NULL);
    inv_summary_row(ws, &row, "Reservations changed", (double)r->reserved_moved, NULL);
    inv_summary_row(ws, &row, "Oversold rows (available < 0)", (double)r->oversold, NULL);
    inv_summary_row(ws, &row, "Levels queued for the storefront", (double)r->enqueued, NULL);
    inv_summary_row(ws, &row, "Storefront", 0,
                    r->st->storefront.url ? r->st->storefront.url : "- (push skipped)");
    inv_summary_row(ws, &row, "Levels pushed", (double)r->pushed, NULL);
    inv_summary_row(ws, &row, "Levels failed", (double)r->push_failed, NULL);
    inv_summary_row(ws, &row, "Levels left in the outbox", (double)r->outbox_left, NULL);
    inv_summary_row(ws, &row, "Out of stock SKUs", (double)r->out_of_stock, NULL);
    inv_summary_row(ws, &row, "Low stock SKUs", (double)r->low_stock, NULL);
    inv_summary_row(ws, &row, "Alerts sent", (double)r->alerts_sent, NULL);
    inv_summary_row(ws, &row, "Demand window (days)", (double)r->st->window_days, NULL);
    inv_summary_row(ws, &row, "Lead time (days)", (double)r->st->lead_time_days, NULL);
    inv_summary_row(ws, &row, "Review period (days)", (double)r->st->review_days, NULL);
    inv_summary_row(ws, &row, "Service level", r->st->service_level, NULL);
    inv_summary_row(ws, &row, "z", r->st->z, NULL);
    for (size_t i = 0; i < sizeof inv_sheets / sizeof inv_sheets[0]; i++) {
        snprintf(note, sizeof note, "Rows in %s", inv_sheets[i].name);
        if (truncated[i]) {
            char text[120];
            snprintf(text, sizeof text, "first %lld shown (workbook_max_rows)",
                     (long long)counts[i]);
            inv_summary_row(ws, &row, note, 0, text);
        } else {
            inv_summary_row(ws, &row, note, (double)counts[i], NULL);
        }
    }
}

purser_status inv_workbook(inv_run *r)
{
    const purser_host *h = r->st->host;
    char name[64], path[4096], tmp[4200];
    snprintf(name, sizeof name, "inventory_%s.xlsx", r->info->business_date);
    if (h->report_path(r->ctx, name, path, sizeof path) != 0)
        return PURSER_ERROR;
    snprintf(tmp, sizeof tmp, "%s.%lld.tmp", path, (long long)r->info->run_id);
    lxw_workbook_options opt = {.constant_memory = LXW_TRUE};
    lxw_workbook *wb = workbook_new_opt(tmp, &opt);
    if (!wb) {
        inv_fail(r, "cannot create %s", tmp);
        return PURSER_ERROR;
    }
    inv_fmt f = {workbook_add_format(wb), workbook_add_format(wb), workbook_add_format(wb)};
    format_set_bold(f.head);
    format_set_bg_color(f.head, 0xDDEBF7);
    format_set_num_format(f.num2, "0.00");
    format_set_num_format(f.num3, "0.000");
    enum { N = sizeof inv_sheets / sizeof inv_sheets[0] };
    static const char *const cols[] = {"Item", "Value"};
    static const double widths[] = {44, 60};
    lxw_worksheet *summary = workbook_add_worksheet(wb, "Summary");
    inv_header(summary, cols, widths, 2, &f);
    int64_t counts[N] = {0};
    int truncated[N] = {0}, ok = 1;
    for (int i = 0; i < N && ok; i++) {
        lxw_worksheet *ws = workbook_add_worksheet(wb, inv_sheets[i].name);
        int ncols = (int)strlen(inv_sheets[i].types);
        inv_header(ws, inv_sheets[i].cols, inv_sheets[i].widths, ncols, &f);
        worksheet_autofilter(ws, 0, 0, 0, (lxw_col_t)(ncols - 1));
        counts[i] = inv_sheet_rows(r, ws, &inv_sheets[i], ncols, &f, &truncated[i]);
        ok = counts[i] >= 0;
    }
    if (ok)
        inv_summary(r, summary, counts, truncated);
    lxw_error e = workbook_close(wb);
    if (!ok || e != LXW_NO_ERROR) {
        if (ok)
            inv_fail(r, "writing %s: %s", tmp, lxw_strerror(e));
        remove(tmp);
        return PURSER_ERROR;
    }
    if (rename(tmp, path) != 0) {
        inv_fail(r, "renaming %s: %s", tmp, strerror(errno));
        remove(tmp);
        return PURSER_ERROR;
    }
    h->log(r->ctx, PURSER_LOG_INFO, "wrote %s", path);
    return PURSER_OK;
}
