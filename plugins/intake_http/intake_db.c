/* intake_http and the store: prepared statements per pooled connection,
 * single orders committed together (group commit: the first waiting
 * request leads, sends every queued order in one pipelined transaction
 * and wakes the others once it has committed), batches with a savepoint
 * per order, and Idempotency-Key handling for every other route. */
#include <libpq-fe.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "intake_internal.h"

static double intake_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void intake_hash_hex(const unsigned char *data, size_t len, char out[65])
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256(data, len, md);
    for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

void intake_db_error(intake_state *st, purser_ctx *ctx, const char *what, const char *msg)
{
    char line[512];
    snprintf(line, sizeof line, "%s", msg ? msg : "no connection");
    line[strcspn(line, "\n")] = '\0';
    st->host->log(ctx, PURSER_LOG_WARN, "%s: %s", what, line);
    st->host->metric_add(ctx, "db_errors_total", 1);
}

/* ---- currencies ------------------------------------------------------------- */

int intake_exponent(void *state, const char *code)
{
    intake_state *st = state;
    for (size_t i = 0; i < st->n_cur; i++)
        if (strcmp(st->cur_code[i], code) == 0)
            return st->cur_exp[i];
    return -1;
}

int intake_currencies_ready(intake_state *st, purser_ctx *ctx)
{
    pthread_mutex_lock(&st->lock);
    size_t n = st->n_cur;
    pthread_mutex_unlock(&st->lock);
    if (n)
        return 0;
    pthread_mutex_lock(&st->load_lock); /* the others wait for the first load */
    pthread_mutex_lock(&st->lock);
    n = st->n_cur;
    pthread_mutex_unlock(&st->lock);
    PGconn *c = n ? NULL : st->host->db(ctx);
    PGresult *r = c ? PQexec(c, "SELECT code, exponent FROM iso4217 ORDER BY code") : NULL;
    int ok = n || (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0);
    if (!ok)
        intake_db_error(st, ctx, "reading iso4217", r ? PQresultErrorMessage(r) : NULL);
    if (ok && !n) {
        int rows = PQntuples(r) < INTAKE_MAX_CURRENCIES ? PQntuples(r) : INTAKE_MAX_CURRENCIES;
        pthread_mutex_lock(&st->lock);
        for (int i = 0; i < rows; i++) {
            snprintf(st->cur_code[i], sizeof st->cur_code[i], "%s", PQgetvalue(r, i, 0));
            st->cur_exp[i] = atoi(PQgetvalue(r, i, 1));
        }
        st->n_cur = (size_t)rows;
        pthread_mutex_unlock(&st->lock);
    }
    pthread_mutex_unlock(&st->load_lock);
    PQclear(r);
    return ok ? 0 : -1;
}

/* ---- prepared statements ------------------------------------------------------ */

/* Claim an Idempotency-Key for this transaction (an expired one is reused). */
static const char intake_sql_claim[] =
    "INSERT INTO intake_idempotency (scope, key, request_hash, expires_at) "
    "VALUES ($1, $2, $3, now() + $4::bigint * interval '1 millisecond') "
    "ON CONFLICT (scope, key) DO UPDATE SET request_hash = EXCLUDED.request_hash, status = NULL, "
    "response = NULL, created_at = now(), expires_at = EXCLUDED.expires_at "
    "WHERE intake_idempotency.expires_at < now() RETURNING 1";

/* One order, all or nothing, in one statement: the lines' products, the
 * depot and the buyer are resolved first and nothing is written unless
 * all are found. Returns the HTTP status (0: the key was used before),
 * the response body for 200/201 (also stored under the key), and what
 * failed to resolve. */
