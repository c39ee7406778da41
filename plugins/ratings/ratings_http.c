/* POST /v1/reviews: a buyer's review of one delivered order line, once.
 * The storefront authenticates with a bearer token issued by the
 * intake_http plugin (`purser token create`): ratings reads the intake's
 * table intake_tokens, where only each token's SHA-256 is kept. The body
 * names the buyer, which must be the order's buyer. */
#include <libpq-fe.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ratings.h"

#define RATINGS_SQLSTATE_UNDEFINED_TABLE "42P01"

static purser_status ratings_reply(purser_http_response *resp, int status, char *body)
{
    resp->status = status;
    resp->content_type = "application/json";
    resp->body = body;
    resp->body_len = body ? strlen(body) : 0;
    return body ? PURSER_OK : PURSER_ERROR;
}

static purser_status ratings_reply_err(purser_http_response *resp, const ratings_err *e)
{
    if (e->status == 503)
        resp->headers = strdup("Retry-After: 1\r\n");
    else if (e->status == 401)
        resp->headers = strdup("WWW-Authenticate: Bearer\r\n");
    return ratings_reply(resp, e->status, ratings_err_json(e));
}

/* A database error: logged with the step, answered 503 (retry later). */
static purser_status ratings_db_failed(ratings_state *st, purser_ctx *ctx,
                                       purser_http_response *resp, const char *step,
                                       const PGresult *r)
{
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    if (state && strcmp(state, RATINGS_SQLSTATE_UNDEFINED_TABLE) == 0)
        st->host->log(ctx, PURSER_LOG_ERROR,
                      "%s: a table is missing (%s): the intake_http plugin issues the tokens, "
                      "load it beside ratings and run `purser migrate`",
                      step, PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY));
    else
        st->host->log(ctx, PURSER_LOG_ERROR, "%s: %s", step,
                      r ? PQresultErrorMessage(r) : "no database connection");
    st->host->metric_add(ctx, "db_errors_total", 1);
    ratings_err e;
    ratings_err_set(&e, 503, "unavailable", NULL, "the database is unavailable: retry later");
    return ratings_reply_err(resp, &e);
}

/* The intake token's name into name: 1; 0 when the request carries no
 * valid token; -1 when tokens cannot be checked (logged). */
static int ratings_auth(PGconn *c, const purser_http_request *req, char *name, size_t namelen,
                        PGresult **err)
{
    const char *h = req->header(req, "Authorization");
    if (!h || strncasecmp(h, "Bearer ", 7) != 0)
        return 0;
    const char *tok = h + 7;
    while (*tok == ' ')
        tok++;
    if (!*tok || strlen(tok) > 512)
        return 0;
    unsigned char hash[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)tok, strlen(tok), hash);
    const char *v[1] = {(const char *)hash};
    int lens[1] = {sizeof hash}, fmts[1] = {1};
    PGresult *r = PQexecParams(c,
                               "SELECT name FROM intake_tokens "
                               "WHERE token_sha256 = $1 AND revoked_at IS NULL",
                               1, NULL, v, lens, fmts, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        *err = r;
        return -1;
    }
    int found = PQntuples(r) == 1;
    if (found)
        snprintf(name, namelen, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    return found;
}

static int ratings_json_type(const char *ct)
{
    if (!ct || strncasecmp(ct, "application/json", 16) != 0)
        return 0;
    return ct[16] == '\0' || ct[16] == ';' || ct[16] == ' ';
}

/* The order line the review names, with what decides whether it may be
 * reviewed. */
typedef struct ratings_line {
    char id[24], buyer_id[24];
    const char *buyer_ref, *order_status, *sku, *seller;
    int delivered;
} ratings_line;

