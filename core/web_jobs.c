/* The web page's jobs and runs: the jobs with their schedule, next run,
 * last result and duration; recent runs and one run's log; and the
 * operators' actions (re-run, pause/resume, backfill), which call the
 * same core functions as `purser retry/pause/resume/backfill` (ops.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jobs.h"
#include "log.h"
#include "ops.h"
#include "run.h"
#include "sched.h"
#include "web_form.h"
#include "web_html.h"
#include "web_internal.h"

/* Backfills from the page are capped; larger ones belong to the CLI. */
#define WEB_BACKFILL_MAX_SLOTS 1000
#define WEB_RECENT_RUNS 50

static PGresult *web_select(web_call *call, const char *sql, int n, const char *const *v)
{
    PGresult *r = PQexecParams(call->db, sql, n, NULL, v, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        log_error("web: %s", PQresultErrorMessage(r));
        PQclear(r);
        return NULL;
    }
    return r;
}

/* Row of r whose first column is `key`, or -1. */
static int web_row_of(PGresult *r, const char *key)
{
    for (int i = 0; r && i < PQntuples(r); i++)
        if (strcmp(PQgetvalue(r, i, 0), key) == 0)
            return i;
    return -1;
}

static void web_state(strbuf *p, const char *state)
{
    sb_add(p, "<span class=\"state ");
    web_h(p, state);
    sb_add(p, "\">");
    web_h(p, state);
    sb_add(p, "</span>");
}

static bool web_can_act(const web_call *call)
{
    return web_role_allows(call->user.role, "ops");
}

/* ---- the jobs page ---------------------------------------------------------------- */

static void web_job_next(strbuf *p, const job_def *j)
{
    sched_job sj;
    char err[256], local[40];
    int64_t next;
    if (!j->enabled) {
        sb_add(p, "<span class=\"muted\">disabled</span>");
    } else if (sched_job_init(&sj, j, (int64_t)time(NULL), err, sizeof err) != 0) {
        web_h(p, err);
    } else {
        if (cron_next_in(&sj.expr, sj.zone, (int64_t)time(NULL), &next) == 0) {
            sched_format_local(sj.zone, next, local, sizeof local);
            web_h(p, local);
        } else {
            sb_add(p, "<span class=\"muted\">never</span>");
        }
        sched_job_free(&sj);
    }
}

static void web_job_actions(web_call *call, strbuf *p, const job_def *j, bool paused)
{
    strbuf base = {0}, action = {0};
    sb_add(&base, "/jobs/");
    web_url_encode(&base, j->name);
    sb_addf(&action, "%s/%s", base.data, paused ? "resume" : "pause");
    web_form_begin(p, action.data, call->csrf, "inline");
    sb_addf(p, "<button type=\"submit\" class=\"secondary\">%s</button></form>",
            paused ? "Resume" : "Pause");
    sb_free(&action);
    sb_addf(&action, "%s/backfill", base.data);
    sb_add(p, "<details><summary>Backfill</summary>");
    web_form_begin(p, action.data, call->csrf, NULL);
    sb_free(&action);
    sb_free(&base);
    sb_add(p, "<label>from <input type=\"date\" name=\"from\" required></label>"
              "<label>to <input type=\"date\" name=\"to\" required></label>"
              "<button type=\"submit\">Backfill</button></form></details>");
}

