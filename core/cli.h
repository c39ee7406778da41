/* The commands behind `purser COMMAND`: shared setup (settings, logging,
 * plugins) and one function per command. */
#ifndef PURSER_CLI_H
#define PURSER_CLI_H

#include <stdbool.h>
#include <libpq-fe.h>
#include <stdio.h>

#include "loader.h"
#include "settings.h"

typedef struct cli_options {
    const char *config_path; /* -c, borrowed from argv */
    const char *log_format;  /* --log-format or NULL */
    const char *log_level;   /* --log-level or NULL */
    settings s;              /* owned once loaded */
    bool settings_loaded;
    plugin_set plugins; /* owned once loaded */
    bool plugins_loaded;
} cli_options;

/* Read settings and set up logging; 0 or 2 (error printed). */
int cli_load_settings(cli_options *o);
/* Load the settings and connect to the store: 0 with *c (the caller
 * PQfinishes it), or the exit code after logging why (2 for the settings,
 * 1 when the database cannot be reached). */
int cli_connect(cli_options *o, PGconn **c);
/* Load plugins too, and validate their settings blocks; 0 or 2. With
 * strict false, refused plugins are logged but not fatal. */
int cli_load_plugins(cli_options *o, bool strict);
/* Load what `help` needs, quietly, ignoring errors. */
void cli_options_preload(cli_options *o);
void cli_options_done(cli_options *o);
void cli_plugin_commands_help(FILE *out);

int cli_dispatch(cli_options *o, int argc, char **argv);

int cli_check(cli_options *o, int argc, char **argv);
int cli_plugins(cli_options *o, int argc, char **argv);
int cli_migrate(cli_options *o, int argc, char **argv);
int cli_db(cli_options *o, int argc, char **argv);
int cli_jobs(cli_options *o, int argc, char **argv);
int cli_run(cli_options *o, int argc, char **argv);
int cli_history(cli_options *o, int argc, char **argv);
int cli_logs(cli_options *o, int argc, char **argv);
int cli_next(cli_options *o, int argc, char **argv);
int cli_daemon(cli_options *o, int argc, char **argv);
int cli_serve(cli_options *o, int argc, char **argv);
/* Serve HTTP until SIGTERM/SIGINT (plugins loaded); the exit code. */
int cli_serve_until_signal(cli_options *o);
int cli_backfill(cli_options *o, int argc, char **argv);
int cli_retry(cli_options *o, int argc, char **argv);
int cli_cancel(cli_options *o, int argc, char **argv);
int cli_pause(cli_options *o, int argc, char **argv);
int cli_resume(cli_options *o, int argc, char **argv);
int cli_simulate(cli_options *o, int argc, char **argv);
/* `purser user add|passwd|list|remove` (core/cli_user.c). */
int cli_user(cli_options *o, int argc, char **argv);

#endif
