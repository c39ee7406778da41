/* The settlement plugin's internal interface: its settings (settlement.c),
 * the batch transaction (settlement_db.c) and the workbook
 * (settlement_xlsx.c). Nothing here is exported from the shared object. */
#ifndef SETTLE_H
#define SETTLE_H

#include <libpq-fe.h>
#include <stdint.h>
#include <time.h>

#include "purser/money.h"
#include "purser/plugin.h"

/* Per-currency amounts from the settings (commission.fixed.EUR: "0.30"),
 * handed to SQL as parallel arrays in PostgreSQL's text form. */
typedef struct settle_currency_defaults {
    char *codes;   /* "{EUR,KWD}"; owned */
    char *fixed;   /* "{30,NULL}": minor units or NULL; owned */
    char *minimum; /* owned */
    char *dispute; /* dispute fee estimates; owned */
} settle_currency_defaults;

/* `plugins.settlement:` once validated; strings owned by the state. */
typedef struct settle_config {
    purser_rounding rounding; /* HALF_EVEN or HALF_UP */
    int64_t shipped_days;     /* -1: settle on delivery; else shipped + N days */
    int64_t lookback_days;
    int64_t fee_estimate_bp;
    int64_t default_bp;
    int64_t reserve_bp, reserve_days;
    int dispute_fee;    /* charge chargeback dispute fees to the seller */
    int64_t sheet_rows; /* rows per workbook sheet before a statement continues */
} settle_config;

typedef struct settle_state {
    const purser_host *host; /* borrowed; valid until fini */
    settle_config cfg;
} settle_state;

/* The one-line outcome of a batch, for the result message and logs. */
typedef struct settle_outcome {
    int64_t batch_id;
    int existed;     /* the date was settled by an earlier run */
    int rewritten;   /* ... and its missing workbook was written again */
    int64_t lines;   /* statement lines of the batch */
    int64_t entries; /* ledger entries posted */
    int64_t payouts; /* payout lines */
} settle_outcome;

/* What a run settles: the business date, its cutoff and the job's zone. */
typedef struct settle_request {
    const char *date;     /* "YYYY-MM-DD"; borrowed */
    const char *cutoff;   /* "HH:MM", "24:00" = end of the date; borrowed */
    const char *timezone; /* IANA zone; borrowed */
    int64_t run_id;
    int dry_run;
} settle_request;

/* "half_even" / "half_up" */
const char *settle_rounding_name(purser_rounding r);

/* Read the per-currency settings, parsing each amount with its currency's
 * exponent from iso4217. 0, or -1 after logging which key is wrong. */
int settle_load_defaults(settle_state *st, purser_ctx *ctx, PGconn *db,
                         settle_currency_defaults *out);
void settle_defaults_free(settle_currency_defaults *d);

/* Settle the date in one transaction and write its workbook to
 * workbook_path; or find it settled and write the workbook only if the
 * file is missing. PURSER_OK, PURSER_RETRY (cancelled, connection trouble)
 * or PURSER_ERROR, logged. */
purser_status settle_batch(settle_state *st, purser_ctx *ctx, PGconn *db, const settle_request *req,
                           const settle_currency_defaults *dflt, const char *workbook_path,
                           settle_outcome *out);

/* A new batch's lines while they are being settled, as rows shaped like
 * settlement_lines (without batch_id and id): the sale lines and the
 * refund/chargeback lines computed into the transaction's temporary tables
 * settle_new_sales and settle_new_adjustments, with each line's net. The
 * reserves, the payouts and the workbook's export read them from there, so
 * the workbook can start before the bulk of the sale lines is inserted. */
#define SETTLE_NEW_SALES                                                                    \
    "(SELECT s.seller_id, s.currency, 'sale'::text AS kind, s.order_id, s.order_item_id, " \
    "        NULL::bigint AS payment_id, s.event_at, s.gross_minor, s.commission_minor, "  \
    "        s.fee_minor, s.fee_source, 0::bigint AS refund_minor, "                        \
    "        0::bigint AS chargeback_minor, "                                               \
    "        s.gross_minor - s.commission_minor - s.fee_minor AS net_minor "               \
    "   FROM settle_new_sales s)"
#define SETTLE_NEW_ADJUSTMENTS                                                                \
    "(SELECT a.seller_id, a.currency, a.kind, a.order_id, a.order_item_id, a.payment_id, "  \
    "        a.event_at, 0::bigint AS gross_minor, a.commission_minor, a.fee_minor, "        \
    "        a.fee_source, a.refund_minor, a.chargeback_minor, "                              \
    "        -a.commission_minor - a.fee_minor - a.refund_minor - a.chargeback_minor "       \
    "          AS net_minor "                                                                 \
    "   FROM settle_new_adjustments a)"
#define SETTLE_NEW_LINES \
    "(" SETTLE_NEW_SALES " UNION ALL " SETTLE_NEW_ADJUSTMENTS ")"
/* Their columns, in that order, as settlement_lines names them (for an
 * INSERT into it). */
#define SETTLE_NEW_LINE_COLUMNS                                                                 \
    "seller_id, currency, kind, order_id, order_item_id, payment_id, event_at, gross_minor, " \
    "commission_minor, fee_minor, fee_source, refund_minor, chargeback_minor, net_minor"

/* The workbook writer: settle_writer_start exports the batch's statement
 * records (COPY into an anonymous temporary file: from settlement_lines
 * for a committed batch, posted; from SETTLE_NEW_LINES for the batch being
 * settled) and the per-currency totals, and writes
 * them to path.tmp in a thread of its own, with libxlsxwriter's
 * constant-memory mode, while the caller goes on (posting the ledger).
 * When the ledger is not posted yet (!posted), the Summary's ledger
 * columns say what the posting must produce, and settle_writer_verify,
 * called once it is posted and before COMMIT, compares them with the
 * ledger: -1 (logged) unless they agree, so a workbook whose Summary is
 * not the ledger's is never kept; it also checks that the sellers'
 * payable account holds exactly the carried balances, which ties the
 * posted lines to the payouts. settle_writer_finish waits for the
 * thread and renames path.tmp to path when keep (the batch committed),
 * else deletes it. Memory does not grow with the number of lines.
 * NULL / -1 / PURSER_ERROR after logging. */
typedef struct settle_writer settle_writer;
settle_writer *settle_writer_start(settle_state *st, purser_ctx *ctx, PGconn *db, int64_t batch_id,
                                   const char *path, int posted);
int settle_writer_verify(settle_state *st, purser_ctx *ctx, settle_writer *w, PGconn *db,
                         int64_t batch_id);
purser_status settle_writer_finish(settle_state *st, purser_ctx *ctx, settle_writer *w, int keep);

/* Milliseconds since *t0 (CLOCK_MONOTONIC). */
double settle_ms_since(const struct timespec *t0);

/* A PostgreSQL error in one line: the server's primary message and, when
 * present, its detail; borrowed from r. */
const char *settle_pg_error(const PGresult *r, char *buf, size_t len);

#endif
