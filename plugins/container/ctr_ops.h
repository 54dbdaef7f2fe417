/* The container backend's operations, one file each, called from the
 * vtable in container.c. */
#ifndef RB_CTR_OPS_H
#define RB_CTR_OPS_H

#include "ctr_engine.h"

/* Opens the engine the target's config names (key "engine"). */
int rb_ctr_open_target(rb_ctr_engine *e, const rb_host_api *host, rb_op *op);

/* Records the engine's identity (metadata "identity") and checks the live
 * engine against the one `meta` recorded: RB_ECONFLICT, naming the
 * containers and both engines, when it is another one (a warning and
 * result "identity_differs" with --force). See ctr_identity.c. */
int rb_ctr_identity_record(rb_ctr_engine *e, rb_node *meta);
int rb_ctr_identity_check(rb_ctr_engine *e, const rb_node *meta);

int rb_ctr_snapshot(const rb_host_api *host, rb_op *op);
int rb_ctr_restore(const rb_host_api *host, rb_op *op);
int rb_ctr_verify(const rb_host_api *host, rb_op *op);
int rb_ctr_plan(const rb_host_api *host, rb_op *op);
int rb_ctr_destroy(const rb_host_api *host, rb_op *op);

#endif
