/* Prometheus metrics computed from the database at scrape time, so that
 * every daemon's HTTP server reports the same numbers: runs by job and
 * state, run durations, last success per job, queue depth, lease rescues. */
#ifndef PURSER_HTTP_METRICS_H
#define PURSER_HTTP_METRICS_H

#include <libpq-fe.h>

#include "util.h"

/* Append the scheduler's metrics in text format 0.0.4; on a query error
 * the metric family is left out and purser_scrape_errors_total counts it. */
void http_metrics_render_db(PGconn *c, strbuf *out);

#endif
