/* Cron schedules: parsing 5-field expressions and @macros, and finding the
 * next fire instant in an IANA time zone, with the DST rules below. Time
 * zones are read from the tzdata files directly; $TZ is never touched, so
 * every function here is safe to call from any thread.
 *
 * DST rules (local wall-clock time in the schedule's zone):
 *  - A fixed-time slot (the hour field lists specific hours) that falls in
 *    the spring-forward gap fires once, at the first instant after the gap:
 *    "30 2 * * *" in Europe/Berlin on 2026-03-29 fires at 03:00 CEST (01:00Z).
 *  - A fixed-time slot in the repeated fall-back hour fires once, at its first
 *    occurrence: "30 2 * * *" on 2026-10-25 fires at 02:30 CEST (00:30Z) only.
 *  - A wildcard-hour job (the hour field is `*` or a step of `*`, e.g.
 *    "0 * * * *", "15,45 * * * *") follows real elapsed time: it fires at
 *    every matching wall-clock time that exists, both occurrences of the repeated hour
 *    included, and not at all for the times the gap skips ("0 * * * *" fires
 *    23 times on a spring-forward day and 25 times on a fall-back day).
 *  - Day-of-month and day-of-week follow Vixie cron: when both are restricted
 *    (neither starts with `*`) a day matches if either matches; otherwise a
 *    day must match both, so the restricted one alone decides (a field such
 *    as `*\/2` starts with `*` and counts as unrestricted, as in Vixie cron).
 *  - `31` (or 29-30 in February) in a month without that day is skipped,
 *    never clamped; a schedule that matches no date within CRON_HORIZON_YEARS
 *    never fires (cron_next returns CRON_NEVER). */
#ifndef PURSER_CRON_H
#define PURSER_CRON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* How far ahead cron_next looks: long enough for Feb 29 across 2100. */
#define CRON_HORIZON_YEARS 8

/* A parsed schedule: one bit per allowed value. Plain data, no ownership. */
typedef struct cron_expr {
    uint64_t minutes;     /* bit m: minute m, 0-59 */
    uint32_t hours;       /* bit h: hour h, 0-23 */
    uint32_t mdays;       /* bit d: day of month d, 1-31 */
    uint16_t months;      /* bit m: month m, 1-12 */
    uint8_t wdays;        /* bit d: day of week d, 0 = Sunday .. 6 */
    bool mday_restricted; /* the day-of-month field does not start with '*' */
    bool wday_restricted; /* the day-of-week field does not start with '*' */
    bool hour_wildcard;   /* the hour field starts with '*': elapsed-time DST rule */
} cron_expr;

/* Parse text ("30 2 * * MON-FRI", "@daily", ...) into *out. Returns 0, or
 * -1 with a one-line reason in err, naming the field at fault:
 * "field 2 (hour): 24 is out of range 0-23". */
int cron_parse(const char *text, cron_expr *out, char *err, size_t errlen);

/* An IANA time zone read from /usr/share/zoneinfo. */
typedef struct cron_zone cron_zone;

/* Load zone ("Europe/Berlin", "UTC"). Returns an owned zone to free with
 * cron_zone_free, or NULL with the reason in err. */
cron_zone *cron_zone_load(const char *name, char *err, size_t errlen);
/* Free a zone; NULL is fine. */
void cron_zone_free(cron_zone *z);
/* Seconds east of UTC in effect at utc (e.g. 7200 for CEST). */
int32_t cron_zone_offset(const cron_zone *z, int64_t utc);
/* The UTC instant of local wall-clock time `local` (seconds since
 * 1970-01-01T00:00 local). A time in a gap maps to the first instant after
 * the gap, a repeated time to its first occurrence (the fixed-time rules). */
int64_t cron_zone_to_utc(const cron_zone *z, int64_t local);

enum {
    CRON_NEVER = -1,   /* no fire instant within CRON_HORIZON_YEARS */
    CRON_BAD_ZONE = -2 /* cron_next only: the zone cannot be loaded */
};

/* The first fire instant of e strictly after after_utc (UTC seconds), in
 * zone z, into *next_utc. Returns 0 or CRON_NEVER. */
int cron_next_in(const cron_expr *e, const cron_zone *z, int64_t after_utc, int64_t *next_utc);
/* The same for a zone name, loaded for the call: 0, CRON_NEVER or
 * CRON_BAD_ZONE. For many calls load the zone once and use cron_next_in. */
int cron_next(const cron_expr *e, const char *zone, int64_t after_utc, int64_t *next_utc);

/* Civil date-time helpers on seconds since 1970-01-01 (proleptic
 * Gregorian, no zone). */
int64_t cron_civil_to_secs(int64_t y, int mon, int day, int hour, int min, int sec);
void cron_secs_to_civil(int64_t secs, int64_t *y, int *mon, int *day, int *hour, int *min,
                        int *sec);

#endif
