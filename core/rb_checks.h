/* Verification tests run after a rollback (seed 001): file_exists,
 * git_commit, service_status, health_check, command. */
#ifndef RB_CHECKS_H
#define RB_CHECKS_H

#include <cjson/cJSON.h>

/* Normalises {"tests": [...]} or [...] into a new array of tests, refusing
 * unknown types, unknown keys and missing fields before anything runs. */
int rb_checks_parse(const cJSON *validation, cJSON **tests_out);
/* Runs one test; returns a result object in seed 001's shape
 * ({"test", ..., "passed"}). `default_repo` is used by git_commit when the
 * test names no repo_path. */
cJSON *rb_checks_run(const cJSON *test, const char *default_repo);

#endif
