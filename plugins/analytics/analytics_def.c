/* analytics_def.c: reads report definitions (reports/NAME.yaml) with libyaml
 * into an_def, refusing anything unexpected with FILE:LINE:COL — YAML
 * syntax, unknown or repeated keys (with a suggestion), wrong types, and
 * references to columns a sheet does not have. The database checks (the
 * query itself) are in analytics_sql.c. */
#include <dirent.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xlsxwriter.h>
#include <yaml.h>

#include "analytics.h"

void an_err(an_errs *e, const char *file, an_pos pos, const char *fmt, ...)
{
    char msg[2048], *line = NULL;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (pos.line > 0) {
        if (asprintf(&line, "%s:%d:%d: %s", file, pos.line, pos.col, msg) < 0)
            line = NULL;
    } else if (asprintf(&line, "%s: %s", file, msg) < 0) {
        line = NULL;
    }
    if (!line)
        return;
    if (e->count == e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 8;
        char **items = realloc(e->items, cap * sizeof *items);
        if (!items) {
            free(line);
            return;
        }
        e->items = items;
        e->cap = cap;
    }
    e->items[e->count++] = line;
}

void an_errs_free(an_errs *e)
{
    for (size_t i = 0; i < e->count; i++)
        free(e->items[i]);
    free(e->items);
    memset(e, 0, sizeof *e);
}

static size_t an_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), prev[64], cur[64];
    if (la >= 63 || lb >= 63)
        return 99;
    for (size_t j = 0; j <= lb; j++)
        prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
            size_t del = prev[j] + 1, ins = cur[j - 1] + 1;
            cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
        memcpy(prev, cur, (lb + 1) * sizeof *prev);
    }
    return prev[lb];
}

const char *an_suggest(const char *s, const char *const *names, size_t n)
{
    const char *best = NULL;
    size_t best_d = 3;
    for (size_t i = 0; i < n; i++) {
        size_t d = an_distance(s, names[i]);
        if (d < best_d || (!best && strncmp(s, names[i], strlen(s)) == 0 && *s)) {
            best = names[i];
            best_d = d;
        }
    }
    return best;
}

/* ---- walking the YAML document --------------------------------------------- */

typedef struct an_y {
    const char *file;
    yaml_document_t *doc;
    const char *text; /* the file's bytes, NUL-terminated */
    an_errs *errs;
    int bad;
} an_y;

static an_pos an_mark(const yaml_node_t *n)
{
    return (an_pos){(int)n->start_mark.line + 1, (int)n->start_mark.column + 1};
}

#define AN_ERR(y, node, ...)                                                                       \
    do {                                                                                           \
        an_err((y)->errs, (y)->file, an_mark(node), __VA_ARGS__);                                  \
        (y)->bad = 1;                                                                              \
    } while (0)

static yaml_node_t *an_node(an_y *y, int id)
{
    return yaml_document_get_node(y->doc, id);
}

static const char *an_scalar(const yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

/* Checks that `map` is a mapping of known, unrepeated scalar keys. */
static int an_map_keys(an_y *y, yaml_node_t *map, const char *what, const char *const *keys,
                       size_t nkeys)
{
    if (map->type != YAML_MAPPING_NODE) {
        AN_ERR(y, map, "%s: expected a mapping (key: value)", what);
        return -1;
    }
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = an_node(y, p->key);
        const char *name = an_scalar(k);
        if (!name) {
            AN_ERR(y, k, "%s: keys must be plain names", what);
            continue;
        }
        size_t i = 0;
        while (i < nkeys && strcmp(keys[i], name) != 0)
            i++;
        if (i == nkeys) {
            const char *close = an_suggest(name, keys, nkeys);
            char list[512] = "";
            for (size_t j = 0; j < nkeys; j++)
                snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", j ? ", " : "",
                         keys[j]);
            if (close)
                AN_ERR(y, k, "%s: unknown key '%s' (did you mean '%s'?)", what, name, close);
            else
                AN_ERR(y, k, "%s: unknown key '%s' (valid: %s)", what, name, list);
        }
        for (yaml_node_pair_t *q = map->data.mapping.pairs.start; q < p; q++) {
            const char *other = an_scalar(an_node(y, q->key));
            if (other && strcmp(other, name) == 0) {
                AN_ERR(y, k, "%s: key '%s' given twice (first at line %d)", what, name,
                       an_mark(an_node(y, q->key)).line);
                break;
            }
        }
    }
    return 0;
}

