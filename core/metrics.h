/* Process-wide metrics registry: counters and gauges by plugin and name,
 * rendered in Prometheus text format by the HTTP server. */
#ifndef PURSER_METRICS_H
#define PURSER_METRICS_H

struct strbuf;

void metrics_add(const char *plugin, const char *name, double delta);
void metrics_set(const char *plugin, const char *name, double value);
/* Value of purser_<plugin>_<name>, 0 if never set. */
double metrics_get(const char *plugin, const char *name);
/* Append every metric as "purser_<plugin>_<name> value\n". */
void metrics_render(struct strbuf *out);
void metrics_reset(void);

#endif
