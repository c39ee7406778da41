/* `purser simulate --via http`: the same marketplace as --via db, sent the
 * way storefronts send it, through the intake's API (plugins/intake_http):
 * sellers, buyers and products with PUT, then per order POST /v1/orders,
 * its payment events and its delivery events in the order they happened,
 * then the stock counts. Depots and delivery agents, which no storefront
 * sends, are loaded by COPY first. Orders go out over several keep-alive
 * connections at once; each request carries an Idempotency-Key so a
 * retried request is never stored twice. */
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "progress.h"
#include "sim.h"

#define SIM_HTTP_TRIES 30
#define SIM_HTTP_STOCK_BATCH 500

typedef struct sim_http_run sim_http_run;

/* One phase: items [0, n) handed out to the workers by a shared counter. */
typedef int (*sim_http_item_fn)(sim_http_run *run, CURL *curl, strbuf *resp, uint64_t i);

struct sim_http_run {
    sim_world *w; /* its reserved counts grow as orders are sent */
    const sim_http_options *opt;
    struct curl_slist *headers; /* Authorization and Content-Type; owned */
    sim_party *parties;         /* sellers, buyers, products (not depots, agents); owned */
    size_t n_parties;
    sim_stock_row *stock; /* owned */
    size_t n_stock;
    sim_http_item_fn item;
    uint64_t n_items;
    _Atomic uint64_t next, done, requests;
    atomic_bool failed;
    pthread_mutex_t err_lock;
    char err[512]; /* the first failure, under err_lock */
    /* What the sent orders hold and what the providers settled, under
     * tally_lock; the caller's. */
    pthread_mutex_t tally_lock;
    sim_settled_list *settled;
    sim_counts *counts;
};

static void sim_http_fail(sim_http_run *run, const char *fmt, ...) PURSER_PRINTF(2, 3);
static void sim_http_fail(sim_http_run *run, const char *fmt, ...)
{
    pthread_mutex_lock(&run->err_lock);
    if (!atomic_load(&run->failed)) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(run->err, sizeof run->err, fmt, ap);
        va_end(ap);
        atomic_store(&run->failed, true);
    }
    pthread_mutex_unlock(&run->err_lock);
}

static size_t sim_http_collect(char *data, size_t size, size_t n, void *arg)
{
    sb_addn(arg, data, size * n);
    return size * n;
}

/* Send one request; retried on 503/429 (after Retry-After) and on
 * connection failures, always with the same Idempotency-Key. Returns the
 * final HTTP status (0 when no answer came at all); the body is in resp. */
static long sim_http_send(sim_http_run *run, CURL *curl, strbuf *resp, const char *method,
                          const char *path, const char *body, const char *key)
{
    char url[1024], idem[160];
    snprintf(url, sizeof url, "%s%s", run->opt->url, path);
    snprintf(idem, sizeof idem, "Idempotency-Key: sim-%llu-%s",
             (unsigned long long)run->w->opt.seed, key);
    struct curl_slist *h = curl_slist_append(NULL, idem);
    for (struct curl_slist *x = run->headers; x; x = x->next)
        h = curl_slist_append(h, x->data);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, sim_http_collect);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, resp);
    long status = 0;
    for (int attempt = 1; attempt <= SIM_HTTP_TRIES && !atomic_load(&run->failed); attempt++) {
        resp->len = 0;
        if (resp->data)
            resp->data[0] = '\0';
        CURLcode rc = curl_easy_perform(curl);
        atomic_fetch_add(&run->requests, 1);
        status = 0;
        curl_off_t wait = 0;
        if (rc == CURLE_OK) {
            curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
            if (status != 503 && status != 429)
                break;
            curl_easy_getinfo(curl, CURLINFO_RETRY_AFTER, &wait);
        } else if (attempt == SIM_HTTP_TRIES) {
            sim_http_fail(run, "%s %s: %s", method, url, curl_easy_strerror(rc));
            break;
        }
        struct timespec ts = {wait > 0 ? (time_t)(wait > 5 ? 5 : wait) : 0,
                              wait > 0 ? 0 : 100000000L * (attempt < 10 ? attempt : 10)};
        nanosleep(&ts, NULL);
    }
    curl_slist_free_all(h);
    return status;
}

