/* inv_pull.c: warehouse -> store, inside the run's transaction. Pages of
 *   GET {warehouse.url}?limit=N[&updated_since=T][&cursor=C]
 * answering {"items": [...], "next_cursor": "C" | null} (or a Link
 * rel="next" header) are checked record by record and streamed with COPY
 * into a temporary stage; then, set-based: records naming an unknown or
 * ambiguous SKU or an unknown warehouse join the malformed ones as
 * rejects, the latest record per SKU x warehouse is applied to
 * `inventory`, and the updated_since high-water mark and ETag are stored —
 * all in the caller's transaction, so a failed pull changes nothing. */
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inventory_sync.h"

/* A growing COPY text buffer, flushed per page. */
typedef struct inv_copy {
    char *data;
    size_t len, cap;
    int oom;
} inv_copy;

static void inv_put(inv_copy *c, const char *s, size_t n)
{
    if (c->len + n + 1 > c->cap) {
        size_t cap = c->cap ? c->cap : 1 << 16;
        while (cap < c->len + n + 1)
            cap *= 2;
        char *d = realloc(c->data, cap);
        if (!d) {
            c->oom = 1;
            return;
        }
        c->data = d;
        c->cap = cap;
    }
    memcpy(c->data + c->len, s, n);
    c->len += n;
}

/* One COPY text field (escaped) or \N, then a tab or newline. */
static void inv_field(inv_copy *c, const char *s, int last)
{
    if (!s) {
        inv_put(c, "\\N", 2);
    } else {
        for (const char *p = s; *p; p++) {
            const char *esc = *p == '\\'   ? "\\\\"
                              : *p == '\t' ? "\\t"
                              : *p == '\n' ? "\\n"
                              : *p == '\r' ? "\\r"
                                           : NULL;
            if (esc)
                inv_put(c, esc, 2);
            else
                inv_put(c, p, 1);
        }
    }
    inv_put(c, last ? "\n" : "\t", 1);
}

static void inv_field_int(inv_copy *c, int64_t v, int present)
{
    char b[24];
    snprintf(b, sizeof b, "%lld", (long long)v);
    inv_field(c, present ? b : NULL, 0);
}

/* ISO 8601 as PostgreSQL reads it: YYYY-MM-DD[T ]HH:MM:SS[.f][Z|+HH[:MM]]. */
static int inv_iso_time(const char *s)
{
    int y, mo, d, h, mi, sec, n = 0;
    if (sscanf(s, "%4d-%2d-%2d%*1[T ]%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 ||
        n != 19)
        return 0;
    static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] ||
        (mo == 2 && d == 29 && !leap) || h > 23 || mi > 59 || sec > 59)
        return 0;
    const char *p = s + 19;
    if (*p == '.') {
        const char *q = ++p;
        while (*p >= '0' && *p <= '9')
            p++;
        if (p == q || p - q > 9)
            return 0;
    }
    if (*p == 'Z')
        return p[1] == '\0';
    if (*p == '\0')
        return 1;
    if ((*p != '+' && *p != '-') || !(p[1] >= '0' && p[1] <= '1' && p[2] >= '0' && p[2] <= '9'))
        return 0;
    p += 3;
    if (*p == ':')
        p++;
    if (*p == '\0')
        return 1;
    return p[0] >= '0' && p[0] <= '5' && p[1] >= '0' && p[1] <= '9' && p[2] == '\0';
}

/* A non-negative whole number that fits an int: 1, 0 missing, -1 not an
 * integer, -2 negative, -3 too large. */
static int inv_count(const cJSON *o, const char *key, int64_t *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v || cJSON_IsNull(v))
        return 0;
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) ||
        fabs(v->valuedouble) > 9e15)
        return -1;
    *out = (int64_t)v->valuedouble;
    return *out < 0 ? -2 : *out > 2147483647 ? -3 : 1;
}

static const char *inv_str(const cJSON *o, const char *key, int *bad)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v || cJSON_IsNull(v))
        return NULL;
    if (!cJSON_IsString(v) || !v->valuestring[0] || strlen(v->valuestring) > 200) {
        *bad = 1;
        return NULL;
    }
    return v->valuestring;
}

