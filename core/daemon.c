/* `purser daemon`: plan slots, claim due runs, run them in child
 * processes (runner.workers at once), keep their leases alive, rescue the
 * runs of lost workers. Any number of daemons on any number of machines
 * may share one database; none is special.
 *
 * Signals: SIGTERM/SIGINT stop claiming, let running children finish
 * within runner.shutdown_grace, then stop them and hand their runs back for
 * another attempt. SIGHUP reloads the job definitions. */
#include "daemon.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>

#include "alerts.h"
#include "db.h"
#include "http.h"
#include "log.h"
#include "progress.h"
#include "sched.h"
#include "util.h"
#include "worker.h"

#define DAEMON_RESCUE_EVERY_S 5.0
#define DAEMON_PRUNE_EVERY_S 3600.0

static volatile sig_atomic_t daemon_stop_flag, daemon_reload_flag;

static void daemon_on_stop(int sig)
{
    (void)sig;
    daemon_stop_flag = 1;
}

static void daemon_on_hup(int sig)
{
    (void)sig;
    daemon_reload_flag = 1;
}

typedef struct daemon_state {
    cli_options *o;
    PGconn *c;
    worker_env env;
    char owner[160];
    job_set *sets; /* every job_set loaded (old ones live while runs use them) */
    size_t n_sets;
    sched_job *sched;
    size_t n_sched;
    worker *workers;
    size_t n_workers;
    double next_rescue;
    double next_prune;
    double stop_deadline; /* 0 until a stop was asked */
    pid_t http_pid;       /* the HTTP server's process, 0 if none */
    double http_restart;  /* when to start it again after it died */
} daemon_state;

/* The HTTP server runs in a process of its own, so the scheduler stays
 * single-threaded and forks its workers safely. */
static void daemon_start_http(daemon_state *d)
{
    if (http_disabled(&d->o->s))
        return;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        signal(SIGHUP, SIG_IGN);
        prctl(PR_SET_PDEATHSIG, SIGTERM); /* never outlive the daemon */
        _exit(cli_serve_until_signal(d->o));
    }
    if (pid < 0)
        log_error("daemon: cannot start the HTTP server: fork failed");
    d->http_pid = pid > 0 ? pid : 0;
}

static void daemon_stop_http(daemon_state *d)
{
    if (!d->http_pid)
        return;
    kill(d->http_pid, SIGTERM);
    waitpid(d->http_pid, NULL, 0);
    d->http_pid = 0;
}

static const job_set *daemon_jobs(const daemon_state *d)
{
    return &d->sets[d->n_sets - 1];
}

static void daemon_free_sched(daemon_state *d)
{
    for (size_t i = 0; i < d->n_sched; i++)
        sched_job_free(&d->sched[i]);
    free(d->sched);
    d->sched = NULL;
    d->n_sched = 0;
}

/* (Re)load the job files; on error the previous definitions stay. */
static int daemon_load_jobs(daemon_state *d)
{
    job_set js;
    char err[1024];
    if (jobs_load(&d->o->s, &d->o->plugins, &js, err, sizeof err) != 0) {
        log_error("%s%s", err, d->n_sets ? " (keeping the previous job definitions)" : "");
        jobs_free(&js);
        return -1;
    }
    sched_job *sched = xcalloc(js.count ? js.count : 1, sizeof *sched);
    size_t n = 0;
    int64_t now = (int64_t)time(NULL);
    for (size_t i = 0; i < js.count; i++) {
        if (!js.items[i].enabled)
            continue;
        if (sched_job_init(&sched[n], &js.items[i], now, err, sizeof err) != 0) {
            log_error("%s", err);
            for (size_t k = 0; k < n; k++)
                sched_job_free(&sched[k]);
            free(sched);
            jobs_free(&js);
            return -1;
        }
        n++;
    }
    for (size_t i = 0; i < n; i++)
        sched[i].next_fire = now; /* plan at once: catch up what was missed */
    daemon_free_sched(d);
    d->sets = xrealloc(d->sets, (d->n_sets + 1) * sizeof *d->sets);
    d->sets[d->n_sets++] = js;
    d->sched = sched;
    d->n_sched = n;
    log_info("daemon: %zu jobs scheduled (%zu defined)", n, js.count);
    return 0;
}

