/* inventory_sync.c: the inventory sync plugin — each run pulls stock levels
 * from the warehouse API, reconciles them with what the store has sold and
 * reserved (one transaction), pushes changed sellable quantities to the
 * storefront through an outbox, computes reorder points and posts low-stock
 * alerts, and writes inventory_<D>.xlsx. This file: the descriptor, the
 * settings, the order of the steps and the timers. */
#include <curl/curl.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "inventory_sync.h"

/* Built by the Makefile from the migrations folder. */
extern const purser_migration inventory_sync_migrations[];

/* Settings under `plugins.inventory_sync:` in purser.yaml. */
static const purser_config_key inv_config[] = {
    {"warehouse.url", PURSER_CFG_STRING, NULL, 0,
     "warehouse stock endpoint (GET, JSON pages; see the README); unset: the pull is skipped "
     "and reconcile, push and report still run"},
    {"warehouse.auth_header", PURSER_CFG_STRING, NULL, 0,
     "header sent to the warehouse, e.g. \"Authorization: Bearer ${WMS_TOKEN}\""},
    {"warehouse.page_size", PURSER_CFG_INT, "1000", 0,
     "records asked per page (limit=, 1 .. 10000)"},
    {"warehouse.max_pages", PURSER_CFG_INT, "100000", 0,
     "a pull longer than this fails (a loop guard)"},
    {"warehouse.timeout", PURSER_CFG_DURATION, "30s", 0, "time allowed for one page request"},
    {"storefront.url", PURSER_CFG_STRING, NULL, 0,
     "storefront inventory_levels/set endpoint (POST, JSON batches); unset: changes wait in the "
     "outbox"},
    {"storefront.auth_header", PURSER_CFG_STRING, NULL, 0,
     "header sent to the storefront, e.g. \"X-Shopify-Access-Token: ${SHOP_TOKEN}\""},
    {"storefront.batch_size", PURSER_CFG_INT, "250", 0, "levels per POST (1 .. 5000)"},
    {"storefront.timeout", PURSER_CFG_DURATION, "30s", 0, "time allowed for one batch request"},
    {"alerts_url", PURSER_CFG_STRING, NULL, 0,
     "webhook for low-stock and out-of-stock alerts (POST JSON with a \"text\" line, as "
     "alerts.webhook_url); unset: no alerts"},
    {"alerts_batch", PURSER_CFG_INT, "100", 0, "alerts per POST"},
    {"connect_timeout", PURSER_CFG_DURATION, "5s", 0, "time allowed to connect, every endpoint"},
    {"retries", PURSER_CFG_INT, "4", 0,
     "retries of a request on 5xx, 429, timeouts and refused connections, within a run"},
    {"backoff", PURSER_CFG_DURATION, "500ms", 0, "first wait before a retry; doubles, with jitter"},
    {"max_wait", PURSER_CFG_DURATION, "60s", 0,
     "longest single wait; a Retry-After beyond it ends the attempts"},
    {"demand_window_days", PURSER_CFG_INT, "28", 0,
     "days of orders (up to the business date) behind average daily demand and its deviation"},
    {"lead_time_days", PURSER_CFG_INT, "7", 0, "supplier lead time in days"},
    {"review_days", PURSER_CFG_INT, "14", 0,
     "days of demand a suggested order covers beyond the reorder point"},
    {"service_level", PURSER_CFG_STRING, "0.95", 0,
     "chance of not running out during the lead time (0.5 .. 0.9999): z of the safety stock"},
    {"workbook_max_rows", PURSER_CFG_INT, "100000", 0, "rows per workbook sheet at most"},
    {"history_days", PURSER_CFG_INT, "90", 0,
     "days the sync history (changes, rejects, pushes) is kept"},
    {0},
};

/* Parameters of a job that runs this plugin (`params:` or --param). */
static const purser_config_key inv_params[] = {
    {"full", PURSER_CFG_BOOL, "false", 0,
     "pull everything: ignore the stored updated_since cursor and ETag"},
    {0},
};

