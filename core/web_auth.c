/* Password hashes (scrypt), random tokens, CSRF tokens (HMAC-SHA256) and
 * constant-time comparison for the web page. */
#include "web_auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* scrypt cost: N = 2^15, r = 8, p = 1 takes 32 MiB and about 0.1 s. */
#define WEB_KDF_LOG2N 15
#define WEB_KDF_R 8
#define WEB_KDF_P 1
#define WEB_SALT_LEN 16
#define WEB_KEY_LEN 32
#define WEB_KDF_MAXMEM (256ull * 1024 * 1024)

static void web_hex(const unsigned char *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

/* Exactly 2n lower-case hex digits into n bytes; 0 or -1. */
static int web_unhex(const char *in, size_t len, unsigned char *out, size_t n)
{
    if (len != 2 * n)
        return -1;
    for (size_t i = 0; i < len; i++) {
        char ch = in[i];
        int v = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
        if (v < 0)
            return -1;
        out[i / 2] = (unsigned char)(i % 2 ? (out[i / 2] << 4) | v : v);
    }
    return 0;
}

static int web_scrypt(const char *password, const unsigned char *salt, int log2n, int r, int p,
                      unsigned char key[WEB_KEY_LEN])
{
    return EVP_PBE_scrypt(password, strlen(password), salt, WEB_SALT_LEN, 1ull << log2n,
                          (uint64_t)r, (uint64_t)p, WEB_KDF_MAXMEM, key, WEB_KEY_LEN) == 1
               ? 0
               : -1;
}

int web_password_hash(const char *password, char out[WEB_HASH_MAX])
{
    unsigned char salt[WEB_SALT_LEN], key[WEB_KEY_LEN];
    char salt_hex[2 * WEB_SALT_LEN + 1], key_hex[2 * WEB_KEY_LEN + 1];
    out[0] = '\0';
    if (RAND_bytes(salt, sizeof salt) != 1 ||
        web_scrypt(password, salt, WEB_KDF_LOG2N, WEB_KDF_R, WEB_KDF_P, key) != 0)
        return -1;
    web_hex(salt, sizeof salt, salt_hex);
    web_hex(key, sizeof key, key_hex);
    OPENSSL_cleanse(key, sizeof key);
    snprintf(out, WEB_HASH_MAX, "scrypt$%d$%d$%d$%s$%s", WEB_KDF_LOG2N, WEB_KDF_R, WEB_KDF_P,
             salt_hex, key_hex);
    return 0;
}

/* Split "scrypt$LOG2N$R$P$SALT$KEY" with sane costs; 0 or -1. */
static int web_hash_parse(const char *stored, int *log2n, int *r, int *p,
                          unsigned char salt[WEB_SALT_LEN], unsigned char key[WEB_KEY_LEN])
{
    int used = 0;
    if (!stored || sscanf(stored, "scrypt$%d$%d$%d$%n", log2n, r, p, &used) != 3 || used == 0)
        return -1;
    if (*log2n < 10 || *log2n > 20 || *r < 1 || *r > 32 || *p < 1 || *p > 16)
        return -1;
    const char *s = stored + used, *dollar = strchr(s, '$');
    if (!dollar || web_unhex(s, (size_t)(dollar - s), salt, WEB_SALT_LEN) != 0 ||
        web_unhex(dollar + 1, strlen(dollar + 1), key, WEB_KEY_LEN) != 0)
        return -1;
    return 0;
}

int web_password_verify(const char *password, const char *stored)
{
    int log2n, r, p;
    unsigned char salt[WEB_SALT_LEN], want[WEB_KEY_LEN], got[WEB_KEY_LEN];
    if (web_hash_parse(stored, &log2n, &r, &p, salt, want) != 0)
        return -1;
    if (web_scrypt(password, salt, log2n, r, p, got) != 0)
        return -1;
    int same = CRYPTO_memcmp(got, want, WEB_KEY_LEN) == 0;
    OPENSSL_cleanse(got, sizeof got);
    return same;
}

void web_password_burn(const char *password)
{
    static const unsigned char salt[WEB_SALT_LEN] = {0};
    unsigned char key[WEB_KEY_LEN];
    web_scrypt(password, salt, WEB_KDF_LOG2N, WEB_KDF_R, WEB_KDF_P, key);
}

int web_random_token(char out[WEB_TOKEN_HEX])
{
    unsigned char b[32];
    out[0] = '\0';
    if (RAND_bytes(b, sizeof b) != 1)
        return -1;
    web_hex(b, sizeof b, out);
    return 0;
}

void web_csrf_token(const char *secret, const char *purpose, char out[WEB_TOKEN_HEX])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)purpose, strlen(purpose),
         md, &len);
    web_hex(md, len > 32 ? 32 : len, out);
}

bool web_token_equal(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la != lb || la == 0)
        return false;
    return CRYPTO_memcmp(a, b, la) == 0;
}
