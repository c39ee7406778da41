/* Unit tests of purser/money.h (parse, format, integer rounding) and of
 * purser/recon.h's category names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "purser/money.h"
#include "purser/recon.h"

static int64_t parsed(const char *s, int exponent)
{
    int64_t v = 0;
    purser_money_status st = purser_money_parse(s, exponent, &v);
    if (st != PURSER_MONEY_OK)
        fail_msg("'%s' (exponent %d): %s", s, exponent, purser_money_strerror(st));
    return v;
}

static void refused(const char *s, int exponent, purser_money_status want)
{
    int64_t v = 42;
    purser_money_status st = purser_money_parse(s, exponent, &v);
    if (st != want)
        fail_msg("'%s' (exponent %d): got status %d, expected %d", s, exponent, st, want);
    assert_int_equal(v, 42); /* untouched */
}

static void test_parse_good(void **state)
{
    (void)state;
    assert_int_equal(parsed("12.34", 2), 1234);
    assert_int_equal(parsed("12.3", 2), 1230);
    assert_int_equal(parsed("12", 2), 1200);
    assert_int_equal(parsed("-0.5", 2), -50);
    assert_int_equal(parsed("+7.05", 2), 705);
    assert_int_equal(parsed("0", 2), 0);
    assert_int_equal(parsed("-0", 2), 0);
    assert_int_equal(parsed("3158", 0), 3158);
    assert_int_equal(parsed("1.234", 3), 1234);
    assert_int_equal(parsed("0.001", 3), 1);
    assert_int_equal(parsed("1.0001", 4), 10001);
    assert_int_equal(parsed("007.10", 2), 710);
    assert_int_equal(parsed("9223372036854775807", 0), INT64_MAX);
    assert_int_equal(parsed("-9223372036854775808", 0), INT64_MIN);
    assert_int_equal(parsed("92233720368547758.07", 2), INT64_MAX);
    assert_int_equal(parsed("-92233720368547758.08", 2), INT64_MIN);
    int64_t v;
    assert_int_equal(purser_money_parse_n("12.345,rest", 5, 2, &v), PURSER_MONEY_OK);
    assert_int_equal(v, 1234);
}

static void test_parse_refused(void **state)
{
    (void)state;
    refused("", 2, PURSER_MONEY_SYNTAX);
    refused("-", 2, PURSER_MONEY_SYNTAX);
    refused(".5", 2, PURSER_MONEY_SYNTAX);
    refused("5.", 2, PURSER_MONEY_SYNTAX);
    refused("1,234.50", 2, PURSER_MONEY_SYNTAX);
    refused(" 1.00", 2, PURSER_MONEY_SYNTAX);
    refused("1.00 ", 2, PURSER_MONEY_SYNTAX);
    refused("1e3", 2, PURSER_MONEY_SYNTAX);
    refused("1.2.3", 2, PURSER_MONEY_SYNTAX);
    refused("--1", 2, PURSER_MONEY_SYNTAX);
    refused("12.345", 2, PURSER_MONEY_PRECISION);
    refused("100.0", 0, PURSER_MONEY_PRECISION);
    refused("1.0000", 3, PURSER_MONEY_PRECISION);
    refused("9223372036854775808", 0, PURSER_MONEY_OVERFLOW);
    refused("-9223372036854775809", 0, PURSER_MONEY_OVERFLOW);
    refused("92233720368547758.08", 2, PURSER_MONEY_OVERFLOW);
    refused("99999999999999999999999", 2, PURSER_MONEY_OVERFLOW);
    refused("1", -1, PURSER_MONEY_EXPONENT);
    refused("1", 10, PURSER_MONEY_EXPONENT);
}

static void expect_format(int64_t minor, int exponent, const char *want)
{
    char buf[32];
    size_t n = purser_money_format(minor, exponent, buf, sizeof buf);
    assert_string_equal(buf, want);
    assert_int_equal(n, strlen(want));
}

static void test_format(void **state)
{
    (void)state;
    expect_format(1234, 2, "12.34");
    expect_format(-5, 2, "-0.05");
    expect_format(0, 2, "0.00");
    expect_format(5, 0, "5");
    expect_format(-3158, 0, "-3158");
    expect_format(1, 3, "0.001");
    expect_format(123456, 4, "12.3456");
    expect_format(INT64_MAX, 2, "92233720368547758.07");
    expect_format(INT64_MIN, 2, "-92233720368547758.08");
    expect_format(INT64_MIN, 0, "-9223372036854775808");
    char small[5];
    assert_int_equal(purser_money_format(123456, 2, small, sizeof small), 7);
    assert_string_equal(small, "1234");
}

static void test_roundtrip(void **state)
{
    (void)state;
    const int64_t values[] = {0, 1, -1, 99, 100, -101, 123456789, INT64_MAX, INT64_MIN};
    for (int e = 0; e <= 4; e++)
        for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
            char buf[32];
            purser_money_format(values[i], e, buf, sizeof buf);
            assert_int_equal(parsed(buf, e), values[i]);
        }
}

static int64_t md(int64_t a, int64_t b, int64_t c, purser_rounding mode)
{
    int64_t v = 0;
    assert_int_equal(purser_money_muldiv(a, b, c, mode, &v), PURSER_MONEY_OK);
    return v;
}

