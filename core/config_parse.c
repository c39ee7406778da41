/* Configuration loader: libyaml's event API builds the cfg_node tree with
 * 1-based positions, refuses what a purser configuration never needs
 * (aliases, anchors, tags, non-scalar keys, several documents) and replaces
 * ${NAME} in scalar values with the environment variable. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

/* Maps and lists nest at most this deep: keeps every walk of the tree
 * bounded and its paths short. */
#define CFG_MAX_DEPTH 64

typedef struct cfg_loader {
    const char *name; /* FILE in messages; borrowed */
    const char *text; /* the whole input, to look at the byte of an error */
    size_t len;
    char *err;
    size_t errlen;
    cfg_doc *doc;
    cfg_node *open[CFG_MAX_DEPTH]; /* maps and lists being filled, root first */
    cfg_node *last[CFG_MAX_DEPTH]; /* last child of each, to append */
    int depth;
    char *key; /* key read in the innermost map, waiting for its value; owned */
    int key_line, key_col;
    int documents;
} cfg_loader;

static int cfg_verror(cfg_loader *ld, int line, int col, const char *fmt, va_list ap)
{
    if (!ld->err || ld->errlen == 0)
        return -1;
    int n = snprintf(ld->err, ld->errlen, "%s:%d:%d: ", ld->name, line, col);
    if (n >= 0 && (size_t)n < ld->errlen)
        vsnprintf(ld->err + n, ld->errlen - (size_t)n, fmt, ap);
    return -1;
}

static int cfg_error(cfg_loader *ld, int line, int col, const char *fmt, ...) PURSER_PRINTF(4, 5);
static int cfg_error(cfg_loader *ld, int line, int col, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cfg_verror(ld, line, col, fmt, ap);
    va_end(ap);
    return -1;
}

/* Same at a libyaml mark, which counts from 0. */
static int cfg_error_at(cfg_loader *ld, yaml_mark_t mark, const char *fmt, ...) PURSER_PRINTF(3, 4);
static int cfg_error_at(cfg_loader *ld, yaml_mark_t mark, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cfg_verror(ld, (int)mark.line + 1, (int)mark.column + 1, fmt, ap);
    va_end(ap);
    return -1;
}

static int cfg_syntax_error(cfg_loader *ld, const yaml_parser_t *p)
{
    if (p->error == YAML_MEMORY_ERROR)
        return cfg_error(ld, 1, 1, "out of memory");
    if (p->error == YAML_READER_ERROR) {
        int line = 1, col = 1;
        for (size_t i = 0; i < p->problem_offset && i < ld->len; i++, col++)
            if (ld->text[i] == '\n') {
                line++;
                col = 0;
            }
        return cfg_error(ld, line, col, "%s", p->problem);
    }
    yaml_mark_t pm = p->problem_mark, cm = p->context_mark;
    if (pm.index < ld->len && ld->text[pm.index] == '\t')
        return cfg_error_at(ld, pm, "found a tab character where YAML expects spaces");
    if (!p->context)
        return cfg_error_at(ld, pm, "%s", p->problem);
    if (cm.line == pm.line && cm.column == pm.column)
        return cfg_error_at(ld, pm, "%s %s", p->problem, p->context);
    return cfg_error_at(ld, pm, "%s %s started at line %d, column %d", p->problem, p->context,
                        (int)cm.line + 1, (int)cm.column + 1);
}

/* Dotted name of `node`, the newest entry of the innermost open container,
 * as "database.url" or "paths[2]", for messages. */
static void cfg_node_name(const cfg_loader *ld, const cfg_node *node, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 1; i <= ld->depth && used < len; i++) {
        const cfg_node *n = i < ld->depth ? ld->open[i] : node;
        const cfg_node *parent = ld->open[i - 1];
        int w;
        if (parent->kind == CFG_MAP) {
            w = snprintf(buf + used, len - used, "%s%s", used ? "." : "", n->key);
        } else {
            size_t index = 0;
            for (const cfg_node *c = parent->child; c && c != n; c = c->next)
                index++;
            w = snprintf(buf + used, len - used, "[%zu]", index);
        }
        used += w > 0 ? (size_t)w : 0;
    }
}

