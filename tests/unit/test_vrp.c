/* test_vrp.c: unit tests of the routing solver library (plugins/routing):
 * parsers on every fixture and on generated CRLF/tab variants, exact
 * error messages for malformed input, the checker on each kind of
 * infeasibility, brute-force optima on tiny instances, determinism, and
 * the checker run on every solution the tests produce. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../plugins/routing/vrp.h"

/* ---------- helpers ---------- */

static const char *fixtures_dir(void)
{
    const char *env = getenv("PURSER_FIXTURES");
    return env && *env ? env : "../shared/fixtures";
}

/* Path of FIXTURES/vrp/SUB, or NULL (with a printed reason) if absent. */
static const char *vrp_fixture_path(const char *sub, char *buf, size_t len)
{
    snprintf(buf, len, "%s/vrp/%s", fixtures_dir(), sub);
    DIR *d = opendir(buf);
    if (!d) {
        print_message("fixtures not found at %s (set PURSER_FIXTURES): skipping\n", buf);
        return NULL;
    }
    closedir(d);
    return buf;
}

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    if (s && fread(s, 1, (size_t)n, f) != (size_t)n) {
        free(s);
        s = NULL;
    }
    fclose(f);
    if (s) {
        s[n] = '\0';
        *len = (size_t)n;
    }
    return s;
}

/* Solves with an iteration cap, asserts the checker passes, returns it. */
static vrp_solution *solve_checked(const vrp_instance *inst, uint64_t seed, long iters)
{
    vrp_params p;
    vrp_params_default(&p);
    p.seed = seed;
    p.max_iterations = iters;
    p.time_limit = 60;
    vrp_solution *sol = NULL;
    char err[256];
    assert_int_equal(vrp_solve(inst, &p, &sol, err, sizeof(err)), 0);
    double cost;
    int rc = vrp_check(inst, sol, &cost, err, sizeof(err));
    if (rc)
        print_error("checker: %s\n", err);
    assert_int_equal(rc, 0);
    return sol;
}

static uint64_t lcg(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s >> 33;
}

/* A random instance: n customers on a 100x100 square, one vehicle type. */
static vrp_instance *random_instance(int n, uint64_t seed, long cap, int windows, int fleet)
{
    vrp_instance *inst = vrp_instance_new(n + 1, 1);
    assert_non_null(inst);
    inst->nodes[0].x = 50;
    inst->nodes[0].y = 50;
    inst->nodes[0].due = windows ? 400 : VRP_NO_DUE;
    for (int i = 1; i <= n; i++) {
        vrp_node *nd = &inst->nodes[i];
        nd->x = (double)(lcg(&seed) % 100);
        nd->y = (double)(lcg(&seed) % 100);
        nd->demand = 1 + (long)(lcg(&seed) % 10);
        if (windows) {
            nd->ready = (double)(lcg(&seed) % 200);
            nd->due = nd->ready + 30 + (double)(lcg(&seed) % 100);
            nd->service = 5;
        }
    }
    inst->types[0].cap_weight = cap;
    inst->types[0].count = fleet;
    inst->cost_decimals = 2;
    assert_int_equal(vrp_instance_euclid(inst, 0), 0);
    return inst;
}

/* ---------- brute force ---------- */

typedef struct brute {
    const vrp_instance *inst;
    int n;
    double best;
} brute;

static double bt(const vrp_instance *in, int i, int j)
{
    return in->time[i * in->n_nodes + j];
}

/* Depth-first enumeration of every solution (each set of routes is seen
 * once per order of its routes: affordable for 7 customers). */
