/* Storefront webhooks: Shopify, WooCommerce and Stripe, each verified with
 * its platform's own signature over the raw body (constant-time compare),
 * deduplicated by the platform's event key, stored as received in
 * intake_webhook_events and, when the store has what it refers to (SKUs,
 * the order of a payment), mapped into orders/payments in the same
 * transaction. A delivery that cannot be mapped is still kept (mapped =
 * false, note says why) and answered 200: the sender must not retry it. */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "intake_internal.h"
#include "purser/money.h"

/* ---- storing a delivery ------------------------------------------------------------ */

typedef struct intake_hook {
    const char *platform, *topic;
    char key[300];
    cJSON *root; /* owned by the route */
    int mapped;
    char note[640];
} intake_hook;

/* Map one delivery (inside a savepoint): 0 mapped or noted, -1 database down. */
typedef int (*intake_map_fn)(intake_state *st, purser_ctx *ctx, PGconn *c, intake_hook *h);

static int intake_exec(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    return ok;
}

static purser_status intake_hook_store(intake_state *st, purser_ctx *ctx,
                                       const purser_http_request *req, intake_hook *h,
                                       intake_map_fn map, purser_http_response *resp)
{
    PGconn *c = st->host->db(ctx);
    if (!c || intake_currencies_ready(st, ctx) != 0 || intake_prepare(st, ctx, c) != 0 ||
        !intake_exec(c, "BEGIN")) {
        st->host->metric_add(ctx, "db_errors_total", 1);
        return intake_unavailable(resp, "the database is unavailable");
    }
    const char *vals[4] = {h->platform, h->key, h->topic, (const char *)req->body};
    int lens[4] = {0, 0, 0, (int)req->body_len}, fmts[4] = {0, 0, 0, 1};
    PGresult *r = PQexecParams(c,
                               "INSERT INTO intake_webhook_events (platform, event_key, topic, "
                               "body, mapped) VALUES ($1, $2, $3, $4, false) "
                               "ON CONFLICT (platform, event_key) DO NOTHING RETURNING id",
                               4, NULL, vals, lens, fmts, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        intake_db_error(st, ctx, "storing a webhook", PQresultErrorMessage(r));
        PQclear(r);
        intake_exec(c, "ROLLBACK");
        return intake_unavailable(resp, "the database is unavailable");
    }
    char id[24];
    int fresh = PQntuples(r) == 1;
    snprintf(id, sizeof id, "%s", fresh ? PQgetvalue(r, 0, 0) : "");
    PQclear(r);
    if (!fresh) {
        intake_exec(c, "ROLLBACK");
        st->host->metric_add(ctx, "webhook_duplicates_total", 1);
        st->host->log(ctx, PURSER_LOG_INFO, "%s webhook %s: duplicate delivery %s ignored",
                      h->platform, h->topic, h->key);
        return intake_reply(resp, 200, strdup("{\"received\":true,\"duplicate\":true}"));
    }
    if (!intake_exec(c, "SAVEPOINT intake_map")) {
        intake_exec(c, "ROLLBACK");
        return intake_unavailable(resp, "the database is unavailable");
    }
    int rc = map(st, ctx, c, h);
    if (rc != 0 || PQstatus(c) != CONNECTION_OK) {
        intake_exec(c, "ROLLBACK");
        return intake_unavailable(resp, "the database is unavailable");
    }
    if (!h->mapped && !intake_exec(c, "ROLLBACK TO SAVEPOINT intake_map")) {
        intake_exec(c, "ROLLBACK");
        return intake_unavailable(resp, "the database is unavailable");
    }
    const char *uv[3] = {id, h->mapped ? "true" : "false", h->note[0] ? h->note : NULL};
    r = PQexecParams(c,
                     "UPDATE intake_webhook_events SET mapped = $2::boolean, note = $3 "
                     "WHERE id = $1::bigint",
                     3, NULL, uv, NULL, NULL, 0);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    if (!ok || !intake_exec(c, "COMMIT")) {
        intake_db_error(st, ctx, "committing a webhook", PQerrorMessage(c));
        intake_exec(c, "ROLLBACK");
        return intake_unavailable(resp, "the database is unavailable");
    }
    st->host->metric_add(ctx, "webhooks_received_total", 1);
    st->host->metric_add(ctx, "rows_written_total", 1);
    st->host->log(ctx, PURSER_LOG_INFO, "%s webhook %s %s: %s%s%s", h->platform, h->topic, h->key,
                  h->mapped ? "mapped" : "kept unmapped", h->note[0] ? ": " : "", h->note);
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddBoolToObject(doc, "received", 1);
    cJSON_AddBoolToObject(doc, "mapped", h->mapped);
    if (h->note[0])
        cJSON_AddStringToObject(doc, "note", h->note);
    char *body = cJSON_PrintUnformatted(doc);
    cJSON_Delete(doc);
    return intake_reply(resp, 200, body);
}

