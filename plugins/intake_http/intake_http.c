/* intake_http: the storefronts' front door. JSON routes under /v1 for
 * orders (single, batch, cancel), payments, delivery events, stock,
 * catalogue, sellers and buyers; Shopify, WooCommerce and Stripe webhooks;
 * bearer tokens; Idempotency-Key; 2xx only after COMMIT. This file holds
 * the descriptor, the configuration and the routes' request handling;
 * intake_db.c the writes, intake_validate.c the body checks. */
#include <libpq-fe.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "intake_internal.h"

extern const purser_migration intake_http_migrations[];

static const purser_config_key intake_config[] = {
    {"max_body", PURSER_CFG_SIZE, "1MiB", 0, "largest request body; larger ones get 413 unread"},
    {"batch_max", PURSER_CFG_INT, "1000", 0, "most orders in one POST /v1/orders:batch"},
    {"idempotency_ttl", PURSER_CFG_DURATION, "24h", 0, "how long an Idempotency-Key is kept"},
    {"token_cache", PURSER_CFG_DURATION, "5s", 0,
     "how long the active token list is cached (a revocation takes this long)"},
    {"default_source", PURSER_CFG_STRING, "api", 0, "orders.source when a body names none"},
    {"group_commit_leaders", PURSER_CFG_INT, "4", 0,
     "single orders are committed in batches; how many batches may be in flight at once"},
    {"webhooks.shopify.secret", PURSER_CFG_STRING, NULL, 0,
     "Shopify app client secret (usually ${ENV}); unset: the route answers 404"},
    {"webhooks.woocommerce.secret", PURSER_CFG_STRING, NULL, 0,
     "WooCommerce webhook secret as stored by WordPress; unset: 404"},
    {"webhooks.stripe.secret", PURSER_CFG_STRING, NULL, 0,
     "Stripe endpoint secret whsec_...; unset: 404"},
    {"webhooks.stripe.tolerance", PURSER_CFG_DURATION, "5m", 0,
     "largest age of a Stripe-Signature timestamp; 0 disables the check"},
    {0},
};

/* ---- responses -------------------------------------------------------------- */

purser_status intake_reply(purser_http_response *resp, int status, char *body)
{
    resp->status = status;
    resp->content_type = "application/json";
    resp->body = body;
    resp->body_len = body ? strlen(body) : 0;
    return body ? PURSER_OK : PURSER_ERROR;
}

purser_status intake_reply_err(purser_http_response *resp, const intake_err *e)
{
    size_t len;
    char *body = intake_err_json(e, &len);
    resp->status = e->status ? e->status : 500;
    resp->content_type = "application/json";
    resp->body = body;
    resp->body_len = len;
    if (resp->status == 503)
        resp->headers = strdup("Retry-After: 1\r\n");
    return body ? PURSER_OK : PURSER_ERROR;
}

purser_status intake_unavailable(purser_http_response *resp, const char *why)
{
    intake_err e;
    intake_err_set(&e, 503, "unavailable", NULL, "%s: retry later", why);
    return intake_reply_err(resp, &e);
}

static char *intake_print(cJSON *doc)
{
    char *s = cJSON_PrintUnformatted(doc);
    cJSON_Delete(doc);
    return s;
}

/* ---- what every JSON route does first ------------------------------------------ */

typedef struct intake_req {
    char token[64];
    cJSON *root; /* owned; NULL for bodiless routes */
} intake_req;

static int intake_json_type(const char *ct)
{
    if (!ct || strncasecmp(ct, "application/json", 16) != 0)
        return 0;
    return ct[16] == '\0' || ct[16] == ';' || ct[16] == ' ';
}

/* Auth, content type, currencies, JSON. 0 to go on; else *ps answered. */
static int intake_begin(intake_state *st, purser_ctx *ctx, const purser_http_request *req,
                        purser_http_response *resp, intake_req *r, purser_status *ps)
{
    /* A bodiless POST (cancel) needs no content type. */
    int empty = req->body_len == 0 || (req->body_len == 2 && memcmp(req->body, "{}", 2) == 0 &&
                                       !req->header(req, "Content-Type"));
    memset(r, 0, sizeof *r);
    intake_err e;
    int auth = intake_auth(st, ctx, req, r->token, sizeof r->token);
    if (auth < 0) {
        *ps = intake_unavailable(resp, "credentials cannot be checked now");
        return -1;
    }
    if (auth == 0) {
        st->host->metric_add(ctx, "auth_failures_total", 1);
        intake_err_set(&e, 401, "unauthorized", NULL, "authentication required");
        *ps = intake_reply_err(resp, &e);
        resp->headers = strdup("WWW-Authenticate: Bearer\r\n");
        return -1;
    }
    st->host->log(ctx, PURSER_LOG_INFO, "%s %s token=%s", req->method, req->path, r->token);
    if (!empty && !intake_json_type(req->header(req, "Content-Type"))) {
        intake_err_set(&e, 415, "unsupported_media_type", NULL,
                       "send the body as Content-Type: application/json");
        *ps = intake_reply_err(resp, &e);
        return -1;
    }
    if (intake_currencies_ready(st, ctx) != 0) {
        *ps = intake_unavailable(resp, "the database is unavailable");
        return -1;
    }
    r->root = intake_json_parse(req->body, req->body_len, &e);
    if (!r->root) {
        *ps = intake_reply_err(resp, &e);
        return -1;
    }
    return 0;
}

