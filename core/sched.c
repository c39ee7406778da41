/* Planning slots: intervals, business dates, catch-up. */
#include "sched.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "run.h"
#include "util.h"

int sched_job_init(sched_job *sj, const job_def *job, int64_t now, char *err, size_t errlen)
{
    memset(sj, 0, sizeof *sj);
    sj->job = job;
    char why[256];
    if (cron_parse(job->schedule, &sj->expr, why, sizeof why) != 0) {
        set_err(err, errlen, "job '%s': schedule '%s': %s", job->name, job->schedule, why);
        return -1;
    }
    sj->zone = cron_zone_load(job->timezone, why, sizeof why);
    if (!sj->zone) {
        set_err(err, errlen, "job '%s': %s", job->name, why);
        return -1;
    }
    if (cron_next_in(&sj->expr, sj->zone, now, &sj->next_fire) != 0)
        sj->next_fire = CRON_NEVER;
    return 0;
}

void sched_job_free(sched_job *sj)
{
    cron_zone_free(sj->zone);
    memset(sj, 0, sizeof *sj);
}

/* The last fire instant strictly before slot (or slot - 1 day if none
 * within the horizon). */
static int64_t sched_prev(const sched_job *sj, int64_t slot)
{
    for (int64_t step = 3600; step <= 400LL * 86400 * 8; step *= 2) {
        int64_t n;
        if (cron_next_in(&sj->expr, sj->zone, slot - step, &n) != 0 || n >= slot)
            continue;
        int64_t next;
        while (cron_next_in(&sj->expr, sj->zone, n, &next) == 0 && next < slot)
            n = next;
        return n;
    }
    return slot - 86400;
}

static void sched_local_date(const cron_zone *z, int64_t utc, char out[11])
{
    int64_t y;
    int mon, day, h, mi, sec;
    cron_secs_to_civil(utc + cron_zone_offset(z, utc), &y, &mon, &day, &h, &mi, &sec);
    snprintf(out, 11, "%04lld-%02d-%02d", (long long)y, mon, day);
}

void sched_times(const sched_job *sj, int64_t slot, slot_times *out)
{
    out->slot = slot;
    out->interval_end = slot;
    out->interval_start = sched_prev(sj, slot);
    sched_local_date(sj->zone, out->interval_start, out->business_date);
}

void sched_format_local(const cron_zone *z, int64_t utc, char *buf, size_t len)
{
    int32_t off = cron_zone_offset(z, utc);
    int64_t y;
    int mon, day, h, mi, sec;
    cron_secs_to_civil(utc + off, &y, &mon, &day, &h, &mi, &sec);
    int a = off < 0 ? -off : off;
    snprintf(buf, len, "%04lld-%02d-%02dT%02d:%02d:%02d%c%02d:%02d", (long long)y, mon, day, h, mi,
             sec, off < 0 ? '-' : '+', a / 3600, (a / 60) % 60);
}

/* A slot's start spread by the job's jitter, the same for every daemon. */
static int64_t sched_not_before(const job_def *job, int64_t slot)
{
    if (job->jitter_ms <= 0)
        return slot;
    char key[200];
    snprintf(key, sizeof key, "%s@%lld", job->name, (long long)slot);
    char sum[65];
    sha256_hex(key, strlen(key), sum);
    uint64_t h = strtoull(sum + 48, NULL, 16);
    return slot + (int64_t)(h % (uint64_t)(job->jitter_ms / 1000 + 1));
}

static int sched_exec(PGconn *c, const char *sql, int n, const char *const *v, PGresult **out)
{
    PGresult *r = PQexecParams(c, sql, n, NULL, v, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        log_error("planning: %s", PQresultErrorMessage(r));
        PQclear(r);
        return -1;
    }
    if (out)
        *out = r;
    else
        PQclear(r);
    return 0;
}

/* The due instants in (after, now], at most SCHED_MAX_RECORDED of the
 * latest; *dropped counts older ones not listed. */
static int64_t *sched_due(const sched_job *sj, int64_t after, int64_t now, size_t *n,
                          size_t *dropped)
{
    int64_t *v = xmalloc(SCHED_MAX_RECORDED * sizeof *v);
    size_t count = 0, start = 0;
    *dropped = 0;
    int64_t t = after, next;
    while (cron_next_in(&sj->expr, sj->zone, t, &next) == 0 && next <= now) {
        if (count == SCHED_MAX_RECORDED) { /* keep a ring of the latest */
            v[start] = next;
            start = (start + 1) % SCHED_MAX_RECORDED;
            (*dropped)++;
        } else {
            v[count++] = next;
        }
        t = next;
    }
    if (start) { /* rotate the ring into order */
        int64_t *o = xmalloc(SCHED_MAX_RECORDED * sizeof *o);
        for (size_t i = 0; i < count; i++)
            o[i] = v[(start + i) % count];
        free(v);
        v = o;
    }
    *n = count;
    return v;
}

