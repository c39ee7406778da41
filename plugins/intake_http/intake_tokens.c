/* API tokens: `purser token create|list|revoke`, and the bearer check of
 * every request. A token is shown once at creation; the store keeps only
 * its SHA-256. Requests check against an in-memory copy of the active
 * hashes, reloaded every plugins.intake_http.token_cache (a revocation
 * takes effect within that time) and at most once a second on a miss. */
#include <libpq-fe.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "intake_internal.h"

static double intake_clock(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Reload the active hashes; 0, or -1 when the database cannot be read. */
static int intake_tokens_load(intake_state *st, purser_ctx *ctx)
{
    PGconn *c = st->host->db(ctx);
    PGresult *r = c ? PQexec(c, "SELECT name, token_sha256 FROM intake_tokens "
                                "WHERE revoked_at IS NULL")
                    : NULL;
    if (PQresultStatus(r) != PGRES_TUPLES_OK) { /* also no connection: counted too */
        intake_db_error(st, ctx, "reading intake_tokens", r ? PQresultErrorMessage(r) : NULL);
        PQclear(r);
        return -1;
    }
    int n = PQntuples(r);
    intake_token *t = calloc(n ? (size_t)n : 1, sizeof *t);
    if (!t) {
        PQclear(r);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        snprintf(t[i].name, sizeof t[i].name, "%s", PQgetvalue(r, i, 0));
        size_t len = 0;
        unsigned char *raw = PQunescapeBytea((const unsigned char *)PQgetvalue(r, i, 1), &len);
        if (raw && len == sizeof t[i].hash)
            memcpy(t[i].hash, raw, len);
        PQfreemem(raw);
    }
    PQclear(r);
    pthread_mutex_lock(&st->lock);
    free(st->tokens);
    st->tokens = t;
    st->n_tokens = (size_t)n;
    st->tokens_at = intake_clock();
    pthread_mutex_unlock(&st->lock);
    return 0;
}

/* 1 found (name copied), 0 not, -1 never loaded. */
static int intake_tokens_find(intake_state *st, const unsigned char hash[32], char *name,
                              size_t namelen, double *age)
{
    pthread_mutex_lock(&st->lock);
    int found = st->tokens_at > 0 ? 0 : -1;
    for (size_t i = 0; i < st->n_tokens; i++)
        if (CRYPTO_memcmp(st->tokens[i].hash, hash, 32) == 0) {
            snprintf(name, namelen, "%s", st->tokens[i].name);
            found = 1;
        }
    *age = st->tokens_at > 0 ? intake_clock() - st->tokens_at : 1e9;
    pthread_mutex_unlock(&st->lock);
    return found;
}

int intake_auth(intake_state *st, purser_ctx *ctx, const purser_http_request *req, char *name,
                size_t namelen)
{
    const char *h = req->header(req, "Authorization");
    if (!h || strncasecmp(h, "Bearer ", 7) != 0)
        return 0;
    const char *tok = h + 7;
    while (*tok == ' ')
        tok++;
    if (!*tok || strlen(tok) > 512)
        return 0;
    unsigned char hash[32];
    SHA256((const unsigned char *)tok, strlen(tok), hash);
    double age;
    int found = intake_tokens_find(st, hash, name, namelen, &age);
    double max_age = (double)st->token_cache_ms / 1000.0;
    if (found < 0 || age > max_age || (found == 0 && age > 1.0)) {
        /* The first load is waited for; a refresh is done by one request
         * while the others use the copy they have. */
        if (found < 0)
            pthread_mutex_lock(&st->load_lock);
        else if (pthread_mutex_trylock(&st->load_lock) != 0)
            return found == 1; /* a little stale for the moment of the refresh */
        found = intake_tokens_find(st, hash, name, namelen, &age);
        int loaded = 1;
        if (found < 0 || age > max_age || (found == 0 && age > 1.0)) {
            loaded = intake_tokens_load(st, ctx) == 0;
            if (loaded)
                found = intake_tokens_find(st, hash, name, namelen, &age);
        }
        pthread_mutex_unlock(&st->load_lock);
        if (!loaded && (found < 0 || age > max_age)) /* stale and cannot refresh */
            return -1;
    }
    return found == 1;
}

/* ---- the commands ------------------------------------------------------------------ */

static int intake_token_usage(void)
{
    fprintf(stderr, "usage: purser token create NAME | list | revoke NAME\n"
                    "  NAME: 1 to 64 of A-Z a-z 0-9 _ . - (e.g. the storefront's name)\n");
    return 2;
}

static int intake_token_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_' || *s == '.' || *s == '-'))
            return 0;
    return 1;
}

