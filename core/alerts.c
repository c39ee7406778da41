/* Alerts: failures for good, recoveries, missed deadlines. */
#include "alerts.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jobs.h"
#include "log.h"
#include "util.h"

static size_t alerts_discard(char *p, size_t size, size_t n, void *arg)
{
    (void)p, (void)arg;
    return size * n;
}

/* In the child: POST, up to three attempts (1 s, 2 s apart). */
static int alerts_post(const char *url, const char *body)
{
    CURL *curl = curl_easy_init();
    if (!curl)
        return 1;
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 10L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, alerts_discard);
    int ok = 0;
    for (int attempt = 0; attempt < 3 && !ok; attempt++) {
        if (attempt)
            sleep((unsigned)attempt);
        long code = 0;
        CURLcode rc = curl_easy_perform(curl);
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
        ok = rc == CURLE_OK && code >= 200 && code < 300;
        if (!ok)
            log_warn("alert to %s: attempt %d failed (%s, HTTP %ld)", url, attempt + 1,
                     curl_easy_strerror(rc), code);
    }
    curl_slist_free_all(h);
    curl_easy_cleanup(curl);
    return ok ? 0 : 1;
}

void alerts_send(const settings *s, const char *text)
{
    if (!s->alerts_webhook_url || !*s->alerts_webhook_url)
        return;
    strbuf body = {0};
    sb_add(&body, "{\"text\": ");
    json_escape(&body, text);
    sb_add(&body, "}");
    log_info("alert: %s", text);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        _exit(alerts_post(s->alerts_webhook_url, body.data));
    }
    if (pid < 0)
        log_error("alert not sent: fork failed");
    sb_free(&body);
}

void alerts_after_run(const settings *s, PGconn *c, const slot_run *r, const char *state,
                      const char *why)
{
    if (!s->alerts_webhook_url || !*s->alerts_webhook_url)
        return;
    char text[1400];
    if (strcmp(state, "failed") == 0) {
        snprintf(text, sizeof text, "purser: job %s failed for %s (run %lld, attempt %d/%d): %s",
                 r->job, r->business_date, (long long)r->id, r->attempt, r->max_attempts, why);
        alerts_send(s, text);
        return;
    }
    if (strcmp(state, "succeeded") != 0)
        return;
    char id[24];
    snprintf(id, sizeof id, "%lld", (long long)r->id);
    const char *v[2] = {r->job, id};
    PGresult *res =
        PQexecParams(c,
                     "SELECT state FROM purser_runs WHERE job = $1 AND id <> $2::bigint "
                     "AND state IN ('succeeded', 'failed') ORDER BY finished_at DESC "
                     "LIMIT 1",
                     2, NULL, v, NULL, NULL, 0);
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
        strcmp(PQgetvalue(res, 0, 0), "failed") == 0) {
        snprintf(text, sizeof text, "purser: job %s recovered: run %lld for %s succeeded", r->job,
                 (long long)r->id, r->business_date);
        alerts_send(s, text);
    }
    PQclear(res);
}

void alerts_check_deadlines(const settings *s, PGconn *c, const job_set *jobs)
{
    for (size_t i = 0; i < jobs->count; i++) {
        const job_def *j = &jobs->items[i];
        if (j->deadline_ms <= 0)
            continue;
        char ms[24];
        snprintf(ms, sizeof ms, "%lld", (long long)j->deadline_ms);
        const char *v[2] = {j->name, ms};
        PGresult *r = PQexecParams(
            c,
            "UPDATE purser_runs SET deadline_alerted = true WHERE job = $1 AND kind = "
            "'scheduled' AND NOT deadline_alerted AND state IN ('pending', 'running', 'skipped') "
            "AND slot + make_interval(secs => $2::bigint / 1000.0) < now() "
            "RETURNING id, business_date::text, state",
            2, NULL, v, NULL, NULL, 0);
        for (int k = 0; PQresultStatus(r) == PGRES_TUPLES_OK && k < PQntuples(r); k++) {
            char text[512];
            snprintf(text, sizeof text, "purser: job %s missed its deadline for %s (run %s is %s)",
                     j->name, PQgetvalue(r, k, 1), PQgetvalue(r, k, 0), PQgetvalue(r, k, 2));
            alerts_send(s, text);
        }
        PQclear(r);
    }
}
