#include <limits.h>
#include <pthread.h>

#include "rb_checks_module.h"
#include "rb_error.h"
#include "rb_module.h"

static pthread_once_t once = PTHREAD_ONCE_INIT;
static const rb_checks_module *loaded;
static char load_error[PATH_MAX + 512];

static void load(void)
{
    loaded = rb_module_load(RB_MODULE_RELDIR, RB_CHECKS_MODULE_FILE, RB_CHECKS_MODULE_ENTRY,
                            RB_CHECKS_MODULE_VERSION, load_error, sizeof load_error);
}

const rb_checks_module *rb_checks_module_load(void)
{
    pthread_once(&once, load);
    if (!loaded)
        rb_error_set(RB_ENOTFOUND, RB_ERRCLASS_PLUGIN, "%s", load_error);
    return loaded;
}
