/* Schema migrations: ordered, transactional, checksummed. */
#include "migrate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "progress.h"
#include "util.h"

/* One lock key for every purser migrating this database. */
#define MIGRATE_LOCK_KEY "7235011290841"

static int migrate_exec(PGconn *c, const char *sql, char *err, size_t errlen)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    int ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY;
    if (!ok) {
        snprintf(err, errlen, "%s", PQresultErrorMessage(r));
        err[strcspn(err, "\n")] = '\0';
    }
    PQclear(r);
    return ok ? 0 : -1;
}

/* The recorded checksum of owner/id into out, 1 if found, 0 if not, -1 on error. */
static int migrate_recorded(PGconn *c, const char *owner, const char *id, char out[65], char *err,
                            size_t errlen)
{
    const char *params[2] = {owner, id};
    PGresult *r =
        PQexecParams(c, "SELECT checksum FROM purser_migrations WHERE owner = $1 AND id = $2", 2,
                     NULL, params, NULL, NULL, 0);
    int rc;
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        snprintf(err, errlen, "reading purser_migrations: %s", PQresultErrorMessage(r));
        err[strcspn(err, "\n")] = '\0';
        rc = -1;
    } else if (PQntuples(r) == 0) {
        rc = 0;
    } else {
        snprintf(out, 65, "%s", PQgetvalue(r, 0, 0));
        rc = 1;
    }
    PQclear(r);
    return rc;
}

static int migrate_one(PGconn *c, const char *owner, const purser_migration *m, migrate_report *rep,
                       char *err, size_t errlen)
{
    char sum[65], have[65], why[512];
    sha256_hex(m->sql, strlen(m->sql), sum);
    int found = migrate_recorded(c, owner, m->id, have, err, errlen);
    if (found < 0)
        return -1;
    if (found) {
        if (strcmp(have, sum) != 0) {
            set_err(err, errlen,
                    "migration %s/%s was applied with checksum %.12s but now has "
                    "%.12s: applied migrations must not change; add a new migration instead",
                    owner, m->id, have, sum);
            return -1;
        }
        rep->already++;
        return 0;
    }
    log_info("applying migration %s/%s", owner, m->id);
    if (migrate_exec(c, "BEGIN", why, sizeof why) != 0 ||
        migrate_exec(c, m->sql, why, sizeof why) != 0) {
        PQclear(PQexec(c, "ROLLBACK"));
        set_err(err, errlen, "migration %s/%s failed: %s (rolled back, nothing of it applied)",
                owner, m->id, why);
        return -1;
    }
    const char *params[3] = {owner, m->id, sum};
    PGresult *r = PQexecParams(c,
                               "INSERT INTO purser_migrations (owner, id, checksum) "
                               "VALUES ($1, $2, $3)",
                               3, NULL, params, NULL, NULL, 0);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    if (!ok || migrate_exec(c, "COMMIT", why, sizeof why) != 0) {
        PQclear(PQexec(c, "ROLLBACK"));
        set_err(err, errlen, "migration %s/%s: could not commit: %s", owner, m->id,
                PQerrorMessage(c));
        return -1;
    }
    rep->applied++;
    return 0;
}

static int migrate_check_order(const migration_source *src, char *err, size_t errlen)
{
    for (const purser_migration *m = src->list; m->id; m++) {
        if (!m->sql) {
            set_err(err, errlen, "migration %s/%s has no SQL", src->owner, m->id);
            return -1;
        }
        if (m != src->list && strcmp(m[-1].id, m->id) >= 0) {
            set_err(err, errlen,
                    "migrations of %s are not in ascending id order: '%s' before "
                    "'%s'",
                    src->owner, m[-1].id, m->id);
            return -1;
        }
    }
    return 0;
}

int migrate_apply(PGconn *c, const migration_source *srcs, size_t n, migrate_report *rep, char *err,
                  size_t errlen)
{
    memset(rep, 0, sizeof *rep);
    char why[512];
    if (migrate_exec(c, "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")", why, sizeof why) != 0) {
        set_err(err, errlen, "cannot take the migration lock: %s", why);
        return -1;
    }
    int rc = migrate_exec(c,
                          "CREATE TABLE IF NOT EXISTS purser_migrations ("
                          " owner text NOT NULL, id text NOT NULL, checksum text NOT NULL,"
                          " applied_at timestamptz NOT NULL DEFAULT now(),"
                          " PRIMARY KEY (owner, id))",
                          why, sizeof why);
    if (rc != 0)
        set_err(err, errlen, "cannot create purser_migrations: %s", why);
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++)
        for (const purser_migration *m = srcs[i].list; m && m->id; m++)
            total++;
    progress prog;
    progress_start(&prog, "migrate", total, "migrations");
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (!srcs[i].list)
            continue;
        rc = migrate_check_order(&srcs[i], err, errlen);
        for (const purser_migration *m = srcs[i].list; rc == 0 && m->id; m++) {
            rc = migrate_one(c, srcs[i].owner, m, rep, err, errlen);
            progress_update(&prog, rep->applied + rep->already, total);
        }
    }
    if (rep->applied)
        progress_finish(&prog);
    PQclear(PQexec(c, "SELECT pg_advisory_unlock(" MIGRATE_LOCK_KEY ")"));
    return rc;
}
