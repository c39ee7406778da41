/* Cron schedules: every syntax and every parse error, and next-instant
 * tables written as exact UTC instants — ordinary schedules, the 2026 DST
 * changes of Europe/Berlin and America/New_York, leap days, short months,
 * day-of-month/day-of-week OR semantics, names, steps and @macros. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "cron.h"

#define BIT(n) (UINT64_C(1) << (n))

/* "2026-03-29T01:00:00Z" -> UTC seconds. */
static int64_t t_utc(const char *iso)
{
    int y, mon, day, h, mi, sec;
    if (sscanf(iso, "%d-%d-%dT%d:%d:%dZ", &y, &mon, &day, &h, &mi, &sec) != 6)
        fail_msg("bad test instant '%s'", iso);
    return cron_civil_to_secs(y, mon, day, h, mi, sec);
}

static void t_iso(int64_t utc, char out[32])
{
    int64_t y;
    int mon, day, h, mi, sec;
    cron_secs_to_civil(utc, &y, &mon, &day, &h, &mi, &sec);
    snprintf(out, 32, "%04d-%02d-%02dT%02d:%02d:%02dZ", (int)y, mon, day, h, mi, sec);
}

static cron_expr t_parse(const char *text)
{
    cron_expr e;
    char err[256] = "";
    if (cron_parse(text, &e, err, sizeof err) != 0)
        fail_msg("'%s' should parse: %s", text, err);
    return e;
}

static bool t_same(const cron_expr *a, const cron_expr *b)
{
    return a->minutes == b->minutes && a->hours == b->hours && a->mdays == b->mdays &&
           a->months == b->months && a->wdays == b->wdays &&
           a->mday_restricted == b->mday_restricted && a->wday_restricted == b->wday_restricted &&
           a->hour_wildcard == b->hour_wildcard;
}

static void test_parse_syntax(void **state)
{
    (void)state;
    cron_expr e = t_parse("*/15 */6 1-31/10 * *");
    assert_true(e.minutes == (BIT(0) | BIT(15) | BIT(30) | BIT(45)));
    assert_true(e.hours == (BIT(0) | BIT(6) | BIT(12) | BIT(18)));
    assert_true(e.mdays == (BIT(1) | BIT(11) | BIT(21) | BIT(31)));
    assert_true(e.months == 0x1ffe && e.wdays == 0x7f);
    assert_true(e.mday_restricted); /* written without '*', though it covers every 10th */
    assert_false(e.wday_restricted);
    assert_true(e.hour_wildcard);

    e = t_parse("10-50/20 7/5 1,15 * *");
    assert_true(e.minutes == (BIT(10) | BIT(30) | BIT(50)));
    assert_true(e.hours == (BIT(7) | BIT(12) | BIT(17) | BIT(22)));
    assert_true(e.mdays == (BIT(1) | BIT(15)));
    assert_true(e.mday_restricted);
    assert_false(e.hour_wildcard);

    e = t_parse("  0   3,5-6\t* jan,Mar-MAY mon-FRI  ");
    assert_true(e.hours == (BIT(3) | BIT(5) | BIT(6)));
    assert_true(e.months == (BIT(1) | BIT(3) | BIT(4) | BIT(5)));
    assert_true(e.wdays == 0x3e);
    assert_true(e.wday_restricted);

    assert_true(t_parse("0 0 * * 7").wdays == BIT(0));
    assert_true(t_parse("0 0 * * 0-7").wdays == 0x7f);
    assert_true(t_parse("0 0 * * FRI-SUN").wdays == (BIT(5) | BIT(6) | BIT(0)));
    assert_true(t_parse("0 0 * * 5-7").wdays == (BIT(5) | BIT(6) | BIT(0)));
    assert_true(t_parse("0 0 * * */2").wdays == (BIT(0) | BIT(2) | BIT(4) | BIT(6)));
    assert_true(t_parse("0 0 * */5 *").months == (BIT(1) | BIT(6) | BIT(11)));
    assert_true(t_parse("5 * * * *").minutes == BIT(5));
    assert_true(t_parse("*/90 * * * *").minutes == BIT(0));

    static const char *const same[][2] = {
        {"@yearly", "0 0 1 1 *"},     {"@annually", "0 0 1 1 *"},    {"@monthly", "0 0 1 * *"},
        {"@weekly", "0 0 * * 0"},     {"@daily", "0 0 * * *"},       {"@midnight", "0 0 * * *"},
        {"@hourly", "0 * * * *"},     {"@DAILY", "0 0 * * *"},       {" @hourly ", "0 * * * *"},
        {"0 0 * * SUN", "0 0 * * 7"}, {"0 0 * DEC *", "0 0 * 12 *"},
    };
    for (size_t i = 0; i < sizeof same / sizeof same[0]; i++) {
        cron_expr a = t_parse(same[i][0]), b = t_parse(same[i][1]);
        if (!t_same(&a, &b))
            fail_msg("'%s' should equal '%s'", same[i][0], same[i][1]);
    }
}

