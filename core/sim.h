/* `purser simulate`: a deterministic marketplace. sim_gen.c builds the
 * world (sellers, products, buyers, depots, agents) and each order with its
 * lines, payments and delivery as a pure function of (seed, order number);
 * sim_copy.c streams them into the store with COPY; sim_providers.c writes
 * the providers' settlement reports with injected discrepancies and the
 * answer key. */
#ifndef PURSER_SIM_H
#define PURSER_SIM_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

/* ---- deterministic randomness (never rand()) ---------------------------- */

typedef struct sim_rng {
    uint64_t s[4]; /* xoshiro256** state */
} sim_rng;

/* splitmix64's finaliser: a bijection on 64 bits, so distinct inputs give
 * distinct outputs (used for unique provider references). */
static inline uint64_t sim_mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

void sim_rng_seed(sim_rng *r, uint64_t seed, uint64_t stream);
uint64_t sim_rng_next(sim_rng *r);
uint64_t sim_rng_below(sim_rng *r, uint64_t n); /* uniform in [0, n), n > 0 */
double sim_rng_unit(sim_rng *r);                /* uniform in [0, 1) */
double sim_rng_normal(sim_rng *r);              /* standard normal */

/* ---- the fixed parts of the simulated market ---------------------------- */

enum { SIM_EUR, SIM_USD, SIM_GBP, SIM_JPY, SIM_KWD, SIM_NCUR };
enum { SIM_STRIPE, SIM_ADYEN, SIM_PAYPAL, SIM_NPROV };
enum { SIM_AUTH, SIM_CAPTURE, SIM_REFUND, SIM_CHARGEBACK };
enum { SIM_SUCCEEDED, SIM_FAILED };
enum { SIM_DLV_PENDING, SIM_DLV_ASSIGNED, SIM_DLV_PICKED_UP, SIM_DLV_DELIVERED, SIM_DLV_FAILED };
enum {
    SIM_ORD_PLACED,
    SIM_ORD_PAID,
    SIM_ORD_SHIPPED,
    SIM_ORD_DELIVERED,
    SIM_ORD_CANCELLED,
    SIM_ORD_REFUNDED
};

typedef struct sim_currency {
    const char *code;
    int exponent;
    const char *country; /* buyers paying in it live there */
} sim_currency;

extern const sim_currency sim_currencies[SIM_NCUR];
extern const char *const sim_provider_names[SIM_NPROV];
extern const char *const sim_payment_kinds[4];
extern const char *const sim_delivery_statuses[5];
extern const char *const sim_order_statuses[6];

/* ---- options and the generated world ------------------------------------ */

typedef struct sim_options {
    uint64_t orders;
    int days;
    uint32_t sellers, buyers, agents;
    uint64_t seed;
    int64_t start;       /* unix seconds, 00:00 UTC of --start */
    char start_date[11]; /* YYYY-MM-DD */
    const char *out_dir;
    double discrepancy_rate;
    bool append;
} sim_options;

typedef struct sim_product {
    int64_t price;   /* minor units of cur */
    uint32_t seller; /* index */
    uint32_t weight_g;
    uint16_t warehouse; /* depot index */
    uint8_t cur, category;
} sim_product;

/* Identifier offsets: ids are base + 1 + index, so --append continues
 * after what the store holds. */
typedef struct sim_bases {
    int64_t depot, seller, buyer, agent, product, order;
} sim_bases;

typedef struct sim_cdf {
    uint32_t *item; /* owned */
    double *cum;    /* owned, cumulative weights, increasing */
    uint32_t n;
} sim_cdf;

typedef struct sim_world {
    sim_options opt;
    sim_bases base;
    int64_t end; /* unix seconds: start + days; "now" for the simulated state */
    uint32_t n_depots;
    int32_t *depot_lat, *depot_lon; /* micro-degrees */
    uint8_t *seller_cur;
    uint32_t n_products;
    sim_product *products;
    uint32_t *seller_first_product; /* products of seller s: [first[s], first[s+1]) */
    sim_cdf product_cdf[SIM_NCUR];
    uint8_t *buyer_cur;
    sim_cdf buyer_cdf;
    uint16_t *agent_depot;
    uint32_t *depot_agents;      /* agent indexes grouped by depot */
    uint32_t *depot_agent_first; /* n_depots + 1 */
    uint32_t n_hours;
    uint64_t *hour_first; /* n_hours + 1: first order number placed in each hour */
    int64_t *reserved;    /* per product: quantity held by open orders (filled by loading) */
} sim_world;

