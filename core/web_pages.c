/* The web page's login, reports and audit pages, and downloads. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "web_form.h"
#include "web_html.h"
#include "web_internal.h"
#include "web_reports.h"

#define WEB_LOGIN_COOKIE "purser_login"
#define WEB_LOGIN_PURPOSE "purser-login"

void web_page_root(web_call *call)
{
    web_redirect(call, "/reports");
}

void web_page_css(web_call *call)
{
    web_response *resp = call->resp;
    resp->status = 200;
    resp->content_type = "text/css; charset=utf-8";
    resp->body = xstrdup(web_css);
    resp->body_len = strlen(web_css);
    /* the stylesheet may be cached, unlike the pages */
    sb_free(&resp->headers);
    sb_add(&resp->headers, "Cache-Control: max-age=3600\r\n");
}

/* ---- login ------------------------------------------------------------------ */

/* The login form, with a fresh form cookie and its token. */
static void web_login_form(web_call *call, int status, const char *error, const char *name,
                           const char *next)
{
    char secret[WEB_TOKEN_HEX], token[WEB_TOKEN_HEX];
    if (web_random_token(secret) != 0) {
        web_reply_error(call, 500, "Unavailable", "No random numbers: the login is closed.");
        return;
    }
    web_csrf_token(secret, WEB_LOGIN_PURPOSE, token);
    web_set_cookie(call, WEB_LOGIN_COOKIE, secret, "/login", 3600);
    strbuf page = {0};
    web_page_begin(&page, "Log in", NULL, NULL, NULL);
    sb_add(&page, "<form class=\"login\" method=\"post\" action=\"/login\">");
    if (error)
        web_notice(&page, "error", error);
    sb_add(&page, "<input type=\"hidden\" name=\"csrf\" value=\"");
    web_h(&page, token);
    sb_add(&page, "\">");
    if (next && web_next_ok(next)) {
        sb_add(&page, "<input type=\"hidden\" name=\"next\" value=\"");
        web_h(&page, next);
        sb_add(&page, "\">");
    }
    sb_add(&page, "<label for=\"user\">User name</label><input id=\"user\" name=\"user\" "
                  "autocomplete=\"username\" required maxlength=\"64\" value=\"");
    web_h(&page, name);
    sb_add(&page, "\"><label for=\"password\">Password</label><input id=\"password\" "
                  "name=\"password\" type=\"password\" autocomplete=\"current-password\" "
                  "required><button type=\"submit\">Log in</button></form>\n"
                  "<p class=\"muted small\">Accounts are made with <code>purser user add NAME "
                  "--role finance|ops|admin</code>.</p>\n");
    web_page_end(&page);
    web_reply_html(call, status, &page);
}

void web_page_login(web_call *call)
{
    web_login_form(call, 200, NULL, "", call->req->arg(call->req, "next"));
}

/* Too many failed logins lately from this address (for this name)? */
static bool web_login_limited(web_call *call, const char *name)
{
    const settings *s = call->app->s;
    long pair = 0, total = 0;
    if (s->web_login_attempts <= 0 ||
        web_store_login_failures(call->db, name, call->req->address, s->web_login_window_ms, &pair,
                                 &total) != 0)
        return false;
    return pair >= s->web_login_attempts || total >= 4 * s->web_login_attempts;
}

/* Check the name and password; 1 ok (call->user set), 0 refused. */
static int web_login_check(web_call *call, const char *name, const char *password, const char **why)
{
    char hash[WEB_HASH_MAX];
    web_user u;
    int found =
        web_user_name_ok(name) ? web_store_user_login(call->db, name, &u, hash, sizeof hash) : 0;
    if (found != 1) {
        web_password_burn(password);
        *why = found < 0 ? "database error" : "unknown user";
        return 0;
    }
    if (web_password_verify(password, hash) != 1) {
        *why = "wrong password";
        return 0;
    }
    call->user = u;
    return 1;
}