/* The request's order source: ?source=, else the default. */
static const char *intake_query_source(intake_state *st, const purser_http_request *req)
{
    const char *s = req->arg ? req->arg(req, "source") : NULL;
    return s && *s ? s : st->default_source;
}

/* A database error inside a route's transaction: a refusal (4xx) when the
 * store's constraints said no, else -1 (503). */
static int intake_sql_refusal(intake_state *st, purser_ctx *ctx, PGresult *r, const char *field,
                              const char *what, intake_err *e)
{
    const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    if (state && (strncmp(state, "23", 2) == 0 || strncmp(state, "22", 2) == 0)) {
        const char *cons = PQresultErrorField(r, PG_DIAG_CONSTRAINT_NAME);
        intake_err_set(e, 422, "rejected", field, "%s refused by the store (%s)", what,
                       cons ? cons : state);
        return 0;
    }
    intake_db_error(st, ctx, what, PQresultErrorMessage(r));
    return -1;
}

static char *intake_num(char *buf, size_t len, int64_t v)
{
    snprintf(buf, len, "%lld", (long long)v);
    return buf;
}

/* ---- POST /v1/orders ---------------------------------------------------------------- */

static purser_status intake_post_order(void *state, purser_ctx *ctx, const purser_http_request *req,
                                       purser_http_response *resp)
{
    intake_state *st = state;
    intake_req r;
    purser_status ps;
    if (intake_begin(st, ctx, req, resp, &r, &ps) != 0)
        return ps;
    intake_order *o = malloc(sizeof *o);
    intake_err e = {0};
    if (!o) {
        cJSON_Delete(r.root);
        return PURSER_ERROR;
    }
    const char *key = req->header(req, "Idempotency-Key");
    if (key && (!*key || strlen(key) > 255)) {
        intake_err_set(&e, 400, "invalid", "Idempotency-Key", "must be 1 to 255 characters");
    } else if (intake_validate_order(r.root, "", st->default_source, intake_exponent, st, o, &e) ==
               0) {
        intake_job job = {.order = o, .scope = r.token, .key = key};
        if (key)
            intake_request_hash(req, job.hash);
        intake_order_submit(st, ctx, &job);
        ps = job.body ? intake_reply(resp, job.status, job.body) : intake_reply_err(resp, &job.err);
        free(o);
        cJSON_Delete(r.root);
        return ps;
    }
    free(o);
    cJSON_Delete(r.root);
    return intake_reply_err(resp, &e);
}

/* ---- POST /v1/orders:batch ------------------------------------------------------------ */

typedef struct intake_batch {
    intake_job *jobs;
    intake_order *orders;
    size_t n;
} intake_batch;

static int intake_batch_tx(intake_state *st, purser_ctx *ctx, PGconn *c, void *arg, int *status,
                           char **body, intake_err *e)
{
    (void)c, (void)e;
    intake_batch *b = arg;
    if (intake_order_batch(st, ctx, b->jobs, b->n) != 0)
        return -1;
    cJSON *doc = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(doc, "results");
    size_t created = 0, existing = 0, refused = 0;
    for (size_t i = 0; i < b->n; i++) {
        intake_job *j = &b->jobs[i];
        cJSON *item = j->body ? cJSON_Parse(j->body) : cJSON_CreateObject();
        if (!j->body) {
            size_t len;
            char *text = intake_err_json(&j->err, &len);
            cJSON *err = cJSON_Parse(text);
            free(text);
            cJSON_AddItemToObject(item, "error", cJSON_DetachItemFromObject(err, "error"));
            cJSON_Delete(err);
        }
        cJSON_AddNumberToObject(item, "index", (double)i);
        cJSON_AddNumberToObject(item, "status", j->status);
        cJSON_AddItemToArray(arr, item);
        created += j->status == 201;
        existing += j->status == 200;
        refused += j->status >= 400;
    }
    cJSON_AddNumberToObject(doc, "created", (double)created);
    cJSON_AddNumberToObject(doc, "existing", (double)existing);
    cJSON_AddNumberToObject(doc, "refused", (double)refused);
    *status = 200;
    *body = intake_print(doc);
    return 0;
}

