/* Cron expression parsing: five fields (names, ranges, steps, lists) or an
 * @macro, into the bitsets of a cron_expr. Every error names the field. */
#include "cron.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "util.h"

typedef struct cron_field {
    const char *name;
    int min, max;
    const char *const *names; /* names[i] is the value min + i, or NULL */
    const char *expect;       /* what a value should look like, for errors */
} cron_field;

static const char *const cron_month_names[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL",
                                               "AUG", "SEP", "OCT", "NOV", "DEC", NULL};
static const char *const cron_wday_names[] = {"SUN", "MON", "TUE", "WED",
                                              "THU", "FRI", "SAT", NULL};

static const cron_field cron_fields[5] = {
    {"minute", 0, 59, NULL, "a number"},
    {"hour", 0, 23, NULL, "a number"},
    {"day-of-month", 1, 31, NULL, "a number"},
    {"month", 1, 12, cron_month_names, "1-12 or JAN-DEC"},
    {"day-of-week", 0, 7, cron_wday_names, "0-7 or SUN-SAT"},
};

static const struct {
    const char *name;
    const char *fields;
} cron_macros[] = {
    {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
    {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
    {"@hourly", "0 * * * *"},
};

/* Report an error about field i: "field 2 (hour): ...". */
#define cron_field_err(err, errlen, i, fmt, ...)                                                   \
    set_err(err, errlen, "field %d (%s): " fmt, (i) + 1, cron_fields[i].name, __VA_ARGS__)

/* One value (number or name) of field i from [s, end); -1 on error. */
static int cron_value(int i, const char *s, size_t n, int *out, char *err, size_t errlen)
{
    const cron_field *f = &cron_fields[i];
    if (n == 0) {
        cron_field_err(err, errlen, i, "missing value where %s was expected", f->expect);
        return -1;
    }
    if (isdigit((unsigned char)s[0])) {
        long v = 0;
        for (size_t k = 0; k < n; k++) {
            if (!isdigit((unsigned char)s[k])) {
                cron_field_err(err, errlen, i, "'%.*s' is not %s", (int)n, s, f->expect);
                return -1;
            }
            if (v < 1000)
                v = v * 10 + (s[k] - '0');
        }
        if (v < f->min || v > f->max) {
            cron_field_err(err, errlen, i, "%.*s is out of range %d-%d", (int)n, s, f->min, f->max);
            return -1;
        }
        *out = (int)v;
        return 0;
    }
    for (int k = 0; f->names && f->names[k]; k++)
        if (n == strlen(f->names[k]) && strncasecmp(s, f->names[k], n) == 0) {
            *out = f->min + k;
            return 0;
        }
    cron_field_err(err, errlen, i, "'%.*s' is not %s", (int)n, s, f->expect);
    return -1;
}

/* Length of the value starting at s: up to ',', '-', '/' or the end. */
static size_t cron_token(const char *s, const char *end)
{
    const char *p = s;
    while (p < end && *p != ',' && *p != '-' && *p != '/')
        p++;
    return (size_t)(p - s);
}

/* One list item of field i ("*", "5", "1-5", "*\/15", "10-50/5", "7/10")
 * from [s, end), into *bits. */
static int cron_item(int i, const char *s, const char *end, uint64_t *bits, char *err,
                     size_t errlen)
{
    const cron_field *f = &cron_fields[i];
    int lo = f->min, hi = f->max, step = 1;
    const char *p = s;
    if (*p == '*') {
        p++;
        if (i == 4)
            hi = 6; /* 7 is Sunday again */
    } else {
        size_t n = cron_token(p, end);
        if (cron_value(i, p, n, &lo, err, errlen) != 0)
            return -1;
        bool name_end = false;
        p += n;
        if (p < end && *p == '-') {
            n = cron_token(++p, end);
            if (cron_value(i, p, n, &hi, err, errlen) != 0)
                return -1;
            name_end = !isdigit((unsigned char)*p);
            p += n;
            if (i == 4 && name_end && hi == 0 && lo > 0)
                hi = 7; /* FRI-SUN */
            if (hi < lo) {
                cron_field_err(err, errlen, i, "range %.*s is backwards", (int)(p - s), s);
                return -1;
            }
        } else if (p == end || *p != '/') {
            hi = lo;
        }
    }
    if (p < end && *p == '/') {
        size_t n = cron_token(++p, end);
        bool digits = n > 0 && n < 5;
        for (size_t k = 0; k < n && digits; k++)
            digits = isdigit((unsigned char)p[k]);
        step = 0;
        for (size_t k = 0; k < n && digits; k++)
            step = step * 10 + (p[k] - '0');
        if (!digits || step < 1) {
            cron_field_err(err, errlen, i, "step '%.*s' must be a number from 1", (int)n, p);
            return -1;
        }
        p += n;
    }
    if (p < end) {
        cron_field_err(err, errlen, i, "unexpected '%c' in '%.*s'", *p, (int)(end - s), s);
        return -1;
    }
    for (int v = lo; v <= hi; v += step)
        *bits |= UINT64_C(1) << v;
    return 0;
}

/* Field i from [s, end): a comma-separated list of items. */
static int cron_field_parse(int i, const char *s, const char *end, uint64_t *bits, char *err,
                            size_t errlen)
{
    *bits = 0;
    for (const char *p = s;;) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *stop = comma ? comma : end;
        if (stop == p) {
            cron_field_err(err, errlen, i, "empty item in list '%.*s'", (int)(end - s), s);
            return -1;
        }
        if (cron_item(i, p, stop, bits, err, errlen) != 0)
            return -1;
        if (!comma)
            return 0;
        p = comma + 1;
    }
}

static int cron_parse_fields(const char *text, cron_expr *out, char *err, size_t errlen)
{
    const char *start[6], *stop[6];
    int n = 0;
    for (const char *p = text; *p;) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p)
            break;
        if (n < 6)
            start[n] = p;
        while (*p && *p != ' ' && *p != '\t')
            p++;
        if (n < 6)
            stop[n] = p;
        n++;
    }
    if (n != 5) {
        set_err(err, errlen,
                "expected 5 fields (minute hour day-of-month month day-of-week), got %d", n);
        return -1;
    }
    uint64_t bits[5];
    for (int i = 0; i < 5; i++)
        if (cron_field_parse(i, start[i], stop[i], &bits[i], err, errlen) != 0)
            return -1;
    if (bits[4] & (UINT64_C(1) << 7))
        bits[4] = (bits[4] | 1) & 0x7f;
    *out = (cron_expr){.minutes = bits[0],
                       .hours = (uint32_t)bits[1],
                       .mdays = (uint32_t)bits[2],
                       .months = (uint16_t)bits[3],
                       .wdays = (uint8_t)bits[4],
                       .mday_restricted = *start[2] != '*',
                       .wday_restricted = *start[4] != '*',
                       .hour_wildcard = *start[1] == '*'};
    return 0;
}