/* A new session for call->user: the cookie, the stored hash. 0 / -1. */
static int web_login_session(web_call *call)
{
    char sid[WEB_TOKEN_HEX], hash[65];
    if (web_random_token(sid) != 0)
        return -1;
    sha256_hex(sid, strlen(sid), hash);
    int64_t ttl = call->app->s->web_session_ttl_ms;
    if (web_store_session_add(call->db, hash, call->user.id, ttl, call->req->address) != 0)
        return -1;
    web_set_cookie(call, "purser_session", sid, "/", ttl / 1000);
    web_set_cookie(call, WEB_LOGIN_COOKIE, "", "/login", 0);
    return 0;
}

void web_login_post(web_call *call)
{
    char name[65] = "", password[WEB_PASSWORD_MAX + 1] = "", token[WEB_TOKEN_HEX + 1] = "";
    char next[513] = "", secret[WEB_TOKEN_HEX + 1], want[WEB_TOKEN_HEX];
    int name_ok = web_field(call, "user", name, sizeof name) == 1;
    if (web_field(call, "next", next, sizeof next) != 1 || !web_next_ok(next))
        snprintf(next, sizeof next, "/reports");
    if (web_cookie_get(call->req->cookie, WEB_LOGIN_COOKIE, secret, sizeof secret) != 1 ||
        web_field(call, "csrf", token, sizeof token) != 1 ||
        (web_csrf_token(secret, WEB_LOGIN_PURPOSE, want), !web_token_equal(token, want))) {
        web_audit(call, name_ok ? name : NULL, "csrf_refused", "/login", false,
                  "login form token missing or wrong");
        web_login_form(call, 403, "The form expired. Please log in again.", name, next);
        return;
    }
    if (!name_ok || web_field(call, "password", password, sizeof password) != 1) {
        web_login_form(call, 400, "Enter a user name and a password.", "", next);
        return;
    }
    if (web_login_limited(call, name)) {
        web_audit(call, name, "login_limited", "/login", false, "too many failed logins");
        sb_addf(&call->resp->headers, "Retry-After: %lld\r\n",
                (long long)(call->app->s->web_login_window_ms / 1000));
        web_login_form(call, 429, "Too many failed logins. Try again later.", name, next);
        return;
    }
    const char *why = NULL;
    if (!web_login_check(call, name, password, &why)) {
        web_audit(call, name, "login_failed", "/login", false, why);
        web_login_form(call, 401, "Wrong user name or password.", name, next);
        return;
    }
    if (web_login_session(call) != 0) {
        memset(&call->user, 0, sizeof call->user);
        web_reply_error(call, 503, "Unavailable", "The session could not be recorded.");
        return;
    }
    web_audit(call, NULL, "login", "/login", true, NULL);
    web_redirect(call, next);
}

void web_logout_post(web_call *call)
{
    char sid[WEB_TOKEN_HEX + 1], hash[65];
    if (web_cookie_get(call->req->cookie, "purser_session", sid, sizeof sid) == 1) {
        sha256_hex(sid, strlen(sid), hash);
        web_store_session_end(call->db, hash);
    }
    web_audit(call, NULL, "logout", "/logout", true, NULL);
    web_set_cookie(call, "purser_session", "", "/", 0);
    web_redirect(call, "/login");
}

/* ---- reports ------------------------------------------------------------------ */

static void web_reports_table(strbuf *p, const web_report *r, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || strcmp(r[i].date, r[i - 1].date) != 0) {
            if (i)
                sb_add(p, "</tbody></table></div>\n");
            sb_add(p, "<h2>Business date ");
            web_h(p, r[i].date);
            sb_add(p, "</h2>\n<div class=\"scroll\"><table><thead><tr><th>Kind</th><th>File</th>"
                      "<th class=\"num\">Size</th><th class=\"hide-narrow\">Generated</th>"
                      "</tr></thead><tbody>\n");
        }
        sb_add(p, "<tr>");
        web_td(p, NULL, r[i].kind);
        sb_add(p, "<td><a href=\"/reports/");
        web_h(p, r[i].date);
        sb_add(p, "/");
        web_h(p, r[i].name);
        sb_add(p, "\" download>");
        web_h(p, r[i].name);
        sb_add(p, "</a></td><td class=\"num\">");
        web_size(p, r[i].size);
        sb_add(p, "</td><td class=\"hide-narrow\">");
        web_time_utc(p, r[i].mtime);
        sb_add(p, "</td></tr>\n");
    }
    if (n)
        sb_add(p, "</tbody></table></div>\n");
}

