/* A small pool of database connections shared by the HTTP server's
 * threads: a request borrows one and gives it back when it is answered.
 * Broken connections are reset on return. */
#ifndef PURSER_DBPOOL_H
#define PURSER_DBPOOL_H

#include <libpq-fe.h>
#include <stddef.h>

#include "settings.h"

typedef struct dbpool dbpool;

/* A pool of at most `size` connections, opened lazily. */
dbpool *dbpool_new(const settings *s, size_t size);
/* Borrow a connection (waits while all are in use); NULL (logged) when
 * the database cannot be reached. */
PGconn *dbpool_get(dbpool *p);
/* Give it back; a connection in a bad state is closed. */
void dbpool_put(dbpool *p, PGconn *c);
void dbpool_free(dbpool *p);

#endif