/* Send and insist on a 2xx; anything else stops the run, naming the
 * request and the server's answer. */
static int sim_http_ok(sim_http_run *run, CURL *curl, strbuf *resp, const char *method,
                       const char *path, cJSON *body, const char *key)
{
    char *text = cJSON_PrintUnformatted(body);
    cJSON_Delete(body);
    long st = sim_http_send(run, curl, resp, method, path, text, key);
    free(text);
    if (st >= 200 && st < 300)
        return 0;
    if (st)
        sim_http_fail(run, "%s %s answered %ld: %.300s", method, path, st,
                      resp->data ? resp->data : "");
    return -1;
}

/* "YYYY-MM-DDTHH:MM:SSZ" */
static void sim_http_time(cJSON *o, const char *name, int64_t t)
{
    char buf[24];
    sim_format_time(t, buf);
    buf[10] = 'T';
    memcpy(buf + 19, "Z", 2);
    cJSON_AddStringToObject(o, name, buf);
}

static void sim_http_int(cJSON *o, const char *name, int64_t v)
{
    char buf[24];
    snprintf(buf, sizeof buf, "%lld", (long long)v);
    cJSON_AddRawToObject(o, name, buf); /* exact, whatever the size */
}

/* micro-degrees as the exact decimal, not via a double */
static void sim_http_coord(cJSON *o, const char *name, int32_t micro)
{
    char buf[24];
    sim_format_coord(micro, buf);
    cJSON_AddRawToObject(o, name, buf);
}

/* prefix + the segment percent-encoded ("#1042" is a Shopify order name)
 * + suffix */
static void sim_http_path(CURL *curl, char *buf, size_t len, const char *prefix, const char *seg,
                          const char *suffix)
{
    char *e = curl_easy_escape(curl, seg, 0);
    snprintf(buf, len, "%s%s%s", prefix, e ? e : seg, suffix);
    curl_free(e);
}

/* ---- the parties ------------------------------------------------------------ */

static int sim_http_party(sim_http_run *run, CURL *curl, strbuf *resp, uint64_t i)
{
    const sim_party *p = &run->parties[i];
    cJSON *b = cJSON_CreateObject();
    char path[256], key[80];
    const char *cur = sim_currencies[p->cur].code;
    snprintf(key, sizeof key, "party-%d-%lld", p->kind, (long long)p->id);
    switch (p->kind) {
    case SIM_P_SELLER:
        cJSON_AddStringToObject(b, "name", p->name);
        cJSON_AddStringToObject(b, "currency", cur);
        sim_http_int(b, "commission_bp", p->commission_bp);
        sim_http_int(b, "commission_fixed_minor", p->commission_fixed);
        sim_http_int(b, "commission_min_minor", p->commission_min);
        sim_http_path(curl, path, sizeof path, "/v1/sellers/", p->ref, "");
        break;
    case SIM_P_BUYER:
        cJSON_AddStringToObject(b, "email", p->email);
        cJSON_AddStringToObject(b, "name", p->name);
        cJSON_AddStringToObject(b, "country", sim_currencies[p->cur].country);
        sim_http_path(curl, path, sizeof path, "/v1/buyers/", p->ref, "");
        break;
    default: /* SIM_P_PRODUCT */
        cJSON_AddStringToObject(b, "seller", p->seller_ref);
        cJSON_AddStringToObject(b, "name", p->name);
        cJSON_AddStringToObject(b, "category", p->category);
        sim_http_int(b, "price_minor", p->price);
        cJSON_AddStringToObject(b, "currency", cur);
        sim_http_int(b, "weight_grams", p->weight_g);
        sim_http_path(curl, path, sizeof path, "/v1/catalog/products/", p->ref, "");
        break;
    }
    return sim_http_ok(run, curl, resp, "PUT", path, b, key);
}

static int sim_http_keep_party(void *arg, const sim_party *p)
{
    sim_http_run *run = arg;
    if (p->kind == SIM_P_DEPOT || p->kind == SIM_P_AGENT)
        return 0;
    if ((run->n_parties & (run->n_parties - 1)) == 0)
        run->parties = xrealloc(run->parties,
                                (run->n_parties ? 2 * run->n_parties : 1) * sizeof *run->parties);
    run->parties[run->n_parties++] = *p;
    return 0;
}

