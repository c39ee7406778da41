/* vrp_cli.c: `purser route-solve FILE [--time-limit SECONDS] [--seed N]`,
 * the command that benchmarks the solver against the literature: parse,
 * solve, check independently, print the .sol. */
#include "vrp.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VRP_CLI_USAGE "usage: route-solve FILE [--time-limit SECONDS] [--seed N]"

typedef struct vrp_cli_args {
    const char *file;
    vrp_params params;
} vrp_cli_args;

static int vrp_cli_usage(const char *cmd, const char *why, const char *arg)
{
    fprintf(stderr, "%s: %s%s%s; %s\n", cmd, why, arg ? " " : "", arg ? arg : "", VRP_CLI_USAGE);
    return 2;
}

static int vrp_cli_parse(int argc, char **argv, vrp_cli_args *a)
{
    const char *cmd = argc > 0 && argv[0] ? argv[0] : "route-solve";
    vrp_params_default(&a->params);
    a->file = NULL;
    for (int i = 1; i < argc; i++) {
        const char *opt = argv[i];
        char *end;
        if (!strcmp(opt, "--time-limit") || !strcmp(opt, "--seed")) {
            if (i + 1 >= argc)
                return vrp_cli_usage(cmd, "missing value after", opt);
            const char *val = argv[++i];
            errno = 0;
            if (!strcmp(opt, "--time-limit")) {
                double t = strtod(val, &end);
                if (end == val || *end || errno || !isfinite(t) || t <= 0 || t > 1e6)
                    return vrp_cli_usage(cmd, "--time-limit needs seconds > 0, got", val);
                a->params.time_limit = t;
            } else {
                unsigned long long s = strtoull(val, &end, 10);
                if (end == val || *end || errno || val[0] == '-')
                    return vrp_cli_usage(cmd, "--seed needs a non-negative integer, got", val);
                a->params.seed = (uint64_t)s;
            }
        } else if (opt[0] == '-' && opt[1] != '\0') {
            return vrp_cli_usage(cmd, "unknown option", opt);
        } else if (a->file) {
            return vrp_cli_usage(cmd, "more than one FILE:", opt);
        } else {
            a->file = opt;
        }
    }
    if (!a->file)
        return vrp_cli_usage(cmd, "no FILE given", NULL);
    return 0;
}

int vrp_cli_main(int argc, char **argv)
{
    vrp_cli_args a;
    int rc = vrp_cli_parse(argc, argv, &a);
    if (rc)
        return rc;
    char err[512];
    vrp_instance *inst;
    if (vrp_parse_file(a.file, &inst, err, sizeof(err))) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    /* keep 2% of the budget for parsing, checking and printing */
    a.params.time_limit *= 0.98;
    vrp_solution *sol;
    if (vrp_solve(inst, &a.params, &sol, err, sizeof(err))) {
        fprintf(stderr, "%s: %s\n", a.file, err);
        vrp_instance_free(inst);
        return 2;
    }
    rc = 0;
    if (vrp_check(inst, sol, NULL, err, sizeof(err))) {
        fprintf(stderr, "%s: solution fails the checker: %s\n", a.file, err);
        rc = 1;
    }
    vrp_solution_print(stdout, inst, sol);
    /* for benchmarks: the search's gain over the construction, on stderr */
    fprintf(stderr,
            "%s: %d customers, %d routes, cost %.2f, construction %.2f (%.2f%% better), "
            "%ld iterations in %.2f s\n",
            a.file, inst->n_nodes - 1, sol->n_routes, sol->cost, sol->construction_cost,
            sol->construction_cost > 0 ? 100 * (1 - sol->cost / sol->construction_cost) : 0.0,
            sol->iterations, sol->seconds);
    for (int i = 0; i < sol->n_unassigned; i++)
        fprintf(stderr, "%s: customer %ld unassigned: %s\n", a.file,
                inst->nodes[sol->unassigned[i]].ext_id, vrp_reason_str(sol->reasons[i]));
    if (sol->n_unassigned > 0) {
        /* a benchmark solution must serve everyone */
        fprintf(stderr, "%s: %d customer(s) left unassigned\n", a.file, sol->n_unassigned);
        rc = 1;
    }
    vrp_solution_free(sol);
    vrp_instance_free(inst);
    return rc;
}
