/* The simulated marketplace: the world (depots and agents in Berlin,
 * sellers, products with log-normal prices per category, buyers) and each
 * order as a pure function of (seed, order number), so that every pass and
 * every run sees the same traffic. Distributions use doubles; amounts are
 * rounded to whole minor units once and then handled as integers. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "purser/money.h"
#include "sim.h"

const sim_currency sim_currencies[SIM_NCUR] = {
    {"EUR", 2, "DE"}, {"USD", 2, "US"}, {"GBP", 2, "GB"}, {"JPY", 0, "JP"}, {"KWD", 3, "KW"},
};
const char *const sim_provider_names[SIM_NPROV] = {"stripe", "adyen", "paypal"};
const char *const sim_payment_kinds[4] = {"authorisation", "capture", "refund", "chargeback"};
const char *const sim_delivery_statuses[5] = {"pending", "assigned", "picked_up", "delivered",
                                              "failed"};
const char *const sim_order_statuses[6] = {"placed",    "paid",      "shipped",
                                           "delivered", "cancelled", "refunded"};

/* ---- randomness ------------------------------------------------------------ */

void sim_rng_seed(sim_rng *r, uint64_t seed, uint64_t stream)
{
    uint64_t x = seed ^ sim_mix64(stream + 0x9e3779b97f4a7c15ULL);
    for (int i = 0; i < 4; i++) {
        x += 0x9e3779b97f4a7c15ULL;
        r->s[i] = sim_mix64(x);
    }
}

static inline uint64_t sim_rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t sim_rng_next(sim_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = sim_rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = sim_rotl(s[3], 45);
    return result;
}

uint64_t sim_rng_below(sim_rng *r, uint64_t n)
{
    /* Lemire's multiply-shift with rejection: unbiased */
    unsigned __int128 m = (unsigned __int128)sim_rng_next(r) * n;
    uint64_t lo = (uint64_t)m;
    if (lo < n) {
        uint64_t threshold = -n % n;
        while (lo < threshold) {
            m = (unsigned __int128)sim_rng_next(r) * n;
            lo = (uint64_t)m;
        }
    }
    return (uint64_t)(m >> 64);
}

double sim_rng_unit(sim_rng *r)
{
    return (double)(sim_rng_next(r) >> 11) * 0x1.0p-53;
}

double sim_rng_normal(sim_rng *r)
{
    double u = 1.0 - sim_rng_unit(r), v = sim_rng_unit(r);
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

/* Index in [0, n) drawn by the integer weights w (percent-style tables). */
static int sim_pick(sim_rng *r, const int *w, int n)
{
    int total = 0;
    for (int i = 0; i < n; i++)
        total += w[i];
    int x = (int)sim_rng_below(r, (uint64_t)total);
    for (int i = 0; i < n; i++) {
        if (x < w[i])
            return i;
        x -= w[i];
    }
    return n - 1;
}

static uint32_t sim_cdf_sample(const sim_cdf *c, sim_rng *r)
{
    double x = sim_rng_unit(r) * c->cum[c->n - 1];
    uint32_t lo = 0, hi = c->n - 1;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (c->cum[mid] > x)
            hi = mid;
        else
            lo = mid + 1;
    }
    return c->item ? c->item[lo] : lo;
}

/* ---- dates ----------------------------------------------------------------- */

/* Howard Hinnant's civil calendar algorithms. */
static int64_t sim_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void sim_civil_from_days(int64_t z, int *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)((int64_t)yoe + era * 400 + (*m <= 2));
}

static void sim_put2(char *p, int v)
{
    p[0] = (char)('0' + v / 10);
    p[1] = (char)('0' + v % 10);
}

