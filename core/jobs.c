/* Job definitions: loading and validation. */
#include "jobs.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cron.h"
#include "util.h"

static const purser_config_key jobs_keys[] = {
    {"plugin", PURSER_CFG_STRING, NULL, 1, "the plugin that runs the job"},
    {"schedule", PURSER_CFG_STRING, NULL, 1, "5-field cron expression or @daily-style macro"},
    {"timezone", PURSER_CFG_STRING, NULL, 0, "IANA zone of the schedule (default: timezone)"},
    {"description", PURSER_CFG_STRING, NULL, 0, "what the job is for"},
    {"timeout", PURSER_CFG_DURATION, "1h", 0, "a run longer than this is stopped and fails"},
    {"retries.max", PURSER_CFG_INT, "0", 0, "retries after a failed attempt"},
    {"retries.backoff", PURSER_CFG_DURATION, "1m", 0, "first retry delay, doubled each time"},
    {"retries.max_backoff", PURSER_CFG_DURATION, "30m", 0, "longest retry delay"},
    {"overlap", PURSER_CFG_STRING, "skip", 0, "skip | queue | allow(N) | replace"},
    {"catchup", PURSER_CFG_STRING, "latest", 0, "none | latest | all"},
    {"max_catchup", PURSER_CFG_INT, "10", 0, "most missed slots run by catchup: all"},
    {"after", PURSER_CFG_LIST, NULL, 0, "jobs that must have succeeded for the same date"},
    {"jitter", PURSER_CFG_DURATION, "0s", 0, "random delay added to the start"},
    {"deadline", PURSER_CFG_DURATION, NULL, 0, "alert when a slot has not succeeded by then"},
    {"enabled", PURSER_CFG_BOOL, "true", 0, "false: never scheduled"},
    {0},
};

bool jobs_zone_valid(const char *zone)
{
    if (!zone || !*zone || zone[0] == '/' || strstr(zone, ".."))
        return false;
    if (strcmp(zone, "UTC") == 0)
        return true;
    char *path = path_join("/usr/share/zoneinfo", zone);
    bool ok = file_exists(path);
    free(path);
    return ok;
}

/* Every key of a job but its params (validated apart, against the
 * plugin's table). */
static bool jobs_not_params(const char *key, void *arg)
{
    (void)arg;
    return strcmp(key, "params") != 0;
}

static const char *jobs_text(const cfg_node *job, const char *key)
{
    const cfg_node *n = cfg_get(job, key);
    return n && n->kind == CFG_SCALAR ? n->value : NULL;
}

/* The schedule parses and fires at least once in the coming years. */
static int jobs_check_schedule(const cfg_doc *doc, const cfg_node *job, const char *zone, char *err,
                               size_t errlen)
{
    const cfg_node *sn = cfg_get(job, "schedule");
    const cfg_node *at = sn ? sn : job;
    const char *text = sn && sn->value ? sn->value : "";
    char why[256];
    cron_expr e;
    int64_t next;
    int rc = 0;
    if (cron_parse(text, &e, why, sizeof why) != 0)
        rc = -1;
    else if ((rc = cron_next(&e, zone, (int64_t)time(NULL), &next)) == CRON_NEVER)
        snprintf(why, sizeof why, "never fires (no matching date within %d years)",
                 CRON_HORIZON_YEARS);
    else if (rc == CRON_BAD_ZONE)
        snprintf(why, sizeof why, "time zone '%s' cannot be read", zone);
    if (rc != 0)
        set_err(err, errlen, "%s:%d:%d: job '%s': schedule '%s': %s", doc->path, at->line, at->col,
                job->key, text, why);
    return rc;
}

