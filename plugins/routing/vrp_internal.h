/* vrp_internal.h: the solver's private types, shared by vrp_state.c,
 * vrp_construct.c, vrp_local.c, vrp_ruin.c and vrp_solve.c. Not part of
 * the library's API. */
#ifndef PURSER_VRP_INTERNAL_H
#define PURSER_VRP_INTERNAL_H

#include "vrp.h"

#include <stdint.h>

/* Slack for floating-point time comparisons; the checker allows more. */
#define VRP_EPS 1e-9

/* xorshift64*: small, fast, and the same sequence on every platform. */
typedef struct vrp_rng {
    uint64_t s;
} vrp_rng;

void vrp_rng_seed(vrp_rng *rng, uint64_t seed);
uint64_t vrp_rng_next(vrp_rng *rng);
double vrp_rng_unit(vrp_rng *rng);    /* uniform in [0, 1) */
int vrp_rng_int(vrp_rng *rng, int n); /* uniform in [0, n), n >= 1 */

/* Read-only problem data, flattened for the inner loops. */
typedef struct vrp_ctx {
    int n; /* nodes, depot 0 included */
    const vrp_node *nodes;
    const double *dist, *time;
    int n_types;
    const vrp_vehicle_type *types;
    double *start, *end; /* per type: effective route time window */
    int *active;         /* customers the solver routes */
    int n_active;
    vrp_reason *reason; /* per node: why it is left out, or NONE */
    int *nbr;           /* per node, k_nbr nearest active customers */
    int k_nbr;
    int k_ls;       /* neighbours tried by the local search */
    int symmetric;  /* dist[i][j] == dist[j][i] for all pairs */
    double penalty; /* objective cost of an unrouted customer */
    long *absent;   /* per node: iterations it ended unrouted */
    vrp_rng rng;
    int *mark; /* scratch, n entries: route or node stamps */
    int stamp;
    int *buf1, *buf2; /* scratch, n entries: candidate routes */
} vrp_ctx;

static inline double vrp_d(const vrp_ctx *c, int i, int j)
{
    return c->dist[(size_t)i * (size_t)c->n + (size_t)j];
}

static inline double vrp_t(const vrp_ctx *c, int i, int j)
{
    return c->time[(size_t)i * (size_t)c->n + (size_t)j];
}

/* One route. seq[0] and seq[len + 1] are the depot. early[i] is the
 * earliest service start at position i; late[i] the latest start at i that
 * keeps the rest of the route feasible (forward/backward window data). */
typedef struct vrp_rt {
    int type, len, cap;
    int *seq;
    double *early, *late;
    long load, vol;
    double dist;
} vrp_rt;

/* A solution under search. Slots n_routes .. cap_routes - 1 keep their
 * buffers for reuse. route_of[c] is -1 for an unrouted customer. */
typedef struct vrp_st {
    int n_routes, cap_routes;
    vrp_rt *rt;
    int *route_of, *pos_of;
    int *used;      /* routes in use per vehicle type */
    int n_unrouted; /* active customers outside every route */
    double dist;
} vrp_st;

/* vrp_state.c */
int vrp_st_init(const vrp_ctx *c, vrp_st *st);
void vrp_st_free(vrp_st *st);
int vrp_st_copy(const vrp_ctx *c, vrp_st *dst, const vrp_st *src);
double vrp_st_objective(const vrp_ctx *c, const vrp_st *st);
int vrp_st_better(const vrp_st *a, const vrp_st *b);
int vrp_st_new_route(const vrp_ctx *c, vrp_st *st, int type);
int vrp_st_insert(const vrp_ctx *c, vrp_st *st, int r, int pos, int u);
void vrp_st_remove(const vrp_ctx *c, vrp_st *st, int u); /* leaves empty routes */
void vrp_st_compact(const vrp_ctx *c, vrp_st *st);       /* drops empty routes */
int vrp_st_set_route(const vrp_ctx *c, vrp_st *st, int r, const int *cust, int len);
void vrp_st_drop_empty(const vrp_ctx *c, vrp_st *st, int r);
int vrp_insert_delta(const vrp_ctx *c, const vrp_rt *rt, int pos, int u, double *delta);
int vrp_fits_alone(const vrp_ctx *c, int type, int u);
int vrp_seq_feasible(const vrp_ctx *c, int type, const int *cust, int len);

/* vrp_construct.c: best insertion of the customers in order[], with a
 * probability blink of skipping each position. Returns -1 out of memory. */
int vrp_recreate(vrp_ctx *c, vrp_st *st, int *order, int n, double blink);
int vrp_construct(vrp_ctx *c, vrp_st *st, int by_demand);

/* vrp_ruin.c: SISR string removal; writes removed customers to out and
 * returns how many. */
int vrp_ruin(vrp_ctx *c, vrp_st *st, int avg_removed, int max_string, int *out);

/* vrp_local.c: granular local search to a local optimum. Returns -1 out of
 * memory, else the number of improving moves. */
int vrp_local_search(vrp_ctx *c, vrp_st *st);

#endif
