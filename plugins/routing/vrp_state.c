/* vrp_state.c: the solver's solution representation — routes with their
 * forward/backward time-window data, O(1) insertion evaluation, and the
 * bookkeeping (positions, fleet use) kept in step with every change. */
#include "vrp_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void vrp_rng_seed(vrp_rng *rng, uint64_t seed)
{
    /* splitmix64 scrambles small seeds into a good non-zero state */
    uint64_t z = seed + 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    rng->s = (z ^ (z >> 31)) | 1;
}

uint64_t vrp_rng_next(vrp_rng *rng)
{
    uint64_t x = rng->s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng->s = x;
    return x * 0x2545F4914F6CDD1Dull;
}

double vrp_rng_unit(vrp_rng *rng)
{
    return (double)(vrp_rng_next(rng) >> 11) * (1.0 / 9007199254740992.0);
}

int vrp_rng_int(vrp_rng *rng, int n)
{
    return (int)((vrp_rng_next(rng) >> 33) % (uint64_t)n);
}

int vrp_st_init(const vrp_ctx *c, vrp_st *st)
{
    memset(st, 0, sizeof(*st));
    st->route_of = malloc((size_t)c->n * sizeof(int));
    st->pos_of = malloc((size_t)c->n * sizeof(int));
    st->used = calloc((size_t)c->n_types, sizeof(int));
    if (!st->route_of || !st->pos_of || !st->used)
        return -1;
    for (int i = 0; i < c->n; i++) {
        st->route_of[i] = -1;
        st->pos_of[i] = -1;
    }
    st->n_unrouted = c->n_active;
    return 0;
}

void vrp_st_free(vrp_st *st)
{
    for (int r = 0; r < st->cap_routes; r++) {
        free(st->rt[r].seq);
        free(st->rt[r].early);
        free(st->rt[r].late);
    }
    free(st->rt);
    free(st->route_of);
    free(st->pos_of);
    free(st->used);
    memset(st, 0, sizeof(*st));
}

/* Room for len customers plus both depot visits in route rt. */
static int vrp_rt_reserve(vrp_rt *rt, int len)
{
    if (len + 2 <= rt->cap)
        return 0;
    int cap = rt->cap ? rt->cap : 8;
    while (cap < len + 2)
        cap *= 2;
    int *seq = realloc(rt->seq, (size_t)cap * sizeof(*seq));
    if (!seq)
        return -1;
    rt->seq = seq;
    double *e = realloc(rt->early, (size_t)cap * sizeof(*e));
    if (!e)
        return -1;
    rt->early = e;
    double *l = realloc(rt->late, (size_t)cap * sizeof(*l));
    if (!l)
        return -1;
    rt->late = l;
    rt->cap = cap;
    return 0;
}

static int vrp_st_reserve_routes(vrp_st *st, int n)
{
    if (n <= st->cap_routes)
        return 0;
    int cap = st->cap_routes ? st->cap_routes : 8;
    while (cap < n)
        cap *= 2;
    vrp_rt *rt = realloc(st->rt, (size_t)cap * sizeof(*rt));
    if (!rt)
        return -1;
    memset(rt + st->cap_routes, 0, (size_t)(cap - st->cap_routes) * sizeof(*rt));
    st->rt = rt;
    st->cap_routes = cap;
    return 0;
}

