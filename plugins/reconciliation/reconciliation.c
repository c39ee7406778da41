/* The payment reconciliation plugin: each night, per configured provider,
 * fetch the settlement report for the business date, load it (COPY), match
 * it against the store's payments in SQL, keep the results and the open
 * exception list, write the provider's fees back, and write the workbook
 * reconciliation_<provider>_<date>.xlsx. One transaction per provider: a
 * provider whose report is missing or malformed leaves nothing behind and
 * does not stop the others. */
#include <curl/curl.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "recon_internal.h"

extern const purser_migration reconciliation_migrations[];

/* Settings under `plugins.reconciliation:`. */
static const purser_config_key recon_config[] = {
    {"providers.*.format", PURSER_CFG_STRING, NULL, 1, "stripe, adyen, paypal or generic"},
    {"providers.*.source", PURSER_CFG_STRING, NULL, 0,
     "report URL with {date}: https:// (certificates checked), sftp://, file://"},
    {"providers.*.drop_folder", PURSER_CFG_PATH, NULL, 0,
     "instead of source: a folder the report is dropped into"},
    {"providers.*.pattern", PURSER_CFG_STRING, NULL, 0,
     "with drop_folder: the report's file name, {date} for the business date"},
    {"providers.*.auth_header", PURSER_CFG_STRING, NULL, 0,
     "'Name: value' sent with the request, e.g. 'Authorization: Bearer ${STRIPE_KEY}'"},
    {"providers.*.username", PURSER_CFG_STRING, NULL, 0, "basic auth / sftp user (use ${ENV})"},
    {"providers.*.password", PURSER_CFG_STRING, NULL, 0, "basic auth / sftp password (use ${ENV})"},
    {"providers.*.timeout", PURSER_CFG_DURATION, "60s", 0, "whole transfer timeout"},
    {"providers.*.connect_timeout", PURSER_CFG_DURATION, "10s", 0, "connection timeout"},
    {"providers.*.retries", PURSER_CFG_INT, "3", 0,
     "extra attempts on 5xx, 429, timeouts and cut transfers"},
    {"providers.*.retry_backoff", PURSER_CFG_DURATION, "1s", 0,
     "first wait between attempts, doubled each time"},
    {"providers.*.timezone", PURSER_CFG_STRING, "UTC", 0,
     "zone of report dates written without one (Stripe, generic)"},
    {"providers.*.merchant_reference_column", PURSER_CFG_STRING, NULL, 0,
     "header holding our order reference, if not the format's usual one"},
    {"providers.*.columns.reference", PURSER_CFG_STRING, NULL, 0,
     "generic: header of the provider's transaction reference"},
    {"providers.*.columns.amount", PURSER_CFG_STRING, NULL, 0, "generic: header of the amount"},
    {"providers.*.columns.currency", PURSER_CFG_STRING, NULL, 0,
     "generic: header of the ISO 4217 currency code"},
    {"providers.*.columns.date", PURSER_CFG_STRING, NULL, 0,
     "generic: header of the transaction date"},
    {"providers.*.columns.merchant_reference", PURSER_CFG_STRING, NULL, 0,
     "generic: header of our order reference"},
    {"providers.*.columns.original_reference", PURSER_CFG_STRING, NULL, 0,
     "generic: header of the original payment's reference (refunds, chargebacks)"},
    {"providers.*.columns.fee", PURSER_CFG_STRING, NULL, 0,
     "generic: header of the fee (positive: a cost)"},
    {"providers.*.columns.net", PURSER_CFG_STRING, NULL, 0,
     "generic: header of the net amount (checked: amount - fee = net)"},
    {"providers.*.columns.payout", PURSER_CFG_STRING, NULL, 0,
     "generic: header of the payout / batch id"},
    {"providers.*.columns.kind", PURSER_CFG_STRING, NULL, 0,
     "generic: header of the row type (values mapped under kinds)"},
    {"providers.*.columns.direction", PURSER_CFG_STRING, NULL, 0,
     "generic: header of credit/debit (sign: direction)"},
    {"providers.*.columns.timezone", PURSER_CFG_STRING, NULL, 0,
     "generic: header of each row's time zone"},
    {"providers.*.kinds.*", PURSER_CFG_STRING, NULL, 0,
     "generic: a row type value -> capture|refund|chargeback|chargeback_reversal|payout|fee|other"},
    {"providers.*.amounts", PURSER_CFG_STRING, "decimal", 0,
     "generic: decimal (12.34) or minor (1234) units"},
    {"providers.*.sign", PURSER_CFG_STRING, "signed", 0,
     "generic: signed (+ money to us), inverted, or direction"},
    {"providers.*.date_format", PURSER_CFG_STRING, "%Y-%m-%d %H:%M:%S", 0,
     "generic: %Y %m %d %H %M %S %z and literal characters"},
    {"providers.*.delimiter", PURSER_CFG_STRING, ",", 0, "generic: field separator"},
    {"amount_tolerance", PURSER_CFG_INT, "0", 0,
     "minor units an amount may differ and still match (shown in the workbook)"},
    {"fee_tolerance", PURSER_CFG_INT, "0", 0, "minor units a fee may differ from the expected"},
    {"grace_period", PURSER_CFG_DURATION, "2d", 0,
     "a payment the provider has not reported is pending this long, then missing_at_provider"},
    {"probable_window", PURSER_CFG_DURATION, "3d", 0,
     "date window of the amount + currency fallback (reported as probable)"},
    {"work_mem", PURSER_CFG_STRING, "128MB", 0, "PostgreSQL work_mem for the matching"},
    {"workbook_max_rows", PURSER_CFG_INT, "1048575", 0,
     "rows per workbook sheet at most (Excel's limit); the rest stays in recon_results"},
    {0},
};

