/* vrp_construct.c: best-insertion recreate (with blinks, as in SISR) and
 * the initial solution, built by inserting customers farthest-first or
 * largest-first (the latter packs tight fleets better). */
#include "vrp_internal.h"

#include <stdlib.h>

/* Above this many customers, a customer is only offered to the routes that
 * hold one of its neighbours (plus a new route). */
#define VRP_GRANULAR_INSERT 400

typedef struct vrp_choice {
    double delta;
    int route, pos, type; /* route -1: open a new route of this type */
} vrp_choice;

static void vrp_try_route(vrp_ctx *c, const vrp_st *st, int r, int u, double blink,
                          vrp_choice *best)
{
    const vrp_rt *rt = &st->rt[r];
    const vrp_vehicle_type *vt = &c->types[rt->type];
    const vrp_node *nd = &c->nodes[u];
    if (rt->load + nd->demand > vt->cap_weight ||
        (vt->cap_volume > 0 && rt->vol + nd->volume > vt->cap_volume))
        return;
    for (int pos = 0; pos <= rt->len; pos++) {
        double delta;
        if (blink > 0 && vrp_rng_unit(&c->rng) < blink)
            continue;
        if (vrp_insert_delta(c, rt, pos, u, &delta) && delta < best->delta) {
            best->delta = delta;
            best->route = r;
            best->pos = pos;
        }
    }
}

static void vrp_try_new_route(const vrp_ctx *c, const vrp_st *st, int u, vrp_choice *best)
{
    double delta = vrp_d(c, 0, u) + vrp_d(c, u, 0);
    if (delta >= best->delta)
        return;
    for (int t = 0; t < c->n_types; t++) {
        int count = c->types[t].count;
        if ((count == VRP_UNLIMITED || st->used[t] < count) && vrp_fits_alone(c, t, u)) {
            best->delta = delta;
            best->route = -1;
            best->type = t;
            return;
        }
    }
}

static vrp_choice vrp_best_insertion(vrp_ctx *c, const vrp_st *st, int u, double blink)
{
    vrp_choice best = {.delta = 1e300, .route = -2};
    if (c->n_active <= VRP_GRANULAR_INSERT) {
        for (int r = 0; r < st->n_routes; r++)
            vrp_try_route(c, st, r, u, blink, &best);
    } else {
        c->stamp++;
        for (int k = 0; k < c->k_nbr; k++) {
            int r = st->route_of[c->nbr[(size_t)u * (size_t)c->k_nbr + (size_t)k]];
            if (r >= 0 && c->mark[r] != c->stamp) {
                c->mark[r] = c->stamp;
                vrp_try_route(c, st, r, u, blink, &best);
            }
        }
    }
    vrp_try_new_route(c, st, u, &best);
    return best;
}

int vrp_recreate(vrp_ctx *c, vrp_st *st, int *order, int n, double blink)
{
    for (int i = 0; i < n; i++) {
        int u = order[i];
        vrp_choice ch = vrp_best_insertion(c, st, u, blink);
        if (ch.route == -2)
            continue;
        if (ch.route == -1) {
            ch.route = vrp_st_new_route(c, st, ch.type);
            ch.pos = 0;
            if (ch.route < 0)
                return -1;
        }
        if (vrp_st_insert(c, st, ch.route, ch.pos, u))
            return -1;
    }
    return 0;
}

typedef struct vrp_keyed {
    double key;
    int id;
} vrp_keyed;

static int vrp_cmp_keyed_desc(const void *a, const void *b)
{
    const vrp_keyed *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? 1 : -1;
    return x->id - y->id;
}

int vrp_construct(vrp_ctx *c, vrp_st *st, int by_demand)
{
    int n = c->n_active;
    vrp_keyed *k = malloc((size_t)(n ? n : 1) * sizeof(*k));
    int *order = malloc((size_t)(n ? n : 1) * sizeof(*order));
    int rc = -1;
    if (k && order) {
        for (int i = 0; i < n; i++) {
            int u = c->active[i];
            k[i].key = by_demand ? (double)c->nodes[u].demand : vrp_d(c, 0, u) + vrp_d(c, u, 0);
            k[i].id = u;
        }
        qsort(k, (size_t)n, sizeof(*k), vrp_cmp_keyed_desc);
        for (int i = 0; i < n; i++)
            order[i] = k[i].id;
        rc = vrp_recreate(c, st, order, n, 0.0);
    }
    free(k);
    free(order);
    return rc;
}