/* Why a record cannot be used, or NULL; reason[] holds the text. */
static const char *inv_check(const cJSON *it, const char **sku, const char **seller,
                             const char **wh, int64_t *on_hand, int *has_on_hand, int64_t *safety,
                             int *has_safety, const char **at, char *reason, size_t len)
{
    int bad_sku = 0, bad_seller = 0, bad_wh = 0, bad_at = 0;
    *sku = *seller = *wh = *at = NULL;
    *has_on_hand = *has_safety = 0;
    if (!cJSON_IsObject(it)) {
        snprintf(reason, len, "not an object");
        return reason;
    }
    *sku = inv_str(it, "sku", &bad_sku);
    *seller = inv_str(it, "seller", &bad_seller);
    *wh = inv_str(it, "warehouse", &bad_wh);
    *at = inv_str(it, "updated_at", &bad_at);
    int oh = inv_count(it, "on_hand", on_hand), sf = inv_count(it, "safety_stock", safety);
    *has_on_hand = oh == 1;
    *has_safety = sf == 1;
    if (!*sku)
        snprintf(reason, len,
                 bad_sku ? "sku is not a text of 1 to 200 characters" : "missing field sku");
    else if (!*wh)
        snprintf(reason, len,
                 bad_wh ? "warehouse is not a text of 1 to 200 characters"
                        : "missing field warehouse");
    else if (bad_seller)
        snprintf(reason, len, "seller is not a text of 1 to 200 characters");
    else if (oh == 0)
        snprintf(reason, len, "missing field on_hand");
    else if (oh == -2)
        snprintf(reason, len, "negative on_hand (%lld)", (long long)*on_hand);
    else if (oh < 0)
        snprintf(reason, len, "on_hand is not a whole number up to 2147483647");
    else if (sf < 0)
        snprintf(reason, len, "safety_stock is not a whole number from 0 to 2147483647");
    else if (bad_at || (*at && !inv_iso_time(*at)))
        snprintf(reason, len, "updated_at is not an ISO 8601 time (YYYY-MM-DDTHH:MM:SSZ)");
    else
        return NULL;
    return reason;
}

/* One record as a stage row (valid or rejected with its reason). */
static void inv_stage_row(inv_copy *c, const cJSON *it, int64_t seq, int64_t page)
{
    const char *sku, *seller, *wh, *at;
    int64_t on_hand = 0, safety = 0;
    int has_oh, has_sf;
    char reason[160];
    const char *why = inv_check(it, &sku, &seller, &wh, &on_hand, &has_oh, &safety, &has_sf, &at,
                                reason, sizeof reason);
    inv_field_int(c, seq, 1);
    inv_field_int(c, page, 1);
    inv_field(c, sku, 0);
    inv_field(c, seller, 0);
    inv_field(c, wh, 0);
    inv_field_int(c, on_hand, has_oh || (why && on_hand < 0));
    inv_field_int(c, safety, has_sf);
    inv_field(c, why ? NULL : at, 0);
    inv_field(c, why, 0);
    char *raw = why ? cJSON_PrintUnformatted(it) : NULL;
    if (raw && strlen(raw) > 1000)
        strcpy(raw + 990, "...");
    inv_field(c, raw, 1);
    free(raw);
}

/* Send one page's rows with COPY. */
static int inv_copy_page(inv_run *r, inv_copy *c)
{
    int64_t t0 = inv_now_ns();
    PGresult *res = PQexec(r->db, "COPY inv_stage (seq, page, sku, seller, warehouse, on_hand, "
                                  "safety_stock, updated_at, reason, record) FROM STDIN");
    int rc = inv_sql_ok(r, "COPY into the stage", res, PGRES_COPY_IN);
    PQclear(res);
    if (rc == 0 &&
        (PQputCopyData(r->db, c->data, (int)c->len) != 1 || PQputCopyEnd(r->db, NULL) != 1)) {
        inv_fail(r, "COPY into the stage: %s", PQerrorMessage(r->db));
        rc = -1;
    }
    if (rc == 0) {
        res = PQgetResult(r->db);
        rc = inv_sql_ok(r, "COPY into the stage", res, PGRES_COMMAND_OK);
        PQclear(res);
        while ((res = PQgetResult(r->db)))
            PQclear(res);
    }
    c->len = 0;
    r->t.sql += inv_now_ns() - t0;
    return rc;
}

/* The stored cursor: since (ISO, "" if none), whether the stored ETag
 * belongs to that since, and the ETag. */
typedef struct inv_cursor {
    char since[64];
    char etag[256];
    int etag_valid;
} inv_cursor;