/* Parameters of a job running this plugin. */
static const purser_config_key recon_params_table[] = {
    {"provider", PURSER_CFG_STRING, "", 0, "reconcile only this provider (default: all)"},
    {"workbook", PURSER_CFG_BOOL, "true", 0, "write the workbook"},
    {0},
};

typedef struct recon_state {
    const purser_host *host;
    recon_provider *providers;
    size_t n_providers;
    char config_error[1024]; /* set when providers: is present but wrong */
    bool curl_ready;
} recon_state;

static purser_status recon_init(const purser_host *host, purser_ctx *ctx, void **state)
{
    recon_state *st = calloc(1, sizeof *st);
    if (!st)
        return PURSER_ERROR;
    *state = st;
    st->host = host;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        host->log(ctx, PURSER_LOG_ERROR, "libcurl could not be initialised");
        return PURSER_ERROR;
    }
    st->curl_ready = true;
    /* Without providers the plugin still loads (other commands work); a
     * run then says what to configure. A wrong block fails here, so that
     * `purser check` reports it. */
    if (host->config_count(ctx, "providers") == 0)
        return PURSER_OK;
    if (recon_providers_load(host, ctx, &st->providers, &st->n_providers, st->config_error,
                             sizeof st->config_error) != 0) {
        host->log(ctx, PURSER_LOG_ERROR, "%s", st->config_error);
        return PURSER_ERROR;
    }
    return PURSER_OK;
}

static void recon_fini(void *state)
{
    recon_state *st = state;
    if (!st)
        return;
    recon_providers_free(st->providers, st->n_providers);
    if (st->curl_ready)
        curl_global_cleanup();
    free(st);
}

static int64_t recon_cfg_int(const purser_host *h, purser_ctx *ctx, const char *key, bool duration)
{
    int64_t v = 0;
    if (duration)
        h->config_duration_ms(ctx, key, &v);
    else
        h->config_int(ctx, key, &v);
    return v;
}

static const char *recon_tmpdir(void)
{
    const char *t = getenv("TMPDIR");
    return t && *t ? t : "/tmp";
}

/* BEGIN, work_mem for the big joins, and the recon_runs row. */
static int recon_begin(recon_job *job, const char *work_mem, char *err, size_t errlen)
{
    if (recon_exec(job->db, "BEGIN", "BEGIN", 0, NULL, err, errlen) != 0)
        return -1;
    const char *wm[1] = {work_mem};
    /* JIT compiles for longer than these plans run; work_mem keeps the big
     * hash joins in memory, temp_buffers the work tables (it takes effect
     * when the session has not used a temporary table yet) */
    return recon_exec(job->db, "setting work_mem",
                      "SELECT set_config('work_mem', $1, true), set_config('jit', 'off', true), "
                      "set_config('temp_buffers', '512MB', true)",
                      1, wm, err, errlen);
}

