/* `purser restore FILE --into URL [--force]`: bring a dump back, for the
 * day someone needs it. The dump's SHA-256 is checked against FILE.sha256
 * first; a database that already holds tables is refused unless --force
 * (then the dump's objects are dropped and created again). pg_restore runs
 * in one transaction: a restore that fails leaves the target as it was. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backup.h"

static int backup_restore_usage(void)
{
    fprintf(stderr, "usage: purser restore FILE --into URL [--force]\n"
                    "  FILE   a dump written by the backup job (FILE.sha256 beside it)\n"
                    "  URL    libpq conninfo or URI of the target database (it must exist)\n"
                    "  --force  restore into a database that holds tables already\n");
    return 2;
}

/* Tables, views and sequences outside the system schemas; -1 on error. */
static long backup_relations(PGconn *t)
{
    PGresult *r = PQexec(t, "SELECT count(*) FROM pg_class c "
                            "JOIN pg_namespace n ON n.oid = c.relnamespace "
                            "WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') "
                            "AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
                            "AND n.nspname !~ '^pg_(toast|temp)'");
    long n = PQresultStatus(r) == PGRES_TUPLES_OK ? atol(PQgetvalue(r, 0, 0)) : -1;
    PQclear(r);
    return n;
}

/* pg_restore FILE into the connected target; 0 or 1 (logged). */
static int backup_restore_into(backup_state *st, purser_ctx *ctx, PGconn *t, const char *file,
                               const char *url, int clean)
{
    char prog[4200], err[1024], out[4096];
    if (backup_program(st, ctx, "pg_restore", PQserverVersion(t), prog, sizeof prog, err,
                       sizeof err) != 0) {
        fprintf(stderr, "restore: %s\n", err);
        return 1;
    }
    char *argv[12];
    int n = 0;
    argv[n++] = prog;
    argv[n++] = "--exit-on-error";
    argv[n++] = "--single-transaction";
    argv[n++] = "--no-owner";
    argv[n++] = "--no-privileges";
    if (clean) {
        argv[n++] = "--clean";
        argv[n++] = "--if-exists";
    }
    argv[n++] = "--dbname";
    argv[n++] = (char *)url;
    argv[n++] = (char *)file;
    argv[n] = NULL;
    int status = backup_exec(st, ctx, argv, PQpass(t), out, sizeof out);
    if (status != 0) {
        fprintf(stderr, "restore: pg_restore failed (exit %d), nothing was restored: %s\n", status,
                backup_last_line(out));
        return 1;
    }
    return 0;
}

int backup_restore_main(void *state, purser_ctx *ctx, int argc, char **argv)
{
    backup_state *st = state;
    const char *file = NULL, *url = NULL;
    int force = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--into") == 0 && i + 1 < argc)
            url = argv[++i];
        else if (strcmp(argv[i], "--force") == 0)
            force = 1;
        else if (argv[i][0] != '-' && !file)
            file = argv[i];
        else
            return backup_restore_usage();
    }
    if (!file || !url || !*url)
        return backup_restore_usage();
    char err[1024];
    if (backup_verify(file, err, sizeof err) != 0) {
        fprintf(stderr, "restore: %s; nothing was restored\n", err);
        return 1;
    }
    fprintf(stderr, "restore: %s matches its SHA-256 (%s.sha256)\n", file, file);
    PGconn *t = PQconnectdb(url);
    if (PQstatus(t) != CONNECTION_OK) {
        fprintf(stderr, "restore: --into: cannot connect: %s", PQerrorMessage(t));
        PQfinish(t);
        return 1;
    }
    long rels = backup_relations(t);
    int rc;
    if (rels < 0) {
        fprintf(stderr, "restore: reading the target's catalog: %s", PQerrorMessage(t));
        rc = 1;
    } else if (rels > 0 && !force) {
        fprintf(stderr,
                "restore: database '%s' is not empty (%ld tables, views or sequences): "
                "refusing to overwrite it; restore into a new database (createdb), or add "
                "--force to drop and re-create the dump's objects in it\n",
                PQdb(t), rels);
        rc = 2;
    } else {
        rc = backup_restore_into(st, ctx, t, file, url, rels > 0);
        if (rc == 0) {
            printf("restored %s into database '%s'\n", file, PQdb(t));
            st->host->log(ctx, PURSER_LOG_INFO, "restored %s into database '%s'%s", file, PQdb(t),
                          rels > 0 ? " (--force: over existing objects)" : "");
        }
    }
    PQfinish(t);
    return rc;
}
