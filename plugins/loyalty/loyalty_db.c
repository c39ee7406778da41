/* The loyalty run: one transaction per business date that loads the rules
 * from the settings, accrues points on newly delivered and captured orders,
 * reverses them for refunds and chargebacks, expires the oldest points,
 * recomputes tiers, and writes the workbook before COMMIT (renamed after
 * it). The arithmetic is set-based SQL in integers; this file runs the
 * steps in order and rolls back on any failure, so a run that dies at any
 * point leaves nothing behind. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loyalty.h"
#include "purser/money.h"

/* Serialises loyalty runs: two dates at once would race for the same orders. */
#define LOYALTY_LOCK_KEY "7368113532510312"

const char *loyalty_pg_error(const PGresult *r, char *buf, size_t len)
{
    const char *msg = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    const char *detail = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_DETAIL) : NULL;
    if (!msg)
        msg = r ? PQresultErrorMessage(r) : "no result";
    snprintf(buf, len, "%s%s%s%s", msg, detail ? " (" : "", detail ? detail : "",
             detail ? ")" : "");
    return buf;
}

/* Run one step. *res receives the result when wanted (the caller clears
 * it). PURSER_RETRY for a lost connection, a serialization failure or a
 * cancelled statement, PURSER_ERROR otherwise; both logged with the step. */
static purser_status loyalty_step(loyalty_state *st, purser_ctx *ctx, PGconn *db, const char *step,
                                  const char *sql, int n, const char *const *params, PGresult **res)
{
    PGresult *r = PQexecParams(db, sql, n, NULL, params, NULL, NULL, 0);
    ExecStatusType est = PQresultStatus(r);
    if (est != PGRES_COMMAND_OK && est != PGRES_TUPLES_OK) {
        char buf[1024];
        const char *code = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        int transient = PQstatus(db) != CONNECTION_OK ||
                        (code && (strcmp(code, "40001") == 0 || strcmp(code, "40P01") == 0 ||
                                  strncmp(code, "08", 2) == 0 || strcmp(code, "57014") == 0));
        st->host->log(ctx, PURSER_LOG_ERROR, "step '%s': %s", step,
                      loyalty_pg_error(r, buf, sizeof buf));
        PQclear(r);
        return transient ? PURSER_RETRY : PURSER_ERROR;
    }
    st->host->log(ctx, PURSER_LOG_DEBUG, "step '%s': %s rows", step,
                  *PQcmdTuples(r) ? PQcmdTuples(r) : "0");
    if (res)
        *res = r;
    else
        PQclear(r);
    return PURSER_OK;
}

static void loyalty_rollback(PGconn *db)
{
    PQclear(PQexec(db, "ROLLBACK"));
}

static int64_t loyalty_value(const PGresult *r, int col)
{
    return PQgetisnull(r, 0, col) ? 0 : strtoll(PQgetvalue(r, 0, col), NULL, 10);
}

/* ---- the rules ---------------------------------------------------------------- */

/* The settings as temporary tables the steps join, dropped at COMMIT. */
static const char *const loyalty_sql_rule_tables[] = {
    "CREATE TEMP TABLE loyalty_rule_earn (currency text COLLATE \"C\" PRIMARY KEY, "
    "  rate_e4 bigint NOT NULL, unit_minor bigint NOT NULL, value_minor bigint NOT NULL) "
    "  ON COMMIT DROP",
    "CREATE TEMP TABLE loyalty_rule_category (category text PRIMARY KEY, pct bigint NOT NULL) "
    "  ON COMMIT DROP",
    "CREATE TEMP TABLE loyalty_rule_campaign (name text PRIMARY KEY, first_day date NOT NULL, "
    "  last_day date NOT NULL, pct bigint NOT NULL) ON COMMIT DROP",
    "CREATE TEMP TABLE loyalty_rule_level (tier text PRIMARY KEY, rank integer NOT NULL UNIQUE) "
    "  ON COMMIT DROP",
    "CREATE TEMP TABLE loyalty_rule_tier (tier text NOT NULL, rank integer NOT NULL, "
    "  currency text COLLATE \"C\" NOT NULL, min_minor bigint NOT NULL, "
    "  PRIMARY KEY (tier, currency)) ON COMMIT DROP",
};