static const char intake_sql_order[] =
    "WITH g AS (SELECT $28::text IS NULL OR EXISTS (SELECT 1 FROM intake_idempotency i "
    "  WHERE i.scope = $27 AND i.key = $28 AND i.status IS NULL) AS go), "
    "l AS (SELECT l.n, l.q, l.u, x.c, p.id AS pid, p.seller_id AS sid, p.weight_grams AS w "
    "  FROM unnest($15::text[], $16::text[], $17::int[], $18::bigint[]) WITH ORDINALITY "
    "       AS l(sku, seller, q, u, n) "
    "  CROSS JOIN LATERAL (SELECT min(p.id) AS pid, count(*) AS c FROM products p "
    "       WHERE p.sku = l.sku AND (l.seller IS NULL OR p.seller_id = "
    "       (SELECT s.id FROM sellers s WHERE s.external_ref = l.seller))) x "
    "  LEFT JOIN products p ON p.id = x.pid AND x.c = 1), "
    "bad AS (SELECT n, c FROM l WHERE pid IS NULL ORDER BY n LIMIT 1), "
    "dp AS (SELECT id FROM depots WHERE code = $19), "
    "ok AS (SELECT g.go AND NOT EXISTS (SELECT 1 FROM bad) AND "
    "  ($19::text IS NULL OR EXISTS (SELECT 1 FROM dp)) AS ok FROM g), "
    "b_up AS (INSERT INTO buyers (external_ref, email, name, country) "
    "  SELECT $3, $4, $5, $6 FROM ok WHERE ok.ok AND $4::text IS NOT NULL "
    "  ON CONFLICT (external_ref) DO UPDATE SET email = EXCLUDED.email, name = EXCLUDED.name, "
    "  country = EXCLUDED.country RETURNING id), "
    "b AS (SELECT id FROM b_up UNION ALL "
    "  SELECT id FROM buyers WHERE $4::text IS NULL AND external_ref = $3), "
    "o AS (INSERT INTO orders (source, external_ref, buyer_id, currency, status, placed_at, "
    "  items_minor, shipping_minor, tax_minor, discount_minor, total_minor) "
    "  SELECT $1, $2, b.id, $7, $8, $9::timestamptz, $10, $11, $12, $13, $14 FROM b, ok "
    "  WHERE ok.ok ON CONFLICT (source, external_ref) DO NOTHING RETURNING id), "
    "it AS (INSERT INTO order_items (order_id, line_no, product_id, seller_id, currency, "
    "  quantity, unit_price_minor, line_total_minor) "
    "  SELECT o.id, l.n, l.pid, l.sid, $7, l.q, l.u, l.q * l.u FROM o, l RETURNING 1), "
    "d AS (INSERT INTO deliveries (order_id, depot_id, address, latitude, longitude, "
    "  window_start, window_end, weight_grams, service_minutes) "
    "  SELECT o.id, dp.id, $20, $21::float8, $22::float8, $23::timestamptz, $24::timestamptz, "
    "  coalesce($25::int, (SELECT sum(l.q * l.w) FROM l)::int), $26::int FROM o, dp "
    "  RETURNING id), "
    "de AS (INSERT INTO delivery_events (delivery_id, seq, status, at) "
    "  SELECT d.id, 1, 'pending', $9::timestamptz FROM d RETURNING 1), "
    "ex AS (SELECT e.id, e.status, e.currency, e.total_minor FROM orders e "
    "  WHERE e.source = $1 AND e.external_ref = $2 AND NOT EXISTS (SELECT 1 FROM o)), "
    "r AS (SELECT CASE WHEN NOT g.go THEN 0 "
    "  WHEN EXISTS (SELECT 1 FROM bad) THEN 422 "
    "  WHEN $19::text IS NOT NULL AND NOT EXISTS (SELECT 1 FROM dp) THEN 422 "
    "  WHEN EXISTS (SELECT 1 FROM o) THEN 201 "
    "  WHEN EXISTS (SELECT 1 FROM ex) THEN 200 "
    "  WHEN NOT EXISTS (SELECT 1 FROM b) THEN 422 ELSE 503 END AS code, "
    "  coalesce((SELECT json_build_object('order', json_build_object('id', o.id, "
    "     'source', $1::text, 'external_ref', $2::text, 'status', $8::text, "
    "     'currency', $7::text, 'total_minor', $14::bigint, 'lines', (SELECT count(*) FROM it), "
    "     'delivery_id', (SELECT id FROM d)), 'created', true)::text FROM o), "
    "   (SELECT json_build_object('order', json_build_object('id', ex.id, 'source', $1::text, "
    "     'external_ref', $2::text, 'status', ex.status, 'currency', ex.currency, "
    "     'total_minor', ex.total_minor), 'created', false)::text FROM ex)) AS body "
    "  FROM g), "
    "u AS (UPDATE intake_idempotency SET status = r.code, response = r.body FROM r "
    "  WHERE scope = $27 AND key = $28 AND r.code IN (200, 201)), "
    "k AS (DELETE FROM intake_idempotency WHERE scope = $27 AND key = $28 AND status IS NULL "
    "  AND (SELECT code FROM r) NOT IN (0, 200, 201)) "
    "SELECT r.code, r.body, (SELECT n FROM bad), (SELECT c FROM bad), "
    "  EXISTS (SELECT 1 FROM dp), (SELECT count(*) FROM it), "
    "  (SELECT count(*) FROM d), i.status, i.response, i.request_hash "
    "FROM r LEFT JOIN intake_idempotency i ON r.code = 0 AND i.scope = $27 AND i.key = $28";

/* The orders of a group commit without Idempotency-Key, set-based in one
 * statement (the per-statement cost is what CPU-bound commits pay for):
 * arrays with one element per order, lines flattened with their order's
 * 1-based index. Same rules and the same answers, row k for order k, as
 * intake_sql_order; an order repeated in the batch is created once and the
 * repeats answered 200. */
