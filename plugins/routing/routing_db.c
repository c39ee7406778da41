/* routing_db.c: the routing plugin and the store. Reads the business
 * date's pending deliveries (and those of its unstarted routes, which are
 * planned again), the depots and the active agents; writes the plan —
 * routes, stops, assignments with their delivery events, unassigned
 * deliveries with the reason — in one transaction. */
#include <libpq-fe.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "routing.h"

/* A route is started once one of its deliveries is out of the depot. */
#define ROUTING_STARTED                                                                            \
    "EXISTS (SELECT 1 FROM route_stops s2 JOIN deliveries d2 ON d2.id = s2.delivery_id "           \
    "WHERE s2.route_id = r.id AND d2.status IN ('picked_up', 'delivered', 'failed'))"

/* The date's local day, as instants. $1 date, $2 zone. */
#define ROUTING_DAY                                                                                \
    "WITH day AS (SELECT $1::date::timestamp AT TIME ZONE $2 AS s, "                               \
    "($1::date + 1)::timestamp AT TIME ZONE $2 AS e) "

typedef struct routing_q {
    const routing_state *st;
    purser_ctx *ctx;
    PGconn *db;
} routing_q;

/* Runs a parameterised statement; NULL (logged, cleared) unless it ends
 * with `want`. The caller PQclears a non-NULL result. */
static PGresult *routing_exec(routing_q *q, const char *step, const char *sql, int n,
                              const char *const *params, ExecStatusType want)
{
    PGresult *r = PQexecParams(q->db, sql, n, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != want) {
        q->st->host->log(q->ctx, PURSER_LOG_ERROR, "%s: %s", step, PQresultErrorMessage(r));
        PQclear(r);
        return NULL;
    }
    return r;
}

static int routing_cmd(routing_q *q, const char *step, const char *sql, int n,
                       const char *const *params)
{
    PGresult *r = routing_exec(q, step, sql, n, params, PGRES_COMMAND_OK);
    PQclear(r);
    return r ? 0 : -1;
}

static double routing_num(const PGresult *r, int row, int col)
{
    return strtod(PQgetvalue(r, row, col), NULL);
}

static char *routing_dup(const PGresult *r, int row, int col)
{
    return strdup(PQgetvalue(r, row, col));
}

static routing_depot *routing_depot_of(routing_plan *plan, int64_t id)
{
    for (int i = 0; i < plan->n_depots; i++)
        if (plan->depots[i].id == id)
            return &plan->depots[i];
    return NULL;
}

/* Grows an array of elements of size sz to hold one more; -1 when out of memory. */
static int routing_grow(void **arr, int n, int *cap, size_t sz)
{
    if (n < *cap)
        return 0;
    int nc = *cap ? *cap * 2 : 16;
    void *p = realloc(*arr, (size_t)nc * sz);
    if (!p)
        return -1;
    *arr = p;
    *cap = nc;
    return 0;
}

static int routing_load_day(routing_q *q, const char *const *p, routing_plan *plan)
{
    PGresult *r = routing_exec(
        q, "reading the local day",
        ROUTING_DAY "SELECT extract(epoch FROM day.s), "
                    "extract(epoch FROM day.s) - extract(epoch FROM $1::date::timestamp) + "
                    "extract(epoch FROM ($1::date + time '12:00') - "
                    "(($1::date + time '12:00') AT TIME ZONE $2 AT TIME ZONE 'UTC')), "
                    "extract(epoch FROM ($1::date + time '12:00') - "
                    "(($1::date + time '12:00') AT TIME ZONE $2 AT TIME ZONE 'UTC')) FROM day",
        2, p, PGRES_TUPLES_OK);
    if (!r)
        return -1;
    plan->day_start = routing_num(r, 0, 0);
    plan->clock_shift = routing_num(r, 0, 1);
    plan->utc_offset = (int)lround(routing_num(r, 0, 2));
    PQclear(r);
    return 0;
}

static int routing_load_depots(routing_q *q, routing_plan *plan)
{
    PGresult *r = routing_exec(q, "reading depots",
                               "SELECT id, code, name, latitude, longitude FROM depots ORDER BY id",
                               0, NULL, PGRES_TUPLES_OK);
    if (!r)
        return -1;
    int n = PQntuples(r);
    plan->depots = calloc((size_t)(n ? n : 1), sizeof *plan->depots);
    if (!plan->depots) {
        PQclear(r);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        routing_depot *d = &plan->depots[i];
        plan->n_depots++;
        d->id = strtoll(PQgetvalue(r, i, 0), NULL, 10);
        d->code = routing_dup(r, i, 1);
        d->name = routing_dup(r, i, 2);
        d->lat = routing_num(r, i, 3);
        d->lon = routing_num(r, i, 4);
        if (!d->code || !d->name) {
            PQclear(r);
            return -1;
        }
    }
    PQclear(r);
    return 0;
}