/* The currency's exponent from iso4217; -1 after logging when unknown. */
static int loyalty_exponent(loyalty_state *st, purser_ctx *ctx, PGconn *db, const char *key,
                            const char *code)
{
    const char *p[1] = {code};
    PGresult *r =
        PQexecParams(db, "SELECT exponent FROM iso4217 WHERE code = $1", 1, NULL, p, NULL, NULL, 0);
    int ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
    int exponent = ok ? atoi(PQgetvalue(r, 0, 0)) : -1;
    PQclear(r);
    if (!ok)
        st->host->log(ctx, PURSER_LOG_ERROR,
                      "plugins.loyalty.%s: currency %s is not in the iso4217 table", key, code);
    return exponent;
}

/* An amount of the currency, in minor units: "0.01" EUR is 1. -1 after
 * logging when it is not a non-negative amount with the currency's decimals. */
static int loyalty_amount(loyalty_state *st, purser_ctx *ctx, const char *key, const char *text,
                          const char *code, int exponent, int64_t *out)
{
    purser_money_status ms = text ? purser_money_parse(text, exponent, out) : PURSER_MONEY_SYNTAX;
    if (ms == PURSER_MONEY_OK && *out >= 0)
        return 0;
    st->host->log(ctx, PURSER_LOG_ERROR, "plugins.loyalty.%s: '%s': %s (%s has %d decimals)", key,
                  text ? text : "",
                  ms == PURSER_MONEY_OK ? "must not be negative" : purser_money_strerror(ms), code,
                  exponent);
    return -1;
}

static purser_status loyalty_load_currencies(loyalty_state *st, purser_ctx *ctx, PGconn *db)
{
    const loyalty_config *cfg = &st->cfg;
    for (size_t i = 0; i < cfg->n_currencies; i++) {
        const loyalty_currency *c = &cfg->currencies[i];
        char key[32], rate[24], unit[24], value[24];
        snprintf(key, sizeof key, "point_value.%s", c->code);
        int exponent = loyalty_exponent(st, ctx, db, key, c->code);
        int64_t value_minor, unit_minor = 1;
        if (exponent < 0 ||
            loyalty_amount(st, ctx, key, c->value_text, c->code, exponent, &value_minor) != 0)
            return PURSER_ERROR;
        for (int e = 0; e < exponent; e++)
            unit_minor *= 10;
        snprintf(rate, sizeof rate, "%lld", (long long)c->rate_e4);
        snprintf(unit, sizeof unit, "%lld", (long long)unit_minor);
        snprintf(value, sizeof value, "%lld", (long long)value_minor);
        const char *p[4] = {c->code, rate, unit, value};
        purser_status s =
            loyalty_step(st, ctx, db, "loading earn rates",
                         "INSERT INTO loyalty_rule_earn VALUES ($1, $2, $3, $4)", 4, p, NULL);
        if (s != PURSER_OK)
            return s;
    }
    return PURSER_OK;
}

static purser_status loyalty_load_multipliers(loyalty_state *st, purser_ctx *ctx, PGconn *db)
{
    const loyalty_config *cfg = &st->cfg;
    purser_status s = PURSER_OK;
    for (size_t i = 0; s == PURSER_OK && i < cfg->n_categories; i++) {
        char pct[24];
        snprintf(pct, sizeof pct, "%lld", (long long)cfg->categories[i].pct);
        const char *p[2] = {cfg->categories[i].name, pct};
        s = loyalty_step(st, ctx, db, "loading category multipliers",
                         "INSERT INTO loyalty_rule_category VALUES ($1, $2)", 2, p, NULL);
    }
    for (size_t i = 0; s == PURSER_OK && i < cfg->n_campaigns; i++) {
        const loyalty_campaign *c = &cfg->campaigns[i];
        char pct[24];
        snprintf(pct, sizeof pct, "%lld", (long long)c->pct);
        const char *p[4] = {c->name, c->from, c->to, pct};
        s = loyalty_step(st, ctx, db, "loading campaigns",
                         "INSERT INTO loyalty_rule_campaign VALUES ($1, $2, $3, $4)", 4, p, NULL);
    }
    return s;
}

