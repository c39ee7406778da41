/* plugins.reconciliation.providers.<name>: each provider's report format,
 * where its report comes from, and for the generic format its column
 * mapping. The core has checked key names and types; here the values'
 * meaning is checked, and every message names the key at fault. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "recon_internal.h"

typedef struct recon_cfg {
    const purser_host *h;
    purser_ctx *ctx;
    const char *name;
    char *err;
    size_t errlen;
} recon_cfg;

static int recon_cfg_fail(recon_cfg *c, const char *fmt, ...) PURSER_PRINTF(2, 3);
static int recon_cfg_fail(recon_cfg *c, const char *fmt, ...)
{
    int n = snprintf(c->err, c->errlen, "plugins.reconciliation.providers.%s.", c->name);
    va_list ap;
    va_start(ap, fmt);
    if (n >= 0 && (size_t)n < c->errlen)
        vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

static char *recon_cfg_key(recon_cfg *c, const char *key, char *buf, size_t len)
{
    snprintf(buf, len, "providers.%s.%s", c->name, key);
    return buf;
}

/* An owned copy of the provider's string setting (NULL when unset). */
static char *recon_cfg_str(recon_cfg *c, const char *key)
{
    char k[512];
    const char *v = c->h->config_string(c->ctx, recon_cfg_key(c, key, k, sizeof k));
    return v && *v ? strdup(v) : NULL;
}

static int64_t recon_cfg_num(recon_cfg *c, const char *key, bool duration, int64_t dflt)
{
    char k[512];
    int64_t v;
    recon_cfg_key(c, key, k, sizeof k);
    int rc = duration ? c->h->config_duration_ms(c->ctx, k, &v) : c->h->config_int(c->ctx, k, &v);
    return rc == 0 ? v : dflt;
}

static int recon_generic_load(recon_cfg *c, recon_provider *p)
{
    recon_generic *g = &p->generic;
    struct {
        const char *key;
        char **dst;
    } cols[] = {{"columns.reference", &g->reference},
                {"columns.amount", &g->amount},
                {"columns.currency", &g->currency},
                {"columns.date", &g->date},
                {"columns.merchant_reference", &g->merchant_reference},
                {"columns.original_reference", &g->original_reference},
                {"columns.fee", &g->fee},
                {"columns.net", &g->net},
                {"columns.payout", &g->payout},
                {"columns.kind", &g->kind},
                {"columns.direction", &g->direction},
                {"columns.timezone", &g->timezone}};
    for (size_t i = 0; i < sizeof cols / sizeof *cols; i++) {
        *cols[i].dst = recon_cfg_str(c, cols[i].key);
        if (i < 4 && !*cols[i].dst)
            return recon_cfg_fail(c, "%s: required by format generic (the header naming it)",
                                  cols[i].key);
    }
    char *units = recon_cfg_str(c, "amounts");
    g->minor_units = units && strcmp(units, "minor") == 0;
    int bad = units && !g->minor_units && strcmp(units, "decimal") != 0;
    free(units);
    if (bad)
        return recon_cfg_fail(c, "amounts: expected decimal or minor");
    char *sign = recon_cfg_str(c, "sign");
    g->sign = !sign || strcmp(sign, "signed") == 0 ? RECON_SIGN_SIGNED
              : strcmp(sign, "inverted") == 0      ? RECON_SIGN_INVERTED
              : strcmp(sign, "direction") == 0     ? RECON_SIGN_DIRECTION
                                                   : (recon_sign)-1;
    free(sign);
    if ((int)g->sign < 0)
        return recon_cfg_fail(c, "sign: expected signed (positive: money to us), inverted "
                                 "(positive: money from us) or direction (see columns.direction)");
    if (g->sign == RECON_SIGN_DIRECTION && !g->direction)
        return recon_cfg_fail(c, "columns.direction: required by sign: direction");
    g->date_format = recon_cfg_str(c, "date_format");
    if (!g->date_format && !(g->date_format = strdup("%Y-%m-%d %H:%M:%S")))
        return recon_cfg_fail(c, "out of memory");
    char *delim = recon_cfg_str(c, "delimiter");
    g->delimiter = delim ? delim[0] : ',';
    bad = delim && (strlen(delim) != 1 || delim[0] == '"');
    free(delim);
    if (bad)
        return recon_cfg_fail(c, "delimiter: expected one character other than '\"'");
    char k[512];
    recon_cfg_key(c, "kinds", k, sizeof k);
    size_t n = c->h->config_count(c->ctx, k);
    if (n && !g->kind)
        return recon_cfg_fail(c, "kinds: needs columns.kind (the header whose values it maps)");
    g->kinds = n ? calloc(n, sizeof *g->kinds) : NULL;
    for (size_t i = 0; i < n; i++) {
        const char *value = c->h->config_item(c->ctx, k, i);
        char vk[512];
        snprintf(vk, sizeof vk, "kinds.%s", value);
        char *kind = recon_cfg_str(c, vk);
        int kk = kind ? recon_kind_parse(kind) : -1;
        free(kind);
        if (kk < 0)
            return recon_cfg_fail(c,
                                  "kinds.%s: expected capture, refund, chargeback, "
                                  "chargeback_reversal, payout, fee or other",
                                  value);
        g->kinds[g->n_kinds].value = strdup(value);
        g->kinds[g->n_kinds++].kind = (recon_kind)kk;
    }
    if (g->kind && n == 0)
        return recon_cfg_fail(c, "kinds: columns.kind is set, so map its values (kinds.VALUE: "
                                 "capture|refund|chargeback|...)");
    return 0;
}