static void test_parse_errors(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"", "empty schedule (expected 5 fields or a macro like @daily)"},
        {"   ", "empty schedule (expected 5 fields or a macro like @daily)"},
        {"0 0 * *", "expected 5 fields (minute hour day-of-month month day-of-week), got 4"},
        {"0 0 0 * * *", "expected 5 fields (minute hour day-of-month month day-of-week), got 6"},
        {"60 * * * *", "field 1 (minute): 60 is out of range 0-59"},
        {"0 24 * * *", "field 2 (hour): 24 is out of range 0-23"},
        {"0 0 0 * *", "field 3 (day-of-month): 0 is out of range 1-31"},
        {"0 0 32 * *", "field 3 (day-of-month): 32 is out of range 1-31"},
        {"0 0 * 13 *", "field 4 (month): 13 is out of range 1-12"},
        {"0 0 * * 8", "field 5 (day-of-week): 8 is out of range 0-7"},
        {"0 99999999999 * * *", "field 2 (hour): 99999999999 is out of range 0-23"},
        {"x * * * *", "field 1 (minute): 'x' is not a number"},
        {"1x * * * *", "field 1 (minute): '1x' is not a number"},
        {"0 MON * * *", "field 2 (hour): 'MON' is not a number"},
        {"0 0 * FOO *", "field 4 (month): 'FOO' is not 1-12 or JAN-DEC"},
        {"0 0 * * MONDAY", "field 5 (day-of-week): 'MONDAY' is not 0-7 or SUN-SAT"},
        {"0 5-3 * * *", "field 2 (hour): range 5-3 is backwards"},
        {"0 0 * DEC-JAN *", "field 4 (month): range DEC-JAN is backwards"},
        {"*/0 * * * *", "field 1 (minute): step '0' must be a number from 1"},
        {"*/x * * * *", "field 1 (minute): step 'x' must be a number from 1"},
        {"*/ * * * *", "field 1 (minute): step '' must be a number from 1"},
        {"0 1-/2 * * *", "field 2 (hour): missing value where a number was expected"},
        {"0 -1 * * *", "field 2 (hour): missing value where a number was expected"},
        {"1,,2 * * * *", "field 1 (minute): empty item in list '1,,2'"},
        {"1, * * * *", "field 1 (minute): empty item in list '1,'"},
        {"*5 * * * *", "field 1 (minute): unexpected '5' in '*5'"},
        {"1-5-7 * * * *", "field 1 (minute): unexpected '-' in '1-5-7'"},
        {"*/5/2 * * * *", "field 1 (minute): unexpected '/' in '*/5/2'"},
        {"@reboot", "@reboot is not supported: purser fires jobs at times of day, not at "
                    "start-up"},
        {"@every 5m", "unknown macro '@every' (expected @yearly, @annually, @monthly, @weekly, "
                      "@daily, @midnight or @hourly)"},
        {"@daily 0", "a macro like @daily stands alone, without fields"},
        {"@fortnightly", "unknown macro '@fortnightly' (expected @yearly, @annually, "
                         "@monthly, @weekly, @daily, @midnight or @hourly)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cron_expr e;
        char err[256] = "";
        if (cron_parse(cases[i][0], &e, err, sizeof err) == 0)
            fail_msg("'%s' should be refused", cases[i][0]);
        if (strcmp(err, cases[i][1]) != 0)
            fail_msg("'%s':\n  got      %s\n  expected %s", cases[i][0], err, cases[i][1]);
    }
    cron_expr e;
    char err[64];
    assert_int_equal(cron_parse(NULL, &e, err, sizeof err), -1);
}

