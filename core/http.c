/* The HTTP server: request bodies gathered up to a limit, routes matched
 * segment by segment, answers given once the upload is consumed (so
 * libmicrohttpd keeps the connection alive), an access log line per
 * request, request metrics. */
#include "http.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "dbpool.h"
#include "host.h"
#include "http_metrics.h"
#include "log.h"
#include "metrics.h"
#include "progress.h"
#include "util.h"
#include "web.h"

#define HTTP_MAX_PARAMS 8
#define HTTP_DEFAULT_MAX_BODY (1024 * 1024)

typedef struct http_plugin {
    const loaded_plugin *lp; /* borrowed */
    void *state;             /* the plugin's, freed by its fini */
    purser_ctx ctx;          /* the init/fini context */
} http_plugin;

struct http_server {
    struct MHD_Daemon *mhd;
    const settings *s;
    http_plugin *plugins; /* those with routes */
    size_t n_plugins;
    dbpool *pool;
    int port;
    size_t max_body;
    web_app *web; /* the back-office web page (core/web.c); owned */
};

typedef struct http_req {
    strbuf body;
    int too_large;
    double started;
    size_t max_body; /* of the route the request is for */
} http_req;

int http_disabled(const settings *s)
{
    return !s->http_listen || !*s->http_listen || strcmp(s->http_listen, "off") == 0;
}

int http_parse_listen(const char *text, char *host, size_t hostlen, int *port)
{
    const char *colon = strrchr(text, ':');
    const char *p = colon ? colon + 1 : text;
    int64_t v;
    if (cfg_parse_int(p, &v) != 0 || v < 0 || v > 65535)
        return -1;
    *port = (int)v;
    snprintf(host, hostlen, "%.*s", colon ? (int)(colon - text) : 0, text);
    if (!*host)
        snprintf(host, hostlen, "0.0.0.0");
    return 0;
}

/* ---- responses ----------------------------------------------------------- */

