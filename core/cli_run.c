/* `purser jobs`, `purser run`, `purser history`, `purser logs`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "db.h"
#include "jobs.h"
#include "log.h"
#include "run.h"
#include "sched.h"
#include "util.h"

static int cli_load_jobs(cli_options *o, job_set *jobs)
{
    int rc = cli_load_plugins(o, false);
    if (rc != 0)
        return rc;
    char err[1024];
    if (jobs_load(&o->s, &o->plugins, jobs, err, sizeof err) != 0) {
        log_error("%s", err);
        jobs_free(jobs);
        return 2;
    }
    return 0;
}

/* Last run of each job: state, business date, finish time. */
static PGresult *cli_last_runs(cli_options *o, PGconn **c)
{
    char err[1024];
    *c = db_open(&o->s, err, sizeof err);
    if (!*c) {
        log_warn("%s (last results not shown)", err);
        return NULL;
    }
    PGresult *r = PQexec(*c, "SELECT DISTINCT ON (job) job, state, business_date::text, "
                             "coalesce(to_char(finished_at AT TIME ZONE 'UTC', "
                             "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), '') FROM purser_runs WHERE "
                             "state NOT IN ('pending', 'running') ORDER BY job, id DESC");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        PQclear(r);
        return NULL;
    }
    return r;
}

int cli_jobs(cli_options *o, int argc, char **argv)
{
    (void)argv;
    if (argc != 1) {
        log_error("usage: purser jobs");
        return 2;
    }
    job_set jobs;
    int rc = cli_load_jobs(o, &jobs);
    if (rc != 0)
        return rc;
    PGconn *c = NULL;
    PGresult *last = cli_last_runs(o, &c);
    int64_t now = (int64_t)time(NULL);
    for (size_t i = 0; i < jobs.count; i++) {
        const job_def *j = &jobs.items[i];
        printf("%s%s\n  plugin %s, schedule \"%s\" in %s\n", j->name,
               j->enabled ? "" : " (disabled)", j->plugin, j->schedule, j->timezone);
        sched_job sj;
        char err[512];
        if (sched_job_init(&sj, j, now, err, sizeof err) == 0) {
            int64_t t = now, next;
            for (int k = 0; k < 3 && cron_next_in(&sj.expr, sj.zone, t, &next) == 0; k++) {
                char local[40], utc[40];
                sched_format_local(sj.zone, next, local, sizeof local);
                time_t tt = (time_t)next;
                struct tm tm;
                gmtime_r(&tt, &tm);
                strftime(utc, sizeof utc, "%Y-%m-%dT%H:%M:%SZ", &tm);
                printf("  next: %s  (%s)\n", local, utc);
                t = next;
            }
            sched_job_free(&sj);
        }
        const char *res = "never run";
        for (int r = 0; last && r < PQntuples(last); r++)
            if (strcmp(PQgetvalue(last, r, 0), j->name) == 0) {
                static char buf[160];
                snprintf(buf, sizeof buf, "%s for %s at %s", PQgetvalue(last, r, 1),
                         PQgetvalue(last, r, 2), PQgetvalue(last, r, 3));
                res = buf;
            }
        printf("  last: %s\n", res);
    }
    PQclear(last);
    if (c)
        PQfinish(c);
    jobs_free(&jobs);
    return 0;
}

/* Split "k=v" into owned copies; -1 if there is no '=' or no key. */
static int cli_split_param(const char *arg, char **k, char **v)
{
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg)
        return -1;
    *k = xasprintf("%.*s", (int)(eq - arg), arg);
    *v = xstrdup(eq + 1);
    return 0;
}

