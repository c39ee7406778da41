/* Dump files: SHA-256 checksums in sha256sum's format (so `sha256sum -c
 * purser_2026-11-28.dump.sha256` checks a dump by hand), atomic writes,
 * and the retention policy over the backup folder. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backup.h"

int backup_sha256_file(const char *path, char hex[65], char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int ok = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1;
    unsigned char buf[65536], digest[32];
    size_t n;
    while (ok && (n = fread(buf, 1, sizeof buf, f)) > 0)
        ok = EVP_DigestUpdate(md, buf, n) == 1;
    unsigned int dlen = 0;
    ok = ok && !ferror(f) && EVP_DigestFinal_ex(md, digest, &dlen) == 1 && dlen == 32;
    if (!ok)
        snprintf(err, errlen, "%s: cannot read it to the end: %s", path,
                 ferror(f) ? strerror(errno) : "digest failed");
    EVP_MD_CTX_free(md);
    fclose(f);
    for (unsigned i = 0; ok && i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", digest[i]);
    return ok ? 0 : -1;
}

int backup_verify(const char *path, char *err, size_t errlen)
{
    char sum_path[4200], want[65] = "", have[65];
    snprintf(sum_path, sizeof sum_path, "%s.sha256", path);
    FILE *f = fopen(sum_path, "r");
    if (!f) {
        snprintf(err, errlen, "no checksum file %s (%s): the dump cannot be verified", sum_path,
                 strerror(errno));
        return -1;
    }
    char line[512];
    int got = fgets(line, sizeof line, f) != NULL;
    fclose(f);
    size_t hexlen = got ? strspn(line, "0123456789abcdefABCDEF") : 0;
    if (hexlen != 64 || (line[64] != ' ' && line[64] != '\t')) {
        snprintf(err, errlen, "%s: not a sha256sum line (expected 64 hex digits, a space, a name)",
                 sum_path);
        return -1;
    }
    for (int i = 0; i < 64; i++)
        want[i] = (char)(line[i] >= 'A' && line[i] <= 'F' ? line[i] + 32 : line[i]);
    want[64] = '\0';
    if (backup_sha256_file(path, have, err, errlen) != 0)
        return -1;
    if (strcmp(have, want) != 0) {
        snprintf(err, errlen,
                 "checksum mismatch: %s has SHA-256 %.12s..., %s says %.12s...: the dump is "
                 "damaged or not the one checksummed",
                 path, have, sum_path, want);
        return -1;
    }
    return 0;
}

int backup_fsync_path(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

int backup_write_atomic(const char *path, const char *data, size_t len, char *err, size_t errlen)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    int ok = f && fwrite(data, 1, len, f) == len && fflush(f) == 0 && fsync(fileno(f)) == 0;
    if (f && fclose(f) != 0)
        ok = 0;
    if (!ok || rename(tmp, path) != 0) {
        snprintf(err, errlen, "writing %s: %s", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* ---- retention ------------------------------------------------------------------- */

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * days_from_civil). */
static int64_t backup_days(int y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* The date of PREFIX_YYYY-MM-DD.dump as days since the epoch, or -1. */
static int64_t backup_file_day(const char *name, const char *prefix)
{
    size_t pl = strlen(prefix);
    int y, m, d, end = 0;
    if (strncmp(name, prefix, pl) != 0 || name[pl] != '_' ||
        sscanf(name + pl + 1, "%4d-%2d-%2d.dump%n", &y, &m, &d, &end) != 3 ||
        name[pl + 1 + (size_t)end] != '\0' || end != 15 || m < 1 || m > 12 || d < 1 || d > 31)
        return -1;
    return backup_days(y, m, d);
}

typedef struct backup_dump {
    char name[256];
    int64_t day;
    int keep;
} backup_dump;

static int backup_newest_first(const void *a, const void *b)
{
    int64_t x = ((const backup_dump *)a)->day, y = ((const backup_dump *)b)->day;
    return (x < y) - (x > y);
}

/* The dumps in the folder, newest first; malloc'd (caller frees), *n set. */
static backup_dump *backup_list(const char *dir, const char *prefix, size_t *n)
{
    DIR *d = opendir(dir);
    if (!d)
        return NULL;
    size_t cap = 64;
    backup_dump *list = malloc(cap * sizeof *list);
    *n = 0;
    struct dirent *e;
    while (list && (e = readdir(d)) != NULL) {
        int64_t day = backup_file_day(e->d_name, prefix);
        if (day < 0 || strlen(e->d_name) >= sizeof list->name)
            continue;
        if (*n == cap) {
            backup_dump *grown = realloc(list, 2 * cap * sizeof *list);
            if (!grown) {
                free(list);
                list = NULL;
                break;
            }
            list = grown, cap *= 2;
        }
        snprintf(list[*n].name, sizeof list[*n].name, "%s", e->d_name);
        list[*n].day = day;
        list[(*n)++].keep = 0;
    }
    closedir(d);
    if (list)
        qsort(list, *n, sizeof *list, backup_newest_first);
    return list;
}

int backup_prune(backup_state *st, purser_ctx *ctx, int64_t *kept, int64_t *deleted)
{
    const backup_config *cfg = &st->cfg;
    size_t n = 0;
    backup_dump *list = backup_list(cfg->dir, cfg->prefix, &n);
    if (!list) {
        st->host->log(ctx, PURSER_LOG_ERROR, "retention: listing %s: %s", cfg->dir,
                      strerror(errno));
        return -1;
    }
    /* daily: the newest keep_daily dumps */
    for (size_t i = 0; i < n && (int64_t)i < cfg->keep_daily; i++)
        list[i].keep = 1;
    /* weekly: the newest dump of each of the keep_weekly newest weeks;
     * (days + 3) / 7 numbers the Monday-to-Sunday weeks (1970-01-01 was a
     * Thursday) */
    int64_t weeks = 0, last_week = INT64_MIN;
    for (size_t i = 0; i < n && weeks < cfg->keep_weekly; i++) {
        int64_t week = (list[i].day + 3 - ((list[i].day + 3) % 7 + 7) % 7) / 7;
        if (week != last_week) {
            list[i].keep = 1;
            last_week = week;
            weeks++;
        }
    }
    *kept = *deleted = 0;
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        if (list[i].keep) {
            (*kept)++;
            continue;
        }
        char path[4400];
        snprintf(path, sizeof path, "%s/%s", cfg->dir, list[i].name);
        if (unlink(path) != 0 && errno != ENOENT) {
            st->host->log(ctx, PURSER_LOG_ERROR, "retention: deleting %s: %s", path,
                          strerror(errno));
            rc = -1;
            continue;
        }
        strcat(path, ".sha256");
        unlink(path);
        st->host->log(ctx, PURSER_LOG_INFO, "retention: deleted %s", list[i].name);
        (*deleted)++;
    }
    free(list);
    return rc;
}
