/* Connections to the store: database.url (or $PURSER_DATABASE_URL), else
 * the embedded cluster, started on demand. */
#ifndef PURSER_DB_H
#define PURSER_DB_H

#include <libpq-fe.h>
#include <stddef.h>

#include "settings.h"

/* The conninfo in use (caller frees). */
char *db_conninfo(const settings *s);

/* Open a connection, starting the embedded cluster when no URL is set.
 * Returns a connection the caller PQfinish-es, or NULL with one line in
 * err that names the target (never the password) and what to do. */
PGconn *db_open(const settings *s, char *err, size_t errlen);

/* Run a statement without result rows; -1 with the server's message in
 * err on failure. */
int db_exec(PGconn *c, const char *sql, char *err, size_t errlen);

/* "host=... port=... dbname=..." of a connection, for messages. */
void db_describe(PGconn *c, char *out, size_t len);

#endif
