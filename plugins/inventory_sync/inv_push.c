/* inv_push.c: outbox -> storefront, after the commit. Levels go in batches
 *   POST {storefront.url}  {"inventory_levels": [{"inventory_item_id", "location_id",
 *                           "available", "sku", "location", "idempotency_key"}, ...]}
 * in the shape of Shopify's inventory_levels/set, each item keyed
 * "inv-<product>-<warehouse>-v<version>" and the request keyed by its items
 * (Idempotency-Key header), so a batch sent again after a lost answer
 * changes nothing twice. A level leaves the outbox only once the storefront
 * answered 2xx for that version; a failure keeps it for the next run. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inventory_sync.h"

typedef struct inv_batch {
    int n;
    char *body;     /* JSON, malloc'd */
    char *products; /* "{1,2}" arrays for SQL, malloc'd */
    char *warehouses;
    char *versions;
    char *availables;
    char key[64]; /* Idempotency-Key of the request */
    char first_p[24], last_p[24], last_w[24];
} inv_batch;

static void inv_batch_free(inv_batch *b)
{
    free(b->body);
    free(b->products);
    free(b->warehouses);
    free(b->versions);
    free(b->availables);
    memset(b, 0, sizeof *b);
}

static uint64_t inv_fnv(uint64_t h, const char *s)
{
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211u;
    return h;
}

/* The batch's JSON and SQL arrays from up to batch_size outbox rows. */
static int inv_batch_build(const PGresult *res, inv_batch *b)
{
    size_t sz[4];
    FILE *f[4] = {open_memstream(&b->products, &sz[0]), open_memstream(&b->warehouses, &sz[1]),
                  open_memstream(&b->versions, &sz[2]), open_memstream(&b->availables, &sz[3])};
    cJSON *doc = cJSON_CreateObject();
    cJSON *arr = doc ? cJSON_AddArrayToObject(doc, "inventory_levels") : NULL;
    int ok = arr != NULL;
    uint64_t h = 1469598103934665603u;
    b->n = PQntuples(res);
    for (int k = 0; k < 4; k++)
        ok = ok && f[k] && fputc('{', f[k]) != EOF;
    for (int i = 0; ok && i < b->n; i++) {
        const char *p = PQgetvalue(res, i, 0), *w = PQgetvalue(res, i, 1);
        const char *v = PQgetvalue(res, i, 2), *a = PQgetvalue(res, i, 3);
        char key[96];
        snprintf(key, sizeof key, "inv-%s-%s-v%s", p, w, v);
        h = inv_fnv(h, key);
        cJSON *it = cJSON_CreateObject();
        ok = it && cJSON_AddItemToArray(arr, it) &&
             cJSON_AddNumberToObject(it, "inventory_item_id", strtod(p, NULL)) &&
             cJSON_AddNumberToObject(it, "location_id", strtod(w, NULL)) &&
             cJSON_AddNumberToObject(it, "available", strtod(a, NULL)) &&
             cJSON_AddStringToObject(it, "sku", PQgetvalue(res, i, 4)) &&
             cJSON_AddStringToObject(it, "location", PQgetvalue(res, i, 5)) &&
             cJSON_AddStringToObject(it, "idempotency_key", key);
        const char *sep = i ? "," : "";
        ok = ok && fprintf(f[0], "%s%s", sep, p) > 0 && fprintf(f[1], "%s%s", sep, w) > 0 &&
             fprintf(f[2], "%s%s", sep, v) > 0 && fprintf(f[3], "%s%s", sep, a) > 0;
    }
    for (int k = 0; k < 4; k++)
        if (f[k]) {
            ok = ok && fputc('}', f[k]) != EOF;
            ok = fclose(f[k]) == 0 && ok;
        }
    b->body = ok ? cJSON_PrintUnformatted(doc) : NULL;
    cJSON_Delete(doc);
    snprintf(b->key, sizeof b->key, "inv-batch-%016llx", (unsigned long long)h);
    if (b->n > 0) {
        snprintf(b->first_p, sizeof b->first_p, "%s", PQgetvalue(res, 0, 0));
        snprintf(b->last_p, sizeof b->last_p, "%s", PQgetvalue(res, b->n - 1, 0));
        snprintf(b->last_w, sizeof b->last_w, "%s", PQgetvalue(res, b->n - 1, 1));
    }
    return ok && b->body ? 0 : -1;
}

