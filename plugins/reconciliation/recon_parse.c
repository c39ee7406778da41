/* Streaming parsers of the providers' settlement reports (Stripe itemized
 * balance changes, Adyen Settlement details, PayPal STL, a generic CSV
 * mapped in YAML): libcsv splits records, columns are found by header name,
 * every value is checked (currency known, amount in the currency's
 * exponent, dates real) and each row is handed to a sink normalised. The
 * first fault stops the file with "FILE:LINE: column 'X': reason". */
#include <csv.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "purser/money.h"
#include "recon_internal.h"

#define RECON_MAX_FIELDS 512
#define RECON_MAX_COLS 24

static const char *const recon_kind_names[RECON_KIND_N] = {
    "capture", "refund", "chargeback", "chargeback_reversal", "payout", "fee", "other"};

const char *recon_kind_name(recon_kind k)
{
    return k < RECON_KIND_N ? recon_kind_names[k] : "other";
}

int recon_kind_parse(const char *name)
{
    for (int k = 0; k < RECON_KIND_N; k++)
        if (strcmp(recon_kind_names[k], name) == 0)
            return k;
    return -1;
}

/* ---- the columns each format reads, by header name ------------------------ */

typedef struct recon_colspec {
    const char *name;
    bool required;
} recon_colspec;

enum {
    S_SOURCE,
    S_BTXN,
    S_CHARGE,
    S_MERCHANT,
    S_MERCHANT2,
    S_PAYOUT,
    S_CREATED,
    S_CURRENCY,
    S_GROSS,
    S_FEE,
    S_NET,
    S_CATEGORY,
    S_NCOLS
};
static const recon_colspec recon_stripe_cols[S_NCOLS] = {
    {"source_id", true},
    {"balance_transaction_id", true},
    {"charge_id", false},
    {"payment_metadata[order_id]", false},
    {"payment_metadata[external_identifier]", false},
    {"automatic_payout_id", false},
    {"created", true},
    {"currency", true},
    {"gross", true},
    {"fee", true},
    {"net", true},
    {"reporting_category", true}};

enum {
    A_PSP,
    A_MREF,
    A_CREATED,
    A_TZ,
    A_TYPE,
    A_MOD,
    A_GCUR,
    A_GDEBIT,
    A_GCREDIT,
    A_RATE,
    A_NCUR,
    A_NDEBIT,
    A_NCREDIT,
    A_COMM,
    A_MARKUP,
    A_SCHEME,
    A_INTERCHANGE,
    A_BATCH,
    A_NCOLS
};
static const recon_colspec recon_adyen_cols[A_NCOLS] = {{"Psp Reference", true},
                                                        {"Merchant Reference", true},
                                                        {"Creation Date", true},
                                                        {"TimeZone", true},
                                                        {"Type", true},
                                                        {"Modification Reference", true},
                                                        {"Gross Currency", true},
                                                        {"Gross Debit (GC)", true},
                                                        {"Gross Credit (GC)", true},
                                                        {"Exchange Rate", true},
                                                        {"Net Currency", true},
                                                        {"Net Debit (NC)", true},
                                                        {"Net Credit (NC)", true},
                                                        {"Commission (NC)", true},
                                                        {"Markup (NC)", true},
                                                        {"Scheme Fees (NC)", true},
                                                        {"Interchange (NC)", true},
                                                        {"Batch Number", true}};

enum {
    P_TXN,
    P_INVOICE,
    P_REF,
    P_CODE,
    P_DATE,
    P_DC,
    P_GROSS,
    P_GCUR,
    P_FDC,
    P_FEE,
    P_FCUR,
    P_NCOLS
};
static const recon_colspec recon_paypal_cols[P_NCOLS] = {{"Transaction ID", true},
                                                         {"Invoice ID", true},
                                                         {"PayPal Reference ID", true},
                                                         {"Transaction Event Code", true},
                                                         {"Transaction Initiation Date", true},
                                                         {"Transaction Debit or Credit", true},
                                                         {"Gross Transaction Amount", true},
                                                         {"Gross Transaction Currency", true},
                                                         {"Fee Debit or Credit", true},
                                                         {"Fee Amount", true},
                                                         {"Fee Currency", true}};

enum {
    G_REF,
    G_AMOUNT,
    G_CURRENCY,
    G_DATE,
    G_MREF,
    G_OREF,
    G_FEE,
    G_NET,
    G_PAYOUT,
    G_KIND,
    G_DIR,
    G_TZ,
    G_NCOLS
};

/* ---- the parser ------------------------------------------------------------ */

struct recon_parser {
    const recon_provider *prov;
    char *filename;
    recon_lookup lookup;
    recon_sink sink;
    struct csv_parser csv;
    bool csv_ready;
    /* the record being read: fields NUL-terminated one after another */
    char *buf;
    size_t len, cap;
    size_t off[RECON_MAX_FIELDS];
    size_t nfields;
    bool too_many;
    size_t newlines; /* inside quoted fields of this record */
    long cur_line, rec_line;
    /* columns */
    recon_colspec cols[RECON_MAX_COLS];
    size_t ncols;
    int idx[RECON_MAX_COLS]; /* field index per column, -1 when absent */
    size_t header_fields;
    bool have_header;
    bool any_record;
    uint64_t rows;
    bool failed;
    char err[1024];
};

