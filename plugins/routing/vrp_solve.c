/* vrp_solve.c: the solver's driver. Screens out customers no vehicle can
 * serve, builds granular neighbour lists, constructs a first solution,
 * then runs SISR ruin-and-recreate with local search under simulated
 * annealing until the time budget or the iteration cap ends. */
#include "vrp_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define VRP_AVG_REMOVED 10   /* SISR c-bar: customers removed on average */
#define VRP_MAX_STRING 10    /* SISR L-max: longest string cut */
#define VRP_BLINK 0.01       /* chance to skip an insertion position */
#define VRP_T_START 0.3      /* annealing temperature, in mean arcs, at start */
#define VRP_T_END 0.003      /* ... and at the end */
#define VRP_LS_NEIGHBOURS 20 /* local search neighbourhood width */

void vrp_params_default(vrp_params *params)
{
    params->time_limit = 10.0;
    params->seed = 1;
    params->max_iterations = 0;
    params->neighbours = 40;
}

static double vrp_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void vrp_ctx_free(vrp_ctx *c)
{
    free(c->start);
    free(c->end);
    free(c->active);
    free(c->reason);
    free(c->nbr);
    free(c->absent);
    free(c->mark);
    free(c->buf1);
    free(c->buf2);
}

/* Why customer u cannot be served even alone, or VRP_REASON_NONE. */
static vrp_reason vrp_screen(const vrp_ctx *c, int u)
{
    const vrp_node *nd = &c->nodes[u];
    int heavy = 1, bulky = 1;
    for (int t = 0; t < c->n_types; t++) {
        const vrp_vehicle_type *vt = &c->types[t];
        if (vt->count == 0)
            continue;
        if (nd->demand <= vt->cap_weight) {
            heavy = 0;
            if (vt->cap_volume <= 0 || nd->volume <= vt->cap_volume)
                bulky = 0;
        }
        if (vrp_fits_alone(c, t, u))
            return VRP_REASON_NONE;
    }
    return heavy ? VRP_REASON_TOO_HEAVY : bulky ? VRP_REASON_TOO_BULKY : VRP_REASON_UNREACHABLE;
}

/* Closeness of j after i: distance plus, for time windows, the waiting
 * and the lateness that visiting j right after i would entail (as in
 * HGS-CVRP's correlated vertices). Smaller is closer. */
static double vrp_proximity(const vrp_ctx *c, int i, int j)
{
    const vrp_node *a = &c->nodes[i], *b = &c->nodes[j];
    double arrive = a->ready + a->service + vrp_t(c, i, j);
    double wait = fmax(0.0, b->ready - (a->due + a->service + vrp_t(c, i, j)));
    double late = fmax(0.0, arrive - b->due);
    return vrp_d(c, i, j) + 0.2 * wait + 1.0 * late;
}

/* Fills c->nbr: for each active customer, the k_nbr closest others. */
static void vrp_neighbours(vrp_ctx *c, double *key)
{
    int k = c->k_nbr;
    for (int a = 0; a < c->n_active; a++) {
        int i = c->active[a];
        int *row = c->nbr + (size_t)i * (size_t)k;
        int len = 0;
        for (int b = 0; b < c->n_active; b++) {
            int j = c->active[b];
            if (j == i)
                continue;
            double p = fmin(vrp_proximity(c, i, j), vrp_proximity(c, j, i));
            if (len == k && p >= key[k - 1])
                continue;
            int pos = len < k ? len++ : k - 1;
            while (pos > 0 && key[pos - 1] > p) {
                key[pos] = key[pos - 1];
                row[pos] = row[pos - 1];
                pos--;
            }
            key[pos] = p;
            row[pos] = j;
        }
    }
}

