/* analytics.c: the analytics plugin — renders the declarative report
 * definitions of reports/NAME.yaml (SQL + sheet layout) into workbooks with
 * native charts, one <report>_<date>.xlsx per report and business date;
 * validates them for `purser check` and `purser analytics check`.
 * Definitions are read afresh at every run and check, so an analyst's
 * edit needs no restart. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "analytics.h"

#define AN_VERSION "1.0.0"

/* Settings under `plugins.analytics:` in purser.yaml. */
static const purser_config_key an_config[] = {
    {"reports_dir", PURSER_CFG_PATH, NULL, 0,
     "folder of the report definitions (*.yaml); unset: ./reports"},
    {"statement_timeout", PURSER_CFG_DURATION, "10m", 0,
     "longest time one report query may take (SET LOCAL statement_timeout)"},
    {"jit", PURSER_CFG_BOOL, "false", 0,
     "let PostgreSQL JIT-compile report queries (SET LOCAL jit); off by default: its "
     "compile time often exceeds what it saves on report-sized queries"},
    {0},
};

/* Parameters of a job that runs this plugin (`params:` or --param). */
static const purser_config_key an_params[] = {
    {"reports", PURSER_CFG_STRING, NULL, 0,
     "the reports to render, by name, comma-separated (default: every definition)"},
    {"args.*", PURSER_CFG_STRING, NULL, 0,
     "a value for the report parameter of that name (--param args.min_orders=5)"},
    {0},
};

typedef struct an_state {
    const purser_host *host; /* borrowed until fini */
    char *dir;               /* owned */
    int64_t timeout_ms;
    int jit;
    int dir_given; /* reports_dir was configured (else ./reports, optional) */
} an_state;

static purser_status an_init(const purser_host *host, purser_ctx *ctx, void **state)
{
    an_state *st = calloc(1, sizeof *st);
    if (!st)
        return PURSER_ERROR;
    *state = st;
    st->host = host;
    const char *dir = host->config_string(ctx, "reports_dir");
    st->dir_given = dir && *dir;
    st->dir = strdup(dir && *dir ? dir : "reports");
    st->timeout_ms = 600000;
    host->config_duration_ms(ctx, "statement_timeout", &st->timeout_ms);
    host->config_bool(ctx, "jit", &st->jit);
    if (st->timeout_ms <= 0) {
        host->log(ctx, PURSER_LOG_ERROR,
                  "plugins.analytics.statement_timeout must be more than 0 (0 would mean none)");
        return PURSER_ERROR;
    }
    return st->dir ? PURSER_OK : PURSER_ERROR;
}

static void an_fini(void *state)
{
    an_state *st = state;
    if (st)
        free(st->dir);
    free(st);
}

static void an_log_errs(const an_state *st, purser_ctx *ctx, const an_errs *e, size_t from)
{
    for (size_t i = from; i < e->count; i++)
        st->host->log(ctx, PURSER_LOG_ERROR, "%s", e->items[i]);
}

/* Does the error line belong to the definition file? */
static int an_err_of(const char *line, const char *path)
{
    size_t n = strlen(path);
    return strncmp(line, path, n) == 0 && line[n] == ':';
}

/* Is the report named in the comma/space separated list (NULL: all)? */
static int an_selected(const char *list, const char *name)
{
    if (!list)
        return 1;
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        p += strspn(p, ", ");
        size_t k = strcspn(p, ", ");
        if (k == n && strncmp(p, name, n) == 0)
            return 1;
        p += k;
    }
    return 0;
}

/* Names in the list that no definition has: an error with a suggestion. */
static int an_unknown_names(const an_state *st, purser_ctx *ctx, const char *list,
                            const an_defs *defs)
{
    const char *names[256];
    size_t nn = 0;
    for (size_t i = 0; i < defs->count && nn < 256; i++)
        if (defs->items[i].report)
            names[nn++] = defs->items[i].report;
    int bad = 0;
    for (const char *p = list; p && *p;) {
        p += strspn(p, ", ");
        size_t k = strcspn(p, ", ");
        if (k == 0)
            break;
        char name[128];
        snprintf(name, sizeof name, "%.*s", (int)k, p);
        size_t i = 0;
        while (i < nn && strcmp(names[i], name) != 0)
            i++;
        if (i == nn) {
            const char *close = an_suggest(name, names, nn);
            st->host->log(ctx, PURSER_LOG_ERROR, "param reports: no report named '%s' in %s%s%s%s",
                          name, st->dir, close ? " (did you mean '" : "", close ? close : "",
                          close ? "'?)" : "");
            bad = 1;
        }
        p += k;
    }
    return bad ? -1 : 0;
}

