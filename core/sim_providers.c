/* What the payment providers send back: one settlement report per provider
 * and business date in that provider's own format (Stripe itemized
 * balance-change CSV, Adyen Settlement details report, PayPal STL), with a
 * chosen rate of injected discrepancies of each kind, and the answer key
 * naming each one with the reconciliation's own category names. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "purser/money.h"
#include "purser/recon.h"
#include "sim.h"

/* One row as written: a settled event, possibly altered. */
typedef struct sim_rrow {
    const sim_settled *s;
    int64_t ref_id; /* payment id the reference is made from */
    int64_t amount, fee;
    uint8_t cur, kind;
    bool fabricated;
    int copy; /* 1 for the second row of a duplicate */
} sim_rrow;

typedef struct sim_report {
    const sim_world *w;
    FILE *f, *key;
    int provider;
    int64_t day_start;
    int batch;
    sim_rng rng;
    uint64_t rows, injected;
    int64_t paypal_balance[SIM_NCUR]; /* running, across days */
} sim_report;

static const char *const sim_adyen_header =
    "Company Account,Merchant Account,Psp Reference,Merchant Reference,Payment Method,"
    "Creation Date,TimeZone,Type,Modification Reference,Gross Currency,Gross Debit (GC),"
    "Gross Credit (GC),Exchange Rate,Net Currency,Net Debit (NC),Net Credit (NC),"
    "Commission (NC),Markup (NC),Scheme Fees (NC),Interchange (NC),Payment Method Variant,"
    "Modification Merchant Reference,Batch Number,Reserved4,Reserved5,Reserved6,Reserved7,"
    "Reserved8,Reserved9,Reserved10,Booking Date,Booking Date TimeZone,Metadata,"
    "Merchant Order Reference";
static const char *const sim_stripe_header =
    "balance_transaction_id,payment_metadata[external_identifier],source_id,payment_intent_id,"
    "charge_id,created,available_on,automatic_payout_effective_at,currency,gross,fee,net,"
    "reporting_category,payment_method_type,card_brand,card_country,card_funding,description,"
    "trace_id_status,gateway_account,automatic_payout_id";
static const char *const sim_paypal_header =
    "\"CH\",\"Transaction ID\",\"Invoice ID\",\"PayPal Reference ID\",\"PayPal Reference ID "
    "Type\",\"Transaction Event Code\",\"Transaction Initiation Date\",\"Transaction Completion "
    "Date\",Transaction Debit or Credit,\"Gross Transaction Amount\",\"Gross Transaction "
    "Currency\",\"Fee Debit or Credit\",\"Fee Amount\",\"Fee Currency\",\"Custom Field\","
    "\"Consumer ID\",\"Payment Tracking ID\",Store ID,\"Bank Reference ID\",\"Credit "
    "Transactional Fee\",\"Credit Promotional Fee\",\"Credit Term\"";

static int sim_settled_cmp(const void *a, const void *b)
{
    const sim_settled *x = a, *y = b;
    if (x->provider != y->provider)
        return x->provider < y->provider ? -1 : 1;
    if (x->at != y->at)
        return x->at < y->at ? -1 : 1;
    return x->payment_id < y->payment_id ? -1 : x->payment_id > y->payment_id;
}

static void sim_money(int64_t minor, int cur, char *buf)
{
    purser_money_format(minor, sim_currencies[cur].exponent, buf, 32);
}

/* The row's own reference (the answer key's reference). */
static void sim_row_ref(const sim_report *rp, const sim_rrow *r, char *buf)
{
    sim_provider_ref(rp->w, rp->provider, r->kind, r->ref_id, buf);
}

static void sim_merchant_ref(const sim_report *rp, const sim_rrow *r, char *buf)
{
    if (r->fabricated) {
        snprintf(buf, 48, "unknown-%012llx",
                 (unsigned long long)(sim_mix64((uint64_t)r->ref_id) & 0xffffffffffffULL));
        return;
    }
    sim_order o = {.id = r->s->order_id, .source = r->s->source};
    sim_order_external_ref(rp->w, &o, buf);
}

