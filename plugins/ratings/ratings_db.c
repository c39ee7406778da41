/* The nightly scores, set-based in PostgreSQL: product and seller ratings
 * as Bayesian averages, the sellers' fulfilment signals over a trailing
 * window and a composite seller score, written for one business date in
 * one transaction that first removes what an earlier run wrote for it. */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ratings.h"

/* The run row: the cutoff (end of the business date in the job's zone)
 * and the prior, m from the settings or the mean of every review written
 * before the cutoff, rounded to 6 decimals.
 *   $1 date, $2 zone, $3 m or NULL, $4 C, $5 window days, $6 run id */
static const char ratings_sql_run[] =
    "INSERT INTO ratings_runs (business_date, as_of, prior_mean, prior_source, prior_weight, "
    "  window_days, products, sellers, run_id) "
    "SELECT $1::date, a.as_of, coalesce($3::numeric, (SELECT round(avg(r.rating), 6) "
    "    FROM ratings_reviews r WHERE r.created_at < a.as_of)), "
    "  CASE WHEN $3::numeric IS NULL THEN 'global' ELSE 'config' END, $4::int, $5::int, 0, 0, "
    "  $6::bigint "
    "FROM (SELECT (($1::date + 1)::timestamp AT TIME ZONE $2) AS as_of) a "
    "RETURNING coalesce(prior_mean::text, '')";

/* Product ratings: score = (C*m + sum) / (C + n) over the reviews written
 * before the cutoff. $1 date */
static const char ratings_sql_products[] =
    "INSERT INTO ratings_product_scores (business_date, product_id, seller_id, reviews, "
    "  rating_sum, mean, score) "
    "SELECT ru.business_date, i.product_id, i.seller_id, count(*), sum(r.rating), "
    "  round(sum(r.rating)::numeric / count(*), 4), "
    "  round((ru.prior_weight * ru.prior_mean + sum(r.rating)) / (ru.prior_weight + count(*)), 4) "
    "FROM ratings_runs ru "
    "JOIN ratings_reviews r ON r.created_at < ru.as_of "
    "JOIN order_items i ON i.id = r.order_item_id "
    "WHERE ru.business_date = $1::date "
    "GROUP BY ru.business_date, ru.prior_weight, ru.prior_mean, i.product_id, i.seller_id";

/* Seller ratings, fulfilment signals over [cutoff - window, cutoff) and the
 * composite score: 100 * sum(w_i * c_i) / sum(w_i) over the components c_i
 * that are known (rating (r-1)/4, on-time rate, 1 - cancellation rate,
 * 1 - refund rate). $1 date, $2..$5 weights: rating, on time, cancellation,
 * refund. */
