/* Operations commands: `purser daemon`, `backfill`, `retry`, `cancel`,
 * `pause`, `resume`. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "daemon.h"
#include "db.h"
#include "log.h"
#include "ops.h"
#include "run.h"
#include "sched.h"
#include "util.h"
#include "worker.h"

int cli_daemon(cli_options *o, int argc, char **argv)
{
    (void)argv;
    if (argc != 1) {
        log_error("usage: purser daemon");
        return 2;
    }
    int rc = cli_load_plugins(o, true);
    return rc ? rc : daemon_main(o);
}

/* One parameterised statement; prints the server's message on failure.
 * Returns the result (caller clears) or NULL. */
static PGresult *cli_ops_q(PGconn *c, const char *sql, int n, const char *const *v)
{
    PGresult *r = PQexecParams(c, sql, n, NULL, v, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
        log_error("%s", PQresultErrorMessage(r));
        PQclear(r);
        return NULL;
    }
    return r;
}

static int cli_ops_run_id(int argc, char **argv, const char *usage)
{
    int64_t id;
    if (argc != 2 || cfg_parse_int(argv[1], &id) != 0 || id < 1) {
        log_error("usage: purser %s", usage);
        return -1;
    }
    return 0;
}

int cli_retry(cli_options *o, int argc, char **argv)
{
    if (cli_ops_run_id(argc, argv, "retry RUN_ID") != 0)
        return 2;
    PGconn *c;
    int crc = cli_connect(o, &c);
    if (crc != 0)
        return crc;
    char job[128], err[512];
    int got = ops_retry(c, atoll(argv[1]), job, sizeof job, err, sizeof err);
    int rc = 1;
    if (got == 1) {
        printf("run %s (%s) queued for another attempt; a daemon or `purser backfill` runs it\n",
               argv[1], job);
        rc = 0;
    } else if (got == 0) {
        log_error("run %s: not found, or not failed, cancelled or skipped", argv[1]);
        rc = 2;
    } else {
        log_error("retry %s: %s", argv[1], err);
    }
    PQfinish(c);
    return rc;
}

int cli_cancel(cli_options *o, int argc, char **argv)
{
    if (cli_ops_run_id(argc, argv, "cancel RUN_ID") != 0)
        return 2;
    PGconn *c;
    int crc = cli_connect(o, &c);
    if (crc != 0)
        return crc;
    const char *v[1] = {argv[1]};
    PGresult *r = cli_ops_q(
        c,
        "WITH p AS (UPDATE purser_runs SET state = 'cancelled', started_at = coalesce(started_at, "
        "now()), finished_at = now(), message = 'cancelled by an operator before it started' "
        "WHERE id = $1::bigint AND state = 'pending' RETURNING 'cancelled'::text AS what), "
        "r AS (UPDATE purser_runs SET cancel_requested = true WHERE id = $1::bigint AND state = "
        "'running' RETURNING 'stopping'::text AS what, pg_notify('purser_cancel', id::text)) "
        "SELECT what FROM p UNION ALL SELECT what FROM r",
        1, v);
    int rc = 1;
    if (r && PQntuples(r) == 1) {
        printf("run %s: %s\n", argv[1],
               strcmp(PQgetvalue(r, 0, 0), "cancelled") == 0
                   ? "cancelled"
                   : "cancel requested; its worker stops it within seconds");
        rc = 0;
    } else if (r) {
        log_error("run %s: not found, or not pending or running", argv[1]);
        rc = 2;
    }
    PQclear(r);
    PQfinish(c);
    return rc;
}

