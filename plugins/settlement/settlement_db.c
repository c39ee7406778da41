/* The settlement batch: one transaction that takes the settleable lines,
 * refunds and chargebacks, holds and releases reserves, computes payouts
 * with carried balances and posts the ledger. All the arithmetic is set-based
 * SQL (the functions of migrations/0001_settlement.sql); this file runs the
 * steps in order, checks each, and rolls back on any failure, so a run that
 * dies at any point leaves nothing behind. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "settlement.h"

/* Serialises settlement runs (two dates at once would race for lines). */
#define SETTLE_LOCK_KEY "7368113532510245"

/* ---- helpers ---------------------------------------------------------------- */

const char *settle_pg_error(const PGresult *r, char *buf, size_t len)
{
    const char *msg = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    const char *detail = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_DETAIL) : NULL;
    if (!msg)
        msg = r ? PQresultErrorMessage(r) : "no result";
    snprintf(buf, len, "%s%s%s", msg, detail ? " (" : "", detail ? detail : "");
    if (detail && strlen(buf) + 2 < len)
        strcat(buf, ")");
    return buf;
}

double settle_ms_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

/* Run one step. *res receives the result when wanted (caller clears it),
 * *rows the affected row count. PURSER_RETRY for a lost connection or a
 * serialization failure, PURSER_ERROR otherwise; both logged with the step. */
static purser_status settle_step(settle_state *st, purser_ctx *ctx, PGconn *db, const char *step,
                                 const char *sql, int n, const char *const *params, PGresult **res,
                                 int64_t *rows)
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    PGresult *r = PQexecParams(db, sql, n, NULL, params, NULL, NULL, 0);
    ExecStatusType est = PQresultStatus(r);
    if (est != PGRES_COMMAND_OK && est != PGRES_TUPLES_OK) {
        char buf[1024];
        const char *code = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        int transient = PQstatus(db) != CONNECTION_OK ||
                        (code && (strcmp(code, "40001") == 0 || strcmp(code, "40P01") == 0 ||
                                  strncmp(code, "08", 2) == 0 || strcmp(code, "57014") == 0));
        st->host->log(ctx, PURSER_LOG_ERROR, "step '%s': %s", step,
                      settle_pg_error(r, buf, sizeof buf));
        PQclear(r);
        return transient ? PURSER_RETRY : PURSER_ERROR;
    }
    const char *tuples = PQcmdTuples(r);
    if (rows)
        *rows = tuples && *tuples ? strtoll(tuples, NULL, 10) : PQntuples(r);
    st->host->log(ctx, PURSER_LOG_DEBUG, "step '%s': %s rows in %.0f ms", step,
                  tuples && *tuples ? tuples : "0", settle_ms_since(&t0));
    if (res)
        *res = r;
    else
        PQclear(r);
    return PURSER_OK;
}

static void settle_rollback(PGconn *db)
{
    PGresult *r = PQexec(db, "ROLLBACK");
    PQclear(r);
}

/* ---- per-currency settings ------------------------------------------------- */

#define SETTLE_MAX_CURRENCIES 256

typedef struct settle_cur_row {
    char code[4];
    const char *fixed, *minimum, *dispute; /* text from the config, borrowed */
} settle_cur_row;

static const char *const settle_cur_maps[3] = {"commission.fixed", "commission.minimum",
                                               "chargeback.dispute_fee_estimate"};

static int settle_collect_codes(settle_state *st, purser_ctx *ctx, settle_cur_row *rows, size_t *n)
{
    const purser_host *h = st->host;
    for (int m = 0; m < 3; m++) {
        size_t count = h->config_count(ctx, settle_cur_maps[m]);
        for (size_t i = 0; i < count; i++) {
            const char *code = h->config_item(ctx, settle_cur_maps[m], i);
            if (!code || strlen(code) != 3 || code[0] < 'A' || code[0] > 'Z' || code[1] < 'A' ||
                code[1] > 'Z' || code[2] < 'A' || code[2] > 'Z') {
                h->log(ctx, PURSER_LOG_ERROR,
                       "plugins.settlement.%s.%s: expected an ISO 4217 code such as EUR",
                       settle_cur_maps[m], code ? code : "?");
                return -1;
            }
            size_t k = 0;
            while (k < *n && strcmp(rows[k].code, code) != 0)
                k++;
            if (k == *n) {
                if (*n == SETTLE_MAX_CURRENCIES) {
                    h->log(ctx, PURSER_LOG_ERROR, "plugins.settlement: more than %d currencies",
                           SETTLE_MAX_CURRENCIES);
                    return -1;
                }
                memset(&rows[k], 0, sizeof rows[k]);
                memcpy(rows[k].code, code, 4);
                (*n)++;
            }
            char key[96];
            snprintf(key, sizeof key, "%s.%s", settle_cur_maps[m], code);
            const char *v = h->config_string(ctx, key);
            if (m == 0)
                rows[k].fixed = v;
            else if (m == 1)
                rows[k].minimum = v;
            else
                rows[k].dispute = v;
        }
    }
    return 0;
}

