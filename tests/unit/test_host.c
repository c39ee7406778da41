/* The host function table as a plugin sees it: settings and parameters
 * with defaults, types and resolved paths, list and map items, --param
 * overrides, report paths, metrics and results. No dlopen here: the
 * descriptor is built in the test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "host.h"
#include "log.h"
#include "metrics.h"

static const purser_config_key t_config[] = {
    {"endpoint", PURSER_CFG_STRING, "http://localhost", 0, ""},
    {"batch", PURSER_CFG_INT, "100", 0, ""},
    {"enabled", PURSER_CFG_BOOL, "true", 0, ""},
    {"timeout", PURSER_CFG_DURATION, "30s", 0, ""},
    {"max_body", PURSER_CFG_SIZE, "1MiB", 0, ""},
    {"drop", PURSER_CFG_PATH, "incoming", 0, ""},
    {"tags", PURSER_CFG_LIST, NULL, 0, ""},
    {"providers.*.format", PURSER_CFG_STRING, NULL, 1, ""},
    {"providers.*.retries", PURSER_CFG_INT, "3", 0, ""},
    {0},
};

static const purser_config_key t_params[] = {
    {"cutoff", PURSER_CFG_STRING, "00:00", 0, ""},
    {"limit", PURSER_CFG_INT, "10", 0, ""},
    {0},
};

static const char t_yaml[] = "plugins:\n"
                             "  tester:\n"
                             "    batch: 250\n"
                             "    timeout: 2m\n"
                             "    tags: [a, b, c]\n"
                             "    providers:\n"
                             "      stripe: { format: stripe }\n"
                             "      adyen: { format: adyen, retries: 5 }\n"
                             "    drop: /abs/drop\n";

typedef struct fixture {
    settings s;
    loaded_plugin lp;
    purser_ctx ctx;
    char tmp[64];
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    char err[512];
    f->s.doc = cfg_load_string("t.yaml", t_yaml, err, sizeof err);
    if (!f->s.doc)
        fail_msg("%s", err);
    snprintf(f->tmp, sizeof f->tmp, "/tmp/purser-host-XXXXXX");
    assert_non_null(mkdtemp(f->tmp));
    f->s.reports_dir = f->tmp;
    f->lp.desc = (purser_plugin){PURSER_PLUGIN_HEADER, .name = "tester",   .version = "1",
                                 .description = "t",   .config = t_config, .params = t_params};
    host_ctx_init(&f->ctx, &f->s, &f->lp);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    host_ctx_done(&f->ctx);
    cfg_free(f->s.doc);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->tmp);
    assert_int_equal(system(cmd), 0);
    free(f);
    metrics_reset();
    return 0;
}

static void test_config_values_and_defaults(void **state)
{
    fixture *f = *state;
    const purser_host *h = host_table();
    assert_int_equal(h->struct_size, sizeof(purser_host));
    assert_int_equal(h->abi_major, PURSER_ABI_MAJOR);
    int64_t v;
    int b;
    assert_int_equal(h->config_int(&f->ctx, "batch", &v), 0);
    assert_int_equal(v, 250);
    assert_int_equal(h->config_duration_ms(&f->ctx, "timeout", &v), 0);
    assert_int_equal(v, 120000);
    assert_int_equal(h->config_size(&f->ctx, "max_body", &v), 0); /* default */
    assert_int_equal(v, 1048576);
    assert_int_equal(h->config_bool(&f->ctx, "enabled", &b), 0);
    assert_int_equal(b, 1);
    assert_string_equal(h->config_string(&f->ctx, "endpoint"), "http://localhost");
    assert_string_equal(h->config_string(&f->ctx, "drop"), "/abs/drop");
    assert_null(h->config_string(&f->ctx, "providers.paypal.format"));
    assert_int_equal(h->config_int(&f->ctx, "nosuch", &v), -1);
}

static void test_lists_and_maps(void **state)
{
    fixture *f = *state;
    const purser_host *h = host_table();
    assert_int_equal(h->config_count(&f->ctx, "tags"), 3);
    assert_string_equal(h->config_item(&f->ctx, "tags", 2), "c");
    assert_null(h->config_item(&f->ctx, "tags", 3));
    assert_int_equal(h->config_count(&f->ctx, "providers"), 2);
    assert_string_equal(h->config_item(&f->ctx, "providers", 0), "stripe");
    assert_string_equal(h->config_item(&f->ctx, "providers", 1), "adyen");
    assert_string_equal(h->config_string(&f->ctx, "providers.adyen.format"), "adyen");
    int64_t v;
    assert_int_equal(h->config_int(&f->ctx, "providers.adyen.retries", &v), 0);
    assert_int_equal(v, 5);
    assert_int_equal(h->config_int(&f->ctx, "providers.stripe.retries", &v), 0); /* default */
    assert_int_equal(v, 3);
    assert_int_equal(h->config_count(&f->ctx, "endpoint"), 0);
}