/* Plain http:// is allowed to this machine only (a local test server or
 * proxy); reports travel over https:// with certificate checks. */
static bool recon_loopback_http(const char *url)
{
    static const char *const ok[] = {"http://127.0.0.1:", "http://127.0.0.1/", "http://localhost:",
                                     "http://localhost/", "http://[::1]:",     "http://[::1]/"};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
        if (strncmp(url, ok[i], strlen(ok[i])) == 0)
            return true;
    return false;
}

/* A value with {date} where the date goes. */
static bool recon_has_date(const char *s)
{
    return s && strstr(s, "{date}") != NULL;
}

static int recon_provider_load(recon_cfg *c, recon_provider *p)
{
    static const char *const formats[] = {"stripe", "adyen", "paypal", "generic"};
    char *fmt = recon_cfg_str(c, "format");
    int f = -1;
    for (int i = 0; fmt && i < 4; i++)
        if (strcmp(fmt, formats[i]) == 0)
            f = i;
    int bad = f < 0;
    char shown[64];
    snprintf(shown, sizeof shown, "%s", fmt ? fmt : "");
    free(fmt);
    if (bad)
        return recon_cfg_fail(c, "format: '%s': expected stripe, adyen, paypal or generic", shown);
    p->format = (recon_format_id)f;
    p->source = recon_cfg_str(c, "source");
    p->drop_folder = recon_cfg_str(c, "drop_folder");
    p->pattern = recon_cfg_str(c, "pattern");
    if (!p->source == !p->drop_folder)
        return recon_cfg_fail(c, "source: set exactly one of source (a URL with {date}) and "
                                 "drop_folder (with pattern)");
    if (p->drop_folder && !p->pattern)
        return recon_cfg_fail(c, "pattern: required with drop_folder (a file name with {date})");
    if (p->source && strncmp(p->source, "https://", 8) != 0 &&
        strncmp(p->source, "sftp://", 7) != 0 && strncmp(p->source, "file://", 7) != 0 &&
        !recon_loopback_http(p->source))
        return recon_cfg_fail(c,
                              "source: '%s': expected an https://, sftp:// or file:// URL "
                              "(plain http:// only to this machine: 127.0.0.1, localhost)",
                              p->source);
    if (p->source && !recon_has_date(p->source))
        c->h->log(c->ctx, PURSER_LOG_WARN,
                  "plugins.reconciliation.providers.%s.source has no {date}: every night "
                  "fetches the same URL",
                  c->name);
    p->auth_header = recon_cfg_str(c, "auth_header");
    if (p->auth_header && !strchr(p->auth_header, ':'))
        return recon_cfg_fail(c, "auth_header: expected 'Name: value' (e.g. 'Authorization: "
                                 "Bearer ${STRIPE_KEY}')");
    p->username = recon_cfg_str(c, "username");
    p->password = recon_cfg_str(c, "password");
    if (!p->username != !p->password)
        return recon_cfg_fail(c, "%s: basic auth needs both username and password",
                              p->username ? "password" : "username");
    p->timezone = recon_cfg_str(c, "timezone");
    if (!p->timezone && !(p->timezone = strdup("UTC")))
        return recon_cfg_fail(c, "out of memory");
    p->merchant_reference_column = recon_cfg_str(c, "merchant_reference_column");
    p->timeout_ms = recon_cfg_num(c, "timeout", true, 60000);
    p->connect_timeout_ms = recon_cfg_num(c, "connect_timeout", true, 10000);
    p->backoff_ms = recon_cfg_num(c, "retry_backoff", true, 1000);
    p->retries = recon_cfg_num(c, "retries", false, 3);
    if (p->retries < 0 || p->retries > 10)
        return recon_cfg_fail(c, "retries: %lld: expected 0 to 10", (long long)p->retries);
    if (p->timeout_ms <= 0 || p->connect_timeout_ms <= 0)
        return recon_cfg_fail(c, "timeout: must be positive");
    return p->format == RECON_FMT_GENERIC ? recon_generic_load(c, p) : 0;
}