static int recon_open_run(recon_job *job, char *err, size_t errlen)
{
    char run_id[24], params[512], files[4096];
    snprintf(run_id, sizeof run_id, "%lld", (long long)job->run_id);
    snprintf(params, sizeof params,
             "amount tolerance %lld minor units; fee tolerance %lld minor units; grace period "
             "%lld s; probable window +/- %lld s; time zone %s",
             (long long)job->params.amount_tolerance, (long long)job->params.fee_tolerance,
             (long long)(job->params.grace_ms / 1000), (long long)(job->params.window_ms / 1000),
             job->params.timezone);
    size_t used = (size_t)snprintf(files, sizeof files, "{");
    for (size_t i = 0; i < job->n_files && used < sizeof files - 24; i++)
        used += (size_t)snprintf(files + used, sizeof files - used, "%s%lld", i ? "," : "",
                                 (long long)job->files[i]);
    snprintf(files + used, sizeof files - used, "}");
    const char *p[5] = {job->prov->name, job->date, job->run_id ? run_id : NULL, params, files};
    if (recon_exec(job->db, "reopening what the date's earlier run resolved",
                   "UPDATE recon_exceptions SET resolved_on = NULL, resolved_run = NULL, "
                   "resolution = NULL WHERE resolved_run IN (SELECT id FROM recon_runs WHERE "
                   "provider = $1 AND business_date = $2 AND is_current)",
                   2, p, err, errlen) != 0 ||
        recon_exec(job->db, "retiring the date's earlier run",
                   "UPDATE recon_runs SET is_current = false WHERE provider = $1 AND "
                   "business_date = $2 AND is_current",
                   2, p, err, errlen) != 0)
        return -1;
    PGresult *r = PQexecParams(job->db,
                               "INSERT INTO recon_runs (provider, business_date, run_id, "
                               "parameters, files) VALUES ($1, $2, $3, $4, $5) RETURNING id",
                               5, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        recon_pg_error("recording the run", r, err, errlen);
        PQclear(r);
        return -1;
    }
    job->recon_run = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return 0;
}

static void recon_rollback(recon_job *job)
{
    PGresult *r = PQexec(job->db, "ROLLBACK");
    PQclear(r);
}

static purser_status recon_fetch_status_to_run(recon_fetch_status fs)
{
    return fs == RECON_FETCH_FAILED ? PURSER_ERROR : PURSER_RETRY;
}