int64_t inv_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

PGresult *inv_sql(inv_run *r, const char *sql, int n, const char *const *params)
{
    int64_t t0 = inv_now_ns();
    PGresult *res = PQexecParams(r->db, sql, n, NULL, params, NULL, NULL, 0);
    r->t.sql += inv_now_ns() - t0;
    return res;
}

void inv_fail(inv_run *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->error, sizeof r->error, fmt, ap);
    va_end(ap);
    r->st->host->log(r->ctx, PURSER_LOG_ERROR, "%s", r->error);
}

int inv_sql_ok(inv_run *r, const char *step, PGresult *res, ExecStatusType want)
{
    if (PQresultStatus(res) == want)
        return 0;
    const char *msg = PQresultErrorMessage(res);
    size_t n = strlen(msg);
    while (n && msg[n - 1] == '\n')
        n--;
    inv_fail(r, "%s: %.*s", step, (int)n, msg);
    return -1;
}

/* ---- settings ---------------------------------------------------------------- */

static int64_t inv_int(const purser_host *h, purser_ctx *ctx, const char *key, int64_t def)
{
    int64_t v = def;
    h->config_int(ctx, key, &v);
    return v;
}

static int64_t inv_ms(const purser_host *h, purser_ctx *ctx, const char *key, int64_t def)
{
    int64_t v = def;
    h->config_duration_ms(ctx, key, &v);
    return v;
}

/* An integer setting within lo .. hi, or a logged error. */
static int inv_range(const purser_host *h, purser_ctx *ctx, const char *key, int64_t v, int64_t lo,
                     int64_t hi)
{
    if (v >= lo && v <= hi)
        return 0;
    h->log(ctx, PURSER_LOG_ERROR, "plugins.inventory_sync.%s: %lld is outside %lld .. %lld", key,
           (long long)v, (long long)lo, (long long)hi);
    return -1;
}

static const char *inv_url(const purser_host *h, purser_ctx *ctx, const char *key)
{
    const char *u = h->config_string(ctx, key);
    return u && *u ? u : NULL;
}

static int inv_init_http(inv_state *st, purser_ctx *ctx)
{
    const purser_host *h = st->host;
    inv_http_cfg common = {
        .connect_timeout_ms = inv_ms(h, ctx, "connect_timeout", 5000),
        .retries = inv_int(h, ctx, "retries", 4),
        .backoff_ms = inv_ms(h, ctx, "backoff", 500),
        .max_wait_ms = inv_ms(h, ctx, "max_wait", 60000),
    };
    if (inv_range(h, ctx, "retries", common.retries, 0, 20) ||
        inv_range(h, ctx, "backoff", common.backoff_ms, 0, 3600000) ||
        inv_range(h, ctx, "max_wait", common.max_wait_ms, 0, 3600000))
        return -1;
    st->warehouse = st->storefront = st->alerts = common;
    st->warehouse.url = inv_url(h, ctx, "warehouse.url");
    st->warehouse.auth_header = h->config_string(ctx, "warehouse.auth_header");
    st->warehouse.timeout_ms = inv_ms(h, ctx, "warehouse.timeout", 30000);
    st->storefront.url = inv_url(h, ctx, "storefront.url");
    st->storefront.auth_header = h->config_string(ctx, "storefront.auth_header");
    st->storefront.timeout_ms = inv_ms(h, ctx, "storefront.timeout", 30000);
    st->alerts.url = inv_url(h, ctx, "alerts_url");
    st->alerts.auth_header = NULL;
    st->alerts.timeout_ms = 10000;
    return 0;
}