static int jobs_check_one(const settings *s, const plugin_set *plugins, const cfg_doc *doc,
                          const cfg_node *job, char *err, size_t errlen)
{
    if (job->kind != CFG_MAP) {
        set_err(err, errlen, "%s:%d:%d: job '%s': expected a map of settings", doc->path, job->line,
                job->col, job->key);
        return -1;
    }
    char prefix[160];
    snprintf(prefix, sizeof prefix, "jobs.%s.", job->key);
    cfg_node *view = cfg_view(job, jobs_not_params, NULL);
    int rc = view ? cfg_validate(doc, view, prefix, jobs_keys, err, errlen) : -1;
    cfg_view_free(view);
    if (rc != 0)
        return -1;
    const cfg_node *pn = cfg_get(job, "plugin");
    const loaded_plugin *lp = loader_find(plugins, pn->value);
    if (!lp) {
        set_err(err, errlen,
                "%s:%d:%d: job '%s': no plugin named '%s' is loaded (see `purser "
                "plugins`)",
                doc->path, pn->line, pn->col, job->key, pn->value);
        return -1;
    }
    if (!lp->desc.run) {
        set_err(err, errlen, "%s:%d:%d: job '%s': plugin '%s' has no batch run callback", doc->path,
                pn->line, pn->col, job->key, pn->value);
        return -1;
    }
    const cfg_node *tz = cfg_get(job, "timezone");
    const char *zone = tz && tz->value ? tz->value : s->timezone;
    if (!jobs_zone_valid(zone)) {
        set_err(err, errlen,
                "%s:%d:%d: job '%s': unknown time zone '%s' (an IANA name like "
                "Europe/Berlin)",
                doc->path, tz ? tz->line : job->line, tz ? tz->col : job->col, job->key, zone);
        return -1;
    }
    if (jobs_check_schedule(doc, job, zone, err, errlen) != 0)
        return -1;
    const cfg_node *params = cfg_get(job, "params");
    if (params && params->kind != CFG_MAP) {
        set_err(err, errlen, "%s:%d:%d: job '%s': params must be a map", doc->path, params->line,
                params->col, job->key);
        return -1;
    }
    static const purser_config_key none[] = {{0}};
    if (params || lp->desc.params) {
        static const cfg_node empty = {.kind = CFG_MAP};
        snprintf(prefix, sizeof prefix, "jobs.%s.params.", job->key);
        cfg_node empty_at = empty;
        empty_at.line = job->line;
        empty_at.col = job->col;
        if (cfg_validate(doc, params ? params : &empty_at, prefix,
                         lp->desc.params ? lp->desc.params : none, err, errlen) != 0)
            return -1;
    }
    return 0;
}

static const char *jobs_value(const cfg_node *job, const char *key)
{
    return cfg_value(job, jobs_keys, key);
}

static int64_t jobs_duration(const cfg_node *job, const char *key)
{
    return cfg_value_num(job, jobs_keys, key, PURSER_CFG_DURATION);
}

static int64_t jobs_int(const cfg_node *job, const char *key)
{
    return cfg_value_num(job, jobs_keys, key, PURSER_CFG_INT);
}

/* overlap, catchup and after: values the key table cannot check. */
static int jobs_policies(const cfg_doc *doc, const cfg_node *j, job_def *d, char *err,
                         size_t errlen)
{
    const char *ov = jobs_value(j, "overlap");
    const cfg_node *on = cfg_get(j, "overlap");
    char extra;
    long long n = 0;
    if (strcmp(ov, "skip") == 0)
        d->overlap = OVERLAP_SKIP;
    else if (strcmp(ov, "queue") == 0)
        d->overlap = OVERLAP_QUEUE;
    else if (strcmp(ov, "replace") == 0)
        d->overlap = OVERLAP_REPLACE;
    else if (sscanf(ov, "allow(%lld%c", &n, &extra) == 2 && extra == ')' && n >= 1 && n <= 1000 &&
             strchr(ov, ')') == ov + strlen(ov) - 1) {
        d->overlap = OVERLAP_ALLOW;
        d->overlap_max = n;
    } else {
        set_err(err, errlen,
                "%s:%d:%d: job '%s': overlap '%s': expected skip, queue, allow(N) "
                "or replace",
                doc->path, on->line, on->col, d->name, ov);
        return -1;
    }
    const char *cu = jobs_value(j, "catchup");
    const cfg_node *cn = cfg_get(j, "catchup");
    if (strcmp(cu, "none") == 0)
        d->catchup = CATCHUP_NONE;
    else if (strcmp(cu, "latest") == 0)
        d->catchup = CATCHUP_LATEST;
    else if (strcmp(cu, "all") == 0)
        d->catchup = CATCHUP_ALL;
    else {
        set_err(err, errlen, "%s:%d:%d: job '%s': catchup '%s': expected none, latest or all",
                doc->path, cn->line, cn->col, d->name, cu);
        return -1;
    }
    d->timeout_ms = jobs_duration(j, "timeout");
    d->retries_max = jobs_int(j, "retries.max");
    d->backoff_ms = jobs_duration(j, "retries.backoff");
    d->max_backoff_ms = jobs_duration(j, "retries.max_backoff");
    d->max_catchup = jobs_int(j, "max_catchup");
    d->jitter_ms = jobs_duration(j, "jitter");
    d->deadline_ms = jobs_duration(j, "deadline");
    const cfg_node *after = cfg_get(j, "after");
    if (after && after->count) {
        d->after = xcalloc(after->count, sizeof *d->after);
        for (const cfg_node *a = after->child; a; a = a->next)
            d->after[d->n_after++] = a->value;
    }
    if (d->timeout_ms <= 0 || d->retries_max < 0 || d->max_catchup < 1) {
        set_err(err, errlen,
                "%s:%d:%d: job '%s': timeout must be positive, retries.max and "
                "max_catchup at least 0 and 1",
                doc->path, j->line, j->col, d->name);
        return -1;
    }
    return 0;
}

