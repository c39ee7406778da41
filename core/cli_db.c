/* `purser migrate` and `purser db start|stop|status|url`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "db.h"
#include "log.h"
#include "migrate.h"
#include "pgembed.h"
#include "util.h"

int cli_migrate(cli_options *o, int argc, char **argv)
{
    (void)argv;
    if (argc != 1) {
        log_error("usage: purser migrate");
        return 2;
    }
    int rc = cli_load_plugins(o, true);
    if (rc != 0)
        return rc;
    char err[1024];
    PGconn *c = db_open(&o->s, err, sizeof err);
    if (!c) {
        log_error("%s", err);
        return 1;
    }
    migration_source *srcs = xcalloc(o->plugins.count + 1, sizeof *srcs);
    size_t n = 0;
    srcs[n++] = (migration_source){"core", core_migrations};
    for (size_t i = 0; i < o->plugins.count; i++)
        if (o->plugins.items[i].desc.migrations)
            srcs[n++] = (migration_source){o->plugins.items[i].desc.name,
                                           o->plugins.items[i].desc.migrations};
    migrate_report rep;
    rc = migrate_apply(c, srcs, n, &rep, err, sizeof err);
    free(srcs);
    PQfinish(c);
    if (rc != 0) {
        log_error("%s", err);
        return 1;
    }
    log_info("migrations: %zu applied, %zu already applied", rep.applied, rep.already);
    return 0;
}

int cli_db(cli_options *o, int argc, char **argv)
{
    const char *what = argc == 2 ? argv[1] : "";
    if (strcmp(what, "start") && strcmp(what, "stop") && strcmp(what, "status") &&
        strcmp(what, "url")) {
        log_error("usage: purser db start|stop|status|url");
        return 2;
    }
    int rc = cli_load_settings(o);
    if (rc != 0)
        return rc;
    char err[1024];
    if (strcmp(what, "url") == 0) {
        char *ci = db_conninfo(&o->s);
        printf("%s\n", ci);
        free(ci);
        return 0;
    }
    if (o->s.database_url) {
        if (strcmp(what, "status") != 0) {
            log_error("database.url is set: purser manages only its embedded cluster");
            return 2;
        }
        PGconn *c = db_open(&o->s, err, sizeof err);
        if (!c) {
            log_error("%s", err);
            return 1;
        }
        char where[256];
        db_describe(c, where, sizeof where);
        printf("external database: reachable (%s, server %d)\n", where, PQserverVersion(c));
        PQfinish(c);
        return 0;
    }
    if (strcmp(what, "start") == 0) {
        if (pgembed_start(&o->s, err, sizeof err) != 0) {
            log_error("%s", err);
            return 1;
        }
        char *ci = pgembed_conninfo(&o->s);
        printf("embedded PostgreSQL running: %s\n", ci);
        free(ci);
        return 0;
    }
    if (strcmp(what, "stop") == 0) {
        if (pgembed_stop(&o->s, err, sizeof err) != 0) {
            log_error("%s", err);
            return 1;
        }
        printf("embedded PostgreSQL stopped\n");
        return 0;
    }
    int st = pgembed_status(&o->s);
    printf("embedded PostgreSQL in %s: %s\n", o->s.pg_dir,
           st == 1   ? "running"
           : st == 0 ? "stopped"
                     : "not created");
    return st == 1 ? 0 : 3;
}
