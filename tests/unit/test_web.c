/* The web page's pure parts: scrypt password hashes, CSRF tokens and
 * constant-time comparison, report names and safe opening of report files
 * (traversal, encoded names, symlinks, FIFOs), form and cookie parsing,
 * the login's return address, HTML escaping and roles. */
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

#include "util.h"
#include "web_auth.h"
#include "web_form.h"
#include "web_html.h"
#include "web_reports.h"
#include "web_store.h"

static void test_password_hash(void **state)
{
    (void)state;
    char h1[WEB_HASH_MAX], h2[WEB_HASH_MAX];
    assert_int_equal(web_password_hash("correct horse", h1), 0);
    assert_int_equal(web_password_hash("correct horse", h2), 0);
    assert_true(strncmp(h1, "scrypt$15$8$1$", 14) == 0);
    assert_int_equal(strlen(h1), 14 + 32 + 1 + 64);
    assert_string_not_equal(h1, h2); /* a fresh salt each time */
    assert_null(strstr(h1, "correct"));
    assert_int_equal(web_password_verify("correct horse", h1), 1);
    assert_int_equal(web_password_verify("correct horse", h2), 1);
    assert_int_equal(web_password_verify("correct hors", h1), 0);
    assert_int_equal(web_password_verify("", h1), 0);
    /* a changed key or salt no longer verifies */
    char bad[WEB_HASH_MAX];
    strcpy(bad, h1);
    bad[strlen(bad) - 1] = bad[strlen(bad) - 1] == '0' ? '1' : '0';
    assert_int_equal(web_password_verify("correct horse", bad), 0);
    strcpy(bad, h1);
    bad[14] = bad[14] == '0' ? '1' : '0';
    assert_int_equal(web_password_verify("correct horse", bad), 0);
}

static void test_password_malformed(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "plain",
        "pbkdf2$1000$abc$def",
        "scrypt$15$8$1$",
        "scrypt$15$8$1$00112233445566778899aabbccddeeff",
        "scrypt$15$8$1$00112233445566778899aabbccddeeff$00",
        "scrypt$30$8$1$00112233445566778899aabbccddeeff$"
        "0011223344556677889900112233445566778899001122334455667788990011",
        "scrypt$15$8$1$00112233445566778899AABBCCDDEEFF$"
        "0011223344556677889900112233445566778899001122334455667788990011",
        "scrypt$15$8$1$0011223344556677889zaabbccddeeff$"
        "0011223344556677889900112233445566778899001122334455667788990011",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(web_password_verify("x", bad[i]), -1);
    assert_int_equal(web_password_verify("x", NULL), -1);
}

static void test_tokens(void **state)
{
    (void)state;
    char a[WEB_TOKEN_HEX], b[WEB_TOKEN_HEX];
    assert_int_equal(web_random_token(a), 0);
    assert_int_equal(web_random_token(b), 0);
    assert_int_equal(strlen(a), 64);
    assert_int_equal(strspn(a, "0123456789abcdef"), 64);
    assert_string_not_equal(a, b);

    char t1[WEB_TOKEN_HEX], t2[WEB_TOKEN_HEX], t3[WEB_TOKEN_HEX], t4[WEB_TOKEN_HEX];
    web_csrf_token(a, "purser-form", t1);
    web_csrf_token(a, "purser-form", t2);
    web_csrf_token(b, "purser-form", t3);
    web_csrf_token(a, "purser-login", t4);
    assert_string_equal(t1, t2); /* the same session gets the same token */
    assert_string_not_equal(t1, t3);
    assert_string_not_equal(t1, t4);
    assert_null(strstr(t1, a));
    /* HMAC-SHA256("key", "The quick brown fox jumps over the lazy dog") */
    web_csrf_token("key", "The quick brown fox jumps over the lazy dog", t1);
    assert_string_equal(t1, "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8");

    assert_true(web_token_equal(t2, t2));
    assert_false(web_token_equal(t2, t3));
    assert_false(web_token_equal("abc", "abcd"));
    assert_false(web_token_equal("", ""));
}