static int cfg_is_name_start(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static int cfg_is_name_char(char c)
{
    return cfg_is_name_start(c) || (c >= '0' && c <= '9');
}

/* Replaces ${NAME} in node->value; "$${" stands for "${". A value that
 * took anything from the environment is no longer plain: text read from a
 * variable is data, never YAML's `null` or `~`. */
static int cfg_expand(cfg_loader *ld, cfg_node *node)
{
    const char *in = node->value;
    if (!strstr(in, "${"))
        return 0;
    char where[512];
    cfg_node_name(ld, node, where, sizeof where);
    char *out = NULL;
    size_t outlen = 0;
    FILE *f = open_memstream(&out, &outlen);
    if (!f)
        return cfg_error(ld, node->line, node->col, "out of memory");
    int rc = 0;
    for (const char *s = in; *s && rc == 0;) {
        if (strncmp(s, "$${", 3) == 0) {
            fputs("${", f);
            s += 3;
        } else if (strncmp(s, "${", 2) == 0) {
            const char *name = s + 2, *end = strchr(name, '}');
            size_t n = end ? (size_t)(end - name) : 0;
            size_t ok = 0;
            while (ok < n && (ok ? cfg_is_name_char(name[ok]) : cfg_is_name_start(name[ok])))
                ok++;
            if (!end) {
                rc = cfg_error(ld, node->line, node->col,
                               "unterminated '${' in key '%s' (write '$${' for a literal '${')",
                               where);
            } else if (n == 0 || ok != n) {
                rc = cfg_error(ld, node->line, node->col,
                               "invalid environment variable name '%.*s' in key '%s' "
                               "(use letters, digits and '_')",
                               (int)n, name, where);
            } else {
                char *var = strndup(name, n);
                const char *val = var ? getenv(var) : NULL;
                if (!var)
                    rc = cfg_error(ld, node->line, node->col, "out of memory");
                else if (!val)
                    rc = cfg_error(ld, node->line, node->col,
                                   "environment variable '%s' is not set (used in key '%s')", var,
                                   where);
                else
                    fputs(val, f);
                free(var);
            }
            s = end ? end + 1 : s + 2;
        } else {
            fputc(*s++, f);
        }
    }
    if (fclose(f) != 0 && rc == 0)
        rc = cfg_error(ld, node->line, node->col, "out of memory");
    if (rc != 0) {
        free(out);
        return -1;
    }
    free(node->value);
    node->value = out;
    node->plain = false;
    return 0;
}

/* A new node at `mark`, linked into the tree at once (so that cfg_free
 * reclaims it on any later error) with the pending key when in a map. */
static cfg_node *cfg_add(cfg_loader *ld, cfg_kind kind, yaml_mark_t mark)
{
    cfg_node *node = calloc(1, sizeof *node);
    if (!node) {
        cfg_error_at(ld, mark, "out of memory");
        return NULL;
    }
    node->kind = kind;
    node->line = (int)mark.line + 1;
    node->col = (int)mark.column + 1;
    if (ld->depth == 0) {
        ld->doc->root = node;
        return node;
    }
    cfg_node *parent = ld->open[ld->depth - 1];
    if (parent->kind == CFG_MAP) {
        node->key = ld->key;
        node->key_line = ld->key_line;
        node->key_col = ld->key_col;
        ld->key = NULL;
    }
    if (ld->last[ld->depth - 1])
        ld->last[ld->depth - 1]->next = node;
    else
        parent->child = node;
    ld->last[ld->depth - 1] = node;
    parent->count++;
    return node;
}

/* True when the next event of the innermost map is a key. */
static bool cfg_wants_key(const cfg_loader *ld)
{
    return ld->depth > 0 && ld->open[ld->depth - 1]->kind == CFG_MAP && !ld->key;
}

static int cfg_on_key(cfg_loader *ld, const yaml_event_t *ev)
{
    const char *key = (const char *)ev->data.scalar.value;
    const cfg_node *map = ld->open[ld->depth - 1];
    for (const cfg_node *c = map->child; c; c = c->next)
        if (strcmp(c->key, key) == 0)
            return cfg_error_at(ld, ev->start_mark, "duplicate key '%s' (first at line %d)", key,
                                c->key_line);
    ld->key = strdup(key);
    if (!ld->key)
        return cfg_error_at(ld, ev->start_mark, "out of memory");
    ld->key_line = (int)ev->start_mark.line + 1;
    ld->key_col = (int)ev->start_mark.column + 1;
    return 0;
}

/* The root of the document must be a map; a document holding nothing at
 * all (just "---") counts as an empty one. */
static int cfg_check_root(cfg_loader *ld, const yaml_event_t *ev)
{
    if (ld->depth > 0)
        return 0;
    if (ev->type == YAML_MAPPING_START_EVENT)
        return 0;
    if (ev->type == YAML_SCALAR_EVENT && ev->data.scalar.length == 0 &&
        ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE)
        return 1;
    return cfg_error_at(ld, ev->start_mark, "the top level must be a map of keys, found %s",
                        ev->type == YAML_SEQUENCE_START_EVENT ? "a list" : "a single value");
}

static int cfg_on_scalar(cfg_loader *ld, const yaml_event_t *ev)
{
    if (cfg_wants_key(ld))
        return cfg_on_key(ld, ev);
    int root = cfg_check_root(ld, ev);
    if (root != 0)
        return root < 0 ? -1 : 0;
    cfg_node *node = cfg_add(ld, CFG_SCALAR, ev->start_mark);
    if (!node)
        return -1;
    node->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
    node->value = strdup((const char *)ev->data.scalar.value);
    if (!node->value)
        return cfg_error_at(ld, ev->start_mark, "out of memory");
    return cfg_expand(ld, node);
}

static int cfg_on_open(cfg_loader *ld, const yaml_event_t *ev, cfg_kind kind)
{
    const char *what = kind == CFG_MAP ? "a map" : "a list";
    if (cfg_wants_key(ld))
        return cfg_error_at(ld, ev->start_mark, "keys must be plain values, found %s", what);
    if (cfg_check_root(ld, ev) != 0)
        return -1;
    if (ld->depth == CFG_MAX_DEPTH)
        return cfg_error_at(ld, ev->start_mark, "maps and lists nest deeper than %d levels",
                            CFG_MAX_DEPTH);
    cfg_node *node = cfg_add(ld, kind, ev->start_mark);
    if (!node)
        return -1;
    ld->open[ld->depth] = node;
    ld->last[ld->depth] = NULL;
    ld->depth++;
    return 0;
}

/* Anchors, aliases and tags: refused, a configuration spells values out. */
static int cfg_refuse_extras(cfg_loader *ld, const yaml_event_t *ev)
{
    const yaml_char_t *anchor = NULL, *tag = NULL;
    if (ev->type == YAML_ALIAS_EVENT)
        return cfg_error_at(ld, ev->start_mark,
                            "aliases ('*%s') are not supported: write the value out",
                            (const char *)ev->data.alias.anchor);
    if (ev->type == YAML_SCALAR_EVENT) {
        anchor = ev->data.scalar.anchor;
        tag = ev->data.scalar.tag;
    } else if (ev->type == YAML_MAPPING_START_EVENT) {
        anchor = ev->data.mapping_start.anchor;
        tag = ev->data.mapping_start.tag;
    } else if (ev->type == YAML_SEQUENCE_START_EVENT) {
        anchor = ev->data.sequence_start.anchor;
        tag = ev->data.sequence_start.tag;
    }
    if (anchor)
        return cfg_error_at(ld, ev->start_mark, "anchors ('&%s') are not supported",
                            (const char *)anchor);
    if (tag)
        return cfg_error_at(ld, ev->start_mark, "tags ('%s') are not supported", (const char *)tag);
    return 0;
}

static int cfg_on_event(cfg_loader *ld, const yaml_event_t *ev)
{
    if (cfg_refuse_extras(ld, ev) != 0)
        return -1;
    switch (ev->type) {
    case YAML_DOCUMENT_START_EVENT:
        if (++ld->documents > 1)
            return cfg_error_at(ld, ev->start_mark,
                                "only one YAML document is allowed in a configuration file");
        return 0;
    case YAML_SCALAR_EVENT:
        return cfg_on_scalar(ld, ev);
    case YAML_MAPPING_START_EVENT:
        return cfg_on_open(ld, ev, CFG_MAP);
    case YAML_SEQUENCE_START_EVENT:
        return cfg_on_open(ld, ev, CFG_SEQ);
    case YAML_MAPPING_END_EVENT:
    case YAML_SEQUENCE_END_EVENT:
        ld->depth--;
        return 0;
    default:
        return 0;
    }
}

static int cfg_parse_events(cfg_loader *ld)
{
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser))
        return cfg_error(ld, 1, 1, "out of memory");
    yaml_parser_set_input_string(&parser, (const unsigned char *)ld->text, ld->len);
    int rc = 0, done = 0;
    while (rc == 0 && !done) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) {
            rc = cfg_syntax_error(ld, &parser);
            break;
        }
        done = ev.type == YAML_STREAM_END_EVENT;
        rc = cfg_on_event(ld, &ev);
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&parser);
    return rc;
}