static void brute_dfs(brute *b, int last, double t, long load, unsigned left, int routes,
                      double cost)
{
    const vrp_instance *in = b->inst;
    const vrp_vehicle_type *vt = &in->types[0];
    if (cost >= b->best)
        return;
    if (last != 0 || left == 0) {
        double back = t + in->nodes[last].service + bt(in, last, 0);
        if (back <= fmin(vt->shift_end, in->nodes[0].due) + 1e-9) {
            double closed = cost + in->dist[last * in->n_nodes];
            if (left == 0) {
                if (closed < b->best)
                    b->best = closed;
                return;
            }
            if (vt->count == VRP_UNLIMITED || routes < vt->count)
                brute_dfs(b, 0, fmax(vt->shift_start, in->nodes[0].ready), 0, left, routes + 1,
                          closed);
        }
        if (last == 0)
            return;
    }
    for (int j = 1; j <= b->n; j++) {
        if (!(left & (1u << (j - 1))))
            continue;
        const vrp_node *nd = &in->nodes[j];
        double arr = t + in->nodes[last].service + bt(in, last, j);
        if (arr > nd->due + 1e-9 || load + nd->demand > vt->cap_weight)
            continue;
        brute_dfs(b, j, fmax(arr, nd->ready), load + nd->demand, left & ~(1u << (j - 1)), routes,
                  cost + in->dist[last * in->n_nodes + j]);
    }
}

static double brute_optimum(const vrp_instance *inst)
{
    brute b = {.inst = inst, .n = inst->n_nodes - 1, .best = INFINITY};
    double t0 = fmax(inst->types[0].shift_start, inst->nodes[0].ready);
    brute_dfs(&b, 0, t0, 0, (1u << b.n) - 1, 1, 0.0);
    return b.best;
}

static void check_against_brute(int windows)
{
    int compared = 0;
    for (uint64_t seed = 1; seed <= 12; seed++) {
        int n = 5 + (int)(seed % 3);
        vrp_instance *inst = random_instance(n, seed * 7919, 15, windows, VRP_UNLIMITED);
        double opt = brute_optimum(inst);
        vrp_solution *sol = solve_checked(inst, seed, 300);
        if (isfinite(opt)) {
            assert_int_equal(sol->n_unassigned, 0);
            if (fabs(sol->cost - opt) > 1e-6)
                print_error("seed %lu: solver %.6f, optimum %.6f\n", (unsigned long)seed, sol->cost,
                            opt);
            assert_true(fabs(sol->cost - opt) <= 1e-6);
            compared++;
        }
        vrp_solution_free(sol);
        vrp_instance_free(inst);
    }
    assert_true(compared >= 6);
}

static void test_brute_force_cvrp(void **state)
{
    (void)state;
    check_against_brute(0);
}

static void test_brute_force_vrptw(void **state)
{
    (void)state;
    check_against_brute(1);
}

/* ---------- solver behaviour ---------- */

static int same_solution(const vrp_solution *a, const vrp_solution *b)
{
    if (a->n_routes != b->n_routes || a->cost != b->cost || a->n_unassigned != b->n_unassigned)
        return 0;
    for (int r = 0; r < a->n_routes; r++) {
        if (a->routes[r].n_stops != b->routes[r].n_stops)
            return 0;
        if (memcmp(a->routes[r].stops, b->routes[r].stops,
                   (size_t)a->routes[r].n_stops * sizeof(int)))
            return 0;
    }
    return 1;
}

static void test_determinism(void **state)
{
    (void)state;
    vrp_instance *inst = random_instance(60, 42, 40, 1, VRP_UNLIMITED);
    vrp_solution *a = solve_checked(inst, 7, 2000);
    vrp_solution *b = solve_checked(inst, 7, 2000);
    assert_true(same_solution(a, b));
    vrp_solution_free(a);
    vrp_solution_free(b);
    vrp_instance_free(inst);
}

static void test_unassigned_reasons(void **state)
{
    (void)state;
    vrp_instance *inst = random_instance(6, 5, 20, 0, 1);
    inst->nodes[1].demand = 50;                                 /* heavier than the vehicle */
    inst->nodes[2].ready = inst->nodes[2].due = VRP_NO_DUE * 2; /* after the shift */
    inst->nodes[0].due = 1000;
    inst->types[0].shift_end = 1000;
    for (int i = 3; i <= 6; i++)
        inst->nodes[i].demand = 8;
    vrp_solution *sol = solve_checked(inst, 1, 200);
    int heavy = 0, unreachable = 0, fleet = 0;
    for (int i = 0; i < sol->n_unassigned; i++) {
        heavy += sol->unassigned[i] == 1 && sol->reasons[i] == VRP_REASON_TOO_HEAVY;
        unreachable += sol->unassigned[i] == 2 && sol->reasons[i] == VRP_REASON_UNREACHABLE;
        fleet += sol->reasons[i] == VRP_REASON_NO_VEHICLE;
    }
    assert_int_equal(heavy, 1);
    assert_int_equal(unreachable, 1);
    assert_true(fleet >= 1); /* 4 customers, demand 4..40, one vehicle of 20 */
    assert_string_equal(vrp_reason_str(VRP_REASON_TOO_HEAVY), "too heavy for any vehicle");
    vrp_solution_free(sol);
    vrp_instance_free(inst);
}