static void recon_failv(recon_parser *p, long line, const char *fmt, va_list ap)
{
    if (p->failed)
        return;
    p->failed = true;
    int n = snprintf(p->err, sizeof p->err, "%s:%ld: ", p->filename, line);
    if (n < 0 || (size_t)n >= sizeof p->err)
        return;
    vsnprintf(p->err + n, sizeof p->err - (size_t)n, fmt, ap);
}

static void recon_fail(recon_parser *p, const char *fmt, ...) PURSER_PRINTF(2, 3);
static void recon_fail(recon_parser *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    recon_failv(p, p->rec_line, fmt, ap);
    va_end(ap);
}

/* The value of column c in the current record ("" when the column is
 * absent from the header); *n gets its length. */
static const char *recon_col(const recon_parser *p, int c, size_t *n)
{
    int i = p->idx[c];
    if (i < 0 || (size_t)i >= p->nfields) {
        *n = 0;
        return "";
    }
    const char *s = p->buf + p->off[i];
    *n = strlen(s);
    return s;
}

static const char *recon_colname(const recon_parser *p, int c)
{
    return p->cols[c].name;
}

/* A currency code from column c: 3 letters (any case) of a known currency. */
static int recon_currency(recon_parser *p, int c, char out[4], int *exponent)
{
    size_t n;
    const char *s = recon_col(p, c, &n);
    if (n == 0) {
        recon_fail(p, "column '%s': empty (a currency code is required)", recon_colname(p, c));
        return -1;
    }
    bool ok = n == 3;
    for (size_t i = 0; ok && i < 3; i++) {
        char ch = s[i];
        if (ch >= 'a' && ch <= 'z')
            ch = (char)(ch - 'a' + 'A');
        ok = ch >= 'A' && ch <= 'Z';
        out[i] = ch;
    }
    out[3] = '\0';
    int e = ok ? p->lookup.exponent(p->lookup.arg, out) : -1;
    if (e < 0) {
        recon_fail(p, "column '%s': unknown currency '%.*s' (expected an ISO 4217 code)",
                   recon_colname(p, c), (int)(n > 40 ? 40 : n), s);
        return -1;
    }
    *exponent = e;
    return 0;
}

/* An amount from column c: a decimal in the currency's exponent, or (minor)
 * a whole count of minor units. Empty gives 0 when allowed. */
static int recon_amount(recon_parser *p, int c, int exponent, const char *cur, bool minor,
                        bool empty_ok, int64_t *out)
{
    size_t n;
    const char *s = recon_col(p, c, &n);
    if (n == 0) {
        if (empty_ok) {
            *out = 0;
            return 0;
        }
        recon_fail(p, "column '%s': empty (an amount is required)", recon_colname(p, c));
        return -1;
    }
    purser_money_status st = purser_money_parse_n(s, n, minor ? 0 : exponent, out);
    if (st == PURSER_MONEY_OK)
        return 0;
    const char *v = n > 40 ? "(too long)" : s;
    if (minor && (st == PURSER_MONEY_PRECISION || st == PURSER_MONEY_SYNTAX))
        recon_fail(p, "column '%s': '%s' is not a whole number of %s minor units",
                   recon_colname(p, c), v, cur);
    else if (exponent == 0 && (st == PURSER_MONEY_PRECISION || st == PURSER_MONEY_SYNTAX) &&
             memchr(s, '.', n))
        recon_fail(p, "column '%s': '%s' has decimals but %s has none", recon_colname(p, c), v,
                   cur);
    else if (st == PURSER_MONEY_PRECISION)
        recon_fail(p, "column '%s': '%s' has more decimals than %s allows (%d)",
                   recon_colname(p, c), v, cur, exponent);
    else
        recon_fail(p, "column '%s': '%s': %s", recon_colname(p, c), v, purser_money_strerror(st));
    return -1;
}

static int recon_days_in_month(int y, int m)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : days[m - 1];
}

