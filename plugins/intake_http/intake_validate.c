/* Request-body validators: a parsed JSON body in, a C struct out, or the
 * first error with its field path. No database and no globals: the fuzz
 * harness (tests/fuzz/fuzz_intake.c) drives these directly. */
#include <stdio.h>
#include <string.h>

#include "intake_internal.h"
#include "purser/money.h"

#define INTAKE_REF_MAX 200
#define INTAKE_TEXT_MAX 1000

static const char *const intake_order_statuses[] = {"placed",    "paid",     "shipped", "delivered",
                                                    "cancelled", "refunded", NULL};

static int intake_one_of(const char *s, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(s, *list) == 0)
            return 1;
    return 0;
}

int intake_valid_source(const char *s)
{
    if (!s || !(*s >= 'a' && *s <= 'z') || strlen(s) > 64)
        return 0;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '.' ||
              *p == '-'))
            return 0;
    return 1;
}

static int intake_get_source(const cJSON *o, const char *at, const char *def, const char **out,
                             intake_err *e)
{
    *out = def;
    if (intake_get_str(o, at, "source", 0, 64, out, e) < 0)
        return -1;
    if (!intake_valid_source(*out)) {
        intake_path p;
        intake_path_key(&p, at, "source");
        intake_err_set(e, 400, "invalid", p.text,
                       "must match [a-z][a-z0-9_.-]* (at most 64 characters)");
        return -1;
    }
    return 0;
}

static int intake_get_currency(const cJSON *o, const char *at, const char *key,
                               intake_exponent_fn exp, void *cls, const char **code, int *exponent,
                               intake_err *e)
{
    if (intake_get_str(o, at, key, 1, 3, code, e) < 0)
        return -1;
    *exponent = exp(cls, *code);
    if (*exponent < 0) {
        intake_path p;
        intake_path_key(&p, at, key);
        intake_err_set(e, 400, "invalid", p.text,
                       "unknown currency '%s' (expected an ISO 4217 "
                       "code such as EUR)",
                       *code);
        return -1;
    }
    return 0;
}

static int intake_validate_buyer_obj(const cJSON *b, const char *at, intake_order *o, intake_err *e)
{
    static const char *const keys[] = {"external_ref", "email", "name", "country", NULL};
    if (intake_only_keys(b, at, keys, e) < 0 ||
        intake_get_str(b, at, "external_ref", 1, INTAKE_REF_MAX, &o->buyer_ref, e) < 0 ||
        intake_get_str(b, at, "email", 0, 320, &o->buyer_email, e) < 0)
        return -1;
    int req = o->buyer_email != NULL;
    if (intake_get_str(b, at, "name", req, INTAKE_TEXT_MAX, &o->buyer_name, e) < 0 ||
        intake_get_str(b, at, "country", req, 2, &o->buyer_country, e) < 0)
        return -1;
    intake_path p;
    if (!req && (o->buyer_name || o->buyer_country)) {
        intake_path_key(&p, at, "email");
        intake_err_set(e, 400, "invalid", p.text,
                       "is required with name and country (or give "
                       "only external_ref of a known buyer)");
        return -1;
    }
    if (o->buyer_email) {
        const char *atsign = strchr(o->buyer_email, '@');
        if (!atsign || atsign == o->buyer_email || !atsign[1]) {
            intake_path_key(&p, at, "email");
            intake_err_set(e, 400, "invalid", p.text, "must be an e-mail address");
            return -1;
        }
        const char *c = o->buyer_country;
        if (strlen(c) != 2 || c[0] < 'A' || c[0] > 'Z' || c[1] < 'A' || c[1] > 'Z') {
            intake_path_key(&p, at, "country");
            intake_err_set(e, 400, "invalid", p.text,
                           "must be an ISO 3166 alpha-2 code such "
                           "as DE");
            return -1;
        }
    }
    return 0;
}