typedef struct next_case {
    const char *expr, *zone, *from;
    const char *want[10]; /* consecutive fire instants, NULL-terminated */
} next_case;

static void t_run_cases(const next_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const next_case *c = &cases[i];
        cron_expr e = t_parse(c->expr);
        char err[256];
        cron_zone *z = cron_zone_load(c->zone, err, sizeof err);
        if (!z)
            fail_msg("%s", err);
        int64_t t = t_utc(c->from);
        for (size_t k = 0; c->want[k]; k++) {
            char got[32] = "(none)";
            if (cron_next_in(&e, z, t, &t) == 0)
                t_iso(t, got);
            if (strcmp(got, c->want[k]) != 0)
                fail_msg("'%s' in %s after %s, fire %zu: got %s, expected %s", c->expr, c->zone,
                         c->from, k + 1, got, c->want[k]);
        }
        cron_zone_free(z);
    }
}

static void test_next_ordinary(void **state)
{
    (void)state;
    static const next_case cases[] = {
        /* 2026-01-01 is a Thursday. */
        {"0 9 * * MON-FRI",
         "UTC",
         "2026-01-01T00:00:00Z",
         {"2026-01-01T09:00:00Z", "2026-01-02T09:00:00Z", "2026-01-05T09:00:00Z",
          "2026-01-06T09:00:00Z", NULL}},
        {"*/15 * * * *",
         "UTC",
         "2026-01-01T00:07:00Z",
         {"2026-01-01T00:15:00Z", "2026-01-01T00:30:00Z", "2026-01-01T00:45:00Z",
          "2026-01-01T01:00:00Z", NULL}},
        {"*/15 * * * *",
         "UTC",
         "2026-01-01T00:15:00Z", /* strictly after */
         {"2026-01-01T00:30:00Z", NULL}},
        {"59 23 31 12 *",
         "UTC",
         "2026-06-01T00:00:00Z",
         {"2026-12-31T23:59:00Z", "2027-12-31T23:59:00Z", NULL}},
        {"10-50/20 7/5 * * *",
         "UTC",
         "2026-01-01T07:30:00Z",
         {"2026-01-01T07:50:00Z", "2026-01-01T12:10:00Z", "2026-01-01T12:30:00Z", NULL}},
        {"30 2 * * *",
         "Europe/Berlin",
         "2026-01-10T12:00:00Z",
         {"2026-01-11T01:30:00Z", "2026-01-12T01:30:00Z", NULL}},
        {"30 2 * * *", "Europe/Berlin", "2026-07-10T12:00:00Z", {"2026-07-11T00:30:00Z", NULL}},
        {"0 0 1 * *",
         "Asia/Tokyo",
         "2026-01-01T00:00:00Z",
         {"2026-01-31T15:00:00Z", "2026-02-28T15:00:00Z", "2026-03-31T15:00:00Z", NULL}},
        {"0 0 1 jan,JUL *",
         "UTC",
         "2026-01-01T00:00:00Z",
         {"2026-07-01T00:00:00Z", "2027-01-01T00:00:00Z", NULL}},
        {"0 0 * * SUN",
         "UTC",
         "2026-01-01T00:00:00Z",
         {"2026-01-04T00:00:00Z", "2026-01-11T00:00:00Z", NULL}},
        {"0 0 * * 7", "UTC", "2026-01-01T00:00:00Z", {"2026-01-04T00:00:00Z", NULL}},
        {"0 12 * * FRI-SUN",
         "UTC",
         "2026-01-01T00:00:00Z",
         {"2026-01-02T12:00:00Z", "2026-01-03T12:00:00Z", "2026-01-04T12:00:00Z",
          "2026-01-09T12:00:00Z", NULL}},
        {"@yearly", "UTC", "2026-01-01T00:00:00Z", {"2027-01-01T00:00:00Z", NULL}},
        {"@monthly", "UTC", "2026-01-15T00:00:00Z", {"2026-02-01T00:00:00Z", NULL}},
        {"@weekly",
         "UTC",
         "2026-01-01T00:00:00Z",
         {"2026-01-04T00:00:00Z", "2026-01-11T00:00:00Z", NULL}},
        {"@daily",
         "Europe/Berlin",
         "2026-01-01T00:00:00Z",
         {"2026-01-01T23:00:00Z", "2026-01-02T23:00:00Z", NULL}},
        {"@midnight", "America/New_York", "2026-07-01T00:00:00Z", {"2026-07-01T04:00:00Z", NULL}},
        {"@hourly",
         "UTC",
         "2026-01-01T00:00:00Z",
         {"2026-01-01T01:00:00Z", "2026-01-01T02:00:00Z", NULL}},
        {"30 * * * *",
         "Asia/Kolkata",
         "2026-01-01T00:00:00Z", /* +05:30 */
         {"2026-01-01T01:00:00Z", "2026-01-01T02:00:00Z", NULL}},
    };
    t_run_cases(cases, sizeof cases / sizeof cases[0]);
}

