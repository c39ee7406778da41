/* routing.c: the routing plugin — each night, the business date's pending
 * deliveries become one route per delivery agent and depot (the solver in
 * vrp*.c), written to the store in one transaction, with a manifest
 * workbook and a GeoJSON per date; and `purser route-solve`, which runs
 * the solver on a literature instance. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "routing.h"

/* Built by the Makefile from the migrations folder. */
extern const purser_migration routing_migrations[];

/* Settings under `plugins.routing:` in purser.yaml. */
static const purser_config_key routing_config[] = {
    {"road_factor", PURSER_CFG_STRING, "1.3", 0,
     "road distance = great-circle distance x this (1.0 .. 5.0)"},
    {"speed_kmh", PURSER_CFG_INT, "25", 0, "average driving speed in km/h (1 .. 200)"},
    {"time_limit", PURSER_CFG_DURATION, "30s", 0,
     "solver time for a whole run, shared by the depots by their deliveries"},
    {"seed", PURSER_CFG_INT, "1", 0, "random seed of the solver"},
    {"osrm_url", PURSER_CFG_STRING, NULL, 0,
     "OSRM server (http://host:5000): travel times and distances from its table service; "
     "unset or unreachable: great-circle distance x road_factor at speed_kmh"},
    {"osrm_timeout", PURSER_CFG_DURATION, "10s", 0, "time allowed for one OSRM table request"},
    {0},
};

/* Parameters of a job that runs this plugin (`params:` or --param). */
static const purser_config_key routing_params[] = {
    {"time_limit", PURSER_CFG_DURATION, NULL, 0, "overrides plugins.routing.time_limit"},
    {"seed", PURSER_CFG_INT, NULL, 0, "overrides plugins.routing.seed"},
    {"days_ahead", PURSER_CFG_INT, "0", 0,
     "plan the business date + this many days (0 .. 7): a slot's business date is the "
     "local date its data interval starts"},
    {"max_iterations", PURSER_CFG_INT, "0", 0,
     "stop each depot's search after this many iterations (0: time only); "
     "makes a run reproducible whatever the machine's speed"},
    {0},
};

static purser_status routing_init(const purser_host *host, purser_ctx *ctx, void **state)
{
    routing_state *st = calloc(1, sizeof *st);
    if (!st)
        return PURSER_ERROR;
    *state = st;
    st->host = host;
    const char *rf = host->config_string(ctx, "road_factor");
    char *end = NULL;
    errno = 0;
    st->road_factor = rf ? strtod(rf, &end) : 1.3;
    if (rf && (end == rf || *end || errno || !(st->road_factor >= 1.0 && st->road_factor <= 5.0))) {
        host->log(ctx, PURSER_LOG_ERROR,
                  "plugins.routing.road_factor: '%s' is not a number from 1.0 to 5.0", rf);
        return PURSER_ERROR;
    }
    int64_t kmh = 25;
    host->config_int(ctx, "speed_kmh", &kmh);
    if (kmh < 1 || kmh > 200) {
        host->log(ctx, PURSER_LOG_ERROR, "plugins.routing.speed_kmh: %lld is outside 1 .. 200 km/h",
                  (long long)kmh);
        return PURSER_ERROR;
    }
    st->speed_mps = (double)kmh / 3.6;
    st->time_limit_ms = 30000;
    host->config_duration_ms(ctx, "time_limit", &st->time_limit_ms);
    st->seed = 1;
    host->config_int(ctx, "seed", &st->seed);
    const char *osrm = host->config_string(ctx, "osrm_url");
    st->osrm_url = osrm && *osrm ? strdup(osrm) : NULL;
    st->osrm_timeout_ms = 10000;
    host->config_duration_ms(ctx, "osrm_timeout", &st->osrm_timeout_ms);
    return PURSER_OK;
}

static void routing_fini(void *state)
{
    routing_state *st = state;
    if (st)
        free(st->osrm_url);
    free(state);
}

/* The clock time (local) of t seconds after the day start. */
void routing_clock(const routing_plan *plan, double t, char *buf)
{
    long s = lround(t + plan->clock_shift);
    if (s < 0)
        s = 0;
    snprintf(buf, 8, "%02ld:%02ld", (s / 3600) % 100, (s / 60) % 60);
}

