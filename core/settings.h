/* The core's settings: purser.yaml read through config.c, validated
 * against the core's key table, defaults applied and paths resolved. The
 * plugins' blocks (plugins.<name>:) are validated once plugins are loaded. */
#ifndef PURSER_SETTINGS_H
#define PURSER_SETTINGS_H

#include <stdint.h>

#include "config.h"
#include "loader.h"

typedef struct settings {
    cfg_doc *doc;       /* the parsed file, or NULL when none exists */
    char *config_path;  /* the file read, or NULL */
    char *database_url; /* NULL: use the embedded cluster */
    char *pg_dir;       /* embedded cluster folder (absolute) */
    int64_t pg_port;    /* embedded cluster's socket port number */
    char *pg_bin_dir;   /* PostgreSQL server binaries, NULL: look up */
    int64_t connect_timeout_ms;
    char *plugins_dir;   /* absolute */
    char **plugins_load; /* explicit list, or NULL */
    size_t n_plugins_load;
    char *reports_dir; /* absolute */
    char *jobs_dir;    /* absolute */
    char *timezone;    /* default zone for jobs */
    char *log_level;
    char *log_format;
    char *http_listen;
    int64_t http_threads; /* server threads, each answering one request at a time */
    int64_t runner_workers;
    char *alerts_webhook_url;  /* NULL: no alerts */
    int64_t lease_ms;          /* run lease; heartbeats every third of it */
    int64_t kill_grace_ms;     /* SIGTERM -> SIGKILL for a run that must stop */
    int64_t shutdown_grace_ms; /* daemon stop: time running runs get to finish */
    int64_t history_keep_ms;   /* finished runs older than this are pruned */

    /* the web page (core/web*.c) */
    int64_t web_session_ttl_ms;  /* the web page's login lifetime */
    int web_secure_cookie;       /* its cookies are marked Secure */
    int64_t web_login_attempts;  /* failed logins per user and address per window */
    int64_t web_login_window_ms; /* the window of web_login_attempts */
} settings;

/* Read the configuration. `path` (from -c) wins, then $PURSER_CONFIG, then
 * config/purser.yaml when it exists in the current folder, else built-in
 * defaults relative to the current folder. $PURSER_DATABASE_URL overrides
 * database.url. Returns 0, or -1 with "FILE:LINE:COL: message" in err. */
int settings_load(const char *path, settings *s, char *err, size_t errlen);

/* Validate each plugins.<name>: block against the loaded plugin's config
 * table; a block for a plugin that is not loaded is an error. */
int settings_check_plugins(const settings *s, const plugin_set *set, char *err, size_t errlen);

/* The plugins.<name> block or NULL. */
const cfg_node *settings_plugin_block(const settings *s, const char *name);

void settings_free(settings *s);

#endif