/* ---- shared mapping helpers ---------------------------------------------------------- */

/* Store o with the order statement (no idempotency key). 201/200 mapped;
 * 200 also brings the existing order's status up to date. */
static int intake_map_order(intake_state *st, purser_ctx *ctx, PGconn *c, intake_hook *h,
                            const intake_order *o)
{
    intake_job job = {.order = o};
    if (intake_order_one(st, ctx, c, &job) != 0)
        return -1;
    if (job.status == 201 || job.status == 200) {
        h->mapped = 1;
        snprintf(h->note, sizeof h->note, "order %s/%s %s", o->source, o->external_ref,
                 job.status == 201 ? "created" : "updated");
        if (job.status == 200) {
            const char *v[3] = {o->source, o->external_ref, o->status};
            PGresult *r = PQexecParams(c,
                                       "UPDATE orders SET status = $3 WHERE source = $1 AND "
                                       "external_ref = $2 AND status <> $3 AND status IN "
                                       "('placed', 'paid', 'shipped')",
                                       3, NULL, v, NULL, NULL, 0);
            int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
            PQclear(r);
            if (!ok)
                h->mapped = 0;
        }
    } else {
        snprintf(h->note, sizeof h->note, "not mapped: %s%s%s", job.err.field,
                 job.err.field[0] ? ": " : "", job.err.message);
    }
    free(job.body);
    return 0;
}

static const cJSON *intake_obj(const cJSON *o, const char *k)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsObject(it) ? it : NULL;
}

static const char *intake_text(const cJSON *o, const char *k)
{
    const cJSON *it = o ? cJSON_GetObjectItemCaseSensitive(o, k) : NULL;
    const char *t = intake_scalar_text(it);
    return t && *t ? t : NULL;
}

/* The digits after the last '/' of a gid ("gid://shopify/Order/820982911946154508"). */
static const char *intake_gid_tail(const char *gid)
{
    const char *slash = gid ? strrchr(gid, '/') : NULL;
    return slash && slash[1] ? slash + 1 : NULL;
}

static void intake_note_err(intake_hook *h, const intake_err *e)
{
    snprintf(h->note, sizeof h->note, "not mapped: %s%s%s", e->field, e->field[0] ? ": " : "",
             e->message);
}

/* Non-zero unless items + shipping + tax - discount == total, without overflow. */
static int intake_adds_up(const intake_order *o)
{
    int64_t t;
    if (o->shipping < 0 || o->tax < 0 || o->discount < 0)
        return 1;
    if (purser_money_add(o->items, o->shipping, &t) != PURSER_MONEY_OK ||
        purser_money_add(t, o->tax, &t) != PURSER_MONEY_OK ||
        purser_money_add(t, -o->discount, &t) != PURSER_MONEY_OK)
        return 1;
    return t != o->total;
}

/* ---- Shopify ------------------------------------------------------------------------ */

typedef struct intake_names {
    char ext[128], buyer[160], name[300], placed[48];
} intake_names;

