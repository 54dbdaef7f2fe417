/* Shared by the ops suite (prune, audit log, config file): a store, a tree
 * of files to snapshot, and snapshots dated at will. */
#ifndef OPS_FIXTURE_H
#define OPS_FIXTURE_H

#include <cjson/cJSON.h>

#include "rbtest.h"

typedef struct ops {
    char *tmp;
    char *store;
} ops;

void ops_open(ops *t);
void ops_close(ops *t);
/* Runs a shell command that must succeed. */
void ops_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* rbhost --store <store> --json ARGS; *code gets the exit status. */
cJSON *ops_json(const ops *t, int *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Snapshot `id` of directory <tmp>/data/<id>, filled with `kib` KiB of
 * random (incompressible) bytes in file "blob". */
void ops_snapshot(const ops *t, const char *id, int kib);
/* Sets the created_at of snapshot `id` in its <id>_metadata.json, the
 * document the store orders snapshots by (seed 001's contract file). */
void ops_set_created(const ops *t, const char *id, long long when);
/* Ids of a prune response's array `key` ("kept", "removed"), sorted and
 * joined with spaces. */
char *ops_ids(const cJSON *response, const char *key);
/* Whether any file under `dir` contains the `len` bytes at `needle`. */
int ops_tree_contains(const char *dir, const void *needle, size_t len);
/* The first 64 bytes of <tmp>/data/<id>/blob, to look for in the store. */
void ops_blob_head(const ops *t, const char *id, unsigned char out[64]);

#endif