/* Append text to a malloc'd buffer; returns it, or NULL (buffer freed). */
static char *settle_append(char *buf, size_t *len, const char *text)
{
    size_t add = strlen(text);
    char *nb = realloc(buf, *len + add + 1);
    if (!nb) {
        free(buf);
        return NULL;
    }
    memcpy(nb + *len, text, add + 1);
    *len += add;
    return nb;
}

/* One amount into the array text: minor units, or NULL when unset. */
static int settle_amount_item(settle_state *st, purser_ctx *ctx, const char *map, const char *code,
                              const char *text, int exponent, char *out, size_t outlen)
{
    if (!text) {
        snprintf(out, outlen, "NULL");
        return 0;
    }
    int64_t minor = 0;
    purser_money_status ms = purser_money_parse(text, exponent, &minor);
    const char *why = ms != PURSER_MONEY_OK ? purser_money_strerror(ms)
                      : minor < 0           ? "must not be negative"
                                            : NULL;
    if (why) {
        st->host->log(ctx, PURSER_LOG_ERROR,
                      "plugins.settlement.%s.%s: '%s': %s (%s has %d decimals)", map, code, text,
                      why, code, exponent);
        return -1;
    }
    snprintf(out, outlen, "%lld", (long long)minor);
    return 0;
}

void settle_defaults_free(settle_currency_defaults *d)
{
    free(d->codes);
    free(d->fixed);
    free(d->minimum);
    free(d->dispute);
    memset(d, 0, sizeof *d);
}

int settle_load_defaults(settle_state *st, purser_ctx *ctx, PGconn *db,
                         settle_currency_defaults *out)
{
    settle_cur_row rows[SETTLE_MAX_CURRENCIES];
    size_t n = 0;
    if (settle_collect_codes(st, ctx, rows, &n) != 0)
        return -1;
    size_t lens[4] = {0, 0, 0, 0};
    char **bufs[4] = {&out->codes, &out->fixed, &out->minimum, &out->dispute};
    for (int b = 0; b < 4; b++)
        if (!(*bufs[b] = settle_append(NULL, &lens[b], "{")))
            return -1;
    for (size_t i = 0; i < n; i++) {
        const char *params[1] = {rows[i].code};
        PGresult *r = PQexecParams(db, "SELECT exponent FROM iso4217 WHERE code = $1", 1, NULL,
                                   params, NULL, NULL, 0);
        int ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
        int exponent = ok ? atoi(PQgetvalue(r, 0, 0)) : 0;
        PQclear(r);
        if (!ok) {
            st->host->log(ctx, PURSER_LOG_ERROR,
                          "plugins.settlement: currency %s is not in the iso4217 table",
                          rows[i].code);
            return -1;
        }
        char items[3][32];
        if (settle_amount_item(st, ctx, settle_cur_maps[0], rows[i].code, rows[i].fixed, exponent,
                               items[0], sizeof items[0]) ||
            settle_amount_item(st, ctx, settle_cur_maps[1], rows[i].code, rows[i].minimum, exponent,
                               items[1], sizeof items[1]) ||
            settle_amount_item(st, ctx, settle_cur_maps[2], rows[i].code, rows[i].dispute, exponent,
                               items[2], sizeof items[2]))
            return -1;
        const char *texts[4] = {rows[i].code, items[0], items[1], items[2]};
        for (int b = 0; b < 4; b++) {
            if ((i && !(*bufs[b] = settle_append(*bufs[b], &lens[b], ","))) ||
                !(*bufs[b] = settle_append(*bufs[b], &lens[b], texts[b])))
                return -1;
        }
    }
    for (int b = 0; b < 4; b++)
        if (!(*bufs[b] = settle_append(*bufs[b], &lens[b], "}")))
            return -1;
    return 0;
}