void sim_format_time(int64_t t, char *buf)
{
    int64_t days = t >= 0 ? t / 86400 : (t - 86399) / 86400;
    int64_t secs = t - days * 86400;
    int y, m, d;
    sim_civil_from_days(days, &y, &m, &d);
    sim_put2(buf, y / 100);
    sim_put2(buf + 2, y % 100);
    buf[4] = '-';
    sim_put2(buf + 5, m);
    buf[7] = '-';
    sim_put2(buf + 8, d);
    buf[10] = ' ';
    sim_put2(buf + 11, (int)(secs / 3600));
    buf[13] = ':';
    sim_put2(buf + 14, (int)(secs / 60 % 60));
    buf[16] = ':';
    sim_put2(buf + 17, (int)(secs % 60));
    buf[19] = '\0';
}

int64_t sim_parse_date(const char *s)
{
    int y, m, d;
    char extra;
    if (strlen(s) != 10 || s[4] != '-' || s[7] != '-' ||
        sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &extra) != 3)
        return -1;
    if (y < 1971 || y > 9998 || m < 1 || m > 12 || d < 1 || d > 31)
        return -1;
    int64_t days = sim_days_from_civil(y, (unsigned)m, (unsigned)d);
    int cy, cm, cd;
    sim_civil_from_days(days, &cy, &cm, &cd);
    if (cy != y || cm != m || cd != d) /* 2025-02-30 */
        return -1;
    return days * 86400;
}

/* ---- the world ------------------------------------------------------------- */

const char *const sim_categories[] = {"books",   "electronics", "fashion", "home",
                                      "grocery", "toys",        "beauty",  "sports"};
#define SIM_NCAT 8
/* median price in EUR cents, log-normal sigma, median weight in grams */
static const struct {
    double median_cents, sigma;
    int weight_g;
} sim_category_prices[SIM_NCAT] = {
    {1400, 0.45, 400}, {9000, 1.0, 900}, {3800, 0.55, 500}, {3000, 0.8, 1500},
    {600, 0.5, 1000},  {2200, 0.6, 700}, {1600, 0.5, 250},  {4200, 0.8, 1200},
};
static const int sim_category_weights[SIM_NCAT] = {12, 14, 22, 14, 10, 10, 10, 8};
static const int sim_currency_weights[SIM_NCUR] = {55, 20, 12, 8, 5};
/* one EUR in each currency's major units */
static const double sim_fx[SIM_NCUR] = {1.0, 1.08, 0.86, 160.0, 0.33};

/* Berlin: district centres (micro-degrees) inside the city's bounding box
 * 52.3383..52.6755 N, 13.0884..13.7612 E. */
#define SIM_LAT_MIN 52338300
#define SIM_LAT_MAX 52675500
#define SIM_LON_MIN 13088400
#define SIM_LON_MAX 13761200
static const struct {
    const char *name;
    int32_t lat, lon;
} sim_districts[] = {
    {"Mitte", 52520000, 13405000},          {"Kreuzberg", 52499000, 13403000},
    {"Neukoelln", 52481100, 13435300},      {"Charlottenburg", 52516000, 13304000},
    {"Pankow", 52569000, 13401000},         {"Lichtenberg", 52515000, 13499000},
    {"Tempelhof", 52466000, 13385000},      {"Steglitz", 52456000, 13322000},
    {"Spandau", 52535000, 13200000},        {"Marzahn", 52543000, 13564000},
    {"Koepenick", 52445000, 13574000},      {"Reinickendorf", 52589000, 13330000},
    {"Friedrichshain", 52515000, 13454000}, {"Prenzlauer Berg", 52539000, 13424000},
    {"Wedding", 52550000, 13366000},        {"Schoeneberg", 52482000, 13353000},
    {"Zehlendorf", 52434000, 13259000},     {"Treptow", 52493000, 13478000},
    {"Hellersdorf", 52536000, 13605000},    {"Weissensee", 52555000, 13466000},
};
#define SIM_NDISTRICTS ((int)(sizeof sim_districts / sizeof sim_districts[0]))