static yaml_node_t *an_get(an_y *y, yaml_node_t *map, const char *key)
{
    if (!map || map->type != YAML_MAPPING_NODE)
        return NULL;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        const char *name = an_scalar(an_node(y, p->key));
        if (name && strcmp(name, key) == 0)
            return an_node(y, p->value);
    }
    return NULL;
}

/* An owned copy of a scalar value, or NULL (with an error if not a scalar). */
static char *an_str(an_y *y, yaml_node_t *map, const char *key, const char *what, int required)
{
    yaml_node_t *n = an_get(y, map, key);
    if (!n) {
        if (required)
            AN_ERR(y, map, "%s: '%s' is required", what, key);
        return NULL;
    }
    const char *s = an_scalar(n);
    if (!s) {
        AN_ERR(y, n, "%s: '%s' must be a single value", what, key);
        return NULL;
    }
    if (required && !*s) {
        AN_ERR(y, n, "%s: '%s' must not be empty", what, key);
        return NULL;
    }
    return strdup(s);
}

static int an_bool(an_y *y, yaml_node_t *map, const char *key, const char *what, int dflt)
{
    yaml_node_t *n = an_get(y, map, key);
    if (!n)
        return dflt;
    const char *s = an_scalar(n);
    static const char *const yes[] = {"true", "yes", "on"}, *const no[] = {"false", "no", "off"};
    for (int i = 0; s && i < 3; i++) {
        if (strcmp(s, yes[i]) == 0)
            return 1;
        if (strcmp(s, no[i]) == 0)
            return 0;
    }
    AN_ERR(y, n, "%s: '%s' must be true or false", what, key);
    return dflt;
}

static int an_number(an_y *y, yaml_node_t *n, const char *what, double *out)
{
    const char *s = an_scalar(n);
    char *end = NULL;
    errno = 0;
    double v = s ? strtod(s, &end) : 0;
    if (!s || !*s || *end || errno) {
        AN_ERR(y, n, "%s: expected a number", what);
        return -1;
    }
    *out = v;
    return 0;
}