static size_t daemon_busy(const daemon_state *d)
{
    size_t n = 0;
    for (size_t i = 0; i < d->n_workers; i++)
        n += d->workers[i].pid != 0;
    return n;
}

static void daemon_claim(daemon_state *d)
{
    for (size_t i = 0; i < d->n_workers; i++) {
        if (d->workers[i].pid)
            continue;
        slot_run r;
        int got = slots_claim(d->c, daemon_jobs(d), d->owner, d->env.lease_s, NULL, 0, 0, &r);
        if (got != 1)
            return;
        const job_def *job = jobs_find(daemon_jobs(d), r.job);
        const loaded_plugin *p = job ? loader_find(&d->o->plugins, job->plugin) : NULL;
        if (!p) {
            slots_finish(d->c, &r, d->owner, "failed", "plugin not loaded by this daemon", -1);
            slot_run_free(&r);
            continue;
        }
        if (worker_start(&d->workers[i], &d->env, d->c, job, p, &r) != 0)
            worker_free(&d->workers[i]);
    }
}

static void daemon_reap(daemon_state *d)
{
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        if (pid == d->http_pid) {
            log_error("daemon: the HTTP server exited (status %d); restarting it in 5 s", status);
            d->http_pid = 0;
            d->http_restart = monotonic_seconds() + 5;
            continue;
        }
        for (size_t i = 0; i < d->n_workers; i++) {
            if (d->workers[i].pid == pid) {
                worker_finish(&d->workers[i], &d->env, d->c, status);
                worker_free(&d->workers[i]);
            }
        }
    }
}

/* Cancellations arrive as NOTIFY purser_cancel, 'RUN_ID'. */
static void daemon_notifications(daemon_state *d, double now)
{
    PQconsumeInput(d->c);
    PGnotify *n;
    while ((n = PQnotifies(d->c)) != NULL) {
        int64_t id = atoll(n->extra);
        for (size_t i = 0; i < d->n_workers; i++)
            if (d->workers[i].pid && d->workers[i].run.id == id) {
                log_info("run %lld: cancel requested", (long long)id);
                worker_stop(&d->workers[i], &d->env, "cancel", now);
            }
        PQfreemem(n);
    }
}

static int daemon_reconnect(daemon_state *d)
{
    if (PQstatus(d->c) == CONNECTION_OK)
        return 0;
    log_warn("daemon: database connection lost; reconnecting");
    PQreset(d->c);
    if (PQstatus(d->c) != CONNECTION_OK)
        return -1;
    PQclear(PQexec(d->c, "LISTEN purser_cancel"));
    return 0;
}

static void daemon_tick(daemon_state *d)
{
    double mono = monotonic_seconds();
    int64_t now = (int64_t)time(NULL);
    if (daemon_reconnect(d) != 0)
        return;
    if (daemon_reload_flag) {
        daemon_reload_flag = 0;
        log_info("daemon: SIGHUP, reloading job definitions");
        daemon_load_jobs(d);
    }
    if (!d->stop_deadline)
        for (size_t i = 0; i < d->n_sched; i++)
            if (d->sched[i].next_fire != CRON_NEVER && d->sched[i].next_fire <= now)
                sched_plan(d->c, &d->sched[i], now);
    if (mono >= d->next_rescue) {
        slots_rescue(d->c);
        alerts_check_deadlines(&d->o->s, d->c, daemon_jobs(d));
        d->next_rescue = mono + DAEMON_RESCUE_EVERY_S;
    }
    if (mono >= d->next_prune) {
        int n = slots_prune(d->c, d->o->s.history_keep_ms);
        if (n > 0)
            log_info("daemon: pruned %d runs older than history.keep", n);
        d->next_prune = mono + DAEMON_PRUNE_EVERY_S;
    }
    if (!d->stop_deadline && !d->http_pid && d->http_restart && mono >= d->http_restart) {
        d->http_restart = 0;
        daemon_start_http(d);
    }
    daemon_notifications(d, mono);
    for (size_t i = 0; i < d->n_workers; i++) {
        worker_pump(&d->workers[i], d->c);
        worker_tick(&d->workers[i], &d->env, d->c, mono);
        if (d->stop_deadline && mono >= d->stop_deadline)
            worker_stop(&d->workers[i], &d->env, "shutdown", mono);
    }
    daemon_reap(d);
    /* Claim after reaping, so a finished run's worker is reused at once. */
    if (!d->stop_deadline)
        daemon_claim(d);
}

