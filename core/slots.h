/* Runs in the database: slots created once, claimed with SKIP LOCKED under
 * the job's overlap and `after:` policies, kept alive by leases, finished
 * with compare-and-set fencing, rescued when their worker is gone. Every
 * function is one short transaction (or one statement). */
#ifndef PURSER_SLOTS_H
#define PURSER_SLOTS_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "jobs.h"

typedef struct slot_run {
    int64_t id;
    char job[128];
    char plugin[64];
    char kind[16];          /* scheduled, backfill, manual */
    int64_t slot;           /* UTC seconds */
    char business_date[11]; /* YYYY-MM-DD */
    int64_t interval_start; /* UTC seconds */
    int64_t interval_end;
    char timezone[64];
    int attempt;
    int max_attempts;
    bool dry_run;
    char *params_json; /* --param overrides as a JSON object; owned */
} slot_run;

void slot_run_free(slot_run *r);

/* The slot's business date and data interval: the interval runs from the
 * previous fire instant to this one; the business date is the interval
 * start's local date in the job's zone. */
typedef struct slot_times {
    int64_t slot;
    int64_t interval_start;
    int64_t interval_end;
    char business_date[11];
} slot_times;

/* Insert a slot row unless one exists (INSERT ... ON CONFLICT DO NOTHING on
 * (job, slot)). state is "pending" or "skipped" (with message). Returns 1
 * created, 0 existed, -1 error (logged). */
int slots_create(PGconn *c, const job_def *job, const char *kind, const slot_times *t,
                 const char *state, const char *message, int64_t not_before);

/* Claim one due pending run that the jobs' policies allow now. Returns 1
 * with *out filled (free with slot_run_free), 0 when nothing can run, -1
 * on error. `only_job`/`from`/`to` (may be NULL/0) restrict it to one
 * job's slots in [from, to] (backfill). */
int slots_claim(PGconn *c, const job_set *jobs, const char *owner, int lease_s,
                const char *only_job, int64_t from, int64_t to, slot_run *out);

/* Insert a manual run already claimed by owner (purser run). */
int slots_start_manual(PGconn *c, const job_def *job, const char *owner, int lease_s,
                       const slot_times *t, const char *params_json, bool dry_run, slot_run *out);

/* Extend the lease; 1 still ours, 0 lost (fenced out), -1 error.
 * *cancel is set when an operator asked to cancel the run. */
int slots_heartbeat(PGconn *c, const slot_run *r, const char *owner, int lease_s, bool *cancel);

/* Record the outcome: "succeeded", "failed" or "cancelled"; or, with
 * retry_in_ms >= 0 and attempts left, back to pending for another attempt.
 * Fenced on (id, state running, attempt, owner): returns 1 recorded, 0 the
 * run was no longer ours, -1 error. */
int slots_finish(PGconn *c, const slot_run *r, const char *owner, const char *state,
                 const char *message, int64_t retry_in_ms);

/* Hand a running run back (the daemon is shutting down): pending again
 * at once, without using up one of its attempts. Fenced like
 * slots_finish. */
int slots_release(PGconn *c, const slot_run *r, const char *owner, const char *message);

/* Runs whose lease expired (worker lost): retried if attempts remain,
 * else failed. Returns how many were rescued, -1 on error. */
int slots_rescue(PGconn *c);

/* Delete finished runs (and their logs) older than keep_ms; returns how
 * many, -1 on error. */
int slots_prune(PGconn *c, int64_t keep_ms);

/* Store one log line of a run. */
void slots_log(PGconn *c, const slot_run *r, int seq, const char *level, const char *message);

/* Retry delay for the attempt that just failed: backoff * 2^(attempt-1),
 * capped at max_backoff, with jitter in [50%, 100%] from `seed`. */
int64_t slots_backoff_ms(const job_def *job, int attempt, uint64_t seed);

#endif
