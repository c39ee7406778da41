/* inventory_sync.h: the inventory sync plugin's private types, shared by
 * inventory_sync.c (descriptor, settings, the run), inv_http.c (libcurl with
 * retries), inv_pull.c (warehouse -> store), inv_reconcile.c (available to
 * sell, the outbox), inv_push.c (outbox -> storefront), inv_plan.c (demand,
 * reorder points, alerts) and inv_xlsx.c (the workbook). Not an API. */
#ifndef PURSER_INVENTORY_SYNC_H
#define PURSER_INVENTORY_SYNC_H

#include <libpq-fe.h>
#include <stdint.h>

#include "purser/plugin.h"

/* Retry policy of one endpoint (within one run). */
typedef struct inv_http_cfg {
    const char *url;         /* borrowed from the host's config; NULL: unset */
    const char *auth_header; /* "Name: value" or NULL */
    int64_t timeout_ms;
    int64_t connect_timeout_ms;
    int64_t retries;     /* attempts after the first */
    int64_t backoff_ms;  /* first wait; doubled each attempt, with jitter */
    int64_t max_wait_ms; /* cap of one wait (Retry-After above it: give up) */
} inv_http_cfg;

/* The plugin's state, made by init, freed by fini. */
typedef struct inv_state {
    const purser_host *host; /* borrowed; valid until fini */
    inv_http_cfg warehouse, storefront, alerts;
    int64_t page_size, max_pages, batch_size, alerts_batch;
    int64_t window_days, lead_time_days, review_days;
    double service_level, z; /* z = inverse normal of the service level */
    int64_t max_rows;        /* rows per workbook sheet */
    int64_t history_days;
} inv_state;

/* Time spent per kind of work in one run, in nanoseconds. */
typedef struct inv_timers {
    int64_t start, http, sql;
} inv_timers;

/* Everything one run counts; shown in the result, the log and Summary. */
typedef struct inv_run {
    inv_state *st;
    purser_ctx *ctx;
    const purser_run_info *info;
    PGconn *db;
    inv_timers t;
    int64_t sync_id;
    int committed; /* pull + reconcile committed (or rolled back after a dry run) */
    /* pull */
    int pulled; /* 0 skipped (no URL), 1 pulled, 2 not modified (304) */
    int64_t pages, records, applied, rejected;
    char cursor_before[80], cursor_after[80];
    /* reconcile */
    int64_t rows, oversold, oversold_orders, enqueued, reserved_moved, unstocked_skus;
    /* push */
    int64_t pushed, push_failed, push_requests, outbox_left;
    int pushed_skipped; /* no storefront URL */
    /* plan */
    int64_t low_stock, out_of_stock, alerts_sent;
    char error[600]; /* the reason of a failed step, for the result line */
    void *curl;      /* one libcurl easy handle per run (keep-alive); owned */
} inv_run;

/* ---- inventory_sync.c ---- */
int64_t inv_now_ns(void);
/* PQexecParams, timed as SQL; the caller PQclears. */
PGresult *inv_sql(inv_run *r, const char *sql, int n, const char *const *params);
/* A statement expected to return `want` (PGRES_COMMAND_OK / TUPLES_OK):
 * 0, or -1 after logging "STEP: error" and keeping it in r->error. */
int inv_sql_ok(inv_run *r, const char *step, PGresult *res, ExecStatusType want);
void inv_fail(inv_run *r, const char *fmt, ...) PURSER_PRINTF(2, 3);

/* ---- inv_http.c ---- */
typedef struct inv_buf {
    char *data; /* malloc'd, NUL-terminated; owner frees */
    size_t len, cap;
} inv_buf;

typedef struct inv_response {
    long status;     /* HTTP status of the last attempt, 0 if none */
    inv_buf body;    /* the last attempt's body */
    char etag[256];  /* ETag header, "" if none */
    char *link_next; /* Link rel="next" target, malloc'd or NULL */
    int attempts;
} inv_response;

/* GET (body NULL) or POST a JSON body to url with the endpoint's auth and
 * extra headers (NULL-terminated "Name: value" list, may be NULL),
 * retrying 5xx, 429 and transport failures with exponential backoff and
 * jitter, honouring Retry-After. Returns 0 on a final answer below 500
 * other than 429 (the caller judges the status), -1 with err set when the
 * endpoint stayed unavailable (*transient = 1) or the run was cancelled. */
int inv_http(inv_run *r, const inv_http_cfg *cfg, const char *url, const char *body,
             const char *const *headers, inv_response *out, int *transient, char *err,
             size_t errlen);
void inv_response_free(inv_response *out);

/* ---- the steps; each returns PURSER_OK, RETRY or ERROR ---- */
purser_status inv_pull(inv_run *r);      /* inside the run's transaction */
purser_status inv_reconcile(inv_run *r); /* inside the run's transaction */
purser_status inv_push(inv_run *r);
purser_status inv_plan(inv_run *r); /* low stock + alerts */
purser_status inv_workbook(inv_run *r);

/* ---- inv_plan.c ---- */
/* z such that P(Z <= z) = p for the standard normal, 0 < p < 1
 * (Acklam's rational approximation, relative error below 1.2e-9). */
double inv_normal_quantile(double p);

#endif
