/* The embedded PostgreSQL cluster: initdb, pg_ctl, run as an unprivileged
 * user, a lock file against concurrent starts. */
#include "pgembed.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <grp.h>
#include <libpq-fe.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

typedef struct pge_user {
    int drop; /* non-zero: switch to uid/gid in children */
    uid_t uid;
    gid_t gid;
    char name[64];
} pge_user;

/* Root may not run the server: pick postgres, else nobody. */
static int pge_pick_user(pge_user *u, char *err, size_t errlen)
{
    memset(u, 0, sizeof *u);
    if (geteuid() != 0)
        return 0;
    const char *names[] = {"postgres", "nobody"};
    for (size_t i = 0; i < 2; i++) {
        struct passwd *pw = getpwnam(names[i]);
        if (pw) {
            u->drop = 1;
            u->uid = pw->pw_uid;
            u->gid = pw->pw_gid;
            snprintf(u->name, sizeof u->name, "%s", names[i]);
            return 0;
        }
    }
    set_err(err, errlen,
            "running as root and neither user 'postgres' nor 'nobody' exists "
            "to run the embedded PostgreSQL server; create one or set database.url");
    return -1;
}

/* Server programs: database.embedded.bin_dir, else the newest
 * /usr/lib/postgresql/N/bin holding initdb. */
static char *pge_bin_dir(const settings *s, char *err, size_t errlen)
{
    if (s->pg_bin_dir)
        return xstrdup(s->pg_bin_dir);
    DIR *d = opendir("/usr/lib/postgresql");
    int best = -1;
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            int v = atoi(e->d_name);
            char probe[300];
            snprintf(probe, sizeof probe, "/usr/lib/postgresql/%s/bin/initdb", e->d_name);
            if (v > best && access(probe, X_OK) == 0)
                best = v;
        }
        closedir(d);
    }
    if (best < 0) {
        set_err(err, errlen,
                "no PostgreSQL server found under /usr/lib/postgresql (run `make "
                "deps`, or set database.embedded.bin_dir or database.url)");
        return NULL;
    }
    return xasprintf("/usr/lib/postgresql/%d/bin", best);
}

/* Run argv as the server user with output appended to logfile; returns the
 * exit status, or -1 if it could not run. */
static int pge_exec(const pge_user *u, char *const argv[], const char *logfile)
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int fd = open(logfile, O_WRONLY | O_CREAT | O_APPEND, 0640);
        if (fd >= 0) {
            dup2(fd, STDOUT_FILENO);
            dup2(fd, STDERR_FILENO);
            close(fd);
        }
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0)
            dup2(devnull, STDIN_FILENO);
        if (u->drop && (setgroups(0, NULL) != 0 || setgid(u->gid) != 0 || setuid(u->uid) != 0))
            _exit(126);
        execv(argv[0], argv);
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Can the server user create files in dir? (Checked in a child that
 * switches user, as the server will.) */