/* Berlin: 2026-03-29 02:00 CET -> 03:00 CEST (01:00Z); 2026-10-25 03:00
 * CEST -> 02:00 CET (01:00Z). New York: 2026-03-08 02:00 EST -> 03:00 EDT
 * (07:00Z); 2026-11-01 02:00 EDT -> 01:00 EST (06:00Z). */
static void test_next_dst_fixed(void **state)
{
    (void)state;
    static const next_case cases[] = {
        /* In the gap: once, at the first instant after it (03:00 CEST). */
        {"30 2 * * *",
         "Europe/Berlin",
         "2026-03-27T12:00:00Z",
         {"2026-03-28T01:30:00Z", "2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z", NULL}},
        {"0,30 2 * * *",
         "Europe/Berlin",
         "2026-03-28T12:00:00Z",
         {"2026-03-29T01:00:00Z", "2026-03-30T00:00:00Z", "2026-03-30T00:30:00Z", NULL}},
        {"*/15 2 * * *",
         "Europe/Berlin",
         "2026-03-28T12:00:00Z",
         {"2026-03-29T01:00:00Z", "2026-03-30T00:00:00Z", NULL}},
        {"0 2,3 * * *",
         "Europe/Berlin",
         "2026-03-28T12:00:00Z", /* 02:00 and 03:00 merge */
         {"2026-03-29T01:00:00Z", "2026-03-30T00:00:00Z", "2026-03-30T01:00:00Z", NULL}},
        {"59 1 * * *",
         "Europe/Berlin",
         "2026-03-28T12:00:00Z",
         {"2026-03-29T00:59:00Z", "2026-03-29T23:59:00Z", NULL}},
        {"0 3 * * *",
         "Europe/Berlin",
         "2026-03-28T12:00:00Z",
         {"2026-03-29T01:00:00Z", "2026-03-30T01:00:00Z", NULL}},
        /* In the repeated hour: once, at the first occurrence (CEST). */
        {"30 2 * * *",
         "Europe/Berlin",
         "2026-10-23T12:00:00Z",
         {"2026-10-24T00:30:00Z", "2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z", NULL}},
        {"30 2 * * *",
         "Europe/Berlin",
         "2026-10-25T00:45:00Z", /* between the two */
         {"2026-10-26T01:30:00Z", NULL}},
        {"*/20 2 * * *",
         "Europe/Berlin",
         "2026-10-24T12:00:00Z",
         {"2026-10-25T00:00:00Z", "2026-10-25T00:20:00Z", "2026-10-25T00:40:00Z",
          "2026-10-26T01:00:00Z", NULL}},
        {"0 3 * * *", "Europe/Berlin", "2026-10-24T12:00:00Z", {"2026-10-25T02:00:00Z", NULL}},
        /* New York. */
        {"30 2 * * *",
         "America/New_York",
         "2026-03-06T12:00:00Z",
         {"2026-03-07T07:30:00Z", "2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z", NULL}},
        {"30 1 * * *",
         "America/New_York",
         "2026-10-30T12:00:00Z",
         {"2026-10-31T05:30:00Z", "2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z", NULL}},
        {"30 1 * * *", "America/New_York", "2026-11-01T05:45:00Z", {"2026-11-02T06:30:00Z", NULL}},
        {"30 2 * * *",
         "America/New_York",
         "2026-10-30T12:00:00Z",
         {"2026-10-31T06:30:00Z", "2026-11-01T07:30:00Z", "2026-11-02T07:30:00Z", NULL}},
        /* Beyond the zone file's table (2037): the footer's POSIX rule. */
        {"30 2 * * *",
         "Europe/Berlin",
         "2040-03-24T12:00:00Z",
         {"2040-03-25T01:00:00Z", "2040-03-26T00:30:00Z", NULL}},
        {"30 2 * * *",
         "Europe/Berlin",
         "2040-10-27T12:00:00Z",
         {"2040-10-28T00:30:00Z", "2040-10-29T01:30:00Z", NULL}},
    };
    t_run_cases(cases, sizeof cases / sizeof cases[0]);
}

