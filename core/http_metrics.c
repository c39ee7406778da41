/* Scheduler metrics from purser_runs, one query per family. */
#include "http_metrics.h"

#include <stdio.h>

typedef struct http_family {
    const char *name;
    const char *type;
    const char *help;
    const char *sql; /* rows: label values..., value; the labels in `labels` */
    const char *labels[3];
} http_family;

static const http_family http_families[] = {
    {"purser_runs",
     "gauge",
     "Runs in the history by job and state.",
     "SELECT job, state, count(*) FROM purser_runs GROUP BY job, state ORDER BY 1, 2",
     {"job", "state", NULL}},
    {"purser_run_duration_seconds_sum",
     "counter",
     "Total seconds of finished runs by job (with _count: the mean duration).",
     "SELECT job, coalesce(sum(extract(epoch FROM finished_at - started_at)), 0) FROM "
     "purser_runs WHERE state IN ('succeeded', 'failed', 'cancelled') AND started_at IS NOT NULL "
     "GROUP BY job ORDER BY 1",
     {"job", NULL, NULL}},
    {"purser_run_duration_seconds_count",
     "counter",
     "Finished runs by job.",
     "SELECT job, count(*) FROM purser_runs WHERE state IN ('succeeded', 'failed', 'cancelled') "
     "AND started_at IS NOT NULL GROUP BY job ORDER BY 1",
     {"job", NULL, NULL}},
    {"purser_job_last_success_timestamp_seconds",
     "gauge",
     "When each job last succeeded (UTC unix seconds).",
     "SELECT job, extract(epoch FROM max(finished_at)) FROM purser_runs WHERE state = "
     "'succeeded' GROUP BY job ORDER BY 1",
     {"job", NULL, NULL}},
    {"purser_queue_depth",
     "gauge",
     "Runs due and waiting for a worker.",
     "SELECT count(*) FROM purser_runs WHERE state = 'pending' AND not_before <= now()",
     {NULL, NULL, NULL}},
    {"purser_lease_rescues",
     "gauge",
     "Runs in the history whose worker was lost.",
     "SELECT count(*) FROM purser_runs WHERE message LIKE 'lease expired%' OR message LIKE "
     "'attempt % failed: lease expired%'",
     {NULL, NULL, NULL}},
};

void http_metrics_render_db(PGconn *c, strbuf *out)
{
    int errors = 0;
    for (size_t f = 0; f < sizeof http_families / sizeof *http_families; f++) {
        const http_family *fam = &http_families[f];
        PGresult *r = PQexec(c, fam->sql);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            errors++;
            PQclear(r);
            continue;
        }
        sb_addf(out, "# HELP %s %s\n# TYPE %s %s\n", fam->name, fam->help, fam->name, fam->type);
        int nf = PQnfields(r);
        for (int i = 0; i < PQntuples(r); i++) {
            sb_add(out, fam->name);
            for (int k = 0; k < nf - 1 && fam->labels[k]; k++)
                sb_addf(out, "%s%s=\"%s\"", k ? "," : "{", fam->labels[k], PQgetvalue(r, i, k));
            sb_addf(out, "%s %s\n", nf > 1 ? "}" : "", PQgetvalue(r, i, nf - 1));
        }
        PQclear(r);
    }
    sb_addf(out, "# TYPE purser_scrape_errors_total counter\npurser_scrape_errors_total %d\n",
            errors);
}