static int routing_simulate(const vrp_instance *in, const vrp_route *r, double depart, double *arr,
                            double *back)
{
    const vrp_vehicle_type *vt = &in->types[r->type];
    double t = depart;
    int prev = 0, n = in->n_nodes;
    for (int i = 0; i < r->n_stops; i++) {
        int u = r->stops[i];
        const vrp_node *nd = &in->nodes[u];
        t += in->time[(size_t)prev * (size_t)n + (size_t)u];
        if (t < nd->ready)
            t = nd->ready;
        if (t > nd->due + 1e-6)
            return -1;
        if (arr)
            arr[i] = t;
        t += nd->service;
        prev = u;
    }
    t += in->time[(size_t)prev * (size_t)n];
    if (t > vt->shift_end + 1e-6)
        return -1;
    *back = t;
    return 0;
}

/* Times of a route leaving as late as its windows allow (least waiting). */
static int routing_time_route(const vrp_instance *in, const vrp_route *r, double *arr,
                              double *start, double *back)
{
    double lo = in->types[r->type].shift_start, hi = in->types[r->type].shift_end, b;
    if (routing_simulate(in, r, lo, NULL, &b))
        return -1;
    for (int it = 0; it < 60 && hi - lo > 0.5; it++) {
        double mid = floor((lo + hi) / 2);
        if (routing_simulate(in, r, mid, NULL, &b) == 0)
            lo = mid;
        else
            hi = mid;
    }
    *start = lo;
    return routing_simulate(in, r, lo, arr, back);
}

static vrp_instance *routing_instance(const routing_state *st, purser_ctx *ctx,
                                      const routing_depot *dep)
{
    vrp_instance *in = vrp_instance_new(1 + dep->n_dlv, dep->n_agents);
    if (!in)
        return NULL;
    snprintf(in->name, sizeof in->name, "depot %s", dep->code);
    in->nodes[0].x = dep->lon;
    in->nodes[0].y = dep->lat;
    for (int i = 0; i < dep->n_dlv; i++) {
        const routing_delivery *d = &dep->dlv[i];
        vrp_node *nd = &in->nodes[i + 1];
        nd->ext_id = d->id;
        nd->x = d->lon;
        nd->y = d->lat;
        nd->demand = d->weight;
        nd->ready = d->win_start;
        nd->due = d->win_end - d->service; /* the delivery ends within its window */
        nd->service = d->service;
    }
    for (int a = 0; a < dep->n_agents; a++) {
        in->types[a].cap_weight = dep->agents[a].capacity;
        in->types[a].shift_start = dep->agents[a].shift_start;
        in->types[a].shift_end = dep->agents[a].shift_end;
        in->types[a].count = 1;
    }
    if (vrp_instance_haversine(in, st->road_factor, st->speed_mps)) {
        vrp_instance_free(in);
        return NULL;
    }
    char why[256];
    if (st->osrm_url &&
        routing_osrm_table(st->osrm_url, (long)st->osrm_timeout_ms, in, why, sizeof why) != 0)
        st->host->log(ctx, PURSER_LOG_WARN,
                      "plugins.routing.osrm_url %s did not answer for depot %s (%s); using "
                      "great-circle distance x %.2f at %.0f km/h instead",
                      st->osrm_url, dep->code, why, st->road_factor, st->speed_mps * 3.6);
    else if (st->osrm_url)
        st->host->log(ctx, PURSER_LOG_INFO, "depot %s: %d x %d travel table from OSRM", dep->code,
                      in->n_nodes, in->n_nodes);
    return in;
}

/* Copies the solver's answer into the depot: routes with their times,
 * each delivery's agent, position and times, or its reason. */
static int routing_adopt(routing_depot *dep, const vrp_instance *in, const vrp_solution *sol)
{
    dep->routes = calloc((size_t)(sol->n_routes ? sol->n_routes : 1), sizeof *dep->routes);
    double *arr = malloc((size_t)in->n_nodes * sizeof *arr);
    if (!dep->routes || !arr) {
        free(arr);
        return -1;
    }
    for (int i = 0; i < sol->n_unassigned; i++) {
        dep->dlv[sol->unassigned[i] - 1].reason = vrp_reason_str(sol->reasons[i]);
        dep->n_unassigned++;
    }
    for (int k = 0; k < sol->n_routes; k++) {
        const vrp_route *vr = &sol->routes[k];
        if (vr->n_stops == 0)
            continue;
        routing_route *rr = &dep->routes[dep->n_routes];
        if (!(rr->stops = malloc((size_t)vr->n_stops * sizeof *rr->stops)) ||
            routing_time_route(in, vr, arr, &rr->start, &rr->end)) {
            free(arr);
            return -1;
        }
        dep->n_routes++;
        rr->agent = vr->type;
        rr->n_stops = vr->n_stops;
        int prev = 0;
        for (int i = 0; i < vr->n_stops; i++) {
            int u = vr->stops[i];
            routing_delivery *d = &dep->dlv[u - 1];
            rr->stops[i] = u - 1;
            rr->load += d->weight;
            rr->distance += in->dist[(size_t)prev * (size_t)in->n_nodes + (size_t)u];
            d->agent = vr->type;
            d->seq = i + 1;
            d->arrival = arr[i];
            d->departure = arr[i] + d->service;
            prev = u;
        }
        rr->distance += in->dist[(size_t)prev * (size_t)in->n_nodes];
    }
    free(arr);
    return 0;
}