static void test_next_dst_wildcard(void **state)
{
    (void)state;
    static const next_case cases[] = {
        {"0 * * * *",
         "Europe/Berlin",
         "2026-03-28T23:30:00Z",
         {"2026-03-29T00:00:00Z", "2026-03-29T01:00:00Z", "2026-03-29T02:00:00Z", NULL}},
        {"0 * * * *",
         "Europe/Berlin",
         "2026-10-24T23:30:00Z",
         {"2026-10-25T00:00:00Z", "2026-10-25T01:00:00Z", "2026-10-25T02:00:00Z", NULL}},
        {"*/30 * * * *",
         "Europe/Berlin",
         "2026-03-29T00:00:00Z",
         {"2026-03-29T00:30:00Z", "2026-03-29T01:00:00Z", "2026-03-29T01:30:00Z", NULL}},
        {"*/30 * * * *",
         "Europe/Berlin",
         "2026-10-25T00:00:00Z",
         {"2026-10-25T00:30:00Z", "2026-10-25T01:00:00Z", "2026-10-25T01:30:00Z",
          "2026-10-25T02:00:00Z", NULL}},
        {"30 * * * *",
         "Europe/Berlin",
         "2026-03-29T00:00:00Z", /* 02:30 does not exist */
         {"2026-03-29T00:30:00Z", "2026-03-29T01:30:00Z", NULL}},
        {"30 */2 * * *",
         "Europe/Berlin",
         "2026-10-24T22:00:00Z", /* 00:30, 02:30 x2, 04:30 */
         {"2026-10-24T22:30:00Z", "2026-10-25T00:30:00Z", "2026-10-25T01:30:00Z",
          "2026-10-25T03:30:00Z", NULL}},
        {"0 * * * *",
         "America/New_York",
         "2026-03-08T05:30:00Z",
         {"2026-03-08T06:00:00Z", "2026-03-08T07:00:00Z", "2026-03-08T08:00:00Z", NULL}},
        {"0 * * * *",
         "America/New_York",
         "2026-11-01T04:30:00Z",
         {"2026-11-01T05:00:00Z", "2026-11-01T06:00:00Z", "2026-11-01T07:00:00Z", NULL}},
        {"*/30 * * * *",
         "America/New_York",
         "2026-11-01T05:00:00Z",
         {"2026-11-01T05:30:00Z", "2026-11-01T06:00:00Z", "2026-11-01T06:30:00Z",
          "2026-11-01T07:00:00Z", NULL}},
    };
    t_run_cases(cases, sizeof cases / sizeof cases[0]);
}

/* Fires of expr in [from, to), which must be exactly one real hour apart
 * for hourly schedules. */
