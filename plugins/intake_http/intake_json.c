/* JSON for intake_http: parse with a line/column on error, numbers kept
 * as their text (never a double), and typed field getters that name the
 * field at fault ("items[2].quantity"). Pure C: the fuzz harness links it. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "intake_internal.h"
#include "purser/money.h"

void intake_err_set(intake_err *e, int status, const char *code, const char *field, const char *fmt,
                    ...)
{
    e->status = status;
    snprintf(e->code, sizeof e->code, "%s", code);
    snprintf(e->field, sizeof e->field, "%s", field ? field : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
}

char *intake_err_json(const intake_err *e, size_t *len)
{
    cJSON *root = cJSON_CreateObject(), *err = cJSON_AddObjectToObject(root, "error");
    cJSON_AddStringToObject(err, "code", e->code);
    if (e->field[0])
        cJSON_AddStringToObject(err, "field", e->field);
    cJSON_AddStringToObject(err, "message", e->message);
    char *text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    *len = text ? strlen(text) : 0;
    return text;
}

/* ---- parsing ----------------------------------------------------------------- */

#define INTAKE_MARK_OPEN "\"\\u0001"
#define INTAKE_MARK_GROWTH 8 /* the opening "\u0001 (7) and the closing quote */

static int intake_num_char(unsigned char c)
{
    return isdigit(c) || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E';
}

/* Copy body with every number token outside strings quoted and marked;
 * starts[i] is where the i-th rewrite begins in the copy. */
static char *intake_mark_numbers(const unsigned char *in, size_t len, size_t **starts,
                                 size_t *n_starts, size_t *outlen)
{
    size_t n = 0;
    int in_str = 0, esc = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = in[i];
        if (in_str) {
            if (esc)
                esc = 0;
            else if (c == '\\')
                esc = 1;
            else if (c == '"')
                in_str = 0;
        } else if (c == '"') {
            in_str = 1;
        } else if (isdigit(c) || c == '-') {
            n++;
            while (i + 1 < len && intake_num_char(in[i + 1]))
                i++;
        }
    }
    char *out = malloc(len + n * INTAKE_MARK_GROWTH + 1);
    *starts = malloc((n ? n : 1) * sizeof **starts);
    if (!out || !*starts) {
        free(out);
        free(*starts);
        *starts = NULL;
        return NULL;
    }
    size_t o = 0, k = 0;
    in_str = esc = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = in[i];
        if (in_str) {
            if (esc)
                esc = 0;
            else if (c == '\\')
                esc = 1;
            else if (c == '"')
                in_str = 0;
        } else if (c == '"') {
            in_str = 1;
        } else if (isdigit(c) || c == '-') {
            (*starts)[k++] = o;
            memcpy(out + o, INTAKE_MARK_OPEN, 7);
            o += 7;
            out[o++] = (char)c;
            while (i + 1 < len && intake_num_char(in[i + 1]))
                out[o++] = (char)in[++i];
            out[o++] = '"';
            continue;
        }
        out[o++] = (char)c;
    }
    out[o] = '\0';
    *n_starts = k;
    *outlen = o;
    return out;
}

/* Line and column (1-based, in bytes) of offset off of the original body. */
static void intake_line_col(const unsigned char *body, size_t len, size_t off, size_t *line,
                            size_t *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < off && i < len; i++) {
        if (body[i] == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
    }
}

cJSON *intake_json_parse(const unsigned char *body, size_t len, intake_err *e)
{
    size_t *starts = NULL, n_starts = 0, tlen = 0;
    char *text = intake_mark_numbers(body, len, &starts, &n_starts, &tlen);
    if (!text) {
        intake_err_set(e, 503, "unavailable", NULL, "out of memory");
        return NULL;
    }
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, tlen, &end, 0);
    size_t t_off = end ? (size_t)(end - text) : 0;
    const char *what = "malformed JSON";
    if (root) {
        while (t_off < tlen && isspace((unsigned char)text[t_off]))
            t_off++;
        if (t_off < tlen) {
            cJSON_Delete(root);
            root = NULL;
            what = "unexpected data after the JSON value";
        }
    }
    if (!root) {
        if (t_off > tlen)
            t_off = tlen;
        size_t k = 0;
        while (k < n_starts && starts[k] < t_off)
            k++;
        size_t off = t_off >= k * INTAKE_MARK_GROWTH ? t_off - k * INTAKE_MARK_GROWTH : 0;
        size_t line, col;
        intake_line_col(body, len, off, &line, &col);
        if (len == 0)
            intake_err_set(e, 400, "malformed_json", NULL, "the body is empty: expected JSON");
        else
            intake_err_set(e, 400, "malformed_json", NULL, "%s at line %zu, column %zu", what, line,
                           col);
    }
    free(text);
    free(starts);
    return root;
}