/* The parse shared by cfg_load and cfg_load_string; takes `doc` and frees
 * it on error. */
static cfg_doc *cfg_parse_doc(cfg_doc *doc, const char *text, size_t len, char *err, size_t errlen)
{
    cfg_loader ld = {
        .name = doc->path, .text = text, .len = len, .err = err, .errlen = errlen, .doc = doc};
    int rc = cfg_parse_events(&ld);
    free(ld.key);
    if (rc == 0 && !doc->root) {
        doc->root = calloc(1, sizeof *doc->root);
        if (doc->root) {
            doc->root->kind = CFG_MAP;
            doc->root->line = doc->root->col = 1;
        } else {
            rc = cfg_error(&ld, 1, 1, "out of memory");
        }
    }
    if (rc != 0) {
        cfg_free(doc);
        return NULL;
    }
    return doc;
}

static cfg_doc *cfg_new_doc(const char *path, char *err, size_t errlen)
{
    cfg_doc *doc = calloc(1, sizeof *doc);
    if (doc)
        doc->path = strdup(path);
    if (!doc || !doc->path) {
        free(doc);
        if (err && errlen)
            snprintf(err, errlen, "%s: out of memory", path);
        return NULL;
    }
    return doc;
}

/* Absolute folder of `path`, malloc'd, or NULL with errno. */
static char *cfg_folder_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return realpath(".", NULL);
    if (slash == path)
        return strdup("/");
    char *folder = strndup(path, (size_t)(slash - path));
    if (!folder)
        return NULL;
    char *abs = realpath(folder, NULL);
    free(folder);
    return abs;
}

