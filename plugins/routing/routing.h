/* routing.h: the routing plugin's private types, shared by routing.c (the
 * descriptor and the nightly job), routing_db.c (the store) and
 * routing_report.c (the workbook and the GeoJSON). Not part of any API. */
#ifndef PURSER_ROUTING_H
#define PURSER_ROUTING_H

#include <stdint.h>

#include "purser/plugin.h"
#include "vrp.h"

/* The plugin's state, made by init, freed by fini. */
typedef struct routing_state {
    const purser_host *host; /* borrowed; valid until fini */
    double road_factor;      /* haversine x this = road distance */
    double speed_mps;        /* driving speed */
    int64_t time_limit_ms;   /* solver budget of a whole run */
    int64_t seed;
    char *osrm_url; /* owned; NULL: haversine x road factor */
    int64_t osrm_timeout_ms;
} routing_state;

/* Replace the instance's matrices with an OSRM table (routing_osrm.c).
 * Returns 0, or -1 with the reason in err and the matrices untouched. */
int routing_osrm_table(const char *base, long timeout_ms, vrp_instance *in, char *err,
                       size_t errlen);

/* A pending delivery of the date. Times are seconds from the day start. */
typedef struct routing_delivery {
    int64_t id;
    char *address; /* owned */
    double lat, lon;
    double win_start, win_end;
    long weight;
    double service; /* seconds */
    /* the plan */
    int agent;          /* index into the depot's agents, -1 unassigned */
    int seq;            /* 1-based position on the route */
    double arrival;     /* service start */
    double departure;   /* arrival + service */
    const char *reason; /* static text when unassigned */
} routing_delivery;

typedef struct routing_agent {
    int64_t id;
    char *name; /* owned */
    double shift_start, shift_end;
    long capacity;
} routing_agent;

/* One planned route of a depot, in solver order. */
typedef struct routing_route {
    int agent; /* index into the depot's agents */
    int n_stops;
    int *stops;        /* indices into the depot's deliveries; owned */
    double start, end; /* leaves and is back at the depot */
    double distance;   /* meters */
    long load;
} routing_route;

typedef struct routing_depot {
    int64_t id;
    char *code, *name; /* owned */
    double lat, lon;
    int n_dlv, cap_dlv;
    routing_delivery *dlv;
    int n_agents, cap_agents;
    routing_agent *agents;
    int n_routes;
    routing_route *routes;
    int n_unassigned;
    double construction; /* construction cost, for the log */
} routing_depot;

/* Everything a run plans for one business date. */
typedef struct routing_plan {
    char date[16];
    double day_start;   /* unix seconds of local midnight */
    double clock_shift; /* seconds to add to "from day start" for the local clock */
    int utc_offset;     /* seconds east of UTC at local noon, for ISO times */
    int n_depots;
    routing_depot *depots;
} routing_plan;

void routing_plan_free(routing_plan *plan);

/* routing_db.c: read plan->date's pending deliveries, depots and agents
 * (deliveries of unstarted routes of the date included: they are planned
 * again); write the plan in one transaction. Both log their failures and
 * return PURSER_OK, PURSER_RETRY or PURSER_ERROR. */
purser_status routing_db_load(const routing_state *st, purser_ctx *ctx, const purser_run_info *run,
                              routing_plan *plan);
purser_status routing_db_write(const routing_state *st, purser_ctx *ctx, const purser_run_info *run,
                               const routing_plan *plan);

/* routing_report.c: routes_<D>.xlsx and routes_<D>.geojson, each written
 * to a .tmp name and renamed. */
purser_status routing_report_xlsx(const routing_state *st, purser_ctx *ctx,
                                  const routing_plan *plan);
purser_status routing_report_geojson(const routing_state *st, purser_ctx *ctx,
                                     const routing_plan *plan);

/* "HH:MM" local clock of t (seconds from the day start) into buf[8]. */
void routing_clock(const routing_plan *plan, double t, char *buf);

#endif