/* ---- paths --------------------------------------------------------------------- */

void intake_path_key(intake_path *out, const char *base, const char *key)
{
    snprintf(out->text, sizeof out->text, "%s%s%s", base, base && *base ? "." : "", key);
}

void intake_path_index(intake_path *out, const char *base, size_t i)
{
    snprintf(out->text, sizeof out->text, "%s[%zu]", base, i);
}

/* ---- getters --------------------------------------------------------------------- */

static int intake_is_number(const cJSON *it)
{
    return cJSON_IsString(it) && it->valuestring[0] == INTAKE_NUM_MARK;
}

const char *intake_scalar_text(const cJSON *item)
{
    if (!cJSON_IsString(item))
        return NULL;
    return intake_is_number(item) ? item->valuestring + 1 : item->valuestring;
}

/* The member, or NULL (with e set when required or of the wrong null). */
static const cJSON *intake_member(const cJSON *obj, const char *at, const char *key, int required,
                                  intake_path *p, intake_err *e, int *rc)
{
    intake_path_key(p, at, key);
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    *rc = 0;
    if (!it || cJSON_IsNull(it)) {
        if (required) {
            intake_err_set(e, 400, "invalid", p->text, "is required");
            *rc = -1;
        }
        return NULL;
    }
    return it;
}

int intake_get_str(const cJSON *obj, const char *at, const char *key, int required, size_t max_len,
                   const char **out, intake_err *e)
{
    intake_path p;
    int rc;
    const cJSON *it = intake_member(obj, at, key, required, &p, e, &rc);
    if (!it)
        return rc;
    if (!cJSON_IsString(it) || intake_is_number(it)) {
        intake_err_set(e, 400, "invalid", p.text, "must be a string");
        return -1;
    }
    size_t n = strlen(it->valuestring);
    if (n == 0 && required) {
        intake_err_set(e, 400, "invalid", p.text, "must not be empty");
        return -1;
    }
    if (n > max_len) {
        intake_err_set(e, 400, "invalid", p.text, "longer than %zu bytes", max_len);
        return -1;
    }
    *out = it->valuestring;
    return 1;
}

/* Strict integer text: optional '-', digits, no leading '+', fits int64. */
static int intake_parse_int(const char *s, int64_t *out)
{
    int neg = *s == '-';
    if (neg)
        s++;
    if (!*s)
        return -1;
    int64_t acc = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        int d = *s - '0';
        if (acc < (INT64_MIN + d) / 10)
            return -1;
        acc = acc * 10 - d;
    }
    if (!neg) {
        if (acc == INT64_MIN)
            return -1;
        acc = -acc;
    }
    *out = acc;
    return 0;
}

int intake_get_int(const cJSON *obj, const char *at, const char *key, int required, int64_t min,
                   int64_t max, int64_t *out, intake_err *e)
{
    intake_path p;
    int rc;
    const cJSON *it = intake_member(obj, at, key, required, &p, e, &rc);
    if (!it)
        return rc;
    int64_t v;
    if (!intake_is_number(it) || intake_parse_int(it->valuestring + 1, &v) != 0) {
        if (min == 1)
            intake_err_set(e, 400, "invalid", p.text, "must be a positive integer");
        else
            intake_err_set(e, 400, "invalid", p.text, "must be an integer");
        return -1;
    }
    if (v < min || v > max) {
        if (min == 1 && v < 1)
            intake_err_set(e, 400, "invalid", p.text, "must be a positive integer");
        else
            intake_err_set(e, 400, "invalid", p.text, "must be from %lld to %lld", (long long)min,
                           (long long)max);
        return -1;
    }
    *out = v;
    return 1;
}

