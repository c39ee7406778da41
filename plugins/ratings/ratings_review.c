/* Review bodies of POST /v1/reviews: parse with a line and column on
 * error, and check every field, naming the first one at fault. Abusive
 * input is refused here, before any database work: invalid UTF-8, NUL and
 * other control characters, oversized text, ratings out of range, unknown
 * fields. Pure C, no database. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ratings.h"

#define RATINGS_REF_MAX 255               /* order and buyer references, in bytes */
#define RATINGS_SOURCE_MAX 64             /* orders.source */
#define RATINGS_ID_MAX 9007199254740991.0 /* 2^53 - 1: exact in a JSON number */

void ratings_err_set(ratings_err *e, int status, const char *code, const char *field,
                     const char *fmt, ...)
{
    e->status = status;
    snprintf(e->code, sizeof e->code, "%s", code);
    snprintf(e->field, sizeof e->field, "%s", field ? field : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
}

char *ratings_err_json(const ratings_err *e)
{
    cJSON *root = cJSON_CreateObject(), *err = cJSON_AddObjectToObject(root, "error");
    cJSON_AddStringToObject(err, "code", e->code);
    if (e->field[0])
        cJSON_AddStringToObject(err, "field", e->field);
    cJSON_AddStringToObject(err, "message", e->message);
    char *text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return text;
}

/* ---- UTF-8 ------------------------------------------------------------------ */

long ratings_utf8_invalid(const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        size_t n;
        unsigned cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            n = 1, cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 2, cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 3, cp = c & 0x07;
        } else {
            return (long)i; /* a continuation byte, C0/C1 (overlong) or F5..FF */
        }
        for (size_t k = 1; k <= n; k++) {
            if (i + k >= len || (s[i + k] & 0xC0) != 0x80)
                return (long)i;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10FFFF ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return (long)i;
        i += n + 1;
    }
    return -1;
}

/* ---- parsing -------------------------------------------------------------------- */

/* Line and column (1-based, in bytes) of offset off. */
static void ratings_line_col(const unsigned char *body, size_t len, size_t off, size_t *line,
                             size_t *col)
{
    *line = 1, *col = 1;
    for (size_t i = 0; i < off && i < len; i++) {
        if (body[i] == '\n')
            (*line)++, *col = 1;
        else
            (*col)++;
    }
}

/* Offset of a \u0000 escape inside a string of the body, or -1. cJSON would
 * end the C string there and silently drop the rest of the text. */
static long ratings_find_nul_escape(const unsigned char *b, size_t len)
{
    int in_str = 0;
    for (size_t i = 0; i < len; i++) {
        if (!in_str) {
            in_str = b[i] == '"';
        } else if (b[i] == '"') {
            in_str = 0;
        } else if (b[i] == '\\' && i + 1 < len) {
            if (b[i + 1] == 'u' && i + 5 < len && memcmp(b + i + 2, "0000", 4) == 0)
                return (long)i;
            i++; /* skip the escaped character */
        }
    }
    return -1;
}

static cJSON *ratings_json_parse(const unsigned char *body, size_t len, ratings_err *e)
{
    size_t line, col;
    if (len == 0) {
        ratings_err_set(e, 400, "malformed_json", NULL, "the body is empty: expected JSON");
        return NULL;
    }
    long nul = ratings_find_nul_escape(body, len);
    if (nul >= 0) {
        ratings_line_col(body, len, (size_t)nul, &line, &col);
        ratings_err_set(e, 400, "invalid", NULL,
                        "\\u0000 (NUL) at line %zu, column %zu: NUL characters are not accepted",
                        line, col);
        return NULL;
    }
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts((const char *)body, len, &end, 0);
    size_t off = end ? (size_t)(end - (const char *)body) : 0;
    const char *what = "malformed JSON";
    if (root) {
        while (off < len &&
               (body[off] == ' ' || body[off] == '\t' || body[off] == '\r' || body[off] == '\n'))
            off++;
        if (off < len) {
            cJSON_Delete(root);
            root = NULL;
            what = "unexpected data after the JSON value";
        }
    }
    if (!root) {
        ratings_line_col(body, len, off > len ? len : off, &line, &col);
        ratings_err_set(e, 400, "malformed_json", NULL, "%s at line %zu, column %zu", what, line,
                        col);
    }
    return root;
}

