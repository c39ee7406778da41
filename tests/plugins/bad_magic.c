/* Loader fixture: an entry symbol returning something that is not a
 * purser descriptor. */
#include "purser/plugin.h"

static const purser_plugin bad_magic = {.magic = 0x12345678u, .abi_major = PURSER_ABI_MAJOR};
PURSER_PLUGIN_DEFINE(bad_magic)
