/* purser plugin ABI: the one header a plugin includes.
 *
 * A plugin is a shared object exporting one function, purser_plugin_entry(),
 * that returns a const descriptor. The host checks the descriptor's magic,
 * ABI major and size before it calls anything else in the plugin, then hands
 * the plugin a table of host functions (struct purser_host). A plugin never
 * calls into the core except through that table.
 *
 * Versioning: the ABI major changes when an existing field or function
 * changes meaning; the host refuses such a plugin. The minor grows when
 * fields are appended to the end of a struct; every versioned struct carries
 * its size, and each side reads the other's struct only as far as that size,
 * so a plugin built against an older minor keeps working.
 *
 * Ownership: every pointer handed across this boundary says who owns it.
 * "Borrowed" means the receiver must not free it and must copy it to keep
 * it beyond the stated lifetime.
 */
#ifndef PURSER_PLUGIN_H
#define PURSER_PLUGIN_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PURSER_ABI_MAJOR 1
#define PURSER_ABI_MINOR 0
#define PURSER_PLUGIN_MAGIC 0x50525352u /* "PRSR" */
#define PURSER_PLUGIN_ENTRY_SYMBOL "purser_plugin_entry"

#if defined(__GNUC__)
#define PURSER_EXPORT __attribute__((visibility("default")))
#define PURSER_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define PURSER_EXPORT
#define PURSER_PRINTF(fmt, args)
#endif

struct pg_conn; /* libpq's PGconn; include <libpq-fe.h> to use it */

/* Opaque handle the host passes to every callback: which plugin, which run. */
typedef struct purser_ctx purser_ctx;

/* What a run (or any callback that can fail) returns. The core owns
 * retries, backoff and timeouts: a plugin returns PURSER_RETRY and never
 * sleeps to retry by itself. */
typedef enum purser_status {
    PURSER_OK = 0,
    PURSER_RETRY = 1, /* transient failure: the runner may retry per policy */
    PURSER_ERROR = 2  /* permanent failure for this run */
} purser_status;

typedef enum purser_log_level {
    PURSER_LOG_DEBUG = 0,
    PURSER_LOG_INFO = 1,
    PURSER_LOG_WARN = 2,
    PURSER_LOG_ERROR = 3
} purser_log_level;

/* ---------------------------------------------------------------------
 * Configuration tables
 *
 * A plugin declares the keys of its `plugins.<name>:` block, and of the
 * `params:` of jobs that run it, as a table ending with a zeroed entry.
 * The core validates the YAML against the table before init: unknown or
 * repeated keys, wrong types and missing required keys are refused with
 * FILE:LINE:COLUMN and a "did you mean" suggestion. The same table prints
 * the plugin's help (`purser plugins --describe NAME`).
 *
 * Keys are dotted paths; a `*` segment matches any one name, so
 * "providers.*.format" declares a map of providers each with a format.
 * --------------------------------------------------------------------- */
typedef enum purser_cfg_type {
    PURSER_CFG_STRING = 1,
    PURSER_CFG_INT,      /* signed 64-bit decimal */
    PURSER_CFG_BOOL,     /* true/false, yes/no, on/off */
    PURSER_CFG_DURATION, /* "500ms", "30s", "45m", "2h", "1d"; read in ms */
    PURSER_CFG_SIZE,     /* "512", "64k", "1MiB", "2GB"; read in bytes */
    PURSER_CFG_PATH,     /* resolved against the config file's folder */
    PURSER_CFG_LIST      /* a sequence of scalars */
} purser_cfg_type;

typedef struct purser_config_key {
    const char *key; /* dotted path, '*' matches one segment */
    purser_cfg_type type;
    const char *default_value; /* text form, NULL for none */
    int required;              /* non-zero: must be present */
    const char *description;   /* one line, shown by --describe */
} purser_config_key;

/* ---------------------------------------------------------------------
 * Runs
 * --------------------------------------------------------------------- */
typedef struct purser_run_info {
    size_t struct_size;        /* sizeof as the host built it */
    int64_t run_id;            /* 0 when not recorded (tests, dry runs) */
    const char *job;           /* job name; borrowed for the run */
    const char *business_date; /* "YYYY-MM-DD" in the job's zone */
    int64_t interval_start;    /* data interval, UTC unix seconds */
    int64_t interval_end;
    const char *timezone; /* IANA zone of the job; borrowed */
    int dry_run;          /* non-zero: compute and report, write nothing */
} purser_run_info;

/* ---------------------------------------------------------------------
 * HTTP (for plugins serving routes on the host's HTTP server)
 * --------------------------------------------------------------------- */