static int cli_pause_resume(cli_options *o, int argc, char **argv, bool pause)
{
    if (argc != 2) {
        log_error("usage: purser %s JOB", pause ? "pause" : "resume");
        return 2;
    }
    int rc = cli_load_plugins(o, false);
    if (rc != 0)
        return rc;
    job_set jobs;
    char err[1024];
    if (jobs_load(&o->s, &o->plugins, &jobs, err, sizeof err) != 0) {
        log_error("%s", err);
        rc = 2;
    } else if (!jobs_find(&jobs, argv[1])) {
        log_error("no job named '%s' (see `purser jobs`)", argv[1]);
        rc = 2;
    }
    jobs_free(&jobs);
    if (rc != 0)
        return rc;
    PGconn *c;
    int crc = cli_connect(o, &c);
    if (crc != 0)
        return crc;
    int ok = ops_set_paused(c, argv[1], pause, err, sizeof err) == 0;
    if (ok)
        printf("job %s %s\n", argv[1],
               pause ? "paused: its slots are recorded as skipped until `purser resume`"
                     : "resumed");
    else
        log_error("%s %s: %s", pause ? "pause" : "resume", argv[1], err);
    PQfinish(c);
    return ok ? 0 : 1;
}

int cli_pause(cli_options *o, int argc, char **argv)
{
    return cli_pause_resume(o, argc, argv, true);
}

int cli_resume(cli_options *o, int argc, char **argv)
{
    return cli_pause_resume(o, argc, argv, false);
}

/* ---- backfill ------------------------------------------------------------- */

static volatile sig_atomic_t cli_backfill_interrupted;

static void cli_backfill_on_signal(int sig)
{
    (void)sig;
    cli_backfill_interrupted = 1;
}

typedef struct backfill {
    cli_options *o;
    job_set jobs;
    const job_def *job;
    sched_job sj;
    int64_t *inst;
    size_t n;
    PGconn *c;
} backfill;

/* Create the range's slots; failed, cancelled or skipped ones run again. */
static int cli_backfill_plan(backfill *b)
{
    ops_backfill_counts n;
    char err[512];
    if (ops_backfill_plan(b->c, b->job, &b->sj, b->inst, b->n, &n, err, sizeof err) != 0) {
        log_error("%s", err);
        return -1;
    }
    log_info("backfill %s: %zu slots, %d new, %ld to run again", b->job->name, b->n, n.created,
             n.run_again);
    return 0;
}

/* Counts of the range's slots by state: returns pending + running. */
static long cli_backfill_open(backfill *b, long *succeeded, long *failed)
{
    char from[24], to[24];
    snprintf(from, sizeof from, "%lld", (long long)b->inst[0]);
    snprintf(to, sizeof to, "%lld", (long long)b->inst[b->n - 1]);
    const char *v[3] = {b->job->name, from, to};
    PGresult *r = cli_ops_q(b->c,
                            "SELECT count(*) FILTER (WHERE state IN ('pending', 'running')), "
                            "count(*) FILTER (WHERE state = 'succeeded'), count(*) FILTER (WHERE "
                            "state NOT IN ('pending', 'running', 'succeeded')) FROM purser_runs "
                            "WHERE job = $1 AND kind <> 'manual' AND slot BETWEEN "
                            "to_timestamp($2::bigint) AND to_timestamp($3::bigint)",
                            3, v);
    if (!r)
        return -1;
    long open = atol(PQgetvalue(r, 0, 0));
    *succeeded = atol(PQgetvalue(r, 0, 1));
    *failed = atol(PQgetvalue(r, 0, 2));
    PQclear(r);
    return open;
}

/* Claim and run the range's slots in the foreground until none is open;
 * slots that a daemon or another backfill runs are waited for. */
