/* Next fire instants of a cron_expr in an IANA zone: a TZif reader (the
 * transition table plus the POSIX rule of its footer for later years) and a
 * search that walks the zone's constant-offset segments, skipping
 * non-matching months, days and hours. The DST rules are in cron.h. */
#include "cron.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

#define CRON_TZ_DIR "/usr/share/zoneinfo"
#define CRON_DAY 86400

/* ---- civil time ------------------------------------------------------- */

static int64_t cron_floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

/* Days since 1970-01-01 of y-m-d (H. Hinnant's days_from_civil). */
static int64_t cron_days(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = cron_floor_div(y, 400);
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static bool cron_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int cron_month_days(int64_t y, int m)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && cron_leap(y) ? 29 : days[m - 1];
}

/* 0 = Sunday. */
static int cron_weekday(int64_t days)
{
    return (int)(((days % 7) + 11) % 7); /* 1970-01-01 was a Thursday */
}

int64_t cron_civil_to_secs(int64_t y, int mon, int day, int hour, int min, int sec)
{
    return cron_days(y, mon, day) * CRON_DAY + hour * 3600 + min * 60 + sec;
}

void cron_secs_to_civil(int64_t secs, int64_t *y, int *mon, int *day, int *hour, int *min, int *sec)
{
    int64_t days = cron_floor_div(secs, CRON_DAY), rem = secs - days * CRON_DAY;
    int64_t z = days + 719468, era = cron_floor_div(z, 146097);
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *day = (int)(doy - (153 * mp + 2) / 5 + 1);
    *mon = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*mon <= 2);
    *hour = (int)(rem / 3600);
    *min = (int)(rem / 60 % 60);
    *sec = (int)(rem % 60);
}

/* ---- time zones --------------------------------------------------------- */

typedef struct cron_tz_date {
    char kind; /* 'J': day 1-365 without Feb 29, 'N': day 0-365, 'M': month.week.day */
    int n, m, w, d;
    int32_t time; /* seconds after local midnight; may be negative or > 24h */
} cron_tz_date;

typedef struct cron_tz_rule {
    int32_t std_off, dst_off; /* seconds east of UTC */
    bool has_dst;
    cron_tz_date start, end;
} cron_tz_rule;

struct cron_zone {
    int64_t *at;  /* transition instants, ascending; owned */
    int32_t *off; /* off[i]: the offset from at[i] on; owned */
    size_t n;
    int32_t first_off; /* before at[0] */
    bool has_rule;     /* the footer rule applies from at[n - 1] on */
    cron_tz_rule rule;
};

static uint32_t cron_be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t cron_be64(const unsigned char *p)
{
    return (int64_t)((uint64_t)cron_be32(p) << 32 | cron_be32(p + 4));
}

/* [+-]hh[:mm[:ss]] at *s into seconds; false if there is no number. */
static bool cron_tz_hms(const char **s, int32_t *out)
{
    const char *p = *s;
    int sign = 1;
    if (*p == '+' || *p == '-')
        sign = *p++ == '-' ? -1 : 1;
    if (*p < '0' || *p > '9')
        return false;
    int32_t parts[3] = {0, 0, 0};
    for (int i = 0; i < 3; i++) {
        if (i > 0 && !(p[0] == ':' && p[1] >= '0' && p[1] <= '9'))
            break;
        p += i > 0;
        for (int k = 0; k < 3 && *p >= '0' && *p <= '9'; k++)
            parts[i] = parts[i] * 10 + (*p++ - '0');
    }
    *out = sign * (parts[0] * 3600 + parts[1] * 60 + parts[2]);
    *s = p;
    return true;
}

static bool cron_tz_name(const char **s)
{
    const char *p = *s;
    if (*p == '<') {
        p = strchr(p, '>');
        if (!p)
            return false;
        *s = p + 1;
        return true;
    }
    while ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z'))
        p++;
    bool ok = p - *s >= 3;
    *s = p;
    return ok;
}

static int cron_tz_int(const char **s)
{
    int v = 0;
    while (**s >= '0' && **s <= '9')
        v = v * 10 + (*(*s)++ - '0');
    return v;
}

