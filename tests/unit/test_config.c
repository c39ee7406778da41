/* Unit tests of the configuration module: loading YAML into the tree, each
 * kind of refusal with its exact FILE:LINE:COLUMN message, ${ENV}
 * expansion, validation against key tables and the typed parsers. */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"

static char err[1024];

static cfg_doc *load(const char *text)
{
    err[0] = '\0';
    return cfg_load_string("test.yaml", text, err, sizeof err);
}

static void expect_load_error(const char *text, const char *message)
{
    cfg_doc *doc = load(text);
    assert_null(doc);
    assert_string_equal(err, message);
}

/* Loads `text` (which must load) and validates its root against keys. */
static int validate(const char *text, const char *prefix, const purser_config_key *keys)
{
    cfg_doc *doc = load(text);
    assert_non_null(doc);
    err[0] = '\0';
    int rc = cfg_validate(doc, doc->root, prefix, keys, err, sizeof err);
    cfg_free(doc);
    return rc;
}

static void expect_invalid(const char *text, const purser_config_key *keys, const char *message)
{
    assert_int_equal(validate(text, "", keys), -1);
    assert_string_equal(err, message);
}

/* ------------------------------------------------------------------ good files */

static void test_good_file(void **state)
{
    (void)state;
    cfg_doc *doc = load("# purser test\n"
                        "database:\n"
                        "  url: postgres://localhost/purser  # trailing comment\n"
                        "runner:\n"
                        "  workers: 4\n"
                        "  queues:\n"
                        "    - fast\n"
                        "    - 'slow one'\n"
                        "flow: {a: 1, b: [x, \"y z\"]}\n"
                        "quoted: \"tab\\there\"\n"
                        "empty:\n");
    assert_non_null(doc);
    assert_int_equal(doc->root->kind, CFG_MAP);
    assert_int_equal(doc->root->count, 5);

    const cfg_node *url = cfg_find(doc->root, "database.url");
    assert_non_null(url);
    assert_string_equal(url->value, "postgres://localhost/purser");
    assert_string_equal(url->key, "url");
    assert_int_equal(url->key_line, 3);
    assert_int_equal(url->key_col, 3);
    assert_int_equal(url->line, 3);
    assert_int_equal(url->col, 8);
    assert_true(url->plain);

    const cfg_node *queues = cfg_find(doc->root, "runner.queues");
    assert_non_null(queues);
    assert_int_equal(queues->kind, CFG_SEQ);
    assert_int_equal(queues->count, 2);
    assert_string_equal(queues->child->value, "fast");
    assert_null(queues->child->key);
    assert_string_equal(queues->child->next->value, "slow one");
    assert_false(queues->child->next->plain);
    assert_int_equal(queues->child->next->line, 8);
    assert_int_equal(queues->child->next->col, 7);

    const cfg_node *flow = cfg_get(doc->root, "flow");
    assert_int_equal(flow->kind, CFG_MAP);
    assert_string_equal(cfg_find(flow, "a")->value, "1");
    const cfg_node *b = cfg_get(flow, "b");
    assert_int_equal(b->kind, CFG_SEQ);
    assert_string_equal(b->child->next->value, "y z");

    assert_string_equal(cfg_get(doc->root, "quoted")->value, "tab\there");
    assert_string_equal(cfg_get(doc->root, "empty")->value, "");
    assert_null(cfg_get(doc->root, "missing"));
    assert_null(cfg_find(doc->root, "database.url.deeper"));
    assert_null(cfg_get(url, "x"));
    assert_ptr_equal(cfg_find(doc->root, ""), doc->root);
    cfg_free(doc);
}

static void test_empty_files(void **state)
{
    (void)state;
    const char *texts[] = {"", "# only a comment\n\n   # another\n", "---\n", "\n\n"};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        cfg_doc *doc = load(texts[i]);
        assert_non_null(doc);
        assert_int_equal(doc->root->kind, CFG_MAP);
        assert_int_equal(doc->root->count, 0);
        assert_null(doc->root->child);
        cfg_free(doc);
    }
    cfg_free(NULL);
}

/* ------------------------------------------------------------------ refusals */