static purser_status intake_post_batch(void *state, purser_ctx *ctx, const purser_http_request *req,
                                       purser_http_response *resp)
{
    intake_state *st = state;
    intake_req r;
    purser_status ps;
    if (intake_begin(st, ctx, req, resp, &r, &ps) != 0)
        return ps;
    intake_err e = {0};
    static const char *const keys[] = {"orders", NULL};
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(r.root, "orders");
    int n = cJSON_IsArray(arr) ? cJSON_GetArraySize(arr) : -1;
    if (intake_only_keys(r.root, "", keys, &e) < 0 || n < 1 || n > st->batch_max) {
        if (!e.status)
            intake_err_set(&e, 400, "invalid", "orders", "must be an array of 1 to %lld orders",
                           (long long)st->batch_max);
        cJSON_Delete(r.root);
        return intake_reply_err(resp, &e);
    }
    intake_batch b = {.jobs = calloc((size_t)n, sizeof *b.jobs),
                      .orders = malloc((size_t)n * sizeof *b.orders),
                      .n = (size_t)n};
    if (!b.jobs || !b.orders) {
        free(b.jobs);
        free(b.orders);
        cJSON_Delete(r.root);
        return PURSER_ERROR;
    }
    size_t i = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, arr)
    {
        char at[32];
        snprintf(at, sizeof at, "orders[%zu]", i);
        b.jobs[i].order = &b.orders[i];
        if (intake_validate_order(it, at, st->default_source, intake_exponent, st, &b.orders[i],
                                  &b.jobs[i].err) != 0)
            b.jobs[i].status = b.jobs[i].err.status;
        i++;
    }
    ps = intake_in_tx(st, ctx, req, r.token, intake_batch_tx, &b, resp);
    for (i = 0; i < b.n; i++)
        free(b.jobs[i].body);
    free(b.jobs);
    free(b.orders);
    cJSON_Delete(r.root);
    return ps;
}

/* ---- POST /v1/orders/{ref}/cancel ------------------------------------------------------ */

typedef struct intake_cancel {
    const char *source, *ref;
} intake_cancel;

static int intake_cancel_tx(intake_state *st, purser_ctx *ctx, PGconn *c, void *arg, int *status,
                            char **body, intake_err *e)
{
    intake_cancel *a = arg;
    const char *v[2] = {a->source, a->ref};
    PGresult *r = PQexecParams(
        c,
        "WITH o AS (SELECT id, status FROM orders WHERE source = $1 AND external_ref = $2 "
        "  FOR UPDATE), "
        "u AS (UPDATE orders SET status = 'cancelled' FROM o WHERE orders.id = o.id "
        "  AND o.status IN ('placed', 'paid') RETURNING orders.id) "
        "SELECT o.id, o.status, EXISTS (SELECT 1 FROM u) FROM o",
        2, NULL, v, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        int rc = intake_sql_refusal(st, ctx, r, NULL, "cancelling", e);
        PQclear(r);
        return rc;
    }
    if (PQntuples(r) == 0) {
        intake_err_set(e, 404, "not_found", NULL, "no order '%s' from source '%s'", a->ref,
                       a->source);
    } else if (PQgetvalue(r, 0, 2)[0] == 't' || strcmp(PQgetvalue(r, 0, 1), "cancelled") == 0) {
        cJSON *doc = cJSON_CreateObject(), *o = cJSON_AddObjectToObject(doc, "order");
        cJSON_AddNumberToObject(o, "id", (double)strtoll(PQgetvalue(r, 0, 0), NULL, 10));
        cJSON_AddStringToObject(o, "source", a->source);
        cJSON_AddStringToObject(o, "external_ref", a->ref);
        cJSON_AddStringToObject(o, "status", "cancelled");
        cJSON_AddBoolToObject(doc, "cancelled", PQgetvalue(r, 0, 2)[0] == 't');
        *status = 200;
        *body = intake_print(doc);
        if (PQgetvalue(r, 0, 2)[0] == 't')
            st->host->metric_add(ctx, "rows_written_total", 1);
    } else {
        intake_err_set(e, 409, "conflict", NULL, "order '%s' is %s: too late to cancel", a->ref,
                       PQgetvalue(r, 0, 1));
    }
    PQclear(r);
    return 0;
}

static purser_status intake_post_cancel(void *state, purser_ctx *ctx,
                                        const purser_http_request *req, purser_http_response *resp)
{
    intake_state *st = state;
    intake_req r;
    purser_status ps;
    intake_err e = {0};
    /* An empty body is allowed here: treat it as {}. */
    purser_http_request copy = *req;
    if (req->body_len == 0) {
        copy.body = (const unsigned char *)"{}";
        copy.body_len = 2;
    }
    if (intake_begin(st, ctx, &copy, resp, &r, &ps) != 0)
        return ps;
    static const char *const keys[] = {"reason", NULL};
    intake_cancel a = {.source = intake_query_source(st, req), .ref = req->params[0]};
    if (intake_only_keys(r.root, "", keys, &e) != 0) {
        cJSON_Delete(r.root);
        return intake_reply_err(resp, &e);
    }
    if (!intake_valid_source(a.source)) {
        intake_err_set(&e, 400, "invalid", "source", "must match [a-z][a-z0-9_.-]*");
        cJSON_Delete(r.root);
        return intake_reply_err(resp, &e);
    }
    ps = intake_in_tx(st, ctx, req, r.token, intake_cancel_tx, &a, resp);
    cJSON_Delete(r.root);
    return ps;
}

