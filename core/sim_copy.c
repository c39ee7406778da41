/* Loading the simulated marketplace into the store: one transaction, one
 * COPY stream per table (PQputCopyData, text format). Each table's pass
 * regenerates the orders from the seed, so nothing is held in memory and
 * the server ingests while we generate. Into an empty store the foreign
 * keys and secondary indexes are dropped inside the transaction and
 * rebuilt after the load (set-based checks instead of one per row). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "progress.h"
#include "sim.h"

static const char *const sim_store_tables[] = {
    "depots", "buyers",      "sellers",  "delivery_agents", "products",        "inventory",
    "orders", "order_items", "payments", "deliveries",      "delivery_events", NULL,
};

/* ---- a COPY stream ------------------------------------------------------ */

#define SIM_COPY_FLUSH (256 * 1024)

typedef struct sim_copy {
    PGconn *conn;
    const char *table;
    char *buf;
    size_t len, cap;
    uint64_t rows;
    bool failed;
} sim_copy;

static int sim_sql(PGconn *c, const char *sql, char *err, size_t errlen)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    int ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
    if (!ok) {
        set_err(err, errlen, "%s", PQresultErrorMessage(r));
        err[strcspn(err, "\n")] = '\0';
    }
    PQclear(r);
    return ok ? 0 : -1;
}

static int sim_copy_begin(sim_copy *cp, PGconn *c, const char *table, const char *columns,
                          char *err, size_t errlen)
{
    memset(cp, 0, sizeof *cp);
    cp->conn = c;
    cp->table = table;
    cp->cap = SIM_COPY_FLUSH + 4096;
    cp->buf = xmalloc(cp->cap);
    char sql[512];
    snprintf(sql, sizeof sql, "COPY %s (%s) FROM STDIN", table, columns);
    PGresult *r = PQexec(c, sql);
    int ok = PQresultStatus(r) == PGRES_COPY_IN;
    if (!ok) {
        set_err(err, errlen, "COPY %s: %s", table, PQresultErrorMessage(r));
        err[strcspn(err, "\n")] = '\0';
    }
    PQclear(r);
    if (!ok) {
        free(cp->buf);
        cp->buf = NULL;
    }
    return ok ? 0 : -1;
}

static void sim_copy_flush(sim_copy *cp)
{
    if (cp->len && !cp->failed && PQputCopyData(cp->conn, cp->buf, (int)cp->len) != 1)
        cp->failed = true;
    cp->len = 0;
}

/* Room for n more bytes. */
static inline char *sim_copy_room(sim_copy *cp, size_t n)
{
    if (cp->len + n > cp->cap) {
        sim_copy_flush(cp);
        if (n > cp->cap) {
            cp->cap = n;
            cp->buf = xrealloc(cp->buf, n);
        }
    }
    return cp->buf + cp->len;
}

static inline void sim_copy_str(sim_copy *cp, const char *s)
{
    size_t n = strlen(s);
    char *p = sim_copy_room(cp, n + 1);
    memcpy(p, s, n);
    p[n] = '\t';
    cp->len += n + 1;
}

static inline void sim_copy_int(sim_copy *cp, int64_t v)
{
    char tmp[24];
    int n = 0;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    char *p = sim_copy_room(cp, 24);
    size_t k = 0;
    if (v < 0)
        p[k++] = '-';
    while (n)
        p[k++] = tmp[--n];
    p[k++] = '\t';
    cp->len += k;
}

static inline void sim_copy_null(sim_copy *cp)
{
    sim_copy_str(cp, "\\N");
}

static inline void sim_copy_time(sim_copy *cp, int64_t t)
{
    char *p = sim_copy_room(cp, 24);
    sim_format_time(t, p);
    memcpy(p + 19, "+00\t", 4);
    cp->len += 23;
}

/* micro-degrees as a decimal */
static inline void sim_copy_coord(sim_copy *cp, int32_t micro)
{
    char tmp[24];
    sim_format_coord(micro, tmp);
    sim_copy_str(cp, tmp);
}

static inline void sim_copy_row_end(sim_copy *cp)
{
    cp->buf[cp->len - 1] = '\n';
    cp->rows++;
}