static int inv_load_cursor(inv_run *r, int full, inv_cursor *cur)
{
    memset(cur, 0, sizeof *cur);
    const char *p[1] = {r->st->warehouse.url};
    PGresult *res = inv_sql(
        r,
        "SELECT to_char(updated_since AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), "
        "etag, etag_since IS NOT DISTINCT FROM updated_since FROM inventory_sync_cursor "
        "WHERE source = $1 FOR UPDATE",
        1, p);
    if (inv_sql_ok(r, "reading the warehouse cursor", res, PGRES_TUPLES_OK)) {
        PQclear(res);
        return -1;
    }
    const char *stored = PQntuples(res) == 1 ? PQgetvalue(res, 0, 0) : "";
    snprintf(r->cursor_before, sizeof r->cursor_before, "%s", stored[0] ? stored : "none");
    if (PQntuples(res) == 1 && !full) {
        snprintf(cur->since, sizeof cur->since, "%s", stored);
        snprintf(cur->etag, sizeof cur->etag, "%s", PQgetvalue(res, 0, 1));
        cur->etag_valid = cur->etag[0] && PQgetvalue(res, 0, 2)[0] == 't';
    }
    PQclear(res);
    return 0;
}

/* {url}?limit=N[&updated_since=T][&cursor=C], malloc'd. */
static char *inv_page_url(inv_run *r, const char *since, const char *cursor)
{
    CURL *c = r->curl ? r->curl : (r->curl = curl_easy_init());
    char *es = c && since[0] ? curl_easy_escape(c, since, 0) : NULL;
    char *ec = c && cursor ? curl_easy_escape(c, cursor, 0) : NULL;
    const char *base = r->st->warehouse.url;
    size_t n = strlen(base) + 64 + (es ? strlen(es) : 0) + (ec ? strlen(ec) : 0);
    char *url = c ? malloc(n) : NULL;
    if (url)
        snprintf(url, n, "%s%climit=%lld%s%s%s%s", base, strchr(base, '?') ? '&' : '?',
                 (long long)r->st->page_size, es ? "&updated_since=" : "", es ? es : "",
                 ec ? "&cursor=" : "", ec ? ec : "");
    curl_free(es);
    curl_free(ec);
    return url;
}

/* A Link target made absolute against the base URL, malloc'd. */
static char *inv_resolve(const char *base, const char *link)
{
    if (strstr(link, "://"))
        return strdup(link);
    const char *scheme = strstr(base, "://");
    const char *host_end = scheme ? strchr(scheme + 3, '/') : NULL;
    size_t keep = host_end ? (size_t)(host_end - base) : strlen(base);
    size_t n = keep + strlen(link) + 2;
    char *u = malloc(n);
    if (u)
        snprintf(u, n, "%.*s%s%s", (int)keep, base, link[0] == '/' ? "" : "/", link);
    return u;
}

typedef struct inv_page_state {
    inv_cursor cur;
    inv_copy copy;
    char first_etag[256];
    char *url;
    int64_t seq;
} inv_page_state;

/* Parse one page into the stage; sets *next (malloc'd) or NULL at the end. */
static purser_status inv_take_page(inv_run *r, inv_page_state *ps, const inv_response *resp,
                                   char **next)
{
    *next = NULL;
    const char *end = NULL;
    cJSON *doc = cJSON_ParseWithLengthOpts(resp->body.data, resp->body.len, &end, 0);
    size_t at = end ? (size_t)(end - resp->body.data) : resp->body.len;
    const cJSON *items = doc ? cJSON_GetObjectItemCaseSensitive(doc, "items") : NULL;
    if (!doc || !cJSON_IsArray(items)) {
        char near[48] = "";
        if (at < resp->body.len)
            snprintf(near, sizeof near, " near '%.24s'", resp->body.data + at);
        for (char *q = near; *q; q++)
            if (*q == '\n' || *q == '\r' || *q == '\t')
                *q = ' ';
        if (!doc)
            inv_fail(r,
                     "warehouse page %lld (records from offset %lld): invalid JSON at byte %zu "
                     "of %zu%s%s; nothing applied, the cursor stays at %s",
                     (long long)r->pages + 1, (long long)ps->seq, at, resp->body.len, near,
                     at >= resp->body.len ? " (truncated)" : "", r->cursor_before);
        else
            inv_fail(r,
                     "warehouse page %lld (records from offset %lld): no \"items\" array; "
                     "nothing applied, the cursor stays at %s",
                     (long long)r->pages + 1, (long long)ps->seq, r->cursor_before);
        cJSON_Delete(doc);
        return PURSER_ERROR;
    }
    const cJSON *it;
    cJSON_ArrayForEach(it, items) inv_stage_row(&ps->copy, it, ps->seq++, r->pages);
    r->records += cJSON_GetArraySize(items);
    const cJSON *nc = cJSON_GetObjectItemCaseSensitive(doc, "next_cursor");
    if (cJSON_IsString(nc) && nc->valuestring[0])
        *next = inv_page_url(r, ps->cur.since, nc->valuestring);
    else if (resp->link_next)
        *next = inv_resolve(r->st->warehouse.url, resp->link_next);
    int more = (cJSON_IsString(nc) && nc->valuestring[0]) || resp->link_next;
    cJSON_Delete(doc);
    if (ps->copy.oom || (more && !*next)) {
        inv_fail(r, "out of memory reading warehouse page %lld", (long long)r->pages + 1);
        return PURSER_ERROR;
    }
    return inv_copy_page(r, &ps->copy) ? PURSER_RETRY : PURSER_OK;
}

