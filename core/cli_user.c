/* `purser user add|passwd|list|remove`: the web page's users and their
 * roles (finance, ops, admin). A password is typed twice without echo on
 * a terminal, else read as one line from standard input; only its scrypt
 * hash is stored. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "cli.h"
#include "db.h"
#include "log.h"
#include "web_auth.h"
#include "web_store.h"

#define CLI_USER_USAGE                                                                             \
    "usage: purser user add NAME --role finance|ops|admin | user passwd NAME | user list | "       \
    "user remove NAME"

/* One line from f without its line end; 0, or -1 at EOF or when longer
 * than WEB_PASSWORD_MAX. */
static int cli_user_line(FILE *f, char *buf, size_t len)
{
    if (!fgets(buf, (int)len, f))
        return -1;
    size_t n = strcspn(buf, "\r\n");
    if (buf[n] == '\0' && n == len - 1)
        return -1; /* no line end within the buffer: too long */
    buf[n] = '\0';
    return 0;
}

/* Prompt on the terminal with echo off. */
static int cli_user_prompt(const char *prompt, char *buf, size_t len)
{
    struct termios old, quiet;
    fputs(prompt, stderr);
    fflush(stderr);
    int have_tc = tcgetattr(STDIN_FILENO, &old) == 0;
    if (have_tc) {
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    }
    int rc = cli_user_line(stdin, buf, len);
    if (have_tc)
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
    fputc('\n', stderr);
    return rc;
}

/* The new password, hashed into hash; 0, or 2 (message printed). */
static int cli_user_password(const char *name, char hash[WEB_HASH_MAX])
{
    char pw[WEB_PASSWORD_MAX + 2], again[WEB_PASSWORD_MAX + 2];
    int rc = 0;
    if (isatty(STDIN_FILENO)) {
        char prompt[128];
        snprintf(prompt, sizeof prompt, "Password for %s: ", name);
        if (cli_user_prompt(prompt, pw, sizeof pw) != 0 ||
            cli_user_prompt("Again: ", again, sizeof again) != 0) {
            log_error("user: no password given");
            rc = 2;
        } else if (strcmp(pw, again) != 0) {
            log_error("user: the two passwords differ; nothing changed");
            rc = 2;
        }
    } else if (cli_user_line(stdin, pw, sizeof pw) != 0) {
        log_error("user: expected the password as one line on standard input (at most %d "
                  "bytes)",
                  WEB_PASSWORD_MAX);
        rc = 2;
    }
    if (rc == 0 && strlen(pw) < WEB_PASSWORD_MIN) {
        log_error("user: the password is shorter than %d characters", WEB_PASSWORD_MIN);
        rc = 2;
    }
    if (rc == 0 && web_password_hash(pw, hash) != 0) {
        log_error("user: hashing the password failed (OpenSSL scrypt)");
        rc = 1;
    }
    OPENSSL_cleanse(pw, sizeof pw);
    OPENSSL_cleanse(again, sizeof again);
    return rc;
}

static int cli_user_add(cli_options *o, const char *name, const char *role)
{
    char hash[WEB_HASH_MAX], err[512];
    int rc = cli_user_password(name, hash);
    if (rc != 0)
        return rc;
    PGconn *c;
    int crc = cli_connect(o, &c);
    if (crc != 0)
        return crc;
    int got = web_store_user_add(c, name, role, hash, err, sizeof err);
    if (got == 1)
        printf("user %s added with role %s\n", name, role);
    else if (got == 0)
        log_error("user %s exists already (`purser user passwd %s` sets a new password)", name,
                  name);
    else
        log_error("user add %s: %s (did `purser migrate` run?)", name, err);
    PQfinish(c);
    return got == 1 ? 0 : got == 0 ? 2 : 1;
}

static int cli_user_passwd(cli_options *o, const char *name)
{
    char hash[WEB_HASH_MAX], err[512];
    int rc = cli_user_password(name, hash);
    if (rc != 0)
        return rc;
    PGconn *c;
    int crc = cli_connect(o, &c);
    if (crc != 0)
        return crc;
    int got = web_store_user_passwd(c, name, hash, err, sizeof err);
    if (got == 1)
        printf("user %s: password changed; their sessions are ended\n", name);
    else if (got == 0)
        log_error("no user named '%s' (see `purser user list`)", name);
    else
        log_error("user passwd %s: %s", name, err);
    PQfinish(c);
    return got == 1 ? 0 : got == 0 ? 2 : 1;
}

static int cli_user_remove(cli_options *o, const char *name)
{
    char err[512];
    PGconn *c;
    int crc = cli_connect(o, &c);
    if (crc != 0)
        return crc;
    int got = web_store_user_remove(c, name, err, sizeof err);
    if (got == 1)
        printf("user %s removed; their sessions are ended\n", name);
    else if (got == 0)
        log_error("no user named '%s' (see `purser user list`)", name);
    else
        log_error("user remove %s: %s", name, err);
    PQfinish(c);
    return got == 1 ? 0 : got == 0 ? 2 : 1;
}

static int cli_user_list(cli_options *o)
{
    char err[512];
    PGconn *c;
    int crc = cli_connect(o, &c);
    if (crc != 0)
        return crc;
    PGresult *r = web_store_user_list(c, err, sizeof err);
    if (r)
        for (int i = 0; i < PQntuples(r); i++)
            printf("%-24s %-8s created %s  %s session(s)\n", PQgetvalue(r, i, 0),
                   PQgetvalue(r, i, 1), PQgetvalue(r, i, 2), PQgetvalue(r, i, 3));
    else
        log_error("user list: %s (did `purser migrate` run?)", err);
    PQclear(r);
    PQfinish(c);
    return r ? 0 : 1;
}

int cli_user(cli_options *o, int argc, char **argv)
{
    const char *sub = argc >= 2 ? argv[1] : "";
    if (strcmp(sub, "list") == 0 && argc == 2)
        return cli_user_list(o);
    if (argc < 3 || ((strcmp(sub, "passwd") == 0 || strcmp(sub, "remove") == 0) && argc != 3)) {
        log_error(CLI_USER_USAGE);
        return 2;
    }
    const char *name = argv[2];
    if (!web_user_name_ok(name)) {
        log_error("user name '%s': expected 1 to 64 of A-Z a-z 0-9 _ . @ -", name);
        return 2;
    }
    if (strcmp(sub, "passwd") == 0)
        return cli_user_passwd(o, name);
    if (strcmp(sub, "remove") == 0)
        return cli_user_remove(o, name);
    if (strcmp(sub, "add") != 0 || argc != 5 || strcmp(argv[3], "--role") != 0) {
        log_error(CLI_USER_USAGE);
        return 2;
    }
    if (!web_role_valid(argv[4])) {
        log_error("--role '%s': expected finance, ops or admin", argv[4]);
        return 2;
    }
    return cli_user_add(o, name, argv[4]);
}
