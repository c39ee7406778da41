/* The example plugin: a small, complete batch job to copy when writing a
 * new plugin. It greets the business date: it upserts a row in its own
 * table (example_greetings, created by its migration) and writes a tiny
 * report file. Its parameters also let the runner's tests make a run slow
 * (sleep_ms), fail (fail) or crash (crash). */

#include <errno.h>
#include <libpq-fe.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "purser/plugin.h"

/* Built by the Makefile from the migrations folder. */
extern const purser_migration example_migrations[];

/* Settings under `plugins.example:` in purser.yaml. */
static const purser_config_key example_config[] = {
    {"greeting", PURSER_CFG_STRING, "Hello", 0, "word written before the business date"},
    {0},
};

/* Parameters of a job that runs this plugin (`params:` or --param). */
static const purser_config_key example_params[] = {
    {"sleep_ms", PURSER_CFG_INT, "0", 0, "milliseconds to spend working (checks cancel)"},
    {"fail", PURSER_CFG_BOOL, "false", 0, "true: the run fails with an error"},
    {"retry", PURSER_CFG_BOOL, "false", 0, "true: the run asks to be retried"},
    {"crash", PURSER_CFG_BOOL, "false", 0, "true: the run dies with SIGSEGV"},
    {"hang", PURSER_CFG_BOOL, "false", 0, "true: the run ignores SIGTERM and never ends"},
    {0},
};

/* One state per plugin instance, made by init and freed by fini. */
typedef struct example_state {
    const purser_host *host; /* borrowed; valid until fini */
    char *greeting;          /* owned copy of the setting */
} example_state;

static purser_status example_init(const purser_host *host, purser_ctx *ctx, void **state)
{
    example_state *st = calloc(1, sizeof *st);
    if (!st)
        return PURSER_ERROR;
    *state = st;
    st->host = host;
    const char *g = host->config_string(ctx, "greeting");
    st->greeting = strdup(g ? g : "Hello");
    return st->greeting ? PURSER_OK : PURSER_ERROR;
}

static void example_fini(void *state)
{
    example_state *st = state;
    if (!st)
        return;
    free(st->greeting);
    free(st);
}

/* Sleep in small steps so a cancel or timeout is noticed quickly. */
static purser_status example_work(example_state *st, purser_ctx *ctx, int64_t ms)
{
    for (int64_t done = 0; done < ms; done += 50) {
        if (st->host->cancelled(ctx)) {
            st->host->set_result(ctx, "cancelled after %lld ms", (long long)done);
            return PURSER_RETRY;
        }
        struct timespec ts = {0, 50 * 1000000L};
        nanosleep(&ts, NULL);
        st->host->progress(ctx, (uint64_t)done + 50, (uint64_t)ms, "ms");
    }
    return PURSER_OK;
}

/* Upsert the greeting for the date, in one parameterised statement. */
static purser_status example_store(example_state *st, purser_ctx *ctx, const char *date,
                                   const char *text)
{
    PGconn *db = st->host->db(ctx);
    if (!db)
        return PURSER_RETRY;
    const char *params[2] = {date, text};
    PGresult *r = PQexecParams(db,
                               "INSERT INTO example_greetings (business_date, greeting) "
                               "VALUES ($1::date, $2) ON CONFLICT (business_date) DO UPDATE "
                               "SET greeting = EXCLUDED.greeting, "
                               "runs = example_greetings.runs + 1, updated_at = now() "
                               "RETURNING runs",
                               2, NULL, params, NULL, NULL, 0);
    purser_status status = PURSER_OK;
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        st->host->log(ctx, PURSER_LOG_ERROR, "storing the greeting for %s: %s", date,
                      PQresultErrorMessage(r));
        status = PURSER_ERROR;
    } else {
        st->host->log(ctx, PURSER_LOG_INFO, "greeted %s (run %s for this date)", date,
                      PQgetvalue(r, 0, 0));
    }
    PQclear(r);
    return status;
}

/* Write the report to a temporary name, then rename: never half-written. */
static purser_status example_report(example_state *st, purser_ctx *ctx, const char *date,
                                    int64_t run_id, const char *text)
{
    char name[64], path[4096], tmp[4200];
    snprintf(name, sizeof name, "example_%s.txt", date);
    if (st->host->report_path(ctx, name, path, sizeof path) != 0)
        return PURSER_ERROR;
    /* unique per run: two runs for the same date may write at once */
    snprintf(tmp, sizeof tmp, "%s.%lld.tmp", path, (long long)run_id);
    FILE *f = fopen(tmp, "w");
    if (!f || fprintf(f, "%s\n", text) < 0 || fclose(f) != 0) {
        st->host->log(ctx, PURSER_LOG_ERROR, "writing %s: %s", tmp, strerror(errno));
        return PURSER_ERROR;
    }
    if (rename(tmp, path) != 0) {
        st->host->log(ctx, PURSER_LOG_ERROR, "renaming %s: %s", tmp, strerror(errno));
        return PURSER_ERROR;
    }
    st->host->log(ctx, PURSER_LOG_INFO, "wrote %s", path);
    return PURSER_OK;
}

/* A plugin stuck for good: it ignores SIGTERM and the cancel flag, so
 * only the runner's SIGKILL ends it (the runner's timeout test). */
static void example_hang(example_state *st, purser_ctx *ctx)
{
    signal(SIGTERM, SIG_IGN);
    st->host->log(ctx, PURSER_LOG_WARN, "hanging on purpose (param hang=true)");
    for (;;)
        pause();
}

static purser_status example_run(void *state, purser_ctx *ctx, const purser_run_info *run)
{
    example_state *st = state;
    const purser_host *h = st->host;
    int64_t sleep_ms = 0;
    int fail = 0, retry = 0, crash = 0, hang = 0;
    h->param_int(ctx, "sleep_ms", &sleep_ms);
    h->param_bool(ctx, "fail", &fail);
    h->param_bool(ctx, "retry", &retry);
    h->param_bool(ctx, "crash", &crash);
    h->param_bool(ctx, "hang", &hang);
    if (hang)
        example_hang(st, ctx);
    purser_status s = example_work(st, ctx, sleep_ms);
    if (s != PURSER_OK)
        return s;
    if (crash)
        raise(SIGSEGV);
    if (fail || retry) {
        h->set_result(ctx, "failed on purpose (param %s=true)", fail ? "fail" : "retry");
        return fail ? PURSER_ERROR : PURSER_RETRY;
    }
    char text[256];
    snprintf(text, sizeof text, "%s, %s!", st->greeting, run->business_date);
    if (run->dry_run) {
        h->set_result(ctx, "dry run: would write '%s'", text);
        return PURSER_OK;
    }
    if ((s = example_store(st, ctx, run->business_date, text)) != PURSER_OK ||
        (s = example_report(st, ctx, run->business_date, run->run_id, text)) != PURSER_OK)
        return s;
    h->metric_add(ctx, "greetings_total", 1);
    h->set_result(ctx, "%s", text);
    return PURSER_OK;
}

static const purser_plugin example_plugin = {
    PURSER_PLUGIN_HEADER,
    .name = "example",
    .version = "1.0.0",
    .description = "Greets the business date: a template for new batch plugins",
    .config = example_config,
    .params = example_params,
    .init = example_init,
    .fini = example_fini,
    .run = example_run,
    .migrations = example_migrations,
};

PURSER_PLUGIN_DEFINE(example_plugin)
