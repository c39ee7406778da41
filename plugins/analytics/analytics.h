/* analytics.h: the analytics plugin's internal types — report definitions
 * read from reports/NAME.yaml (analytics_def.c), their SQL with :name
 * parameters bound as $n (analytics_sql.c) and the workbook they render
 * into (analytics_xlsx.c). Nothing here is seen by the host. */
#ifndef ANALYTICS_H
#define ANALYTICS_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#include "purser/plugin.h"

/* A position in a definition file, 1-based (0: unknown). */
typedef struct an_pos {
    int line, col;
} an_pos;

/* The problems found in definitions: "FILE:LINE:COL: message" lines. */
typedef struct an_errs {
    char **items;
    size_t count, cap;
} an_errs;

void an_err(an_errs *e, const char *file, an_pos pos, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void an_errs_free(an_errs *e);

typedef enum an_coltype {
    AN_TEXT = 0,
    AN_INTEGER,
    AN_DECIMAL,
    AN_PERCENT,
    AN_DATE,
    AN_DATETIME,
    AN_MONEY,
} an_coltype;

typedef struct an_column {
    char *field;          /* result column name */
    char *header;         /* shown in row 1 (default: the field) */
    an_coltype type;      /* default: from the result's SQL type */
    int type_given;       /* type: was written */
    char *currency_field; /* money: result column holding the ISO 4217 code */
    char *currency;       /* money: a fixed currency instead */
    char *format;         /* Excel number format overriding the type's */
    double width;         /* 0: from the header */
    an_pos pos;
    int idx, cur_idx; /* at run: result column, currency column (-1) */
} an_column;

typedef enum an_chart_type { AN_LINE, AN_COLUMN, AN_BAR, AN_PIE, AN_SCATTER } an_chart_type;

typedef struct an_chart {
    an_chart_type type;
    char *categories; /* field on the x axis (pie: slices) */
    char **values;    /* one series each */
    size_t n_values;
    char *title, *x_title, *y_title;
    an_pos pos;
} an_chart;

typedef enum an_cond_type { AN_COND_THRESHOLD, AN_COND_DATA_BAR, AN_COND_HEAT_MAP } an_cond_type;

typedef struct an_cond {
    an_cond_type type;
    char **fields;
    size_t n_fields;
    int op;               /* threshold: an LXW_CONDITIONAL_CRITERIA_* */
    double value, value2; /* threshold: value (and value2 for between) */
    int style;            /* threshold: 0 bad, 1 good, 2 warn */
    int reverse;          /* heat map: high values red instead of green */
    an_pos pos;
} an_cond;

typedef struct an_sheet {
    char *name;
    char *description;
    char *query;
    an_pos query_pos;  /* where the query text starts */
    int query_literal; /* a | block: line i of the query is file line query_pos.line + 1 + i */
    int query_indent;  /* a | block: the columns its lines are indented by */
    an_column *cols;   /* NULL with n_cols 0: every result column, typed by SQL */
    size_t n_cols;
    char **totals;
    size_t n_totals;
    an_pos totals_pos;
    an_chart *charts;
    size_t n_charts;
    an_cond *conds;
    size_t n_conds;
    int freeze, autofilter;
    an_pos pos;
} an_sheet;

typedef enum an_ptype {
    AN_P_TEXT,
    AN_P_INTEGER,
    AN_P_DECIMAL,
    AN_P_DATE,
    AN_P_DATETIME,
    AN_P_BOOL
} an_ptype;

typedef struct an_param {
    char *name;
    an_ptype type;
    char *default_value; /* NULL: the run must give it (args.NAME) */
    char *description;
    an_pos pos;
} an_param;

typedef enum an_period { AN_DAY, AN_WEEK, AN_MONTH } an_period;

typedef struct an_def {
    char *path;   /* as read */
    char *report; /* [a-z0-9][a-z0-9_-]*: the file name's stem of the workbook */
    char *title, *description, *version;
    an_period period;
    an_param *params;
    size_t n_params;
    an_sheet *sheets;
    size_t n_sheets;
    char sha256[65]; /* of the file's bytes */
    int valid;       /* no structural error */
} an_def;

typedef struct an_defs {
    an_def *items;
    size_t count;
} an_defs;

/* analytics_def.c: read one file / every *.yaml of a folder (sorted).
 * Problems go to errs; a def that has any gets valid = 0. */
int an_def_load(const char *path, an_def *def, an_errs *errs);
int an_defs_load_dir(const char *dir, an_defs *defs, an_errs *errs);
void an_def_free(an_def *def);
void an_defs_free(an_defs *defs);
const char *an_coltype_name(an_coltype t);
/* The index of the sheet's column named field, or -1. */
int an_col_index(const an_sheet *sh, const char *field);
/* Totals, charts and conditional formats name columns of the sheet of
 * suitable types; 0 or -1 with the problems in errs. */
int an_check_refs(const an_def *d, const an_sheet *sh, an_errs *errs);
/* The closest of n names to s (edit distance <= 2 or a prefix), or NULL. */
const char *an_suggest(const char *s, const char *const *names, size_t n);

/* analytics_sql.c ------------------------------------------------------ */

/* The values bound to a report's parameters for one run or check. */
typedef struct an_bind {
    char from[32], to[32], date[16]; /* timestamptz text in the session zone, date */
    const an_def *def;
    const char **values; /* per def->params, borrowed */
} an_bind;

/* A query with :name rewritten to $1..$n. */
typedef struct an_query {
    char *sql;
    size_t *map; /* byte of sql -> byte of the original query */
    size_t len;
    const char **names; /* of $1..$n, borrowed from the bind or statics */
    Oid *types;
    const char **values;
    int n;
} an_query;

/* Rewrites the sheet's query; on an unknown :name, a $1 or an unterminated
 * quote, an error at the query's file position. */
int an_query_build(const an_def *def, const an_sheet *sh, const an_bind *b, an_query *q,
                   an_errs *errs);
void an_query_free(an_query *q);
/* The file position of byte `off` of the sheet's query text. */
an_pos an_query_pos(const an_def *def, const an_sheet *sh, size_t off);
/* Logs a libpq error of the sheet's query at its file position (the
 * server's error position mapped back through the rewrite). */
void an_query_error(const an_def *def, const an_sheet *sh, const an_query *q, PGresult *r,
                    const char *what, an_errs *errs);
/* from/to/date of the period holding the business date; -1 on a bad date. */
int an_period_bounds(an_period p, const char *date, an_bind *b, char *from_date, char *to_date);
/* BEGIN a read-only repeatable-read transaction with statement_timeout
 * TimeZone and jit set locally. 0 or -1 (message in err). */
int an_tx_begin(PGconn *db, int64_t timeout_ms, int jit, const char *tz, char *err, size_t len);
void an_tx_end(PGconn *db);
/* Matches the result description to the sheet's columns: sets idx and
 * cur_idx, types of the automatic columns; errors name the field. */
int an_match_columns(const an_def *def, an_sheet *sh, const PGresult *desc, an_errs *errs);
/* The full database check of one valid definition: prepare, describe,
 * columns, EXPLAIN, and no statement that writes. */
int an_check_db(PGconn *db, an_def *def, const an_bind *b, int64_t timeout_ms, int jit,
                an_errs *errs);

/* analytics_xlsx.c ----------------------------------------------------- */
typedef struct an_render {
    const purser_host *host;
    purser_ctx *ctx;
    PGconn *db;
    an_def *def; /* its sheets get their result columns */
    const an_bind *bind;
    const char *from_date, *to_date; /* inclusive dates shown on the cover */
    const char *timezone;
    const char *plugin_version;
    int64_t run_id;
    int64_t timeout_ms;
    int jit;
    const char *path; /* final path; written to tmp then renamed */
    const char *tmp;
    long rows_total; /* out */
} an_render;

purser_status an_render_report(an_render *r, an_errs *errs);

#endif