/* Fetch one page; PURSER_OK with the response, or the failure. */
static purser_status inv_get_page(inv_run *r, inv_page_state *ps, inv_response *resp)
{
    char inm[300], err[600];
    const char *hdr[2] = {NULL, NULL};
    if (r->pages == 0 && ps->cur.etag_valid) {
        snprintf(inm, sizeof inm, "If-None-Match: %s", ps->cur.etag);
        hdr[0] = inm;
    }
    int transient;
    if (inv_http(r, &r->st->warehouse, ps->url, NULL, hdr, resp, &transient, err, sizeof err)) {
        inv_fail(r,
                 "warehouse page %lld (records from offset %lld): %s; nothing applied, the "
                 "cursor stays at %s",
                 (long long)r->pages + 1, (long long)ps->seq, err, r->cursor_before);
        return transient ? PURSER_RETRY : PURSER_ERROR;
    }
    if (resp->status == 304 && r->pages == 0 && hdr[0])
        return PURSER_OK;
    if (resp->status != 200) {
        inv_fail(r, "warehouse page %lld: %s answered HTTP %ld%s; nothing applied",
                 (long long)r->pages + 1, ps->url, resp->status,
                 resp->status == 401 || resp->status == 403 ? " (check warehouse.auth_header)"
                                                            : "");
        return PURSER_ERROR;
    }
    return PURSER_OK;
}

static purser_status inv_fetch_all(inv_run *r, inv_page_state *ps)
{
    const purser_host *h = r->st->host;
    ps->url = inv_page_url(r, ps->cur.since, NULL);
    purser_status s = ps->url ? PURSER_OK : PURSER_ERROR;
    while (s == PURSER_OK && ps->url) {
        if (h->cancelled(r->ctx)) {
            inv_fail(r, "cancelled after %lld warehouse pages; nothing applied",
                     (long long)r->pages);
            return PURSER_RETRY;
        }
        if (r->pages >= r->st->max_pages) {
            inv_fail(r,
                     "the warehouse sent more than warehouse.max_pages (%lld) pages; nothing "
                     "applied",
                     (long long)r->st->max_pages);
            return PURSER_ERROR;
        }
        inv_response resp = {0};
        char *next = NULL;
        s = inv_get_page(r, ps, &resp);
        if (s == PURSER_OK && resp.status == 304) {
            r->pulled = 2;
        } else if (s == PURSER_OK) {
            if (r->pages == 0)
                snprintf(ps->first_etag, sizeof ps->first_etag, "%s", resp.etag);
            s = inv_take_page(r, ps, &resp, &next);
            r->pages++;
            if (next && strcmp(next, ps->url) == 0) {
                inv_fail(r,
                         "warehouse page %lld points to itself as the next page (%s); nothing "
                         "applied",
                         (long long)r->pages, next);
                s = PURSER_ERROR;
            }
        }
        inv_response_free(&resp);
        free(ps->url);
        ps->url = next;
        h->progress(r->ctx, (uint64_t)r->records, 0, "records");
    }
    return s;
}

