/* The backup plugin: each night, a pg_dump (custom format) of the store
 * into plugins.backup.dir, written under a temporary name and renamed when
 * complete, with a sha256sum-compatible checksum file; then a restore
 * check (the dump restored into a scratch database, row counts compared
 * with the store's as of the dump's snapshot) and the retention policy.
 * Any failure fails the run and alerts the operators. `purser restore`
 * (backup_restore.c) brings a dump back. This file holds the descriptor,
 * the settings and the run. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backup.h"

/* Settings under `plugins.backup:` in purser.yaml. */
static const purser_config_key backup_config_keys[] = {
    {"dir", PURSER_CFG_PATH, NULL, 0,
     "folder of the dumps (made when missing); the job fails until it is set"},
    {"prefix", PURSER_CFG_STRING, "purser", 0, "dump names: PREFIX_YYYY-MM-DD.dump (+ .sha256)"},
    {"keep.daily", PURSER_CFG_INT, "7", 0, "keep the N newest dumps"},
    {"keep.weekly", PURSER_CFG_INT, "4", 0,
     "and the newest dump of each of the M newest weeks (Monday to Sunday) that have one"},
    {"restore_check", PURSER_CFG_BOOL, "true", 0,
     "restore each new dump into a scratch database and compare row counts"},
    {"check_tables", PURSER_CFG_LIST, NULL, 0,
     "tables whose row counts the restore check compares (default: the store's main tables)"},
    {"pg_bin_dir", PURSER_CFG_PATH, NULL, 0,
     "folder of pg_dump and pg_restore; default /usr/lib/postgresql/<server major>/bin"},
    {0},
};

static const char *const backup_default_tables[] = {
    "sellers",  "buyers",     "products",        "inventory",   "orders", "order_items",
    "payments", "deliveries", "delivery_events", "purser_runs", NULL,
};

static const purser_command backup_commands[] = {
    {"restore", "FILE --into URL [--force]",
     "restore a backup dump after checking its SHA-256 (an empty database unless --force)",
     backup_restore_main},
    {0},
};