static const char intake_sql_orders[] =
    "WITH o_in AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], "
    "  $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::bigint[], $11::bigint[], "
    "  $12::bigint[], $13::bigint[], $14::bigint[], $15::text[], $16::text[], $17::text[], "
    "  $18::text[], $19::text[], $20::text[], $21::int[], $22::int[]) WITH ORDINALITY AS "
    "  t(source, ext, bref, bemail, bname, bcountry, cur, status, placed, items, ship, tax, disc, "
    "  total, depot, addr, lat, lon, ws, we, weight, svc, k)), "
    "l AS (SELECT l0.k, row_number() OVER (PARTITION BY l0.k ORDER BY l0.g) AS n, l0.q, l0.u, "
    "  x.c, p.id AS pid, p.seller_id AS sid, p.weight_grams AS w "
    "  FROM unnest($23::bigint[], $24::text[], $25::text[], $26::int[], $27::bigint[]) "
    "       WITH ORDINALITY AS l0(k, sku, seller, q, u, g) "
    "  CROSS JOIN LATERAL (SELECT min(p.id) AS pid, count(*) AS c FROM products p "
    "       WHERE p.sku = l0.sku AND (l0.seller IS NULL OR p.seller_id = "
    "       (SELECT s.id FROM sellers s WHERE s.external_ref = l0.seller))) x "
    "  LEFT JOIN products p ON p.id = x.pid AND x.c = 1), "
    "bad AS (SELECT DISTINCT ON (k) k, n, c FROM l WHERE pid IS NULL ORDER BY k, n), "
    "dp AS (SELECT o_in.k, d.id FROM o_in JOIN depots d ON d.code = o_in.depot), "
    "ok AS (SELECT DISTINCT ON (o_in.source, o_in.ext) o_in.* FROM o_in "
    "  WHERE NOT EXISTS (SELECT 1 FROM bad WHERE bad.k = o_in.k) AND (o_in.depot IS NULL OR "
    "  EXISTS (SELECT 1 FROM dp WHERE dp.k = o_in.k)) ORDER BY o_in.source, o_in.ext, o_in.k), "
    "b_up AS (INSERT INTO buyers (external_ref, email, name, country) "
    "  SELECT DISTINCT ON (bref) bref, bemail, bname, bcountry FROM ok WHERE bemail IS NOT NULL "
    "  ORDER BY bref, k DESC ON CONFLICT (external_ref) DO UPDATE SET email = EXCLUDED.email, "
    "  name = EXCLUDED.name, country = EXCLUDED.country RETURNING id, external_ref), "
    "b AS (SELECT id, external_ref FROM b_up UNION ALL SELECT x.id, x.external_ref "
    "  FROM (SELECT DISTINCT bref FROM ok) r CROSS JOIN LATERAL (SELECT id, external_ref "
    "  FROM buyers WHERE external_ref = r.bref) x "
    "  WHERE NOT EXISTS (SELECT 1 FROM b_up WHERE b_up.external_ref = r.bref)), "
    "o AS (INSERT INTO orders (source, external_ref, buyer_id, currency, status, placed_at, "
    "  items_minor, shipping_minor, tax_minor, discount_minor, total_minor) "
    "  SELECT ok.source, ok.ext, b.id, ok.cur, ok.status, ok.placed::timestamptz, ok.items, "
    "  ok.ship, ok.tax, ok.disc, ok.total FROM ok JOIN b ON b.external_ref = ok.bref "
    "  ORDER BY ok.k ON CONFLICT (source, external_ref) DO NOTHING "
    "  RETURNING id, source, external_ref), "
    "ok_o AS (SELECT ok.k, o.id FROM ok JOIN o ON o.source = ok.source AND o.external_ref = "
    "ok.ext), "
    "it AS (INSERT INTO order_items (order_id, line_no, product_id, seller_id, currency, "
    "  quantity, unit_price_minor, line_total_minor) SELECT ok_o.id, l.n, l.pid, l.sid, "
    "  o_in.cur, l.q, l.u, l.q * l.u FROM ok_o JOIN o_in ON o_in.k = ok_o.k "
    "  JOIN l ON l.k = ok_o.k RETURNING order_id), "
    "d AS (INSERT INTO deliveries (order_id, depot_id, address, latitude, longitude, "
    "  window_start, window_end, weight_grams, service_minutes) SELECT ok_o.id, dp.id, o_in.addr, "
    "  o_in.lat::float8, o_in.lon::float8, o_in.ws::timestamptz, o_in.we::timestamptz, "
    "  coalesce(o_in.weight, (SELECT sum(l.q * l.w) FROM l WHERE l.k = ok_o.k)::int), o_in.svc "
    "  FROM ok_o JOIN o_in ON o_in.k = ok_o.k JOIN dp ON dp.k = ok_o.k RETURNING id, order_id), "
    "de AS (INSERT INTO delivery_events (delivery_id, seq, status, at) "
    "  SELECT d.id, 1, 'pending', o_in.placed::timestamptz FROM d "
    "  JOIN ok_o ON ok_o.id = d.order_id JOIN o_in ON o_in.k = ok_o.k RETURNING 1), "
    "ex AS (SELECT e.id, e.source, e.external_ref, e.status, e.currency, e.total_minor "
    "  FROM (SELECT DISTINCT source, ext FROM o_in) r CROSS JOIN LATERAL (SELECT * FROM orders "
    "  WHERE source = r.source AND external_ref = r.ext) e), "
    "same AS (SELECT ok_o.id, ok.source, ok.ext, ok.status, ok.cur, ok.total "
    "  FROM ok_o JOIN ok ON ok.k = ok_o.k) "
    "SELECT CASE WHEN bd.k IS NOT NULL THEN 422 "
    "  WHEN i.depot IS NOT NULL AND NOT EXISTS (SELECT 1 FROM dp WHERE dp.k = i.k) THEN 422 "
    "  WHEN oo.id IS NOT NULL THEN 201 WHEN ex.id IS NOT NULL THEN 200 "
    "  WHEN sm.id IS NOT NULL THEN 200 "
    "  WHEN NOT EXISTS (SELECT 1 FROM b WHERE b.external_ref = i.bref) THEN 422 ELSE 503 END, "
    "  CASE WHEN oo.id IS NOT NULL THEN json_build_object('order', json_build_object('id', "
    "    oo.id, 'source', i.source, 'external_ref', i.ext, 'status', i.status, 'currency', "
    "    i.cur, 'total_minor', i.total, 'lines', (SELECT count(*) FROM it WHERE it.order_id = "
    "    oo.id), 'delivery_id', (SELECT d.id FROM d WHERE d.order_id = oo.id)), 'created', "
    "    true)::text "
    "  WHEN ex.id IS NOT NULL THEN json_build_object('order', json_build_object('id', ex.id, "
    "    'source', i.source, 'external_ref', i.ext, 'status', ex.status, 'currency', "
    "    ex.currency, 'total_minor', ex.total_minor), 'created', false)::text "
    "  WHEN sm.id IS NOT NULL THEN json_build_object('order', json_build_object('id', sm.id, "
    "    'source', i.source, 'external_ref', i.ext, 'status', sm.status, 'currency', sm.cur, "
    "    'total_minor', sm.total), 'created', false)::text END, "
    "  bd.n, bd.c, EXISTS (SELECT 1 FROM dp WHERE dp.k = i.k) "
    "FROM o_in i LEFT JOIN bad bd ON bd.k = i.k LEFT JOIN ok_o oo ON oo.k = i.k "
    "LEFT JOIN ex ON ex.source = i.source AND ex.external_ref = i.ext "
    "LEFT JOIN same sm ON sm.source = i.source AND sm.ext = i.ext AND oo.id IS NULL "
    "ORDER BY i.k";

static const struct {
    const char *name, *sql;
    int n;
} intake_statements[] = {
    {"intake_claim", intake_sql_claim, 4},
    {"intake_order", intake_sql_order, 28},
    {"intake_orders", intake_sql_orders, 27},
};

