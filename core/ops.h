/* What operators do to runs and jobs, shared by the command line
 * (`purser retry`, `pause`, `resume`, `backfill`) and the web page: each
 * function is one parameterised statement (or a short series) on a
 * connection the caller owns, and says what happened without printing. */
#ifndef PURSER_OPS_H
#define PURSER_OPS_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jobs.h"
#include "sched.h"

/* Queue a failed, cancelled or skipped run for another attempt. Returns 1
 * queued (its job's name copied into job, NUL-terminated), 0 no such run
 * or not in one of those states, -1 database error (message in err). */
int ops_retry(PGconn *c, int64_t run_id, char *job, size_t joblen, char *err, size_t errlen);

/* Pause or resume a job by name (the caller has checked that it is
 * defined). 0, or -1 with the server's message in err. */
int ops_set_paused(PGconn *c, const char *job, bool paused, char *err, size_t errlen);

/* The outcome of ops_backfill_plan. */
typedef struct ops_backfill_counts {
    int created;    /* new slots */
    long run_again; /* failed, cancelled or skipped slots queued again */
} ops_backfill_counts;

/* Backfill planning: create one pending slot per instant in inst[0..n-1]
 * (ascending, from sched_instants_between) and queue again those of the
 * range that failed, were cancelled or skipped; succeeded slots are left
 * alone. Whoever claims them (a daemon, `purser backfill`) runs them.
 * 0 with *out filled, or -1 with the first error in err. */
int ops_backfill_plan(PGconn *c, const job_def *job, const sched_job *sj, const int64_t *inst,
                      size_t n, ops_backfill_counts *out, char *err, size_t errlen);

#endif