static purser_status routing_solve_depot(const routing_state *st, purser_ctx *ctx,
                                         routing_depot *dep, const vrp_params *prm)
{
    const purser_host *h = st->host;
    if (dep->n_dlv == 0)
        return PURSER_OK;
    if (dep->n_agents == 0) {
        for (int i = 0; i < dep->n_dlv; i++)
            dep->dlv[i].reason = "no active agent at the depot";
        dep->n_unassigned = dep->n_dlv;
        h->log(ctx, PURSER_LOG_WARN, "depot %s: %d deliveries but no active agent", dep->code,
               dep->n_dlv);
        return PURSER_OK;
    }
    char err[512];
    vrp_instance *in = routing_instance(st, ctx, dep);
    vrp_solution *sol = NULL;
    if (!in) {
        h->log(ctx, PURSER_LOG_ERROR, "depot %s: out of memory building %d x %d matrices",
               dep->code, dep->n_dlv + 1, dep->n_dlv + 1);
        return PURSER_ERROR;
    }
    purser_status s = PURSER_OK;
    if (vrp_solve(in, prm, &sol, err, sizeof err)) {
        h->log(ctx, PURSER_LOG_ERROR, "depot %s: solver: %s", dep->code, err);
        s = PURSER_ERROR;
    } else if (vrp_check(in, sol, NULL, err, sizeof err)) {
        h->log(ctx, PURSER_LOG_ERROR, "depot %s: the plan fails the feasibility check: %s",
               dep->code, err);
        s = PURSER_ERROR;
    } else if (routing_adopt(dep, in, sol)) {
        h->log(ctx, PURSER_LOG_ERROR, "depot %s: out of memory or a route that cannot be timed",
               dep->code);
        s = PURSER_ERROR;
    } else {
        dep->construction = sol->construction_cost;
        h->log(ctx, PURSER_LOG_INFO,
               "depot %s: %d deliveries, %d agents: %d routes, %.1f km (construction %.1f km), "
               "%d unassigned, %ld iterations in %.2f s",
               dep->code, dep->n_dlv, dep->n_agents, dep->n_routes, sol->cost / 1000,
               sol->construction_cost / 1000, dep->n_unassigned, sol->iterations, sol->seconds);
    }
    vrp_solution_free(sol);
    vrp_instance_free(in);
    return s;
}

void routing_plan_free(routing_plan *plan)
{
    for (int i = 0; i < plan->n_depots; i++) {
        routing_depot *d = &plan->depots[i];
        for (int k = 0; k < d->n_dlv; k++)
            free(d->dlv[k].address);
        for (int k = 0; k < d->n_agents; k++)
            free(d->agents[k].name);
        for (int k = 0; k < d->n_routes; k++)
            free(d->routes[k].stops);
        free(d->dlv);
        free(d->agents);
        free(d->routes);
        free(d->code);
        free(d->name);
    }
    free(plan->depots);
    memset(plan, 0, sizeof *plan);
}

/* Solves every depot, sharing the time budget by deliveries. */
static purser_status routing_solve_all(const routing_state *st, purser_ctx *ctx, routing_plan *plan)
{
    const purser_host *h = st->host;
    int64_t limit_ms = st->time_limit_ms, seed = st->seed, max_it = 0;
    h->param_duration_ms(ctx, "time_limit", &limit_ms);
    h->param_int(ctx, "seed", &seed);
    h->param_int(ctx, "max_iterations", &max_it);
    long total = 0;
    for (int i = 0; i < plan->n_depots; i++)
        total += plan->depots[i].n_dlv;
    for (int i = 0; i < plan->n_depots; i++) {
        if (h->cancelled(ctx)) {
            h->set_result(ctx, "cancelled while solving depot %d of %d", i + 1, plan->n_depots);
            return PURSER_RETRY;
        }
        routing_depot *dep = &plan->depots[i];
        vrp_params prm;
        vrp_params_default(&prm);
        prm.seed = (uint64_t)seed;
        prm.max_iterations = max_it > 0 ? (long)max_it : 0;
        prm.time_limit = total ? fmax(0.1, (double)limit_ms / 1000.0 * dep->n_dlv / total) : 0.1;
        purser_status s = routing_solve_depot(st, ctx, dep, &prm);
        if (s != PURSER_OK)
            return s;
        h->progress(ctx, (uint64_t)i + 1, (uint64_t)plan->n_depots, "depots");
    }
    return PURSER_OK;
}