static int intake_validate_line(const cJSON *it, const char *at, int exponent, intake_line *l,
                                intake_err *e)
{
    static const char *const keys[] = {"sku",        "seller",           "quantity",
                                       "unit_price", "unit_price_minor", NULL};
    l->seller = NULL;
    if (intake_only_keys(it, at, keys, e) < 0 ||
        intake_get_str(it, at, "sku", 1, INTAKE_REF_MAX, &l->sku, e) < 0 ||
        intake_get_str(it, at, "seller", 0, INTAKE_REF_MAX, &l->seller, e) < 0 ||
        intake_get_int(it, at, "quantity", 1, 1, 1000000, &l->quantity, e) < 0 ||
        intake_get_money(it, at, "unit_price", 1, exponent, &l->unit_price, e) < 0)
        return -1;
    if (purser_money_muldiv(l->quantity, l->unit_price, 1, PURSER_ROUND_DOWN, &l->total) !=
        PURSER_MONEY_OK) {
        intake_path p;
        intake_path_key(&p, at, "unit_price");
        intake_err_set(e, 400, "invalid", p.text, "quantity x unit_price is out of range");
        return -1;
    }
    return 0;
}

static int intake_validate_delivery(const cJSON *d, const char *at, intake_order *o, intake_err *e)
{
    static const char *const keys[] = {"depot",        "address",         "latitude",
                                       "longitude",    "window_start",    "window_end",
                                       "weight_grams", "service_minutes", NULL};
    o->weight_grams = -1;
    o->service_minutes = 5;
    if (intake_only_keys(d, at, keys, e) < 0 ||
        intake_get_str(d, at, "depot", 1, INTAKE_REF_MAX, &o->depot, e) < 0 ||
        intake_get_str(d, at, "address", 1, INTAKE_TEXT_MAX, &o->address, e) < 0 ||
        intake_get_decimal(d, at, "latitude", 1, -90, 90, o->latitude, sizeof o->latitude, e) < 0 ||
        intake_get_decimal(d, at, "longitude", 1, -180, 180, o->longitude, sizeof o->longitude, e) <
            0 ||
        intake_get_time(d, at, "window_start", 1, &o->window_start, e) < 0 ||
        intake_get_time(d, at, "window_end", 1, &o->window_end, e) < 0 ||
        intake_get_int(d, at, "weight_grams", 0, 0, 100000000, &o->weight_grams, e) < 0 ||
        intake_get_int(d, at, "service_minutes", 0, 1, 1440, &o->service_minutes, e) < 0)
        return -1;
    /* Same zone notation compares as text only when both are UTC 'Z'; the
     * database checks window_start < window_end in every case. */
    if (strlen(o->window_start) == strlen(o->window_end) && o->window_start[19] == 'Z' &&
        o->window_end[19] == 'Z' && strcmp(o->window_start, o->window_end) >= 0) {
        intake_path p;
        intake_path_key(&p, at, "window_end");
        intake_err_set(e, 400, "invalid", p.text, "must be after window_start");
        return -1;
    }
    o->has_delivery = 1;
    return 0;
}

static int intake_sum(int64_t a, int64_t b, int64_t *out)
{
    return purser_money_add(a, b, out) == PURSER_MONEY_OK ? 0 : -1;
}