static void web_job_row(web_call *call, strbuf *p, const job_def *j, PGresult *last,
                        PGresult *paused)
{
    const cfg_node *desc = cfg_get(j->node, "description");
    bool is_paused = web_row_of(paused, j->name) >= 0;
    sb_add(p, "<tr><td><strong>");
    web_h(p, j->name);
    sb_add(p, "</strong>");
    if (is_paused)
        sb_add(p, " <span class=\"state skipped\">paused</span>");
    if (desc && desc->value) {
        sb_add(p, "<br><span class=\"muted small\">");
        web_h(p, desc->value);
        sb_add(p, "</span>");
    }
    sb_add(p, "</td><td><code>");
    web_h(p, j->schedule);
    sb_add(p, "</code><br><span class=\"muted small\">");
    web_h(p, j->timezone);
    sb_add(p, "</span></td><td>");
    web_job_next(p, j);
    sb_add(p, "</td><td>");
    int row = web_row_of(last, j->name);
    if (row < 0) {
        sb_add(p, "<span class=\"muted\">never run</span></td><td></td>");
    } else {
        web_state(p, PQgetvalue(last, row, 1));
        sb_add(p, " <span class=\"small\">for ");
        web_h(p, PQgetvalue(last, row, 2));
        sb_add(p, "</span><br><span class=\"muted small\">");
        web_h(p, PQgetvalue(last, row, 3));
        sb_add(p, "</span></td><td class=\"num\">");
        web_h(p, PQgetvalue(last, row, 4));
        sb_add(p, "</td>");
    }
    if (web_can_act(call)) {
        sb_add(p, "<td>");
        web_job_actions(call, p, j, is_paused);
        sb_add(p, "</td>");
    }
    sb_add(p, "</tr>\n");
}

static void web_jobs_table(web_call *call, strbuf *p)
{
    job_set js;
    char err[1024];
    if (jobs_load(call->app->s, call->app->plugins, &js, err, sizeof err) != 0) {
        web_notice(p, "error", err);
        jobs_free(&js);
        return;
    }
    PGresult *last = web_select(
        call,
        "SELECT DISTINCT ON (job) job, state, business_date::text, coalesce(to_char(finished_at "
        "AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI \"UTC\"'), ''), coalesce(round(extract(epoch "
        "FROM finished_at - started_at)::numeric, 1)::text || ' s', '') FROM purser_runs WHERE "
        "state NOT IN ('pending', 'running') ORDER BY job, id DESC",
        0, NULL);
    PGresult *paused = web_select(call, "SELECT job FROM purser_jobs WHERE paused", 0, NULL);
    sb_add(p, "<div class=\"scroll\"><table><thead><tr><th>Job</th><th>Schedule</th>"
              "<th>Next run</th><th>Last result</th><th class=\"num\">Duration</th>");
    if (web_can_act(call))
        sb_add(p, "<th>Actions</th>");
    sb_add(p, "</tr></thead><tbody>\n");
    for (size_t i = 0; i < js.count; i++)
        web_job_row(call, p, &js.items[i], last, paused);
    sb_add(p, "</tbody></table></div>\n");
    if (js.count == 0)
        sb_add(p, "<p class=\"muted\">No jobs are defined (jobs.dir).</p>\n");
    PQclear(last);
    PQclear(paused);
    jobs_free(&js);
}

/* A re-run button for a run that may be retried. */
static void web_retry_button(web_call *call, strbuf *p, const char *id, const char *state)
{
    if (!web_can_act(call) || (strcmp(state, "failed") != 0 && strcmp(state, "cancelled") != 0 &&
                               strcmp(state, "skipped") != 0))
        return;
    char action[64];
    snprintf(action, sizeof action, "/runs/%s/retry", id);
    web_form_begin(p, action, call->csrf, "inline");
    sb_add(p, "<button type=\"submit\">Re-run</button></form>");
}

