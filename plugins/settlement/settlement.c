/* The settlement plugin: each business date, settle what the marketplace
 * owes each seller on a balanced double-entry ledger, once, and explain it
 * in settlement_<DATE>.xlsx. This file holds the descriptor, the settings
 * and the run; settlement_db.c the batch transaction, settlement_xlsx.c the
 * workbook. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "settlement.h"

/* Built by the Makefile from the migrations folder. */
extern const purser_migration settlement_migrations[];

/* Settings under `plugins.settlement:` in purser.yaml. */
static const purser_config_key settle_config_keys[] = {
    {"rounding", PURSER_CFG_STRING, "half_even", 0,
     "half_even or half_up: how each line's amounts are rounded to minor units"},
    {"settle_on", PURSER_CFG_STRING, "delivered", 0,
     "delivered, or shipped: a line settles shipped_days after shipping (or on delivery)"},
    {"shipped_days", PURSER_CFG_INT, "7", 0, "days after shipping when settle_on is shipped"},
    {"lookback_days", PURSER_CFG_INT, "90", 0,
     "how far before the cutoff deliveries, refunds and chargebacks are looked for"},
    {"fee_estimate_bp", PURSER_CFG_INT, "290", 0,
     "payment fee estimate, basis points of the line, while the provider's fee is unknown"},
    {"commission.bp", PURSER_CFG_INT, "1000", 0,
     "commission for sellers whose own terms are all zero, in basis points"},
    {"commission.fixed.*", PURSER_CFG_STRING, NULL, 0,
     "fixed commission per line for such sellers, per currency (EUR: \"0.30\")"},
    {"commission.minimum.*", PURSER_CFG_STRING, NULL, 0,
     "minimum commission per line for such sellers, per currency (EUR: \"0.50\")"},
    {"reserve.bp", PURSER_CFG_INT, "0", 0,
     "rolling reserve: basis points of a seller's positive net held back each batch"},
    {"reserve.days", PURSER_CFG_INT, "30", 0, "days a reserve is held before a batch releases it"},
    {"chargeback.dispute_fee", PURSER_CFG_BOOL, "true", 0,
     "charge the provider's chargeback dispute fee to the seller"},
    {"chargeback.dispute_fee_estimate.*", PURSER_CFG_STRING, NULL, 0,
     "dispute fee per currency while the provider's is unknown (EUR: \"15.00\")"},
    {"workbook.sheet_rows", PURSER_CFG_INT, "1048576", 0,
     "rows per sheet; a longer statement continues on a sheet named \"... (2)\""},
    {0},
};

/* Parameters of a job that runs this plugin. */
static const purser_config_key settle_params[] = {
    {"cutoff", PURSER_CFG_STRING, "24:00", 0,
     "HH:MM on the business date, in the job's zone; 24:00 is the end of the day"},
    {0},
};

const char *settle_rounding_name(purser_rounding r)
{
    return r == PURSER_ROUND_HALF_UP ? "half_up" : "half_even";
}

/* An integer setting within [lo, hi]; 0, or -1 after logging. */
static int settle_int_setting(const purser_host *h, purser_ctx *ctx, const char *key, int64_t lo,
                              int64_t hi, int64_t *out)
{
    if (h->config_int(ctx, key, out) != 0 || *out < lo || *out > hi) {
        h->log(ctx, PURSER_LOG_ERROR,
               "plugins.settlement.%s: expected a whole number from %lld to %lld", key,
               (long long)lo, (long long)hi);
        return -1;
    }
    return 0;
}

static int settle_read_config(const purser_host *h, purser_ctx *ctx, settle_config *cfg)
{
    const char *rounding = h->config_string(ctx, "rounding");
    if (rounding && strcmp(rounding, "half_up") == 0) {
        cfg->rounding = PURSER_ROUND_HALF_UP;
    } else if (!rounding || strcmp(rounding, "half_even") == 0) {
        cfg->rounding = PURSER_ROUND_HALF_EVEN;
    } else {
        h->log(ctx, PURSER_LOG_ERROR,
               "plugins.settlement.rounding: '%s': expected half_even or half_up", rounding);
        return -1;
    }
    const char *on = h->config_string(ctx, "settle_on");
    int shipped = on && strcmp(on, "shipped") == 0;
    if (on && !shipped && strcmp(on, "delivered") != 0) {
        h->log(ctx, PURSER_LOG_ERROR,
               "plugins.settlement.settle_on: '%s': expected delivered or shipped", on);
        return -1;
    }
    int64_t days;
    if (settle_int_setting(h, ctx, "shipped_days", 0, 365, &days) ||
        settle_int_setting(h, ctx, "lookback_days", 1, 3660, &cfg->lookback_days) ||
        settle_int_setting(h, ctx, "fee_estimate_bp", 0, 10000, &cfg->fee_estimate_bp) ||
        settle_int_setting(h, ctx, "commission.bp", 0, 10000, &cfg->default_bp) ||
        settle_int_setting(h, ctx, "reserve.bp", 0, 10000, &cfg->reserve_bp) ||
        settle_int_setting(h, ctx, "reserve.days", 1, 3660, &cfg->reserve_days) ||
        settle_int_setting(h, ctx, "workbook.sheet_rows", 20, 1048576, &cfg->sheet_rows))
        return -1;
    cfg->shipped_days = shipped ? days : -1;
    if (h->config_bool(ctx, "chargeback.dispute_fee", &cfg->dispute_fee) != 0)
        cfg->dispute_fee = 1;
    return 0;
}