static void test_heterogeneous_fleet(void **state)
{
    (void)state;
    vrp_instance *inst = vrp_instance_new(7, 2);
    for (int i = 1; i < 7; i++) {
        inst->nodes[i].x = 10.0 * i;
        inst->nodes[i].y = (i % 2) ? 5 : -5;
        inst->nodes[i].demand = 10;
        inst->nodes[i].volume = i == 6 ? 8 : 1;
    }
    inst->types[0] = (vrp_vehicle_type){30, 5, 0, VRP_NO_DUE, 1};
    inst->types[1] = (vrp_vehicle_type){20, 10, 0, VRP_NO_DUE, 2};
    assert_int_equal(vrp_instance_euclid(inst, 0), 0);
    vrp_solution *sol = solve_checked(inst, 3, 500);
    assert_int_equal(sol->n_unassigned, 0);
    for (int r = 0; r < sol->n_routes; r++)
        for (int i = 0; i < sol->routes[r].n_stops; i++)
            if (sol->routes[r].stops[i] == 6)
                assert_int_equal(sol->routes[r].type, 1);
    vrp_solution_free(sol);
    vrp_instance_free(inst);
}

static void test_haversine(void **state)
{
    (void)state;
    vrp_instance *inst = vrp_instance_new(2, 1);
    inst->nodes[0].x = 2.3522; /* Paris, lon/lat */
    inst->nodes[0].y = 48.8566;
    inst->nodes[1].x = -0.1276; /* London */
    inst->nodes[1].y = 51.5072;
    assert_int_equal(vrp_instance_haversine(inst, 1.3, 10.0), 0);
    double d = inst->dist[1];
    assert_true(fabs(d - 1.3 * 343.5e3) < 1.3 * 3e3);
    assert_true(fabs(inst->time[1] - d / 10.0) < 1e-6);
    assert_true(inst->dist[2] == d);
    assert_int_equal(vrp_instance_haversine(inst, 0, 10), -1);
    vrp_instance_free(inst);
}

/* ---------- checker ---------- */

/* A 4-customer instance and a feasible 2-route solution to break. */
typedef struct chk {
    vrp_instance *inst;
    vrp_solution sol;
    vrp_route routes[2];
    int stops[2][2];
    int un[1];
    vrp_reason why[1];
} chk;

static void chk_init(chk *k)
{
    memset(k, 0, sizeof(*k));
    k->inst = vrp_instance_new(5, 1);
    double xy[5][2] = {{0, 0}, {0, 10}, {0, 20}, {10, 0}, {20, 0}};
    for (int i = 0; i < 5; i++) {
        k->inst->nodes[i].x = xy[i][0];
        k->inst->nodes[i].y = xy[i][1];
        k->inst->nodes[i].demand = i ? 5 : 0;
        k->inst->nodes[i].volume = i ? 2 : 0;
    }
    k->inst->nodes[0].due = 100;
    k->inst->nodes[2].ready = 20;
    k->inst->nodes[2].due = 25;
    k->inst->types[0] = (vrp_vehicle_type){10, 4, 0, 100, 2};
    vrp_instance_euclid(k->inst, 0);
    k->stops[0][0] = 1;
    k->stops[0][1] = 2;
    k->stops[1][0] = 3;
    k->stops[1][1] = 4;
    for (int r = 0; r < 2; r++)
        k->routes[r] = (vrp_route){0, 2, k->stops[r]};
    k->sol.routes = k->routes;
    k->sol.n_routes = 2;
    k->sol.unassigned = k->un;
    k->sol.reasons = k->why;
    k->sol.cost = 80;
}