/* ---- the batch ----------------------------------------------------------------- */

static const char settle_sql_batch[] =
    "INSERT INTO settlement_batches (business_date, cutoff, timezone, rounding, settle_on, "
    "  fee_estimate_bp, reserve_bp, reserve_days, run_id) "
    "VALUES ($1::date, ($1::date + $2::time) AT TIME ZONE $3, $3, $4, $5, $6, $7, $8, "
    "        nullif($9::bigint, 0)) "
    "RETURNING id, cutoff, cutoff - make_interval(days => $10::integer)";

/* Lines are computed into a temporary table first and inserted from it:
 * a statement that reads settlement_lines (to skip what is settled) while
 * inserting into it would rescan its own new pages for every row. */
static const char settle_sql_sales[] =
    "CREATE TEMP TABLE settle_new_sales ON COMMIT DROP AS "
    "SELECT * FROM settlement_sale_lines($1, $2, $3, $4, $5, $6, $7, $8, $9)";

/* The sale lines of the orders with a refund or chargeback in the batch's
 * window are settled first: settlement_adjustment_lines() finds the sale
 * behind each refund in settlement_lines. Any superset of the orders it
 * looks at would do; this is its own filter. The other sale lines, the
 * bulk of the batch, are inserted once the workbook is under way. */
static const char settle_sql_adjusted_orders[] =
    "CREATE TEMP TABLE settle_adjusted_orders ON COMMIT DROP AS "
    "SELECT DISTINCT order_id FROM payments "
    " WHERE kind IN ('refund', 'chargeback') AND status = 'succeeded' "
    "   AND occurred_at < $1 AND occurred_at >= $2";

static const char settle_sql_insert_adjusted_sales[] =
    "INSERT INTO settlement_lines (batch_id, " SETTLE_NEW_LINE_COLUMNS ") "
    "SELECT $1, l.* FROM " SETTLE_NEW_SALES " l "
    " WHERE EXISTS (SELECT 1 FROM settle_adjusted_orders o WHERE o.order_id = l.order_id)";

static const char settle_sql_insert_other_sales[] =
    "INSERT INTO settlement_lines (batch_id, " SETTLE_NEW_LINE_COLUMNS ") "
    "SELECT $1, l.* FROM " SETTLE_NEW_SALES " l "
    " WHERE NOT EXISTS (SELECT 1 FROM settle_adjusted_orders o WHERE o.order_id = l.order_id)";

/* The refunds' commission reversal joins this batch's sales: let the
 * planner know how many there are. */
static const char settle_sql_analyze[] = "ANALYZE settlement_lines";

/* From here on the statements touch thousands of rows, or write: parallel
 * workers would each build the same hash of the date's refunds (measured:
 * 1.4 s with them, 1.0 s without). */
static const char settle_sql_serial[] =
    "SELECT set_config('max_parallel_workers_per_gather', '0', true)";

static const char settle_sql_adjustments[] =
    "CREATE TEMP TABLE settle_new_adjustments ON COMMIT DROP AS "
    "SELECT * FROM settlement_adjustment_lines($1, $2, $3, $4, $5, $6)";

static const char settle_sql_insert_adjustments[] =
    "INSERT INTO settlement_lines (batch_id, " SETTLE_NEW_LINE_COLUMNS ") "
    "SELECT $1, l.* FROM " SETTLE_NEW_ADJUSTMENTS " l";

static const char settle_sql_hold[] =
    "INSERT INTO settlement_reserves (batch_id, seller_id, currency, amount_minor, release_on) "
    "SELECT $1, seller_id, currency, "
    "       settlement_round(sum(net_minor)::bigint * $2, 10000, $3), $4::date + $5::integer "
    "  FROM " SETTLE_NEW_LINES " l "
    " GROUP BY seller_id, currency "
    "HAVING settlement_round(greatest(sum(net_minor), 0)::bigint * $2, 10000, $3) > 0";

static const char settle_sql_release[] =
    "UPDATE settlement_reserves SET released_batch_id = $1 "
    " WHERE released_batch_id IS NULL AND release_on <= $2::date AND batch_id <> $1";