static int intake_shopify_order(intake_state *st, const cJSON *root, intake_order *o,
                                intake_names *nm, intake_err *e)
{
    memset(o, 0, sizeof *o);
    o->source = "shopify";
    const char *id = intake_gid_tail(intake_text(root, "admin_graphql_api_id"));
    if (!id)
        id = intake_text(root, "id");
    if (!id) {
        intake_err_set(e, 400, "invalid", "id", "is required");
        return -1;
    }
    snprintf(nm->ext, sizeof nm->ext, "%s", id);
    o->external_ref = nm->ext;
    o->currency = intake_text(root, "currency");
    o->exponent = o->currency ? intake_exponent(st, o->currency) : -1;
    if (o->exponent < 0) {
        intake_err_set(e, 400, "invalid", "currency", "unknown currency");
        return -1;
    }
    const char *fin = intake_text(root, "financial_status");
    o->status = intake_text(root, "cancelled_at")     ? "cancelled"
                : fin && strcmp(fin, "refunded") == 0 ? "refunded"
                : fin && (strcmp(fin, "paid") == 0 || strncmp(fin, "partially", 9) == 0) ? "paid"
                                                                                         : "placed";
    if (intake_get_time(root, "", "created_at", 1, &o->placed_at, e) < 0)
        return -1;
    const cJSON *cust = intake_obj(root, "customer");
    const char *cid = intake_gid_tail(intake_text(cust, "admin_graphql_api_id"));
    if (!cid)
        cid = intake_text(cust, "id");
    snprintf(nm->buyer, sizeof nm->buyer, "shopify-%s%s", cid ? "customer-" : "order-",
             cid ? cid : nm->ext);
    o->buyer_ref = nm->buyer;
    o->buyer_email = intake_text(cust, "email");
    if (!o->buyer_email)
        o->buyer_email = intake_text(root, "email");
    const cJSON *addr = intake_obj(root, "billing_address");
    if (!addr)
        addr = intake_obj(root, "shipping_address");
    o->buyer_country = intake_text(addr, "country_code");
    snprintf(nm->name, sizeof nm->name, "%s %s",
             intake_text(cust, "first_name") ? intake_text(cust, "first_name") : "",
             intake_text(cust, "last_name") ? intake_text(cust, "last_name") : "");
    o->buyer_name = nm->name;
    if (!o->buyer_email || !o->buyer_country) {
        intake_err_set(e, 400, "invalid", "customer", "needs an e-mail and a country code");
        return -1;
    }
    const cJSON *items = cJSON_GetObjectItemCaseSensitive(root, "line_items"), *it;
    int64_t sum = 0;
    cJSON_ArrayForEach(it, items)
    {
        char at[40];
        snprintf(at, sizeof at, "line_items[%zu]", o->n_lines);
        if (o->n_lines == INTAKE_MAX_LINES) {
            intake_err_set(e, 400, "invalid", "line_items", "too many lines");
            return -1;
        }
        intake_line *l = &o->lines[o->n_lines++];
        l->sku = intake_text(it, "sku");
        if (!l->sku) {
            intake_err_set(e, 422, "unknown_reference", at, "has no SKU");
            return -1;
        }
        if (intake_get_int(it, at, "quantity", 1, 1, 1000000, &l->quantity, e) < 0 ||
            intake_get_major(it, at, "price", 1, o->exponent, &l->unit_price, e) < 0)
            return -1;
        if (purser_money_muldiv(l->quantity, l->unit_price, 1, PURSER_ROUND_DOWN, &l->total) !=
                PURSER_MONEY_OK ||
            purser_money_add(sum, l->total, &sum) != PURSER_MONEY_OK) {
            intake_err_set(e, 400, "invalid", at, "amount out of range");
            return -1;
        }
    }
    if (o->n_lines == 0) {
        intake_err_set(e, 400, "invalid", "line_items", "is empty");
        return -1;
    }
    o->items = sum;
    const cJSON *ship = intake_obj(intake_obj(root, "total_shipping_price_set"), "shop_money");
    if ((ship && intake_get_major(ship, "total_shipping_price_set.shop_money", "amount", 0,
                                  o->exponent, &o->shipping, e) < 0) ||
        intake_get_major(root, "", "total_tax", 0, o->exponent, &o->tax, e) < 0 ||
        intake_get_major(root, "", "total_discounts", 0, o->exponent, &o->discount, e) < 0 ||
        intake_get_major(root, "", "total_price", 1, o->exponent, &o->total, e) < 0)
        return -1;
    int included = 0;
    intake_get_bool(root, "", "taxes_included", &included, e);
    if (included) /* the tax is inside the prices: not added again */
        o->tax = 0;
    if (intake_adds_up(o)) {
        intake_err_set(e, 422, "invalid", "total_price",
                       "does not equal line items + shipping + tax - discounts");
        return -1;
    }
    return 0;
}