/* Every `after:` names a defined job, and no job waits for itself. */
static int jobs_check_after(const job_set *set, char *err, size_t errlen)
{
    for (size_t i = 0; i < set->count; i++) {
        const job_def *d = &set->items[i];
        const cfg_node *after = cfg_get(d->node, "after");
        const cfg_node *a = after ? after->child : NULL;
        for (size_t k = 0; k < d->n_after; k++, a = a ? a->next : NULL) {
            if (!jobs_find(set, d->after[k]) || strcmp(d->after[k], d->name) == 0) {
                set_err(err, errlen, "%s:%d:%d: job '%s': after: '%s' %s", d->doc->path,
                        a ? a->line : d->node->line, a ? a->col : d->node->col, d->name,
                        d->after[k],
                        strcmp(d->after[k], d->name) == 0 ? "is the job itself"
                                                          : "is not a defined job");
                return -1;
            }
        }
    }
    return 0;
}

static int jobs_add_file(const settings *s, const plugin_set *plugins, const char *path,
                         job_set *out, char *err, size_t errlen)
{
    cfg_doc *doc = cfg_load(path, err, errlen);
    if (!doc)
        return -1;
    out->docs = xrealloc(out->docs, (out->n_docs + 1) * sizeof *out->docs);
    out->docs[out->n_docs++] = doc;
    const cfg_node *jobs = cfg_get(doc->root, "jobs");
    for (const cfg_node *c = doc->root->child; c; c = c->next) {
        if (strcmp(c->key, "jobs") != 0) {
            set_err(err, errlen,
                    "%s:%d:%d: unknown key '%s' (a job file holds one map, "
                    "'jobs:')",
                    path, c->key_line, c->key_col, c->key);
            return -1;
        }
    }
    if (!jobs)
        return 0;
    if (jobs->kind != CFG_MAP) {
        set_err(err, errlen, "%s:%d:%d: 'jobs' must be a map of job names", path, jobs->line,
                jobs->col);
        return -1;
    }
    for (const cfg_node *j = jobs->child; j; j = j->next) {
        const job_def *prev = jobs_find(out, j->key);
        if (prev) {
            set_err(err, errlen, "%s:%d:%d: job '%s' is already defined in %s:%d", path,
                    j->key_line, j->key_col, j->key, prev->doc->path, prev->node->key_line);
            return -1;
        }
        if (jobs_check_one(s, plugins, doc, j, err, errlen) != 0)
            return -1;
        out->items = xrealloc(out->items, (out->count + 1) * sizeof *out->items);
        job_def *d = &out->items[out->count++];
        const char *zone = jobs_text(j, "timezone");
        const char *en = jobs_text(j, "enabled");
        int enabled = 1;
        if (en)
            cfg_parse_bool(en, &enabled);
        *d = (job_def){.name = j->key,
                       .plugin = jobs_text(j, "plugin"),
                       .schedule = jobs_text(j, "schedule"),
                       .timezone = zone ? zone : s->timezone,
                       .enabled = enabled != 0,
                       .doc = doc,
                       .node = j,
                       .params = cfg_get(j, "params")};
        if (jobs_policies(doc, j, d, err, errlen) != 0)
            return -1;
    }
    return 0;
}

static int jobs_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int jobs_load(const settings *s, const plugin_set *plugins, job_set *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    DIR *d = opendir(s->jobs_dir);
    if (!d)
        return 0;
    char **files = NULL;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (e->d_name[0] == '.' || len < 6 || strcmp(e->d_name + len - 5, ".yaml") != 0)
            continue;
        files = xrealloc(files, (n + 1) * sizeof *files);
        files[n++] = path_join(s->jobs_dir, e->d_name);
    }
    closedir(d);
    if (files)
        qsort(files, n, sizeof *files, jobs_cmp);
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        if (rc == 0)
            rc = jobs_add_file(s, plugins, files[i], out, err, errlen);
        free(files[i]);
    }
    free(files);
    if (rc == 0)
        rc = jobs_check_after(out, err, errlen);
    return rc;
}

const job_def *jobs_find(const job_set *set, const char *name)
{
    for (size_t i = 0; i < set->count; i++)
        if (strcmp(set->items[i].name, name) == 0)
            return &set->items[i];
    return NULL;
}

void jobs_free(job_set *set)
{
    for (size_t i = 0; i < set->n_docs; i++)
        cfg_free(set->docs[i]);
    free(set->docs);
    for (size_t i = 0; i < set->count; i++)
        free(set->items[i].after);
    free(set->items);
    memset(set, 0, sizeof *set);
}