static void test_rounding(void **state)
{
    (void)state;
    /* ties: 2.5 -> 2 (even) / 3 (up); 3.5 -> 4 / 4; negatives mirror */
    assert_int_equal(md(5, 1, 2, PURSER_ROUND_HALF_EVEN), 2);
    assert_int_equal(md(5, 1, 2, PURSER_ROUND_HALF_UP), 3);
    assert_int_equal(md(7, 1, 2, PURSER_ROUND_HALF_EVEN), 4);
    assert_int_equal(md(7, 1, 2, PURSER_ROUND_HALF_UP), 4);
    assert_int_equal(md(-5, 1, 2, PURSER_ROUND_HALF_EVEN), -2);
    assert_int_equal(md(-5, 1, 2, PURSER_ROUND_HALF_UP), -3);
    assert_int_equal(md(5, -1, 2, PURSER_ROUND_HALF_UP), -3);
    assert_int_equal(md(5, 1, -2, PURSER_ROUND_HALF_EVEN), -2);
    assert_int_equal(md(-7, 1, 2, PURSER_ROUND_DOWN), -3);
    /* not ties: plain nearest */
    assert_int_equal(md(2, 1, 3, PURSER_ROUND_HALF_EVEN), 1);
    assert_int_equal(md(1, 1, 3, PURSER_ROUND_HALF_UP), 0);
    /* 19% VAT on 10.05 EUR = 190.95 cents */
    assert_int_equal(md(1005, 1900, 10000, PURSER_ROUND_HALF_EVEN), 191);
    /* 2.5% of 1.50 = 3.75 cents: 4 either way; of 1.00 = 2.5 cents: 2 / 3 */
    assert_int_equal(md(100, 250, 10000, PURSER_ROUND_HALF_EVEN), 2);
    assert_int_equal(md(100, 250, 10000, PURSER_ROUND_HALF_UP), 3);
    /* a * b beyond int64, result within: exact */
    assert_int_equal(md(INT64_MAX, 3, 3, PURSER_ROUND_HALF_EVEN), INT64_MAX);
    assert_int_equal(md(INT64_MIN, 10000, 10000, PURSER_ROUND_HALF_UP), INT64_MIN);
    int64_t v = 7;
    assert_int_equal(purser_money_muldiv(INT64_MAX, 2, 1, PURSER_ROUND_HALF_EVEN, &v),
                     PURSER_MONEY_OVERFLOW);
    assert_int_equal(purser_money_muldiv(INT64_MIN, -1, 1, PURSER_ROUND_HALF_EVEN, &v),
                     PURSER_MONEY_OVERFLOW);
    assert_int_equal(purser_money_muldiv(1, 1, 0, PURSER_ROUND_HALF_EVEN, &v),
                     PURSER_MONEY_DIVISION);
    assert_int_equal(v, 7);
    assert_int_equal(purser_money_add(INT64_MAX, 1, &v), PURSER_MONEY_OVERFLOW);
    assert_int_equal(purser_money_add(-5, 3, &v), PURSER_MONEY_OK);
    assert_int_equal(v, -2);
}

static void test_recon_names(void **state)
{
    (void)state;
    const char *names[] = {"matched",
                           "probable",
                           "amount_mismatch",
                           "currency_mismatch",
                           "missing_at_provider",
                           "missing_internally",
                           "duplicate_at_provider",
                           "fee_discrepancy",
                           "payout_mismatch"};
    assert_int_equal(sizeof names / sizeof names[0], PURSER_RECON_N_CATEGORIES);
    for (int c = 0; c < (int)PURSER_RECON_N_CATEGORIES; c++) {
        assert_string_equal(purser_recon_category_name((purser_recon_category)c), names[c]);
        assert_int_equal(purser_recon_category_parse(names[c]), c);
        assert_int_equal(purser_recon_is_exception((purser_recon_category)c), c >= 2);
    }
    assert_int_equal(purser_recon_category_parse("amount mismatch"), -1);
    assert_null(purser_recon_category_name(PURSER_RECON_N_CATEGORIES));
    assert_string_equal(PURSER_RECON_ANSWER_KEY_HEADER, "provider,reference,category");
}

/* purser_money_to_double is the double strtod reads from the exact
 * decimal text, for every exponent, signs, and amounts up to 2^53. */
static void test_to_double(void **state)
{
    (void)state;
    const int64_t samples[] = {0,
                               1,
                               5,
                               56,
                               954,
                               1234,
                               -5,
                               -1234,
                               99999999,
                               1000000007,
                               123456789012,
                               -987654321098,
                               (int64_t)1 << 52,
                               ((int64_t)1 << 53) - 1,
                               -((int64_t)1 << 53) + 1};
    char text[40];
    for (int e = 0; e <= PURSER_MONEY_MAX_EXPONENT; e++)
        for (size_t i = 0; i < sizeof samples / sizeof *samples; i++) {
            purser_money_format(samples[i], e, text, sizeof text);
            double want = strtod(text, NULL), got = purser_money_to_double(samples[i], e);
            if (got != want)
                fail_msg("%lld at exponent %d: %.17g, strtod(\"%s\") = %.17g",
                         (long long)samples[i], e, got, text, want);
        }
    /* a pseudo-random sweep of cent amounts */
    uint64_t x = 88172645463325252ULL;
    for (int k = 0; k < 100000; k++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        int64_t m = (int64_t)(x % 100000000000ULL) - 50000000000LL;
        int e = (int)(x >> 60) % 4;
        purser_money_format(m, e, text, sizeof text);
        assert_true(purser_money_to_double(m, e) == strtod(text, NULL));
    }
    assert_true(purser_money_to_double(1234, 42) == 1234.0); /* bad exponent: 0 */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_good), cmocka_unit_test(test_parse_refused),
        cmocka_unit_test(test_format),     cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_rounding),   cmocka_unit_test(test_recon_names),
        cmocka_unit_test(test_to_double),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
