/* Discovery, checking and loading of backend shared objects.
 *
 * Discovery looks at every *.so in the search directories and checks what
 * stat can tell (regular file, owner, mode). What only loading can tell
 * (entry symbol, ABI, name, config keys) is cached by path, size, mtime,
 * ctime and inode, so listing backends does not load them; a command loads
 * only the backends it uses. */
#ifndef RB_REGISTRY_H
#define RB_REGISTRY_H

#include <cjson/cJSON.h>
#include <rbhost/rbhost.h>
#include <stdint.h>

typedef struct rb_plugin_entry {
    char *path;
    char *name; /* NULL when the file failed before its name was known */
    char *description;
    char *plugin_version;
    unsigned int struct_version, abi_major, abi_minor, capabilities;
    cJSON *keys; /* [{name, type, required, default, description, secret}] */
    int has_plan, has_status, has_destroy;
    /* Why the backend is refused; failed == 0 when it is usable.
     * probe_failed: the refusal comes from the file itself (cacheable). */
    int failed;
    int probe_failed;
    int err_code;
    rb_error_class err_class;
    char *err_message;
    /* Identity of the file, the cache key. */
    uint64_t dev, ino, size;
    int64_t mtime_ns, ctime_ns;
    /* Set once loaded. */
    void *dl;
    const rollback_plugin *vt;
    void *state;
    int initialized;
} rb_plugin_entry;

typedef struct rb_registry {
    rb_plugin_entry *items;
    size_t count, cap;
    char **dirs; /* the search path, in order */
    size_t dir_count;
    char *cache_path; /* NULL: no cache */
    int cache_dirty;
} rb_registry;

/* Scans `dirs` in order. Never fails because of one bad backend: those are
 * kept in the list, failed, with the reason. */
int rb_registry_scan(rb_registry *reg, const char *const *dirs, size_t dir_count,
                     const char *cache_path);
/* The usable backend for `type`; RB_ENOTFOUND naming the search path, or
 * the reason it was refused. */
int rb_registry_find(rb_registry *reg, const char *type, rb_plugin_entry **out);
/* Loads (dlopen), checks and initialises a backend once. */
int rb_registry_load(rb_registry *reg, rb_plugin_entry *e);
/* Writes the cache back if it changed; failures only logged. */
void rb_registry_save_cache(rb_registry *reg);
void rb_registry_free(rb_registry *reg);

/* Fills the entry from a loaded descriptor; 0 or an error set on the entry. */
int rb_plugin_describe(rb_plugin_entry *e, const rollback_plugin *d);
/* Cache (plugin_cache.c). */
cJSON *rb_plugin_cache_read(const char *path);
int rb_plugin_cache_lookup(const cJSON *cache, rb_plugin_entry *e);
cJSON *rb_plugin_cache_build(const rb_registry *reg);

#endif