static int recon_digits(const char *s, size_t n, size_t at, size_t width, int *out)
{
    if (at + width > n)
        return -1;
    int v = 0;
    for (size_t i = at; i < at + width; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

static int recon_valid_datetime(int y, int mo, int d, int h, int mi, int se, char out[20])
{
    if (y < 1900 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > recon_days_in_month(y, mo) ||
        h > 23 || mi > 59 || se > 59)
        return -1;
    snprintf(out, 20, "%04u-%02u-%02u %02u:%02u:%02u", (unsigned)y % 10000u, (unsigned)mo % 100u,
             (unsigned)d % 100u, (unsigned)h % 100u, (unsigned)mi % 100u, (unsigned)se % 100u);
    return 0;
}

int recon_parse_datetime(const char *s, size_t n, char out[20])
{
    int y, mo, d, h = 0, mi = 0, se = 0;
    if (recon_digits(s, n, 0, 4, &y) || (s[4] != '-' && s[4] != '/') ||
        recon_digits(s, n, 5, 2, &mo) || s[7] != s[4] || recon_digits(s, n, 8, 2, &d))
        return -1;
    size_t i = 10;
    if (i < n) {
        if ((s[i] != ' ' && s[i] != 'T') || recon_digits(s, n, i + 1, 2, &h) || i + 3 >= n ||
            s[i + 3] != ':' || recon_digits(s, n, i + 4, 2, &mi))
            return -1;
        i += 6;
        if (i < n) {
            if (s[i] != ':' || recon_digits(s, n, i + 1, 2, &se))
                return -1;
            i += 3;
        }
        if (i < n && s[i] == 'Z' && i + 1 == n)
            i++;
    }
    if (i != n)
        return -1;
    return recon_valid_datetime(y, mo, d, h, mi, se, out);
}

/* A numeric UTC offset: +HH, +HHMM or +HH:MM (or Z), normalised to +HH:MM. */
static bool recon_offset(const char *s, size_t n, char out[8])
{
    if (n == 1 && (s[0] == 'Z' || s[0] == 'z')) {
        memcpy(out, "+00:00", 7);
        return true;
    }
    int h, m = 0;
    if (n < 3 || (s[0] != '+' && s[0] != '-') || recon_digits(s, n, 1, 2, &h))
        return false;
    if (n == 5) {
        if (recon_digits(s, n, 3, 2, &m))
            return false;
    } else if (n == 6) {
        if (s[3] != ':' || recon_digits(s, n, 4, 2, &m))
            return false;
    } else if (n != 3) {
        return false;
    }
    if (h > 15 || m > 59)
        return false;
    snprintf(out, 8, "%c%02u:%02u", s[0], (unsigned)h % 100u, (unsigned)m % 100u);
    return true;
}

/* Check a zone text (offset, abbreviation or IANA name) into zbuf; the
 * row's zone points there. */
static int recon_zone(recon_parser *p, const char *what, const char *s, size_t n, char *zbuf,
                      size_t zlen)
{
    char off[8];
    if (recon_offset(s, n, off)) {
        snprintf(zbuf, zlen, "%s", off);
        return 0;
    }
    if (n == 0 || n >= zlen) {
        recon_fail(p, "%s: '%.*s' is not a time zone", what, (int)(n > 40 ? 40 : n), s);
        return -1;
    }
    memcpy(zbuf, s, n);
    zbuf[n] = '\0';
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
              ch == '/' || ch == '_' || ch == '-' || ch == '+')) {
            recon_fail(p, "%s: '%s' is not a time zone", what, zbuf);
            return -1;
        }
    }
    if (!p->lookup.zone_known(p->lookup.arg, zbuf)) {
        recon_fail(p,
                   "%s: unknown time zone '%s' (use an IANA name, an abbreviation "
                   "PostgreSQL knows, or +HH:MM)",
                   what, zbuf);
        return -1;
    }
    return 0;
}

static int recon_date_col(recon_parser *p, int c, char out[20])
{
    size_t n;
    const char *s = recon_col(p, c, &n);
    if (recon_parse_datetime(s, n, out) != 0) {
        recon_fail(p, "column '%s': '%.*s' is not a date and time (expected YYYY-MM-DD HH:MM:SS)",
                   recon_colname(p, c), (int)(n > 40 ? 40 : n), s);
        return -1;
    }
    return 0;
}

/* gross x rate, exactly, rounded half to even. */
int recon_convert(int64_t gross, int gross_exp, const char *rate, int net_exp, int64_t *out)
{
    __extension__ typedef __int128 i128;
    i128 num = 0, den = 1;
    int digits = 0;
    bool point = false, any = false;
    for (const char *s = rate; *s; s++) {
        if (*s == '.' && !point) {
            point = true;
            continue;
        }
        if (*s < '0' || *s > '9' || ++digits > 30)
            return -1;
        num = num * 10 + (*s - '0');
        if (point)
            den *= 10;
        any = true;
    }
    if (!any || gross_exp < 0 || net_exp < 0 || gross_exp > 9 || net_exp > 9)
        return -1;
    for (int i = 0; i < net_exp; i++)
        num *= 10;
    for (int i = 0; i < gross_exp; i++)
        den *= 10;
    i128 g = gross, prod;
    if (__builtin_mul_overflow(g, num, &prod))
        return -1;
    bool neg = prod < 0;
    i128 mag = neg ? -prod : prod, q = mag / den, r = mag % den;
    if (2 * r > den || (2 * r == den && (q & 1)))
        q++;
    i128 res = neg ? -q : q;
    if (res > INT64_MAX || res < INT64_MIN)
        return -1;
    *out = (int64_t)res;
    return 0;
}

/* ---- header -------------------------------------------------------------- */

static void recon_add_col(recon_parser *p, const char *name, bool required)
{
    if (p->ncols < RECON_MAX_COLS)
        p->cols[p->ncols++] = (recon_colspec){name, required};
}

/* The columns of the provider's format, in enum order. */
static void recon_columns(recon_parser *p)
{
    const recon_provider *v = p->prov;
    const recon_generic *g = &v->generic;
    const recon_colspec *spec = NULL;
    size_t n = 0;
    switch (v->format) {
    case RECON_FMT_STRIPE:
        spec = recon_stripe_cols;
        n = S_NCOLS;
        break;
    case RECON_FMT_ADYEN:
        spec = recon_adyen_cols;
        n = A_NCOLS;
        break;
    case RECON_FMT_PAYPAL:
        spec = recon_paypal_cols;
        n = P_NCOLS;
        break;
    case RECON_FMT_GENERIC: {
        const char *names[G_NCOLS] = {
            g->reference,          g->amount,  g->currency, g->date,   g->merchant_reference,
            g->original_reference, g->fee,     g->net,      g->payout, g->kind,
            g->direction,          g->timezone};
        for (int i = 0; i < G_NCOLS; i++)
            recon_add_col(p, names[i], names[i] != NULL);
        return;
    }
    }
    for (size_t i = 0; i < n; i++)
        recon_add_col(p, spec[i].name, spec[i].required);
    if (v->merchant_reference_column) {
        int c = v->format == RECON_FMT_STRIPE  ? S_MERCHANT
                : v->format == RECON_FMT_ADYEN ? A_MREF
                                               : P_INVOICE;
        p->cols[c] = (recon_colspec){v->merchant_reference_column, true};
        if (v->format == RECON_FMT_STRIPE)
            p->cols[S_MERCHANT2].name = NULL;
    }
}