static purser_status inv_init(const purser_host *host, purser_ctx *ctx, void **state)
{
    inv_state *st = calloc(1, sizeof *st);
    if (!st)
        return PURSER_ERROR;
    *state = st;
    st->host = host;
    if (inv_init_http(st, ctx))
        return PURSER_ERROR;
    st->page_size = inv_int(host, ctx, "warehouse.page_size", 1000);
    st->max_pages = inv_int(host, ctx, "warehouse.max_pages", 100000);
    st->batch_size = inv_int(host, ctx, "storefront.batch_size", 250);
    st->alerts_batch = inv_int(host, ctx, "alerts_batch", 100);
    st->window_days = inv_int(host, ctx, "demand_window_days", 28);
    st->lead_time_days = inv_int(host, ctx, "lead_time_days", 7);
    st->review_days = inv_int(host, ctx, "review_days", 14);
    st->max_rows = inv_int(host, ctx, "workbook_max_rows", 100000);
    st->history_days = inv_int(host, ctx, "history_days", 90);
    if (inv_range(host, ctx, "warehouse.page_size", st->page_size, 1, 10000) ||
        inv_range(host, ctx, "warehouse.max_pages", st->max_pages, 1, 10000000) ||
        inv_range(host, ctx, "storefront.batch_size", st->batch_size, 1, 5000) ||
        inv_range(host, ctx, "alerts_batch", st->alerts_batch, 1, 10000) ||
        inv_range(host, ctx, "demand_window_days", st->window_days, 2, 3650) ||
        inv_range(host, ctx, "lead_time_days", st->lead_time_days, 0, 3650) ||
        inv_range(host, ctx, "review_days", st->review_days, 0, 3650) ||
        inv_range(host, ctx, "workbook_max_rows", st->max_rows, 10, 1000000) ||
        inv_range(host, ctx, "history_days", st->history_days, 1, 36500))
        return PURSER_ERROR;
    const char *sl = host->config_string(ctx, "service_level");
    char *end = NULL;
    errno = 0;
    st->service_level = sl ? strtod(sl, &end) : 0.95;
    if (sl && (end == sl || *end || errno ||
               !(st->service_level >= 0.5 && st->service_level <= 0.9999))) {
        host->log(ctx, PURSER_LOG_ERROR,
                  "plugins.inventory_sync.service_level: '%s' is not a number from 0.5 to 0.9999",
                  sl);
        return PURSER_ERROR;
    }
    st->z = inv_normal_quantile(st->service_level);
    return PURSER_OK;
}

static void inv_fini(void *state)
{
    free(state);
}

/* ---- the run --------------------------------------------------------------------- */

static int inv_exec(inv_run *r, const char *step, const char *sql)
{
    PGresult *res = inv_sql(r, sql, 0, NULL);
    int rc = inv_sql_ok(r, step, res, PGRES_COMMAND_OK);
    PQclear(res);
    return rc;
}

/* Only one sync at a time, whichever machine runs it: a session lock. */
static int inv_lock(inv_run *r, int take)
{
    PGresult *res = inv_sql(r,
                            take ? "SELECT pg_try_advisory_lock(hashtext('purser.inventory_sync'))"
                                 : "SELECT pg_advisory_unlock(hashtext('purser.inventory_sync'))",
                            0, NULL);
    int rc = inv_sql_ok(r, take ? "taking the sync lock" : "releasing the sync lock", res,
                        PGRES_TUPLES_OK);
    if (rc == 0 && take && PQgetvalue(res, 0, 0)[0] != 't') {
        inv_fail(r, "another inventory_sync run holds the sync lock; try again when it ends");
        rc = -1;
    }
    PQclear(res);
    return rc;
}