static int t_count(const char *expr, const char *zone, const char *from, const char *to)
{
    cron_expr e = t_parse(expr);
    char err[256];
    cron_zone *z = cron_zone_load(zone, err, sizeof err);
    assert_non_null(z);
    int n = 0;
    int64_t end = t_utc(to), t = t_utc(from) - 1, prev = 0;
    while (cron_next_in(&e, z, t, &t) == 0 && t < end) {
        if (n > 0 && strcmp(expr, "0 * * * *") == 0 && t - prev != 3600)
            fail_msg("'%s' in %s: %lld s between fires", expr, zone, (long long)(t - prev));
        prev = t;
        n++;
    }
    cron_zone_free(z);
    return n;
}

static void test_next_dst_fires_per_day(void **state)
{
    (void)state;
    /* Local days: 2026-03-29 and 2026-10-25 in Berlin, 2026-03-08 and
     * 2026-11-01 in New York, as UTC ranges. */
    assert_int_equal(
        t_count("0 * * * *", "Europe/Berlin", "2026-03-28T23:00:00Z", "2026-03-29T22:00:00Z"), 23);
    assert_int_equal(
        t_count("0 * * * *", "Europe/Berlin", "2026-10-24T22:00:00Z", "2026-10-25T23:00:00Z"), 25);
    assert_int_equal(
        t_count("*/30 * * * *", "Europe/Berlin", "2026-03-28T23:00:00Z", "2026-03-29T22:00:00Z"),
        46);
    assert_int_equal(
        t_count("*/30 * * * *", "Europe/Berlin", "2026-10-24T22:00:00Z", "2026-10-25T23:00:00Z"),
        50);
    assert_int_equal(
        t_count("0 * * * *", "America/New_York", "2026-03-08T05:00:00Z", "2026-03-09T04:00:00Z"),
        23);
    assert_int_equal(
        t_count("0 * * * *", "America/New_York", "2026-11-01T04:00:00Z", "2026-11-02T05:00:00Z"),
        25);
    assert_int_equal(
        t_count("*/30 * * * *", "America/New_York", "2026-11-01T04:00:00Z", "2026-11-02T05:00:00Z"),
        50);
    assert_int_equal(
        t_count("0 * * * *", "Europe/Berlin", "2026-07-01T22:00:00Z", "2026-07-02T22:00:00Z"), 24);
    /* Fixed-time jobs fire exactly once on both change days. */
    assert_int_equal(
        t_count("30 2 * * *", "Europe/Berlin", "2026-03-28T23:00:00Z", "2026-03-29T22:00:00Z"), 1);
    assert_int_equal(
        t_count("30 2 * * *", "Europe/Berlin", "2026-10-24T22:00:00Z", "2026-10-25T23:00:00Z"), 1);
    assert_int_equal(
        t_count("30 1 * * *", "America/New_York", "2026-11-01T04:00:00Z", "2026-11-02T05:00:00Z"),
        1);
}