/* Map column names to the header record's fields (from field `first`). */
static int recon_header(recon_parser *p, size_t first)
{
    for (size_t c = 0; c < p->ncols; c++) {
        p->idx[c] = -1;
        if (!p->cols[c].name)
            continue;
        for (size_t i = first; i < p->nfields; i++) {
            const char *h = p->buf + p->off[i];
            if (i == 0 && (unsigned char)h[0] == 0xEF && (unsigned char)h[1] == 0xBB &&
                (unsigned char)h[2] == 0xBF)
                h += 3; /* a UTF-8 byte order mark */
            if (strcmp(h, p->cols[c].name) == 0) {
                p->idx[c] = (int)i;
                break;
            }
        }
        if (p->idx[c] < 0 && p->cols[c].required) {
            recon_fail(p, "column '%s': missing from the header", p->cols[c].name);
            return -1;
        }
    }
    p->header_fields = p->nfields;
    p->have_header = true;
    return 0;
}

/* Every column the row needs must be within the row. */
static int recon_row_complete(recon_parser *p)
{
    for (size_t c = 0; c < p->ncols; c++)
        if (p->idx[c] >= 0 && (size_t)p->idx[c] >= p->nfields) {
            recon_fail(p,
                       "column '%s': missing (the row has %zu of the header's %zu fields; "
                       "truncated?)",
                       p->cols[c].name, p->nfields, p->header_fields);
            return -1;
        }
    return 0;
}

static int recon_emit(recon_parser *p, recon_row *r)
{
    r->line = p->rec_line;
    p->rows++;
    if (p->sink.row && p->sink.row(p->sink.arg, r) != 0) {
        if (!p->failed) {
            p->failed = true;
            snprintf(p->err, sizeof p->err, "%s:%ld: the row could not be stored", p->filename,
                     p->rec_line);
        }
        return -1;
    }
    return 0;
}

/* ---- Stripe ----------------------------------------------------------------- */

static recon_kind recon_stripe_kind(const char *cat)
{
    static const struct {
        const char *name;
        recon_kind kind;
    } map[] = {{"charge", RECON_KIND_CAPTURE},
               {"refund", RECON_KIND_REFUND},
               {"dispute", RECON_KIND_CHARGEBACK},
               {"dispute_reversal", RECON_KIND_CHARGEBACK_REVERSAL},
               {"payout", RECON_KIND_PAYOUT},
               {"payout_reversal", RECON_KIND_PAYOUT},
               {"fee", RECON_KIND_FEE},
               {"network_cost", RECON_KIND_FEE},
               {"tax", RECON_KIND_FEE},
               {"platform_earning", RECON_KIND_FEE}};
    for (size_t i = 0; i < sizeof map / sizeof *map; i++)
        if (strcmp(map[i].name, cat) == 0)
            return map[i].kind;
    return RECON_KIND_OTHER;
}

static int recon_stripe_record(recon_parser *p)
{
    recon_row r;
    memset(&r, 0, sizeof r);
    size_t n;
    int e;
    char zone[64];
    if (recon_currency(p, S_CURRENCY, r.currency, &e) ||
        recon_amount(p, S_GROSS, e, r.currency, false, false, &r.amount) ||
        recon_amount(p, S_FEE, e, r.currency, false, false, &r.fee) ||
        recon_amount(p, S_NET, e, r.currency, false, false, &r.net) ||
        recon_date_col(p, S_CREATED, r.local_time) ||
        recon_zone(p, "setting 'timezone'", p->prov->timezone, strlen(p->prov->timezone), zone,
                   sizeof zone))
        return -1;
    memcpy(r.net_currency, r.currency, 4);
    r.type = recon_col(p, S_CATEGORY, &n);
    if (n == 0) {
        recon_fail(p, "column 'reporting_category': empty");
        return -1;
    }
    r.kind = recon_stripe_kind(r.type);
    r.reference = recon_col(p, S_SOURCE, &n);
    if (n == 0)
        r.reference = recon_col(p, S_BTXN, &n);
    if (n == 0) {
        recon_fail(p, "column 'source_id': empty, and so is 'balance_transaction_id'");
        return -1;
    }
    r.original_ref = recon_col(p, S_CHARGE, &n);
    r.merchant_ref = recon_col(p, S_MERCHANT, &n);
    if (n == 0 && p->idx[S_MERCHANT2] >= 0)
        r.merchant_ref = recon_col(p, S_MERCHANT2, &n);
    r.payout_ref = recon_col(p, S_PAYOUT, &n);
    r.has_identity = true;
    r.identity = r.amount - r.fee - r.net;
    r.zone = zone;
    return recon_emit(p, &r);
}

/* ---- Adyen -------------------------------------------------------------------- */