/* Queue r (destroyed here) with its type and "Name: value\r\n" headers. */
static enum MHD_Result http_queue(struct MHD_Connection *conn, int status, struct MHD_Response *r,
                                  const char *type, const char *headers)
{
    if (!r)
        return MHD_NO;
    if (type)
        MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    for (const char *h = headers; h && *h;) {
        const char *end = strstr(h, "\r\n"), *colon = strchr(h, ':');
        size_t n = end ? (size_t)(end - h) : strlen(h);
        if (colon && (size_t)(colon - h) < n) {
            char name[128], value[1024];
            snprintf(name, sizeof name, "%.*s", (int)(colon - h), h);
            const char *v = colon + 1;
            while (*v == ' ')
                v++;
            snprintf(value, sizeof value, "%.*s", (int)(n - (size_t)(v - h)), v);
            MHD_add_response_header(r, name, value);
        }
        h += n + (end ? 2 : 0);
    }
    enum MHD_Result rc = MHD_queue_response(conn, (unsigned)status, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result http_send(struct MHD_Connection *conn, int status, const char *type,
                                 char *body, size_t len, const char *headers)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(
        len, body ? body : (char *)"", body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    return http_queue(conn, status, r, type, headers);
}

static enum MHD_Result http_json_error(struct MHD_Connection *conn, int status, const char *code,
                                       const char *message, const char *headers)
{
    strbuf sb = {0};
    sb_addf(&sb, "{\"error\": {\"code\": \"%s\", \"message\": ", code);
    json_escape(&sb, message);
    sb_add(&sb, "}}\n");
    size_t len = sb.len;
    return http_send(conn, status, "application/json", sb_take(&sb), len, headers);
}

/* ---- routing --------------------------------------------------------------- */

/* Does path match pattern ("/v1/orders/{ref}/cancel")? The values of {x}
 * segments are pointers into buf (a copy of path); cut them at their '/'
 * with http_split_params once the route is chosen. */
static int http_match(const char *pattern, const char *path, char *buf, size_t buflen,
                      const char **params, size_t *n_params)
{
    size_t len = strlen(path);
    *n_params = 0;
    if (len >= buflen)
        return 0;
    memcpy(buf, path, len + 1);
    const char *pp = pattern;
    char *sp = buf;
    for (;;) {
        if (*pp != '/' || *sp != '/')
            return *pp == '\0' && *sp == '\0';
        pp++;
        sp++;
        size_t plen = strcspn(pp, "/"), slen = strcspn(sp, "/");
        if (plen >= 2 && pp[0] == '{' && pp[plen - 1] == '}') {
            if (slen == 0 || *n_params == HTTP_MAX_PARAMS)
                return 0;
            params[(*n_params)++] = sp;
        } else if (plen != slen || strncmp(pp, sp, plen) != 0) {
            return 0;
        }
        pp += plen;
        sp += slen;
    }
}

typedef struct http_found {
    const http_plugin *plugin;
    const purser_route *route;
    int path_matched; /* some route had the path but another method */
} http_found;

static void http_find(const http_server *srv, const char *method, const char *path, char *buf,
                      size_t buflen, const char **params, size_t *n, http_found *f)
{
    memset(f, 0, sizeof *f);
    for (size_t i = 0; i < srv->n_plugins; i++)
        for (const purser_route *r = srv->plugins[i].lp->desc.routes; r && r->method; r++) {
            if (!http_match(r->path, path, buf, buflen, params, n))
                continue;
            if (strcmp(r->method, method) != 0) {
                f->path_matched = 1;
                continue;
            }
            f->plugin = &srv->plugins[i];
            f->route = r;
            return;
        }
}

/* Captured segments were left inside the copy; cut them at their '/'. */
static void http_split_params(const char **params, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char *slash = strchr(params[i], '/');
        if (slash)
            *slash = '\0';
    }
}

static const char *http_header(const purser_http_request *req, const char *name)
{
    return MHD_lookup_connection_value((struct MHD_Connection *)req->host_data, MHD_HEADER_KIND,
                                       name);
}

static const char *http_arg(const purser_http_request *req, const char *name)
{
    return MHD_lookup_connection_value((struct MHD_Connection *)req->host_data,
                                       MHD_GET_ARGUMENT_KIND, name);
}

static enum MHD_Result http_plugin_call(http_server *srv, struct MHD_Connection *conn,
                                        const http_found *f, const char *method, const char *path,
                                        const char **params, size_t n, const http_req *rq,
                                        int *status)
{
    purser_ctx ctx;
    host_ctx_init(&ctx, srv->s, f->plugin->lp);
    ctx.pool = srv->pool;
    purser_http_request req = {.struct_size = sizeof req,
                               .method = method,
                               .path = path,
                               .query = NULL,
                               .params = params,
                               .n_params = n,
                               .body = (const unsigned char *)(rq->body.data ? rq->body.data : ""),
                               .body_len = rq->body.len,
                               .header = http_header,
                               .host_data = conn,
                               .arg = http_arg};
    purser_http_response resp = {0};
    purser_status st = f->route->handler(f->plugin->state, &ctx, &req, &resp);
    host_ctx_done(&ctx);
    if (st != PURSER_OK && resp.status == 0) {
        free(resp.body);
        free(resp.headers);
        *status = st == PURSER_RETRY ? 503 : 500;
        return http_json_error(conn, *status, st == PURSER_RETRY ? "unavailable" : "internal",
                               st == PURSER_RETRY ? "try again later" : "internal error",
                               st == PURSER_RETRY ? "Retry-After: 1\r\n" : NULL);
    }
    *status = resp.status ? resp.status : 200;
    enum MHD_Result rc =
        http_send(conn, *status, resp.content_type, resp.body, resp.body_len, resp.headers);
    free(resp.headers);
    return rc;
}

/* ---- the core's routes ------------------------------------------------------ */

static enum MHD_Result http_healthz(http_server *srv, struct MHD_Connection *conn, int *status)
{
    PGconn *c = dbpool_get(srv->pool);
    PGresult *r = c ? PQexec(c, "SELECT 1") : NULL;
    int ok = r && PQresultStatus(r) == PGRES_TUPLES_OK;
    PQclear(r);
    dbpool_put(srv->pool, c);
    *status = ok ? 200 : 503;
    return ok ? http_send(conn, 200, "text/plain", xstrdup("ok\n"), 3, NULL)
              : http_json_error(conn, 503, "unavailable", "the database does not answer",
                                "Retry-After: 5\r\n");
}

static enum MHD_Result http_metrics(http_server *srv, struct MHD_Connection *conn, int *status)
{
    strbuf sb = {0};
    metrics_render(&sb);
    PGconn *c = dbpool_get(srv->pool);
    if (c)
        http_metrics_render_db(c, &sb);
    dbpool_put(srv->pool, c);
    *status = 200;
    size_t len = sb.len;
    return http_send(conn, 200, "text/plain; version=0.0.4", sb_take(&sb), len, NULL);
}

/* ---- the web page (core/web.c) ----------------------------------------------------- */

static const char *http_web_arg(const web_request *req, const char *name)
{
    return MHD_lookup_connection_value((struct MHD_Connection *)req->host_data,
                                       MHD_GET_ARGUMENT_KIND, name);
}

static enum MHD_Result http_web(http_server *srv, struct MHD_Connection *conn, const char *url,
                                const char *method, const http_req *rq, int *status,
                                const char **route)
{
    char address[INET6_ADDRSTRLEN] = "";
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci ? ci->client_addr : NULL;
    if (sa && sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, address, sizeof address);
    web_request req = {.method = method,
                       .path = url,
                       .cookie = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Cookie"),
                       .address = address,
                       .body = rq->body.data,
                       .body_len = rq->body.len,
                       .arg = http_web_arg,
                       .host_data = conn};
    web_response resp;
    web_handle(srv->web, &req, &resp);
    *status = resp.status;
    *route = resp.route;
    struct MHD_Response *r;
    if (resp.fd >= 0) { /* libmicrohttpd closes the file once it is sent */
        r = MHD_create_response_from_fd64(resp.file_size, resp.fd);
        if (!r)
            close(resp.fd);
    } else {
        r = MHD_create_response_from_buffer(resp.body_len, resp.body ? resp.body : (char *)"",
                                            MHD_RESPMEM_MUST_COPY);
    }
    enum MHD_Result rc = http_queue(conn, resp.status, r, resp.content_type, resp.headers.data);
    web_response_free(&resp);
    return rc;
}

/* ---- the handler ---------------------------------------------------------------- */

static void http_observe(const char *route, const char *method, int status, double seconds)
{
    char name[256];
    snprintf(name, sizeof name, "requests_total{route=\"%s\",method=\"%s\",status=\"%d\"}", route,
             method, status);
    metrics_add("http", name, 1);
    static const double bounds[] = {0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5};
    for (size_t i = 0; i < sizeof bounds / sizeof *bounds; i++)
        if (seconds <= bounds[i]) {
            snprintf(name, sizeof name, "request_seconds_bucket{le=\"%g\"}", bounds[i]);
            metrics_add("http", name, 1);
        }
    metrics_add("http", "request_seconds_bucket{le=\"+Inf\"}", 1);
    metrics_add("http", "request_seconds_sum", seconds);
    metrics_add("http", "request_seconds_count", 1);
}

static enum MHD_Result http_dispatch(http_server *srv, struct MHD_Connection *conn, const char *url,
                                     const char *method, http_req *rq)
{
    int status = 500;
    enum MHD_Result rc;
    const char *route = url;
    char buf[2048];
    const char *params[HTTP_MAX_PARAMS] = {0};
    size_t n = 0;
    http_found f;
    if (rq->too_large) {
        status = 413;
        rc = http_json_error(conn, 413, "too_large", "the body is larger than allowed", NULL);
    } else if (strcmp(url, "/healthz") == 0 && strcmp(method, "GET") == 0) {
        rc = http_healthz(srv, conn, &status);
    } else if (strcmp(url, "/metrics") == 0 && strcmp(method, "GET") == 0) {
        rc = http_metrics(srv, conn, &status);
    } else if (web_owns(url)) {
        rc = http_web(srv, conn, url, method, rq, &status, &route);
    } else {
        http_find(srv, method, url, buf, sizeof buf, params, &n, &f);
        if (f.route) {
            route = f.route->path;
            http_split_params(params, n);
            rc = http_plugin_call(srv, conn, &f, method, url, params, n, rq, &status);
        } else if (f.path_matched || strcmp(url, "/healthz") == 0 || strcmp(url, "/metrics") == 0) {
            status = 405;
            rc = http_json_error(conn, 405, "method_not_allowed", "method not allowed here", NULL);
        } else {
            status = 404;
            route = "(unknown)";
            rc = http_json_error(conn, 404, "not_found", "no such route", NULL);
        }
    }
    double secs = monotonic_seconds() - rq->started;
    http_observe(route, method, status, secs);
    log_msg(PURSER_LOG_INFO, "http", 0, "%s %s %d %.1f ms %zu bytes in", method, url, status,
            secs * 1000, rq->body.len);
    return rc;
}

/* The body limit of the route a request goes to (1 MiB by default). */
static size_t http_route_max_body(const http_server *srv, const char *method, const char *url)
{
    char buf[2048];
    const char *params[HTTP_MAX_PARAMS];
    size_t n = 0;
    http_found f;
    http_find(srv, method, url, buf, sizeof buf, params, &n, &f);
    return f.route && f.route->max_body ? f.route->max_body : srv->max_body;
}

static enum MHD_Result http_handler(void *cls, struct MHD_Connection *conn, const char *url,
                                    const char *method, const char *version, const char *upload,
                                    size_t *upload_size, void **con_cls)
{
    (void)version;
    http_server *srv = cls;
    http_req *rq = *con_cls;
    if (!rq) {
        rq = xcalloc(1, sizeof *rq);
        rq->started = monotonic_seconds();
        *con_cls = rq;
        rq->max_body = http_route_max_body(srv, method, url);
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
        int64_t len;
        if (cl && cfg_parse_int(cl, &len) == 0 && len > (int64_t)rq->max_body) {
            rq->too_large = 1; /* refuse at once, without reading it */
            return http_dispatch(srv, conn, url, method, rq);
        }
        return MHD_YES;
    }
    if (*upload_size) {
        if (!rq->too_large && rq->body.len + *upload_size <= rq->max_body)
            sb_addn(&rq->body, upload, *upload_size);
        else
            rq->too_large = 1;
        *upload_size = 0;
        return MHD_YES;
    }
    return http_dispatch(srv, conn, url, method, rq);
}

static void http_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                           enum MHD_RequestTerminationCode why)
{
    (void)cls, (void)conn, (void)why;
    http_req *rq = *con_cls;
    if (rq) {
        sb_free(&rq->body);
        free(rq);
    }
    *con_cls = NULL;
}

