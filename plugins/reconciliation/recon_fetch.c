/* Getting a provider's report for a business date: a URL (https:// with
 * certificate checks, sftp://, file://) fetched with libcurl into a private
 * temporary file, or a file from a drop folder; either way its SHA-256 is
 * computed on the way. 5xx, 429, timeouts and cut transfers are retried with
 * exponential backoff; nothing is handed on until the whole file is here. */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "recon_internal.h"

typedef struct recon_dl {
    FILE *f;
    EVP_MD_CTX *md;
    uint64_t bytes;
    bool write_failed;
} recon_dl;

/* s with every {date} replaced by date; malloc'd. */
static char *recon_subst_date(const char *s, const char *date)
{
    size_t n = strlen(s) + 1, dl = strlen(date);
    for (const char *q = s; (q = strstr(q, "{date}")); q += 6)
        n += dl;
    char *out = malloc(n), *o = out;
    if (!out)
        return NULL;
    for (const char *q = s; *q;) {
        if (strncmp(q, "{date}", 6) == 0) {
            memcpy(o, date, dl);
            o += dl;
            q += 6;
        } else {
            *o++ = *q++;
        }
    }
    *o = '\0';
    return out;
}

/* The URL for messages: any user:password@ taken out. */
static void recon_url_shown(const char *url, char *buf, size_t len)
{
    const char *scheme = strstr(url, "://");
    const char *at = scheme ? strchr(scheme + 3, '@') : NULL;
    const char *slash = scheme ? strchr(scheme + 3, '/') : NULL;
    if (at && (!slash || at < slash))
        snprintf(buf, len, "%.*s***@%s", (int)(scheme + 3 - url), url, at + 1);
    else
        snprintf(buf, len, "%s", url);
}

/* The last path segment of a URL or path, without a query. */
static void recon_base_name(const char *url, char *buf, size_t len)
{
    size_t end = strcspn(url, "?#");
    size_t start = end;
    while (start > 0 && url[start - 1] != '/')
        start--;
    if (end == start)
        snprintf(buf, len, "report.csv");
    else
        snprintf(buf, len, "%.*s", (int)(end - start), url + start);
}

static size_t recon_on_data(char *ptr, size_t size, size_t nmemb, void *arg)
{
    recon_dl *d = arg;
    size_t n = size * nmemb;
    if (fwrite(ptr, 1, n, d->f) != n || EVP_DigestUpdate(d->md, ptr, n) != 1) {
        d->write_failed = true;
        return 0;
    }
    d->bytes += n;
    return n;
}

static int recon_dl_reset(recon_dl *d)
{
    d->bytes = 0;
    d->write_failed = false;
    return fflush(d->f) == 0 && ftruncate(fileno(d->f), 0) == 0 && fseek(d->f, 0, SEEK_SET) == 0 &&
                   EVP_DigestInit_ex(d->md, EVP_sha256(), NULL) == 1
               ? 0
               : -1;
}

