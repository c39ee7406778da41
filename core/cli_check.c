/* `purser check` and `purser plugins`: what is configured, and is it
 * valid. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "host.h"
#include "jobs.h"
#include "log.h"

static const char *cli_type_name(purser_cfg_type t)
{
    switch (t) {
    case PURSER_CFG_STRING:
        return "string";
    case PURSER_CFG_INT:
        return "integer";
    case PURSER_CFG_BOOL:
        return "bool";
    case PURSER_CFG_DURATION:
        return "duration";
    case PURSER_CFG_SIZE:
        return "size";
    case PURSER_CFG_PATH:
        return "path";
    case PURSER_CFG_LIST:
        return "list";
    }
    return "?";
}

static void cli_describe_table(const char *title, const char *prefix, const purser_config_key *keys)
{
    printf("\n%s\n", title);
    if (!keys || !keys->key) {
        printf("  (none)\n");
        return;
    }
    for (const purser_config_key *k = keys; k->key; k++) {
        char name[128];
        snprintf(name, sizeof name, "%s%s", prefix, k->key);
        printf("  %-36s %-8s %s%s%s%s%s\n", name, cli_type_name(k->type),
               k->description ? k->description : "", k->required ? " (required)" : "",
               k->default_value ? " [default: " : "", k->default_value ? k->default_value : "",
               k->default_value ? "]" : "");
    }
}

static int cli_describe(const loaded_plugin *lp)
{
    const purser_plugin *d = &lp->desc;
    printf("%s %s (ABI %u.%u) — %s\nfile: %s\n", d->name, d->version, d->abi_major, d->abi_minor,
           d->description, lp->path);
    char prefix[96];
    snprintf(prefix, sizeof prefix, "plugins.%s.", d->name);
    cli_describe_table("Settings (purser.yaml):", prefix, d->config);
    cli_describe_table("Job parameters (params: in jobs/*.yaml, or --param K=V):", "", d->params);
    printf("\nProvides:%s%s%s\n", d->run ? " batch run" : "", d->routes ? " HTTP routes" : "",
           d->commands ? " commands" : "");
    for (const purser_route *r = d->routes; r && r->method; r++)
        printf("  %s %s\n", r->method, r->path);
    for (const purser_command *c = d->commands; c && c->name; c++)
        printf("  purser %s %s — %s\n", c->name, c->usage ? c->usage : "",
               c->summary ? c->summary : "");
    size_t n = 0;
    for (const purser_migration *m = d->migrations; m && m->id; m++)
        n++;
    printf("Migrations: %zu\n", n);
    return 0;
}

int cli_plugins(cli_options *o, int argc, char **argv)
{
    const char *describe = NULL;
    if (argc == 3 && strcmp(argv[1], "--describe") == 0)
        describe = argv[2];
    else if (argc != 1) {
        log_error("usage: purser plugins [--describe NAME]");
        return 2;
    }
    int rc = cli_load_plugins(o, false);
    if (rc != 0)
        return rc;
    if (describe) {
        const loaded_plugin *lp = loader_find(&o->plugins, describe);
        if (!lp) {
            log_error("no plugin named '%s' is loaded (see `purser plugins`)", describe);
            return 2;
        }
        return cli_describe(lp);
    }
    printf("%-16s %-9s %-5s %-40s %s\n", "NAME", "VERSION", "ABI", "FILE", "DESCRIPTION");
    for (size_t i = 0; i < o->plugins.count; i++) {
        const loaded_plugin *lp = &o->plugins.items[i];
        char abi[16];
        snprintf(abi, sizeof abi, "%u.%u", lp->desc.abi_major, lp->desc.abi_minor);
        printf("%-16s %-9s %-5s %-40s %s\n", lp->desc.name, lp->desc.version, abi, lp->path,
               lp->desc.description);
    }
    return o->plugins.refused ? 2 : 0;
}

/* A plugin's own check callback, between its init and fini. */
static int cli_check_plugin(cli_options *o, const loaded_plugin *lp)
{
    if (!lp->desc.check)
        return 0;
    purser_ctx ctx;
    host_ctx_init(&ctx, &o->s, lp);
    void *state = NULL;
    int rc = 0;
    if (lp->desc.init && lp->desc.init(host_table(), &ctx, &state) != PURSER_OK) {
        log_error("plugin %s: init failed", lp->desc.name);
        rc = -1;
    } else if (lp->desc.check(state, &ctx) != PURSER_OK) {
        rc = -1;
    }
    if (lp->desc.fini)
        lp->desc.fini(state);
    host_ctx_done(&ctx);
    return rc;
}

int cli_check(cli_options *o, int argc, char **argv)
{
    (void)argv;
    if (argc != 1) {
        log_error("usage: purser check");
        return 2;
    }
    int rc = cli_load_plugins(o, true);
    if (rc != 0)
        return rc; /* each problem was logged as one line */
    job_set jobs;
    char err[1024];
    if (jobs_load(&o->s, &o->plugins, &jobs, err, sizeof err) != 0) {
        log_error("%s", err);
        jobs_free(&jobs);
        return 2;
    }
    for (size_t i = 0; i < o->plugins.count; i++)
        if (cli_check_plugin(o, &o->plugins.items[i]) != 0)
            rc = 2;
    if (rc != 0) {
        jobs_free(&jobs);
        return rc;
    }
    printf("configuration %s: ok\nplugins: %zu loaded from %s\njobs: %zu defined in %s\n",
           o->s.config_path ? o->s.config_path : "(built-in defaults)", o->plugins.count,
           o->s.plugins_dir, jobs.count, o->s.jobs_dir);
    jobs_free(&jobs);
    return 0;
}