/* ---- lifecycle ---------------------------------------------------------------------- */

static int http_init_plugins(http_server *srv, const plugin_set *plugins, char *err, size_t errlen)
{
    srv->plugins = xcalloc(plugins->count ? plugins->count : 1, sizeof *srv->plugins);
    for (size_t i = 0; i < plugins->count; i++) {
        const loaded_plugin *lp = &plugins->items[i];
        if (!lp->desc.routes)
            continue;
        http_plugin *hp = &srv->plugins[srv->n_plugins++];
        hp->lp = lp;
        host_ctx_init(&hp->ctx, srv->s, lp);
        hp->ctx.pool = srv->pool;
        if (lp->desc.init && lp->desc.init(host_table(), &hp->ctx, &hp->state) != PURSER_OK) {
            set_err(err, errlen, "plugin %s: init failed (see the lines above)", lp->desc.name);
            return -1;
        }
    }
    return 0;
}

http_server *http_start(const settings *s, const plugin_set *plugins, char *err, size_t errlen)
{
    char host[256];
    int port;
    if (http_parse_listen(s->http_listen, host, sizeof host, &port) != 0) {
        set_err(err, errlen, "http.listen '%s': expected HOST:PORT", s->http_listen);
        return NULL;
    }
    http_server *srv = xcalloc(1, sizeof *srv);
    srv->s = s;
    srv->max_body = HTTP_DEFAULT_MAX_BODY;
    srv->pool = dbpool_new(s, 16);
    srv->web = web_new(s, plugins, srv->pool);
    if (http_init_plugins(srv, plugins, err, errlen) != 0) {
        http_stop(srv);
        return NULL;
    }
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
        set_err(err, errlen, "http.listen '%s': '%s' is not an IPv4 address", s->http_listen, host);
        http_stop(srv);
        return NULL;
    }
    /* http.threads 0: a thread per connection (handlers that wait, such
     * as a group commit, then never hold up another connection); else a
     * pool of that many epoll threads, each answering one request at a time. */
    if (s->http_threads == 0)
        srv->mhd = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL_INTERNAL_THREAD |
                                        MHD_USE_ERROR_LOG,
                                    0, NULL, NULL, http_handler, srv, MHD_OPTION_SOCK_ADDR, &addr,
                                    MHD_OPTION_CONNECTION_TIMEOUT, 60u, MHD_OPTION_NOTIFY_COMPLETED,
                                    http_completed, srv, MHD_OPTION_END);
    else
        srv->mhd = MHD_start_daemon(
            MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL, http_handler, srv,
            MHD_OPTION_SOCK_ADDR, &addr, MHD_OPTION_THREAD_POOL_SIZE,
            (unsigned)(s->http_threads >= 1 && s->http_threads <= 256 ? s->http_threads : 4),
            MHD_OPTION_CONNECTION_TIMEOUT, 60u, MHD_OPTION_NOTIFY_COMPLETED, http_completed, srv,
            MHD_OPTION_END);
    if (!srv->mhd) {
        set_err(err, errlen, "http.listen '%s': cannot listen (address in use or not allowed)",
                s->http_listen);
        http_stop(srv);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(srv->mhd, MHD_DAEMON_INFO_BIND_PORT);
    srv->port = info ? info->port : port;
    log_info("http: listening on %s:%d (%zu plugin(s) with routes)", host, srv->port,
             srv->n_plugins);
    return srv;
}

int http_port(const http_server *srv)
{
    return srv->port;
}

void http_stop(http_server *srv)
{
    if (!srv)
        return;
    if (srv->mhd)
        MHD_stop_daemon(srv->mhd);
    for (size_t i = 0; i < srv->n_plugins; i++) {
        const purser_plugin *d = &srv->plugins[i].lp->desc;
        if (d->fini)
            d->fini(srv->plugins[i].state);
        host_ctx_done(&srv->plugins[i].ctx);
    }
    free(srv->plugins);
    web_free(srv->web);
    dbpool_free(srv->pool);
    free(srv);
}