/* Active agents, except those whose route of the date has started. */
static int routing_load_agents(routing_q *q, const char *const *p, routing_plan *plan)
{
    PGresult *r =
        routing_exec(q, "reading delivery_agents",
                     ROUTING_DAY "SELECT a.id, a.home_depot_id, a.name, "
                                 "extract(epoch FROM ($1::date + a.shift_start) AT TIME ZONE $2) - "
                                 "extract(epoch FROM day.s), "
                                 "extract(epoch FROM ($1::date + a.shift_end) AT TIME ZONE $2) - "
                                 "extract(epoch FROM day.s), a.vehicle_capacity_grams "
                                 "FROM delivery_agents a, day WHERE a.active AND NOT EXISTS "
                                 "(SELECT 1 FROM routes r WHERE r.business_date = $1::date "
                                 "AND r.agent_id = a.id AND " ROUTING_STARTED ") ORDER BY a.id",
                     2, p, PGRES_TUPLES_OK);
    if (!r)
        return -1;
    for (int i = 0; i < PQntuples(r); i++) {
        routing_depot *d = routing_depot_of(plan, strtoll(PQgetvalue(r, i, 1), NULL, 10));
        if (!d)
            continue;
        if (routing_grow((void **)&d->agents, d->n_agents, &d->cap_agents, sizeof *d->agents)) {
            PQclear(r);
            return -1;
        }
        routing_agent *a = &d->agents[d->n_agents++];
        a->id = strtoll(PQgetvalue(r, i, 0), NULL, 10);
        a->name = routing_dup(r, i, 2);
        a->shift_start = routing_num(r, i, 3);
        a->shift_end = routing_num(r, i, 4);
        a->capacity = strtol(PQgetvalue(r, i, 5), NULL, 10);
        if (!a->name) {
            PQclear(r);
            return -1;
        }
    }
    PQclear(r);
    return 0;
}

/* Pending deliveries whose window starts on the local date, plus the
 * assigned ones of the date's unstarted routes (planned again). */
static int routing_load_deliveries(routing_q *q, const char *const *p, routing_plan *plan)
{
    PGresult *r = routing_exec(
        q, "reading deliveries",
        ROUTING_DAY "SELECT d.id, d.depot_id, d.address, d.latitude, d.longitude, "
                    "extract(epoch FROM d.window_start - day.s), "
                    "extract(epoch FROM d.window_end - day.s), d.weight_grams, "
                    "d.service_minutes * 60 FROM deliveries d, day "
                    "WHERE d.window_start >= day.s AND d.window_start < day.e "
                    "AND (d.status = 'pending' OR (d.status = 'assigned' AND d.id IN "
                    "(SELECT s.delivery_id FROM route_stops s JOIN routes r ON r.id = s.route_id "
                    "WHERE r.business_date = $1::date AND NOT " ROUTING_STARTED "))) "
                    "ORDER BY d.id",
        2, p, PGRES_TUPLES_OK);
    if (!r)
        return -1;
    for (int i = 0; i < PQntuples(r); i++) {
        routing_depot *d = routing_depot_of(plan, strtoll(PQgetvalue(r, i, 1), NULL, 10));
        if (!d)
            continue;
        if (routing_grow((void **)&d->dlv, d->n_dlv, &d->cap_dlv, sizeof *d->dlv)) {
            PQclear(r);
            return -1;
        }
        routing_delivery *x = &d->dlv[d->n_dlv++];
        memset(x, 0, sizeof *x);
        x->agent = -1;
        x->id = strtoll(PQgetvalue(r, i, 0), NULL, 10);
        x->address = routing_dup(r, i, 2);
        x->lat = routing_num(r, i, 3);
        x->lon = routing_num(r, i, 4);
        x->win_start = routing_num(r, i, 5);
        x->win_end = routing_num(r, i, 6);
        x->weight = strtol(PQgetvalue(r, i, 7), NULL, 10);
        x->service = routing_num(r, i, 8);
        if (!x->address) {
            PQclear(r);
            return -1;
        }
    }
    PQclear(r);
    return 0;
}