static void test_syntax_errors(void **state)
{
    (void)state;
    expect_load_error("a: 1\nb: [1, 2\n", "test.yaml:3:1: did not find expected ',' or ']' "
                                          "while parsing a flow sequence started at line 2, "
                                          "column 4");
    expect_load_error("a: b: c\n", "test.yaml:1:5: mapping values are not allowed in this context");
    expect_load_error("a:\n  b: 1\n c: 2\n", "test.yaml:3:2: did not find expected key while "
                                             "parsing a block mapping started at line 1, "
                                             "column 1");
    expect_load_error("a: \"open\n", "test.yaml:2:1: found unexpected end of stream while "
                                     "scanning a quoted scalar started at line 1, column 4");
    expect_load_error("a: \xff\n", "test.yaml:1:4: invalid leading UTF-8 octet");
}

static void test_tab_indentation(void **state)
{
    (void)state;
    expect_load_error("a:\n\tb: 1\n",
                      "test.yaml:2:1: found a tab character where YAML expects spaces");
    expect_load_error("a:\n  b: 1\n\tc: 2\n",
                      "test.yaml:3:1: found a tab character where YAML expects spaces");
}

static void test_duplicate_key(void **state)
{
    (void)state;
    expect_load_error("a: 1\nb: 2\na: 3\n", "test.yaml:3:1: duplicate key 'a' (first at line 1)");
    expect_load_error("x:\n  y: 1\n  z: 2\n  y: 3\n",
                      "test.yaml:4:3: duplicate key 'y' (first at line 2)");
    expect_load_error("f: {k: 1, k: 2}\n", "test.yaml:1:11: duplicate key 'k' (first at line 1)");
    cfg_doc *doc = load("a:\n  k: 1\nb:\n  k: 2\n");
    assert_non_null(doc);
    cfg_free(doc);
}

static void test_root_must_be_map(void **state)
{
    (void)state;
    expect_load_error("- a\n- b\n", "test.yaml:1:1: the top level must be a map of keys, found "
                                    "a list");
    expect_load_error("just text\n", "test.yaml:1:1: the top level must be a map of keys, found "
                                     "a single value");
}

static void test_aliases_anchors_tags_refused(void **state)
{
    (void)state;
    expect_load_error("a: &base 1\n", "test.yaml:1:4: anchors ('&base') are not supported");
    expect_load_error("a: 1\nb: *base\n",
                      "test.yaml:2:4: aliases ('*base') are not supported: write the value out");
    expect_load_error("base: &b\n  x: 1\nother:\n  <<: *b\n",
                      "test.yaml:1:7: anchors ('&b') are not supported");
    expect_load_error("a: !!str 1\n",
                      "test.yaml:1:4: tags ('tag:yaml.org,2002:str') are not supported");
}

static void test_structure_refusals(void **state)
{
    (void)state;
    expect_load_error("? [a, b]\n: 1\n", "test.yaml:1:3: keys must be plain values, found a list");
    expect_load_error("? {a: 1}\n: 1\n", "test.yaml:1:3: keys must be plain values, found a map");
    expect_load_error("a: 1\n---\nb: 2\n",
                      "test.yaml:2:1: only one YAML document is allowed in a configuration file");

    char deep[400] = "a: ";
    for (int i = 0; i < 70; i++)
        strcat(deep, "[");
    expect_load_error(deep, "test.yaml:1:67: maps and lists nest deeper than 64 levels");
}

static void test_missing_file(void **state)
{
    (void)state;
    err[0] = '\0';
    assert_null(cfg_load("/nonexistent/purser.yaml", err, sizeof err));
    assert_string_equal(err, "/nonexistent/purser.yaml: cannot read: No such file or directory");
}

/* ------------------------------------------------------------------ environment */

static void test_env_expansion(void **state)
{
    (void)state;
    setenv("PURSER_T_HOST", "db.example", 1);
    setenv("PURSER_T_PORT", "5433", 1);
    setenv("PURSER_T_EMPTY", "", 1);
    cfg_doc *doc = load("whole: ${PURSER_T_HOST}\n"
                        "partial: postgres://${PURSER_T_HOST}:${PURSER_T_PORT}/x\n"
                        "escaped: cost $${PURSER_T_HOST} and $$ and $5\n"
                        "quoted: \"${PURSER_T_PORT}\"\n"
                        "empty: ${PURSER_T_EMPTY}\n"
                        "list: [a, '${PURSER_T_PORT}']\n"
                        "${PURSER_T_HOST}: keys are not expanded\n");
    assert_non_null(doc);
    assert_string_equal(cfg_get(doc->root, "whole")->value, "db.example");
    assert_string_equal(cfg_get(doc->root, "partial")->value, "postgres://db.example:5433/x");
    assert_string_equal(cfg_get(doc->root, "escaped")->value,
                        "cost ${PURSER_T_HOST} and $$ and $5");
    assert_string_equal(cfg_get(doc->root, "quoted")->value, "5433");
    const cfg_node *empty = cfg_get(doc->root, "empty");
    assert_string_equal(empty->value, "");
    assert_false(empty->plain); /* from the environment: set, not null */
    assert_string_equal(cfg_get(doc->root, "list")->child->next->value, "5433");
    assert_non_null(cfg_get(doc->root, "${PURSER_T_HOST}"));
    cfg_free(doc);
}