/* The values of the definition's parameters for this run: args.NAME, else
 * the default. NULL (logged) when one has neither. */
static const char **an_values(const an_state *st, purser_ctx *ctx, const an_def *d, int from_run)
{
    const char **v = calloc(d->n_params ? d->n_params : 1, sizeof *v);
    for (size_t i = 0; v && i < d->n_params; i++) {
        char key[160];
        snprintf(key, sizeof key, "args.%s", d->params[i].name);
        v[i] = from_run ? st->host->param_string(ctx, key) : NULL;
        if (!v[i])
            v[i] = d->params[i].default_value;
        if (!v[i] && from_run) {
            st->host->log(ctx, PURSER_LOG_ERROR,
                          "%s:%d:%d: parameter '%s' of report '%s' has no default: give it with "
                          "--param args.%s=VALUE or params: {args: {%s: VALUE}}",
                          d->path, d->params[i].pos.line, d->params[i].pos.col, d->params[i].name,
                          d->report, d->params[i].name, d->params[i].name);
            free((void *)v);
            return NULL;
        }
    }
    return v;
}

static purser_status an_render_one(an_state *st, purser_ctx *ctx, const purser_run_info *run,
                                   an_def *d, long *rows)
{
    const purser_host *h = st->host;
    an_bind b = {.def = d};
    char from_date[16], to_date[16];
    if (an_period_bounds(d->period, run->business_date, &b, from_date, to_date) != 0) {
        h->log(ctx, PURSER_LOG_ERROR, "business date '%s' is not YYYY-MM-DD", run->business_date);
        return PURSER_ERROR;
    }
    if (!(b.values = an_values(st, ctx, d, 1)))
        return PURSER_ERROR;
    PGconn *db = h->db(ctx);
    if (!db) {
        free((void *)b.values);
        return PURSER_RETRY;
    }
    an_errs errs = {0};
    purser_status s = PURSER_OK;
    if (run->dry_run) {
        if (an_check_db(db, d, &b, st->timeout_ms, st->jit, &errs) != 0)
            s = PURSER_ERROR;
    } else {
        char name[160], path[4096], tmp[4200];
        snprintf(name, sizeof name, "%s_%s.xlsx", d->report, run->business_date);
        if (h->report_path(ctx, name, path, sizeof path) != 0) {
            free((void *)b.values);
            return PURSER_ERROR;
        }
        snprintf(tmp, sizeof tmp, "%s.%lld.tmp", path, (long long)run->run_id);
        an_render r = {.host = h,
                       .ctx = ctx,
                       .db = db,
                       .def = d,
                       .bind = &b,
                       .from_date = from_date,
                       .to_date = to_date,
                       .timezone = run->timezone && *run->timezone ? run->timezone : "UTC",
                       .plugin_version = AN_VERSION,
                       .run_id = run->run_id,
                       .timeout_ms = st->timeout_ms,
                       .jit = st->jit,
                       .path = path,
                       .tmp = tmp};
        s = an_render_report(&r, &errs);
        if (s == PURSER_OK && rename(tmp, path) != 0) {
            h->log(ctx, PURSER_LOG_ERROR, "renaming %s: %s", tmp, strerror(errno));
            remove(tmp);
            s = PURSER_ERROR;
        }
        if (s == PURSER_OK) {
            h->log(ctx, PURSER_LOG_INFO, "wrote %s (%ld rows, period %s to %s)", path, r.rows_total,
                   from_date, to_date);
            *rows = r.rows_total;
        }
    }
    an_log_errs(st, ctx, &errs, 0);
    if (errs.count)
        h->set_result(ctx, "%s", errs.items[0]);
    an_errs_free(&errs);
    free((void *)b.values);
    return s;
}