static const char *const sim_streets[] = {
    "Friedrichstraße",   "Karl-Marx-Allee",   "Kurfürstendamm",       "Sonnenallee",
    "Schönhauser Allee", "Torstraße",         "Oranienstraße",        "Kastanienallee",
    "Bergmannstraße",    "Frankfurter Allee", "Warschauer Straße",    "Hermannstraße",
    "Kantstraße",        "Müllerstraße",      "Turmstraße",           "Greifswalder Straße",
    "Prenzlauer Allee",  "Boxhagener Straße", "Wilmersdorfer Straße", "Schloßstraße",
    "Potsdamer Straße",  "Yorckstraße",       "Gneisenaustraße",      "Badstraße",
    "Berliner Allee",    "Hauptstraße",       "Invalidenstraße",      "Chausseestraße",
    "Danziger Straße",   "Skalitzer Straße",  "Revaler Straße",       "Alt-Moabit",
};
#define SIM_NSTREETS ((uint32_t)(sizeof sim_streets / sizeof sim_streets[0]))

const char *sim_street(uint32_t street)
{
    return sim_streets[street % SIM_NSTREETS];
}

static int32_t sim_clamp32(int64_t v, int32_t lo, int32_t hi)
{
    return v < lo ? lo : v > hi ? hi : (int32_t)v;
}

/* A point near a district centre, inside the bounding box. */
static void sim_berlin_point(sim_rng *r, int32_t *lat, int32_t *lon)
{
    int d = (int)sim_rng_below(r, SIM_NDISTRICTS);
    *lat = sim_clamp32(sim_districts[d].lat + (int64_t)(sim_rng_normal(r) * 15000), SIM_LAT_MIN,
                       SIM_LAT_MAX);
    *lon = sim_clamp32(sim_districts[d].lon + (int64_t)(sim_rng_normal(r) * 25000), SIM_LON_MIN,
                       SIM_LON_MAX);
}

/* A shop price for a log-normal draw: x.99 for cents currencies, whole 10
 * yen, 0.050 steps in KWD. */
static int64_t sim_price(sim_rng *r, int cat, int cur)
{
    double eur_cents = sim_category_prices[cat].median_cents *
                       exp(sim_category_prices[cat].sigma * sim_rng_normal(r));
    double major = eur_cents / 100.0 * sim_fx[cur];
    int64_t p;
    switch (sim_currencies[cur].exponent) {
    case 0:
        p = (int64_t)llround(major / 10.0) * 10;
        return p < 10 ? 10 : p;
    case 3:
        p = (int64_t)llround(major * 20.0) * 50;
        return p < 50 ? 50 : p;
    default:
        p = (int64_t)llround(major) * 100 - 1;
        return p < 99 ? 99 : p;
    }
}

static void sim_cdf_alloc(sim_cdf *c, uint32_t n, bool items)
{
    c->n = 0;
    c->cum = xmalloc((n ? n : 1) * sizeof *c->cum);
    c->item = items ? xmalloc((n ? n : 1) * sizeof *c->item) : NULL;
}

static void sim_cdf_add(sim_cdf *c, uint32_t item, double weight)
{
    double prev = c->n ? c->cum[c->n - 1] : 0;
    c->cum[c->n] = prev + weight;
    if (c->item)
        c->item[c->n] = item;
    c->n++;
}

static void sim_build_places(sim_world *w, sim_rng *r)
{
    uint32_t nd = w->opt.agents / 10;
    w->n_depots = nd < 2 ? 2 : nd > 20 ? 20 : nd;
    w->depot_lat = xmalloc(w->n_depots * sizeof *w->depot_lat);
    w->depot_lon = xmalloc(w->n_depots * sizeof *w->depot_lon);
    for (uint32_t i = 0; i < w->n_depots; i++) {
        w->depot_lat[i] = sim_districts[i].lat + (int32_t)sim_rng_below(r, 4000) - 2000;
        w->depot_lon[i] = sim_districts[i].lon + (int32_t)sim_rng_below(r, 4000) - 2000;
    }
    w->agent_depot = xmalloc((w->opt.agents ? w->opt.agents : 1) * sizeof *w->agent_depot);
    w->depot_agent_first = xcalloc(w->n_depots + 1, sizeof *w->depot_agent_first);
    w->depot_agents = xmalloc((w->opt.agents ? w->opt.agents : 1) * sizeof *w->depot_agents);
    for (uint32_t a = 0; a < w->opt.agents; a++)
        w->agent_depot[a] = (uint16_t)(a % w->n_depots);
    /* grouped by depot: agents a = d, d + n, d + 2n, ... */
    uint32_t k = 0;
    for (uint32_t d = 0; d < w->n_depots; d++) {
        w->depot_agent_first[d] = k;
        for (uint32_t a = d; a < w->opt.agents; a += w->n_depots)
            w->depot_agents[k++] = a;
    }
    w->depot_agent_first[w->n_depots] = k;
}