int intake_validate_order(const cJSON *root, const char *at, const char *default_source,
                          intake_exponent_fn exp, void *cls, intake_order *o, intake_err *e)
{
    static const char *const keys[] = {
        "source",         "external_ref", "currency",       "status",   "placed_at", "buyer",
        "items",          "shipping",     "shipping_minor", "tax",      "tax_minor", "discount",
        "discount_minor", "total",        "total_minor",    "delivery", NULL};
    memset(o, 0, sizeof *o);
    o->status = "placed";
    intake_path p;
    if (intake_only_keys(root, at, keys, e) < 0 ||
        intake_get_source(root, at, default_source, &o->source, e) < 0 ||
        intake_get_str(root, at, "external_ref", 1, INTAKE_REF_MAX, &o->external_ref, e) < 0 ||
        intake_get_currency(root, at, "currency", exp, cls, &o->currency, &o->exponent, e) < 0 ||
        intake_get_str(root, at, "status", 0, 20, &o->status, e) < 0)
        return -1;
    if (!intake_one_of(o->status, intake_order_statuses)) {
        intake_path_key(&p, at, "status");
        intake_err_set(e, 400, "invalid", p.text,
                       "must be one of placed, paid, shipped, "
                       "delivered, cancelled, refunded");
        return -1;
    }
    if (intake_get_time(root, at, "placed_at", 1, &o->placed_at, e) < 0)
        return -1;
    intake_path_key(&p, at, "buyer");
    const cJSON *buyer = cJSON_GetObjectItemCaseSensitive(root, "buyer");
    if (!buyer) {
        intake_err_set(e, 400, "invalid", p.text, "is required");
        return -1;
    }
    if (intake_validate_buyer_obj(buyer, p.text, o, e) < 0)
        return -1;
    intake_path_key(&p, at, "items");
    const cJSON *items = cJSON_GetObjectItemCaseSensitive(root, "items");
    int n = cJSON_IsArray(items) ? cJSON_GetArraySize(items) : -1;
    if (n <= 0 || n > INTAKE_MAX_LINES) {
        intake_err_set(e, 400, "invalid", p.text, "must be an array of 1 to %d lines",
                       INTAKE_MAX_LINES);
        return -1;
    }
    int64_t sum = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, items)
    {
        intake_path lp;
        intake_path_index(&lp, p.text, o->n_lines);
        intake_line *l = &o->lines[o->n_lines++];
        if (intake_validate_line(it, lp.text, o->exponent, l, e) < 0)
            return -1;
        if (intake_sum(sum, l->total, &sum) < 0) {
            intake_err_set(e, 400, "invalid", p.text, "the lines' total is out of range");
            return -1;
        }
    }
    o->items = sum;
    if (intake_get_money(root, at, "shipping", 0, o->exponent, &o->shipping, e) < 0 ||
        intake_get_money(root, at, "tax", 0, o->exponent, &o->tax, e) < 0 ||
        intake_get_money(root, at, "discount", 0, o->exponent, &o->discount, e) < 0)
        return -1;
    int64_t total;
    if (intake_sum(o->items, o->shipping, &total) < 0 || intake_sum(total, o->tax, &total) < 0 ||
        total - o->discount < 0) {
        intake_path_key(&p, at, "discount");
        intake_err_set(e, 400, "invalid", p.text, "the total would be negative or out of range");
        return -1;
    }
    total -= o->discount;
    int64_t given = -1;
    int had = intake_get_money(root, at, "total", 0, o->exponent, &given, e);
    if (had < 0)
        return -1;
    if (had && given != total) {
        char want[40], got[40];
        purser_money_format(total, o->exponent, want, sizeof want);
        purser_money_format(given, o->exponent, got, sizeof got);
        intake_path_key(&p, at, "total");
        intake_err_set(e, 400, "invalid", p.text,
                       "is %s but items + shipping + tax - discount "
                       "= %s",
                       got, want);
        return -1;
    }
    o->total = total;
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(root, "delivery");
    if (d && !cJSON_IsNull(d)) {
        intake_path_key(&p, at, "delivery");
        if (intake_validate_delivery(d, p.text, o, e) < 0)
            return -1;
    }
    return 0;
}

