#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>

#include "rb_error.h"
#include "rb_paths.h"
#include "store_archive.h"

static pthread_once_t once = PTHREAD_ONCE_INIT;
static const rb_store_archive_module *loaded;
static char load_error[PATH_MAX + 512];

static void load(void)
{
    char path[PATH_MAX];
    if (rb_paths_under_prefix(RB_MODULE_RELDIR "/" RB_STORE_ARCHIVE_FILE, path, sizeof path) < 0) {
        snprintf(load_error, sizeof load_error, "cannot locate %s", RB_STORE_ARCHIVE_FILE);
        return;
    }
    void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    if (!dl) {
        snprintf(load_error, sizeof load_error, "cannot load %s: %s", path, dlerror());
        return;
    }
    void *sym = dlsym(dl, RB_STORE_ARCHIVE_ENTRY);
    const rb_store_archive_module *(*entry)(void);
    *(void **)&entry = sym;
    const rb_store_archive_module *m = sym ? entry() : NULL;
    if (!m || m->version != RB_STORE_ARCHIVE_VERSION) {
        snprintf(load_error, sizeof load_error, "%s does not belong to this rbhost", path);
        return;
    }
    loaded = m;
}

static const rb_store_archive_module *module(void)
{
    pthread_once(&once, load);
    if (!loaded)
        rb_error_set(RB_ENOTFOUND, RB_ERRCLASS_STORE, "%s", load_error);
    return loaded;
}

int rb_store_export(rb_store *store, const char *id, const char *archive_path)
{
    const rb_store_archive_module *m = module();
    return m ? m->export_snapshot(store, id, archive_path) : RB_ENOTFOUND;
}

int rb_store_import(rb_store *store, const char *archive_path, char **id_out)
{
    const rb_store_archive_module *m = module();
    return m ? m->import_snapshot(store, archive_path, id_out) : RB_ENOTFOUND;
}