static int intake_map_shopify(intake_state *st, purser_ctx *ctx, PGconn *c, intake_hook *h)
{
    if (strncmp(h->topic, "orders/", 7) == 0) {
        intake_order *o = malloc(sizeof *o);
        intake_names nm;
        intake_err e = {0};
        if (!o)
            return -1;
        int rc = 0;
        if (intake_shopify_order(st, h->root, o, &nm, &e) != 0)
            intake_note_err(h, &e);
        else
            rc = intake_map_order(st, ctx, c, h, o);
        free(o);
        return rc;
    }
    if (strcmp(h->topic, "inventory_levels/update") == 0) {
        snprintf(h->note, sizeof h->note,
                 "kept for the inventory sync: the payload names "
                 "inventory_item_id %s, not a SKU",
                 intake_text(h->root, "inventory_item_id")
                     ? intake_text(h->root, "inventory_item_id")
                     : "?");
        return 0;
    }
    if (strcmp(h->topic, "refunds/create") == 0) {
        snprintf(h->note, sizeof h->note,
                 "kept: refund of order %s (refunds are matched to "
                 "captured payments by reconciliation)",
                 intake_text(h->root, "order_id") ? intake_text(h->root, "order_id") : "?");
        return 0;
    }
    snprintf(h->note, sizeof h->note, "topic %s is not mapped", h->topic);
    return 0;
}

static const char *intake_hdr(const purser_http_request *req, const char *a, const char *b)
{
    const char *v = req->header(req, a);
    return v && *v ? v : b ? req->header(req, b) : NULL;
}

static int intake_json_ct(const purser_http_request *req)
{
    const char *ct = req->header(req, "Content-Type");
    return ct && strncasecmp(ct, "application/json", 16) == 0;
}

static purser_status intake_hook_refuse(intake_state *st, purser_ctx *ctx,
                                        purser_http_response *resp, int status, const char *code,
                                        const char *msg, const char *platform)
{
    intake_err e;
    intake_err_set(&e, status, code, NULL, "%s", msg);
    if (status == 401) {
        st->host->metric_add(ctx, "webhook_bad_signatures_total", 1);
        st->host->log(ctx, PURSER_LOG_WARN, "%s webhook: bad or missing signature", platform);
    }
    return intake_reply_err(resp, &e);
}

static purser_status intake_hook_parse(intake_state *st, purser_ctx *ctx,
                                       const purser_http_request *req, intake_hook *h,
                                       purser_http_response *resp, purser_status *ps)
{
    (void)st, (void)ctx;
    intake_err e;
    h->root = intake_json_parse(req->body, req->body_len, &e);
    if (!h->root) {
        *ps = intake_reply_err(resp, &e);
        return PURSER_ERROR;
    }
    return PURSER_OK;
}

