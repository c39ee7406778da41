/* The host function table: config and params lookup with defaults and
 * types, logging, the database, progress, metrics, cancellation and the
 * report folder. */
#include "host.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerts.h"
#include "config.h"
#include "db.h"
#include "dbpool.h"
#include "log.h"
#include "metrics.h"
#include "util.h"

static const char *host_keep(purser_ctx *ctx, char *owned)
{
    ctx->strings = xrealloc(ctx->strings, (ctx->n_strings + 1) * sizeof *ctx->strings);
    ctx->strings[ctx->n_strings++] = owned;
    return owned;
}

/* A declared key's value: the node's text, else the table's default;
 * paths resolved against the config file's folder. */
static const char *host_lookup(purser_ctx *ctx, const cfg_doc *doc, const cfg_node *block,
                               const purser_config_key *table, const char *key)
{
    const purser_config_key *decl = table ? cfg_key_lookup(table, key) : NULL;
    const cfg_node *n = block ? cfg_find(block, key) : NULL;
    const char *v = NULL;
    if (n && n->kind == CFG_SCALAR && n->value && !(n->plain && !*n->value))
        v = n->value;
    else if (decl)
        v = decl->default_value;
    if (v && decl && decl->type == PURSER_CFG_PATH && v[0] != '/') {
        if (doc)
            return host_keep(ctx, cfg_resolve_path(doc, v));
    }
    return v;
}

static const char *host_config_string(purser_ctx *ctx, const char *key)
{
    return host_lookup(ctx, ctx->settings->doc, ctx->config, ctx->plugin->desc.config, key);
}

static int host_typed(const char *text, int (*parse)(const char *, int64_t *), int64_t *out)
{
    if (!text)
        return -1;
    return parse(text, out);
}

static int host_parse_bool64(const char *t, int64_t *out)
{
    int b;
    if (cfg_parse_bool(t, &b) != 0)
        return -1;
    *out = b;
    return 0;
}

static int host_config_int(purser_ctx *ctx, const char *key, int64_t *out)
{
    return host_typed(host_config_string(ctx, key), cfg_parse_int, out);
}

static int host_as_bool(const char *text, int *out)
{
    int64_t v;
    if (host_typed(text, host_parse_bool64, &v) != 0)
        return -1;
    *out = (int)v;
    return 0;
}

static int host_config_bool(purser_ctx *ctx, const char *key, int *out)
{
    return host_as_bool(host_config_string(ctx, key), out);
}

static int host_config_duration(purser_ctx *ctx, const char *key, int64_t *out)
{
    return host_typed(host_config_string(ctx, key), cfg_parse_duration_ms, out);
}

static int host_config_size(purser_ctx *ctx, const char *key, int64_t *out)
{
    return host_typed(host_config_string(ctx, key), cfg_parse_size, out);
}

static size_t host_config_count(purser_ctx *ctx, const char *key)
{
    const cfg_node *n = ctx->config ? cfg_find(ctx->config, key) : NULL;
    return n && n->kind != CFG_SCALAR ? n->count : 0;
}

static const char *host_config_item(purser_ctx *ctx, const char *key, size_t i)
{
    const cfg_node *n = ctx->config ? cfg_find(ctx->config, key) : NULL;
    if (!n || n->kind == CFG_SCALAR)
        return NULL;
    const cfg_node *c = n->child;
    while (c && i--)
        c = c->next;
    if (!c)
        return NULL;
    return n->kind == CFG_MAP ? c->key : c->value;
}

static const char *host_param_string(purser_ctx *ctx, const char *key)
{
    for (size_t i = ctx->n_overrides; i-- > 0;)
        if (strcmp(ctx->override_keys[i], key) == 0)
            return ctx->override_vals[i];
    return host_lookup(ctx, ctx->params_doc, ctx->params, ctx->plugin->desc.params, key);
}

