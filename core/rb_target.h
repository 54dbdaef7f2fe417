/* Targets: the units snapshots and rollbacks are made of, and running one
 * backend operation on one of them. */
#ifndef RB_TARGET_H
#define RB_TARGET_H

#include <cjson/cJSON.h>

#include "rb_ctx.h"
#include "rb_op.h"

/* The targets of a snapshot document, as a new array of
 * {name, type, config, metadata, status} (a single-target document gives
 * one, named after its type). */
cJSON *rb_doc_targets(const cJSON *doc);

/* Snapshots one target into `txn`; *target_doc gets
 * {name, type, created_at, config (redacted), status, metadata}. */
int rb_target_snapshot(rb_ctx *ctx, rb_store *store, rb_store_txn *txn, const char *snapshot_id,
                       const char *name, const char *type, const cJSON *config, unsigned int flags,
                       const char *rollback_id, cJSON **target_doc);

typedef enum rb_target_action {
    RB_ACTION_RESTORE,
    RB_ACTION_VERIFY,
    RB_ACTION_PLAN,
    RB_ACTION_DESTROY,
} rb_target_action;

/* What a RESTORE_KEEPS_SAFETY backend's restore fills: the safety
 * snapshot's metadata object for the target, and the transaction its blobs
 * go into (amended into the safety snapshot afterwards). */
typedef struct rb_safety_slot {
    cJSON *metadata;
    rb_store_txn *txn;
} rb_safety_slot;

/* Runs one operation on a recorded target (an element of rb_doc_targets).
 * *result gets what the backend reported (also on failure). For restore,
 * `safety` (may be NULL) is what a RESTORE_KEEPS_SAFETY backend fills.
 * Returns the backend's code, with the error message prefixed by the
 * target. */
int rb_target_run(rb_ctx *ctx, rb_store *store, const cJSON *target, const char *snapshot_id,
                  rb_target_action action, unsigned int flags, const char *rollback_id,
                  const char *restore_to, const rb_safety_slot *safety, cJSON **result);

/* Limits of one run: the flag that cancels it (what the backend's
 * cancelled() reads) and a deadline on rb_monotonic()'s clock (0: none),
 * after which cancelled() is true as well. */
typedef struct rb_target_limits {
    const atomic_int *cancel;
    double deadline;
} rb_target_limits;

/* rb_target_run with limits (rb_target_run uses the context's cancel
 * flag and no deadline). Safe to call from another thread than the
 * context's once the target's backend is loaded. */
int rb_target_run_limited(rb_ctx *ctx, rb_store *store, const cJSON *target,
                          const char *snapshot_id, rb_target_action action, unsigned int flags,
                          const char *rollback_id, const char *restore_to,
                          const rb_safety_slot *safety, const rb_target_limits *limits,
                          cJSON **result);

/* A new snapshot document of a set: seed 001's fields (id, type "set",
 * created_at, empty config and metadata, status "created") and an empty
 * "targets" array, returned through *targets. */
cJSON *rb_doc_new_set(const char *id, cJSON **targets);

/* Seconds since the epoch. */
long long rb_now(void);

#endif
