/* Loader/check fixture: a plugin whose own check callback finds a
 * problem, so `purser check` must fail. */
#include "purser/plugin.h"

static purser_status failing_check_run(void *s, purser_ctx *c, const purser_run_info *r)
{
    (void)s, (void)c, (void)r;
    return PURSER_OK;
}

static const purser_host *failing_check_host;

static purser_status failing_check_init(const purser_host *host, purser_ctx *ctx, void **state)
{
    (void)ctx;
    failing_check_host = host;
    *state = NULL;
    return PURSER_OK;
}

static purser_status failing_check_check(void *state, purser_ctx *ctx)
{
    (void)state;
    failing_check_host->log(ctx, PURSER_LOG_ERROR,
                            "definitions/broken.yaml:3:7: unknown column 'gmv' (fixture)");
    return PURSER_ERROR;
}

static const purser_plugin failing_check = {
    PURSER_PLUGIN_HEADER,
    .name = "failing_check",
    .version = "1.0",
    .description = "its check callback reports a problem",
    .init = failing_check_init,
    .run = failing_check_run,
    .check = failing_check_check,
};
PURSER_PLUGIN_DEFINE(failing_check)
