/* The ratings plugin's internal interface: its settings and descriptor
 * (ratings.c), review bodies (ratings_review.c: pure C, no database), the
 * POST /v1/reviews route (ratings_http.c) and the nightly scores
 * (ratings_db.c). Nothing here is exported from the shared object. */
#ifndef RATINGS_H
#define RATINGS_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "purser/plugin.h"

/* `plugins.ratings:` once validated; strings borrowed from the host until
 * fini. */
typedef struct ratings_config {
    int64_t max_text;           /* most characters (code points) in a review's text */
    const char *default_source; /* orders.source when a review names none */
    const char *prior_mean;     /* m as a decimal text, or NULL: the global mean */
    int64_t prior_weight;       /* C */
    int64_t window_days;        /* trailing window of the fulfilment signals */
    int64_t w_rating, w_on_time, w_cancel, w_refund; /* composite score weights */
} ratings_config;

typedef struct ratings_state {
    const purser_host *host; /* borrowed; valid until fini */
    ratings_config cfg;
} ratings_state;

/* ---- errors as the API reports them ------------------------------------ */

/* {"error": {"code": CODE, "field": FIELD, "message": MESSAGE}} with status,
 * the same shape as intake_http's. */
typedef struct ratings_err {
    int status;        /* 0 while no error */
    char code[40];     /* "invalid", "malformed_json", "conflict", ... */
    char field[64];    /* "rating", or "" */
    char message[320]; /* one line */
} ratings_err;

void ratings_err_set(ratings_err *e, int status, const char *code, const char *field,
                     const char *fmt, ...) PURSER_PRINTF(5, 6);
/* The error as a malloc'd JSON document (caller frees), NULL when out of
 * memory. */
char *ratings_err_json(const ratings_err *e);

/* ---- review bodies (ratings_review.c) ---------------------------------- */

/* A review as posted. Strings are borrowed from the parsed tree. */
typedef struct ratings_review {
    int64_t line_id;       /* order_line_id, or 0 when named by reference */
    const char *source;    /* with order_ref: the order's source */
    const char *order_ref; /* orders.external_ref, or NULL */
    int64_t line_no;       /* with order_ref */
    const char *buyer;     /* buyers.external_ref of the writer */
    int rating;            /* 1 to 5 */
    const char *text;      /* valid UTF-8, no control characters but tab/newline */
} ratings_review;

/* Parse and check len bytes of a POST /v1/reviews body. Returns the tree
 * (the caller cJSON_Deletes it; out borrows from it), or NULL with e set:
 * 400 "malformed_json" naming line and column, or 400 "invalid" naming the
 * field at fault. */
cJSON *ratings_parse_review(const unsigned char *body, size_t len, const ratings_config *cfg,
                            ratings_review *out, ratings_err *e);

/* Byte offset of the first invalid UTF-8 sequence in s (len bytes), or -1
 * when s is valid UTF-8 (no overlong forms, no surrogates, <= U+10FFFF). */
long ratings_utf8_invalid(const unsigned char *s, size_t len);

/* ---- the route (ratings_http.c) ----------------------------------------- */

purser_status ratings_post_review(void *state, purser_ctx *ctx, const purser_http_request *req,
                                  purser_http_response *resp);

/* ---- the nightly job (ratings_db.c) ------------------------------------- */

/* What a run computed, for the result line. */
typedef struct ratings_outcome {
    int64_t products, sellers, reviews;
    char prior_mean[32]; /* as used, "" when there is no review at all */
    int replaced;        /* the date had rows that were replaced */
} ratings_outcome;

/* Compute the scores of business date `date` (reviews written before its
 * end in zone tz) and replace that date's rows, in one transaction (rolled
 * back when dry_run). PURSER_OK, PURSER_RETRY (connection lost) or
 * PURSER_ERROR, logged. */
purser_status ratings_compute(ratings_state *st, purser_ctx *ctx, const char *date, const char *tz,
                              int64_t run_id, int dry_run, ratings_outcome *out);

#endif
