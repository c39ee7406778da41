/* Configuration validation: a map of the tree is checked against a table of
 * declared keys (purser_config_key, '*' matching any one segment) for
 * unknown keys with a suggestion, value types, and required keys. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Deeper than the loader lets maps nest, so any loaded tree fits. */
#define CFG_MAX_SEGS 80

/* A segment of a dotted path: n bytes at s, not NUL-terminated. */
typedef struct cfg_seg {
    const char *s;
    size_t n;
} cfg_seg;

typedef struct cfg_check {
    const cfg_doc *doc;
    const char *prefix;
    const purser_config_key *keys; /* never NULL: an empty table instead */
    char *err;
    size_t errlen;
    cfg_seg path[CFG_MAX_SEGS]; /* path from the validated map to the entry */
} cfg_check;

static int cfg_fail(const cfg_check *c, int line, int col, const char *fmt, ...)
    PURSER_PRINTF(4, 5);
static int cfg_fail(const cfg_check *c, int line, int col, const char *fmt, ...)
{
    if (!c->err || c->errlen == 0)
        return -1;
    int n =
        snprintf(c->err, c->errlen, "%s:%d:%d: ", c->doc ? c->doc->path : "<config>", line, col);
    if (n >= 0 && (size_t)n < c->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* "prefix" + the n segments of the path + ("." rest), for messages. */
static void cfg_path_name(const cfg_check *c, size_t n, const char *rest, char *buf, size_t len)
{
    size_t used = (size_t)snprintf(buf, len, "%s", c->prefix);
    for (size_t i = 0; i < n && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, "%s%.*s", i ? "." : "", (int)c->path[i].n,
                                 c->path[i].s);
    if (rest && used < len)
        snprintf(buf + used, len - used, "%s%s", n ? "." : "", rest);
}

/* Does `declared` match the n segments of `path`: exactly (more == false)
 * or as a proper prefix (more == true, the declared key goes deeper)? */
static bool cfg_declared_matches(const char *declared, const cfg_seg *path, size_t n, bool more)
{
    const char *d = declared;
    for (size_t i = 0; i < n; i++) {
        if (i > 0) {
            if (*d != '.')
                return false;
            d++;
        }
        size_t len = strcspn(d, ".");
        bool star = len == 1 && d[0] == '*';
        if (!star && (len != path[i].n || strncmp(d, path[i].s, len) != 0))
            return false;
        if (len == 0 || path[i].n == 0)
            return false;
        d += len;
    }
    return more ? (*d == '.' && n > 0) || (n == 0 && *d != '\0') : *d == '\0';
}

/* First declared key spelled exactly like the path, else the first that
 * matches it through '*' segments. */
static const purser_config_key *cfg_lookup_segs(const purser_config_key *keys, const cfg_seg *path,
                                                size_t n)
{
    const purser_config_key *wild = NULL;
    for (const purser_config_key *k = keys; k->key; k++) {
        if (!cfg_declared_matches(k->key, path, n, false))
            continue;
        if (!strchr(k->key, '*'))
            return k;
        if (!wild)
            wild = k;
    }
    return wild;
}

static bool cfg_is_inner(const purser_config_key *keys, const cfg_seg *path, size_t n)
{
    for (const purser_config_key *k = keys; k->key; k++)
        if (cfg_declared_matches(k->key, path, n, true))
            return true;
    return false;
}

const purser_config_key *cfg_key_lookup(const purser_config_key *keys, const char *dotted)
{
    cfg_seg path[CFG_MAX_SEGS];
    size_t n = 0;
    if (!keys || !dotted)
        return NULL;
    for (const char *s = dotted;; s++) {
        if (n == CFG_MAX_SEGS)
            return NULL;
        path[n].s = s;
        path[n].n = strcspn(s, ".");
        s += path[n++].n;
        if (*s == '\0')
            break;
    }
    return cfg_lookup_segs(keys, path, n);
}

/* Edit distance (insertions, deletions, substitutions), or SIZE_MAX when
 * out of memory. */
static size_t cfg_levenshtein(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    size_t *row = malloc((lb + 1) * sizeof *row);
    if (!row)
        return SIZE_MAX;
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    size_t d = row[lb];
    free(row);
    return d;
}

/* Close enough means at most max(2, len/3) edits, and fewer edits than the
 * word has letters (so "ab" never suggests "xy"). */
const char *cfg_suggest(const char *word, const char *const *candidates, size_t n)
{
    if (!word || !candidates)
        return NULL;
    size_t len = strlen(word);
    size_t limit = len / 3 > 2 ? len / 3 : 2;
    const char *best = NULL;
    size_t best_d = SIZE_MAX;
    for (size_t i = 0; i < n; i++) {
        if (!candidates[i])
            continue;
        size_t d = cfg_levenshtein(word, candidates[i]);
        if (d < best_d && d <= limit && d < len) {
            best = candidates[i];
            best_d = d;
        }
    }
    return best;
}

/* An unquoted null, ~ or nothing at all: the key is there but unset. */
static bool cfg_is_null(const cfg_node *node)
{
    if (node->kind != CFG_SCALAR)
        return false;
    if (!node->value)
        return true;
    if (!node->plain)
        return false;
    const char *v = node->value;
    return !*v || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") || !strcmp(v, "NULL");
}

/* "a map", "a list" or the quoted value, shortened, for "found ...". */
static void cfg_found(const cfg_node *node, char *buf, size_t len)
{
    if (node->kind == CFG_MAP)
        snprintf(buf, len, "a map");
    else if (node->kind == CFG_SEQ)
        snprintf(buf, len, "a list");
    else if (strlen(node->value) > 40)
        snprintf(buf, len, "'%.37s...'", node->value);
    else
        snprintf(buf, len, "'%s'", node->value);
}

static const char *cfg_expected(purser_cfg_type type)
{
    switch (type) {
    case PURSER_CFG_INT:
        return "an integer";
    case PURSER_CFG_BOOL:
        return "true or false";
    case PURSER_CFG_DURATION:
        return "a duration like 30s, 5m, 2h";
    case PURSER_CFG_SIZE:
        return "a size like 64k, 1MiB";
    case PURSER_CFG_LIST:
        return "a list";
    default:
        return "a value";
    }
}

static int cfg_type_error(const cfg_check *c, const cfg_node *node, size_t n, const char *want)
{
    char name[512], found[64];
    cfg_path_name(c, n, NULL, name, sizeof name);
    cfg_found(node, found, sizeof found);
    return cfg_fail(c, node->line, node->col, "key '%s': expected %s, found %s", name, want, found);
}

static bool cfg_scalar_fits(const char *text, purser_cfg_type type)
{
    int64_t i;
    int b;
    switch (type) {
    case PURSER_CFG_INT:
        return cfg_parse_int(text, &i) == 0;
    case PURSER_CFG_BOOL:
        return cfg_parse_bool(text, &b) == 0;
    case PURSER_CFG_DURATION:
        return cfg_parse_duration_ms(text, &i) == 0;
    case PURSER_CFG_SIZE:
        return cfg_parse_size(text, &i) == 0;
    default:
        return true;
    }
}

static int cfg_check_type(const cfg_check *c, const cfg_node *node, const purser_config_key *k,
                          size_t n)
{
    if (cfg_is_null(node))
        return 0;
    if (k->type == PURSER_CFG_LIST) {
        if (node->kind != CFG_SEQ)
            return cfg_type_error(c, node, n, "a list");
        for (const cfg_node *item = node->child; item; item = item->next)
            if (item->kind != CFG_SCALAR)
                return cfg_type_error(c, item, n, "a list of values");
        return 0;
    }
    if (node->kind != CFG_SCALAR || !cfg_scalar_fits(node->value, k->type))
        return cfg_type_error(c, node, n, cfg_expected(k->type));
    return 0;
}

/* Names a declared key allows after the n segments of the path, in table
 * order without repeats; malloc'd array of malloc'd strings. */
static char **cfg_names_at(const cfg_check *c, size_t n, size_t *count)
{
    size_t total = 0;
    for (const purser_config_key *k = c->keys; k->key; k++)
        total++;
    char **names = calloc(total + 1, sizeof *names);
    *count = 0;
    if (!names)
        return NULL;
    for (const purser_config_key *k = c->keys; k->key; k++) {
        if (n > 0 && !cfg_declared_matches(k->key, c->path, n, true))
            continue;
        const char *seg = k->key;
        for (size_t i = 0; i < n; i++)
            seg += strcspn(seg, ".") + 1;
        size_t len = strcspn(seg, ".");
        bool seen = len == 1 && seg[0] == '*';
        for (size_t i = 0; i < *count && !seen; i++)
            seen = strncmp(names[i], seg, len) == 0 && names[i][len] == '\0';
        if (!seen && (names[*count] = strndup(seg, len)) != NULL)
            (*count)++;
    }
    return names;
}

static void cfg_free_names(char **names, size_t count)
{
    for (size_t i = 0; i < count; i++)
        free(names[i]);
    free(names);
}

static int cfg_unknown(const cfg_check *c, const cfg_node *node, size_t n)
{
    char name[512], hint[512];
    size_t count = 0;
    char **names = cfg_names_at(c, n - 1, &count);
    const char *guess = cfg_suggest(node->key, (const char *const *)names, count);
    if (guess) {
        snprintf(hint, sizeof hint, "did you mean '%s'?", guess);
    } else if (count == 0) {
        snprintf(hint, sizeof hint, "no keys are accepted here");
    } else {
        size_t used = (size_t)snprintf(hint, sizeof hint, "valid keys:");
        for (size_t i = 0; i < count && used < sizeof hint; i++)
            used +=
                (size_t)snprintf(hint + used, sizeof hint - used, "%s %s", i ? "," : "", names[i]);
    }
    cfg_free_names(names, count);
    cfg_path_name(c, n, NULL, name, sizeof name);
    return cfg_fail(c, node->key_line, node->key_col, "unknown key '%s' (%s)", name, hint);
}

static int cfg_check_map(cfg_check *c, const cfg_node *map, size_t n);

/* The entry `node` at the n segments of c->path. */
static int cfg_check_entry(cfg_check *c, const cfg_node *node, size_t n)
{
    const purser_config_key *k = cfg_lookup_segs(c->keys, c->path, n);
    bool inner = cfg_is_inner(c->keys, c->path, n);
    if (node->kind == CFG_MAP && inner)
        return cfg_check_map(c, node, n);
    if (k)
        return cfg_check_type(c, node, k, n);
    if (!inner)
        return cfg_unknown(c, node, n);
    if (cfg_is_null(node))
        return 0;
    return cfg_type_error(c, node, n, "a map of keys");
}

static int cfg_check_map(cfg_check *c, const cfg_node *map, size_t n)
{
    for (const cfg_node *child = map->child; child; child = child->next) {
        if (n == CFG_MAX_SEGS)
            return cfg_fail(c, child->key_line, child->key_col, "keys nest too deep");
        c->path[n].s = child->key;
        c->path[n].n = strlen(child->key);
        if (c->path[n].n == 0 || strchr(child->key, '.')) {
            char name[512];
            cfg_path_name(c, n + 1, NULL, name, sizeof name);
            return cfg_fail(c, child->key_line, child->key_col,
                            "key '%s': a key name cannot be empty or contain '.'", name);
        }
        if (cfg_check_entry(c, child, n + 1) != 0)
            return -1;
    }
    return 0;
}

/* Reports the required key `rest` below the n segments of the path as
 * missing: at its own key when written with no value, else at the map. */
static int cfg_missing(const cfg_check *c, const cfg_node *map, const cfg_node *entry, size_t n,
                       const char *rest)
{
    char name[512];
    cfg_path_name(c, n, rest, name, sizeof name);
    int line = 1, col = 1;
    if (entry) {
        line = entry->key_line;
        col = entry->key_col;
    } else if (map->key) {
        line = map->key_line;
        col = map->key_col;
    } else if (c->doc && map != c->doc->root) {
        line = map->line;
        col = map->col;
    }
    return cfg_fail(c, line, col, "missing required key '%s'", name);
}

static bool cfg_has_star(const char *dotted)
{
    for (const char *s = dotted; s; s = strchr(s, '.') ? strchr(s, '.') + 1 : NULL)
        if (s[0] == '*' && (s[1] == '.' || s[1] == '\0'))
            return true;
    return false;
}

/* Checks that the declared key `rest` exists below `map`, the n segments
 * of c->path; a '*' segment requires it under every name of that map. */
static int cfg_require(cfg_check *c, const cfg_node *map, const char *rest, size_t n)
{
    size_t len = strcspn(rest, ".");
    const char *more = rest[len] == '.' ? rest + len + 1 : NULL;
    if (n == CFG_MAX_SEGS)
        return 0;
    if (len == 1 && rest[0] == '*') {
        for (const cfg_node *child = map->child; more && child; child = child->next) {
            c->path[n].s = child->key;
            c->path[n].n = strlen(child->key);
            if (cfg_is_null(child) && !cfg_has_star(more))
                return cfg_missing(c, child, NULL, n + 1, more);
            if (child->kind == CFG_MAP && cfg_require(c, child, more, n + 1) != 0)
                return -1;
        }
        return 0;
    }
    const cfg_node *child = map->kind == CFG_MAP ? map->child : NULL;
    while (child && !(strncmp(child->key, rest, len) == 0 && child->key[len] == '\0'))
        child = child->next;
    if (!child || cfg_is_null(child)) {
        if (more && cfg_has_star(more))
            return 0; /* no names under an absent map: nothing is required */
        return cfg_missing(c, map, child, n, rest);
    }
    if (!more || child->kind != CFG_MAP)
        return 0;
    c->path[n].s = child->key;
    c->path[n].n = len;
    return cfg_require(c, child, more, n + 1);
}

int cfg_validate(const cfg_doc *doc, const cfg_node *node, const char *prefix,
                 const purser_config_key *keys, char *err, size_t errlen)
{
    static const purser_config_key none[] = {{0}};
    cfg_check *c = calloc(1, sizeof *c);
    if (!c) {
        if (err && errlen)
            snprintf(err, errlen, "%s: out of memory", doc ? doc->path : "<config>");
        return -1;
    }
    *c = (cfg_check){.doc = doc,
                     .prefix = prefix ? prefix : "",
                     .keys = keys ? keys : none,
                     .err = err,
                     .errlen = errlen};
    int rc = 0;
    if (!node) {
        rc = cfg_fail(c, 1, 1, "no configuration to validate");
    } else if (node->kind != CFG_MAP && !cfg_is_null(node)) {
        char found[64];
        cfg_found(node, found, sizeof found);
        size_t len = strlen(c->prefix);
        len -= len > 0 && c->prefix[len - 1] == '.';
        rc = cfg_fail(c, node->line, node->col, "key '%.*s': expected a map of keys, found %s",
                      (int)len, c->prefix, found);
    } else if (node->kind == CFG_MAP) {
        rc = cfg_check_map(c, node, 0);
    }
    for (const purser_config_key *k = c->keys; rc == 0 && k->key; k++)
        if (k->required)
            rc = cfg_require(c, node, k->key, 0);
    free(c);
    return rc;
}