static void sim_build_catalogue(sim_world *w, sim_rng *r)
{
    uint32_t ns = w->opt.sellers;
    w->seller_cur = xmalloc(ns);
    w->seller_first_product = xmalloc((ns + 1) * sizeof *w->seller_first_product);
    uint32_t *counts = xmalloc(ns * sizeof *counts);
    uint32_t total = 0;
    for (uint32_t s = 0; s < ns; s++) {
        /* the first sellers cover every currency; then by market share */
        w->seller_cur[s] =
            (uint8_t)(s < SIM_NCUR ? (int)s : sim_pick(r, sim_currency_weights, SIM_NCUR));
        double u = sim_rng_unit(r);
        counts[s] = 5 + (uint32_t)(60.0 * u * u * u);
        w->seller_first_product[s] = total;
        total += counts[s];
    }
    w->seller_first_product[ns] = total;
    w->n_products = total;
    w->products = xmalloc(total * sizeof *w->products);
    w->reserved = xcalloc(total, sizeof *w->reserved);
    for (int c = 0; c < SIM_NCUR; c++)
        sim_cdf_alloc(&w->product_cdf[c], total, true);
    for (uint32_t s = 0; s < ns; s++) {
        int cur = w->seller_cur[s];
        int main_cat = sim_pick(r, sim_category_weights, SIM_NCAT);
        double seller_pop = 1.0 / (double)(s + 1); /* Zipf over sellers */
        for (uint32_t j = 0; j < counts[s]; j++) {
            uint32_t i = w->seller_first_product[s] + j;
            sim_product *p = &w->products[i];
            int cat = sim_rng_below(r, 4) ? main_cat : sim_pick(r, sim_category_weights, SIM_NCAT);
            p->seller = s;
            p->cur = (uint8_t)cur;
            p->category = (uint8_t)cat;
            p->price = sim_price(r, cat, cur);
            double wg = sim_category_prices[cat].weight_g * exp(0.6 * sim_rng_normal(r));
            p->weight_g = wg < 20 ? 20 : wg > 30000 ? 30000 : (uint32_t)wg;
            p->warehouse = (uint16_t)((s + j) % w->n_depots);
            sim_cdf_add(&w->product_cdf[cur], i, seller_pop / pow((double)(j + 1), 1.1));
        }
    }
    free(counts);
}

static void sim_build_buyers(sim_world *w, sim_rng *r)
{
    uint32_t nb = w->opt.buyers;
    w->buyer_cur = xmalloc(nb);
    sim_cdf_alloc(&w->buyer_cdf, nb, false);
    for (uint32_t b = 0; b < nb; b++) {
        w->buyer_cur[b] = (uint8_t)sim_pick(r, sim_currency_weights, SIM_NCUR);
        sim_cdf_add(&w->buyer_cdf, b, 1.0 / pow((double)(b + 1), 0.6)); /* repeat buyers */
    }
}

/* Orders per hour: daily curve (Berlin time, UTC+1), weekly curve, day noise
 * and a slight trend; exactly opt.orders in total by largest remainder. */
