/* Integration tests in C: a fresh database on the server the test run
 * started (tests/lib/pg_harness.sh exports PURSER_TEST_PGHOST/PORT). */
#ifndef PURSER_TESTDB_H
#define PURSER_TESTDB_H

#include <libpq-fe.h>

/* Drop and create database `name`; returns its conninfo (caller frees),
 * or NULL when no test server is running (the test should skip). */
char *testdb_create(const char *name);
/* Connect or fail the test. */
PGconn *testdb_connect(const char *conninfo);
/* Run SQL expecting success; fails the test otherwise. */
void testdb_exec(PGconn *c, const char *sql);
/* The first value of a one-row query (static buffer, valid until next call). */
const char *testdb_value(PGconn *c, const char *sql);

#endif