/* The sync record of this run (inside the transaction), old history out. */
static int inv_begin_sync(inv_run *r)
{
    char run_id[24], days[24];
    snprintf(run_id, sizeof run_id, "%lld", (long long)r->info->run_id);
    snprintf(days, sizeof days, "%lld", (long long)r->st->history_days);
    const char *p[4] = {run_id, r->info->business_date, r->st->warehouse.url, days};
    PGresult *res =
        inv_sql(r,
                "WITH old AS (DELETE FROM inventory_sync_runs WHERE started_at < now() - "
                "  make_interval(days => $1::int) RETURNING id), "
                "c AS (DELETE FROM inventory_sync_changes WHERE sync_id IN (SELECT id FROM old)), "
                "j AS (DELETE FROM inventory_sync_rejects WHERE sync_id IN (SELECT id FROM old)) "
                "DELETE FROM inventory_sync_pushes WHERE sync_id IN (SELECT id FROM old)",
                1, p + 3);
    int rc = inv_sql_ok(r, "removing sync history older than history_days", res, PGRES_COMMAND_OK);
    PQclear(res);
    if (rc)
        return -1;
    res = inv_sql(r,
                  "INSERT INTO inventory_sync_runs (purser_run_id, business_date, source) "
                  "VALUES (nullif($1::bigint, 0), $2::date, $3) RETURNING id",
                  3, p);
    rc = inv_sql_ok(r, "recording the sync", res, PGRES_TUPLES_OK);
    if (rc == 0)
        r->sync_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return rc;
}

/* Pull and reconcile in one transaction: all of it or nothing. */
static purser_status inv_transaction(inv_run *r)
{
    if (inv_exec(r, "BEGIN", "BEGIN ISOLATION LEVEL READ COMMITTED"))
        return PURSER_RETRY;
    purser_status s = inv_begin_sync(r) ? PURSER_RETRY : PURSER_OK;
    if (s == PURSER_OK)
        s = inv_pull(r);
    if (s == PURSER_OK)
        s = inv_reconcile(r);
    if (s == PURSER_OK && r->info->dry_run) /* plan on the pulled stock, then roll back */
        s = inv_plan(r);
    if (s == PURSER_OK) {
        int dry = r->info->dry_run;
        if (inv_exec(r, dry ? "ROLLBACK (dry run)" : "COMMIT", dry ? "ROLLBACK" : "COMMIT"))
            return PURSER_RETRY;
        r->committed = 1;
        return PURSER_OK;
    }
    PQclear(inv_sql(r, "ROLLBACK", 0, NULL));
    return s;
}

static double inv_pct(int64_t part, int64_t total)
{
    return total > 0 ? 100.0 * (double)part / (double)total : 0;
}

/* Where the time went: logged, exported as gauges, returned as text. */
static void inv_timing(inv_run *r, char *buf, size_t len)
{
    const purser_host *h = r->st->host;
    int64_t total = inv_now_ns() - r->t.start;
    int64_t own = total - r->t.http - r->t.sql;
    if (own < 0)
        own = 0;
    snprintf(buf, len, "%.2f s: http %.0f%%, sql %.0f%%, own %.0f%%", (double)total / 1e9,
             inv_pct(r->t.http, total), inv_pct(r->t.sql, total), inv_pct(own, total));
    h->log(r->ctx, PURSER_LOG_INFO,
           "timing: %.3f s in all: HTTP %.3f s (%.1f%%), SQL %.3f s (%.1f%%), own code %.3f s "
           "(%.1f%%)",
           (double)total / 1e9, (double)r->t.http / 1e9, inv_pct(r->t.http, total),
           (double)r->t.sql / 1e9, inv_pct(r->t.sql, total), (double)own / 1e9,
           inv_pct(own, total));
    h->metric_set(r->ctx, "run_seconds", (double)total / 1e9);
    h->metric_set(r->ctx, "http_seconds", (double)r->t.http / 1e9);
    h->metric_set(r->ctx, "sql_seconds", (double)r->t.sql / 1e9);
    h->metric_set(r->ctx, "own_seconds", (double)own / 1e9);
}

static void inv_metrics(inv_run *r)
{
    const purser_host *h = r->st->host;
    h->metric_add(r->ctx, "records_pulled_total", (double)r->records);
    h->metric_add(r->ctx, "changes_applied_total", (double)r->applied);
    h->metric_add(r->ctx, "records_rejected_total", (double)r->rejected);
    h->metric_add(r->ctx, "levels_pushed_total", (double)r->pushed);
    h->metric_add(r->ctx, "push_failures_total", (double)r->push_failed);
    h->metric_set(r->ctx, "outbox_pending", (double)r->outbox_left);
    h->metric_set(r->ctx, "oversold", (double)r->oversold);
    h->metric_set(r->ctx, "low_stock", (double)r->low_stock);
    h->metric_set(r->ctx, "out_of_stock", (double)r->out_of_stock);
}

