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

/* The child's log lines travel to the parent over a pipe as
 * "<level>\t<message>\n" with newlines in messages escaped. */
static int run_pipe_fd = -1;

static void run_sink(void *arg, purser_log_level level, const char *component, const char *message)
{
    (void)arg;
    (void)component;
    if (run_pipe_fd < 0)
        return;
    strbuf sb = {0};
    sb_addf(&sb, "%d\t", (int)level);
    for (const char *p = message; *p; p++) {
        if (*p == '\n')
            sb_add(&sb, "\\n");
        else
            sb_addn(&sb, p, 1);
    }
    sb_add(&sb, "\n");
    ssize_t off = 0;
    while (off < (ssize_t)sb.len) {
        ssize_t w = write(run_pipe_fd, sb.data + off, sb.len - (size_t)off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        off += w;
    }
    sb_free(&sb);
}

static volatile sig_atomic_t run_cancel;

static void run_on_term(int sig)
{
    (void)sig;
    run_cancel = 1;
}

/* In the child: init, run, fini; the exit code carries the status and
 * the result message goes out as a final "R\t..." line. */
static void run_child(const settings *s, const run_request *req, int64_t run_id, const char *date,
                      int64_t start, int64_t end, int fd)
{
    run_pipe_fd = fd;
    log_set_sink(run_sink, NULL);
    signal(SIGTERM, run_on_term);
    signal(SIGINT, run_on_term);
    purser_ctx ctx;
    host_ctx_init(&ctx, s, req->plugin);
    ctx.run_id = run_id;
    ctx.params_doc = req->job->doc;
    ctx.params = req->job->params;
    ctx.override_keys = req->param_keys;
    ctx.override_vals = req->param_vals;
    ctx.n_overrides = req->n_params;
    ctx.cancel_flag = &run_cancel;
    const purser_plugin *d = &req->plugin->desc;
    void *state = NULL;
    purser_status st = PURSER_OK;
    if (d->init)
        st = d->init(host_table(), &ctx, &state);
    if (st == PURSER_OK) {
        purser_run_info info = {.struct_size = sizeof info,
                                .run_id = run_id,
                                .job = req->job->name,
                                .business_date = date,
                                .interval_start = start,
                                .interval_end = end,
                                .timezone = req->job->timezone,
                                .dry_run = req->dry_run};
        st = d->run(state, &ctx, &info);
    } else {
        log_msg(PURSER_LOG_ERROR, d->name, run_id, "init failed");
    }
    if (d->fini)
        d->fini(state);
    if (ctx.result) {
        strbuf sb = {0};
        sb_addf(&sb, "R\t%s\n", ctx.result);
        for (char *p = sb.data + 2; *p && p[1]; p++)
            if (*p == '\n')
                *p = ' ';
        if (write(fd, sb.data, sb.len) < 0)
            st = PURSER_ERROR;
        sb_free(&sb);
    }
    host_ctx_done(&ctx);
    close(fd);
    _exit(st == PURSER_OK ? 0 : st == PURSER_RETRY ? 3 : 4);
}

static int64_t run_insert(PGconn *c, const run_request *req, const char *date, int64_t start)
{
    strbuf params = {0};
    sb_add(&params, "{");
    for (size_t i = 0; i < req->n_params; i++) {
        if (i)
            sb_add(&params, ",");
        json_escape(&params, req->param_keys[i]);
        sb_add(&params, ":");
        json_escape(&params, req->param_vals[i]);
    }
    sb_add(&params, "}");
    char slot[32];
    snprintf(slot, sizeof slot, "%lld", (long long)start);
    const char *v[6] = {req->job->name, req->plugin->desc.name,         slot, date,
                        params.data,    req->dry_run ? "true" : "false"};
    PGresult *r = PQexecParams(
        c,
        "INSERT INTO purser_runs (job, plugin, slot, business_date, kind, state, params, "
        "dry_run, started_at) VALUES ($1, $2, to_timestamp($3::bigint), $4::date, 'manual', "
        "'running', $5::jsonb, $6::boolean, now()) RETURNING id",
        6, NULL, v, NULL, NULL, 0);
    int64_t id = 0;
    if (PQresultStatus(r) == PGRES_TUPLES_OK)
        id = atoll(PQgetvalue(r, 0, 0));
    else
        log_error("cannot record the run in purser_runs: %s (run `purser migrate`?)",
                  PQresultErrorMessage(r));
    PQclear(r);
    sb_free(&params);
    return id;
}

static void run_store_line(PGconn *c, int64_t run_id, int seq, const char *line)
{
    static const char *const levels[] = {"debug", "info", "warn", "error"};
    int lvl = line[0] - '0';
    if (lvl < 0 || lvl > 3 || line[1] != '\t')
        return;
    char id[24], sq[16];
    snprintf(id, sizeof id, "%lld", (long long)run_id);
    snprintf(sq, sizeof sq, "%d", seq);
    const char *v[4] = {id, sq, levels[lvl], line + 2};
    PQclear(PQexecParams(c,
                         "INSERT INTO purser_run_logs (run_id, seq, level, message) "
                         "VALUES ($1, $2, $3, $4)",
                         4, NULL, v, NULL, NULL, 0));
}

/* Read the child's lines until EOF; keep the result message. */
static char *run_collect(PGconn *c, int64_t run_id, int fd)
{
    FILE *in = fdopen(fd, "r");
    char *line = NULL, *result = NULL;
    size_t cap = 0;
    ssize_t n;
    int seq = 0;
    while ((n = getline(&line, &cap, in)) > 0) {
        if (line[n - 1] == '\n')
            line[n - 1] = '\0';
        if (line[0] == 'R' && line[1] == '\t') {
            free(result);
            result = xstrdup(line + 2);
        } else {
            run_store_line(c, run_id, ++seq, line);
        }
    }
    free(line);
    fclose(in);
    return result;
}

static void run_finish(PGconn *c, int64_t run_id, const char *state, const char *message)
{
    char id[24];
    snprintf(id, sizeof id, "%lld", (long long)run_id);
    const char *v[3] = {id, state, message};
    PGresult *r = PQexecParams(c,
                               "UPDATE purser_runs SET state = $2, message = $3, "
                               "finished_at = now() WHERE id = $1 AND state = 'running'",
                               3, NULL, v, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        log_error("cannot record the outcome of run %s: %s", id, PQresultErrorMessage(r));
    PQclear(r);
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
    int64_t start = run_midnight(req->job->timezone, y, m, d);
    int64_t end = run_midnight(req->job->timezone, y, m, d + 1);
    PGconn *c = db_open(s, err, sizeof err);
    if (!c) {
        log_error("%s", err);
        return 1;
    }
    int64_t run_id = run_insert(c, req, date, start);
    if (!run_id) {
        PQfinish(c);
        return 1;
    }
    log_info("run %lld: job %s (plugin %s) for %s%s", (long long)run_id, req->job->name,
             req->plugin->desc.name, date, req->dry_run ? ", dry run" : "");
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
        run_finish(c, run_id, "failed", "could not create a pipe");
        PQfinish(c);
        return 1;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        run_child(s, req, run_id, date, start, end, fds[1]);
    }
    close(fds[1]);
    char *result = pid > 0 ? run_collect(c, run_id, fds[0]) : NULL;
    if (pid < 0)
        close(fds[0]);
    int st = 0;
    while (pid > 0 && waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    char why[512];
    const char *state = "failed";
    if (pid < 0) {
        snprintf(why, sizeof why, "could not fork: %s", strerror(errno));
    } else if (WIFSIGNALED(st)) {
        snprintf(why, sizeof why, "plugin %s crashed: signal %d (%s)%s%s", req->plugin->desc.name,
                 WTERMSIG(st), strsignal(WTERMSIG(st)), result ? "; last result: " : "",
                 result ? result : "");
    } else if (WEXITSTATUS(st) == 0) {
        state = "succeeded";
        snprintf(why, sizeof why, "%s", result ? result : "ok");
    } else {
        snprintf(why, sizeof why, "%s%s", WEXITSTATUS(st) == 3 ? "retryable failure: " : "",
                 result ? result : "the plugin reported an error (see the run's log)");
    }
    run_finish(c, run_id, state, why);
    if (strcmp(state, "succeeded") == 0)
        log_info("run %lld succeeded: %s", (long long)run_id, why);
    else
        log_error("run %lld failed: %s", (long long)run_id, why);
    free(result);
    PQfinish(c);
    return strcmp(state, "succeeded") == 0 ? 0 : 1;
}