purser_status routing_db_load(const routing_state *st, purser_ctx *ctx, const purser_run_info *run,
                              routing_plan *plan)
{
    routing_q q = {st, ctx, st->host->db(ctx)};
    if (!q.db)
        return PURSER_RETRY;
    const char *p[2] = {plan->date, run->timezone && *run->timezone ? run->timezone : "UTC"};
    if (routing_load_day(&q, p, plan) || routing_load_depots(&q, plan) ||
        routing_load_agents(&q, p, plan) || routing_load_deliveries(&q, p, plan))
        return PURSER_ERROR;
    int n = 0;
    for (int i = 0; i < plan->n_depots; i++)
        n += plan->depots[i].n_dlv;
    st->host->log(ctx, PURSER_LOG_INFO, "%s (%s): %d deliveries to plan over %d depots", plan->date,
                  p[1], n, plan->n_depots);
    return PURSER_OK;
}

/* ---- writing --------------------------------------------------------- */

typedef struct routing_buf {
    char *s;
    size_t len, cap;
    int oom;
} routing_buf;

static void routing_add(routing_buf *b, const char *fmt, ...) PURSER_PRINTF(2, 3);
static void routing_add(routing_buf *b, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = b->oom ? -1 : vsnprintf(b->s ? b->s + b->len : NULL, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->oom = 1;
            return;
        }
        if (b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return;
        }
        size_t nc = (b->cap + (size_t)n + 1) * 2;
        char *p = realloc(b->s, nc);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->s = p;
        b->cap = nc;
    }
}

/* COPY text: a text field with backslash, tab and newlines escaped. */
static void routing_add_text(routing_buf *b, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\')
            routing_add(b, "\\\\");
        else if (*s == '\t')
            routing_add(b, "\\t");
        else if (*s == '\n')
            routing_add(b, "\\n");
        else if (*s == '\r')
            routing_add(b, "\\r");
        else
            routing_add(b, "%c", *s);
    }
}

/* An instant (seconds from the day start) as a UTC timestamptz literal. */
static void routing_add_time(routing_buf *b, const routing_plan *plan, double t)
{
    double abs_t = plan->day_start + t;
    time_t whole = (time_t)floor(abs_t);
    long us = lround((abs_t - (double)whole) * 1e6);
    if (us >= 1000000) {
        whole++;
        us -= 1000000;
    }
    struct tm tm;
    gmtime_r(&whole, &tm);
    char buf[40];
    strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
    routing_add(b, "%s.%06ld+00", buf, us);
}

static int routing_copy(routing_q *q, const char *table, const routing_buf *b)
{
    char sql[128];
    snprintf(sql, sizeof sql, "COPY %s FROM STDIN", table);
    PGresult *r = routing_exec(q, table, sql, 0, NULL, PGRES_COPY_IN);
    if (!r)
        return -1;
    PQclear(r);
    int ok = (b->len == 0 || PQputCopyData(q->db, b->s, (int)b->len) == 1) &&
             PQputCopyEnd(q->db, NULL) == 1;
    r = PQgetResult(q->db);
    if (!ok || PQresultStatus(r) != PGRES_COMMAND_OK) {
        q->st->host->log(q->ctx, PURSER_LOG_ERROR, "COPY %s: %s", table,
                         ok ? PQresultErrorMessage(r) : PQerrorMessage(q->db));
        ok = 0;
    }
    PQclear(r);
    while ((r = PQgetResult(q->db)) != NULL)
        PQclear(r);
    return ok ? 0 : -1;
}

