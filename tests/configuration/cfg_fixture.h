/* Shared by the configuration suites: a directory of configuration files
 * and a store, both temporary, and shortcuts for running rbhost on them. */
#ifndef CFG_FIXTURE_H
#define CFG_FIXTURE_H

#include <cjson/cJSON.h>
#include <sys/stat.h>

#include "rbtest.h"

typedef struct cft {
    char *dir;   /* the live files: <tmp>/live */
    char *store; /* <tmp>/store */
    char *tmp;
} cft;

void cft_open(cft *t);
void cft_close(cft *t);
/* <dir>/<rel>, malloc'd. */
char *cft_path(const cft *t, const char *rel);
/* Writes <dir>/<rel>, creating parent directories. */
void cft_write(const cft *t, const char *rel, const char *content);
/* Asserts <dir>/<rel> holds exactly `content`. */
void cft_expect(const cft *t, const char *rel, const char *content);
void cft_expect_absent(const cft *t, const char *rel);
struct stat cft_stat(const cft *t, const char *rel);

/* create-snapshot --json with config {"config_files": [<dir>/<rel>...]}
 * (rel_json is a JSON array of paths relative to dir, e.g. "[\".env\"]");
 * asserts success and returns the parsed response. */
cJSON *cft_snapshot(const cft *t, const char *id, const char *rel_json);
/* The same with the whole config given as JSON text. */
cJSON *cft_snapshot_config(const cft *t, const char *id, const char *config_json);
/* The same config, as the JSON text passed to --config. */
char *cft_config(const cft *t, const char *rel_json);
/* Runs rbhost --json with the arguments; returns the parsed output and the
 * exit code in *code. */
cJSON *cft_rbhost_json(const cft *t, int *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* execute-rollback --json --yes; returns the rollback record. */
cJSON *cft_rollback(const cft *t, const char *id, int *code);

/* A member by path of keys: cft_get(j, "execution_result", "status", NULL). */
cJSON *cft_get(const cJSON *j, ...) __attribute__((sentinel));
const char *cft_str(const cJSON *j, ...) __attribute__((sentinel));
/* The element of an array of objects whose `key` equals `value`. */
cJSON *cft_find(const cJSON *array, const char *key, const char *value);
/* Number of entries in <dir>/<rel> (temporary names left behind show up). */
int cft_count_entries(const cft *t, const char *rel);
/* Skips the test unless running as root, removing the fixture first (a
 * skipped test does not reach the suite's fini). */
void cft_require_root(cft *t, const char *why);

#endif