int intake_prepare(intake_state *st, purser_ctx *ctx, PGconn *c)
{
    int pid = PQbackendPID(c);
    pthread_mutex_lock(&st->lock);
    for (size_t i = 0; i < st->n_prepared; i++)
        if (st->prepared[i].conn == c && st->prepared[i].pid == pid) {
            pthread_mutex_unlock(&st->lock);
            return 0;
        }
    pthread_mutex_unlock(&st->lock);
    for (size_t i = 0; i < sizeof intake_statements / sizeof *intake_statements; i++) {
        PGresult *r = PQprepare(c, intake_statements[i].name, intake_statements[i].sql,
                                intake_statements[i].n, NULL);
        int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        /* 42P05: already prepared on this connection (a recycled address) */
        const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        if (!ok && !(state && strcmp(state, "42P05") == 0)) {
            intake_db_error(st, ctx, "preparing statements", PQresultErrorMessage(r));
            PQclear(r);
            return -1;
        }
        PQclear(r);
    }
    pthread_mutex_lock(&st->lock);
    size_t slot = st->n_prepared < INTAKE_MAX_PREPARED ? st->n_prepared++
                                                       : st->next_prepared++ % INTAKE_MAX_PREPARED;
    st->prepared[slot].conn = c;
    st->prepared[slot].pid = pid;
    pthread_mutex_unlock(&st->lock);
    return 0;
}

void intake_purge_keys(intake_state *st, purser_ctx *ctx, PGconn *c)
{
    double now = intake_now();
    pthread_mutex_lock(&st->lock);
    int due = now - st->purged_at > 60;
    if (due)
        st->purged_at = now;
    pthread_mutex_unlock(&st->lock);
    if (!due)
        return;
    PGresult *r = PQexec(c, "DELETE FROM intake_idempotency WHERE expires_at < now() "
                            "AND status IS NOT NULL");
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        intake_db_error(st, ctx, "purging expired idempotency keys", PQresultErrorMessage(r));
    PQclear(r);
}

/* ---- one order's parameters ----------------------------------------------- */

/* A growing text buffer for array literals. */
typedef struct intake_buf {
    char *data;
    size_t len, cap;
} intake_buf;