purser_status intake_wh_shopify(void *state, purser_ctx *ctx, const purser_http_request *req,
                                purser_http_response *resp)
{
    intake_state *st = state;
    if (!st->shopify_secret)
        return intake_hook_refuse(st, ctx, resp, 404, "not_found", "no such route", "shopify");
    const char *sig = intake_hdr(req, "X-Shopify-Hmac-Sha256", "shopify-hmac-sha256");
    if (!intake_hmac_b64_ok(st->shopify_secret, strlen(st->shopify_secret), req->body,
                            req->body_len, sig))
        return intake_hook_refuse(st, ctx, resp, 401, "unauthorized", "authentication required",
                                  "shopify");
    const char *topic = intake_hdr(req, "X-Shopify-Topic", "shopify-topic");
    const char *shop = intake_hdr(req, "X-Shopify-Shop-Domain", "shopify-shop-domain");
    const char *event = intake_hdr(req, "X-Shopify-Event-Id", "shopify-event-id");
    const char *delivery = intake_hdr(req, "X-Shopify-Webhook-Id", "shopify-webhook-id");
    if (!topic || !*topic || !shop || !*shop || !((event && *event) || (delivery && *delivery)))
        return intake_hook_refuse(st, ctx, resp, 400, "invalid",
                                  "X-Shopify-Topic, X-Shopify-Shop-Domain and "
                                  "X-Shopify-Webhook-Id (or X-Shopify-Event-Id) are required",
                                  "shopify");
    if (!intake_json_ct(req))
        return intake_hook_refuse(st, ctx, resp, 415, "unsupported_media_type",
                                  "expected application/json", "shopify");
    intake_hook h = {.platform = "shopify", .topic = topic};
    /* One merchant action gives one event id shared by every delivery of it. */
    if (event && *event)
        snprintf(h.key, sizeof h.key, "%s/%s/event/%s", shop, topic, event);
    else
        snprintf(h.key, sizeof h.key, "%s/delivery/%s", shop, delivery);
    purser_status ps;
    if (intake_hook_parse(st, ctx, req, &h, resp, &ps) != PURSER_OK)
        return ps;
    ps = intake_hook_store(st, ctx, req, &h, intake_map_shopify, resp);
    cJSON_Delete(h.root);
    return ps;
}

/* ---- WooCommerce --------------------------------------------------------------------- */

