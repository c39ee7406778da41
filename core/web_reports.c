/* Listing the report folder and opening one of its files safely: names
 * are checked character by character, the file is opened relative to the
 * folder with O_NOFOLLOW, and only regular files are served. */
#include "web_reports.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

static const struct {
    const char *ext;
    const char *type;
} web_report_types[] = {
    {"xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
    {"geojson", "application/geo+json"},
    {"csv", "text/csv; charset=utf-8"},
    {"txt", "text/plain; charset=utf-8"},
    {"pdf", "application/pdf"},
};

bool web_report_name_ok(const char *name)
{
    size_t len = strlen(name);
    if (len == 0 || len > 200 || name[0] == '.' || strstr(name, ".."))
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

static bool web_is_date(const char *s)
{
    static const char shape[] = "dddd-dd-dd";
    for (size_t i = 0; i < 10; i++)
        if (shape[i] == 'd' ? !(s[i] >= '0' && s[i] <= '9') : s[i] != '-')
            return false;
    return true;
}

/* The kind of a report from the part of its name before the date. */
static void web_report_kind(const char *stem, size_t len, const char *ext, web_report *out)
{
    static const struct {
        const char *stem;
        const char *kind;
    } fixed[] = {{"settlement", "Settlement"},
                 {"routes", "Routes"},
                 {"inventory", "Inventory"},
                 {"loyalty", "Loyalty"}};
    for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++)
        if (strlen(fixed[i].stem) == len && strncmp(stem, fixed[i].stem, len) == 0) {
            snprintf(out->kind, sizeof out->kind, "%s", fixed[i].kind);
            return;
        }
    static const char recon[] = "reconciliation_";
    if (len > sizeof recon - 1 && strncmp(stem, recon, sizeof recon - 1) == 0) {
        snprintf(out->kind, sizeof out->kind, "Reconciliation: %.*s",
                 (int)(len - (sizeof recon - 1)), stem + sizeof recon - 1);
        return;
    }
    /* analytics names its workbooks after the report (the reports folder YAML) */
    snprintf(out->kind, sizeof out->kind, "%s: %.*s",
             strcmp(ext, "xlsx") == 0 ? "Analytics" : "Other", (int)len, stem);
}

int web_report_parse(const char *name, web_report *out)
{
    memset(out, 0, sizeof *out);
    if (!web_report_name_ok(name))
        return -1;
    const char *dot = strrchr(name, '.');
    /* NAME_YYYY-MM-DD.EXT: at least one character of NAME */
    if (!dot || dot - name < 12 || dot[-11] != '_' || !web_is_date(dot - 10))
        return -1;
    for (size_t i = 0; i < sizeof web_report_types / sizeof *web_report_types; i++)
        if (strcmp(dot + 1, web_report_types[i].ext) == 0)
            out->content_type = web_report_types[i].type;
    if (!out->content_type)
        return -1;
    snprintf(out->name, sizeof out->name, "%s", name);
    snprintf(out->date, sizeof out->date, "%.10s", dot - 10);
    web_report_kind(name, (size_t)(dot - 11 - name), dot + 1, out);
    return 0;
}

static int web_report_cmp(const void *a, const void *b)
{
    const web_report *x = a, *y = b;
    int c = strcmp(y->date, x->date);
    if (c == 0)
        c = strcmp(x->kind, y->kind);
    return c ? c : strcmp(x->name, y->name);
}

int web_reports_list(const char *dir, web_report **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? 0 : -1;
    size_t cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        web_report r;
        struct stat st;
        if (web_report_parse(e->d_name, &r) != 0 ||
            fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
            continue;
        r.size = (int64_t)st.st_size;
        r.mtime = (int64_t)st.st_mtime;
        if (*n == cap) {
            cap = cap ? cap * 2 : 64;
            *out = xrealloc(*out, cap * sizeof **out);
        }
        (*out)[(*n)++] = r;
    }
    closedir(d);
    if (*n)
        qsort(*out, *n, sizeof **out, web_report_cmp);
    return 0;
}

int web_report_open(const char *dir, const char *date, const char *name, int *fd, web_report *info)
{
    *fd = -1;
    if (!date || !name || web_report_parse(name, info) != 0 || strcmp(info->date, date) != 0)
        return -1;
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return -1;
    int f = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    close(dfd);
    struct stat st;
    if (f < 0 || fstat(f, &st) != 0 || !S_ISREG(st.st_mode)) {
        if (f >= 0)
            close(f);
        return -1;
    }
    info->size = (int64_t)st.st_size;
    info->mtime = (int64_t)st.st_mtime;
    *fd = f;
    return 0;
}