static bool cron_tz_date_parse(const char **s, cron_tz_date *d)
{
    const char *p = *s;
    if (*p++ != ',')
        return false;
    memset(d, 0, sizeof *d);
    if (*p == 'M') {
        p++;
        d->kind = 'M';
        d->m = cron_tz_int(&p);
        if (*p++ != '.')
            return false;
        d->w = cron_tz_int(&p);
        if (*p++ != '.')
            return false;
        d->d = cron_tz_int(&p);
        if (d->m < 1 || d->m > 12 || d->w < 1 || d->w > 5 || d->d > 6)
            return false;
    } else {
        d->kind = *p == 'J' ? 'J' : 'N';
        p += *p == 'J';
        if (*p < '0' || *p > '9')
            return false;
        d->n = cron_tz_int(&p);
    }
    d->time = 7200;
    if (*p == '/') {
        p++;
        if (!cron_tz_hms(&p, &d->time))
            return false;
    }
    *s = p;
    return true;
}

/* A POSIX TZ string such as "CET-1CEST,M3.5.0,M10.5.0/3". */
static bool cron_tz_rule_parse(const char *s, cron_tz_rule *r)
{
    int32_t west;
    memset(r, 0, sizeof *r);
    if (!cron_tz_name(&s) || !cron_tz_hms(&s, &west))
        return false;
    r->std_off = -west;
    if (!*s)
        return true;
    if (!cron_tz_name(&s))
        return false;
    r->dst_off = r->std_off + 3600;
    if (cron_tz_hms(&s, &west))
        r->dst_off = -west;
    if (!*s)
        return true; /* a DST name without rules: treat as standard time */
    r->has_dst = true;
    return cron_tz_date_parse(&s, &r->start) && cron_tz_date_parse(&s, &r->end) && !*s;
}

/* The UTC instant at which date d of year y happens, off in effect before. */
static int64_t cron_tz_date_utc(const cron_tz_date *d, int64_t y, int32_t off)
{
    int64_t days;
    if (d->kind == 'M') {
        int64_t first = cron_days(y, d->m, 1);
        int day = 1 + (d->d - cron_weekday(first) + 7) % 7 + (d->w - 1) * 7;
        while (day > cron_month_days(y, d->m))
            day -= 7;
        days = first + day - 1;
    } else {
        int yday = d->kind == 'J' ? d->n - 1 + (cron_leap(y) && d->n >= 60) : d->n;
        days = cron_days(y, 1, 1) + yday;
    }
    return days * CRON_DAY + d->time - off;
}

static int64_t cron_tz_rule_year(const cron_tz_rule *r, int64_t t)
{
    int64_t y;
    int mon, day, h, mi, sec;
    cron_secs_to_civil(t + r->std_off, &y, &mon, &day, &h, &mi, &sec);
    return y;
}

static int32_t cron_tz_rule_offset(const cron_tz_rule *r, int64_t t)
{
    if (!r->has_dst)
        return r->std_off;
    int64_t y = cron_tz_rule_year(r, t);
    int64_t s = cron_tz_date_utc(&r->start, y, r->std_off);
    int64_t e = cron_tz_date_utc(&r->end, y, r->dst_off);
    bool dst = s < e ? (t >= s && t < e) : !(t >= e && t < s);
    return dst ? r->dst_off : r->std_off;
}

/* The rule's transition nearest to t: the first after t (after) or the
 * last at or before it. */
static int64_t cron_tz_rule_change(const cron_tz_rule *r, int64_t t, bool after)
{
    int64_t best = after ? INT64_MAX : INT64_MIN;
    if (!r->has_dst)
        return best;
    int64_t y = cron_tz_rule_year(r, t);
    for (int64_t k = y - 1; k <= y + 1; k++) {
        int64_t c[2] = {cron_tz_date_utc(&r->start, k, r->std_off),
                        cron_tz_date_utc(&r->end, k, r->dst_off)};
        for (int i = 0; i < 2; i++) {
            if (after && c[i] > t && c[i] < best)
                best = c[i];
            if (!after && c[i] <= t && c[i] > best)
                best = c[i];
        }
    }
    return best;
}

