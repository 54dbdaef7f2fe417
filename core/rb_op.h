/* One backend operation on one target, and the host-API table that
 * backends reach the host through. */
#ifndef RB_OP_H
#define RB_OP_H

#include <cjson/cJSON.h>
#include <rbhost/rbhost.h>
#include <stdatomic.h>

#include "rb_store.h"

struct rb_progress;

struct rb_op {
    const char *snapshot_id;
    const char *target_name;
    const char *rollback_id;
    unsigned int flags;
    const char *restore_to;
    char *scratch_dir;     /* created on first request */
    cJSON *config;         /* effective config: validated, defaults applied */
    cJSON *metadata;       /* written by snapshot, read otherwise */
    const cJSON *previous; /* previous_metadata, may be NULL */
    cJSON *result;
    cJSON *safety_metadata; /* only for RESTORE_KEEPS_SAFETY restores */
    rb_store *store;
    rb_store_txn *txn;        /* non-NULL only while snapshotting */
    const atomic_int *cancel; /* set by signals */
    double deadline;          /* monotonic seconds; 0: none */
    struct rb_progress *progress;
};

/* The table handed to every backend's init(). */
const rb_host_api *rb_host_api_get(void);

/* Prepares and tears down an op; rb_op_init zeroes it and creates result. */
void rb_op_init(struct rb_op *op);
void rb_op_release(struct rb_op *op);

#endif
