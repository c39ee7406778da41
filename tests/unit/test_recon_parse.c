/* The reconciliation plugin's report parsers, without a database: each
 * format's rows normalised (signs, fees, identities, zones), streaming
 * across any chunk boundary, and every kind of malformed input refused with
 * FILE:LINE: column 'X': reason. Links plugins/reconciliation/recon_parse.c
 * (tests/unit/test_recon_parse.mk). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include "../../plugins/reconciliation/recon_internal.h"

/* ---- a fake reference data and a sink that keeps rows as text ---------- */

static int fake_exponent(void *arg, const char *code)
{
    (void)arg;
    static const struct {
        const char *code;
        int e;
    } cur[] = {{"USD", 2}, {"EUR", 2}, {"GBP", 2}, {"AUD", 2}, {"CAD", 2}, {"JPY", 0}, {"KWD", 3}};
    for (size_t i = 0; i < sizeof cur / sizeof *cur; i++)
        if (strcmp(cur[i].code, code) == 0)
            return cur[i].e;
    return -1;
}

static bool fake_zone(void *arg, const char *zone)
{
    (void)arg;
    static const char *const zones[] = {"UTC", "PDT", "CET", "Europe/Berlin"};
    for (size_t i = 0; i < sizeof zones / sizeof *zones; i++)
        if (strcasecmp(zones[i], zone) == 0)
            return true;
    return false;
}

typedef struct out {
    char text[8192];
    size_t len;
    int rows, footers;
} out;

static int keep_row(void *arg, const recon_row *r)
{
    out *o = arg;
    char id[24] = "-";
    if (r->has_identity)
        snprintf(id, sizeof id, "%lld", (long long)r->identity);
    o->len += (size_t)snprintf(o->text + o->len, sizeof o->text - o->len,
                               "%ld %s %s %s %s %s %lld %s %lld %lld %s %s %s|", r->line,
                               recon_kind_name(r->kind), r->reference, r->original_ref,
                               r->merchant_ref, r->currency, (long long)r->amount, r->net_currency,
                               (long long)r->net, (long long)r->fee, id, r->local_time, r->zone);
    o->rows++;
    return 0;
}

static int keep_footer(void *arg, const recon_footer *f)
{
    out *o = arg;
    o->len += (size_t)snprintf(o->text + o->len, sizeof o->text - o->len,
                               "SF %s %lld %lld %lld %lld %lld|", f->currency,
                               (long long)f->gross_cr, (long long)f->gross_dr, (long long)f->fee_cr,
                               (long long)f->fee_dr, (long long)f->count);
    o->footers++;
    return 0;
}

static recon_provider provider(recon_format_id f)
{
    recon_provider p;
    memset(&p, 0, sizeof p);
    p.name = "test";
    p.format = f;
    p.timezone = "UTC";
    return p;
}

/* Parse text fed `chunk` bytes at a time; returns 0 or -1, err filled. */
static int parse(const recon_provider *p, const char *text, size_t chunk, out *o, char *err,
                 size_t errlen)
{
    memset(o, 0, sizeof *o);
    recon_lookup lookup = {fake_exponent, fake_zone, NULL};
    recon_sink sink = {keep_row, keep_footer, o};
    recon_parser *ps = recon_parser_new(p, "r.csv", &lookup, &sink);
    assert_non_null(ps);
    size_t n = strlen(text);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i += chunk)
        rc = recon_parser_feed(ps, text + i, n - i < chunk ? n - i : chunk);
    if (rc == 0)
        rc = recon_parser_finish(ps);
    snprintf(err, errlen, "%s", recon_parser_error(ps));
    recon_parser_free(ps);
    return rc;
}

static void expect_error(recon_format_id f, const char *text, const char *want)
{
    recon_provider p = provider(f);
    out o;
    char err[1024];
    assert_int_equal(parse(&p, text, 4096, &o, err, sizeof err), -1);
    if (!strstr(err, want))
        fail_msg("error '%s' lacks '%s'", err, want);
}