static const char settle_sql_payouts[] =
    "INSERT INTO settlement_payouts (batch_id, seller_id, currency, lines, gross_minor, "
    "  commission_minor, fee_minor, refund_minor, chargeback_minor, reserve_held_minor, "
    "  reserve_released_minor, carried_in_minor, carried_out_minor, payout_minor) "
    "WITH l AS ("
    "  SELECT seller_id, currency, count(*) AS n, sum(gross_minor) AS gross, "
    "         sum(commission_minor) AS commission, sum(fee_minor) AS fee, "
    "         sum(refund_minor) AS refund, sum(chargeback_minor) AS chargeback, "
    "         sum(net_minor) AS net "
    "    FROM " SETTLE_NEW_LINES " l GROUP BY seller_id, currency"
    "), held AS ("
    "  SELECT seller_id, currency, amount_minor AS held FROM settlement_reserves WHERE batch_id = "
    "$1"
    "), released AS ("
    "  SELECT seller_id, currency, sum(amount_minor) AS released FROM settlement_reserves "
    "   WHERE released_batch_id = $1 GROUP BY seller_id, currency"
    "), carried AS ("
    "  SELECT DISTINCT ON (seller_id, currency) seller_id, currency, carried_out_minor AS carried "
    "    FROM settlement_payouts WHERE batch_id <> $1 "
    "   ORDER BY seller_id, currency, batch_id DESC"
    "), keys AS ("
    "  SELECT seller_id, currency FROM l UNION SELECT seller_id, currency FROM released "
    "  UNION SELECT seller_id, currency FROM carried WHERE carried < 0"
    "), t AS ("
    "  SELECT k.seller_id, k.currency, coalesce(l.n, 0) AS n, coalesce(l.gross, 0) AS gross, "
    "         coalesce(l.commission, 0) AS commission, coalesce(l.fee, 0) AS fee, "
    "         coalesce(l.refund, 0) AS refund, coalesce(l.chargeback, 0) AS chargeback, "
    "         coalesce(h.held, 0) AS held, coalesce(r.released, 0) AS released, "
    "         coalesce(c.carried, 0) AS carried, "
    "         coalesce(l.net, 0) - coalesce(h.held, 0) + coalesce(r.released, 0) "
    "           + coalesce(c.carried, 0) AS available "
    "    FROM keys k "
    "    LEFT JOIN l ON l.seller_id = k.seller_id AND l.currency = k.currency "
    "    LEFT JOIN held h ON h.seller_id = k.seller_id AND h.currency = k.currency "
    "    LEFT JOIN released r ON r.seller_id = k.seller_id AND r.currency = k.currency "
    "    LEFT JOIN carried c ON c.seller_id = k.seller_id AND c.currency = k.currency"
    ") "
    "SELECT $1, seller_id, currency, n, gross, commission, fee, refund, chargeback, held, "
    "       released, carried, least(available, 0), greatest(available, 0) "
    "  FROM t ORDER BY seller_id, currency";

static const char settle_sql_journals[] =
    "WITH j AS ("
    "  INSERT INTO ledger_journals (source, source_id, seller_id, currency, description) "
    "  SELECT 'settlement', $1, p.seller_id, p.currency, "
    "         'settlement ' || $2 || ' ' || s.external_ref || ' ' || p.currency "
    "    FROM settlement_payouts p JOIN sellers s ON s.id = p.seller_id "
    "   WHERE p.batch_id = $1 ORDER BY p.seller_id, p.currency "
    "  RETURNING journal_id, seller_id, currency"
    ") "
    "UPDATE settlement_payouts p SET journal_id = j.journal_id FROM j "
    " WHERE p.batch_id = $1 AND p.seller_id = j.seller_id AND p.currency = j.currency";

/* Every line posts gross to provider clearing, commission, fee, refund and
 * chargeback to their accounts and its net to the seller's payable; the
 * net CHECK of settlement_lines makes each line's entries sum to zero. */