static int vrp_ctx_init(vrp_ctx *c, const vrp_instance *inst, const vrp_params *prm)
{
    int n = inst->n_nodes;
    memset(c, 0, sizeof(*c));
    c->n = n;
    c->nodes = inst->nodes;
    c->dist = inst->dist;
    c->time = inst->time;
    c->n_types = inst->n_types;
    c->types = inst->types;
    vrp_rng_seed(&c->rng, prm->seed);
    c->start = malloc((size_t)inst->n_types * sizeof(double));
    c->end = malloc((size_t)inst->n_types * sizeof(double));
    c->active = malloc((size_t)n * sizeof(int));
    c->reason = calloc((size_t)n, sizeof(vrp_reason));
    c->absent = calloc((size_t)n, sizeof(long));
    c->mark = calloc((size_t)n + 1, sizeof(int));
    c->buf1 = malloc(((size_t)n + 2) * sizeof(int));
    c->buf2 = malloc(((size_t)n + 2) * sizeof(int));
    if (!c->start || !c->end || !c->active || !c->reason || !c->absent || !c->mark || !c->buf1 ||
        !c->buf2)
        return -1;
    for (int t = 0; t < inst->n_types; t++) {
        c->start[t] = fmax(inst->types[t].shift_start, inst->nodes[0].ready);
        c->end[t] = fmin(inst->types[t].shift_end, inst->nodes[0].due);
    }
    double maxd = 0;
    c->symmetric = 1;
    for (size_t i = 0; i < (size_t)n; i++)
        for (size_t j = 0; j < (size_t)n; j++) {
            maxd = fmax(maxd, c->dist[i * (size_t)n + j]);
            if (c->dist[i * (size_t)n + j] != c->dist[j * (size_t)n + i])
                c->symmetric = 0;
        }
    c->penalty = 4.0 * maxd + 1.0;
    for (int u = 1; u < n; u++) {
        c->reason[u] = vrp_screen(c, u);
        if (c->reason[u] == VRP_REASON_NONE)
            c->active[c->n_active++] = u;
    }
    c->k_nbr = c->n_active - 1 < prm->neighbours ? c->n_active - 1 : prm->neighbours;
    if (c->k_nbr < 0)
        c->k_nbr = 0;
    c->k_ls = c->k_nbr < VRP_LS_NEIGHBOURS ? c->k_nbr : VRP_LS_NEIGHBOURS;
    c->nbr = malloc(((size_t)n * (size_t)c->k_nbr + 1) * sizeof(int));
    double *key = malloc(((size_t)c->k_nbr + 1) * sizeof(double));
    if (!c->nbr || !key) {
        free(key);
        return -1;
    }
    vrp_neighbours(c, key);
    free(key);
    return 0;
}

/* SISR's recreate orders: random, largest demand, farthest, closest. */
static void vrp_sort_removed(vrp_ctx *c, int *order, int n, double *key)
{
    int w = vrp_rng_int(&c->rng, 11);
    for (int i = 0; i < n; i++) {
        int u = order[i];
        double far = vrp_d(c, 0, u) + vrp_d(c, u, 0);
        key[i] = w < 4    ? vrp_rng_unit(&c->rng)
                 : w < 8  ? -(double)c->nodes[u].demand
                 : w < 10 ? -far
                          : far;
    }
    for (int i = 1; i < n; i++) {
        int u = order[i];
        double k = key[i];
        int j = i;
        for (; j > 0 && key[j - 1] > k; j--) {
            key[j] = key[j - 1];
            order[j] = order[j - 1];
        }
        key[j] = k;
        order[j] = u;
    }
}

/* One ruin-and-recreate step from cand (a copy of the current solution). */
static int vrp_perturb(vrp_ctx *c, vrp_st *cand, int *order, double *key)
{
    int n = vrp_ruin(c, cand, VRP_AVG_REMOVED, VRP_MAX_STRING, order);
    vrp_st_compact(c, cand);
    if (cand->n_unrouted > n) {
        c->stamp++;
        for (int i = 0; i < n; i++)
            c->mark[order[i]] = c->stamp;
        for (int i = 0; i < c->n_active; i++) {
            int u = c->active[i];
            if (cand->route_of[u] < 0 && c->mark[u] != c->stamp)
                order[n++] = u;
        }
    }
    vrp_sort_removed(c, order, n, key);
    if (vrp_recreate(c, cand, order, n, VRP_BLINK))
        return -1;
    for (int i = 0; i < n && cand->n_unrouted > 0; i++)
        if (cand->route_of[order[i]] < 0)
            c->absent[order[i]]++;
    return 0;
}

typedef struct vrp_search {
    vrp_st a, b, best;
    int *order;
    double *key;
} vrp_search;

static void vrp_search_free(vrp_search *s)
{
    vrp_st_free(&s->a);
    vrp_st_free(&s->b);
    vrp_st_free(&s->best);
    free(s->order);
    free(s->key);
}

