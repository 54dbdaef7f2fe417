/* Discovering backends in the search path and loading them on demand. */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rb_error.h"
#include "rb_fs.h"
#include "rb_log.h"
#include "rb_op.h"
#include "rb_registry.h"

static void entry_fail(rb_plugin_entry *e, int probe)
{
    const rb_error_info *err = rb_error_last();
    e->failed = 1;
    e->probe_failed = probe;
    e->err_code = err->code ? err->code : RB_ERROR;
    e->err_class = err->klass ? err->klass : RB_ERRCLASS_PLUGIN;
    free(e->err_message);
    e->err_message = strdup(err->message);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* What stat alone can refuse: checked on every run, never cached. */
static int check_file(rb_plugin_entry *e)
{
    struct stat st;
    if (stat(e->path, &st) < 0)
        return rb_error_os("%s", e->path);
    if (!S_ISREG(st.st_mode))
        return rb_error_set(RB_EINVAL, RB_ERRCLASS_PLUGIN, "%s: not a regular file", e->path);
    if (st.st_mode & (S_IWGRP | S_IWOTH))
        return rb_error_set(RB_EPERM, RB_ERRCLASS_PLUGIN,
                            "%s: writable by group or others (mode %04o); refusing to load it",
                            e->path, (unsigned)(st.st_mode & 07777));
    if (st.st_uid != 0 && st.st_uid != geteuid())
        return rb_error_set(RB_EPERM, RB_ERRCLASS_PLUGIN,
                            "%s: owned by uid %u, neither root nor the current user; refusing "
                            "to load it",
                            e->path, (unsigned)st.st_uid);
    e->dev = (uint64_t)st.st_dev;
    e->ino = (uint64_t)st.st_ino;
    e->size = (uint64_t)st.st_size;
    e->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    e->ctime_ns = (int64_t)st.st_ctim.tv_sec * 1000000000 + st.st_ctim.tv_nsec;
    return 0;
}

static int open_backend(rb_plugin_entry *e)
{
    dlerror();
    /* RTLD_NODELETE: the libraries a backend links (libpq, libcurl...)
     * register exit handlers and thread-local destructors that must find
     * their code still mapped at exit. */
    void *dl = dlopen(e->path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    if (!dl)
        return rb_error_set(RB_EINVAL, RB_ERRCLASS_PLUGIN,
                            "%s: cannot load: %s (`ldd %s` shows missing libraries)", e->path,
                            dlerror(), e->path);
    void *sym = dlsym(dl, RB_PLUGIN_ENTRY_SYMBOL);
    if (!sym) {
        dlclose(dl);
        return rb_error_set(RB_EINVAL, RB_ERRCLASS_PLUGIN,
                            "%s: no entry symbol %s: not an rbhost backend", e->path,
                            RB_PLUGIN_ENTRY_SYMBOL);
    }
    rb_plugin_entry_fn entry;
    memcpy(&entry, &sym, sizeof entry);
    const rollback_plugin *d = entry();
    int rc = rb_plugin_describe(e, d);
    if (rc) {
        dlclose(dl);
        return rc;
    }
    e->dl = dl;
    e->vt = d;
    return 0;
}

static int add_entry(rb_registry *reg, const char *path, const cJSON *cache)
{
    if (reg->count == reg->cap) {
        size_t cap = reg->cap ? reg->cap * 2 : 16;
        rb_plugin_entry *n = realloc(reg->items, cap * sizeof *n);
        if (!n)
            return rb_error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
        reg->items = n;
        reg->cap = cap;
    }
    rb_plugin_entry *e = &reg->items[reg->count++];
    memset(e, 0, sizeof *e);
    e->path = strdup(path);
    if (!e->path)
        return rb_error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
    if (check_file(e) < 0) {
        entry_fail(e, 0);
        return 0;
    }
    if (rb_plugin_cache_lookup(cache, e))
        return 0;
    reg->cache_dirty = 1;
    if (open_backend(e) < 0) {
        entry_fail(e, 1);
        return 0;
    }
    /* Probed only to learn its name: unloaded until a command needs it. */
    dlclose(e->dl);
    e->dl = NULL;
    e->vt = NULL;
    return 0;
}

static int scan_dir(rb_registry *reg, const char *dir, const cJSON *cache)
{
    DIR *d = opendir(dir);
    if (!d) {
        if (errno != ENOENT)
            rb_log(RB_LOG_WARN, "cannot read plugin directory %s: %s", dir, strerror(errno));
        return 0;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t len = strlen(de->d_name);
        if (len < 4 || strcmp(de->d_name + len - 3, ".so") || de->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            char **nn = realloc(names, cap * sizeof *nn);
            if (!nn)
                break;
            names = nn;
        }
        names[n] = strdup(de->d_name);
        if (names[n])
            n++;
    }
    closedir(d);
    /* Sorted, so which of two same-named backends wins never depends on
     * the order the file system lists them in. An empty directory has no
     * list at all, and qsort must not be given NULL. */
    if (n)
        qsort(names, n, sizeof *names, by_name);
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        char *path = rb_fs_join(dir, names[i]);
        if (rc == 0)
            rc = path ? add_entry(reg, path, cache)
                      : rb_error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
        free(path);
        free(names[i]);
    }
    free(names);
    return rc;
}

static void refuse_duplicates(rb_registry *reg)
{
    for (size_t i = 0; i < reg->count; i++) {
        rb_plugin_entry *e = &reg->items[i];
        if (e->failed || !e->name)
            continue;
        for (size_t j = 0; j < i; j++) {
            rb_plugin_entry *first = &reg->items[j];
            if (first->failed || !first->name || strcmp(first->name, e->name))
                continue;
            rb_error_set(RB_EEXISTS, RB_ERRCLASS_PLUGIN,
                         "duplicate backend '%s': %s is refused because %s already provides it",
                         e->name, e->path, first->path);
            entry_fail(e, 0);
            break;
        }
    }
}

int rb_registry_scan(rb_registry *reg, const char *const *dirs, size_t dir_count,
                     const char *cache_path)
{
    memset(reg, 0, sizeof *reg);
    reg->dirs = calloc(dir_count ? dir_count : 1, sizeof *reg->dirs);
    if (!reg->dirs)
        return rb_error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
    reg->cache_path = cache_path ? strdup(cache_path) : NULL;
    cJSON *cache = rb_plugin_cache_read(cache_path);
    int rc = 0;
    for (size_t i = 0; i < dir_count && rc == 0; i++) {
        /* The same directory named twice (flag and environment) is one. */
        int seen = 0;
        for (size_t j = 0; j < reg->dir_count; j++)
            seen |= !strcmp(reg->dirs[j], dirs[i]);
        if (seen)
            continue;
        reg->dirs[reg->dir_count] = strdup(dirs[i]);
        if (!reg->dirs[reg->dir_count])
            rc = rb_error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
        else
            rc = scan_dir(reg, reg->dirs[reg->dir_count++], cache);
    }
    cJSON_Delete(cache);
    refuse_duplicates(reg);
    return rc;
}

int rb_registry_find(rb_registry *reg, const char *type, rb_plugin_entry **out)
{
    rb_plugin_entry *refused = NULL;
    for (size_t i = 0; i < reg->count; i++) {
        rb_plugin_entry *e = &reg->items[i];
        if (!e->name || strcmp(e->name, type))
            continue;
        if (!e->failed) {
            *out = e;
            return 0;
        }
        if (!refused)
            refused = e;
    }
    if (refused)
        return rb_error_set(refused->err_code, refused->err_class, "backend '%s' is unusable: %s",
                            type, refused->err_message);
    char path[2048] = "";
    for (size_t i = 0; i < reg->dir_count; i++) {
        size_t len = strlen(path);
        snprintf(path + len, sizeof path - len, "%s%s", i ? ":" : "", reg->dirs[i]);
    }
    /* A refused file may be the backend the user meant: say so. */
    size_t unreadable = 0;
    for (size_t i = 0; i < reg->count; i++)
        unreadable += reg->items[i].failed && !reg->items[i].name;
    char refused_note[128] = "";
    if (unreadable)
        snprintf(refused_note, sizeof refused_note,
                 "; %zu file(s) there were refused, `rbhost plugins` says why", unreadable);
    return rb_error_set(RB_ENOTFOUND, RB_ERRCLASS_PLUGIN,
                        "unknown type '%s': no backend provides it (searched %s%s; `rbhost "
                        "plugins` lists what is installed)",
                        type, path[0] ? path : "no directory", refused_note);
}

int rb_registry_load(rb_registry *reg, rb_plugin_entry *e)
{
    if (e->failed)
        return rb_error_set(e->err_code, e->err_class, "%s", e->err_message);
    if (e->initialized)
        return 0;
    char *cached_name = e->name ? strdup(e->name) : NULL;
    int rc = open_backend(e);
    if (rc == 0 && cached_name && strcmp(cached_name, e->name)) {
        /* The file changed between the scan and now. */
        rc = rb_error_set(RB_ECONFLICT, RB_ERRCLASS_PLUGIN,
                          "%s: changed while rbhost was running (was '%s', now '%s')", e->path,
                          cached_name, e->name);
    }
    free(cached_name);
    if (rc) {
        entry_fail(e, rc != RB_ECONFLICT);
        reg->cache_dirty = 1;
        if (e->dl)
            dlclose(e->dl);
        e->dl = NULL;
        e->vt = NULL;
        return rc;
    }
    rb_error_clear();
    rc = e->vt->init(rb_host_api_get(), &e->state);
    if (rc) {
        char why[1024];
        snprintf(why, sizeof why, "%s",
                 rb_error_last()->message[0] ? rb_error_last()->message : "no message given");
        rb_error_set(rc < 0 ? rc : RB_ERROR, RB_ERRCLASS_PLUGIN,
                     "%s: init of backend '%s' failed: %s", e->path, e->name, why);
        entry_fail(e, 0);
        dlclose(e->dl);
        e->dl = NULL;
        e->vt = NULL;
        return e->err_code;
    }
    e->initialized = 1;
    return 0;
}

void rb_registry_save_cache(rb_registry *reg)
{
    if (!reg->cache_dirty || !reg->cache_path)
        return;
    cJSON *doc = rb_plugin_cache_build(reg);
    char *text = doc ? cJSON_PrintUnformatted(doc) : NULL;
    cJSON_Delete(doc);
    if (!text)
        return;
    char *dir = strdup(reg->cache_path);
    char *slash = dir ? strrchr(dir, '/') : NULL;
    if (slash && slash != dir)
        *slash = '\0';
    if (!dir || rb_fs_mkdir_p(dir, 0700) < 0 ||
        rb_fs_write_atomic(reg->cache_path, text, strlen(text), 0600) < 0)
        rb_log(RB_LOG_DEBUG, "backend cache not written: %s", rb_error_last()->message);
    else
        reg->cache_dirty = 0;
    free(dir);
    free(text);
    rb_error_clear();
}

void rb_registry_free(rb_registry *reg)
{
    for (size_t i = 0; i < reg->count; i++) {
        rb_plugin_entry *e = &reg->items[i];
        if (e->initialized && e->vt->fini)
            e->vt->fini(e->state);
        if (e->dl)
            dlclose(e->dl);
        free(e->path);
        free(e->name);
        free(e->description);
        free(e->plugin_version);
        free(e->err_message);
        cJSON_Delete(e->keys);
    }
    free(reg->items);
    for (size_t i = 0; i < reg->dir_count; i++)
        free(reg->dirs[i]);
    free(reg->dirs);
    free(reg->cache_path);
    memset(reg, 0, sizeof *reg);
}