int intake_validate_payment(const cJSON *root, const char *default_source, intake_exponent_fn exp,
                            void *cls, intake_payment *o, intake_err *e)
{
    static const char *const keys[] = {
        "source",       "order_ref", "provider", "provider_ref", "kind", "parent_ref", "amount",
        "amount_minor", "currency",  "status",   "occurred_at",  "fee",  "fee_minor",  NULL};
    static const char *const kinds[] = {"authorisation", "capture", "refund", "chargeback", NULL};
    static const char *const statuses[] = {"pending", "succeeded", "failed", NULL};
    memset(o, 0, sizeof *o);
    o->status = "succeeded";
    o->fee = -1;
    int exponent;
    if (intake_only_keys(root, "", keys, e) < 0 ||
        intake_get_source(root, "", default_source, &o->source, e) < 0 ||
        intake_get_str(root, "", "order_ref", 1, INTAKE_REF_MAX, &o->order_ref, e) < 0 ||
        intake_get_str(root, "", "provider", 1, 64, &o->provider, e) < 0 ||
        intake_get_str(root, "", "provider_ref", 1, INTAKE_REF_MAX, &o->provider_ref, e) < 0 ||
        intake_get_str(root, "", "kind", 1, 20, &o->kind, e) < 0)
        return -1;
    if (!intake_valid_source(o->provider) || strchr(o->provider, '.') || strchr(o->provider, '-')) {
        intake_err_set(e, 400, "invalid", "provider", "must match [a-z][a-z0-9_]*");
        return -1;
    }
    if (!intake_one_of(o->kind, kinds)) {
        intake_err_set(e, 400, "invalid", "kind",
                       "must be one of authorisation, capture, "
                       "refund, chargeback");
        return -1;
    }
    if (intake_get_str(root, "", "parent_ref", 0, INTAKE_REF_MAX, &o->parent_ref, e) < 0)
        return -1;
    int needs_parent = strcmp(o->kind, "refund") == 0 || strcmp(o->kind, "chargeback") == 0;
    if (needs_parent && !o->parent_ref) {
        intake_err_set(e, 400, "invalid", "parent_ref",
                       "is required for a %s (the "
                       "provider_ref of the captured payment)",
                       o->kind);
        return -1;
    }
    if (intake_get_currency(root, "", "currency", exp, cls, &o->currency, &exponent, e) < 0 ||
        intake_get_money(root, "", "amount", 1, exponent, &o->amount, e) < 0 ||
        intake_get_money(root, "", "fee", 0, exponent, &o->fee, e) < 0 ||
        intake_get_str(root, "", "status", 0, 20, &o->status, e) < 0 ||
        intake_get_time(root, "", "occurred_at", 1, &o->occurred_at, e) < 0)
        return -1;
    if (o->amount <= 0) {
        intake_err_set(e, 400, "invalid",
                       cJSON_GetObjectItemCaseSensitive(root, "amount_minor") ? "amount_minor"
                                                                              : "amount",
                       "must be positive (the kind gives the direction)");
        return -1;
    }
    if (!intake_one_of(o->status, statuses)) {
        intake_err_set(e, 400, "invalid", "status", "must be one of pending, succeeded, failed");
        return -1;
    }
    return 0;
}

int intake_validate_dlv_event(const cJSON *root, const char *default_source, intake_dlv_event *o,
                              intake_err *e)
{
    static const char *const keys[] = {"source", "status", "at", "agent_id", "note", NULL};
    static const char *const statuses[] = {"assigned", "picked_up", "delivered", "failed", NULL};
    memset(o, 0, sizeof *o);
    if (intake_only_keys(root, "", keys, e) < 0 ||
        intake_get_source(root, "", default_source, &o->source, e) < 0 ||
        intake_get_str(root, "", "status", 1, 20, &o->status, e) < 0)
        return -1;
    if (!intake_one_of(o->status, statuses)) {
        intake_err_set(e, 400, "invalid", "status",
                       "must be one of assigned, picked_up, "
                       "delivered, failed");
        return -1;
    }
    if (intake_get_time(root, "", "at", 1, &o->at, e) < 0 ||
        intake_get_int(root, "", "agent_id", 0, 1, INT64_MAX, &o->agent_id, e) < 0 ||
        intake_get_str(root, "", "note", 0, INTAKE_TEXT_MAX, &o->note, e) < 0)
        return -1;
    return 0;
}

int intake_validate_stock(const cJSON *root, intake_stock *items, size_t *n, intake_err *e)
{
    static const char *const keys[] = {"items", NULL};
    static const char *const ikeys[] = {"sku",    "seller",   "warehouse",    "on_hand",
                                        "adjust", "reserved", "safety_stock", NULL};
    *n = 0;
    if (intake_only_keys(root, "", keys, e) < 0)
        return -1;
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, "items");
    int count = cJSON_IsArray(arr) ? cJSON_GetArraySize(arr) : -1;
    if (count <= 0 || count > INTAKE_MAX_STOCK) {
        intake_err_set(e, 400, "invalid", "items", "must be an array of 1 to %d entries",
                       INTAKE_MAX_STOCK);
        return -1;
    }
    const cJSON *it;
    cJSON_ArrayForEach(it, arr)
    {
        intake_path p;
        intake_path_index(&p, "items", *n);
        intake_stock *s = &items[(*n)++];
        memset(s, 0, sizeof *s);
        s->on_hand = s->reserved = s->safety_stock = -1;
        s->adjust = INT64_MIN;
        if (intake_only_keys(it, p.text, ikeys, e) < 0 ||
            intake_get_str(it, p.text, "sku", 1, INTAKE_REF_MAX, &s->sku, e) < 0 ||
            intake_get_str(it, p.text, "seller", 0, INTAKE_REF_MAX, &s->seller, e) < 0 ||
            intake_get_str(it, p.text, "warehouse", 1, INTAKE_REF_MAX, &s->warehouse, e) < 0 ||
            intake_get_int(it, p.text, "on_hand", 0, 0, INT32_MAX, &s->on_hand, e) < 0 ||
            intake_get_int(it, p.text, "adjust", 0, -INT32_MAX, INT32_MAX, &s->adjust, e) < 0 ||
            intake_get_int(it, p.text, "reserved", 0, 0, INT32_MAX, &s->reserved, e) < 0 ||
            intake_get_int(it, p.text, "safety_stock", 0, 0, INT32_MAX, &s->safety_stock, e) < 0)
            return -1;
        s->absolute = s->on_hand >= 0;
        if (s->absolute == (s->adjust != INT64_MIN)) {
            intake_path q;
            intake_path_key(&q, p.text, "on_hand");
            intake_err_set(e, 400, "invalid", q.text,
                           "give exactly one of on_hand (an absolute "
                           "count) or adjust (a change)");
            return -1;
        }
    }
    return 0;
}