/* One name from a list of choices; -1 (and an error) otherwise. */
static int an_choice(an_y *y, yaml_node_t *n, const char *what, const char *const *names, size_t k)
{
    const char *s = an_scalar(n);
    for (size_t i = 0; s && i < k; i++)
        if (strcmp(s, names[i]) == 0)
            return (int)i;
    char list[256] = "";
    for (size_t i = 0; i < k; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", names[i]);
    const char *close = s ? an_suggest(s, names, k) : NULL;
    AN_ERR(y, n, "%s: '%s' is not one of %s%s%s%s", what, s ? s : "(not a value)", list,
           close ? " (did you mean '" : "", close ? close : "", close ? "'?)" : "");
    return -1;
}

/* A list of scalars (a single scalar is a list of one); NULL on error. */
static char **an_names(an_y *y, yaml_node_t *n, const char *what, size_t *count)
{
    *count = 0;
    if (n->type == YAML_SCALAR_NODE) {
        char **v = calloc(1, sizeof *v);
        if (v && (v[0] = strdup(an_scalar(n))))
            *count = 1;
        return v;
    }
    if (n->type != YAML_SEQUENCE_NODE) {
        AN_ERR(y, n, "%s: expected a list of column names", what);
        return NULL;
    }
    size_t k = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    char **v = calloc(k ? k : 1, sizeof *v);
    for (size_t i = 0; v && i < k; i++) {
        yaml_node_t *item = an_node(y, n->data.sequence.items.start[i]);
        const char *s = an_scalar(item);
        if (!s) {
            AN_ERR(y, item, "%s: expected a column name", what);
            continue;
        }
        v[(*count)++] = strdup(s);
    }
    return v;
}

static void an_names_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static size_t an_seq_len(const yaml_node_t *n)
{
    return n && n->type == YAML_SEQUENCE_NODE
               ? (size_t)(n->data.sequence.items.top - n->data.sequence.items.start)
               : 0;
}

static yaml_node_t *an_seq_item(an_y *y, const yaml_node_t *n, size_t i)
{
    return an_node(y, n->data.sequence.items.start[i]);
}

/* ---- the parts of a definition ---------------------------------------------- */

static const char *const an_coltype_names[] = {"text", "integer",  "decimal", "percent",
                                               "date", "datetime", "money"};

const char *an_coltype_name(an_coltype t)
{
    return an_coltype_names[t];
}

static int an_is_ident(const char *s)
{
    if (!s || !((*s >= 'a' && *s <= 'z') || *s == '_'))
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
            return 0;
    return 1;
}

static void an_column_parse(an_y *y, yaml_node_t *n, const char *what, an_column *c)
{
    static const char *const keys[] = {"field",    "header", "type", "currency_field",
                                       "currency", "format", "width"};
    c->idx = c->cur_idx = -1;
    c->pos = an_mark(n);
    if (an_scalar(n)) { /* "- category": the field, everything else by default */
        c->field = strdup(an_scalar(n));
        return;
    }
    if (an_map_keys(y, n, what, keys, 7) != 0)
        return;
    c->field = an_str(y, n, "field", what, 1);
    c->header = an_str(y, n, "header", what, 0);
    c->currency_field = an_str(y, n, "currency_field", what, 0);
    c->currency = an_str(y, n, "currency", what, 0);
    c->format = an_str(y, n, "format", what, 0);
    yaml_node_t *t = an_get(y, n, "type");
    if (t) {
        int k = an_choice(y, t, what, an_coltype_names, 7);
        c->type = k < 0 ? AN_TEXT : (an_coltype)k;
        c->type_given = 1;
    }
    yaml_node_t *w = an_get(y, n, "width");
    if (w && an_number(y, w, what, &c->width) == 0 && (c->width < 1 || c->width > 255))
        AN_ERR(y, w, "%s: width must be 1 .. 255 characters", what);
    if (c->type == AN_MONEY && !!c->currency_field == !!c->currency)
        AN_ERR(y, n,
               "%s: a money column needs exactly one of currency_field (the column "
               "holding each row's currency) or currency (a fixed ISO 4217 code)",
               what);
    if (c->type != AN_MONEY && (c->currency_field || c->currency))
        AN_ERR(y, n, "%s: currency_field and currency apply to type: money only", what);
    if (c->currency &&
        (strlen(c->currency) != 3 || strspn(c->currency, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != 3))
        AN_ERR(y, an_get(y, n, "currency"), "%s: currency '%s' is not an ISO 4217 code (EUR)", what,
               c->currency);
}

static void an_chart_parse(an_y *y, yaml_node_t *n, const char *what, an_chart *ch)
{
    static const char *const keys[] = {"type",  "categories", "values",
                                       "title", "x_title",    "y_title"};
    static const char *const types[] = {"line", "column", "bar", "pie", "scatter"};
    ch->pos = an_mark(n);
    if (an_map_keys(y, n, what, keys, 6) != 0)
        return;
    yaml_node_t *t = an_get(y, n, "type");
    if (!t)
        AN_ERR(y, n, "%s: 'type' is required (line, column, bar, pie or scatter)", what);
    else {
        int k = an_choice(y, t, what, types, 5);
        ch->type = k < 0 ? AN_COLUMN : (an_chart_type)k;
    }
    ch->categories = an_str(y, n, "categories", what, 1);
    ch->title = an_str(y, n, "title", what, 0);
    ch->x_title = an_str(y, n, "x_title", what, 0);
    ch->y_title = an_str(y, n, "y_title", what, 0);
    yaml_node_t *v = an_get(y, n, "values");
    if (!v)
        AN_ERR(y, n, "%s: 'values' is required (the columns to plot)", what);
    else if ((ch->values = an_names(y, v, what, &ch->n_values)) && ch->n_values == 0)
        AN_ERR(y, v, "%s: 'values' names no column", what);
    if (ch->type == AN_PIE && ch->n_values > 1)
        AN_ERR(y, v, "%s: a pie chart shows one series: give one column in 'values'", what);
}

static void an_cond_parse(an_y *y, yaml_node_t *n, const char *what, an_cond *c)
{
    static const char *const keys[] = {"type",  "field",  "fields", "op",
                                       "value", "value2", "style",  "reverse"};
    static const char *const types[] = {"threshold", "data_bar", "heat_map"};
    static const char *const ops[] = {"<", "<=", ">", ">=", "==", "!=", "between"};
    static const int lxw_ops[] = {
        LXW_CONDITIONAL_CRITERIA_LESS_THAN,    LXW_CONDITIONAL_CRITERIA_LESS_THAN_OR_EQUAL_TO,
        LXW_CONDITIONAL_CRITERIA_GREATER_THAN, LXW_CONDITIONAL_CRITERIA_GREATER_THAN_OR_EQUAL_TO,
        LXW_CONDITIONAL_CRITERIA_EQUAL_TO,     LXW_CONDITIONAL_CRITERIA_NOT_EQUAL_TO,
        LXW_CONDITIONAL_CRITERIA_BETWEEN};
    static const char *const styles[] = {"bad", "good", "warn"};
    c->pos = an_mark(n);
    if (an_map_keys(y, n, what, keys, 8) != 0)
        return;
    yaml_node_t *t = an_get(y, n, "type");
    if (!t) {
        AN_ERR(y, n, "%s: 'type' is required (threshold, data_bar or heat_map)", what);
        return;
    }
    int k = an_choice(y, t, what, types, 3);
    c->type = k < 0 ? AN_COND_THRESHOLD : (an_cond_type)k;
    yaml_node_t *f = an_get(y, n, "field"), *fs = an_get(y, n, "fields");
    if (!!f == !!fs)
        AN_ERR(y, n, "%s: give exactly one of 'field' or 'fields'", what);
    else
        c->fields = an_names(y, f ? f : fs, what, &c->n_fields);
    yaml_node_t *op = an_get(y, n, "op"), *v = an_get(y, n, "value"), *v2 = an_get(y, n, "value2");
    yaml_node_t *st = an_get(y, n, "style");
    if (c->type == AN_COND_THRESHOLD) {
        int o = op ? an_choice(y, op, what, ops, 7) : -1;
        if (!op)
            AN_ERR(y, n, "%s: a threshold needs 'op' (<, <=, >, >=, ==, !=, between)", what);
        c->op = o < 0 ? LXW_CONDITIONAL_CRITERIA_LESS_THAN : lxw_ops[o];
        if (!v)
            AN_ERR(y, n, "%s: a threshold needs 'value'", what);
        else
            an_number(y, v, what, &c->value);
        if (o == 6 && !v2)
            AN_ERR(y, n, "%s: 'between' needs 'value2' as well", what);
        else if (v2 && o != 6)
            AN_ERR(y, v2, "%s: 'value2' applies to op: between only", what);
        else if (v2)
            an_number(y, v2, what, &c->value2);
        int s = st ? an_choice(y, st, what, styles, 3) : 0;
        c->style = s < 0 ? 0 : s;
    } else if (op || v || v2 || st) {
        AN_ERR(y,
               op   ? op
               : v  ? v
               : v2 ? v2
                    : st,
               "%s: op, value, value2 and style apply to type: threshold only", what);
    }
    c->reverse = an_bool(y, n, "reverse", what, 0);
}

static void an_param_parse(an_y *y, yaml_node_t *n, const char *what, an_param *p)
{
    static const char *const keys[] = {"name", "type", "default", "description"};
    static const char *const types[] = {"text", "integer",  "decimal",
                                        "date", "datetime", "boolean"};
    p->pos = an_mark(n);
    if (an_map_keys(y, n, what, keys, 4) != 0)
        return;
    p->name = an_str(y, n, "name", what, 1);
    if (p->name && !an_is_ident(p->name))
        AN_ERR(y, an_get(y, n, "name"), "%s: name '%s' must be lower case letters, digits and _",
               what, p->name);
    if (p->name && (!strcmp(p->name, "from") || !strcmp(p->name, "to") || !strcmp(p->name, "date")))
        AN_ERR(y, an_get(y, n, "name"), "%s: ':%s' is built in (the run's period)", what, p->name);
    yaml_node_t *t = an_get(y, n, "type");
    int k = t ? an_choice(y, t, what, types, 6) : 0;
    p->type = k < 0 ? AN_P_TEXT : (an_ptype)k;
    p->default_value = an_str(y, n, "default", what, 0);
    p->description = an_str(y, n, "description", what, 0);
}

int an_col_index(const an_sheet *sh, const char *field)
{
    for (size_t i = 0; i < sh->n_cols; i++)
        if (strcmp(sh->cols[i].field, field) == 0)
            return (int)i;
    return -1;
}

/* Leading spaces of 0-based line `line` of text (the first non-blank line
 * from there: a block may start with empty lines). */
static int an_block_indent(const char *text, int line)
{
    const char *p = text;
    for (int i = 0; i < line && p; i++) {
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    while (p && *p) {
        int n = (int)strspn(p, " ");
        if (p[n] != '\n' && p[n] != '\r')
            return n;
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    return 0;
}

static void an_sheet_parse(an_y *y, yaml_node_t *n, size_t idx, an_sheet *sh)
{
    static const char *const keys[] = {"name",   "description", "query",  "columns",
                                       "totals", "chart",       "charts", "conditional",
                                       "freeze", "autofilter"};
    char what[160];
    snprintf(what, sizeof what, "sheets[%zu]", idx);
    sh->pos = an_mark(n);
    if (an_map_keys(y, n, what, keys, 10) != 0)
        return;
    sh->name = an_str(y, n, "name", what, 1);
    if (sh->name)
        snprintf(what, sizeof what, "sheet '%s'", sh->name);
    sh->description = an_str(y, n, "description", what, 0);
    sh->query = an_str(y, n, "query", what, 1);
    yaml_node_t *q = an_get(y, n, "query");
    if (q && sh->query) {
        sh->query_pos = an_mark(q);
        sh->query_literal = q->data.scalar.style == YAML_LITERAL_SCALAR_STYLE;
        if (sh->query_literal) /* the indentation of the block's first line */
            sh->query_indent = an_block_indent(y->text, (int)q->start_mark.line + 1);
        if (q->data.scalar.style == YAML_SINGLE_QUOTED_SCALAR_STYLE ||
            q->data.scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE)
            sh->query_pos.col++;
    }
    sh->freeze = an_bool(y, n, "freeze", what, 1);
    sh->autofilter = an_bool(y, n, "autofilter", what, 1);
    yaml_node_t *cols = an_get(y, n, "columns");
    if (cols && cols->type != YAML_SEQUENCE_NODE)
        AN_ERR(y, cols, "%s: 'columns' must be a list", what);
    size_t nc = an_seq_len(cols);
    sh->cols = nc ? calloc(nc, sizeof *sh->cols) : NULL;
    for (size_t i = 0; sh->cols && i < nc; i++) {
        char w[200];
        snprintf(w, sizeof w, "%s: columns[%zu]", what, i);
        an_column_parse(y, an_seq_item(y, cols, i), w, &sh->cols[sh->n_cols++]);
        an_column *c = &sh->cols[sh->n_cols - 1];
        if (c->field && an_col_index(sh, c->field) != (int)sh->n_cols - 1)
            AN_ERR(y, an_seq_item(y, cols, i), "%s: column '%s' listed twice", w, c->field);
    }
    yaml_node_t *tot = an_get(y, n, "totals");
    if (tot) {
        sh->totals_pos = an_mark(tot);
        sh->totals = an_names(y, tot, what, &sh->n_totals);
    }
    yaml_node_t *ch = an_get(y, n, "chart"), *chs = an_get(y, n, "charts");
    if (ch && chs)
        AN_ERR(y, chs, "%s: give 'chart' (one) or 'charts' (a list), not both", what);
    else if (chs && chs->type != YAML_SEQUENCE_NODE)
        AN_ERR(y, chs, "%s: 'charts' must be a list", what);
    size_t nch = ch ? 1 : an_seq_len(chs);
    sh->charts = nch ? calloc(nch, sizeof *sh->charts) : NULL;
    for (size_t i = 0; sh->charts && i < nch; i++) {
        char w[200];
        snprintf(w, sizeof w, "%s: chart%s", what, ch ? "" : "s[]");
        an_chart_parse(y, ch ? ch : an_seq_item(y, chs, i), w, &sh->charts[sh->n_charts++]);
    }
    yaml_node_t *cf = an_get(y, n, "conditional");
    if (cf && cf->type != YAML_SEQUENCE_NODE)
        AN_ERR(y, cf, "%s: 'conditional' must be a list", what);
    size_t ncf = an_seq_len(cf);
    sh->conds = ncf ? calloc(ncf, sizeof *sh->conds) : NULL;
    for (size_t i = 0; sh->conds && i < ncf; i++) {
        char w[200];
        snprintf(w, sizeof w, "%s: conditional[%zu]", what, i);
        an_cond_parse(y, an_seq_item(y, cf, i), w, &sh->conds[sh->n_conds++]);
    }
}

/* Sheet names Excel accepts: 1..31 characters, none of []:*?/\ . */
static void an_sheet_name_check(an_y *y, yaml_node_t *n, const an_sheet *sh, const an_def *d,
                                size_t idx)
{
    if (!sh->name)
        return;
    yaml_node_t *at = an_get(y, n, "name");
    if (strlen(sh->name) > 31 || strpbrk(sh->name, "[]:*?/\\") || sh->name[0] == '\'' ||
        sh->name[strlen(sh->name) - 1] == '\'')
        AN_ERR(y, at,
               "sheet '%s': Excel sheet names are at most 31 characters, without "
               "[ ] : * ? / \\ and not quoted",
               sh->name);
    if (strcasecmp(sh->name, "Cover") == 0)
        AN_ERR(y, at, "sheet '%s': the name 'Cover' is taken by the cover sheet", sh->name);
    for (size_t i = 0; i < idx; i++)
        if (d->sheets[i].name && strcasecmp(d->sheets[i].name, sh->name) == 0)
            AN_ERR(y, at, "sheet '%s': two sheets have this name", sh->name);
}

static void an_def_parse(an_y *y, yaml_node_t *root, an_def *d)
{
    static const char *const keys[] = {"report", "title",      "description", "version",
                                       "period", "parameters", "sheets"};
    static const char *const periods[] = {"day", "week", "month"};
    if (an_map_keys(y, root, "definition", keys, 7) != 0)
        return;
    d->report = an_str(y, root, "report", "definition", 1);
    if (d->report) {
        const char *s = d->report;
        int ok = (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9');
        for (; ok && *s; s++)
            ok = (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-' || *s == '_';
        if (!ok || strlen(d->report) > 64)
            AN_ERR(y, an_get(y, root, "report"),
                   "report: '%s' must be lower case letters, digits, - and _ (it names the "
                   "workbook file)",
                   d->report);
    }
    d->title = an_str(y, root, "title", "definition", 0);
    d->description = an_str(y, root, "description", "definition", 0);
    d->version = an_str(y, root, "version", "definition", 0);
    yaml_node_t *p = an_get(y, root, "period");
    int k = p ? an_choice(y, p, "period", periods, 3) : 0;
    d->period = k < 0 ? AN_DAY : (an_period)k;
    yaml_node_t *prm = an_get(y, root, "parameters");
    if (prm && prm->type != YAML_SEQUENCE_NODE)
        AN_ERR(y, prm, "parameters: expected a list of {name, type, default}");
    size_t np = an_seq_len(prm);
    d->params = np ? calloc(np, sizeof *d->params) : NULL;
    for (size_t i = 0; d->params && i < np; i++) {
        char w[64];
        snprintf(w, sizeof w, "parameters[%zu]", i);
        an_param_parse(y, an_seq_item(y, prm, i), w, &d->params[d->n_params++]);
        for (size_t j = 0; j + 1 < d->n_params; j++)
            if (d->params[j].name && d->params[i].name &&
                strcmp(d->params[j].name, d->params[i].name) == 0)
                AN_ERR(y, an_seq_item(y, prm, i), "%s: parameter '%s' declared twice", w,
                       d->params[i].name);
    }
    yaml_node_t *sheets = an_get(y, root, "sheets");
    if (!sheets || sheets->type != YAML_SEQUENCE_NODE || an_seq_len(sheets) == 0) {
        AN_ERR(y, sheets ? sheets : root, "sheets: a non-empty list of sheets is required");
        return;
    }
    size_t ns = an_seq_len(sheets);
    if (!(d->sheets = calloc(ns, sizeof *d->sheets)))
        return;
    for (size_t i = 0; i < ns; i++) {
        yaml_node_t *n = an_seq_item(y, sheets, i);
        an_sheet_parse(y, n, i, &d->sheets[d->n_sheets++]);
        an_sheet_name_check(y, n, &d->sheets[i], d, i);
    }
}

/* ---- references between the parts of a sheet --------------------------------- */

static int an_numeric(an_coltype t)
{
    return t == AN_INTEGER || t == AN_DECIMAL || t == AN_PERCENT || t == AN_MONEY;
}

/* Totals, charts and conditional formats name columns of the sheet, of
 * suitable types. Used on listed columns at load and on the result's
 * columns at run/check when the sheet lists none. */
int an_check_refs(const an_def *d, const an_sheet *sh, an_errs *errs)
{
    size_t before = errs->count;
    const char *names[256];
    size_t nn = 0;
    for (size_t i = 0; i < sh->n_cols && nn < 256; i++)
        names[nn++] = sh->cols[i].field;
#define AN_REF(field, pos, what, need_num)                                                         \
    do {                                                                                           \
        int c_ = an_col_index(sh, field);                                                          \
        const char *close_ = c_ < 0 ? an_suggest(field, names, nn) : NULL;                         \
        if (c_ < 0)                                                                                \
            an_err(errs, d->path, pos, "sheet '%s': %s: no column '%s'%s%s%s", sh->name, what,     \
                   field, close_ ? " (did you mean '" : "", close_ ? close_ : "",                  \
                   close_ ? "'?)" : "");                                                           \
        else if ((need_num) && !an_numeric(sh->cols[c_].type))                                     \
            an_err(errs, d->path, pos, "sheet '%s': %s: column '%s' is %s, not a number",          \
                   sh->name, what, field, an_coltype_name(sh->cols[c_].type));                     \
    } while (0)
    const char *money_cur = NULL;
    for (size_t i = 0; i < sh->n_totals; i++) {
        AN_REF(sh->totals[i], sh->totals_pos, "totals", 1);
        int c = an_col_index(sh, sh->totals[i]);
        if (c >= 0 && sh->cols[c].type == AN_PERCENT)
            an_err(errs, d->path, sh->totals_pos,
                   "sheet '%s': totals: '%s' is a percent; a sum of rates means nothing "
                   "(total its numerator and denominator instead)",
                   sh->name, sh->totals[i]);
        if (c >= 0 && sh->cols[c].type == AN_MONEY && sh->cols[c].currency_field) {
            if (money_cur && strcmp(money_cur, sh->cols[c].currency_field) != 0)
                an_err(errs, d->path, sh->totals_pos,
                       "sheet '%s': totals: money columns with different currency fields (%s, "
                       "%s) cannot share total rows",
                       sh->name, money_cur, sh->cols[c].currency_field);
            money_cur = sh->cols[c].currency_field;
        }
    }
    for (size_t i = 0; i < sh->n_charts; i++) {
        const an_chart *ch = &sh->charts[i];
        if (ch->categories)
            AN_REF(ch->categories, ch->pos, "chart categories", ch->type == AN_SCATTER);
        for (size_t v = 0; v < ch->n_values; v++)
            AN_REF(ch->values[v], ch->pos, "chart values", 1);
    }
    for (size_t i = 0; i < sh->n_conds; i++)
        for (size_t f = 0; f < sh->conds[i].n_fields; f++)
            AN_REF(sh->conds[i].fields[f], sh->conds[i].pos, "conditional", 1);
#undef AN_REF
    return errs->count == before ? 0 : -1;
}

/* ---- files -------------------------------------------------------------------- */

static char *an_read_file(const char *path, size_t *len, an_errs *errs)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        an_err(errs, path, (an_pos){0, 0}, "cannot read: %s", strerror(errno));
        return NULL;
    }
    size_t cap = 8192, n = 0;
    char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (n + 1 == cap) {
            char *b = realloc(buf, cap *= 2);
            if (!b) {
                free(buf);
                buf = NULL;
            } else {
                buf = b;
            }
        }
    }
    fclose(f);
    if (buf)
        buf[n] = '\0';
    *len = n;
    return buf;
}

static void an_sha256(const char *data, size_t len, char hex[65])
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    hex[0] = '\0';
    if (EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) != 1)
        return;
    for (unsigned i = 0; i < mdlen && i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

int an_def_load(const char *path, an_def *d, an_errs *errs)
{
    memset(d, 0, sizeof *d);
    d->path = strdup(path);
    size_t before = errs->count, len = 0;
    char *text = an_read_file(path, &len, errs);
    if (!text)
        return -1;
    an_sha256(text, len, d->sha256);
    yaml_parser_t parser;
    yaml_document_t doc;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &doc)) {
        an_pos pos = {(int)parser.problem_mark.line + 1, (int)parser.problem_mark.column + 1};
        an_err(errs, path, pos, "YAML: %s%s%s", parser.problem ? parser.problem : "syntax error",
               parser.context ? " " : "", parser.context ? parser.context : "");
        yaml_parser_delete(&parser);
        free(text);
        return -1;
    }
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    an_y y = {path, &doc, text, errs, 0};
    if (!root)
        an_err(errs, path, (an_pos){1, 1}, "empty file: expected a report definition");
    else
        an_def_parse(&y, root, d);
    for (size_t i = 0; !y.bad && i < d->n_sheets; i++)
        if (d->sheets[i].n_cols)
            an_check_refs(d, &d->sheets[i], errs);
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    free(text);
    d->valid = errs->count == before;
    return d->valid ? 0 : -1;
}

static int an_yaml_name(const struct dirent *e)
{
    size_t n = strlen(e->d_name);
    return e->d_name[0] != '.' && ((n > 5 && strcmp(e->d_name + n - 5, ".yaml") == 0) ||
                                   (n > 4 && strcmp(e->d_name + n - 4, ".yml") == 0));
}

int an_defs_load_dir(const char *dir, an_defs *defs, an_errs *errs)
{
    memset(defs, 0, sizeof *defs);
    struct dirent **list = NULL;
    int n = scandir(dir, &list, an_yaml_name, alphasort);
    if (n < 0) {
        an_err(errs, dir, (an_pos){0, 0},
               "cannot read the report folder: %s (set plugins.analytics.reports_dir)",
               strerror(errno));
        return -1;
    }
    defs->items = calloc(n ? (size_t)n : 1, sizeof *defs->items);
    for (int i = 0; i < n; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, list[i]->d_name);
        if (defs->items) {
            an_def_load(path, &defs->items[defs->count], errs);
            an_def *d = &defs->items[defs->count++];
            for (size_t k = 0; d->report && k + 1 < defs->count; k++)
                if (defs->items[k].report && strcmp(defs->items[k].report, d->report) == 0) {
                    an_err(errs, path, (an_pos){1, 1},
                           "report '%s' is also defined in %s: report names must be unique",
                           d->report, defs->items[k].path);
                    d->valid = 0;
                }
        }
        free(list[i]);
    }
    free(list);
    return defs->items ? 0 : -1;
}