/* ---- one order, everything about it ------------------------------------- */

#define SIM_MAX_LINES 6
#define SIM_MAX_PAYMENTS 5
#define SIM_MAX_EVENTS 5

typedef struct sim_line {
    uint32_t product;
    int32_t qty;
    int64_t unit_price, total;
} sim_line;

typedef struct sim_payment {
    int64_t id, parent_id; /* parent 0 when none */
    int64_t amount, fee;   /* fee -1 when NULL */
    int64_t at;
    uint8_t kind, status;
} sim_payment;

typedef struct sim_event {
    int64_t at;
    uint8_t status;
    bool with_agent;
} sim_event;

typedef struct sim_order {
    int64_t id, placed_at;
    uint32_t buyer;
    uint8_t cur, status, provider, source;
    int n_lines, n_payments, n_events;
    sim_line lines[SIM_MAX_LINES];
    int64_t items, shipping, tax, discount, total;
    sim_payment payments[SIM_MAX_PAYMENTS];
    bool has_delivery;
    uint8_t dlv_status;
    uint16_t depot;
    uint32_t agent;
    int32_t lat, lon; /* micro-degrees */
    uint32_t street, house, postcode;
    int64_t window_start, window_end, delivered_at; /* delivered_at 0 when none */
    int32_t weight_g, service_min;
    sim_event events[SIM_MAX_EVENTS];
} sim_order;

/* Build the world from w->opt and w->base; 0, or -1 with err. */
int sim_world_build(sim_world *w, char *err, size_t errlen);
void sim_world_free(sim_world *w);
/* Order number n (0-based) of this run, a pure function of the seed. */
void sim_order_generate(const sim_world *w, uint64_t n, sim_order *o);

/* The provider's fee for a payment event (>= 0), and for adyen its report
 * columns (commission, markup, scheme fees, interchange) summing to it. */
int64_t sim_fee(int provider, int cur, int kind, int64_t amount);
void sim_adyen_fee_parts(int cur, int kind, int64_t amount, int64_t parts[4]);

/* Names and references derived from ids (buffers of 48 bytes). */
void sim_order_external_ref(const sim_world *w, const sim_order *o, char *buf);
const char *sim_order_source(uint8_t source);
void sim_provider_ref(const sim_world *w, int provider, int kind, int64_t payment_id, char *buf);
const char *sim_street(uint32_t street);
extern const char *const sim_categories[];

/* Dates: "YYYY-MM-DD HH:MM:SS" (19 chars + NUL) from unix seconds. */
void sim_format_time(int64_t t, char *buf);
/* Parse YYYY-MM-DD into unix seconds at 00:00 UTC; -1 when invalid. */
int64_t sim_parse_date(const char *s);

/* ---- the world as rows (sim_rows.c) ------------------------------------- */

enum { SIM_P_DEPOT, SIM_P_SELLER, SIM_P_BUYER, SIM_P_AGENT, SIM_P_PRODUCT };

/* One depot, seller, buyer, delivery agent or product; which fields mean
 * something depends on kind. Strings are the row's own or static. */
typedef struct sim_party {
    int kind;
    uint32_t index; /* in its kind, 0-based */
    int64_t id;
    char ref[48]; /* depot code, seller/buyer external_ref, product SKU */
    char name[96];
    char email[64];       /* buyer */
    int cur;              /* seller, buyer, product: index into sim_currencies */
    int64_t seller_id;    /* product */
    char seller_ref[48];  /* product */
    const char *category; /* product */
    int64_t depot_id;     /* agent's home depot */
    const char *shift_start, *shift_end;
    int64_t commission_bp, commission_fixed, commission_min; /* seller */
    int64_t price, weight_g, capacity_g;
    int32_t lat, lon; /* depot, micro-degrees */
    int64_t created_at;
} sim_party;