#define RATINGS_LINE_SELECT                                                                        \
    "SELECT i.id, o.buyer_id, b.external_ref, o.status, "                                          \
    "  o.status = 'delivered' OR EXISTS (SELECT 1 FROM deliveries d "                              \
    "    WHERE d.order_id = o.id AND d.status = 'delivered'), p.sku, s.external_ref "              \
    "FROM order_items i JOIN orders o ON o.id = i.order_id "                                       \
    "JOIN buyers b ON b.id = o.buyer_id JOIN products p ON p.id = i.product_id "                   \
    "JOIN sellers s ON s.id = i.seller_id "

/* Look the line up: the result holds its row (0 or 1); the caller
 * PQclears it. */
static PGresult *ratings_find_line(PGconn *c, const ratings_review *rv)
{
    if (rv->order_ref) {
        char no[24];
        snprintf(no, sizeof no, "%lld", (long long)rv->line_no);
        const char *v[3] = {rv->source, rv->order_ref, no};
        return PQexecParams(c,
                            RATINGS_LINE_SELECT
                            "WHERE o.source = $1 AND o.external_ref = $2 AND i.line_no = $3::int",
                            3, NULL, v, NULL, NULL, 0);
    }
    char id[24];
    snprintf(id, sizeof id, "%lld", (long long)rv->line_id);
    const char *v[1] = {id};
    return PQexecParams(c, RATINGS_LINE_SELECT "WHERE i.id = $1::bigint", 1, NULL, v, NULL, NULL,
                        0);
}

/* May this buyer review this line? 0, or -1 with e set. */
static int ratings_may_review(const ratings_review *rv, const PGresult *r, ratings_line *l,
                              ratings_err *e)
{
    if (PQntuples(r) == 0) {
        if (rv->order_ref)
            ratings_err_set(e, 422, "unknown_reference", "line_no",
                            "no line %lld in order '%s' from source '%s'", (long long)rv->line_no,
                            rv->order_ref, rv->source);
        else
            ratings_err_set(e, 422, "unknown_reference", "order_line_id", "no order line %lld",
                            (long long)rv->line_id);
        return -1;
    }
    snprintf(l->id, sizeof l->id, "%s", PQgetvalue(r, 0, 0));
    snprintf(l->buyer_id, sizeof l->buyer_id, "%s", PQgetvalue(r, 0, 1));
    l->buyer_ref = PQgetvalue(r, 0, 2);
    l->order_status = PQgetvalue(r, 0, 3);
    l->delivered = PQgetvalue(r, 0, 4)[0] == 't';
    l->sku = PQgetvalue(r, 0, 5);
    l->seller = PQgetvalue(r, 0, 6);
    if (strcmp(l->buyer_ref, rv->buyer) != 0) {
        ratings_err_set(e, 403, "forbidden", "buyer",
                        "buyer '%s' did not buy order line %s: only its buyer may review it",
                        rv->buyer, l->id);
        return -1;
    }
    if (!l->delivered) {
        ratings_err_set(e, 422, "not_delivered", rv->order_ref ? "line_no" : "order_line_id",
                        "order line %s is not delivered yet (order %s): a review waits for "
                        "the delivery",
                        l->id, l->order_status);
        return -1;
    }
    return 0;
}

static char *ratings_created_json(const ratings_review *rv, const ratings_line *l,
                                  const PGresult *r)
{
    cJSON *doc = cJSON_CreateObject(), *o = cJSON_AddObjectToObject(doc, "review");
    cJSON_AddNumberToObject(o, "id", (double)strtoll(PQgetvalue(r, 0, 0), NULL, 10));
    cJSON_AddNumberToObject(o, "order_line_id", (double)strtoll(l->id, NULL, 10));
    cJSON_AddStringToObject(o, "product", l->sku);
    cJSON_AddStringToObject(o, "seller", l->seller);
    cJSON_AddStringToObject(o, "buyer", rv->buyer);
    cJSON_AddNumberToObject(o, "rating", rv->rating);
    cJSON_AddStringToObject(o, "created_at", PQgetvalue(r, 0, 1));
    char *s = cJSON_PrintUnformatted(doc);
    cJSON_Delete(doc);
    return s;
}