static purser_status loyalty_load_tiers(loyalty_state *st, purser_ctx *ctx, PGconn *db)
{
    const loyalty_config *cfg = &st->cfg;
    purser_status s = PURSER_OK;
    for (size_t i = 0; s == PURSER_OK && i < cfg->n_levels; i++) {
        char rank[24];
        snprintf(rank, sizeof rank, "%zu", i);
        const char *p[2] = {cfg->levels[i], rank};
        s = loyalty_step(st, ctx, db, "loading tiers",
                         "INSERT INTO loyalty_rule_level VALUES ($1, $2)", 2, p, NULL);
    }
    for (size_t i = 0; s == PURSER_OK && i < cfg->n_thresholds; i++) {
        const loyalty_threshold *t = &cfg->thresholds[i];
        char key[300], rank[16], minor[24];
        snprintf(key, sizeof key, "tiers.min_spend.%s.%s", cfg->levels[t->rank], t->code);
        int exponent = loyalty_exponent(st, ctx, db, key, t->code);
        int64_t min_minor;
        if (exponent < 0 || loyalty_amount(st, ctx, key, t->text, t->code, exponent, &min_minor))
            return PURSER_ERROR;
        snprintf(rank, sizeof rank, "%d", t->rank);
        snprintf(minor, sizeof minor, "%lld", (long long)min_minor);
        const char *p[4] = {cfg->levels[t->rank], rank, t->code, minor};
        s = loyalty_step(st, ctx, db, "loading tier thresholds",
                         "INSERT INTO loyalty_rule_tier VALUES ($1, $2, $3, $4)", 4, p, NULL);
    }
    return s;
}

static purser_status loyalty_load_rules(loyalty_state *st, purser_ctx *ctx, PGconn *db)
{
    purser_status s = PURSER_OK;
    size_t n = sizeof loyalty_sql_rule_tables / sizeof loyalty_sql_rule_tables[0];
    for (size_t i = 0; s == PURSER_OK && i < n; i++)
        s = loyalty_step(st, ctx, db, "creating the rule tables", loyalty_sql_rule_tables[i], 0,
                         NULL, NULL);
    if (s == PURSER_OK)
        s = loyalty_load_currencies(st, ctx, db);
    if (s == PURSER_OK)
        s = loyalty_load_multipliers(st, ctx, db);
    if (s == PURSER_OK)
        s = loyalty_load_tiers(st, ctx, db);
    return s;
}

purser_status loyalty_check_rules(loyalty_state *st, purser_ctx *ctx, PGconn *db)
{
    purser_status s = loyalty_step(st, ctx, db, "BEGIN", "BEGIN", 0, NULL, NULL);
    if (s != PURSER_OK)
        return s;
    s = loyalty_load_rules(st, ctx, db);
    loyalty_rollback(db);
    return s;
}

/* ---- the steps -------------------------------------------------------------- */

/* The run, with the rules it used; the cutoff is the end of the business
 * date in the job's zone. $1 date, $2 zone, $3 expiry, $4 lookback,
 * $5 tier window, $6 purser run id. */