static recon_kind recon_adyen_kind(const char *type)
{
    static const struct {
        const char *name;
        recon_kind kind;
    } map[] = {{"Settled", RECON_KIND_CAPTURE},
               {"SettledBulk", RECON_KIND_CAPTURE},
               {"Refunded", RECON_KIND_REFUND},
               {"RefundedBulk", RECON_KIND_REFUND},
               {"Chargeback", RECON_KIND_CHARGEBACK},
               {"SecondChargeback", RECON_KIND_CHARGEBACK},
               {"ChargebackReversed", RECON_KIND_CHARGEBACK_REVERSAL},
               {"MerchantPayout", RECON_KIND_PAYOUT},
               {"Fee", RECON_KIND_FEE},
               {"InvoiceDeduction", RECON_KIND_FEE},
               {"MiscCosts", RECON_KIND_FEE},
               {"PaymentCost", RECON_KIND_FEE},
               {"Commission", RECON_KIND_FEE}};
    for (size_t i = 0; i < sizeof map / sizeof *map; i++)
        if (strcmp(map[i].name, type) == 0)
            return map[i].kind;
    return RECON_KIND_OTHER;
}

static bool recon_is_payment(recon_kind k)
{
    return k <= RECON_KIND_CHARGEBACK_REVERSAL;
}

/* credit - debit of two columns; a payment row needs exactly one of them. */
static int recon_adyen_pair(recon_parser *p, int debit, int credit, int e, const char *cur,
                            bool need_one, int64_t *out)
{
    size_t nd, nc;
    recon_col(p, debit, &nd);
    recon_col(p, credit, &nc);
    if (need_one && (nd == 0) == (nc == 0)) {
        recon_fail(p, "column '%s': a %s row needs exactly one of '%s' and '%s'",
                   recon_colname(p, nc ? credit : debit), "payment", recon_colname(p, debit),
                   recon_colname(p, credit));
        return -1;
    }
    int64_t d, c;
    if (recon_amount(p, debit, e, cur, false, true, &d) ||
        recon_amount(p, credit, e, cur, false, true, &c))
        return -1;
    *out = c - d;
    return 0;
}

static int recon_adyen_record(recon_parser *p)
{
    recon_row r;
    memset(&r, 0, sizeof r);
    size_t n;
    int ne, ge;
    char zone[64];
    r.type = recon_col(p, A_TYPE, &n);
    if (n == 0) {
        recon_fail(p, "column 'Type': empty");
        return -1;
    }
    r.kind = recon_adyen_kind(r.type);
    bool payment = recon_is_payment(r.kind);
    if (recon_currency(p, A_NCUR, r.net_currency, &ne) ||
        recon_adyen_pair(p, A_NDEBIT, A_NCREDIT, ne, r.net_currency, false, &r.net))
        return -1;
    int64_t parts[4];
    static const int fee_cols[4] = {A_COMM, A_MARKUP, A_SCHEME, A_INTERCHANGE};
    r.fee = 0;
    for (int i = 0; i < 4; i++) {
        if (recon_amount(p, fee_cols[i], ne, r.net_currency, false, true, &parts[i]))
            return -1;
        r.fee += parts[i];
    }
    recon_col(p, A_GCUR, &n);
    if (payment || n > 0) {
        if (recon_currency(p, A_GCUR, r.currency, &ge) ||
            recon_adyen_pair(p, A_GDEBIT, A_GCREDIT, ge, r.currency, payment, &r.amount))
            return -1;
        const char *rate = recon_col(p, A_RATE, &n);
        if (n == 0 && strcmp(r.currency, r.net_currency) != 0) {
            recon_fail(p, "column 'Exchange Rate': empty, but %s is settled in %s", r.currency,
                       r.net_currency);
            return -1;
        }
        int64_t conv;
        if (recon_convert(r.amount, ge, n ? rate : "1", ne, &conv) != 0) {
            recon_fail(p, "column 'Exchange Rate': '%.*s' is not a decimal rate",
                       (int)(n > 40 ? 40 : n), rate);
            return -1;
        }
        r.has_identity = true;
        r.identity = conv - r.fee - r.net;
    } else {
        memcpy(r.currency, r.net_currency, 4);
        r.amount = r.net;
    }
    if (r.kind == RECON_KIND_PAYOUT) {
        r.amount = r.net = -r.net; /* Net Debit: paid to our bank */
        r.has_identity = false;
    }
    r.reference = recon_col(p, A_MOD, &n);
    if (n == 0 && payment) {
        recon_fail(p, "column 'Modification Reference': empty");
        return -1;
    }
    r.original_ref = recon_col(p, A_PSP, &n);
    r.merchant_ref = recon_col(p, A_MREF, &n);
    r.payout_ref = recon_col(p, A_BATCH, &n);
    const char *tz = recon_col(p, A_TZ, &n);
    if (recon_date_col(p, A_CREATED, r.local_time) ||
        recon_zone(p, "column 'TimeZone'", tz, n, zone, sizeof zone))
        return -1;
    r.zone = zone;
    return recon_emit(p, &r);
}

/* ---- PayPal STL ---------------------------------------------------------------- */

