/* Loader fixture: a descriptor without name, version and any callback. */
#include "purser/plugin.h"

static const purser_plugin missing_fields = {
    PURSER_PLUGIN_HEADER,
    .description = "forgot the rest",
};
PURSER_PLUGIN_DEFINE(missing_fields)