static void intake_buf_add(intake_buf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *d = realloc(b->data, cap);
        if (!d)
            abort(); /* as xmalloc does in the core */
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

/* An element of a PostgreSQL array literal: quoted, \ and " escaped. */
static void intake_buf_elem(intake_buf *b, const char *s)
{
    if (b->len > 1)
        intake_buf_add(b, ",", 1);
    if (!s) {
        intake_buf_add(b, "NULL", 4);
        return;
    }
    intake_buf_add(b, "\"", 1);
    for (const char *p = s; *p; p++) {
        if (*p == '"' || *p == '\\')
            intake_buf_add(b, "\\", 1);
        intake_buf_add(b, p, 1);
    }
    intake_buf_add(b, "\"", 1);
}

typedef struct intake_params {
    const char *v[28];
    char num[9][24];
    char ttl[24];
    intake_buf arr[4];
} intake_params;

static void intake_params_fill(intake_params *p, const intake_order *o, const char *scope,
                               const char *key)
{
    memset(p, 0, sizeof *p);
    const char **v = p->v;
    v[0] = o->source;
    v[1] = o->external_ref;
    v[2] = o->buyer_ref;
    v[3] = o->buyer_email;
    v[4] = o->buyer_name;
    v[5] = o->buyer_country;
    v[6] = o->currency;
    v[7] = o->status;
    v[8] = o->placed_at;
    const int64_t nums[] = {o->items, o->shipping, o->tax, o->discount, o->total};
    for (int i = 0; i < 5; i++) {
        snprintf(p->num[i], sizeof p->num[i], "%lld", (long long)nums[i]);
        v[9 + i] = p->num[i];
    }
    for (int a = 0; a < 4; a++)
        intake_buf_add(&p->arr[a], "{", 1);
    for (size_t i = 0; i < o->n_lines; i++) {
        char q[24], u[24];
        snprintf(q, sizeof q, "%lld", (long long)o->lines[i].quantity);
        snprintf(u, sizeof u, "%lld", (long long)o->lines[i].unit_price);
        intake_buf_elem(&p->arr[0], o->lines[i].sku);
        intake_buf_elem(&p->arr[1], o->lines[i].seller);
        intake_buf_elem(&p->arr[2], q);
        intake_buf_elem(&p->arr[3], u);
    }
    for (int a = 0; a < 4; a++) {
        intake_buf_add(&p->arr[a], "}", 1);
        v[14 + a] = p->arr[a].data;
    }
    if (o->has_delivery) {
        v[18] = o->depot;
        v[19] = o->address;
        v[20] = o->latitude;
        v[21] = o->longitude;
        v[22] = o->window_start;
        v[23] = o->window_end;
        if (o->weight_grams >= 0) {
            snprintf(p->num[5], sizeof p->num[5], "%lld", (long long)o->weight_grams);
            v[24] = p->num[5];
        }
        snprintf(p->num[6], sizeof p->num[6], "%lld", (long long)o->service_minutes);
        v[25] = p->num[6];
    }
    v[26] = key ? scope : NULL;
    v[27] = key;
}

static void intake_params_free(intake_params *p)
{
    for (int a = 0; a < 4; a++)
        free(p->arr[a].data);
}

/* The job's outcome from a row of intake_sql_order. prefix names the
 * order in a batch ("orders[3]."). */
static void intake_order_outcome_row(intake_job *job, PGresult *r, int row, const char *prefix)
{
    int code = atoi(PQgetvalue(r, row, 0));
    const intake_order *o = job->order;
    job->body = NULL;
    if (code == 200 || code == 201) {
        job->status = code;
        job->body = strdup(PQgetvalue(r, row, 1));
        return;
    }
    if (code == 0) { /* the key was used before */
        if (strcmp(PQgetvalue(r, row, 9), job->hash) != 0) {
            job->status = 422;
            intake_err_set(&job->err, 422, "idempotency_mismatch", NULL,
                           "this Idempotency-Key was used with a different request");
        } else {
            job->status = atoi(PQgetvalue(r, row, 7));
            job->body = strdup(PQgetvalue(r, row, 8));
        }
        return;
    }
    job->status = code;
    char field[160];
    if (code == 422 && !PQgetisnull(r, row, 2)) {
        int n = atoi(PQgetvalue(r, row, 2)) - 1, c = atoi(PQgetvalue(r, row, 3));
        const intake_line *l = &o->lines[n >= 0 && (size_t)n < o->n_lines ? n : 0];
        snprintf(field, sizeof field, "%sitems[%d].%s", prefix, n, c > 1 ? "seller" : "sku");
        if (c > 1)
            intake_err_set(&job->err, 422, "unknown_reference", field,
                           "%d sellers have a product with sku '%s': name the seller", c, l->sku);
        else
            intake_err_set(&job->err, 422, "unknown_reference", field,
                           "no product with sku '%s'%s%s", l->sku, l->seller ? " from seller " : "",
                           l->seller ? l->seller : "");
    } else if (code == 422 && o->has_delivery && PQgetvalue(r, row, 4)[0] != 't') {
        snprintf(field, sizeof field, "%sdelivery.depot", prefix);
        intake_err_set(&job->err, 422, "unknown_reference", field, "no depot with code '%s'",
                       o->depot);
    } else if (code == 422) {
        snprintf(field, sizeof field, "%sbuyer.external_ref", prefix);
        intake_err_set(&job->err, 422, "unknown_reference", field,
                       "no buyer '%s': give email, name and country to create it", o->buyer_ref);
    } else {
        job->status = 503;
        intake_err_set(&job->err, 503, "unavailable", NULL,
                       "the order is being written by a concurrent request: retry");
    }
}

static void intake_order_outcome(intake_job *job, PGresult *r, const char *prefix)
{
    intake_order_outcome_row(job, r, 0, prefix);
}

static void intake_job_fail(intake_job *job, const PGresult *r, const char *prefix)
{
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    const char *cons = r ? PQresultErrorField(r, PG_DIAG_CONSTRAINT_NAME) : NULL;
    if (state && (state[0] == '2' && state[1] == '2' ? 1 : strncmp(state, "23", 2) == 0)) {
        job->status = 422;
        intake_err_set(&job->err, 422, "rejected", prefix[0] ? prefix : NULL,
                       "the store refused the order (%s)", cons ? cons : state);
    } else {
        job->status = 503;
        intake_err_set(&job->err, 503, "unavailable", NULL, "the database is unavailable");
    }
}

/* ---- the set-based parameters of a group ------------------------------------- */

#define INTAKE_SET_ARRAYS 27

typedef struct intake_set_params {
    intake_buf arr[INTAKE_SET_ARRAYS];
    const char *v[INTAKE_SET_ARRAYS];
} intake_set_params;

static void intake_elem_int(intake_buf *b, int64_t v)
{
    char t[24];
    snprintf(t, sizeof t, "%lld", (long long)v);
    intake_buf_elem(b, t);
}

static void intake_set_fill(intake_set_params *p, intake_job **jobs, size_t n)
{
    memset(p, 0, sizeof *p);
    for (int a = 0; a < INTAKE_SET_ARRAYS; a++)
        intake_buf_add(&p->arr[a], "{", 1);
    for (size_t i = 0; i < n; i++) {
        const intake_order *o = jobs[i]->order;
        const char *t[9] = {o->source,      o->external_ref, o->buyer_ref,
                            o->buyer_email, o->buyer_name,   o->buyer_country,
                            o->currency,    o->status,       o->placed_at};
        for (int a = 0; a < 9; a++)
            intake_buf_elem(&p->arr[a], t[a]);
        const int64_t m[5] = {o->items, o->shipping, o->tax, o->discount, o->total};
        for (int a = 0; a < 5; a++)
            intake_elem_int(&p->arr[9 + a], m[a]);
        int d = o->has_delivery;
        const char *dv[6] = {d ? o->depot : NULL,        d ? o->address : NULL,
                             d ? o->latitude : NULL,     d ? o->longitude : NULL,
                             d ? o->window_start : NULL, d ? o->window_end : NULL};
        for (int a = 0; a < 6; a++)
            intake_buf_elem(&p->arr[14 + a], dv[a]);
        if (d && o->weight_grams >= 0)
            intake_elem_int(&p->arr[20], o->weight_grams);
        else
            intake_buf_elem(&p->arr[20], NULL);
        if (d)
            intake_elem_int(&p->arr[21], o->service_minutes);
        else
            intake_buf_elem(&p->arr[21], NULL);
        for (size_t k = 0; k < o->n_lines; k++) {
            intake_elem_int(&p->arr[22], (int64_t)i + 1);
            intake_buf_elem(&p->arr[23], o->lines[k].sku);
            intake_buf_elem(&p->arr[24], o->lines[k].seller);
            intake_elem_int(&p->arr[25], o->lines[k].quantity);
            intake_elem_int(&p->arr[26], o->lines[k].unit_price);
        }
    }
    for (int a = 0; a < INTAKE_SET_ARRAYS; a++) {
        intake_buf_add(&p->arr[a], "}", 1);
        p->v[a] = p->arr[a].data;
    }
}

static void intake_set_free(intake_set_params *p)
{
    for (int a = 0; a < INTAKE_SET_ARRAYS; a++)
        free(p->arr[a].data);
}

/* ---- group commit ------------------------------------------------------------- */

static int intake_send(PGconn *c, const char *name, int n, const char *const *v)
{
    return PQsendQueryPrepared(c, name, n, v, NULL, NULL, 0);
}

static int intake_send_sql(PGconn *c, const char *sql)
{
    return PQsendQueryParams(c, sql, 0, NULL, NULL, NULL, NULL, 0);
}

/* The next result of the pipeline, skipping the NULL that ends each query. */
static PGresult *intake_next(PGconn *c)
{
    PGresult *r = PQgetResult(c);
    if (r && PQresultStatus(r) != PGRES_PIPELINE_SYNC) {
        PGresult *end = PQgetResult(c);
        while (end) { /* one result per query; drain anything else */
            PQclear(end);
            end = PQgetResult(c);
        }
    }
    return r;
}

/* Send jobs in one pipelined transaction; 0 committed (outcomes set), 1 a
 * statement failed (rolled back: fall back to one by one), -1 connection
 * or commit failure (nothing acknowledged). */
static int intake_pipeline(intake_state *st, purser_ctx *ctx, PGconn *c, intake_job **jobs,
                           size_t n)
{
    char ttl[24];
    snprintf(ttl, sizeof ttl, "%lld", (long long)st->idem_ttl_ms);
    intake_params *ps = calloc(n, sizeof *ps);
    intake_job **set = calloc(n, sizeof *set);
    intake_set_params sp;
    size_t n_set = 0;
    for (size_t i = 0; set && i < n; i++)
        if (!jobs[i]->key)
            set[n_set++] = jobs[i];
    int use_set = n_set >= 2; /* else each order has its own statement */
    if (!ps || !set || PQenterPipelineMode(c) != 1) {
        free(ps);
        free(set);
        return -1;
    }
    int sent = intake_send_sql(c, "BEGIN");
    if (use_set) {
        intake_set_fill(&sp, set, n_set);
        sent = sent && intake_send(c, "intake_orders", INTAKE_SET_ARRAYS, sp.v);
    }
    for (size_t i = 0; sent && i < n; i++) {
        if (use_set && !jobs[i]->key)
            continue;
        intake_params_fill(&ps[i], jobs[i]->order, jobs[i]->scope, jobs[i]->key);
        if (jobs[i]->key) {
            const char *cv[4] = {jobs[i]->scope, jobs[i]->key, jobs[i]->hash, ttl};
            sent = intake_send(c, "intake_claim", 4, cv);
        }
        if (sent)
            sent = intake_send(c, "intake_order", 28, ps[i].v);
    }
    if (sent)
        sent = intake_send_sql(c, "COMMIT") && PQpipelineSync(c) == 1;
    int rc = sent ? 0 : -1;
    PGresult *first_err = NULL;
/* A statement's result: kept when it failed first (rc 1, or -1 when the
 * pipeline was aborted), else cleared. */
#define INTAKE_FAILED(r)                                                                           \
    do {                                                                                           \
        if (rc == 0) {                                                                             \
            rc = PQresultStatus(r) == PGRES_PIPELINE_ABORTED ? -1 : 1;                             \
            first_err = (r);                                                                       \
            (r) = NULL;                                                                            \
        }                                                                                          \
    } while (0)
    if (sent) {
        PGresult *r = intake_next(c); /* BEGIN */
        if (PQresultStatus(r) != PGRES_COMMAND_OK)
            rc = -1;
        PQclear(r);
        if (use_set) {
            r = intake_next(c);
            if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == (int)n_set && rc == 0) {
                for (size_t k = 0; k < n_set; k++)
                    intake_order_outcome_row(set[k], r, (int)k, "");
            } else {
                INTAKE_FAILED(r);
            }
            PQclear(r);
        }
        for (size_t i = 0; i < n; i++) {
            if (use_set && !jobs[i]->key)
                continue;
            if (jobs[i]->key) {
                r = intake_next(c);
                if (PQresultStatus(r) != PGRES_TUPLES_OK)
                    INTAKE_FAILED(r);
                PQclear(r);
            }
            r = intake_next(c);
            if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 && rc == 0)
                intake_order_outcome(jobs[i], r, "");
            else
                INTAKE_FAILED(r);
            PQclear(r);
        }
        r = intake_next(c); /* COMMIT */
        if (PQresultStatus(r) != PGRES_COMMAND_OK && rc == 0)
            rc = -1;
        if (rc == -1 && !first_err) {
            first_err = r;
            r = NULL;
        }
        PQclear(r);
        r = intake_next(c); /* the sync */
        PQclear(r);
    }