static void sim_hash_ref(uint64_t x, const char *prefix, int width, int base, char *buf)
{
    static const char digits[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    size_t n = strlen(prefix);
    memcpy(buf, prefix, n);
    uint64_t h = sim_mix64(x);
    for (int i = width - 1; i >= 0; i--) {
        buf[n + (size_t)i] = digits[h % (uint64_t)base];
        h /= (uint64_t)base;
        if (h == 0)
            h = sim_mix64(x + (uint64_t)i + 1);
    }
    buf[n + (size_t)width] = '\0';
}

static void sim_key(sim_report *rp, const char *ref, purser_recon_category cat)
{
    bool quote = strpbrk(ref, ",\"\n") != NULL;
    fprintf(rp->key, "%s,%s%s%s,%s\n", sim_provider_names[rp->provider], quote ? "\"" : "", ref,
            quote ? "\"" : "", purser_recon_category_name(cat));
    rp->injected++;
}

static void sim_date(int64_t t, char *buf, char sep)
{
    sim_format_time(t, buf);
    buf[4] = buf[7] = sep;
}

static const char *sim_brand(int64_t order_id, int which)
{
    static const char *const brands[3][3] = {{"visa", "mastercard", "amex"},
                                             {"visa", "mc", "amex"},
                                             {"visastandardcredit", "mccredit", "amex"}};
    uint64_t h = sim_mix64((uint64_t)order_id) % 10;
    return brands[which][h < 6 ? 0 : h < 9 ? 1 : 2];
}

/* ---- Stripe: itemized balance changes with their automatic payout ---------- */

static void sim_stripe_payout_id(const sim_report *rp, int cur, char *buf)
{
    uint64_t key = sim_mix64(rp->w->opt.seed ^ 0x70a7ULL);
    sim_hash_ref(key ^ (uint64_t)(rp->day_start / 86400 * 8 + cur), "po_", 24, 62, buf);
}

static void sim_stripe_row(sim_report *rp, const sim_rrow *r)
{
    static const char *const category[4] = {"", "charge", "refund", "dispute"};
    static const char *const desc[4] = {"", "Order ", "Refund", "Dispute"};
    char txn[48], ext[48], src[48], pi[48], ch[48], created[24], next[24], payout[48];
    char gross[32], fee[32], net[32];
    int64_t sign = r->kind == SIM_CAPTURE ? 1 : -1;
    sim_hash_ref(((uint64_t)r->ref_id << 1 | (uint64_t)r->copy) ^ rp->w->opt.seed, "txn_", 24, 62,
                 txn);
    sim_merchant_ref(rp, r, ext);
    sim_row_ref(rp, r, src);
    /* a fabricated row's order number lies beyond every real one */
    int64_t order = r->fabricated ? r->ref_id >> 3 : r->s->order_id;
    sim_provider_ref(rp->w, SIM_STRIPE, SIM_AUTH, order * 8, pi);
    sim_provider_ref(rp->w, SIM_STRIPE, SIM_CAPTURE, r->fabricated ? r->ref_id : order * 8 + 1, ch);
    sim_format_time(r->fabricated ? rp->day_start + 43200 : r->s->at, created);
    sim_format_time(rp->day_start + 86400, next);
    sim_stripe_payout_id(rp, r->cur, payout);
    sim_money(sign * r->amount, r->cur, gross);
    sim_money(r->fee, r->cur, fee);
    sim_money(sign * r->amount - r->fee, r->cur, net);
    fprintf(rp->f,
            "%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,card,%s,%s,%s,%s%s,available,"
            "purser-main,%s\n",
            txn, ext, src, pi, ch, created, next, next, sim_currencies[r->cur].code, gross, fee,
            net, category[r->kind], sim_brand(order, 0),
            sim_currencies[r->fabricated ? r->cur : r->s->cur].country,
            sim_mix64((uint64_t)order) & 1 ? "credit" : "debit", desc[r->kind],
            r->kind == SIM_CAPTURE ? ext : "", payout);
    rp->rows++;
}

static void sim_stripe_payout(sim_report *rp, int cur, int64_t net_total)
{
    char txn[48], payout[48], when[24], amount[32];
    sim_stripe_payout_id(rp, cur, payout);
    sim_hash_ref(sim_mix64(rp->w->opt.seed) ^ (uint64_t)(rp->day_start + cur), "txn_", 24, 62, txn);
    sim_format_time(rp->day_start + 86400, when);
    sim_money(net_total, cur, amount);
    fprintf(rp->f, "%s,,%s,,,%s,%s,%s,%s,%s,%s,%s,payout,,,,,Payout,available,purser-main,%s\n",
            txn, payout, when, when, when, sim_currencies[cur].code, amount,
            cur == SIM_JPY   ? "0"
            : cur == SIM_KWD ? "0.000"
                             : "0.00",
            amount, payout);
    rp->rows++;
}

/* ---- Adyen: Settlement details report, one batch per day ------------------ */

static void sim_adyen_row(sim_report *rp, const sim_rrow *r, int64_t fee_delta)
{
    static const char *const type[4] = {"", "Settled", "Refunded", "Chargeback"};
    char psp[48], ext[48], mod[48], when[24], gross[32], net[32], p[4][32];
    /* the fee parts of our fee; a fee discrepancy lands in markup (captures)
     * or commission (refunds, chargebacks), so they always sum to r->fee */
    int64_t parts[4];
    sim_adyen_fee_parts(r->s->cur, r->kind, r->fabricated ? r->amount : r->s->amount, parts);
    parts[r->kind == SIM_CAPTURE ? 1 : 0] += fee_delta;
    int64_t order = r->fabricated ? r->ref_id : r->s->order_id;
    sim_provider_ref(rp->w, SIM_ADYEN, SIM_AUTH, r->fabricated ? r->ref_id ^ 1 : order * 8, psp);
    sim_merchant_ref(rp, r, ext);
    sim_row_ref(rp, r, mod);
    sim_format_time(r->fabricated ? rp->day_start + 43200 : r->s->at, when);
    sim_money(r->amount, r->cur, gross);
    sim_money(r->kind == SIM_CAPTURE ? r->amount - r->fee : r->amount + r->fee, r->cur, net);
    for (int i = 0; i < 4; i++) {
        bool shown = r->kind == SIM_CAPTURE || (i == 0 && r->kind == SIM_CHARGEBACK) ||
                     (i == 0 && parts[0] != 0);
        if (shown)
            sim_money(parts[i], r->cur, p[i]);
        else
            p[i][0] = '\0';
    }
    const char *code = sim_currencies[r->cur].code;
    bool credit = r->kind == SIM_CAPTURE;
    fprintf(rp->f,
            "PurserMarketplace,PurserMarketplaceEU,%s,%s,%s,%s,UTC,%s,%s,%s,%s,%s,1,%s,%s,%s,"
            "%s,%s,%s,%s,%s,,%d,,,,,,,,%s,UTC,,%s\n",
            psp, ext, sim_brand(order, 1), when, type[r->kind], mod, code, credit ? "" : gross,
            credit ? gross : "", code, credit ? "" : net, credit ? net : "", p[0], p[1], p[2], p[3],
            sim_brand(order, 2), rp->batch, when, ext);
    rp->rows++;
}

static void sim_adyen_payout_ref(const sim_report *rp, int cur, char *buf)
{
    char tx[24];
    sim_hash_ref(sim_mix64(rp->w->opt.seed ^ 0xad7eULL) ^ (uint64_t)(rp->day_start + cur), "", 11,
                 36, tx);
    snprintf(buf, 96, "TX%sXT batch %d, PurserMarketplaceEU", tx, rp->batch);
}

static void sim_adyen_payout(sim_report *rp, int cur, int64_t net_total)
{
    char ref[96], when[24], amount[32];
    sim_adyen_payout_ref(rp, cur, ref);
    sim_format_time(rp->day_start + 86400 + 10 * 3600, when);
    sim_money(net_total < 0 ? -net_total : net_total, cur, amount);
    fprintf(rp->f,
            "PurserMarketplace,PurserMarketplaceEU,,,,%s,UTC,MerchantPayout,\"%s\",,,,,%s,"
            "%s,%s,,,,,,,%d,,,,,,,,%s,UTC,,\n",
            when, ref, sim_currencies[cur].code, net_total >= 0 ? amount : "",
            net_total < 0 ? amount : "", rp->batch, when);
    rp->rows++;
}

/* ---- PayPal: STL settlement report --------------------------------------- */

typedef struct sim_paypal_totals {
    int64_t gross_cr, gross_dr, fee_cr, fee_dr;
    uint64_t count;
} sim_paypal_totals;

static void sim_paypal_row(sim_report *rp, const sim_rrow *r, sim_paypal_totals *tot)
{
    static const char *const code[4] = {"", "T0006", "T1107", "T1201"};
    char txn[48], inv[48], ref[48], when[24];
    sim_row_ref(rp, r, txn);
    sim_merchant_ref(rp, r, inv);
    int64_t order = r->fabricated ? r->ref_id : r->s->order_id;
    if (r->kind == SIM_CAPTURE)
        sim_provider_ref(rp->w, SIM_PAYPAL, SIM_AUTH, r->fabricated ? r->ref_id ^ 1 : order * 8,
                         ref);
    else
        sim_provider_ref(rp->w, SIM_PAYPAL, SIM_CAPTURE, order * 8 + 1, ref);
    sim_date(r->fabricated ? rp->day_start + 43200 : r->s->at, when, '/');
    bool credit = r->kind == SIM_CAPTURE;
    bool fee_credit = r->kind == SIM_REFUND;
    fprintf(rp->f,
            "\"SB\",%s,%s,%s,\"TXN\",\"%s\",%s +0000,%s +0000,\"%s\",%lld,\"%s\",\"%s\","
            "%lld,\"%s\",\"\",C%08llX,\"\",\"\",\"\",,,\n",
            txn, inv, ref, code[r->kind], when, when, credit ? "CR" : "DR", (long long)r->amount,
            sim_currencies[r->cur].code, fee_credit ? "CR" : "DR", (long long)r->fee,
            sim_currencies[r->cur].code, (unsigned long long)(r->fabricated ? 0 : r->s->buyer + 1));
    sim_paypal_totals *t = &tot[r->cur];
    *(credit ? &t->gross_cr : &t->gross_dr) += r->amount;
    *(fee_credit ? &t->fee_cr : &t->fee_dr) += r->fee;
    t->count++;
    rp->rows++;
}

static void sim_paypal_footers(sim_report *rp, const sim_paypal_totals *tot)
{
    /* sections in currency-code order */
    static const int order[] = {SIM_EUR, SIM_GBP, SIM_USD};
    for (int i = 0; i < 3; i++) {
        int cur = order[i];
        const sim_paypal_totals *t = &tot[cur];
        if (!t->count)
            continue;
        int64_t begin = rp->paypal_balance[cur];
        int64_t end = begin + t->gross_cr - t->gross_dr + t->fee_cr - t->fee_dr;
        rp->paypal_balance[cur] = end;
        fprintf(rp->f,
                "\"SF\",\"%s\",%lld,%lld,%lld,%lld,\"%s\",%lld,\"%s\",%lld,\"%s\",%lld,"
                "\"%s\",%lld,\"CR\",0,\"CR\",0,%llu\n",
                sim_currencies[cur].code, (long long)t->gross_cr, (long long)t->gross_dr,
                (long long)t->fee_cr, (long long)t->fee_dr, begin < 0 ? "DR" : "CR",
                (long long)(begin < 0 ? -begin : begin), end < 0 ? "DR" : "CR",
                (long long)(end < 0 ? -end : end), begin < 0 ? "DR" : "CR",
                (long long)(begin < 0 ? -begin : begin), end < 0 ? "DR" : "CR",
                (long long)(end < 0 ? -end : end), (unsigned long long)t->count);
    }
}

/* ---- one file ------------------------------------------------------------- */

typedef struct sim_day_totals {
    int64_t net[SIM_NCUR];
    bool any[SIM_NCUR];
    sim_paypal_totals pp[SIM_NCUR];
} sim_day_totals;

static void sim_write_row(sim_report *rp, const sim_rrow *r, int64_t fee_delta, sim_day_totals *tot)
{
    int64_t signed_net = r->kind == SIM_CAPTURE ? r->amount - r->fee : -(r->amount + r->fee);
    tot->net[r->cur] += signed_net;
    tot->any[r->cur] = true;
    if (rp->provider == SIM_STRIPE)
        sim_stripe_row(rp, r);
    else if (rp->provider == SIM_ADYEN)
        sim_adyen_row(rp, r, fee_delta);
    else
        sim_paypal_row(rp, r, tot->pp);
}

/* Another currency with the same exponent that this provider settles. */
static int sim_other_currency(sim_report *rp, int cur)
{
    if (sim_currencies[cur].exponent != 2)
        return -1;
    static const int two[3] = {SIM_EUR, SIM_USD, SIM_GBP};
    int k = (int)sim_rng_below(&rp->rng, 2);
    for (int i = 0, seen = 0; i < 3; i++)
        if (two[i] != cur && seen++ == k)
            return two[i];
    return -1;
}

static int64_t sim_delta(sim_report *rp)
{
    return 1 + (int64_t)sim_rng_below(&rp->rng, 500);
}

/* One settled event into the report, with at most one discrepancy. */
static void sim_report_event(sim_report *rp, const sim_settled *s, sim_day_totals *tot)
{
    double rate = rp->w->opt.discrepancy_rate;
    sim_rrow r = {s, s->payment_id, s->amount, s->fee, s->cur, s->kind, false, 0};
    char ref[48];
    sim_row_ref(rp, &r, ref);
    double u = sim_rng_unit(&rp->rng);
    int which = rate > 0 ? (int)(u / rate) : 99;
    int64_t fee_delta = 0;
    switch (which) {
    case 0: { /* amount_mismatch */
        int64_t d = sim_delta(rp);
        r.amount += (r.amount > d && sim_rng_below(&rp->rng, 2)) ? -d : d;
        sim_key(rp, ref, PURSER_RECON_AMOUNT_MISMATCH);
        break;
    }
    case 1: { /* currency_mismatch */
        int other = sim_other_currency(rp, r.cur);
        if (other >= 0) {
            r.cur = (uint8_t)other;
            sim_key(rp, ref, PURSER_RECON_CURRENCY_MISMATCH);
        }
        break;
    }
    case 2: /* missing_at_provider */
        sim_key(rp, ref, PURSER_RECON_MISSING_AT_PROVIDER);
        return;
    case 3: /* duplicate_at_provider */
        sim_write_row(rp, &r, 0, tot);
        r.copy = 1;
        sim_key(rp, ref, PURSER_RECON_DUPLICATE_AT_PROVIDER);
        break;
    case 4:                        /* fee_discrepancy */
        fee_delta = sim_delta(rp); /* always more: fees never go negative */
        r.fee += fee_delta;
        sim_key(rp, ref, PURSER_RECON_FEE_DISCREPANCY);
        break;
    default:
        break;
    }
    sim_write_row(rp, &r, fee_delta, tot);
    if (rate > 0 && sim_rng_unit(&rp->rng) < rate) { /* missing_internally */
        sim_rrow f = {
            s, (int64_t)((1ULL << 62) | (uint64_t)s->payment_id), 0, 0, s->cur, SIM_CAPTURE, true,
            0};
        f.amount = 100 + (int64_t)sim_rng_below(&rp->rng, 20000);
        f.fee = sim_fee(rp->provider, f.cur, SIM_CAPTURE, f.amount);
        sim_row_ref(rp, &f, ref);
        sim_write_row(rp, &f, 0, tot);
        sim_key(rp, ref, PURSER_RECON_MISSING_INTERNALLY);
    }
}

static void sim_report_payouts(sim_report *rp, sim_day_totals *tot)
{
    double rate = rp->w->opt.discrepancy_rate;
    for (int cur = 0; cur < SIM_NCUR; cur++) {
        if (!tot->any[cur] || rp->provider == SIM_PAYPAL)
            continue;
        int64_t amount = tot->net[cur];
        if (rate > 0 && sim_rng_unit(&rp->rng) < rate) {
            char ref[96];
            amount += 1 + (int64_t)sim_rng_below(&rp->rng, 1000);
            if (rp->provider == SIM_STRIPE)
                sim_stripe_payout_id(rp, cur, ref);
            else
                sim_adyen_payout_ref(rp, cur, ref);
            sim_key(rp, ref, PURSER_RECON_PAYOUT_MISMATCH);
        }
        if (rp->provider == SIM_STRIPE)
            sim_stripe_payout(rp, cur, amount);
        else
            sim_adyen_payout(rp, cur, amount);
    }
}

static int sim_report_day(sim_report *rp, const sim_settled *first, size_t n, char *err,
                          size_t errlen)
{
    const sim_world *w = rp->w;
    char date[24], path_tail[64];
    sim_format_time(rp->day_start, date);
    date[10] = '\0';
    snprintf(path_tail, sizeof path_tail, "%s_%s.csv", sim_provider_names[rp->provider], date);
    char *path = path_join(w->opt.out_dir, path_tail);
    rp->f = fopen(path, "w");
    if (!rp->f) {
        set_err(err, errlen, "cannot write %s: %s", path, strerror(errno));
        free(path);
        return -1;
    }
    setvbuf(rp->f, NULL, _IOFBF, 1 << 20);
    sim_rng_seed(&rp->rng, w->opt.seed,
                 0x7e90000ULL + (uint64_t)rp->provider * 100000 +
                     (uint64_t)((rp->day_start - w->opt.start) / 86400));
    if (rp->provider == SIM_STRIPE) {
        fprintf(rp->f, "%s\n", sim_stripe_header);
    } else if (rp->provider == SIM_ADYEN) {
        fprintf(rp->f, "%s\n", sim_adyen_header);
    } else {
        char a[24], b[24];
        sim_date(rp->day_start, a, '/');
        sim_date(rp->day_start + 86399, b, '/');
        fprintf(rp->f, "\"SH\",\"%s +0000\",\"%s +0000\",\"PURSERMKT0001\"\n%s\n", a, b,
                sim_paypal_header);
    }
    sim_day_totals tot;
    memset(&tot, 0, sizeof tot);
    for (size_t i = 0; i < n; i++)
        sim_report_event(rp, &first[i], &tot);
    sim_report_payouts(rp, &tot);
    if (rp->provider == SIM_PAYPAL)
        sim_paypal_footers(rp, tot.pp);
    int rc = 0;
    if (fclose(rp->f) != 0) {
        set_err(err, errlen, "cannot write %s: %s", path, strerror(errno));
        rc = -1;
    }
    rp->f = NULL;
    free(path);
    return rc;
}

int sim_write_reports(const sim_world *w, sim_settled_list *settled, sim_report_stats *st,
                      char *err, size_t errlen)
{
    memset(st, 0, sizeof *st);
    if (mkdir_p(w->opt.out_dir) != 0) {
        set_err(err, errlen, "cannot create --out %s: %s", w->opt.out_dir, strerror(errno));
        return -1;
    }
    qsort(settled->items, settled->n, sizeof *settled->items, sim_settled_cmp);
    char *key_path = path_join(w->opt.out_dir, "answer-key.csv");
    sim_report rp;
    memset(&rp, 0, sizeof rp);
    rp.w = w;
    rp.key = fopen(key_path, "w");
    if (!rp.key) {
        set_err(err, errlen, "cannot write %s: %s", key_path, strerror(errno));
        free(key_path);
        return -1;
    }
    fprintf(rp.key, "%s\n", PURSER_RECON_ANSWER_KEY_HEADER);
    int rc = 0;
    size_t i = 0;
    for (int p = 0; p < SIM_NPROV && rc == 0; p++) {
        rp.provider = p;
        memset(rp.paypal_balance, 0, sizeof rp.paypal_balance);
        for (int d = 0; d < w->opt.days && rc == 0; d++) {
            rp.day_start = w->opt.start + (int64_t)d * 86400;
            rp.batch = (int)(rp.day_start / 86400 - 18000); /* Adyen batch numbers grow daily */
            size_t j = i;
            while (j < settled->n && settled->items[j].provider == p &&
                   settled->items[j].at < rp.day_start + 86400)
                j++;
            rc = sim_report_day(&rp, settled->items + i, j - i, err, errlen);
            i = j;
            st->files++;
        }
    }
    st->rows = rp.rows;
    st->injected = rp.injected;
    if (fclose(rp.key) != 0 && rc == 0) {
        set_err(err, errlen, "cannot write %s: %s", key_path, strerror(errno));
        rc = -1;
    }
    free(key_path);
    return rc;
}
