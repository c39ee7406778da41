/* vrp_ruin.c: the ruin half of SISR (Christiaens & Vanden Berghe, 2020):
 * strings of consecutive customers, or strings with a preserved middle,
 * cut from a few routes that lie close to a random seed customer. */
#include "vrp_internal.h"

#include <math.h>

#define VRP_SPLIT_BETA 0.01 /* chance to stop growing the preserved block */

/* Removes positions [s, s + len) of route r except [keep, keep + m). */
static int vrp_cut(const vrp_ctx *c, vrp_st *st, int r, int s, int len, int keep, int m, int *out)
{
    int n = 0;
    const vrp_rt *rt = &st->rt[r];
    for (int i = s; i < s + len; i++)
        if (i < keep || i >= keep + m)
            out[n++] = rt->seq[i];
    for (int i = 0; i < n; i++)
        vrp_st_remove(c, st, out[i]);
    return n;
}

/* Cuts a string of about l customers containing position p from route r. */
static int vrp_cut_string(vrp_ctx *c, vrp_st *st, int r, int p, int l, int *out)
{
    int len = st->rt[r].len;
    int m = 0;
    if (l < len && vrp_rng_unit(&c->rng) < 0.5) {
        m = 1;
        while (l + m < len && vrp_rng_unit(&c->rng) >= VRP_SPLIT_BETA)
            m++;
    }
    int total = l + m;
    int lo = p - total + 1 > 1 ? p - total + 1 : 1;
    int hi = p < len - total + 1 ? p : len - total + 1;
    int s = lo + vrp_rng_int(&c->rng, hi - lo + 1);
    int keep = s + (m ? vrp_rng_int(&c->rng, l + 1) : 0);
    return vrp_cut(c, st, r, s, total, keep, m, out);
}

int vrp_ruin(vrp_ctx *c, vrp_st *st, int avg_removed, int max_string, int *out)
{
    int routed = c->n_active - st->n_unrouted;
    if (st->n_routes == 0 || routed == 0)
        return 0;
    double ls_max = fmin((double)max_string, (double)routed / st->n_routes);
    double ks_max = 4.0 * avg_removed / (1.0 + ls_max) - 1.0;
    int ks = (int)(vrp_rng_unit(&c->rng) * ks_max) + 1;
    int seed;
    do
        seed = c->active[vrp_rng_int(&c->rng, c->n_active)];
    while (st->route_of[seed] < 0);
    int removed = 0, ruined = 0;
    c->stamp++;
    for (int k = -1; k < c->k_nbr && ruined < ks; k++) {
        int u = k < 0 ? seed : c->nbr[(size_t)seed * (size_t)c->k_nbr + (size_t)k];
        int r = st->route_of[u];
        if (r < 0 || c->mark[r] == c->stamp)
            continue;
        int len = st->rt[r].len;
        int lmax = (int)fmin((double)len, ls_max);
        int l = 1 + vrp_rng_int(&c->rng, lmax > 0 ? lmax : 1);
        removed += vrp_cut_string(c, st, r, st->pos_of[u], l, out + removed);
        c->mark[r] = c->stamp;
        ruined++;
    }
    return removed;
}
