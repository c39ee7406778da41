/* The back-office web page: server-rendered HTML for finance (the report
 * folder's workbooks, downloads) and operations (jobs, runs, re-runs,
 * pause/resume, backfill), behind users with roles, sessions and CSRF
 * tokens, every action written to an audit table. Served by core/http.c
 * beside /healthz and /metrics; this interface knows nothing of
 * libmicrohttpd. */
#ifndef PURSER_WEB_H
#define PURSER_WEB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dbpool.h"
#include "loader.h"
#include "settings.h"
#include "util.h"

typedef struct web_app web_app;

/* One request as the HTTP server hands it over; every pointer is borrowed
 * for the duration of web_handle. */
typedef struct web_request {
    const char *method;  /* "GET", "POST", ... */
    const char *path;    /* percent-decoded path, without the query */
    const char *cookie;  /* the Cookie header, or NULL */
    const char *address; /* the client's IP address as text */
    const char *body;    /* body_len bytes, not NUL-terminated (may be NULL) */
    size_t body_len;
    /* A decoded query argument by name, or NULL. */
    const char *(*arg)(const struct web_request *req, const char *name);
    void *host_data; /* the server's, for arg */
} web_request;

/* The answer, filled by web_handle; the server sends it, then calls
 * web_response_free. */
typedef struct web_response {
    int status;
    const char *content_type; /* static */
    char *body;               /* owned (malloc), body_len bytes; NULL with fd >= 0 */
    size_t body_len;
    strbuf headers; /* extra "Name: value\r\n" lines; owned */
    int fd;         /* >= 0: send this open file of file_size bytes instead of body;
                     * owned: the server closes it (libmicrohttpd does when done) */
    uint64_t file_size;
    const char *route; /* the route's pattern, for metrics; static */
} web_response;

/* The page's state for a server: borrows s, plugins and pool, which must
 * outlive it. Never NULL. */
web_app *web_new(const settings *s, const plugin_set *plugins, dbpool *pool);
void web_free(web_app *app);

/* Is path one of the page's ("/", "/login", "/reports/...", ...)? */
bool web_owns(const char *path);

/* Answer one request (from any server thread). resp is overwritten. */
void web_handle(web_app *app, const web_request *req, web_response *resp);

/* Free what resp owns (not the fd once handed to the server: set it to -1
 * first). */
void web_response_free(web_response *resp);

#endif