static int intake_wc_order(intake_state *st, const cJSON *root, intake_order *o, intake_names *nm,
                           intake_err *e)
{
    memset(o, 0, sizeof *o);
    o->source = "woocommerce";
    if (intake_get_id(root, "", "id", 1, nm->ext, sizeof nm->ext, e) < 0)
        return -1;
    o->external_ref = nm->ext;
    o->currency = intake_text(root, "currency");
    o->exponent = o->currency ? intake_exponent(st, o->currency) : -1;
    if (o->exponent < 0) {
        intake_err_set(e, 400, "invalid", "currency", "unknown currency");
        return -1;
    }
    const char *s = intake_text(root, "status");
    o->status = !s                                                        ? "placed"
                : strcmp(s, "processing") == 0                            ? "paid"
                : strcmp(s, "completed") == 0                             ? "delivered"
                : strcmp(s, "cancelled") == 0 || strcmp(s, "failed") == 0 ? "cancelled"
                : strcmp(s, "refunded") == 0                              ? "refunded"
                                                                          : "placed";
    const char *created = intake_text(root, "date_created_gmt"); /* UTC, no zone */
    snprintf(nm->placed, sizeof nm->placed, "%sZ", created ? created : "");
    if (!intake_time_valid(nm->placed)) {
        intake_err_set(e, 400, "invalid", "date_created_gmt", "is not a time");
        return -1;
    }
    o->placed_at = nm->placed;
    const cJSON *bill = intake_obj(root, "billing");
    o->buyer_email = intake_text(bill, "email");
    o->buyer_country = intake_text(bill, "country");
    const char *cid = intake_text(root, "customer_id");
    if (cid && strcmp(cid, "0") != 0)
        snprintf(nm->buyer, sizeof nm->buyer, "woocommerce-customer-%s", cid);
    else
        snprintf(nm->buyer, sizeof nm->buyer, "woocommerce-guest-%s",
                 o->buyer_email ? o->buyer_email : nm->ext);
    o->buyer_ref = nm->buyer;
    snprintf(nm->name, sizeof nm->name, "%s %s",
             intake_text(bill, "first_name") ? intake_text(bill, "first_name") : "",
             intake_text(bill, "last_name") ? intake_text(bill, "last_name") : "");
    o->buyer_name = nm->name;
    if (!o->buyer_email || !o->buyer_country) {
        intake_err_set(e, 400, "invalid", "billing", "needs an e-mail and a country");
        return -1;
    }
    const cJSON *items = cJSON_GetObjectItemCaseSensitive(root, "line_items"), *it;
    cJSON_ArrayForEach(it, items)
    {
        char at[40];
        snprintf(at, sizeof at, "line_items[%zu]", o->n_lines);
        if (o->n_lines == INTAKE_MAX_LINES) {
            intake_err_set(e, 400, "invalid", "line_items", "too many lines");
            return -1;
        }
        intake_line *l = &o->lines[o->n_lines++];
        l->sku = intake_text(it, "sku");
        int64_t subtotal;
        if (!l->sku) {
            intake_err_set(e, 422, "unknown_reference", at, "has no SKU");
            return -1;
        }
        if (intake_get_int(it, at, "quantity", 1, 1, 1000000, &l->quantity, e) < 0 ||
            intake_get_major(it, at, "subtotal", 1, o->exponent, &subtotal, e) < 0)
            return -1;
        if (subtotal % l->quantity != 0) {
            intake_err_set(e, 422, "invalid", at, "subtotal is not quantity x a unit price");
            return -1;
        }
        l->unit_price = subtotal / l->quantity;
        l->total = subtotal;
        if (purser_money_add(o->items, subtotal, &o->items) != PURSER_MONEY_OK) {
            intake_err_set(e, 400, "invalid", at, "amount out of range");
            return -1;
        }
    }
    if (o->n_lines == 0) {
        intake_err_set(e, 400, "invalid", "line_items", "is empty");
        return -1;
    }
    if (intake_get_major(root, "", "shipping_total", 0, o->exponent, &o->shipping, e) < 0 ||
        intake_get_major(root, "", "total_tax", 0, o->exponent, &o->tax, e) < 0 ||
        intake_get_major(root, "", "discount_total", 0, o->exponent, &o->discount, e) < 0 ||
        intake_get_major(root, "", "total", 1, o->exponent, &o->total, e) < 0)
        return -1;
    if (intake_adds_up(o)) {
        intake_err_set(e, 422, "invalid", "total",
                       "does not equal line subtotals + shipping + tax - discount");
        return -1;
    }
    return 0;
}

static int intake_map_wc(intake_state *st, purser_ctx *ctx, PGconn *c, intake_hook *h)
{
    if (strncmp(h->topic, "order.", 6) != 0) {
        snprintf(h->note, sizeof h->note, "topic %s is not mapped", h->topic);
        return 0;
    }
    intake_order *o = malloc(sizeof *o);
    intake_names nm;
    intake_err e = {0};
    if (!o)
        return -1;
    int rc = 0;
    if (intake_wc_order(st, h->root, o, &nm, &e) != 0)
        intake_note_err(h, &e);
    else
        rc = intake_map_order(st, ctx, c, h, o);
    free(o);
    return rc;
}