static void test_next_calendar(void **state)
{
    (void)state;
    static const next_case cases[] = {
        {"0 0 29 2 *",
         "UTC",
         "2026-01-01T00:00:00Z",
         {"2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z", NULL}},
        {"0 0 29 2 *",
         "UTC",
         "2096-03-01T00:00:00Z", /* 2100 is not a leap year */
         {"2104-02-29T00:00:00Z", NULL}},
        {"0 12 29 FEB *", "Europe/Berlin", "2026-01-01T00:00:00Z", {"2028-02-29T11:00:00Z", NULL}},
        {"0 0 31 * *",
         "UTC",
         "2026-01-01T00:00:00Z",
         {"2026-01-31T00:00:00Z", "2026-03-31T00:00:00Z", "2026-05-31T00:00:00Z",
          "2026-07-31T00:00:00Z", "2026-08-31T00:00:00Z", "2026-10-31T00:00:00Z",
          "2026-12-31T00:00:00Z", "2027-01-31T00:00:00Z", NULL}},
        {"0 0 30 * *",
         "UTC",
         "2026-01-01T00:00:00Z",
         {"2026-01-30T00:00:00Z", "2026-03-30T00:00:00Z", NULL}},
        {"0 0 29 * *",
         "UTC",
         "2027-01-01T00:00:00Z",
         {"2027-01-29T00:00:00Z", "2027-03-29T00:00:00Z", NULL}},
        /* Both restricted: the 13th OR any Friday. */
        {"0 0 13 * FRI",
         "UTC",
         "2026-01-01T00:00:00Z",
         {"2026-01-02T00:00:00Z", "2026-01-09T00:00:00Z", "2026-01-13T00:00:00Z",
          "2026-01-16T00:00:00Z", "2026-01-23T00:00:00Z", "2026-01-30T00:00:00Z",
          "2026-02-06T00:00:00Z", "2026-02-13T00:00:00Z", "2026-02-20T00:00:00Z", NULL}},
        {"0 0 1,15 * MON",
         "UTC",
         "2025-12-31T12:00:00Z",
         {"2026-01-01T00:00:00Z", "2026-01-05T00:00:00Z", "2026-01-12T00:00:00Z",
          "2026-01-15T00:00:00Z", "2026-01-19T00:00:00Z", NULL}},
        /* A field starting with '*' is not restricted: AND. */
        {"0 0 */2 * FRI",
         "UTC",
         "2026-01-01T00:00:00Z",
         {"2026-01-09T00:00:00Z", "2026-01-23T00:00:00Z", "2026-02-13T00:00:00Z",
          "2026-02-27T00:00:00Z", NULL}},
        {"0 0 13 * *",
         "UTC",
         "2026-01-01T00:00:00Z",
         {"2026-01-13T00:00:00Z", "2026-02-13T00:00:00Z", NULL}},
        {"0 0 * * FRI",
         "UTC",
         "2026-01-01T00:00:00Z",
         {"2026-01-02T00:00:00Z", "2026-01-09T00:00:00Z", NULL}},
        /* Feb 30 OR Monday: every Monday of February. */
        {"0 0 30 2 MON",
         "UTC",
         "2026-01-01T00:00:00Z",
         {"2026-02-02T00:00:00Z", "2026-02-09T00:00:00Z", NULL}},
    };
    t_run_cases(cases, sizeof cases / sizeof cases[0]);
}

static void test_next_never(void **state)
{
    (void)state;
    static const char *const never[] = {"0 0 30 2 *", "0 0 31 4,6,9,11 *", "0 0 31 FEB *"};
    for (size_t i = 0; i < sizeof never / sizeof never[0]; i++) {
        cron_expr e = t_parse(never[i]);
        int64_t next = 42;
        assert_int_equal(cron_next(&e, "Europe/Berlin", t_utc("2026-01-01T00:00:00Z"), &next),
                         CRON_NEVER);
        assert_int_equal(next, 42);
    }
    cron_expr e = t_parse("0 0 * * *");
    int64_t next;
    assert_int_equal(cron_next(&e, "Mars/Olympus", 0, &next), CRON_BAD_ZONE);
    assert_int_equal(cron_next(&e, "../etc/passwd", 0, &next), CRON_BAD_ZONE);
    assert_int_equal(cron_next(&e, "UTC", INT64_MAX - 10, &next), CRON_NEVER);
    assert_int_equal(cron_next(&e, "UTC", t_utc("2026-01-01T00:00:00Z"), &next), 0);
    assert_int_equal(next, t_utc("2026-01-02T00:00:00Z"));
}