/* ---- Stripe ------------------------------------------------------------------ */

#define STRIPE_HEAD                                                                                \
    "automatic_payout_id,balance_transaction_id,charge_id,created,currency,fee,gross,net,"         \
    "reporting_category,source_id,payment_metadata[external_identifier]\n"

static void test_stripe_rows(void **state)
{
    (void)state;
    recon_provider p = provider(RECON_FMT_STRIPE);
    out o;
    char err[1024];
    const char *text = STRIPE_HEAD
        "po_abc,txn_101,ch_aaa,2026-02-01 09:00:00,usd,1.20,30.00,28.80,charge,ch_aaa,24315.1\n"
        "po_def,txn_102,ch_bbb,2026-02-02 10:00:00,USD,15.00,-30.00,-45.00,dispute,dp_bbb,\n"
        "po_def,txn_103,,2026-02-03 00:00:00,USD,0.00,45.00,45.00,payout,po_def,\n";
    assert_int_equal(parse(&p, text, 4096, &o, err, sizeof err), 0);
    assert_string_equal(o.text, "2 capture ch_aaa ch_aaa 24315.1 USD 3000 USD 2880 120 0 "
                                "2026-02-01 09:00:00 UTC|"
                                "3 chargeback dp_bbb ch_bbb  USD -3000 USD -4500 1500 0 "
                                "2026-02-02 10:00:00 UTC|"
                                "4 payout po_def   USD 4500 USD 4500 0 0 2026-02-03 00:00:00 UTC|");
}

static void test_stripe_identity(void **state)
{
    (void)state;
    recon_provider p = provider(RECON_FMT_STRIPE);
    out o;
    char err[1024];
    assert_int_equal(parse(&p,
                           STRIPE_HEAD "p,t,c,2026-02-01 09:00:00,USD,1.20,30.00,28.70,charge,c,\n",
                           4096, &o, err, sizeof err),
                     0);
    assert_non_null(strstr(o.text, " 10 2026-02-01")); /* 30.00 - 1.20 - 28.70 = 0.10 */
}

/* Every chunk size gives the same rows: fields and quotes cut anywhere. */
static void test_streaming_chunks(void **state)
{
    (void)state;
    recon_provider p = provider(RECON_FMT_STRIPE);
    const char *text = STRIPE_HEAD
        "po_1,txn_1,ch_1,2026-02-01 09:00:00,USD,1.20,30.00,28.80,charge,ch_1,\"a, "
        "\"\"quoted\"\"\"\n"
        "po_1,txn_2,ch_2,2026-02-01 09:00:00,USD,0.50,10.00,9.50,charge,ch_2,\"two\nlines\"\n"
        "po_1,txn_3,ch_3,2026-02-01 09:00:00,USD,0.50,10.00,9.50,charge,ch_3,x\n";
    out whole, bits;
    char err[1024];
    assert_int_equal(parse(&p, text, 1 << 16, &whole, err, sizeof err), 0);
    assert_int_equal(whole.rows, 3);
    assert_non_null(strstr(whole.text, "a, \"quoted\""));
    assert_non_null(strstr(whole.text, "|5 capture ch_3")); /* line 5: the quoted newline counts */
    for (size_t chunk = 1; chunk < 40; chunk++) {
        assert_int_equal(parse(&p, text, chunk, &bits, err, sizeof err), 0);
        assert_string_equal(bits.text, whole.text);
    }
}

/* ---- Adyen ------------------------------------------------------------------- */

#define ADYEN_HEAD                                                                                 \
    "Company Account,Merchant Account,Psp Reference,Merchant Reference,Payment Method,"            \
    "Creation Date,TimeZone,Type,Modification Reference,Gross Currency,Gross Debit (GC),"          \
    "Gross Credit (GC),Exchange Rate,Net Currency,Net Debit (NC),Net Credit (NC),"                 \
    "Commission (NC),Markup (NC),Scheme Fees (NC),Interchange (NC),Payment Method Variant,"        \
    "Modification Merchant Reference,Batch Number\n"