static const char loyalty_sql_run[] =
    "INSERT INTO loyalty_runs (business_date, cutoff, timezone, rules, run_id) "
    "SELECT $1::date, ($1::date + 1)::timestamp AT TIME ZONE $2, $2, jsonb_build_object("
    "  'earn_e4', (SELECT coalesce(jsonb_object_agg(currency, rate_e4), '{}') "
    "                FROM loyalty_rule_earn), "
    "  'point_value_minor', (SELECT coalesce(jsonb_object_agg(currency, value_minor), '{}') "
    "                          FROM loyalty_rule_earn), "
    "  'categories_pct', (SELECT coalesce(jsonb_object_agg(category, pct), '{}') "
    "                       FROM loyalty_rule_category), "
    "  'campaigns', (SELECT coalesce(jsonb_object_agg(name, jsonb_build_object("
    "                   'from', first_day, 'to', last_day, 'pct', pct)), '{}') "
    "                  FROM loyalty_rule_campaign), "
    "  'tiers', (SELECT coalesce(jsonb_agg(tier ORDER BY rank), '[]') FROM loyalty_rule_level), "
    "  'tier_min_spend_minor', (SELECT coalesce(jsonb_object_agg(tier, m), '{}') FROM "
    "      (SELECT tier, jsonb_object_agg(currency, min_minor) AS m FROM loyalty_rule_tier "
    "        GROUP BY tier) t), "
    "  'expiry_days', $3::integer, 'lookback_days', $4::integer, "
    "  'tier_window_days', $5::integer), nullif($6::bigint, 0) "
    "RETURNING id, cutoff";

/* Accrual: orders delivered within the lookback before the cutoff, with a
 * succeeded capture, not cancelled, not wholly refunded or charged back,
 * never accrued. points = floor(rate x sum(line x category %) x campaign %
 * x (items - discount) / items / (unit x 10^4 x 100 x 100)): shipping and
 * tax earn nothing, a discount reduces every line's share alike.
 * $1 loyalty run, $2 date, $3 cutoff, $4 lookback days, $5 zone. */
static const char loyalty_sql_accrue[] =
    "WITH eligible AS ("
    "  SELECT o.id AS order_id, o.buyer_id, o.currency, o.placed_at, o.items_minor, "
    "         greatest(o.items_minor - o.discount_minor, 0) AS basis "
    "    FROM orders o JOIN loyalty_rule_earn e ON e.currency = o.currency "
    "   WHERE o.status <> 'cancelled' "
    "     AND EXISTS (SELECT 1 FROM deliveries d WHERE d.order_id = o.id "
    "                   AND d.status = 'delivered' AND d.delivered_at < $3::timestamptz "
    "                   AND d.delivered_at >= $3::timestamptz - make_interval(days => "
    "$4::integer)) "
    "     AND NOT EXISTS (SELECT 1 FROM loyalty_points l "
    "                      WHERE l.order_id = o.id AND l.kind = 'accrual')), "
    "paid AS ("
    "  SELECT p.order_id, "
    "         coalesce(sum(p.amount_minor) FILTER (WHERE p.kind = 'capture'), 0) AS captured, "
    "         coalesce(sum(p.amount_minor) FILTER (WHERE p.kind IN ('refund', 'chargeback')), 0) "
    "           AS returned "
    "    FROM payments p JOIN eligible USING (order_id) "
    "   WHERE p.status = 'succeeded' AND p.occurred_at < $3::timestamptz "
    "   GROUP BY p.order_id), "
    "campaign AS ("
    "  SELECT DISTINCT ON (t.order_id) t.order_id, c.name, c.pct "
    "    FROM eligible t JOIN loyalty_rule_campaign c "
    "      ON (t.placed_at AT TIME ZONE $5)::date BETWEEN c.first_day AND c.last_day "
    "   ORDER BY t.order_id, c.pct DESC, c.name), "
    "weighted AS ("
    "  SELECT i.order_id, sum(i.line_total_minor::numeric * coalesce(m.pct, 100)) AS w "
    "    FROM order_items i JOIN eligible USING (order_id) JOIN products p ON p.id = i.product_id "
    "    LEFT JOIN loyalty_rule_category m ON m.category = p.category "
    "   GROUP BY i.order_id), "
    "earned AS ("
    "  SELECT t.*, c.name AS campaign, "
    "         CASE WHEN t.items_minor > 0 THEN "
    "           div(e.rate_e4 * w.w * coalesce(c.pct, 100) * t.basis, "
    "               t.items_minor::numeric * e.unit_minor * 10000 * 100 * 100)::bigint "
    "         ELSE 0 END AS points "
    "    FROM eligible t JOIN paid p USING (order_id) JOIN weighted w USING (order_id) "
    "    JOIN loyalty_rule_earn e ON e.currency = t.currency "
    "    LEFT JOIN campaign c USING (order_id) "
    "   WHERE p.captured > 0 AND p.returned < p.captured), "
    "ins AS ("
    "  INSERT INTO loyalty_points (loyalty_run_id, business_date, buyer_id, currency, kind, "
    "                              order_id, points, basis_minor, reason) "
    "  SELECT $1, $2::date, buyer_id, currency, 'accrual', order_id, points, basis, "
    "         'delivered and paid' || coalesce(', campaign ' || campaign, '') "
    "    FROM earned WHERE points > 0 "
    "  RETURNING points) "
    "SELECT count(*), coalesce(sum(points), 0) FROM ins";

