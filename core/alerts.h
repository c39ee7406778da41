/* Alerts to alerts.webhook_url: a JSON POST with a Slack-compatible
 * "text" field, sent by a short-lived child process (retried three times
 * with backoff), so the caller — the scheduler — never waits for it. */
#ifndef PURSER_ALERTS_H
#define PURSER_ALERTS_H

#include <libpq-fe.h>

#include "settings.h"
#include "slots.h"

/* Send text (copied) if a webhook is configured; returns at once. */
void alerts_send(const settings *s, const char *text);

/* After a run's final outcome: alert when it failed for good, or when it
 * succeeded and the job's previous final outcome was a failure. */
void alerts_after_run(const settings *s, PGconn *c, const slot_run *r, const char *state,
                      const char *why);

/* Scheduled slots not succeeded `deadline` after their instant: one alert
 * per slot. */
void alerts_check_deadlines(const settings *s, PGconn *c, const struct job_set *jobs);

#endif
