/* Foreground runs: record, fork, stream the child's log lines, record the
 * outcome. */
#include "run.h"

#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "db.h"
#include "host.h"
#include "log.h"
#include "util.h"
#include "worker.h"

int run_parse_date(const char *text, int *y, int *m, int *d)
{
    char extra;
    if (!text || strlen(text) != 10 || sscanf(text, "%4d-%2d-%2d%c", y, m, d, &extra) != 3)
        return -1;
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (*m < 1 || *m > 12 || *d < 1)
        return -1;
    int leap = (*y % 4 == 0 && *y % 100 != 0) || *y % 400 == 0;
    int max = days[*m - 1] + (*m == 2 && leap);
    return *d <= max ? 0 : -1;
}

/* Switch the process's zone to `zone`; returns the previous $TZ (owned,
 * may be NULL) for run_tz_restore. */
static char *run_tz_switch(const char *zone)
{
    const char *old = getenv("TZ");
    char *saved = old ? xstrdup(old) : NULL;
    setenv("TZ", zone, 1);
    tzset();
    return saved;
}

static void run_tz_restore(char *saved)
{
    if (saved)
        setenv("TZ", saved, 1);
    else
        unsetenv("TZ");
    tzset();
    free(saved);
}

/* Local midnight of y-m-d in zone, as UTC seconds. */
static int64_t run_midnight(const char *zone, int y, int m, int d)
{
    char *saved = run_tz_switch(zone);
    struct tm tm = {.tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d, .tm_isdst = -1};
    time_t t = mktime(&tm);
    run_tz_restore(saved);
    return (int64_t)t;
}

static void run_today(const char *zone, char out[11])
{
    char *saved = run_tz_switch(zone);
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(out, 11, "%Y-%m-%d", &tm);
    run_tz_restore(saved);
}

static volatile sig_atomic_t run_interrupted;

static void run_on_signal(int sig)
{
    (void)sig;
    run_interrupted = 1;
}

/* --param overrides as a JSON object of strings. */
static char *run_params_json(const run_request *req)
{
    strbuf sb = {0};
    sb_add(&sb, "{");
    for (size_t i = 0; i < req->n_params; i++) {
        if (i)
            sb_add(&sb, ",");
        json_escape(&sb, req->param_keys[i]);
        sb_add(&sb, ":");
        json_escape(&sb, req->param_vals[i]);
    }
    sb_add(&sb, "}");
    return sb_take(&sb);
}

int run_foreground(const settings *s, const run_request *req)
{
    char today[11], err[1024];
    const char *date = req->business_date;
    int y, m, d;
    if (!date) {
        run_today(req->job->timezone, today);
        date = today;
    }
    if (run_parse_date(date, &y, &m, &d) != 0) {
        log_error("--date '%s': expected a calendar date YYYY-MM-DD", date);
        return 2;
    }
    if (host_check_overrides(req->plugin, req->param_keys, req->param_vals, req->n_params, err,
                             sizeof err) != 0) {
        log_error("%s", err);
        return 2;
    }
    slot_times t = {.slot = (int64_t)time(NULL),
                    .interval_start = run_midnight(req->job->timezone, y, m, d),
                    .interval_end = run_midnight(req->job->timezone, y, m, d + 1)};
    snprintf(t.business_date, sizeof t.business_date, "%s", date);
    PGconn *c = db_open(s, err, sizeof err);
    if (!c) {
        log_error("%s", err);
        return 1;
    }
    char owner[160];
    worker_owner_name(owner, sizeof owner);
    worker_env env = worker_env_from(s, owner);
    char *params = run_params_json(req);
    slot_run r;
    int rc = slots_start_manual(c, req->job, owner, env.lease_s, &t, params, req->dry_run, &r);
    free(params);
    if (rc != 0) {
        PQfinish(c);
        return 1;
    }
    struct sigaction sa = {.sa_handler = run_on_signal}, old_int, old_term;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    worker w;
    const char *state = "failed";
    if (worker_start(&w, &env, c, req->job, req->plugin, &r) == 0)
        state = worker_wait(&w, &env, c, &run_interrupted);
    worker_free(&w);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    PQfinish(c);
    return strcmp(state, "succeeded") == 0 ? 0 : 1;
}