static int pge_reachable(const pge_user *u, const char *dir)
{
    pid_t pid = fork();
    if (pid == 0) {
        if (u->drop && (setgroups(0, NULL) != 0 || setgid(u->gid) != 0 || setuid(u->uid) != 0))
            _exit(1);
        _exit(access(dir, W_OK | X_OK) == 0 ? 0 : 1);
    }
    int st = 0;
    if (pid < 0 || waitpid(pid, &st, 0) < 0)
        return 0;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* Last line of a log file, for error messages. */
static void pge_tail(const char *path, char *out, size_t len)
{
    char *text = file_read(path, NULL);
    out[0] = '\0';
    if (!text)
        return;
    char *end = text + strlen(text);
    while (end > text && (end[-1] == '\n' || end[-1] == '\r'))
        *--end = '\0';
    char *line = strrchr(text, '\n');
    snprintf(out, len, "%s", line ? line + 1 : text);
    free(text);
}

/* Where the cluster really lives: database.embedded.dir, or the folder
 * named in its LOCATION file when that dir is closed to the server user
 * (a checkout under a private home). Fills eff, a copy of s whose pg_dir
 * points at buf. */
static void pge_effective(const settings *s, settings *eff, char *buf, size_t len)
{
    *eff = *s;
    char *loc = path_join(s->pg_dir, "LOCATION");
    char *text = file_read(loc, NULL);
    free(loc);
    snprintf(buf, len, "%s", text ? text : s->pg_dir);
    buf[strcspn(buf, "\n")] = '\0';
    free(text);
    eff->pg_dir = buf;
}

/* A folder the server user can reach, recorded in DIR/LOCATION. */
static int pge_fallback_dir(const settings *s, const pge_user *u, char *buf, size_t len, char *err,
                            size_t errlen)
{
    char sum[65];
    sha256_hex(s->pg_dir, strlen(s->pg_dir), sum);
    snprintf(buf, len, "/var/tmp/purser-pg-%.16s", sum);
    if (mkdir_p(buf) != 0 || chown(buf, u->uid, u->gid) != 0 || chmod(buf, 0700) != 0) {
        set_err(err, errlen, "cannot prepare %s for the embedded cluster: %s", buf,
                strerror(errno));
        return -1;
    }
    char *loc = path_join(s->pg_dir, "LOCATION");
    FILE *f = fopen(loc, "w");
    int ok = f && fprintf(f, "%s\n", buf) > 0;
    if (f && fclose(f) != 0)
        ok = 0;
    free(loc);
    if (!ok) {
        set_err(err, errlen, "database.embedded.dir '%s': cannot write LOCATION: %s", s->pg_dir,
                strerror(errno));
        return -1;
    }
    log_info("database.embedded.dir %s is closed to user '%s'; the cluster lives in %s "
             "(recorded in %s/LOCATION)",
             s->pg_dir, u->name, buf, s->pg_dir);
    return 0;
}

char *pgembed_conninfo(const settings *s)
{
    settings eff;
    char dir[4096];
    pge_effective(s, &eff, dir, sizeof dir);
    return xasprintf("host=%s port=%lld dbname=purser user=purser", dir, (long long)s->pg_port);
}

static int pge_prepare_dir(const settings *s, const pge_user *u, settings *eff, char *buf,
                           size_t len, char *err, size_t errlen)
{
    if (mkdir_p(s->pg_dir) != 0) {
        set_err(err, errlen, "database.embedded.dir '%s': cannot create: %s", s->pg_dir,
                strerror(errno));
        return -1;
    }
    pge_effective(s, eff, buf, len);
    if (strcmp(eff->pg_dir, s->pg_dir) == 0 && u->drop && !pge_reachable(u, s->pg_dir)) {
        if (pge_fallback_dir(s, u, buf, len, err, errlen) != 0)
            return -1;
    } else if (u->drop && chown(eff->pg_dir, u->uid, u->gid) != 0) {
        set_err(err, errlen, "database.embedded.dir '%s': cannot hand it to user '%s': %s",
                eff->pg_dir, u->name, strerror(errno));
        return -1;
    }
    chmod(eff->pg_dir, 0700);
    if (strlen(eff->pg_dir) + sizeof("/.s.PGSQL.65535") > 107) {
        set_err(err, errlen,
                "database.embedded.dir '%s' is too long for a unix socket path "
                "(max ~90 characters); choose a shorter folder",
                eff->pg_dir);
        return -1;
    }
    return 0;
}

static int pge_initdb(const char *bin, const settings *s, const pge_user *u, char *err,
                      size_t errlen)
{
    char *data = path_join(s->pg_dir, "data");
    char *initdb = path_join(bin, "initdb");
    char *logf = path_join(s->pg_dir, "initdb.log");
    char *argv[] = {
        initdb, "-D", data, "-U", "purser", "-A", "trust", "-E", "UTF8", "--locale=C.UTF-8", NULL};
    log_info("creating the embedded PostgreSQL cluster in %s", data);
    int rc = pge_exec(u, argv, logf);
    if (rc != 0) {
        char last[512];
        pge_tail(logf, last, sizeof last);
        set_err(err, errlen, "initdb failed (exit %d) for %s: %s (see %s)", rc, data, last, logf);
        /* Nothing half-made stays behind: the next start begins afresh. */
        char *rmargv[] = {"/bin/rm", "-rf", data, NULL};
        pge_exec(u, rmargv, "/dev/null");
    }
    free(data);
    free(initdb);
    free(logf);
    return rc == 0 ? 0 : -1;
}

static int pge_pg_ctl(const char *bin, const settings *s, const pge_user *u, const char *action)
{
    char *data = path_join(s->pg_dir, "data");
    char *pg_ctl = path_join(bin, "pg_ctl");
    char *logf = path_join(s->pg_dir, "server.log");
    /* Unix socket only; no replication, so wal_level = minimal lets bulk
     * loads into tables made or emptied in the same transaction skip the
     * WAL (purser simulate). */
    char *opts = xasprintf("-c listen_addresses='' -c unix_socket_directories='%s' -p %lld "
                           "-c wal_level=minimal -c max_wal_senders=0 -c max_wal_size=4GB",
                           s->pg_dir, (long long)s->pg_port);
    char *argv[16];
    int n = 0;
    argv[n++] = pg_ctl;
    argv[n++] = (char *)action;
    argv[n++] = "-D";
    argv[n++] = data;
    if (strcmp(action, "start") == 0) {
        argv[n++] = "-w";
        argv[n++] = "-t";
        argv[n++] = "60";
        argv[n++] = "-l";
        argv[n++] = logf;
        argv[n++] = "-o";
        argv[n++] = opts;
    } else if (strcmp(action, "stop") == 0) {
        argv[n++] = "-m";
        argv[n++] = "fast";
        argv[n++] = "-w";
    }
    argv[n] = NULL;
    char *ctl_log = path_join(s->pg_dir, "pg_ctl.log");
    int rc = pge_exec(u, argv, strcmp(action, "status") == 0 ? "/dev/null" : ctl_log);
    free(ctl_log);
    free(data);
    free(pg_ctl);
    free(logf);
    free(opts);
    return rc;
}

static int pge_ensure_database(const settings *s, char *err, size_t errlen)
{
    char *ci = xasprintf("host=%s port=%lld dbname=postgres user=purser", s->pg_dir,
                         (long long)s->pg_port);
    PGconn *c = PQconnectdb(ci);
    free(ci);
    int rc = -1;
    if (PQstatus(c) != CONNECTION_OK) {
        set_err(err, errlen, "embedded PostgreSQL in %s started but refuses connections: %s",
                s->pg_dir, PQerrorMessage(c));
        PQfinish(c);
        return -1;
    }
    PGresult *r = PQexec(c, "SELECT 1 FROM pg_database WHERE datname = 'purser'");
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
        rc = 0;
    } else {
        PQclear(r);
        r = PQexec(c, "CREATE DATABASE purser");
        if (PQresultStatus(r) == PGRES_COMMAND_OK)
            rc = 0;
        else
            set_err(err, errlen, "cannot create database 'purser': %s", PQerrorMessage(c));
    }
    PQclear(r);
    PQfinish(c);
    return rc;
}