static int host_param_int(purser_ctx *ctx, const char *key, int64_t *out)
{
    return host_typed(host_param_string(ctx, key), cfg_parse_int, out);
}

static int host_param_bool(purser_ctx *ctx, const char *key, int *out)
{
    return host_as_bool(host_param_string(ctx, key), out);
}

static int host_param_duration(purser_ctx *ctx, const char *key, int64_t *out)
{
    return host_typed(host_param_string(ctx, key), cfg_parse_duration_ms, out);
}

static void host_vlog(purser_ctx *ctx, purser_log_level level, const char *fmt, va_list ap)
{
    log_vmsg(level, ctx->plugin->desc.name, ctx->run_id, fmt, ap);
}

static void host_log(purser_ctx *ctx, purser_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    host_vlog(ctx, level, fmt, ap);
    va_end(ap);
}

static struct pg_conn *host_db(purser_ctx *ctx)
{
    if (ctx->pool) {
        if (!ctx->conn)
            ctx->conn = dbpool_get(ctx->pool);
        return ctx->conn;
    }
    if (ctx->conn && PQstatus(ctx->conn) == CONNECTION_OK)
        return ctx->conn;
    if (ctx->conn) {
        PQfinish(ctx->conn);
        ctx->conn = NULL;
    }
    char err[1024];
    ctx->conn = db_open(ctx->settings, err, sizeof err);
    if (!ctx->conn)
        log_msg(PURSER_LOG_ERROR, ctx->plugin->desc.name, ctx->run_id, "%s", err);
    return ctx->conn;
}

/* A plugin's progress; a new unit starts a new phase (its own rate and
 * time left), e.g. "bytes" of a file, then "steps" of the matching. */
static void host_progress(purser_ctx *ctx, uint64_t done, uint64_t total, const char *unit)
{
    if (!ctx->prog_started || !progress_counts_in(&ctx->prog, unit)) {
        progress_start(&ctx->prog, "progress", total, unit);
        snprintf(ctx->prog.component, sizeof ctx->prog.component, "%s", ctx->plugin->desc.name);
        ctx->prog.run_id = ctx->run_id;
        ctx->prog_started = 1;
    }
    progress_update(&ctx->prog, done, total);
}

static void host_metric_add(purser_ctx *ctx, const char *name, double delta)
{
    metrics_add(ctx->plugin->desc.name, name, delta);
}

static void host_metric_set(purser_ctx *ctx, const char *name, double value)
{
    metrics_set(ctx->plugin->desc.name, name, value);
}

static int host_cancelled(purser_ctx *ctx)
{
    return ctx->cancel_flag && *ctx->cancel_flag;
}

static int host_report_path(purser_ctx *ctx, const char *filename, char *buf, size_t len)
{
    if (!filename || !*filename || strchr(filename, '/') || strcmp(filename, "..") == 0 ||
        strcmp(filename, ".") == 0) {
        host_log(ctx, PURSER_LOG_ERROR, "report_path: invalid file name '%s'",
                 filename ? filename : "(null)");
        return -1;
    }
    const char *dir = ctx->settings->reports_dir;
    if (mkdir_p(dir) != 0) {
        host_log(ctx, PURSER_LOG_ERROR, "reports.output_dir '%s': cannot create: %s", dir,
                 strerror(errno));
        return -1;
    }
    int n = snprintf(buf, len, "%s/%s", dir, filename);
    return n < 0 || (size_t)n >= len ? -1 : 0;
}

static void host_set_result(purser_ctx *ctx, const char *fmt, ...)
{
    strbuf sb = {0};
    va_list ap;
    va_start(ap, fmt);
    sb_vaddf(&sb, fmt, ap);
    va_end(ap);
    free(ctx->result);
    ctx->result = sb_take(&sb);
}