/* Reversal: each refund or chargeback of an accrued order, once. After
 * refunds R of captures C the order has lost floor(points x min(R, C) / C)
 * in total; each event posts its increment (events in time order), capped
 * so that points already expired are never reversed again. An event whose
 * increment is 0 posts nothing and is looked at again with the next one.
 * $1 loyalty run, $2 date, $3 cutoff, $4 lookback days. */
static const char loyalty_sql_reverse[] =
    "WITH ev AS ("
    "  SELECT p.id AS payment_id, p.order_id, p.kind, p.amount_minor, p.occurred_at, "
    "         a.buyer_id, a.currency, a.points "
    "    FROM payments p "
    "    JOIN loyalty_points a ON a.order_id = p.order_id AND a.kind = 'accrual' "
    "   WHERE p.kind IN ('refund', 'chargeback') AND p.status = 'succeeded' "
    "     AND p.occurred_at < $3::timestamptz "
    "     AND (p.occurred_at >= $3::timestamptz - make_interval(days => $4::integer) "
    "          OR a.loyalty_run_id = $1) "
    "     AND NOT EXISTS (SELECT 1 FROM loyalty_points x "
    "                      WHERE x.payment_id = p.id AND x.kind = 'reversal')), "
    "state AS ("
    "  SELECT o.order_id, s.expired, s.reversed, s.taken, c.captured "
    "    FROM (SELECT DISTINCT order_id FROM ev) o "
    "    CROSS JOIN LATERAL ("
    "      SELECT coalesce(-sum(x.points) FILTER (WHERE x.kind = 'expiry'), 0) AS expired, "
    "             coalesce(-sum(x.points) FILTER (WHERE x.kind = 'reversal'), 0) AS reversed, "
    "             coalesce(sum(x.basis_minor) FILTER (WHERE x.kind = 'reversal'), 0) AS taken "
    "        FROM loyalty_points x WHERE x.order_id = o.order_id) s "
    "    CROSS JOIN LATERAL ("
    "      SELECT coalesce(sum(p.amount_minor), 0) AS captured FROM payments p "
    "       WHERE p.order_id = o.order_id AND p.kind = 'capture' AND p.status = 'succeeded' "
    "         AND p.occurred_at < $3::timestamptz) c), "
    "upto AS ("
    "  SELECT ev.*, least(loyalty_share(ev.points, s.taken + sum(ev.amount_minor) OVER w, "
    "                                   s.captured) "
    "                     - loyalty_share(ev.points, s.taken, s.captured), "
    "                     ev.points - s.expired - s.reversed) AS upto "
    "    FROM ev JOIN state s USING (order_id) "
    "  WINDOW w AS (PARTITION BY ev.order_id ORDER BY ev.occurred_at, ev.payment_id)), "
    "delta AS ("
    "  SELECT upto.*, upto - coalesce(lag(upto) OVER (PARTITION BY order_id "
    "                                   ORDER BY occurred_at, payment_id), 0) AS back "
    "    FROM upto), "
    "ins AS ("
    "  INSERT INTO loyalty_points (loyalty_run_id, business_date, buyer_id, currency, kind, "
    "                              order_id, payment_id, points, basis_minor, reason) "
    "  SELECT $1, $2::date, buyer_id, currency, 'reversal', order_id, payment_id, -back, "
    "         amount_minor, kind "
    "    FROM delta WHERE back > 0 "
    "  RETURNING points) "
    "SELECT count(*), coalesce(-sum(points), 0) FROM ins";