int vrp_st_copy(const vrp_ctx *c, vrp_st *dst, const vrp_st *src)
{
    if (vrp_st_reserve_routes(dst, src->n_routes))
        return -1;
    for (int r = 0; r < src->n_routes; r++) {
        const vrp_rt *s = &src->rt[r];
        vrp_rt *d = &dst->rt[r];
        if (vrp_rt_reserve(d, s->len))
            return -1;
        size_t m = (size_t)s->len + 2;
        memcpy(d->seq, s->seq, m * sizeof(*d->seq));
        memcpy(d->early, s->early, m * sizeof(*d->early));
        memcpy(d->late, s->late, m * sizeof(*d->late));
        d->type = s->type;
        d->len = s->len;
        d->load = s->load;
        d->vol = s->vol;
        d->dist = s->dist;
    }
    dst->n_routes = src->n_routes;
    memcpy(dst->route_of, src->route_of, (size_t)c->n * sizeof(int));
    memcpy(dst->pos_of, src->pos_of, (size_t)c->n * sizeof(int));
    memcpy(dst->used, src->used, (size_t)c->n_types * sizeof(int));
    dst->n_unrouted = src->n_unrouted;
    dst->dist = src->dist;
    return 0;
}

/* Distance plus a penalty per unrouted customer, weighted by how often
 * that customer was left out before (SISR's absence counters), so that the
 * search learns to route the hard ones first when the fleet is tight. */
double vrp_st_objective(const vrp_ctx *c, const vrp_st *st)
{
    if (st->n_unrouted == 0)
        return st->dist;
    double weight = 0;
    for (int i = 0; i < c->n_active; i++)
        if (st->route_of[c->active[i]] < 0)
            weight += 1.0 + (double)c->absent[c->active[i]];
    return st->dist + c->penalty * weight;
}

/* Fewer unrouted customers, then shorter. */
int vrp_st_better(const vrp_st *a, const vrp_st *b)
{
    if (a->n_unrouted != b->n_unrouted)
        return a->n_unrouted < b->n_unrouted;
    return a->dist < b->dist - VRP_EPS;
}

/* Recomputes route r's positions, load, distance and window data. */
static void vrp_rt_refresh(const vrp_ctx *c, vrp_st *st, int r)
{
    vrp_rt *rt = &st->rt[r];
    const vrp_node *nd = c->nodes;
    int *s = rt->seq;
    int last = rt->len + 1;
    s[0] = 0;
    s[last] = 0;
    rt->load = 0;
    rt->vol = 0;
    double dist = 0;
    rt->early[0] = c->start[rt->type];
    for (int i = 1; i <= last; i++) {
        int a = s[i - 1], b = s[i];
        dist += vrp_d(c, a, b);
        double t = rt->early[i - 1] + nd[a].service + vrp_t(c, a, b);
        rt->early[i] = fmax(t, b ? nd[b].ready : 0.0);
        if (b) {
            rt->load += nd[b].demand;
            rt->vol += nd[b].volume;
            st->route_of[b] = r;
            st->pos_of[b] = i;
        }
    }
    rt->late[last] = c->end[rt->type];
    for (int i = last - 1; i >= 0; i--) {
        int a = s[i], b = s[i + 1];
        double l = rt->late[i + 1] - vrp_t(c, a, b) - nd[a].service;
        rt->late[i] = a ? fmin(nd[a].due, l) : l;
    }
    st->dist += dist - rt->dist;
    rt->dist = dist;
}

int vrp_st_new_route(const vrp_ctx *c, vrp_st *st, int type)
{
    if (vrp_st_reserve_routes(st, st->n_routes + 1))
        return -1;
    int r = st->n_routes;
    vrp_rt *rt = &st->rt[r];
    if (vrp_rt_reserve(rt, 1))
        return -1;
    rt->type = type;
    rt->len = 0;
    rt->dist = 0;
    st->n_routes++;
    st->used[type]++;
    vrp_rt_refresh(c, st, r);
    return r;
}

int vrp_st_insert(const vrp_ctx *c, vrp_st *st, int r, int pos, int u)
{
    vrp_rt *rt = &st->rt[r];
    if (vrp_rt_reserve(rt, rt->len + 1))
        return -1;
    memmove(rt->seq + pos + 2, rt->seq + pos + 1, (size_t)(rt->len + 1 - pos) * sizeof(int));
    rt->seq[pos + 1] = u;
    rt->len++;
    st->n_unrouted--;
    vrp_rt_refresh(c, st, r);
    return 0;
}

