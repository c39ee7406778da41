/* Loader/migration fixture: a valid plugin whose second migration fails
 * half-way, to check that nothing of it stays applied. */
#include "purser/plugin.h"

static purser_status bad_migration_run(void *s, purser_ctx *c, const purser_run_info *r)
{
    (void)s, (void)c, (void)r;
    return PURSER_OK;
}

static const purser_migration bad_migration_list[] = {
    {"0001_ok", "CREATE TABLE bad_migration_ok (id int PRIMARY KEY);"},
    {"0002_fails", "CREATE TABLE bad_migration_half (id int);\n"
                   "INSERT INTO bad_migration_half VALUES (1);\n"
                   "SELECT 1 / 0;"},
    {0},
};

static const purser_plugin bad_migration = {
    PURSER_PLUGIN_HEADER,     .name = "bad_migration",
    .version = "1.0",         .description = "second migration divides by zero",
    .run = bad_migration_run, .migrations = bad_migration_list,
};
PURSER_PLUGIN_DEFINE(bad_migration)