static void expect_violation(chk *k, const char *needle)
{
    char msg[256];
    assert_int_equal(vrp_check(k->inst, &k->sol, NULL, msg, sizeof(msg)), -1);
    if (!strstr(msg, needle))
        print_error("message '%s' lacks '%s'\n", msg, needle);
    assert_non_null(strstr(msg, needle));
    vrp_instance_free(k->inst);
    chk_init(k);
}

static void test_checker(void **state)
{
    (void)state;
    chk k;
    chk_init(&k);
    char msg[256];
    double cost;
    assert_int_equal(vrp_check(k.inst, &k.sol, &cost, msg, sizeof(msg)), 0);
    assert_true(fabs(cost - 80) < 1e-9);

    k.inst->types[0].cap_weight = 9;
    expect_violation(&k, "load 10 over capacity 9");
    k.inst->types[0].cap_volume = 3;
    expect_violation(&k, "volume 4 over capacity 3");
    k.inst->nodes[2].due = 19;
    expect_violation(&k, "customer 2 served at 20.0000, after its due time 19.0000");
    k.inst->nodes[0].due = 39;
    expect_violation(&k, "route 1: back at the depot at 40.0000, after 39.0000");
    k.inst->types[0].shift_end = 39;
    expect_violation(&k, "route 1: back at the depot at 40.0000, after 39.0000");
    k.stops[1][1] = 1;
    expect_violation(&k, "customer 1 appears more than once");
    k.routes[1].n_stops = 1;
    k.sol.cost = 60;
    expect_violation(&k, "customer 4 is neither routed nor unassigned");
    k.stops[1][1] = 0;
    expect_violation(&k, "node index 0 is not a customer");
    k.inst->types[0].count = 1;
    expect_violation(&k, "2 routes for 1 vehicles");
    k.sol.cost = 79;
    expect_violation(&k, "reported cost 79.000000 differs from recomputed 80.000000");
    k.routes[1].n_stops = 1;
    k.sol.cost = 60;
    k.un[0] = 4;
    k.sol.n_unassigned = 1;
    expect_violation(&k, "customer 4 unassigned without a reason");
    k.routes[0].type = 3;
    expect_violation(&k, "no vehicle type 3");
    vrp_instance_free(k.inst);
}

/* ---------- parsers ---------- */

static const char tiny_vrp[] = "NAME : tiny\n"
                               "COMMENT : generated by test_vrp.c\n"
                               "TYPE : CVRP\n"
                               "DIMENSION : 4\n"
                               "EDGE_WEIGHT_TYPE : EUC_2D\n"
                               "CAPACITY : 10\n"
                               "NODE_COORD_SECTION\n"
                               "1 0 0\n2 3 4\n3 6 8\n4 -3 -4\n"
                               "DEMAND_SECTION\n"
                               "1 0\n2 4\n3 5\n4 6\n"
                               "DEPOT_SECTION\n 1\n -1\nEOF\n";

static const char tiny_txt[] = "TINY\n\nVEHICLE\nNUMBER     CAPACITY\n  3         10\n\n"
                               "CUSTOMER\nCUST NO.  XCOORD.   YCOORD.    DEMAND   READY TIME  "
                               "DUE DATE   SERVICE   TIME\n\n"
                               "    0      0  0   0    0   100   0\n"
                               "    1      3  4   4    0    50   2\n"
                               "    2      6  8   5   10    60   2\n";

/* Rewrites text with CRLF endings, tabs for spaces, trailing blanks. */
static char *variant(const char *text, int crlf, int tabs, int trailing)
{
    size_t n = strlen(text);
    char *out = malloc(n * 4 + 1), *o = out;
    for (const char *p = text; *p; p++) {
        if (*p == '\n') {
            if (trailing) {
                *o++ = ' ';
                *o++ = '\t';
            }
            if (crlf)
                *o++ = '\r';
            *o++ = '\n';
        } else if (*p == '\r') {
            continue;
        } else {
            *o++ = (tabs && *p == ' ') ? '\t' : *p;
        }
    }
    *o = '\0';
    return out;
}

