/* The embedded PostgreSQL cluster used when no database is configured:
 * created with initdb under database.embedded.dir, listening on a unix
 * socket in that folder only, run as an unprivileged user when purser
 * runs as root. */
#ifndef PURSER_PGEMBED_H
#define PURSER_PGEMBED_H

#include <stddef.h>

#include "settings.h"

/* Create the cluster if needed, start it if stopped, make sure the
 * database "purser" exists. Idempotent and safe to run concurrently
 * (a lock file serialises starters). 0, or -1 with the reason in err. */
int pgembed_start(const settings *s, char *err, size_t errlen);
/* Stop it (fast shutdown); stopping a stopped cluster succeeds. */
int pgembed_stop(const settings *s, char *err, size_t errlen);
/* 1 running, 0 stopped, -1 not created. */
int pgembed_status(const settings *s);
/* libpq conninfo of the embedded cluster (caller frees). */
char *pgembed_conninfo(const settings *s);

#endif
