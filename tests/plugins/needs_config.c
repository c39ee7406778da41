/* Config fixture: a plugin with a required, typed setting. */
#include "purser/plugin.h"

static const purser_config_key needs_config_keys[] = {
    {"endpoint", PURSER_CFG_STRING, NULL, 1, "where to send things"},
    {"batch_size", PURSER_CFG_INT, "100", 0, "rows per batch"},
    {"providers.*.format", PURSER_CFG_STRING, NULL, 1, "report format"},
    {"providers.*.timeout", PURSER_CFG_DURATION, "30s", 0, "fetch timeout"},
    {0},
};

static purser_status needs_config_run(void *s, purser_ctx *c, const purser_run_info *r)
{
    (void)s, (void)c, (void)r;
    return PURSER_OK;
}

static const purser_plugin needs_config = {
    PURSER_PLUGIN_HEADER,
    .name = "needs_config",
    .version = "1.0",
    .description = "has a required setting",
    .config = needs_config_keys,
    .run = needs_config_run,
};
PURSER_PLUGIN_DEFINE(needs_config)
