/* A run in a child process: fork, log pipe, leases, timeout, outcome. */
#include "worker.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alerts.h"
#include "host.h"
#include "log.h"
#include "progress.h"

/* ---- the child ---------------------------------------------------------- */

/* The child's log lines travel to the parent as "<level>\t<message>\n"
 * with newlines escaped; the result goes last as "R\t<message>\n". */
static int worker_pipe_fd = -1;
static volatile sig_atomic_t worker_cancel;

static void worker_write_all(int fd, const char *data, size_t len)
{
    size_t off = 0;
    while (off < len) {
        ssize_t n = write(fd, data + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        off += (size_t)n;
    }
}

static void worker_send(char tag, const char *message)
{
    strbuf sb = {0};
    sb_addf(&sb, "%c\t", tag);
    for (const char *p = message; *p; p++)
        sb_addn(&sb, *p == '\n' ? " " : p, 1);
    sb_add(&sb, "\n");
    worker_write_all(worker_pipe_fd, sb.data, sb.len);
    sb_free(&sb);
}

static void worker_sink(void *arg, purser_log_level level, const char *component,
                        const char *message)
{
    (void)arg;
    (void)component;
    worker_send((char)('0' + level), message);
}

static void worker_on_term(int sig)
{
    (void)sig;
    worker_cancel = 1;
}

/* --param overrides travel as a JSON object of strings. */
static size_t worker_overrides(const char *json, char ***keys, char ***vals)
{
    cJSON *o = cJSON_Parse(json ? json : "{}");
    size_t n = 0, cap = (size_t)cJSON_GetArraySize(o);
    *keys = xcalloc(cap + 1, sizeof **keys);
    *vals = xcalloc(cap + 1, sizeof **vals);
    for (cJSON *it = o ? o->child : NULL; it; it = it->next) {
        if (!cJSON_IsString(it) || !it->string)
            continue;
        (*keys)[n] = xstrdup(it->string);
        (*vals)[n++] = xstrdup(it->valuestring);
    }
    cJSON_Delete(o);
    return n;
}

static void worker_child(const worker_env *env, const worker *w, int fd)
{
    worker_pipe_fd = fd;
    log_set_sink(worker_sink, NULL);
    struct sigaction sa = {.sa_handler = worker_on_term};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGHUP, SIG_DFL);
    signal(SIGCHLD, SIG_DFL);
    signal(SIGPIPE, SIG_DFL);
    const slot_run *r = &w->run;
    char **keys, **vals;
    size_t n = worker_overrides(r->params_json, &keys, &vals);
    purser_ctx ctx;
    host_ctx_init(&ctx, env->s, w->plugin);
    ctx.run_id = r->id;
    ctx.params_doc = w->job->doc;
    ctx.params = w->job->params;
    ctx.override_keys = keys;
    ctx.override_vals = vals;
    ctx.n_overrides = n;
    ctx.cancel_flag = &worker_cancel;
    const purser_plugin *d = &w->plugin->desc;
    void *state = NULL;
    purser_status st = d->init ? d->init(host_table(), &ctx, &state) : PURSER_OK;
    if (st == PURSER_OK) {
        purser_run_info info = {.struct_size = sizeof info,
                                .run_id = r->id,
                                .job = r->job,
                                .business_date = r->business_date,
                                .interval_start = r->interval_start,
                                .interval_end = r->interval_end,
                                .timezone = r->timezone,
                                .dry_run = r->dry_run};
        st = d->run(state, &ctx, &info);
    } else {
        log_msg(PURSER_LOG_ERROR, d->name, r->id, "init failed");
    }
    if (d->fini)
        d->fini(state);
    if (ctx.result)
        worker_send('R', ctx.result);
    host_ctx_done(&ctx);
    close(fd);
    _exit(st == PURSER_OK ? 0 : st == PURSER_RETRY ? 3 : 4);
}

/* ---- the parent --------------------------------------------------------- */

void worker_owner_name(char *buf, size_t len)
{
    char host[128] = "localhost";
    gethostname(host, sizeof host - 1);
    snprintf(buf, len, "%s:%ld", host, (long)getpid());
}

static int worker_next_seq(PGconn *c, int64_t run_id)
{
    char id[24];
    snprintf(id, sizeof id, "%lld", (long long)run_id);
    const char *v[1] = {id};
    PGresult *r = PQexecParams(c,
                               "SELECT coalesce(max(seq), 0) FROM purser_run_logs WHERE "
                               "run_id = $1::bigint",
                               1, NULL, v, NULL, NULL, 0);
    int seq = PQresultStatus(r) == PGRES_TUPLES_OK ? atoi(PQgetvalue(r, 0, 0)) : 0;
    PQclear(r);
    return seq;
}