/* Index of the last transition at or before t, or -1. */
static ptrdiff_t cron_tz_index(const cron_zone *z, int64_t t)
{
    size_t lo = 0, hi = z->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (z->at[mid] <= t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (ptrdiff_t)lo - 1;
}

static bool cron_tz_ruled(const cron_zone *z, int64_t t)
{
    return z->has_rule && (z->n == 0 || t >= z->at[z->n - 1]);
}

int32_t cron_zone_offset(const cron_zone *z, int64_t t)
{
    if (cron_tz_ruled(z, t))
        return cron_tz_rule_offset(&z->rule, t);
    ptrdiff_t i = cron_tz_index(z, t);
    return i < 0 ? z->first_off : z->off[i];
}

/* The first offset change after t, or INT64_MAX. */
static int64_t cron_tz_next_change(const cron_zone *z, int64_t t)
{
    if (cron_tz_ruled(z, t))
        return cron_tz_rule_change(&z->rule, t, true);
    ptrdiff_t i = cron_tz_index(z, t);
    return (size_t)(i + 1) < z->n ? z->at[i + 1] : INT64_MAX;
}

/* The last offset change at or before t, or INT64_MIN. */
static int64_t cron_tz_prev_change(const cron_zone *z, int64_t t)
{
    ptrdiff_t i = cron_tz_index(z, t);
    int64_t best = i < 0 ? INT64_MIN : z->at[i];
    if (cron_tz_ruled(z, t)) {
        int64_t r = cron_tz_rule_change(&z->rule, t, false);
        best = r > best ? r : best;
    }
    return best;
}

/* Parse a TZif file (RFC 8536), using the 64-bit part of version 2+. */
static int cron_tz_parse(cron_zone *z, const unsigned char *p, size_t len)
{
    size_t tsize = 4, pos = 0;
    for (int pass = 0; pass < 2; pass++) {
        if (len - pos < 44 || memcmp(p + pos, "TZif", 4) != 0)
            break;
        uint32_t isut = cron_be32(p + pos + 20), isstd = cron_be32(p + pos + 24),
                 leap = cron_be32(p + pos + 28), timecnt = cron_be32(p + pos + 32),
                 typecnt = cron_be32(p + pos + 36), charcnt = cron_be32(p + pos + 40);
        size_t body = (size_t)timecnt * (tsize + 1) + (size_t)typecnt * 6 + charcnt +
                      (size_t)leap * (tsize + 4) + isstd + isut;
        bool v2 = p[pos + 4] >= '2';
        pos += 44;
        if (typecnt == 0 || len - pos < body)
            break;
        if (pass == 0 && v2) {
            pos += body;
            tsize = 8;
            continue;
        }
        const unsigned char *times = p + pos, *idx = times + (size_t)timecnt * tsize,
                            *types = idx + timecnt;
        z->at = xcalloc(timecnt + 1, sizeof *z->at);
        z->off = xcalloc(timecnt + 1, sizeof *z->off);
        z->n = timecnt;
        z->first_off = (int32_t)cron_be32(types);
        for (uint32_t i = 0; i < timecnt; i++) {
            if (idx[i] >= typecnt)
                goto bad;
            z->at[i] = tsize == 8 ? cron_be64(times + 8 * i) : (int32_t)cron_be32(times + 4 * i);
            z->off[i] = (int32_t)cron_be32(types + 6 * (size_t)idx[i]);
            if (i > 0 && z->at[i] <= z->at[i - 1])
                goto bad;
        }
        pos += body;
        if (tsize == 8 && pos < len && p[pos] == '\n') {
            const char *foot = (const char *)p + pos + 1;
            const char *nl = memchr(foot, '\n', len - pos - 1);
            if (nl && nl > foot) {
                char *rule = xasprintf("%.*s", (int)(nl - foot), foot);
                z->has_rule = cron_tz_rule_parse(rule, &z->rule);
                free(rule);
            }
        }
        return 0;
    }
bad:
    return -1;
}

cron_zone *cron_zone_load(const char *name, char *err, size_t errlen)
{
    if (!name || !*name || name[0] == '/' || strstr(name, "..")) {
        set_err(err, errlen, "unknown time zone '%s' (an IANA name like Europe/Berlin)",
                name ? name : "");
        return NULL;
    }
    cron_zone *z = xcalloc(1, sizeof *z);
    char *path = path_join(CRON_TZ_DIR, name);
    size_t len = 0;
    unsigned char *data = (unsigned char *)file_read(path, &len);
    int rc = 0;
    if (!data && strcmp(name, "UTC") != 0) {
        set_err(err, errlen, "unknown time zone '%s' (an IANA name like Europe/Berlin)", name);
        rc = -1;
    } else if (data && cron_tz_parse(z, data, len) != 0) {
        set_err(err, errlen, "time zone '%s': %s is not a valid TZif file", name, path);
        rc = -1;
    }
    free(data);
    free(path);
    if (rc != 0) {
        cron_zone_free(z);
        return NULL;
    }
    return z;
}

void cron_zone_free(cron_zone *z)
{
    if (!z)
        return;
    free(z->at);
    free(z->off);
    free(z);
}

int64_t cron_zone_to_utc(const cron_zone *z, int64_t local)
{
    int32_t before = cron_zone_offset(z, local - CRON_DAY);
    int32_t after = cron_zone_offset(z, local + CRON_DAY);
    int64_t best = INT64_MAX;
    int32_t cand[2] = {before, after};
    for (int i = 0; i < 2; i++) {
        int64_t u = local - cand[i];
        if (cron_zone_offset(z, u) == cand[i] && u < best)
            best = u;
    }
    if (best != INT64_MAX)
        return best;
    /* In a gap: the instant the clocks jump. */
    int64_t jump = cron_tz_next_change(z, local - (after > before ? after : before));
    return jump != INT64_MAX ? jump : local - after;
}

/* ---- matching ------------------------------------------------------------ */

static bool cron_day_matches(const cron_expr *e, int64_t y, int mon, int day)
{
    bool md = e->mdays >> day & 1;
    bool wd = e->wdays >> cron_weekday(cron_days(y, mon, day)) & 1;
    return e->mday_restricted && e->wday_restricted ? md || wd : md && wd;
}

/* The first matching local minute L with lo <= L < hi (local seconds). */
static bool cron_match_from(const cron_expr *e, int64_t lo, int64_t hi, int64_t *out)
{
    int64_t y;
    int mon, day, h, mi, sec;
    cron_secs_to_civil(cron_floor_div(lo + 59, 60) * 60, &y, &mon, &day, &h, &mi, &sec);
    for (;;) {
        if (cron_civil_to_secs(y, mon, day, h, mi, 0) >= hi)
            return false;
        if (!(e->months >> mon & 1) || day > cron_month_days(y, mon)) {
            day = 1, h = 0, mi = 0;
            if (++mon > 12)
                mon = 1, y++;
            continue;
        }
        uint32_t hours = e->hours & (~UINT32_C(0) << h);
        uint64_t mins = e->minutes & (~UINT64_C(0) << mi);
        if (!cron_day_matches(e, y, mon, day) || !hours) {
            day++, h = 0, mi = 0;
            continue;
        }
        int h2 = __builtin_ctz(hours);
        if (h2 != h) {
            h = h2, mi = 0;
            continue;
        }
        if (!mins) {
            h++, mi = 0;
            if (h == 24)
                day++, h = 0;
            continue;
        }
        mi = __builtin_ctzll(mins);
        *out = cron_civil_to_secs(y, mon, day, h, mi, 0);
        return *out < hi;
    }
}

/* ---- next fire instant --------------------------------------------------- */

int cron_next_in(const cron_expr *e, const cron_zone *z, int64_t after_utc, int64_t *next_utc)
{
    const int64_t range = INT64_C(1) << 37; /* about 4,000 years around 1970 */
    if (after_utc < -range || after_utc > range)
        return CRON_NEVER;
    int64_t limit = after_utc + (int64_t)CRON_HORIZON_YEARS * 366 * CRON_DAY;
    for (int64_t u = after_utc + 1; u < limit;) {
        int64_t start = cron_tz_prev_change(z, u), end = cron_tz_next_change(z, u);
        int32_t off = cron_zone_offset(z, u);
        int32_t prev = start == INT64_MIN ? off : cron_zone_offset(z, start - 1);
        int64_t lo = u + off, found;
        if (!e->hour_wildcard && start > after_utc && off > prev &&
            cron_match_from(e, start + prev, start + off, &found)) {
            *next_utc = start; /* a slot in the gap: when the clocks jump */
            return 0;
        }
        if (!e->hour_wildcard && off < prev && lo < start + prev)
            lo = start + prev; /* the repeated hour: fixed slots fired the first time */
        if (end > limit)
            end = limit;
        if (cron_match_from(e, lo, end + off, &found)) {
            *next_utc = found - off;
            return 0;
        }
        u = end;
    }
    return CRON_NEVER;
}

int cron_next(const cron_expr *e, const char *zone, int64_t after_utc, int64_t *next_utc)
{
    char err[256];
    cron_zone *z = cron_zone_load(zone, err, sizeof err);
    if (!z)
        return CRON_BAD_ZONE;
    int rc = cron_next_in(e, z, after_utc, next_utc);
    cron_zone_free(z);
    return rc;
}
