/* Command dispatch and the setup every command shares. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "host.h"
#include "log.h"
#include "util.h"

static cli_options *cli_help_opts; /* set by cli_options_preload for help */

int cli_load_settings(cli_options *o)
{
    if (o->settings_loaded)
        return 0;
    char err[1024];
    if (settings_load(o->config_path, &o->s, err, sizeof err) != 0) {
        log_error("%s", err);
        settings_free(&o->s);
        return 2;
    }
    o->settings_loaded = true;
    const char *lvl = o->log_level ? o->log_level : o->s.log_level;
    const char *fmt = o->log_format ? o->log_format : o->s.log_format;
    int level = log_level_parse(lvl);
    if (level < 0) {
        log_error("--log-level '%s': expected debug, info, warn or error", lvl);
        return 2;
    }
    if (strcmp(fmt, "json") != 0 && strcmp(fmt, "text") != 0) {
        log_error("--log-format '%s': expected text or json", fmt);
        return 2;
    }
    log_setup((purser_log_level)level, strcmp(fmt, "json") == 0 ? LOG_JSON : LOG_TEXT);
    return 0;
}

int cli_connect(cli_options *o, PGconn **c)
{
    *c = NULL;
    int rc = cli_load_settings(o);
    if (rc != 0)
        return rc;
    char err[1024];
    *c = db_open(&o->s, err, sizeof err);
    if (!*c) {
        log_error("%s", err);
        return 1;
    }
    return 0;
}

int cli_load_plugins(cli_options *o, bool strict)
{
    int rc = cli_load_settings(o);
    if (rc != 0)
        return rc;
    if (o->plugins_loaded)
        return 0;
    size_t refused =
        loader_load_all(o->s.plugins_dir, o->s.plugins_load, o->s.n_plugins_load, &o->plugins);
    o->plugins_loaded = true;
    if (refused && strict)
        return 2;
    char err[1024];
    if (settings_check_plugins(&o->s, &o->plugins, err, sizeof err) != 0) {
        log_error("%s", err);
        return 2;
    }
    return 0;
}

void cli_options_preload(cli_options *o)
{
    purser_log_level saved = log_min_level();
    log_setup(PURSER_LOG_ERROR + 1, LOG_TEXT);
    cli_load_plugins(o, false);
    log_setup(saved, LOG_TEXT);
    cli_help_opts = o;
}

void cli_options_done(cli_options *o)
{
    if (o->plugins_loaded)
        loader_unload(&o->plugins);
    if (o->settings_loaded)
        settings_free(&o->s);
    o->plugins_loaded = o->settings_loaded = false;
}

void cli_plugin_commands_help(FILE *out)
{
    if (!cli_help_opts || !cli_help_opts->plugins_loaded)
        return;
    const plugin_set *ps = &cli_help_opts->plugins;
    for (size_t i = 0; i < ps->count; i++)
        for (const purser_command *c = ps->items[i].desc.commands; c && c->name; c++) {
            char head[160];
            snprintf(head, sizeof head, "%s %s", c->name, c->usage ? c->usage : "");
            fprintf(out, "  %-25s %s [%s]\n", head, c->summary ? c->summary : "",
                    ps->items[i].desc.name);
        }
}

/* A command contributed by a plugin: init, main, fini in this process. */
static int cli_plugin_command(cli_options *o, const loaded_plugin *lp, const purser_command *c,
                              int argc, char **argv)
{
    purser_ctx ctx;
    host_ctx_init(&ctx, &o->s, lp);
    void *state = NULL;
    int rc = 1;
    if (!lp->desc.init || lp->desc.init(host_table(), &ctx, &state) == PURSER_OK)
        rc = c->main(state, &ctx, argc, argv);
    else
        log_error("plugin %s: init failed", lp->desc.name);
    if (lp->desc.fini)
        lp->desc.fini(state);
    host_ctx_done(&ctx);
    return rc;
}

typedef struct cli_command {
    const char *name;
    int (*fn)(cli_options *o, int argc, char **argv);
} cli_command;

static const cli_command cli_commands[] = {
    {"check", cli_check},
    {"plugins", cli_plugins},
    {"migrate", cli_migrate},
    {"db", cli_db},
    {"jobs", cli_jobs},
    {"run", cli_run},
    {"history", cli_history},
    {"logs", cli_logs},
    {"simulate", cli_simulate},
    {"next", cli_next},
    {"daemon", cli_daemon},
    {"backfill", cli_backfill},
    {"retry", cli_retry},
    {"cancel", cli_cancel},
    {"pause", cli_pause},
    {"resume", cli_resume},
    {"serve", cli_serve},
    {"user", cli_user},
    {NULL, NULL},
};

int cli_dispatch(cli_options *o, int argc, char **argv)
{
    int rc = -1;
    for (const cli_command *c = cli_commands; c->name && rc < 0; c++)
        if (strcmp(argv[0], c->name) == 0)
            rc = c->fn(o, argc, argv);
    if (rc < 0) {
        rc = cli_load_plugins(o, false);
        const purser_command *found = NULL;
        const loaded_plugin *owner = NULL;
        for (size_t i = 0; rc == 0 && i < o->plugins.count && !found; i++)
            for (const purser_command *c = o->plugins.items[i].desc.commands; c && c->name; c++)
                if (strcmp(c->name, argv[0]) == 0) {
                    found = c;
                    owner = &o->plugins.items[i];
                    break;
                }
        if (found) {
            rc = cli_plugin_command(o, owner, found, argc, argv);
        } else if (rc == 0) {
            log_error("unknown command '%s' (see `purser help`)", argv[0]);
            rc = 2;
        }
    }
    cli_options_done(o);
    return rc;
}