#undef INTAKE_FAILED
    PQexitPipelineMode(c);
    if (PQtransactionStatus(c) == PQTRANS_INERROR || PQtransactionStatus(c) == PQTRANS_INTRANS)
        PQclear(PQexec(c, "ROLLBACK"));
    if (rc != 0) {
        intake_db_error(st, ctx, "storing orders",
                        first_err ? PQresultErrorMessage(first_err) : PQerrorMessage(c));
        for (size_t i = 0; i < n; i++) {
            free(jobs[i]->body);
            jobs[i]->body = NULL;
        }
        if (n == 1 && rc == 1)
            intake_job_fail(jobs[0], first_err, "");
    }
    PQclear(first_err);
    if (use_set)
        intake_set_free(&sp);
    for (size_t i = 0; i < n; i++)
        intake_params_free(&ps[i]);
    free(ps);
    free(set);
    if (PQstatus(c) != CONNECTION_OK)
        rc = -1;
    return rc;
}

static void intake_unavailable_all(intake_job **jobs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(jobs[i]->body);
        jobs[i]->body = NULL;
        jobs[i]->status = 503;
        intake_err_set(&jobs[i]->err, 503, "unavailable", NULL, "the database is unavailable");
    }
}

/* Same key twice in one batch: the later one waits for the next batch. */
static int intake_key_clash(intake_job **jobs, size_t n, const intake_job *j)
{
    for (size_t i = 0; j->key && i < n; i++)
        if (jobs[i]->key && strcmp(jobs[i]->key, j->key) == 0 &&
            strcmp(jobs[i]->scope, j->scope) == 0)
            return 1;
    return 0;
}