static void recon_hex(const unsigned char *md, unsigned n, char out[65])
{
    static const char hex[] = "0123456789abcdef";
    for (unsigned i = 0; i < n && i < 32; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[64] = '\0';
}

/* Sleep ms, waking every 50 ms to notice a cancel; -1 when cancelled. */
static int recon_backoff(const purser_host *h, purser_ctx *ctx, int64_t ms)
{
    for (int64_t done = 0; done < ms; done += 50) {
        if (h->cancelled(ctx))
            return -1;
        int64_t step = ms - done < 50 ? ms - done : 50;
        struct timespec ts = {0, (long)step * 1000000L};
        nanosleep(&ts, NULL);
    }
    return 0;
}

/* Is this attempt's outcome worth another try? */
static bool recon_transient(CURLcode rc, long status)
{
    if (rc == CURLE_OK)
        return status >= 500 || status == 429;
    return rc == CURLE_OPERATION_TIMEDOUT || rc == CURLE_PARTIAL_FILE || rc == CURLE_RECV_ERROR ||
           rc == CURLE_SEND_ERROR || rc == CURLE_GOT_NOTHING || rc == CURLE_COULDNT_CONNECT ||
           rc == CURLE_SSL_CONNECT_ERROR;
}

static bool recon_not_found(CURLcode rc, long status)
{
    return (rc == CURLE_OK && (status == 404 || status == 410)) ||
           rc == CURLE_REMOTE_FILE_NOT_FOUND || rc == CURLE_FILE_COULDNT_READ_FILE;
}

static CURLcode recon_attempt(CURL *c, const recon_provider *p, const char *url, recon_dl *d,
                              struct curl_slist *headers, long *status, char *cerr)
{
    curl_easy_reset(c);
    cerr[0] = '\0';
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https,http,sftp,file");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "https");
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)p->timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)p->connect_timeout_ms);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, recon_on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, d);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "purser-reconciliation/1");
    if (headers)
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    if (p->username) {
        curl_easy_setopt(c, CURLOPT_USERNAME, p->username);
        curl_easy_setopt(c, CURLOPT_PASSWORD, p->password);
        curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
    }
    CURLcode rc = curl_easy_perform(c);
    *status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    if (strncmp(url, "http", 4) != 0 && *status == 0)
        *status = rc == CURLE_OK ? 200 : 0;
    return rc;
}

static void recon_describe(CURLcode rc, long status, const char *cerr, char *buf, size_t len)
{
    if (rc == CURLE_OK)
        snprintf(buf, len, "HTTP %ld", status);
    else
        snprintf(buf, len, "%s", cerr[0] ? cerr : curl_easy_strerror(rc));
}

/* Fetch url with retries into d; the outcome and a message. */
static recon_fetch_status recon_fetch_url(const purser_host *h, purser_ctx *ctx,
                                          const recon_provider *p, const char *url,
                                          const char *shown, recon_dl *d, char *err, size_t errlen)
{
    CURL *c = curl_easy_init();
    struct curl_slist *headers = NULL;
    if (p->auth_header)
        headers = curl_slist_append(NULL, p->auth_header);
    if (!c || (p->auth_header && !headers)) {
        curl_easy_cleanup(c);
        curl_slist_free_all(headers);
        snprintf(err, errlen, "cannot start a transfer (out of memory)");
        return RECON_FETCH_FAILED;
    }
    recon_fetch_status out = RECON_FETCH_FAILED;
    char cerr[CURL_ERROR_SIZE], what[CURL_ERROR_SIZE + 32];
    int64_t attempts = 1 + p->retries;
    for (int64_t a = 1; a <= attempts; a++) {
        long status;
        if (recon_dl_reset(d) != 0) {
            snprintf(err, errlen, "temporary file: %s", strerror(errno));
            break;
        }
        CURLcode rc = recon_attempt(c, p, url, d, headers, &status, cerr);
        recon_describe(rc, status, cerr, what, sizeof what);
        if (d->write_failed) {
            snprintf(err, errlen, "%s: writing the temporary copy failed: %s", shown,
                     strerror(errno));
            break;
        }
        if (rc == CURLE_OK && status < 300) {
            out = RECON_FETCH_OK;
            break;
        }
        if (recon_not_found(rc, status)) {
            snprintf(err, errlen, "%s: %s: the report is not there (yet)", shown, what);
            out = RECON_FETCH_NOT_YET;
            break;
        }
        if (!recon_transient(rc, status)) {
            snprintf(err, errlen, "%s: %s%s", shown, what,
                     status == 401 || status == 403 ? " (check auth_header / username)" : "");
            break;
        }
        snprintf(err, errlen, "%s: %s, after %lld attempt%s", shown, what, (long long)a,
                 a > 1 ? "s" : "");
        out = RECON_FETCH_TRANSIENT;
        if (a == attempts)
            break;
        int64_t wait = p->backoff_ms << (a - 1);
        h->log(ctx, PURSER_LOG_WARN, "%s: %s; attempt %lld of %lld, again in %lld ms", shown, what,
               (long long)a, (long long)attempts, (long long)wait);
        if (recon_backoff(h, ctx, wait) != 0) {
            snprintf(err, errlen, "%s: cancelled while waiting to retry", shown);
            break;
        }
    }
    curl_slist_free_all(headers);
    curl_easy_cleanup(c);
    return out;
}