int cron_parse(const char *text, cron_expr *out, char *err, size_t errlen)
{
    while (text && (*text == ' ' || *text == '\t'))
        text++;
    if (!text || !*text) {
        set_err(err, errlen, "empty schedule (expected 5 fields or a macro like @daily)");
        return -1;
    }
    if (*text != '@')
        return cron_parse_fields(text, out, err, errlen);
    size_t n = strcspn(text, " \t");
    if (n == 7 && strncasecmp(text, "@reboot", 7) == 0) {
        set_err(err, errlen,
                "@reboot is not supported: purser fires jobs at times of day, "
                "not at start-up");
        return -1;
    }
    const char *fields = NULL;
    for (size_t i = 0; i < sizeof cron_macros / sizeof cron_macros[0] && !fields; i++)
        if (n == strlen(cron_macros[i].name) && strncasecmp(text, cron_macros[i].name, n) == 0)
            fields = cron_macros[i].fields;
    if (!fields) {
        set_err(err, errlen,
                "unknown macro '%.*s' (expected @yearly, @annually, @monthly, "
                "@weekly, @daily, @midnight or @hourly)",
                (int)n, text);
        return -1;
    }
    if (text[n + strspn(text + n, " \t")] != '\0') {
        set_err(err, errlen, "a macro like %.*s stands alone, without fields", (int)n, text);
        return -1;
    }
    return cron_parse_fields(fields, out, err, errlen);
}
