/* PostgreSQL for the backup plugin: the store's connection parameters as
 * a conninfo for pg_dump and pg_restore (read from the host's connection
 * with PQconninfo, the password passed through the environment, never on
 * a command line), running those programs with their output captured, and
 * row counts of the compared tables. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backup.h"

extern char **environ;

/* The connection options carried over to the client programs. */
static const char *const backup_conn_keys[] = {
    "host",    "hostaddr", "port",        "user",   "passfile", "connect_timeout", "sslmode",
    "sslcert", "sslkey",   "sslrootcert", "sslcrl", "options",  "gssencmode",      NULL,
};

/* Append key='value' (quoted for conninfo) to buf; 0 or -1 (no room). */
static int backup_conn_append(char *buf, size_t len, size_t *at, const char *key, const char *val)
{
    int n = snprintf(buf + *at, len - *at, "%s%s='", *at ? " " : "", key);
    if (n < 0 || (size_t)n >= len - *at)
        return -1;
    *at += (size_t)n;
    for (const char *p = val; *p; p++) {
        if (*at + 3 >= len)
            return -1;
        if (*p == '\'' || *p == '\\')
            buf[(*at)++] = '\\';
        buf[(*at)++] = *p;
    }
    if (*at + 2 >= len)
        return -1;
    buf[(*at)++] = '\'';
    buf[*at] = '\0';
    return 0;
}

char *backup_conninfo(PGconn *c, const char *dbname)
{
    PQconninfoOption *opts = PQconninfo(c);
    size_t len = 8192, at = 0;
    char *buf = malloc(len);
    if (!opts || !buf) {
        PQconninfoFree(opts);
        free(buf);
        return NULL;
    }
    buf[0] = '\0';
    int ok = backup_conn_append(buf, len, &at, "dbname", dbname ? dbname : PQdb(c)) == 0;
    for (PQconninfoOption *o = opts; ok && o->keyword; o++) {
        int wanted = 0;
        for (const char *const *k = backup_conn_keys; *k && !wanted; k++)
            wanted = strcmp(*k, o->keyword) == 0;
        if (wanted && o->val && *o->val)
            ok = backup_conn_append(buf, len, &at, o->keyword, o->val) == 0;
    }
    PQconninfoFree(opts);
    if (!ok) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* environ without PGPASSWORD, plus PGPASSWORD=password when given;
 * malloc'd array of borrowed strings (and the owned *pw_entry). */
static char **backup_env(const char *password, char **pw_entry)
{
    size_t n = 0;
    while (environ[n])
        n++;
    char **env = calloc(n + 2, sizeof *env);
    if (!env)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "PGPASSWORD=", 11) != 0)
            env[k++] = environ[i];
    *pw_entry = NULL;
    if (password && *password) {
        size_t len = strlen(password) + 12;
        *pw_entry = malloc(len);
        if (!*pw_entry) {
            free(env);
            return NULL;
        }
        snprintf(*pw_entry, len, "PGPASSWORD=%s", password);
        env[k++] = *pw_entry;
    }
    return env;
}

/* Keep the last out_len - 1 bytes of the output in out. */
static void backup_keep_tail(char *out, size_t out_len, size_t *used, const char *data, size_t n)
{
    if (out_len < 2)
        return;
    size_t cap = out_len - 1;
    if (n >= cap) {
        memcpy(out, data + n - cap, cap);
        *used = cap;
    } else {
        if (*used + n > cap) {
            size_t drop = *used + n - cap;
            memmove(out, out + drop, *used - drop);
            *used -= drop;
        }
        memcpy(out + *used, data, n);
        *used += n;
    }
    out[*used] = '\0';
}