static void test_adyen_rows(void **state)
{
    (void)state;
    recon_provider p = provider(RECON_FMT_ADYEN);
    out o;
    char err[1024];
    const char *text = ADYEN_HEAD
        "C,M,2ABCD,662716.1,jcb,2025-09-11 19:23:11,PDT,Settled,2VXYZ,JPY,,3158,"
        "0.006733333333333,USD,,1.88,,0,0.1,0.04,jcbcredit,,1128\n"
        "C,M,4ABCD,662718.1,jcb,2025-09-11 05:40:49,PDT,Settled,4VXYZ,JPY,,335,"
        "0.006746268656716,USD,,2.13,,0,0.1,0.03,jcbcredit,,1128\n"
        "C,M,1313,324959451,visa,2013-03-26 22:37:26,CET,Chargeback,2313,EUR,349.99,,1,EUR,"
        "357.49,,7.5,,,,visaclassic,,\n"
        "C,M,,,,2025-09-25 15:17:00,PDT,MerchantPayout,\"TX1 batch 1129, M\",,,,,USD,59.75,,,,,"
        ",,,1128\n";
    assert_int_equal(parse(&p, text, 4096, &o, err, sizeof err), 0);
    assert_string_equal(o.text, "2 capture 2VXYZ 2ABCD 662716.1 JPY 3158 USD 188 14 1924 "
                                "2025-09-11 19:23:11 PDT|"
                                "3 capture 4VXYZ 4ABCD 662718.1 JPY 335 USD 213 13 0 "
                                "2025-09-11 05:40:49 PDT|"
                                "4 chargeback 2313 1313 324959451 EUR -34999 EUR -35749 750 0 "
                                "2013-03-26 22:37:26 CET|"
                                "5 payout TX1 batch 1129, M   USD 5975 USD 5975 0 - "
                                "2025-09-25 15:17:00 PDT|");
}

static void test_adyen_needs_one_side(void **state)
{
    (void)state;
    expect_error(RECON_FMT_ADYEN,
                 ADYEN_HEAD "C,M,P,R,visa,2013-06-03 11:26:49,CET,Settled,X,GBP,5.00,5.00,1,GBP,"
                            ",4.88,,0.04,0.01,0.07,v,,\n",
                 "r.csv:2: column 'Gross Credit (GC)': a payment row needs exactly one of");
    expect_error(RECON_FMT_ADYEN,
                 ADYEN_HEAD "C,M,P,R,visa,2013-06-03 11:26:49,XYZT,Settled,X,GBP,,5.00,1,GBP,"
                            ",4.88,,0.04,0.01,0.07,v,,\n",
                 "r.csv:2: column 'TimeZone': unknown time zone 'XYZT'");
}

/* ---- PayPal ------------------------------------------------------------------ */

static void test_paypal_rows(void **state)
{
    (void)state;
    recon_provider p = provider(RECON_FMT_PAYPAL);
    out o;
    char err[1024];
    const char *text =
        "\"SH\",\"2026/01/06 00:00:00 -0800\",\"2026/01/06 23:59:59 -0800\",\"EZ\"\n"
        "\"CH\",\"Transaction ID\",\"Invoice ID\",\"PayPal Reference ID\",\"PayPal Reference ID "
        "Type\",\"Transaction Event Code\",\"Transaction Initiation Date\",\"Transaction "
        "Completion Date\",Transaction Debit or Credit,\"Gross Transaction Amount\",\"Gross "
        "Transaction Currency\",\"Fee Debit or Credit\",\"Fee Amount\",\"Fee Currency\"\n"
        "\"SB\",68C7,2213.15,64057,\"TXN\",\"T0003\",2026/01/06 23:31:39 -0800,2026/01/06 "
        "23:31:39 -0800,\"CR\",834,\"GBP\",\"DR\",87,\"GBP\"\n"
        "\"SB\",6899,2216.15,99900,\"TXN\",T1107,2026/01/06 23:31:39 -0800,2026/01/06 23:31:39 "
        "-0800,DR,134,\"GBP\",CR,47,\"GBP\"\n"
        "\"SF\",\"GBP\",834,134,87,47,\"CR\",547,\"CR\",5530,\"CR\",5530,\"CR\",5530,\"CR\",0,"
        "\"CR\",0,1\n";
    assert_int_equal(parse(&p, text, 7, &o, err, sizeof err), 0);
    assert_string_equal(o.text, "3 capture 68C7 64057 2213.15 GBP 834 GBP 747 87 - "
                                "2026-01-06 23:31:39 -08:00|"
                                "4 refund 6899 99900 2216.15 GBP -134 GBP -87 -47 - "
                                "2026-01-06 23:31:39 -08:00|"
                                "SF GBP 834 134 87 47 1|");
    expect_error(RECON_FMT_PAYPAL, "\"SB\",1,2\n",
                 "r.csv:1: a body row (SB) before the column header");
}

