/* vrp_local.c: granular local search. For each customer u and each of its
 * nearest neighbours v: relocate, swap, Or-opt (2-3 customers, either
 * direction), 2-opt within a route and 2-opt* between routes. A move's
 * distance change is computed in O(1) from the arcs it touches; only an
 * improving move pays for rebuilding its routes and checking them. */
#include "vrp_internal.h"

#include <stdlib.h>

#define VRP_IMPROVE 1e-7 /* smallest distance gain that counts */

/* Appends positions lo..hi of rt (none if lo > hi), reversed if rev. */
static int vrp_push(int *buf, int n, const vrp_rt *rt, int lo, int hi, int rev)
{
    for (int i = lo; i <= hi; i++)
        buf[n++] = rt->seq[rev ? hi + lo - i : i];
    return n;
}

/* Checks the candidate routes in buf1 (for r1) and buf2 (for r2, unless
 * r2 < 0) and installs them. 1 applied, 0 infeasible, -1 out of memory. */
static int vrp_commit(vrp_ctx *c, vrp_st *st, int r1, int n1, int r2, int n2)
{
    if (!vrp_seq_feasible(c, st->rt[r1].type, c->buf1, n1))
        return 0;
    if (r2 >= 0 && !vrp_seq_feasible(c, st->rt[r2].type, c->buf2, n2))
        return 0;
    if (vrp_st_set_route(c, st, r1, c->buf1, n1))
        return -1;
    if (r2 >= 0 && vrp_st_set_route(c, st, r2, c->buf2, n2))
        return -1;
    return 1;
}

/* The neighbourhood of a pair (u, v): routes, positions and adjacent nodes. */
typedef struct vrp_pair {
    int ra, rb, pu, pv;
    const vrp_rt *a, *b;
    int u, v, up, un, vp, vn;
} vrp_pair;

/* Moves the block at positions [pu, pu + len) of route a to just after
 * position pv of route b (reversed if rev); pv 0 means "first". */
static int vrp_move_block(vrp_ctx *c, vrp_st *st, const vrp_pair *p, int len, int pv, int rev)
{
    int first = p->pu, last = p->pu + len - 1;
    int n1 = 0;
    if (p->ra == p->rb) {
        const vrp_rt *a = p->a;
        for (int i = 0; i <= a->len; i++) {
            if (i >= 1 && (i < first || i > last))
                c->buf1[n1++] = a->seq[i];
            if (i == pv)
                n1 = vrp_push(c->buf1, n1, a, first, last, rev);
        }
        return vrp_commit(c, st, p->ra, n1, -1, 0);
    }
    n1 = vrp_push(c->buf1, 0, p->a, 1, first - 1, 0);
    n1 = vrp_push(c->buf1, n1, p->a, last + 1, p->a->len, 0);
    int n2 = vrp_push(c->buf2, 0, p->b, 1, pv, 0);
    n2 = vrp_push(c->buf2, n2, p->a, first, last, rev);
    n2 = vrp_push(c->buf2, n2, p->b, pv + 1, p->b->len, 0);
    return vrp_commit(c, st, p->ra, n1, p->rb, n2);
}

static int vrp_relocate(vrp_ctx *c, vrp_st *st, const vrp_pair *p)
{
    double out = vrp_d(c, p->up, p->un) - vrp_d(c, p->up, p->u) - vrp_d(c, p->u, p->un);
    if (p->u != p->vn &&
        out + vrp_d(c, p->v, p->u) + vrp_d(c, p->u, p->vn) - vrp_d(c, p->v, p->vn) < -VRP_IMPROVE) {
        int rc = vrp_move_block(c, st, p, 1, p->pv, 0);
        if (rc)
            return rc;
    }
    if (p->u != p->vp &&
        out + vrp_d(c, p->vp, p->u) + vrp_d(c, p->u, p->v) - vrp_d(c, p->vp, p->v) < -VRP_IMPROVE)
        return vrp_move_block(c, st, p, 1, p->pv - 1, 0);
    return 0;
}

static int vrp_swap(vrp_ctx *c, vrp_st *st, const vrp_pair *p)
{
    if (p->ra == p->rb && abs(p->pu - p->pv) < 2)
        return 0;
    double delta = vrp_d(c, p->up, p->v) + vrp_d(c, p->v, p->un) + vrp_d(c, p->vp, p->u) +
                   vrp_d(c, p->u, p->vn) - vrp_d(c, p->up, p->u) - vrp_d(c, p->u, p->un) -
                   vrp_d(c, p->vp, p->v) - vrp_d(c, p->v, p->vn);
    if (delta >= -VRP_IMPROVE)
        return 0;
    int n1 = vrp_push(c->buf1, 0, p->a, 1, p->a->len, 0);
    c->buf1[p->pu - 1] = p->v;
    if (p->ra == p->rb) {
        c->buf1[p->pv - 1] = p->u;
        return vrp_commit(c, st, p->ra, n1, -1, 0);
    }
    int n2 = vrp_push(c->buf2, 0, p->b, 1, p->b->len, 0);
    c->buf2[p->pv - 1] = p->u;
    return vrp_commit(c, st, p->ra, n1, p->rb, n2);
}