static void sim_build_calendar(sim_world *w, sim_rng *r)
{
    static const double hourly[24] = {0.3, 0.2, 0.1, 0.1, 0.1, 0.2, 0.4, 0.7, 1.0, 1.2, 1.3, 1.4,
                                      1.6, 1.5, 1.3, 1.3, 1.4, 1.5, 1.7, 2.0, 2.2, 2.0, 1.4, 0.8};
    static const double weekly[7] = {0.92, 0.95, 0.97, 1.0, 1.06, 1.12, 1.18}; /* Mon..Sun */
    uint32_t nh = (uint32_t)w->opt.days * 24;
    w->n_hours = nh;
    double *weight = xmalloc(nh * sizeof *weight), total = 0;
    int64_t day0 = w->opt.start / 86400;
    for (int d = 0; d < w->opt.days; d++) {
        int dow = (int)((day0 + d + 3) % 7); /* 1970-01-01 was a Thursday */
        double day =
            weekly[dow] * (1.0 + 0.08 * sim_rng_normal(r)) * (1.0 + 0.2 * d / (double)w->opt.days);
        if (day < 0.3)
            day = 0.3;
        for (int h = 0; h < 24; h++) {
            weight[d * 24 + h] = day * hourly[(h + 1) % 24];
            total += weight[d * 24 + h];
        }
    }
    uint64_t *count = xmalloc(nh * sizeof *count), given = 0;
    double *frac = xmalloc(nh * sizeof *frac);
    for (uint32_t h = 0; h < nh; h++) {
        double e = (double)w->opt.orders * weight[h] / total;
        count[h] = (uint64_t)e;
        frac[h] = e - (double)count[h];
        given += count[h];
    }
    while (given < w->opt.orders) { /* hand out the rest, largest fraction first */
        uint32_t best = 0;
        for (uint32_t h = 1; h < nh; h++)
            if (frac[h] > frac[best])
                best = h;
        count[best]++;
        frac[best] = -1;
        given++;
    }
    w->hour_first = xmalloc((nh + 1) * sizeof *w->hour_first);
    uint64_t acc = 0;
    for (uint32_t h = 0; h < nh; h++) {
        w->hour_first[h] = acc;
        acc += count[h];
    }
    w->hour_first[nh] = acc;
    free(weight);
    free(count);
    free(frac);
}

int sim_world_build(sim_world *w, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    sim_rng r;
    sim_rng_seed(&r, w->opt.seed, 1);
    w->end = w->opt.start + (int64_t)w->opt.days * 86400;
    sim_build_places(w, &r);
    sim_build_catalogue(w, &r);
    sim_build_buyers(w, &r);
    sim_build_calendar(w, &r);
    return 0;
}

void sim_world_free(sim_world *w)
{
    free(w->depot_lat);
    free(w->depot_lon);
    free(w->seller_cur);
    free(w->products);
    free(w->seller_first_product);
    for (int c = 0; c < SIM_NCUR; c++) {
        free(w->product_cdf[c].item);
        free(w->product_cdf[c].cum);
    }
    free(w->buyer_cur);
    free(w->buyer_cdf.cum);
    free(w->buyer_cdf.item);
    free(w->agent_depot);
    free(w->depot_agents);
    free(w->depot_agent_first);
    free(w->hour_first);
    free(w->reserved);
    memset(w, 0, sizeof *w);
}

/* ---- fees ------------------------------------------------------------------ */

static int64_t sim_pct(int64_t amount, int64_t bp)
{
    int64_t v = 0;
    purser_money_muldiv(amount, bp, 10000, PURSER_ROUND_HALF_EVEN, &v);
    return v;
}

void sim_adyen_fee_parts(int cur, int kind, int64_t amount, int64_t parts[4])
{
    static const int64_t fixed[SIM_NCUR] = {11, 12, 10, 15, 40};
    static const int64_t dispute[SIM_NCUR] = {750, 800, 650, 1200, 2500};
    memset(parts, 0, 4 * sizeof *parts);
    if (kind == SIM_CAPTURE) {
        parts[0] = fixed[cur];          /* commission */
        parts[1] = sim_pct(amount, 60); /* markup */
        parts[2] = sim_pct(amount, 10); /* scheme fees */
        parts[3] = sim_pct(amount, 30); /* interchange */
    } else if (kind == SIM_CHARGEBACK) {
        parts[0] = dispute[cur];
    }
}

