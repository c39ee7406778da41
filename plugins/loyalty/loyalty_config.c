/* The loyalty plugin's settings: earn rates and point values per currency,
 * category multipliers, campaigns, expiry and tiers, read from
 * `plugins.loyalty:` and checked before any run. Amounts in a currency
 * (point values, tier thresholds) need the currency's exponent and are
 * parsed by the run (loyalty_db.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loyalty.h"
#include "purser/money.h"

static int loyalty_is_code(const char *s)
{
    return s && strlen(s) == 3 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z' &&
           s[2] >= 'A' && s[2] <= 'Z';
}

/* A non-negative decimal with at most `decimals` decimals as a fixed-point
 * integer ("1.5", 2 -> 150). 0, or -1 after logging the key. */
static int loyalty_decimal(const purser_host *h, purser_ctx *ctx, const char *key, const char *text,
                           int decimals, int64_t *out)
{
    purser_money_status ms = text ? purser_money_parse(text, decimals, out) : PURSER_MONEY_SYNTAX;
    if (ms == PURSER_MONEY_OK && *out >= 0)
        return 0;
    h->log(ctx, PURSER_LOG_ERROR,
           "plugins.loyalty.%s: '%s': expected a decimal number >= 0 with at most %d decimals, "
           "quoted (\"1.5\")",
           key, text ? text : "", decimals);
    return -1;
}

