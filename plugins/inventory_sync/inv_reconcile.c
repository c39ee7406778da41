/* inv_reconcile.c: what the store can sell, in SQL, inside the run's
 * transaction. Open orders (placed or paid: not yet shipped) reserve their
 * lines' quantities at a warehouse — the depot of the order's delivery when
 * that depot stocks the SKU, else the SKU's first warehouse (lowest depot
 * id) — and inventory.reserved is set to those sums. Available to sell =
 * on_hand - reserved - safety_stock per SKU x warehouse; below zero it is
 * oversold. Every available quantity (floored at 0) that differs from what
 * the storefront was last sent gets a new version in inventory_sync_levels
 * and a row in the outbox. */
#include <stdio.h>
#include <stdlib.h>

#include "inventory_sync.h"

/* The open-order lines and where each reserves stock. Kept for the session
 * (the Oversold sheet reads it after the commit). */
static const char inv_open_sql[] =
    "CREATE TEMP TABLE inv_open AS "
    "SELECT oi.product_id, coalesce(i.warehouse_id, h.warehouse_id) AS warehouse_id, "
    "  o.id AS order_id, o.external_ref, o.placed_at, oi.quantity "
    "FROM orders o JOIN order_items oi ON oi.order_id = o.id "
    "LEFT JOIN LATERAL (SELECT min(x.warehouse_id) AS warehouse_id FROM inventory x "
    "  WHERE x.product_id = oi.product_id) h ON true "
    "LEFT JOIN LATERAL (SELECT d.depot_id FROM deliveries d WHERE d.order_id = o.id "
    "  ORDER BY d.id DESC LIMIT 1) d ON true "
    "LEFT JOIN inventory i ON i.product_id = oi.product_id AND i.warehouse_id = d.depot_id "
    "WHERE o.status IN ('placed', 'paid')";

static const char inv_reserve_sql[] =
    "WITH res AS (SELECT product_id, warehouse_id, sum(quantity) AS qty FROM inv_open "
    "  WHERE warehouse_id IS NOT NULL GROUP BY 1, 2) "
    "UPDATE inventory i SET reserved = least(res.qty, 2147483647)::int FROM res "
    "WHERE i.product_id = res.product_id AND i.warehouse_id = res.warehouse_id "
    "  AND i.reserved <> least(res.qty, 2147483647)";

static const char inv_unreserve_sql[] =
    "UPDATE inventory i SET reserved = 0 WHERE i.reserved <> 0 AND NOT EXISTS (SELECT 1 "
    "FROM inv_open o WHERE o.product_id = i.product_id AND o.warehouse_id = i.warehouse_id)";

static const char inv_enqueue_sql[] =
    "WITH cur AS (SELECT product_id, warehouse_id, "
    "    greatest(on_hand - reserved - safety_stock, 0) AS available FROM inventory), "
    "diff AS (SELECT c.* FROM cur c LEFT JOIN inventory_sync_levels l "
    "    USING (product_id, warehouse_id) WHERE l.available IS DISTINCT FROM c.available), "
    "lv AS (INSERT INTO inventory_sync_levels AS l (product_id, warehouse_id, available, version) "
    "    SELECT product_id, warehouse_id, available, 1 FROM diff "
    "    ON CONFLICT (product_id, warehouse_id) DO UPDATE SET available = EXCLUDED.available, "
    "    version = l.version + 1 RETURNING product_id, warehouse_id, version, available) "
    "INSERT INTO inventory_sync_outbox AS o (product_id, warehouse_id, version, available) "
    "SELECT product_id, warehouse_id, version, available FROM lv "
    "ON CONFLICT (product_id, warehouse_id) DO UPDATE SET version = EXCLUDED.version, "
    "available = EXCLUDED.available, enqueued_at = now()";

static int inv_step(inv_run *r, const char *step, const char *sql, int64_t *affected)
{
    PGresult *res = inv_sql(r, sql, 0, NULL);
    int rc = inv_sql_ok(r, step, res, PGRES_COMMAND_OK);
    if (rc == 0 && affected)
        *affected += strtoll(PQcmdTuples(res), NULL, 10);
    PQclear(res);
    return rc;
}

static int inv_counts(inv_run *r)
{
    PGresult *res =
        inv_sql(r,
                "SELECT (SELECT count(*) FROM inventory), "
                "(SELECT count(*) FROM inventory WHERE on_hand - reserved - safety_stock < 0), "
                "(SELECT count(DISTINCT product_id) FROM inv_open WHERE warehouse_id IS NULL)",
                0, NULL);
    int rc = inv_sql_ok(r, "counting oversold stock", res, PGRES_TUPLES_OK);
    if (rc == 0) {
        r->rows = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        r->oversold = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
        r->unstocked_skus = strtoll(PQgetvalue(res, 0, 2), NULL, 10);
    }
    PQclear(res);
    return rc;
}

purser_status inv_reconcile(inv_run *r)
{
    const purser_host *h = r->st->host;
    if (inv_step(r, "dropping the open-order lines", "DROP TABLE IF EXISTS inv_open", NULL) ||
        inv_step(r, "finding the open-order lines", inv_open_sql, NULL) ||
        inv_step(r, "indexing the open-order lines",
                 "CREATE INDEX ON inv_open (product_id, warehouse_id)", NULL) ||
        inv_step(r, "ANALYZE inv_open", "ANALYZE inv_open", NULL) ||
        inv_step(r, "setting inventory.reserved from open orders", inv_reserve_sql,
                 &r->reserved_moved) ||
        inv_step(r, "clearing reservations of shipped orders", inv_unreserve_sql,
                 &r->reserved_moved) ||
        inv_counts(r) ||
        inv_step(r, "queueing changed levels in the outbox", inv_enqueue_sql, &r->enqueued))
        return PURSER_RETRY;
    if (r->unstocked_skus)
        h->log(r->ctx, PURSER_LOG_WARN,
               "%lld SKUs have open orders but no inventory row at any warehouse: their "
               "reservations are not counted",
               (long long)r->unstocked_skus);
    h->log(r->ctx, PURSER_LOG_INFO,
           "reconciled %lld stock rows: %lld reservations changed, %lld oversold, %lld levels "
           "queued for the storefront",
           (long long)r->rows, (long long)r->reserved_moved, (long long)r->oversold,
           (long long)r->enqueued);
    return PURSER_OK;
}