/* ---- fields ------------------------------------------------------------------------ */

static const char *const ratings_keys[] = {"order_line_id", "order_ref", "line_no", "source",
                                           "buyer",         "rating",    "text",    NULL};

/* Every member known, every name and string value valid UTF-8. */
static int ratings_check_members(const cJSON *root, ratings_err *e)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, root)
    {
        const char *k = it->string;
        if (ratings_utf8_invalid((const unsigned char *)k, strlen(k)) >= 0) {
            ratings_err_set(e, 400, "invalid", NULL, "a member name is not valid UTF-8");
            return -1;
        }
        int known = 0;
        for (const char *const *a = ratings_keys; *a && !known; a++)
            known = strcmp(*a, k) == 0;
        if (!known) {
            ratings_err_set(e, 400, "invalid", k,
                            "unknown field (expected order_line_id or order_ref with line_no, "
                            "buyer, rating, text; source optional)");
            return -1;
        }
        if (cJSON_IsString(it)) {
            const unsigned char *v = (const unsigned char *)it->valuestring;
            long bad = ratings_utf8_invalid(v, strlen(it->valuestring));
            if (bad >= 0) {
                ratings_err_set(e, 400, "invalid", k,
                                "is not valid UTF-8 (byte 0x%02X at byte %ld of the value)", v[bad],
                                bad + 1);
                return -1;
            }
        }
    }
    return 0;
}

/* A required or optional string of 1..max bytes; 0 absent, 1 read, -1 error. */
static int ratings_get_str(const cJSON *root, const char *key, int required, size_t max,
                           const char **out, ratings_err *e)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!it || cJSON_IsNull(it)) {
        if (required)
            ratings_err_set(e, 400, "invalid", key, "is required");
        return required ? -1 : 0;
    }
    size_t n = cJSON_IsString(it) ? strlen(it->valuestring) : 0;
    if (!cJSON_IsString(it) || n == 0 || n > max) {
        ratings_err_set(e, 400, "invalid", key, "must be a string of 1 to %zu bytes", max);
        return -1;
    }
    *out = it->valuestring;
    return 1;
}

/* A whole number in [min, max], given as a JSON number (or, when digits
 * is set, a string of digits); 0 absent, 1 read, -1 error. */
static int ratings_get_int(const cJSON *root, const char *key, int digits, double min, double max,
                           int64_t *out, ratings_err *e)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!it || cJSON_IsNull(it))
        return 0;
    double v = NAN;
    if (cJSON_IsNumber(it)) {
        v = it->valuedouble;
    } else if (digits && cJSON_IsString(it)) {
        const char *s = it->valuestring;
        size_t n = strspn(s, "0123456789");
        if (n > 0 && n <= 16 && s[n] == '\0')
            v = strtod(s, NULL);
    }
    if (!(v >= min && v <= max) || v != floor(v)) {
        ratings_err_set(e, 400, "invalid", key, "must be a whole number from %.0f to %.0f", min,
                        max);
        return -1;
    }
    *out = (int64_t)v;
    return 1;
}

static int ratings_valid_source(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > RATINGS_SOURCE_MAX || s[0] < 'a' || s[0] > 'z')
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_' || *s == '.' ||
              *s == '-'))
            return 0;
    return 1;
}

