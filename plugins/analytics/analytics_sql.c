/* analytics_sql.c: the SQL side of a report — :name parameters rewritten
 * to $1..$n outside strings, identifiers and comments (the values are
 * bound, never spliced), the run's period as :from/:to/:date, the
 * read-only transaction the queries run in, server errors mapped back to
 * the definition's line and column, and the database checks behind
 * `purser analytics check`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "analytics.h"

#define AN_OID_BOOL 16
#define AN_OID_INT8 20
#define AN_OID_INT2 21
#define AN_OID_INT4 23
#define AN_OID_TEXT 25
#define AN_OID_OID 26
#define AN_OID_FLOAT4 700
#define AN_OID_FLOAT8 701
#define AN_OID_DATE 1082
#define AN_OID_TIMESTAMP 1114
#define AN_OID_TIMESTAMPTZ 1184
#define AN_OID_NUMERIC 1700

static const Oid an_param_oids[] = {AN_OID_TEXT, AN_OID_INT8,        AN_OID_NUMERIC,
                                    AN_OID_DATE, AN_OID_TIMESTAMPTZ, AN_OID_BOOL};

static int an_ident_start(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (unsigned char)c >= 0x80;
}

static int an_ident_char(char c)
{
    return an_ident_start(c) || (c >= '0' && c <= '9') || c == '$';
}

/* The parameter named by the n bytes at s: its value, type and name. */
static int an_lookup(const an_def *def, const an_bind *b, const char *s, size_t n,
                     const char **name, Oid *type, const char **value)
{
    static const char *const builtin[] = {"from", "to", "date"};
    const char *bval[] = {b->from, b->to, b->date};
    const Oid btype[] = {AN_OID_TIMESTAMPTZ, AN_OID_TIMESTAMPTZ, AN_OID_DATE};
    for (int i = 0; i < 3; i++)
        if (strlen(builtin[i]) == n && strncmp(builtin[i], s, n) == 0) {
            *name = builtin[i];
            *type = btype[i];
            *value = bval[i];
            return 0;
        }
    for (size_t i = 0; i < def->n_params; i++)
        if (def->params[i].name && strlen(def->params[i].name) == n &&
            strncmp(def->params[i].name, s, n) == 0) {
            *name = def->params[i].name;
            *type = an_param_oids[def->params[i].type];
            *value = b->values ? b->values[i] : NULL;
            return 0;
        }
    return -1;
}

/* Where the quoted or commented text starting at q[i] ends (the index
 * after it), or 0 when q[i] starts none of them; -1 if unterminated. */
static long an_skip(const char *q, size_t len, size_t i)
{
    char c = q[i], d = i + 1 < len ? q[i + 1] : '\0';
    if (c == '-' && d == '-') {
        const char *nl = memchr(q + i, '\n', len - i);
        return nl ? (long)(nl - q) : (long)len;
    }
    if (c == '/' && d == '*') {
        int depth = 0;
        for (size_t k = i; k + 1 < len; k++) {
            if (q[k] == '/' && q[k + 1] == '*') {
                depth++;
                k++;
            } else if (q[k] == '*' && q[k + 1] == '/') {
                k++;
                if (--depth == 0)
                    return (long)k + 1;
            }
        }
        return -1;
    }
    if (c == '\'' || c == '"') {
        /* E'...' strings take backslash escapes */
        int esc = c == '\'' && i > 0 && (q[i - 1] == 'E' || q[i - 1] == 'e') &&
                  (i < 2 || !an_ident_char(q[i - 2]));
        for (size_t k = i + 1; k < len; k++) {
            if (esc && q[k] == '\\') {
                k++;
            } else if (q[k] == c) {
                if (k + 1 < len && q[k + 1] == c)
                    k++;
                else
                    return (long)k + 1;
            }
        }
        return -1;
    }
    if (c == '$' && (i == 0 || !an_ident_char(q[i - 1]))) {
        size_t k = i + 1;
        if (k < len && q[k] >= '0' && q[k] <= '9')
            return 0; /* $1: refused by the caller */
        while (k < len && an_ident_char(q[k]) && q[k] != '$')
            k++;
        if (k >= len || q[k] != '$')
            return 0;
        size_t tag = k + 1 - i; /* "$tag$" */
        for (size_t m = k + 1; m + tag <= len; m++)
            if (memcmp(q + m, q + i, tag) == 0)
                return (long)(m + tag);
        return -1;
    }
    return 0;
}