static const char settle_sql_line_entries[] =
    "INSERT INTO ledger_entries (journal_id, account, amount_minor, currency, seller_id, line_id) "
    "SELECT p.journal_id, e.account, e.amount, l.currency, l.seller_id, l.id "
    "  FROM settlement_lines l "
    "  JOIN settlement_payouts p "
    "    ON p.batch_id = l.batch_id AND p.seller_id = l.seller_id AND p.currency = l.currency "
    " CROSS JOIN LATERAL (VALUES ('provider_clearing', l.gross_minor), "
    "                            ('commission_revenue', -l.commission_minor), "
    "                            ('payment_fees', -l.fee_minor), "
    "                            ('refunds', -l.refund_minor), "
    "                            ('chargebacks', -l.chargeback_minor), "
    "                            ('seller_payable', -l.net_minor)) AS e(account, amount) "
    " WHERE l.batch_id = $1 AND e.amount <> 0";

static const char settle_sql_batch_entries[] =
    "INSERT INTO ledger_entries (journal_id, account, amount_minor, currency, seller_id, memo) "
    "SELECT p.journal_id, e.account, e.amount, p.currency, p.seller_id, e.memo "
    "  FROM settlement_payouts p "
    " CROSS JOIN LATERAL (VALUES "
    "     ('seller_payable', p.reserve_held_minor, 'reserve held'), "
    "     ('seller_reserve', -p.reserve_held_minor, 'reserve held'), "
    "     ('seller_reserve', p.reserve_released_minor, 'reserve released'), "
    "     ('seller_payable', -p.reserve_released_minor, 'reserve released'), "
    "     ('seller_payable', p.payout_minor, 'payout'), "
    "     ('seller_payouts', -p.payout_minor, 'payout')) AS e(account, amount, memo) "
    " WHERE p.batch_id = $1 AND e.amount <> 0";

/* Is the date settled already? 1 with *id set, 0 if not, -1 on error. */
static int settle_find_batch(settle_state *st, purser_ctx *ctx, PGconn *db, const char *date,
                             int64_t *id)
{
    const char *params[1] = {date};
    PGresult *r = NULL;
    if (settle_step(st, ctx, db, "find batch",
                    "SELECT id FROM settlement_batches WHERE business_date = $1::date", 1, params,
                    &r, NULL) != PURSER_OK)
        return -1;
    int found = PQntuples(r) == 1;
    if (found)
        *id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return found;
}

/* The steps after the batch row, in order; each takes the parameters
 * prepared by settle_batch. */
typedef struct settle_plan {
    const char *name;
    const char *sql;
    int n;
    const char *const *params;
    int64_t *rows; /* where to count, or NULL */
} settle_plan;

/* Run n steps; progress counts them as steps done+1.. of total. */
static purser_status settle_steps(settle_state *st, purser_ctx *ctx, PGconn *db,
                                  const settle_plan *plan, size_t n, size_t done, size_t total)
{
    for (size_t i = 0; i < n; i++) {
        if (!plan[i].sql)
            continue;
        if (st->host->cancelled(ctx)) {
            st->host->log(ctx, PURSER_LOG_WARN, "cancelled before step '%s': rolled back",
                          plan[i].name);
            return PURSER_RETRY;
        }
        purser_status s = settle_step(st, ctx, db, plan[i].name, plan[i].sql, plan[i].n,
                                      plan[i].params, NULL, plan[i].rows);
        if (s != PURSER_OK)
            return s;
        st->host->progress(ctx, done + i + 1, total, "steps");
    }
    return PURSER_OK;
}

/* Totals of the new batch for the log and the result. */
static purser_status settle_count(settle_state *st, purser_ctx *ctx, PGconn *db, const char *id,
                                  settle_outcome *out)
{
    const char *params[1] = {id};
    PGresult *r = NULL;
    purser_status s =
        settle_step(st, ctx, db, "count",
                    "SELECT (SELECT count(*) FROM settlement_payouts WHERE batch_id = $1), "
                    "       (SELECT coalesce(sum(b.entries), 0) FROM ledger_balances b "
                    "          JOIN ledger_journals j ON j.journal_id = b.journal_id "
                    "         WHERE j.source = 'settlement' AND j.source_id = $1)",
                    1, params, &r, NULL);
    if (s == PURSER_OK) {
        out->payouts = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        out->entries = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
        PQclear(r);
    }
    return s;
}

