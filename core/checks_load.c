#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>

#include "rb_checks_module.h"
#include "rb_error.h"
#include "rb_paths.h"

static pthread_once_t once = PTHREAD_ONCE_INIT;
static const rb_checks_module *loaded;
static char load_error[PATH_MAX + 512];

static void load(void)
{
    char path[PATH_MAX];
    if (rb_paths_under_prefix(RB_MODULE_RELDIR "/" RB_CHECKS_MODULE_FILE, path, sizeof path) < 0) {
        snprintf(load_error, sizeof load_error, "cannot locate %s", RB_CHECKS_MODULE_FILE);
        return;
    }
    void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    if (!dl) {
        snprintf(load_error, sizeof load_error, "cannot load %s: %s", path, dlerror());
        return;
    }
    void *sym = dlsym(dl, RB_CHECKS_MODULE_ENTRY);
    const rb_checks_module *(*entry)(void);
    *(void **)&entry = sym;
    const rb_checks_module *m = sym ? entry() : NULL;
    if (!m || m->version != RB_CHECKS_MODULE_VERSION) {
        snprintf(load_error, sizeof load_error, "%s does not belong to this rbhost", path);
        dlclose(dl);
        return;
    }
    /* Kept loaded until exit: libcurl and libgit2 keep global state. */
    loaded = m;
}

const rb_checks_module *rb_checks_module_load(void)
{
    pthread_once(&once, load);
    if (!loaded)
        rb_error_set(RB_ENOTFOUND, RB_ERRCLASS_PLUGIN, "%s", load_error);
    return loaded;
}