static const char ratings_sql_sellers[] =
    "WITH ru AS (SELECT business_date, as_of, as_of - make_interval(days => window_days) AS since,"
    "    prior_mean AS m, prior_weight AS c FROM ratings_runs WHERE business_date = $1::date), "
    /* reviews of the seller's lines before the cutoff */
    "rev AS (SELECT i.seller_id, count(*) AS n, sum(r.rating) AS s FROM ru "
    "    JOIN ratings_reviews r ON r.created_at < ru.as_of "
    "    JOIN order_items i ON i.id = r.order_item_id GROUP BY i.seller_id), "
    /* orders holding the seller's lines placed in the window */
    "so AS (SELECT DISTINCT i.seller_id, o.id AS order_id, o.status FROM ru "
    "    JOIN orders o ON o.placed_at >= ru.since AND o.placed_at < ru.as_of "
    "    JOIN order_items i ON i.order_id = o.id), "
    "ord AS (SELECT so.seller_id, count(*) AS orders, "
    "    count(*) FILTER (WHERE so.status = 'cancelled') AS cancelled, "
    "    count(*) FILTER (WHERE so.status = 'refunded' OR EXISTS (SELECT 1 FROM payments p "
    "      WHERE p.order_id = so.order_id AND p.kind = 'refund' AND p.status = 'succeeded' "
    "      AND p.occurred_at < ru.as_of)) AS refunded "
    "    FROM ru, so GROUP BY so.seller_id), "
    /* deliveries of those (not cancelled) orders whose window ended in the window;
     * delivered at: the first 'delivered' event, else deliveries.delivered_at */
    "dl AS (SELECT DISTINCT i.seller_id, d.id, d.window_end, coalesce((SELECT min(e.at) "
    "      FROM delivery_events e WHERE e.delivery_id = d.id AND e.status = 'delivered'), "
    "      d.delivered_at) AS delivered_at FROM ru "
    "    JOIN deliveries d ON d.window_end >= ru.since AND d.window_end < ru.as_of "
    "    JOIN orders o ON o.id = d.order_id AND o.status <> 'cancelled' "
    "    JOIN order_items i ON i.order_id = o.id), "
    "dls AS (SELECT seller_id, count(*) AS deliveries, "
    "    count(*) FILTER (WHERE delivered_at <= window_end) AS on_time FROM dl GROUP BY seller_id),"
    "sel AS (SELECT seller_id FROM rev UNION SELECT seller_id FROM ord "
    "    UNION SELECT seller_id FROM dls), "
    "x AS (SELECT sel.seller_id, coalesce(rev.n, 0) AS n, coalesce(rev.s, 0) AS s, "
    "    (ru.c * ru.m + coalesce(rev.s, 0)) / nullif(ru.c + coalesce(rev.n, 0), 0) AS rating, "
    "    coalesce(dls.deliveries, 0) AS deliveries, coalesce(dls.on_time, 0) AS on_time, "
    "    coalesce(ord.orders, 0) AS orders, coalesce(ord.cancelled, 0) AS cancelled, "
    "    coalesce(ord.refunded, 0) AS refunded "
    "    FROM ru, sel LEFT JOIN rev USING (seller_id) LEFT JOIN ord USING (seller_id) "
    "    LEFT JOIN dls USING (seller_id)), "
    "y AS (SELECT x.*, on_time::numeric / nullif(deliveries, 0) AS on_time_rate, "
    "    cancelled::numeric / nullif(orders, 0) AS cancel_rate, "
    "    refunded::numeric / nullif(orders, 0) AS refund_rate FROM x) "
    "INSERT INTO ratings_seller_scores (business_date, seller_id, reviews, rating_sum, mean, "
    "  rating, deliveries, on_time, on_time_rate, orders, cancelled, cancel_rate, refunded, "
    "  refund_rate, score) "
    "SELECT $1::date, seller_id, n, s, round(s::numeric / nullif(n, 0), 4), round(rating, 4), "
    "  deliveries, on_time, round(on_time_rate, 4), orders, cancelled, round(cancel_rate, 4), "
    "  refunded, round(refund_rate, 4), "
    "  round(100 * ($2::int * coalesce((rating - 1) / 4, 0) "
    "    + $3::int * coalesce(on_time_rate, 0) + $4::int * coalesce(1 - cancel_rate, 0) "
    "    + $5::int * coalesce(1 - refund_rate, 0)) "
    "    / nullif($2::int * (rating IS NOT NULL)::int + $3::int * (on_time_rate IS NOT NULL)::int"
    "      + $4::int * (cancel_rate IS NOT NULL)::int + $5::int * (refund_rate IS NOT NULL)::int,"
    "      0), 2) "
    "FROM y";

/* Run one statement; the result, or NULL after logging (the caller rolls
 * back). */
static PGresult *ratings_exec(ratings_state *st, purser_ctx *ctx, PGconn *c, const char *step,
                              const char *sql, int n, const char *const *v)
{
    PGresult *r = PQexecParams(c, sql, n, NULL, v, NULL, NULL, 0);
    ExecStatusType s = PQresultStatus(r);
    if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK)
        return r;
    st->host->log(ctx, PURSER_LOG_ERROR, "%s: %s", step, PQresultErrorMessage(r));
    PQclear(r);
    return NULL;
}

/* Run a statement for its row count; -1 after logging. */
static int64_t ratings_count(ratings_state *st, purser_ctx *ctx, PGconn *c, const char *step,
                             const char *sql, int n, const char *const *v)
{
    PGresult *r = ratings_exec(st, ctx, c, step, sql, n, v);
    if (!r)
        return -1;
    int64_t rows = strtoll(PQcmdTuples(r), NULL, 10);
    PQclear(r);
    return rows;
}

