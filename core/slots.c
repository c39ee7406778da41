/* Runs in the database: creation, claims, leases, fenced outcomes, rescue. */
#include "slots.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"

#define SLOTS_COLUMNS                                                                              \
    "id, job, plugin, kind, extract(epoch FROM slot)::bigint, business_date::text, "               \
    "coalesce(extract(epoch FROM interval_start)::bigint, 0), "                                    \
    "coalesce(extract(epoch FROM interval_end)::bigint, 0), timezone, attempt, max_attempts, "     \
    "dry_run, params::text"

void slot_run_free(slot_run *r)
{
    free(r->params_json);
    memset(r, 0, sizeof *r);
}

static void slots_fill(PGresult *res, int row, slot_run *out)
{
    memset(out, 0, sizeof *out);
    out->id = atoll(PQgetvalue(res, row, 0));
    snprintf(out->job, sizeof out->job, "%s", PQgetvalue(res, row, 1));
    snprintf(out->plugin, sizeof out->plugin, "%s", PQgetvalue(res, row, 2));
    snprintf(out->kind, sizeof out->kind, "%s", PQgetvalue(res, row, 3));
    out->slot = atoll(PQgetvalue(res, row, 4));
    snprintf(out->business_date, sizeof out->business_date, "%s", PQgetvalue(res, row, 5));
    out->interval_start = atoll(PQgetvalue(res, row, 6));
    out->interval_end = atoll(PQgetvalue(res, row, 7));
    snprintf(out->timezone, sizeof out->timezone, "%s", PQgetvalue(res, row, 8));
    out->attempt = atoi(PQgetvalue(res, row, 9));
    out->max_attempts = atoi(PQgetvalue(res, row, 10));
    out->dry_run = PQgetvalue(res, row, 11)[0] == 't';
    out->params_json = xstrdup(PQgetvalue(res, row, 12));
}

/* Run a parameterised statement; the result, or NULL (logged) on failure. */
static PGresult *slots_q(PGconn *c, const char *what, const char *sql, int n, const char *const *v)
{
    PGresult *r = PQexecParams(c, sql, n, NULL, v, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", PQresultErrorMessage(r));
        msg[strcspn(msg, "\n")] = '\0';
        log_error("%s: %s", what, msg);
        PQclear(r);
        return NULL;
    }
    return r;
}

static int slots_simple(PGconn *c, const char *sql)
{
    PGresult *r = slots_q(c, sql, sql, 0, NULL);
    PQclear(r);
    return r ? 0 : -1;
}

int slots_create(PGconn *c, const job_def *job, const char *kind, const slot_times *t,
                 const char *state, const char *message, int64_t not_before)
{
    char slot[24], is[24], ie[24], nb[24], maxa[24];
    snprintf(slot, sizeof slot, "%lld", (long long)t->slot);
    snprintf(is, sizeof is, "%lld", (long long)t->interval_start);
    snprintf(ie, sizeof ie, "%lld", (long long)t->interval_end);
    snprintf(nb, sizeof nb, "%lld", (long long)not_before);
    snprintf(maxa, sizeof maxa, "%lld", (long long)(job->retries_max + 1));
    const char *vv[12] = {job->name, job->plugin,   slot, t->business_date, kind, state, is,
                          ie,        job->timezone, maxa, message,          nb};
    PGresult *r = slots_q(
        c, "creating a slot",
        "INSERT INTO purser_runs (job, plugin, slot, business_date, kind, state, interval_start, "
        "interval_end, timezone, max_attempts, message, not_before, started_at, finished_at) "
        "VALUES ($1, $2, to_timestamp($3::bigint), $4::date, $5, $6, to_timestamp($7::bigint), "
        "to_timestamp($8::bigint), $9, $10::int, $11, to_timestamp($12::bigint), "
        "CASE WHEN $6 = 'skipped' THEN now() END, CASE WHEN $6 = 'skipped' THEN now() END) "
        "ON CONFLICT (job, slot) WHERE kind <> 'manual' DO NOTHING",
        12, vv);
    if (!r)
        return -1;
    int created = atoi(PQcmdTuples(r)) == 1;
    PQclear(r);
    return created;
}

/* May this pending run start now under its job's policies? 1 yes, 0 not
 * now (stays pending), 2 skipped (recorded), -1 error. Runs inside the
 * claim's transaction, holding the job's advisory lock. */