/* One provider for the date: fetch, load, match, commit, workbook. */
static purser_status recon_provider_run(recon_state *st, purser_ctx *ctx, recon_job *job,
                                        recon_refdata *ref, bool dry_run, bool workbook,
                                        char *summary, size_t slen)
{
    const purser_host *h = st->host;
    char err[2048] = "", work_mem[64];
    const char *wm = h->config_string(ctx, "work_mem");
    snprintf(work_mem, sizeof work_mem, "%s", wm ? wm : "128MB");
    recon_fetched f;
    recon_fetch_status fs =
        recon_fetch(h, ctx, job->prov, job->date, recon_tmpdir(), &f, err, sizeof err);
    if (fs != RECON_FETCH_OK) {
        h->log(ctx, PURSER_LOG_ERROR, "%s: %s", job->prov->name, err);
        snprintf(summary, slen, "%s: %.1200s", job->prov->name, err);
        return recon_fetch_status_to_run(fs);
    }
    h->log(ctx, PURSER_LOG_INFO, "%s: fetched %s (%llu bytes, sha256 %s)", job->prov->name,
           f.source, (unsigned long long)f.bytes, f.sha256);
    int rc = recon_begin(job, work_mem, err, sizeof err);
    if (rc == 0)
        rc = recon_load_file(job, &f, ref, err, sizeof err);
    unlink(f.path);
    if (rc == 0)
        rc = recon_open_run(job, err, sizeof err);
    if (rc == 0)
        rc = recon_match(job, err, sizeof err);
    char counts[1024] = "";
    if (rc == 0)
        recon_counts(job, counts, sizeof counts);
    if (rc != 0 || dry_run) {
        recon_rollback(job);
        if (rc != 0) {
            h->log(ctx, PURSER_LOG_ERROR, "%s: %s (nothing of it was kept)", job->prov->name, err);
            snprintf(summary, slen, "%s: rejected: %.1200s", job->prov->name, err);
            return PURSER_ERROR;
        }
        snprintf(summary, slen, "%s: dry run, nothing kept: %s", job->prov->name, counts);
        return PURSER_OK;
    }
    if (recon_exec(job->db, "COMMIT", "COMMIT", 0, NULL, err, sizeof err) != 0) {
        h->log(ctx, PURSER_LOG_ERROR, "%s: %s", job->prov->name, err);
        snprintf(summary, slen, "%s: %.1200s", job->prov->name, err);
        return PURSER_RETRY;
    }
    h->log(ctx, PURSER_LOG_INFO, "%s %s: %llu rows loaded%s; %s", job->prov->name, job->date,
           (unsigned long long)job->rows_loaded, job->reused ? " (file seen before: reused)" : "",
           counts);
    snprintf(summary, slen, "%s: %s", job->prov->name, counts);
    if (workbook && recon_workbook(job, err, sizeof err) != 0) {
        h->log(ctx, PURSER_LOG_ERROR, "%s: workbook: %s", job->prov->name, err);
        return PURSER_ERROR;
    }
    return PURSER_OK;
}

static purser_status recon_worse(purser_status a, purser_status b)
{
    return a > b ? a : b;
}

static purser_status recon_run(void *state, purser_ctx *ctx, const purser_run_info *run)
{
    recon_state *st = state;
    const purser_host *h = st->host;
    if (st->n_providers == 0) {
        h->set_result(ctx, "no provider configured under plugins.reconciliation.providers "
                           "(see plugins/reconciliation/README.md)");
        return PURSER_ERROR;
    }
    const char *only = h->param_string(ctx, "provider");
    int workbook = 1;
    h->param_bool(ctx, "workbook", &workbook);
    PGconn *db = h->db(ctx);
    if (!db)
        return PURSER_RETRY;
    char err[1024];
    recon_refdata *ref = recon_refdata_load(db, err, sizeof err);
    if (!ref) {
        h->set_result(ctx, "%s (has `purser migrate` run?)", err);
        return PURSER_ERROR;
    }
    recon_params params = {
        .amount_tolerance = recon_cfg_int(h, ctx, "amount_tolerance", false),
        .fee_tolerance = recon_cfg_int(h, ctx, "fee_tolerance", false),
        .grace_ms = recon_cfg_int(h, ctx, "grace_period", true),
        .window_ms = recon_cfg_int(h, ctx, "probable_window", true),
        .timezone = run->timezone && *run->timezone ? run->timezone : "UTC",
    };
    purser_status status = PURSER_OK;
    char result[4096] = "";
    size_t used = 0, done = 0;
    for (size_t i = 0; i < st->n_providers; i++) {
        if (only && *only && strcmp(only, st->providers[i].name) != 0)
            continue;
        if (h->cancelled(ctx)) {
            status = recon_worse(status, PURSER_RETRY);
            break;
        }
        recon_job job = {.h = h,
                         .ctx = ctx,
                         .db = db,
                         .prov = &st->providers[i],
                         .date = run->business_date,
                         .params = params,
                         .run_id = run->run_id};
        char summary[1536];
        purser_status s = recon_provider_run(st, ctx, &job, ref, run->dry_run != 0, workbook != 0,
                                             summary, sizeof summary);
        status = recon_worse(status, s);
        if (used < sizeof result)
            used += (size_t)snprintf(result + used, sizeof result - used, "%s%s",
                                     done++ ? " | " : "", summary);
        free(job.files);
        free(job.file_names);
        h->metric_add(ctx, "provider_runs_total", 1);
    }
    recon_refdata_free(ref);
    if (done == 0) {
        h->set_result(ctx,
                      "param provider '%s': no such provider under "
                      "plugins.reconciliation.providers",
                      only ? only : "");
        return PURSER_ERROR;
    }
    h->set_result(ctx, "%s", result);
    return status;
}