static recon_kind recon_paypal_kind(const char *code)
{
    if (strncmp(code, "T00", 3) == 0)
        return RECON_KIND_CAPTURE;
    if (strcmp(code, "T1106") == 0 || strcmp(code, "T1201") == 0)
        return RECON_KIND_CHARGEBACK;
    if (strcmp(code, "T1202") == 0)
        return RECON_KIND_CHARGEBACK_REVERSAL;
    if (strncmp(code, "T11", 3) == 0 && strcmp(code, "T1110") != 0 && strcmp(code, "T1111") != 0)
        return RECON_KIND_REFUND;
    if (strncmp(code, "T04", 3) == 0)
        return RECON_KIND_PAYOUT;
    if (strncmp(code, "T01", 3) == 0)
        return RECON_KIND_FEE;
    return RECON_KIND_OTHER;
}

/* "CR" is +1, "DR" -1. */
static int recon_paypal_dc(recon_parser *p, int c, int *sign)
{
    size_t n;
    const char *s = recon_col(p, c, &n);
    if (n == 2 && strcasecmp(s, "CR") == 0)
        *sign = 1;
    else if (n == 2 && strcasecmp(s, "DR") == 0)
        *sign = -1;
    else {
        recon_fail(p, "column '%s': '%.*s' is neither CR nor DR", recon_colname(p, c),
                   (int)(n > 20 ? 20 : n), s);
        return -1;
    }
    return 0;
}

static int recon_paypal_sb(recon_parser *p)
{
    recon_row r;
    memset(&r, 0, sizeof r);
    size_t n;
    int e, fe, sign, fsign = -1;
    char zone[64];
    if (recon_currency(p, P_GCUR, r.currency, &e) || recon_paypal_dc(p, P_DC, &sign) ||
        recon_amount(p, P_GROSS, e, r.currency, true, false, &r.amount))
        return -1;
    r.amount *= sign;
    recon_col(p, P_FEE, &n);
    if (n > 0) {
        char fcur[4];
        if (recon_currency(p, P_FCUR, fcur, &fe) || recon_paypal_dc(p, P_FDC, &fsign) ||
            recon_amount(p, P_FEE, fe, fcur, true, false, &r.fee))
            return -1;
        if (strcmp(fcur, r.currency) != 0) {
            recon_fail(p, "column 'Fee Currency': %s differs from the gross currency %s", fcur,
                       r.currency);
            return -1;
        }
        r.fee *= -fsign; /* a fee debited is a cost */
    }
    memcpy(r.net_currency, r.currency, 4);
    r.net = r.amount - r.fee;
    r.type = recon_col(p, P_CODE, &n);
    r.kind = recon_paypal_kind(r.type);
    r.reference = recon_col(p, P_TXN, &n);
    if (n == 0) {
        recon_fail(p, "column 'Transaction ID': empty");
        return -1;
    }
    r.original_ref = recon_col(p, P_REF, &n);
    r.merchant_ref = recon_col(p, P_INVOICE, &n);
    r.payout_ref = "";
    /* "2026/01/06 00:00:30 -0800": the offset is the date's last word */
    const char *d = recon_col(p, P_DATE, &n);
    const char *sp = memrchr(d, ' ', n);
    size_t dn = n;
    const char *z = p->prov->timezone;
    size_t zn = strlen(z);
    if (sp && sp - d > 10) {
        dn = (size_t)(sp - d);
        z = sp + 1;
        zn = n - dn - 1;
    }
    if (recon_parse_datetime(d, dn, r.local_time) != 0) {
        recon_fail(p,
                   "column 'Transaction Initiation Date': '%.*s' is not a date and time "
                   "(expected YYYY/MM/DD HH:MM:SS -HHMM)",
                   (int)(n > 40 ? 40 : n), d);
        return -1;
    }
    if (recon_zone(p, "column 'Transaction Initiation Date'", z, zn, zone, sizeof zone))
        return -1;
    r.zone = zone;
    return recon_emit(p, &r);
}

/* "SF",currency,gross CR,gross DR,fee CR,fee DR,...,record count. */
static int recon_paypal_sf(recon_parser *p)
{
    static const char *const what[4] = {"total gross credit", "total gross debit",
                                        "total fee credit", "total fee debit"};
    recon_footer f;
    memset(&f, 0, sizeof f);
    f.line = p->rec_line;
    if (p->nfields < 7) {
        recon_fail(p,
                   "SF footer: %zu fields, expected the currency, four totals and a "
                   "record count",
                   p->nfields);
        return -1;
    }
    const char *cur = p->buf + p->off[1];
    int e = strlen(cur) == 3 ? p->lookup.exponent(p->lookup.arg, cur) : -1;
    if (e < 0) {
        recon_fail(p, "SF footer: unknown currency '%.40s'", cur);
        return -1;
    }
    memcpy(f.currency, cur, 4);
    int64_t *vals[5] = {&f.gross_cr, &f.gross_dr, &f.fee_cr, &f.fee_dr, &f.count};
    for (int i = 0; i < 5; i++) {
        const char *s = p->buf + p->off[i < 4 ? (size_t)i + 2 : p->nfields - 1];
        if (purser_money_parse(s, 0, vals[i]) != PURSER_MONEY_OK || *vals[i] < 0) {
            recon_fail(p, "SF footer: %s '%.40s' is not a whole number",
                       i < 4 ? what[i] : "record count", s);
            return -1;
        }
    }
    if (p->sink.footer && p->sink.footer(p->sink.arg, &f) != 0) {
        p->failed = true;
        return -1;
    }
    return 0;
}