static void assert_same_instance(const vrp_instance *a, const vrp_instance *b)
{
    assert_int_equal(a->n_nodes, b->n_nodes);
    assert_int_equal(a->types[0].cap_weight, b->types[0].cap_weight);
    assert_int_equal(a->types[0].count, b->types[0].count);
    assert_memory_equal(a->nodes, b->nodes, (size_t)a->n_nodes * sizeof(vrp_node));
    assert_memory_equal(a->dist, b->dist, (size_t)a->n_nodes * a->n_nodes * sizeof(double));
}

static void check_variants(const char *name, const char *text)
{
    vrp_instance *base;
    char err[256];
    int rc = vrp_parse_buffer(name, text, strlen(text), &base, err, sizeof(err));
    if (rc)
        print_error("%s\n", err);
    assert_int_equal(rc, 0);
    for (int v = 1; v < 8; v++) {
        char *t = variant(text, v & 1, v & 2, v & 4);
        vrp_instance *inst;
        rc = vrp_parse_buffer(name, t, strlen(t), &inst, err, sizeof(err));
        if (rc)
            print_error("variant %d: %s\n", v, err);
        assert_int_equal(rc, 0);
        assert_same_instance(base, inst);
        vrp_instance_free(inst);
        free(t);
    }
    vrp_instance_free(base);
}

static void test_parse_tiny(void **state)
{
    (void)state;
    vrp_instance *inst;
    char err[256];
    assert_int_equal(vrp_parse_buffer("t.vrp", tiny_vrp, strlen(tiny_vrp), &inst, err, 256), 0);
    assert_int_equal(inst->n_nodes, 4);
    assert_int_equal(inst->format, VRP_FORMAT_CVRPLIB);
    assert_true(inst->dist[1] == 5.0 && inst->dist[2] == 10.0);
    assert_int_equal(inst->nodes[3].ext_id, 3);
    assert_int_equal(inst->types[0].count, VRP_UNLIMITED);
    vrp_solution *sol = solve_checked(inst, 1, 100);
    assert_true(sol->cost == 30.0); /* capacity forces 1-2-3-1 and 1-4-1 (node ids) */
    vrp_solution_free(sol);
    vrp_instance_free(inst);
    assert_int_equal(vrp_parse_buffer("t.txt", tiny_txt, strlen(tiny_txt), &inst, err, 256), 0);
    assert_int_equal(inst->format, VRP_FORMAT_SOLOMON);
    assert_int_equal(inst->n_nodes, 3);
    assert_int_equal(inst->types[0].count, 3);
    assert_true(inst->types[0].shift_end == 100.0);
    assert_true(inst->nodes[2].ready == 10.0 && inst->nodes[2].service == 2.0);
    vrp_instance_free(inst);
    static const char trucks[] = "NAME : t\nCOMMENT : (Augerat et al, No of trucks: 2, Optimal "
                                 "value: 30)\nDIMENSION : 2\nCAPACITY : 9\nNODE_COORD_SECTION\n"
                                 "1 0 0\n2 1 1\nDEMAND_SECTION\n1 0\n2 1\nEOF\n";
    assert_int_equal(vrp_parse_buffer("k.vrp", trucks, strlen(trucks), &inst, err, 256), 0);
    assert_int_equal(inst->types[0].count, 2); /* the fleet the BKS assume */
    vrp_instance_free(inst);
    check_variants("t.vrp", tiny_vrp);
    check_variants("t.txt", tiny_txt);
}

typedef struct bad_case {
    const char *name, *text, *message;
} bad_case;

