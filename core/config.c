/* Configuration tree: freeing, lookups by key and dotted path, path
 * resolution against the file's folder, and the typed scalar parsers that
 * the validator and the host API share. Loading is in config_parse.c,
 * validation against key tables in config_validate.c. */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void cfg_free_nodes(cfg_node *node)
{
    while (node) {
        cfg_node *next = node->next;
        cfg_free_nodes(node->child);
        free(node->key);
        free(node->value);
        free(node);
        node = next;
    }
}

void cfg_free(cfg_doc *doc)
{
    if (!doc)
        return;
    cfg_free_nodes(doc->root);
    free(doc->path);
    free(doc->dir);
    free(doc);
}

/* Child of `map` whose key is the n bytes at `key`. */
static const cfg_node *cfg_get_n(const cfg_node *map, const char *key, size_t n)
{
    if (!map || map->kind != CFG_MAP)
        return NULL;
    for (const cfg_node *c = map->child; c; c = c->next)
        if (strncmp(c->key, key, n) == 0 && c->key[n] == '\0')
            return c;
    return NULL;
}

const cfg_node *cfg_get(const cfg_node *map, const char *key)
{
    return key ? cfg_get_n(map, key, strlen(key)) : NULL;
}

const cfg_node *cfg_find(const cfg_node *node, const char *dotted)
{
    if (!dotted)
        return NULL;
    while (node && *dotted) {
        size_t n = strcspn(dotted, ".");
        node = cfg_get_n(node, dotted, n);
        dotted += n;
        if (*dotted == '.')
            dotted++;
    }
    return node;
}

char *cfg_resolve_path(const cfg_doc *doc, const char *value)
{
    if (!doc || !value)
        return NULL;
    if (value[0] == '/' || !doc->dir)
        return strdup(value);
    if (value[0] == '\0')
        return strdup(doc->dir);
    size_t n = strlen(doc->dir) + strlen(value) + 2;
    char *out = malloc(n);
    if (out)
        snprintf(out, n, "%s/%s", doc->dir, value);
    return out;
}

/* Reads the decimal digits at *p into *out (>= 0), advancing *p. -1 when
 * there are none or the number does not fit an int64. */