/* The three staging tables' rows, in COPY text format. */
static int routing_stage(routing_q *q, const routing_plan *plan)
{
    routing_buf rb = {0}, sb = {0}, ub = {0};
    for (int i = 0; i < plan->n_depots; i++) {
        const routing_depot *d = &plan->depots[i];
        for (int k = 0; k < d->n_routes; k++) {
            const routing_route *rt = &d->routes[k];
            const routing_agent *a = &d->agents[rt->agent];
            routing_add(&rb, "%lld\t%lld\t%d\t%.0f\t%.0f\t%ld\t%ld\t", (long long)d->id,
                        (long long)a->id, rt->n_stops, round(rt->distance),
                        round(rt->end - rt->start), rt->load, a->capacity);
            routing_add_time(&rb, plan, rt->start);
            routing_add(&rb, "\t");
            routing_add_time(&rb, plan, rt->end);
            routing_add(&rb, "\n");
            for (int s = 0; s < rt->n_stops; s++) {
                const routing_delivery *x = &d->dlv[rt->stops[s]];
                routing_add(&sb, "%lld\t%d\t%lld\t", (long long)a->id, s + 1, (long long)x->id);
                routing_add_time(&sb, plan, x->arrival);
                routing_add(&sb, "\t");
                routing_add_time(&sb, plan, x->departure);
                routing_add(&sb, "\n");
            }
        }
        for (int k = 0; k < d->n_dlv; k++)
            if (d->dlv[k].reason) {
                routing_add(&ub, "%lld\t%lld\t", (long long)d->dlv[k].id, (long long)d->id);
                routing_add_text(&ub, d->dlv[k].reason);
                routing_add(&ub, "\n");
            }
    }
    int rc = -1;
    if (rb.oom || sb.oom || ub.oom)
        q->st->host->log(q->ctx, PURSER_LOG_ERROR, "out of memory staging the plan");
    else if (routing_copy(q, "routing_new_routes", &rb) == 0 &&
             routing_copy(q, "routing_new_stops", &sb) == 0 &&
             routing_copy(q, "routing_new_unassigned", &ub) == 0)
        rc = 0;
    free(rb.s);
    free(sb.s);
    free(ub.s);
    return rc;
}

/* Assigns the planned deliveries (an event for each whose status or agent
 * changes); returns how many were updated, -1 on error. */