/* Sleep until a child writes, a notification arrives or a second passes. */
static void daemon_wait(daemon_state *d)
{
    struct pollfd fds[65];
    nfds_t n = 0;
    fds[n++] = (struct pollfd){.fd = PQsocket(d->c), .events = POLLIN};
    for (size_t i = 0; i < d->n_workers && n < 65; i++)
        if (d->workers[i].pid && d->workers[i].fd >= 0)
            fds[n++] = (struct pollfd){.fd = d->workers[i].fd, .events = POLLIN};
    poll(fds, n, 1000);
}

int daemon_main(cli_options *o)
{
    daemon_state d = {.o = o};
    char err[1024];
    d.c = db_open(&o->s, err, sizeof err);
    if (!d.c) {
        log_error("%s", err);
        return 1;
    }
    PGresult *mig = PQexec(d.c, "SELECT to_regclass('purser_runs') IS NOT NULL AND EXISTS "
                                "(SELECT 1 FROM purser_migrations WHERE id = '0010_scheduler')");
    int migrated = PQresultStatus(mig) == PGRES_TUPLES_OK && PQgetvalue(mig, 0, 0)[0] == 't';
    PQclear(mig);
    if (!migrated) {
        log_error("daemon: the database schema is not up to date: run `purser migrate` first");
        PQfinish(d.c);
        return 1;
    }
    if (daemon_load_jobs(&d) != 0) {
        PQfinish(d.c);
        return 2;
    }
    worker_owner_name(d.owner, sizeof d.owner);
    d.env = worker_env_from(&o->s, d.owner);
    d.n_workers = o->s.runner_workers > 0 ? (size_t)o->s.runner_workers : 1;
    d.workers = xcalloc(d.n_workers, sizeof *d.workers);
    for (size_t i = 0; i < d.n_workers; i++)
        d.workers[i].fd = -1;
    PQclear(PQexec(d.c, "LISTEN purser_cancel"));
    struct sigaction stop = {.sa_handler = daemon_on_stop}, hup = {.sa_handler = daemon_on_hup};
    sigemptyset(&stop.sa_mask);
    sigemptyset(&hup.sa_mask);
    sigaction(SIGTERM, &stop, NULL);
    sigaction(SIGINT, &stop, NULL);
    sigaction(SIGHUP, &hup, NULL);
    log_info("daemon %s: %zu workers, lease %d s", d.owner, d.n_workers, d.env.lease_s);
    daemon_start_http(&d);
    for (;;) {
        if (daemon_stop_flag && !d.stop_deadline) {
            d.stop_deadline = monotonic_seconds() + (double)o->s.shutdown_grace_ms / 1000.0;
            log_info("daemon: stopping; %zu runs still running (grace %.0f s)", daemon_busy(&d),
                     (double)o->s.shutdown_grace_ms / 1000.0);
        }
        daemon_tick(&d);
        if (d.stop_deadline && daemon_busy(&d) == 0)
            break;
        daemon_wait(&d);
    }
    daemon_stop_http(&d);
    log_info("daemon %s: stopped", d.owner);
    for (size_t i = 0; i < d.n_workers; i++)
        worker_free(&d.workers[i]);
    free(d.workers);
    daemon_free_sched(&d);
    for (size_t i = 0; i < d.n_sets; i++)
        jobs_free(&d.sets[i]);
    free(d.sets);
    PQfinish(d.c);
    return 0;
}
