/* Loader fixture: a plugin built against a newer minor of ABI 1, whose
 * descriptor is larger (fields appended): the host must accept it and
 * read only what it knows. */
#include "purser/plugin.h"

typedef struct future_desc {
    purser_plugin base;
    void *added_in_a_later_minor;
} future_desc;

static purser_status future_run(void *s, purser_ctx *c, const purser_run_info *r)
{
    (void)s, (void)c, (void)r;
    return PURSER_OK;
}

static const future_desc future_minor = {
    .base = {.magic = PURSER_PLUGIN_MAGIC,
             .abi_major = PURSER_ABI_MAJOR,
             .abi_minor = PURSER_ABI_MINOR + 5,
             .struct_size = sizeof(future_desc),
             .name = "future_minor",
             .version = "9.9",
             .description = "built against 1.5",
             .run = future_run},
    .added_in_a_later_minor = (void *)0,
};
PURSER_EXPORT const purser_plugin *purser_plugin_entry(void);
PURSER_EXPORT const purser_plugin *purser_plugin_entry(void)
{
    return &future_minor.base;
}