int intake_get_id(const cJSON *obj, const char *at, const char *key, int required, char *buf,
                  size_t buflen, intake_err *e)
{
    intake_path p;
    int rc;
    const cJSON *it = intake_member(obj, at, key, required, &p, e, &rc);
    if (!it)
        return rc;
    const char *t = intake_scalar_text(it);
    int64_t v;
    if (!t || intake_parse_int(t, &v) != 0 || v < 0 || strlen(t) >= buflen) {
        intake_err_set(e, 400, "invalid", p.text, "must be a non-negative integer id");
        return -1;
    }
    snprintf(buf, buflen, "%lld", (long long)v);
    return 1;
}

int intake_get_decimal(const cJSON *obj, const char *at, const char *key, int required, double min,
                       double max, char *buf, size_t buflen, intake_err *e)
{
    intake_path p;
    int rc;
    const cJSON *it = intake_member(obj, at, key, required, &p, e, &rc);
    if (!it)
        return rc;
    const char *t = intake_scalar_text(it);
    char *end = NULL;
    double v = t && *t ? strtod(t, &end) : 0;
    if (!t || !*t || *end || strlen(t) >= buflen || !(v >= min && v <= max)) {
        intake_err_set(e, 400, "invalid", p.text, "must be a number from %g to %g", min, max);
        return -1;
    }
    snprintf(buf, buflen, "%s", t);
    return 1;
}

static int intake_money_error(intake_err *e, const char *field, purser_money_status st,
                              int exponent)
{
    if (st == PURSER_MONEY_PRECISION)
        intake_err_set(e, 400, "invalid", field, "more decimals than the currency allows (%d)",
                       exponent);
    else
        intake_err_set(e, 400, "invalid", field, "%s", purser_money_strerror(st));
    return -1;
}

int intake_get_money(const cJSON *obj, const char *at, const char *key, int required, int exponent,
                     int64_t *out, intake_err *e)
{
    char minor_key[64];
    snprintf(minor_key, sizeof minor_key, "%s_minor", key);
    const cJSON *major = cJSON_GetObjectItemCaseSensitive(obj, key);
    const cJSON *minor = cJSON_GetObjectItemCaseSensitive(obj, minor_key);
    intake_path p;
    if (major && minor) {
        intake_path_key(&p, at, key);
        intake_err_set(e, 400, "invalid", p.text,
                       "give either %s (a decimal string) or %s "
                       "(integer minor units), not both",
                       key, minor_key);
        return -1;
    }
    if (minor)
        return intake_get_int(obj, at, minor_key, required, 0, INT64_MAX, out, e);
    int rc;
    const cJSON *it = intake_member(obj, at, key, required, &p, e, &rc);
    if (!it)
        return rc;
    if (!cJSON_IsString(it) || intake_is_number(it)) {
        intake_err_set(e, 400, "invalid", p.text,
                       "must be a decimal string such as \"12.50\" "
                       "(or give %s in integer minor units)",
                       minor_key);
        return -1;
    }
    purser_money_status st = purser_money_parse(it->valuestring, exponent, out);
    if (st != PURSER_MONEY_OK)
        return intake_money_error(e, p.text, st, exponent);
    if (*out < 0) {
        intake_err_set(e, 400, "invalid", p.text, "must not be negative");
        return -1;
    }
    return 1;
}