/* The steps inside the transaction; 0, or -1 after logging. */
static int ratings_steps(ratings_state *st, purser_ctx *ctx, PGconn *c, const char *date,
                         const char *tz, int64_t run_id, ratings_outcome *out)
{
    const ratings_config *cfg = &st->cfg;
    char weight[24], window[24], run[24], w[4][24];
    snprintf(weight, sizeof weight, "%lld", (long long)cfg->prior_weight);
    snprintf(window, sizeof window, "%lld", (long long)cfg->window_days);
    snprintf(run, sizeof run, "%lld", (long long)run_id);
    snprintf(w[0], sizeof w[0], "%lld", (long long)cfg->w_rating);
    snprintf(w[1], sizeof w[1], "%lld", (long long)cfg->w_on_time);
    snprintf(w[2], sizeof w[2], "%lld", (long long)cfg->w_cancel);
    snprintf(w[3], sizeof w[3], "%lld", (long long)cfg->w_refund);
    const char *vd[1] = {date};
    /* Runs of one date wait for each other; different dates do not. */
    PGresult *r = ratings_exec(st, ctx, c, "locking the business date",
                               "SELECT pg_advisory_xact_lock(hashtext('purser.ratings'), "
                               "$1::date - date '2000-01-01')",
                               1, vd);
    if (!r)
        return -1;
    PQclear(r);
    int64_t gone = ratings_count(st, ctx, c, "removing the date's earlier scores",
                                 "DELETE FROM ratings_runs WHERE business_date = $1::date", 1, vd);
    if (gone < 0)
        return -1;
    out->replaced = gone > 0;
    const char *vr[6] = {date, tz, cfg->prior_mean, weight, window, run_id ? run : NULL};
    if (!(r = ratings_exec(st, ctx, c, "computing the prior", ratings_sql_run, 6, vr)))
        return -1;
    snprintf(out->prior_mean, sizeof out->prior_mean, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    if (st->host->cancelled(ctx))
        return -1;
    out->products =
        ratings_count(st, ctx, c, "computing product ratings", ratings_sql_products, 1, vd);
    if (out->products < 0 || st->host->cancelled(ctx))
        return -1;
    const char *vs[5] = {date, w[0], w[1], w[2], w[3]};
    out->sellers = ratings_count(st, ctx, c, "computing seller scores", ratings_sql_sellers, 5, vs);
    if (out->sellers < 0)
        return -1;
    char np[24], ns[24];
    snprintf(np, sizeof np, "%lld", (long long)out->products);
    snprintf(ns, sizeof ns, "%lld", (long long)out->sellers);
    const char *vu[3] = {date, np, ns};
    r = ratings_exec(st, ctx, c, "recording the run",
                     "UPDATE ratings_runs SET products = $2::int, sellers = $3::int "
                     "WHERE business_date = $1::date "
                     "RETURNING (SELECT coalesce(sum(reviews), 0) FROM ratings_product_scores "
                     "  WHERE business_date = $1::date)",
                     3, vu);
    if (!r)
        return -1;
    out->reviews = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return 0;
}

purser_status ratings_compute(ratings_state *st, purser_ctx *ctx, const char *date, const char *tz,
                              int64_t run_id, int dry_run, ratings_outcome *out)
{
    PGconn *c = st->host->db(ctx);
    if (!c)
        return PURSER_RETRY;
    memset(out, 0, sizeof *out);
    PGresult *r = ratings_exec(st, ctx, c, "starting the transaction", "BEGIN", 0, NULL);
    if (!r)
        return PQstatus(c) == CONNECTION_OK ? PURSER_ERROR : PURSER_RETRY;
    PQclear(r);
    int ok = ratings_steps(st, ctx, c, date, tz, run_id, out) == 0;
    const char *end = ok && !dry_run ? "COMMIT" : "ROLLBACK";
    r = ratings_exec(st, ctx, c, end, end, 0, NULL);
    ok = ok && r != NULL;
    PQclear(r);
    if (ok)
        return PURSER_OK;
    if (st->host->cancelled(ctx) || PQstatus(c) != CONNECTION_OK)
        return PURSER_RETRY;
    return PURSER_ERROR;
}
