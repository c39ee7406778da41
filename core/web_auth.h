/* The web page's secrets: password hashing with scrypt (memory-hard, from
 * OpenSSL's libcrypto), random session ids and their SHA-256, CSRF tokens
 * derived with HMAC-SHA256, constant-time comparison. Pure functions, no
 * database: the unit tests call them directly. */
#ifndef PURSER_WEB_AUTH_H
#define PURSER_WEB_AUTH_H

#include <stdbool.h>
#include <stddef.h>

/* Room for a stored hash: "scrypt$15$8$1$" + 32 + "$" + 64 hex + NUL. */
#define WEB_HASH_MAX 128
/* Room for a random token or a SHA-256/HMAC in hex (64 + NUL). */
#define WEB_TOKEN_HEX 65
/* Passwords shorter than this are refused by `purser user add`. */
#define WEB_PASSWORD_MIN 8
/* Longer passwords are refused (the login form caps them too). */
#define WEB_PASSWORD_MAX 1024

/* Hash password with a fresh random salt into out
 * ("scrypt$LOG2N$R$P$SALTHEX$KEYHEX"). 0, or -1 when the random source
 * or scrypt failed (out is then empty). */
int web_password_hash(const char *password, char out[WEB_HASH_MAX]);

/* Does password match the stored hash? 1 yes, 0 no, -1 the stored text is
 * not a hash this version understands (also refused as a mismatch by
 * callers). The key comparison takes constant time. */
int web_password_verify(const char *password, const char *stored);

/* Spend the time of one verification (for unknown user names, so that a
 * login's duration does not tell whether a name exists). */
void web_password_burn(const char *password);

/* 32 random bytes as 64 lower-case hex characters; 0 or -1. */
int web_random_token(char out[WEB_TOKEN_HEX]);

/* The form token that goes with a secret (a session id, or the login
 * form's cookie): HMAC-SHA256(secret, purpose) in hex. Knowing the token
 * does not reveal the secret. */
void web_csrf_token(const char *secret, const char *purpose, char out[WEB_TOKEN_HEX]);

/* Equal strings, compared in time that depends only on their lengths. */
bool web_token_equal(const char *a, const char *b);

#endif