int intake_get_major(const cJSON *obj, const char *at, const char *key, int required, int exponent,
                     int64_t *out, intake_err *e)
{
    intake_path p;
    int rc;
    const cJSON *it = intake_member(obj, at, key, required, &p, e, &rc);
    if (!it)
        return rc;
    const char *t = intake_scalar_text(it);
    if (!t) {
        intake_err_set(e, 400, "invalid", p.text, "must be an amount");
        return -1;
    }
    /* A foreign sender may pad decimals ("10.00" for JPY is "10"): drop
     * trailing zeros beyond the exponent, never digits that count. */
    char buf[64];
    snprintf(buf, sizeof buf, "%s", t);
    char *dot = strchr(buf, '.');
    if (dot) {
        size_t keep = (size_t)(dot - buf) + 1 + (size_t)exponent;
        size_t n = strlen(buf);
        while (n > keep && buf[n - 1] == '0')
            buf[--n] = '\0';
        if (exponent == 0 && n == keep)
            *dot = '\0';
    }
    purser_money_status st = purser_money_parse(buf, exponent, out);
    return st == PURSER_MONEY_OK ? 1 : intake_money_error(e, p.text, st, exponent);
}

static int intake_digits(const char *s, int n)
{
    for (int i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

static int intake_num(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++)
        v = v * 10 + (s[i] - '0');
    return v;
}

int intake_time_valid(const char *s)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (strlen(s) < 20 || !intake_digits(s, 4) || s[4] != '-' || !intake_digits(s + 5, 2) ||
        s[7] != '-' || !intake_digits(s + 8, 2) || (s[10] != 'T' && s[10] != ' ') ||
        !intake_digits(s + 11, 2) || s[13] != ':' || !intake_digits(s + 14, 2) || s[16] != ':' ||
        !intake_digits(s + 17, 2))
        return 0;
    int y = intake_num(s, 4), mo = intake_num(s + 5, 2), d = intake_num(s + 8, 2);
    if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1)
        return 0;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (d > mdays[mo - 1] + (mo == 2 && leap))
        return 0;
    if (intake_num(s + 11, 2) > 23 || intake_num(s + 14, 2) > 59 || intake_num(s + 17, 2) > 59)
        return 0;
    const char *p = s + 19;
    if (*p == '.') {
        int n = 0;
        while (p[1 + n] >= '0' && p[1 + n] <= '9')
            n++;
        if (n == 0 || n > 9)
            return 0;
        p += 1 + n;
    }
    if (strcmp(p, "Z") == 0 || strcmp(p, "z") == 0)
        return 1;
    return (p[0] == '+' || p[0] == '-') && intake_digits(p + 1, 2) && p[3] == ':' &&
           intake_digits(p + 4, 2) && p[6] == '\0' && intake_num(p + 1, 2) <= 23 &&
           intake_num(p + 4, 2) <= 59;
}

int intake_get_time(const cJSON *obj, const char *at, const char *key, int required,
                    const char **out, intake_err *e)
{
    const char *s = NULL;
    int rc = intake_get_str(obj, at, key, required, 40, &s, e);
    if (rc <= 0)
        return rc;
    if (!intake_time_valid(s)) {
        intake_path p;
        intake_path_key(&p, at, key);
        intake_err_set(e, 400, "invalid", p.text,
                       "must be an RFC 3339 time with a zone, such "
                       "as 2025-01-01T10:00:00Z");
        return -1;
    }
    *out = s;
    return 1;
}

int intake_get_bool(const cJSON *obj, const char *at, const char *key, int *out, intake_err *e)
{
    intake_path p;
    int rc;
    const cJSON *it = intake_member(obj, at, key, 0, &p, e, &rc);
    if (!it)
        return rc;
    if (!cJSON_IsBool(it)) {
        intake_err_set(e, 400, "invalid", p.text, "must be true or false");
        return -1;
    }
    *out = cJSON_IsTrue(it);
    return 1;
}

int intake_only_keys(const cJSON *obj, const char *at, const char *const *allowed, intake_err *e)
{
    if (!cJSON_IsObject(obj)) {
        intake_err_set(e, 400, "invalid", at, "must be a JSON object");
        return -1;
    }
    for (const cJSON *c = obj->child; c; c = c->next) {
        const char *const *a = allowed;
        while (*a && strcmp(*a, c->string) != 0)
            a++;
        if (!*a) {
            intake_path p;
            intake_path_key(&p, at, c->string);
            intake_err_set(e, 400, "invalid", p.text, "unknown field");
            return -1;
        }
    }
    return 0;
}
