/* Metrics registry: a small array guarded by a mutex (plugins may report
 * from several threads of the HTTP server). */
#include "metrics.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

typedef struct metric {
    char *name; /* "purser_<plugin>_<name>", owned */
    double value;
} metric;

static pthread_mutex_t metrics_lock = PTHREAD_MUTEX_INITIALIZER;
static metric *metrics_items;
static size_t metrics_count;

static metric *metrics_slot(const char *plugin, const char *name)
{
    char full[256];
    snprintf(full, sizeof full, "purser_%s_%s", plugin, name);
    for (size_t i = 0; i < metrics_count; i++)
        if (strcmp(metrics_items[i].name, full) == 0)
            return &metrics_items[i];
    metrics_items = xrealloc(metrics_items, (metrics_count + 1) * sizeof *metrics_items);
    metrics_items[metrics_count] = (metric){xstrdup(full), 0};
    return &metrics_items[metrics_count++];
}

void metrics_add(const char *plugin, const char *name, double delta)
{
    pthread_mutex_lock(&metrics_lock);
    metrics_slot(plugin, name)->value += delta;
    pthread_mutex_unlock(&metrics_lock);
}

void metrics_set(const char *plugin, const char *name, double value)
{
    pthread_mutex_lock(&metrics_lock);
    metrics_slot(plugin, name)->value = value;
    pthread_mutex_unlock(&metrics_lock);
}

double metrics_get(const char *plugin, const char *name)
{
    pthread_mutex_lock(&metrics_lock);
    double v = metrics_slot(plugin, name)->value;
    pthread_mutex_unlock(&metrics_lock);
    return v;
}

void metrics_render(strbuf *out)
{
    pthread_mutex_lock(&metrics_lock);
    for (size_t i = 0; i < metrics_count; i++)
        sb_addf(out, "%s %.17g\n", metrics_items[i].name, metrics_items[i].value);
    pthread_mutex_unlock(&metrics_lock);
}

void metrics_reset(void)
{
    pthread_mutex_lock(&metrics_lock);
    for (size_t i = 0; i < metrics_count; i++)
        free(metrics_items[i].name);
    free(metrics_items);
    metrics_items = NULL;
    metrics_count = 0;
    pthread_mutex_unlock(&metrics_lock);
}
