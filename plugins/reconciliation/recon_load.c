/* Loading a fetched report into recon_rows: the reference data the parser
 * checks against (ISO 4217 exponents, the zone names PostgreSQL knows),
 * the same-content check, and one streamed COPY per file inside the
 * caller's transaction, so that a file rejected half-way leaves nothing. */
#include <errno.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "recon_internal.h"

/* ---- reference data ---------------------------------------------------------- */

typedef struct recon_currency {
    char code[4];
    int exponent;
} recon_currency;

struct recon_refdata {
    recon_currency *cur;
    size_t n_cur;
    char **zones; /* sorted case-insensitively */
    size_t n_zones;
};

static int recon_zone_cmp(const void *a, const void *b)
{
    return strcasecmp(*(char *const *)a, *(char *const *)b);
}

static int recon_ref_exponent(void *arg, const char *code)
{
    const recon_refdata *r = arg;
    size_t lo = 0, hi = r->n_cur;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(r->cur[mid].code, code);
        if (c == 0)
            return r->cur[mid].exponent;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

static bool recon_ref_zone(void *arg, const char *zone)
{
    const recon_refdata *r = arg;
    return bsearch(&zone, r->zones, r->n_zones, sizeof *r->zones, recon_zone_cmp) != NULL;
}

recon_lookup recon_refdata_lookup(recon_refdata *r)
{
    return (recon_lookup){recon_ref_exponent, recon_ref_zone, r};
}

recon_refdata *recon_refdata_load(PGconn *db, char *err, size_t errlen)
{
    recon_refdata *r = calloc(1, sizeof *r);
    PGresult *c = PQexec(db, "SELECT code, exponent FROM iso4217 ORDER BY code COLLATE \"C\"");
    PGresult *z = PQexec(db, "SELECT name FROM pg_timezone_names UNION "
                             "SELECT abbrev FROM pg_timezone_abbrevs");
    if (!r || PQresultStatus(c) != PGRES_TUPLES_OK || PQresultStatus(z) != PGRES_TUPLES_OK) {
        snprintf(err, errlen, "reading currencies and time zones: %s",
                 PQresultStatus(c) != PGRES_TUPLES_OK ? PQresultErrorMessage(c)
                                                      : PQresultErrorMessage(z));
        PQclear(c);
        PQclear(z);
        recon_refdata_free(r);
        return NULL;
    }
    r->n_cur = (size_t)PQntuples(c);
    r->cur = calloc(r->n_cur + 1, sizeof *r->cur);
    r->n_zones = (size_t)PQntuples(z);
    r->zones = calloc(r->n_zones + 1, sizeof *r->zones);
    bool ok = r->cur && r->zones;
    for (size_t i = 0; ok && i < r->n_cur; i++) {
        snprintf(r->cur[i].code, sizeof r->cur[i].code, "%s", PQgetvalue(c, (int)i, 0));
        r->cur[i].exponent = atoi(PQgetvalue(c, (int)i, 1));
    }
    for (size_t i = 0; ok && i < r->n_zones; i++)
        ok = (r->zones[i] = strdup(PQgetvalue(z, (int)i, 0))) != NULL;
    PQclear(c);
    PQclear(z);
    if (!ok) {
        snprintf(err, errlen, "out of memory");
        recon_refdata_free(r);
        return NULL;
    }
    qsort(r->zones, r->n_zones, sizeof *r->zones, recon_zone_cmp);
    return r;
}

void recon_refdata_free(recon_refdata *r)
{
    if (!r)
        return;
    for (size_t i = 0; r->zones && i < r->n_zones; i++)
        free(r->zones[i]);
    free(r->zones);
    free(r->cur);
    free(r);
}

/* ---- SQL helpers ------------------------------------------------------------------ */

void recon_pg_error(const char *what, const PGresult *r, char *err, size_t errlen)
{
    snprintf(err, errlen, "%s: %s", what, r ? PQresultErrorMessage(r) : "no result");
    for (char *s = err; *s; s++)
        if (*s == '\n')
            *s = ' ';
    size_t n = strlen(err);
    while (n > 0 && err[n - 1] == ' ')
        err[--n] = '\0';
}

int recon_exec(PGconn *db, const char *what, const char *sql, int n, const char *const *params,
               char *err, size_t errlen)
{
    PGresult *r = PQexecParams(db, sql, n, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(r);
    int rc = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? 0 : -1;
    if (rc != 0)
        recon_pg_error(what, r, err, errlen);
    PQclear(r);
    return rc;
}

/* A one-row query's result (NULL with err on failure); caller PQclears. */
static PGresult *recon_query(PGconn *db, const char *what, const char *sql, int n,
                             const char *const *params, char *err, size_t errlen)
{
    PGresult *r = PQexecParams(db, sql, n, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        recon_pg_error(what, r, err, errlen);
        PQclear(r);
        return NULL;
    }
    return r;
}

/* ---- COPY ---------------------------------------------------------------------------- */

typedef struct recon_copy {
    recon_job *job;
    PGconn *db;
    char file_id[24];
    char *buf;
    size_t len, cap;
    recon_footer *footers;
    size_t n_footers;
    uint64_t rows;
    char err[512];
} recon_copy;

static int recon_reserve(recon_copy *c, size_t more)
{
    if (c->len + more <= c->cap)
        return 0;
    size_t cap = c->cap ? c->cap : 1 << 18;
    while (c->len + more > cap)
        cap *= 2;
    char *nb = realloc(c->buf, cap);
    if (!nb)
        return -1;
    c->buf = nb;
    c->cap = cap;
    return 0;
}

/* Append s as a COPY text field (escaped) and a separator. */
static void recon_put(recon_copy *c, const char *s, char sep)
{
    for (; *s; s++) {
        char ch = *s;
        if (ch == '\\' || ch == '\t' || ch == '\n' || ch == '\r') {
            c->buf[c->len++] = '\\';
            ch = ch == '\t' ? 't' : ch == '\n' ? 'n' : ch == '\r' ? 'r' : '\\';
        }
        c->buf[c->len++] = ch;
    }
    c->buf[c->len++] = sep;
}

static void recon_put_int(recon_copy *c, int64_t v, char sep)
{
    c->len += (size_t)snprintf(c->buf + c->len, 24, "%lld", (long long)v);
    c->buf[c->len++] = sep;
}

static int recon_flush(recon_copy *c)
{
    if (c->len && PQputCopyData(c->db, c->buf, (int)c->len) != 1) {
        snprintf(c->err, sizeof c->err, "COPY into recon_rows: %s", PQerrorMessage(c->db));
        return -1;
    }
    c->len = 0;
    return 0;
}

static int recon_copy_row(void *arg, const recon_row *r)
{
    recon_copy *c = arg;
    const char *strs[] = {r->type,         r->reference,  r->original_ref,
                          r->merchant_ref, r->payout_ref, r->zone};
    size_t need = 512;
    for (size_t i = 0; i < sizeof strs / sizeof *strs; i++)
        need += 2 * strlen(strs[i]);
    if (recon_reserve(c, need) != 0) {
        snprintf(c->err, sizeof c->err, "out of memory");
        return -1;
    }
    recon_put(c, c->file_id, '\t');
    recon_put_int(c, r->line, '\t');
    recon_put(c, recon_kind_name(r->kind), '\t');
    for (int i = 0; i < 5; i++)
        recon_put(c, strs[i], '\t');
    recon_put(c, r->currency, '\t');
    recon_put_int(c, r->amount, '\t');
    recon_put(c, r->net_currency, '\t');
    recon_put_int(c, r->net, '\t');
    recon_put_int(c, r->fee, '\t');
    if (r->has_identity)
        recon_put_int(c, r->identity, '\t');
    else
        c->len += (size_t)snprintf(c->buf + c->len, 8, "\\N\t");
    c->len += (size_t)snprintf(c->buf + c->len, 200, "%s %s\t%s\t", r->local_time, r->zone,
                               r->local_time);
    recon_put(c, r->zone, '\n');
    c->rows++;
    if ((c->rows & 0xffff) == 0 && c->job->h->cancelled(c->job->ctx)) {
        snprintf(c->err, sizeof c->err, "cancelled");
        return -1;
    }
    return c->len >= (1 << 18) ? recon_flush(c) : 0;
}

static int recon_copy_footer(void *arg, const recon_footer *f)
{
    recon_copy *c = arg;
    recon_footer *nf = realloc(c->footers, (c->n_footers + 1) * sizeof *nf);
    if (!nf) {
        snprintf(c->err, sizeof c->err, "out of memory");
        return -1;
    }
    c->footers = nf;
    c->footers[c->n_footers++] = *f;
    return 0;
}

static int recon_store_footers(recon_copy *c, char *err, size_t errlen)
{
    for (size_t i = 0; i < c->n_footers; i++) {
        const recon_footer *f = &c->footers[i];
        char v[7][24];
        int64_t nums[7] = {f->line, f->gross_cr, f->gross_dr, f->fee_cr, f->fee_dr, f->count, 0};
        for (int k = 0; k < 6; k++)
            snprintf(v[k], sizeof v[k], "%lld", (long long)nums[k]);
        const char *p[8] = {c->file_id, v[0], f->currency, v[1], v[2], v[3], v[4], v[5]};
        if (recon_exec(c->db, "storing a footer",
                       "INSERT INTO recon_footers (file_id, line, currency, gross_cr, gross_dr, "
                       "fee_cr, fee_dr, record_count) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                       8, p, err, errlen) != 0)
            return -1;
    }
    return 0;
}

/* Parse the file and stream it into COPY; on a parse error the COPY is
 * aborted and err says where. */
static int recon_stream(recon_copy *c, const recon_fetched *f, recon_refdata *ref, char *err,
                        size_t errlen)
{
    recon_lookup lookup = recon_refdata_lookup(ref);
    recon_sink sink = {recon_copy_row, recon_copy_footer, c};
    recon_parser *p = recon_parser_new(c->job->prov, f->name, &lookup, &sink);
    FILE *in = fopen(f->path, "rb");
    int rc = p && in ? 0 : -1;
    if (rc != 0)
        snprintf(err, errlen, "%s: %s", f->name, p ? strerror(errno) : "out of memory");
    char chunk[1 << 16];
    size_t n;
    uint64_t done = 0;
    while (rc == 0 && (n = fread(chunk, 1, sizeof chunk, in)) > 0) {
        rc = recon_parser_feed(p, chunk, n);
        done += n;
        if ((done & ((1 << 22) - 1)) < n)
            c->job->h->progress(c->job->ctx, done, f->bytes, "bytes");
    }
    if (rc == 0)
        rc = recon_parser_finish(p);
    if (rc == 0)
        rc = recon_flush(c);
    if (rc != 0 && !err[0])
        snprintf(err, errlen, "%s", c->err[0] ? c->err : recon_parser_error(p));
    recon_parser_free(p);
    if (in)
        fclose(in);
    return rc;
}

static int recon_copy_file(recon_job *job, const char *file_id, const recon_fetched *f,
                           recon_refdata *ref, char *err, size_t errlen)
{
    recon_copy c = {.job = job, .db = job->db};
    snprintf(c.file_id, sizeof c.file_id, "%s", file_id);
    PGresult *r = PQexec(job->db, "COPY recon_rows (file_id, line, kind, type, reference, "
                                  "original_ref, merchant_ref, payout_ref, currency, "
                                  "amount_minor, net_currency, net_minor, fee_minor, "
                                  "identity_minor, occurred_at, local_time, zone) FROM STDIN");
    if (PQresultStatus(r) != PGRES_COPY_IN) {
        recon_pg_error("COPY into recon_rows", r, err, errlen);
        PQclear(r);
        return -1;
    }
    PQclear(r);
    err[0] = '\0';
    int rc = recon_stream(&c, f, ref, err, errlen);
    PQputCopyEnd(job->db, rc == 0 ? NULL : "the report was rejected");
    while ((r = PQgetResult(job->db)) != NULL) {
        if (rc == 0 && PQresultStatus(r) != PGRES_COMMAND_OK) {
            recon_pg_error("COPY into recon_rows", r, err, errlen);
            rc = -1;
        }
        PQclear(r);
    }
    if (rc == 0)
        rc = recon_store_footers(&c, err, errlen);
    if (rc == 0) {
        char rows[24];
        snprintf(rows, sizeof rows, "%llu", (unsigned long long)c.rows);
        const char *p[2] = {rows, file_id};
        rc = recon_exec(job->db, "counting the file's rows",
                        "UPDATE recon_files SET rows = $1 WHERE id = $2", 2, p, err, errlen);
        job->rows_loaded += c.rows;
    }
    free(c.buf);
    free(c.footers);
    return rc;
}

static int recon_add_file(recon_job *job, const char *id, const recon_fetched *f)
{
    int64_t *nf = realloc(job->files, (job->n_files + 1) * sizeof *nf);
    if (!nf)
        return -1;
    job->files = nf;
    job->files[job->n_files++] = strtoll(id, NULL, 10);
    size_t old = job->file_names ? strlen(job->file_names) : 0;
    size_t more = strlen(f->name) + strlen(f->sha256) + strlen(id) + 64;
    char *names = realloc(job->file_names, old + more);
    if (!names)
        return -1;
    snprintf(names + old, more, "%s\t%s\t%s\n", f->name, f->sha256, id);
    job->file_names = names;
    return 0;
}

int recon_load_file(recon_job *job, const recon_fetched *f, recon_refdata *ref, char *err,
                    size_t errlen)
{
    const char *prov = job->prov->name;
    const char *k[2] = {prov, f->sha256};
    PGresult *r = recon_query(job->db, "looking up the file's SHA-256",
                              "SELECT id, business_date::text FROM recon_files "
                              "WHERE provider = $1 AND sha256 = $2",
                              2, k, err, errlen);
    if (!r)
        return -1;
    if (PQntuples(r) == 1) {
        char id[24], date[16];
        snprintf(id, sizeof id, "%s", PQgetvalue(r, 0, 0));
        snprintf(date, sizeof date, "%s", PQgetvalue(r, 0, 1));
        PQclear(r);
        job->reused = true;
        if (strcmp(date, job->date) != 0) {
            job->h->log(job->ctx, PURSER_LOG_WARN,
                        "%s (sha256 %.12s…) has the same content as file #%s loaded for %s: "
                        "not counted twice; nothing new for %s",
                        f->name, f->sha256, id, date, job->date);
            return 0;
        }
        job->h->log(job->ctx, PURSER_LOG_INFO,
                    "%s (sha256 %.12s…) was loaded before as file #%s: not counted twice", f->name,
                    f->sha256, id);
        const char *p[4] = {id, prov, job->date, f->name};
        if (recon_exec(job->db, "marking the file current",
                       "UPDATE recon_files SET superseded_at = CASE WHEN id = $1 THEN NULL "
                       "ELSE coalesce(superseded_at, now()) END WHERE provider = $2 AND "
                       "business_date = $3 AND name = $4",
                       4, p, err, errlen) != 0)
            return -1;
        return recon_add_file(job, id, f);
    }
    PQclear(r);
    char bytes[24];
    snprintf(bytes, sizeof bytes, "%llu", (unsigned long long)f->bytes);
    const char *p[6] = {prov, job->date, f->name, f->source, f->sha256, bytes};
    if (recon_exec(job->db, "superseding the date's earlier file",
                   "UPDATE recon_files SET superseded_at = now() WHERE provider = $1 AND "
                   "business_date = $2 AND name = $3 AND superseded_at IS NULL",
                   3, p, err, errlen) != 0)
        return -1;
    r = recon_query(job->db, "recording the file",
                    "INSERT INTO recon_files (provider, business_date, name, source, sha256, "
                    "bytes, rows) VALUES ($1, $2, $3, $4, $5, $6, 0) RETURNING id",
                    6, p, err, errlen);
    if (!r)
        return -1;
    char id[24];
    snprintf(id, sizeof id, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    if (recon_copy_file(job, id, f, ref, err, errlen) != 0)
        return -1;
    return recon_add_file(job, id, f);
}