static long routing_assign(routing_q *q, const char *const *p)
{
    PGresult *r = routing_exec(
        q, "assigning deliveries",
        "WITH old AS (SELECT d.id, d.status, d.agent_id FROM deliveries d "
        "JOIN routing_new_stops n ON n.delivery_id = d.id), "
        "upd AS (UPDATE deliveries d SET status = 'assigned', agent_id = n.agent_id "
        "FROM routing_new_stops n WHERE d.id = n.delivery_id AND d.status IN ('pending', "
        "'assigned') RETURNING d.id, d.agent_id), "
        "ev AS (INSERT INTO delivery_events (delivery_id, seq, status, at, agent_id, note) "
        "SELECT u.id, (SELECT coalesce(max(e.seq), 0) + 1 FROM delivery_events e "
        "WHERE e.delivery_id = u.id), 'assigned', now(), u.agent_id, 'routing ' || $1 "
        "FROM upd u JOIN old o ON o.id = u.id "
        "WHERE o.status <> 'assigned' OR o.agent_id IS DISTINCT FROM u.agent_id) "
        "SELECT count(*) FROM upd",
        1, p, PGRES_TUPLES_OK);
    if (!r)
        return -1;
    long n = strtol(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return n;
}

/* One step of the write: what (for messages), SQL, parameters used. */
typedef struct routing_step {
    const char *what, *sql;
    int n_params;
} routing_step;

static const routing_step routing_write_sql[] = {
    {"locking the date",
     "SELECT pg_advisory_xact_lock(hashtext('purser.routing'), "
     "$1::date - date '2000-01-01')",
     1},
    {"remembering the unstarted routes",
     "CREATE TEMP TABLE routing_old ON COMMIT DROP AS SELECT s.delivery_id FROM route_stops s "
     "JOIN routes r ON r.id = s.route_id WHERE r.business_date = $1::date AND NOT " ROUTING_STARTED,
     1},
    {"deleting the unstarted routes",
     "DELETE FROM routes r WHERE r.business_date = $1::date AND NOT " ROUTING_STARTED, 1},
    {"inserting routes",
     "INSERT INTO routes (business_date, depot_id, agent_id, run_id, stops, distance_m, "
     "duration_s, load_grams, capacity_grams, start_at, end_at) SELECT $1::date, depot_id, "
     "agent_id, nullif($2::bigint, 0), stops, distance_m, duration_s, load_grams, "
     "capacity_grams, start_at, end_at FROM routing_new_routes",
     2},
    {"inserting route stops",
     "INSERT INTO route_stops (route_id, seq, delivery_id, planned_arrival, planned_departure) "
     "SELECT r.id, n.seq, n.delivery_id, n.planned_arrival, n.planned_departure "
     "FROM routing_new_stops n JOIN routes r ON r.business_date = $1::date "
     "AND r.agent_id = n.agent_id",
     1},
};

static const routing_step routing_finish_sql[] = {
    {"releasing deliveries left out on re-plan",
     "WITH rel AS (UPDATE deliveries d SET status = 'pending', agent_id = NULL FROM routing_old o "
     "WHERE d.id = o.delivery_id AND d.status = 'assigned' AND NOT EXISTS "
     "(SELECT 1 FROM routing_new_stops n WHERE n.delivery_id = d.id) RETURNING d.id) "
     "INSERT INTO delivery_events (delivery_id, seq, status, at, agent_id, note) "
     "SELECT rel.id, (SELECT coalesce(max(e.seq), 0) + 1 FROM delivery_events e "
     "WHERE e.delivery_id = rel.id), 'pending', now(), NULL, "
     "'routing ' || $1 || ': left out on re-plan' FROM rel",
     1},
    {"replacing unassigned deliveries",
     "DELETE FROM route_unassigned WHERE business_date = $1::date", 1},
    {"recording unassigned deliveries",
     "INSERT INTO route_unassigned (business_date, delivery_id, depot_id, reason) "
     "SELECT $1::date, delivery_id, depot_id, reason FROM routing_new_unassigned",
     1},
};

static purser_status routing_write_tx(routing_q *q, const purser_run_info *run,
                                      const routing_plan *plan, long stops)
{
    char run_id[32];
    snprintf(run_id, sizeof run_id, "%lld", (long long)run->run_id);
    const char *p[2] = {plan->date, run_id};
    if (routing_cmd(q, "BEGIN", "BEGIN", 0, NULL) ||
        routing_cmd(q, "staging routes",
                    "CREATE TEMP TABLE routing_new_routes (depot_id bigint, agent_id bigint, "
                    "stops integer, distance_m bigint, duration_s integer, load_grams bigint, "
                    "capacity_grams bigint, start_at timestamptz, end_at timestamptz) "
                    "ON COMMIT DROP",
                    0, NULL) ||
        routing_cmd(q, "staging stops",
                    "CREATE TEMP TABLE routing_new_stops (agent_id bigint, seq integer, "
                    "delivery_id bigint, planned_arrival timestamptz, "
                    "planned_departure timestamptz) ON COMMIT DROP",
                    0, NULL) ||
        routing_cmd(q, "staging unassigned",
                    "CREATE TEMP TABLE routing_new_unassigned (delivery_id bigint, "
                    "depot_id bigint, reason text) ON COMMIT DROP",
                    0, NULL) ||
        routing_stage(q, plan))
        return PURSER_ERROR;
    size_t nw = sizeof routing_write_sql / sizeof routing_write_sql[0];
    for (size_t i = 0; i < nw; i++) {
        const routing_step *w = &routing_write_sql[i];
        PGresult *r = PQexecParams(q->db, w->sql, w->n_params, NULL, p, NULL, NULL, 0);
        ExecStatusType es = PQresultStatus(r);
        if (es != PGRES_COMMAND_OK && es != PGRES_TUPLES_OK) {
            q->st->host->log(q->ctx, PURSER_LOG_ERROR, "%s: %s", w->what, PQresultErrorMessage(r));
            PQclear(r);
            return PURSER_ERROR;
        }
        PQclear(r);
    }
    long assigned = routing_assign(q, p);
    if (assigned < 0)
        return PURSER_ERROR;
    if (assigned != stops) {
        q->st->host->log(q->ctx, PURSER_LOG_WARN,
                         "%ld of %ld planned deliveries changed status while planning; "
                         "nothing written, the run will be retried",
                         stops - assigned, stops);
        return PURSER_RETRY;
    }
    for (size_t i = 0; i < sizeof routing_finish_sql / sizeof routing_finish_sql[0]; i++)
        if (routing_cmd(q, routing_finish_sql[i].what, routing_finish_sql[i].sql,
                        routing_finish_sql[i].n_params, p))
            return PURSER_ERROR;
    return routing_cmd(q, "COMMIT", "COMMIT", 0, NULL) ? PURSER_RETRY : PURSER_OK;
}

purser_status routing_db_write(const routing_state *st, purser_ctx *ctx, const purser_run_info *run,
                               const routing_plan *plan)
{
    routing_q q = {st, ctx, st->host->db(ctx)};
    if (!q.db)
        return PURSER_RETRY;
    long stops = 0, routes = 0;
    for (int i = 0; i < plan->n_depots; i++)
        for (int k = 0; k < plan->depots[i].n_routes; k++) {
            stops += plan->depots[i].routes[k].n_stops;
            routes++;
        }
    purser_status s = routing_write_tx(&q, run, plan, stops);
    if (s != PURSER_OK) {
        PGresult *r = PQexec(q.db, "ROLLBACK");
        PQclear(r);
        return s;
    }
    st->host->log(ctx, PURSER_LOG_INFO, "%s: wrote %ld routes with %ld stops", plan->date, routes,
                  stops);
    return PURSER_OK;
}