int backup_exec(backup_state *st, purser_ctx *ctx, char *const argv[], const char *password,
                char *out, size_t out_len)
{
    out[0] = '\0';
    int fds[2];
    char *pw_entry = NULL;
    char **env = backup_env(password, &pw_entry);
    if (!env || pipe2(fds, O_CLOEXEC) != 0) {
        snprintf(out, out_len, "cannot start %s: %s", argv[0], strerror(errno));
        free(env);
        free(pw_entry);
        return -1;
    }
    pid_t pid = fork();
    if (pid == 0) {
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0)
            dup2(devnull, 0);
        dup2(fds[1], 1);
        dup2(fds[1], 2);
        execve(argv[0], argv, env);
        _exit(127);
    }
    close(fds[1]);
    free(env);
    free(pw_entry);
    if (pid < 0) {
        close(fds[0]);
        snprintf(out, out_len, "cannot start %s: %s", argv[0], strerror(errno));
        return -1;
    }
    size_t used = 0;
    int stopped = 0;
    for (;;) {
        struct pollfd p = {.fd = fds[0], .events = POLLIN};
        int r = poll(&p, 1, 250);
        if (r > 0) {
            char chunk[4096];
            ssize_t n = read(fds[0], chunk, sizeof chunk);
            if (n <= 0)
                break;
            backup_keep_tail(out, out_len, &used, chunk, (size_t)n);
        } else if (r < 0 && errno != EINTR) {
            break;
        }
        if (!stopped && st->host->cancelled(ctx)) {
            kill(pid, SIGTERM);
            stopped = 1;
        }
    }
    close(fds[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127 && used == 0)
        snprintf(out, out_len, "cannot run %s", argv[0]);
    if (WIFSIGNALED(status)) {
        snprintf(out, out_len, "%s was stopped by signal %d%s", argv[0], WTERMSIG(status),
                 stopped ? " (the run was cancelled)" : "");
        return -1;
    }
    return WEXITSTATUS(status);
}

const char *backup_last_line(char *out)
{
    size_t n = strlen(out);
    while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r'))
        out[--n] = '\0';
    char *nl = strrchr(out, '\n');
    return nl ? nl + 1 : out;
}

int backup_program(backup_state *st, purser_ctx *ctx, const char *name, int server_version,
                   char *path, size_t len, char *err, size_t errlen)
{
    int major = server_version / 10000;
    if (st->cfg.pg_bin_dir)
        snprintf(path, len, "%s/%s", st->cfg.pg_bin_dir, name);
    else
        snprintf(path, len, "/usr/lib/postgresql/%d/bin/%s", major, name);
    if (access(path, X_OK) != 0) {
        snprintf(err, errlen,
                 "%s: %s (the server is PostgreSQL %d: install its client programs, or set "
                 "plugins.backup.pg_bin_dir)",
                 path, strerror(errno), major);
        return -1;
    }
    char *argv[] = {path, "--version", NULL}, out[512], version[32] = "unusable";
    int rc = backup_exec(st, ctx, argv, NULL, out, sizeof out);
    const char *v = strstr(out, ") ");
    if (rc == 0 && v)
        sscanf(v + 2, "%31s", version);
    if (rc != 0 || atoi(version) != major) {
        snprintf(err, errlen,
                 "%s is %s, the server is PostgreSQL %d: %s must be of the same major version "
                 "(set plugins.backup.pg_bin_dir)",
                 path, version, major, name);
        return -1;
    }
    return 0;
}

int backup_count_rows(backup_state *st, PGconn *c, backup_counts *out, char *err, size_t errlen)
{
    char list[BACKUP_MAX_TABLES * 66 + 4] = "{";
    for (size_t i = 0; i < st->cfg.n_tables; i++) {
        strcat(list, st->cfg.tables[i]);
        strcat(list, i + 1 < st->cfg.n_tables ? "," : "");
    }
    strcat(list, "}");
    const char *v[1] = {list};
    /* Identifiers cannot be parameters: each count runs through
     * query_to_xml with format('%I'), so the names stay quoted. */
    PGresult *r = PQexecParams(
        c,
        "SELECT t, (xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM %I', t),"
        "  false, true, '')))[1]::text::bigint "
        "FROM unnest($1::text[]) WITH ORDINALITY AS u(t, i) "
        "WHERE to_regclass(format('%I', t)) IS NOT NULL ORDER BY i",
        1, NULL, v, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        snprintf(err, errlen, "counting rows: %s", PQresultErrorMessage(r));
        PQclear(r);
        return -1;
    }
    out->n = (size_t)PQntuples(r);
    for (size_t i = 0; i < out->n; i++) {
        snprintf(out->table[i], sizeof out->table[i], "%s", PQgetvalue(r, (int)i, 0));
        out->rows[i] = strtoll(PQgetvalue(r, (int)i, 1), NULL, 10);
    }
    PQclear(r);
    return 0;
}
