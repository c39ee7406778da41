/* The loyalty plugin: each business date, points earned on delivered and
 * captured orders are posted to an append-only points ledger, reversed for
 * refunds and chargebacks, expired first-in first-out, buyers' tiers are
 * recomputed from their trailing spend, and loyalty_<DATE>.xlsx tells
 * finance what was issued and what the points outstanding are worth. This
 * file holds the descriptor, the settings table and the run;
 * loyalty_config.c reads the settings, loyalty_db.c posts the date in one
 * transaction, loyalty_xlsx.c writes the workbook. */
#include <stdio.h>
#include <stdlib.h>

#include "loyalty.h"

/* Built by the Makefile from the migrations folder. */
extern const purser_migration loyalty_migrations[];

/* Settings under `plugins.loyalty:` in purser.yaml. Decimals are quoted
 * strings, read as fixed point: no floating point touches points or money. */
static const purser_config_key loyalty_config_keys[] = {
    {"earn.*", PURSER_CFG_STRING, NULL, 0,
     "points per whole unit of the currency (EUR: \"1\", JPY: \"0.01\"); other currencies earn "
     "none"},
    {"point_value.*", PURSER_CFG_STRING, NULL, 0,
     "what one point is worth in the currency (EUR: \"0.01\"), for the liability"},
    {"categories.*", PURSER_CFG_STRING, NULL, 0,
     "multiplier for products of a category (books: \"2\"); other categories 1"},
    {"campaigns.*.from", PURSER_CFG_STRING, NULL, 0,
     "first day (YYYY-MM-DD, job's zone) of a campaign, by the order's placement"},
    {"campaigns.*.to", PURSER_CFG_STRING, NULL, 0, "last day of the campaign (inclusive)"},
    {"campaigns.*.multiplier", PURSER_CFG_STRING, NULL, 0,
     "multiplier of orders placed in the campaign (\"2\"); the highest applies when several do"},
    {"expiry_days", PURSER_CFG_INT, "365", 0,
     "points expire this many days after they accrued, oldest first; 0: never"},
    {"lookback_days", PURSER_CFG_INT, "90", 0,
     "how far before the date deliveries, refunds and chargebacks are looked for"},
    {"tiers.levels", PURSER_CFG_LIST, NULL, 0,
     "tier names, lowest first ([bronze, silver, gold]); the first is everyone's"},
    {"tiers.min_spend.*.*", PURSER_CFG_STRING, NULL, 0,
     "trailing spend that reaches a tier, per tier and currency (silver: { EUR: \"500.00\" })"},
    {"tiers.window_days", PURSER_CFG_INT, "365", 0, "days of trailing spend the tiers look at"},
    {0},
};

static purser_status loyalty_init(const purser_host *host, purser_ctx *ctx, void **state)
{
    loyalty_state *st = calloc(1, sizeof *st);
    if (!st)
        return PURSER_ERROR;
    *state = st;
    st->host = host;
    return loyalty_config_read(host, ctx, &st->cfg) == 0 ? PURSER_OK : PURSER_ERROR;
}

static void loyalty_fini(void *state)
{
    loyalty_state *st = state;
    if (!st)
        return;
    loyalty_config_free(&st->cfg);
    free(st);
}

/* `purser check`: the settings were read by init; the amounts need the
 * currencies' exponents, so they are checked against the database when it
 * can be reached. */
static purser_status loyalty_check(void *state, purser_ctx *ctx)
{
    loyalty_state *st = state;
    PGconn *db = st->host->db(ctx);
    if (!db) {
        st->host->log(ctx, PURSER_LOG_WARN,
                      "database unreachable: point values and tier thresholds not checked");
        return PURSER_OK;
    }
    return loyalty_check_rules(st, ctx, db) == PURSER_OK ? PURSER_OK : PURSER_ERROR;
}

static void loyalty_report(const purser_host *h, purser_ctx *ctx, const loyalty_request *req,
                           const loyalty_outcome *out)
{
    if (out->covered_by[0]) {
        h->set_result(ctx,
                      "%s is covered by the run of %s (each run takes everything up to its "
                      "cutoff): nothing to do",
                      req->date, out->covered_by);
        return;
    }
    if (out->existed) {
        h->set_result(ctx, "%s already posted: %s", req->date,
                      out->rewritten ? "its missing workbook written again" : "nothing to do");
        return;
    }
    h->set_result(ctx,
                  "%s%s: %lld points issued on %lld orders, %lld reversed, %lld expired; "
                  "tiers: %lld up, %lld down",
                  req->dry_run ? "dry run, would post " : "posted ", req->date,
                  (long long)out->issued, (long long)out->accrued_orders, (long long)out->reversed,
                  (long long)out->expired, (long long)out->tier_up, (long long)out->tier_down);
    if (req->dry_run)
        return;
    h->metric_add(ctx, "points_issued_total", (double)out->issued);
    h->metric_add(ctx, "points_reversed_total", (double)out->reversed);
    h->metric_add(ctx, "points_expired_total", (double)out->expired);
    h->metric_add(ctx, "tier_changes_total", (double)(out->tier_up + out->tier_down));
}

static purser_status loyalty_run(void *state, purser_ctx *ctx, const purser_run_info *run)
{
    loyalty_state *st = state;
    const purser_host *h = st->host;
    loyalty_request req = {.date = run->business_date,
                           .timezone = run->timezone && *run->timezone ? run->timezone : "UTC",
                           .run_id = run->run_id,
                           .dry_run = run->dry_run};
    PGconn *db = h->db(ctx);
    if (!db)
        return PURSER_RETRY;
    char name[64], path[4096];
    snprintf(name, sizeof name, "loyalty_%s.xlsx", req.date);
    if (h->report_path(ctx, name, path, sizeof path) != 0)
        return PURSER_ERROR;
    loyalty_outcome out = {0};
    purser_status s = loyalty_post(st, ctx, db, &req, path, &out);
    if (s == PURSER_OK)
        loyalty_report(h, ctx, &req, &out);
    return s;
}

static const purser_plugin loyalty_plugin = {
    PURSER_PLUGIN_HEADER,
    .name = "loyalty",
    .version = "1.0.0",
    .description = "Loyalty points per business date: accrual, reversal, FIFO expiry, tiers",
    .config = loyalty_config_keys,
    .init = loyalty_init,
    .fini = loyalty_fini,
    .run = loyalty_run,
    .migrations = loyalty_migrations,
    .check = loyalty_check,
};

PURSER_PLUGIN_DEFINE(loyalty_plugin)