int64_t sim_fee(int provider, int cur, int kind, int64_t amount)
{
    static const int64_t stripe_fixed[SIM_NCUR] = {25, 30, 20, 40, 100};
    static const int64_t paypal_fixed[SIM_NCUR] = {35, 49, 30, 40, 100};
    static const int64_t dispute[SIM_NCUR] = {1500, 1500, 1500, 2000, 5000};
    if (kind == SIM_AUTH || kind == SIM_REFUND)
        return 0;
    if (provider == SIM_ADYEN) {
        int64_t p[4];
        sim_adyen_fee_parts(cur, kind, amount, p);
        return p[0] + p[1] + p[2] + p[3];
    }
    if (kind == SIM_CHARGEBACK)
        return dispute[cur];
    if (provider == SIM_STRIPE)
        return sim_pct(amount, 140) + stripe_fixed[cur];
    return sim_pct(amount, 249) + paypal_fixed[cur];
}

/* ---- references ------------------------------------------------------------ */

static const char sim_b62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/* width digits of x in base (36 or 62), most significant first */
static char *sim_digits(char *p, uint64_t x, int base, int width)
{
    for (int i = width - 1; i >= 0; i--) {
        p[i] = sim_b62[x % (uint64_t)base];
        x /= (uint64_t)base;
    }
    return p + width;
}

void sim_provider_ref(const sim_world *w, int provider, int kind, int64_t payment_id, char *buf)
{
    /* x is a bijection of the payment id for a given seed and provider: the
     * leading digits make references unique, the tail makes them look real */
    uint64_t key = sim_mix64(w->opt.seed ^ (0x5157ULL + (uint64_t)provider));
    uint64_t x = sim_mix64((uint64_t)payment_id ^ key), tail = sim_mix64(x + key);
    char *p = buf;
    if (provider == SIM_STRIPE) {
        static const char *const prefix[4] = {"pi_", "ch_", "re_", "dp_"};
        memcpy(p, prefix[kind], 3);
        p = sim_digits(p + 3, x, 62, 11);
        p = sim_digits(p, tail, 62, 10);
    } else {
        p = sim_digits(p, x, 36, 13);
        p = sim_digits(p, tail, 36, provider == SIM_ADYEN ? 3 : 4);
    }
    *p = '\0';
}

static const char *const sim_sources[] = {"web", "app", "shopify", "woocommerce"};

const char *sim_order_source(uint8_t source)
{
    return sim_sources[source & 3];
}

void sim_order_external_ref(const sim_world *w, const sim_order *o, char *buf)
{
    (void)w;
    static const char *const prefix[] = {"W-", "APP-", "#", "wc_order_"};
    snprintf(buf, 48, "%s%lld", prefix[o->source & 3], (long long)(o->id + 1000));
}

/* ---- one order ------------------------------------------------------------- */

static void sim_add_payment(sim_order *o, int64_t id, int64_t parent, int kind, int status,
                            int64_t amount, int64_t at)
{
    sim_payment *p = &o->payments[o->n_payments++];
    p->id = id;
    p->parent_id = parent;
    p->kind = (uint8_t)kind;
    p->status = (uint8_t)status;
    p->amount = amount;
    p->at = at;
    p->fee = kind == SIM_AUTH ? -1 : sim_fee(o->provider, o->cur, kind, amount);
}

static void sim_add_event(sim_order *o, int status, int64_t at, bool agent)
{
    o->events[o->n_events++] = (sim_event){at, (uint8_t)status, agent};
    o->dlv_status = (uint8_t)status;
}