void web_page_reports(web_call *call)
{
    web_report *r = NULL;
    size_t n = 0;
    strbuf p = {0};
    web_page_begin(&p, "Reports", &call->user, call->csrf, "reports");
    if (web_reports_list(call->app->s->reports_dir, &r, &n) != 0) {
        log_error("web: cannot read reports.output_dir %s", call->app->s->reports_dir);
        web_notice(&p, "error", "The report folder cannot be read (see the server's log).");
    } else if (n == 0) {
        sb_add(&p, "<p class=\"muted\">No workbooks yet: they appear here once the nightly jobs "
                   "have run.</p>\n");
    } else {
        sb_add(&p, "<p class=\"muted small\">Workbooks by business date, newest first. Each link "
                   "is a bookmarkable address.</p>\n");
        web_reports_table(&p, r, n);
    }
    free(r);
    web_page_end(&p);
    web_reply_html(call, 200, &p);
}

void web_download(web_call *call)
{
    const char *date = call->params[0], *name = call->params[1];
    web_report info;
    int fd;
    char target[520];
    snprintf(target, sizeof target, "%s/%s", date, name);
    if (web_report_open(call->app->s->reports_dir, date, name, &fd, &info) != 0) {
        web_audit(call, NULL, "download", target, false, "not found");
        web_reply_error(call, 404, "Not found", "There is no such workbook.");
        return;
    }
    web_audit(call, NULL, "download", target, true, NULL);
    web_response *resp = call->resp;
    resp->status = 200;
    resp->content_type = info.content_type;
    resp->fd = fd;
    resp->file_size = (uint64_t)info.size;
    /* the name passed web_report_name_ok: no quote, slash or control byte */
    sb_addf(&resp->headers, "Content-Disposition: attachment; filename=\"%s\"\r\n", info.name);
}

/* ---- audit ---------------------------------------------------------------------- */

void web_page_audit(web_call *call)
{
    PGresult *r =
        PQexec(call->db, "SELECT to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'), "
                         "coalesce(username, ''), coalesce(role, ''), action, coalesce(target, "
                         "''), ok, coalesce(address, ''), coalesce(detail, '') FROM web_audit "
                         "ORDER BY id DESC LIMIT 200");
    strbuf p = {0};
    web_page_begin(&p, "Audit", &call->user, call->csrf, "audit");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        web_notice(&p, "error", PQresultErrorMessage(r));
    } else {
        sb_add(&p, "<p class=\"muted small\">The latest 200 entries (UTC).</p><div "
                   "class=\"scroll\"><table><thead><tr><th>When</th><th>Who</th><th>Action</th>"
                   "<th>Target</th><th>Result</th><th class=\"hide-narrow\">Address</th></tr>"
                   "</thead><tbody>\n");
        for (int i = 0; i < PQntuples(r); i++) {
            bool ok = PQgetvalue(r, i, 5)[0] == 't';
            sb_add(&p, "<tr><td>");
            web_h(&p, PQgetvalue(r, i, 0));
            sb_add(&p, "</td><td>");
            web_h(&p, PQgetvalue(r, i, 1));
            sb_add(&p, " <span class=\"muted\">");
            web_h(&p, PQgetvalue(r, i, 2));
            sb_add(&p, "</span></td><td>");
            web_h(&p, PQgetvalue(r, i, 3));
            sb_add(&p, "</td><td>");
            web_h(&p, PQgetvalue(r, i, 4));
            sb_addf(&p, "</td><td class=\"state %s\">%s", ok ? "succeeded" : "failed",
                    ok ? "ok" : "refused");
            if (*PQgetvalue(r, i, 7)) {
                sb_add(&p, " <span class=\"muted small\">");
                web_h(&p, PQgetvalue(r, i, 7));
                sb_add(&p, "</span>");
            }
            sb_add(&p, "</td><td class=\"hide-narrow\">");
            web_h(&p, PQgetvalue(r, i, 6));
            sb_add(&p, "</td></tr>\n");
        }
        sb_add(&p, "</tbody></table></div>\n");
    }
    PQclear(r);
    web_page_end(&p);
    web_reply_html(call, 200, &p);
}