static void test_parse_errors(void **state)
{
    (void)state;
    static const bad_case cases[] = {
        {"a.vrp", "NAME : a\nTYPE : TSP\n", "a.vrp:2: unsupported TYPE 'TSP' (expected CVRP)"},
        {"a.vrp", "NAME : a\nEDGE_WEIGHT_TYPE : GEO\n",
         "a.vrp:2: unsupported EDGE_WEIGHT_TYPE 'GEO' (expected EUC_2D)"},
        {"a.vrp", "NAME : a\nDIMENSION : x\n",
         "a.vrp:2: DIMENSION must be an integer from 2 to 1000000, got 'x'"},
        {"a.vrp", "NAME : a\nNODE_COORD_SECTION\n", "a.vrp:2: NODE_COORD_SECTION before DIMENSION"},
        {"a.vrp", "NAME : a\nDIMENSION : 3\nCAPACITY : 5\nNODE_COORD_SECTION\n1 0 0\n2 1\n",
         "a.vrp:6: NODE_COORD_SECTION row needs 3 fields, got 2"},
        {"a.vrp", "NAME : a\nDIMENSION : 3\nNODE_COORD_SECTION\n1 0 0\n4 1 1\n",
         "a.vrp:5: node id '4' not in 1..3"},
        {"a.vrp", "NAME : a\nDIMENSION : 3\nNODE_COORD_SECTION\n1 0 0\n1 1 1\n",
         "a.vrp:5: node 1 listed twice in NODE_COORD_SECTION"},
        {"a.vrp", "NAME : a\nDIMENSION : 3\nNODE_COORD_SECTION\n1 0 0\n2 1 1e999\n",
         "a.vrp:5: bad number '1e999'"},
        {"a.vrp", "NAME : a\nDIMENSION : 2\nNODE_COORD_SECTION\n1 0 0\n",
         "a.vrp:4: NODE_COORD_SECTION ends after 1 of 2 rows"},
        {"a.vrp", "NAME : a\nDIMENSION : 2\nDEMAND_SECTION\n1 0\n2 -1\n",
         "a.vrp:5: demand must be a non-negative integer, got '-1'"},
        {"a.vrp", "NAME : a\nDIMENSION : 2\nDEPOT_SECTION\n2\n-1\n",
         "a.vrp:4: only a single depot numbered 1 is supported, got 2"},
        {"a.vrp", "NAME : a\nDIMENSION : 2\nDEPOT_SECTION\n1\n",
         "a.vrp:4: DEPOT_SECTION not terminated by -1"},
        {"a.vrp", "NAME : a\nFOO : 1\n", "a.vrp:2: unknown keyword 'FOO'"},
        {"a.vrp", "NAME : a\nhello\n",
         "a.vrp:2: expected 'KEYWORD : value' or a section, got 'hello'"},
        {"a.vrp", "NAME : a\nDIMENSION : 2\nCAPACITY : 3\n", "a.vrp:3: missing NODE_COORD_SECTION"},
        {"a.vrp", "NAME : a\nDIMENSION : 2\n", "a.vrp:2: missing CAPACITY"},
        {"a.txt", "X\nVEHICLE\nNUMBER CAPACITY\n0 10\n",
         "a.txt:4: expected two positive integers: vehicle NUMBER and CAPACITY"},
        {"a.txt", "X\nVEHICLE\nNUMBER CAPACITY\n2 10\nCUSTOMERS\n",
         "a.txt:5: expected 'CUSTOMER', got 'CUSTOMERS'"},
        {"a.txt", "X\nVEHICLE\nNUMBER CAPACITY\n2 10\nCUSTOMER\nCUST\n0 0 0 0 0 10\n",
         "a.txt:7: expected 7 fields (CUST NO., X, Y, DEMAND, READY, DUE, SERVICE), got 6"},
        {"a.txt",
         "X\nVEHICLE\nNUMBER CAPACITY\n2 10\nCUSTOMER\nCUST\n0 0 0 0 0 10 0\n1 1 1 1 9 5 0\n",
         "a.txt:8: bad time window [9, 5]"},
        {"a.txt",
         "X\nVEHICLE\nNUMBER CAPACITY\n2 10\nCUSTOMER\nCUST\n0 0 0 0 0 10 0\n0 1 1 1 0 5 0\n",
         "a.txt:8: CUST NO. 0 appears twice"},
        {"a.txt",
         "X\nVEHICLE\nNUMBER CAPACITY\n2 10\nCUSTOMER\nCUST\n0 0 0 0 0 10 0\n1 a 1 1 0 5 0\n",
         "a.txt:8: bad number 'a'"},
        {"a.txt", "X\nVEHICLE\nNUMBER CAPACITY\n2 10\nCUSTOMER\nCUST\n",
         "a.txt:6: no depot row after the CUSTOMER header"},
        {"a.dat", "hello world\n", "a.dat:1: not a CVRPLIB .vrp nor a Solomon .txt instance"},
        {"a.txt", "", "a.txt:1: empty file"},
        {"a.vrp", "", "a.vrp:1: missing DIMENSION"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        vrp_instance *inst = (vrp_instance *)&inst;
        char err[256] = "";
        int rc = vrp_parse_buffer(cases[i].name, cases[i].text, strlen(cases[i].text), &inst, err,
                                  sizeof(err));
        if (rc != -1 || strcmp(err, cases[i].message))
            print_error("case %zu: rc %d, got '%s', want '%s'\n", i, rc, err, cases[i].message);
        assert_int_equal(rc, -1);
        assert_null(inst);
        assert_string_equal(err, cases[i].message);
    }
    char err[256];
    vrp_instance *inst;
    assert_int_equal(vrp_parse_file("/nonexistent/x.vrp", &inst, err, sizeof(err)), -1);
    assert_string_equal(err, "/nonexistent/x.vrp:0: cannot open: No such file or directory");
}

/* Every fixture parses; CVRP .sol files pass the checker at their cost. */
static int count_sol_and_check(const vrp_instance *inst, const char *solpath)
{
    size_t len;
    char *text = read_all(solpath, &len);
    if (!text)
        return 0;
    vrp_solution sol = {0};
    vrp_route routes[128];
    static int stops[128][1024];
    long cost = -1;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        if (!strncmp(line, "Route #", 7) && sol.n_routes < 128) {
            vrp_route *rt = &routes[sol.n_routes];
            *rt = (vrp_route){0, 0, stops[sol.n_routes]};
            char *p = strchr(line, ':') + 1, *end;
            long id;
            while ((id = strtol(p, &end, 10)), end != p) {
                rt->stops[rt->n_stops++] = (int)id; /* ext id = node index */
                p = end;
            }
            sol.n_routes++;
        } else if (!strncmp(line, "Cost", 4)) {
            cost = strtol(line + 4, NULL, 10);
        }
    }
    free(text);
    sol.routes = routes;
    sol.cost = (double)cost;
    char msg[256];
    int rc = vrp_check(inst, &sol, NULL, msg, sizeof(msg));
    if (rc)
        print_error("%s: %s\n", solpath, msg);
    assert_int_equal(rc, 0);
    return 1;
}