/* Record the batch's outcome: acknowledged levels leave the outbox (only
 * at the version sent); failed ones count an attempt and keep the error. */
static int inv_batch_record(inv_run *r, const inv_batch *b, int ok, long status, const char *err)
{
    char sync[24], code[24];
    snprintf(sync, sizeof sync, "%lld", (long long)r->sync_id);
    snprintf(code, sizeof code, "%ld", status);
    const char *p[10] = {sync,          b->products,    b->warehouses,        b->versions,
                         b->availables, ok ? "t" : "f", status ? code : NULL, ok ? NULL : err,
                         b->first_p,    b->last_p};
    PGresult *res = inv_sql(
        r,
        ok ? "WITH u AS (SELECT * FROM unnest($2::bigint[], $3::bigint[], $4::bigint[], "
             "  $5::int[]) AS u(p, w, v, a)), "
             "done AS (DELETE FROM inventory_sync_outbox o USING u WHERE o.product_id = u.p "
             "  AND o.warehouse_id = u.w AND o.version = u.v "
             "  AND o.product_id BETWEEN $9::bigint AND $10::bigint) "
             "INSERT INTO inventory_sync_pushes (sync_id, product_id, warehouse_id, version, "
             "  available, ok, http_status, error) "
             "SELECT $1::bigint, p, w, v, a, $6::boolean, $7::int, $8 FROM u"
           : "WITH u AS (SELECT * FROM unnest($2::bigint[], $3::bigint[], $4::bigint[], "
             "  $5::int[]) AS u(p, w, v, a)), "
             "upd AS (UPDATE inventory_sync_outbox o SET attempts = attempts + 1, last_error = $8 "
             "  FROM u WHERE o.product_id = u.p AND o.warehouse_id = u.w AND o.version = u.v "
             "  AND o.product_id BETWEEN $9::bigint AND $10::bigint) "
             "INSERT INTO inventory_sync_pushes (sync_id, product_id, warehouse_id, version, "
             "  available, ok, http_status, error) "
             "SELECT $1::bigint, p, w, v, a, $6::boolean, $7::int, $8 FROM u",
        10, p);
    int rc = inv_sql_ok(r, "recording a storefront batch", res, PGRES_COMMAND_OK);
    PQclear(res);
    return rc;
}

/* The next outbox rows after (last_p, last_w), in key order. */
static PGresult *inv_next_rows(inv_run *r, const char *last_p, const char *last_w)
{
    char lim[24];
    snprintf(lim, sizeof lim, "%lld", (long long)r->st->batch_size);
    const char *p[3] = {last_p, last_w, lim};
    return inv_sql(r,
                   "SELECT o.product_id, o.warehouse_id, o.version, o.available, p.sku, d.code "
                   "FROM inventory_sync_outbox o JOIN products p ON p.id = o.product_id "
                   "JOIN depots d ON d.id = o.warehouse_id "
                   "WHERE (o.product_id, o.warehouse_id) > ($1::bigint, $2::bigint) "
                   "ORDER BY o.product_id, o.warehouse_id LIMIT $3::int",
                   3, p);
}

static int inv_outbox_left(inv_run *r)
{
    PGresult *res = inv_sql(r, "SELECT count(*) FROM inventory_sync_outbox", 0, NULL);
    int rc = inv_sql_ok(r, "counting the outbox", res, PGRES_TUPLES_OK);
    if (rc == 0)
        r->outbox_left = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return rc;
}

