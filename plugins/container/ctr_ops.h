/* The container backend's operations, one file each, called from the
 * vtable in container.c. */
#ifndef RB_CTR_OPS_H
#define RB_CTR_OPS_H

#include "ctr_engine.h"

/* Opens the engine the target's config names (key "engine"). */
int rb_ctr_open_target(rb_ctr_engine *e, const rb_host_api *host, rb_op *op);

int rb_ctr_snapshot(const rb_host_api *host, rb_op *op);
int rb_ctr_restore(const rb_host_api *host, rb_op *op);
int rb_ctr_verify(const rb_host_api *host, rb_op *op);
int rb_ctr_plan(const rb_host_api *host, rb_op *op);
int rb_ctr_destroy(const rb_host_api *host, rb_op *op);

#endif
