/* `purser next "EXPR" [--tz ZONE] [--from ISO8601] [--count N]`: the next
 * fire instants of a schedule, to check it before deploying it. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "cron.h"
#include "jobs.h"
#include "log.h"

#define CLI_NEXT_USAGE "usage: purser next \"EXPR\" [--tz ZONE] [--from ISO8601] [--count N]"

/* n digits at *s into *out, advancing *s; false if they are not there. */
static bool cli_next_digits(const char **s, int n, int *out)
{
    *out = 0;
    for (int i = 0; i < n; i++, (*s)++) {
        if (!isdigit((unsigned char)**s))
            return false;
        *out = *out * 10 + (**s - '0');
    }
    return true;
}

/* "2026-03-28", "2026-03-28T00:00[:00]" followed by nothing (local time in
 * z), "Z" or an offset "+01:00" / "+0100". The instant into *utc. */
static bool cli_next_parse_time(const char *s, const cron_zone *z, int64_t *utc)
{
    int y, mon, day, h = 0, mi = 0, sec = 0;
    if (!cli_next_digits(&s, 4, &y) || *s++ != '-' || !cli_next_digits(&s, 2, &mon) ||
        *s++ != '-' || !cli_next_digits(&s, 2, &day))
        return false;
    if (*s == 'T' || *s == ' ') {
        s++;
        if (!cli_next_digits(&s, 2, &h) || *s++ != ':' || !cli_next_digits(&s, 2, &mi))
            return false;
        if (*s == ':' && (s++, !cli_next_digits(&s, 2, &sec)))
            return false;
    }
    if (mon < 1 || mon > 12 || day < 1 || day > 31 || h > 23 || mi > 59 || sec > 59)
        return false;
    int64_t local = cron_civil_to_secs(y, mon, day, h, mi, sec);
    int64_t cy;
    int cmon, cday, ch, cmi, csec;
    cron_secs_to_civil(local, &cy, &cmon, &cday, &ch, &cmi, &csec);
    if (cday != day) /* 2026-02-30 */
        return false;
    if (*s == '\0') {
        *utc = cron_zone_to_utc(z, local);
        return true;
    }
    if (*s == 'Z' || *s == 'z') {
        *utc = local;
        return s[1] == '\0';
    }
    if (*s != '+' && *s != '-')
        return false;
    int sign = *s++ == '-' ? -1 : 1, oh, om;
    if (!cli_next_digits(&s, 2, &oh))
        return false;
    if (*s == ':')
        s++;
    if (!cli_next_digits(&s, 2, &om) || *s != '\0' || oh > 23 || om > 59)
        return false;
    *utc = local - sign * (oh * 3600 + om * 60);
    return true;
}

/* utc as local ISO-8601 with its offset: 2026-03-29T03:00:00+02:00. */
static void cli_next_print(const cron_zone *z, int64_t utc)
{
    int32_t off = cron_zone_offset(z, utc);
    int64_t y;
    int mon, day, h, mi, sec;
    cron_secs_to_civil(utc + off, &y, &mon, &day, &h, &mi, &sec);
    int32_t a = off < 0 ? -off : off;
    printf("%04lld-%02d-%02dT%02d:%02d:%02d%c%02d:%02d\n", (long long)y, mon, day, h, mi, sec,
           off < 0 ? '-' : '+', a / 3600, a / 60 % 60);
}

typedef struct cli_next_args {
    const char *expr, *zone, *from;
    long count;
} cli_next_args;

static int cli_next_args_parse(int argc, char **argv, cli_next_args *a)
{
    *a = (cli_next_args){.count = 5};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--tz") == 0 && i + 1 < argc) {
            a->zone = argv[++i];
        } else if (strcmp(argv[i], "--from") == 0 && i + 1 < argc) {
            a->from = argv[++i];
        } else if (strcmp(argv[i], "--count") == 0 && i + 1 < argc) {
            char *end;
            a->count = strtol(argv[++i], &end, 10);
            if (*end || end == argv[i] || a->count < 1 || a->count > 10000) {
                log_error("--count '%s': expected a number from 1 to 10000", argv[i]);
                return 2;
            }
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            log_error("next: unknown option or missing value '%s' (%s)", argv[i], CLI_NEXT_USAGE);
            return 2;
        } else if (a->expr) {
            log_error("next: unexpected '%s': quote the schedule as one argument (%s)", argv[i],
                      CLI_NEXT_USAGE);
            return 2;
        } else {
            a->expr = argv[i];
        }
    }
    if (!a->expr) {
        log_error(CLI_NEXT_USAGE);
        return 2;
    }
    return 0;
}

static int cli_next_list(const cli_next_args *a, const cron_expr *e, const cron_zone *z)
{
    int64_t t;
    if (!a->from) {
        t = (int64_t)time(NULL);
    } else if (!cli_next_parse_time(a->from, z, &t)) {
        log_error("--from '%s': expected an ISO-8601 time like 2026-03-28T00:00:00Z, "
                  "2026-03-28T01:00:00+01:00 or 2026-03-28T01:00:00 (in --tz)",
                  a->from);
        return 2;
    } else {
        t--; /* --from itself is included */
    }
    for (long i = 0; i < a->count; i++) {
        if (cron_next_in(e, z, t, &t) != 0) {
            if (i > 0)
                return 0;
            log_error("schedule '%s' never fires (no matching date within %d years)", a->expr,
                      CRON_HORIZON_YEARS);
            return 2;
        }
        cli_next_print(z, t);
    }
    return 0;
}

int cli_next(cli_options *o, int argc, char **argv)
{
    cli_next_args a;
    int rc = cli_next_args_parse(argc, argv, &a);
    if (rc != 0)
        return rc;
    if (!a.zone) {
        rc = cli_load_settings(o);
        if (rc != 0)
            return rc;
        a.zone = o->s.timezone && *o->s.timezone ? o->s.timezone : "UTC";
    }
    char err[512];
    cron_expr e;
    if (cron_parse(a.expr, &e, err, sizeof err) != 0) {
        log_error("schedule '%s': %s", a.expr, err);
        return 2;
    }
    if (!jobs_zone_valid(a.zone)) {
        log_error("unknown time zone '%s' (an IANA name like Europe/Berlin)", a.zone);
        return 2;
    }
    cron_zone *z = cron_zone_load(a.zone, err, sizeof err);
    if (!z) {
        log_error("%s", err);
        return 2;
    }
    rc = cli_next_list(&a, &e, z);
    cron_zone_free(z);
    return rc;
}
