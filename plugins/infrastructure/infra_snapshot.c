/* snapshot: the whole state document goes into the store as one blob; the
 * metadata describes it without any value from it (outputs by name only,
 * resource instances by address with a keyed hash of their attributes). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tfstate.h"

static int describe_state(rb_node *meta, const rb_tfstate *st)
{
    const rb_host_api *h = rb_infra_host;
    if (!h->node_add_int(meta, "format_version", st->version) ||
        !h->node_add_string(meta, "lineage", st->lineage) ||
        !h->node_add_int(meta, "serial", (int64_t)st->serial) ||
        !h->node_add_int(meta, "resource_count", (int64_t)st->resource_count) ||
        !h->node_add_int(meta, "instance_count", (int64_t)st->instance_count))
        return RB_ENOMEM;
    if (!(st->terraform_version
              ? h->node_add_string(meta, "terraform_version", st->terraform_version)
              : h->node_add_null(meta, "terraform_version")))
        return RB_ENOMEM;
    rb_node *outputs = h->node_add_array(meta, "outputs");
    if (!outputs)
        return RB_ENOMEM;
    for (size_t i = 0; i < st->output_count; i++)
        if (!h->node_add_string(outputs, NULL, st->outputs[i]))
            return RB_ENOMEM;
    char *resources = NULL;
    int rc = rb_tfstate_index_json(st, &resources);
    if (rc < 0)
        return rc;
    rb_node *added = h->node_add_json(meta, "resources", resources);
    free(resources);
    if (!added)
        return RB_ENOMEM;
    return h->node_add_string(meta, "attribute_hash",
                              "hmac-sha256, keyed by the snapshot's state document")
               ? 0
               : RB_ENOMEM;
}

int rb_infra_snapshot(rb_op *op)
{
    const rb_host_api *h = rb_infra_host;
    rb_infra_target t;
    rb_infra_buf doc = {NULL, 0};
    rb_tfstate st;
    memset(&st, 0, sizeof st);
    int rc = rb_infra_target_read(op, 0, &t);
    int exists = 0;
    if (rc == 0)
        rc = rb_infra_backend_for(&t)->read(&t, &doc, &exists);
    char what[600];
    rb_infra_target_name(&t, what, sizeof what);
    if (rc == 0 && !exists)
        rc = rb_infra_no_state(op, what);
    unsigned char key[RB_TFSTATE_KEY_LEN];
    if (rc == 0)
        rc = rb_tfstate_key(&doc, key);
    if (rc == 0) {
        rc = rb_tfstate_parse(&doc, what, key, &st);
        if (rc < 0 && (h->op_flags(op) & RB_OP_SAFETY))
            rc = h->error_set(RB_ECONFLICT, RB_ERRCLASS_INFRA,
                              "%s cannot be read as a Terraform state, so no safety copy of it "
                              "can be kept; to replace it with the snapshot's state, roll back "
                              "with --force --no-safety-snapshot",
                              what);
    }
    char blob[RB_BLOB_ID_SIZE];
    if (rc == 0)
        rc = h->blob_put(op, doc.data, doc.len, blob);
    rb_node *meta = h->metadata(op);
    if (rc == 0 && (!h->node_add_string(meta, "method", "terraform_state") ||
                    !h->node_add_string(meta, "state_blob", blob) ||
                    !h->node_add_int(meta, "state_size", (int64_t)doc.len)))
        rc = RB_ENOMEM;
    if (rc == 0)
        rc = rb_infra_target_describe(&t, meta);
    if (rc == 0)
        rc = describe_state(meta, &st);
    if (rc == 0)
        h->log(RB_LOG_INFO,
               "state lineage %s serial %" PRIu64 ": %zu resource instances, %zu outputs",
               st.lineage, st.serial, st.instance_count, st.output_count);
    rb_tfstate_free(&st);
    rb_infra_buf_free(&doc);
    rb_infra_target_free(&t);
    return rc;
}
