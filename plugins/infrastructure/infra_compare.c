/* verify and plan: the live state against the snapshot, resource instance
 * by instance. Both compare what the snapshot recorded (addresses and
 * attribute hashes) with the live state hashed under the same key; serial
 * is left out, since a rollback writes a new one on purpose. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "tfstate.h"

typedef struct compare {
    rb_infra_target t;
    char what[600];
    rb_tfstate recorded; /* the snapshot's addresses and hashes, from the metadata */
    const char *lineage; /* the snapshot's */
    int live_exists;
    rb_tfstate live;
} compare;

static int load(rb_op *op, compare *c)
{
    const rb_host_api *h = rb_infra_host;
    memset(c, 0, sizeof *c);
    const rb_node *meta = h->metadata(op);
    const char *blob = h->node_string(h->node_get(meta, "state_blob"));
    const rb_node *resources = h->node_get(meta, "resources");
    c->lineage = h->node_string(h->node_get(meta, "lineage"));
    if (!blob || !c->lineage || h->node_type(resources) != RB_NODE_OBJECT)
        return h->error_set(RB_ECORRUPT, RB_ERRCLASS_STORE,
                            "snapshot %s has no state_blob, lineage or resources in its "
                            "metadata: it was not made by this backend",
                            h->op_snapshot_id(op));
    char *json = h->node_to_json(resources);
    int rc = json ? rb_tfstate_index_parse(json, &c->recorded) : RB_ENOMEM;
    h->free(json);
    if (rc == 0)
        rc = rb_infra_target_read(op, 1, &c->t);
    if (rc < 0)
        return rc;
    rb_infra_target_name(&c->t, c->what, sizeof c->what);
    rb_infra_buf snap = {NULL, 0}, live = {NULL, 0};
    unsigned char key[RB_TFSTATE_KEY_LEN];
    rc = rb_infra_blob_read(op, blob, &snap);
    if (rc == 0)
        rc = rb_tfstate_key(&snap, key);
    if (rc == 0)
        rc = rb_infra_backend_for(&c->t)->read(&c->t, &live, &c->live_exists);
    if (rc == 0 && c->live_exists)
        rc = rb_tfstate_parse(&live, c->what, key, &c->live);
    rb_infra_buf_free(&snap);
    rb_infra_buf_free(&live);
    return rc;
}

static void unload(compare *c)
{
    rb_tfstate_free(&c->live);
    rb_tfstate_free(&c->recorded);
    rb_infra_target_free(&c->t);
}

/* Calls visit for every address in either side with what happened to it
 * between the snapshot and the live state. */
typedef enum change { ONLY_SNAPSHOT, ONLY_LIVE, DIFFERENT } change;
typedef int (*visit_fn)(void *ctx, const char *address, change what);

static int walk(const compare *c, visit_fn visit, void *ctx)
{
    for (size_t i = 0; i < c->recorded.instance_count; i++) {
        const rb_tfstate_instance *snap = &c->recorded.instances[i];
        const rb_tfstate_instance *live = rb_tfstate_find(&c->live, snap->address);
        int rc = 0;
        if (!live)
            rc = visit(ctx, snap->address, ONLY_SNAPSHOT);
        else if (strcmp(snap->hash, live->hash))
            rc = visit(ctx, snap->address, DIFFERENT);
        if (rc < 0)
            return rc;
    }
    for (size_t i = 0; i < c->live.instance_count; i++) {
        const char *address = c->live.instances[i].address;
        if (!rb_tfstate_find(&c->recorded, address)) {
            int rc = visit(ctx, address, ONLY_LIVE);
            if (rc < 0)
                return rc;
        }
    }
    return 0;
}

static int add_difference(rb_node *list, const char *item, const char *difference)
{
    const rb_host_api *h = rb_infra_host;
    rb_node *d = h->node_add_object(list, NULL);
    return d && h->node_add_string(d, "item", item) &&
                   h->node_add_string(d, "difference", difference)
               ? 0
               : RB_ENOMEM;
}

typedef struct drift {
    rb_node *list;
    size_t count;
} drift;

