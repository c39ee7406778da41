/* purser: the command line. Global options, then one command; each
 * command is a small function below. Exit codes: 0 success, 1 runtime
 * failure, 2 usage or configuration error. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "log.h"
#include "util.h"

#ifndef PURSER_VERSION
#define PURSER_VERSION "0.0.0"
#endif

static void main_usage(FILE *out)
{
    fprintf(
        out,
        "usage: purser [-c FILE] [--log-format text|json] [--log-level LEVEL] COMMAND [ARGS]\n"
        "\n"
        "Commands:\n"
        "  help                      this text\n"
        "  version                   print the version (also --version)\n"
        "  check                     validate config, plugins and jobs (like nginx -t)\n"
        "  plugins [--describe NAME] list loaded plugins, or one plugin's settings\n"
        "  migrate                   apply the core's and the plugins' schema migrations\n"
        "  db start|stop|status|url  manage the embedded PostgreSQL (when no database.url)\n"
        "  jobs                      list the defined jobs\n"
        "  next EXPR [--tz ZONE] [--from ISO8601] [--count N]\n"
        "                            the next N (5) fire times of a schedule\n"
        "  run JOB [--date YYYY-MM-DD] [--param K=V]... [--dry-run]\n"
        "                            run a job now in the foreground, recorded\n"
        "  backfill JOB --from DATE --to DATE [--dry-run]\n"
        "                            run every slot in the range not yet succeeded\n"
        "  daemon                    scheduler + workers (+ HTTP server), until SIGTERM\n"
        "  serve                     the HTTP server alone (/healthz, /metrics, plugin routes)\n"
        "  history [JOB] [--limit N] [--json]\n"
        "                            recent runs\n"
        "  logs RUN_ID               a run's log lines\n"
        "  retry RUN_ID | cancel RUN_ID\n"
        "                            run a failed run again | stop a pending or running run\n"
        "  pause JOB | resume JOB    stop or restart scheduling a job\n"
        "  user add NAME --role finance|ops|admin | user passwd NAME | user list |\n"
        "  user remove NAME          the web page's users (password from the terminal or stdin)\n"
        "  simulate [--orders N] ... fill the store with a marketplace (see simulate --help)\n");
    cli_plugin_commands_help(out);
    fprintf(out, "\n"
                 "Global options:\n"
                 "  -c, --config FILE   configuration (default $PURSER_CONFIG, else\n"
                 "                      config/purser.yaml, else built-in defaults)\n"
                 "  --log-format FMT    text (default) or json, one object per line\n"
                 "  --log-level LEVEL   debug, info (default), warn, error\n"
                 "\n"
                 "Environment: PURSER_CONFIG, PURSER_DATABASE_URL (overrides database.url).\n"
                 "\n"
                 "Exit codes: 0 success, 1 runtime failure (a run failed, the database is\n"
                 "unreachable), 2 usage or configuration error (bad YAML, unknown key, a\n"
                 "plugin refused by the loader, bad arguments).\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"log-format", required_argument, NULL, 'F'},
        {"log-level", required_argument, NULL, 'L'},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0},
    };
    cli_options o = {0};
    int ch;
    /* '+': stop at the command, its options are its own. */
    while ((ch = getopt_long(argc, argv, "+c:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            o.config_path = optarg;
            break;
        case 'F':
            o.log_format = optarg;
            break;
        case 'L':
            o.log_level = optarg;
            break;
        case 'V':
            printf("purser %s (plugin ABI %d.%d)\n", PURSER_VERSION, PURSER_ABI_MAJOR,
                   PURSER_ABI_MINOR);
            return 0;
        case 'h':
            main_usage(stdout);
            return 0;
        default:
            main_usage(stderr);
            return 2;
        }
    }
    if (optind >= argc) {
        main_usage(stderr);
        return 2;
    }
    const char *cmd = argv[optind];
    if (strcmp(cmd, "help") == 0) {
        cli_options_preload(&o);
        main_usage(stdout);
        cli_options_done(&o);
        return 0;
    }
    if (strcmp(cmd, "version") == 0) {
        printf("purser %s (plugin ABI %d.%d)\n", PURSER_VERSION, PURSER_ABI_MAJOR,
               PURSER_ABI_MINOR);
        return 0;
    }
    return cli_dispatch(&o, argc - optind, argv + optind);
}