/* Hold an exclusive lock on DIR/.lock while creating or starting. */
static int pge_lock(const settings *s)
{
    char *path = path_join(s->pg_dir, ".lock");
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    free(path);
    if (fd >= 0 && flock(fd, LOCK_EX) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

int pgembed_start(const settings *orig, char *err, size_t errlen)
{
    pge_user u;
    settings eff;
    char dir[4096];
    if (pge_pick_user(&u, err, errlen) != 0)
        return -1;
    if (mkdir_p(orig->pg_dir) != 0) {
        set_err(err, errlen, "database.embedded.dir '%s': cannot create: %s", orig->pg_dir,
                strerror(errno));
        return -1;
    }
    int lock = pge_lock(orig);
    if (pge_prepare_dir(orig, &u, &eff, dir, sizeof dir, err, errlen) != 0) {
        if (lock >= 0)
            close(lock);
        return -1;
    }
    const settings *s = &eff;
    char *bin = pge_bin_dir(s, err, errlen);
    if (!bin) {
        if (lock >= 0)
            close(lock);
        return -1;
    }
    int rc = 0;
    char *version = xasprintf("%s/data/PG_VERSION", s->pg_dir);
    if (!file_exists(version))
        rc = pge_initdb(bin, s, &u, err, errlen);
    free(version);
    if (rc == 0 && pge_pg_ctl(bin, s, &u, "status") != 0) {
        log_info("starting the embedded PostgreSQL server (socket in %s)", s->pg_dir);
        if (pge_pg_ctl(bin, s, &u, "start") != 0) {
            char last[512], *logf = path_join(s->pg_dir, "server.log");
            pge_tail(logf, last, sizeof last);
            set_err(err, errlen, "embedded PostgreSQL did not start: %s (see %s)", last, logf);
            free(logf);
            rc = -1;
        }
    }
    if (rc == 0)
        rc = pge_ensure_database(s, err, errlen);
    if (lock >= 0)
        close(lock);
    free(bin);
    return rc;
}

int pgembed_stop(const settings *orig, char *err, size_t errlen)
{
    pge_user u;
    settings eff;
    char dir[4096];
    pge_effective(orig, &eff, dir, sizeof dir);
    const settings *s = &eff;
    if (pgembed_status(orig) != 1)
        return 0;
    if (pge_pick_user(&u, err, errlen) != 0)
        return -1;
    char *bin = pge_bin_dir(s, err, errlen);
    if (!bin)
        return -1;
    int rc = pge_pg_ctl(bin, s, &u, "stop");
    free(bin);
    if (rc != 0) {
        set_err(err, errlen, "pg_ctl stop failed for %s/data (exit %d)", s->pg_dir, rc);
        return -1;
    }
    return 0;
}

int pgembed_status(const settings *orig)
{
    settings eff;
    char dir[4096];
    pge_effective(orig, &eff, dir, sizeof dir);
    const settings *s = &eff;
    char *version = xasprintf("%s/data/PG_VERSION", s->pg_dir);
    int exists = file_exists(version);
    free(version);
    if (!exists)
        return -1;
    char *pidfile = xasprintf("%s/data/postmaster.pid", s->pg_dir);
    char *text = file_read(pidfile, NULL);
    free(pidfile);
    if (!text)
        return 0;
    pid_t pid = (pid_t)atol(text);
    free(text);
    return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM) ? 1 : 0;
}
