/* The payment reconciliation's categories, defined once: the reconciliation
 * plugin names its results and workbook sheets with them, `purser simulate`
 * writes them in its answer key (DIR/answer-key.csv). Header-only. */
#ifndef PURSER_RECON_H
#define PURSER_RECON_H

#include <stddef.h>
#include <string.h>

/* Every result a provider row or an internal payment can get. MATCHED and
 * PROBABLE are not exceptions and never appear in an answer key. */
typedef enum purser_recon_category {
    PURSER_RECON_MATCHED,               /* "matched" */
    PURSER_RECON_PROBABLE,              /* "probable": amount + currency + date window only */
    PURSER_RECON_AMOUNT_MISMATCH,       /* "amount_mismatch" */
    PURSER_RECON_CURRENCY_MISMATCH,     /* "currency_mismatch" */
    PURSER_RECON_MISSING_AT_PROVIDER,   /* "missing_at_provider": we captured, they have nothing */
    PURSER_RECON_MISSING_INTERNALLY,    /* "missing_internally": they settled what we don't know */
    PURSER_RECON_DUPLICATE_AT_PROVIDER, /* "duplicate_at_provider": one reference twice */
    PURSER_RECON_FEE_DISCREPANCY,       /* "fee_discrepancy": their fee vs the expected fee */
    PURSER_RECON_PAYOUT_MISMATCH,       /* "payout_mismatch": payout row vs the sum of its rows */
    PURSER_RECON_N_CATEGORIES
} purser_recon_category;

/* Header line of an answer key; one row per injected discrepancy follows:
 * the provider's name as in the file names (stripe, adyen, paypal), the
 * reference exactly as it appears in the report (CSV-quoted when it holds
 * a comma), the category name. The reference is, per format:
 *   stripe  `source_id` (ch_…, re_…, dp_…; po_… for a payout row)
 *   adyen   `Modification Reference` (the MerchantPayout row's for a payout)
 *   paypal  `Transaction ID` (STL has no payout rows: no payout_mismatch)
 * For missing_at_provider the reference is the one our payments table
 * holds (payments.provider_ref), absent from the report. */
#define PURSER_RECON_ANSWER_KEY_HEADER "provider,reference,category"

/* The category's name ("amount_mismatch"); NULL for an out-of-range value.
 * Static storage, never freed. */
static inline const char *purser_recon_category_name(purser_recon_category c)
{
    switch (c) {
    case PURSER_RECON_MATCHED:
        return "matched";
    case PURSER_RECON_PROBABLE:
        return "probable";
    case PURSER_RECON_AMOUNT_MISMATCH:
        return "amount_mismatch";
    case PURSER_RECON_CURRENCY_MISMATCH:
        return "currency_mismatch";
    case PURSER_RECON_MISSING_AT_PROVIDER:
        return "missing_at_provider";
    case PURSER_RECON_MISSING_INTERNALLY:
        return "missing_internally";
    case PURSER_RECON_DUPLICATE_AT_PROVIDER:
        return "duplicate_at_provider";
    case PURSER_RECON_FEE_DISCREPANCY:
        return "fee_discrepancy";
    case PURSER_RECON_PAYOUT_MISMATCH:
        return "payout_mismatch";
    case PURSER_RECON_N_CATEGORIES:
        break;
    }
    return NULL;
}

/* The category named `name`, or -1 when there is none by that name. */
static inline int purser_recon_category_parse(const char *name)
{
    for (int c = 0; c < (int)PURSER_RECON_N_CATEGORIES; c++)
        if (strcmp(purser_recon_category_name((purser_recon_category)c), name) == 0)
            return c;
    return -1;
}

/* Non-zero for the categories finance must explain (all but matched and
 * probable). */
static inline int purser_recon_is_exception(purser_recon_category c)
{
    return c > PURSER_RECON_PROBABLE && c < PURSER_RECON_N_CATEGORIES;
}

#endif
