/* The interface between the core and the checks module (rbhost-checks.so),
 * which holds what needs libgit2 and libcurl: the validation tests, the
 * samples `watch` takes and the webhooks of notifications. Both sides are
 * built from this tree and link the same libcjson. */
#ifndef RB_CHECKS_MODULE_H
#define RB_CHECKS_MODULE_H

#include <cjson/cJSON.h>
#include <rbhost/abi.h>

#define RB_CHECKS_MODULE_VERSION 2
#define RB_CHECKS_MODULE_FILE    "rbhost-checks.so"
#define RB_CHECKS_MODULE_ENTRY   "rb_checks_module_entry"

typedef struct rb_checks_module {
    unsigned int version;
    cJSON *(*git_commit)(const cJSON *test, const char *default_repo);
    cJSON *(*health_check)(const cJSON *test);
    /* One GET of `url`: 0 with the status and the time it took, or -1
     * with the reason in `err` when no answer came. */
    int (*http_sample)(const char *url, double timeout, long *status, double *seconds, char *err,
                       size_t errlen);
    /* POSTs a JSON body with extra "Name: value" headers (NULL-terminated
     * list): 0 with the status, or -1 with the reason in `err`. */
    int (*http_post_json)(const char *url, const char *const *headers, const char *body,
                          double timeout, long *status, char *err, size_t errlen);
} rb_checks_module;

/* Shared by the tests in the core and in the module. */
static inline const char *rb_check_str(const cJSON *test, const char *key)
{
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(test, key));
}

/* A result in seed 001's shape: {"test": name, ..., "passed": bool}. */
static inline cJSON *rb_check_result(const char *name)
{
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "test", name);
    return r;
}

/* Loads the module once, from <prefix>/<libdir>/rbhost/; NULL with the
 * error set when it cannot. */
const rb_checks_module *rb_checks_module_load(void);

#endif