/* ---- POST /v1/payments ---------------------------------------------------------------- */

static int intake_payment_tx(intake_state *st, purser_ctx *ctx, PGconn *c, void *arg, int *status,
                             char **body, intake_err *e)
{
    const intake_payment *p = arg;
    char amount[24], fee[24];
    const char *v[11] = {p->source,
                         p->order_ref,
                         p->provider,
                         p->provider_ref,
                         p->kind,
                         p->parent_ref,
                         intake_num(amount, sizeof amount, p->amount),
                         p->currency,
                         p->status,
                         p->occurred_at,
                         p->fee >= 0 ? intake_num(fee, sizeof fee, p->fee) : NULL};
    PGresult *r = PQexecParams(
        c,
        "WITH o AS (SELECT id, currency FROM orders WHERE source = $1 AND external_ref = $2), "
        "par AS (SELECT id FROM payments WHERE provider = $3 AND provider_ref = $6), "
        "ins AS (INSERT INTO payments (order_id, provider, provider_ref, kind, parent_payment_id, "
        "  amount_minor, currency, status, occurred_at, fee_minor) "
        "  SELECT o.id, $3, $4, $5, (SELECT id FROM par), $7::bigint, $8, $9, $10::timestamptz, "
        "  $11::bigint FROM o WHERE o.currency = $8 "
        "  AND ($6::text IS NULL OR EXISTS (SELECT 1 FROM par)) "
        "  ON CONFLICT (provider, provider_ref) DO NOTHING RETURNING id), "
        "ex AS (SELECT id FROM payments WHERE provider = $3 AND provider_ref = $4 "
        "  AND NOT EXISTS (SELECT 1 FROM ins)) "
        "SELECT (SELECT id FROM o), (SELECT currency FROM o), EXISTS (SELECT 1 FROM par), "
        "  (SELECT id FROM ins), (SELECT id FROM ex)",
        11, NULL, v, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        int rc = intake_sql_refusal(st, ctx, r, NULL, "the payment", e);
        PQclear(r);
        return rc;
    }
    if (!PQgetisnull(r, 0, 3) || !PQgetisnull(r, 0, 4)) {
        int created = !PQgetisnull(r, 0, 3);
        cJSON *doc = cJSON_CreateObject(), *o = cJSON_AddObjectToObject(doc, "payment");
        cJSON_AddNumberToObject(o, "id",
                                (double)strtoll(PQgetvalue(r, 0, created ? 3 : 4), NULL, 10));
        cJSON_AddStringToObject(o, "provider", p->provider);
        cJSON_AddStringToObject(o, "provider_ref", p->provider_ref);
        cJSON_AddBoolToObject(doc, "created", created);
        *status = created ? 201 : 200;
        *body = intake_print(doc);
        st->host->metric_add(ctx, "rows_written_total", created);
    } else if (PQgetisnull(r, 0, 0)) {
        intake_err_set(e, 422, "unknown_reference", "order_ref", "no order '%s' from source '%s'",
                       p->order_ref, p->source);
    } else if (strcmp(PQgetvalue(r, 0, 1), p->currency) != 0) {
        intake_err_set(e, 422, "invalid", "currency", "must be the order's currency (%s)",
                       PQgetvalue(r, 0, 1));
    } else {
        intake_err_set(e, 422, "unknown_reference", "parent_ref", "no %s payment '%s' to refer to",
                       p->provider, p->parent_ref);
    }
    PQclear(r);
    return 0;
}

static purser_status intake_post_payment(void *state, purser_ctx *ctx,
                                         const purser_http_request *req, purser_http_response *resp)
{
    intake_state *st = state;
    intake_req r;
    purser_status ps;
    if (intake_begin(st, ctx, req, resp, &r, &ps) != 0)
        return ps;
    intake_payment p;
    intake_err e = {0};
    if (intake_validate_payment(r.root, st->default_source, intake_exponent, st, &p, &e) != 0)
        ps = intake_reply_err(resp, &e);
    else
        ps = intake_in_tx(st, ctx, req, r.token, intake_payment_tx, &p, resp);
    cJSON_Delete(r.root);
    return ps;
}

/* ---- POST /v1/deliveries/{order_ref}/events -------------------------------------------- */

typedef struct intake_event_arg {
    const char *order_ref;
    intake_dlv_event ev;
} intake_event_arg;

