/* The reconciliation plugin's own interfaces between its files: provider
 * settings, the streaming report parsers (pure: no database, no network,
 * unit-testable), fetching, loading with COPY, matching in SQL, and the
 * workbook. Nothing here is seen by the host. */
#ifndef RECON_INTERNAL_H
#define RECON_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "purser/plugin.h"

struct pg_conn;
struct pg_result;

/* ---- report formats and their settings ---------------------------------- */

typedef enum recon_format_id {
    RECON_FMT_STRIPE,
    RECON_FMT_ADYEN,
    RECON_FMT_PAYPAL,
    RECON_FMT_GENERIC
} recon_format_id;

/* What a provider row is, in our terms. */
typedef enum recon_kind {
    RECON_KIND_CAPTURE,
    RECON_KIND_REFUND,
    RECON_KIND_CHARGEBACK,
    RECON_KIND_CHARGEBACK_REVERSAL,
    RECON_KIND_PAYOUT,
    RECON_KIND_FEE,
    RECON_KIND_OTHER,
    RECON_KIND_N
} recon_kind;

/* "capture", "refund", ... as stored in recon_rows.kind; static. */
const char *recon_kind_name(recon_kind k);
/* The kind named `name`, or -1. */
int recon_kind_parse(const char *name);

typedef enum recon_sign {
    RECON_SIGN_SIGNED,   /* positive: money to us */
    RECON_SIGN_INVERTED, /* positive: money from us */
    RECON_SIGN_DIRECTION /* magnitudes, direction in a credit/debit column */
} recon_sign;

/* One kind mapping of the generic format: a value of the kind column. */
typedef struct recon_kind_map {
    char *value; /* owned */
    recon_kind kind;
} recon_kind_map;

/* The generic format's column mapping (plugins.reconciliation.providers.
 * NAME.columns.*): each a header name, NULL when not mapped. */
typedef struct recon_generic {
    char *reference, *amount, *currency, *date; /* required */
    char *merchant_reference, *original_reference, *fee, *net, *payout, *kind, *direction,
        *timezone;
    bool minor_units; /* amounts: "minor" rather than "decimal" */
    recon_sign sign;
    char *date_format; /* %Y %m %d %H %M %S %z and literal characters */
    recon_kind_map *kinds;
    size_t n_kinds;
    char delimiter;
} recon_generic;

/* A provider as configured; everything owned by the struct. */
typedef struct recon_provider {
    char *name; /* the key under providers:, also payments.provider */
    recon_format_id format;
    char *source;      /* URL with {date}, or NULL with drop_folder */
    char *drop_folder; /* a folder to read FILE from, or NULL */
    char *pattern;     /* file name with {date} (drop folder, and URL's file name) */
    char *auth_header; /* "Name: value", or NULL */
    char *username, *password;
    char *timezone;                  /* zone of dates written without one (default UTC) */
    char *merchant_reference_column; /* overrides the format's default, or NULL */
    int64_t timeout_ms, connect_timeout_ms, backoff_ms;
    int64_t retries;
    recon_generic generic;
} recon_provider;

/* Read and check providers.* from the plugin's config. 0, or -1 after
 * writing why (naming the key) into err. *out is owned by the caller:
 * recon_providers_free. */
int recon_providers_load(const purser_host *h, purser_ctx *ctx, recon_provider **out, size_t *n,
                         char *err, size_t errlen);
void recon_providers_free(recon_provider *p, size_t n);

/* ---- parsing: one report file, streamed ---------------------------------- */

/* One normalised row. Strings are borrowed until the callback returns. */
typedef struct recon_row {
    long line; /* physical line where the record starts */
    recon_kind kind;
    const char *type;         /* the provider's own row type (reporting_category, Type, code) */
    const char *reference;    /* the row's own transaction reference */
    const char *original_ref; /* provider reference of the original payment, or "" */
    const char *merchant_ref; /* our order reference as the provider knows it, or "" */
    const char *payout_ref;   /* payout / batch the row belongs to, or "" */
    char currency[4];         /* of amount */
    int64_t amount;           /* signed: + money to us; payout rows: + paid to our bank */
    char net_currency[4];
    int64_t net; /* signed, in net_currency */
    int64_t fee; /* + a cost to us, in net_currency */
    bool has_identity;
    int64_t identity;    /* gross x rate - fee - net, in net minor units; 0 when it ties */
    char local_time[20]; /* "YYYY-MM-DD HH:MM:SS" as written in the file */
    const char *zone;    /* the source's zone: name, abbreviation or +HH:MM */
} recon_row;

/* A per-currency footer (PayPal STL "SF"): totals the rows must tie to. */
typedef struct recon_footer {
    long line;
    char currency[4];
    int64_t gross_cr, gross_dr, fee_cr, fee_dr, count;
} recon_footer;

/* Lookups the parser needs: a currency's exponent (or -1 when the code is
 * unknown) and whether a zone name is known. */
typedef struct recon_lookup {
    int (*exponent)(void *arg, const char *code);
    bool (*zone_known)(void *arg, const char *zone);
    void *arg;
} recon_lookup;

/* Receivers of parsed rows: return 0, or -1 to stop (err set by them). */
typedef struct recon_sink {
    int (*row)(void *arg, const recon_row *row);
    int (*footer)(void *arg, const recon_footer *f);
    void *arg;
} recon_sink;

