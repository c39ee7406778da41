/* inv_http.c: every HTTP request of a run (warehouse pages, storefront
 * batches, alerts) through one libcurl handle, so connections are kept
 * alive. 5xx, 429 and transport failures (timeouts, resets, refused
 * connections) are retried within the run: exponential backoff with
 * jitter, or the server's Retry-After when it gives one. Time spent here,
 * waits included, is counted as HTTP time. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "inventory_sync.h"

static size_t inv_on_body(char *p, size_t size, size_t n, void *arg)
{
    inv_buf *b = arg;
    size_t add = size * n;
    if (b->len + add + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 65536;
        while (cap < b->len + add + 1)
            cap *= 2;
        char *d = realloc(b->data, cap);
        if (!d)
            return 0;
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, add);
    b->len += add;
    b->data[b->len] = '\0';
    return add;
}

/* The target of `Link: <url>; rel="next"` among a Link header's values. */
static char *inv_link_next(const char *v)
{
    while (v && *v) {
        const char *lt = strchr(v, '<'), *gt = lt ? strchr(lt, '>') : NULL;
        if (!gt)
            return NULL;
        const char *end = strchr(gt, ',');
        size_t plen = end ? (size_t)(end - gt) : strlen(gt);
        char params[256];
        snprintf(params, sizeof params, "%.*s", (int)(plen < 255 ? plen : 255), gt);
        for (char *q = params; *q; q++)
            if (*q >= 'A' && *q <= 'Z')
                *q = (char)(*q - 'A' + 'a');
        if (strstr(params, "rel=\"next\"") || strstr(params, "rel=next"))
            return strndup(lt + 1, (size_t)(gt - lt - 1));
        v = end ? end + 1 : NULL;
    }
    return NULL;
}

static size_t inv_on_header(char *p, size_t size, size_t n, void *arg)
{
    inv_response *out = arg;
    size_t len = size * n;
    char line[2048];
    snprintf(line, sizeof line, "%.*s", (int)(len < sizeof line - 1 ? len : sizeof line - 1), p);
    line[strcspn(line, "\r\n")] = '\0';
    if (strncmp(line, "HTTP/", 5) == 0) { /* a new response (after a 100, a redirect) */
        out->etag[0] = '\0';
        free(out->link_next);
        out->link_next = NULL;
    } else if (strncasecmp(line, "ETag:", 5) == 0) {
        const char *v = line + 5 + strspn(line + 5, " \t");
        snprintf(out->etag, sizeof out->etag, "%s", v);
    } else if (strncasecmp(line, "Link:", 5) == 0 && !out->link_next) {
        out->link_next = inv_link_next(line + 5);
    }
    return len;
}

/* Sleep ms, waking every 50 ms to notice a cancel; -1 when cancelled. */
static int inv_sleep(inv_run *r, int64_t ms)
{
    for (int64_t done = 0; done < ms; done += 50) {
        if (r->st->host->cancelled(r->ctx))
            return -1;
        int64_t step = ms - done < 50 ? ms - done : 50;
        struct timespec ts = {0, (long)step * 1000000L};
        nanosleep(&ts, NULL);
    }
    return 0;
}

static int inv_transient(CURLcode rc, long status)
{
    if (rc == CURLE_OK)
        return status >= 500 || status == 429;
    return rc == CURLE_OPERATION_TIMEDOUT || rc == CURLE_PARTIAL_FILE || rc == CURLE_RECV_ERROR ||
           rc == CURLE_SEND_ERROR || rc == CURLE_GOT_NOTHING || rc == CURLE_COULDNT_CONNECT ||
           rc == CURLE_SSL_CONNECT_ERROR;
}

/* Backoff before attempt a+1: backoff * 2^(a-1), half of it random
 * (equal jitter), capped at max_wait. */
static int64_t inv_backoff(const inv_http_cfg *cfg, int a)
{
    static unsigned seed;
    if (!seed)
        seed = (unsigned)time(NULL) ^ (unsigned)getpid();
    int64_t w = cfg->backoff_ms;
    for (int i = 1; i < a && w < cfg->max_wait_ms; i++)
        w *= 2;
    if (w > cfg->max_wait_ms)
        w = cfg->max_wait_ms;
    return w / 2 + (w / 2 > 0 ? (int64_t)(rand_r(&seed) % (unsigned)(w / 2 + 1)) : 0);
}