/* Store the review: 201, or 409 when the line has one already. */
static purser_status ratings_store(ratings_state *st, purser_ctx *ctx, PGconn *c,
                                   const ratings_review *rv, const ratings_line *l,
                                   const char *token, purser_http_response *resp)
{
    char rating[8];
    snprintf(rating, sizeof rating, "%d", rv->rating);
    const char *v[5] = {l->id, l->buyer_id, rating, rv->text, token};
    PGresult *r = PQexecParams(
        c,
        "INSERT INTO ratings_reviews (order_item_id, buyer_id, rating, review_text, token_name) "
        "VALUES ($1::bigint, $2::bigint, $3::smallint, $4, $5) "
        "ON CONFLICT (order_item_id) DO NOTHING "
        "RETURNING id, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')",
        5, NULL, v, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        purser_status ps = ratings_db_failed(st, ctx, resp, "storing a review", r);
        PQclear(r);
        return ps;
    }
    if (PQntuples(r) == 1) {
        st->host->log(ctx, PURSER_LOG_INFO, "review %s of order line %s by buyer '%s' (token %s)",
                      PQgetvalue(r, 0, 0), l->id, rv->buyer, token);
        st->host->metric_add(ctx, "reviews_total", 1);
        purser_status ps = ratings_reply(resp, 201, ratings_created_json(rv, l, r));
        PQclear(r);
        return ps;
    }
    PQclear(r);
    const char *kv[1] = {l->id};
    r = PQexecParams(c, "SELECT id FROM ratings_reviews WHERE order_item_id = $1::bigint", 1, NULL,
                     kv, NULL, NULL, 0);
    ratings_err e;
    ratings_err_set(
        &e, 409, "conflict", rv->order_ref ? "line_no" : "order_line_id",
        "order line %s has a review already (review %s): one review per order line", l->id,
        PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 ? PQgetvalue(r, 0, 0) : "?");
    PQclear(r);
    return ratings_reply_err(resp, &e);
}

purser_status ratings_post_review(void *state, purser_ctx *ctx, const purser_http_request *req,
                                  purser_http_response *resp)
{
    ratings_state *st = state;
    ratings_err e = {0};
    PGconn *c = st->host->db(ctx);
    if (!c)
        return ratings_db_failed(st, ctx, resp, "connecting", NULL);
    char token[128];
    PGresult *err = NULL;
    int auth = ratings_auth(c, req, token, sizeof token, &err);
    if (auth < 0) {
        purser_status ps = ratings_db_failed(st, ctx, resp, "checking the bearer token", err);
        PQclear(err);
        return ps;
    }
    if (auth == 0) {
        st->host->metric_add(ctx, "auth_failures_total", 1);
        ratings_err_set(&e, 401, "unauthorized", NULL, "authentication required");
        return ratings_reply_err(resp, &e);
    }
    if (!ratings_json_type(req->header(req, "Content-Type"))) {
        ratings_err_set(&e, 415, "unsupported_media_type", NULL,
                        "send the body as Content-Type: application/json");
        return ratings_reply_err(resp, &e);
    }
    ratings_review rv;
    cJSON *root = ratings_parse_review(req->body, req->body_len, &st->cfg, &rv, &e);
    if (!root) {
        st->host->metric_add(ctx, "rejected_total", 1);
        return ratings_reply_err(resp, &e);
    }
    PGresult *r = ratings_find_line(c, &rv);
    purser_status ps;
    ratings_line line;
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        ps = ratings_db_failed(st, ctx, resp, "looking up the order line", r);
    else if (ratings_may_review(&rv, r, &line, &e) != 0) {
        st->host->metric_add(ctx, "rejected_total", 1);
        ps = ratings_reply_err(resp, &e);
    } else
        ps = ratings_store(st, ctx, c, &rv, &line, token, resp);
    PQclear(r);
    cJSON_Delete(root);
    return ps;
}
