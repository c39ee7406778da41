/* The backup plugin's internal interface: settings, the nightly run and
 * retention (backup.c), PostgreSQL and its client programs (backup_pg.c),
 * dump files and their checksums (backup_file.c), and the `purser
 * restore` command (backup_restore.c). Nothing here is exported from the
 * shared object. */
#ifndef BACKUP_H
#define BACKUP_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#include "purser/plugin.h"

#define BACKUP_MAX_TABLES 64

/* `plugins.backup:` once validated; strings borrowed from the host until
 * fini. */
typedef struct backup_config {
    const char *dir;        /* where dumps go; NULL: not configured */
    const char *prefix;     /* file names: PREFIX_YYYY-MM-DD.dump */
    const char *pg_bin_dir; /* NULL: /usr/lib/postgresql/<server major>/bin */
    int64_t keep_daily, keep_weekly;
    int restore_check;
    const char *tables[BACKUP_MAX_TABLES]; /* compared by the restore check */
    size_t n_tables;
} backup_config;

typedef struct backup_state {
    const purser_host *host; /* borrowed; valid until fini */
    backup_config cfg;
} backup_state;

/* Row counts of the compared tables (those that exist), in table order. */
typedef struct backup_counts {
    size_t n;
    char table[BACKUP_MAX_TABLES][64];
    int64_t rows[BACKUP_MAX_TABLES];
} backup_counts;

/* ---- PostgreSQL (backup_pg.c) -------------------------------------------- */

/* A conninfo string for the server c is connected to, as the same user,
 * naming database dbname (NULL: c's own). The password is left out: pass
 * PQpass(c) to backup_exec. malloc'd (caller frees), NULL when out of
 * memory. */
char *backup_conninfo(PGconn *c, const char *dbname);

/* Run argv[0] (an absolute path) with argv, PGPASSWORD set to password
 * when not NULL, stdout and stderr captured: the last out_len - 1 bytes
 * land in out (terminated). Stops the program when the run is cancelled.
 * Returns its exit status, or -1 when it could not run or died by a
 * signal (out says why). */
int backup_exec(backup_state *st, purser_ctx *ctx, char *const argv[], const char *password,
                char *out, size_t out_len);

/* The path of a PostgreSQL client program (pg_dump, pg_restore) in
 * plugins.backup.pg_bin_dir or /usr/lib/postgresql/<major>/bin, checked to
 * run and to be of the server's major version (server_version as
 * PQserverVersion gives it). 0, or -1 with err set. */
int backup_program(backup_state *st, purser_ctx *ctx, const char *name, int server_version,
                   char *path, size_t len, char *err, size_t errlen);

/* Row counts of the configured tables on c (inside the caller's
 * transaction, if any). 0, or -1 with err set. */
int backup_count_rows(backup_state *st, PGconn *c, backup_counts *out, char *err, size_t errlen);

/* The last line of a program's output, for one-line messages; borrowed
 * from out (which it may modify). */
const char *backup_last_line(char *out);

/* ---- files (backup_file.c) -------------------------------------------------- */

/* Hex SHA-256 of a file. 0, or -1 with err set. */
int backup_sha256_file(const char *path, char hex[65], char *err, size_t errlen);

/* Check path against path.sha256 (sha256sum's format). 0 when they agree;
 * -1 with err set when the checksum file is missing or unreadable or the
 * file differs. */
int backup_verify(const char *path, char *err, size_t errlen);

/* Write data (len bytes) to path atomically: path.tmp, fsync, rename. */
int backup_write_atomic(const char *path, const char *data, size_t len, char *err, size_t errlen);

/* fsync a file or a folder by name. 0 or -1 (errno). */
int backup_fsync_path(const char *path);

/* Retention: among PREFIX_YYYY-MM-DD.dump in dir, keep the keep_daily
 * newest and the newest of each of the keep_weekly most recent ISO weeks
 * (Monday to Sunday) holding a dump; delete the others with their .sha256.
 * Other files are left alone. *kept / *deleted count dumps. 0, or -1 after
 * logging. */
int backup_prune(backup_state *st, purser_ctx *ctx, int64_t *kept, int64_t *deleted);

/* ---- the command (backup_restore.c) ------------------------------------------ */

int backup_restore_main(void *state, purser_ctx *ctx, int argc, char **argv);

#endif