static int backup_valid_name(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max || !((s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
        return 0;
    return strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_") == n;
}

static int backup_read_config(const purser_host *h, purser_ctx *ctx, backup_config *cfg)
{
    cfg->dir = h->config_string(ctx, "dir");
    cfg->prefix = h->config_string(ctx, "prefix");
    cfg->pg_bin_dir = h->config_string(ctx, "pg_bin_dir");
    if (!cfg->prefix ||
        strspn(cfg->prefix, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                            "0123456789-") != strlen(cfg->prefix) ||
        !*cfg->prefix || strlen(cfg->prefix) > 64) {
        h->log(ctx, PURSER_LOG_ERROR, "plugins.backup.prefix: 1 to 64 of A-Z a-z 0-9 -");
        return -1;
    }
    if (h->config_int(ctx, "keep.daily", &cfg->keep_daily) != 0 || cfg->keep_daily < 1 ||
        cfg->keep_daily > 10000 || h->config_int(ctx, "keep.weekly", &cfg->keep_weekly) != 0 ||
        cfg->keep_weekly < 0 || cfg->keep_weekly > 10000) {
        h->log(ctx, PURSER_LOG_ERROR,
               "plugins.backup.keep: daily from 1 to 10000, weekly from 0 to 10000");
        return -1;
    }
    if (h->config_bool(ctx, "restore_check", &cfg->restore_check) != 0)
        cfg->restore_check = 1;
    size_t n = h->config_count(ctx, "check_tables");
    for (size_t i = 0; i < n || (n == 0 && backup_default_tables[i]); i++) {
        const char *t = n ? h->config_item(ctx, "check_tables", i) : backup_default_tables[i];
        if (i >= BACKUP_MAX_TABLES || !t || !backup_valid_name(t, 63)) {
            h->log(ctx, PURSER_LOG_ERROR,
                   "plugins.backup.check_tables[%zu] '%s': at most %d table names of "
                   "a-z 0-9 _",
                   i, t ? t : "", BACKUP_MAX_TABLES);
            return -1;
        }
        cfg->tables[cfg->n_tables++] = t;
    }
    return 0;
}

static purser_status backup_init(const purser_host *host, purser_ctx *ctx, void **state)
{
    backup_state *st = calloc(1, sizeof *st);
    if (!st)
        return PURSER_ERROR;
    *state = st;
    st->host = host;
    return backup_read_config(host, ctx, &st->cfg) == 0 ? PURSER_OK : PURSER_ERROR;
}

static void backup_fini(void *state)
{
    free(state);
}

/* `purser check`: init validated the settings; warn when dir is unset
 * (loading the plugin is harmless, running its job is not). */
static purser_status backup_check(void *state, purser_ctx *ctx)
{
    backup_state *st = state;
    if (!st->cfg.dir)
        st->host->log(ctx, PURSER_LOG_WARN,
                      "plugins.backup.dir is not set: a backup job would fail (nowhere to write)");
    return PURSER_OK;
}

/* ---- the run ------------------------------------------------------------------ */

/* One run's paths and what it found. */
typedef struct backup_job {
    char dump[4200], tmp[4300], sum[4300];
    char pg_dump[4200], pg_restore[4200];
    char hex[65];
    backup_counts source, restored;
    int64_t bytes;
    char err[9216]; /* room for two paths and a program's message */
} backup_job;

static int backup_mkdirs(const char *dir, char *err, size_t errlen)
{
    char path[4096];
    snprintf(path, sizeof path, "%s", dir);
    for (char *p = path + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char c = *p;
            *p = '\0';
            if (mkdir(path, 0750) != 0 && errno != EEXIST) {
                snprintf(err, errlen, "plugins.backup.dir %s: cannot create %s: %s", dir, path,
                         strerror(errno));
                return -1;
            }
            *p = c;
            if (!c)
                break;
        }
    }
    return 0;
}

/* pg_dump of the store, as of a snapshot whose row counts are taken in the
 * same transaction: the restore check compares like with like however
 * much traffic arrives meanwhile. */
static int backup_dump(backup_state *st, purser_ctx *ctx, PGconn *c, backup_job *j)
{
    PGresult *r = PQexec(c, "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY");
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    r = ok ? PQexec(c, "SELECT pg_export_snapshot()") : NULL;
    if (!ok || PQresultStatus(r) != PGRES_TUPLES_OK) {
        snprintf(j->err, sizeof j->err, "exporting a snapshot: %s", PQerrorMessage(c));
        PQclear(r);
        PQclear(PQexec(c, "ROLLBACK"));
        return -1;
    }
    char snapshot[128], opt[160], out[2048];
    snprintf(snapshot, sizeof snapshot, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    int rc = -1;
    char *conninfo = backup_conninfo(c, NULL);
    if (backup_count_rows(st, c, &j->source, j->err, sizeof j->err) == 0 && conninfo) {
        snprintf(opt, sizeof opt, "--snapshot=%s", snapshot);
        char *argv[] = {j->pg_dump, "--format=custom", opt,      "--file",
                        j->tmp,     "--dbname",        conninfo, NULL};
        int status = backup_exec(st, ctx, argv, PQpass(c), out, sizeof out);
        if (status == 0)
            rc = 0;
        else
            snprintf(j->err, sizeof j->err, "pg_dump failed (exit %d): %s", status,
                     backup_last_line(out));
    } else if (!conninfo) {
        snprintf(j->err, sizeof j->err, "out of memory");
    }
    free(conninfo);
    PQclear(PQexec(c, "COMMIT"));
    return rc;
}

/* Checksum the temporary dump, write PREFIX_D.dump.sha256, rename. */
static int backup_finish_file(backup_job *j)
{
    struct stat sb;
    if (backup_fsync_path(j->tmp) != 0 || stat(j->tmp, &sb) != 0) {
        snprintf(j->err, sizeof j->err, "%s: %s", j->tmp, strerror(errno));
        return -1;
    }
    j->bytes = (int64_t)sb.st_size;
    if (backup_sha256_file(j->tmp, j->hex, j->err, sizeof j->err) != 0)
        return -1;
    const char *base = strrchr(j->dump, '/');
    char line[512];
    int n = snprintf(line, sizeof line, "%s  %s\n", j->hex, base ? base + 1 : j->dump);
    if (rename(j->tmp, j->dump) != 0) {
        snprintf(j->err, sizeof j->err, "renaming %s: %s", j->tmp, strerror(errno));
        return -1;
    }
    return backup_write_atomic(j->sum, line, (size_t)n, j->err, sizeof j->err);
}

/* Restore the dump into a scratch database made for the purpose, compare
 * the row counts, drop it whatever happened. */
static int backup_restore_check(backup_state *st, purser_ctx *ctx, PGconn *c, backup_job *j)
{
    if (backup_verify(j->dump, j->err, sizeof j->err) != 0)
        return -1;
    char scratch[64], sql[160], out[2048];
    snprintf(scratch, sizeof scratch, "purser_restore_check_%ld", (long)getpid());
    snprintf(sql, sizeof sql, "CREATE DATABASE %s TEMPLATE template0", scratch);
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        snprintf(j->err, sizeof j->err,
                 "restore check: creating the scratch database %s: %s(the store's user needs "
                 "CREATEDB, or set plugins.backup.restore_check: false)",
                 scratch, PQresultErrorMessage(r));
        PQclear(r);
        return -1;
    }
    PQclear(r);
    int rc = -1;
    char *conninfo = backup_conninfo(c, scratch);
    char *argv[] = {j->pg_restore, "--exit-on-error", "--no-owner", "--no-privileges",
                    "--dbname",    conninfo,          j->dump,      NULL};
    int status = conninfo ? backup_exec(st, ctx, argv, PQpass(c), out, sizeof out) : -1;
    PGconn *s = status == 0 ? PQconnectdb(conninfo) : NULL;
    if (status != 0) {
        snprintf(j->err, sizeof j->err, "restore check: pg_restore failed (exit %d): %s", status,
                 backup_last_line(out));
    } else if (PQstatus(s) != CONNECTION_OK) {
        snprintf(j->err, sizeof j->err, "restore check: connecting to %s: %s", scratch,
                 PQerrorMessage(s));
    } else if (backup_count_rows(st, s, &j->restored, j->err, sizeof j->err) == 0) {
        rc = 0;
        for (size_t i = 0; i < j->source.n && rc == 0; i++) {
            int64_t got = -1;
            for (size_t k = 0; k < j->restored.n; k++)
                if (strcmp(j->restored.table[k], j->source.table[i]) == 0)
                    got = j->restored.rows[k];
            if (got < 0)
                snprintf(j->err, sizeof j->err,
                         "restore check: table %s is missing from the restored copy",
                         j->source.table[i]);
            else if (got != j->source.rows[i])
                snprintf(j->err, sizeof j->err,
                         "restore check: table %s has %lld rows in the store's snapshot, %lld "
                         "restored",
                         j->source.table[i], (long long)j->source.rows[i], (long long)got);
            rc = got == j->source.rows[i] ? 0 : -1;
        }
    }
    PQfinish(s);
    free(conninfo);
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", scratch);
    r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        st->host->log(ctx, PURSER_LOG_WARN, "restore check: dropping %s: %s", scratch,
                      PQresultErrorMessage(r));
    PQclear(r);
    return rc;
}

/* Everything of a run but the failure handling; 0 or -1 with j->err. */
static int backup_steps(backup_state *st, purser_ctx *ctx, const purser_run_info *run,
                        backup_job *j, int64_t *kept, int64_t *deleted)
{
    const backup_config *cfg = &st->cfg;
    const purser_host *h = st->host;
    PGconn *c = h->db(ctx);
    if (!c) {
        snprintf(j->err, sizeof j->err, "the database cannot be reached");
        return -1;
    }
    int version = PQserverVersion(c);
    if (backup_mkdirs(cfg->dir, j->err, sizeof j->err) != 0 ||
        backup_program(st, ctx, "pg_dump", version, j->pg_dump, sizeof j->pg_dump, j->err,
                       sizeof j->err) != 0 ||
        (cfg->restore_check && backup_program(st, ctx, "pg_restore", version, j->pg_restore,
                                              sizeof j->pg_restore, j->err, sizeof j->err) != 0))
        return -1;
    snprintf(j->dump, sizeof j->dump, "%s/%s_%s.dump", cfg->dir, cfg->prefix, run->business_date);
    snprintf(j->tmp, sizeof j->tmp, "%s/.%s_%s.dump.%ld.tmp", cfg->dir, cfg->prefix,
             run->business_date, (long)getpid());
    snprintf(j->sum, sizeof j->sum, "%s.sha256", j->dump);
    if (backup_dump(st, ctx, c, j) != 0 || backup_finish_file(j) != 0)
        return -1;
    backup_fsync_path(cfg->dir);
    h->log(ctx, PURSER_LOG_INFO, "wrote %s (%lld bytes, SHA-256 %s)", j->dump, (long long)j->bytes,
           j->hex);
    if (h->cancelled(ctx)) {
        snprintf(j->err, sizeof j->err, "cancelled after the dump");
        return -1;
    }
    if (cfg->restore_check) {
        if (backup_restore_check(st, ctx, c, j) != 0)
            return -1;
        h->log(ctx, PURSER_LOG_INFO, "restore check: %zu tables, row counts equal", j->source.n);
    }
    if (backup_prune(st, ctx, kept, deleted) != 0) {
        snprintf(j->err, sizeof j->err, "retention: some old dumps could not be deleted");
        return -1;
    }
    return 0;
}

static purser_status backup_run(void *state, purser_ctx *ctx, const purser_run_info *run)
{
    backup_state *st = state;
    const purser_host *h = st->host;
    if (!st->cfg.dir) {
        h->set_result(ctx, "plugins.backup.dir is not set: nowhere to write the dump");
        h->alert(ctx, "backup of %s failed: plugins.backup.dir is not set", run->business_date);
        return PURSER_ERROR;
    }
    if (run->dry_run) {
        h->set_result(ctx, "dry run: would dump the store to %s/%s_%s.dump", st->cfg.dir,
                      st->cfg.prefix, run->business_date);
        return PURSER_OK;
    }
    backup_job *j = calloc(1, sizeof *j);
    if (!j)
        return PURSER_ERROR;
    int64_t kept = 0, deleted = 0;
    purser_status s = PURSER_OK;
    if (backup_steps(st, ctx, run, j, &kept, &deleted) != 0) {
        if (j->tmp[0])
            unlink(j->tmp);
        h->log(ctx, PURSER_LOG_ERROR, "%s", j->err);
        h->set_result(ctx, "backup of %s failed: %s", run->business_date, j->err);
        h->alert(ctx, "backup of %s failed: %s", run->business_date, j->err);
        s = h->cancelled(ctx) ? PURSER_RETRY : PURSER_ERROR;
    } else {
        h->set_result(ctx, "%s: %lld bytes%s; %lld dumps kept, %lld deleted", j->dump,
                      (long long)j->bytes, st->cfg.restore_check ? ", restore check passed" : "",
                      (long long)kept, (long long)deleted);
        h->metric_set(ctx, "last_dump_bytes", (double)j->bytes);
    }
    free(j);
    return s;
}

static const purser_plugin backup_plugin = {
    PURSER_PLUGIN_HEADER,
    .name = "backup",
    .version = "1.0.0",
    .description = "Nightly pg_dump of the store with checksums, a restore check and retention; "
                   "purser restore",
    .config = backup_config_keys,
    .init = backup_init,
    .fini = backup_fini,
    .run = backup_run,
    .commands = backup_commands,
    .check = backup_check,
};

PURSER_PLUGIN_DEFINE(backup_plugin)