/* ---- one order: the order, its payments, its delivery events ----------------- */

static int sim_http_order(sim_http_run *run, CURL *curl, strbuf *resp, uint64_t n)
{
    const sim_world *w = run->w;
    sim_order o;
    sim_order_generate(w, n, &o);
    const char *cur = sim_currencies[o.cur].code, *source = sim_order_source(o.source);
    char ref[48], tmp[160], path[256], key[96];
    sim_order_external_ref(w, &o, ref);

    cJSON *b = cJSON_CreateObject();
    cJSON_AddStringToObject(b, "source", source);
    cJSON_AddStringToObject(b, "external_ref", ref);
    cJSON_AddStringToObject(b, "currency", cur);
    cJSON_AddStringToObject(b, "status", sim_order_statuses[o.status]);
    sim_http_time(b, "placed_at", o.placed_at);
    cJSON *buyer = cJSON_AddObjectToObject(b, "buyer");
    sim_buyer_ref(w, o.buyer, tmp);
    cJSON_AddStringToObject(buyer, "external_ref", tmp);
    cJSON *items = cJSON_AddArrayToObject(b, "items");
    for (int i = 0; i < o.n_lines; i++) {
        cJSON *it = cJSON_CreateObject();
        sim_product_sku(w, o.lines[i].product, tmp);
        cJSON_AddStringToObject(it, "sku", tmp);
        sim_seller_ref(w, w->products[o.lines[i].product].seller, tmp);
        cJSON_AddStringToObject(it, "seller", tmp);
        sim_http_int(it, "quantity", o.lines[i].qty);
        sim_http_int(it, "unit_price_minor", o.lines[i].unit_price);
        cJSON_AddItemToArray(items, it);
    }
    sim_http_int(b, "shipping_minor", o.shipping);
    sim_http_int(b, "tax_minor", o.tax);
    sim_http_int(b, "discount_minor", o.discount);
    sim_http_int(b, "total_minor", o.total);
    if (o.has_delivery) {
        cJSON *d = cJSON_AddObjectToObject(b, "delivery");
        sim_depot_code(w, o.depot, tmp);
        cJSON_AddStringToObject(d, "depot", tmp);
        snprintf(tmp, sizeof tmp, "%s %u, %u Berlin", sim_street(o.street), o.house, o.postcode);
        cJSON_AddStringToObject(d, "address", tmp);
        sim_http_coord(d, "latitude", o.lat);
        sim_http_coord(d, "longitude", o.lon);
        sim_http_time(d, "window_start", o.window_start);
        sim_http_time(d, "window_end", o.window_end);
        sim_http_int(d, "weight_grams", o.weight_g);
        sim_http_int(d, "service_minutes", o.service_min);
    }
    snprintf(key, sizeof key, "order-%lld", (long long)o.id);
    if (sim_http_ok(run, curl, resp, "POST", "/v1/orders", b, key))
        return -1;

    for (int i = 0; i < o.n_payments; i++) {
        const sim_payment *p = &o.payments[i];
        b = cJSON_CreateObject();
        cJSON_AddStringToObject(b, "source", source);
        cJSON_AddStringToObject(b, "order_ref", ref);
        cJSON_AddStringToObject(b, "provider", sim_provider_names[o.provider]);
        sim_provider_ref(w, o.provider, p->kind, p->id, tmp);
        cJSON_AddStringToObject(b, "provider_ref", tmp);
        cJSON_AddStringToObject(b, "kind", sim_payment_kinds[p->kind]);
        for (int j = 0; p->parent_id && j < i; j++)
            if (o.payments[j].id == p->parent_id) {
                sim_provider_ref(w, o.provider, o.payments[j].kind, p->parent_id, tmp);
                cJSON_AddStringToObject(b, "parent_ref", tmp);
            }
        sim_http_int(b, "amount_minor", p->amount);
        cJSON_AddStringToObject(b, "currency", cur);
        cJSON_AddStringToObject(b, "status", p->status == SIM_SUCCEEDED ? "succeeded" : "failed");
        sim_http_time(b, "occurred_at", p->at);
        if (p->fee >= 0)
            sim_http_int(b, "fee_minor", p->fee);
        snprintf(key, sizeof key, "payment-%lld", (long long)p->id);
        if (sim_http_ok(run, curl, resp, "POST", "/v1/payments", b, key))
            return -1;
    }

    /* The intake opens a delivery's history with "pending" itself. */
    sim_http_path(curl, path, sizeof path, "/v1/deliveries/", ref, "/events");
    for (int i = 0; o.has_delivery && i < o.n_events; i++) {
        const sim_event *e = &o.events[i];
        if (e->status == SIM_DLV_PENDING)
            continue;
        b = cJSON_CreateObject();
        cJSON_AddStringToObject(b, "source", source);
        cJSON_AddStringToObject(b, "status", sim_delivery_statuses[e->status]);
        sim_http_time(b, "at", e->at);
        if (e->with_agent)
            sim_http_int(b, "agent_id", w->base.agent + 1 + o.agent);
        if (e->status == SIM_DLV_FAILED)
            cJSON_AddStringToObject(b, "note", "recipient not at home");
        snprintf(key, sizeof key, "event-%lld-%d", (long long)o.id, i + 1);
        if (sim_http_ok(run, curl, resp, "POST", path, b, key))
            return -1;
    }

    pthread_mutex_lock(&run->tally_lock);
    sim_order_reserve(run->w, &o);
    sim_counts *n_rows = run->counts;
    n_rows->orders++;
    n_rows->items += (uint64_t)o.n_lines;
    n_rows->payments += (uint64_t)o.n_payments;
    n_rows->deliveries += o.has_delivery;
    n_rows->events += o.has_delivery ? (uint64_t)o.n_events : 0;
    for (int i = 0; i < o.n_payments; i++)
        sim_settled_add(run->settled, &o, &o.payments[i]);
    pthread_mutex_unlock(&run->tally_lock);
    return 0;
}

