/* The plugin loader against deliberately broken shared objects (built by
 * the Makefile into $PURSER_BUILD/test-plugins): each refusal is one line
 * naming the file and the reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "loader.h"
#include "log.h"

static char fixture_path[4096];

static const char *fixture(const char *name)
{
    const char *build = getenv("PURSER_BUILD");
    snprintf(fixture_path, sizeof fixture_path, "%s/test-plugins/%s", build ? build : "build",
             name);
    return fixture_path;
}

static void assert_refused(const char *name, const char *expected_part)
{
    loaded_plugin lp;
    char err[1024] = "";
    const char *path = fixture(name);
    assert_int_equal(loader_load_file(path, &lp, err, sizeof err), -1);
    /* one line, starting with the file */
    assert_null(strchr(err, '\n'));
    assert_int_equal(strncmp(err, path, strlen(path)), 0);
    if (!strstr(err, expected_part))
        fail_msg("message '%s' lacks '%s'", err, expected_part);
    assert_null(lp.handle);
}

static void test_not_elf(void **state)
{
    (void)state;
    assert_refused("not_elf.so", ": not a loadable shared object: ");
    assert_refused("not_elf.so", "invalid ELF header");
}

static void test_missing_file(void **state)
{
    (void)state;
    assert_refused("does_not_exist.so", "cannot open shared object file");
}

static void test_no_entry(void **state)
{
    (void)state;
    assert_refused("no_entry.so",
                   ": no entry point [purser_plugin_entry] in shared library (define it with "
                   "PURSER_PLUGIN_DEFINE)");
}

static void test_abi_major(void **state)
{
    (void)state;
    char want[128];
    snprintf(want, sizeof want, ": ABI mismatch: host %d.x, plugin %d.x", PURSER_ABI_MAJOR,
             PURSER_ABI_MAJOR + 1);
    assert_refused("bad_abi.so", want);
}

static void test_bad_magic(void **state)
{
    (void)state;
    assert_refused("bad_magic.so", ": bad descriptor magic 0x12345678");
}

static void test_missing_fields(void **state)
{
    (void)state;
    assert_refused("missing_fields.so",
                   ": descriptor fields missing: name, version, run/routes/commands");
}

static void test_future_minor_accepted(void **state)
{
    (void)state;
    loaded_plugin lp;
    char err[1024] = "";
    int rc = loader_load_file(fixture("future_minor.so"), &lp, err, sizeof err);
    if (rc != 0)
        fail_msg("refused: %s", err);
    assert_string_equal(lp.desc.name, "future_minor");
    assert_int_equal(lp.desc.abi_minor, PURSER_ABI_MINOR + 5);
    assert_non_null(lp.desc.run);
    plugin_set set = {.items = malloc(sizeof lp), .count = 1};
    set.items[0] = lp;
    loader_unload(&set);
}

static void test_good_plugin_and_duplicate(void **state)
{
    (void)state;
    const char *build = getenv("PURSER_BUILD");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/plugins", build ? build : "build");
    char example_copy[4096];
    snprintf(example_copy, sizeof example_copy, "%s", fixture("example_copy.so"));
    char *list[2] = {"example.so", example_copy};
    plugin_set set;
    size_t refused = loader_load_all(dir, list, 2, &set);
    assert_int_equal(refused, 1);
    assert_int_equal(set.count, 1);
    const loaded_plugin *ex = loader_find(&set, "example");
    assert_non_null(ex);
    assert_string_equal(ex->desc.version, "1.0.0");
    assert_non_null(ex->desc.migrations);
    assert_null(loader_find(&set, "nope"));
    loader_unload(&set);
}

static void test_missing_dir_counts_as_refused(void **state)
{
    (void)state;
    plugin_set set;
    assert_int_equal(loader_load_all("/nonexistent/purser/plugins", NULL, 0, &set), 1);
    assert_int_equal(set.count, 0);
    loader_unload(&set);
}

int main(void)
{
    log_setup(PURSER_LOG_ERROR + 1, LOG_TEXT); /* the tests read messages, not stderr */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_not_elf),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_no_entry),
        cmocka_unit_test(test_abi_major),
        cmocka_unit_test(test_bad_magic),
        cmocka_unit_test(test_missing_fields),
        cmocka_unit_test(test_future_minor_accepted),
        cmocka_unit_test(test_good_plugin_and_duplicate),
        cmocka_unit_test(test_missing_dir_counts_as_refused),
    };
    return cmocka_run_group_tests_name("loader", tests, NULL, NULL);
}