static int intake_event_tx(intake_state *st, purser_ctx *ctx, PGconn *c, void *arg, int *status,
                           char **body, intake_err *e)
{
    const intake_event_arg *a = arg;
    char agent[24];
    const char *v[6] = {a->ev.source,
                        a->order_ref,
                        a->ev.status,
                        a->ev.at,
                        a->ev.agent_id ? intake_num(agent, sizeof agent, a->ev.agent_id) : NULL,
                        a->ev.note};
    PGresult *r = PQexecParams(
        c,
        "WITH d AS (SELECT dl.id, dl.agent_id FROM deliveries dl JOIN orders o "
        "  ON o.id = dl.order_id WHERE o.source = $1 AND o.external_ref = $2 "
        "  ORDER BY dl.id DESC LIMIT 1 FOR UPDATE OF dl), "
        "dup AS (SELECT e.seq FROM delivery_events e, d WHERE e.delivery_id = d.id "
        "  AND e.status = $3 AND e.at = $4::timestamptz), "
        "nx AS (SELECT coalesce(max(e.seq), 0) + 1 AS seq FROM delivery_events e, d "
        "  WHERE e.delivery_id = d.id), "
        "ag AS (SELECT coalesce($5::bigint, d.agent_id) AS agent FROM d), "
        "ins AS (INSERT INTO delivery_events (delivery_id, seq, status, at, agent_id, note) "
        "  SELECT d.id, nx.seq, $3, $4::timestamptz, $5::bigint, $6 FROM d, nx, ag "
        "  WHERE NOT EXISTS (SELECT 1 FROM dup) AND ag.agent IS NOT NULL RETURNING seq), "
        "up AS (UPDATE deliveries SET status = $3, agent_id = ag.agent, delivered_at = "
        "  CASE WHEN $3 = 'delivered' THEN $4::timestamptz END FROM d, ag "
        "  WHERE deliveries.id = d.id AND EXISTS (SELECT 1 FROM ins) RETURNING 1) "
        "SELECT (SELECT id FROM d), (SELECT seq FROM ins), (SELECT seq FROM dup), "
        "  (SELECT agent FROM ag)",
        6, NULL, v, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        int rc = intake_sql_refusal(st, ctx, r, a->ev.agent_id ? "agent_id" : NULL,
                                    "the delivery event", e);
        PQclear(r);
        return rc;
    }
    if (PQgetisnull(r, 0, 0)) {
        intake_err_set(e, 404, "not_found", NULL, "no delivery for order '%s' from source '%s'",
                       a->order_ref, a->ev.source);
    } else if (PQgetisnull(r, 0, 1) && PQgetisnull(r, 0, 2)) {
        intake_err_set(e, 422, "invalid", "agent_id", "is required: the delivery has no agent yet");
    } else {
        int created = !PQgetisnull(r, 0, 1);
        cJSON *doc = cJSON_CreateObject(), *o = cJSON_AddObjectToObject(doc, "event");
        cJSON_AddNumberToObject(o, "delivery_id", (double)strtoll(PQgetvalue(r, 0, 0), NULL, 10));
        cJSON_AddNumberToObject(o, "seq", atoi(PQgetvalue(r, 0, created ? 1 : 2)));
        cJSON_AddStringToObject(o, "status", a->ev.status);
        cJSON_AddBoolToObject(doc, "created", created);
        *status = created ? 201 : 200;
        *body = intake_print(doc);
        st->host->metric_add(ctx, "rows_written_total", created ? 2 : 0);
    }
    PQclear(r);
    return 0;
}

static purser_status intake_post_event(void *state, purser_ctx *ctx, const purser_http_request *req,
                                       purser_http_response *resp)
{
    intake_state *st = state;
    intake_req r;
    purser_status ps;
    if (intake_begin(st, ctx, req, resp, &r, &ps) != 0)
        return ps;
    intake_event_arg a = {.order_ref = req->params[0]};
    intake_err e = {0};
    if (intake_validate_dlv_event(r.root, st->default_source, &a.ev, &e) != 0)
        ps = intake_reply_err(resp, &e);
    else
        ps = intake_in_tx(st, ctx, req, r.token, intake_event_tx, &a, resp);
    cJSON_Delete(r.root);
    return ps;
}

/* ---- POST /v1/inventory ------------------------------------------------------------------ */

typedef struct intake_stock_arg {
    intake_stock items[INTAKE_MAX_STOCK];
    size_t n;
} intake_stock_arg;