static void intake_lead(intake_state *st, purser_ctx *ctx, intake_job **jobs, size_t n)
{
    PGconn *c = st->host->db(ctx);
    if (!c || intake_prepare(st, ctx, c) != 0) {
        if (!c)
            st->host->metric_add(ctx, "db_errors_total", 1);
        intake_unavailable_all(jobs, n);
        return;
    }
    int rc = intake_pipeline(st, ctx, c, jobs, n);
    if (rc == 1 && n > 1) /* one bad order must not fail the others */
        for (size_t i = 0; i < n && rc != -1; i++) {
            int one = intake_pipeline(st, ctx, c, &jobs[i], 1);
            if (one == -1)
                intake_unavailable_all(&jobs[i], n - i);
            rc = one == -1 ? -1 : 0;
        }
    else if (rc == -1)
        intake_unavailable_all(jobs, n);
    /* An order also sent by a batch that committed after this one started
     * (a concurrent retry) was neither stored nor seen here: run those
     * again, now that the other has committed, to answer 200. */
    for (int round = 0; rc == 0 && round < 3; round++) {
        intake_job *again[INTAKE_GROUP_MAX];
        size_t m = 0;
        for (size_t i = 0; i < n; i++)
            if (jobs[i]->status == 503)
                again[m++] = jobs[i];
        if (m == 0)
            break;
        rc = intake_pipeline(st, ctx, c, again, m) == -1 ? -1 : 0;
        if (rc == -1)
            intake_unavailable_all(again, m);
    }
    size_t created = 0, lines = 0;
    for (size_t i = 0; i < n; i++)
        if (jobs[i]->status == 201) {
            created++;
            lines += jobs[i]->order->n_lines + (size_t)jobs[i]->order->has_delivery + 1;
        }
    st->host->metric_add(ctx, "group_commits_total", 1);
    st->host->metric_add(ctx, "group_commit_orders_total", (double)n);
    st->host->metric_add(ctx, "orders_created_total", (double)created);
    st->host->metric_add(ctx, "rows_written_total", (double)lines);
}

/* Take up to INTAKE_GROUP_MAX queued jobs (a key already in the batch
 * waits for the next one). Called with gc_lock held. */
static size_t intake_take(intake_state *st, intake_job **batch)
{
    size_t n = 0;
    intake_job **link = &st->gc_head;
    st->gc_tail = NULL;
    while (*link) {
        intake_job *j = *link;
        if (n == INTAKE_GROUP_MAX || intake_key_clash(batch, n, j)) {
            st->gc_tail = j;
            link = &j->next;
            continue;
        }
        batch[n++] = j;
        j->queued = 0;
        *link = j->next;
    }
    return n;
}

void intake_order_submit(intake_state *st, purser_ctx *ctx, intake_job *job)
{
    intake_job *batch[INTAKE_GROUP_MAX];
    pthread_mutex_lock(&st->gc_lock);
    job->next = NULL;
    job->queued = 1;
    if (st->gc_tail)
        st->gc_tail->next = job;
    else
        st->gc_head = job;
    st->gc_tail = job;
    while (!job->done) {
        if (!job->queued || st->gc_leaders >= st->gc_max_leaders) {
            pthread_cond_wait(&st->gc_done, &st->gc_lock);
            continue;
        }
        /* Lead: commit what is queued (this job included) in one go. */
        st->gc_leaders++;
        size_t n = intake_take(st, batch);
        pthread_mutex_unlock(&st->gc_lock);
        intake_lead(st, ctx, batch, n);
        pthread_mutex_lock(&st->gc_lock);
        for (size_t i = 0; i < n; i++)
            batch[i]->done = 1;
        st->gc_leaders--;
        pthread_cond_broadcast(&st->gc_done);
    }
    pthread_mutex_unlock(&st->gc_lock);
}

/* ---- batches: one transaction, a savepoint per order --------------------------- */

int intake_order_batch(intake_state *st, purser_ctx *ctx, intake_job *jobs, size_t n)
{
    PGconn *c = st->host->db(ctx);
    if (!c || intake_prepare(st, ctx, c) != 0)
        return -1;
    size_t created = 0, rows = 0;
    for (size_t i = 0; i < n; i++) {
        char prefix[32];
        snprintf(prefix, sizeof prefix, "orders[%zu].", i);
        if (jobs[i].status) /* refused by validation already */
            continue;
        intake_params p;
        intake_params_fill(&p, jobs[i].order, NULL, NULL);
        PGresult *r = PQexec(c, "SAVEPOINT intake_order");
        int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
        if (!ok) {
            intake_params_free(&p);
            return -1;
        }
        r = PQexecPrepared(c, "intake_order", 28, p.v, NULL, NULL, 0);
        intake_params_free(&p);
        if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
            intake_order_outcome(&jobs[i], r, prefix);
            PQclear(r);
            r = PQexec(c, "RELEASE SAVEPOINT intake_order");
            if (jobs[i].status == 201) {
                created++;
                rows += jobs[i].order->n_lines + (size_t)jobs[i].order->has_delivery + 1;
            }
        } else {
            if (PQstatus(c) != CONNECTION_OK) {
                intake_db_error(st, ctx, "storing a batch", PQerrorMessage(c));
                PQclear(r);
                return -1;
            }
            intake_job_fail(&jobs[i], r, prefix);
            if (jobs[i].status == 503) {
                intake_db_error(st, ctx, "storing a batch", PQresultErrorMessage(r));
                PQclear(r);
                return -1;
            }
            PQclear(r);
            r = PQexec(c, "ROLLBACK TO SAVEPOINT intake_order");
        }
        ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
        if (!ok)
            return -1;
    }
    st->host->metric_add(ctx, "orders_created_total", (double)created);
    st->host->metric_add(ctx, "rows_written_total", (double)rows);
    return 0;
}

