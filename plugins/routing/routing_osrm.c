/* routing_osrm.c: travel times and distances from an OSRM server's table
 * service (real road network) instead of haversine x road factor:
 *   GET {osrm_url}/table/v1/driving/{lon,lat;...}?annotations=duration,distance
 * The instance already holds the haversine matrices; they are replaced
 * only when OSRM answers a complete, well-formed table, so any failure
 * leaves the fallback in place. */
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "routing.h"

typedef struct osrm_buf {
    char *data;
    size_t len;
    size_t cap;
    size_t limit;
} osrm_buf;

static size_t osrm_write(char *p, size_t size, size_t n, void *arg)
{
    osrm_buf *b = arg;
    size_t add = size * n;
    if (b->len + add + 1 > b->limit)
        return 0; /* too large: abort the transfer */
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

/* The request URL for every node of the instance, lon,lat;lon,lat;... */
static char *osrm_url(const char *base, const vrp_instance *in)
{
    size_t cap = strlen(base) + 96 + (size_t)in->n_nodes * 48;
    char *url = malloc(cap);
    if (!url)
        return NULL;
    size_t blen = strlen(base);
    while (blen && base[blen - 1] == '/')
        blen--;
    size_t len = (size_t)snprintf(url, cap, "%.*s/table/v1/driving/", (int)blen, base);
    for (int i = 0; i < in->n_nodes; i++)
        len += (size_t)snprintf(url + len, cap - len, "%s%.6f,%.6f", i ? ";" : "", in->nodes[i].x,
                                in->nodes[i].y);
    snprintf(url + len, cap - len, "?annotations=duration,distance");
    return url;
}

/* Copy one n x n matrix from JSON; -1 if its shape is wrong. Unreachable
 * pairs (null) get a prohibitive cost. */
static int osrm_matrix(const cJSON *m, int n, double *out)
{
    if (!cJSON_IsArray(m) || cJSON_GetArraySize(m) != n)
        return -1;
    int i = 0;
    for (const cJSON *row = m->child; row; row = row->next, i++) {
        if (!cJSON_IsArray(row) || cJSON_GetArraySize(row) != n)
            return -1;
        int j = 0;
        for (const cJSON *v = row->child; v; v = v->next, j++) {
            if (cJSON_IsNumber(v) && v->valuedouble >= 0)
                out[(size_t)i * (size_t)n + (size_t)j] = v->valuedouble;
            else if (cJSON_IsNull(v))
                out[(size_t)i * (size_t)n + (size_t)j] = 1e9;
            else
                return -1;
        }
    }
    return 0;
}

int routing_osrm_table(const char *base, long timeout_ms, vrp_instance *in, char *err,
                       size_t errlen)
{
    char *url = osrm_url(base, in);
    CURL *curl = url ? curl_easy_init() : NULL;
    osrm_buf b = {.limit = (size_t)in->n_nodes * (size_t)in->n_nodes * 40 + 65536};
    int rc = -1;
    if (!curl) {
        snprintf(err, errlen, "out of memory");
        free(url);
        return -1;
    }
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, osrm_write);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &b);
    CURLcode cc = curl_easy_perform(curl);
    long code = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
    size_t n = (size_t)in->n_nodes;
    double *d = malloc(n * n * sizeof *d), *t = malloc(n * n * sizeof *t);
    cJSON *doc = cc == CURLE_OK && code == 200 && b.data ? cJSON_Parse(b.data) : NULL;
    const cJSON *status = doc ? cJSON_GetObjectItemCaseSensitive(doc, "code") : NULL;
    if (cc != CURLE_OK)
        snprintf(err, errlen, "%s", curl_easy_strerror(cc));
    else if (code != 200)
        snprintf(err, errlen, "HTTP %ld", code);
    else if (!doc || !cJSON_IsString(status) || strcmp(status->valuestring, "Ok") != 0)
        snprintf(err, errlen, "not an OSRM table answer (code %s)",
                 cJSON_IsString(status) ? status->valuestring : "missing");
    else if (!d || !t ||
             osrm_matrix(cJSON_GetObjectItemCaseSensitive(doc, "distances"), in->n_nodes, d) ||
             osrm_matrix(cJSON_GetObjectItemCaseSensitive(doc, "durations"), in->n_nodes, t))
        snprintf(err, errlen, "the table is not %d x %d distances and durations", in->n_nodes,
                 in->n_nodes);
    else
        rc = 0;
    if (rc == 0) {
        if (in->time != in->dist)
            free(in->time);
        free(in->dist);
        in->dist = d;
        in->time = t;
        d = t = NULL;
    }
    free(d);
    free(t);
    cJSON_Delete(doc);
    free(b.data);
    curl_easy_cleanup(curl);
    free(url);
    return rc;
}
