/* The web page's front door: routes, the gate every request passes
 * (session cookie -> user, CSRF token on every POST, the route's role),
 * security headers on every answer, and the helpers pages answer with. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "web_form.h"
#include "web_html.h"
#include "web_internal.h"

/* A route: need is the least role allowed, NULL for public pages. */
typedef struct web_route {
    const char *method;
    const char *pattern; /* {x} matches one non-empty segment */
    const char *need;
    web_handler fn;
} web_route;

static const web_route web_routes[] = {
    {"GET", "/", "finance", web_page_root},
    {"GET", "/static/purser.css", NULL, web_page_css},
    {"GET", "/login", NULL, web_page_login},
    {"POST", "/login", NULL, web_login_post},
    {"POST", "/logout", "finance", web_logout_post},
    {"GET", "/reports", "finance", web_page_reports},
    {"GET", "/reports/{date}/{file}", "finance", web_download},
    {"GET", "/jobs", "finance", web_page_jobs},
    {"GET", "/runs/{id}", "finance", web_page_run},
    {"POST", "/runs/{id}/retry", "ops", web_retry_post},
    {"POST", "/jobs/{job}/pause", "ops", web_pause_post},
    {"POST", "/jobs/{job}/resume", "ops", web_resume_post},
    {"POST", "/jobs/{job}/backfill", "ops", web_backfill_post},
    {"GET", "/audit", "admin", web_page_audit},
    {NULL, NULL, NULL, NULL},
};

#define WEB_SESSION_COOKIE "purser_session"
#define WEB_CSP                                                                                    \
    "default-src 'self'; script-src 'none'; object-src 'none'; base-uri 'none'; "                  \
    "form-action 'self'; frame-ancestors 'none'"

web_app *web_new(const settings *s, const plugin_set *plugins, dbpool *pool)
{
    web_app *app = xcalloc(1, sizeof *app);
    app->s = s;
    app->plugins = plugins;
    app->pool = pool;
    return app;
}

void web_free(web_app *app)
{
    free(app);
}

bool web_owns(const char *path)
{
    static const char *const prefixes[] = {"/login", "/logout", "/reports", "/jobs",
                                           "/runs",  "/audit",  "/static"};
    if (strcmp(path, "/") == 0)
        return true;
    for (size_t i = 0; i < sizeof prefixes / sizeof *prefixes; i++) {
        size_t n = strlen(prefixes[i]);
        if (strncmp(path, prefixes[i], n) == 0 && (path[n] == '\0' || path[n] == '/'))
            return true;
    }
    return false;
}

/* Does path match pattern? Captured segments go to params. */
static bool web_match(const char *pattern, const char *path, char params[][256])
{
    size_t k = 0;
    while (*pattern == '/' && *path == '/') {
        pattern++;
        path++;
        size_t plen = strcspn(pattern, "/"), slen = strcspn(path, "/");
        if (plen >= 2 && pattern[0] == '{') {
            if (slen == 0 || slen >= 256 || k == WEB_MAX_PARAMS)
                return false;
            memcpy(params[k], path, slen);
            params[k++][slen] = '\0';
        } else if (plen != slen || strncmp(pattern, path, plen) != 0) {
            return false;
        }
        pattern += plen;
        path += slen;
    }
    return *pattern == '\0' && *path == '\0';
}

/* ---- answering ------------------------------------------------------------ */

static void web_security_headers(web_response *resp)
{
    sb_add(&resp->headers, "Content-Security-Policy: " WEB_CSP "\r\n"
                           "X-Frame-Options: DENY\r\n"
                           "Referrer-Policy: same-origin\r\n"
                           "Cache-Control: no-store\r\n");
}

void web_reply_html(web_call *call, int status, strbuf *page)
{
    web_response *resp = call->resp;
    free(resp->body);
    resp->status = status;
    resp->content_type = "text/html; charset=utf-8";
    resp->body_len = page->len;
    resp->body = sb_take(page);
}

void web_redirect(web_call *call, const char *location)
{
    strbuf page = {0};
    sb_add(&call->resp->headers, "Location: ");
    sb_add(&call->resp->headers, location);
    sb_add(&call->resp->headers, "\r\n");
    sb_add(&page, "<!DOCTYPE html><title>See other</title><a href=\"");
    web_h(&page, location);
    sb_add(&page, "\">Continue</a>\n");
    web_reply_html(call, 303, &page);
}

void web_reply_error(web_call *call, int status, const char *title, const char *message)
{
    strbuf page = {0};
    web_page_begin(&page, title, call->user.id ? &call->user : NULL, call->csrf, NULL);
    web_notice(&page, "error", message);
    if (!call->user.id)
        sb_add(&page, "<p><a href=\"/login\">Log in</a></p>\n");
    web_page_end(&page);
    web_reply_html(call, status, &page);
}

