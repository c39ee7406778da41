/* Connections to the store. */
#include "db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgembed.h"
#include "util.h"

char *db_conninfo(const settings *s)
{
    return s->database_url ? xstrdup(s->database_url) : pgembed_conninfo(s);
}

void db_describe(PGconn *c, char *out, size_t len)
{
    const char *host = PQhost(c);
    snprintf(out, len, "host=%s port=%s dbname=%s", host && *host ? host : "(default)",
             PQport(c) ? PQport(c) : "", PQdb(c) ? PQdb(c) : "");
}

/* First line of a libpq message, without the trailing newline. */
static void db_first_line(const char *msg, char *out, size_t len)
{
    snprintf(out, len, "%s", msg ? msg : "");
    out[strcspn(out, "\n")] = '\0';
}

PGconn *db_open(const settings *s, char *err, size_t errlen)
{
    if (!s->database_url && pgembed_start(s, err, errlen) != 0)
        return NULL;
    char *ci = db_conninfo(s);
    char *perr = NULL;
    PQconninfoOption *opts = PQconninfoParse(ci, &perr);
    if (!opts) {
        char line[512];
        db_first_line(perr, line, sizeof line);
        set_err(err, errlen, "database.url: invalid connection string: %s", line);
        PQfreemem(perr);
        free(ci);
        return NULL;
    }
    PQconninfoFree(opts);
    char timeout[32];
    snprintf(timeout, sizeof timeout, "%lld",
             (long long)(s->connect_timeout_ms > 999 ? s->connect_timeout_ms / 1000 : 1));
    /* expand_dbname=1: dbname holds the whole conninfo or URI, and its
     * settings win over the defaults that follow it. */
    const char *keys[] = {"connect_timeout", "fallback_application_name", "dbname", NULL};
    const char *vals[] = {timeout, "purser", ci, NULL};
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    free(ci);
    if (PQstatus(c) != CONNECTION_OK) {
        char where[256], line[512];
        db_describe(c, where, sizeof where);
        db_first_line(PQerrorMessage(c), line, sizeof line);
        set_err(err, errlen,
                "database: cannot connect (%s): %s; check database.url or "
                "$PURSER_DATABASE_URL",
                where, line);
        PQfinish(c);
        return NULL;
    }
    PQclear(PQexec(c, "SET client_min_messages = warning"));
    return c;
}

int db_exec(PGconn *c, const char *sql, char *err, size_t errlen)
{
    PGresult *r = PQexec(c, sql);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
    if (!ok) {
        char line[512];
        db_first_line(PQerrorMessage(c), line, sizeof line);
        set_err(err, errlen, "%s", line);
    }
    PQclear(r);
    return ok ? 0 : -1;
}