int an_query_build(const an_def *def, const an_sheet *sh, const an_bind *b, an_query *q,
                   an_errs *errs)
{
    memset(q, 0, sizeof *q);
    const char *src = sh->query;
    size_t len = strlen(src), cap = len * 2 + 16, o = 0;
    q->sql = malloc(cap);
    q->map = malloc(cap * sizeof *q->map);
    size_t maxp = def->n_params + 3;
    q->names = calloc(maxp, sizeof *q->names);
    q->types = calloc(maxp, sizeof *q->types);
    q->values = calloc(maxp, sizeof *q->values);
    if (!q->sql || !q->map || !q->names || !q->types || !q->values) {
        an_err(errs, def->path, sh->query_pos, "sheet '%s': out of memory", sh->name);
        return -1;
    }
#define AN_PUT(ch, from)                                                                           \
    do {                                                                                           \
        q->map[o] = (from);                                                                        \
        q->sql[o++] = (ch);                                                                        \
    } while (0)
    for (size_t i = 0; i < len;) {
        long end = an_skip(src, len, i);
        if (end < 0) {
            an_err(errs, def->path, an_query_pos(def, sh, i),
                   "sheet '%s': query: unterminated quote or comment starting here", sh->name);
            return -1;
        }
        if (end > 0) {
            for (; i < (size_t)end; i++)
                AN_PUT(src[i], i);
            continue;
        }
        char c = src[i];
        if (c == '$' && i + 1 < len && src[i + 1] >= '0' && src[i + 1] <= '9' &&
            (i == 0 || !an_ident_char(src[i - 1]))) {
            an_err(errs, def->path, an_query_pos(def, sh, i),
                   "sheet '%s': query: write parameters as :name (:from, :to, :date or a "
                   "declared one), not $n",
                   sh->name);
            return -1;
        }
        if (c == ':' && i + 1 < len && src[i + 1] == ':') {
            AN_PUT(':', i);
            AN_PUT(':', i + 1);
            i += 2;
            continue;
        }
        if (c == ':' && i + 1 < len && an_ident_start(src[i + 1])) {
            size_t n = 1;
            while (i + 1 + n < len && an_ident_char(src[i + 1 + n]) && src[i + 1 + n] != '$')
                n++;
            const char *name, *value;
            Oid type;
            if (an_lookup(def, b, src + i + 1, n, &name, &type, &value) != 0) {
                char known[512] = ":from, :to, :date";
                for (size_t k = 0; k < def->n_params; k++)
                    if (def->params[k].name)
                        snprintf(known + strlen(known), sizeof known - strlen(known), ", :%s",
                                 def->params[k].name);
                an_err(errs, def->path, an_query_pos(def, sh, i),
                       "sheet '%s': query: unknown parameter :%.*s (known: %s; declare others "
                       "under parameters:)",
                       sh->name, (int)n, src + i + 1, known);
                return -1;
            }
            int k = 0;
            while (k < q->n && q->names[k] != name)
                k++;
            if (k == q->n) {
                q->names[k] = name;
                q->types[k] = type;
                q->values[k] = value;
                q->n++;
            }
            char num[16];
            snprintf(num, sizeof num, "$%d", k + 1);
            for (char *p = num; *p; p++)
                AN_PUT(*p, i);
            i += 1 + n;
            continue;
        }
        AN_PUT(c, i);
        i++;
    }
#undef AN_PUT
    q->sql[o] = '\0';
    q->map[o] = len;
    q->len = o;
    return 0;
}

void an_query_free(an_query *q)
{
    free(q->sql);
    free(q->map);
    free((void *)q->names);
    free(q->types);
    free((void *)q->values);
    memset(q, 0, sizeof *q);
}

an_pos an_query_pos(const an_def *def, const an_sheet *sh, size_t off)
{
    (void)def;
    int line = 0, col = 0;
    for (size_t i = 0; i < off && sh->query[i]; i++) {
        if (sh->query[i] == '\n') {
            line++;
            col = 0;
        } else if (((unsigned char)sh->query[i] & 0xC0) != 0x80) {
            col++;
        }
    }
    if (sh->query_literal)
        return (an_pos){sh->query_pos.line + 1 + line, sh->query_indent + 1 + col};
    if (line == 0)
        return (an_pos){sh->query_pos.line, sh->query_pos.col + col};
    return (an_pos){sh->query_pos.line + line, col + 1};
}

