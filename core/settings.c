/* The core's settings: the key table, defaults and path resolution. */
#include "settings.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

static const purser_config_key settings_keys[] = {
    {"database.url", PURSER_CFG_STRING, NULL, 0,
     "libpq conninfo or URI; unset: the embedded cluster ($PURSER_DATABASE_URL overrides)"},
    {"database.connect_timeout", PURSER_CFG_DURATION, "10s", 0, "time allowed to connect"},
    {"database.embedded.dir", PURSER_CFG_PATH, "var/pg", 0, "folder of the embedded cluster"},
    {"database.embedded.port", PURSER_CFG_INT, "5432", 0,
     "port number of the embedded cluster's unix socket (no TCP)"},
    {"database.embedded.bin_dir", PURSER_CFG_PATH, NULL, 0,
     "PostgreSQL server programs (default: newest /usr/lib/postgresql/*/bin)"},
    {"plugins.dir", PURSER_CFG_PATH, "build/plugins", 0, "folder whose *.so are loaded"},
    {"plugins.load", PURSER_CFG_LIST, NULL, 0, "load only these files (relative to plugins.dir)"},
    {"reports.output_dir", PURSER_CFG_PATH, "var/reports", 0, "where workbooks are written"},
    {"jobs.dir", PURSER_CFG_PATH, "jobs", 0, "folder of the job definitions (*.yaml)"},
    {"timezone", PURSER_CFG_STRING, "UTC", 0, "default IANA time zone of jobs"},
    {"log.level", PURSER_CFG_STRING, "info", 0, "debug, info, warn or error"},
    {"log.format", PURSER_CFG_STRING, "text", 0, "text or json"},
    {"http.listen", PURSER_CFG_STRING, "127.0.0.1:8080", 0, "address:port of the HTTP server"},
    {"http.threads", PURSER_CFG_INT, "4", 0,
     "HTTP server threads, 1 to 256, each answering one request at a time; 0: a thread per "
     "connection (for the intake's group commit under load)"},
    {"runner.workers", PURSER_CFG_INT, "2", 0, "runs executed at once by a daemon"},
    {"runner.lease", PURSER_CFG_DURATION, "30s", 0,
     "a run whose worker sent no heartbeat for this long is rescued (heartbeats every third)"},
    {"runner.kill_grace", PURSER_CFG_DURATION, "10s", 0,
     "time between SIGTERM and SIGKILL for a run that must stop"},
    {"runner.shutdown_grace", PURSER_CFG_DURATION, "30s", 0,
     "on SIGTERM, time the daemon lets running runs finish"},
    {"history.keep", PURSER_CFG_DURATION, "90d", 0, "run history older than this is pruned"},
    {"alerts.webhook_url", PURSER_CFG_STRING, NULL, 0, "JSON POST target for alerts"},
    {"web.session_ttl", PURSER_CFG_DURATION, "12h", 0,
     "the web page: a login lasts this long (the session cookie's Max-Age)"},
    {"web.secure_cookie", PURSER_CFG_BOOL, "false", 0,
     "the web page: mark cookies Secure (set true when a TLS proxy serves it)"},
    {"web.login_attempts", PURSER_CFG_INT, "5", 0,
     "the web page: failed logins per user and address within web.login_window before "
     "logins are refused (429); four times as many per address"},
    {"web.login_window", PURSER_CFG_DURATION, "15m", 0, "the web page: see web.login_attempts"},
    {0},
};

/* The text of key from the doc or its default; NULL if neither. */
static const char *settings_text(const settings *s, const char *key)
{
    return cfg_value(s->doc ? s->doc->root : NULL, settings_keys, key);
}

static char *settings_path(const settings *s, const char *key)
{
    const char *v = settings_text(s, key);
    if (!v)
        return NULL;
    if (s->doc)
        return path_normalize(cfg_resolve_path(s->doc, v));
    char cwd[PATH_MAX];
    if (v[0] == '/' || !getcwd(cwd, sizeof cwd))
        return path_normalize(xstrdup(v));
    return path_normalize(path_join(cwd, v));
}

static char *settings_dup(const settings *s, const char *key)
{
    const char *v = settings_text(s, key);
    return v ? xstrdup(v) : NULL;
}

static int64_t settings_int(const settings *s, const char *key, int duration)
{
    return cfg_value_num(s->doc ? s->doc->root : NULL, settings_keys, key,
                         duration ? PURSER_CFG_DURATION : PURSER_CFG_INT);
}