static int sim_copy_end(sim_copy *cp, char *err, size_t errlen)
{
    sim_copy_flush(cp);
    free(cp->buf);
    cp->buf = NULL;
    int rc = 0;
    if (PQputCopyEnd(cp->conn, cp->failed ? "client send failed" : NULL) != 1)
        rc = -1;
    PGresult *r;
    while ((r = PQgetResult(cp->conn)) != NULL) {
        if (PQresultStatus(r) != PGRES_COMMAND_OK && rc == 0) {
            set_err(err, errlen, "COPY %s: %s", cp->table, PQresultErrorMessage(r));
            err[strcspn(err, "\n")] = '\0';
            rc = -1;
        }
        PQclear(r);
    }
    if (rc != 0 && !err[0])
        set_err(err, errlen, "COPY %s: %s", cp->table, PQerrorMessage(cp->conn));
    return rc;
}

/* ---- checks before loading ------------------------------------------------ */

int sim_store_check(PGconn *c, bool append, sim_bases *base, char *err, size_t errlen)
{
    strbuf missing = {0}, sql = {0};
    for (const char *const *t = sim_store_tables; *t; t++) {
        const char *params[1] = {*t};
        PGresult *r =
            PQexecParams(c, "SELECT to_regclass($1) IS NULL", 1, NULL, params, NULL, NULL, 0);
        if (PQresultStatus(r) == PGRES_TUPLES_OK && PQgetvalue(r, 0, 0)[0] == 't')
            sb_addf(&missing, "%s%s", missing.len ? ", " : "", *t);
        PQclear(r);
    }
    if (missing.len) {
        set_err(err, errlen, "the store's tables are missing (%s): run `purser migrate` first",
                missing.data);
        sb_free(&missing);
        return -1;
    }
    sb_add(&sql, "SELECT ");
    for (const char *const *t = sim_store_tables; *t; t++)
        sb_addf(&sql, "%s(SELECT count(*) FROM (SELECT 1 FROM %s LIMIT 1) x)",
                t == sim_store_tables ? "" : " + ", *t);
    sb_add(&sql, ", (SELECT coalesce(max(id), 0) FROM depots), (SELECT coalesce(max(id), 0) FROM "
                 "sellers), (SELECT coalesce(max(id), 0) FROM buyers), (SELECT coalesce(max(id), "
                 "0) FROM delivery_agents), (SELECT coalesce(max(id), 0) FROM products), "
                 "(SELECT coalesce(max(id), 0) FROM orders)");
    PGresult *r = PQexec(c, sql.data);
    sb_free(&sql);
    int rc = 0;
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        set_err(err, errlen, "reading the store: %s", PQresultErrorMessage(r));
        err[strcspn(err, "\n")] = '\0';
        rc = -1;
    } else if (atoi(PQgetvalue(r, 0, 0)) != 0 && !append) {
        set_err(err, errlen,
                "the store already holds data (orders, products, ...): simulate "
                "fills an empty store; pass --append to add to it, or use a fresh database");
        rc = -1;
    } else {
        int64_t *dst[] = {&base->depot, &base->seller,  &base->buyer,
                          &base->agent, &base->product, &base->order};
        for (int i = 0; i < 6; i++)
            *dst[i] = strtoll(PQgetvalue(r, 0, i + 1), NULL, 10);
    }
    PQclear(r);
    return rc;
}

/* ---- the world ------------------------------------------------------------- */

static const struct {
    const char *table, *columns;
} sim_party_tables[] = {
    [SIM_P_DEPOT] = {"depots", "id, code, name, latitude, longitude"},
    [SIM_P_SELLER] = {"sellers", "id, external_ref, name, currency, commission_bp, "
                                 "commission_fixed_minor, commission_min_minor, created_at"},
    [SIM_P_BUYER] = {"buyers", "id, external_ref, email, name, country, created_at"},
    [SIM_P_AGENT] = {"delivery_agents", "id, name, home_depot_id, shift_start, shift_end, "
                                        "vehicle_capacity_grams, active"},
    [SIM_P_PRODUCT] = {"products", "id, seller_id, sku, name, category, price_minor, currency, "
                                   "weight_grams, created_at"},
};

/* State of the walk over the parties: one COPY per kind, switched when
 * the kind changes. */
typedef struct sim_party_load {
    PGconn *conn;
    sim_copy cp;
    int kind; /* of the open COPY, -1 before the first */
    sim_counts *n;
    char *err;
    size_t errlen;
} sim_party_load;