/* 2-opt*: exchange the tails of two routes so that u and v become adjacent. */
static int vrp_two_opt_star(vrp_ctx *c, vrp_st *st, const vrp_pair *p)
{
    if (p->ra == p->rb)
        return 0;
    const vrp_rt *a = p->a, *b = p->b;
    if (vrp_d(c, p->u, p->v) + vrp_d(c, p->vp, p->un) - vrp_d(c, p->u, p->un) -
            vrp_d(c, p->vp, p->v) <
        -VRP_IMPROVE) {
        int n1 = vrp_push(c->buf1, 0, a, 1, p->pu, 0);
        n1 = vrp_push(c->buf1, n1, b, p->pv, b->len, 0);
        int n2 = vrp_push(c->buf2, 0, b, 1, p->pv - 1, 0);
        n2 = vrp_push(c->buf2, n2, a, p->pu + 1, a->len, 0);
        int rc = vrp_commit(c, st, p->ra, n1, p->rb, n2);
        if (rc)
            return rc;
    }
    if (vrp_d(c, p->v, p->u) + vrp_d(c, p->up, p->vn) - vrp_d(c, p->up, p->u) -
            vrp_d(c, p->v, p->vn) <
        -VRP_IMPROVE) {
        int n1 = vrp_push(c->buf1, 0, a, 1, p->pu - 1, 0);
        n1 = vrp_push(c->buf1, n1, b, p->pv + 1, b->len, 0);
        int n2 = vrp_push(c->buf2, 0, b, 1, p->pv, 0);
        n2 = vrp_push(c->buf2, n2, a, p->pu, a->len, 0);
        return vrp_commit(c, st, p->ra, n1, p->rb, n2);
    }
    return 0;
}

/* 2-opt: reverse the stretch between u and v so that they become adjacent. */
static int vrp_two_opt(vrp_ctx *c, vrp_st *st, const vrp_pair *p)
{
    if (p->ra != p->rb || !c->symmetric || abs(p->pu - p->pv) < 2)
        return 0;
    const vrp_rt *a = p->a;
    int lo, hi;
    double delta;
    if (p->pu < p->pv) {
        lo = p->pu + 1;
        hi = p->pv;
        delta = vrp_d(c, p->u, p->v) + vrp_d(c, p->un, p->vn) - vrp_d(c, p->u, p->un) -
                vrp_d(c, p->v, p->vn);
    } else {
        lo = p->pv;
        hi = p->pu - 1;
        delta = vrp_d(c, p->vp, p->up) + vrp_d(c, p->v, p->u) - vrp_d(c, p->vp, p->v) -
                vrp_d(c, p->up, p->u);
    }
    if (delta >= -VRP_IMPROVE)
        return 0;
    int n1 = vrp_push(c->buf1, 0, a, 1, lo - 1, 0);
    n1 = vrp_push(c->buf1, n1, a, lo, hi, 1);
    n1 = vrp_push(c->buf1, n1, a, hi + 1, a->len, 0);
    return vrp_commit(c, st, p->ra, n1, -1, 0);
}

/* Or-opt: move the 2 or 3 customers starting at u to just after v. */
static int vrp_or_opt(vrp_ctx *c, vrp_st *st, const vrp_pair *p)
{
    for (int len = 2; len <= 3; len++) {
        int last = p->pu + len - 1;
        if (last > p->a->len)
            return 0;
        if (p->ra == p->rb && (p->pv == p->pu - 1 || (p->pv >= p->pu && p->pv <= last)))
            continue;
        int s0 = p->u, sl = p->a->seq[last], sn = p->a->seq[last + 1];
        double out =
            vrp_d(c, p->up, sn) - vrp_d(c, p->up, s0) - vrp_d(c, sl, sn) - vrp_d(c, p->v, p->vn);
        for (int rev = 0; rev <= c->symmetric; rev++) {
            int head = rev ? sl : s0, tail = rev ? s0 : sl;
            if (out + vrp_d(c, p->v, head) + vrp_d(c, tail, p->vn) < -VRP_IMPROVE) {
                int rc = vrp_move_block(c, st, p, len, p->pv, rev);
                if (rc)
                    return rc;
            }
        }
    }
    return 0;
}

static int vrp_try_pair(vrp_ctx *c, vrp_st *st, int u, int v)
{
    vrp_pair p = {.u = u, .v = v, .ra = st->route_of[u], .rb = st->route_of[v]};
    p.pu = st->pos_of[u];
    p.pv = st->pos_of[v];
    p.a = &st->rt[p.ra];
    p.b = &st->rt[p.rb];
    p.up = p.a->seq[p.pu - 1];
    p.un = p.a->seq[p.pu + 1];
    p.vp = p.b->seq[p.pv - 1];
    p.vn = p.b->seq[p.pv + 1];
    int rc = vrp_relocate(c, st, &p);
    if (!rc)
        rc = vrp_swap(c, st, &p);
    if (!rc)
        rc = vrp_two_opt_star(c, st, &p);
    if (!rc)
        rc = vrp_two_opt(c, st, &p);
    if (!rc)
        rc = vrp_or_opt(c, st, &p);
    return rc;
}

int vrp_local_search(vrp_ctx *c, vrp_st *st)
{
    int n = c->n_active, moves = 0, improved = 1;
    int *order = malloc((size_t)(n ? n : 1) * sizeof(*order));
    if (!order)
        return -1;
    for (int i = 0; i < n; i++)
        order[i] = c->active[i];
    while (improved) {
        improved = 0;
        for (int i = n - 1; i > 0; i--) {
            int j = vrp_rng_int(&c->rng, i + 1), t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        for (int i = 0; i < n; i++) {
            int u = order[i];
            for (int k = 0; k < c->k_ls && st->route_of[u] >= 0; k++) {
                int v = c->nbr[(size_t)u * (size_t)c->k_nbr + (size_t)k];
                if (st->route_of[v] < 0)
                    continue;
                int rc = vrp_try_pair(c, st, u, v);
                if (rc < 0) {
                    free(order);
                    return -1;
                }
                if (rc > 0) {
                    improved = 1;
                    moves++;
                }
            }
        }
    }
    free(order);
    vrp_st_compact(c, st);
    return moves;
}