static int recon_paypal_record(recon_parser *p)
{
    const char *tag = p->buf + p->off[0];
    if (strcmp(tag, "CH") == 0)
        return recon_header(p, 1);
    if (strcmp(tag, "SB") == 0) {
        if (!p->have_header) {
            recon_fail(p, "a body row (SB) before the column header (CH)");
            return -1;
        }
        return recon_row_complete(p) ? -1 : recon_paypal_sb(p);
    }
    if (strcmp(tag, "SF") == 0)
        return recon_paypal_sf(p);
    static const char *const skipped[] = {"RH", "FH", "SH", "SC", "RF", "RC", "FF"};
    for (size_t i = 0; i < sizeof skipped / sizeof *skipped; i++)
        if (strcmp(tag, skipped[i]) == 0)
            return 0;
    recon_fail(p,
               "unknown record type '%.20s' (expected RH, FH, SH, CH, SB, SF, SC, RF, RC "
               "or FF)",
               tag);
    return -1;
}

/* ---- generic --------------------------------------------------------------- */

/* strptime-like: %Y %m %d %H %M %S %z and literal characters. */
static int recon_generic_date(recon_parser *p, const char *s, size_t n, char out[20], char zone[8],
                              bool *has_zone)
{
    const char *f = p->prov->generic.date_format;
    int v[6] = {0, 1, 1, 0, 0, 0};
    size_t i = 0;
    *has_zone = false;
    for (; *f; f++) {
        if (*f != '%') {
            if (i >= n || s[i++] != *f)
                return -1;
            continue;
        }
        f++;
        static const char conv[] = "YmdHMS";
        const char *c = *f ? strchr(conv, *f) : NULL;
        if (c) {
            size_t width = *f == 'Y' ? 4 : 2;
            int k = (int)(c - conv);
            if (recon_digits(s, n, i, width, &v[k]) != 0)
                return -1;
            i += width;
        } else if (*f == 'z') {
            size_t start = i;
            while (i < n && s[i] != ' ')
                i++;
            if (!recon_offset(s + start, i - start, zone))
                return -1;
            *has_zone = true;
        } else if (*f == '%') {
            if (i >= n || s[i++] != '%')
                return -1;
        } else {
            return -1;
        }
    }
    if (i != n)
        return -1;
    return recon_valid_datetime(v[0], v[1], v[2], v[3], v[4], v[5], out);
}

static int recon_generic_signed(recon_parser *p, int c, int e, const char *cur, bool empty_ok,
                                int dir, int64_t *out)
{
    const recon_generic *g = &p->prov->generic;
    if (recon_amount(p, c, e, cur, g->minor_units, empty_ok, out))
        return -1;
    if (g->sign == RECON_SIGN_INVERTED)
        *out = -*out;
    else if (g->sign == RECON_SIGN_DIRECTION)
        *out *= dir;
    return 0;
}

static int recon_generic_record(recon_parser *p)
{
    const recon_generic *g = &p->prov->generic;
    recon_row r;
    memset(&r, 0, sizeof r);
    size_t n;
    int e, dir = 1;
    char zone[64];
    if (g->sign == RECON_SIGN_DIRECTION) {
        const char *d = recon_col(p, G_DIR, &n);
        if (strcasecmp(d, "CR") == 0 || strcasecmp(d, "C") == 0 || strcasecmp(d, "credit") == 0)
            dir = 1;
        else if (strcasecmp(d, "DR") == 0 || strcasecmp(d, "D") == 0 || strcasecmp(d, "debit") == 0)
            dir = -1;
        else {
            recon_fail(p,
                       "column '%s': '%.20s' is neither credit (CR, C, credit) nor debit "
                       "(DR, D, debit)",
                       recon_colname(p, G_DIR), d);
            return -1;
        }
    }
    if (recon_currency(p, G_CURRENCY, r.currency, &e) ||
        recon_generic_signed(p, G_AMOUNT, e, r.currency, false, dir, &r.amount) ||
        recon_amount(p, G_FEE, e, r.currency, g->minor_units, true, &r.fee))
        return -1;
    memcpy(r.net_currency, r.currency, 4);
    if (g->net) {
        if (recon_generic_signed(p, G_NET, e, r.currency, false, dir, &r.net))
            return -1;
        r.has_identity = true;
        r.identity = r.amount - r.fee - r.net;
    } else {
        r.net = r.amount - r.fee;
    }
    r.type = recon_col(p, G_KIND, &n);
    if (g->kind) {
        int k = -1;
        for (size_t i = 0; i < g->n_kinds && k < 0; i++)
            if (strcmp(g->kinds[i].value, r.type) == 0)
                k = (int)g->kinds[i].kind;
        if (k < 0) {
            recon_fail(p,
                       "column '%s': '%.40s' is not mapped (add it under "
                       "plugins.reconciliation.providers.%s.kinds)",
                       recon_colname(p, G_KIND), r.type, p->prov->name);
            return -1;
        }
        r.kind = (recon_kind)k;
    } else {
        r.kind = r.amount < 0 ? RECON_KIND_REFUND : RECON_KIND_CAPTURE;
        r.type = r.amount < 0 ? "refund" : "capture";
    }
    r.reference = recon_col(p, G_REF, &n);
    if (n == 0 && recon_is_payment(r.kind)) {
        recon_fail(p, "column '%s': empty", recon_colname(p, G_REF));
        return -1;
    }
    r.original_ref = recon_col(p, G_OREF, &n);
    r.merchant_ref = recon_col(p, G_MREF, &n);
    r.payout_ref = recon_col(p, G_PAYOUT, &n);
    const char *d = recon_col(p, G_DATE, &n);
    char off[8];
    bool has_zone;
    if (recon_generic_date(p, d, n, r.local_time, off, &has_zone) != 0) {
        recon_fail(p, "column '%s': '%.40s' does not match the date format '%s'",
                   recon_colname(p, G_DATE), d, g->date_format);
        return -1;
    }
    if (has_zone) {
        snprintf(zone, sizeof zone, "%s", off);
    } else {
        const char *z = p->prov->timezone;
        const char *what = "setting 'timezone'";
        if (g->timezone) {
            z = recon_col(p, G_TZ, &n);
            what = "column 'timezone'";
        }
        if (recon_zone(p, what, z, strlen(z), zone, sizeof zone))
            return -1;
    }
    r.zone = zone;
    return recon_emit(p, &r);
}

