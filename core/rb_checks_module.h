/* The interface between the core and the checks module (rbhost-checks.so),
 * which holds the validation tests that need libgit2 and libcurl. Both
 * sides are built from this tree and link the same libcjson. */
#ifndef RB_CHECKS_MODULE_H
#define RB_CHECKS_MODULE_H

#include <cjson/cJSON.h>
#include <rbhost/abi.h>

#define RB_CHECKS_MODULE_VERSION 1
#define RB_CHECKS_MODULE_FILE    "rbhost-checks.so"
#define RB_CHECKS_MODULE_ENTRY   "rb_checks_module_entry"

typedef struct rb_checks_module {
    unsigned int version;
    cJSON *(*git_commit)(const cJSON *test, const char *default_repo);
    cJSON *(*health_check)(const cJSON *test);
} rb_checks_module;

/* Loads the module once, from <prefix>/<libdir>/rbhost/; NULL with the
 * error set when it cannot. */
const rb_checks_module *rb_checks_module_load(void);

#endif
