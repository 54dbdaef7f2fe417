/* Shared by the file_system suites: a live tree and a store, both
 * temporary, a manifest of a tree computed without rbhost, and shortcuts
 * for running rbhost on them. */
#ifndef FS_FIXTURE_H
#define FS_FIXTURE_H

#include <cjson/cJSON.h>

#include "rbtest.h"

typedef struct fst {
    char *tmp;
    char *tree;  /* <tmp>/tree, the recorded path */
    char *store; /* <tmp>/store */
} fst;

void fst_open(fst *t);
void fst_close(fst *t);

/* Runs a shell command (printf-style) and asserts it exits 0. */
void fst_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The manifest of the tree at `dir` (see fs_manifest.sh); free() it. */
char *fst_manifest(const char *dir);
/* Asserts the tree at `dir` has the manifest `expected`. */
void fst_expect_manifest(const char *dir, const char *expected, const char *when);

/* Runs rbhost --json on the store; returns the parsed output and the exit
 * code in *code. */
cJSON *fst_rbhost_json(const fst *t, int *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* create-snapshot of type file_system with `config` (JSON text); asserts
 * success and returns the snapshot's metadata object (free the root with
 * cJSON_Delete on the returned response in *resp). */
cJSON *fst_snapshot(const fst *t, const char *id, const char *config, cJSON **resp);
/* {"paths": ["<tree>"]} */
char *fst_config(const fst *t);
/* execute-rollback --json --yes plus `extra` arguments; returns the record. */
cJSON *fst_rollback(const fst *t, const char *id, const char *extra, int *code);

cJSON *fst_get(const cJSON *j, ...) __attribute__((sentinel));
double fst_num(const cJSON *j, ...) __attribute__((sentinel));
const char *fst_str(const cJSON *j, ...) __attribute__((sentinel));

#endif
