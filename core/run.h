/* One run of a job, now, in the foreground: recorded in purser_runs,
 * executed in a child process so that a plugin that crashes fails its run
 * and never the caller; the child's log lines are stored with the run. */
#ifndef PURSER_RUN_H
#define PURSER_RUN_H

#include <stdbool.h>
#include <stdint.h>

#include "jobs.h"
#include "loader.h"
#include "settings.h"

typedef struct run_request {
    const job_def *job;
    const loaded_plugin *plugin;
    const char *business_date; /* "YYYY-MM-DD", NULL: today in the job's zone */
    char *const *param_keys;   /* --param overrides */
    char *const *param_vals;
    size_t n_params;
    bool dry_run;
} run_request;

/* Returns the process exit code: 0 the run succeeded, 1 it failed (or the
 * database could not record it), 2 bad request (date, params). */
int run_foreground(const settings *s, const run_request *req);

/* Parse "YYYY-MM-DD" (a real calendar date); 0 or -1. */
int run_parse_date(const char *text, int *y, int *m, int *d);

#endif