/* pending or skipped, by lateness and the catch-up policy. */
static const char *sched_decide(const job_def *job, const int64_t *due, size_t n, size_t i,
                                int64_t now, bool paused, const char **why)
{
    *why = NULL;
    if (paused) {
        *why = "skipped: the job was paused";
        return "skipped";
    }
    if (now - due[i] <= SCHED_GRACE_S)
        return "pending";
    size_t missed = 0, rank; /* rank: 0 for the latest missed slot */
    for (size_t k = 0; k < n; k++)
        missed += now - due[k] > SCHED_GRACE_S;
    rank = missed - 1 - i;
    if ((job->catchup == CATCHUP_LATEST && rank == 0) ||
        (job->catchup == CATCHUP_ALL && rank < (size_t)job->max_catchup))
        return "pending";
    *why = job->catchup == CATCHUP_NONE ? "skipped: missed while no daemon was running "
                                          "(catchup: none)"
                                        : "skipped: missed, beyond the catch-up policy";
    return "skipped";
}

int sched_plan(PGconn *c, sched_job *sj, int64_t now)
{
    const job_def *job = sj->job;
    const char *v1[1] = {job->name};
    PGresult *r = NULL;
    if (sched_exec(c, "BEGIN", 0, NULL, NULL) != 0)
        return -1;
    if (sched_exec(c, "INSERT INTO purser_jobs (job) VALUES ($1) ON CONFLICT DO NOTHING", 1, v1,
                   NULL) != 0 ||
        sched_exec(c,
                   "SELECT extract(epoch FROM planned_until)::bigint, paused FROM purser_jobs "
                   "WHERE job = $1 FOR UPDATE",
                   1, v1, &r) != 0) {
        sched_exec(c, "ROLLBACK", 0, NULL, NULL);
        return -1;
    }
    bool first = PQgetisnull(r, 0, 0);
    int64_t after = first ? now : atoll(PQgetvalue(r, 0, 0));
    bool paused = PQgetvalue(r, 0, 1)[0] == 't';
    PQclear(r);
    size_t n = 0, dropped = 0;
    int64_t *due = sched_due(sj, after, now, &n, &dropped);
    int created = 0;
    for (size_t i = 0; i < n && created >= 0; i++) {
        slot_times t;
        sched_times(sj, due[i], &t);
        const char *why, *state = sched_decide(job, due, n, i, now, paused, &why);
        int rc = slots_create(c, job, "scheduled", &t, state, why, sched_not_before(job, due[i]));
        created = rc < 0 ? -1 : created + rc;
    }
    if (dropped)
        log_warn("job %s: %zu older missed slots not recorded (more than %d)", job->name, dropped,
                 SCHED_MAX_RECORDED);
    free(due);
    char upto[24];
    snprintf(upto, sizeof upto, "%lld", (long long)now);
    const char *v2[2] = {job->name, upto};
    if (created < 0 ||
        sched_exec(c,
                   "UPDATE purser_jobs SET planned_until = to_timestamp($2::bigint) WHERE job "
                   "= $1",
                   2, v2, NULL) != 0 ||
        sched_exec(c, "COMMIT", 0, NULL, NULL) != 0) {
        sched_exec(c, "ROLLBACK", 0, NULL, NULL);
        return -1;
    }
    if (cron_next_in(&sj->expr, sj->zone, now, &sj->next_fire) != 0)
        sj->next_fire = CRON_NEVER;
    return created;
}

int64_t *sched_instants_between(const sched_job *sj, const char *from, const char *to, size_t *n)
{
    int y1, m1, d1, y2, m2, d2;
    *n = 0;
    if (run_parse_date(from, &y1, &m1, &d1) != 0 || run_parse_date(to, &y2, &m2, &d2) != 0)
        return NULL;
    int64_t start = cron_zone_to_utc(sj->zone, cron_civil_to_secs(y1, m1, d1, 0, 0, 0));
    int64_t end = cron_zone_to_utc(sj->zone, cron_civil_to_secs(y2, m2, d2 + 1, 0, 0, 0));
    size_t cap = 16;
    int64_t *v = xmalloc(cap * sizeof *v);
    int64_t t = start - 1, next;
    while (cron_next_in(&sj->expr, sj->zone, t, &next) == 0 && next < end) {
        if (*n == cap)
            v = xrealloc(v, (cap *= 2) * sizeof *v);
        v[(*n)++] = next;
        t = next;
    }
    return v;
}