static int sim_party_row(void *arg, const sim_party *p)
{
    sim_party_load *l = arg;
    sim_copy *cp = &l->cp;
    if (p->kind != l->kind) {
        if (l->kind >= 0) {
            l->n->other += cp->rows;
            if (sim_copy_end(cp, l->err, l->errlen))
                return -1;
        }
        l->kind = p->kind;
        if (sim_copy_begin(cp, l->conn, sim_party_tables[p->kind].table,
                           sim_party_tables[p->kind].columns, l->err, l->errlen)) {
            l->kind = -1;
            return -1;
        }
    }
    sim_copy_int(cp, p->id);
    switch (p->kind) {
    case SIM_P_DEPOT:
        sim_copy_str(cp, p->ref);
        sim_copy_str(cp, p->name);
        sim_copy_coord(cp, p->lat);
        sim_copy_coord(cp, p->lon);
        break;
    case SIM_P_SELLER:
        sim_copy_str(cp, p->ref);
        sim_copy_str(cp, p->name);
        sim_copy_str(cp, sim_currencies[p->cur].code);
        sim_copy_int(cp, p->commission_bp);
        sim_copy_int(cp, p->commission_fixed);
        sim_copy_int(cp, p->commission_min);
        sim_copy_time(cp, p->created_at);
        break;
    case SIM_P_BUYER:
        sim_copy_str(cp, p->ref);
        sim_copy_str(cp, p->email);
        sim_copy_str(cp, p->name);
        sim_copy_str(cp, sim_currencies[p->cur].country);
        sim_copy_time(cp, p->created_at);
        break;
    case SIM_P_AGENT:
        sim_copy_str(cp, p->name);
        sim_copy_int(cp, p->depot_id);
        sim_copy_str(cp, p->shift_start);
        sim_copy_str(cp, p->shift_end);
        sim_copy_int(cp, p->capacity_g);
        sim_copy_str(cp, "t");
        break;
    case SIM_P_PRODUCT:
        sim_copy_int(cp, p->seller_id);
        sim_copy_str(cp, p->ref);
        sim_copy_str(cp, p->name);
        sim_copy_str(cp, p->category);
        sim_copy_int(cp, p->price);
        sim_copy_str(cp, sim_currencies[p->cur].code);
        sim_copy_int(cp, p->weight_g);
        sim_copy_time(cp, p->created_at);
        break;
    }
    sim_copy_row_end(cp);
    return 0;
}

static int sim_party_back_office(void *arg, const sim_party *p)
{
    return p->kind == SIM_P_DEPOT || p->kind == SIM_P_AGENT ? sim_party_row(arg, p) : 0;
}

/* Load the parties (all of them, or only the depots and delivery agents,
 * which storefronts never send) by COPY. */
int sim_load_parties(PGconn *c, const sim_world *w, bool only_back_office, sim_counts *n, char *err,
                     size_t errlen)
{
    sim_party_load l = {.conn = c, .kind = -1, .n = n, .err = err, .errlen = errlen};
    int rc = sim_parties(w, only_back_office ? sim_party_back_office : sim_party_row, &l);
    if (l.kind >= 0) {
        n->other += l.cp.rows;
        if (rc != 0) {
            free(l.cp.buf);
            PQputCopyEnd(c, "stopped");
            PQclear(PQgetResult(c));
        } else {
            rc = sim_copy_end(&l.cp, err, errlen);
        }
    }
    return rc;
}

static int sim_stock_row_copy(void *arg, const sim_stock_row *s)
{
    sim_copy *cp = arg;
    sim_copy_int(cp, s->product_id);
    sim_copy_int(cp, s->depot_id);
    sim_copy_int(cp, s->on_hand);
    sim_copy_int(cp, s->reserved);
    sim_copy_int(cp, s->safety_stock);
    sim_copy_time(cp, s->updated_at);
    sim_copy_row_end(cp);
    return 0;
}

static int sim_load_inventory(PGconn *c, sim_world *w, sim_counts *n, char *err, size_t errlen)
{
    sim_copy cp;
    if (sim_copy_begin(&cp, c, "inventory",
                       "product_id, warehouse_id, on_hand, reserved, "
                       "safety_stock, updated_at",
                       err, errlen))
        return -1;
    sim_stock(w, sim_stock_row_copy, &cp);
    n->other += cp.rows;
    return sim_copy_end(&cp, err, errlen);
}

/* ---- the orders, table by table ------------------------------------------- */