/* ---- stock --------------------------------------------------------------------- */

static int sim_http_keep_stock(void *arg, const sim_stock_row *s)
{
    sim_http_run *run = arg;
    if ((run->n_stock & (run->n_stock - 1)) == 0)
        run->stock =
            xrealloc(run->stock, (run->n_stock ? 2 * run->n_stock : 1) * sizeof *run->stock);
    run->stock[run->n_stock++] = *s;
    return 0;
}

static int sim_http_stock_batch(sim_http_run *run, CURL *curl, strbuf *resp, uint64_t k)
{
    const sim_world *w = run->w;
    char tmp[48], key[64];
    cJSON *b = cJSON_CreateObject(), *items = cJSON_AddArrayToObject(b, "items");
    size_t first = (size_t)k * SIM_HTTP_STOCK_BATCH, end = first + SIM_HTTP_STOCK_BATCH;
    for (size_t i = first; i < end && i < run->n_stock; i++) {
        const sim_stock_row *s = &run->stock[i];
        cJSON *it = cJSON_CreateObject();
        sim_product_sku(w, s->product, tmp);
        cJSON_AddStringToObject(it, "sku", tmp);
        sim_seller_ref(w, w->products[s->product].seller, tmp);
        cJSON_AddStringToObject(it, "seller", tmp);
        sim_depot_code(w, s->depot, tmp);
        cJSON_AddStringToObject(it, "warehouse", tmp);
        sim_http_int(it, "on_hand", s->on_hand);
        sim_http_int(it, "reserved", s->reserved);
        sim_http_int(it, "safety_stock", s->safety_stock);
        cJSON_AddItemToArray(items, it);
    }
    snprintf(key, sizeof key, "stock-%llu", (unsigned long long)k);
    return sim_http_ok(run, curl, resp, "POST", "/v1/inventory", b, key);
}

/* ---- the workers ----------------------------------------------------------------- */

static void *sim_http_worker(void *arg)
{
    sim_http_run *run = arg;
    CURL *curl = curl_easy_init();
    strbuf resp = {0};
    if (!curl) {
        sim_http_fail(run, "cannot start a libcurl handle");
        return NULL;
    }
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)run->opt->timeout_ms);
    curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
    while (!atomic_load(&run->failed)) {
        uint64_t i = atomic_fetch_add(&run->next, 1);
        if (i >= run->n_items)
            break;
        if (run->item(run, curl, &resp, i) != 0)
            break;
        atomic_fetch_add(&run->done, 1);
    }
    sb_free(&resp);
    curl_easy_cleanup(curl);
    return NULL;
}