/* Removes route r, which must be empty; the last route takes its slot. */
void vrp_st_drop_empty(const vrp_ctx *c, vrp_st *st, int r)
{
    int last = st->n_routes - 1;
    st->used[st->rt[r].type]--;
    st->dist -= st->rt[r].dist;
    if (r != last) {
        vrp_rt tmp = st->rt[r];
        st->rt[r] = st->rt[last];
        st->rt[last] = tmp;
        for (int i = 1; i <= st->rt[r].len; i++)
            st->route_of[st->rt[r].seq[i]] = r;
    }
    st->n_routes--;
    (void)c;
}

void vrp_st_remove(const vrp_ctx *c, vrp_st *st, int u)
{
    int r = st->route_of[u], pos = st->pos_of[u];
    vrp_rt *rt = &st->rt[r];
    memmove(rt->seq + pos, rt->seq + pos + 1, (size_t)(rt->len + 1 - pos) * sizeof(int));
    rt->len--;
    st->route_of[u] = -1;
    st->pos_of[u] = -1;
    st->n_unrouted++;
    vrp_rt_refresh(c, st, r);
}

void vrp_st_compact(const vrp_ctx *c, vrp_st *st)
{
    for (int r = st->n_routes - 1; r >= 0; r--)
        if (st->rt[r].len == 0)
            vrp_st_drop_empty(c, st, r);
}

int vrp_st_set_route(const vrp_ctx *c, vrp_st *st, int r, const int *cust, int len)
{
    vrp_rt *rt = &st->rt[r];
    if (vrp_rt_reserve(rt, len))
        return -1;
    memcpy(rt->seq + 1, cust, (size_t)len * sizeof(int));
    rt->len = len;
    vrp_rt_refresh(c, st, r);
    return 0;
}

int vrp_insert_delta(const vrp_ctx *c, const vrp_rt *rt, int pos, int u, double *delta)
{
    const vrp_node *nd = c->nodes;
    int a = rt->seq[pos], b = rt->seq[pos + 1];
    double t = rt->early[pos] + nd[a].service + vrp_t(c, a, u);
    if (t > nd[u].due + VRP_EPS)
        return 0;
    t = fmax(t, nd[u].ready) + nd[u].service + vrp_t(c, u, b);
    if (t > rt->late[pos + 1] + VRP_EPS)
        return 0;
    *delta = vrp_d(c, a, u) + vrp_d(c, u, b) - vrp_d(c, a, b);
    return 1;
}

int vrp_fits_alone(const vrp_ctx *c, int type, int u)
{
    const vrp_vehicle_type *vt = &c->types[type];
    const vrp_node *nd = &c->nodes[u];
    if (nd->demand > vt->cap_weight || (vt->cap_volume > 0 && nd->volume > vt->cap_volume))
        return 0;
    double t = c->start[type] + vrp_t(c, 0, u);
    if (t > nd->due + VRP_EPS)
        return 0;
    t = fmax(t, nd->ready) + nd->service + vrp_t(c, u, 0);
    return t <= c->end[type] + VRP_EPS;
}

int vrp_seq_feasible(const vrp_ctx *c, int type, const int *cust, int len)
{
    const vrp_vehicle_type *vt = &c->types[type];
    const vrp_node *nd = c->nodes;
    long load = 0, vol = 0;
    double t = c->start[type];
    int prev = 0;
    for (int i = 0; i < len; i++) {
        int u = cust[i];
        load += nd[u].demand;
        vol += nd[u].volume;
        t += nd[prev].service + vrp_t(c, prev, u);
        if (t > nd[u].due + VRP_EPS)
            return 0;
        t = fmax(t, nd[u].ready);
        prev = u;
    }
    if (load > vt->cap_weight || (vt->cap_volume > 0 && vol > vt->cap_volume))
        return 0;
    return t + nd[prev].service + vrp_t(c, prev, 0) <= c->end[type] + VRP_EPS;
}
