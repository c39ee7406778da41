/* The web page's tables (core/migrations/0020_web.sql): users, sessions,
 * the audit trail and the login rate limit's counts. Every function is one
 * parameterised statement on a connection the caller owns; -1 means a
 * database error, with the server's first line in err where there is one. */
#ifndef PURSER_WEB_STORE_H
#define PURSER_WEB_STORE_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct web_user {
    int64_t id;
    char name[65];
    char role[16]; /* finance, ops or admin */
} web_user;

/* Is role one of finance, ops, admin? */
bool web_role_valid(const char *role);
/* Does role have at least the rights of `need` (finance < ops < admin)? */
bool web_role_allows(const char *role, const char *need);
/* Is name a valid user name: 1 to 64 of [A-Za-z0-9_.@-]? */
bool web_user_name_ok(const char *name);

/* Add a user with a password hash. 1 added, 0 the name exists, -1 error. */
int web_store_user_add(PGconn *c, const char *name, const char *role, const char *hash, char *err,
                       size_t errlen);
/* Replace a user's password hash and end their sessions. 1, 0 no such
 * user, -1 error. */
int web_store_user_passwd(PGconn *c, const char *name, const char *hash, char *err, size_t errlen);
/* Remove a user (their sessions go with them). 1, 0 no such user, -1. */
int web_store_user_remove(PGconn *c, const char *name, char *err, size_t errlen);
/* Every user: name, role, created (UTC text), open sessions. The result is
 * the caller's to PQclear; NULL on error. */
PGresult *web_store_user_list(PGconn *c, char *err, size_t errlen);

/* A user and their stored hash by name, for the login form. 1 found (u
 * and hash filled), 0 none, -1 error. */
int web_store_user_login(PGconn *c, const char *name, web_user *u, char *hash, size_t hashlen);

/* Record a session: the SHA-256 (hex) of its id, valid for ttl_ms. 0 / -1.
 * Expired sessions are deleted on the way. */
int web_store_session_add(PGconn *c, const char *id_sha256_hex, int64_t user_id, int64_t ttl_ms,
                          const char *address);
/* The user of an unexpired session. 1 found, 0 none, -1 error. */
int web_store_session_user(PGconn *c, const char *id_sha256_hex, web_user *u);
/* End a session (logout). 0 / -1. */
int web_store_session_end(PGconn *c, const char *id_sha256_hex);

/* Failed logins within the last window_ms: for this name from this
 * address (*pair) and from this address for any name (*address_total).
 * 0 / -1. */
int web_store_login_failures(PGconn *c, const char *name, const char *address, int64_t window_ms,
                             long *pair, long *address_total);

/* Append to the audit trail. user/role/target/detail may be NULL. A
 * failure to record is logged, never hidden: returns -1. */
int web_store_audit(PGconn *c, const char *user, const char *role, const char *action,
                    const char *target, bool ok, const char *address, const char *detail);

#endif
