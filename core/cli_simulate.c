/* `purser simulate`: fill the store with a deterministic marketplace and
 * write the providers' settlement reports and their answer key. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "db.h"
#include "log.h"
#include "progress.h"
#include "sim.h"

static const char sim_usage[] =
    "usage: purser simulate [--orders N] [--days D] [--sellers S] [--buyers B] [--agents A]\n"
    "                       [--seed N] [--start YYYY-MM-DD] [--out DIR]\n"
    "                       [--discrepancy-rate R] [--append]\n"
    "                       [--via db|http] [--url URL] [--token T] [--connections N]\n"
    "  --orders N            orders to generate (default 10000)\n"
    "  --days D              spread over D days from --start (default 30)\n"
    "  --sellers S           sellers, at least 5 (default 200)\n"
    "  --buyers B            buyers (default 20000)\n"
    "  --agents A            delivery agents; depots = A/10 within 2..20 (default 40)\n"
    "  --seed N              the same seed gives the same data and files (default 1)\n"
    "  --start YYYY-MM-DD    first simulated day, UTC (default 2025-01-01)\n"
    "  --out DIR             provider reports and answer-key.csv (default var/simulated)\n"
    "  --discrepancy-rate R  share of report rows altered per kind, 0..0.1 (default 0.01)\n"
    "  --append              add to a store that already holds data\n"
    "  --via db|http         db: bulk COPY (default); http: send the traffic through the\n"
    "                        intake's API of a running `purser serve`/`daemon`\n"
    "  --url URL             the intake's address (default http://127.0.0.1:8080)\n"
    "  --token T             an intake token (`purser token create`); default\n"
    "                        $PURSER_INTAKE_TOKEN\n"
    "  --connections N       requests in flight at once with --via http (default 8)\n";

static int sim_parse_u64(const char *opt, const char *v, uint64_t min, uint64_t max, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    if (errno || end == v || *end || v[0] == '-' || x < min || x > max) {
        log_error("%s '%s': expected a whole number from %llu to %llu", opt, v,
                  (unsigned long long)min, (unsigned long long)max);
        return -1;
    }
    *out = x;
    return 0;
}

static int sim_parse_args(int argc, char **argv, sim_options *o, sim_http_options *h,
                          bool *via_http)
{
    static const struct option opts[] = {
        {"orders", required_argument, NULL, 'o'},
        {"days", required_argument, NULL, 'd'},
        {"sellers", required_argument, NULL, 's'},
        {"buyers", required_argument, NULL, 'b'},
        {"agents", required_argument, NULL, 'a'},
        {"seed", required_argument, NULL, 'S'},
        {"start", required_argument, NULL, 't'},
        {"out", required_argument, NULL, 'O'},
        {"discrepancy-rate", required_argument, NULL, 'r'},
        {"append", no_argument, NULL, 'A'},
        {"via", required_argument, NULL, 'v'},
        {"url", required_argument, NULL, 'u'},
        {"token", required_argument, NULL, 'T'},
        {"connections", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0},
    };
    *o = (sim_options){.orders = 10000,
                       .days = 30,
                       .sellers = 200,
                       .buyers = 20000,
                       .agents = 40,
                       .seed = 1,
                       .out_dir = "var/simulated",
                       .discrepancy_rate = 0.01};
    snprintf(o->start_date, sizeof o->start_date, "2025-01-01");
    *h = (sim_http_options){.url = "http://127.0.0.1:8080",
                            .token = getenv("PURSER_INTAKE_TOKEN"),
                            .connections = 8,
                            .timeout_ms = 30000};
    *via_http = false;
    uint64_t v;
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (ch) {
        case 'o':
            if (sim_parse_u64("--orders", optarg, 1, 100000000, &o->orders))
                return 2;
            break;
        case 'd':
            if (sim_parse_u64("--days", optarg, 1, 3660, &v))
                return 2;
            o->days = (int)v;
            break;
        case 's':
            if (sim_parse_u64("--sellers", optarg, 5, 1000000, &v))
                return 2;
            o->sellers = (uint32_t)v;
            break;
        case 'b':
            if (sim_parse_u64("--buyers", optarg, 1, 100000000, &v))
                return 2;
            o->buyers = (uint32_t)v;
            break;
        case 'a':
            if (sim_parse_u64("--agents", optarg, 1, 100000, &v))
                return 2;
            o->agents = (uint32_t)v;
            break;
        case 'S':
            if (sim_parse_u64("--seed", optarg, 0, UINT64_MAX, &o->seed))
                return 2;
            break;
        case 't':
            if (sim_parse_date(optarg) < 0) {
                log_error("--start '%s': expected a date as YYYY-MM-DD", optarg);
                return 2;
            }
            snprintf(o->start_date, sizeof o->start_date, "%s", optarg);
            break;
        case 'O':
            o->out_dir = optarg;
            break;
        case 'r': {
            char *end;
            errno = 0;
            double r = strtod(optarg, &end);
            if (errno || end == optarg || *end || !(r >= 0 && r <= 0.1)) {
                log_error("--discrepancy-rate '%s': expected a share from 0 to 0.1 (0.01 is 1%% "
                          "of report rows per kind)",
                          optarg);
                return 2;
            }
            o->discrepancy_rate = r;
            break;
        }
        case 'A':
            o->append = true;
            break;
        case 'v':
            if (strcmp(optarg, "db") != 0 && strcmp(optarg, "http") != 0) {
                log_error("--via '%s': expected db or http", optarg);
                return 2;
            }
            *via_http = optarg[0] == 'h';
            break;
        case 'u': {
            size_t n = strlen(optarg);
            while (n && optarg[n - 1] == '/')
                optarg[--n] = '\0';
            if (strncmp(optarg, "http://", 7) != 0 && strncmp(optarg, "https://", 8) != 0) {
                log_error("--url '%s': expected http://HOST:PORT or https://...", optarg);
                return 2;
            }
            h->url = optarg;
            break;
        }
        case 'T':
            h->token = optarg;
            break;
        case 'c':
            if (sim_parse_u64("--connections", optarg, 1, 256, &v))
                return 2;
            h->connections = (int)v;
            break;
        case 'h':
            fputs(sim_usage, stdout);
            return 1;
        default:
            fputs(sim_usage, stderr);
            return 2;
        }
    }
    if (optind < argc) {
        log_error("simulate: unexpected argument '%s'", argv[optind]);
        fputs(sim_usage, stderr);
        return 2;
    }
    if (*via_http && (!h->token || !*h->token)) {
        log_error("simulate --via http needs an intake token: --token T or $PURSER_INTAKE_TOKEN "
                  "(create one with `purser token create NAME`)");
        return 2;
    }
    o->start = sim_parse_date(o->start_date);
    return 0;
}

int cli_simulate(cli_options *o, int argc, char **argv)
{
    sim_world w;
    memset(&w, 0, sizeof w);
    sim_http_options http;
    bool via_http;
    int rc = sim_parse_args(argc, argv, &w.opt, &http, &via_http);
    if (rc != 0)
        return rc == 1 ? 0 : rc;
    PGconn *c;
    if ((rc = cli_connect(o, &c)) != 0)
        return rc;
    char err[1024] = "";
    PQclear(PQexec(c, "SET client_min_messages = warning"));
    double t0 = monotonic_seconds();
    sim_settled_list settled = {0};
    sim_counts counts = {0};
    sim_report_stats st = {0};
    rc = sim_store_check(c, w.opt.append, &w.base, err, sizeof err);
    if (rc == 0)
        rc = sim_world_build(&w, err, sizeof err);
    if (rc == 0) {
        log_info("simulate: %llu orders over %d days from %s, seed %llu, %u sellers, %zu "
                 "products, %u buyers, %u agents, %u depots",
                 (unsigned long long)w.opt.orders, w.opt.days, w.opt.start_date,
                 (unsigned long long)w.opt.seed, w.opt.sellers, (size_t)w.n_products, w.opt.buyers,
                 w.opt.agents, w.n_depots);
        rc = via_http ? sim_http_load(c, &w, &http, &settled, &counts, err, sizeof err)
                      : sim_load(c, &w, &settled, &counts, err, sizeof err);
    }
    double t_load = monotonic_seconds() - t0;
    if (rc == 0) {
        uint64_t rows = counts.orders + counts.items + counts.payments + counts.deliveries +
                        counts.events + counts.other;
        log_info("simulate: loaded %llu rows in %.1f s (%.0f rows/s): %llu orders, %llu order "
                 "items, %llu payments, %llu deliveries, %llu delivery events, %llu others",
                 (unsigned long long)rows, t_load, rows / (t_load > 0 ? t_load : 1),
                 (unsigned long long)counts.orders, (unsigned long long)counts.items,
                 (unsigned long long)counts.payments, (unsigned long long)counts.deliveries,
                 (unsigned long long)counts.events, (unsigned long long)counts.other);
        rc = sim_write_reports(&w, &settled, &st, err, sizeof err);
    }
    if (rc == 0) {
        log_info("simulate: wrote %llu provider reports (%llu rows, %llu injected "
                 "discrepancies) and answer-key.csv to %s",
                 (unsigned long long)st.files, (unsigned long long)st.rows,
                 (unsigned long long)st.injected, w.opt.out_dir);
        PQclear(PQexec(c, "ANALYZE depots, buyers, sellers, delivery_agents, products, "
                          "inventory, orders, order_items, payments, deliveries, "
                          "delivery_events"));
        log_info("simulate: done in %.1f s", monotonic_seconds() - t0);
    } else {
        log_error("simulate: %s", err);
    }
    free(settled.items);
    sim_world_free(&w);
    PQfinish(c);
    return rc == 0 ? 0 : 1;
}