static void test_report_names(void **state)
{
    (void)state;
    static const char *const good[] = {"settlement_2026-01-02.xlsx", "a_2026-01-02.csv",
                                       "reconciliation_stripe_2026-01-02.xlsx"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        assert_true(web_report_name_ok(good[i]));
    static const char *const bad[] = {"",
                                      "..",
                                      ".",
                                      ".hidden_2026-01-02.xlsx",
                                      "../secret_2026-01-02.xlsx",
                                      "a/b_2026-01-02.xlsx",
                                      "a\\b_2026-01-02.xlsx",
                                      "%2e%2e",
                                      "%2e%2e%2fsecret.txt",
                                      "x..y_2026-01-02.xlsx",
                                      "a b_2026-01-02.xlsx",
                                      "a\"b_2026-01-02.xlsx",
                                      "a\nb_2026-01-02.xlsx"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_false(web_report_name_ok(bad[i]));
    char longname[260];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    assert_false(web_report_name_ok(longname));
}

static void test_report_parse(void **state)
{
    (void)state;
    web_report r;
    assert_int_equal(web_report_parse("settlement_2026-01-02.xlsx", &r), 0);
    assert_string_equal(r.date, "2026-01-02");
    assert_string_equal(r.kind, "Settlement");
    assert_string_equal(r.content_type,
                        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet");
    assert_int_equal(web_report_parse("reconciliation_stripe_2026-01-02.xlsx", &r), 0);
    assert_string_equal(r.kind, "Reconciliation: stripe");
    assert_int_equal(web_report_parse("routes_2026-01-02.geojson", &r), 0);
    assert_string_equal(r.kind, "Routes");
    assert_string_equal(r.content_type, "application/geo+json");
    assert_int_equal(web_report_parse("inventory_2026-01-02.xlsx", &r), 0);
    assert_string_equal(r.kind, "Inventory");
    assert_int_equal(web_report_parse("loyalty_2026-01-02.xlsx", &r), 0);
    assert_string_equal(r.kind, "Loyalty");
    assert_int_equal(web_report_parse("daily_sales_2026-01-02.xlsx", &r), 0);
    assert_string_equal(r.kind, "Analytics: daily_sales");
    assert_int_equal(web_report_parse("example_2026-01-02.txt", &r), 0);
    assert_string_equal(r.kind, "Other: example");
    static const char *const bad[] = {"settlement_2026-01-02.xlsx.17.tmp",
                                      "settlement_2026-01-02.exe",
                                      "settlement_2026-1-02.xlsx",
                                      "settlement2026-01-02.xlsx",
                                      "_2026-01-02.xlsx",
                                      "2026-01-02.xlsx",
                                      "settlement_2026-01-02",
                                      "settlement_2026-01-02.",
                                      "../settlement_2026-01-02.xlsx"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(web_report_parse(bad[i], &r), -1);
}

static void write_file(const char *dir, const char *name, const char *text)
{
    char *p = path_join(dir, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    free(p);
}

static void test_report_open(void **state)
{
    (void)state;
    char root[] = "/tmp/purser-web-unit.XXXXXX";
    assert_non_null(mkdtemp(root));
    char *dir = path_join(root, "reports");
    assert_int_equal(mkdir(dir, 0755), 0);
    write_file(root, "secret.txt", "top secret\n");
    write_file(dir, "settlement_2026-01-02.xlsx", "workbook");
    write_file(dir, "inventory_2026-01-01.xlsx", "older");
    char *link = path_join(dir, "settlement_2026-01-03.xlsx");
    char *target = path_join(root, "secret.txt");
    assert_int_equal(symlink(target, link), 0);
    char *inner = path_join(dir, "inventory_2026-01-04.xlsx");
    assert_int_equal(symlink("settlement_2026-01-02.xlsx", inner), 0);
    char *fifo = path_join(dir, "routes_2026-01-02.csv");
    assert_int_equal(mkfifo(fifo, 0600), 0);
    char *sub = path_join(dir, "routes_2026-01-05.xlsx");
    assert_int_equal(mkdir(sub, 0755), 0);

    int fd = -1;
    web_report info;
    assert_int_equal(web_report_open(dir, "2026-01-02", "settlement_2026-01-02.xlsx", &fd, &info),
                     0);
    assert_true(fd >= 0);
    assert_int_equal(info.size, 8);
    close(fd);
    static const char *const refused[][2] = {
        {"2026-01-03", "settlement_2026-01-03.xlsx"}, /* symlink out of the folder */
        {"2026-01-04", "inventory_2026-01-04.xlsx"},  /* any symlink */
        {"2026-01-02", "routes_2026-01-02.csv"},      /* a FIFO: no hang, no serving */
        {"2026-01-05", "routes_2026-01-05.xlsx"},     /* a folder */
        {"2026-01-03", "settlement_2026-01-02.xlsx"}, /* another date */
        {"2026-01-02", "../secret.txt"},              /* traversal */
        {"2026-01-02", ".."},                         /* the parent itself */
        {"2026-01-02", "%2e%2e%2fsecret.txt"},        /* still encoded */
        {"2026-01-02", "nothing_2026-01-02.xlsx"},    /* absent */
    };
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
        assert_int_equal(web_report_open(dir, refused[i][0], refused[i][1], &fd, &info), -1);
        assert_int_equal(fd, -1);
    }

    web_report *list = NULL;
    size_t n = 0;
    assert_int_equal(web_reports_list(dir, &list, &n), 0);
    assert_int_equal(n, 2); /* symlinks, the FIFO and the folder are left out */
    assert_string_equal(list[0].name, "settlement_2026-01-02.xlsx");
    assert_string_equal(list[1].name, "inventory_2026-01-01.xlsx");
    free(list);
    char *none = path_join(root, "absent");
    assert_int_equal(web_reports_list(none, &list, &n), 0);
    assert_int_equal(n, 0);

    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", root);
    assert_int_equal(system(cmd), 0);
    free(none);
    free(sub);
    free(fifo);
    free(inner);
    free(target);
    free(link);
    free(dir);
}

static void test_form(void **state)
{
    (void)state;
    const char body[] = "csrfx=1&csrf=ab%2Fc&user=a+b&empty=&bare&pct=%41%42&bad=%4&nul=%00";
    size_t len = strlen(body);
    char out[32];
    assert_int_equal(web_form_get(body, len, "csrf", out, sizeof out), 1);
    assert_string_equal(out, "ab/c");
    assert_int_equal(web_form_get(body, len, "user", out, sizeof out), 1);
    assert_string_equal(out, "a b");
    assert_int_equal(web_form_get(body, len, "empty", out, sizeof out), 1);
    assert_string_equal(out, "");
    assert_int_equal(web_form_get(body, len, "bare", out, sizeof out), 1);
    assert_int_equal(web_form_get(body, len, "pct", out, sizeof out), 1);
    assert_string_equal(out, "AB");
    assert_int_equal(web_form_get(body, len, "bad", out, sizeof out), -1);
    assert_int_equal(web_form_get(body, len, "nul", out, sizeof out), -1);
    assert_int_equal(web_form_get(body, len, "csr", out, sizeof out), 0);
    assert_int_equal(web_form_get(body, len, "missing", out, sizeof out), 0);
    assert_int_equal(web_form_get(body, len, "user", out, 3), -1); /* too long */
    /* the body is not NUL-terminated: only len bytes count */
    assert_int_equal(web_form_get("a=1&b=2", 3, "b", out, sizeof out), 0);
}

static void test_cookie_and_next(void **state)
{
    (void)state;
    char out[80];
    const char *h = "theme=dark; purser_sessionx=1; purser_session=abc123; other=2";
    assert_int_equal(web_cookie_get(h, "purser_session", out, sizeof out), 1);
    assert_string_equal(out, "abc123");
    assert_int_equal(web_cookie_get(h, "other", out, sizeof out), 1);
    assert_string_equal(out, "2");
    assert_int_equal(web_cookie_get(h, "purser", out, sizeof out), 0);
    assert_int_equal(web_cookie_get(NULL, "purser_session", out, sizeof out), 0);
    assert_int_equal(web_cookie_get(h, "purser_session", out, 4), -1);

    assert_true(web_next_ok("/reports"));
    assert_true(web_next_ok("/reports/2026-01-02/settlement_2026-01-02.xlsx"));
    static const char *const bad[] = {"",           "reports",     "//evil.example",
                                      "/\\evil",    "http://evil", "/a b",
                                      "/a\"onload", "/<script>",   "/a\r\nSet-Cookie:x"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_false(web_next_ok(bad[i]));
    assert_false(web_next_ok(NULL));
}

static void test_html_and_roles(void **state)
{
    (void)state;
    strbuf sb = {0};
    web_h(&sb, "<a href=\"x\" onclick='y'>&amp;</a>");
    assert_string_equal(sb.data,
                        "&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;amp;&lt;/a&gt;");
    sb_free(&sb);
    web_url_encode(&sb, "a b/c?d=é");
    assert_string_equal(sb.data, "a%20b%2Fc%3Fd%3D%C3%A9");
    sb_free(&sb);
    web_size(&sb, 845);
    sb_add(&sb, "|");
    web_size(&sb, 20000);
    sb_add(&sb, "|");
    web_size(&sb, 5 * 1024 * 1024);
    assert_string_equal(sb.data, "845 B|19.5 KiB|5.0 MiB");
    sb_free(&sb);

    assert_true(web_role_allows("finance", "finance"));
    assert_false(web_role_allows("finance", "ops"));
    assert_false(web_role_allows("finance", "admin"));
    assert_true(web_role_allows("ops", "finance"));
    assert_true(web_role_allows("ops", "ops"));
    assert_false(web_role_allows("ops", "admin"));
    assert_true(web_role_allows("admin", "ops"));
    assert_false(web_role_allows("intake", "finance"));
    assert_false(web_role_allows(NULL, "finance"));
    assert_true(web_role_valid("ops"));
    assert_false(web_role_valid("root"));
    assert_true(web_user_name_ok("anna.m@finance"));
    assert_false(web_user_name_ok("a b"));
    assert_false(web_user_name_ok(""));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_password_hash),  cmocka_unit_test(test_password_malformed),
        cmocka_unit_test(test_tokens),         cmocka_unit_test(test_report_names),
        cmocka_unit_test(test_report_parse),   cmocka_unit_test(test_report_open),
        cmocka_unit_test(test_form),           cmocka_unit_test(test_cookie_and_next),
        cmocka_unit_test(test_html_and_roles),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