static void test_zone(void **state)
{
    (void)state;
    char err[256];
    assert_null(cron_zone_load("Mars/Olympus", err, sizeof err));
    assert_string_equal(err, "unknown time zone 'Mars/Olympus' (an IANA name like Europe/Berlin)");
    assert_null(cron_zone_load("", err, sizeof err));
    assert_null(cron_zone_load("/etc/passwd", err, sizeof err));
    assert_null(cron_zone_load("Europe", err, sizeof err)); /* a folder */
    cron_zone_free(NULL);

    cron_zone *z = cron_zone_load("Europe/Berlin", err, sizeof err);
    assert_non_null(z);
    assert_int_equal(cron_zone_offset(z, t_utc("2026-03-29T00:59:59Z")), 3600);
    assert_int_equal(cron_zone_offset(z, t_utc("2026-03-29T01:00:00Z")), 7200);
    assert_int_equal(cron_zone_offset(z, t_utc("2026-10-25T00:59:59Z")), 7200);
    assert_int_equal(cron_zone_offset(z, t_utc("2026-10-25T01:00:00Z")), 3600);
    assert_int_equal(cron_zone_offset(z, t_utc("2050-07-01T00:00:00Z")), 7200);
    /* Local wall-clock times (written with Z but read as local). */
    assert_int_equal(cron_zone_to_utc(z, t_utc("2026-03-29T02:30:00Z")),
                     t_utc("2026-03-29T01:00:00Z"));
    assert_int_equal(cron_zone_to_utc(z, t_utc("2026-10-25T02:30:00Z")),
                     t_utc("2026-10-25T00:30:00Z"));
    assert_int_equal(cron_zone_to_utc(z, t_utc("2026-10-25T03:00:00Z")),
                     t_utc("2026-10-25T02:00:00Z"));
    assert_int_equal(cron_zone_to_utc(z, t_utc("2026-07-01T12:00:00Z")),
                     t_utc("2026-07-01T10:00:00Z"));
    cron_zone_free(z);

    z = cron_zone_load("America/New_York", err, sizeof err);
    assert_non_null(z);
    assert_int_equal(cron_zone_offset(z, t_utc("2026-01-15T00:00:00Z")), -18000);
    assert_int_equal(cron_zone_to_utc(z, t_utc("2026-11-01T01:30:00Z")),
                     t_utc("2026-11-01T05:30:00Z"));
    cron_zone_free(z);
}

static void test_civil(void **state)
{
    (void)state;
    assert_int_equal(cron_civil_to_secs(1970, 1, 1, 0, 0, 0), 0);
    assert_int_equal(cron_civil_to_secs(2026, 3, 29, 1, 0, 0), 1774746000);
    assert_int_equal(cron_civil_to_secs(1969, 12, 31, 23, 59, 59), -1);
    int64_t y;
    int mon, day, h, mi, sec;
    cron_secs_to_civil(-1, &y, &mon, &day, &h, &mi, &sec);
    assert_true(y == 1969 && mon == 12 && day == 31 && h == 23 && mi == 59 && sec == 59);
    cron_secs_to_civil(t_utc("2028-02-29T13:14:15Z"), &y, &mon, &day, &h, &mi, &sec);
    assert_true(y == 2028 && mon == 2 && day == 29 && h == 13 && mi == 14 && sec == 15);
}

/* A thousand look-ups, the daemon's load per scheduling pass, stay fast
 * even for a schedule that never fires (the whole horizon is searched). */
static void test_next_fast(void **state)
{
    (void)state;
    char err[256];
    cron_zone *z = cron_zone_load("Europe/Berlin", err, sizeof err);
    assert_non_null(z);
    cron_expr never = t_parse("0 0 30 2 *"), often = t_parse("*/5 * * * *");
    clock_t start = clock();
    int64_t t = t_utc("2026-01-01T00:00:00Z"), next;
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(cron_next_in(&never, z, t + i, &next), CRON_NEVER);
        assert_int_equal(cron_next_in(&often, z, t + 60 * i, &next), 0);
    }
    double secs = (double)(clock() - start) / CLOCKS_PER_SEC;
    if (secs > 2.0)
        fail_msg("2,000 look-ups took %.2f s", secs);
    cron_zone_free(z);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_syntax),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_next_ordinary),
        cmocka_unit_test(test_next_dst_fixed),
        cmocka_unit_test(test_next_dst_wildcard),
        cmocka_unit_test(test_next_dst_fires_per_day),
        cmocka_unit_test(test_next_calendar),
        cmocka_unit_test(test_next_never),
        cmocka_unit_test(test_zone),
        cmocka_unit_test(test_civil),
        cmocka_unit_test(test_next_fast),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
