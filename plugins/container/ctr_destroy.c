/* Destroy: what a deleted snapshot kept outside the store. */
#include <string.h>

#include "ctr_action.h"
#include "ctr_container.h"
#include "ctr_ops.h"

/* A safety snapshot owns the containers its rollback renamed away:
 * deleting it removes them, unless they were given back their names or
 * replaced since. */
int rb_ctr_destroy(const rb_host_api *h, rb_op *op)
{
    const rb_node *list = h->node_get(h->metadata(op), "containers");
    int has_kept = 0;
    for (size_t i = 0; i < h->node_count(list); i++)
        has_kept |= h->node_string(h->node_get(h->node_at(list, i), "kept_as")) != NULL;
    if (!has_kept)
        return 0;
    rb_ctr_engine e;
    int rc = rb_ctr_open_target(&e, h, op);
    if (rc < 0)
        return rc;
    for (size_t i = 0; rc == 0 && i < h->node_count(list); i++) {
        const rb_node *c = h->node_at(list, i);
        const char *kept = h->node_string(h->node_get(c, "kept_as"));
        const char *id = h->node_string(h->node_get(c, "id"));
        cJSON *live = NULL;
        if (!kept || !id)
            continue;
        rc = rb_ctr_inspect_optional(&e, kept, &live);
        if (rc == 0 && live && !strcmp(rb_ctr_id(live), id))
            rc = rb_ctr_remove(&e, id, kept);
        cJSON_Delete(live);
    }
    rb_ctr_engine_close(&e);
    return rc;
}