/* A drop folder's file: copied and hashed like a download. */
static recon_fetch_status recon_fetch_file(const char *path, recon_dl *d, char *err, size_t errlen)
{
    FILE *in = fopen(path, "rb");
    if (!in) {
        snprintf(err, errlen, "%s: %s%s", path, strerror(errno),
                 errno == ENOENT ? ": the report is not there (yet)" : "");
        return errno == ENOENT ? RECON_FETCH_NOT_YET : RECON_FETCH_FAILED;
    }
    char buf[1 << 16];
    size_t n;
    recon_fetch_status out = recon_dl_reset(d) == 0 ? RECON_FETCH_OK : RECON_FETCH_FAILED;
    while (out == RECON_FETCH_OK && (n = fread(buf, 1, sizeof buf, in)) > 0)
        if (recon_on_data(buf, 1, n, d) != n)
            out = RECON_FETCH_FAILED;
    if (ferror(in))
        out = RECON_FETCH_FAILED;
    if (out != RECON_FETCH_OK)
        snprintf(err, errlen, "%s: reading: %s", path, strerror(errno));
    fclose(in);
    return out;
}

recon_fetch_status recon_fetch(const purser_host *h, purser_ctx *ctx, const recon_provider *prov,
                               const char *date, const char *tmpdir, recon_fetched *out, char *err,
                               size_t errlen)
{
    memset(out, 0, sizeof *out);
    char *where = NULL;
    if (prov->drop_folder) {
        char *name = recon_subst_date(prov->pattern, date);
        if (name && asprintf(&where, "%s/%s", prov->drop_folder, name) < 0)
            where = NULL;
        free(name);
    } else {
        where = recon_subst_date(prov->source, date);
    }
    if (!where) {
        snprintf(err, errlen, "out of memory");
        return RECON_FETCH_FAILED;
    }
    recon_url_shown(where, out->source, sizeof out->source);
    recon_base_name(where, out->name, sizeof out->name);
    snprintf(out->path, sizeof out->path, "%s/purser-recon-XXXXXX", tmpdir);
    int fd = mkstemp(out->path);
    recon_dl d = {fd >= 0 ? fdopen(fd, "w+b") : NULL, EVP_MD_CTX_new(), 0, false};
    recon_fetch_status st = RECON_FETCH_FAILED;
    if (!d.f || !d.md) {
        snprintf(err, errlen, "temporary file in %s: %s", tmpdir, strerror(errno));
        if (fd >= 0 && !d.f)
            close(fd);
    } else if (prov->drop_folder) {
        st = recon_fetch_file(where, &d, err, errlen);
    } else {
        st = recon_fetch_url(h, ctx, prov, where, out->source, &d, err, errlen);
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    if (st == RECON_FETCH_OK && (EVP_DigestFinal_ex(d.md, md, &mdlen) != 1 || fflush(d.f) != 0)) {
        snprintf(err, errlen, "%s: finishing the temporary copy failed", out->source);
        st = RECON_FETCH_FAILED;
    }
    if (d.f)
        fclose(d.f);
    EVP_MD_CTX_free(d.md);
    free(where);
    if (st != RECON_FETCH_OK) {
        if (fd >= 0)
            unlink(out->path);
        out->path[0] = '\0';
        return st;
    }
    recon_hex(md, mdlen, out->sha256);
    out->bytes = d.bytes;
    return RECON_FETCH_OK;
}
