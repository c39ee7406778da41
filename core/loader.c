/* Plugin loader: dlopen, entry symbol, magic, ABI and descriptor checks. */
#include "loader.h"

#include <dirent.h>
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"

/* The descriptor as ABI 1.0 laid it out ends after `commands`. */
#define LOADER_MIN_DESC_SIZE (offsetof(purser_plugin, commands) + sizeof(void *))

static int loader_valid_name(const char *name)
{
    if (!name || !*name || strlen(name) > 63)
        return 0;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
            return 0;
    return strcmp(name, "dir") != 0 && strcmp(name, "load") != 0;
}

/* The fields every plugin must fill, named in the refusal. */
static int loader_check_fields(const char *path, const purser_plugin *d, char *err, size_t errlen)
{
    strbuf missing = {0};
    if (!d->name)
        sb_add(&missing, ", name");
    if (!d->version)
        sb_add(&missing, ", version");
    if (!d->description)
        sb_add(&missing, ", description");
    if (!d->run && !d->routes && !d->commands)
        sb_add(&missing, ", run/routes/commands (at least one)");
    if (missing.len) {
        set_err(err, errlen, "%s: descriptor fields missing: %s", path, missing.data + 2);
        sb_free(&missing);
        return -1;
    }
    if (!loader_valid_name(d->name)) {
        set_err(err, errlen,
                "%s: invalid plugin name '%s' (use 1-63 of [a-z0-9_]; 'dir' and 'load' are "
                "reserved)",
                path, d->name);
        return -1;
    }
    return 0;
}

static int loader_check_desc(const char *path, const purser_plugin *d, char *err, size_t errlen)
{
    if (d->magic != PURSER_PLUGIN_MAGIC) {
        set_err(err, errlen,
                "%s: bad descriptor magic 0x%08x (expected 0x%08x): not a purser plugin "
                "descriptor, build it with PURSER_PLUGIN_HEADER",
                path, (unsigned)d->magic, PURSER_PLUGIN_MAGIC);
        return -1;
    }
    if (d->abi_major != PURSER_ABI_MAJOR) {
        set_err(err, errlen,
                "%s: ABI mismatch: host %d.x, plugin %u.x (found ABI %u.%u, expected %d.x); "
                "rebuild the plugin against this purser's plugin.h",
                path, PURSER_ABI_MAJOR, d->abi_major, d->abi_major, d->abi_minor, PURSER_ABI_MAJOR);
        return -1;
    }
    if (d->struct_size < LOADER_MIN_DESC_SIZE) {
        set_err(err, errlen, "%s: descriptor too small: %u bytes, ABI %d.0 needs %zu", path,
                (unsigned)d->struct_size, PURSER_ABI_MAJOR, (size_t)LOADER_MIN_DESC_SIZE);
        return -1;
    }
    return 0;
}

int loader_load_file(const char *path, loaded_plugin *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    dlerror();
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *why = dlerror();
        set_err(err, errlen, "%s: not a loadable shared object: %s", path, why ? why : "?");
        return -1;
    }
    const purser_plugin *(*entry)(void);
    *(void **)&entry = dlsym(h, PURSER_PLUGIN_ENTRY_SYMBOL);
    if (!entry) {
        set_err(err, errlen,
                "%s: no entry point [%s] in shared library (define it with "
                "PURSER_PLUGIN_DEFINE)",
                path, PURSER_PLUGIN_ENTRY_SYMBOL);
        dlclose(h);
        return -1;
    }
    const purser_plugin *d = entry();
    if (!d) {
        set_err(err, errlen, "%s: %s() returned NULL", path, PURSER_PLUGIN_ENTRY_SYMBOL);
        dlclose(h);
        return -1;
    }
    /* Read the fixed prefix (magic, ABI, size) before anything else. */
    if (loader_check_desc(path, d, err, errlen) != 0) {
        dlclose(h);
        return -1;
    }
    size_t n = d->struct_size < sizeof out->desc ? d->struct_size : sizeof out->desc;
    memcpy(&out->desc, d, n);
    if (loader_check_fields(path, &out->desc, err, errlen) != 0) {
        dlclose(h);
        memset(out, 0, sizeof *out);
        return -1;
    }
    out->handle = h;
    out->path = xstrdup(path);
    return 0;
}

static int loader_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The *.so files of dir, sorted; NULL (logged) when dir can't be read. */
static char **loader_scan(const char *dir, size_t *count, int *failed)
{
    DIR *d = opendir(dir);
    *count = 0;
    *failed = 0;
    if (!d) {
        log_error("plugins.dir '%s': cannot read the folder: %m", dir);
        *failed = 1;
        return NULL;
    }
    char **names = NULL;
    size_t cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 4 || strcmp(e->d_name + len - 3, ".so") != 0)
            continue;
        if (*count == cap) {
            cap = cap ? cap * 2 : 16;
            names = xrealloc(names, cap * sizeof *names);
        }
        names[(*count)++] = path_join(dir, e->d_name);
    }
    closedir(d);
    if (names)
        qsort(names, *count, sizeof *names, loader_cmp);
    return names;
}

static void loader_add(plugin_set *set, const char *path)
{
    char err[1024];
    loaded_plugin lp;
    if (loader_load_file(path, &lp, err, sizeof err) != 0) {
        log_error("%s", err);
        set->refused++;
        return;
    }
    const loaded_plugin *prev = loader_find(set, lp.desc.name);
    if (prev) {
        log_error("%s: duplicate plugin name '%s' (already loaded from %s)", path, lp.desc.name,
                  prev->path);
        dlclose(lp.handle);
        free(lp.path);
        set->refused++;
        return;
    }
    set->items = xrealloc(set->items, (set->count + 1) * sizeof *set->items);
    set->items[set->count++] = lp;
}

size_t loader_load_all(const char *dir, char *const *list, size_t n_list, plugin_set *set)
{
    memset(set, 0, sizeof *set);
    if (n_list > 0) {
        for (size_t i = 0; i < n_list; i++) {
            char *path = path_join(dir, list[i]);
            loader_add(set, path);
            free(path);
        }
        return set->refused;
    }
    size_t n = 0;
    int failed = 0;
    char **files = loader_scan(dir, &n, &failed);
    set->refused += (size_t)failed;
    for (size_t i = 0; i < n; i++) {
        loader_add(set, files[i]);
        free(files[i]);
    }
    free(files);
    return set->refused;
}

const loaded_plugin *loader_find(const plugin_set *set, const char *name)
{
    for (size_t i = 0; i < set->count; i++)
        if (strcmp(set->items[i].desc.name, name) == 0)
            return &set->items[i];
    return NULL;
}

void loader_unload(plugin_set *set)
{
    for (size_t i = 0; i < set->count; i++) {
        /* Under ASan keep the code mapped so leak reports can symbolise. */
#ifndef PURSER_NO_DLCLOSE
        dlclose(set->items[i].handle);
#endif
        free(set->items[i].path);
    }
    free(set->items);
    memset(set, 0, sizeof *set);
}
