/* Schema migrations of the core and of each plugin: applied in order, each
 * in its own transaction, recorded with a SHA-256 checksum so that
 * applying twice is a no-op and an edited applied migration is an error. */
#ifndef PURSER_MIGRATE_H
#define PURSER_MIGRATE_H

#include <libpq-fe.h>
#include <stddef.h>

#include "purser/plugin.h"

typedef struct migration_source {
    const char *owner;            /* "core" or a plugin name */
    const purser_migration *list; /* borrowed; ends with a zeroed entry */
} migration_source;

typedef struct migrate_report {
    size_t applied; /* newly applied */
    size_t already; /* found applied with the same checksum */
} migrate_report;

/* Apply what is missing, sources in the given order. Stops at the first
 * failure: that migration is rolled back whole, earlier ones stay.
 * Returns 0, or -1 with one line in err naming owner/id and the reason. */
int migrate_apply(PGconn *c, const migration_source *srcs, size_t n, migrate_report *rep, char *err,
                  size_t errlen);

/* The core's own migrations (embedded at build time). */
extern const purser_migration core_migrations[];

#endif