static purser_status settle_init(const purser_host *host, purser_ctx *ctx, void **state)
{
    settle_state *st = calloc(1, sizeof *st);
    if (!st)
        return PURSER_ERROR;
    *state = st;
    st->host = host;
    return settle_read_config(host, ctx, &st->cfg) == 0 ? PURSER_OK : PURSER_ERROR;
}

static void settle_fini(void *state)
{
    free(state);
}

/* The cutoff parameter: "HH:MM" from 00:00 to 24:00. */
static int settle_valid_cutoff(const char *s)
{
    if (strlen(s) != 5 || s[2] != ':')
        return 0;
    for (int i = 0; i < 5; i++)
        if (i != 2 && (s[i] < '0' || s[i] > '9'))
            return 0;
    int hh = (s[0] - '0') * 10 + (s[1] - '0'), mm = (s[3] - '0') * 10 + (s[4] - '0');
    return mm < 60 && (hh < 24 || (hh == 24 && mm == 0));
}

static purser_status settle_run(void *state, purser_ctx *ctx, const purser_run_info *run)
{
    settle_state *st = state;
    const purser_host *h = st->host;
    settle_request req = {.date = run->business_date,
                          .cutoff = h->param_string(ctx, "cutoff"),
                          .timezone = run->timezone && *run->timezone ? run->timezone : "UTC",
                          .run_id = run->run_id,
                          .dry_run = run->dry_run};
    if (!req.cutoff)
        req.cutoff = "24:00";
    if (!settle_valid_cutoff(req.cutoff)) {
        h->set_result(ctx, "param cutoff '%s': expected HH:MM from 00:00 to 24:00", req.cutoff);
        return PURSER_ERROR;
    }
    PGconn *db = h->db(ctx);
    if (!db)
        return PURSER_RETRY;
    settle_currency_defaults dflt = {0};
    if (settle_load_defaults(st, ctx, db, &dflt) != 0) {
        settle_defaults_free(&dflt);
        h->set_result(ctx, "bad per-currency settings (see the log)");
        return PURSER_ERROR;
    }
    char name[64], path[4096];
    snprintf(name, sizeof name, "settlement_%s.xlsx", req.date);
    if (h->report_path(ctx, name, path, sizeof path) != 0) {
        settle_defaults_free(&dflt);
        return PURSER_ERROR;
    }
    settle_outcome out = {0};
    purser_status s = settle_batch(st, ctx, db, &req, &dflt, path, &out);
    settle_defaults_free(&dflt);
    if (s != PURSER_OK || req.dry_run)
        return s;
    if (out.existed)
        h->set_result(ctx, "%s already settled (batch %lld): %s", req.date, (long long)out.batch_id,
                      out.rewritten ? "its missing workbook written again" : "nothing to do");
    else
        h->set_result(ctx,
                      "settled %s: batch %lld, %lld lines, %lld payout lines, %lld ledger entries",
                      req.date, (long long)out.batch_id, (long long)out.lines,
                      (long long)out.payouts, (long long)out.entries);
    h->metric_add(ctx, "lines_total", (double)out.lines);
    h->metric_add(ctx, "ledger_entries_total", (double)out.entries);
    return PURSER_OK;
}

static const purser_plugin settlement_plugin = {
    PURSER_PLUGIN_HEADER,
    .name = "settlement",
    .version = "1.0.0",
    .description = "Settles seller payouts per business date on a balanced double-entry ledger",
    .config = settle_config_keys,
    .params = settle_params,
    .init = settle_init,
    .fini = settle_fini,
    .run = settle_run,
    .migrations = settlement_migrations,
};

PURSER_PLUGIN_DEFINE(settlement_plugin)