static void inv_result(inv_run *r, purser_status s)
{
    const purser_host *h = r->st->host;
    char timing[160], pull[200], push[160];
    inv_timing(r, timing, sizeof timing);
    if (r->pulled == 0)
        snprintf(pull, sizeof pull, "pull skipped (no warehouse.url)");
    else if (r->pulled == 2)
        snprintf(pull, sizeof pull, "warehouse not modified (304)");
    else
        snprintf(pull, sizeof pull,
                 "pulled %lld records in %lld pages: %lld changes applied, %lld rejected",
                 (long long)r->records, (long long)r->pages, (long long)r->applied,
                 (long long)r->rejected);
    if (r->info->dry_run)
        snprintf(push, sizeof push, "%lld levels would be pushed", (long long)r->enqueued);
    else if (r->pushed_skipped)
        snprintf(push, sizeof push, "push skipped (no storefront.url), %lld waiting in the outbox",
                 (long long)r->outbox_left);
    else
        snprintf(push, sizeof push, "%lld levels pushed, %lld failed, %lld left in the outbox",
                 (long long)r->pushed, (long long)r->push_failed, (long long)r->outbox_left);
    if (s != PURSER_OK && r->error[0] && !r->committed) {
        h->set_result(r->ctx, "%s (%s)", r->error, timing);
        return;
    }
    h->set_result(r->ctx, "%s%s; %lld oversold; %s; %lld low stock, %lld out of stock%s%s (%s)",
                  r->info->dry_run ? "dry run: " : "", pull, (long long)r->oversold, push,
                  (long long)r->low_stock, (long long)r->out_of_stock,
                  s != PURSER_OK && r->error[0] ? "; " : "", s != PURSER_OK ? r->error : "",
                  timing);
}

static purser_status inv_worst(purser_status a, purser_status b)
{
    return a > b ? a : b;
}

static purser_status inv_run_cb(void *state, purser_ctx *ctx, const purser_run_info *run)
{
    inv_state *st = state;
    const purser_host *h = st->host;
    inv_run r = {.st = st, .ctx = ctx, .info = run};
    r.t.start = inv_now_ns();
    r.db = h->db(ctx);
    if (!r.db) {
        h->set_result(ctx, "the store cannot be reached");
        return PURSER_RETRY;
    }
    if (inv_lock(&r, 1)) {
        inv_result(&r, PURSER_RETRY);
        return PURSER_RETRY;
    }
    purser_status s = inv_transaction(&r);
    if (s == PURSER_OK && !run->dry_run)
        s = inv_push(&r);
    /* levels left in the outbox wait for the next run: still plan and report */
    purser_status later = r.committed ? PURSER_OK : s;
    if (later == PURSER_OK && !run->dry_run)
        later = inv_plan(&r);
    if (later == PURSER_OK && !run->dry_run)
        later = inv_workbook(&r);
    s = inv_worst(s, later);
    inv_lock(&r, 0);
    if (r.curl)
        curl_easy_cleanup(r.curl);
    inv_metrics(&r);
    inv_result(&r, s);
    return s;
}

static const purser_plugin inventory_sync_plugin = {
    PURSER_PLUGIN_HEADER,
    .name = "inventory_sync",
    .version = "1.0.0",
    .description = "Warehouse stock in, sellable quantities out to the storefront, reorder "
                   "points and low-stock alerts",
    .config = inv_config,
    .params = inv_params,
    .init = inv_init,
    .fini = inv_fini,
    .run = inv_run_cb,
    .migrations = inventory_sync_migrations,
};

PURSER_PLUGIN_DEFINE(inventory_sync_plugin)