typedef struct purser_http_request {
    size_t struct_size;
    const char *method;        /* "GET", "POST", ... borrowed */
    const char *path;          /* decoded path without query; borrowed */
    const char *query;         /* raw query string or NULL; borrowed */
    const char *const *params; /* values of {name} segments in route order */
    size_t n_params;
    const unsigned char *body; /* borrowed, body_len bytes, not terminated */
    size_t body_len;
    /* Header value by case-insensitive name, or NULL; borrowed until the
     * handler returns. */
    const char *(*header)(const struct purser_http_request *req, const char *name);
    void *host_data; /* the host's; do not touch */
    /* Query-string argument by name (decoded), or NULL; borrowed until the
     * handler returns. */
    const char *(*arg)(const struct purser_http_request *req, const char *name);
} purser_http_request;

typedef struct purser_http_response {
    int status;               /* HTTP status code */
    const char *content_type; /* static string, e.g. "application/json" */
    char *body;               /* malloc'd by the plugin, freed by the host */
    size_t body_len;
    char *headers; /* extra "Name: value\r\n" lines; malloc'd, host frees */
} purser_http_response;

typedef struct purser_route {
    const char *method; /* "GET", "POST", "PUT", "DELETE" */
    const char *path;   /* "/v1/orders/{ref}/cancel": {x} matches one segment */
    /* Answer one request. Called from several server threads at once: the
     * plugin's state must be safe for that. host->db(ctx) lends a pooled
     * connection for the request. Return PURSER_OK with resp filled; a
     * PURSER_RETRY without a status becomes 503 + Retry-After, a
     * PURSER_ERROR 500. */
    purser_status (*handler)(void *state, purser_ctx *ctx, const purser_http_request *req,
                             purser_http_response *resp);
    /* Largest body accepted, in bytes (0: 1 MiB). A larger one is refused
     * with 413 before it is read. */
    size_t max_body;
} purser_route;

/* ---------------------------------------------------------------------
 * Schema migrations and CLI commands contributed by a plugin
 * --------------------------------------------------------------------- */
typedef struct purser_migration {
    const char *id;  /* "0001_init": applied in ascending id order */
    const char *sql; /* may hold several statements; run in one transaction */
} purser_migration;

typedef struct purser_command {
    const char *name;    /* `purser NAME ...` */
    const char *usage;   /* "FILE [--seed N]" */
    const char *summary; /* one line for `purser help` */
    /* argv[0] is the command name; returns the process exit code
     * (0 ok, 1 runtime failure, 2 usage or input error). */
    int (*main)(void *state, purser_ctx *ctx, int argc, char **argv);
} purser_command;

/* ---------------------------------------------------------------------
 * The host table: every service the core offers a plugin.
 * Add new members at the end only, and bump PURSER_ABI_MINOR.
 * --------------------------------------------------------------------- */
typedef struct purser_host {
    size_t struct_size; /* check before using members added after 1.0 */
    int abi_major;
    int abi_minor;

    /* Logging, prefixed by the host with [plugin] and the run id. */
    void (*log)(purser_ctx *ctx, purser_log_level level, const char *fmt, ...) PURSER_PRINTF(3, 4);
    void (*vlog)(purser_ctx *ctx, purser_log_level level, const char *fmt, va_list ap);

    /* Configuration of `plugins.<name>:`, validated against the plugin's
     * config table, defaults applied. Keys are dotted paths as declared.
     * config_string: the value or NULL when unset; borrowed, lives until
     * fini. config_int/bool/duration_ms/size: 0 and *out set, or -1 when
     * unset (the type was checked before init). config_count: length of a
     * list, or the number of names under a map key ("providers");
     * config_item: the i-th list element or map name, borrowed until fini. */
    const char *(*config_string)(purser_ctx *ctx, const char *key);
    int (*config_int)(purser_ctx *ctx, const char *key, int64_t *out);
    int (*config_bool)(purser_ctx *ctx, const char *key, int *out);
    int (*config_duration_ms)(purser_ctx *ctx, const char *key, int64_t *out);
    int (*config_size)(purser_ctx *ctx, const char *key, int64_t *out);
    size_t (*config_count)(purser_ctx *ctx, const char *key);
    const char *(*config_item)(purser_ctx *ctx, const char *key, size_t i);

    /* The current run's parameters (job params: merged with --param),
     * validated against the plugin's params table, defaults applied.
     * Same contract as config_*; borrowed until the run callback returns. */
    const char *(*param_string)(purser_ctx *ctx, const char *key);
    int (*param_int)(purser_ctx *ctx, const char *key, int64_t *out);
    int (*param_bool)(purser_ctx *ctx, const char *key, int *out);
    int (*param_duration_ms)(purser_ctx *ctx, const char *key, int64_t *out);

    /* A connection to the store, opened on first use, owned by the host:
     * never PQfinish it. Valid until the callback returns. NULL (with the
     * reason logged) when the database cannot be reached. */
    struct pg_conn *(*db)(purser_ctx *ctx);

    /* Progress of a long step: done of total units (total 0 if unknown). */
    void (*progress)(purser_ctx *ctx, uint64_t done, uint64_t total, const char *unit);

    /* Metrics: add to a counter / set a gauge, named in Prometheus style
     * ("rows_written_total"); the host prefixes purser_<plugin>_. */
    void (*metric_add)(purser_ctx *ctx, const char *name, double delta);
    void (*metric_set)(purser_ctx *ctx, const char *name, double value);

    /* Non-zero once the run should stop (cancel, timeout, shutdown). Check
     * it between units of work and return PURSER_RETRY or PURSER_ERROR. */
    int (*cancelled)(purser_ctx *ctx);

    /* Full path for a report file named `filename` (no slashes) in
     * reports.output_dir, which the host creates. Writes into buf (size
     * len); returns 0, or -1 if it does not fit or the folder cannot be
     * made (logged). Write to a temporary name unique to the run (path +
     * ".<run_id>.tmp") and rename() when complete, so that no half-written
     * report is ever seen and two runs never share a temporary file. */
    int (*report_path)(purser_ctx *ctx, const char *filename, char *buf, size_t len);

    /* One-line result message of the run or command, stored with the run
     * (copied by the host). */
    void (*set_result)(purser_ctx *ctx, const char *fmt, ...) PURSER_PRINTF(2, 3);

    /* An alert for the operators, sent to alerts.webhook_url as a JSON
     * POST with a Slack-compatible "text" (the host prefixes the plugin's
     * name), by a separate process with retries: it returns at once and
     * never fails the caller. Nothing is sent when no webhook is set. */
    void (*alert)(purser_ctx *ctx, const char *fmt, ...) PURSER_PRINTF(2, 3);
} purser_host;

