/* intake_http internals shared by its files: the request-body model the
 * validators fill (pure C, no database: the fuzz harness links them
 * alone), errors as the API reports them, and the database side. */
#ifndef INTAKE_INTERNAL_H
#define INTAKE_INTERNAL_H

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "purser/plugin.h"

/* ---- errors as the API reports them ------------------------------------ */

/* {"error": {"code": CODE, "field": FIELD, "message": MESSAGE}} with status. */
typedef struct intake_err {
    int status;        /* 0 while no error */
    char code[40];     /* "invalid", "malformed_json", "unknown_reference", ... */
    char field[160];   /* "items[2].quantity", or "" */
    char message[320]; /* one line */
} intake_err;

void intake_err_set(intake_err *e, int status, const char *code, const char *field, const char *fmt,
                    ...) PURSER_PRINTF(5, 6);
/* The error as a malloc'd JSON document (caller frees); *len its length. */
char *intake_err_json(const intake_err *e, size_t *len);

/* ---- JSON (intake_json.c) ------------------------------------------------ */

/* Numbers never pass through double: before parsing, every number token of
 * the body is rewritten as a string "\u0001<the token's text>" so that
 * cJSON keeps its digits; the getters below read them exactly (18-digit
 * Shopify ids, money given as JSON numbers). */
#define INTAKE_NUM_MARK '\x01'

/* Parse len bytes as one JSON value; NULL with a 400 "malformed_json"
 * naming line and column in e. The tree is the caller's (cJSON_Delete). */
cJSON *intake_json_parse(const unsigned char *body, size_t len, intake_err *e);

/* A path for messages: "items[2].quantity". */
typedef struct intake_path {
    char text[160];
} intake_path;
void intake_path_key(intake_path *out, const char *base, const char *key);
void intake_path_index(intake_path *out, const char *base, size_t i);

/* Field getters. obj is an object; `at` the object's path ("" at the root).
 * Each returns 0 when absent and not required (outputs untouched), 1 when
 * read, -1 with a 400 in e. Strings are borrowed from the tree. */
int intake_get_str(const cJSON *obj, const char *at, const char *key, int required, size_t max_len,
                   const char **out, intake_err *e);
int intake_get_int(const cJSON *obj, const char *at, const char *key, int required, int64_t min,
                   int64_t max, int64_t *out, intake_err *e);
/* An id given as a JSON number or a string of digits (text copied to buf). */
int intake_get_id(const cJSON *obj, const char *at, const char *key, int required, char *buf,
                  size_t buflen, intake_err *e);
/* A coordinate or other non-money decimal, number or string, in [min, max];
 * its text is copied to buf. */
int intake_get_decimal(const cJSON *obj, const char *at, const char *key, int required, double min,
                       double max, char *buf, size_t buflen, intake_err *e);
/* Money: `key` as a decimal string in major units ("12.50"), or
 * `key`_minor as an integer of minor units; not both. Exact, by exponent. */
int intake_get_money(const cJSON *obj, const char *at, const char *key, int required, int exponent,
                     int64_t *out, intake_err *e);
/* Money given by a foreign sender as a decimal string or a JSON number in
 * major units (Shopify "20", WooCommerce 3). */
int intake_get_major(const cJSON *obj, const char *at, const char *key, int required, int exponent,
                     int64_t *out, intake_err *e);
/* RFC 3339 timestamp ("2025-01-01T10:00:00Z", offset or Z, optional
 * fraction; a space for T is accepted). */
int intake_get_time(const cJSON *obj, const char *at, const char *key, int required,
                    const char **out, intake_err *e);
int intake_get_bool(const cJSON *obj, const char *at, const char *key, int *out, intake_err *e);
/* Refuse members not in the NULL-terminated list. */
int intake_only_keys(const cJSON *obj, const char *at, const char *const *allowed, intake_err *e);
/* Is the string a valid RFC 3339 time (calendar-checked)? */
int intake_time_valid(const char *s);
/* Text of a number/id-like item (string or marked number); NULL if not. */
const char *intake_scalar_text(const cJSON *item);

/* ---- currencies ---------------------------------------------------------- */

/* Exponent of an ISO 4217 code, or -1 when unknown. */
typedef int (*intake_exponent_fn)(void *cls, const char *code);

/* ---- request bodies (intake_validate.c) -------------------------------- */

#define INTAKE_MAX_LINES 200

typedef struct intake_line {
    const char *sku, *seller; /* seller may be NULL: the one product with that sku */
    int64_t quantity, unit_price, total;
} intake_line;

