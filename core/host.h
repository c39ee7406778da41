/* The host side of the plugin ABI: the purser_ctx handed to plugins and
 * the purser_host table of functions that read it. */
#ifndef PURSER_HOST_H
#define PURSER_HOST_H

#include <libpq-fe.h>
#include <signal.h>

#include "loader.h"
#include "progress.h"
#include "settings.h"

struct purser_ctx {
    const loaded_plugin *plugin; /* borrowed from the plugin_set */
    const settings *settings;    /* borrowed */
    const cfg_node *config;      /* plugins.<name> block or NULL; borrowed */
    const cfg_doc *params_doc;   /* the job file, or NULL; borrowed */
    const cfg_node *params;      /* the job's params map or NULL; borrowed */
    char *const *override_keys;  /* --param k=v pairs; borrowed */
    char *const *override_vals;
    size_t n_overrides;
    int64_t run_id;                     /* 0 outside recorded runs */
    PGconn *conn;                       /* opened on demand; owned, closed by host_ctx_done
                                         * (or given back to the pool when one is set) */
    struct dbpool *pool;                /* HTTP requests borrow from it; borrowed, may be NULL */
    char *result;                       /* owned */
    volatile sig_atomic_t *cancel_flag; /* borrowed, may be NULL */
    progress prog;
    int prog_started;
    char **strings; /* resolved values handed out; owned */
    size_t n_strings;
};

/* The table every plugin receives; static, lives for the process. */
const purser_host *host_table(void);

/* Set up a context for plugin p (no database opened yet). */
void host_ctx_init(purser_ctx *ctx, const settings *s, const loaded_plugin *p);
/* Free what the context owns (closes its connection). */
void host_ctx_done(purser_ctx *ctx);

/* Validate --param overrides (k=v strings) against the plugin's params
 * table: unknown keys and bad types give one line in err. */
int host_check_overrides(const loaded_plugin *p, char *const *keys, char *const *vals, size_t n,
                         char *err, size_t errlen);

#endif