enum { SIM_T_ORDERS, SIM_T_ITEMS, SIM_T_PAYMENTS, SIM_T_DELIVERIES, SIM_T_EVENTS, SIM_NT };

static const struct {
    const char *table, *columns;
} sim_order_tables[SIM_NT] = {
    {"orders", "id, source, external_ref, buyer_id, currency, status, placed_at, items_minor, "
               "shipping_minor, tax_minor, discount_minor, total_minor"},
    {"order_items", "id, order_id, line_no, product_id, seller_id, currency, quantity, "
                    "unit_price_minor, line_total_minor"},
    {"payments", "id, order_id, provider, provider_ref, kind, parent_payment_id, amount_minor, "
                 "currency, status, occurred_at, fee_minor"},
    {"deliveries", "id, order_id, depot_id, agent_id, address, latitude, longitude, "
                   "window_start, window_end, weight_grams, service_minutes, status, "
                   "delivered_at"},
    {"delivery_events", "delivery_id, seq, status, at, agent_id, note"},
};

static void sim_emit(sim_copy *cp, int table, sim_world *w, const sim_order *o,
                     sim_settled_list *settled)
{
    const char *cur = sim_currencies[o->cur].code;
    char tmp[160];
    switch (table) {
    case SIM_T_ORDERS:
        sim_copy_int(cp, o->id);
        sim_copy_str(cp, sim_order_source(o->source));
        sim_order_external_ref(w, o, tmp);
        sim_copy_str(cp, tmp);
        sim_copy_int(cp, w->base.buyer + 1 + o->buyer);
        sim_copy_str(cp, cur);
        sim_copy_str(cp, sim_order_statuses[o->status]);
        sim_copy_time(cp, o->placed_at);
        sim_copy_int(cp, o->items);
        sim_copy_int(cp, o->shipping);
        sim_copy_int(cp, o->tax);
        sim_copy_int(cp, o->discount);
        sim_copy_int(cp, o->total);
        sim_copy_row_end(cp);
        break;
    case SIM_T_ITEMS:
        for (int i = 0; i < o->n_lines; i++) {
            const sim_line *l = &o->lines[i];
            sim_copy_int(cp, o->id * 8 + i);
            sim_copy_int(cp, o->id);
            sim_copy_int(cp, i + 1);
            sim_copy_int(cp, w->base.product + 1 + l->product);
            sim_copy_int(cp, w->base.seller + 1 + w->products[l->product].seller);
            sim_copy_str(cp, cur);
            sim_copy_int(cp, l->qty);
            sim_copy_int(cp, l->unit_price);
            sim_copy_int(cp, l->total);
            sim_copy_row_end(cp);
        }
        sim_order_reserve(w, o);
        break;
    case SIM_T_PAYMENTS:
        for (int i = 0; i < o->n_payments; i++) {
            const sim_payment *p = &o->payments[i];
            sim_copy_int(cp, p->id);
            sim_copy_int(cp, o->id);
            sim_copy_str(cp, sim_provider_names[o->provider]);
            sim_provider_ref(w, o->provider, p->kind, p->id, tmp);
            sim_copy_str(cp, tmp);
            sim_copy_str(cp, sim_payment_kinds[p->kind]);
            if (p->parent_id)
                sim_copy_int(cp, p->parent_id);
            else
                sim_copy_null(cp);
            sim_copy_int(cp, p->amount);
            sim_copy_str(cp, cur);
            sim_copy_str(cp, p->status == SIM_SUCCEEDED ? "succeeded" : "failed");
            sim_copy_time(cp, p->at);
            if (p->fee >= 0)
                sim_copy_int(cp, p->fee);
            else
                sim_copy_null(cp);
            sim_copy_row_end(cp);
            sim_settled_add(settled, o, p);
        }
        break;
    case SIM_T_DELIVERIES:
        if (!o->has_delivery)
            break;
        sim_copy_int(cp, o->id);
        sim_copy_int(cp, o->id);
        sim_copy_int(cp, w->base.depot + 1 + o->depot);
        if (o->dlv_status == SIM_DLV_PENDING)
            sim_copy_null(cp);
        else
            sim_copy_int(cp, w->base.agent + 1 + o->agent);
        snprintf(tmp, sizeof tmp, "%s %u, %u Berlin", sim_street(o->street), o->house, o->postcode);
        sim_copy_str(cp, tmp);
        sim_copy_coord(cp, o->lat);
        sim_copy_coord(cp, o->lon);
        sim_copy_time(cp, o->window_start);
        sim_copy_time(cp, o->window_end);
        sim_copy_int(cp, o->weight_g);
        sim_copy_int(cp, o->service_min);
        sim_copy_str(cp, sim_delivery_statuses[o->dlv_status]);
        if (o->delivered_at)
            sim_copy_time(cp, o->delivered_at);
        else
            sim_copy_null(cp);
        sim_copy_row_end(cp);
        break;
    case SIM_T_EVENTS:
        for (int i = 0; o->has_delivery && i < o->n_events; i++) {
            const sim_event *e = &o->events[i];
            sim_copy_int(cp, o->id);
            sim_copy_int(cp, i + 1);
            sim_copy_str(cp, sim_delivery_statuses[e->status]);
            sim_copy_time(cp, e->at);
            if (e->with_agent)
                sim_copy_int(cp, w->base.agent + 1 + o->agent);
            else
                sim_copy_null(cp);
            if (e->status == SIM_DLV_FAILED)
                sim_copy_str(cp, "recipient not at home");
            else
                sim_copy_null(cp);
            sim_copy_row_end(cp);
        }
        break;
    }
}