typedef struct intake_order {
    const char *source, *external_ref, *currency, *status, *placed_at;
    int exponent;
    const char *buyer_ref, *buyer_email, *buyer_name, *buyer_country; /* email NULL: ref only */
    int64_t items, shipping, tax, discount, total;
    size_t n_lines;
    intake_line lines[INTAKE_MAX_LINES];
    int has_delivery;
    const char *depot, *address, *window_start, *window_end;
    char latitude[40], longitude[40];
    int64_t weight_grams; /* -1: computed from the products */
    int64_t service_minutes;
} intake_order;

typedef struct intake_payment {
    const char *source, *order_ref, *provider, *provider_ref, *kind, *parent_ref, *currency,
        *status, *occurred_at;
    int64_t amount, fee; /* fee -1: unknown */
} intake_payment;

typedef struct intake_dlv_event {
    const char *source, *status, *at, *note;
    int64_t agent_id; /* 0: none */
} intake_dlv_event;

#define INTAKE_MAX_STOCK 1000
typedef struct intake_stock {
    const char *sku, *seller, *warehouse;
    int64_t on_hand, adjust, reserved, safety_stock; /* -1 / INT64_MIN when absent */
    int absolute;
} intake_stock;

typedef struct intake_product {
    const char *seller, *name, *category, *currency;
    int64_t price, weight_grams;
} intake_product;

typedef struct intake_seller {
    const char *name, *currency;
    int64_t commission_bp, fixed, minimum;
} intake_seller;

typedef struct intake_buyer {
    const char *email, *name, *country;
} intake_buyer;

/* Each fills *out from a parsed body and returns 0, or -1 with e set.
 * `at` prefixes field paths (a batch passes "orders[3]"). */
int intake_validate_order(const cJSON *root, const char *at, const char *default_source,
                          intake_exponent_fn exp, void *cls, intake_order *out, intake_err *e);
int intake_validate_payment(const cJSON *root, const char *default_source, intake_exponent_fn exp,
                            void *cls, intake_payment *out, intake_err *e);
int intake_validate_dlv_event(const cJSON *root, const char *default_source, intake_dlv_event *out,
                              intake_err *e);
/* items: caller's array of INTAKE_MAX_STOCK; *n set. */
int intake_validate_stock(const cJSON *root, intake_stock *items, size_t *n, intake_err *e);
int intake_validate_product(const cJSON *root, intake_exponent_fn exp, void *cls,
                            intake_product *out, intake_err *e);
int intake_validate_seller(const cJSON *root, intake_exponent_fn exp, void *cls, intake_seller *out,
                           intake_err *e);
int intake_validate_buyer(const cJSON *root, intake_buyer *out, intake_err *e);
int intake_valid_source(const char *s);

/* ---- webhooks (intake_webhooks.c, signature part is pure) ---------------- */

/* 1 when the base64 HMAC-SHA256 of body under key equals b64 (constant time). */
int intake_hmac_b64_ok(const char *key, size_t keylen, const unsigned char *body, size_t len,
                       const char *b64);
/* Stripe-Signature check: 1 ok; 0 bad; -1 too old/new (tolerance_s > 0). */
int intake_stripe_sig_ok(const char *secret, const char *header, const unsigned char *body,
                         size_t len, int64_t now, int64_t tolerance_s);
/* WooCommerce stores its secret HTML-escaped; the key is the decoded text. */
void intake_wc_decode_secret(const char *in, char *out, size_t outlen);

/* ---- the plugin's state (intake_http.c, intake_db.c, intake_tokens.c) ---- */

struct pg_conn;
typedef struct intake_job intake_job;

#define INTAKE_MAX_CURRENCIES 400
#define INTAKE_MAX_PREPARED 64
#define INTAKE_GROUP_MAX 64

typedef struct intake_token {
    unsigned char hash[32];
    char name[64];
} intake_token;