static int intake_stock_tx(intake_state *st, purser_ctx *ctx, PGconn *c, void *arg, int *status,
                           char **body, intake_err *e)
{
    const intake_stock_arg *a = arg;
    cJSON *doc = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(doc, "items");
    for (size_t i = 0; i < a->n; i++) {
        const intake_stock *s = &a->items[i];
        char b[4][24], field[64];
        const char *v[7] = {s->sku,
                            s->seller,
                            s->warehouse,
                            s->absolute ? intake_num(b[0], 24, s->on_hand) : NULL,
                            s->absolute ? NULL : intake_num(b[1], 24, s->adjust),
                            s->reserved >= 0 ? intake_num(b[2], 24, s->reserved) : NULL,
                            s->safety_stock >= 0 ? intake_num(b[3], 24, s->safety_stock) : NULL};
        PGresult *r = PQexecParams(
            c,
            "WITH p AS (SELECT min(p.id) AS id, count(*) AS c FROM products p WHERE p.sku = $1 "
            "  AND ($2::text IS NULL OR p.seller_id = "
            "  (SELECT id FROM sellers WHERE external_ref = $2))), "
            "w AS (SELECT id FROM depots WHERE code = $3), "
            "up AS (INSERT INTO inventory (product_id, warehouse_id, on_hand, reserved, "
            "  safety_stock, updated_at) SELECT p.id, w.id, coalesce($4::int, $5::int), "
            "  coalesce($6::int, 0), coalesce($7::int, 0), now() FROM p, w WHERE p.c = 1 "
            "  ON CONFLICT (product_id, warehouse_id) DO UPDATE SET on_hand = "
            "  coalesce($4::int, inventory.on_hand + $5::int), "
            "  reserved = coalesce($6::int, inventory.reserved), "
            "  safety_stock = coalesce($7::int, inventory.safety_stock), updated_at = now() "
            "  RETURNING on_hand) "
            "SELECT p.c, EXISTS (SELECT 1 FROM w), (SELECT on_hand FROM up) FROM p",
            7, NULL, v, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            snprintf(field, sizeof field, "items[%zu].%s", i, s->absolute ? "on_hand" : "adjust");
            int rc = intake_sql_refusal(st, ctx, r, field, "the stock change", e);
            if (rc == 0 && strstr(e->message, "inventory_on_hand_check"))
                intake_err_set(e, 422, "invalid", field, "would make on_hand negative");
            PQclear(r);
            cJSON_Delete(doc);
            return rc;
        }
        int count = atoi(PQgetvalue(r, 0, 0));
        if (count != 1 || PQgetvalue(r, 0, 1)[0] != 't') {
            snprintf(field, sizeof field, "items[%zu].%s", i,
                     count == 1  ? "warehouse"
                     : count > 1 ? "seller"
                                 : "sku");
            if (count == 0)
                intake_err_set(e, 422, "unknown_reference", field, "no product with sku '%s'",
                               s->sku);
            else if (count > 1)
                intake_err_set(e, 422, "unknown_reference", field,
                               "%d sellers have sku '%s': name the seller", count, s->sku);
            else
                intake_err_set(e, 422, "unknown_reference", field, "no depot with code '%s'",
                               s->warehouse);
            PQclear(r);
            cJSON_Delete(doc);
            return 0;
        }
        cJSON *item = cJSON_CreateObject();
        cJSON_AddStringToObject(item, "sku", s->sku);
        cJSON_AddStringToObject(item, "warehouse", s->warehouse);
        cJSON_AddNumberToObject(item, "on_hand", atoi(PQgetvalue(r, 0, 2)));
        cJSON_AddItemToArray(arr, item);
        PQclear(r);
    }
    st->host->metric_add(ctx, "rows_written_total", (double)a->n);
    *status = 200;
    *body = intake_print(doc);
    return 0;
}

static purser_status intake_post_stock(void *state, purser_ctx *ctx, const purser_http_request *req,
                                       purser_http_response *resp)
{
    intake_state *st = state;
    intake_req r;
    purser_status ps;
    if (intake_begin(st, ctx, req, resp, &r, &ps) != 0)
        return ps;
    intake_stock_arg *a = malloc(sizeof *a);
    intake_err e = {0};
    if (!a)
        ps = PURSER_ERROR;
    else if (intake_validate_stock(r.root, a->items, &a->n, &e) != 0)
        ps = intake_reply_err(resp, &e);
    else
        ps = intake_in_tx(st, ctx, req, r.token, intake_stock_tx, a, resp);
    free(a);
    cJSON_Delete(r.root);
    return ps;
}

/* ---- PUT catalogue, sellers, buyers ---------------------------------------------------- */

typedef struct intake_upsert {
    const char *kind, *ref;
    const char *sql;
    const char *v[8];
    int n;
    const char *missing_field, *missing_what; /* when the first column is NULL */
} intake_upsert;

/* The statement returns (id or NULL when a reference is missing, inserted). */
static int intake_upsert_tx(intake_state *st, purser_ctx *ctx, PGconn *c, void *arg, int *status,
                            char **body, intake_err *e)
{
    const intake_upsert *u = arg;
    PGresult *r = PQexecParams(c, u->sql, u->n, NULL, u->v, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        int rc = intake_sql_refusal(st, ctx, r, NULL, u->kind, e);
        PQclear(r);
        return rc;
    }
    if (PQntuples(r) == 0 || PQgetisnull(r, 0, 0)) {
        intake_err_set(e, 422, "unknown_reference", u->missing_field, "%s", u->missing_what);
    } else {
        int inserted = PQgetvalue(r, 0, 1)[0] == 't';
        cJSON *doc = cJSON_CreateObject(), *o = cJSON_AddObjectToObject(doc, u->kind);
        cJSON_AddNumberToObject(o, "id", (double)strtoll(PQgetvalue(r, 0, 0), NULL, 10));
        cJSON_AddStringToObject(o, strcmp(u->kind, "product") == 0 ? "sku" : "external_ref",
                                u->ref);
        cJSON_AddBoolToObject(doc, "created", inserted);
        *status = inserted ? 201 : 200;
        *body = intake_print(doc);
        st->host->metric_add(ctx, "rows_written_total", 1);
    }
    PQclear(r);
    return 0;
}