static void sim_order_totals(const sim_world *w, sim_order *o, sim_rng *r)
{
    static const int lines_w[] = {50, 25, 12, 8, 5};
    static const int qty_w[] = {80, 15, 2, 2, 1};
    static const int64_t threshold[SIM_NCUR] = {5000, 5500, 4500, 8000, 17000};
    static const int64_t shipping[SIM_NCUR] = {499, 599, 399, 800, 1500};
    static const int64_t vat_bp[SIM_NCUR] = {1900, 800, 2000, 1000, 0};
    o->n_lines = 1 + sim_pick(r, lines_w, 5);
    o->items = 0;
    for (int i = 0; i < o->n_lines; i++) {
        sim_line *l = &o->lines[i];
        l->product = sim_cdf_sample(&w->product_cdf[o->cur], r);
        l->qty = 1 + sim_pick(r, qty_w, 5);
        l->unit_price = w->products[l->product].price;
        l->total = l->unit_price * l->qty;
        o->items += l->total;
    }
    o->shipping = o->items >= threshold[o->cur] ? 0 : shipping[o->cur];
    o->tax = sim_pct(o->items, vat_bp[o->cur]);
    o->discount = 0;
    if (sim_rng_below(r, 100) < 8)
        purser_money_muldiv(o->items, 5 + (int64_t)sim_rng_below(r, 16), 100,
                            PURSER_ROUND_HALF_EVEN, &o->discount);
    o->total = o->items + o->shipping + o->tax - o->discount;
}

static void sim_order_delivery(const sim_world *w, sim_order *o, sim_rng *r, int64_t captured)
{
    o->has_delivery = true;
    sim_berlin_point(r, &o->lat, &o->lon);
    uint32_t best = 0;
    int64_t best_d = INT64_MAX;
    for (uint32_t d = 0; d < w->n_depots; d++) {
        int64_t dy = o->lat - w->depot_lat[d], dx = (o->lon - w->depot_lon[d]) * 61 / 100;
        if (dy * dy + dx * dx < best_d) {
            best_d = dy * dy + dx * dx;
            best = d;
        }
    }
    o->depot = (uint16_t)best;
    uint32_t first = w->depot_agent_first[best], n = w->depot_agent_first[best + 1] - first;
    o->agent = n ? w->depot_agents[first + sim_rng_below(r, n)]
                 : (uint32_t)sim_rng_below(r, w->opt.agents);
    o->street = (uint32_t)sim_rng_below(r, SIM_NSTREETS);
    o->house = 1 + (uint32_t)sim_rng_below(r, 180);
    o->postcode = 10115 + (uint32_t)sim_rng_below(r, 4085);
    int64_t day = o->placed_at / 86400 * 86400 + (sim_rng_below(r, 10) < 7 ? 1 : 2) * 86400;
    int local_start = 8 + (int)sim_rng_below(r, 11); /* 08:00..18:00 Berlin */
    o->window_start = day + (local_start - 1) * 3600;
    o->window_end = o->window_start + (sim_rng_below(r, 10) < 6 ? 2 : 4) * 3600;
    o->weight_g = 0;
    for (int i = 0; i < o->n_lines; i++)
        o->weight_g += (int32_t)w->products[o->lines[i].product].weight_g * o->lines[i].qty;
    o->service_min = 2 + (int32_t)sim_rng_below(r, 8) + o->n_lines;
    o->delivered_at = 0;
    o->n_events = 0;
    sim_add_event(o, SIM_DLV_PENDING, captured, false);
    int64_t assigned = o->window_start - 10 * 3600;
    if (assigned < captured + 600)
        assigned = captured + 600;
    int64_t picked = o->window_start - 1800 + (int64_t)sim_rng_below(r, 1200);
    int64_t done =
        o->window_start + (int64_t)(sim_rng_unit(r) * (double)(o->window_end - o->window_start));
    bool fails = sim_rng_below(r, 100) < 3;
    if (assigned < w->end)
        sim_add_event(o, SIM_DLV_ASSIGNED, assigned, true);
    if (picked < w->end && assigned < w->end)
        sim_add_event(o, SIM_DLV_PICKED_UP, picked, true);
    if (done < w->end && picked < w->end) {
        sim_add_event(o, fails ? SIM_DLV_FAILED : SIM_DLV_DELIVERED, done, true);
        if (!fails)
            o->delivered_at = done;
    }
    o->status = o->dlv_status == SIM_DLV_DELIVERED   ? SIM_ORD_DELIVERED
                : o->dlv_status >= SIM_DLV_PICKED_UP ? SIM_ORD_SHIPPED
                                                     : SIM_ORD_PAID;
}

