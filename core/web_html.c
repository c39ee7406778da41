/* Escaping, the page frame, forms and the stylesheet of the web page. */
#include "web_html.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

const char web_css[] =
    ":root{--fg:#1d2430;--muted:#5d6778;--line:#d9dee7;--bg:#f6f7f9;--accent:#1f5fbf;"
    "--ok:#1b7a3a;--bad:#b3261e;--warn:#8a5a00}\n"
    "*{box-sizing:border-box}\n"
    "body{margin:0;font:15px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;"
    "color:var(--fg);background:var(--bg)}\n"
    "header{display:flex;flex-wrap:wrap;align-items:center;gap:.5rem 1.25rem;padding:.6rem 1rem;"
    "background:#fff;border-bottom:1px solid var(--line)}\n"
    "header .brand{font-weight:700;margin-right:auto}\n"
    "header nav a{margin-right:1rem;color:var(--fg);text-decoration:none}\n"
    "header nav a.active{color:var(--accent);font-weight:600}\n"
    "header .who{color:var(--muted);font-size:.9rem}\n"
    "main{max-width:72rem;margin:0 auto;padding:1rem}\n"
    "h1{font-size:1.35rem;margin:.5rem 0 1rem}h2{font-size:1.1rem;margin:1.5rem 0 .5rem}\n"
    ".scroll{overflow-x:auto;background:#fff;border:1px solid var(--line);border-radius:6px}\n"
    "table{border-collapse:collapse;width:100%}\n"
    "th,td{text-align:left;padding:.45rem .6rem;border-bottom:1px solid var(--line);"
    "vertical-align:top}\n"
    "th{font-size:.8rem;text-transform:uppercase;letter-spacing:.03em;color:var(--muted)}\n"
    "td.num{text-align:right;white-space:nowrap}\n"
    "tr:last-child td{border-bottom:0}\n"
    "a{color:var(--accent)}\n"
    ".state{font-weight:600}.state.succeeded{color:var(--ok)}"
    ".state.failed,.state.cancelled{color:var(--bad)}"
    ".state.running,.state.pending{color:var(--warn)}.state.skipped{color:var(--muted)}\n"
    ".muted{color:var(--muted)}.small{font-size:.85rem}\n"
    "form.inline{display:inline}\n"
    "button{font:inherit;padding:.3rem .8rem;border:1px solid var(--accent);border-radius:4px;"
    "background:var(--accent);color:#fff;cursor:pointer}\n"
    "button.secondary{background:#fff;color:var(--accent)}\n"
    "input{font:inherit;padding:.35rem .5rem;border:1px solid var(--line);border-radius:4px}\n"
    ".login{max-width:22rem;margin:3rem auto;background:#fff;padding:1.5rem;"
    "border:1px solid var(--line);border-radius:8px}\n"
    ".login label{display:block;margin:.75rem 0 .25rem}.login input{width:100%}\n"
    ".login button{margin-top:1rem;width:100%}\n"
    ".notice{padding:.6rem .8rem;border-radius:4px;margin:0 0 1rem}\n"
    ".notice.ok{background:#e6f4ea;color:var(--ok)}"
    ".notice.error{background:#fce8e6;color:var(--bad)}\n"
    "pre.log{background:#fff;border:1px solid var(--line);padding:.75rem;overflow-x:auto;"
    "font-size:.85rem;white-space:pre-wrap;word-break:break-word}\n"
    "details{margin-top:.3rem}details form{margin-top:.4rem;display:flex;flex-wrap:wrap;"
    "gap:.4rem;align-items:center}\n"
    "@media (max-width:40rem){body{font-size:14px}th,td{padding:.35rem .4rem}"
    "main{padding:.6rem}.hide-narrow{display:none}}\n";

void web_h(strbuf *sb, const char *s)
{
    for (const char *p = s; p && *p; p++) {
        switch (*p) {
        case '&':
            sb_add(sb, "&amp;");
            break;
        case '<':
            sb_add(sb, "&lt;");
            break;
        case '>':
            sb_add(sb, "&gt;");
            break;
        case '"':
            sb_add(sb, "&quot;");
            break;
        case '\'':
            sb_add(sb, "&#39;");
            break;
        default:
            sb_addn(sb, p, 1);
        }
    }
}

void web_td(strbuf *sb, const char *cls, const char *s)
{
    if (cls)
        sb_addf(sb, "<td class=\"%s\">", cls);
    else
        sb_add(sb, "<td>");
    web_h(sb, s);
    sb_add(sb, "</td>");
}

static void web_nav_link(strbuf *sb, const char *href, const char *label, const char *active,
                         const char *name)
{
    sb_addf(sb, "<a href=\"%s\"%s>%s</a>", href,
            active && strcmp(active, name) == 0 ? " class=\"active\"" : "", label);
}

void web_page_begin(strbuf *sb, const char *title, const web_user *u, const char *csrf,
                    const char *active)
{
    sb_add(sb, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
               "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
               "<title>");
    web_h(sb, title);
    sb_add(sb, " · purser</title><link rel=\"stylesheet\" href=\"/static/purser.css\">"
               "</head>\n<body>\n<header><span class=\"brand\">purser</span>");
    if (u) {
        sb_add(sb, "<nav>");
        web_nav_link(sb, "/reports", "Reports", active, "reports");
        web_nav_link(sb, "/jobs", "Jobs", active, "jobs");
        if (web_role_allows(u->role, "admin"))
            web_nav_link(sb, "/audit", "Audit", active, "audit");
        sb_add(sb, "</nav><span class=\"who\">");
        web_h(sb, u->name);
        sb_add(sb, " (");
        web_h(sb, u->role);
        sb_add(sb, ")</span>");
        web_form_begin(sb, "/logout", csrf, "inline");
        sb_add(sb, "<button class=\"secondary\" type=\"submit\">Log out</button></form>");
    }
    sb_add(sb, "</header>\n<main>\n<h1>");
    web_h(sb, title);
    sb_add(sb, "</h1>\n");
}

void web_page_end(strbuf *sb)
{
    sb_add(sb, "</main>\n</body></html>\n");
}

void web_form_begin(strbuf *sb, const char *action, const char *csrf, const char *cls)
{
    sb_add(sb, "<form method=\"post\" action=\"");
    web_h(sb, action);
    sb_add(sb, "\"");
    if (cls)
        sb_addf(sb, " class=\"%s\"", cls);
    sb_add(sb, "><input type=\"hidden\" name=\"csrf\" value=\"");
    web_h(sb, csrf);
    sb_add(sb, "\">");
}

void web_notice(strbuf *sb, const char *kind, const char *text)
{
    sb_addf(sb, "<p class=\"notice %s\">", kind);
    web_h(sb, text);
    sb_add(sb, "</p>\n");
}

void web_size(strbuf *sb, int64_t bytes)
{
    static const char *const units[] = {"KiB", "MiB", "GiB", "TiB"};
    if (bytes < 1024) {
        sb_addf(sb, "%lld B", (long long)bytes);
        return;
    }
    double v = (double)bytes / 1024;
    size_t u = 0;
    while (v >= 1024 && u + 1 < sizeof units / sizeof *units) {
        v /= 1024;
        u++;
    }
    sb_addf(sb, "%.1f %s", v, units[u]);
}

void web_time_utc(strbuf *sb, int64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    char buf[40];
    gmtime_r(&tt, &tm);
    strftime(buf, sizeof buf, "%Y-%m-%d %H:%M UTC", &tm);
    sb_add(sb, buf);
}