static void test_env_errors(void **state)
{
    (void)state;
    unsetenv("PURSER_T_UNSET");
    setenv("PURSER_T_HOST", "db.example", 1);
    expect_load_error("database:\n  url: postgres://${PURSER_T_HOST}/${PURSER_T_UNSET}\n",
                      "test.yaml:2:8: environment variable 'PURSER_T_UNSET' is not set "
                      "(used in key 'database.url')");
    expect_load_error("paths:\n  - a\n  - ${PURSER_T_UNSET}\n",
                      "test.yaml:3:5: environment variable 'PURSER_T_UNSET' is not set "
                      "(used in key 'paths[1]')");
    expect_load_error("a: ${PURSER_T_HOST\n", "test.yaml:1:4: unterminated '${' in key 'a' "
                                              "(write '$${' for a literal '${')");
    expect_load_error("a: ${1BAD}\n", "test.yaml:1:4: invalid environment variable name '1BAD' "
                                      "in key 'a' (use letters, digits and '_')");
    expect_load_error("a: x${}y\n", "test.yaml:1:4: invalid environment variable name '' "
                                    "in key 'a' (use letters, digits and '_')");
    expect_load_error("a: ${BAD-NAME}\n", "test.yaml:1:4: invalid environment variable name "
                                          "'BAD-NAME' in key 'a' (use letters, digits and '_')");
}

/* ------------------------------------------------------------------ validation */

static const purser_config_key core_keys[] = {
    {"database.url", PURSER_CFG_STRING, NULL, 1, "libpq conninfo"},
    {"runner.workers", PURSER_CFG_INT, "2", 0, "parallel runs"},
    {"runner.timeout", PURSER_CFG_DURATION, "1h", 0, "run timeout"},
    {"runner.dry_run", PURSER_CFG_BOOL, "false", 0, "compute, write nothing"},
    {"runner.queues", PURSER_CFG_LIST, NULL, 0, "queue names"},
    {"reports.output_dir", PURSER_CFG_PATH, "var/reports", 0, "report folder"},
    {"reports.max_size", PURSER_CFG_SIZE, "64MiB", 0, "largest workbook"},
    {"providers.*.format", PURSER_CFG_STRING, NULL, 1, "file format"},
    {"providers.*.sleep_ms", PURSER_CFG_INT, NULL, 0, "pause"},
    {NULL, 0, NULL, 0, NULL},
};

static void test_validate_good(void **state)
{
    (void)state;
    assert_int_equal(validate("database:\n  url: x\n"
                              "runner:\n  workers: -3\n  timeout: 1h30m\n  dry_run: Yes\n"
                              "  queues: [a, b]\n"
                              "reports:\n  output_dir: out\n  max_size: 1MiB\n"
                              "providers:\n  acme:\n    format: csv\n    sleep_ms: 10\n"
                              "  other: {format: xlsx}\n",
                              "", core_keys),
                     0);
    /* null, ~ and nothing mean unset; an empty declared map is fine */
    assert_int_equal(validate("database: {url: x}\nrunner:\n  workers: ~\n  timeout: null\n"
                              "  queues:\nreports: {}\nproviders:\n",
                              "", core_keys),
                     0);
}