static int sim_load_orders(PGconn *c, sim_world *w, int table, sim_settled_list *settled,
                           progress *pg, uint64_t *rows, char *err, size_t errlen)
{
    sim_copy cp;
    if (sim_copy_begin(&cp, c, sim_order_tables[table].table, sim_order_tables[table].columns, err,
                       errlen))
        return -1;
    sim_order o;
    uint64_t done_before = pg->done;
    for (uint64_t n = 0; n < w->opt.orders; n++) {
        sim_order_generate(w, n, &o);
        sim_emit(&cp, table, w, &o, settled);
        if ((n & 4095) == 0)
            progress_update(pg, done_before + n, 0);
    }
    pg->done = done_before + w->opt.orders;
    *rows += cp.rows;
    return sim_copy_end(&cp, err, errlen);
}

/* ---- bulk mode: constraints and indexes rebuilt after the load ------------- */

typedef struct sim_ddl {
    char **drop, **create; /* owned */
    int n;
} sim_ddl;

static void sim_ddl_free(sim_ddl *d)
{
    for (int i = 0; i < d->n; i++) {
        free(d->drop[i]);
        free(d->create[i]);
    }
    free(d->drop);
    free(d->create);
    memset(d, 0, sizeof *d);
}

/* The store's primary keys, unique constraints, plain indexes and every
 * foreign key from or to a store table: statements to drop them (run in
 * reverse) and to create them again (keys, indexes, then foreign keys,
 * each checked by one set-based scan). */
static int sim_ddl_collect(PGconn *c, sim_ddl *d, char *err, size_t errlen)
{
    const char *q =
        "WITH t AS (SELECT unnest($1::text[])::regclass AS rel)"
        " SELECT 0 AS k, format('ALTER TABLE %s DROP CONSTRAINT %I', k.conrelid::regclass,"
        "        k.conname),"
        "        format('ALTER TABLE %s ADD CONSTRAINT %I %s', k.conrelid::regclass, k.conname,"
        "               pg_get_constraintdef(k.oid)), k.conname::text AS name"
        "   FROM pg_constraint k WHERE k.contype IN ('p', 'u') AND k.conrelid IN (SELECT rel FROM "
        "t)"
        " UNION ALL"
        " SELECT 1, format('DROP INDEX %s', i.indexrelid::regclass),"
        "        pg_get_indexdef(i.indexrelid), i.indexrelid::regclass::text"
        "   FROM pg_index i WHERE i.indrelid IN (SELECT rel FROM t)"
        "    AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)"
        " UNION ALL"
        " SELECT 2, format('ALTER TABLE %s DROP CONSTRAINT %I', k.conrelid::regclass, k.conname),"
        "        format('ALTER TABLE %s ADD CONSTRAINT %I %s', k.conrelid::regclass, k.conname,"
        "               pg_get_constraintdef(k.oid)), k.conname::text"
        "   FROM pg_constraint k WHERE k.contype = 'f'"
        "    AND (k.conrelid IN (SELECT rel FROM t) OR k.confrelid IN (SELECT rel FROM t))"
        "  ORDER BY 1, 4";
    strbuf arr = {0};
    sb_add(&arr, "{");
    for (const char *const *t = sim_store_tables; *t; t++)
        sb_addf(&arr, "%s%s", t == sim_store_tables ? "" : ",", *t);
    sb_add(&arr, "}");
    const char *params[1] = {arr.data};
    PGresult *r = PQexecParams(c, q, 1, NULL, params, NULL, NULL, 0);
    sb_free(&arr);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        set_err(err, errlen, "reading the store's indexes: %s", PQresultErrorMessage(r));
        err[strcspn(err, "\n")] = '\0';
        PQclear(r);
        return -1;
    }
    d->n = PQntuples(r);
    d->drop = xcalloc((size_t)d->n + 1, sizeof *d->drop);
    d->create = xcalloc((size_t)d->n + 1, sizeof *d->create);
    for (int i = 0; i < d->n; i++) {
        d->drop[i] = xstrdup(PQgetvalue(r, i, 1));
        d->create[i] = xstrdup(PQgetvalue(r, i, 2));
    }
    PQclear(r);
    return 0;
}