static purser_status settle_new_batch(settle_state *st, purser_ctx *ctx, PGconn *db,
                                      const settle_request *req,
                                      const settle_currency_defaults *dflt, const char *path,
                                      settle_writer **writer, settle_outcome *out)
{
    const settle_config *c = &st->cfg;
    char fee_bp[24], res_bp[24], res_days[24], run_id[24], lookback[24], def_bp[24], ship[24];
    char settle_on[32];
    snprintf(fee_bp, sizeof fee_bp, "%lld", (long long)c->fee_estimate_bp);
    snprintf(res_bp, sizeof res_bp, "%lld", (long long)c->reserve_bp);
    snprintf(res_days, sizeof res_days, "%lld", (long long)c->reserve_days);
    snprintf(run_id, sizeof run_id, "%lld", (long long)req->run_id);
    snprintf(lookback, sizeof lookback, "%lld", (long long)c->lookback_days);
    snprintf(def_bp, sizeof def_bp, "%lld", (long long)c->default_bp);
    snprintf(ship, sizeof ship, "%lld", (long long)c->shipped_days);
    if (c->shipped_days < 0)
        snprintf(settle_on, sizeof settle_on, "delivered");
    else
        snprintf(settle_on, sizeof settle_on, "shipped+%lldd", (long long)c->shipped_days);
    const char *rounding = settle_rounding_name(c->rounding);

    const char *bp[10] = {req->date, req->cutoff, req->timezone, rounding, settle_on,
                          fee_bp,    res_bp,      res_days,      run_id,   lookback};
    PGresult *r = NULL;
    purser_status s = settle_step(st, ctx, db, "create batch", settle_sql_batch, 10, bp, &r, NULL);
    if (s != PURSER_OK)
        return s;
    char id[24], cutoff[64], since[64];
    snprintf(id, sizeof id, "%s", PQgetvalue(r, 0, 0));
    snprintf(cutoff, sizeof cutoff, "%s", PQgetvalue(r, 0, 1));
    snprintf(since, sizeof since, "%s", PQgetvalue(r, 0, 2));
    PQclear(r);
    out->batch_id = strtoll(id, NULL, 10);
    st->host->log(ctx, PURSER_LOG_INFO, "batch %s for %s: cutoff %s (%s %s), rounding %s, %s", id,
                  req->date, cutoff, req->cutoff, req->timezone, rounding, settle_on);

    const char *sales[9] = {cutoff,      since,       c->shipped_days < 0 ? NULL : ship,
                            rounding,    fee_bp,      def_bp,
                            dflt->codes, dflt->fixed, dflt->minimum};
    const char *adjust[6] = {cutoff,      since,        rounding, c->dispute_fee ? "true" : "false",
                             dflt->codes, dflt->dispute};
    const char *hold[5] = {id, res_bp, rounding, req->date, res_days};
    const char *release[2] = {id, req->date};
    const char *just_id[1] = {id};
    const char *journals[2] = {id, req->date};
    const char *window[2] = {cutoff, since};
    int64_t early_rows = 0, sale_rows = 0, adj_rows = 0;
    const settle_plan lines[] = {
        {"compute sale lines", settle_sql_sales, 9, sales, NULL},
        {"find refunded orders", settle_sql_adjusted_orders, 2, window, NULL},
        {"settle refunded orders' sale lines", settle_sql_insert_adjusted_sales, 1, just_id,
         &early_rows},
        {"analyze", settle_sql_analyze, 0, NULL, NULL},
        {"no parallel workers", settle_sql_serial, 0, NULL, NULL},
        {"compute refunds and chargebacks", settle_sql_adjustments, 6, adjust, NULL},
        {"settle refunds and chargebacks", settle_sql_insert_adjustments, 1, just_id, &adj_rows},
        {"hold reserves", c->reserve_bp > 0 ? settle_sql_hold : NULL, 5, hold, NULL},
        {"release reserves", settle_sql_release, 2, release, NULL},
        {"compute payouts", settle_sql_payouts, 1, just_id, NULL},
        {"open journals", settle_sql_journals, 2, journals, NULL},
    };
    const settle_plan ledger[] = {
        {"settle other sale lines", settle_sql_insert_other_sales, 1, just_id, &sale_rows},
        {"post line entries", settle_sql_line_entries, 1, just_id, NULL},
        {"post reserve and payout entries", settle_sql_batch_entries, 1, just_id, NULL},
    };
    const size_t n_lines = sizeof lines / sizeof lines[0],
                 n_ledger = sizeof ledger / sizeof ledger[0];
    s = settle_steps(st, ctx, db, lines, n_lines, 0, n_lines + n_ledger);
    if (s != PURSER_OK)
        return s;
    /* The statements and payouts are final now: write the workbook in a
     * thread while PostgreSQL inserts the rest of the sale lines and posts
     * the ledger, and check its Summary against the posted ledger before
     * COMMIT. */
    if (!req->dry_run && !(*writer = settle_writer_start(st, ctx, db, out->batch_id, path, 0)))
        return PURSER_ERROR;
    s = settle_steps(st, ctx, db, ledger, n_ledger, n_lines, n_lines + n_ledger);
    if (s != PURSER_OK)
        return s;
    sale_rows += early_rows;
    out->lines = sale_rows + adj_rows;
    st->host->log(ctx, PURSER_LOG_INFO, "batch %s: %lld sale lines, %lld refund/chargeback lines",
                  id, (long long)sale_rows, (long long)adj_rows);
    s = settle_count(st, ctx, db, id, out);
    if (s == PURSER_OK && *writer && settle_writer_verify(st, ctx, *writer, db, out->batch_id) != 0)
        s = PURSER_ERROR;
    return s;
}