worker_env worker_env_from(const settings *s, const char *owner)
{
    int lease = (int)(s->lease_ms / 1000);
    return (worker_env){.s = s,
                        .owner = owner,
                        .lease_s = lease >= 3 ? lease : 3,
                        .grace_s = (double)s->kill_grace_ms / 1000.0};
}

int worker_start(worker *w, const worker_env *env, PGconn *c, const job_def *job,
                 const loaded_plugin *plugin, slot_run *run)
{
    memset(w, 0, sizeof *w);
    w->run = *run;
    memset(run, 0, sizeof *run);
    w->job = job;
    w->plugin = plugin;
    w->fd = -1;
    w->seq = worker_next_seq(c, w->run.id);
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
        slots_finish(c, &w->run, env->owner, "failed", "could not create a pipe", -1);
        return -1;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        worker_child(env, w, fds[1]);
    }
    close(fds[1]);
    if (pid < 0) {
        close(fds[0]);
        char why[128];
        snprintf(why, sizeof why, "could not fork: %s", strerror(errno));
        slots_finish(c, &w->run, env->owner, "failed", why, 0);
        return -1;
    }
    fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) | O_NONBLOCK);
    w->pid = pid;
    w->fd = fds[0];
    w->started = monotonic_seconds();
    w->deadline = w->started + (double)job->timeout_ms / 1000.0;
    w->next_heartbeat = w->started + env->lease_s / 3.0;
    char id[24], pidtxt[16];
    snprintf(id, sizeof id, "%lld", (long long)w->run.id);
    snprintf(pidtxt, sizeof pidtxt, "%ld", (long)pid);
    const char *v[2] = {id, pidtxt};
    PQclear(PQexecParams(c, "UPDATE purser_runs SET worker_pid = $2::int WHERE id = $1::bigint", 2,
                         NULL, v, NULL, NULL, 0));
    log_info("run %lld: job %s (plugin %s) for %s, attempt %d/%d%s", (long long)w->run.id,
             w->run.job, w->run.plugin, w->run.business_date, w->run.attempt, w->run.max_attempts,
             w->run.dry_run ? ", dry run" : "");
    return 0;
}

static void worker_line(worker *w, PGconn *c, const char *line)
{
    static const char *const levels[] = {"debug", "info", "warn", "error"};
    if (line[0] == 'R' && line[1] == '\t') {
        free(w->result);
        w->result = xstrdup(line + 2);
    } else if (line[0] >= '0' && line[0] <= '3' && line[1] == '\t') {
        slots_log(c, &w->run, ++w->seq, levels[line[0] - '0'], line + 2);
    }
}