/* The core's keys are validated apart from the plugins' own blocks
 * (plugins.NAME:), which are checked against each plugin's table once the
 * plugins are loaded. */
static bool settings_not_plugins(const char *key, void *arg)
{
    (void)arg;
    return strcmp(key, "plugins") != 0;
}

static bool settings_plugins_core(const char *key, void *arg)
{
    (void)arg;
    return strcmp(key, "dir") == 0 || strcmp(key, "load") == 0;
}

static int settings_validate_core(const cfg_doc *doc, char *err, size_t errlen)
{
    static const purser_config_key plugins_keys[] = {
        {"dir", PURSER_CFG_PATH, NULL, 0, ""},
        {"load", PURSER_CFG_LIST, NULL, 0, ""},
        {0},
    };
    cfg_node *view = cfg_view(doc->root, settings_not_plugins, NULL);
    int rc = cfg_validate(doc, view, "", settings_keys, err, errlen);
    cfg_view_free(view);
    const cfg_node *plugins = cfg_get(doc->root, "plugins");
    if (rc == 0 && plugins && plugins->kind != CFG_MAP) {
        set_err(err, errlen, "%s:%d:%d: key 'plugins': expected a map", doc->path, plugins->line,
                plugins->col);
        return -1;
    }
    if (rc == 0 && plugins) {
        view = cfg_view(plugins, settings_plugins_core, NULL);
        rc = cfg_validate(doc, view, "plugins.", plugins_keys, err, errlen);
        cfg_view_free(view);
    }
    return rc;
}

static int settings_read_file(const char *path, settings *s, char *err, size_t errlen)
{
    s->doc = cfg_load(path, err, errlen);
    if (!s->doc)
        return -1;
    s->config_path = xstrdup(path);
    if (settings_validate_core(s->doc, err, errlen) != 0)
        return -1;
    const cfg_node *fmt = cfg_find(s->doc->root, "log.format");
    if (fmt && fmt->value && strcmp(fmt->value, "text") != 0 && strcmp(fmt->value, "json") != 0) {
        set_err(err, errlen, "%s:%d:%d: key 'log.format': expected text or json, found '%s'", path,
                fmt->line, fmt->col, fmt->value);
        return -1;
    }
    const cfg_node *lvl = cfg_find(s->doc->root, "log.level");
    if (lvl && lvl->value && strcmp(lvl->value, "debug") && strcmp(lvl->value, "info") &&
        strcmp(lvl->value, "warn") && strcmp(lvl->value, "error")) {
        set_err(err, errlen,
                "%s:%d:%d: key 'log.level': expected debug, info, warn or error, found '%s'", path,
                lvl->line, lvl->col, lvl->value);
        return -1;
    }
    return 0;
}

int settings_load(const char *path, settings *s, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    if (!path || !*path)
        path = getenv("PURSER_CONFIG");
    if ((!path || !*path) && file_exists("config/purser.yaml"))
        path = "config/purser.yaml";
    if (path && *path) {
        if (!file_exists(path)) {
            set_err(err, errlen, "%s: configuration file not found", path);
            return -1;
        }
        if (settings_read_file(path, s, err, errlen) != 0)
            return -1;
    }
    const char *env_url = getenv("PURSER_DATABASE_URL");
    s->database_url = env_url && *env_url ? xstrdup(env_url) : settings_dup(s, "database.url");
    s->connect_timeout_ms = settings_int(s, "database.connect_timeout", 1);
    s->pg_dir = settings_path(s, "database.embedded.dir");
    s->pg_port = settings_int(s, "database.embedded.port", 0);
    s->pg_bin_dir = settings_path(s, "database.embedded.bin_dir");
    s->plugins_dir = settings_path(s, "plugins.dir");
    s->reports_dir = settings_path(s, "reports.output_dir");
    s->jobs_dir = settings_path(s, "jobs.dir");
    s->timezone = settings_dup(s, "timezone");
    s->log_level = settings_dup(s, "log.level");
    s->log_format = settings_dup(s, "log.format");
    s->http_listen = settings_dup(s, "http.listen");
    s->http_threads = settings_int(s, "http.threads", 0);
    s->runner_workers = settings_int(s, "runner.workers", 0);
    s->alerts_webhook_url = settings_dup(s, "alerts.webhook_url");
    s->kill_grace_ms = settings_int(s, "runner.kill_grace", 1);
    s->lease_ms = settings_int(s, "runner.lease", 1);
    s->shutdown_grace_ms = settings_int(s, "runner.shutdown_grace", 1);
    s->history_keep_ms = settings_int(s, "history.keep", 1);
    s->web_session_ttl_ms = settings_int(s, "web.session_ttl", 1);
    int secure = 0;
    cfg_parse_bool(settings_text(s, "web.secure_cookie"), &secure);
    s->web_secure_cookie = secure != 0;
    s->web_login_attempts = settings_int(s, "web.login_attempts", 0);
    s->web_login_window_ms = settings_int(s, "web.login_window", 1);
    const cfg_node *load = s->doc ? cfg_find(s->doc->root, "plugins.load") : NULL;
    if (load && load->kind == CFG_SEQ && load->count) {
        s->plugins_load = xcalloc(load->count, sizeof *s->plugins_load);
        for (const cfg_node *c = load->child; c; c = c->next)
            s->plugins_load[s->n_plugins_load++] = xstrdup(c->value ? c->value : "");
    }
    return 0;
}

