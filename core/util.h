/* Small helpers shared by the core: growable strings, paths, files,
 * hashing. Every returned pointer is malloc'd and owned by the caller
 * unless the comment says otherwise. */
#ifndef PURSER_UTIL_H
#define PURSER_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "purser/plugin.h"

typedef struct strbuf {
    char *data; /* always NUL-terminated once anything was added; owned */
    size_t len;
    size_t cap;
} strbuf;

void sb_add(strbuf *sb, const char *s);
void sb_addn(strbuf *sb, const char *s, size_t n);
void sb_addf(strbuf *sb, const char *fmt, ...) PURSER_PRINTF(2, 3);
void sb_vaddf(strbuf *sb, const char *fmt, va_list ap);
void sb_free(strbuf *sb);
/* Hand the buffer over (never NULL) and reset sb. */
char *sb_take(strbuf *sb);

/* Abort with a message on allocation failure: the core treats memory
 * exhaustion as fatal, like PostgreSQL's palloc. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xasprintf(const char *fmt, ...) PURSER_PRINTF(1, 2);

/* "a" + "/" + "b", or b alone when it is absolute. */
char *path_join(const char *a, const char *b);
/* Lexically clean an absolute or relative path in place: drop "." and
 * empty segments, fold "name/.." pairs. Returns path. */
char *path_normalize(char *path);
/* mkdir -p with mode 0755; 0 or -1 with errno. */
int mkdir_p(const char *path);
/* Whole file into memory (NUL-terminated, *len set when len != NULL);
 * NULL with errno on failure. */
char *file_read(const char *path, size_t *len);
bool file_exists(const char *path);

/* Lower-case hex SHA-256 of data into out (65 bytes). */
void sha256_hex(const void *data, size_t len, char out[65]);

/* snprintf into a fixed buffer, truncating safely. */
void set_err(char *err, size_t errlen, const char *fmt, ...) PURSER_PRINTF(3, 4);

#endif
