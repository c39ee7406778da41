/* Job definitions: every jobs/NAME.yaml file's `jobs:` map, validated against
 * the job key table and each job's params against its plugin's table. */
#ifndef PURSER_JOBS_H
#define PURSER_JOBS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "loader.h"
#include "settings.h"

typedef enum job_overlap {
    OVERLAP_SKIP,   /* a slot due while a run of the job is running is skipped */
    OVERLAP_QUEUE,  /* it waits until that run ends */
    OVERLAP_ALLOW,  /* up to overlap_max runs at once */
    OVERLAP_REPLACE /* the running one is cancelled */
} job_overlap;

typedef enum job_catchup {
    CATCHUP_NONE,   /* missed slots are recorded as skipped */
    CATCHUP_LATEST, /* only the most recent missed slot runs */
    CATCHUP_ALL     /* all of them, at most max_catchup (older ones skipped) */
} job_catchup;

typedef struct job_def {
    const char *name;     /* borrowed from the doc */
    const char *plugin;   /* borrowed from the doc */
    const char *schedule; /* borrowed from the doc */
    const char *timezone; /* the job's, else settings' default; borrowed */
    bool enabled;
    const cfg_doc *doc;     /* the file it came from; owned by the job_set */
    const cfg_node *node;   /* the job's map */
    const cfg_node *params; /* its params map or NULL */
    int64_t timeout_ms;
    int64_t retries_max; /* retries after the first attempt */
    int64_t backoff_ms;  /* first retry delay, doubled per attempt, jittered */
    int64_t max_backoff_ms;
    job_overlap overlap;
    int64_t overlap_max; /* for OVERLAP_ALLOW */
    job_catchup catchup;
    int64_t max_catchup;
    int64_t jitter_ms;
    int64_t deadline_ms; /* 0: none */
    const char **after;  /* job names (borrowed from the doc); owned array */
    size_t n_after;
} job_def;

typedef struct job_set {
    cfg_doc **docs; /* owned */
    size_t n_docs;
    job_def *items; /* owned array */
    size_t count;
} job_set;

/* Read every *.yaml in settings->jobs_dir (sorted). Returns 0, or -1
 * with the first error as "FILE:LINE:COL: message". A missing folder
 * means no jobs. */
int jobs_load(const settings *s, const plugin_set *plugins, job_set *out, char *err, size_t errlen);
const job_def *jobs_find(const job_set *set, const char *name);
void jobs_free(job_set *set);

/* Is zone a known IANA time zone (tzdata present)? */
bool jobs_zone_valid(const char *zone);

#endif