static void host_alert(purser_ctx *ctx, const char *fmt, ...)
{
    strbuf sb = {0};
    sb_addf(&sb, "purser %s: ", ctx->plugin->desc.name);
    va_list ap;
    va_start(ap, fmt);
    sb_vaddf(&sb, fmt, ap);
    va_end(ap);
    alerts_send(ctx->settings, sb.data);
    sb_free(&sb);
}

static const purser_host host_functions = {
    .struct_size = sizeof(purser_host),
    .abi_major = PURSER_ABI_MAJOR,
    .abi_minor = PURSER_ABI_MINOR,
    .log = host_log,
    .vlog = host_vlog,
    .config_string = host_config_string,
    .config_int = host_config_int,
    .config_bool = host_config_bool,
    .config_duration_ms = host_config_duration,
    .config_size = host_config_size,
    .config_count = host_config_count,
    .config_item = host_config_item,
    .param_string = host_param_string,
    .param_int = host_param_int,
    .param_bool = host_param_bool,
    .param_duration_ms = host_param_duration,
    .db = host_db,
    .progress = host_progress,
    .metric_add = host_metric_add,
    .metric_set = host_metric_set,
    .cancelled = host_cancelled,
    .report_path = host_report_path,
    .set_result = host_set_result,
    .alert = host_alert,
};

const purser_host *host_table(void)
{
    return &host_functions;
}

void host_ctx_init(purser_ctx *ctx, const settings *s, const loaded_plugin *p)
{
    memset(ctx, 0, sizeof *ctx);
    ctx->plugin = p;
    ctx->settings = s;
    ctx->config = settings_plugin_block(s, p->desc.name);
}

void host_ctx_done(purser_ctx *ctx)
{
    if (ctx->prog_started)
        progress_finish(&ctx->prog);
    if (ctx->conn && ctx->pool)
        dbpool_put(ctx->pool, ctx->conn);
    else if (ctx->conn)
        PQfinish(ctx->conn);
    for (size_t i = 0; i < ctx->n_strings; i++)
        free(ctx->strings[i]);
    free(ctx->strings);
    free(ctx->result);
    memset(ctx, 0, sizeof *ctx);
}

/* Does text parse as the declared type? */
static const char *host_type_error(purser_cfg_type type, const char *text)
{
    int64_t v;
    int b;
    switch (type) {
    case PURSER_CFG_INT:
        return cfg_parse_int(text, &v) == 0 ? NULL : "expected an integer";
    case PURSER_CFG_BOOL:
        return cfg_parse_bool(text, &b) == 0 ? NULL : "expected true or false";
    case PURSER_CFG_DURATION:
        return cfg_parse_duration_ms(text, &v) == 0 ? NULL : "expected a duration like 30s or 5m";
    case PURSER_CFG_SIZE:
        return cfg_parse_size(text, &v) == 0 ? NULL : "expected a size like 64k or 1MiB";
    case PURSER_CFG_LIST:
        return "a list cannot be given with --param";
    default:
        return NULL;
    }
}

int host_check_overrides(const loaded_plugin *p, char *const *keys, char *const *vals, size_t n,
                         char *err, size_t errlen)
{
    const purser_config_key *table = p->desc.params;
    for (size_t i = 0; i < n; i++) {
        const purser_config_key *decl = table ? cfg_key_lookup(table, keys[i]) : NULL;
        if (!decl) {
            const char *names[64];
            size_t k = 0;
            for (const purser_config_key *t = table; t && t->key && k < 64; t++)
                names[k++] = t->key;
            const char *close = cfg_suggest(keys[i], names, k);
            set_err(err, errlen, "--param %s: plugin '%s' has no parameter '%s'%s%s%s", keys[i],
                    p->desc.name, keys[i], close ? " (did you mean '" : "", close ? close : "",
                    close ? "'?)" : "");
            return -1;
        }
        const char *why = host_type_error(decl->type, vals[i]);
        if (why) {
            set_err(err, errlen, "--param %s=%s: %s", keys[i], vals[i], why);
            return -1;
        }
    }
    return 0;
}