static void web_runs_table(web_call *call, strbuf *p)
{
    char limit[16];
    snprintf(limit, sizeof limit, "%d", WEB_RECENT_RUNS);
    const char *v[1] = {limit};
    PGresult *r = web_select(
        call,
        "SELECT id::text, job, business_date::text, kind, state, attempt || '/' || max_attempts, "
        "coalesce(to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'), ''), "
        "coalesce(round(extract(epoch FROM finished_at - started_at)::numeric, 1)::text || ' s', "
        "''), coalesce(message, '') FROM purser_runs ORDER BY id DESC LIMIT $1::int",
        1, v);
    if (!r) {
        web_notice(p, "error", "The runs cannot be read (see the server's log).");
        return;
    }
    sb_add(p, "<div class=\"scroll\"><table><thead><tr><th>Run</th><th>Job</th>"
              "<th>Business date</th><th>State</th><th class=\"num\">Attempt</th>"
              "<th class=\"hide-narrow\">Started (UTC)</th><th class=\"num\">Duration</th>"
              "<th class=\"hide-narrow\">Message</th><th></th></tr></thead><tbody>\n");
    for (int i = 0; i < PQntuples(r); i++) {
        const char *id = PQgetvalue(r, i, 0);
        sb_addf(p, "<tr id=\"run-%s\"><td><a href=\"/runs/%s\">%s</a></td><td>", id, id, id);
        web_h(p, PQgetvalue(r, i, 1));
        sb_add(p, " <span class=\"muted small\">");
        web_h(p, PQgetvalue(r, i, 3));
        sb_add(p, "</span></td>");
        web_td(p, NULL, PQgetvalue(r, i, 2));
        sb_add(p, "<td>");
        web_state(p, PQgetvalue(r, i, 4));
        sb_add(p, "</td>");
        web_td(p, "num", PQgetvalue(r, i, 5));
        web_td(p, "hide-narrow", PQgetvalue(r, i, 6));
        web_td(p, "num", PQgetvalue(r, i, 7));
        web_td(p, "hide-narrow small", PQgetvalue(r, i, 8));
        sb_add(p, "<td>");
        web_retry_button(call, p, id, PQgetvalue(r, i, 4));
        sb_add(p, "</td></tr>\n");
    }
    sb_add(p, "</tbody></table></div>\n");
    PQclear(r);
}

/* The sentence for ?notice=...&job=...&slots=... after an action. */
static void web_jobs_notice(web_call *call, strbuf *p)
{
    const char *notice = call->req->arg(call->req, "notice");
    const char *job = call->req->arg(call->req, "job");
    const char *slots = call->req->arg(call->req, "slots");
    if (!notice || !job)
        return;
    strbuf t = {0};
    if (strcmp(notice, "paused") == 0)
        sb_addf(&t, "Job %s paused: its slots are recorded as skipped until it is resumed.", job);
    else if (strcmp(notice, "resumed") == 0)
        sb_addf(&t, "Job %s resumed.", job);
    else if (strcmp(notice, "backfill") == 0)
        sb_addf(&t, "Backfill of %s planned (%s slots): a running daemon runs them.", job,
                slots ? slots : "?");
    if (t.len)
        web_notice(p, "ok", t.data);
    sb_free(&t);
}

void web_page_jobs(web_call *call)
{
    strbuf p = {0};
    web_page_begin(&p, "Jobs", &call->user, call->csrf, "jobs");
    web_jobs_notice(call, &p);
    web_jobs_table(call, &p);
    sb_add(&p, "<h2>Recent runs</h2>\n");
    web_runs_table(call, &p);
    web_page_end(&p);
    web_reply_html(call, 200, &p);
}

/* ---- one run ------------------------------------------------------------------------ */

/* The {id} segment as a run id (1 to 18 digits); NULL otherwise. */
static const char *web_run_id(web_call *call)
{
    const char *id = call->params[0];
    size_t n = strspn(id, "0123456789");
    return n > 0 && n <= 18 && id[n] == '\0' && id[0] != '0' ? id : NULL;
}

static void web_run_log(web_call *call, strbuf *p, const char *id)
{
    const char *v[1] = {id};
    PGresult *r = web_select(call,
                             "SELECT attempt, to_char(at AT TIME ZONE 'UTC', "
                             "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), level, message FROM "
                             "purser_run_logs WHERE run_id = $1::bigint ORDER BY seq",
                             1, v);
    sb_add(p, "<h2>Log</h2>\n");
    if (!r || PQntuples(r) == 0) {
        sb_add(p, "<p class=\"muted\">No log lines.</p>\n");
    } else {
        sb_add(p, "<pre class=\"log\">");
        for (int i = 0; i < PQntuples(r); i++) {
            sb_add(p, "#");
            web_h(p, PQgetvalue(r, i, 0));
            sb_add(p, " ");
            web_h(p, PQgetvalue(r, i, 1));
            sb_add(p, " ");
            web_h(p, PQgetvalue(r, i, 2));
            sb_add(p, " ");
            web_h(p, PQgetvalue(r, i, 3));
            sb_add(p, "\n");
        }
        sb_add(p, "</pre>\n");
    }
    PQclear(r);
}