/* plan->date = the run's business date + the days_ahead parameter. */
static purser_status routing_plan_date(const routing_state *st, purser_ctx *ctx,
                                       const purser_run_info *run, routing_plan *plan)
{
    int64_t ahead = 0;
    st->host->param_int(ctx, "days_ahead", &ahead);
    struct tm tm = {0};
    const char *end = strptime(run->business_date, "%Y-%m-%d", &tm);
    if (!end || *end || ahead < 0 || ahead > 7) {
        st->host->log(ctx, PURSER_LOG_ERROR, "business date '%s' + days_ahead %lld: %s",
                      run->business_date, (long long)ahead,
                      ahead < 0 || ahead > 7 ? "days_ahead must be 0 .. 7" : "not YYYY-MM-DD");
        return PURSER_ERROR;
    }
    tm.tm_mday += (int)ahead;
    tm.tm_hour = 12;
    time_t t = timegm(&tm);
    gmtime_r(&t, &tm);
    strftime(plan->date, sizeof plan->date, "%Y-%m-%d", &tm);
    return PURSER_OK;
}

static purser_status routing_run(void *state, purser_ctx *ctx, const purser_run_info *run)
{
    routing_state *st = state;
    const purser_host *h = st->host;
    routing_plan plan = {0};
    purser_status s = routing_plan_date(st, ctx, run, &plan);
    if (s == PURSER_OK)
        s = routing_db_load(st, ctx, run, &plan);
    if (s == PURSER_OK)
        s = routing_solve_all(st, ctx, &plan);
    long n = 0, routes = 0, unassigned = 0;
    double km = 0;
    for (int i = 0; i < plan.n_depots; i++) {
        n += plan.depots[i].n_dlv;
        routes += plan.depots[i].n_routes;
        unassigned += plan.depots[i].n_unassigned;
        for (int k = 0; k < plan.depots[i].n_routes; k++)
            km += plan.depots[i].routes[k].distance / 1000;
    }
    if (s == PURSER_OK && !run->dry_run)
        s = routing_db_write(st, ctx, run, &plan);
    if (s == PURSER_OK && !run->dry_run)
        s = routing_report_xlsx(st, ctx, &plan);
    if (s == PURSER_OK && !run->dry_run)
        s = routing_report_geojson(st, ctx, &plan);
    if (s == PURSER_OK) {
        h->metric_add(ctx, "deliveries_routed_total", (double)(n - unassigned));
        h->metric_add(ctx, "deliveries_unassigned_total", (double)unassigned);
        h->metric_set(ctx, "route_km", km);
        h->set_result(ctx, "%s%s: %ld deliveries in %ld routes, %.1f km, %ld unassigned",
                      run->dry_run ? "dry run: " : "", plan.date, n - unassigned, routes, km,
                      unassigned);
    }
    routing_plan_free(&plan);
    return s;
}

static int routing_cmd_solve(void *state, purser_ctx *ctx, int argc, char **argv)
{
    (void)state;
    (void)ctx;
    return vrp_cli_main(argc, argv);
}

static const purser_command routing_commands[] = {
    {"route-solve", "FILE [--time-limit SECONDS] [--seed N]",
     "solve a CVRPLIB .vrp or Solomon .txt instance, print the .sol", routing_cmd_solve},
    {0},
};

static const purser_plugin routing_plugin = {
    PURSER_PLUGIN_HEADER,
    .name = "routing",
    .version = "1.0.0",
    .description = "Nightly delivery routes per agent and depot (CVRP with time windows)",
    .config = routing_config,
    .params = routing_params,
    .init = routing_init,
    .fini = routing_fini,
    .run = routing_run,
    .migrations = routing_migrations,
    .commands = routing_commands,
};

PURSER_PLUGIN_DEFINE(routing_plugin)