/* Write the workbook of a settled batch again, from the committed data. */
static purser_status settle_rewrite(settle_state *st, purser_ctx *ctx, PGconn *db, int64_t batch_id,
                                    const char *path)
{
    purser_status s =
        settle_step(st, ctx, db, "begin", "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0,
                    NULL, NULL, NULL);
    if (s != PURSER_OK)
        return s;
    settle_writer *w = settle_writer_start(st, ctx, db, batch_id, path, 1);
    settle_rollback(db);
    return w ? settle_writer_finish(st, ctx, w, 1) : PURSER_ERROR;
}

static int settle_file_exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

purser_status settle_batch(settle_state *st, purser_ctx *ctx, PGconn *db, const settle_request *req,
                           const settle_currency_defaults *dflt, const char *workbook_path,
                           settle_outcome *out)
{
    purser_status s = settle_step(st, ctx, db, "begin", "BEGIN", 0, NULL, NULL, NULL);
    if (s != PURSER_OK)
        return s;
    /* JIT would compile the batch's big statements for longer than a
     * fraction of them runs; off for this transaction only. */
    s = settle_step(st, ctx, db, "lock",
                    "SELECT pg_advisory_xact_lock(" SETTLE_LOCK_KEY "), "
                    "set_config('jit', 'off', true)",
                    0, NULL, NULL, NULL);
    int found = s == PURSER_OK ? settle_find_batch(st, ctx, db, req->date, &out->batch_id) : -1;
    if (found != 0) {
        settle_rollback(db);
        if (found < 0)
            return s == PURSER_OK ? PURSER_ERROR : s;
        out->existed = 1;
        st->host->log(ctx, PURSER_LOG_INFO, "%s is settled already (batch %lld): nothing posted",
                      req->date, (long long)out->batch_id);
        if (req->dry_run) {
            st->host->set_result(ctx, "dry run: %s is settled already (batch %lld)", req->date,
                                 (long long)out->batch_id);
            return PURSER_OK;
        }
        if (settle_file_exists(workbook_path))
            return PURSER_OK;
        out->rewritten = 1;
        return settle_rewrite(st, ctx, db, out->batch_id, workbook_path);
    }
    settle_writer *w = NULL;
    s = settle_new_batch(st, ctx, db, req, dflt, workbook_path, &w, out);
    if (s != PURSER_OK || req->dry_run) {
        settle_rollback(db);
        if (w)
            settle_writer_finish(st, ctx, w, 0);
        if (s == PURSER_OK)
            st->host->set_result(ctx,
                                 "dry run: %s would settle %lld lines into %lld payout lines "
                                 "(%lld ledger entries); nothing written",
                                 req->date, (long long)out->lines, (long long)out->payouts,
                                 (long long)out->entries);
        return s;
    }
    /* COMMIT runs the deferred balance check of every journal. */
    s = settle_step(st, ctx, db, "commit", "COMMIT", 0, NULL, NULL, NULL);
    if (s != PURSER_OK)
        settle_rollback(db);
    purser_status ws = settle_writer_finish(st, ctx, w, s == PURSER_OK);
    return s != PURSER_OK ? s : ws;
}