int intake_validate_product(const cJSON *root, intake_exponent_fn exp, void *cls, intake_product *o,
                            intake_err *e)
{
    static const char *const keys[] = {"seller",      "name",     "category",     "price",
                                       "price_minor", "currency", "weight_grams", NULL};
    memset(o, 0, sizeof *o);
    int exponent;
    if (intake_only_keys(root, "", keys, e) < 0 ||
        intake_get_str(root, "", "seller", 1, INTAKE_REF_MAX, &o->seller, e) < 0 ||
        intake_get_str(root, "", "name", 1, INTAKE_TEXT_MAX, &o->name, e) < 0 ||
        intake_get_str(root, "", "category", 1, INTAKE_TEXT_MAX, &o->category, e) < 0 ||
        intake_get_currency(root, "", "currency", exp, cls, &o->currency, &exponent, e) < 0 ||
        intake_get_money(root, "", "price", 1, exponent, &o->price, e) < 0 ||
        intake_get_int(root, "", "weight_grams", 1, 1, INT32_MAX, &o->weight_grams, e) < 0)
        return -1;
    return 0;
}

int intake_validate_seller(const cJSON *root, intake_exponent_fn exp, void *cls, intake_seller *o,
                           intake_err *e)
{
    static const char *const keys[] = {"name",
                                       "currency",
                                       "commission_bp",
                                       "commission_fixed",
                                       "commission_fixed_minor",
                                       "commission_min",
                                       "commission_min_minor",
                                       NULL};
    memset(o, 0, sizeof *o);
    int exponent;
    if (intake_only_keys(root, "", keys, e) < 0 ||
        intake_get_str(root, "", "name", 1, INTAKE_TEXT_MAX, &o->name, e) < 0 ||
        intake_get_currency(root, "", "currency", exp, cls, &o->currency, &exponent, e) < 0 ||
        intake_get_int(root, "", "commission_bp", 1, 0, 10000, &o->commission_bp, e) < 0 ||
        intake_get_money(root, "", "commission_fixed", 0, exponent, &o->fixed, e) < 0 ||
        intake_get_money(root, "", "commission_min", 0, exponent, &o->minimum, e) < 0)
        return -1;
    return 0;
}

int intake_validate_buyer(const cJSON *root, intake_buyer *o, intake_err *e)
{
    static const char *const keys[] = {"email", "name", "country", NULL};
    memset(o, 0, sizeof *o);
    if (intake_only_keys(root, "", keys, e) < 0 ||
        intake_get_str(root, "", "email", 1, 320, &o->email, e) < 0 ||
        intake_get_str(root, "", "name", 1, INTAKE_TEXT_MAX, &o->name, e) < 0 ||
        intake_get_str(root, "", "country", 1, 2, &o->country, e) < 0)
        return -1;
    const char *atsign = strchr(o->email, '@');
    if (!atsign || atsign == o->email || !atsign[1]) {
        intake_err_set(e, 400, "invalid", "email", "must be an e-mail address");
        return -1;
    }
    const char *c = o->country;
    if (strlen(c) != 2 || c[0] < 'A' || c[0] > 'Z' || c[1] < 'A' || c[1] > 'Z') {
        intake_err_set(e, 400, "invalid", "country", "must be an ISO 3166 alpha-2 code such as DE");
        return -1;
    }
    return 0;
}