typedef struct recon_parser recon_parser;

/* A parser for one file of the provider's format. `filename` names the
 * file in messages. Returns NULL when out of memory. Free with
 * recon_parser_free. */
recon_parser *recon_parser_new(const recon_provider *prov, const char *filename,
                               const recon_lookup *lookup, const recon_sink *sink);
/* Feed the next n bytes; 0, or -1 with recon_parser_error set. */
int recon_parser_feed(recon_parser *p, const char *buf, size_t n);
/* End of input; 0, or -1 with recon_parser_error set (an empty file, a
 * missing header). */
int recon_parser_finish(recon_parser *p);
/* "FILE:LINE: column 'X': reason"; borrowed, lives as long as the parser. */
const char *recon_parser_error(const recon_parser *p);
/* Data rows (not counting headers and footers) seen so far. */
uint64_t recon_parser_rows(const recon_parser *p);
void recon_parser_free(recon_parser *p);

/* Parse "YYYY-MM-DD HH:MM:SS" (also '/' date separators, 'T' between date
 * and time, no seconds) into the canonical form; 0 or -1. */
int recon_parse_datetime(const char *s, size_t n, char out[20]);
/* gross (minor units at gross_exp) x rate (a decimal text), in minor units
 * at net_exp, rounded half to even; 0 or -1 (bad rate, overflow). */
int recon_convert(int64_t gross, int gross_exp, const char *rate, int net_exp, int64_t *out);

/* ---- fetching ------------------------------------------------------------- */

/* A fetched report: a private temporary copy, its name and its SHA-256. */
typedef struct recon_fetched {
    char path[4096];   /* temporary file (unlink when done) */
    char name[256];    /* the file's own name, for messages and the workbook */
    char source[4096]; /* where it came from, without credentials */
    char sha256[65];
    uint64_t bytes;
} recon_fetched;

typedef enum recon_fetch_status {
    RECON_FETCH_OK,
    RECON_FETCH_NOT_YET,   /* 404 / no file in the drop folder: try again later */
    RECON_FETCH_TRANSIENT, /* retries spent on 5xx, 429, timeouts, cut transfers */
    RECON_FETCH_FAILED     /* anything else: a bad URL, 401/403, a local error */
} recon_fetch_status;

/* Fetch the provider's report for date ("YYYY-MM-DD") into a temporary
 * file in tmpdir, retrying 5xx, 429, timeouts and truncated transfers with
 * exponential backoff. err gets the reason on failure. */
recon_fetch_status recon_fetch(const purser_host *h, purser_ctx *ctx, const recon_provider *prov,
                               const char *date, const char *tmpdir, recon_fetched *out, char *err,
                               size_t errlen);

/* ---- the database side ---------------------------------------------------- */

/* Currencies (ISO 4217 exponents) and known zone names, read once. */
typedef struct recon_refdata recon_refdata;
recon_refdata *recon_refdata_load(struct pg_conn *db, char *err, size_t errlen);
void recon_refdata_free(recon_refdata *r);
recon_lookup recon_refdata_lookup(recon_refdata *r);

/* Parameters of one night's matching. */
typedef struct recon_params {
    int64_t amount_tolerance, fee_tolerance; /* minor units */
    int64_t grace_ms, window_ms;
    const char *timezone; /* the job's zone: the business date's bounds */
} recon_params;

/* One provider, one business date: what a run works on and produces. */
typedef struct recon_job {
    const purser_host *h;
    purser_ctx *ctx;
    struct pg_conn *db;
    const recon_provider *prov;
    const char *date;
    recon_params params;
    int64_t run_id;    /* host's run id (0 when not recorded) */
    int64_t recon_run; /* recon_runs.id of this run */
    int64_t *files;    /* recon_files ids of the date's report(s) */
    size_t n_files;
    char *file_names; /* "name (sha256)\n" per file, for the workbook */
    uint64_t rows_loaded;
    bool reused; /* the date's file had been loaded before */
} recon_job;

/* Load a fetched file: the same content (SHA-256) already loaded for this
 * provider is reused, not loaded twice; otherwise rows are streamed into
 * recon_rows with COPY inside the caller's transaction. On a malformed file
 * err gets "FILE:LINE: column 'X': reason" and -1 is returned (the caller
 * rolls back: nothing of it is kept). */
int recon_load_file(recon_job *job, const recon_fetched *f, recon_refdata *ref, char *err,
                    size_t errlen);

/* Match and classify (set-based SQL), store results, maintain the open
 * exception list, write the provider's actual fees back. 0 or -1 (err). */
int recon_match(recon_job *job, char *err, size_t errlen);

/* Counts of this run's results per category name, for the run's message. */
int recon_counts(recon_job *job, char *buf, size_t len);

/* Write reconciliation_<provider>_<date>.xlsx (".tmp" then rename). */
int recon_workbook(recon_job *job, char *err, size_t errlen);

/* "what: PostgreSQL's message" on one line into err. */
void recon_pg_error(const char *what, const struct pg_result *r, char *err, size_t errlen);

/* Exec a parameterised statement that returns no rows; -1 with err. */
int recon_exec(struct pg_conn *db, const char *what, const char *sql, int n,
               const char *const *params, char *err, size_t errlen);

#endif