/* Called for every row in order (depots, sellers, buyers, agents,
 * products); a non-zero return stops the walk. */
typedef int (*sim_party_fn)(void *arg, const sim_party *p);
int sim_parties(const sim_world *w, sim_party_fn fn, void *arg);

/* Names derived from indexes (buffers of 48 bytes). */
void sim_depot_code(const sim_world *w, uint32_t depot, char *buf);
void sim_seller_ref(const sim_world *w, uint32_t seller, char *buf);
void sim_product_sku(const sim_world *w, uint32_t product, char *buf);
void sim_buyer_ref(const sim_world *w, uint32_t buyer, char *buf);
/* Micro-degrees as their exact decimal, "52.520008" (24 bytes). */
void sim_format_coord(int32_t micro, char *buf);

/* Count what an open order holds in w->reserved; call once per order,
 * before sim_stock. */
void sim_order_reserve(sim_world *w, const sim_order *o);

typedef struct sim_stock_row {
    uint32_t product, depot; /* indexes */
    int64_t product_id, depot_id;
    int64_t on_hand, reserved, safety_stock, updated_at;
} sim_stock_row;

typedef int (*sim_stock_fn)(void *arg, const sim_stock_row *s);
/* Stock per product and warehouse, from w->reserved. */
int sim_stock(const sim_world *w, sim_stock_fn fn, void *arg);

/* ---- loading (sim_copy.c) ----------------------------------------------- */

/* Settled provider events (succeeded captures, refunds, chargebacks),
 * gathered while loading, written as reports afterwards. */
typedef struct sim_settled {
    int64_t at, payment_id, order_id, amount, fee;
    uint8_t provider, kind, cur, source;
    uint32_t buyer;
} sim_settled;

typedef struct sim_settled_list {
    sim_settled *items;
    size_t n, cap;
} sim_settled_list;

/* Remember a settled provider event (succeeded capture, refund or
 * chargeback); others are ignored. */
void sim_settled_add(sim_settled_list *l, const sim_order *o, const sim_payment *p);

typedef struct sim_counts {
    uint64_t orders, items, payments, deliveries, events, other;
} sim_counts;

/* Check that the store exists (and is empty unless append), read the id
 * bases into w->base. 0, or -1 with a message in err. */
int sim_store_check(PGconn *c, bool append, sim_bases *base, char *err, size_t errlen);
/* Load the parties by COPY: all of them, or with only_back_office the
 * depots and delivery agents (storefronts never send those). */
int sim_load_parties(PGconn *c, const sim_world *w, bool only_back_office, sim_counts *n, char *err,
                     size_t errlen);
/* Load everything in one transaction; fills settled and counts. */
int sim_load(PGconn *c, sim_world *w, sim_settled_list *settled, sim_counts *counts, char *err,
             size_t errlen);

/* Give each table's id sequence its next free value after a load with
 * explicit ids. */
int sim_set_sequences(PGconn *c, char *err, size_t errlen);

/* ---- through the storefront API (sim_http.c) ----------------------------- */

typedef struct sim_http_options {
    const char *url;   /* "http://127.0.0.1:8080", no trailing slash; borrowed */
    const char *token; /* an intake bearer token; borrowed */
    int connections;   /* requests in flight at once */
    long timeout_ms;   /* per request */
} sim_http_options;

/* Load depots and delivery agents by COPY (committed), then send
 * everything else through the intake; fills settled and counts like
 * sim_load. 0, or -1 with err naming the request that failed. */
int sim_http_load(PGconn *c, sim_world *w, const sim_http_options *opt, sim_settled_list *settled,
                  sim_counts *counts, char *err, size_t errlen);

/* ---- the outside world's files (sim_providers.c) ------------------------ */

typedef struct sim_report_stats {
    uint64_t files, rows, injected;
} sim_report_stats;

/* Write DIR/<provider>_<date>.csv and DIR/answer-key.csv; sorts settled. */
int sim_write_reports(const sim_world *w, sim_settled_list *settled, sim_report_stats *st,
                      char *err, size_t errlen);

#endif
