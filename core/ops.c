/* Operator actions on runs and jobs: retry, pause/resume, backfill
 * planning. The command line and the web page both call these. */
#include "ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slots.h"
#include "util.h"

/* One parameterised statement; the result (caller clears) or NULL with the
 * server's first message line in err. */
static PGresult *ops_q(PGconn *c, const char *sql, int n, const char *const *v, char *err,
                       size_t errlen)
{
    PGresult *r = PQexecParams(c, sql, n, NULL, v, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
        const char *m = PQresultErrorMessage(r);
        set_err(err, errlen, "%.*s", (int)strcspn(m, "\n"), m);
        PQclear(r);
        return NULL;
    }
    return r;
}

int ops_retry(PGconn *c, int64_t run_id, char *job, size_t joblen, char *err, size_t errlen)
{
    char id[24];
    snprintf(id, sizeof id, "%lld", (long long)run_id);
    const char *v[1] = {id};
    PGresult *r = ops_q(c,
                        "UPDATE purser_runs SET state = 'pending', attempt = attempt + 1, "
                        "max_attempts = greatest(max_attempts, attempt + 1), not_before = "
                        "now(), finished_at = NULL, message = 'retry requested by an "
                        "operator' WHERE id = $1::bigint AND state IN ('failed', "
                        "'cancelled', 'skipped') RETURNING job",
                        1, v, err, errlen);
    if (!r)
        return -1;
    int queued = PQntuples(r) == 1;
    if (queued && job && joblen)
        snprintf(job, joblen, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    return queued;
}

int ops_set_paused(PGconn *c, const char *job, bool paused, char *err, size_t errlen)
{
    const char *v[2] = {job, paused ? "true" : "false"};
    PGresult *r = ops_q(c,
                        "INSERT INTO purser_jobs (job, paused, paused_at) VALUES ($1, "
                        "$2::boolean, CASE WHEN $2::boolean THEN now() END) ON CONFLICT "
                        "(job) DO UPDATE SET paused = EXCLUDED.paused, paused_at = "
                        "EXCLUDED.paused_at",
                        2, v, err, errlen);
    PQclear(r);
    return r ? 0 : -1;
}

int ops_backfill_plan(PGconn *c, const job_def *job, const sched_job *sj, const int64_t *inst,
                      size_t n, ops_backfill_counts *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        slot_times t;
        sched_times(sj, inst[i], &t);
        int rc = slots_create(c, job, "backfill", &t, "pending", NULL, inst[i]);
        if (rc < 0) {
            set_err(err, errlen, "backfill %s: creating the slot of %s failed (see the log)",
                    job->name, t.business_date);
            return -1;
        }
        out->created += rc;
    }
    char from[24], to[24], retries[24];
    snprintf(from, sizeof from, "%lld", (long long)inst[0]);
    snprintf(to, sizeof to, "%lld", (long long)inst[n - 1]);
    snprintf(retries, sizeof retries, "%lld", (long long)job->retries_max);
    const char *v[4] = {job->name, from, to, retries};
    PGresult *r = ops_q(
        c,
        "UPDATE purser_runs SET state = 'pending', attempt = attempt + 1, max_attempts = attempt "
        "+ 1 + $4::int, not_before = now(), finished_at = NULL, message = 'run again by "
        "backfill' WHERE job = $1 AND kind <> 'manual' AND slot BETWEEN to_timestamp($2::bigint) "
        "AND to_timestamp($3::bigint) AND state IN ('failed', 'cancelled', 'skipped')",
        4, v, err, errlen);
    if (!r)
        return -1;
    out->run_again = atol(PQcmdTuples(r));
    PQclear(r);
    return 0;
}
