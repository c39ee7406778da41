/* The simulated marketplace's parties, catalogue and stock as rows, in the
 * one order that keeps them deterministic, for whichever way they are
 * loaded: COPY (sim_copy.c) or the storefront API (sim_http.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

static const char *const sim_seller_kind[SIM_NCUR] = {"GmbH", "Inc.", "Ltd", "K.K.", "W.L.L."};
static const char *const sim_first[] = {"Anna",   "Ben",    "Clara", "David", "Emma", "Felix",
                                        "Greta",  "Hannah", "Jonas", "Lea",   "Mia",  "Noah",
                                        "Olivia", "Paul",   "Sofia", "Yuki",  "Omar", "Aisha"};
static const char *const sim_last[] = {"Müller", "Schmidt", "Schneider", "Fischer", "Weber",
                                       "Meyer",  "Wagner",  "Becker",    "Smith",   "Jones",
                                       "Tanaka", "Sato",    "Al-Sabah",  "Brown",   "Hoffmann"};
static const int64_t sim_fixed_fee[SIM_NCUR] = {30, 30, 25, 50, 100};

void sim_depot_code(const sim_world *w, uint32_t d, char *buf)
{
    snprintf(buf, 48, "BER-%02lld", (long long)(w->base.depot + 1 + d));
}

void sim_seller_ref(const sim_world *w, uint32_t s, char *buf)
{
    snprintf(buf, 48, "seller-%06lld", (long long)(w->base.seller + 1 + s));
}

void sim_buyer_ref(const sim_world *w, uint32_t buyer, char *buf)
{
    snprintf(buf, 48, "buyer-%08lld", (long long)(w->base.buyer + 1 + buyer));
}

void sim_format_coord(int32_t micro, char *buf)
{
    snprintf(buf, 24, "%s%d.%06d", micro < 0 ? "-" : "", abs(micro) / 1000000,
             abs(micro) % 1000000);
}

void sim_product_sku(const sim_world *w, uint32_t i, char *buf)
{
    const sim_product *p = &w->products[i];
    uint32_t j = i - w->seller_first_product[p->seller];
    snprintf(buf, 48, "%.3s-%05u", sim_categories[p->category], 1000 + j);
    for (char *q = buf; *q && *q != '-'; q++)
        *q = (char)(*q - 'a' + 'A');
}

int sim_parties(const sim_world *w, sim_party_fn fn, void *arg)
{
    sim_rng r;
    sim_rng_seed(&r, w->opt.seed, 2);
    const sim_bases *b = &w->base;
    sim_party p;
    for (uint32_t d = 0; d < w->n_depots; d++) {
        memset(&p, 0, sizeof p);
        p.kind = SIM_P_DEPOT;
        p.index = d;
        p.id = b->depot + 1 + d;
        sim_depot_code(w, d, p.ref);
        snprintf(p.name, sizeof p.name, "Berlin depot %lld", (long long)p.id);
        p.lat = w->depot_lat[d];
        p.lon = w->depot_lon[d];
        if (fn(arg, &p))
            return -1;
    }
    for (uint32_t s = 0; s < w->opt.sellers; s++) {
        memset(&p, 0, sizeof p);
        p.kind = SIM_P_SELLER;
        p.index = s;
        p.id = b->seller + 1 + s;
        p.cur = w->seller_cur[s];
        sim_seller_ref(w, s, p.ref);
        snprintf(p.name, sizeof p.name, "%s %s %s", sim_last[sim_rng_below(&r, 15)],
                 sim_categories[w->products[w->seller_first_product[s]].category],
                 sim_seller_kind[p.cur]);
        p.commission_bp = 500 + 50 * (int64_t)sim_rng_below(&r, 31);
        p.commission_fixed = sim_rng_below(&r, 3) == 0 ? sim_fixed_fee[p.cur] : 0;
        p.commission_min = sim_rng_below(&r, 4) == 0 ? 2 * sim_fixed_fee[p.cur] : 0;
        p.created_at = w->opt.start - 86400 - (int64_t)sim_rng_below(&r, 365 * 86400);
        if (fn(arg, &p))
            return -1;
    }
    for (uint32_t i = 0; i < w->opt.buyers; i++) {
        memset(&p, 0, sizeof p);
        p.kind = SIM_P_BUYER;
        p.index = i;
        p.id = b->buyer + 1 + i;
        p.cur = w->buyer_cur[i];
        sim_buyer_ref(w, i, p.ref);
        snprintf(p.email, sizeof p.email, "buyer%lld@example.com", (long long)p.id);
        snprintf(p.name, sizeof p.name, "%s %s", sim_first[sim_rng_below(&r, 18)],
                 sim_last[sim_rng_below(&r, 15)]);
        p.created_at = w->opt.start - 86400 - (int64_t)sim_rng_below(&r, 3 * 365 * 86400);
        if (fn(arg, &p))
            return -1;
    }
    for (uint32_t a = 0; a < w->opt.agents; a++) {
        static const char *const shifts[][2] = {
            {"06:00", "14:00"}, {"08:00", "16:00"}, {"12:00", "20:00"}};
        memset(&p, 0, sizeof p);
        p.kind = SIM_P_AGENT;
        p.index = a;
        p.id = b->agent + 1 + a;
        int sh = (int)sim_rng_below(&r, 3);
        snprintf(p.name, sizeof p.name, "%s %s", sim_first[sim_rng_below(&r, 18)],
                 sim_last[sim_rng_below(&r, 15)]);
        p.depot_id = b->depot + 1 + w->agent_depot[a];
        p.shift_start = shifts[sh][0];
        p.shift_end = shifts[sh][1];
        p.capacity_g = 1000 * (300 + 50 * (int64_t)sim_rng_below(&r, 11));
        if (fn(arg, &p))
            return -1;
    }
    for (uint32_t i = 0; i < w->n_products; i++) {
        const sim_product *pr = &w->products[i];
        memset(&p, 0, sizeof p);
        p.kind = SIM_P_PRODUCT;
        p.index = i;
        p.id = b->product + 1 + i;
        p.cur = pr->cur;
        p.seller_id = b->seller + 1 + pr->seller;
        sim_seller_ref(w, pr->seller, p.seller_ref);
        sim_product_sku(w, i, p.ref);
        snprintf(p.name, sizeof p.name, "%s item %u", sim_categories[pr->category],
                 i - w->seller_first_product[pr->seller] + 1);
        p.category = sim_categories[pr->category];
        p.price = pr->price;
        p.weight_g = pr->weight_g;
        p.created_at = w->opt.start - 86400 - (int64_t)sim_rng_below(&r, 365 * 86400);
        if (fn(arg, &p))
            return -1;
    }
    return 0;
}

void sim_order_reserve(sim_world *w, const sim_order *o)
{
    if (o->status != SIM_ORD_PLACED && o->status != SIM_ORD_PAID)
        return;
    for (int i = 0; i < o->n_lines; i++)
        w->reserved[o->lines[i].product] += o->lines[i].qty;
}

int sim_stock(const sim_world *w, sim_stock_fn fn, void *arg)
{
    sim_rng r;
    sim_rng_seed(&r, w->opt.seed, 3);
    for (uint32_t i = 0; i < w->n_products; i++) {
        const sim_product *p = &w->products[i];
        int64_t reserved = w->reserved[i];
        /* about 1% oversold: on hand below what open orders hold */
        int64_t on_hand =
            sim_rng_below(&r, 100) == 0 ? reserved / 2 : reserved + (int64_t)sim_rng_below(&r, 200);
        int second = sim_rng_below(&r, 10) < 3 && w->n_depots > 1;
        for (int k = 0; k <= second; k++) {
            sim_stock_row s = {
                .product = i,
                .product_id = w->base.product + 1 + i,
                .depot = (p->warehouse + (uint32_t)k) % w->n_depots,
                .on_hand = k ? (int64_t)sim_rng_below(&r, 100) : on_hand,
                .reserved = k ? 0 : reserved,
            };
            s.depot_id = w->base.depot + 1 + s.depot;
            s.safety_stock = (int64_t)sim_rng_below(&r, 11);
            s.updated_at = w->end - 1 - (int64_t)sim_rng_below(&r, 86400);
            if (fn(arg, &s))
                return -1;
        }
    }
    return 0;
}

void sim_settled_add(sim_settled_list *l, const sim_order *o, const sim_payment *p)
{
    if (p->kind == SIM_AUTH || p->status != SIM_SUCCEEDED)
        return;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 4096;
        l->items = xrealloc(l->items, l->cap * sizeof *l->items);
    }
    l->items[l->n++] = (sim_settled){p->at,       p->id,   o->id,  p->amount, p->fee,
                                     o->provider, p->kind, o->cur, o->source, o->buyer};
}