static void an_sheet_free(an_sheet *sh)
{
    free(sh->name);
    free(sh->description);
    free(sh->query);
    for (size_t i = 0; i < sh->n_cols; i++) {
        an_column *c = &sh->cols[i];
        free(c->field);
        free(c->header);
        free(c->currency_field);
        free(c->currency);
        free(c->format);
    }
    free(sh->cols);
    an_names_free(sh->totals, sh->n_totals);
    for (size_t i = 0; i < sh->n_charts; i++) {
        an_chart *ch = &sh->charts[i];
        free(ch->categories);
        free(ch->title);
        free(ch->x_title);
        free(ch->y_title);
        an_names_free(ch->values, ch->n_values);
    }
    free(sh->charts);
    for (size_t i = 0; i < sh->n_conds; i++)
        an_names_free(sh->conds[i].fields, sh->conds[i].n_fields);
    free(sh->conds);
}

void an_def_free(an_def *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->n_sheets; i++)
        an_sheet_free(&d->sheets[i]);
    free(d->sheets);
    for (size_t i = 0; i < d->n_params; i++) {
        free(d->params[i].name);
        free(d->params[i].default_value);
        free(d->params[i].description);
    }
    free(d->params);
    free(d->path);
    free(d->report);
    free(d->title);
    free(d->description);
    free(d->version);
    memset(d, 0, sizeof *d);
}

void an_defs_free(an_defs *defs)
{
    for (size_t i = 0; i < defs->count; i++)
        an_def_free(&defs->items[i]);
    free(defs->items);
    memset(defs, 0, sizeof *defs);
}