int recon_providers_load(const purser_host *h, purser_ctx *ctx, recon_provider **out, size_t *n,
                         char *err, size_t errlen)
{
    *out = NULL;
    *n = 0;
    size_t count = h->config_count(ctx, "providers");
    if (count == 0) {
        snprintf(err, errlen,
                 "plugins.reconciliation.providers: no provider configured (add "
                 "one with format and source; see plugins/reconciliation/README.md)");
        return -1;
    }
    recon_provider *ps = calloc(count, sizeof *ps);
    if (!ps) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < count; i++) {
        recon_cfg c = {h, ctx, h->config_item(ctx, "providers", i), err, errlen};
        ps[i].name = strdup(c.name ? c.name : "");
        *n = i + 1;
        if (!ps[i].name || recon_provider_load(&c, &ps[i]) != 0) {
            recon_providers_free(ps, *n);
            *n = 0;
            return -1;
        }
    }
    *out = ps;
    return 0;
}

static void recon_generic_free(recon_generic *g)
{
    char *cols[] = {
        g->reference,          g->amount,   g->currency,   g->date,   g->merchant_reference,
        g->original_reference, g->fee,      g->net,        g->payout, g->kind,
        g->direction,          g->timezone, g->date_format};
    for (size_t i = 0; i < sizeof cols / sizeof *cols; i++)
        free(cols[i]);
    for (size_t i = 0; i < g->n_kinds; i++)
        free(g->kinds[i].value);
    free(g->kinds);
}

void recon_providers_free(recon_provider *p, size_t n)
{
    if (!p)
        return;
    for (size_t i = 0; i < n; i++) {
        free(p[i].name);
        free(p[i].source);
        free(p[i].drop_folder);
        free(p[i].pattern);
        free(p[i].auth_header);
        free(p[i].username);
        free(p[i].password);
        free(p[i].timezone);
        free(p[i].merchant_reference_column);
        recon_generic_free(&p[i].generic);
    }
    free(p);
}