void web_audit(web_call *call, const char *who, const char *action, const char *target, bool ok,
               const char *detail)
{
    const char *user = call->user.id ? call->user.name : who;
    if (!call->db || web_store_audit(call->db, user, call->user.id ? call->user.role : NULL, action,
                                     target, ok, call->req->address, detail) != 0)
        log_error("web: could not record %s of %s by %s in web_audit", action,
                  target ? target : "-", user ? user : "-");
}

int web_field(const web_call *call, const char *name, char *out, size_t outlen)
{
    if (!call->req->body)
        return 0;
    return web_form_get(call->req->body, call->req->body_len, name, out, outlen);
}

void web_set_cookie(web_call *call, const char *name, const char *value, const char *path,
                    int64_t max_age_s)
{
    sb_addf(&call->resp->headers,
            "Set-Cookie: %s=%s; Path=%s; Max-Age=%lld; HttpOnly; "
            "SameSite=Strict%s\r\n",
            name, value, path, (long long)max_age_s,
            call->app->s->web_secure_cookie ? "; Secure" : "");
}

/* ---- the gate ---------------------------------------------------------------- */

/* The session's user from the cookie; fills call->user and call->csrf.
 * 1 logged in, 0 not, -1 database error. */
static int web_session(web_call *call)
{
    char sid[WEB_TOKEN_HEX + 1], hash[65];
    if (web_cookie_get(call->req->cookie, WEB_SESSION_COOKIE, sid, sizeof sid) != 1 ||
        strlen(sid) != WEB_TOKEN_HEX - 1)
        return 0;
    sha256_hex(sid, strlen(sid), hash);
    int rc = web_store_session_user(call->db, hash, &call->user);
    if (rc == 1)
        web_csrf_token(sid, "purser-form", call->csrf);
    else
        memset(&call->user, 0, sizeof call->user);
    return rc;
}

/* A logged-out visitor goes to the login page, and back here after it. */
static void web_to_login(web_call *call)
{
    strbuf loc = {0};
    sb_add(&loc, "/login");
    if (strcmp(call->req->method, "GET") == 0 && web_next_ok(call->req->path) &&
        strcmp(call->req->path, "/") != 0) {
        sb_add(&loc, "?next=");
        web_url_encode(&loc, call->req->path);
    }
    web_redirect(call, loc.data);
    sb_free(&loc);
}

/* The CSRF token of a POST must be the session's. */
static bool web_csrf_ok(web_call *call)
{
    char token[WEB_TOKEN_HEX + 1];
    return web_field(call, "csrf", token, sizeof token) == 1 && web_token_equal(token, call->csrf);
}

static void web_gate(web_call *call, const web_route *r)
{
    if (!r->need) {
        r->fn(call);
        return;
    }
    int s = web_session(call);
    if (s < 0) {
        web_reply_error(call, 503, "Unavailable",
                        "The database does not answer (or `purser migrate` was not run).");
        return;
    }
    if (s == 0) {
        web_to_login(call);
        return;
    }
    if (strcmp(r->method, "POST") == 0 && !web_csrf_ok(call)) {
        web_audit(call, NULL, "csrf_refused", call->req->path, false,
                  "form token missing or wrong");
        web_reply_error(call, 403, "Refused",
                        "The form's security token is missing or wrong. Reload the page and try "
                        "again.");
        return;
    }
    if (!web_role_allows(call->user.role, r->need)) {
        web_audit(call, NULL, "forbidden", call->req->path, false, r->need);
        strbuf msg = {0};
        sb_addf(&msg, "This needs the %s role; you are %s.", r->need, call->user.role);
        web_reply_error(call, 403, "Not allowed", msg.data);
        sb_free(&msg);
        return;
    }
    r->fn(call);
}

void web_handle(web_app *app, const web_request *req, web_response *resp)
{
    memset(resp, 0, sizeof *resp);
    resp->fd = -1;
    resp->route = "/web";
    web_security_headers(resp);
    web_call call = {.app = app, .req = req, .resp = resp};
    const web_route *found = NULL;
    bool other_method = false;
    for (const web_route *r = web_routes; r->method && !found; r++)
        if (web_match(r->pattern, req->path, call.params)) {
            if (strcmp(r->method, req->method) == 0)
                found = r;
            else
                other_method = true;
        }
    if (!found) {
        if (other_method)
            sb_add(&resp->headers, "Allow: GET, POST\r\n");
        web_reply_error(&call, other_method ? 405 : 404,
                        other_method ? "Method not allowed" : "Not found",
                        other_method ? "Actions are buttons on the pages (POST only)."
                                     : "There is nothing at this address.");
        return;
    }
    resp->route = found->pattern;
    if (found->fn == web_page_css) {
        found->fn(&call);
        return;
    }
    call.db = dbpool_get(app->pool);
    if (!call.db)
        web_reply_error(&call, 503, "Unavailable", "The database does not answer.");
    else
        web_gate(&call, found);
    dbpool_put(app->pool, call.db);
}

void web_response_free(web_response *resp)
{
    free(resp->body);
    sb_free(&resp->headers);
    resp->body = NULL;
}
