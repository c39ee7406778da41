/* Loader fixture: a plugin built for a future ABI major. */
#include "purser/plugin.h"

static purser_status bad_abi_run(void *s, purser_ctx *c, const purser_run_info *r)
{
    (void)s, (void)c, (void)r;
    return PURSER_OK;
}

static const purser_plugin bad_abi = {
    .magic = PURSER_PLUGIN_MAGIC,
    .abi_major = PURSER_ABI_MAJOR + 1,
    .abi_minor = 0,
    .struct_size = sizeof(purser_plugin),
    .name = "bad_abi",
    .version = "1",
    .description = "wrong ABI major",
    .run = bad_abi_run,
};
PURSER_PLUGIN_DEFINE(bad_abi)
