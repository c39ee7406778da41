/* Reading what a browser sends the web page: urlencoded form fields,
 * cookies, and the `next` address a login returns to. Pure functions; the
 * unit tests call them directly. */
#ifndef PURSER_WEB_FORM_H
#define PURSER_WEB_FORM_H

#include <stdbool.h>
#include <stddef.h>

/* Decode application/x-www-form-urlencoded text (n bytes: '+' is a space,
 * %XX a byte) into out. 0, or -1 when it does not fit, a %XX is malformed,
 * or it decodes to a NUL byte. */
int web_url_decode(const char *in, size_t n, char *out, size_t outlen);

/* The decoded value of field `name` in an urlencoded body of len bytes
 * (not NUL-terminated). 1 found (first occurrence), 0 absent, -1 present
 * but malformed or longer than outlen - 1. */
int web_form_get(const char *body, size_t len, const char *name, char *out, size_t outlen);

/* The value of cookie `name` in a Cookie header (may be NULL). 1 found,
 * 0 absent, -1 too long for out. */
int web_cookie_get(const char *header, const char *name, char *out, size_t outlen);

/* Append s to sb percent-encoded for a URL path segment or query value
 * (everything but [A-Za-z0-9._-] becomes %XX). */
struct strbuf;
void web_url_encode(struct strbuf *sb, const char *s);

/* Is next a safe place to return to after login: a path on this server
 * ("/reports/..."), not "//host" or "/\host", no scheme, only printable
 * ASCII without quotes or angle brackets, at most 512 bytes? */
bool web_next_ok(const char *next);

#endif
