/* vrp.h: the routing plugin's solver library — a capacitated vehicle
 * routing model with time windows, parsers for the literature formats, a
 * ruin-and-recreate metaheuristic, and an independent feasibility checker.
 * Self-contained: depends on libc and libm only, nothing from purser core. */
#ifndef PURSER_VRP_H
#define PURSER_VRP_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* A vehicle type's count when the fleet of that type is not limited. */
#define VRP_UNLIMITED (-1)

/* A time far beyond any real horizon: "no window" is [0, VRP_NO_DUE]. */
#define VRP_NO_DUE 1e15

/* One stop. Node 0 is the depot; its window bounds every route too. */
typedef struct vrp_node {
    long ext_id;    /* number printed in solutions (CVRPLIB id - 1, Solomon CUST NO.) */
    double x, y;    /* planar coordinates, or longitude/latitude in degrees */
    long demand;    /* weight, integer units (kg, g, ...) */
    long volume;    /* volume, integer units; 0 when not used */
    double ready;   /* service may start no earlier than ready ... */
    double due;     /* ... and no later than due (waiting allowed) */
    double service; /* service duration */
} vrp_node;

/* A kind of vehicle; the fleet is a list of these. */
typedef struct vrp_vehicle_type {
    long cap_weight;    /* maximum total demand on one route */
    long cap_volume;    /* maximum total volume; <= 0: not constrained */
    double shift_start; /* the vehicle leaves the depot no earlier ... */
    double shift_end;   /* ... and is back no later than this */
    int count;          /* vehicles of this type, or VRP_UNLIMITED */
} vrp_vehicle_type;

typedef enum vrp_format {
    VRP_FORMAT_OTHER = 0, /* built by the caller */
    VRP_FORMAT_CVRPLIB,   /* TSPLIB/CVRPLIB .vrp, EUC_2D rounded per arc */
    VRP_FORMAT_SOLOMON    /* Solomon VRPTW .txt, double precision */
} vrp_format;

/* A problem. The instance owns every array; vrp_instance_free releases it.
 * time may alias dist (then it is freed once). Matrices are row-major,
 * n_nodes * n_nodes, entry [i * n_nodes + j] is from i to j. */
typedef struct vrp_instance {
    char name[64];
    vrp_format format;
    int n_nodes; /* depot 0 plus customers 1 .. n_nodes - 1 */
    vrp_node *nodes;
    int n_types;
    vrp_vehicle_type *types;
    double *dist;      /* cost of each arc: the objective sums these */
    double *time;      /* travel time of each arc */
    int cost_decimals; /* decimals when printing the cost: 0 CVRPLIB, 2 Solomon */
} vrp_instance;

/* Why a customer is left out of every route. */
typedef enum vrp_reason {
    VRP_REASON_NONE = 0,
    VRP_REASON_TOO_HEAVY,   /* demand above every vehicle's weight capacity */
    VRP_REASON_TOO_BULKY,   /* volume above every vehicle's volume capacity */
    VRP_REASON_UNREACHABLE, /* no vehicle can reach its window and return within its shift */
    VRP_REASON_NO_VEHICLE   /* feasible alone, but the limited fleet is full */
} vrp_reason;

typedef struct vrp_route {
    int type; /* index into instance->types */
    int n_stops;
    int *stops; /* customer node indices, in visiting order */
} vrp_route;

/* A solution. Owns routes, stops and the unassigned arrays. */
typedef struct vrp_solution {
    int n_routes;
    vrp_route *routes;
    int n_unassigned;
    int *unassigned;          /* node indices */
    vrp_reason *reasons;      /* parallel to unassigned */
    double cost;              /* total distance of the routes */
    double construction_cost; /* cost of the initial solution, for reports */
    long iterations;          /* ruin-and-recreate iterations performed */
    double seconds;           /* wall-clock time spent in vrp_solve */
} vrp_solution;

/* Solver parameters; start from vrp_params_default. */
typedef struct vrp_params {
    double time_limit;   /* wall-clock budget in seconds */
    uint64_t seed;       /* same seed + same iteration cap = same solution */
    long max_iterations; /* 0: run until time_limit; > 0: stop after this
                          * many iterations, which makes the run
                          * reproducible whatever the machine's speed */
    int neighbours;      /* size of the granular neighbour lists */
} vrp_params;

