/* Form fields, cookies and the login's return address. */
#include "web_form.h"

#include <string.h>

#include "util.h"

static int web_hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int web_url_decode(const char *in, size_t n, char *out, size_t outlen)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = in[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            int hi = i + 2 < n ? web_hexval(in[i + 1]) : -1;
            int lo = i + 2 < n ? web_hexval(in[i + 2]) : -1;
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
                return -1;
            c = (char)(hi * 16 + lo);
            i += 2;
        }
        if (o + 1 >= outlen)
            return -1;
        out[o++] = c;
    }
    if (outlen == 0)
        return -1;
    out[o] = '\0';
    return 0;
}

int web_form_get(const char *body, size_t len, const char *name, char *out, size_t outlen)
{
    size_t nlen = strlen(name);
    for (size_t i = 0; i < len;) {
        const char *field = body + i;
        const char *amp = memchr(field, '&', len - i);
        size_t flen = amp ? (size_t)(amp - field) : len - i;
        if (flen > nlen && memcmp(field, name, nlen) == 0 && field[nlen] == '=')
            return web_url_decode(field + nlen + 1, flen - nlen - 1, out, outlen) == 0 ? 1 : -1;
        if (flen == nlen && memcmp(field, name, nlen) == 0)
            return outlen ? (out[0] = '\0', 1) : -1;
        i += flen + 1;
    }
    return 0;
}

int web_cookie_get(const char *header, const char *name, char *out, size_t outlen)
{
    size_t nlen = strlen(name);
    for (const char *p = header; p && *p;) {
        while (*p == ' ' || *p == ';')
            p++;
        size_t len = strcspn(p, ";");
        if (len > nlen && strncmp(p, name, nlen) == 0 && p[nlen] == '=') {
            size_t vlen = len - nlen - 1;
            if (vlen + 1 > outlen)
                return -1;
            memcpy(out, p + nlen + 1, vlen);
            out[vlen] = '\0';
            return 1;
        }
        p += len;
    }
    return 0;
}

bool web_next_ok(const char *next)
{
    size_t len = next ? strlen(next) : 0;
    if (len == 0 || len > 512 || next[0] != '/' || next[1] == '/' || next[1] == '\\')
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)next[i];
        if (c <= 0x20 || c >= 0x7f || c == '"' || c == '\'' || c == '<' || c == '>' || c == '\\')
            return false;
    }
    return true;
}

void web_url_encode(strbuf *sb, const char *s)
{
    for (const char *p = s; p && *p; p++) {
        char c = *p;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '.' || c == '_' || c == '-')
            sb_addn(sb, p, 1);
        else
            sb_addf(sb, "%%%02X", (unsigned char)c);
    }
}
