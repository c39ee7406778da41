/* The ratings plugin: product reviews come in over POST /v1/reviews (one
 * per delivered order line, from its buyer), and a nightly job turns them
 * into product and seller ratings (Bayesian averages), the sellers'
 * fulfilment signals and a composite seller score, kept per business date.
 * This file holds the descriptor, the settings and the run; the route is
 * in ratings_http.c, the body checks in ratings_review.c, the scores in
 * ratings_db.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ratings.h"

/* Built by the Makefile from the migrations folder. */
extern const purser_migration ratings_migrations[];

/* Settings under `plugins.ratings:` in purser.yaml. */
static const purser_config_key ratings_config_keys[] = {
    {"max_body", PURSER_CFG_SIZE, "64k", 0, "largest POST /v1/reviews body; larger: 413 unread"},
    {"max_text", PURSER_CFG_INT, "5000", 0, "most characters (Unicode code points) in a review"},
    {"default_source", PURSER_CFG_STRING, "api", 0,
     "orders.source when a review names its order by order_ref without a source"},
    {"prior.mean", PURSER_CFG_STRING, NULL, 0,
     "m, the rating a product has before its reviews (\"3.5\", 1 to 5); unset: the mean of "
     "all reviews"},
    {"prior.weight", PURSER_CFG_INT, "10", 0,
     "C, how many reviews' worth of weight the prior has: score = (C*m + sum) / (C + n)"},
    {"window_days", PURSER_CFG_INT, "90", 0,
     "trailing window of the fulfilment signals (on time, cancellations, refunds)"},
    {"weights.rating", PURSER_CFG_INT, "50", 0, "weight of the seller's rating in the score"},
    {"weights.on_time", PURSER_CFG_INT, "30", 0, "weight of the on-time delivery rate"},
    {"weights.cancellation", PURSER_CFG_INT, "10", 0, "weight of 1 - the cancellation rate"},
    {"weights.refund", PURSER_CFG_INT, "10", 0, "weight of 1 - the refund rate"},
    {0},
};

/* Not const: init sets the route's max_body from the settings before the
 * server starts listening. */
static purser_route ratings_routes[] = {
    {"POST", "/v1/reviews", ratings_post_review, 0},
    {0},
};

/* An integer setting within [lo, hi]; 0, or -1 after logging. */
static int ratings_int_setting(const purser_host *h, purser_ctx *ctx, const char *key, int64_t lo,
                               int64_t hi, int64_t *out)
{
    if (h->config_int(ctx, key, out) != 0 || *out < lo || *out > hi) {
        h->log(ctx, PURSER_LOG_ERROR,
               "plugins.ratings.%s: expected a whole number from %lld to %lld", key, (long long)lo,
               (long long)hi);
        return -1;
    }
    return 0;
}

/* prior.mean: a decimal from 1 to 5 with at most 6 decimals ("4", "3.75"). */
static int ratings_valid_mean(const char *s)
{
    if (s[0] < '1' || s[0] > '5')
        return 0;
    if (s[1] == '\0')
        return 1;
    size_t decimals = strspn(s + 2, "0123456789");
    if (s[1] != '.' || decimals < 1 || decimals > 6 || s[2 + decimals] != '\0')
        return 0;
    return s[0] < '5' || strspn(s + 2, "0") == decimals;
}

