/* Keeps the replaced state itself during restore (like a database renamed
 * aside), writing a blob into the safety snapshot; fails its restore when
 * its config value is "fail". */
#include <string.h>

#include "fixture.h"

static int keeping_restore(void *state, rb_op *op)
{
    (void)state;
    const rb_host_api *h = fixture_host;
    rb_node *safety = h->safety_metadata(op);
    if (safety) {
        char id[RB_BLOB_ID_SIZE];
        const char *kept = "state replaced by the rollback";
        int rc = h->blob_put(op, kept, strlen(kept), id);
        if (rc)
            return rc;
        h->node_add_string(safety, "kept_blob", id);
    }
    const char *v = h->node_string(h->node_get(h->config(op), "value"));
    if (v && !strcmp(v, "fail"))
        return h->error_set(RB_EIO, RB_ERRCLASS_BACKEND, "fixture restore failed as asked");
    h->node_add_string(h->result(op), "method", "fixture_keeps");
    return 0;
}

static const rollback_plugin d = {RB_PLUGIN_HEADER,
                                  "fixture_keeps",
                                  "test fixture",
                                  "0.0.1",
                                  RB_PLUGIN_CAP_RESTORE_KEEPS_SAFETY,
                                  fixture_keys,
                                  fixture_init,
                                  fixture_fini,
                                  fixture_snapshot,
                                  keeping_restore,
                                  fixture_verify,
                                  NULL,
                                  NULL,
                                  NULL};
RB_PLUGIN_DEFINE(d)
