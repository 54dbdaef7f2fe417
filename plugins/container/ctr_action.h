/* The engine calls that change a container. Each names the container in
 * its message when it fails. `id` may be a name or an id; `name` is the
 * container's name for messages. */
#ifndef RB_CTR_ACTION_H
#define RB_CTR_ACTION_H

#include "ctr_engine.h"

/* Gives the container `timeout_s` seconds (its own stop timeout) before the
 * engine kills it. Stopping a stopped container succeeds. */
int rb_ctr_stop(rb_ctr_engine *e, const char *id, const char *name, long timeout_s);
int rb_ctr_start(rb_ctr_engine *e, const char *id, const char *name);
/* RB_EEXISTS when another container has `new_name`. */
int rb_ctr_rename(rb_ctr_engine *e, const char *id, const char *name, const char *new_name);
/* Removes the container (stopping it if needed) but not its volumes. */
int rb_ctr_remove(rb_ctr_engine *e, const char *id, const char *name);
/* POST /containers/create?name=name; the new id lands in *id_out (malloc'd).
 * RB_EEXISTS when the name is taken, RB_ENOTFOUND when the image is missing. */
int rb_ctr_create(rb_ctr_engine *e, const char *name, const cJSON *body, char **id_out);
int rb_ctr_connect(rb_ctr_engine *e, const char *network, const char *id, const char *name,
                   const cJSON *endpoint);

#endif
