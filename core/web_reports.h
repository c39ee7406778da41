/* The report folder as the web page shows it: which files are workbooks
 * (NAME_YYYY-MM-DD.EXT, as the plugins name them through
 * host->report_path), their business date and kind, and opening one for
 * download without ever leaving the folder. */
#ifndef PURSER_WEB_REPORTS_H
#define PURSER_WEB_REPORTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct web_report {
    char name[201];           /* the file's name in the folder */
    char date[11];            /* business date, YYYY-MM-DD */
    char kind[128];           /* "Settlement", "Reconciliation: stripe", ... */
    const char *content_type; /* static */
    int64_t size;             /* bytes */
    int64_t mtime;            /* generated (last written), UTC seconds */
} web_report;

/* Is name one plain file name the page may serve: 1 to 200 characters of
 * [A-Za-z0-9._-], not starting with a dot, no ".."? */
bool web_report_name_ok(const char *name);

/* Read a report's name: "settlement_2026-01-02.xlsx" gives date
 * "2026-01-02", kind "Settlement" and its content type. 0, or -1 when the
 * name is not one of a report (wrong pattern, unknown extension, a
 * temporary file). */
int web_report_parse(const char *name, web_report *out);

/* The reports in dir (regular files only, symbolic links left out),
 * newest business date first, then by kind and name. *out is malloc'd
 * (caller frees), *n its length; a folder that does not exist is empty.
 * 0, or -1 with errno when the folder cannot be read. */
int web_reports_list(const char *dir, web_report **out, size_t *n);

/* Open dir/name for reading when name is a report (web_report_name_ok and
 * web_report_parse) of business date `date`, a regular file inside dir,
 * not a symbolic link. On 0, *fd is the open file (the caller closes it)
 * and *info its details; -1 means "not found" for every other case. */
int web_report_open(const char *dir, const char *date, const char *name, int *fd, web_report *info);

#endif
