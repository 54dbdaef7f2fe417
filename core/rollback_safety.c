/* The safety snapshot taken of the current state before a rollback
 * changes anything: what a failed rollback is reverted from, and what
 * undoes a completed one. */
#include <string.h>

#include "rb_rollback.h"

/* Snapshots every target whose backend does not keep the replaced state
 * itself, and records those that do as pending: they fill their entry
 * during their restore step. */
int rb_rollback_take_safety(rb_rollback_run *run)
{
    rb_store_txn *txn;
    int rc = rb_store_txn_begin(run->store, &txn);
    if (rc)
        return rc;
    cJSON *list;
    cJSON *doc = rb_doc_new_set(run->safety_id, &list);
    cJSON *meta = cJSON_GetObjectItemCaseSensitive(doc, "metadata");
    cJSON_AddStringToObject(meta, "kind", "safety");
    cJSON_AddStringToObject(meta, "rollback_id", run->rollback_id);
    cJSON_AddStringToObject(meta, "before_rollback_to", run->snapshot_id);
    const cJSON *t;
    cJSON_ArrayForEach(t, run->targets)
    {
        cJSON *td = NULL;
        if (rb_rollback_keeps_safety(run, t)) {
            td = cJSON_CreateObject();
            cJSON_AddStringToObject(td, "name", rb_rollback_tname(t));
            cJSON_AddStringToObject(td, "type", rb_rollback_ttype(t));
            cJSON_AddNumberToObject(td, "created_at", (double)rb_now());
            cJSON_AddItemToObject(
                td, "config", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(t, "config"), 1));
            cJSON_AddStringToObject(td, "status", "pending");
            cJSON_AddItemToObject(td, "metadata", cJSON_CreateObject());
        } else {
            const cJSON *config = cJSON_GetObjectItemCaseSensitive(t, "config");
            rc = rb_target_snapshot(run->ctx, run->store, txn, run->safety_id, rb_rollback_tname(t),
                                    rb_rollback_ttype(t), config, RB_OP_SAFETY, run->rollback_id,
                                    &td);
            if (rc)
                break;
        }
        /* A revert restores these with the same policy as the rollback. */
        static const char *const kept[] = {"timeout", "retry"};
        for (size_t k = 0; k < sizeof kept / sizeof *kept; k++) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(t, kept[k]);
            if (v)
                cJSON_AddItemToObject(td, kept[k], cJSON_Duplicate(v, 1));
        }
        cJSON_AddItemToArray(list, td);
    }
    if (rc) {
        rb_store_txn_abort(txn);
        cJSON_Delete(doc);
        return rc;
    }
    rc = rb_store_snapshot_commit(txn, run->safety_id, doc);
    if (rc) {
        cJSON_Delete(doc);
        return rc;
    }
    run->safety_doc = doc;
    return 0;
}

int rb_rollback_keeps_safety(rb_rollback_run *run, const cJSON *target)
{
    rb_plugin_entry *e;
    return rb_ctx_backend(run->ctx, rb_rollback_ttype(target), &e) == 0 &&
           (e->capabilities & RB_PLUGIN_CAP_RESTORE_KEEPS_SAFETY);
}

cJSON *rb_rollback_safety_entry(rb_rollback_run *run, const char *name)
{
    cJSON *t;
    cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(run->safety_doc, "targets"))
    {
        if (rb_rollback_tname(t) && !strcmp(rb_rollback_tname(t), name))
            return t;
    }
    return NULL;
}