static void sim_order_after_sale(const sim_world *w, sim_order *o, sim_rng *r, int64_t capture_id,
                                 int64_t captured)
{
    int64_t id = o->id * 8 + 2;
    if (sim_rng_below(r, 1000) < 60) {
        int64_t at = captured + 86400 + (int64_t)sim_rng_below(r, 19 * 86400);
        bool full = sim_rng_below(r, 2) == 0;
        int64_t amount = o->total;
        if (!full) {
            amount = o->n_lines > 1 ? o->lines[sim_rng_below(r, (uint64_t)o->n_lines)].total
                                    : o->total / 2;
            if (amount > o->total - 1)
                amount = o->total - 1;
        }
        if (at < w->end && amount > 0) {
            sim_add_payment(o, id, capture_id, SIM_REFUND, SIM_SUCCEEDED, amount, at);
            if (full)
                o->status = SIM_ORD_REFUNDED;
        }
    } else if (sim_rng_below(r, 1000) < 8) {
        int64_t at = captured + 3 * 86400 + (int64_t)sim_rng_below(r, 30 * 86400);
        if (at < w->end)
            sim_add_payment(o, id, capture_id, SIM_CHARGEBACK, SIM_SUCCEEDED, o->total, at);
    }
}

void sim_order_generate(const sim_world *w, uint64_t n, sim_order *o)
{
    static const int source_w[] = {55, 25, 12, 8};
    static const int provider_w[SIM_NCUR][SIM_NPROV] = {
        {45, 35, 20}, {45, 35, 20}, {45, 35, 20}, {55, 45, 0}, {0, 100, 0}};
    sim_rng r;
    sim_rng_seed(&r, w->opt.seed, 1000 + n);
    o->id = w->base.order + 1 + (int64_t)n;
    uint32_t lo = 0, hi = w->n_hours - 1; /* the hour holding order n */
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo + 1) / 2;
        if (w->hour_first[mid] <= n)
            lo = mid;
        else
            hi = mid - 1;
    }
    uint64_t k = n - w->hour_first[lo], cnt = w->hour_first[lo + 1] - w->hour_first[lo];
    o->placed_at =
        w->opt.start + (int64_t)lo * 3600 + (int64_t)((k * 3600 + sim_rng_below(&r, 3600)) / cnt);
    o->buyer = sim_cdf_sample(&w->buyer_cdf, &r);
    o->cur = w->buyer_cur[o->buyer];
    o->source = (uint8_t)sim_pick(&r, source_w, 4);
    o->provider = (uint8_t)sim_pick(&r, provider_w[o->cur], SIM_NPROV);
    sim_order_totals(w, o, &r);
    o->n_payments = 0;
    o->n_events = 0;
    o->has_delivery = false;
    int64_t auth_id = o->id * 8, capture_id = o->id * 8 + 1;
    int64_t auth_at = o->placed_at + 1 + (int64_t)sim_rng_below(&r, 20);
    if (auth_at >= w->end)
        auth_at = w->end - 1;
    if (sim_rng_below(&r, 100) < 3) {
        sim_add_payment(o, auth_id, 0, SIM_AUTH, SIM_FAILED, o->total, auth_at);
        o->status = SIM_ORD_CANCELLED;
        return;
    }
    sim_add_payment(o, auth_id, 0, SIM_AUTH, SIM_SUCCEEDED, o->total, auth_at);
    int64_t captured = o->placed_at + 60 + (int64_t)sim_rng_below(&r, 7140);
    if (captured >= w->end) {
        o->status = SIM_ORD_PLACED;
        return;
    }
    sim_add_payment(o, capture_id, auth_id, SIM_CAPTURE, SIM_SUCCEEDED, o->total, captured);
    sim_order_delivery(w, o, &r, captured);
    sim_order_after_sale(w, o, &r, capture_id, captured);
}
