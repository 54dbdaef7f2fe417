/* restore: the snapshot's state document goes back, under the backend's
 * lock, with one change: its serial becomes the current serial + 1, so the
 * next plan or apply does not reject it as stale. A live state of another
 * lineage is other infrastructure (or a re-created state); writing over it
 * is refused unless --force. Then apply_command, when configured, brings
 * the real infrastructure in line with the restored state. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "tfstate.h"

typedef struct restore {
    const char *what;
    int force;
    rb_infra_buf snap;
    rb_tfstate snap_state;
    /* What decide found and did. */
    int changed;
    int lineage_forced;
    char *previous_lineage;
    uint64_t previous_serial;
    uint64_t serial;
} restore;

/* A current state that cannot be read (a truncated file, a hand edit gone
 * wrong) has no lineage to check, which is exactly when a rollback may be
 * wanted most: only --force writes over it, with a serial above the
 * snapshot's since the current one is unknown. */
static int unreadable(restore *r, rb_infra_buf *out)
{
    const rb_host_api *h = rb_infra_host;
    if (!r->force)
        return h->error_set(RB_ECONFLICT, RB_ERRCLASS_INFRA,
                            "%s cannot be read as a Terraform state (not JSON, or not format "
                            "version 4), so its lineage cannot be checked; nothing was changed "
                            "(--force writes the snapshot's state over it)",
                            r->what);
    h->log(RB_LOG_WARN, "%s cannot be read as a Terraform state: replacing it (--force)", r->what);
    r->lineage_forced = 1;
    r->changed = 1;
    r->serial = r->snap_state.serial + 1;
    return rb_tfstate_serial_set(&r->snap, "the snapshot's state", r->serial, out);
}

static int decide(void *ctx, const rb_infra_buf *current, rb_infra_buf *out)
{
    restore *r = ctx;
    const rb_host_api *h = rb_infra_host;
    if (!current) {
        r->changed = 1;
        r->serial = r->snap_state.serial;
        return rb_infra_buf_set(out, r->snap.data, r->snap.len);
    }
    rb_tfstate cur;
    int rc = rb_tfstate_parse(current, r->what, NULL, &cur);
    if (rc < 0)
        return unreadable(r, out);
    r->previous_serial = cur.serial;
    r->previous_lineage = cur.lineage;
    cur.lineage = NULL;
    rb_tfstate_free(&cur);
    if (strcmp(r->previous_lineage, r->snap_state.lineage)) {
        if (!r->force)
            return h->error_set(RB_ECONFLICT, RB_ERRCLASS_INFRA,
                                "%s has lineage %s, the snapshot's is %s: it is the state of "
                                "other infrastructure, or was created anew since; nothing was "
                                "changed (--force writes the snapshot's state over it anyway)",
                                r->what, r->previous_lineage, r->snap_state.lineage);
        r->lineage_forced = 1;
        h->log(RB_LOG_WARN, "%s has lineage %s, the snapshot's is %s: replacing it (--force)",
               r->what, r->previous_lineage, r->snap_state.lineage);
    }
    /* Already the snapshot's state at the current serial: writing it again
     * would only bump the serial. */
    rb_infra_buf same = {NULL, 0};
    rc = rb_tfstate_serial_set(&r->snap, "the snapshot's state", r->previous_serial, &same);
    if (rc < 0)
        return rc;
    int unchanged = same.len == current->len && !memcmp(same.data, current->data, same.len);
    rb_infra_buf_free(&same);
    r->serial = unchanged ? r->previous_serial : r->previous_serial + 1;
    if (unchanged)
        return 0;
    r->changed = 1;
    return rb_tfstate_serial_set(&r->snap, "the snapshot's state", r->serial, out);
}

static int load_snapshot(rb_op *op, restore *r)
{
    const rb_host_api *h = rb_infra_host;
    const char *blob = h->node_string(h->node_get(h->metadata(op), "state_blob"));
    if (!blob)
        return h->error_set(RB_ECORRUPT, RB_ERRCLASS_STORE,
                            "snapshot %s records no state_blob: it was not made by this backend",
                            h->op_snapshot_id(op));
    int rc = rb_infra_blob_read(op, blob, &r->snap);
    if (rc == 0)
        rc = rb_tfstate_parse(&r->snap, "the snapshot's state", NULL, &r->snap_state);
    return rc;
}

static int describe(const restore *r, const rb_infra_target *t, rb_node *result)
{
    const rb_host_api *h = rb_infra_host;
    if (!h->node_add_string(result, "status", "success") ||
        !h->node_add_string(result, "method", "terraform_state_write") ||
        !h->node_add_string(result, "backend", t->backend) ||
        !h->node_add_string(result, "lineage", r->snap_state.lineage) ||
        !h->node_add_int(result, "serial", (int64_t)r->serial) ||
        !h->node_add_bool(result, "changed", r->changed) ||
        !h->node_add_int(result, "resource_instances", (int64_t)r->snap_state.instance_count))
        return RB_ENOMEM;
    if (r->previous_lineage) {
        if (!h->node_add_int(result, "previous_serial", (int64_t)r->previous_serial) ||
            !h->node_add_string(result, "previous_lineage", r->previous_lineage))
            return RB_ENOMEM;
    } else if (!h->node_add_null(result, "previous_serial")) {
        return RB_ENOMEM;
    }
    if (r->lineage_forced && !h->node_add_bool(result, "lineage_forced", 1))
        return RB_ENOMEM;
    return 0;
}

int rb_infra_restore(rb_op *op)
{
    const rb_host_api *h = rb_infra_host;
    rb_infra_target t;
    restore r;
    memset(&r, 0, sizeof r);
    r.force = (h->op_flags(op) & RB_OP_FORCE) != 0;
    char what[600] = "";
    r.what = what;
    rb_node *result = h->result(op);
    int rc = rb_infra_target_read(op, 1, &t);
    if (rc == 0) {
        rb_infra_target_name(&t, what, sizeof what);
        rc = load_snapshot(op, &r);
    }
    if (rc == 0)
        rc = rb_infra_backend_for(&t)->replace(op, &t, decide, &r, result);
    if (rc == 0)
        rc = describe(&r, &t, result);
    if (rc == 0 && r.changed)
        h->log(RB_LOG_INFO, "wrote the snapshot's state to %s with serial %" PRIu64, what,
               r.serial);
    else if (rc == 0)
        h->log(RB_LOG_INFO, "%s already holds the snapshot's state (serial %" PRIu64 ")", what,
               r.serial);
    if (rc == 0 && t.apply_command)
        rc = rb_infra_apply_run(op, &t, result);
    free(r.previous_lineage);
    rb_tfstate_free(&r.snap_state);
    rb_infra_buf_free(&r.snap);
    rb_infra_target_free(&t);
    return rc;
}