static void parse_dir(const char *dir, const char *ext, int *count, int *sols)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l < 4 || strcmp(e->d_name + l - 4, ext))
            continue;
        char path[1024], err[512];
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        vrp_instance *inst;
        int rc = vrp_parse_file(path, &inst, err, sizeof(err));
        if (rc)
            print_error("%s\n", err);
        assert_int_equal(rc, 0);
        assert_true(inst->n_nodes >= 2);
        size_t len;
        char *text = read_all(path, &len);
        assert_non_null(text);
        if (*count % 9 == 0) /* a sample through every line-ending variant */
            check_variants(path, text);
        free(text);
        if (!strcmp(ext, ".vrp")) {
            snprintf(path + strlen(path) - 4, 5, ".sol");
            *sols += count_sol_and_check(inst, path);
        }
        vrp_instance_free(inst);
        (*count)++;
    }
    closedir(d);
}

static void test_parse_fixtures(void **state)
{
    (void)state;
    char buf[1024];
    if (!vrp_fixture_path("", buf, sizeof(buf)))
        skip();
    char dir[1100];
    int n = 0, sols = 0;
    snprintf(dir, sizeof(dir), "%s/solomon", buf);
    parse_dir(dir, ".txt", &n, &sols);
    assert_int_equal(n, 56);
    snprintf(dir, sizeof(dir), "%s/cvrp", buf);
    parse_dir(dir, ".vrp", &n, &sols);
    assert_int_equal(n, 56 + 73);
    assert_int_equal(sols, 73);
}

