/* Migrations against a real PostgreSQL: applied in order, each in its own
 * transaction, twice is a no-op, an edited applied migration is refused,
 * a failing one leaves nothing of itself behind. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "log.h"
#include "migrate.h"
#include "testdb.h"

static PGconn *migrate_db(const char *name)
{
    char *ci = testdb_create(name);
    if (!ci)
        return NULL;
    PGconn *c = testdb_connect(ci);
    free(ci);
    return c;
}

static const purser_migration good[] = {
    {"0001_a", "CREATE TABLE m_a (id int PRIMARY KEY);"},
    {"0002_b", "CREATE TABLE m_b (id int REFERENCES m_a);\nINSERT INTO m_a VALUES (1);"},
    {0},
};

static void test_apply_then_noop(void **state)
{
    (void)state;
    PGconn *c = migrate_db("t_migrate_noop");
    if (!c)
        skip();
    migration_source src[] = {{"core", core_migrations}, {"demo", good}};
    migrate_report rep;
    char err[1024] = "";
    assert_int_equal(migrate_apply(c, src, 2, &rep, err, sizeof err), 0);
    assert_true(rep.applied >= 3);
    assert_int_equal(rep.already, 0);
    size_t first = rep.applied;
    assert_int_equal(migrate_apply(c, src, 2, &rep, err, sizeof err), 0);
    assert_int_equal(rep.applied, 0);
    assert_int_equal(rep.already, first);
    assert_string_equal(testdb_value(c, "SELECT count(*) FROM m_a"), "1");
    assert_string_equal(
        testdb_value(c, "SELECT string_agg(id, ',' ORDER BY id) FROM purser_migrations "
                        "WHERE owner = 'demo'"),
        "0001_a,0002_b");
    assert_int_equal(strlen(testdb_value(c, "SELECT checksum FROM purser_migrations LIMIT 1")), 64);
    PQfinish(c);
}

static void test_edited_migration_refused(void **state)
{
    (void)state;
    PGconn *c = migrate_db("t_migrate_edit");
    if (!c)
        skip();
    migration_source src[] = {{"demo", good}};
    migrate_report rep;
    char err[1024] = "";
    assert_int_equal(migrate_apply(c, src, 1, &rep, err, sizeof err), 0);
    const purser_migration edited[] = {
        {"0001_a", "CREATE TABLE m_a (id bigint PRIMARY KEY);"},
        good[1],
        {0},
    };
    migration_source src2[] = {{"demo", edited}};
    assert_int_equal(migrate_apply(c, src2, 1, &rep, err, sizeof err), -1);
    if (!strstr(err, "migration demo/0001_a was applied with checksum ") ||
        !strstr(err, "applied migrations must not change; add a new migration instead"))
        fail_msg("unexpected message: %s", err);
    PQfinish(c);
}

static void test_failing_migration_leaves_nothing(void **state)
{
    (void)state;
    PGconn *c = migrate_db("t_migrate_fail");
    if (!c)
        skip();
    const purser_migration bad[] = {
        {"0001_ok", "CREATE TABLE f_ok (id int);"},
        {"0002_bad", "CREATE TABLE f_half (id int);\nINSERT INTO f_half VALUES (1);\n"
                     "SELECT 1 / 0;"},
        {"0003_never", "CREATE TABLE f_never (id int);"},
        {0},
    };
    migration_source src[] = {{"demo", bad}};
    migrate_report rep;
    char err[1024] = "";
    assert_int_equal(migrate_apply(c, src, 1, &rep, err, sizeof err), -1);
    if (!strstr(err, "migration demo/0002_bad failed: ERROR:  division by zero (rolled back, "
                     "nothing of it applied)"))
        fail_msg("unexpected message: %s", err);
    assert_int_equal(rep.applied, 1);
    assert_string_equal(testdb_value(c, "SELECT count(*) FROM purser_migrations"), "1");
    assert_string_equal(testdb_value(c, "SELECT to_regclass('f_ok') IS NOT NULL"), "t");
    assert_string_equal(testdb_value(c, "SELECT to_regclass('f_half') IS NULL"), "t");
    assert_string_equal(testdb_value(c, "SELECT to_regclass('f_never') IS NULL"), "t");
    PQfinish(c);
}

static void test_out_of_order_refused(void **state)
{
    (void)state;
    PGconn *c = migrate_db("t_migrate_order");
    if (!c)
        skip();
    const purser_migration unordered[] = {
        {"0002_b", "SELECT 1;"},
        {"0001_a", "SELECT 1;"},
        {0},
    };
    migration_source src[] = {{"demo", unordered}};
    migrate_report rep;
    char err[1024] = "";
    assert_int_equal(migrate_apply(c, src, 1, &rep, err, sizeof err), -1);
    assert_string_equal(err, "migrations of demo are not in ascending id order: '0002_b' "
                             "before '0001_a'");
    assert_string_equal(testdb_value(c, "SELECT count(*) FROM purser_migrations"), "0");
    PQfinish(c);
}

int main(void)
{
    log_setup(PURSER_LOG_WARN, LOG_TEXT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_apply_then_noop),
        cmocka_unit_test(test_edited_migration_refused),
        cmocka_unit_test(test_failing_migration_leaves_nothing),
        cmocka_unit_test(test_out_of_order_refused),
    };
    return cmocka_run_group_tests_name("migrate", tests, NULL, NULL);
}