/* prefix: bytes sent before the rewritten query (EXPLAIN ...). */
static void an_query_error_at(const an_def *def, const an_sheet *sh, const an_query *q, PGresult *r,
                              const char *what, size_t prefix, an_errs *errs)
{
    const char *msg = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    const char *hint = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_HINT) : NULL;
    const char *at = r ? PQresultErrorField(r, PG_DIAG_STATEMENT_POSITION) : NULL;
    an_pos pos = sh->query_pos;
    if (at && q && q->sql) {
        /* 1-based, in characters, of the text sent: the ASCII prefix + q->sql */
        long want = atol(at) - 1 - (long)prefix, c = 0;
        size_t byte = 0;
        while (byte < q->len && c < want) {
            byte++;
            while (byte < q->len && ((unsigned char)q->sql[byte] & 0xC0) == 0x80)
                byte++;
            c++;
        }
        if (want >= 0)
            pos = an_query_pos(def, sh, q->map[byte]);
    }
    an_err(errs, def->path, pos, "sheet '%s': %s: %s%s%s", sh->name, what,
           msg ? msg : (r ? PQresultErrorMessage(r) : "no answer from the server"),
           hint ? " (hint: " : "", hint ? hint : "");
    if (hint) {
        char *last = errs->items[errs->count - 1];
        char *fixed = NULL;
        if (asprintf(&fixed, "%s)", last) >= 0) {
            free(last);
            errs->items[errs->count - 1] = fixed;
        }
    }
}

void an_query_error(const an_def *def, const an_sheet *sh, const an_query *q, PGresult *r,
                    const char *what, an_errs *errs)
{
    an_query_error_at(def, sh, q, r, what, 0, errs);
}

int an_period_bounds(an_period p, const char *date, an_bind *b, char *from_date, char *to_date)
{
    int y, m, d;
    char extra;
    if (!date || sscanf(date, "%4d-%2d-%2d%c", &y, &m, &d, &extra) != 3)
        return -1;
    struct tm tm = {.tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d, .tm_hour = 12};
    time_t t = timegm(&tm);
    struct tm chk;
    gmtime_r(&t, &chk);
    if (chk.tm_year != y - 1900 || chk.tm_mon != m - 1 || chk.tm_mday != d)
        return -1;
    struct tm from = chk, to = chk;
    if (p == AN_WEEK) {
        from.tm_mday -= (chk.tm_wday + 6) % 7; /* back to Monday */
        to = from;
        to.tm_mday += 7;
    } else if (p == AN_MONTH) {
        from.tm_mday = 1;
        to = from;
        to.tm_mon++;
    } else {
        to.tm_mday++;
    }
    time_t tf = timegm(&from), tt = timegm(&to), tl = tt - 86400;
    gmtime_r(&tf, &from);
    gmtime_r(&tt, &to);
    struct tm last;
    gmtime_r(&tl, &last);
    strftime(b->from, sizeof b->from, "%Y-%m-%d", &from);
    strftime(b->to, sizeof b->to, "%Y-%m-%d", &to);
    snprintf(b->date, sizeof b->date, "%04d-%02d-%02d", y, m, d);
    strftime(from_date, 16, "%Y-%m-%d", &from);
    strftime(to_date, 16, "%Y-%m-%d", &last);
    return 0;
}

int an_tx_begin(PGconn *db, int64_t timeout_ms, int jit, const char *tz, char *err, size_t len)
{
    PGresult *r = PQexec(db, "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY");
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok)
        snprintf(err, len, "BEGIN READ ONLY: %s", PQresultErrorMessage(r));
    PQclear(r);
    if (!ok)
        return -1;
    char ms[32];
    snprintf(ms, sizeof ms, "%lld", (long long)timeout_ms);
    const char *vals[3] = {ms, tz && *tz ? tz : "UTC", jit ? "on" : "off"};
    r = PQexecParams(db,
                     "SELECT set_config('statement_timeout', $1, true), "
                     "set_config('TimeZone', $2, true), set_config('jit', $3, true)",
                     3, NULL, vals, NULL, NULL, 0);
    ok = PQresultStatus(r) == PGRES_TUPLES_OK;
    if (!ok)
        snprintf(err, len, "setting statement_timeout %s ms and TimeZone %s: %s", ms, vals[1],
                 PQresultErrorMessage(r));
    PQclear(r);
    if (!ok)
        an_tx_end(db);
    return ok ? 0 : -1;
}

