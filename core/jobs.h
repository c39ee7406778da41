/* Job definitions: every jobs/NAME.yaml file's `jobs:` map, validated against
 * the job key table and each job's params against its plugin's table. */
#ifndef PURSER_JOBS_H
#define PURSER_JOBS_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "loader.h"
#include "settings.h"

typedef struct job_def {
    const char *name;     /* borrowed from the doc */
    const char *plugin;   /* borrowed from the doc */
    const char *schedule; /* borrowed from the doc */
    const char *timezone; /* the job's, else settings' default; borrowed */
    bool enabled;
    const cfg_doc *doc;     /* the file it came from; owned by the job_set */
    const cfg_node *node;   /* the job's map */
    const cfg_node *params; /* its params map or NULL */
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