/* ---- every other route: one transaction with Idempotency-Key ------------------- */

void intake_request_hash(const purser_http_request *req, char out[65])
{
    size_t lm = strlen(req->method), lp = strlen(req->path), n = lm + lp + 2 + req->body_len;
    unsigned char *buf = malloc(n);
    if (!buf)
        abort();
    memcpy(buf, req->method, lm);
    buf[lm] = ' ';
    memcpy(buf + lm + 1, req->path, lp);
    buf[lm + 1 + lp] = '\n';
    memcpy(buf + lm + lp + 2, req->body, req->body_len);
    intake_hash_hex(buf, n, out);
    free(buf);
}

static int intake_exec_ok(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    return ok;
}

purser_status intake_in_tx(intake_state *st, purser_ctx *ctx, const purser_http_request *req,
                           const char *scope, intake_tx_fn fn, void *arg,
                           purser_http_response *resp)
{
    const char *key = req->header(req, "Idempotency-Key");
    if (key && (!*key || strlen(key) > 255)) {
        intake_err e;
        intake_err_set(&e, 400, "invalid", "Idempotency-Key", "must be 1 to 255 characters");
        return intake_reply_err(resp, &e);
    }
    PGconn *c = st->host->db(ctx);
    if (!c) {
        st->host->metric_add(ctx, "db_errors_total", 1);
        return intake_unavailable(resp, "the database is unavailable");
    }
    if (intake_prepare(st, ctx, c) != 0 || !intake_exec_ok(c, "BEGIN")) {
        intake_db_error(st, ctx, "starting a transaction", PQerrorMessage(c));
        return intake_unavailable(resp, "the database is unavailable");
    }
    char hash[65] = "", ttl[24];
    if (key) {
        intake_request_hash(req, hash);
        snprintf(ttl, sizeof ttl, "%lld", (long long)st->idem_ttl_ms);
        const char *v[4] = {scope, key, hash, ttl};
        PGresult *r = PQexecPrepared(c, "intake_claim", 4, v, NULL, NULL, 0);
        int claimed = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
        int failed = PQresultStatus(r) != PGRES_TUPLES_OK;
        if (failed)
            intake_db_error(st, ctx, "claiming an idempotency key", PQresultErrorMessage(r));
        PQclear(r);
        if (failed) {
            intake_exec_ok(c, "ROLLBACK");
            return intake_unavailable(resp, "the database is unavailable");
        }
        if (!claimed) {
            const char *kv[2] = {scope, key};
            r = PQexecParams(c,
                             "SELECT status, response, request_hash FROM intake_idempotency "
                             "WHERE scope = $1 AND key = $2",
                             2, NULL, kv, NULL, NULL, 0);
            int found = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
            purser_status ps;
            if (!found) {
                ps = intake_unavailable(resp, "the key is in use by a concurrent request");
            } else if (strcmp(PQgetvalue(r, 0, 2), hash) != 0) {
                intake_err e;
                intake_err_set(&e, 422, "idempotency_mismatch", NULL,
                               "this Idempotency-Key was used with a different request");
                ps = intake_reply_err(resp, &e);
            } else {
                ps = intake_reply(resp, atoi(PQgetvalue(r, 0, 0)), strdup(PQgetvalue(r, 0, 1)));
            }
            PQclear(r);
            intake_exec_ok(c, "ROLLBACK");
            return ps;
        }
    }
    int status = 0;
    char *body = NULL;
    intake_err e = {0};
    if (fn(st, ctx, c, arg, &status, &body, &e) != 0) {
        free(body);
        intake_exec_ok(c, "ROLLBACK");
        if (PQstatus(c) != CONNECTION_OK)
            st->host->metric_add(ctx, "db_errors_total", 1);
        return intake_unavailable(resp, "the database is unavailable");
    }
    if (!body) { /* a refusal: nothing of it is kept, not even the key */
        intake_exec_ok(c, "ROLLBACK");
        return intake_reply_err(resp, &e);
    }
    if (key) {
        char code[16];
        snprintf(code, sizeof code, "%d", status);
        const char *v[4] = {scope, key, code, body};
        PGresult *r = PQexecParams(c,
                                   "UPDATE intake_idempotency SET status = $3::int, "
                                   "response = $4 WHERE scope = $1 AND key = $2",
                                   4, NULL, v, NULL, NULL, 0);
        int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
        if (!ok) {
            free(body);
            intake_exec_ok(c, "ROLLBACK");
            return intake_unavailable(resp, "the database is unavailable");
        }
    }
    if (!intake_exec_ok(c, "COMMIT")) {
        intake_db_error(st, ctx, "committing", PQerrorMessage(c));
        free(body);
        return intake_unavailable(resp, "the database is unavailable");
    }
    intake_purge_keys(st, ctx, c);
    return intake_reply(resp, status, body);
}

int intake_order_one(intake_state *st, purser_ctx *ctx, PGconn *c, intake_job *job)
{
    intake_params p;
    intake_params_fill(&p, job->order, NULL, NULL);
    PGresult *r = PQexecPrepared(c, "intake_order", 28, p.v, NULL, NULL, 0);
    intake_params_free(&p);
    int rc = 0;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
        intake_order_outcome(job, r, "");
        if (job->status == 201)
            st->host->metric_add(
                ctx, "rows_written_total",
                (double)(job->order->n_lines + 1 + (size_t)job->order->has_delivery));
    } else {
        intake_job_fail(job, r, "");
        if (job->status == 503) {
            intake_db_error(st, ctx, "storing an order", PQresultErrorMessage(r));
            rc = -1;
        }
    }
    PQclear(r);
    return rc;
}
