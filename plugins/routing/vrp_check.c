/* vrp_check.c: an independent feasibility checker. It re-simulates every
 * route from the instance data alone and shares no code with the solver,
 * so a bug in the solver's fast move evaluation cannot hide here. */
#include "vrp.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#define VRP_CHECK_EPS 1e-6

static int vrp_violation(char *msg, size_t msglen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, msglen, fmt, ap);
    va_end(ap);
    return -1;
}

/* Walks one route: capacity, windows, shift; adds its length to *cost. */
static int vrp_check_route(const vrp_instance *inst, const vrp_route *rt, int k, double *cost,
                           char *msg, size_t msglen)
{
    const vrp_vehicle_type *vt = &inst->types[rt->type];
    const vrp_node *nd = inst->nodes;
    size_t n = (size_t)inst->n_nodes;
    long weight = 0, volume = 0;
    double t = fmax(vt->shift_start, nd[0].ready);
    int prev = 0;
    for (int i = 0; i <= rt->n_stops; i++) {
        int c = i < rt->n_stops ? rt->stops[i] : 0;
        t += nd[prev].service + inst->time[(size_t)prev * n + (size_t)c];
        *cost += inst->dist[(size_t)prev * n + (size_t)c];
        prev = c;
        if (c == 0)
            break;
        if (t < nd[c].ready)
            t = nd[c].ready;
        if (t > nd[c].due + VRP_CHECK_EPS)
            return vrp_violation(msg, msglen,
                                 "route %d: customer %ld served at %.4f, after its due time %.4f",
                                 k + 1, nd[c].ext_id, t, nd[c].due);
        weight += nd[c].demand;
        volume += nd[c].volume;
    }
    double end = fmin(vt->shift_end, nd[0].due);
    if (rt->n_stops > 0 && t > end + VRP_CHECK_EPS)
        return vrp_violation(msg, msglen, "route %d: back at the depot at %.4f, after %.4f", k + 1,
                             t, end);
    if (weight > vt->cap_weight)
        return vrp_violation(msg, msglen, "route %d: load %ld over capacity %ld", k + 1, weight,
                             vt->cap_weight);
    if (vt->cap_volume > 0 && volume > vt->cap_volume)
        return vrp_violation(msg, msglen, "route %d: volume %ld over capacity %ld", k + 1, volume,
                             vt->cap_volume);
    return 0;
}

/* Counts one more visit of node c; rejects the depot and unknown nodes. */
static int vrp_check_visit(const vrp_instance *inst, int *seen, int c, const char *where, char *msg,
                           size_t msglen)
{
    if (c <= 0 || c >= inst->n_nodes)
        return vrp_violation(msg, msglen, "%s: node index %d is not a customer", where, c);
    if (seen[c]++)
        return vrp_violation(msg, msglen, "customer %ld appears more than once",
                             inst->nodes[c].ext_id);
    return 0;
}

static int vrp_check_all(const vrp_instance *inst, const vrp_solution *sol, int *seen, int *used,
                         double *cost, char *msg, size_t msglen)
{
    for (int k = 0; k < sol->n_routes; k++) {
        const vrp_route *rt = &sol->routes[k];
        char where[32];
        snprintf(where, sizeof(where), "route %d", k + 1);
        if (rt->type < 0 || rt->type >= inst->n_types)
            return vrp_violation(msg, msglen, "%s: no vehicle type %d", where, rt->type);
        if (rt->n_stops < 0 || (rt->n_stops > 0 && !rt->stops))
            return vrp_violation(msg, msglen, "%s: bad stop list", where);
        for (int i = 0; i < rt->n_stops; i++)
            if (vrp_check_visit(inst, seen, rt->stops[i], where, msg, msglen))
                return -1;
        if (vrp_check_route(inst, rt, k, cost, msg, msglen))
            return -1;
        if (rt->n_stops > 0)
            used[rt->type]++;
    }
    for (int t = 0; t < inst->n_types; t++)
        if (inst->types[t].count != VRP_UNLIMITED && used[t] > inst->types[t].count)
            return vrp_violation(msg, msglen, "vehicle type %d: %d routes for %d vehicles", t,
                                 used[t], inst->types[t].count);
    for (int i = 0; i < sol->n_unassigned; i++) {
        if (vrp_check_visit(inst, seen, sol->unassigned[i], "unassigned", msg, msglen))
            return -1;
        if (sol->reasons[i] == VRP_REASON_NONE)
            return vrp_violation(msg, msglen, "customer %ld unassigned without a reason",
                                 inst->nodes[sol->unassigned[i]].ext_id);
    }
    for (int c = 1; c < inst->n_nodes; c++)
        if (!seen[c])
            return vrp_violation(msg, msglen, "customer %ld is neither routed nor unassigned",
                                 inst->nodes[c].ext_id);
    if (fabs(*cost - sol->cost) > VRP_CHECK_EPS * fmax(1.0, *cost))
        return vrp_violation(msg, msglen, "reported cost %.6f differs from recomputed %.6f",
                             sol->cost, *cost);
    return 0;
}

int vrp_check(const vrp_instance *inst, const vrp_solution *sol, double *cost_out, char *msg,
              size_t msglen)
{
    if (!inst || !sol || !inst->dist || !inst->time)
        return vrp_violation(msg, msglen, "no instance, matrix or solution");
    if ((sol->n_routes > 0 && !sol->routes) ||
        (sol->n_unassigned > 0 && (!sol->unassigned || !sol->reasons)))
        return vrp_violation(msg, msglen, "malformed solution arrays");
    int *seen = calloc((size_t)inst->n_nodes, sizeof(*seen));
    int *used = calloc((size_t)inst->n_types, sizeof(*used));
    double cost = 0;
    int rc = (!seen || !used) ? vrp_violation(msg, msglen, "out of memory")
                              : vrp_check_all(inst, sol, seen, used, &cost, msg, msglen);
    free(seen);
    free(used);
    if (cost_out)
        *cost_out = cost;
    if (rc == 0 && msglen)
        msg[0] = '\0';
    return rc;
}