/* ---- libcsv callbacks ----------------------------------------------------------- */

static void recon_on_field(void *s, size_t len, void *data)
{
    recon_parser *p = data;
    if (p->failed)
        return;
    if (p->nfields == RECON_MAX_FIELDS) {
        p->too_many = true;
        return;
    }
    if (p->len + len + 1 > p->cap) {
        size_t cap = p->cap ? p->cap : 4096;
        while (p->len + len + 1 > cap)
            cap *= 2;
        char *nb = realloc(p->buf, cap);
        if (!nb) {
            p->failed = true;
            snprintf(p->err, sizeof p->err, "%s:%ld: out of memory", p->filename, p->rec_line);
            return;
        }
        p->buf = nb;
        p->cap = cap;
    }
    p->off[p->nfields++] = p->len;
    if (len)
        memcpy(p->buf + p->len, s, len);
    for (size_t i = 0; i < len; i++)
        p->newlines += ((const char *)s)[i] == '\n';
    p->len += len;
    p->buf[p->len++] = '\0';
}

static void recon_record(recon_parser *p, int term)
{
    if (p->too_many) {
        recon_fail(p, "more than %d fields", RECON_MAX_FIELDS);
        return;
    }
    p->any_record = true;
    if (term == -1) {
        recon_fail(p, "the last line has no line ending: the file is truncated (or was cut "
                      "while being written)");
        return;
    }
    if (p->prov->format == RECON_FMT_PAYPAL) {
        recon_paypal_record(p);
        return;
    }
    if (!p->have_header) {
        recon_header(p, 0);
        return;
    }
    if (recon_row_complete(p))
        return;
    switch (p->prov->format) {
    case RECON_FMT_STRIPE:
        recon_stripe_record(p);
        break;
    case RECON_FMT_ADYEN:
        recon_adyen_record(p);
        break;
    case RECON_FMT_GENERIC:
        recon_generic_record(p);
        break;
    case RECON_FMT_PAYPAL:
        break;
    }
}

static void recon_on_record(int term, void *data)
{
    recon_parser *p = data;
    if (!p->failed && p->nfields > 0)
        recon_record(p, term);
    p->cur_line += (long)p->newlines + (term == '\n');
    p->rec_line = p->cur_line;
    p->nfields = 0;
    p->len = 0;
    p->newlines = 0;
    p->too_many = false;
}

recon_parser *recon_parser_new(const recon_provider *prov, const char *filename,
                               const recon_lookup *lookup, const recon_sink *sink)
{
    recon_parser *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->prov = prov;
    p->lookup = *lookup;
    p->sink = *sink;
    p->filename = strdup(filename);
    p->cur_line = p->rec_line = 1;
    if (!p->filename || csv_init(&p->csv, CSV_STRICT | CSV_STRICT_FINI | CSV_REPALL_NL) != 0) {
        recon_parser_free(p);
        return NULL;
    }
    p->csv_ready = true;
    if (prov->format == RECON_FMT_GENERIC && prov->generic.delimiter)
        csv_set_delim(&p->csv, (unsigned char)prov->generic.delimiter);
    recon_columns(p);
    return p;
}

static void recon_csv_error(recon_parser *p)
{
    if (!p->failed)
        recon_fail(p, "malformed CSV: %s", csv_strerror(csv_error(&p->csv)));
}

int recon_parser_feed(recon_parser *p, const char *buf, size_t n)
{
    if (p->failed)
        return -1;
    if (csv_parse(&p->csv, buf, n, recon_on_field, recon_on_record, p) != n)
        recon_csv_error(p);
    return p->failed ? -1 : 0;
}

int recon_parser_finish(recon_parser *p)
{
    if (p->failed)
        return -1;
    if (csv_fini(&p->csv, recon_on_field, recon_on_record, p) != 0)
        recon_csv_error(p);
    if (!p->failed && !p->have_header) {
        p->failed = true;
        snprintf(p->err, sizeof p->err, "%s:%ld: %s", p->filename, p->rec_line,
                 p->any_record ? "no column header (CH) row" : "empty file: no header row");
    }
    return p->failed ? -1 : 0;
}

const char *recon_parser_error(const recon_parser *p)
{
    return p->err;
}

uint64_t recon_parser_rows(const recon_parser *p)
{
    return p->rows;
}

void recon_parser_free(recon_parser *p)
{
    if (!p)
        return;
    if (p->csv_ready)
        csv_free(&p->csv);
    free(p->buf);
    free(p->filename);
    free(p);
}
