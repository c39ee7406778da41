/* Money for plugins and the core: amounts are int64 counts of a currency's
 * minor units (the ISO 4217 exponent: JPY 0, EUR 2, KWD 3, CLF 4). Parsing,
 * formatting and rounding in integers only: no floating point touches an
 * amount. Header-only (static inline): include it, nothing to link. */
#ifndef PURSER_MONEY_H
#define PURSER_MONEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* 128-bit intermediates (GCC and Clang); __extension__ keeps -pedantic quiet. */
__extension__ typedef __int128 purser_money_i128;

/* The largest exponent these helpers accept (ISO 4217 uses 0 to 4). */
#define PURSER_MONEY_MAX_EXPONENT 9

/* Results of the parse and rounding helpers. */
typedef enum purser_money_status {
    PURSER_MONEY_OK = 0,
    PURSER_MONEY_SYNTAX,    /* not a plain decimal number */
    PURSER_MONEY_PRECISION, /* more decimals than the currency's exponent */
    PURSER_MONEY_OVERFLOW,  /* does not fit an int64 count of minor units */
    PURSER_MONEY_EXPONENT,  /* exponent outside 0..PURSER_MONEY_MAX_EXPONENT */
    PURSER_MONEY_DIVISION,  /* division by zero */
} purser_money_status;

/* How a rational amount is brought to whole minor units. */
typedef enum purser_rounding {
    PURSER_ROUND_HALF_EVEN, /* banker's rounding: ties to the even neighbour */
    PURSER_ROUND_HALF_UP,   /* commercial rounding: ties away from zero */
    PURSER_ROUND_DOWN,      /* toward zero (truncation) */
} purser_rounding;

/* A static English phrase for a status, for messages ("more decimals than
 * the currency allows"). Never NULL. */
static inline const char *purser_money_strerror(purser_money_status st)
{
    switch (st) {
    case PURSER_MONEY_OK:
        return "ok";
    case PURSER_MONEY_SYNTAX:
        return "not a decimal amount (expected digits, an optional leading '-' and '.' "
               "followed by decimals)";
    case PURSER_MONEY_PRECISION:
        return "more decimals than the currency allows";
    case PURSER_MONEY_OVERFLOW:
        return "amount out of range";
    case PURSER_MONEY_EXPONENT:
        return "unsupported currency exponent";
    case PURSER_MONEY_DIVISION:
        return "division by zero";
    }
    return "unknown money error";
}

/* Parse the len bytes at s (no NUL needed: CSV fields are slices) as a
 * decimal amount of a currency with the given exponent into *out, in minor
 * units. Strict grammar, on purpose, so that a report in an unexpected
 * shape is refused rather than misread:
 *   [+|-] DIGITS [ . DIGITS ]
 * with at least one digit on each side of the point and at most `exponent`
 * decimals ("12.3" is 1230 for EUR; "12.345" is refused for EUR). Refused:
 * spaces, thousands separators ("1,234.50"), a bare point (".5", "5."),
 * exponents ("1e3"), a decimal point for exponent 0 ("100.0" for JPY is
 * refused: write "100"). *out is written only on PURSER_MONEY_OK. */
static inline purser_money_status purser_money_parse_n(const char *s, size_t len, int exponent,
                                                       int64_t *out)
{
    if (exponent < 0 || exponent > PURSER_MONEY_MAX_EXPONENT)
        return PURSER_MONEY_EXPONENT;
    size_t i = 0;
    bool neg = false;
    if (i < len && (s[i] == '-' || s[i] == '+'))
        neg = s[i++] == '-';
    /* Accumulate the magnitude as a negative number: the int64 range is
     * one larger on that side, so INT64_MIN parses. */
    int64_t acc = 0;
    size_t int_digits = 0, frac_digits = 0;
    bool point = false;
    for (; i < len; i++) {
        char ch = s[i];
        if (ch == '.' && !point) {
            if (int_digits == 0)
                return PURSER_MONEY_SYNTAX;
            point = true;
            continue;
        }
        if (ch < '0' || ch > '9')
            return PURSER_MONEY_SYNTAX;
        if (point) {
            if (++frac_digits > (size_t)exponent)
                return PURSER_MONEY_PRECISION;
        } else {
            int_digits++;
        }
        int d = ch - '0';
        if (acc < (INT64_MIN + d) / 10)
            return PURSER_MONEY_OVERFLOW;
        acc = acc * 10 - d;
    }
    if (int_digits == 0 || (point && frac_digits == 0))
        return PURSER_MONEY_SYNTAX;
    for (size_t k = frac_digits; k < (size_t)exponent; k++) {
        if (acc < INT64_MIN / 10)
            return PURSER_MONEY_OVERFLOW;
        acc *= 10;
    }
    if (!neg) {
        if (acc == INT64_MIN)
            return PURSER_MONEY_OVERFLOW;
        acc = -acc;
    }
    *out = acc;
    return PURSER_MONEY_OK;
}