/* ---- `purser recon-parse PROVIDER FILE`: the parser alone, for checks --- */

static int recon_print_row(void *arg, const recon_row *r)
{
    (void)arg;
    char identity[24] = "";
    if (r->has_identity)
        snprintf(identity, sizeof identity, "%lld", (long long)r->identity);
    printf("%ld\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%lld\t%s\t%lld\t%lld\t%s\t%s\t%s\n", r->line,
           recon_kind_name(r->kind), r->type, r->reference, r->original_ref, r->merchant_ref,
           r->payout_ref, r->currency, (long long)r->amount, r->net_currency, (long long)r->net,
           (long long)r->fee, identity, r->local_time, r->zone);
    return 0;
}

static int recon_print_footer(void *arg, const recon_footer *f)
{
    (void)arg;
    printf("%ld\tfooter\t%s\t%lld\t%lld\t%lld\t%lld\t%lld\n", f->line, f->currency,
           (long long)f->gross_cr, (long long)f->gross_dr, (long long)f->fee_cr,
           (long long)f->fee_dr, (long long)f->count);
    return 0;
}

static int recon_parse_main(void *state, purser_ctx *ctx, int argc, char **argv)
{
    recon_state *st = state;
    const purser_host *h = st->host;
    if (argc != 3) {
        h->log(ctx, PURSER_LOG_ERROR, "usage: purser recon-parse PROVIDER FILE");
        return 2;
    }
    const recon_provider *prov = NULL;
    for (size_t i = 0; i < st->n_providers; i++)
        if (strcmp(st->providers[i].name, argv[1]) == 0)
            prov = &st->providers[i];
    if (!prov) {
        h->log(ctx, PURSER_LOG_ERROR, "no provider '%s' under plugins.reconciliation.providers",
               argv[1]);
        return 2;
    }
    PGconn *db = h->db(ctx);
    char err[1024];
    recon_refdata *ref = db ? recon_refdata_load(db, err, sizeof err) : NULL;
    if (!ref) {
        if (db)
            h->log(ctx, PURSER_LOG_ERROR, "%s", err);
        return 1;
    }
    FILE *in = fopen(argv[2], "rb");
    recon_lookup lookup = recon_refdata_lookup(ref);
    recon_sink sink = {recon_print_row, recon_print_footer, NULL};
    const char *base = strrchr(argv[2], '/');
    recon_parser *p = recon_parser_new(prov, base ? base + 1 : argv[2], &lookup, &sink);
    int rc = in && p ? 0 : -1;
    char buf[1 << 16];
    size_t n;
    while (rc == 0 && (n = fread(buf, 1, sizeof buf, in)) > 0)
        rc = recon_parser_feed(p, buf, n);
    if (rc == 0)
        rc = recon_parser_finish(p);
    if (!in)
        h->log(ctx, PURSER_LOG_ERROR, "%s: cannot read", argv[2]);
    else if (rc != 0 && p)
        fprintf(stderr, "%s\n", recon_parser_error(p));
    recon_parser_free(p);
    if (in)
        fclose(in);
    recon_refdata_free(ref);
    return rc == 0 ? 0 : 2;
}

static const purser_command recon_commands[] = {
    {"recon-parse", "PROVIDER FILE",
     "parse a provider report as configured and print its normalised rows (no loading)",
     recon_parse_main},
    {0},
};

static const purser_plugin recon_plugin = {
    PURSER_PLUGIN_HEADER,
    .name = "reconciliation",
    .version = "1.0.0",
    .description = "Matches the payment providers' settlement reports against our payments",
    .config = recon_config,
    .params = recon_params_table,
    .init = recon_init,
    .fini = recon_fini,
    .run = recon_run,
    .migrations = reconciliation_migrations,
    .commands = recon_commands,
};

PURSER_PLUGIN_DEFINE(recon_plugin)
