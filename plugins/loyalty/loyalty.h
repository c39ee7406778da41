/* The loyalty plugin's internal interface: its settings (loyalty_config.c),
 * the nightly transaction (loyalty_db.c) and the workbook
 * (loyalty_xlsx.c). Nothing here is exported from the shared object. */
#ifndef LOYALTY_H
#define LOYALTY_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#include "purser/plugin.h"

/* Rates and multipliers are decimals read as fixed point, never floats:
 * an earn rate in ten-thousandths of a point per whole currency unit, a
 * multiplier in hundredths ("1.5" is 150). */
#define LOYALTY_RATE_DECIMALS 4
#define LOYALTY_MULT_DECIMALS 2

/* earn.<CUR> and point_value.<CUR>; the value is parsed at run time, when
 * the currency's exponent is known (iso4217). */
typedef struct loyalty_currency {
    char code[4];
    int64_t rate_e4;        /* points per whole unit x 10^4 */
    const char *value_text; /* point_value.<CUR>, borrowed from the host */
} loyalty_currency;

/* categories.<NAME>: a multiplier for products of that category. */
typedef struct loyalty_category {
    const char *name; /* borrowed from the host */
    int64_t pct;      /* multiplier x 100 */
} loyalty_category;

/* campaigns.<NAME>: orders placed from `from` to `to` (inclusive, local
 * dates in the job's zone) earn `pct`/100 times more. */
typedef struct loyalty_campaign {
    const char *name, *from, *to; /* borrowed from the host */
    int64_t pct;
} loyalty_campaign;

/* tiers.min_spend.<TIER>.<CUR>: parsed at run time like point values. */
typedef struct loyalty_threshold {
    int rank; /* index in tiers.levels, >= 1 */
    char code[4];
    const char *text; /* borrowed from the host */
} loyalty_threshold;

/* `plugins.loyalty:` once validated. The arrays are owned by the config
 * (loyalty_config_free); the strings they point to are the host's, valid
 * until fini. */
typedef struct loyalty_config {
    loyalty_currency *currencies;
    size_t n_currencies;
    loyalty_category *categories;
    size_t n_categories;
    loyalty_campaign *campaigns;
    size_t n_campaigns;
    const char **levels; /* tier names, lowest first; none: no tiers */
    size_t n_levels;
    loyalty_threshold *thresholds;
    size_t n_thresholds;
    int64_t expiry_days; /* 0: points never expire */
    int64_t lookback_days;
    int64_t window_days; /* trailing spend window of the tiers */
} loyalty_config;

typedef struct loyalty_state {
    const purser_host *host; /* borrowed; valid until fini */
    loyalty_config cfg;
} loyalty_state;

/* What a run posts: the business date in the job's zone. */
typedef struct loyalty_request {
    const char *date;     /* "YYYY-MM-DD"; borrowed */
    const char *timezone; /* IANA zone; borrowed */
    int64_t run_id;
    int dry_run;
} loyalty_request;

/* The outcome of a run, for the result message and the metrics. */
typedef struct loyalty_outcome {
    int existed;                       /* the date was posted by an earlier run */
    int rewritten;                     /* ... and its missing workbook was written again */
    char covered_by[11];               /* a later date already posted: nothing to do */
    int64_t accrued_orders;            /* orders that earned points tonight */
    int64_t issued, reversed, expired; /* points (positive numbers) */
    int64_t tier_up, tier_down;
} loyalty_outcome;

/* Read and check `plugins.loyalty:` (everything that needs no database).
 * 0, or -1 after logging the key at fault. */
int loyalty_config_read(const purser_host *h, purser_ctx *ctx, loyalty_config *cfg);
void loyalty_config_free(loyalty_config *cfg);

/* Post the business date in one transaction: accruals, reversals, expiry,
 * tier changes, and the workbook at workbook_path (written to a temporary
 * name, renamed after COMMIT). A date already posted changes nothing (its
 * workbook is written again only if missing). PURSER_OK, PURSER_RETRY
 * (connection trouble, cancelled) or PURSER_ERROR, logged. */
purser_status loyalty_post(loyalty_state *st, purser_ctx *ctx, PGconn *db,
                           const loyalty_request *req, const char *workbook_path,
                           loyalty_outcome *out);

/* Load the rules as a run would (currencies known to iso4217, point values
 * and tier thresholds with the currency's decimals) in a transaction that
 * is rolled back. PURSER_OK, or PURSER_ERROR after logging the key. */
purser_status loyalty_check_rules(loyalty_state *st, purser_ctx *ctx, PGconn *db);

/* Write the workbook of a posted business date (committed, or posted by
 * the caller's open transaction) to tmp_path. 0, or -1 after logging. */
int loyalty_workbook_write(loyalty_state *st, purser_ctx *ctx, PGconn *db, const char *date,
                           const char *tmp_path);

/* A PostgreSQL error in one line: the primary message and, when present,
 * the detail; written into buf, which is returned. */
const char *loyalty_pg_error(const PGresult *r, char *buf, size_t len);

#endif