purser_status intake_wh_woocommerce(void *state, purser_ctx *ctx, const purser_http_request *req,
                                    purser_http_response *resp)
{
    intake_state *st = state;
    if (!st->wc_enabled)
        return intake_hook_refuse(st, ctx, resp, 404, "not_found", "no such route", "woocommerce");
    const char *sig = req->header(req, "X-WC-Webhook-Signature");
    const char *ct = req->header(req, "Content-Type");
    /* The ping sent when a webhook is saved: form-encoded, unsigned, wants 200. */
    if (!sig && ct && strncasecmp(ct, "application/x-www-form-urlencoded", 33) == 0 &&
        req->body_len < 64 && req->body_len > 11 && memcmp(req->body, "webhook_id=", 11) == 0)
        return intake_reply(resp, 200, strdup("{\"received\":true,\"ping\":true}"));
    if (!intake_hmac_b64_ok(st->wc_key, strlen(st->wc_key), req->body, req->body_len, sig))
        return intake_hook_refuse(st, ctx, resp, 401, "unauthorized", "authentication required",
                                  "woocommerce");
    if (!intake_json_ct(req))
        return intake_hook_refuse(st, ctx, resp, 415, "unsupported_media_type",
                                  "expected application/json", "woocommerce");
    const char *topic = req->header(req, "X-WC-Webhook-Topic");
    if (!topic || !*topic)
        return intake_hook_refuse(st, ctx, resp, 400, "invalid", "X-WC-Webhook-Topic is required",
                                  "woocommerce");
    intake_hook h = {.platform = "woocommerce", .topic = topic};
    purser_status ps;
    if (intake_hook_parse(st, ctx, req, &h, resp, &ps) != PURSER_OK)
        return ps;
    /* Delivery ids are time-based and not stable: the key is what the
     * delivery says (source, topic, order id, modification time). */
    const char *src = req->header(req, "X-WC-Webhook-Source");
    const char *id = intake_text(h.root, "id"), *mod = intake_text(h.root, "date_modified_gmt");
    if (id && mod) {
        snprintf(h.key, sizeof h.key, "%s|%s|%s|%s", src ? src : "", topic, id, mod);
    } else {
        char hash[65];
        intake_hash_hex(req->body, req->body_len, hash);
        snprintf(h.key, sizeof h.key, "%s|%s|sha256:%s", src ? src : "", topic, hash);
    }
    ps = intake_hook_store(st, ctx, req, &h, intake_map_wc, resp);
    cJSON_Delete(h.root);
    return ps;
}

/* ---- Stripe ---------------------------------------------------------------------------- */

