/* Benchmark fixture: a batch plugin that does nothing, to measure the
 * runner's own cost (fork + claim + record). */
#include "purser/plugin.h"

static purser_status noop_run(void *s, purser_ctx *c, const purser_run_info *r)
{
    (void)s, (void)c, (void)r;
    return PURSER_OK;
}

static const purser_plugin noop = {
    PURSER_PLUGIN_HEADER, .name = "noop", .version = "1.0", .description = "does nothing, fast",
    .run = noop_run,
};
PURSER_PLUGIN_DEFINE(noop)