static CURL *inv_handle(inv_run *r)
{
    if (!r->curl)
        r->curl = curl_easy_init();
    else
        curl_easy_reset(r->curl);
    return r->curl;
}

static CURLcode inv_attempt(inv_run *r, const inv_http_cfg *cfg, const char *url, const char *body,
                            struct curl_slist *hl, inv_response *out, char *cerr)
{
    CURL *c = inv_handle(r);
    if (!c)
        return CURLE_OUT_OF_MEMORY;
    out->body.len = 0;
    if (out->body.data)
        out->body.data[0] = '\0';
    out->status = 0;
    cerr[0] = '\0';
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)cfg->timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)cfg->connect_timeout_ms);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, inv_on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &out->body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, inv_on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, out);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "purser-inventory_sync/1");
    curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
    }
    CURLcode rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    if (!out->body.data) { /* an empty body: still a terminated string */
        inv_on_body("", 1, 0, &out->body);
        if (!out->body.data)
            rc = CURLE_OUT_OF_MEMORY;
    }
    return rc;
}

int inv_http(inv_run *r, const inv_http_cfg *cfg, const char *url, const char *body,
             const char *const *headers, inv_response *out, int *transient, char *err,
             size_t errlen)
{
    const purser_host *h = r->st->host;
    int64_t t0 = inv_now_ns();
    struct curl_slist *hl = NULL;
    int bad = 0;
    if (cfg->auth_header && *cfg->auth_header)
        bad |= !(hl = curl_slist_append(hl, cfg->auth_header));
    if (body) {
        bad |= !(hl = curl_slist_append(hl, "Content-Type: application/json"));
        bad |= !(hl = curl_slist_append(hl, "Expect:")); /* no 100-continue round trip */
    }
    for (size_t i = 0; headers && headers[i]; i++)
        bad |= !(hl = curl_slist_append(hl, headers[i]));
    *transient = 0;
    int result = -1;
    char cerr[CURL_ERROR_SIZE];
    for (int a = 1; !bad; a++) {
        out->attempts = a;
        CURLcode rc = inv_attempt(r, cfg, url, body, hl, out, cerr);
        char what[CURL_ERROR_SIZE + 32];
        if (rc == CURLE_OK)
            snprintf(what, sizeof what, "HTTP %ld", out->status);
        else
            snprintf(what, sizeof what, "%s", cerr[0] ? cerr : curl_easy_strerror(rc));
        if (!inv_transient(rc, out->status)) {
            if (rc == CURLE_OK)
                result = 0;
            else
                snprintf(err, errlen, "%s", what);
            break;
        }
        *transient = 1;
        snprintf(err, errlen, "%s after %d attempt%s", what, a, a > 1 ? "s" : "");
        if (a > cfg->retries)
            break;
        int64_t wait = inv_backoff(cfg, a);
        curl_off_t after = -1;
        if (rc == CURLE_OK &&
            curl_easy_getinfo(r->curl, CURLINFO_RETRY_AFTER, &after) == CURLE_OK && after > 0) {
            if ((int64_t)after * 1000 > cfg->max_wait_ms) {
                snprintf(err, errlen, "%s with Retry-After %lld s, more than the %lld ms allowed",
                         what, (long long)after, (long long)cfg->max_wait_ms);
                break;
            }
            wait = (int64_t)after * 1000 + wait / 10; /* a little jitter on top */
        }
        h->log(r->ctx, PURSER_LOG_WARN, "%s: %s; attempt %d of %lld, again in %lld ms", url, what,
               a, (long long)cfg->retries + 1, (long long)wait);
        if (inv_sleep(r, wait) != 0) {
            snprintf(err, errlen, "cancelled while waiting to retry %s", url);
            *transient = 1;
            break;
        }
    }
    if (bad)
        snprintf(err, errlen, "out of memory");
    curl_slist_free_all(hl);
    r->t.http += inv_now_ns() - t0;
    return result;
}

void inv_response_free(inv_response *out)
{
    free(out->body.data);
    free(out->link_next);
    memset(out, 0, sizeof *out);
}
