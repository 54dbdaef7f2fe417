#include <limits.h>
#include <pthread.h>

#include "rb_error.h"
#include "rb_module.h"
#include "store_archive.h"

static pthread_once_t once = PTHREAD_ONCE_INIT;
static const rb_store_archive_module *loaded;
static char load_error[PATH_MAX + 512];

static void load(void)
{
    loaded = rb_module_load(RB_MODULE_RELDIR, RB_STORE_ARCHIVE_FILE, RB_STORE_ARCHIVE_ENTRY,
                            RB_STORE_ARCHIVE_VERSION, load_error, sizeof load_error);
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