/* ---------------------------------------------------------------------
 * The descriptor. Fill the first four fields with PURSER_PLUGIN_HEADER;
 * every callback is optional (NULL), but a plugin offers at least one of
 * run, routes or commands.
 * --------------------------------------------------------------------- */
typedef struct purser_plugin {
    uint32_t magic;       /* PURSER_PLUGIN_MAGIC */
    uint16_t abi_major;   /* PURSER_ABI_MAJOR the plugin was built with */
    uint16_t abi_minor;   /* PURSER_ABI_MINOR the plugin was built with */
    uint32_t struct_size; /* sizeof(purser_plugin) the plugin was built with */

    const char *name;        /* [a-z0-9_]+, unique among loaded plugins */
    const char *version;     /* the plugin's own version, "1.2.0" */
    const char *description; /* one line */

    const purser_config_key *config; /* plugins.<name>: keys, or NULL */
    const purser_config_key *params; /* job params keys, or NULL */

    /* Create the plugin's state: *state is the plugin's own, handed back
     * to every callback and to fini. Returns PURSER_OK or PURSER_ERROR
     * (after logging why). `host` lives until fini returns. */
    purser_status (*init)(const purser_host *host, purser_ctx *ctx, void **state);
    /* Free the state; must cope with a half-built one (init failed). */
    void (*fini)(void *state);

    /* One batch run for a business date. */
    purser_status (*run)(void *state, purser_ctx *ctx, const purser_run_info *run);

    const purser_route *routes;         /* ends with a zeroed entry, or NULL */
    const purser_migration *migrations; /* ends with a zeroed entry, or NULL */
    const purser_command *commands;     /* ends with a zeroed entry, or NULL */

    /* Extra validation for `purser check` (after init): definitions the
     * plugin reads itself, reachability of what it needs. Log each problem
     * as one line naming the file/key at fault and return PURSER_ERROR;
     * PURSER_OK when all is well. Optional. */
    purser_status (*check)(void *state, purser_ctx *ctx);
} purser_plugin;

#define PURSER_PLUGIN_HEADER                                                                       \
    .magic = PURSER_PLUGIN_MAGIC, .abi_major = PURSER_ABI_MAJOR, .abi_minor = PURSER_ABI_MINOR,    \
    .struct_size = (uint32_t)sizeof(purser_plugin)

/* Define the entry symbol for a descriptor:
 *   static const purser_plugin my_plugin = { PURSER_PLUGIN_HEADER, ... };
 *   PURSER_PLUGIN_DEFINE(my_plugin)
 * The returned descriptor is static and owned by the plugin. */
#define PURSER_PLUGIN_DEFINE(desc)                                                                 \
    PURSER_EXPORT const purser_plugin *purser_plugin_entry(void);                                  \
    PURSER_EXPORT const purser_plugin *purser_plugin_entry(void)                                   \
    {                                                                                              \
        return &(desc);                                                                            \
    }

#ifdef __cplusplus
}
#endif

#endif /* PURSER_PLUGIN_H */