static int slots_allowed(PGconn *c, const job_def *job, const char *id, const char *kind,
                         const char *date)
{
    const char *v1[1] = {job->name};
    PGresult *r = slots_q(c, "job lock",
                          "SELECT pg_advisory_xact_lock(hashtext('purser-job:' || $1))", 1, v1);
    PQclear(r);
    if (!r)
        return -1;
    const char *v2[2] = {job->name, id};
    r = slots_q(c, "counting running runs",
                "SELECT count(*), count(*) FILTER (WHERE started_at < (SELECT slot FROM "
                "purser_runs WHERE id = $2::bigint)) FROM purser_runs WHERE job = $1 AND state = "
                "'running'",
                2, v2);
    if (!r)
        return -1;
    long running = atol(PQgetvalue(r, 0, 0));
    long started_before_slot = atol(PQgetvalue(r, 0, 1));
    PQclear(r);
    if (running > 0) {
        switch (job->overlap) {
        case OVERLAP_SKIP:
            /* Only a slot that came due while the other run was running is
             * skipped; missed slots being caught up and backfills queue. */
            if (strcmp(kind, "scheduled") != 0 || started_before_slot == 0)
                return 0;
            r = slots_q(c, "skipping a slot",
                        "UPDATE purser_runs SET state = 'skipped', started_at = now(), "
                        "finished_at = now(), message = 'skipped: another run of the job was "
                        "running (overlap: skip)' WHERE id = $2::bigint AND job = $1",
                        2, v2);
            PQclear(r);
            return r ? 2 : -1;
        case OVERLAP_QUEUE:
            return 0;
        case OVERLAP_ALLOW:
            if (running >= job->overlap_max)
                return 0;
            break;
        case OVERLAP_REPLACE:
            r = slots_q(c, "replacing a running run",
                        "WITH c AS (UPDATE purser_runs SET cancel_requested = true WHERE job = $1 "
                        "AND state = 'running' AND id <> $2::bigint RETURNING id) "
                        "SELECT pg_notify('purser_cancel', id::text) FROM c",
                        2, v2);
            PQclear(r);
            if (!r)
                return -1;
            break;
        }
    }
    for (size_t k = 0; k < job->n_after; k++) {
        const char *v3[2] = {job->after[k], date};
        r = slots_q(c, "checking after:",
                    "SELECT 1 FROM purser_runs WHERE job = $1 AND business_date = $2::date AND "
                    "state = 'succeeded' LIMIT 1",
                    2, v3);
        if (!r)
            return -1;
        int ok = PQntuples(r) > 0;
        PQclear(r);
        if (!ok)
            return 0;
    }
    return 1;
}

int slots_claim(PGconn *c, const job_set *jobs, const char *owner, int lease_s,
                const char *only_job, int64_t from, int64_t to, slot_run *out)
{
    memset(out, 0, sizeof *out);
    if (slots_simple(c, "BEGIN") != 0)
        return -1;
    char f[24], t[24];
    snprintf(f, sizeof f, "%lld", (long long)from);
    snprintf(t, sizeof t, "%lld", (long long)to);
    const char *v[3] = {only_job, only_job ? f : NULL, only_job ? t : NULL};
    PGresult *cand = slots_q(
        c, "finding due runs",
        "SELECT id, job, kind, business_date::text FROM purser_runs r WHERE state = 'pending' "
        "AND not_before <= now() AND ($1::text IS NULL OR job = $1) "
        "AND ($2::bigint IS NULL OR slot >= to_timestamp($2::bigint)) "
        "AND ($3::bigint IS NULL OR slot <= to_timestamp($3::bigint)) "
        "AND NOT EXISTS (SELECT 1 FROM purser_jobs p WHERE p.job = r.job AND p.paused) "
        "ORDER BY not_before, id LIMIT 32 FOR UPDATE SKIP LOCKED",
        3, v);
    int found = cand ? 0 : -1;
    for (int i = 0; cand && found == 0 && i < PQntuples(cand); i++) {
        const char *id = PQgetvalue(cand, i, 0), *name = PQgetvalue(cand, i, 1);
        const job_def *job = jobs_find(jobs, name);
        if (!job) {
            const char *v1[1] = {id};
            PQclear(slots_q(c, "failing an orphan run",
                            "UPDATE purser_runs SET state = 'failed', started_at = "
                            "coalesce(started_at, now()), finished_at = now(), message = 'the "
                            "job is no longer defined' WHERE id = $1::bigint",
                            1, v1));
            continue;
        }
        int ok = slots_allowed(c, job, id, PQgetvalue(cand, i, 2), PQgetvalue(cand, i, 3));
        if (ok < 0) {
            found = -1;
            break;
        }
        if (ok != 1)
            continue;
        char lease[16];
        snprintf(lease, sizeof lease, "%d", lease_s);
        const char *v2[3] = {id, owner, lease};
        PGresult *r = slots_q(c, "claiming a run",
                              "UPDATE purser_runs SET state = 'running', lease_owner = $2, "
                              "lease_until = now() + make_interval(secs => $3::int), "
                              "heartbeat_at = now(), started_at = now(), finished_at = NULL, "
                              "cancel_requested = false WHERE id = $1::bigint AND state = "
                              "'pending' RETURNING " SLOTS_COLUMNS,
                              3, v2);
        if (!r) {
            found = -1;
        } else if (PQntuples(r) == 1) {
            slots_fill(r, 0, out);
            found = 1;
        }
        PQclear(r);
    }
    PQclear(cand);
    if (slots_simple(c, found < 0 ? "ROLLBACK" : "COMMIT") != 0)
        found = -1;
    if (found < 0 && out->params_json)
        slot_run_free(out);
    return found;
}