static int intake_map_stripe(intake_state *st, purser_ctx *ctx, PGconn *c, intake_hook *h)
{
    const cJSON *obj = intake_obj(intake_obj(h->root, "data"), "object");
    const char *kind = strcmp(h->topic, "payment_intent.succeeded") == 0 ? "capture"
                       : strcmp(h->topic, "charge.refunded") == 0        ? "refund"
                       : strcmp(h->topic, "charge.dispute.created") == 0 ? "chargeback"
                                                                         : NULL;
    if (!kind || !obj) {
        snprintf(h->note, sizeof h->note, "type %s is not mapped", h->topic);
        return 0;
    }
    char cur[8] = "";
    const char *lc = intake_text(obj, "currency");
    for (size_t i = 0; lc && lc[i] && i < 3; i++)
        cur[i] = (char)(lc[i] >= 'a' && lc[i] <= 'z' ? lc[i] - 32 : lc[i]);
    const char *amount_key = strcmp(kind, "refund") == 0 ? "amount_refunded" : "amount";
    const char *amount = intake_text(obj, amount_key), *ref = intake_text(obj, "id");
    const char *pi = intake_text(obj, "payment_intent");
    const char *created = intake_text(h->root, "created");
    const cJSON *meta = intake_obj(obj, "metadata");
    const char *order_ref = intake_text(meta, "order_ref");
    const char *source = intake_text(meta, "source");
    char prov_ref[200];
    if (strcmp(kind, "refund") == 0)
        snprintf(prov_ref, sizeof prov_ref, "%s:refunded:%s", ref ? ref : "", amount ? amount : "");
    else
        snprintf(prov_ref, sizeof prov_ref, "%s", ref ? ref : "");
    if (!amount || !ref || !created || intake_exponent(st, cur) < 0 ||
        (strcmp(kind, "capture") == 0 && !order_ref) || (strcmp(kind, "capture") != 0 && !pi)) {
        snprintf(h->note, sizeof h->note, "not mapped: %s",
                 strcmp(kind, "capture") == 0 && !order_ref
                     ? "no metadata.order_ref naming the order"
                     : "amount, currency, id, created or payment_intent missing");
        return 0;
    }
    const char *v[8] = {source ? source : st->default_source,     order_ref, prov_ref, kind,
                        strcmp(kind, "capture") == 0 ? NULL : pi, amount,    cur,      created};
    PGresult *r = PQexecParams(
        c,
        "WITH par AS (SELECT id, order_id FROM payments WHERE provider = 'stripe' "
        "  AND provider_ref = $5), "
        "o AS (SELECT id FROM orders WHERE $5::text IS NULL AND source = $1 AND external_ref = $2 "
        "  UNION ALL SELECT order_id FROM par), "
        "ins AS (INSERT INTO payments (order_id, provider, provider_ref, kind, parent_payment_id, "
        "  amount_minor, currency, status, occurred_at) SELECT o.id, 'stripe', $3, $4, "
        "  (SELECT id FROM par), $6::bigint, $7, 'succeeded', to_timestamp($8::bigint) FROM o "
        "  WHERE $6::bigint > 0 ON CONFLICT (provider, provider_ref) DO NOTHING RETURNING id) "
        "SELECT (SELECT count(*) FROM o), (SELECT count(*) FROM ins)",
        8, NULL, v, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        int refused = state && (strncmp(state, "22", 2) == 0 || strncmp(state, "23", 2) == 0);
        if (refused)
            snprintf(h->note, sizeof h->note, "not mapped: refused by the store (%s)", state);
        else
            intake_db_error(st, ctx, "mapping a Stripe event", PQresultErrorMessage(r));
        PQclear(r);
        return refused ? 0 : -1;
    }
    if (atoi(PQgetvalue(r, 0, 0)) == 0)
        snprintf(h->note, sizeof h->note, "not mapped: %s",
                 strcmp(kind, "capture") == 0 ? "no order with metadata.order_ref"
                                              : "no captured payment for payment_intent");
    else {
        h->mapped = 1;
        snprintf(h->note, sizeof h->note, "%s %s %s", kind, prov_ref,
                 atoi(PQgetvalue(r, 0, 1)) ? "stored" : "already stored");
    }
    PQclear(r);
    return 0;
}

purser_status intake_wh_stripe(void *state, purser_ctx *ctx, const purser_http_request *req,
                               purser_http_response *resp)
{
    intake_state *st = state;
    if (!st->stripe_secret)
        return intake_hook_refuse(st, ctx, resp, 404, "not_found", "no such route", "stripe");
    int ok =
        intake_stripe_sig_ok(st->stripe_secret, req->header(req, "Stripe-Signature"), req->body,
                             req->body_len, (int64_t)time(NULL), st->stripe_tolerance_ms / 1000);
    if (ok != 1)
        return intake_hook_refuse(st, ctx, resp, 401, "unauthorized", "authentication required",
                                  "stripe");
    if (!intake_json_ct(req))
        return intake_hook_refuse(st, ctx, resp, 415, "unsupported_media_type",
                                  "expected application/json", "stripe");
    intake_hook h = {.platform = "stripe"};
    purser_status ps;
    if (intake_hook_parse(st, ctx, req, &h, resp, &ps) != PURSER_OK)
        return ps;
    const char *id = intake_text(h.root, "id"), *type = intake_text(h.root, "type");
    if (!id || !type) {
        cJSON_Delete(h.root);
        return intake_hook_refuse(st, ctx, resp, 400, "invalid", "the event has no id or type",
                                  "stripe");
    }
    h.topic = type;
    snprintf(h.key, sizeof h.key, "%s", id);
    ps = intake_hook_store(st, ctx, req, &h, intake_map_stripe, resp);
    cJSON_Delete(h.root);
    return ps;
}