void an_tx_end(PGconn *db)
{
    PQclear(PQexec(db, "ROLLBACK"));
}

/* ---- result columns ------------------------------------------------------------ */

static int an_type_ok(an_coltype t, Oid o)
{
    int ints = o == AN_OID_INT2 || o == AN_OID_INT4 || o == AN_OID_INT8 || o == AN_OID_OID;
    int nums = ints || o == AN_OID_NUMERIC || o == AN_OID_FLOAT4 || o == AN_OID_FLOAT8;
    switch (t) {
    case AN_TEXT:
        return 1;
    case AN_INTEGER:
    case AN_MONEY:
        return ints || o == AN_OID_NUMERIC;
    case AN_DECIMAL:
    case AN_PERCENT:
        return nums;
    case AN_DATE:
    case AN_DATETIME:
        return o == AN_OID_DATE || o == AN_OID_TIMESTAMP || o == AN_OID_TIMESTAMPTZ;
    }
    return 0;
}

static an_coltype an_type_of(Oid o)
{
    if (o == AN_OID_INT2 || o == AN_OID_INT4 || o == AN_OID_INT8 || o == AN_OID_OID)
        return AN_INTEGER;
    if (o == AN_OID_NUMERIC || o == AN_OID_FLOAT4 || o == AN_OID_FLOAT8)
        return AN_DECIMAL;
    if (o == AN_OID_DATE)
        return AN_DATE;
    if (o == AN_OID_TIMESTAMP || o == AN_OID_TIMESTAMPTZ)
        return AN_DATETIME;
    return AN_TEXT;
}

static int an_result_col(const PGresult *desc, const char *name)
{
    for (int i = 0; i < PQnfields(desc); i++)
        if (strcmp(PQfname(desc, i), name) == 0)
            return i;
    return -1;
}

static void an_result_names(const PGresult *desc, char *buf, size_t len)
{
    buf[0] = '\0';
    for (int i = 0; i < PQnfields(desc); i++)
        snprintf(buf + strlen(buf), len - strlen(buf), "%s%s", i ? ", " : "", PQfname(desc, i));
}

int an_match_columns(const an_def *def, an_sheet *sh, const PGresult *desc, an_errs *errs)
{
    size_t before = errs->count;
    int nf = PQnfields(desc);
    if (nf == 0) {
        an_err(errs, def->path, sh->query_pos,
               "sheet '%s': the query returns no columns: a report query is a SELECT", sh->name);
        return -1;
    }
    if (sh->n_cols == 0) { /* every result column, typed by SQL */
        if (!(sh->cols = calloc((size_t)nf, sizeof *sh->cols)))
            return -1;
        for (int i = 0; i < nf; i++) {
            an_column *c = &sh->cols[sh->n_cols++];
            c->field = strdup(PQfname(desc, i));
            c->type = an_type_of(PQftype(desc, i));
            c->idx = i;
            c->cur_idx = -1;
            c->pos = sh->pos;
        }
        return an_check_refs(def, sh, errs);
    }
    const char *names[256];
    int nn = 0;
    for (int i = 0; i < nf && nn < 256; i++)
        names[nn++] = PQfname(desc, i);
    for (size_t i = 0; i < sh->n_cols; i++) {
        an_column *c = &sh->cols[i];
        c->idx = an_result_col(desc, c->field);
        if (c->idx < 0) {
            char all[1024];
            an_result_names(desc, all, sizeof all);
            const char *close = an_suggest(c->field, names, (size_t)nn);
            an_err(errs, def->path, c->pos,
                   "sheet '%s': column '%s' is not in the query's result%s%s%s (it has: %s)",
                   sh->name, c->field, close ? " (did you mean '" : "", close ? close : "",
                   close ? "'?)" : "", all);
            continue;
        }
        Oid o = PQftype(desc, c->idx);
        if (!c->type_given)
            c->type = an_type_of(o);
        else if (!an_type_ok(c->type, o))
            an_err(errs, def->path, c->pos,
                   "sheet '%s': column '%s' is declared %s but the query gives SQL type oid %u "
                   "(cast it in the query, or change type:)",
                   sh->name, c->field, an_coltype_name(c->type), (unsigned)o);
        c->cur_idx = -1;
        if (c->currency_field && (c->cur_idx = an_result_col(desc, c->currency_field)) < 0)
            an_err(errs, def->path, c->pos,
                   "sheet '%s': column '%s': currency_field '%s' is not in the query's result",
                   sh->name, c->field, c->currency_field);
    }
    return errs->count == before ? 0 : -1;
}