static purser_status an_run(void *state, purser_ctx *ctx, const purser_run_info *run)
{
    an_state *st = state;
    const purser_host *h = st->host;
    const char *list = h->param_string(ctx, "reports");
    an_defs defs;
    an_errs errs = {0};
    an_defs_load_dir(st->dir, &defs, &errs);
    purser_status s = PURSER_OK;
    if (defs.count == 0 && errs.count == 0)
        an_err(&errs, st->dir, (an_pos){0, 0}, "no report definitions (*.yaml) in the folder");
    if (an_unknown_names(st, ctx, list, &defs) != 0)
        s = PURSER_ERROR;
    /* a selected definition with a problem fails the run before anything
     * is written; problems of the others are warnings */
    size_t fatal = 0;
    for (size_t i = 0; i < errs.count; i++) {
        int selected = 0, owned = 0;
        for (size_t k = 0; k < defs.count; k++)
            if (an_err_of(errs.items[i], defs.items[k].path)) {
                owned = 1;
                selected |= an_selected(list, defs.items[k].report ? defs.items[k].report : "");
            }
        if (!owned || selected) {
            h->log(ctx, PURSER_LOG_ERROR, "%s", errs.items[i]);
            if (!fatal++)
                h->set_result(ctx, "invalid report definition: %s", errs.items[i]);
        } else {
            h->log(ctx, PURSER_LOG_WARN, "%s (not rendered in this run)", errs.items[i]);
        }
    }
    if (fatal)
        s = PURSER_ERROR;
    int done = 0, wanted = 0;
    long rows = 0;
    for (size_t i = 0; i < defs.count; i++)
        wanted += defs.items[i].valid && an_selected(list, defs.items[i].report);
    char names[1024] = "";
    for (size_t i = 0; s == PURSER_OK && i < defs.count; i++) {
        an_def *d = &defs.items[i];
        if (!d->valid || !an_selected(list, d->report))
            continue;
        if (h->cancelled(ctx)) {
            h->set_result(ctx, "cancelled before report %s", d->report);
            s = PURSER_RETRY;
            break;
        }
        long n = 0;
        s = an_render_one(st, ctx, run, d, &n);
        if (s == PURSER_OK) {
            done++;
            rows += n;
            snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s",
                     done > 1 ? ", " : "", d->report);
            h->metric_add(ctx, "reports_rendered_total", 1);
            h->progress(ctx, (uint64_t)done, (uint64_t)wanted, "reports");
        }
    }
    if (s == PURSER_OK)
        h->set_result(ctx, "%s%d report%s for %s (%s)%s", run->dry_run ? "dry run: checked " : "",
                      done, done == 1 ? "" : "s", run->business_date, names,
                      run->dry_run ? "" : "");
    if (s == PURSER_OK && !run->dry_run)
        h->log(ctx, PURSER_LOG_INFO, "%d workbooks, %ld rows", done, rows);
    an_errs_free(&errs);
    an_defs_free(&defs);
    return s;
}

/* ---- checks ------------------------------------------------------------------------ */

static void an_today(char *buf)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, 16, "%Y-%m-%d", &tm);
}

/* Is the store there to check queries against? 1 yes, 0 not migrated. */
static int an_store_ready(PGconn *db)
{
    PGresult *r = PQexec(db, "SELECT to_regclass('orders') IS NOT NULL");
    int ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
             strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    return ok;
}

/* The database checks of the structurally valid definitions. */
static void an_check_all(an_state *st, PGconn *db, an_defs *defs, an_errs *errs)
{
    char today[16], fd[16], td[16];
    an_today(today);
    for (size_t i = 0; i < defs->count; i++) {
        an_def *d = &defs->items[i];
        if (!d->valid)
            continue;
        an_bind b = {.def = d};
        an_period_bounds(d->period, today, &b, fd, td);
        if (an_check_db(db, d, &b, st->timeout_ms, st->jit, errs) != 0)
            d->valid = 0;
    }
}

/* `purser check`: every definition; the queries too when the store is
 * reachable and migrated (before the first migrate they are skipped with
 * a warning, so a fresh setup checks clean). */
static purser_status an_check(void *state, purser_ctx *ctx)
{
    an_state *st = state;
    const purser_host *h = st->host;
    if (!st->dir_given && access(st->dir, F_OK) != 0) {
        h->log(ctx, PURSER_LOG_INFO,
               "no plugins.analytics.reports_dir and no ./reports: "
               "no report definitions to check");
        return PURSER_OK;
    }
    an_defs defs;
    an_errs errs = {0};
    an_defs_load_dir(st->dir, &defs, &errs);
    PGconn *db = h->db(ctx);
    if (!db)
        h->log(ctx, PURSER_LOG_WARN, "report queries not checked: no database");
    else if (!an_store_ready(db))
        h->log(ctx, PURSER_LOG_WARN,
               "report queries not checked: the store is not migrated (purser migrate)");
    else
        an_check_all(st, db, &defs, &errs);
    an_log_errs(st, ctx, &errs, 0);
    purser_status s = errs.count ? PURSER_ERROR : PURSER_OK;
    if (s == PURSER_OK)
        h->log(ctx, PURSER_LOG_INFO, "%zu report definitions in %s: ok", defs.count, st->dir);
    an_errs_free(&errs);
    an_defs_free(&defs);
    return s;
}