static void test_unknown_key_suggestion(void **state)
{
    (void)state;
    expect_invalid("database:\n  url: x\nrunner:\n  wokers: 2\n", core_keys,
                   "test.yaml:4:3: unknown key 'runner.wokers' (did you mean 'workers'?)");
    expect_invalid("databse:\n  url: x\n", core_keys,
                   "test.yaml:1:1: unknown key 'databse' (did you mean 'database'?)");
    expect_invalid("database: {url: x}\nproviders:\n  acme:\n    format: csv\n    slep_ms: 5\n",
                   core_keys,
                   "test.yaml:5:5: unknown key 'providers.acme.slep_ms' (did you mean "
                   "'sleep_ms'?)");

    static const purser_config_key plugin_keys[] = {{"sleep_ms", PURSER_CFG_INT, "0", 0, "pause"},
                                                    {NULL, 0, NULL, 0, NULL}};
    assert_int_equal(validate("slep_ms: 5\n", "plugins.example.", plugin_keys), -1);
    assert_string_equal(err, "test.yaml:1:1: unknown key 'plugins.example.slep_ms' "
                             "(did you mean 'sleep_ms'?)");
}

static void test_unknown_key_lists_valid(void **state)
{
    (void)state;
    expect_invalid("database: {url: x}\nrunner:\n  colour: blue\n", core_keys,
                   "test.yaml:3:3: unknown key 'runner.colour' (valid keys: workers, timeout, "
                   "dry_run, queues)");
    expect_invalid("database: {url: x}\nzzz: 1\n", core_keys,
                   "test.yaml:2:1: unknown key 'zzz' (valid keys: database, runner, reports, "
                   "providers)");
    assert_int_equal(validate("anything: 1\n", "plugins.bare.", NULL), -1);
    assert_string_equal(err, "test.yaml:1:1: unknown key 'plugins.bare.anything' (no keys are "
                             "accepted here)");
}

static void test_wildcard_keys(void **state)
{
    (void)state;
    static const purser_config_key keys[] = {
        {"providers.*.format", PURSER_CFG_STRING, NULL, 0, NULL},
        {"providers.main.format", PURSER_CFG_INT, NULL, 0, NULL},
        {"a.*.*.c", PURSER_CFG_BOOL, NULL, 0, NULL},
        {NULL, 0, NULL, 0, NULL},
    };
    assert_int_equal(validate("providers:\n  one: {format: csv}\n  two: {format: xml}\n"
                              "a: {x: {y: {c: on}}}\n",
                              "", keys),
                     0);
    /* the exact declaration wins over the wildcard */
    expect_invalid("providers:\n  main: {format: csv}\n", keys,
                   "test.yaml:2:18: key 'providers.main.format': expected an integer, found "
                   "'csv'");
    expect_invalid("a: {x: {y: {d: 1}}}\n", keys,
                   "test.yaml:1:13: unknown key 'a.x.y.d' (valid keys: c)");
    expect_invalid("providers:\n  one: {fromat: csv}\n", keys,
                   "test.yaml:2:9: unknown key 'providers.one.fromat' (did you mean "
                   "'format'?)");

    assert_ptr_equal(cfg_key_lookup(keys, "providers.x.format"), &keys[0]);
    assert_ptr_equal(cfg_key_lookup(keys, "providers.main.format"), &keys[1]);
    assert_ptr_equal(cfg_key_lookup(keys, "a.1.2.c"), &keys[2]);
    assert_null(cfg_key_lookup(keys, "providers.format"));
    assert_null(cfg_key_lookup(keys, "providers..format"));
    assert_null(cfg_key_lookup(keys, "providers.x.format.y"));
    assert_null(cfg_key_lookup(keys, "providers"));
    assert_null(cfg_key_lookup(NULL, "providers"));
}