static int ratings_read_config(const purser_host *h, purser_ctx *ctx, ratings_config *cfg)
{
    if (ratings_int_setting(h, ctx, "max_text", 1, 1000000, &cfg->max_text) ||
        ratings_int_setting(h, ctx, "prior.weight", 0, 1000000, &cfg->prior_weight) ||
        ratings_int_setting(h, ctx, "window_days", 1, 3660, &cfg->window_days) ||
        ratings_int_setting(h, ctx, "weights.rating", 0, 1000, &cfg->w_rating) ||
        ratings_int_setting(h, ctx, "weights.on_time", 0, 1000, &cfg->w_on_time) ||
        ratings_int_setting(h, ctx, "weights.cancellation", 0, 1000, &cfg->w_cancel) ||
        ratings_int_setting(h, ctx, "weights.refund", 0, 1000, &cfg->w_refund))
        return -1;
    if (cfg->w_rating + cfg->w_on_time + cfg->w_cancel + cfg->w_refund == 0) {
        h->log(ctx, PURSER_LOG_ERROR, "plugins.ratings.weights: at least one must be above 0");
        return -1;
    }
    cfg->prior_mean = h->config_string(ctx, "prior.mean");
    if (cfg->prior_mean && !*cfg->prior_mean)
        cfg->prior_mean = NULL;
    if (cfg->prior_mean && !ratings_valid_mean(cfg->prior_mean)) {
        h->log(ctx, PURSER_LOG_ERROR,
               "plugins.ratings.prior.mean '%s': expected a decimal from 1 to 5 with at most 6 "
               "decimals, e.g. \"3.5\" (or leave it unset for the mean of all reviews)",
               cfg->prior_mean);
        return -1;
    }
    cfg->default_source = h->config_string(ctx, "default_source");
    if (!cfg->default_source || !*cfg->default_source) {
        h->log(ctx, PURSER_LOG_ERROR, "plugins.ratings.default_source: must not be empty");
        return -1;
    }
    return 0;
}

static purser_status ratings_init(const purser_host *host, purser_ctx *ctx, void **state)
{
    ratings_state *st = calloc(1, sizeof *st);
    if (!st)
        return PURSER_ERROR;
    *state = st;
    st->host = host;
    if (ratings_read_config(host, ctx, &st->cfg) != 0)
        return PURSER_ERROR;
    int64_t max_body = 65536;
    host->config_size(ctx, "max_body", &max_body);
    ratings_routes[0].max_body = (size_t)max_body;
    return PURSER_OK;
}

static void ratings_fini(void *state)
{
    free(state);
}

static purser_status ratings_run(void *state, purser_ctx *ctx, const purser_run_info *run)
{
    ratings_state *st = state;
    const purser_host *h = st->host;
    const char *tz = run->timezone && *run->timezone ? run->timezone : "UTC";
    ratings_outcome out;
    purser_status s =
        ratings_compute(st, ctx, run->business_date, tz, run->run_id, run->dry_run, &out);
    if (s != PURSER_OK) {
        h->set_result(ctx, "scores for %s not computed (see the log)", run->business_date);
        return s;
    }
    const char *m = out.prior_mean[0] ? out.prior_mean : "none (no reviews)";
    if (run->dry_run)
        h->set_result(ctx, "dry run: would write %lld product and %lld seller scores for %s",
                      (long long)out.products, (long long)out.sellers, run->business_date);
    else
        h->set_result(ctx,
                      "%s %s: %lld product and %lld seller scores from %lld reviews (m = %s, "
                      "C = %lld)",
                      out.replaced ? "recomputed" : "computed", run->business_date,
                      (long long)out.products, (long long)out.sellers, (long long)out.reviews, m,
                      (long long)st->cfg.prior_weight);
    h->metric_set(ctx, "product_scores", (double)out.products);
    h->metric_set(ctx, "seller_scores", (double)out.sellers);
    return PURSER_OK;
}

/* `purser check` runs init (which validates the settings: prior.mean,
 * weights, ranges) only for plugins with a check callback; there is
 * nothing further to check without the database. */
static purser_status ratings_check(void *state, purser_ctx *ctx)
{
    (void)state, (void)ctx;
    return PURSER_OK;
}

static const purser_plugin ratings_plugin = {
    PURSER_PLUGIN_HEADER,
    .name = "ratings",
    .version = "1.0.0",
    .description = "Product reviews over HTTP; nightly Bayesian product and seller ratings, "
                   "fulfilment signals and a composite seller score",
    .config = ratings_config_keys,
    .init = ratings_init,
    .fini = ratings_fini,
    .run = ratings_run,
    .routes = ratings_routes,
    .migrations = ratings_migrations,
    .check = ratings_check,
};

PURSER_PLUGIN_DEFINE(ratings_plugin)
