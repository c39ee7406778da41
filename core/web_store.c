/* Users, sessions, audit and login counts of the web page, in SQL. */
#include "web_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"

bool web_role_valid(const char *role)
{
    return role &&
           (strcmp(role, "finance") == 0 || strcmp(role, "ops") == 0 || strcmp(role, "admin") == 0);
}

static int web_role_rank(const char *role)
{
    return !role                          ? 0
           : strcmp(role, "finance") == 0 ? 1
           : strcmp(role, "ops") == 0     ? 2
           : strcmp(role, "admin") == 0   ? 3
                                          : 0;
}

bool web_role_allows(const char *role, const char *need)
{
    int have = web_role_rank(role);
    return have > 0 && have >= web_role_rank(need);
}

bool web_user_name_ok(const char *name)
{
    size_t len = name ? strlen(name) : 0;
    if (len == 0 || len > 64)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '@' || c == '-'))
            return false;
    }
    return true;
}

/* One statement; the result (caller clears) or NULL with the message. */
static PGresult *web_q(PGconn *c, const char *sql, int n, const char *const *v, char *err,
                       size_t errlen)
{
    PGresult *r = PQexecParams(c, sql, n, NULL, v, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
        const char *m = PQresultErrorMessage(r);
        if (err)
            set_err(err, errlen, "%.*s", (int)strcspn(m, "\n"), m);
        else
            log_error("web: %.*s", (int)strcspn(m, "\n"), m);
        PQclear(r);
        return NULL;
    }
    return r;
}

/* Rows changed by a statement: 1 (or more), 0, or -1 on error. */
static int web_changed(PGconn *c, const char *sql, int n, const char *const *v, char *err,
                       size_t errlen)
{
    PGresult *r = web_q(c, sql, n, v, err, errlen);
    if (!r)
        return -1;
    int changed = atoi(PQcmdTuples(r)) > 0;
    PQclear(r);
    return changed;
}

int web_store_user_add(PGconn *c, const char *name, const char *role, const char *hash, char *err,
                       size_t errlen)
{
    const char *v[3] = {name, role, hash};
    return web_changed(c,
                       "INSERT INTO web_users (name, role, password_hash) VALUES ($1, $2, $3) "
                       "ON CONFLICT (name) DO NOTHING",
                       3, v, err, errlen);
}

int web_store_user_passwd(PGconn *c, const char *name, const char *hash, char *err, size_t errlen)
{
    const char *v[2] = {name, hash};
    return web_changed(c,
                       "WITH u AS (UPDATE web_users SET password_hash = $2, password_changed_at = "
                       "now() WHERE name = $1 RETURNING id), s AS (DELETE FROM web_sessions WHERE "
                       "user_id IN (SELECT id FROM u)) SELECT id FROM u",
                       2, v, err, errlen);
}

int web_store_user_remove(PGconn *c, const char *name, char *err, size_t errlen)
{
    const char *v[1] = {name};
    return web_changed(c, "DELETE FROM web_users WHERE name = $1", 1, v, err, errlen);
}

PGresult *web_store_user_list(PGconn *c, char *err, size_t errlen)
{
    return web_q(c,
                 "SELECT u.name, u.role, to_char(u.created_at AT TIME ZONE 'UTC', "
                 "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), (SELECT count(*) FROM web_sessions s WHERE "
                 "s.user_id = u.id AND s.expires_at > now()) FROM web_users u ORDER BY u.name",
                 0, NULL, err, errlen);
}

static void web_user_fill(PGresult *r, web_user *u)
{
    u->id = atoll(PQgetvalue(r, 0, 0));
    snprintf(u->name, sizeof u->name, "%s", PQgetvalue(r, 0, 1));
    snprintf(u->role, sizeof u->role, "%s", PQgetvalue(r, 0, 2));
}

int web_store_user_login(PGconn *c, const char *name, web_user *u, char *hash, size_t hashlen)
{
    const char *v[1] = {name};
    PGresult *r = web_q(c, "SELECT id, name, role, password_hash FROM web_users WHERE name = $1", 1,
                        v, NULL, 0);
    if (!r)
        return -1;
    int found = PQntuples(r) == 1;
    if (found) {
        web_user_fill(r, u);
        snprintf(hash, hashlen, "%s", PQgetvalue(r, 0, 3));
    }
    PQclear(r);
    return found;
}

int web_store_session_add(PGconn *c, const char *id_sha256_hex, int64_t user_id, int64_t ttl_ms,
                          const char *address)
{
    char uid[24], ttl[24];
    snprintf(uid, sizeof uid, "%lld", (long long)user_id);
    snprintf(ttl, sizeof ttl, "%lld", (long long)ttl_ms);
    PQclear(web_q(c, "DELETE FROM web_sessions WHERE expires_at < now()", 0, NULL, NULL, 0));
    const char *v[4] = {id_sha256_hex, uid, ttl, address};
    return web_changed(c,
                       "INSERT INTO web_sessions (id_sha256, user_id, expires_at, address) VALUES "
                       "(decode($1, 'hex'), $2::bigint, now() + $3::bigint * interval '1 ms', $4)",
                       4, v, NULL, 0) == 1
               ? 0
               : -1;
}

int web_store_session_user(PGconn *c, const char *id_sha256_hex, web_user *u)
{
    const char *v[1] = {id_sha256_hex};
    PGresult *r = web_q(c,
                        "SELECT u.id, u.name, u.role FROM web_sessions s JOIN web_users u ON u.id "
                        "= s.user_id WHERE s.id_sha256 = decode($1, 'hex') AND s.expires_at > "
                        "now()",
                        1, v, NULL, 0);
    if (!r)
        return -1;
    int found = PQntuples(r) == 1;
    if (found)
        web_user_fill(r, u);
    PQclear(r);
    return found;
}

int web_store_session_end(PGconn *c, const char *id_sha256_hex)
{
    const char *v[1] = {id_sha256_hex};
    return web_changed(c, "DELETE FROM web_sessions WHERE id_sha256 = decode($1, 'hex')", 1, v,
                       NULL, 0) < 0
               ? -1
               : 0;
}

int web_store_login_failures(PGconn *c, const char *name, const char *address, int64_t window_ms,
                             long *pair, long *address_total)
{
    char win[24];
    snprintf(win, sizeof win, "%lld", (long long)window_ms);
    const char *v[3] = {name, address, win};
    PGresult *r = web_q(c,
                        "SELECT count(*) FILTER (WHERE username = $1), count(*) FROM web_audit "
                        "WHERE action = 'login_failed' AND address = $2 AND at > now() - "
                        "$3::bigint * interval '1 ms'",
                        3, v, NULL, 0);
    if (!r)
        return -1;
    *pair = atol(PQgetvalue(r, 0, 0));
    *address_total = atol(PQgetvalue(r, 0, 1));
    PQclear(r);
    return 0;
}

int web_store_audit(PGconn *c, const char *user, const char *role, const char *action,
                    const char *target, bool ok, const char *address, const char *detail)
{
    const char *v[7] = {user, role, action, target, ok ? "true" : "false", address, detail};
    PGresult *r = web_q(c,
                        "INSERT INTO web_audit (username, role, action, target, ok, address, "
                        "detail) VALUES ($1, $2, $3, $4, $5::boolean, $6, $7)",
                        7, v, NULL, 0);
    PQclear(r);
    return r ? 0 : -1;
}