const cfg_node *settings_plugin_block(const settings *s, const char *name)
{
    const cfg_node *plugins = s->doc ? cfg_get(s->doc->root, "plugins") : NULL;
    if (!plugins || plugins->kind != CFG_MAP)
        return NULL;
    return cfg_get(plugins, name);
}

/* A loaded plugin with required settings but no block at all. */
static int settings_check_required(const settings *s, const plugin_set *set, char *err,
                                   size_t errlen)
{
    for (size_t i = 0; i < set->count; i++) {
        const purser_plugin *d = &set->items[i].desc;
        if (settings_plugin_block(s, d->name))
            continue;
        for (const purser_config_key *k = d->config; k && k->key; k++) {
            if (k->required && !strchr(k->key, '*')) {
                set_err(err, errlen, "%s: plugin '%s' needs the setting 'plugins.%s.%s' (%s)",
                        s->config_path ? s->config_path : "(no configuration file)", d->name,
                        d->name, k->key, k->description ? k->description : "required");
                return -1;
            }
        }
    }
    return 0;
}

int settings_check_plugins(const settings *s, const plugin_set *set, char *err, size_t errlen)
{
    if (settings_check_required(s, set, err, errlen) != 0)
        return -1;
    const cfg_node *plugins = s->doc ? cfg_get(s->doc->root, "plugins") : NULL;
    if (!plugins || plugins->kind != CFG_MAP)
        return 0;
    for (const cfg_node *c = plugins->child; c; c = c->next) {
        if (strcmp(c->key, "dir") == 0 || strcmp(c->key, "load") == 0)
            continue;
        const loaded_plugin *lp = loader_find(set, c->key);
        if (!lp) {
            strbuf names = {0};
            for (size_t i = 0; i < set->count; i++)
                sb_addf(&names, "%s%s", i ? ", " : "", set->items[i].desc.name);
            set_err(err, errlen,
                    "%s:%d:%d: settings for plugin '%s', which is not loaded "
                    "(loaded: %s)",
                    s->config_path, c->key_line, c->key_col, c->key,
                    names.len ? names.data : "none");
            sb_free(&names);
            return -1;
        }
        if (c->kind != CFG_MAP) {
            set_err(err, errlen, "%s:%d:%d: key 'plugins.%s': expected a map of settings",
                    s->config_path, c->line, c->col, c->key);
            return -1;
        }
        static const purser_config_key none[] = {{0}};
        char prefix[96];
        snprintf(prefix, sizeof prefix, "plugins.%s.", c->key);
        if (cfg_validate(s->doc, c, prefix, lp->desc.config ? lp->desc.config : none, err,
                         errlen) != 0)
            return -1;
    }
    return 0;
}

void settings_free(settings *s)
{
    cfg_free(s->doc);
    free(s->config_path);
    free(s->database_url);
    free(s->pg_dir);
    free(s->pg_bin_dir);
    free(s->plugins_dir);
    free(s->reports_dir);
    free(s->jobs_dir);
    free(s->timezone);
    free(s->log_level);
    free(s->log_format);
    free(s->http_listen);
    free(s->alerts_webhook_url);
    for (size_t i = 0; i < s->n_plugins_load; i++)
        free(s->plugins_load[i]);
    free(s->plugins_load);
    memset(s, 0, sizeof *s);
}