static void test_type_errors(void **state)
{
    (void)state;
    const char *db = "database: {url: x}\n";
    char text[256];
    struct {
        const char *yaml, *message;
    } cases[] = {
        {"runner:\n  workers: two\n",
         "test.yaml:3:12: key 'runner.workers': expected an integer, found 'two'"},
        {"runner:\n  workers: 99999999999999999999\n",
         "test.yaml:3:12: key 'runner.workers': expected an integer, found "
         "'99999999999999999999'"},
        {"runner:\n  dry_run: maybe\n",
         "test.yaml:3:12: key 'runner.dry_run': expected true or false, found 'maybe'"},
        {"runner:\n  timeout: 30 seconds\n",
         "test.yaml:3:12: key 'runner.timeout': expected a duration like 30s, 5m, 2h, found "
         "'30 seconds'"},
        {"reports:\n  max_size: 1TB\n",
         "test.yaml:3:13: key 'reports.max_size': expected a size like 64k, 1MiB, found '1TB'"},
        {"runner:\n  queues: fast\n",
         "test.yaml:3:11: key 'runner.queues': expected a list, found 'fast'"},
        {"runner:\n  queues: {a: 1}\n",
         "test.yaml:3:11: key 'runner.queues': expected a list, found a map"},
        {"runner:\n  queues: [a, [b]]\n",
         "test.yaml:3:15: key 'runner.queues': expected a list of values, found a list"},
        {"reports:\n  output_dir:\n    x: 1\n",
         "test.yaml:4:5: key 'reports.output_dir': expected a value, found a map"},
        {"runner:\n  workers: [1, 2]\n",
         "test.yaml:3:12: key 'runner.workers': expected an integer, found a list"},
        {"runner: fast\n", "test.yaml:2:9: key 'runner': expected a map of keys, found 'fast'"},
        {"runner:\n  workers: \"\"\n",
         "test.yaml:3:12: key 'runner.workers': expected an integer, found ''"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(text, sizeof text, "%s%s", db, cases[i].yaml);
        expect_invalid(text, core_keys, cases[i].message);
    }
    expect_invalid("a.b: 1\n", core_keys,
                   "test.yaml:1:1: key 'a.b': a key name cannot be empty or contain '.'");
}

static void test_required_missing(void **state)
{
    (void)state;
    expect_invalid("runner:\n  workers: 2\n", core_keys,
                   "test.yaml:1:1: missing required key 'database.url'");
    expect_invalid("runner:\n  workers: 2\ndatabase:\n  other: 1\n", core_keys,
                   "test.yaml:4:3: unknown key 'database.other' (valid keys: url)");
    expect_invalid("runner:\n  workers: 2\ndatabase: {}\n", core_keys,
                   "test.yaml:3:1: missing required key 'database.url'");
    expect_invalid("database:\n  url:\n", core_keys,
                   "test.yaml:2:3: missing required key 'database.url'");
    expect_invalid("database: {url: x}\nproviders:\n  acme:\n    sleep_ms: 1\n", core_keys,
                   "test.yaml:3:3: missing required key 'providers.acme.format'");
    expect_invalid("database: {url: x}\nproviders:\n  acme:\n", core_keys,
                   "test.yaml:3:3: missing required key 'providers.acme.format'");
    expect_invalid("", core_keys, "test.yaml:1:1: missing required key 'database.url'");
    /* a quoted empty string is a value, not unset */
    assert_int_equal(validate("database:\n  url: ''\n", "", core_keys), 0);

    static const purser_config_key plugin_keys[] = {
        {"token", PURSER_CFG_STRING, NULL, 1, "API token"}, {NULL, 0, NULL, 0, NULL}};
    cfg_doc *doc = load("plugins:\n  example:\n    other: 1\n  bare:\n");
    assert_non_null(doc);
    const cfg_node *block = cfg_find(doc->root, "plugins.bare");
    assert_int_equal(cfg_validate(doc, block, "plugins.bare.", plugin_keys, err, sizeof err), -1);
    assert_string_equal(err, "test.yaml:4:3: missing required key 'plugins.bare.token'");
    block = cfg_find(doc->root, "plugins.example");
    assert_int_equal(cfg_validate(doc, block, "plugins.example.", plugin_keys, err, sizeof err),
                     -1);
    assert_string_equal(err, "test.yaml:3:5: unknown key 'plugins.example.other' (valid keys: "
                             "token)");
    cfg_free(doc);
}

/* ------------------------------------------------------------------ typed parsers */

static void test_parse_int(void **state)
{
    (void)state;
    int64_t v = 0;
    assert_int_equal(cfg_parse_int("0", &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(cfg_parse_int("+42", &v), 0);
    assert_int_equal(v, 42);
    assert_int_equal(cfg_parse_int("-17", &v), 0);
    assert_int_equal(v, -17);
    assert_int_equal(cfg_parse_int("9223372036854775807", &v), 0);
    assert_true(v == INT64_MAX);
    assert_int_equal(cfg_parse_int("-9223372036854775808", &v), 0);
    assert_true(v == INT64_MIN);
    const char *bad[] = {"9223372036854775808",
                         "-9223372036854775809",
                         "99999999999999999999",
                         "",
                         "-",
                         "+",
                         "1_000",
                         "12abc",
                         " 1",
                         "1 ",
                         "0x10",
                         "1.0",
                         "--1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(cfg_parse_int(bad[i], &v), -1);
    assert_int_equal(cfg_parse_int(NULL, &v), -1);
}

static void test_parse_bool(void **state)
{
    (void)state;
    const char *yes[] = {"true", "TRUE", "Yes", "on"}, *no[] = {"false", "No", "OFF"};
    int b;
    for (size_t i = 0; i < 4; i++) {
        b = 0;
        assert_int_equal(cfg_parse_bool(yes[i], &b), 0);
        assert_int_equal(b, 1);
    }
    for (size_t i = 0; i < 3; i++) {
        b = 1;
        assert_int_equal(cfg_parse_bool(no[i], &b), 0);
        assert_int_equal(b, 0);
    }
    assert_int_equal(cfg_parse_bool("1", &b), -1);
    assert_int_equal(cfg_parse_bool("y", &b), -1);
    assert_int_equal(cfg_parse_bool("", &b), -1);
}

static void test_parse_duration(void **state)
{
    (void)state;
    struct {
        const char *text;
        int64_t ms;
    } good[] = {
        {"0", 0},
        {"90", 90000},
        {"500ms", 500},
        {"30s", 30000},
        {"5m", 300000},
        {"2h", 7200000},
        {"1d", 86400000},
        {"1h30m", 5400000},
        {"1d2h3m4s5ms", 93784005},
        {"9223372036854775807ms", INT64_MAX},
        {"9223372036854775s", 9223372036854775000},
        {"0s", 0},
    };
    int64_t v;
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        v = -1;
        assert_int_equal(cfg_parse_duration_ms(good[i].text, &v), 0);
        assert_true(v == good[i].ms);
    }
    const char *bad[] = {"",
                         "s",
                         "-1s",
                         "1.5h",
                         "1h30",
                         "30m1h",
                         "1h1h",
                         "5 m",
                         "5M",
                         "5sec",
                         "9223372036854776s",
                         "106751991167301d",
                         "9223372036854775807s1ms",
                         "9223372036854775808ms",
                         "9223372036854776"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(cfg_parse_duration_ms(bad[i], &v), -1);
    assert_int_equal(cfg_parse_duration_ms("106751991167d", &v), 0);
    assert_true(v == 106751991167LL * 86400000LL);
    assert_int_equal(cfg_parse_duration_ms("9223372036854775s807ms", &v), 0);
    assert_true(v == INT64_MAX);
    assert_int_equal(cfg_parse_duration_ms("9223372036854775s808ms", &v), -1);
}

static void test_parse_size(void **state)
{
    (void)state;
    struct {
        const char *text;
        int64_t bytes;
    } good[] = {
        {"0", 0},
        {"512", 512},
        {"512B", 512},
        {"64k", 65536},
        {"64K", 65536},
        {"1KiB", 1024},
        {"1MiB", 1048576},
        {"2M", 2097152},
        {"1GiB", 1073741824},
        {"8G", 8589934592},
        {"1kB", 1000},
        {"1KB", 1000},
        {"3MB", 3000000},
        {"2GB", 2000000000},
        {"9223372036854775807", INT64_MAX},
        {"8589934591G", 8589934591LL * 1073741824LL},
    };
    int64_t v;
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        v = -1;
        assert_int_equal(cfg_parse_size(good[i].text, &v), 0);
        assert_true(v == good[i].bytes);
    }
    const char *bad[] = {"",
                         "k",
                         "-1",
                         "1.5M",
                         "1 k",
                         "1KIB",
                         "1kib",
                         "1TB",
                         "1m",
                         "1g",
                         "1Mi",
                         "64kk",
                         "9223372036854775808",
                         "8589934592G",
                         "9007199254740992k"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(cfg_parse_size(bad[i], &v), -1);
}

/* ------------------------------------------------------------------ suggestions */

static void test_suggest(void **state)
{
    (void)state;
    const char *const names[] = {"workers", "timeout", "dry_run", "queues"};
    assert_string_equal(cfg_suggest("wokers", names, 4), "workers");
    assert_string_equal(cfg_suggest("timout", names, 4), "timeout");
    assert_string_equal(cfg_suggest("dryrun", names, 4), "dry_run");
    assert_string_equal(cfg_suggest("Queues", names, 4), "queues");
    assert_null(cfg_suggest("colour", names, 4));
    assert_null(cfg_suggest("ab", names, 4));
    assert_null(cfg_suggest("wokers", names, 0));
    const char *const short_names[] = {"ab", "xy"};
    assert_null(cfg_suggest("cd", short_names, 2));
    assert_string_equal(cfg_suggest("xz", short_names, 2), "xy");
}

/* ------------------------------------------------------------------ files and paths */

/* Writes `text` to dir/name; the path is in a static buffer. */
static const char *write_file(const char *dir, const char *name, const char *text)
{
    static char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

static void test_load_file_and_paths(void **state)
{
    (void)state;
    char tmpl[] = "/tmp/purser-test-config-XXXXXX";
    char *dir = mkdtemp(tmpl);
    assert_non_null(dir);
    char sub[4200];
    snprintf(sub, sizeof sub, "%s/conf", dir);
    assert_int_equal(mkdir(sub, 0700), 0);
    char *real = realpath(sub, NULL);
    assert_non_null(real);

    const char *path = write_file(sub, "purser.yaml", "reports:\n  output_dir: var/reports\n");
    cfg_doc *doc = cfg_load(path, err, sizeof err);
    assert_non_null(doc);
    assert_string_equal(doc->path, path);
    assert_string_equal(doc->dir, real);
    const cfg_node *out = cfg_find(doc->root, "reports.output_dir");
    char *resolved = cfg_resolve_path(doc, out->value);
    char expected[4300];
    snprintf(expected, sizeof expected, "%s/var/reports", real);
    assert_string_equal(resolved, expected);
    free(resolved);
    resolved = cfg_resolve_path(doc, "/abs/path");
    assert_string_equal(resolved, "/abs/path");
    free(resolved);
    assert_null(cfg_resolve_path(doc, NULL));
    cfg_free(doc);

    /* errors carry the path as given */
    path = write_file(sub, "bad.yaml", "a: 1\na: 2\n");
    assert_null(cfg_load(path, err, sizeof err));
    char message[4300];
    snprintf(message, sizeof message, "%s:2:1: duplicate key 'a' (first at line 1)", path);
    assert_string_equal(err, message);
    unlink(path);

    /* a relative file name resolves against its own folder */
    char *cwd = getcwd(NULL, 0);
    assert_int_equal(chdir(dir), 0);
    write_file(sub, "empty.yaml", "# nothing yet\n");
    doc = cfg_load("conf/empty.yaml", err, sizeof err);
    assert_non_null(doc);
    assert_string_equal(doc->dir, real);
    assert_int_equal(doc->root->count, 0);
    cfg_free(doc);
    assert_int_equal(chdir(cwd), 0);

    /* cfg_load_string resolves against the current directory */
    doc = load("a: 1\n");
    assert_non_null(doc);
    assert_string_equal(doc->dir, cwd);
    resolved = cfg_resolve_path(doc, "x/y");
    snprintf(expected, sizeof expected, "%s/x/y", cwd);
    assert_string_equal(resolved, expected);
    free(resolved);
    cfg_free(doc);

    unlink(write_file(sub, "purser.yaml", ""));
    unlink(write_file(sub, "empty.yaml", ""));
    assert_int_equal(rmdir(sub), 0);
    assert_int_equal(rmdir(dir), 0);
    free(real);
    free(cwd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_file),
        cmocka_unit_test(test_empty_files),
        cmocka_unit_test(test_syntax_errors),
        cmocka_unit_test(test_tab_indentation),
        cmocka_unit_test(test_duplicate_key),
        cmocka_unit_test(test_root_must_be_map),
        cmocka_unit_test(test_aliases_anchors_tags_refused),
        cmocka_unit_test(test_structure_refusals),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_env_expansion),
        cmocka_unit_test(test_env_errors),
        cmocka_unit_test(test_validate_good),
        cmocka_unit_test(test_unknown_key_suggestion),
        cmocka_unit_test(test_unknown_key_lists_valid),
        cmocka_unit_test(test_wildcard_keys),
        cmocka_unit_test(test_type_errors),
        cmocka_unit_test(test_required_missing),
        cmocka_unit_test(test_parse_int),
        cmocka_unit_test(test_parse_bool),
        cmocka_unit_test(test_parse_duration),
        cmocka_unit_test(test_parse_size),
        cmocka_unit_test(test_suggest),
        cmocka_unit_test(test_load_file_and_paths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