/* Simulated annealing over SISR moves; the best solution ends in s->best. */
static int vrp_anneal(vrp_ctx *c, vrp_search *s, const vrp_params *prm, double t0, long *iters)
{
    vrp_st *cur = &s->a, *cand = &s->b;
    int routed = c->n_active - cur->n_unrouted;
    double arc = cur->dist / (double)(routed + cur->n_routes > 0 ? routed + cur->n_routes : 1);
    if (arc <= 0)
        arc = 1;
    double temp0 = VRP_T_START * arc, temp1 = VRP_T_END * arc;
    long it = 0;
    double cur_obj = vrp_st_objective(c, cur);
    while (c->n_active > 0) {
        double prog = prm->time_limit > 0 ? (vrp_now() - t0) / prm->time_limit : 1.0;
        if (prm->max_iterations > 0)
            prog = fmax(prog, (double)it / (double)prm->max_iterations);
        if (prog >= 1.0)
            break;
        double temp = temp0 * pow(temp1 / temp0, prog);
        it++;
        if (vrp_st_copy(c, cand, cur) || vrp_perturb(c, cand, s->order, s->key))
            return -1;
        double obj = vrp_st_objective(c, cand);
        if (cur->n_unrouted > 0) /* the absence weights have moved */
            cur_obj = vrp_st_objective(c, cur);
        if (obj < cur_obj - temp * log(1.0 - vrp_rng_unit(&c->rng))) {
            vrp_st *t = cur;
            cur = cand;
            cand = t;
            cur_obj = obj;
            if (vrp_st_better(cur, &s->best)) {
                if (vrp_local_search(c, cur) < 0 || vrp_st_copy(c, &s->best, cur))
                    return -1;
                cur_obj = vrp_st_objective(c, cur);
            }
        }
    }
    *iters = it;
    return 0;
}

static int vrp_export(const vrp_ctx *c, const vrp_st *st, vrp_solution *sol)
{
    sol->routes = calloc((size_t)st->n_routes + 1, sizeof(*sol->routes));
    sol->unassigned = malloc((size_t)c->n * sizeof(int));
    sol->reasons = malloc((size_t)c->n * sizeof(vrp_reason));
    if (!sol->routes || !sol->unassigned || !sol->reasons)
        return -1;
    for (int r = 0; r < st->n_routes; r++) {
        const vrp_rt *rt = &st->rt[r];
        if (rt->len == 0)
            continue;
        vrp_route *out = &sol->routes[sol->n_routes];
        out->stops = malloc((size_t)rt->len * sizeof(int));
        if (!out->stops)
            return -1;
        sol->n_routes++;
        memcpy(out->stops, rt->seq + 1, (size_t)rt->len * sizeof(int));
        out->n_stops = rt->len;
        out->type = rt->type;
        for (int i = 0; i <= rt->len; i++)
            sol->cost += vrp_d(c, rt->seq[i], rt->seq[i + 1]);
    }
    for (int u = 1; u < c->n; u++) {
        if (c->reason[u] == VRP_REASON_NONE && st->route_of[u] >= 0)
            continue;
        sol->unassigned[sol->n_unassigned] = u;
        sol->reasons[sol->n_unassigned++] =
            c->reason[u] != VRP_REASON_NONE ? c->reason[u] : VRP_REASON_NO_VEHICLE;
    }
    return 0;
}

static int vrp_run(vrp_ctx *c, const vrp_params *prm, double t0, vrp_solution *sol)
{
    vrp_search s = {0};
    int rc = -1;
    s.order = malloc((size_t)c->n * sizeof(int));
    s.key = malloc((size_t)c->n * sizeof(double));
    if (s.order && s.key && !vrp_st_init(c, &s.a) && !vrp_st_init(c, &s.b) &&
        !vrp_st_init(c, &s.best) && !vrp_construct(c, &s.a, 0) && !vrp_construct(c, &s.b, 1) &&
        (!vrp_st_better(&s.b, &s.a) || !vrp_st_copy(c, &s.a, &s.b))) {
        sol->construction_cost = s.a.dist;
        if (vrp_local_search(c, &s.a) >= 0 && !vrp_st_copy(c, &s.best, &s.a) &&
            !vrp_anneal(c, &s, prm, t0, &sol->iterations))
            rc = vrp_export(c, &s.best, sol);
    }
    vrp_search_free(&s);
    return rc;
}

int vrp_solve(const vrp_instance *inst, const vrp_params *params, vrp_solution **out, char *err,
              size_t errlen)
{
    double t0 = vrp_now();
    *out = NULL;
    if (!inst || !inst->dist || !inst->time || inst->n_types < 1 || inst->n_nodes < 1) {
        snprintf(err, errlen, "instance has no distance matrix or no vehicle type");
        return -1;
    }
    vrp_ctx c;
    vrp_solution *sol = calloc(1, sizeof(*sol));
    int rc = -1;
    if (sol && vrp_ctx_init(&c, inst, params) == 0)
        rc = vrp_run(&c, params, t0, sol);
    if (sol)
        vrp_ctx_free(&c);
    if (rc) {
        snprintf(err, errlen, "out of memory");
        vrp_solution_free(sol);
        return -1;
    }
    sol->seconds = vrp_now() - t0;
    *out = sol;
    return 0;
}