int slots_start_manual(PGconn *c, const job_def *job, const char *owner, int lease_s,
                       const slot_times *t, const char *params_json, bool dry_run, slot_run *out)
{
    char slot[24], is[24], ie[24], lease[16];
    snprintf(slot, sizeof slot, "%lld", (long long)t->slot);
    snprintf(is, sizeof is, "%lld", (long long)t->interval_start);
    snprintf(ie, sizeof ie, "%lld", (long long)t->interval_end);
    snprintf(lease, sizeof lease, "%d", lease_s);
    const char *v[11] = {job->name, job->plugin,   slot,        t->business_date,           is,
                         ie,        job->timezone, params_json, dry_run ? "true" : "false", owner,
                         lease};
    PGresult *r = slots_q(
        c, "recording the run (run `purser migrate`?)",
        "INSERT INTO purser_runs (job, plugin, slot, business_date, kind, state, interval_start, "
        "interval_end, timezone, params, dry_run, lease_owner, lease_until, heartbeat_at, "
        "started_at) VALUES ($1, $2, to_timestamp($3::bigint), $4::date, 'manual', 'running', "
        "to_timestamp($5::bigint), to_timestamp($6::bigint), $7, $8::jsonb, $9::boolean, $10, "
        "now() + make_interval(secs => $11::int), now(), now()) RETURNING " SLOTS_COLUMNS,
        11, v);
    if (!r)
        return -1;
    slots_fill(r, 0, out);
    PQclear(r);
    return 0;
}

int slots_heartbeat(PGconn *c, const slot_run *r, const char *owner, int lease_s, bool *cancel)
{
    char id[24], att[16], lease[16];
    snprintf(id, sizeof id, "%lld", (long long)r->id);
    snprintf(att, sizeof att, "%d", r->attempt);
    snprintf(lease, sizeof lease, "%d", lease_s);
    const char *v[4] = {id, att, owner, lease};
    PGresult *res = slots_q(c, "heartbeat",
                            "UPDATE purser_runs SET heartbeat_at = now(), lease_until = now() + "
                            "make_interval(secs => $4::int) WHERE id = $1::bigint AND state = "
                            "'running' AND attempt = $2::int AND lease_owner = $3 "
                            "RETURNING cancel_requested",
                            4, v);
    if (!res)
        return -1;
    int ours = PQntuples(res) == 1;
    *cancel = ours && PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);
    return ours;
}

int slots_finish(PGconn *c, const slot_run *r, const char *owner, const char *state,
                 const char *message, int64_t retry_in_ms)
{
    char id[24], att[16], retry[24];
    snprintf(id, sizeof id, "%lld", (long long)r->id);
    snprintf(att, sizeof att, "%d", r->attempt);
    snprintf(retry, sizeof retry, "%lld", (long long)retry_in_ms);
    bool again = retry_in_ms >= 0 && r->attempt < r->max_attempts;
    const char *v[6] = {id, att, owner, state, message, again ? retry : NULL};
    PGresult *res = slots_q(
        c, "recording the outcome",
        "UPDATE purser_runs SET "
        "state = CASE WHEN $6::bigint IS NULL THEN $4 ELSE 'pending' END, "
        "attempt = CASE WHEN $6::bigint IS NULL THEN attempt ELSE attempt + 1 END, "
        "not_before = CASE WHEN $6::bigint IS NULL THEN not_before "
        "  ELSE now() + make_interval(secs => $6::bigint / 1000.0) END, "
        "finished_at = CASE WHEN $6::bigint IS NULL THEN now() END, "
        "message = CASE WHEN $6::bigint IS NULL THEN $5 ELSE 'attempt ' || attempt || ' "
        "failed: ' || $5 || '; retrying in ' || ($6::bigint / 1000) || ' s' END, "
        "lease_owner = NULL, lease_until = NULL, worker_pid = NULL, cancel_requested = false "
        "WHERE id = $1::bigint AND state = 'running' AND attempt = $2::int AND lease_owner = $3",
        6, v);
    if (!res)
        return -1;
    int ours = atoi(PQcmdTuples(res)) == 1;
    PQclear(res);
    return ours;
}

