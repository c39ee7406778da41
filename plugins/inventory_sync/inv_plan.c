/* inv_plan.c: inventory optimisation per SKU (all warehouses together).
 * Over the demand window (demand_window_days local days ending with the
 * business date; cancelled orders left out), daily demand d_1..d_W gives
 *   mean  = sum(d) / W            sd = sqrt(sum((d - mean)^2) / (W - 1))
 *   reorder point  = mean x L + z x sd x sqrt(L)   (L = lead_time_days,
 *                    z = inverse normal of service_level)
 *   days of cover  = max(available, 0) / mean
 *   suggested order = ceil(reorder point + mean x review_days - available)
 * with available = sum of on_hand - reserved - safety_stock. A SKU that
 * sells (or is reserved) is out of stock at available <= 0, low at
 * available <= reorder point. The flagged SKUs land in the temporary
 * table inv_plan (read by the workbook) and, batched, on alerts_url. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inventory_sync.h"

double inv_normal_quantile(double p)
{
    static const double a[6] = {-3.969683028665376e+01, 2.209460984245205e+02,
                                -2.759285104469687e+02, 1.383577518672690e+02,
                                -3.066479806614716e+01, 2.506628277459239e+00};
    static const double b[5] = {-5.447609879822406e+01, 1.615858368580409e+02,
                                -1.556989798598866e+02, 6.680131188771972e+01,
                                -1.328068155288572e+01};
    static const double c[6] = {-7.784894002430293e-03, -3.223964580411365e-01,
                                -2.400758277161838e+00, -2.549732539343734e+00,
                                4.374664141464968e+00,  2.938163982698783e+00};
    static const double d[4] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                                3.754408661907416e+00};
    const double lo = 0.02425, hi = 1 - lo;
    if (p <= 0 || p >= 1)
        return NAN;
    if (p < lo) {
        double q = sqrt(-2 * log(p));
        return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
               ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
    }
    if (p > hi)
        return -inv_normal_quantile(1 - p);
    double q = p - 0.5, r = q * q;
    return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
           (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

static const char inv_plan_sql[] =
    "CREATE TEMP TABLE inv_plan AS "
    "WITH bounds AS (SELECT to_timestamp($1::bigint) AS t_end, "
    "    ((to_timestamp($1::bigint) AT TIME ZONE $2) - make_interval(days => $3::int)) "
    "    AT TIME ZONE $2 AS t_start), "
    "daily AS (SELECT oi.product_id, (o.placed_at AT TIME ZONE $2)::date AS day, "
    "    sum(oi.quantity)::float8 AS q FROM bounds b, orders o "
    "    JOIN order_items oi ON oi.order_id = o.id "
    "    WHERE o.placed_at >= b.t_start AND o.placed_at < b.t_end AND o.status <> 'cancelled' "
    "    GROUP BY 1, 2), "
    "stats AS (SELECT product_id, sum(q) / $3::int AS mean, "
    "    sqrt(greatest((sum(q * q) - sum(q) * sum(q) / $3::int) / ($3::int - 1), 0)) AS sd "
    "    FROM daily GROUP BY 1), "
    "stock AS (SELECT product_id, sum(on_hand) AS on_hand, sum(reserved) AS reserved, "
    "    sum(on_hand - reserved - safety_stock) AS available FROM inventory GROUP BY 1), "
    "j AS (SELECT product_id, coalesce(st.on_hand, 0) AS on_hand, "
    "    coalesce(st.reserved, 0) AS reserved, coalesce(st.available, 0) AS available, "
    "    coalesce(s.mean, 0) AS mean, coalesce(s.sd, 0) AS sd "
    "    FROM stock st FULL JOIN stats s USING (product_id)), "
    "k AS (SELECT j.*, j.mean * $4::float8 + $5::float8 * j.sd * sqrt($4::float8) AS rop "
    "    FROM j) "
    "SELECT k.product_id, p.sku, se.external_ref AS seller, k.on_hand, k.reserved, k.available, "
    "  k.mean, k.sd, k.rop, "
    "  CASE WHEN k.available <= 0 THEN 'out of stock' ELSE 'low stock' END AS status, "
    "  greatest(ceil(k.rop + k.mean * $6::float8 - k.available), 0)::bigint AS suggested, "
    "  CASE WHEN k.mean > 0 THEN greatest(k.available, 0) / k.mean END AS cover "
    "FROM k JOIN products p ON p.id = k.product_id JOIN sellers se ON se.id = p.seller_id "
    "WHERE (k.available <= 0 AND (k.mean > 0 OR k.reserved > 0)) "
    "   OR (k.mean > 0 AND k.available <= k.rop)";

static int inv_plan_table(inv_run *r)
{
    const inv_state *st = r->st;
    char end[24], w[24], l[24], z[40], rv[24];
    snprintf(end, sizeof end, "%lld", (long long)r->info->interval_end);
    snprintf(w, sizeof w, "%lld", (long long)st->window_days);
    snprintf(l, sizeof l, "%lld", (long long)st->lead_time_days);
    snprintf(z, sizeof z, "%.12g", st->z);
    snprintf(rv, sizeof rv, "%lld", (long long)st->review_days);
    const char *tz = r->info->timezone && *r->info->timezone ? r->info->timezone : "UTC";
    const char *p[6] = {end, tz, w, l, z, rv};
    PGresult *res = inv_sql(r, "DROP TABLE IF EXISTS inv_plan", 0, NULL);
    int rc = inv_sql_ok(r, "dropping the reorder plan", res, PGRES_COMMAND_OK);
    PQclear(res);
    if (rc)
        return -1;
    res = inv_sql(r, inv_plan_sql, 6, p);
    rc = inv_sql_ok(r, "computing demand and reorder points", res, PGRES_COMMAND_OK);
    PQclear(res);
    if (rc)
        return -1;
    res = inv_sql(r,
                  "SELECT count(*) FILTER (WHERE status = 'out of stock'), "
                  "count(*) FILTER (WHERE status = 'low stock') FROM inv_plan",
                  0, NULL);
    rc = inv_sql_ok(r, "counting low stock", res, PGRES_TUPLES_OK);
    if (rc == 0) {
        r->out_of_stock = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        r->low_stock = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
    }
    PQclear(res);
    return rc;
}

static void inv_alert_item(cJSON *arr, const PGresult *res, int i)
{
    cJSON *it = cJSON_CreateObject();
    if (!it || !cJSON_AddItemToArray(arr, it))
        return;
    cJSON_AddStringToObject(it, "kind",
                            strcmp(PQgetvalue(res, i, 0), "out of stock") == 0 ? "out_of_stock"
                                                                               : "low_stock");
    cJSON_AddStringToObject(it, "sku", PQgetvalue(res, i, 1));
    cJSON_AddStringToObject(it, "seller", PQgetvalue(res, i, 2));
    cJSON_AddNumberToObject(it, "available", strtod(PQgetvalue(res, i, 3), NULL));
    cJSON_AddNumberToObject(it, "avg_daily_demand", strtod(PQgetvalue(res, i, 4), NULL));
    cJSON_AddNumberToObject(it, "reorder_point", strtod(PQgetvalue(res, i, 5), NULL));
    cJSON_AddNumberToObject(it, "suggested_order", strtod(PQgetvalue(res, i, 6), NULL));
    if (PQgetisnull(res, i, 7))
        cJSON_AddNullToObject(it, "days_of_cover");
    else
        cJSON_AddNumberToObject(it, "days_of_cover", strtod(PQgetvalue(res, i, 7), NULL));
}

/* POST one batch of alerts; a failure is logged, never fails the run. */
static void inv_alert_post(inv_run *r, const PGresult *res, int from, int to, int batch,
                           int batches)
{
    cJSON *doc = cJSON_CreateObject();
    char text[400];
    snprintf(text, sizeof text,
             "purser inventory_sync %s: %lld out of stock, %lld low stock (alerts %d-%d, batch "
             "%d of %d)",
             r->info->business_date, (long long)r->out_of_stock, (long long)r->low_stock, from + 1,
             to, batch, batches);
    cJSON_AddStringToObject(doc, "text", text);
    cJSON_AddStringToObject(doc, "business_date", r->info->business_date);
    cJSON_AddNumberToObject(doc, "run_id", (double)r->info->run_id);
    cJSON *arr = cJSON_AddArrayToObject(doc, "alerts");
    for (int i = from; arr && i < to; i++)
        inv_alert_item(arr, res, i);
    char *body = cJSON_PrintUnformatted(doc);
    cJSON_Delete(doc);
    inv_response resp = {0};
    char err[600];
    int transient;
    if (!body)
        snprintf(err, sizeof err, "out of memory");
    if (!body ||
        inv_http(r, &r->st->alerts, r->st->alerts.url, body, NULL, &resp, &transient, err,
                 sizeof err) != 0 ||
        resp.status < 200 || resp.status >= 300) {
        if (body && resp.status)
            snprintf(err, sizeof err, "HTTP %ld", resp.status);
        r->st->host->log(r->ctx, PURSER_LOG_WARN, "low-stock alerts %d-%d to %s not sent: %s",
                         from + 1, to, r->st->alerts.url, err);
    } else {
        r->alerts_sent += to - from;
    }
    inv_response_free(&resp);
    free(body);
}