static void test_params_and_overrides(void **state)
{
    fixture *f = *state;
    const purser_host *h = host_table();
    char *keys[] = {"limit"}, *vals[] = {"42"};
    f->ctx.override_keys = keys;
    f->ctx.override_vals = vals;
    f->ctx.n_overrides = 1;
    int64_t v;
    assert_int_equal(h->param_int(&f->ctx, "limit", &v), 0);
    assert_int_equal(v, 42);
    assert_string_equal(h->param_string(&f->ctx, "cutoff"), "00:00");
    char err[256];
    char *bad_k[] = {"limt"}, *bad_v[] = {"1"};
    assert_int_equal(host_check_overrides(&f->lp, bad_k, bad_v, 1, err, sizeof err), -1);
    assert_string_equal(err, "--param limt: plugin 'tester' has no parameter 'limt' (did you "
                             "mean 'limit'?)");
    char *t_v[] = {"many"};
    assert_int_equal(host_check_overrides(&f->lp, keys, t_v, 1, err, sizeof err), -1);
    assert_string_equal(err, "--param limit=many: expected an integer");
}

static void test_report_path(void **state)
{
    fixture *f = *state;
    const purser_host *h = host_table();
    char buf[512];
    assert_int_equal(h->report_path(&f->ctx, "r_2026-01-01.xlsx", buf, sizeof buf), 0);
    char want[512];
    snprintf(want, sizeof want, "%s/r_2026-01-01.xlsx", f->tmp);
    assert_string_equal(buf, want);
    assert_int_equal(h->report_path(&f->ctx, "../escape.xlsx", buf, sizeof buf), -1);
    assert_int_equal(h->report_path(&f->ctx, "..", buf, sizeof buf), -1);
    assert_int_equal(h->report_path(&f->ctx, "", buf, sizeof buf), -1);
    char tiny[8];
    assert_int_equal(h->report_path(&f->ctx, "long-name.xlsx", tiny, sizeof tiny), -1);
}

static void test_result_metrics_cancel(void **state)
{
    fixture *f = *state;
    const purser_host *h = host_table();
    h->set_result(&f->ctx, "settled %d sellers", 3);
    h->set_result(&f->ctx, "settled %d sellers", 4); /* replaces, no leak */
    assert_string_equal(f->ctx.result, "settled 4 sellers");
    h->metric_add(&f->ctx, "rows_total", 2);
    h->metric_add(&f->ctx, "rows_total", 3);
    h->metric_set(&f->ctx, "lag_seconds", 7);
    assert_true(metrics_get("tester", "rows_total") == 5.0);
    assert_true(metrics_get("tester", "lag_seconds") == 7.0);
    assert_int_equal(h->cancelled(&f->ctx), 0);
    volatile sig_atomic_t flag = 1;
    f->ctx.cancel_flag = &flag;
    assert_int_equal(h->cancelled(&f->ctx), 1);
}

/* A new unit starts a new phase; the same unit, however long (the phase
 * keeps a truncated copy), carries on the phase it started. */
static void test_progress_phases(void **state)
{
    fixture *f = *state;
    const purser_host *h = host_table();
    h->progress(&f->ctx, 10, 100, "bytes");
    assert_string_equal(f->ctx.prog.unit, "bytes");
    double bytes_started = f->ctx.prog.started;
    h->progress(&f->ctx, 50, 100, "bytes");
    assert_true(f->ctx.prog.started == bytes_started);
    assert_int_equal(f->ctx.prog.done, 50);
    h->progress(&f->ctx, 1, 24, "steps");
    assert_string_equal(f->ctx.prog.unit, "steps");
    assert_int_equal(f->ctx.prog.total, 24);
    const char *lng = "order lines of the nightly settlement batch";
    h->progress(&f->ctx, 1, 9, lng);
    double long_started = f->ctx.prog.started;
    h->progress(&f->ctx, 2, 9, lng);
    assert_true(f->ctx.prog.started == long_started);
    assert_int_equal(f->ctx.prog.done, 2);
    h->progress(&f->ctx, 1, 5, NULL);
    assert_string_equal(f->ctx.prog.unit, "items");
    double items_started = f->ctx.prog.started;
    h->progress(&f->ctx, 3, 5, NULL);
    assert_true(f->ctx.prog.started == items_started);
}

int main(void)
{
    log_setup(PURSER_LOG_ERROR + 1, LOG_TEXT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_config_values_and_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lists_and_maps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_params_and_overrides, setup, teardown),
        cmocka_unit_test_setup_teardown(test_report_path, setup, teardown),
        cmocka_unit_test_setup_teardown(test_result_metrics_cancel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_progress_phases, setup, teardown),
    };
    return cmocka_run_group_tests_name("host", tests, NULL, NULL);
}