/* ---- generic ----------------------------------------------------------------- */

static void test_generic_mapping(void **state)
{
    (void)state;
    recon_provider p = provider(RECON_FMT_GENERIC);
    recon_kind_map kinds[2] = {{"SALE", RECON_KIND_CAPTURE}, {"RFND", RECON_KIND_REFUND}};
    p.timezone = "Europe/Berlin";
    p.generic = (recon_generic){.reference = "Id",
                                .amount = "Amt",
                                .currency = "Ccy",
                                .date = "When",
                                .fee = "Fee",
                                .kind = "Type",
                                .direction = "DC",
                                .minor_units = true,
                                .sign = RECON_SIGN_DIRECTION,
                                .date_format = "%d.%m.%Y %H:%M",
                                .kinds = kinds,
                                .n_kinds = 2,
                                .delimiter = ';'};
    out o;
    char err[1024];
    const char *text = "Id;Amt;Ccy;When;Fee;Type;DC\n"
                       "a1;1250;KWD;29.02.2024 13:05;40;SALE;CR\n"
                       "a2;300;KWD;01.03.2024 08:00;0;RFND;DR\n";
    assert_int_equal(parse(&p, text, 4096, &o, err, sizeof err), 0);
    assert_string_equal(o.text,
                        "2 capture a1   KWD 1250 KWD 1210 40 - 2024-02-29 13:05:00 Europe/Berlin|"
                        "3 refund a2   KWD -300 KWD -300 0 - 2024-03-01 08:00:00 Europe/Berlin|");
    assert_int_equal(parse(&p, "Id;Amt;Ccy;When;Fee;Type;DC\na;1;KWD;29.02.2023 13:05;0;SALE;CR\n",
                           4096, &o, err, sizeof err),
                     -1);
    assert_non_null(strstr(err, "r.csv:2: column 'When': '29.02.2023 13:05' does not match"));
    assert_int_equal(parse(&p, "Id;Amt;Ccy;When;Fee;Type;DC\na;1;KWD;28.02.2023 13:05;0;VOID;CR\n",
                           4096, &o, err, sizeof err),
                     -1);
    assert_non_null(strstr(err, "column 'Type': 'VOID' is not mapped"));
}

/* ---- malformed files ------------------------------------------------------------ */