static int an_usage(void)
{
    fprintf(stderr, "usage: purser analytics check [--offline] [FILE...]\n"
                    "       purser analytics list\n");
    return 2;
}

static int an_cmd_check(an_state *st, purser_ctx *ctx, int argc, char **argv)
{
    int offline = 0, nfiles = 0;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--offline") == 0)
            offline = 1;
        else if (argv[i][0] == '-')
            return an_usage();
        else
            nfiles++;
    }
    an_defs defs = {0};
    an_errs errs = {0};
    if (nfiles) {
        defs.items = calloc((size_t)nfiles, sizeof *defs.items);
        for (int i = 2; defs.items && i < argc; i++)
            if (argv[i][0] != '-')
                an_def_load(argv[i], &defs.items[defs.count++], &errs);
    } else {
        an_defs_load_dir(st->dir, &defs, &errs);
    }
    PGconn *db = NULL;
    if (!offline && (!(db = st->host->db(ctx)) || !an_store_ready(db))) {
        fprintf(stderr, "%s: queries not checked (--offline checks without them)\n",
                db ? "the store is not migrated (purser migrate)" : "no database");
        an_errs_free(&errs);
        an_defs_free(&defs);
        return 1;
    }
    if (db)
        an_check_all(st, db, &defs, &errs);
    for (size_t i = 0; i < errs.count; i++)
        fprintf(stderr, "%s\n", errs.items[i]);
    for (size_t i = 0; i < defs.count; i++) {
        an_def *d = &defs.items[i];
        if (d->valid)
            printf("%s: ok: report %s, %zu sheet%s, period %s, sha256 %s%s%s\n", d->path, d->report,
                   d->n_sheets, d->n_sheets == 1 ? "" : "s",
                   d->period == AN_DAY    ? "day"
                   : d->period == AN_WEEK ? "week"
                                          : "month",
                   d->sha256, offline ? " (offline: queries not checked)" : "",
                   d->version ? "" : "");
    }
    int rc = errs.count ? 2 : 0;
    if (errs.count)
        fprintf(stderr, "%zu problem%s in report definitions\n", errs.count,
                errs.count == 1 ? "" : "s");
    an_errs_free(&errs);
    an_defs_free(&defs);
    return rc;
}

static int an_cmd_list(an_state *st)
{
    an_defs defs;
    an_errs errs = {0};
    an_defs_load_dir(st->dir, &defs, &errs);
    static const char *const periods[] = {"day", "week", "month"};
    printf("%-24s %-6s %-7s %s\n", "REPORT", "PERIOD", "SHEETS", "FILE");
    for (size_t i = 0; i < defs.count; i++) {
        an_def *d = &defs.items[i];
        printf("%-24s %-6s %-7zu %s%s\n", d->report ? d->report : "?",
               d->valid ? periods[d->period] : "-", d->n_sheets, d->path,
               d->valid ? "" : "  (invalid: purser analytics check)");
    }
    int rc = errs.count ? 2 : 0;
    an_errs_free(&errs);
    an_defs_free(&defs);
    return rc;
}

static int an_cmd(void *state, purser_ctx *ctx, int argc, char **argv)
{
    an_state *st = state;
    if (argc >= 2 && strcmp(argv[1], "check") == 0)
        return an_cmd_check(st, ctx, argc, argv);
    if (argc == 2 && strcmp(argv[1], "list") == 0)
        return an_cmd_list(st);
    return an_usage();
}

static const purser_command an_commands[] = {
    {"analytics", "check [--offline] [FILE...] | list",
     "validate report definitions (YAML, columns, EXPLAIN; exit 2 on a problem) or list them",
     an_cmd},
    {0},
};

static const purser_plugin analytics_plugin = {
    PURSER_PLUGIN_HEADER,
    .name = "analytics",
    .version = AN_VERSION,
    .description =
        "Declarative reports (reports/NAME.yaml: SQL + layout) rendered to Excel with charts",
    .config = an_config,
    .params = an_params,
    .init = an_init,
    .fini = an_fini,
    .run = an_run,
    .commands = an_commands,
    .check = an_check,
};

PURSER_PLUGIN_DEFINE(analytics_plugin)