static purser_status intake_put_product(void *state, purser_ctx *ctx,
                                        const purser_http_request *req, purser_http_response *resp)
{
    intake_state *st = state;
    intake_req r;
    purser_status ps;
    if (intake_begin(st, ctx, req, resp, &r, &ps) != 0)
        return ps;
    intake_product p;
    intake_err e = {0};
    char price[24], weight[24], msg[320];
    if (intake_validate_product(r.root, intake_exponent, st, &p, &e) != 0) {
        cJSON_Delete(r.root);
        return intake_reply_err(resp, &e);
    }
    snprintf(msg, sizeof msg, "no seller '%s' (create it with PUT /v1/sellers/{ref})", p.seller);
    intake_upsert u = {
        .kind = "product",
        .ref = req->params[0],
        .sql = "WITH s AS (SELECT id FROM sellers WHERE external_ref = $2), "
               "up AS (INSERT INTO products (seller_id, sku, name, category, price_minor, "
               "  currency, weight_grams) SELECT s.id, $1, $3, $4, $5::bigint, $6, $7::int "
               "  FROM s ON CONFLICT (seller_id, sku) DO UPDATE SET name = EXCLUDED.name, "
               "  category = EXCLUDED.category, price_minor = EXCLUDED.price_minor, "
               "  currency = EXCLUDED.currency, weight_grams = EXCLUDED.weight_grams "
               "  RETURNING id, xmax = 0 AS inserted) "
               "SELECT (SELECT id FROM up), (SELECT inserted FROM up)",
        .v = {req->params[0], p.seller, p.name, p.category, intake_num(price, 24, p.price),
              p.currency, intake_num(weight, 24, p.weight_grams)},
        .n = 7,
        .missing_field = "seller",
        .missing_what = msg};
    ps = intake_in_tx(st, ctx, req, r.token, intake_upsert_tx, &u, resp);
    cJSON_Delete(r.root);
    return ps;
}

static purser_status intake_put_seller(void *state, purser_ctx *ctx, const purser_http_request *req,
                                       purser_http_response *resp)
{
    intake_state *st = state;
    intake_req r;
    purser_status ps;
    if (intake_begin(st, ctx, req, resp, &r, &ps) != 0)
        return ps;
    intake_seller s;
    intake_err e = {0};
    char bp[24], fixed[24], min[24];
    if (intake_validate_seller(r.root, intake_exponent, st, &s, &e) != 0) {
        cJSON_Delete(r.root);
        return intake_reply_err(resp, &e);
    }
    intake_upsert u = {
        .kind = "seller",
        .ref = req->params[0],
        .sql = "INSERT INTO sellers (external_ref, name, currency, commission_bp, "
               "commission_fixed_minor, commission_min_minor) VALUES ($1, $2, $3, $4::int, "
               "$5::bigint, $6::bigint) ON CONFLICT (external_ref) DO UPDATE SET "
               "name = EXCLUDED.name, currency = EXCLUDED.currency, "
               "commission_bp = EXCLUDED.commission_bp, "
               "commission_fixed_minor = EXCLUDED.commission_fixed_minor, "
               "commission_min_minor = EXCLUDED.commission_min_minor "
               "RETURNING id, xmax = 0",
        .v = {req->params[0], s.name, s.currency, intake_num(bp, 24, s.commission_bp),
              intake_num(fixed, 24, s.fixed), intake_num(min, 24, s.minimum)},
        .n = 6};
    ps = intake_in_tx(st, ctx, req, r.token, intake_upsert_tx, &u, resp);
    cJSON_Delete(r.root);
    return ps;
}

static purser_status intake_put_buyer(void *state, purser_ctx *ctx, const purser_http_request *req,
                                      purser_http_response *resp)
{
    intake_state *st = state;
    intake_req r;
    purser_status ps;
    if (intake_begin(st, ctx, req, resp, &r, &ps) != 0)
        return ps;
    intake_buyer b;
    intake_err e = {0};
    if (intake_validate_buyer(r.root, &b, &e) != 0) {
        cJSON_Delete(r.root);
        return intake_reply_err(resp, &e);
    }
    intake_upsert u = {.kind = "buyer",
                       .ref = req->params[0],
                       .sql = "INSERT INTO buyers (external_ref, email, name, country) VALUES "
                              "($1, $2, $3, $4) ON CONFLICT (external_ref) DO UPDATE SET "
                              "email = EXCLUDED.email, name = EXCLUDED.name, "
                              "country = EXCLUDED.country RETURNING id, xmax = 0",
                       .v = {req->params[0], b.email, b.name, b.country},
                       .n = 4};
    ps = intake_in_tx(st, ctx, req, r.token, intake_upsert_tx, &u, resp);
    cJSON_Delete(r.root);
    return ps;
}