/* Expiry, first in first out per buyer and currency: each accrual (net of
 * its own reversals) is a lot; redemptions and earlier expiries use up the
 * oldest lots first; a lot that accrued expiry_days or more before the date
 * expires what is left of it. $1 loyalty run, $2 date, $3 expiry days. */
static const char loyalty_sql_expire[] =
    "WITH due AS ("
    "  SELECT DISTINCT a.buyer_id, a.currency FROM loyalty_points a "
    "   WHERE a.kind = 'accrual' AND a.business_date <= $2::date - $3::integer "
    "     AND NOT EXISTS (SELECT 1 FROM loyalty_points x "
    "                      WHERE x.order_id = a.order_id AND x.kind = 'expiry')), "
    "lots AS ("
    "  SELECT a.id, a.order_id, a.buyer_id, a.currency, a.business_date, "
    "         a.points - coalesce((SELECT -sum(x.points) FROM loyalty_points x "
    "                               WHERE x.order_id = a.order_id AND x.kind = 'reversal'), 0) "
    "           AS net "
    "    FROM loyalty_points a JOIN due USING (buyer_id, currency) "
    "   WHERE a.kind = 'accrual' AND a.business_date <= $2::date - $3::integer), "
    "used AS ("
    "  SELECT l.buyer_id, l.currency, -sum(l.points) AS used "
    "    FROM loyalty_points l JOIN due USING (buyer_id, currency) "
    "   WHERE l.kind IN ('redemption', 'expiry') GROUP BY l.buyer_id, l.currency), "
    "fifo AS ("
    "  SELECT lots.*, sum(net) OVER (PARTITION BY buyer_id, currency "
    "                                ORDER BY business_date, id) - coalesce(u.used, 0) AS "
    "left_upto "
    "    FROM lots LEFT JOIN used u USING (buyer_id, currency)), "
    "ins AS ("
    "  INSERT INTO loyalty_points (loyalty_run_id, business_date, buyer_id, currency, kind, "
    "                              order_id, points, reason) "
    "  SELECT $1, $2::date, buyer_id, currency, 'expiry', order_id, -least(net, left_upto), "
    "         'accrued ' || business_date || ', expired after ' || $3 || ' days' "
    "    FROM fifo WHERE least(net, left_upto) > 0 "
    "  RETURNING points) "
    "SELECT count(*), coalesce(-sum(points), 0) FROM ins";

/* Tiers: per buyer and currency, the trailing spend = captures - refunds -
 * chargebacks (before the cutoff, at least 0) of the orders accrued in the
 * window; the buyer's tier is the highest one some currency reaches. A
 * change is recorded for each buyer whose tier differs from the current
 * one. $1 loyalty run, $2 date, $3 cutoff, $4 window days. */