int slots_release(PGconn *c, const slot_run *r, const char *owner, const char *message)
{
    char id[24], att[16];
    snprintf(id, sizeof id, "%lld", (long long)r->id);
    snprintf(att, sizeof att, "%d", r->attempt);
    const char *v[4] = {id, att, owner, message};
    /* attempt and max_attempts both grow: fencing stays monotonic and the
     * retry budget is untouched. */
    PGresult *res = slots_q(c, "handing a run back",
                            "UPDATE purser_runs SET state = 'pending', attempt = attempt + 1, "
                            "max_attempts = max_attempts + 1, not_before = now(), message = $4, "
                            "lease_owner = NULL, lease_until = NULL, worker_pid = NULL "
                            "WHERE id = $1::bigint AND state = 'running' AND attempt = $2::int "
                            "AND lease_owner = $3",
                            4, v);
    if (!res)
        return -1;
    int ours = atoi(PQcmdTuples(res)) == 1;
    PQclear(res);
    return ours;
}

int slots_rescue(PGconn *c)
{
    PGresult *r = slots_q(
        c, "rescuing expired leases",
        "UPDATE purser_runs SET "
        "state = CASE WHEN attempt < max_attempts THEN 'pending' ELSE 'failed' END, "
        "message = 'lease expired: worker ' || lease_owner || ' was lost' || CASE WHEN attempt < "
        "max_attempts THEN '; retrying' ELSE '' END, "
        "finished_at = CASE WHEN attempt < max_attempts THEN NULL ELSE now() END, "
        "attempt = CASE WHEN attempt < max_attempts THEN attempt + 1 ELSE attempt END, "
        "not_before = now(), lease_owner = NULL, lease_until = NULL, worker_pid = NULL "
        "WHERE state = 'running' AND lease_until < now() RETURNING id, job, state",
        0, NULL);
    if (!r)
        return -1;
    int n = PQntuples(r);
    for (int i = 0; i < n; i++)
        log_warn("run %s (%s): lease expired, worker lost; now %s", PQgetvalue(r, i, 0),
                 PQgetvalue(r, i, 1), PQgetvalue(r, i, 2));
    PQclear(r);
    return n;
}

int slots_prune(PGconn *c, int64_t keep_ms)
{
    char keep[24];
    snprintf(keep, sizeof keep, "%lld", (long long)(keep_ms / 1000));
    const char *v[1] = {keep};
    PGresult *r = slots_q(c, "pruning history",
                          "DELETE FROM purser_runs WHERE state IN ('succeeded', 'failed', "
                          "'cancelled', 'skipped') AND finished_at < now() - make_interval(secs "
                          "=> $1::bigint)",
                          1, v);
    if (!r)
        return -1;
    int n = atoi(PQcmdTuples(r));
    PQclear(r);
    return n;
}

void slots_log(PGconn *c, const slot_run *r, int seq, const char *level, const char *message)
{
    char id[24], sq[16], att[16];
    snprintf(id, sizeof id, "%lld", (long long)r->id);
    snprintf(sq, sizeof sq, "%d", seq);
    snprintf(att, sizeof att, "%d", r->attempt);
    const char *v[5] = {id, sq, att, level, message};
    PQclear(slots_q(c, "storing a log line",
                    "INSERT INTO purser_run_logs (run_id, seq, attempt, level, message) VALUES "
                    "($1::bigint, $2::int, $3::int, $4, $5) ON CONFLICT DO NOTHING",
                    5, v));
}

int64_t slots_backoff_ms(const job_def *job, int attempt, uint64_t seed)
{
    int64_t d = job->backoff_ms;
    for (int i = 1; i < attempt && d < job->max_backoff_ms; i++)
        d *= 2;
    if (d > job->max_backoff_ms)
        d = job->max_backoff_ms;
    /* splitmix64 of the seed: jitter in [50%, 100%] */
    uint64_t z = seed + 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return d / 2 + (int64_t)(z % (uint64_t)(d / 2 + 1));
}