void web_page_run(web_call *call)
{
    const char *id = web_run_id(call);
    const char *v[1] = {id};
    PGresult *r = id ? web_select(call,
                                  "SELECT job, plugin, kind, business_date::text, state, attempt "
                                  "|| ' of ' || max_attempts, coalesce(to_char(started_at AT "
                                  "TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS \"UTC\"'), ''), "
                                  "coalesce(to_char(finished_at AT TIME ZONE 'UTC', 'YYYY-MM-DD "
                                  "HH24:MI:SS \"UTC\"'), ''), coalesce(round(extract(epoch FROM "
                                  "finished_at - started_at)::numeric, 1)::text || ' s', ''), "
                                  "coalesce(message, '') FROM purser_runs WHERE id = $1::bigint",
                                  1, v)
                     : NULL;
    if (!r || PQntuples(r) != 1) {
        PQclear(r);
        web_reply_error(call, 404, "Not found", "There is no such run.");
        return;
    }
    static const char *const labels[] = {"Job",      "Plugin",  "Kind",    "Business date",
                                         "State",    "Attempt", "Started", "Finished",
                                         "Duration", "Message"};
    strbuf p = {0}, title = {0};
    sb_addf(&title, "Run %s", id);
    web_page_begin(&p, title.data, &call->user, call->csrf, "jobs");
    const char *notice = call->req->arg(call->req, "notice");
    if (notice && strcmp(notice, "queued") == 0)
        web_notice(&p, "ok", "Queued for another attempt: a running daemon picks it up.");
    sb_add(&p, "<div class=\"scroll\"><table><tbody>\n");
    for (int c = 0; c < 10; c++) {
        sb_addf(&p, "<tr><th>%s</th><td>", labels[c]);
        if (c == 4)
            web_state(&p, PQgetvalue(r, 0, c));
        else
            web_h(&p, PQgetvalue(r, 0, c));
        sb_add(&p, "</td></tr>\n");
    }
    sb_add(&p, "</tbody></table></div>\n<p>");
    web_retry_button(call, &p, id, PQgetvalue(r, 0, 4));
    sb_add(&p, " <a href=\"/jobs\">All jobs</a></p>\n");
    web_run_log(call, &p, id);
    PQclear(r);
    sb_free(&title);
    web_page_end(&p);
    web_reply_html(call, 200, &p);
}

/* ---- actions ---------------------------------------------------------------------------- */

void web_retry_post(web_call *call)
{
    const char *id = web_run_id(call);
    char job[128] = "", err[512] = "", loc[300];
    int rc = id ? ops_retry(call->db, atoll(id), job, sizeof job, err, sizeof err) : 0;
    web_audit(call, NULL, "retry", id ? id : call->params[0], rc == 1,
              rc == 1   ? job
              : rc == 0 ? "not failed, cancelled or skipped"
                        : err);
    if (rc < 0) {
        web_reply_error(call, 500, "Not done", err);
    } else if (rc == 0) {
        web_reply_error(call, 409, "Not done",
                        "This run does not exist, or is not failed, cancelled or skipped.");
    } else {
        snprintf(loc, sizeof loc, "/runs/%s?notice=queued", id);
        web_redirect(call, loc);
    }
}

/* The job named in the path, from the job files; NULL (answered 404 or
 * 500) when there is none. js is filled for the caller to free. */