/* POST one batch: 1 sent, 0 refused for good (4xx), -1 storefront down. */
static int inv_send(inv_run *r, const inv_batch *b, long *status, char *err, size_t errlen)
{
    char idem[96];
    snprintf(idem, sizeof idem, "Idempotency-Key: %s", b->key);
    const char *hdr[2] = {idem, NULL};
    inv_response resp = {0};
    int transient;
    int rc = inv_http(r, &r->st->storefront, r->st->storefront.url, b->body, hdr, &resp, &transient,
                      err, errlen);
    *status = resp.status;
    if (rc == 0 && (resp.status < 200 || resp.status >= 300)) {
        snprintf(err, errlen, "HTTP %ld: %.200s", resp.status,
                 resp.body.data ? resp.body.data : "");
        for (char *q = err; *q; q++)
            if (*q == '\n' || *q == '\r')
                *q = ' ';
        rc = 1;
    }
    inv_response_free(&resp);
    return rc == 0 ? 1 : rc == 1 ? 0 : -1;
}

purser_status inv_push(inv_run *r)
{
    const purser_host *h = r->st->host;
    if (!r->st->storefront.url) {
        r->pushed_skipped = 1;
        if (inv_outbox_left(r))
            return PURSER_RETRY;
        h->log(r->ctx, PURSER_LOG_INFO,
               "plugins.inventory_sync.storefront.url is not set: push skipped, %lld levels "
               "wait in the outbox",
               (long long)r->outbox_left);
        return PURSER_OK;
    }
    purser_status s = PURSER_OK;
    char last_p[24] = "0", last_w[24] = "0";
    while (s == PURSER_OK) {
        if (h->cancelled(r->ctx)) {
            inv_fail(r, "cancelled while pushing; the rest stays in the outbox");
            s = PURSER_RETRY;
            break;
        }
        PGresult *res = inv_next_rows(r, last_p, last_w);
        if (inv_sql_ok(r, "reading the outbox", res, PGRES_TUPLES_OK)) {
            PQclear(res);
            s = PURSER_RETRY;
            break;
        }
        inv_batch b = {0};
        int built = PQntuples(res) > 0 ? inv_batch_build(res, &b) : 1;
        PQclear(res);
        if (built != 0) {
            inv_batch_free(&b);
            if (built < 0) {
                inv_fail(r, "out of memory building a storefront batch");
                s = PURSER_ERROR;
            }
            break;
        }
        char err[600] = "";
        long status = 0;
        int sent = inv_send(r, &b, &status, err, sizeof err);
        r->push_requests++;
        if (inv_batch_record(r, &b, sent == 1, status, err))
            s = PURSER_RETRY;
        if (sent == 1) {
            r->pushed += b.n;
        } else {
            r->push_failed += b.n;
            h->log(r->ctx, PURSER_LOG_WARN, "storefront batch of %d levels (%s) failed: %s", b.n,
                   b.key, err);
            if (sent < 0) { /* down: the rest waits for the next run */
                inv_fail(r, "storefront %s: %s", r->st->storefront.url, err);
                s = PURSER_RETRY;
            }
        }
        snprintf(last_p, sizeof last_p, "%s", b.last_p);
        snprintf(last_w, sizeof last_w, "%s", b.last_w);
        inv_batch_free(&b);
        h->progress(r->ctx, (uint64_t)(r->pushed + r->push_failed), 0, "levels");
    }
    if (inv_outbox_left(r) && s == PURSER_OK)
        s = PURSER_RETRY;
    if (s == PURSER_OK && r->outbox_left > 0) { /* refused (4xx): needs a person, not a retry */
        inv_fail(r, "%lld levels refused by the storefront stay in the outbox (see Push results)",
                 (long long)r->outbox_left);
        s = PURSER_ERROR;
    }
    h->log(r->ctx, PURSER_LOG_INFO,
           "storefront: %lld levels pushed in %lld requests, %lld failed, %lld left in the outbox",
           (long long)r->pushed, (long long)r->push_requests, (long long)r->push_failed,
           (long long)r->outbox_left);
    return s;
}