/* Which order line: order_line_id, or order_ref + line_no (+ source). */
static int ratings_get_line(const cJSON *root, const ratings_config *cfg, ratings_review *out,
                            ratings_err *e)
{
    int has_id = ratings_get_int(root, "order_line_id", 1, 1, RATINGS_ID_MAX, &out->line_id, e);
    if (has_id < 0)
        return -1;
    int has_ref = ratings_get_str(root, "order_ref", 0, RATINGS_REF_MAX, &out->order_ref, e);
    if (has_ref < 0)
        return -1;
    int has_no = ratings_get_int(root, "line_no", 0, 1, 2147483647.0, &out->line_no, e);
    if (has_no < 0)
        return -1;
    int has_src = ratings_get_str(root, "source", 0, RATINGS_SOURCE_MAX, &out->source, e);
    if (has_src < 0)
        return -1;
    if (has_id && (has_ref || has_no || has_src)) {
        ratings_err_set(e, 400, "invalid",
                        has_ref  ? "order_ref"
                        : has_no ? "line_no"
                                 : "source",
                        "give either order_line_id, or order_ref with line_no, not both");
        return -1;
    }
    if (!has_id && !has_ref) {
        ratings_err_set(e, 400, "invalid", "order_line_id",
                        "is required (or order_ref with line_no)");
        return -1;
    }
    if (has_ref && !has_no) {
        ratings_err_set(e, 400, "invalid", "line_no", "is required with order_ref");
        return -1;
    }
    if (has_ref && !has_src)
        out->source = cfg->default_source;
    if (has_ref && !ratings_valid_source(out->source)) {
        ratings_err_set(e, 400, "invalid", "source", "must match [a-z][a-z0-9_.-]* (at most %d)",
                        RATINGS_SOURCE_MAX);
        return -1;
    }
    return 0;
}

/* The text: non-blank, at most max_text characters, no control characters
 * but tab, line feed and carriage return. Already checked to be UTF-8. */
static int ratings_check_text(const char *text, int64_t max_text, ratings_err *e)
{
    int64_t chars = 0;
    int blank = 1;
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        if ((*p & 0xC0) == 0x80)
            continue; /* continuation byte */
        chars++;
        unsigned cp = *p;
        if (*p == 0xC2 && p[1] >= 0x80 && p[1] <= 0x9F)
            cp = p[1]; /* C1 control */
        if ((cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r') || (cp >= 0x7F && cp <= 0x9F)) {
            ratings_err_set(e, 400, "invalid", "text",
                            "must not contain control characters (U+%04X at character %lld)", cp,
                            (long long)chars);
            return -1;
        }
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
            blank = 0;
    }
    if (blank) {
        ratings_err_set(e, 400, "invalid", "text", "must not be empty");
        return -1;
    }
    if (chars > max_text) {
        ratings_err_set(e, 400, "invalid", "text",
                        "is %lld characters long: at most %lld are accepted", (long long)chars,
                        (long long)max_text);
        return -1;
    }
    return 0;
}

cJSON *ratings_parse_review(const unsigned char *body, size_t len, const ratings_config *cfg,
                            ratings_review *out, ratings_err *e)
{
    memset(out, 0, sizeof *out);
    memset(e, 0, sizeof *e);
    cJSON *root = ratings_json_parse(body, len, e);
    if (!root)
        return NULL;
    int64_t rating = 0;
    if (!cJSON_IsObject(root)) {
        ratings_err_set(e, 400, "invalid", NULL, "the body must be a JSON object");
    } else if (ratings_check_members(root, e) == 0 && ratings_get_line(root, cfg, out, e) == 0 &&
               ratings_get_str(root, "buyer", 1, RATINGS_REF_MAX, &out->buyer, e) > 0) {
        int r = ratings_get_int(root, "rating", 0, 1, 5, &rating, e);
        if (r == 0)
            ratings_err_set(e, 400, "invalid", "rating",
                            "is required (a whole number from 1 to 5)");
        else if (r > 0) {
            out->rating = (int)rating;
            const cJSON *t = cJSON_GetObjectItemCaseSensitive(root, "text");
            if (!t || cJSON_IsNull(t))
                ratings_err_set(e, 400, "invalid", "text", "is required");
            else if (!cJSON_IsString(t))
                ratings_err_set(e, 400, "invalid", "text", "must be a string");
            else if (ratings_check_text(t->valuestring, cfg->max_text, e) == 0)
                out->text = t->valuestring;
        }
    }
    if (e->status) {
        cJSON_Delete(root);
        return NULL;
    }
    return root;
}