static const char loyalty_sql_tiers[] =
    "WITH spend AS ("
    "  SELECT a.buyer_id, a.currency, sum(greatest(m.captured - m.returned, 0)) AS spend "
    "    FROM loyalty_points a "
    "    CROSS JOIN LATERAL ("
    "      SELECT coalesce(sum(p.amount_minor) FILTER (WHERE p.kind = 'capture'), 0) AS captured, "
    "             coalesce(sum(p.amount_minor) FILTER (WHERE p.kind IN ('refund', 'chargeback')), "
    "                      0) AS returned "
    "        FROM payments p WHERE p.order_id = a.order_id AND p.status = 'succeeded' "
    "         AND p.occurred_at < $3::timestamptz) m "
    "   WHERE a.kind = 'accrual' AND a.business_date > $2::date - $4::integer "
    "     AND a.business_date <= $2::date "
    "   GROUP BY a.buyer_id, a.currency), "
    "best AS ("
    "  SELECT DISTINCT ON (s.buyer_id) s.buyer_id, coalesce(t.rank, 0) AS rank, s.currency, "
    "         s.spend "
    "    FROM spend s LEFT JOIN loyalty_rule_tier t "
    "      ON t.currency = s.currency AND s.spend >= t.min_minor "
    "   ORDER BY s.buyer_id, coalesce(t.rank, 0) DESC, s.spend DESC, s.currency), "
    "moves AS ("
    "  SELECT buyer_id, coalesce(c.tier, base.tier) AS from_tier, lvl.tier AS to_tier, "
    "         lvl.rank AS to_rank, b.currency, coalesce(b.spend, 0) AS spend "
    "    FROM best b FULL JOIN loyalty_buyer_tiers c USING (buyer_id) "
    "    CROSS JOIN (SELECT tier FROM loyalty_rule_level WHERE rank = 0) base "
    "    JOIN loyalty_rule_level lvl ON lvl.rank = coalesce(b.rank, 0)), "
    "ins AS ("
    "  INSERT INTO loyalty_tier_changes (loyalty_run_id, business_date, buyer_id, from_tier, "
    "                                    to_tier, currency, spend_minor, window_days) "
    "  SELECT $1, $2::date, buyer_id, from_tier, to_tier, currency, spend, $4::integer "
    "    FROM moves WHERE from_tier <> to_tier "
    "  RETURNING from_tier, to_tier) "
    "SELECT count(*) FILTER (WHERE coalesce(f.rank, -1) < t.rank), "
    "       count(*) FILTER (WHERE coalesce(f.rank, -1) > t.rank) "
    "  FROM ins LEFT JOIN loyalty_rule_level f ON f.tier = ins.from_tier "
    "  JOIN loyalty_rule_level t ON t.tier = ins.to_tier";

/* Run a step whose result is one row of two counts. */
static purser_status loyalty_count_step(loyalty_state *st, purser_ctx *ctx, PGconn *db,
                                        const char *step, const char *sql, int n,
                                        const char *const *params, int64_t *a, int64_t *b)
{
    if (st->host->cancelled(ctx)) {
        st->host->log(ctx, PURSER_LOG_WARN, "cancelled before step '%s'", step);
        return PURSER_RETRY;
    }
    PGresult *r = NULL;
    purser_status s = loyalty_step(st, ctx, db, step, sql, n, params, &r);
    if (s != PURSER_OK)
        return s;
    *a = loyalty_value(r, 0);
    *b = loyalty_value(r, 1);
    PQclear(r);
    return PURSER_OK;
}

/* The steps of a new date, after its rules are loaded. */
static purser_status loyalty_steps(loyalty_state *st, purser_ctx *ctx, PGconn *db,
                                   const loyalty_request *req, loyalty_outcome *out)
{
    const loyalty_config *cfg = &st->cfg;
    char expiry[24], lookback[24], window[24], run_id[24], id[24], cutoff[64];
    snprintf(expiry, sizeof expiry, "%lld", (long long)cfg->expiry_days);
    snprintf(lookback, sizeof lookback, "%lld", (long long)cfg->lookback_days);
    snprintf(window, sizeof window, "%lld", (long long)cfg->window_days);
    snprintf(run_id, sizeof run_id, "%lld", (long long)req->run_id);
    const char *pr[6] = {req->date, req->timezone, expiry, lookback, window, run_id};
    PGresult *r = NULL;
    purser_status s = loyalty_step(st, ctx, db, "recording the run", loyalty_sql_run, 6, pr, &r);
    if (s != PURSER_OK)
        return s;
    snprintf(id, sizeof id, "%s", PQgetvalue(r, 0, 0));
    snprintf(cutoff, sizeof cutoff, "%s", PQgetvalue(r, 0, 1));
    PQclear(r);

    const char *pa[5] = {id, req->date, cutoff, lookback, req->timezone};
    s = loyalty_count_step(st, ctx, db, "accrual", loyalty_sql_accrue, 5, pa, &out->accrued_orders,
                           &out->issued);
    int64_t n;
    if (s == PURSER_OK)
        s = loyalty_count_step(st, ctx, db, "reversal", loyalty_sql_reverse, 4, pa, &n,
                               &out->reversed);
    const char *pe[3] = {id, req->date, expiry};
    if (s == PURSER_OK && cfg->expiry_days > 0)
        s = loyalty_count_step(st, ctx, db, "expiry", loyalty_sql_expire, 3, pe, &n, &out->expired);
    const char *pt[4] = {id, req->date, cutoff, window};
    if (s == PURSER_OK && cfg->n_levels > 0)
        s = loyalty_count_step(st, ctx, db, "tiers", loyalty_sql_tiers, 4, pt, &out->tier_up,
                               &out->tier_down);
    return s;
}