/* Resolve, reject, apply, count: the set-based part of the pull. */
static const char inv_resolve_sql[] =
    "CREATE TEMP TABLE inv_resolved ON COMMIT DROP AS "
    "WITH m AS (SELECT s.seq, count(p.id) AS n, min(p.id) AS product_id FROM inv_stage s "
    "    LEFT JOIN sellers se ON se.external_ref = s.seller "
    "    LEFT JOIN products p ON p.sku = s.sku AND (s.seller IS NULL OR p.seller_id = se.id) "
    "    WHERE s.reason IS NULL GROUP BY s.seq) "
    "SELECT s.seq, s.page, s.sku, s.seller, s.warehouse, s.on_hand, s.safety_stock, "
    "  s.updated_at, s.record, CASE WHEN m.n = 1 THEN m.product_id END AS product_id, "
    "  d.id AS warehouse_id, coalesce(s.reason, "
    "    CASE WHEN m.n = 0 AND s.seller IS NULL THEN format('unknown SKU %s', s.sku) "
    "         WHEN m.n = 0 THEN format('unknown SKU %s for seller %s', s.sku, s.seller) "
    "         WHEN m.n > 1 THEN format('ambiguous SKU %s: %s sellers have it (send seller)', "
    "           s.sku, m.n) END, "
    "    CASE WHEN d.id IS NULL THEN "
    "      format('unknown warehouse %s (no depot with that code)', s.warehouse) END) AS reason "
    "FROM inv_stage s LEFT JOIN m USING (seq) LEFT JOIN depots d ON d.code = s.warehouse";

static const char inv_apply_sql[] =
    "WITH latest AS (SELECT DISTINCT ON (product_id, warehouse_id) product_id, warehouse_id, "
    "    on_hand, safety_stock, updated_at FROM inv_resolved WHERE reason IS NULL "
    "    ORDER BY product_id, warehouse_id, updated_at DESC NULLS LAST, seq DESC), "
    "cmp AS (SELECT l.*, i.on_hand AS old_on_hand, i.safety_stock AS old_safety "
    "    FROM latest l LEFT JOIN inventory i USING (product_id, warehouse_id)), "
    "changed AS (SELECT * FROM cmp WHERE old_on_hand IS DISTINCT FROM on_hand "
    "    OR (safety_stock IS NOT NULL AND old_safety IS DISTINCT FROM safety_stock)), "
    "up AS (INSERT INTO inventory (product_id, warehouse_id, on_hand, safety_stock, updated_at) "
    "    SELECT product_id, warehouse_id, on_hand, coalesce(safety_stock, old_safety, 0), now() "
    "    FROM changed ON CONFLICT (product_id, warehouse_id) DO UPDATE SET "
    "    on_hand = EXCLUDED.on_hand, safety_stock = EXCLUDED.safety_stock, updated_at = now()) "
    "INSERT INTO inventory_sync_changes (sync_id, product_id, warehouse_id, on_hand_before, "
    "    on_hand_after, safety_before, safety_after, source_updated_at) "
    "SELECT $1::bigint, product_id, warehouse_id, old_on_hand, on_hand, old_safety, "
    "    coalesce(safety_stock, old_safety, 0), updated_at FROM changed";

static int64_t inv_affected(PGresult *res)
{
    return strtoll(PQcmdTuples(res), NULL, 10);
}