static const job_def *web_find_job(web_call *call, job_set *js)
{
    char err[1024];
    if (jobs_load(call->app->s, call->app->plugins, js, err, sizeof err) != 0) {
        web_reply_error(call, 500, "Job definitions", err);
        return NULL;
    }
    const job_def *j = jobs_find(js, call->params[0]);
    if (!j) {
        web_audit(call, NULL, "job_action", call->params[0], false, "no such job");
        web_reply_error(call, 404, "Not found", "There is no job of that name.");
    }
    return j;
}

/* Redirect to the jobs page with a notice about job. */
static void web_back_to_jobs(web_call *call, const char *notice, const char *job, size_t slots)
{
    strbuf loc = {0};
    sb_addf(&loc, "/jobs?notice=%s&job=", notice);
    web_url_encode(&loc, job);
    if (slots)
        sb_addf(&loc, "&slots=%zu", slots);
    web_redirect(call, loc.data);
    sb_free(&loc);
}

static void web_pause_resume(web_call *call, bool pause)
{
    job_set js;
    const job_def *j = web_find_job(call, &js);
    char err[512];
    if (j) {
        int rc = ops_set_paused(call->db, j->name, pause, err, sizeof err);
        web_audit(call, NULL, pause ? "pause" : "resume", j->name, rc == 0, rc ? err : NULL);
        if (rc == 0)
            web_back_to_jobs(call, pause ? "paused" : "resumed", j->name, 0);
        else
            web_reply_error(call, 500, "Not done", err);
    }
    jobs_free(&js);
}

void web_pause_post(web_call *call)
{
    web_pause_resume(call, true);
}

void web_resume_post(web_call *call)
{
    web_pause_resume(call, false);
}

/* Plan the backfill of j over [from, to]; 0, or -1 with msg set. */
static int web_backfill_run(web_call *call, const job_def *j, const char *from, const char *to,
                            size_t *n_slots, char *msg, size_t msglen)
{
    sched_job sj;
    if (sched_job_init(&sj, j, (int64_t)time(NULL), msg, msglen) != 0)
        return -1;
    size_t n = 0;
    int64_t *inst = sched_instants_between(&sj, from, to, &n);
    int rc = -1;
    ops_backfill_counts counts;
    if (n == 0)
        snprintf(msg, msglen, "No scheduled instant of %s between %s and %s.", j->name, from, to);
    else if (n > WEB_BACKFILL_MAX_SLOTS)
        snprintf(msg, msglen,
                 "%zu slots is more than the page plans at once (%d): use `purser "
                 "backfill %s --from %s --to %s`.",
                 n, WEB_BACKFILL_MAX_SLOTS, j->name, from, to);
    else if (ops_backfill_plan(call->db, j, &sj, inst, n, &counts, msg, msglen) == 0) {
        snprintf(msg, msglen, "%s..%s: %zu slots, %d new, %ld to run again", from, to, n,
                 counts.created, counts.run_again);
        rc = 0;
    }
    *n_slots = n;
    free(inst);
    sched_job_free(&sj);
    return rc;
}

void web_backfill_post(web_call *call)
{
    char from[16] = "", to[16] = "", msg[512];
    int y, m, d;
    if (web_field(call, "from", from, sizeof from) != 1 ||
        web_field(call, "to", to, sizeof to) != 1 || run_parse_date(from, &y, &m, &d) != 0 ||
        run_parse_date(to, &y, &m, &d) != 0 || strcmp(from, to) > 0) {
        web_reply_error(call, 400, "Not done",
                        "A backfill needs two calendar dates, from no later than to.");
        return;
    }
    job_set js;
    const job_def *j = web_find_job(call, &js);
    size_t n = 0;
    if (j) {
        int rc = web_backfill_run(call, j, from, to, &n, msg, sizeof msg);
        web_audit(call, NULL, "backfill", j->name, rc == 0, msg);
        if (rc == 0)
            web_back_to_jobs(call, "backfill", j->name, n);
        else
            web_reply_error(call, 400, "Not done", msg);
    }
    jobs_free(&js);
}