/* "YYYY-MM-DD", a real calendar date. */
static int loyalty_is_date(const char *s)
{
    if (!s || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return 0;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
            return 0;
    int y = atoi(s), m = atoi(s + 5), d = atoi(s + 8);
    static const int days[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m >= 1 && m <= 12 && d >= 1 && d <= days[m - 1] && (m != 2 || d <= 28 + leap);
}

static int loyalty_int_setting(const purser_host *h, purser_ctx *ctx, const char *key, int64_t lo,
                               int64_t hi, int64_t *out)
{
    if (h->config_int(ctx, key, out) != 0 || *out < lo || *out > hi) {
        h->log(ctx, PURSER_LOG_ERROR,
               "plugins.loyalty.%s: expected a whole number from %lld to %lld", key, (long long)lo,
               (long long)hi);
        return -1;
    }
    return 0;
}

/* earn.<CUR> (required for a currency to earn) and point_value.<CUR>
 * (required for every earning currency: the liability needs it). */
static int loyalty_read_currencies(const purser_host *h, purser_ctx *ctx, loyalty_config *cfg)
{
    size_t n = h->config_count(ctx, "earn");
    cfg->currencies = calloc(n ? n : 1, sizeof *cfg->currencies);
    if (!cfg->currencies)
        return -1;
    for (size_t i = 0; i < n; i++) {
        const char *code = h->config_item(ctx, "earn", i);
        char key[64];
        if (!loyalty_is_code(code)) {
            h->log(ctx, PURSER_LOG_ERROR,
                   "plugins.loyalty.earn.%s: expected an ISO 4217 code such as EUR",
                   code ? code : "?");
            return -1;
        }
        loyalty_currency *c = &cfg->currencies[cfg->n_currencies++];
        memcpy(c->code, code, 4);
        snprintf(key, sizeof key, "earn.%s", code);
        if (loyalty_decimal(h, ctx, key, h->config_string(ctx, key), LOYALTY_RATE_DECIMALS,
                            &c->rate_e4) != 0)
            return -1;
        snprintf(key, sizeof key, "point_value.%s", code);
        c->value_text = h->config_string(ctx, key);
        if (!c->value_text) {
            h->log(ctx, PURSER_LOG_ERROR,
                   "plugins.loyalty.point_value.%s: missing: every currency in `earn` needs "
                   "the value of a point (the liability is points x value)",
                   code);
            return -1;
        }
    }
    size_t nv = h->config_count(ctx, "point_value");
    for (size_t i = 0; i < nv; i++) {
        const char *code = h->config_item(ctx, "point_value", i);
        size_t k = 0;
        while (k < cfg->n_currencies && strcmp(cfg->currencies[k].code, code ? code : "") != 0)
            k++;
        if (k == cfg->n_currencies) {
            h->log(ctx, PURSER_LOG_ERROR,
                   "plugins.loyalty.point_value.%s: no earn.%s: add the currency's earn rate "
                   "or remove its point value",
                   code ? code : "?", code ? code : "?");
            return -1;
        }
    }
    return 0;
}

static int loyalty_read_categories(const purser_host *h, purser_ctx *ctx, loyalty_config *cfg)
{
    size_t n = h->config_count(ctx, "categories");
    cfg->categories = calloc(n ? n : 1, sizeof *cfg->categories);
    if (!cfg->categories)
        return -1;
    for (size_t i = 0; i < n; i++) {
        loyalty_category *c = &cfg->categories[cfg->n_categories++];
        char key[256];
        c->name = h->config_item(ctx, "categories", i);
        snprintf(key, sizeof key, "categories.%s", c->name ? c->name : "");
        if (loyalty_decimal(h, ctx, key, h->config_string(ctx, key), LOYALTY_MULT_DECIMALS,
                            &c->pct) != 0)
            return -1;
    }
    return 0;
}

static int loyalty_read_campaigns(const purser_host *h, purser_ctx *ctx, loyalty_config *cfg)
{
    size_t n = h->config_count(ctx, "campaigns");
    cfg->campaigns = calloc(n ? n : 1, sizeof *cfg->campaigns);
    if (!cfg->campaigns)
        return -1;
    for (size_t i = 0; i < n; i++) {
        loyalty_campaign *c = &cfg->campaigns[cfg->n_campaigns++];
        char key[256];
        c->name = h->config_item(ctx, "campaigns", i);
        snprintf(key, sizeof key, "campaigns.%s.from", c->name);
        c->from = h->config_string(ctx, key);
        snprintf(key, sizeof key, "campaigns.%s.to", c->name);
        c->to = h->config_string(ctx, key);
        if (!loyalty_is_date(c->from) || !loyalty_is_date(c->to) || strcmp(c->from, c->to) > 0) {
            h->log(ctx, PURSER_LOG_ERROR,
                   "plugins.loyalty.campaigns.%s: from '%s', to '%s': expected two dates "
                   "YYYY-MM-DD, from <= to",
                   c->name, c->from ? c->from : "", c->to ? c->to : "");
            return -1;
        }
        snprintf(key, sizeof key, "campaigns.%s.multiplier", c->name);
        if (loyalty_decimal(h, ctx, key, h->config_string(ctx, key), LOYALTY_MULT_DECIMALS,
                            &c->pct) != 0)
            return -1;
    }
    return 0;
}

static int loyalty_level_rank(const loyalty_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->n_levels; i++)
        if (strcmp(cfg->levels[i], name) == 0)
            return (int)i;
    return -1;
}

/* tiers.levels (lowest first) and tiers.min_spend.<TIER>.<CUR>: every tier
 * above the lowest needs a threshold in at least one currency. */
static int loyalty_read_tiers(const purser_host *h, purser_ctx *ctx, loyalty_config *cfg)
{
    size_t n = h->config_count(ctx, "tiers.levels");
    cfg->levels = calloc(n ? n : 1, sizeof *cfg->levels);
    if (!cfg->levels)
        return -1;
    for (size_t i = 0; i < n; i++) {
        const char *name = h->config_item(ctx, "tiers.levels", i);
        if (!name || !*name || loyalty_level_rank(cfg, name) >= 0) {
            h->log(ctx, PURSER_LOG_ERROR,
                   "plugins.loyalty.tiers.levels: '%s': tier names must be distinct and not empty",
                   name ? name : "");
            return -1;
        }
        cfg->levels[cfg->n_levels++] = name;
    }
    size_t nt = h->config_count(ctx, "tiers.min_spend"), total = 0;
    for (size_t t = 0; t < nt; t++) {
        char key[256];
        snprintf(key, sizeof key, "tiers.min_spend.%s", h->config_item(ctx, "tiers.min_spend", t));
        total += h->config_count(ctx, key);
    }
    cfg->thresholds = calloc(total ? total : 1, sizeof *cfg->thresholds);
    if (!cfg->thresholds)
        return -1;
    for (size_t t = 0; t < nt; t++) {
        const char *tier = h->config_item(ctx, "tiers.min_spend", t);
        int rank = loyalty_level_rank(cfg, tier);
        if (rank < 1) {
            h->log(ctx, PURSER_LOG_ERROR,
                   "plugins.loyalty.tiers.min_spend.%s: %s: thresholds are for the tiers of "
                   "tiers.levels above the first (the first is everyone's)",
                   tier, rank == 0 ? "the lowest tier" : "not in tiers.levels");
            return -1;
        }
        char map[256];
        snprintf(map, sizeof map, "tiers.min_spend.%s", tier);
        for (size_t i = 0; i < h->config_count(ctx, map); i++) {
            const char *code = h->config_item(ctx, map, i);
            if (!loyalty_is_code(code)) {
                h->log(ctx, PURSER_LOG_ERROR,
                       "plugins.loyalty.%s.%s: expected an ISO 4217 code such as EUR", map,
                       code ? code : "?");
                return -1;
            }
            loyalty_threshold *th = &cfg->thresholds[cfg->n_thresholds++];
            char key[300];
            snprintf(key, sizeof key, "%s.%s", map, code);
            th->rank = rank;
            memcpy(th->code, code, 4);
            th->text = h->config_string(ctx, key);
        }
    }
    for (size_t r = 1; r < cfg->n_levels; r++) {
        size_t k = 0;
        while (k < cfg->n_thresholds && cfg->thresholds[k].rank != (int)r)
            k++;
        if (k == cfg->n_thresholds) {
            h->log(ctx, PURSER_LOG_ERROR,
                   "plugins.loyalty.tiers.min_spend.%s: missing: tier '%s' needs a threshold "
                   "in at least one currency",
                   cfg->levels[r], cfg->levels[r]);
            return -1;
        }
    }
    return 0;
}

int loyalty_config_read(const purser_host *h, purser_ctx *ctx, loyalty_config *cfg)
{
    if (loyalty_int_setting(h, ctx, "expiry_days", 0, 36600, &cfg->expiry_days) ||
        loyalty_int_setting(h, ctx, "lookback_days", 1, 3660, &cfg->lookback_days) ||
        loyalty_int_setting(h, ctx, "tiers.window_days", 1, 3660, &cfg->window_days))
        return -1;
    return loyalty_read_currencies(h, ctx, cfg) || loyalty_read_categories(h, ctx, cfg) ||
                   loyalty_read_campaigns(h, ctx, cfg) || loyalty_read_tiers(h, ctx, cfg)
               ? -1
               : 0;
}

void loyalty_config_free(loyalty_config *cfg)
{
    free(cfg->currencies);
    free(cfg->categories);
    free(cfg->campaigns);
    free(cfg->levels);
    free(cfg->thresholds);
    memset(cfg, 0, sizeof *cfg);
}