/* Whole file into memory, NUL-terminated; NULL with errno. */
static char *cfg_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t cap = 0, n = 0, got;
    do {
        if (cap - n < 4096) {
            char *grown = realloc(buf, cap + 65536);
            if (!grown) {
                free(buf);
                fclose(f);
                errno = ENOMEM;
                return NULL;
            }
            buf = grown;
            cap += 65536;
        }
        got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
    } while (got > 0);
    int failed = ferror(f) ? (errno ? errno : EIO) : 0;
    fclose(f);
    if (failed) {
        free(buf);
        errno = failed;
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

cfg_doc *cfg_load(const char *path, char *err, size_t errlen)
{
    if (!path)
        return NULL;
    size_t len = 0;
    char *text = cfg_read_file(path, &len);
    if (!text) {
        if (err && errlen)
            snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
        return NULL;
    }
    cfg_doc *doc = cfg_new_doc(path, err, errlen);
    if (doc) {
        doc->dir = cfg_folder_of(path);
        if (!doc->dir) {
            if (err && errlen)
                snprintf(err, errlen, "%s: cannot resolve its folder: %s", path, strerror(errno));
            cfg_free(doc);
            doc = NULL;
        }
    }
    if (doc)
        doc = cfg_parse_doc(doc, text, len, err, errlen);
    free(text);
    return doc;
}

cfg_doc *cfg_load_string(const char *name, const char *text, char *err, size_t errlen)
{
    if (!text)
        return NULL;
    cfg_doc *doc = cfg_new_doc(name ? name : "<string>", err, errlen);
    if (!doc)
        return NULL;
    doc->dir = getcwd(NULL, 0);
    if (!doc->dir) {
        if (err && errlen)
            snprintf(err, errlen, "%s: cannot read the current directory: %s", doc->path,
                     strerror(errno));
        cfg_free(doc);
        return NULL;
    }
    return cfg_parse_doc(doc, text, strlen(text), err, errlen);
}
