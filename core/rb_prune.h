/* prune: which snapshots a retention policy keeps, removing the others and
 * the blobs only they used. */
#ifndef RB_PRUNE_H
#define RB_PRUNE_H

#include "rb_core.h"

typedef struct rb_prune_options {
    /* Keep rules, as restic's forget: 0 turns a rule off. */
    int keep_last;
    int keep_daily;
    int keep_weekly;
    int keep_monthly;
    /* When >= 0, only snapshots older than this many days are removed. */
    long older_than_days;
    int dry_run;
} rb_prune_options;

/* Applies the policy (with no rule at all, the [retention] defaults of the
 * active rbhost.conf) to ordinary and safety snapshots separately, keeps the
 * safety snapshot of the latest rollback, removes the rest (what backends
 * kept outside the store first) and collects unused blobs. Refuses
 * (RB_EINVAL) a policy without any rule. Returns RB_EDRIFT when some
 * snapshot could not be removed (listed under "failed"). */
RB_CORE_API int rb_prune_run(rb_ctx *ctx, const rb_prune_options *opts, cJSON **response);
/* gc alone: removes blobs no snapshot uses ({freed_blobs, freed_bytes}). */
RB_CORE_API int rb_gc_run(rb_ctx *ctx, cJSON **response);

#endif