/* ---- the run ------------------------------------------------------------------ */

/* Rename the finished workbook into place; -1 after logging. */
static int loyalty_publish(loyalty_state *st, purser_ctx *ctx, const char *tmp, const char *path)
{
    if (rename(tmp, path) == 0)
        return 0;
    st->host->log(ctx, PURSER_LOG_ERROR, "renaming %s to %s failed: check the report folder", tmp,
                  path);
    unlink(tmp);
    return -1;
}

/* The date is posted already: write its workbook again if it is missing. */
static purser_status loyalty_existing(loyalty_state *st, purser_ctx *ctx, PGconn *db,
                                      const loyalty_request *req, const char *path, const char *tmp,
                                      loyalty_outcome *out)
{
    out->existed = 1;
    if (req->dry_run || access(path, F_OK) == 0)
        return PURSER_OK;
    if (loyalty_workbook_write(st, ctx, db, req->date, tmp) != 0) {
        unlink(tmp);
        return PURSER_ERROR;
    }
    if (loyalty_publish(st, ctx, tmp, path) != 0)
        return PURSER_ERROR;
    out->rewritten = 1;
    return PURSER_OK;
}

purser_status loyalty_post(loyalty_state *st, purser_ctx *ctx, PGconn *db,
                           const loyalty_request *req, const char *workbook_path,
                           loyalty_outcome *out)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.%lld.tmp", workbook_path, (long long)req->run_id);
    memset(out, 0, sizeof *out);
    const char *pd[1] = {req->date};
    PGresult *r = NULL;
    purser_status s = loyalty_step(st, ctx, db, "BEGIN", "BEGIN", 0, NULL, NULL);
    if (s != PURSER_OK)
        return s;
    s = loyalty_step(st, ctx, db, "locking", "SELECT pg_advisory_xact_lock(" LOYALTY_LOCK_KEY ")",
                     0, NULL, NULL);
    if (s == PURSER_OK)
        s = loyalty_step(st, ctx, db, "finding the date",
                         "SELECT business_date::text FROM loyalty_runs "
                         "WHERE business_date >= $1::date ORDER BY business_date LIMIT 1",
                         1, pd, &r);
    if (s == PURSER_OK && PQntuples(r) == 1) {
        int same = strcmp(PQgetvalue(r, 0, 0), req->date) == 0;
        if (!same)
            snprintf(out->covered_by, sizeof out->covered_by, "%s", PQgetvalue(r, 0, 0));
        PQclear(r);
        s = same ? loyalty_existing(st, ctx, db, req, workbook_path, tmp, out) : PURSER_OK;
        loyalty_rollback(db);
        return s;
    }
    PQclear(r);
    if (s == PURSER_OK)
        s = loyalty_load_rules(st, ctx, db);
    if (s == PURSER_OK)
        s = loyalty_steps(st, ctx, db, req, out);
    if (s != PURSER_OK || req->dry_run) {
        loyalty_rollback(db);
        return s;
    }
    if (loyalty_workbook_write(st, ctx, db, req->date, tmp) != 0) {
        loyalty_rollback(db);
        unlink(tmp);
        return PURSER_ERROR;
    }
    s = loyalty_step(st, ctx, db, "COMMIT", "COMMIT", 0, NULL, NULL);
    if (s != PURSER_OK) {
        unlink(tmp);
        return s;
    }
    return loyalty_publish(st, ctx, tmp, workbook_path) == 0 ? PURSER_OK : PURSER_ERROR;
}