static int cfg_digits(const char **p, int64_t *out)
{
    const char *s = *p;
    int64_t v = 0;
    if (!isdigit((unsigned char)*s))
        return -1;
    for (; isdigit((unsigned char)*s); s++) {
        int d = *s - '0';
        if (v > (INT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *p = s;
    *out = v;
    return 0;
}

int cfg_parse_int(const char *text, int64_t *out)
{
    if (!text || !out)
        return -1;
    const char *s = text;
    int neg = *s == '-';
    if (*s == '-' || *s == '+')
        s++;
    /* Accumulate towards the negative side, which holds INT64_MIN. */
    int64_t v = 0;
    if (!isdigit((unsigned char)*s))
        return -1;
    for (; isdigit((unsigned char)*s); s++) {
        int d = *s - '0';
        if (v < (INT64_MIN + d) / 10)
            return -1;
        v = v * 10 - d;
    }
    if (*s != '\0' || (!neg && v == INT64_MIN))
        return -1;
    *out = neg ? v : -v;
    return 0;
}

int cfg_parse_bool(const char *text, int *out)
{
    static const char *const yes[] = {"true", "yes", "on"};
    static const char *const no[] = {"false", "no", "off"};
    if (!text || !out)
        return -1;
    for (size_t i = 0; i < 3; i++) {
        if (strcasecmp(text, yes[i]) == 0) {
            *out = 1;
            return 0;
        }
        if (strcasecmp(text, no[i]) == 0) {
            *out = 0;
            return 0;
        }
    }
    return -1;
}

/* Duration units, largest first: a compound duration ("1h30m") must list
 * each unit at most once, in this order. */
static const struct {
    const char *name;
    int64_t ms;
} cfg_duration_units[] = {
    {"d", 86400000}, {"h", 3600000}, {"m", 60000}, {"s", 1000}, {"ms", 1},
};

int cfg_parse_duration_ms(const char *text, int64_t *out)
{
    if (!text || !out)
        return -1;
    const char *s = text;
    int64_t total = 0, n;
    if (cfg_digits(&s, &n) == 0 && *s == '\0') {
        if (n > INT64_MAX / 1000)
            return -1;
        *out = n * 1000; /* a bare number is seconds */
        return 0;
    }
    s = text;
    size_t next_unit = 0;
    do {
        if (cfg_digits(&s, &n) != 0)
            return -1;
        size_t len = 0;
        while (isalpha((unsigned char)s[len]))
            len++;
        size_t u = next_unit;
        while (u < 5 && !(strncmp(s, cfg_duration_units[u].name, len) == 0 &&
                          cfg_duration_units[u].name[len] == '\0'))
            u++;
        if (u == 5 || n > INT64_MAX / cfg_duration_units[u].ms)
            return -1;
        n *= cfg_duration_units[u].ms;
        if (total > INT64_MAX - n)
            return -1;
        total += n;
        next_unit = u + 1;
        s += len;
    } while (*s != '\0');
    *out = total;
    return 0;
}

/* Size units. k, K, M, G and the IEC KiB, MiB, GiB are binary (1024);
 * kB, KB, MB, GB are decimal (1000), as disk vendors write them. */
static const struct {
    const char *name;
    int64_t bytes;
} cfg_size_units[] = {
    {"", 1},
    {"B", 1},
    {"k", 1024},
    {"K", 1024},
    {"KiB", 1024},
    {"M", 1024 * 1024},
    {"MiB", 1024 * 1024},
    {"G", 1024 * 1024 * 1024},
    {"GiB", 1024 * 1024 * 1024},
    {"kB", 1000},
    {"KB", 1000},
    {"MB", 1000 * 1000},
    {"GB", 1000 * 1000 * 1000},
};

int cfg_parse_size(const char *text, int64_t *out)
{
    if (!text || !out)
        return -1;
    const char *s = text;
    int64_t n;
    if (cfg_digits(&s, &n) != 0)
        return -1;
    for (size_t i = 0; i < sizeof cfg_size_units / sizeof cfg_size_units[0]; i++) {
        if (strcmp(s, cfg_size_units[i].name) != 0)
            continue;
        if (n > INT64_MAX / cfg_size_units[i].bytes)
            return -1;
        *out = n * cfg_size_units[i].bytes;
        return 0;
    }
    return -1;
}

cfg_node *cfg_view(const cfg_node *map, bool (*keep)(const char *key, void *arg), void *arg)
{
    cfg_node *view = calloc(1, sizeof *view);
    if (!view)
        return NULL;
    *view = *map;
    view->child = NULL;
    view->next = NULL;
    view->count = 0;
    cfg_node **tail = &view->child;
    for (const cfg_node *c = map->child; c; c = c->next) {
        if (c->key && !keep(c->key, arg))
            continue;
        cfg_node *copy = calloc(1, sizeof *copy);
        if (!copy) {
            cfg_view_free(view);
            return NULL;
        }
        *copy = *c;
        copy->next = NULL;
        *tail = copy;
        tail = &copy->next;
        view->count++;
    }
    return view;
}

void cfg_view_free(cfg_node *view)
{
    if (!view)
        return;
    for (cfg_node *c = view->child, *n; c; c = n) {
        n = c->next;
        free(c);
    }
    free(view);
}

const char *cfg_value(const cfg_node *node, const purser_config_key *keys, const char *key)
{
    const cfg_node *n = node ? cfg_find(node, key) : NULL;
    if (n && n->kind == CFG_SCALAR && n->value && *n->value)
        return n->value;
    const purser_config_key *k = cfg_key_lookup(keys, key);
    return k ? k->default_value : NULL;
}

int64_t cfg_value_num(const cfg_node *node, const purser_config_key *keys, const char *key,
                      purser_cfg_type type)
{
    int64_t v = 0;
    const char *t = cfg_value(node, keys, key);
    if (!t)
        return 0;
    if (type == PURSER_CFG_DURATION)
        cfg_parse_duration_ms(t, &v);
    else if (type == PURSER_CFG_SIZE)
        cfg_parse_size(t, &v);
    else
        cfg_parse_int(t, &v);
    return v;
}
