/* Planning: which slots each job has, their business dates and data
 * intervals, and the catch-up policy for slots missed while no daemon was
 * running. Slots are created in the database idempotently, so any number
 * of daemons may plan the same job. */
#ifndef PURSER_SCHED_H
#define PURSER_SCHED_H

#include <libpq-fe.h>
#include <stdint.h>

#include "cron.h"
#include "jobs.h"
#include "slots.h"

/* A slot older than this when planned counts as missed (catch-up policy). */
#define SCHED_GRACE_S 60
/* At most this many missed slots are recorded in one planning pass. */
#define SCHED_MAX_RECORDED 1000

typedef struct sched_job {
    const job_def *job; /* borrowed */
    cron_expr expr;
    cron_zone *zone;   /* owned */
    int64_t next_fire; /* next instant to plan, CRON_NEVER if none */
} sched_job;

/* Parse the job's schedule and load its zone; 0, or -1 with err. */
int sched_job_init(sched_job *sj, const job_def *job, int64_t now, char *err, size_t errlen);
void sched_job_free(sched_job *sj);

/* The slot's business date and data interval: from the previous fire
 * instant to this one; the business date is the interval start's local
 * date in the job's zone. */
void sched_times(const sched_job *sj, int64_t slot, slot_times *out);

/* Create the job's slots due by `now` (after what any daemon planned
 * before), applying the catch-up policy to missed ones. Returns the
 * number of slots created, -1 on error. Updates sj->next_fire. */
int sched_plan(PGconn *c, sched_job *sj, int64_t now);

/* Fire instants whose local date lies in [from, to] (YYYY-MM-DD), for
 * backfill: count written to *n, array owned by the caller. */
int64_t *sched_instants_between(const sched_job *sj, const char *from, const char *to, size_t *n);

/* Format a UTC instant in the job's zone: "2026-03-29T03:00:00+02:00". */
void sched_format_local(const cron_zone *z, int64_t utc, char *buf, size_t len);

#endif
