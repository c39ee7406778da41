/* Configuration files: YAML parsed with libyaml into a tree that remembers
 * where every key and value came from, validated against key tables
 * (purser_config_key, the same tables plugins declare), with typed readers.
 * Every error reads "FILE:LINE:COLUMN: message". */
#ifndef PURSER_CONFIG_H
#define PURSER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "purser/plugin.h"

typedef enum cfg_kind { CFG_SCALAR, CFG_MAP, CFG_SEQ } cfg_kind;

typedef struct cfg_node cfg_node;
struct cfg_node {
    cfg_kind kind;
    char *key;    /* the key of this entry in its parent map, else NULL */
    int key_line; /* 1-based position of the key (0 if no key) */
    int key_col;
    char *value; /* scalars: the text after ${ENV} expansion, else NULL */
    int line;    /* 1-based position of the value */
    int col;
    bool plain;      /* scalar was unquoted (so `null`, `~` mean null) */
    cfg_node *child; /* first entry of a map or seq */
    cfg_node *next;  /* next sibling */
    size_t count;    /* number of children */
};

typedef struct cfg_doc {
    char *path;     /* file path as given */
    char *dir;      /* absolute folder of the file, for relative paths */
    cfg_node *root; /* a map (an empty file gives an empty map) */
} cfg_doc;

/* Parse a YAML file. Returns a doc owned by the caller (cfg_free), or NULL
 * with "FILE:LINE:COLUMN: message" in err. Refused: syntax errors, a root
 * that is not a map, duplicate keys in a map, non-scalar keys, aliases and
 * anchors, tags, and a ${NAME} whose environment variable is not set
 * (the message names the variable). "$${" stands for a literal "${". */
cfg_doc *cfg_load(const char *path, char *err, size_t errlen);

/* Same, from a string in memory; `name` is used as FILE in messages and
 * relative paths resolve against the current directory. */
cfg_doc *cfg_load_string(const char *name, const char *text, char *err, size_t errlen);

void cfg_free(cfg_doc *doc);

/* Child of a map by key, or NULL. */
const cfg_node *cfg_get(const cfg_node *map, const char *key);

/* Node at a dotted path below `node` ("database.url"), or NULL. */
const cfg_node *cfg_find(const cfg_node *node, const char *dotted);

/* A shallow copy of `map` holding only the entries whose key passes
 * keep(key, arg); the entries share their subtrees with the doc. Used to
 * validate part of a map against one table and the rest against another.
 * Free with cfg_view_free (which frees the copies, not the subtrees). */
cfg_node *cfg_view(const cfg_node *map, bool (*keep)(const char *key, void *arg), void *arg);
void cfg_view_free(cfg_node *view);

/* Validate the map `node` against `keys` (ending with a zeroed entry).
 * `prefix` is prepended to key names in messages ("plugins.example.").
 * Checks: every leaf matches a declared key ('*' segments match any one
 * name) else "unknown key 'x' (did you mean 'y'?)" or the list of valid
 * keys when nothing is close; types (int, bool, duration, size, list of
 * scalars, string/path scalars); required keys present (message at the
 * map's position). Returns 0, or -1 with the first error in err. */
int cfg_validate(const cfg_doc *doc, const cfg_node *node, const char *prefix,
                 const purser_config_key *keys, char *err, size_t errlen);

/* Typed scalar parsers, shared with the host API. Return 0 and *out, or -1
 * if the text is not of that type. */
int cfg_parse_int(const char *text, int64_t *out);
int cfg_parse_bool(const char *text, int *out);
int cfg_parse_duration_ms(const char *text, int64_t *out); /* ms, s, m, h, d; bare = seconds */
int cfg_parse_size(const char *text, int64_t *out); /* k/M/G, KiB/MiB/GiB, kB/MB/GB; bare = bytes */

/* Resolve a path value against the doc's folder (absolute stays as is).
 * Returns a malloc'd string the caller frees. */
char *cfg_resolve_path(const cfg_doc *doc, const char *value);

/* The text of `key` below node (which may be NULL) when set and not empty,
 * else the default declared for it in keys (NULL if none). Borrowed from
 * the doc or the table. */
const char *cfg_value(const cfg_node *node, const purser_config_key *keys, const char *key);

/* cfg_value read as a number of `type` (PURSER_CFG_INT, _DURATION in ms,
 * _SIZE in bytes); 0 when unset. The type was checked by cfg_validate. */
int64_t cfg_value_num(const cfg_node *node, const purser_config_key *keys, const char *key,
                      purser_cfg_type type);

/* The declared key of `keys` that matches a dotted path, or NULL. */
const purser_config_key *cfg_key_lookup(const purser_config_key *keys, const char *dotted);

/* Closest candidate by edit distance, if close enough to suggest, else NULL. */
const char *cfg_suggest(const char *word, const char *const *candidates, size_t n);

#endif /* PURSER_CONFIG_H */
