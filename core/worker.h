/* One claimed run executing in a child process: the plugin's init, run
 * and fini happen in the child, so a crash or a hang fails that run and
 * never the caller. The parent streams the child's log lines into the
 * database, keeps the lease alive, enforces the timeout (SIGTERM, then
 * SIGKILL after a grace period), forwards cancellation, and records the
 * outcome with fencing and the job's retry policy. Used by `purser run`,
 * `purser backfill` and the daemon alike. */
#ifndef PURSER_WORKER_H
#define PURSER_WORKER_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <signal.h>
#include <sys/types.h>

#include "jobs.h"
#include "loader.h"
#include "settings.h"
#include "slots.h"
#include "util.h"

typedef struct worker {
    slot_run run;                /* owned */
    const job_def *job;          /* borrowed */
    const loaded_plugin *plugin; /* borrowed */
    pid_t pid;                   /* 0 once reaped */
    int fd;                      /* read end of the child's log pipe, -1 at EOF */
    strbuf partial;              /* an incomplete line from the pipe */
    char *result;                /* the plugin's result message; owned */
    int seq;                     /* last log sequence number stored */
    double started;              /* monotonic seconds */
    double deadline;             /* timeout instant */
    double next_heartbeat;
    double kill_at;          /* SIGKILL instant once SIGTERM was sent, else 0 */
    const char *stop_reason; /* why SIGTERM was sent: timeout, cancel, shutdown */
    bool lease_lost;
} worker;

typedef struct worker_env {
    const settings *s;
    const char *owner; /* lease owner: host:pid */
    int lease_s;       /* lease length; heartbeats every third of it */
    double grace_s;    /* SIGTERM -> SIGKILL */
} worker_env;

/* The environment from settings (runner.lease, runner.kill_grace); owner
 * is borrowed. */
worker_env worker_env_from(const settings *s, const char *owner);

/* Fork the child for a claimed run (its ownership moves into w). Returns
 * 0, or -1 when the child could not be started (the run is recorded as
 * failed). */
int worker_start(worker *w, const worker_env *env, PGconn *c, const job_def *job,
                 const loaded_plugin *plugin, slot_run *run);

/* Read what the child wrote so far and store its log lines. */
void worker_pump(worker *w, PGconn *c);

/* Heartbeat, timeout and cancellation; call about once a second. */
void worker_tick(worker *w, const worker_env *env, PGconn *c, double now);

/* Ask the child to stop (shutdown); SIGKILL follows after the grace. */
void worker_stop(worker *w, const worker_env *env, const char *reason, double now);

/* The child exited with wait status `status`: store the rest of its log,
 * record the outcome. Returns the final state written ("succeeded",
 * "failed", "cancelled", "pending" for a retry) or "lost" when the run was
 * no longer ours. */
const char *worker_finish(worker *w, const worker_env *env, PGconn *c, int status);

void worker_free(worker *w);

/* Wait for one worker in the foreground (purser run, backfill): pump,
 * tick, reap. When *interrupt becomes non-zero (Ctrl-C) the child is asked
 * to stop and the run ends cancelled. Returns the final state as
 * worker_finish does. */
const char *worker_wait(worker *w, const worker_env *env, PGconn *c,
                        volatile sig_atomic_t *interrupt);

/* "host:pid", the lease owner name of this process. */
void worker_owner_name(char *buf, size_t len);

#endif
