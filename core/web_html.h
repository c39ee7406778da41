/* HTML for the web page: escaping (every value that is not a literal of
 * ours goes through web_h), the page frame with its navigation, forms
 * with their CSRF field, sizes and times, and the stylesheet. No script
 * anywhere: the page works with CSP default-src 'self'. */
#ifndef PURSER_WEB_HTML_H
#define PURSER_WEB_HTML_H

#include <stdint.h>

#include "util.h"
#include "web_store.h"

/* The stylesheet served at /static/purser.css; static. */
extern const char web_css[];

/* Append s with & < > " ' escaped (NULL appends nothing). */
void web_h(strbuf *sb, const char *s);
/* One table cell holding s escaped, with class cls unless NULL. */
void web_td(strbuf *sb, const char *cls, const char *s);

/* Open a page: doctype, head with title, and for a logged-in user (u not
 * NULL) the navigation (`active` is "reports", "jobs" or "audit") with a
 * logout button carrying csrf. */
void web_page_begin(strbuf *sb, const char *title, const web_user *u, const char *csrf,
                    const char *active);
void web_page_end(strbuf *sb);

/* <form method="post" action="ACTION" class="CLS"> and its hidden CSRF
 * field; close with "</form>". action is escaped. */
void web_form_begin(strbuf *sb, const char *action, const char *csrf, const char *cls);

/* A notice paragraph (kind: "ok" or "error"), text escaped. */
void web_notice(strbuf *sb, const char *kind, const char *text);

/* "12.3 KiB", "845 B". */
void web_size(strbuf *sb, int64_t bytes);
/* "2026-01-02 03:04 UTC". */
void web_time_utc(strbuf *sb, int64_t t);

#endif