/* ---- the database check ------------------------------------------------------- */

/* Stand-in values for EXPLAIN of parameters with no default. */
static const char *an_sample(an_ptype t, const char *date)
{
    switch (t) {
    case AN_P_TEXT:
        return "";
    case AN_P_INTEGER:
    case AN_P_DECIMAL:
        return "0";
    case AN_P_DATE:
    case AN_P_DATETIME:
        return date;
    case AN_P_BOOL:
        return "false";
    }
    return "";
}

static int an_check_sheet(PGconn *db, an_def *def, an_sheet *sh, const an_bind *b,
                          int64_t timeout_ms, int jit, an_errs *errs)
{
    an_query q;
    if (an_query_build(def, sh, b, &q, errs) != 0) {
        an_query_free(&q);
        return -1;
    }
    char err[1024];
    if (an_tx_begin(db, timeout_ms, jit, "UTC", err, sizeof err) != 0) {
        an_err(errs, def->path, sh->query_pos, "sheet '%s': %s", sh->name, err);
        an_query_free(&q);
        return -1;
    }
    int rc = -1;
    PGresult *r = PQprepare(db, "", q.sql, q.n, q.types);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        an_query_error(def, sh, &q, r, "query", errs);
        goto out;
    }
    PQclear(r);
    r = PQdescribePrepared(db, "");
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        an_query_error(def, sh, &q, r, "query", errs);
        goto out;
    }
    if (an_match_columns(def, sh, r, errs) != 0)
        goto out;
    PQclear(r);
    static const char explain[] = "EXPLAIN (FORMAT JSON) ";
    size_t elen = strlen(explain);
    char *sql = malloc(elen + q.len + 1);
    if (!sql) {
        r = NULL;
        goto out;
    }
    memcpy(sql, explain, elen);
    memcpy(sql + elen, q.sql, q.len + 1);
    r = PQexecParams(db, sql, q.n, q.types, q.values, NULL, NULL, 0);
    free(sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        an_query_error_at(def, sh, &q, r, "EXPLAIN", elen, errs);
        goto out;
    }
    if (PQntuples(r) > 0 && strstr(PQgetvalue(r, 0, 0), "\"ModifyTable\"")) {
        an_err(errs, def->path, sh->query_pos,
               "sheet '%s': the query writes (INSERT, UPDATE, DELETE or MERGE, perhaps in a "
               "WITH): report queries are read-only",
               sh->name);
        goto out;
    }
    rc = 0;
out:
    PQclear(r);
    an_tx_end(db);
    an_query_free(&q);
    return rc;
}

int an_check_db(PGconn *db, an_def *def, const an_bind *b, int64_t timeout_ms, int jit,
                an_errs *errs)
{
    an_bind bind = *b;
    const char **vals = calloc(def->n_params ? def->n_params : 1, sizeof *vals);
    if (!vals)
        return -1;
    for (size_t i = 0; i < def->n_params; i++)
        vals[i] = b->values && b->values[i]      ? b->values[i]
                  : def->params[i].default_value ? def->params[i].default_value
                                                 : an_sample(def->params[i].type, b->date);
    bind.values = vals;
    int rc = 0;
    for (size_t i = 0; i < def->n_sheets; i++)
        if (an_check_sheet(db, def, &def->sheets[i], &bind, timeout_ms, jit, errs) != 0)
            rc = -1;
    free((void *)vals);
    return rc;
}
