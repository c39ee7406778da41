/* Webhook signatures, pure functions over the raw body (the fuzz harness
 * links them): Shopify and WooCommerce base64 HMAC-SHA256, Stripe's
 * "t=...,v1=..." over "t.body" with a timestamp tolerance. Compared in
 * constant time (CRYPTO_memcmp). */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "intake_internal.h"

int intake_hmac_b64_ok(const char *key, size_t keylen, const unsigned char *body, size_t len,
                       const char *b64)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    if (!b64 || !HMAC(EVP_sha256(), key, (int)keylen, body, len, mac, &maclen))
        return 0;
    char want[96];
    int n = EVP_EncodeBlock((unsigned char *)want, mac, (int)maclen);
    while (*b64 == ' ')
        b64++;
    size_t got = strlen(b64);
    while (got && b64[got - 1] == ' ')
        got--;
    return n > 0 && got == (size_t)n && CRYPTO_memcmp(want, b64, got) == 0;
}

int intake_stripe_sig_ok(const char *secret, const char *header, const unsigned char *body,
                         size_t len, int64_t now, int64_t tolerance_s)
{
    if (!secret || !header)
        return 0;
    char t[24] = "";
    const char *v1[8];
    size_t v1len[8], n_v1 = 0;
    for (const char *p = header; *p;) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        while (n && *p == ' ')
            p++, n--;
        if (n > 2 && strncmp(p, "t=", 2) == 0 && n - 2 < sizeof t)
            snprintf(t, sizeof t, "%.*s", (int)(n - 2), p + 2);
        else if (n > 3 && strncmp(p, "v1=", 3) == 0 && n_v1 < 8) {
            v1[n_v1] = p + 3;
            v1len[n_v1++] = n - 3;
        }
        p += n + (end ? 1 : 0);
    }
    if (!t[0] || n_v1 == 0)
        return 0;
    for (const char *q = t; *q; q++)
        if (*q < '0' || *q > '9')
            return 0;
    size_t tl = strlen(t), total = tl + 1 + len;
    unsigned char *msg = malloc(total ? total : 1);
    if (!msg)
        return 0;
    memcpy(msg, t, tl);
    msg[tl] = '.';
    memcpy(msg + tl + 1, body, len);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    int ok = 0;
    if (HMAC(EVP_sha256(), secret, (int)strlen(secret), msg, total, mac, &maclen)) {
        char hex[2 * EVP_MAX_MD_SIZE + 1];
        for (unsigned i = 0; i < maclen; i++)
            snprintf(hex + 2 * i, 3, "%02x", mac[i]);
        for (size_t i = 0; i < n_v1; i++)
            if (v1len[i] == 2 * maclen && CRYPTO_memcmp(hex, v1[i], v1len[i]) == 0)
                ok = 1;
    }
    free(msg);
    if (ok && tolerance_s > 0) {
        long long ts = strtoll(t, NULL, 10);
        if (now - ts > tolerance_s || ts - now > tolerance_s)
            return -1;
    }
    return ok;
}

void intake_wc_decode_secret(const char *in, char *out, size_t outlen)
{
    static const struct {
        const char *ent, ch;
    } ents[] = {{"&amp;", '&'},  {"&quot;", '"'}, {"&#039;", '\''},
                {"&#39;", '\''}, {"&lt;", '<'},   {"&gt;", '>'}};
    size_t o = 0;
    while (*in && o + 1 < outlen) {
        size_t k = 0, n = sizeof ents / sizeof *ents;
        for (; k < n; k++)
            if (strncmp(in, ents[k].ent, strlen(ents[k].ent)) == 0)
                break;
        if (k < n) {
            out[o++] = ents[k].ch;
            in += strlen(ents[k].ent);
        } else {
            out[o++] = *in++;
        }
    }
    out[o] = '\0';
}