static int sim_http_phase(sim_http_run *run, const char *what, sim_http_item_fn item, uint64_t n)
{
    run->item = item;
    run->n_items = n;
    atomic_store(&run->next, 0);
    atomic_store(&run->done, 0);
    int nt = run->opt->connections;
    pthread_t *t = xcalloc((size_t)nt, sizeof *t);
    progress pg;
    progress_start(&pg, "simulate", n, what);
    int started = 0;
    for (; started < nt; started++)
        if (pthread_create(&t[started], NULL, sim_http_worker, run) != 0)
            break;
    if (started == 0)
        sim_http_fail(run, "cannot start a sending thread");
    while (started && atomic_load(&run->done) < n && !atomic_load(&run->failed)) {
        progress_update(&pg, atomic_load(&run->done), 0);
        struct timespec ts = {0, 100000000L};
        nanosleep(&ts, NULL);
    }
    for (int i = 0; i < started; i++)
        pthread_join(t[i], NULL);
    progress_update(&pg, atomic_load(&run->done), 0);
    progress_finish(&pg);
    free(t);
    return atomic_load(&run->failed) ? -1 : 0;
}

int sim_http_load(PGconn *c, sim_world *w, const sim_http_options *opt, sim_settled_list *settled,
                  sim_counts *counts, char *err, size_t errlen)
{
    sim_http_run run = {.w = w, .opt = opt, .settled = settled, .counts = counts};
    pthread_mutex_init(&run.err_lock, NULL);
    pthread_mutex_init(&run.tally_lock, NULL);
    /* depots and delivery agents: no storefront sends them */
    PGresult *r = PQexec(c, "BEGIN");
    int rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : -1;
    PQclear(r);
    if (rc == 0)
        rc = sim_load_parties(c, w, true, counts, err, errlen);
    if (rc == 0)
        rc = sim_set_sequences(c, err, errlen);
    r = PQexec(c, rc == 0 ? "COMMIT" : "ROLLBACK");
    if (rc == 0 && PQresultStatus(r) != PGRES_COMMAND_OK) {
        set_err(err, errlen, "loading depots and delivery agents: %s", PQerrorMessage(c));
        rc = -1;
    }
    PQclear(r);
    if (rc != 0)
        return -1;

    char auth[600];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", opt->token);
    run.headers = curl_slist_append(NULL, auth);
    run.headers = curl_slist_append(run.headers, "Content-Type: application/json");
    run.headers = curl_slist_append(run.headers, "Expect:");
    sim_parties(w, sim_http_keep_party, &run);
    size_t sellers = 0;
    while (sellers < run.n_parties && run.parties[sellers].kind == SIM_P_SELLER)
        sellers++;

    /* sellers first: products name them */
    rc = sim_http_phase(&run, "sellers", sim_http_party, sellers);
    if (rc == 0) {
        sim_party *rest = run.parties;
        run.parties += sellers;
        rc = sim_http_phase(&run, "buyers and products", sim_http_party, run.n_parties - sellers);
        run.parties = rest;
    }
    counts->other += run.n_parties;
    if (rc == 0)
        rc = sim_http_phase(&run, "orders", sim_http_order, w->opt.orders);
    if (rc == 0) {
        sim_stock(w, sim_http_keep_stock, &run);
        counts->other += run.n_stock;
        rc = sim_http_phase(&run, "stock batches", sim_http_stock_batch,
                            (run.n_stock + SIM_HTTP_STOCK_BATCH - 1) / SIM_HTTP_STOCK_BATCH);
    }
    if (rc != 0)
        set_err(err, errlen, "%s", run.err);
    log_info("simulate: %llu requests to %s", (unsigned long long)atomic_load(&run.requests),
             opt->url);
    curl_slist_free_all(run.headers);
    free(run.parties);
    free(run.stock);
    pthread_mutex_destroy(&run.err_lock);
    pthread_mutex_destroy(&run.tally_lock);
    return rc;
}