/* --- instances (vrp_instance.c) --- */

/* Allocates an instance of n_nodes nodes and n_types vehicle types, with
 * nodes zeroed and windows open ([0, VRP_NO_DUE]) and no matrix yet.
 * Returns NULL when out of memory. Free with vrp_instance_free. */
vrp_instance *vrp_instance_new(int n_nodes, int n_types);

/* Frees an instance and everything it owns; NULL is accepted. */
void vrp_instance_free(vrp_instance *inst);

/* Fills dist and time with the Euclidean distance between coordinates;
 * round_nint rounds each arc to the nearest integer (TSPLIB EUC_2D).
 * time aliases dist. Returns 0, or -1 when out of memory. */
int vrp_instance_euclid(vrp_instance *inst, int round_nint);

/* Fills dist (meters) and time (seconds) from lon/lat coordinates (x, y in
 * degrees): great-circle distance times road_factor, driven at speed_mps
 * meters per second. Returns 0, or -1 on bad arguments or out of memory. */
int vrp_instance_haversine(vrp_instance *inst, double road_factor, double speed_mps);

/* Frees a solution; NULL is accepted. */
void vrp_solution_free(vrp_solution *sol);

/* A static English phrase for a reason, e.g. "too heavy for any vehicle". */
const char *vrp_reason_str(vrp_reason reason);

/* --- parsers (vrp_parse.c) --- */

/* Reads a CVRPLIB .vrp or a Solomon .txt file, chosen by content (the
 * extension breaks ties), and builds its matrix by that format's
 * convention. On success returns 0 and *out owns a new instance. On error
 * returns -1 and writes "FILE:LINE: message" (no newline) into err. */
int vrp_parse_file(const char *path, vrp_instance **out, char *err, size_t errlen);

/* Same from a buffer of len bytes; name stands for FILE in messages and
 * its extension is the tie-breaker. The buffer is only read. */
int vrp_parse_buffer(const char *name, const char *text, size_t len, vrp_instance **out, char *err,
                     size_t errlen);

/* --- solver (vrp_solve.c) --- */

/* Defaults: 10 s, seed 1, no iteration cap, 40 neighbours. */
void vrp_params_default(vrp_params *params);

/* Solves inst within params. On success returns 0 and *out owns a new
 * solution (customers that cannot be served are listed as unassigned with
 * their reason). Returns -1 with a message in err when out of memory or
 * when the instance is malformed (no matrix, no vehicle type). */
int vrp_solve(const vrp_instance *inst, const vrp_params *params, vrp_solution **out, char *err,
              size_t errlen);

/* --- checker (vrp_check.c) --- */

/* Verifies sol against inst from scratch: every customer exactly once
 * (routed or unassigned), weight and volume per route, fleet size per
 * type, time windows with waiting, shift start/end, and sol->cost against
 * the recomputed total. Returns 0 when feasible, -1 otherwise with the
 * first violation in msg. *cost_out (if not NULL) gets the recomputed
 * cost. Shares no code with the solver. */
int vrp_check(const vrp_instance *inst, const vrp_solution *sol, double *cost_out, char *msg,
              size_t msglen);

/* --- output (vrp_sol.c) --- */

/* Prints sol in CVRPLIB .sol format: "Route #k: c1 c2 ..." per non-empty
 * route with customers' ext_id, then "Cost X" with inst->cost_decimals
 * decimals. Unassigned customers are not printed here. */
void vrp_solution_print(FILE *f, const vrp_instance *inst, const vrp_solution *sol);

/* --- command line (vrp_cli.c) --- */

/* `purser route-solve FILE [--time-limit SECONDS] [--seed N]`; argv[0] is
 * the command name. Prints the solution on stdout; errors on stderr as one
 * line. Returns 0 on success, 1 if the solution fails the checker or leaves
 * customers unassigned, 2 on a usage error or bad input. */
int vrp_cli_main(int argc, char **argv);

#endif
