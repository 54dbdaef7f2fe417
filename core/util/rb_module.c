#include "rb_module.h"

#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>

#include "rb_paths.h"

const void *rb_module_load(const char *reldir, const char *file, const char *entry,
                           unsigned int version, char *err, size_t errlen)
{
    char rel[PATH_MAX], path[PATH_MAX];
    if (snprintf(rel, sizeof rel, "%s/%s", reldir, file) >= (int)sizeof rel ||
        rb_paths_under_prefix(rel, path, sizeof path) < 0) {
        snprintf(err, errlen, "cannot locate %s", file);
        return NULL;
    }
    void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    if (!dl) {
        snprintf(err, errlen, "cannot load %s: %s", path, dlerror());
        return NULL;
    }
    void *sym = dlsym(dl, entry);
    const void *(*fn)(void);
    *(void **)&fn = sym;
    const rb_module_header *m = sym ? fn() : NULL;
    if (!m || m->version != version) {
        snprintf(err, errlen, "%s does not belong to this rbhost", path);
        return NULL;
    }
    return m;
}