static void test_malformed(void **state)
{
    (void)state;
    const char *good = "p,t,c,2026-02-01 09:00:00,USD,1.20,30.00,28.80,charge,c,\n";
    char text[1024];
    expect_error(RECON_FMT_STRIPE, "created,currency,gross\n", "r.csv:1: column '");
    expect_error(RECON_FMT_STRIPE, "", "r.csv:1: empty file");
    snprintf(text, sizeof text,
             STRIPE_HEAD "%sp,t,c,2026-02-01 09:00:00,USD,1.20,30.0.0,1,charge,c,\n", good);
    expect_error(RECON_FMT_STRIPE, text, "r.csv:3: column 'gross': '30.0.0': not a decimal amount");
    snprintf(text, sizeof text,
             STRIPE_HEAD "%sp,t,c,2026-02-01 09:00:00,XXX,1.20,30.00,28.80,charge,c,\n", good);
    expect_error(RECON_FMT_STRIPE, text, "r.csv:3: column 'currency': unknown currency 'XXX'");
    snprintf(text, sizeof text,
             STRIPE_HEAD "%sp,t,c,2026-02-01 09:00:00,USD,1.205,30.00,28.80,charge,c,\n", good);
    expect_error(RECON_FMT_STRIPE, text,
                 "r.csv:3: column 'fee': '1.205' has more decimals than USD allows (2)");
    snprintf(text, sizeof text,
             STRIPE_HEAD "%sp,t,c,2026-02-01 09:00:00,JPY,12,3000.0,2988,charge,c,\n", good);
    expect_error(RECON_FMT_STRIPE, text,
                 "r.csv:3: column 'gross': '3000.0' has decimals but JPY has none");
    snprintf(text, sizeof text,
             STRIPE_HEAD "%sp,t,c,2026-02-30 09:00:00,USD,1.20,30.00,28.80,charge,c,\n", good);
    expect_error(RECON_FMT_STRIPE, text,
                 "r.csv:3: column 'created': '2026-02-30 09:00:00' is not a date");
    snprintf(text, sizeof text,
             STRIPE_HEAD "%sp,t,c,2026-02-01 09:00:00,USD,1.20,30.00,28.80,charge,c,", good);
    expect_error(RECON_FMT_STRIPE, text, "r.csv:3: the last line has no line ending");
    snprintf(text, sizeof text, STRIPE_HEAD "%sp,t,c,2026-02-01 09:00:00,USD\n", good);
    expect_error(RECON_FMT_STRIPE, text,
                 "r.csv:3: column 'source_id': missing (the row has 5 of the header's 11 fields");
    snprintf(text, sizeof text, STRIPE_HEAD "%sp,t,c,\"2026-02-01 09:00:00,USD\n", good);
    expect_error(RECON_FMT_STRIPE, text, "r.csv:3: malformed CSV");
}

/* ---- helpers ------------------------------------------------------------------- */

static void test_convert_and_dates(void **state)
{
    (void)state;
    int64_t v;
    assert_int_equal(recon_convert(3158, 0, "0.006733333333333", 2, &v), 0);
    assert_int_equal(v, 2126); /* 21.2638 USD */
    assert_int_equal(recon_convert(-34999, 2, "1", 2, &v), 0);
    assert_int_equal(v, -34999);
    assert_int_equal(recon_convert(25, 2, "0.5", 2, &v), 0);
    assert_int_equal(v, 12); /* 12.5 to even */
    assert_int_equal(recon_convert(35, 2, "0.5", 2, &v), 0);
    assert_int_equal(v, 18); /* 17.5 to even */
    assert_int_equal(recon_convert(1, 2, "1e3", 2, &v), -1);
    char when[20];
    assert_int_equal(recon_parse_datetime("2024-02-29 23:59:59", 19, when), 0);
    assert_string_equal(when, "2024-02-29 23:59:59");
    assert_int_equal(recon_parse_datetime("2026/01/06T00:00", 16, when), 0);
    assert_string_equal(when, "2026-01-06 00:00:00");
    assert_int_equal(recon_parse_datetime("2023-02-29 10:00:00", 19, when), -1);
    assert_int_equal(recon_parse_datetime("2026-01-06 24:00:00", 19, when), -1);
    assert_int_equal(recon_parse_datetime("2026-01-06/10:00:00", 19, when), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stripe_rows),          cmocka_unit_test(test_stripe_identity),
        cmocka_unit_test(test_streaming_chunks),     cmocka_unit_test(test_adyen_rows),
        cmocka_unit_test(test_adyen_needs_one_side), cmocka_unit_test(test_paypal_rows),
        cmocka_unit_test(test_generic_mapping),      cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_convert_and_dates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