void worker_pump(worker *w, PGconn *c)
{
    char buf[8192];
    while (w->fd >= 0) {
        ssize_t n = read(w->fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return; /* EAGAIN: nothing more for now */
        if (n == 0) {
            close(w->fd);
            w->fd = -1;
            break;
        }
        sb_addn(&w->partial, buf, (size_t)n);
        char *start = w->partial.data, *nl;
        while ((nl = memchr(start, '\n', w->partial.len - (size_t)(start - w->partial.data)))) {
            *nl = '\0';
            worker_line(w, c, start);
            start = nl + 1;
        }
        size_t rest = w->partial.len - (size_t)(start - w->partial.data);
        memmove(w->partial.data, start, rest);
        w->partial.len = rest;
        w->partial.data[rest] = '\0';
    }
}

void worker_stop(worker *w, const worker_env *env, const char *reason, double now)
{
    if (!w->pid || w->kill_at)
        return;
    w->stop_reason = reason;
    kill(w->pid, SIGTERM);
    w->kill_at = now + env->grace_s;
}

void worker_tick(worker *w, const worker_env *env, PGconn *c, double now)
{
    if (!w->pid)
        return;
    if (w->kill_at && now >= w->kill_at) {
        kill(w->pid, SIGKILL);
        w->kill_at = now + 3600;
    }
    if (!w->kill_at && now >= w->deadline)
        worker_stop(w, env, "timeout", now);
    if (now < w->next_heartbeat)
        return;
    w->next_heartbeat = now + env->lease_s / 3.0;
    bool cancel = false;
    int ours = slots_heartbeat(c, &w->run, env->owner, env->lease_s, &cancel);
    if (ours == 0) {
        log_error("run %lld: lease lost to another worker; stopping the child",
                  (long long)w->run.id);
        w->lease_lost = true;
        kill(w->pid, SIGKILL);
    } else if (cancel) {
        worker_stop(w, env, "cancel", now);
    }
}

static void worker_describe_exit(const worker *w, int status, char *why, size_t len)
{
    const char *res = w->result;
    if (w->stop_reason && strcmp(w->stop_reason, "timeout") == 0)
        snprintf(why, len, "timed out after %.0f s (timeout %lld s)",
                 monotonic_seconds() - w->started, (long long)(w->job->timeout_ms / 1000));
    else if (w->stop_reason && strcmp(w->stop_reason, "cancel") == 0)
        snprintf(why, len, "cancelled by an operator%s%s", res ? ": " : "", res ? res : "");
    else if (w->stop_reason)
        snprintf(why, len, "stopped: %s%s%s", w->stop_reason, res ? ": " : "", res ? res : "");
    else if (WIFSIGNALED(status))
        snprintf(why, len, "plugin %s crashed: signal %d (%s)", w->run.plugin, WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
    else if (WEXITSTATUS(status) == 0)
        snprintf(why, len, "%s", res ? res : "ok");
    else
        snprintf(why, len, "%s", res ? res : "the plugin reported an error (see the run's log)");
}

const char *worker_finish(worker *w, const worker_env *env, PGconn *c, int status)
{
    w->pid = 0;
    while (w->fd >= 0) {
        struct pollfd p = {.fd = w->fd, .events = POLLIN};
        poll(&p, 1, 100);
        worker_pump(w, c);
    }
    if (w->partial.len)
        worker_line(w, c, w->partial.data);
    char why[1024];
    worker_describe_exit(w, status, why, sizeof why);
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    const char *state;
    int64_t retry = -1;
    if (w->stop_reason && strcmp(w->stop_reason, "shutdown") == 0) {
        char msg[1100];
        snprintf(msg, sizeof msg, "handed back: the daemon stopped before the run ended (%s)", why);
        if (slots_release(c, &w->run, env->owner, msg) != 1)
            return "lost";
        log_warn("run %lld: %s", (long long)w->run.id, msg);
        return "pending";
    }
    if (w->stop_reason && strcmp(w->stop_reason, "cancel") == 0) {
        state = "cancelled";
    } else if (code == 0 && !w->stop_reason) {
        state = "succeeded";
    } else if (code == 4) {
        state = "failed"; /* the plugin said: permanent */
    } else {
        state = "failed"; /* retry, crash, timeout: per the job's policy */
        retry = slots_backoff_ms(w->job, w->run.attempt,
                                 (uint64_t)w->run.id * 31u + (uint64_t)w->run.attempt);
    }
    bool again = retry >= 0 && w->run.attempt < w->run.max_attempts;
    int ours = slots_finish(c, &w->run, env->owner, state, why, retry);
    if (ours != 1) {
        log_error("run %lld: outcome not recorded, the run is no longer ours (%s)",
                  (long long)w->run.id, why);
        return "lost";
    }
    if (again) {
        log_warn("run %lld: attempt %d failed: %s; retrying in %lld s", (long long)w->run.id,
                 w->run.attempt, why, (long long)(retry / 1000));
        return "pending";
    }
    if (strcmp(state, "succeeded") == 0)
        log_info("run %lld succeeded: %s", (long long)w->run.id, why);
    else
        log_error("run %lld %s: %s", (long long)w->run.id, state, why);
    alerts_after_run(env->s, c, &w->run, state, why);
    return state;
}

void worker_free(worker *w)
{
    if (w->fd >= 0)
        close(w->fd);
    slot_run_free(&w->run);
    sb_free(&w->partial);
    free(w->result);
    memset(w, 0, sizeof *w);
    w->fd = -1;
}

const char *worker_wait(worker *w, const worker_env *env, PGconn *c,
                        volatile sig_atomic_t *interrupt)
{
    for (;;) {
        if (interrupt && *interrupt)
            worker_stop(w, env, "cancel", monotonic_seconds());
        struct pollfd p = {.fd = w->fd, .events = POLLIN};
        if (w->fd >= 0)
            poll(&p, 1, 250);
        else
            poll(NULL, 0, 100);
        worker_pump(w, c);
        worker_tick(w, env, c, monotonic_seconds());
        int status;
        pid_t done = waitpid(w->pid, &status, WNOHANG);
        if (done == w->pid)
            return worker_finish(w, env, c, status);
        if (done < 0 && errno != EINTR)
            return worker_finish(w, env, c, 0);
    }
}