static void inv_alerts(inv_run *r)
{
    const purser_host *h = r->st->host;
    if (r->low_stock + r->out_of_stock == 0 || r->info->dry_run)
        return;
    if (!r->st->alerts.url) {
        /* No plugin-specific endpoint: one digest line through the core's
         * alerts.webhook_url (hosts older than the alert member lack it). */
        if (h->struct_size > offsetof(purser_host, alert) && h->alert)
            h->alert(r->ctx, "%s: %lld out of stock, %lld low stock (inventory_%s.xlsx)",
                     r->info->business_date, (long long)r->out_of_stock, (long long)r->low_stock,
                     r->info->business_date);
        return;
    }
    PGresult *res = inv_sql(r,
                            "SELECT status, sku, seller, available, round(mean::numeric, 3), "
                            "round(rop::numeric, 2), suggested, round(cover::numeric, 2) "
                            "FROM inv_plan ORDER BY cover NULLS FIRST, sku, seller",
                            0, NULL);
    if (inv_sql_ok(r, "reading the alerts", res, PGRES_TUPLES_OK) == 0) {
        int n = PQntuples(res), per = (int)r->st->alerts_batch;
        int batches = (n + per - 1) / per;
        for (int i = 0; i < n; i += per)
            inv_alert_post(r, res, i, i + per < n ? i + per : n, i / per + 1, batches);
        h->log(r->ctx, PURSER_LOG_INFO, "%lld of %d low-stock alerts sent to %s",
               (long long)r->alerts_sent, n, r->st->alerts.url);
    }
    PQclear(res);
}

purser_status inv_plan(inv_run *r)
{
    if (inv_plan_table(r))
        return PURSER_RETRY;
    r->st->host->log(r->ctx, PURSER_LOG_INFO,
                     "reorder plan: %lld out of stock, %lld low stock (window %lld days, lead time "
                     "%lld days, service level %.4g: z = %.4f)",
                     (long long)r->out_of_stock, (long long)r->low_stock,
                     (long long)r->st->window_days, (long long)r->st->lead_time_days,
                     r->st->service_level, r->st->z);
    inv_alerts(r);
    return PURSER_OK;
}