/* ---- descriptor ----------------------------------------------------------------------- */

/* Not const: init sets each route's max_body from the configuration
 * before the server starts listening. */
static purser_route intake_routes[] = {
    {"POST", "/v1/orders", intake_post_order, 0},
    {"POST", "/v1/orders:batch", intake_post_batch, 0},
    {"POST", "/v1/orders/{ref}/cancel", intake_post_cancel, 0},
    {"POST", "/v1/payments", intake_post_payment, 0},
    {"POST", "/v1/deliveries/{order_ref}/events", intake_post_event, 0},
    {"POST", "/v1/inventory", intake_post_stock, 0},
    {"PUT", "/v1/catalog/products/{sku}", intake_put_product, 0},
    {"PUT", "/v1/sellers/{ref}", intake_put_seller, 0},
    {"PUT", "/v1/buyers/{ref}", intake_put_buyer, 0},
    {"POST", "/v1/webhooks/shopify", intake_wh_shopify, 0},
    {"POST", "/v1/webhooks/woocommerce", intake_wh_woocommerce, 0},
    {"POST", "/v1/webhooks/stripe", intake_wh_stripe, 0},
    {0},
};

static const purser_command intake_commands[] = {
    {"token", "create NAME | list | revoke NAME",
     "API tokens for the HTTP intake (shown once, stored as SHA-256)", intake_token_main},
    {0},
};

static void intake_fini(void *state)
{
    intake_state *st = state;
    if (!st)
        return;
    pthread_mutex_destroy(&st->lock);
    pthread_mutex_destroy(&st->gc_lock);
    pthread_mutex_destroy(&st->load_lock);
    pthread_cond_destroy(&st->gc_done);
    free(st->tokens);
    free(st);
}

static purser_status intake_init(const purser_host *host, purser_ctx *ctx, void **state)
{
    intake_state *st = calloc(1, sizeof *st);
    if (!st)
        return PURSER_ERROR;
    *state = st;
    st->host = host;
    pthread_mutex_init(&st->lock, NULL);
    pthread_mutex_init(&st->gc_lock, NULL);
    pthread_mutex_init(&st->load_lock, NULL);
    pthread_cond_init(&st->gc_done, NULL);
    host->config_size(ctx, "max_body", &st->max_body);
    host->config_int(ctx, "batch_max", &st->batch_max);
    int64_t leaders = 4;
    host->config_int(ctx, "group_commit_leaders", &leaders);
    if (leaders < 1 || leaders > 8) {
        host->log(ctx, PURSER_LOG_ERROR,
                  "plugins.intake_http.group_commit_leaders %lld: "
                  "expected 1 to 8",
                  (long long)leaders);
        return PURSER_ERROR;
    }
    st->gc_max_leaders = (int)leaders;
    host->config_duration_ms(ctx, "idempotency_ttl", &st->idem_ttl_ms);
    host->config_duration_ms(ctx, "token_cache", &st->token_cache_ms);
    host->config_duration_ms(ctx, "webhooks.stripe.tolerance", &st->stripe_tolerance_ms);
    st->default_source = host->config_string(ctx, "default_source");
    if (!intake_valid_source(st->default_source)) {
        host->log(ctx, PURSER_LOG_ERROR,
                  "plugins.intake_http.default_source '%s': must match "
                  "[a-z][a-z0-9_.-]*",
                  st->default_source ? st->default_source : "");
        return PURSER_ERROR;
    }
    if (st->batch_max < 1 || st->batch_max > 10000) {
        host->log(ctx, PURSER_LOG_ERROR, "plugins.intake_http.batch_max %lld: expected 1 to 10000",
                  (long long)st->batch_max);
        return PURSER_ERROR;
    }
    const char *s = host->config_string(ctx, "webhooks.shopify.secret");
    st->shopify_secret = s && *s ? s : NULL;
    s = host->config_string(ctx, "webhooks.stripe.secret");
    st->stripe_secret = s && *s ? s : NULL;
    s = host->config_string(ctx, "webhooks.woocommerce.secret");
    if (s && *s) {
        intake_wc_decode_secret(s, st->wc_key, sizeof st->wc_key);
        st->wc_enabled = 1;
    }
    for (purser_route *r = intake_routes; r->method; r++)
        r->max_body = (size_t)st->max_body;
    return PURSER_OK;
}

static const purser_plugin intake_plugin = {
    PURSER_PLUGIN_HEADER,
    .name = "intake_http",
    .version = "1.0.0",
    .description = "Storefront intake over HTTP: orders, payments, deliveries, stock, "
                   "catalogue and Shopify/WooCommerce/Stripe webhooks",
    .config = intake_config,
    .init = intake_init,
    .fini = intake_fini,
    .routes = intake_routes,
    .migrations = intake_http_migrations,
    .commands = intake_commands,
};

PURSER_PLUGIN_DEFINE(intake_plugin)