static void test_solve_fixture(void **state)
{
    (void)state;
    char buf[1024];
    if (!vrp_fixture_path("", buf, sizeof(buf)))
        skip();
    const char *files[] = {"cvrp/A-n32-k5.vrp", "solomon/R101.txt"};
    const double bks[] = {784, 1642.88};
    for (int i = 0; i < 2; i++) {
        char path[1200], err[512];
        snprintf(path, sizeof(path), "%s%s", buf, files[i]);
        vrp_instance *inst;
        assert_int_equal(vrp_parse_file(path, &inst, err, sizeof(err)), 0);
        assert_int_equal(inst->types[0].count, i == 0 ? 5 : 25);
        vrp_solution *sol = solve_checked(inst, 1, 3000);
        assert_int_equal(sol->n_unassigned, 0);
        assert_true(sol->cost <= bks[i] * 1.02 && sol->cost >= bks[i] - 0.01);
        vrp_solution_free(sol);
        vrp_instance_free(inst);
    }
}

/* ---------- command line ---------- */

static int run_cli(int argc, const char **argv)
{
    return vrp_cli_main(argc, (char **)argv);
}

static void test_cli(void **state)
{
    (void)state;
    const char *none[] = {"route-solve"};
    assert_int_equal(run_cli(1, none), 2);
    const char *bad_opt[] = {"route-solve", "x.vrp", "--bogus"};
    assert_int_equal(run_cli(3, bad_opt), 2);
    const char *bad_time[] = {"route-solve", "x.vrp", "--time-limit", "-1"};
    assert_int_equal(run_cli(4, bad_time), 2);
    const char *bad_seed[] = {"route-solve", "x.vrp", "--seed", "abc"};
    assert_int_equal(run_cli(4, bad_seed), 2);
    const char *missing[] = {"route-solve", "/nonexistent/x.vrp"};
    assert_int_equal(run_cli(2, missing), 2);
    char path[] = "/tmp/test_vrp_XXXXXX.vrp";
    int fd = mkstemps(path, 4);
    assert_true(fd >= 0);
    print_message("route-solve on a generated instance (its solution follows)\n");
    FILE *f = fdopen(fd, "w");
    fputs(tiny_vrp, f);
    fclose(f);
    const char *ok[] = {"route-solve", path, "--time-limit", "0.05", "--seed", "3"};
    assert_int_equal(run_cli(6, ok), 0);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("NAME : t\nCOMMENT : No of trucks: 1\nDIMENSION : 3\nCAPACITY : 5\n"
          "NODE_COORD_SECTION\n1 0 0\n2 1 1\n3 2 2\nDEMAND_SECTION\n1 0\n2 4\n3 4\nEOF\n",
          f);
    fclose(f);
    print_message("route-solve with one truck for two loads: expect an unassigned customer\n");
    assert_int_equal(run_cli(6, ok), 1);
    remove(path);
}

int main(void)
{
    const struct CMUnitTest parsers[] = {
        cmocka_unit_test(test_parse_tiny),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_parse_fixtures),
    };
    const struct CMUnitTest checker[] = {
        cmocka_unit_test(test_checker),
    };
    const struct CMUnitTest solver[] = {
        cmocka_unit_test(test_brute_force_cvrp),    cmocka_unit_test(test_brute_force_vrptw),
        cmocka_unit_test(test_determinism),         cmocka_unit_test(test_unassigned_reasons),
        cmocka_unit_test(test_heterogeneous_fleet), cmocka_unit_test(test_haversine),
        cmocka_unit_test(test_solve_fixture),       cmocka_unit_test(test_cli),
    };
    int failed = cmocka_run_group_tests_name("vrp_parsers", parsers, NULL, NULL);
    failed += cmocka_run_group_tests_name("vrp_checker", checker, NULL, NULL);
    failed += cmocka_run_group_tests_name("vrp_solver", solver, NULL, NULL);
    return failed ? 1 : 0;
}