static int cli_backfill_execute(backfill *b)
{
    char owner[160];
    worker_owner_name(owner, sizeof owner);
    worker_env env = worker_env_from(&b->o->s, owner);
    const loaded_plugin *p = loader_find(&b->o->plugins, b->job->plugin);
    long ok = 0, bad = 0, open;
    while ((open = cli_backfill_open(b, &ok, &bad)) > 0 && !cli_backfill_interrupted) {
        slot_run r;
        int got = slots_claim(b->c, &b->jobs, owner, env.lease_s, b->job->name, b->inst[0],
                              b->inst[b->n - 1], &r);
        if (got < 0)
            return 1;
        if (got == 0) {
            slots_rescue(b->c);
            usleep(200 * 1000); /* others hold the rest, or a retry's backoff runs */
            continue;
        }
        worker w;
        if (worker_start(&w, &env, b->c, b->job, p, &r) == 0)
            worker_wait(&w, &env, b->c, &cli_backfill_interrupted);
        worker_free(&w);
    }
    if (open < 0)
        return 1;
    printf("backfill %s: %zu slots: %ld succeeded, %ld failed, cancelled or skipped%s\n",
           b->job->name, b->n, ok, bad, cli_backfill_interrupted ? " (interrupted)" : "");
    return bad == 0 && open == 0 ? 0 : 1;
}

static int cli_backfill_args(int argc, char **argv, const char **job, const char **from,
                             const char **to, bool *dry)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--from") == 0 && i + 1 < argc)
            *from = argv[++i];
        else if (strcmp(argv[i], "--to") == 0 && i + 1 < argc)
            *to = argv[++i];
        else if (strcmp(argv[i], "--dry-run") == 0)
            *dry = true;
        else if (argv[i][0] != '-' && !*job)
            *job = argv[i];
        else
            return -1;
    }
    return *job && *from && *to ? 0 : -1;
}

int cli_backfill(cli_options *o, int argc, char **argv)
{
    const char *name = NULL, *from = NULL, *to = NULL;
    bool dry = false;
    int y, m, d;
    if (cli_backfill_args(argc, argv, &name, &from, &to, &dry) != 0) {
        log_error("usage: purser backfill JOB --from YYYY-MM-DD --to YYYY-MM-DD [--dry-run]");
        return 2;
    }
    if (run_parse_date(from, &y, &m, &d) != 0 || run_parse_date(to, &y, &m, &d) != 0 ||
        strcmp(from, to) > 0) {
        log_error("backfill: --from %s --to %s: expected two calendar dates, from <= to", from, to);
        return 2;
    }
    backfill b = {.o = o};
    char err[1024];
    int rc = cli_load_plugins(o, false);
    if (rc == 0 && jobs_load(&o->s, &o->plugins, &b.jobs, err, sizeof err) != 0) {
        log_error("%s", err);
        rc = 2;
    }
    b.job = rc == 0 ? jobs_find(&b.jobs, name) : NULL;
    if (rc == 0 && !b.job) {
        log_error("no job named '%s' (see `purser jobs`)", name);
        rc = 2;
    }
    if (rc == 0 && sched_job_init(&b.sj, b.job, (int64_t)time(NULL), err, sizeof err) != 0) {
        log_error("%s", err);
        rc = 2;
    }
    if (rc == 0) {
        b.inst = sched_instants_between(&b.sj, from, to, &b.n);
        if (b.n == 0) {
            log_error("backfill %s: no scheduled instant between %s and %s (%s)", name, from, to,
                      b.job->schedule);
            rc = 2;
        }
    }
    if (rc == 0 && dry) {
        for (size_t i = 0; i < b.n; i++) {
            slot_times t;
            char local[40];
            sched_times(&b.sj, b.inst[i], &t);
            sched_format_local(b.sj.zone, b.inst[i], local, sizeof local);
            printf("%s  business date %s\n", local, t.business_date);
        }
    } else if (rc == 0) {
        rc = cli_connect(o, &b.c);
        if (rc == 0)
            rc = cli_backfill_plan(&b) != 0 ? 1 : 0;
        struct sigaction sa = {.sa_handler = cli_backfill_on_signal};
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        if (rc == 0)
            rc = cli_backfill_execute(&b);
    }
    if (b.c)
        PQfinish(b.c);
    free(b.inst);
    sched_job_free(&b.sj);
    jobs_free(&b.jobs);
    return rc;
}