int cli_run(cli_options *o, int argc, char **argv)
{
    const char *job_name = NULL, *date = NULL;
    char **keys = xcalloc((size_t)argc, sizeof *keys), **vals = xcalloc((size_t)argc, sizeof *vals);
    size_t n = 0;
    bool dry = false;
    int rc = 0;
    for (int i = 1; i < argc && rc == 0; i++) {
        if (strcmp(argv[i], "--date") == 0 && i + 1 < argc) {
            date = argv[++i];
        } else if (strcmp(argv[i], "--param") == 0 && i + 1 < argc) {
            if (cli_split_param(argv[++i], &keys[n], &vals[n]) != 0) {
                log_error("--param '%s': expected KEY=VALUE", argv[i]);
                rc = 2;
            } else {
                n++;
            }
        } else if (strcmp(argv[i], "--dry-run") == 0) {
            dry = true;
        } else if (argv[i][0] != '-' && !job_name) {
            job_name = argv[i];
        } else {
            log_error("run: unexpected argument '%s'", argv[i]);
            rc = 2;
        }
    }
    if (rc == 0 && !job_name) {
        log_error("usage: purser run JOB [--date YYYY-MM-DD] [--param K=V]... [--dry-run]");
        rc = 2;
    }
    job_set jobs = {0};
    if (rc == 0)
        rc = cli_load_jobs(o, &jobs);
    const job_def *job = rc == 0 ? jobs_find(&jobs, job_name) : NULL;
    if (rc == 0 && !job) {
        log_error("no job named '%s' in %s (see `purser jobs`)", job_name, o->s.jobs_dir);
        rc = 2;
    }
    if (rc == 0) {
        run_request req = {.job = job,
                           .plugin = loader_find(&o->plugins, job->plugin),
                           .business_date = date,
                           .param_keys = keys,
                           .param_vals = vals,
                           .n_params = n,
                           .dry_run = dry};
        rc = run_foreground(&o->s, &req);
    }
    jobs_free(&jobs);
    for (size_t i = 0; i < n; i++) {
        free(keys[i]);
        free(vals[i]);
    }
    free(keys);
    free(vals);
    return rc;
}

static int cli_query_print(cli_options *o, const char *sql, int nparams, const char *const *params)
{
    PGconn *c;
    int rc = cli_connect(o, &c);
    if (rc != 0)
        return rc;
    PGresult *r = PQexecParams(c, sql, nparams, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        log_error("%s", PQresultErrorMessage(r));
        rc = 1;
    } else {
        for (int i = 0; i < PQntuples(r); i++) {
            for (int j = 0; j < PQnfields(r); j++)
                printf("%s%s", j ? "  " : "", PQgetvalue(r, i, j));
            printf("\n");
        }
    }
    PQclear(r);
    PQfinish(c);
    return rc;
}

int cli_history(cli_options *o, int argc, char **argv)
{
    const char *job = NULL, *limit = "20";
    bool json = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--limit") == 0 && i + 1 < argc)
            limit = argv[++i];
        else if (strcmp(argv[i], "--json") == 0)
            json = true;
        else if (argv[i][0] != '-' && !job)
            job = argv[i];
        else {
            log_error("usage: purser history [JOB] [--limit N] [--json]");
            return 2;
        }
    }
    int64_t lim;
    if (cfg_parse_int(limit, &lim) != 0 || lim < 1) {
        log_error("--limit '%s': expected a positive integer", limit);
        return 2;
    }
    const char *params[2] = {job, limit};
    if (json)
        return cli_query_print(
            o,
            "SELECT coalesce(json_agg(json_build_object('id', id, 'job', job, 'plugin', plugin, "
            "'kind', kind, 'slot', slot, 'business_date', business_date, 'state', state, "
            "'attempt', attempt, 'max_attempts', max_attempts, 'started_at', started_at, "
            "'finished_at', finished_at, 'seconds', extract(epoch FROM finished_at - started_at), "
            "'message', message) ORDER BY id DESC), '[]') FROM (SELECT * FROM purser_runs "
            "WHERE $1::text IS NULL OR job = $1 ORDER BY id DESC LIMIT $2::int) r",
            2, params);
    return cli_query_print(
        o,
        "SELECT rpad(id::text, 6), rpad(job, 20), business_date, rpad(state, 9), "
        "rpad(attempt || '/' || max_attempts, 4), "
        "to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
        "coalesce(round(extract(epoch FROM finished_at - started_at)::numeric, 3)::text || 's', "
        "'-'), coalesce(message, '') FROM purser_runs WHERE $1::text IS NULL OR job = $1 "
        "ORDER BY id DESC LIMIT $2::int",
        2, params);
}

int cli_logs(cli_options *o, int argc, char **argv)
{
    int64_t id;
    if (argc != 2 || cfg_parse_int(argv[1], &id) != 0) {
        log_error("usage: purser logs RUN_ID");
        return 2;
    }
    const char *params[1] = {argv[1]};
    return cli_query_print(o,
                           "SELECT to_char(at AT TIME ZONE 'UTC', "
                           "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), rpad(level, 5), message "
                           "FROM purser_run_logs WHERE run_id = $1::bigint ORDER BY seq",
                           1, params);
}