typedef struct intake_state {
    const purser_host *host; /* borrowed; valid until fini */
    int64_t max_body, batch_max, idem_ttl_ms, token_cache_ms, stripe_tolerance_ms;
    const char *default_source;                 /* borrowed config, until fini */
    const char *shopify_secret, *stripe_secret; /* borrowed config, NULL: off */
    char wc_key[512];                           /* decoded WooCommerce secret */
    int wc_enabled;

    pthread_mutex_t lock; /* currencies, tokens, prepared, purge time */
    char cur_code[INTAKE_MAX_CURRENCIES][4];
    int cur_exp[INTAKE_MAX_CURRENCIES];
    size_t n_cur;
    intake_token *tokens; /* owned */
    size_t n_tokens;
    double tokens_at; /* monotonic seconds of the last load; 0 never */
    /* One thread at a time loads tokens or currencies (the others wait
     * for the first load, later use the stale copy): a request holding a
     * pooled connection while it waits for a group commit must stay rare,
     * or the leaders could find the pool empty. */
    struct {
        const void *conn;
        int pid;
    } prepared[INTAKE_MAX_PREPARED];
    size_t n_prepared, next_prepared;
    double purged_at;

    /* group commit of single orders: a queue and one leader at a time */
    pthread_mutex_t gc_lock;
    pthread_cond_t gc_done;
    intake_job *gc_head, *gc_tail;
    int gc_leaders, gc_max_leaders; /* batches in flight, and their limit */
    pthread_mutex_t load_lock;      /* held while tokens or currencies load */
} intake_state;

/* One single order waiting for its group commit. */
struct intake_job {
    const intake_order *order; /* borrowed from the waiting request */
    const char *scope, *key;   /* idempotency: token name and key, or NULL */
    char hash[65];             /* hex SHA-256 of the body */
    /* results, written by the leader before done is set */
    int status;     /* HTTP status; 503 when not stored */
    char *body;     /* malloc'd response (the waiting request frees it) */
    intake_err err; /* when status >= 400 and body is NULL */
    int done, queued;
    intake_job *next;
};

/* intake_db.c */
int intake_exponent(void *state, const char *code);
/* Load the currency table on first use; 0, or -1 (database unavailable). */
int intake_currencies_ready(intake_state *st, purser_ctx *ctx);
/* Prepare the plugin's statements on c once per connection; 0 or -1. */
int intake_prepare(intake_state *st, purser_ctx *ctx, struct pg_conn *c);
/* Submit one order and wait until it is committed (or refused). */
void intake_order_submit(intake_state *st, purser_ctx *ctx, intake_job *job);
/* Store orders of a batch, each all-or-nothing, in one transaction on the
 * request's connection: jobs[i] filled like a single order's. 0, or -1
 * (nothing stored: database unavailable). */
int intake_order_batch(intake_state *st, purser_ctx *ctx, intake_job *jobs, size_t n);
/* Hex SHA-256 of method, path and body: what an Idempotency-Key is bound to. */
void intake_request_hash(const purser_http_request *req, char out[65]);
/* One order with the order statement on c, inside the caller's transaction
 * (no idempotency key): job's status/body/err set. 0, or -1 (database). */
int intake_order_one(intake_state *st, purser_ctx *ctx, struct pg_conn *c, intake_job *job);
void intake_hash_hex(const unsigned char *data, size_t len, char out[65]);
void intake_purge_keys(intake_state *st, purser_ctx *ctx, struct pg_conn *c);
void intake_db_error(intake_state *st, purser_ctx *ctx, const char *what, const char *msg);

/* A unit of work in one transaction with Idempotency-Key handling (for
 * every route but single orders). fn runs inside the transaction and sets
 * *status and *body (malloc'd); returns 0, or -1 on a database error (the
 * transaction is rolled back and 503 returned). */
typedef int (*intake_tx_fn)(intake_state *st, purser_ctx *ctx, struct pg_conn *c, void *arg,
                            int *status, char **body, intake_err *e);
purser_status intake_in_tx(intake_state *st, purser_ctx *ctx, const purser_http_request *req,
                           const char *scope, intake_tx_fn fn, void *arg,
                           purser_http_response *resp);

/* intake_tokens.c */
/* The token's name when the request carries a valid bearer token: 1; 0
 * when not (401); -1 when tokens cannot be checked (503). */
int intake_auth(intake_state *st, purser_ctx *ctx, const purser_http_request *req, char *name,
                size_t namelen);
int intake_token_main(void *state, purser_ctx *ctx, int argc, char **argv);

/* intake_http.c: responses */
purser_status intake_reply(purser_http_response *resp, int status, char *body);
purser_status intake_reply_err(purser_http_response *resp, const intake_err *e);
purser_status intake_unavailable(purser_http_response *resp, const char *why);

/* intake_webhooks.c: routes */
purser_status intake_wh_shopify(void *state, purser_ctx *ctx, const purser_http_request *req,
                                purser_http_response *resp);
purser_status intake_wh_woocommerce(void *state, purser_ctx *ctx, const purser_http_request *req,
                                    purser_http_response *resp);
purser_status intake_wh_stripe(void *state, purser_ctx *ctx, const purser_http_request *req,
                               purser_http_response *resp);

#endif
