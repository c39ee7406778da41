/* libFuzzer harness for intake_http's request-body handling: the JSON
 * parser (numbers kept as text, line/column errors), every validator, and
 * the webhook signature checks. Invariants of an accepted order are
 * checked too: money adds up exactly and every line is quantity x price.
 *   make fuzz                     (FUZZ_SECONDS, default 60)
 *   build/fuzz/fuzz_intake -runs=N tests/fuzz/corpus/intake */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../plugins/intake_http/intake_internal.h"

static int fuzz_exponent(void *cls, const char *code)
{
    (void)cls;
    static const struct {
        const char *code;
        int exp;
    } table[] = {{"EUR", 2}, {"USD", 2}, {"JPY", 0}, {"KWD", 3}, {"CLF", 4}, {"VND", 0}};
    for (size_t i = 0; i < sizeof table / sizeof *table; i++)
        if (strcmp(table[i].code, code) == 0)
            return table[i].exp;
    return -1;
}

static void fuzz_check_order(const intake_order *o)
{
    int64_t sum = 0;
    for (size_t i = 0; i < o->n_lines; i++) {
        if (o->lines[i].quantity < 1 || o->lines[i].unit_price < 0 ||
            o->lines[i].total != o->lines[i].quantity * o->lines[i].unit_price)
            __builtin_trap();
        sum += o->lines[i].total;
    }
    if (sum != o->items || o->total != o->items + o->shipping + o->tax - o->discount ||
        o->total < 0 || o->exponent < 0 || !intake_valid_source(o->source))
        __builtin_trap();
}

static void fuzz_err_ok(const intake_err *e)
{
    size_t len = 0;
    char *json = intake_err_json(e, &len);
    if (!json || e->status < 400 || e->status > 599 || len != strlen(json))
        __builtin_trap();
    free(json);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static intake_order order;
    static intake_stock stock[INTAKE_MAX_STOCK];
    intake_err e = {0};
    cJSON *root = intake_json_parse(data, size, &e);
    if (!root) {
        fuzz_err_ok(&e);
    } else {
        memset(&e, 0, sizeof e);
        if (intake_validate_order(root, "", "api", fuzz_exponent, NULL, &order, &e) == 0)
            fuzz_check_order(&order);
        else
            fuzz_err_ok(&e);
        const cJSON *orders = cJSON_GetObjectItemCaseSensitive(root, "orders"), *it;
        size_t i = 0;
        cJSON_ArrayForEach(it, orders)
        {
            char at[32];
            snprintf(at, sizeof at, "orders[%zu]", i++);
            if (intake_validate_order(it, at, "api", fuzz_exponent, NULL, &order, &e) == 0)
                fuzz_check_order(&order);
        }
        intake_payment pay;
        if (intake_validate_payment(root, "api", fuzz_exponent, NULL, &pay, &e) == 0 &&
            pay.amount <= 0)
            __builtin_trap();
        intake_dlv_event ev;
        intake_validate_dlv_event(root, "api", &ev, &e);
        size_t n;
        intake_validate_stock(root, stock, &n, &e);
        intake_product prod;
        intake_validate_product(root, fuzz_exponent, NULL, &prod, &e);
        intake_seller sel;
        intake_validate_seller(root, fuzz_exponent, NULL, &sel, &e);
        intake_buyer buy;
        intake_validate_buyer(root, &buy, &e);
        cJSON_Delete(root);
    }
    /* Signatures: the first line is the header, the rest the body. */
    const uint8_t *nl = memchr(data, '\n', size);
    if (nl && (size_t)(nl - data) < 512) {
        char header[512];
        memcpy(header, data, (size_t)(nl - data));
        header[nl - data] = '\0';
        const uint8_t *body = nl + 1;
        size_t blen = size - (size_t)(nl - data) - 1;
        intake_hmac_b64_ok("test_secret_key", 15, body, blen, header);
        intake_stripe_sig_ok("whsec_test_secret", header, body, blen, 1742218937, 300);
        char key[64];
        intake_wc_decode_secret(header, key, sizeof key);
    }
    return 0;
}
