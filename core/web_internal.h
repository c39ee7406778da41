/* Shared by the web page's files (web.c routing and the gate, web_pages.c
 * login/reports/audit, web_jobs.c jobs and runs): one request's call
 * state and the helpers that answer it. Not for the rest of the core. */
#ifndef PURSER_WEB_INTERNAL_H
#define PURSER_WEB_INTERNAL_H

#include <libpq-fe.h>

#include "web.h"
#include "web_auth.h"
#include "web_store.h"

struct web_app {
    const settings *s;         /* borrowed */
    const plugin_set *plugins; /* borrowed */
    dbpool *pool;              /* borrowed */
};

#define WEB_MAX_PARAMS 3

/* One request in flight. */
typedef struct web_call {
    web_app *app;
    const web_request *req;
    web_response *resp;
    PGconn *db;                       /* borrowed from the pool for this request */
    web_user user;                    /* logged-in user; id 0 when none */
    char csrf[WEB_TOKEN_HEX];         /* the session's form token */
    char params[WEB_MAX_PARAMS][256]; /* the route's {x} segments */
} web_call;

typedef void (*web_handler)(web_call *call);

/* ---- answering (web.c) ---- */
/* An HTML page with status: takes the buffer's text. */
void web_reply_html(web_call *call, int status, strbuf *page);
/* 303 See Other to a local address. */
void web_redirect(web_call *call, const char *location);
/* A page with a title and one escaped sentence. */
void web_reply_error(web_call *call, int status, const char *title, const char *message);
/* Append to the audit trail as the call's user (or `who` when not logged
 * in, e.g. a failed login). */
void web_audit(web_call *call, const char *who, const char *action, const char *target, bool ok,
               const char *detail);
/* The decoded form field of a POST body into out; 1, 0 absent, -1 bad. */
int web_field(const web_call *call, const char *name, char *out, size_t outlen);
/* "Set-Cookie: " line for the session cookie (value "" with max_age 0
 * clears it). */
void web_set_cookie(web_call *call, const char *name, const char *value, const char *path,
                    int64_t max_age_s);

/* ---- pages (web_pages.c, web_jobs.c) ---- */
void web_page_root(web_call *call);
void web_page_css(web_call *call);
void web_page_login(web_call *call);
void web_login_post(web_call *call);
void web_logout_post(web_call *call);
void web_page_reports(web_call *call);
void web_download(web_call *call);
void web_page_audit(web_call *call);
void web_page_jobs(web_call *call);
void web_page_run(web_call *call);
void web_retry_post(web_call *call);
void web_pause_post(web_call *call);
void web_resume_post(web_call *call);
void web_backfill_post(web_call *call);

#endif