static int intake_token_create(intake_state *st, purser_ctx *ctx, PGconn *c, const char *name)
{
    unsigned char raw[32], hash[32];
    if (RAND_bytes(raw, sizeof raw) != 1) {
        fprintf(stderr, "token create: no random bytes from OpenSSL\n");
        return 1;
    }
    char token[4 + 64 + 1] = "prs_";
    for (size_t i = 0; i < sizeof raw; i++)
        snprintf(token + 4 + 2 * i, 3, "%02x", raw[i]);
    SHA256((const unsigned char *)token, strlen(token), hash);
    const char *v[2] = {name, (const char *)hash};
    int lens[2] = {0, 32}, fmts[2] = {0, 1};
    PGresult *r = PQexecParams(c,
                               "INSERT INTO intake_tokens (name, token_sha256) VALUES ($1, $2) "
                               "ON CONFLICT (name) DO NOTHING RETURNING 1",
                               2, NULL, v, lens, fmts, 0);
    int rc = 0;
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        fprintf(stderr, "token create: %s", PQresultErrorMessage(r));
        rc = 1;
    } else if (PQntuples(r) == 0) {
        fprintf(stderr,
                "token create: a token named '%s' exists already (revoke it first, "
                "or pick another name)\n",
                name);
        rc = 1;
    } else {
        printf("%s\n", token);
        fprintf(stderr,
                "token '%s' created: it is shown only now; send it as "
                "'Authorization: Bearer <token>'\n",
                name);
        st->host->log(ctx, PURSER_LOG_INFO, "token '%s' created", name);
    }
    PQclear(r);
    return rc;
}

static int intake_token_list(PGconn *c)
{
    PGresult *r = PQexec(c, "SELECT name, to_char(created_at AT TIME ZONE 'UTC', "
                            "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), coalesce(to_char(revoked_at AT "
                            "TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), '') "
                            "FROM intake_tokens ORDER BY name");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        fprintf(stderr, "token list: %s", PQresultErrorMessage(r));
        PQclear(r);
        return 1;
    }
    printf("%-32s %-21s %s\n", "NAME", "CREATED", "REVOKED");
    for (int i = 0; i < PQntuples(r); i++)
        printf("%-32s %-21s %s\n", PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), PQgetvalue(r, i, 2));
    PQclear(r);
    return 0;
}

static int intake_token_revoke(intake_state *st, purser_ctx *ctx, PGconn *c, const char *name)
{
    const char *v[1] = {name};
    PGresult *r = PQexecParams(c,
                               "UPDATE intake_tokens SET revoked_at = now() WHERE name = $1 "
                               "AND revoked_at IS NULL RETURNING 1",
                               1, NULL, v, NULL, NULL, 0);
    int rc = 0;
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        fprintf(stderr, "token revoke: %s", PQresultErrorMessage(r));
        rc = 1;
    } else if (PQntuples(r) == 0) {
        fprintf(stderr, "token revoke: no active token named '%s' (see `purser token list`)\n",
                name);
        rc = 1;
    } else {
        fprintf(stderr,
                "token '%s' revoked (servers stop accepting it within the token "
                "cache time)\n",
                name);
        st->host->log(ctx, PURSER_LOG_INFO, "token '%s' revoked", name);
    }
    PQclear(r);
    return rc;
}

int intake_token_main(void *state, purser_ctx *ctx, int argc, char **argv)
{
    intake_state *st = state;
    if (argc < 2)
        return intake_token_usage();
    int create = strcmp(argv[1], "create") == 0, revoke = strcmp(argv[1], "revoke") == 0;
    int list = strcmp(argv[1], "list") == 0;
    if (!(create || revoke || list) || (list && argc != 2) || (!list && argc != 3))
        return intake_token_usage();
    if (!list && !intake_token_name_ok(argv[2])) {
        fprintf(stderr, "token %s: name '%s' must be 1 to 64 of A-Z a-z 0-9 _ . -\n", argv[1],
                argv[2]);
        return 2;
    }
    PGconn *c = st->host->db(ctx);
    if (!c)
        return 1;
    PGresult *r = PQexec(c, "SELECT to_regclass('intake_tokens') IS NOT NULL");
    int ready = PQresultStatus(r) == PGRES_TUPLES_OK && PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    if (!ready) {
        fprintf(stderr, "token: the table intake_tokens is missing: run `purser migrate` first\n");
        return 1;
    }
    if (create)
        return intake_token_create(st, ctx, c, argv[2]);
    if (revoke)
        return intake_token_revoke(st, ctx, c, argv[2]);
    return intake_token_list(c);
}