static int note_drift(void *ctx, const char *address, change what)
{
    drift *d = ctx;
    d->count++;
    static const char *const words[] = {"missing from the live state", "not in the snapshot",
                                        "attributes differ"};
    return add_difference(d->list, address, words[what]);
}

int rb_infra_verify(rb_op *op)
{
    const rb_host_api *h = rb_infra_host;
    compare c;
    int rc = load(op, &c);
    rb_node *result = h->result(op);
    drift d = {h->node_add_array(result, "differences"), 0};
    if (rc == 0 && !d.list)
        rc = RB_ENOMEM;
    if (rc == 0 && !c.live_exists) {
        d.count++;
        rc = add_difference(d.list, c.what, "no state");
    }
    if (rc == 0 && c.live_exists) {
        if (strcmp(c.live.lineage, c.lineage)) {
            rb_node *l = h->node_add_object(d.list, NULL);
            d.count++;
            if (!l || !h->node_add_string(l, "item", "lineage") ||
                !h->node_add_string(l, "expected", c.lineage) ||
                !h->node_add_string(l, "actual", c.live.lineage))
                rc = RB_ENOMEM;
        }
        if (rc == 0)
            rc = walk(&c, note_drift, &d);
        if (rc == 0 &&
            (!h->node_add_string(result, "lineage", c.live.lineage) ||
             !h->node_add_int(result, "serial", (int64_t)c.live.serial) ||
             !h->node_add_int(result, "instances_checked", (int64_t)c.recorded.instance_count)))
            rc = RB_ENOMEM;
    }
    if (rc == 0 && d.count)
        rc = h->error_set(RB_EDRIFT, RB_ERRCLASS_VERIFY,
                          "%s differs from the snapshot in %zu place%s", c.what, d.count,
                          d.count == 1 ? "" : "s");
    unload(&c);
    return rc;
}

typedef struct plan {
    rb_node *changes;
    size_t counts[3];
} plan;

static int note_change(void *ctx, const char *address, change what)
{
    plan *p = ctx;
    /* From the rollback's side: what the snapshot has and the live state
     * lacks is added back, and so on. */
    static const char *const actions[] = {"add", "remove", "change"};
    const rb_host_api *h = rb_infra_host;
    p->counts[what]++;
    rb_node *c = h->node_add_object(p->changes, NULL);
    return c && h->node_add_string(c, "action", actions[what]) &&
                   h->node_add_string(c, "item", address)
               ? 0
               : RB_ENOMEM;
}

int rb_infra_plan(rb_op *op)
{
    const rb_host_api *h = rb_infra_host;
    compare c;
    int rc = load(op, &c);
    rb_node *result = h->result(op);
    plan p = {h->node_add_array(result, "changes"), {0, 0, 0}};
    if (rc == 0 && !p.changes)
        rc = RB_ENOMEM;
    if (rc == 0)
        rc = walk(&c, note_change, &p);
    char summary[900];
    if (rc == 0 && !c.live_exists) {
        snprintf(summary, sizeof summary,
                 "%s has no state: the rollback writes the snapshot's (%zu resource instances)",
                 c.what, p.counts[ONLY_SNAPSHOT]);
    } else if (rc == 0) {
        int same = !strcmp(c.live.lineage, c.lineage);
        snprintf(summary, sizeof summary,
                 "%zu to add, %zu to change, %zu to remove in %s; serial %" PRIu64 " -> %" PRIu64
                 "%s",
                 p.counts[ONLY_SNAPSHOT], p.counts[DIFFERENT], p.counts[ONLY_LIVE], c.what,
                 c.live.serial, c.live.serial + 1,
                 same ? "" : "; the lineage differs: the rollback is refused without --force");
        if (!h->node_add_bool(result, "lineage_matches", same) ||
            !h->node_add_int(result, "current_serial", (int64_t)c.live.serial) ||
            !h->node_add_int(result, "new_serial", (int64_t)c.live.serial + 1))
            rc = RB_ENOMEM;
    }
    if (rc == 0 && !h->node_add_string(result, "summary", summary))
        rc = RB_ENOMEM;
    unload(&c);
    return rc;
}