static purser_status inv_apply(inv_run *r, inv_page_state *ps)
{
    char sync[24];
    snprintf(sync, sizeof sync, "%lld", (long long)r->sync_id);
    const char *p1[1] = {sync};
    PGresult *res = inv_sql(r, "ANALYZE inv_stage", 0, NULL);
    int rc = inv_sql_ok(r, "ANALYZE inv_stage", res, PGRES_COMMAND_OK);
    PQclear(res);
    if (rc == 0) {
        res = inv_sql(r, inv_resolve_sql, 0, NULL);
        rc = inv_sql_ok(r, "resolving SKUs and warehouses", res, PGRES_COMMAND_OK);
        PQclear(res);
    }
    if (rc == 0) {
        res = inv_sql(r, "ANALYZE inv_resolved", 0, NULL);
        rc = inv_sql_ok(r, "ANALYZE inv_resolved", res, PGRES_COMMAND_OK);
        PQclear(res);
    }
    if (rc == 0) {
        res = inv_sql(r,
                      "INSERT INTO inventory_sync_rejects (sync_id, seq, page, sku, seller, "
                      "warehouse, on_hand, reason, record) SELECT $1::bigint, seq, page, sku, "
                      "seller, warehouse, on_hand, reason, record FROM inv_resolved "
                      "WHERE reason IS NOT NULL",
                      1, p1);
        rc = inv_sql_ok(r, "recording rejected records", res, PGRES_COMMAND_OK);
        r->rejected = rc == 0 ? inv_affected(res) : 0;
        PQclear(res);
    }
    if (rc == 0) {
        res = inv_sql(r, inv_apply_sql, 1, p1);
        rc = inv_sql_ok(r, "applying the warehouse's stock levels", res, PGRES_COMMAND_OK);
        r->applied = rc == 0 ? inv_affected(res) : 0;
        PQclear(res);
    }
    if (rc)
        return PURSER_RETRY;
    /* the new high-water mark; the ETag belongs to the since it was asked with */
    const char *p[6] = {r->st->warehouse.url, ps->cur.since[0] ? ps->cur.since : NULL,
                        ps->first_etag[0] ? ps->first_etag : NULL, sync};
    res = inv_sql(
        r,
        "INSERT INTO inventory_sync_cursor AS c (source, updated_since, etag, etag_since, sync_id) "
        "SELECT $1, greatest($2::timestamptz, max(updated_at)), $3, $2::timestamptz, $4::bigint "
        "FROM inv_resolved ON CONFLICT (source) DO UPDATE SET updated_since = "
        "EXCLUDED.updated_since, etag = EXCLUDED.etag, etag_since = EXCLUDED.etag_since, "
        "sync_id = EXCLUDED.sync_id, updated_at = now() "
        "RETURNING coalesce(to_char(updated_since AT TIME ZONE 'UTC', "
        "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), 'none')",
        4, p);
    rc = inv_sql_ok(r, "storing the warehouse cursor", res, PGRES_TUPLES_OK);
    if (rc == 0)
        snprintf(r->cursor_after, sizeof r->cursor_after, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    return rc ? PURSER_RETRY : PURSER_OK;
}

static purser_status inv_record_counts(inv_run *r)
{
    char v[6][24];
    snprintf(v[0], 24, "%lld", (long long)r->sync_id);
    snprintf(v[1], 24, "%lld", (long long)r->pages);
    snprintf(v[2], 24, "%lld", (long long)r->records);
    snprintf(v[3], 24, "%lld", (long long)r->applied);
    snprintf(v[4], 24, "%lld", (long long)r->rejected);
    snprintf(v[5], 24, "%s", r->pulled == 2 ? "true" : "false");
    const char *p[6] = {v[0], v[1], v[2], v[3], v[4], v[5]};
    PGresult *res = inv_sql(r,
                            "UPDATE inventory_sync_runs SET pages = $2, records = $3, "
                            "applied = $4, rejected = $5, not_modified = $6 WHERE id = $1",
                            6, p);
    int rc = inv_sql_ok(r, "recording the sync's counts", res, PGRES_COMMAND_OK);
    PQclear(res);
    return rc ? PURSER_RETRY : PURSER_OK;
}

purser_status inv_pull(inv_run *r)
{
    const purser_host *h = r->st->host;
    if (!r->st->warehouse.url) {
        h->log(r->ctx, PURSER_LOG_INFO,
               "plugins.inventory_sync.warehouse.url is not set: pull "
               "skipped; reconcile, push and report run on the store's "
               "stock");
        return PURSER_OK;
    }
    r->pulled = 1;
    int full = 0;
    h->param_bool(r->ctx, "full", &full);
    inv_page_state ps = {0};
    if (inv_load_cursor(r, full, &ps.cur))
        return PURSER_RETRY;
    PGresult *res = inv_sql(r,
                            "CREATE TEMP TABLE inv_stage (seq integer, page integer, "
                            "sku text COLLATE \"C\", seller text COLLATE \"C\", "
                            "warehouse text COLLATE \"C\", on_hand bigint, "
                            "safety_stock integer, updated_at timestamptz, reason text, "
                            "record text) ON COMMIT DROP",
                            0, NULL);
    purser_status s =
        inv_sql_ok(r, "creating the stage", res, PGRES_COMMAND_OK) ? PURSER_RETRY : PURSER_OK;
    PQclear(res);
    if (s == PURSER_OK)
        s = inv_fetch_all(r, &ps);
    if (s == PURSER_OK && r->pulled == 1)
        s = inv_apply(r, &ps);
    if (s == PURSER_OK)
        s = inv_record_counts(r);
    free(ps.url);
    free(ps.copy.data);
    if (s == PURSER_OK && r->pulled == 2)
        h->log(r->ctx, PURSER_LOG_INFO, "warehouse: not modified since %s (HTTP 304)",
               r->cursor_before);
    else if (s == PURSER_OK)
        h->log(r->ctx, PURSER_LOG_INFO,
               "warehouse: cursor %s -> %s: %lld records in %lld pages, %lld changes applied, "
               "%lld rejected",
               r->cursor_before, r->cursor_after, (long long)r->records, (long long)r->pages,
               (long long)r->applied, (long long)r->rejected);
    return s;
}