/* purser_money_parse_n on a NUL-terminated string. */
static inline purser_money_status purser_money_parse(const char *s, int exponent, int64_t *out)
{
    size_t len = 0;
    while (s[len])
        len++;
    return purser_money_parse_n(s, len, exponent, out);
}

/* Write minor as a decimal for the exponent into buf (capacity len, always
 * NUL-terminated when len > 0): 1234 at exponent 2 is "12.34", -5 is
 * "-0.05", 3158 at exponent 0 is "3158". No thousands separators, no
 * currency sign. Returns the length the full text needs (excluding the NUL),
 * like snprintf: the text was cut when the result is >= len. 32 bytes are
 * always enough. An exponent outside 0..PURSER_MONEY_MAX_EXPONENT is
 * treated as 0. */
static inline size_t purser_money_format(int64_t minor, int exponent, char *buf, size_t len)
{
    if (exponent < 0 || exponent > PURSER_MONEY_MAX_EXPONENT)
        exponent = 0;
    char tmp[32];
    size_t n = 0;
    /* Digits of the magnitude, least significant first, from the
     * (non-positive) negative value so INT64_MIN needs no special case. */
    int64_t v = minor < 0 ? minor : -minor;
    do {
        tmp[n++] = (char)('0' - (v % 10));
        v /= 10;
    } while (v != 0);
    while (n <= (size_t)exponent)
        tmp[n++] = '0';
    char text[40];
    size_t t = 0;
    if (minor < 0)
        text[t++] = '-';
    while (n > 0) {
        text[t++] = tmp[--n];
        if (n == (size_t)exponent && exponent > 0)
            text[t++] = '.';
    }
    if (len > 0) {
        size_t copy = t < len - 1 ? t : len - 1;
        for (size_t k = 0; k < copy; k++)
            buf[k] = text[k];
        buf[copy] = '\0';
    }
    return t;
}

/* minor as the number it stands for, for a spreadsheet cell or a chart:
 * the double nearest to the exact decimal (12.34 for 1234 at exponent 2).
 * One IEEE division of two exactly held values is correctly rounded, so for
 * |minor| <= 2^53 this is what strtod gives for purser_money_format's text,
 * without its cost or its dependence on the locale; beyond 2^53 minor itself
 * is rounded first. An exponent outside 0..PURSER_MONEY_MAX_EXPONENT counts
 * as 0. For display only: never compute with the result. */
static inline double purser_money_to_double(int64_t minor, int exponent)
{
    static const double p10[PURSER_MONEY_MAX_EXPONENT + 1] = {1e0, 1e1, 1e2, 1e3, 1e4,
                                                              1e5, 1e6, 1e7, 1e8, 1e9};
    if (exponent < 0 || exponent > PURSER_MONEY_MAX_EXPONENT)
        exponent = 0;
    return (double)minor / p10[exponent];
}

/* *out = a * b / c rounded to an integer with mode, computed exactly in
 * 128-bit arithmetic: a share of an amount (amount * 1234 / 10000 for
 * 12.34%), a fee split (fee * line / total), a currency conversion with a
 * rational rate. Errors: PURSER_MONEY_DIVISION when c is 0,
 * PURSER_MONEY_OVERFLOW when the result does not fit an int64 (a * b
 * itself never overflows). *out is written only on PURSER_MONEY_OK. */
static inline purser_money_status purser_money_muldiv(int64_t a, int64_t b, int64_t c,
                                                      purser_rounding mode, int64_t *out)
{
    if (c == 0)
        return PURSER_MONEY_DIVISION;
    purser_money_i128 num = (purser_money_i128)a * b, den = c;
    if (den < 0) {
        num = -num;
        den = -den;
    }
    bool neg = num < 0;
    purser_money_i128 mag = neg ? -num : num; /* |a*b| < 2^126: no overflow */
    purser_money_i128 q = mag / den, r = mag % den;
    if (mode != PURSER_ROUND_DOWN) {
        purser_money_i128 twice = 2 * r; /* < 2 * den <= 2^64: fits */
        if (twice > den || (twice == den && (mode == PURSER_ROUND_HALF_UP || (q & 1) != 0)))
            q++;
    }
    purser_money_i128 res = neg ? -q : q;
    if (res > INT64_MAX || res < INT64_MIN)
        return PURSER_MONEY_OVERFLOW;
    *out = (int64_t)res;
    return PURSER_MONEY_OK;
}

/* *out = a + b, or PURSER_MONEY_OVERFLOW (and *out untouched). */
static inline purser_money_status purser_money_add(int64_t a, int64_t b, int64_t *out)
{
    int64_t r;
    if (__builtin_add_overflow(a, b, &r))
        return PURSER_MONEY_OVERFLOW;
    *out = r;
    return PURSER_MONEY_OK;
}

#endif
