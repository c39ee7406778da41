/* Plugin loader: dlopen each configured .so, check its descriptor before
 * using it, refuse what is wrong with one line naming the file and the
 * reason. */
#ifndef PURSER_LOADER_H
#define PURSER_LOADER_H

#include <stddef.h>

#include "purser/plugin.h"

typedef struct loaded_plugin {
    char *path;         /* as found (owned) */
    void *handle;       /* dlopen handle (owned: dlclose in loader_unload) */
    purser_plugin desc; /* the plugin's descriptor, copied as far as its
                         * struct_size and zero-filled beyond: fields added
                         * in later minors read as NULL for older plugins */
} loaded_plugin;

typedef struct plugin_set {
    loaded_plugin *items; /* owned array */
    size_t count;
    size_t refused; /* files refused while loading */
} plugin_set;

/* Load one file. Returns 0 and fills *out, or -1 with
 * "FILE: reason" in err (nothing stays loaded). */
int loader_load_file(const char *path, loaded_plugin *out, char *err, size_t errlen);

/* Load every *.so in dir (sorted by name), or the files in `list` when
 * n_list > 0 (relative names resolve against dir). Each refused file is
 * logged as one error line and counted in set->refused; the others load.
 * A duplicate name is refused with both files named. Returns the number
 * refused. */
size_t loader_load_all(const char *dir, char *const *list, size_t n_list, plugin_set *set);

const loaded_plugin *loader_find(const plugin_set *set, const char *name);

/* dlclose everything and free the set (the descriptors become invalid). */
void loader_unload(plugin_set *set);

#endif