static int sim_ddl_run(PGconn *c, char **stmts, int n, bool reverse, char *err, size_t errlen)
{
    for (int k = 0; k < n; k++) {
        const char *s = stmts[reverse ? n - 1 - k : k];
        log_debug("simulate: %s", s);
        if (sim_sql(c, s, err, errlen) != 0)
            return -1;
    }
    return 0;
}

int sim_set_sequences(PGconn *c, char *err, size_t errlen)
{
    for (const char *const *t = sim_store_tables; *t; t++) {
        if (strcmp(*t, "inventory") == 0 || strcmp(*t, "delivery_events") == 0)
            continue; /* no id column */
        char sql[256];
        snprintf(sql, sizeof sql,
                 "SELECT setval(pg_get_serial_sequence('%s', 'id'), coalesce(max(id), 0) + 1, "
                 "false) FROM %s",
                 *t, *t);
        if (sim_sql(c, sql, err, errlen) != 0)
            return -1;
    }
    return 0;
}

int sim_load(PGconn *c, sim_world *w, sim_settled_list *settled, sim_counts *counts, char *err,
             size_t errlen)
{
    sim_ddl ddl = {0};
    progress pg;
    int rc = sim_sql(c, "BEGIN", err, errlen);
    if (rc == 0)
        rc = sim_sql(c, "SET LOCAL maintenance_work_mem = '1GB'", err, errlen);
    if (rc == 0 && !w->opt.append) {
        rc = sim_ddl_collect(c, &ddl, err, errlen);
        if (rc == 0)
            rc = sim_ddl_run(c, ddl.drop, ddl.n, true, err, errlen);
        /* The tables are empty (checked before); truncating them in this
         * transaction lets a server with wal_level = minimal (the embedded
         * one) skip writing the loaded rows to the WAL. */
        if (rc == 0)
            rc = sim_sql(c,
                         "TRUNCATE depots, buyers, sellers, delivery_agents, products, "
                         "inventory, orders, order_items, payments, deliveries, "
                         "delivery_events",
                         err, errlen);
    }
    if (rc == 0)
        rc = sim_load_parties(c, w, false, counts, err, errlen);
    progress_start(&pg, "simulate", w->opt.orders * SIM_NT, "order passes");
    uint64_t *rows[SIM_NT] = {&counts->orders, &counts->items, &counts->payments,
                              &counts->deliveries, &counts->events};
    for (int t = 0; rc == 0 && t < SIM_NT; t++) {
        rc = sim_load_orders(c, w, t, settled, &pg, rows[t], err, errlen);
        if (rc == 0 && t == SIM_T_ITEMS)
            rc = sim_load_inventory(c, w, counts, err, errlen);
    }
    progress_finish(&pg);
    if (rc == 0 && ddl.n) {
        double t0 = monotonic_seconds();
        rc = sim_ddl_run(c, ddl.create, ddl.n, false, err, errlen);
        log_info("simulate: indexes and foreign keys rebuilt and checked in %.1f s",
                 monotonic_seconds() - t0);
    }
    if (rc == 0)
        rc = sim_set_sequences(c, err, errlen);
    if (rc == 0)
        rc = sim_sql(c, "COMMIT", err, errlen);
    if (rc != 0)
        PQclear(PQexec(c, "ROLLBACK"));
    sim_ddl_free(&ddl);
    return rc;
}
