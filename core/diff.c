/* diff: what changed in each target of a snapshot since it was taken,
 * changing nothing. Each backend's verify says whether the target still
 * matches, with the differences it found; its plan says what a rollback
 * would change back. Targets are listed in dependency order. */
#include <stdio.h>
#include <stdlib.h>

#include "rb_core.h"
#include "rb_ctx.h"
#include "rb_set.h"
#include "rb_target.h"

static cJSON *diff_target(rb_ctx *ctx, rb_store *store, const char *id, const cJSON *t, int *rc)
{
    cJSON *e = cJSON_CreateObject();
    cJSON_AddItemToObject(e, "name",
                          cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(t, "name"), 1));
    cJSON_AddItemToObject(e, "type",
                          cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(t, "type"), 1));
    cJSON *verify = NULL;
    *rc = rb_target_run(ctx, store, t, id, RB_ACTION_VERIFY, 0, NULL, NULL, NULL, &verify);
    if (*rc && *rc != RB_EDRIFT) {
        cJSON_AddStringToObject(e, "status", "error");
        cJSON_AddStringToObject(e, "error", rb_error_last()->message);
        cJSON_Delete(verify);
        return e;
    }
    cJSON_AddStringToObject(e, "status", *rc ? "changed" : "unchanged");
    const cJSON *diffs = cJSON_GetObjectItemCaseSensitive(verify, "differences");
    cJSON_AddItemToObject(e, "differences",
                          diffs ? cJSON_Duplicate(diffs, 1) : cJSON_CreateArray());
    if (*rc == RB_EDRIFT) {
        /* Keep the verdict when the plan fails: the plan only adds detail. */
        cJSON *plan = NULL;
        if (rb_target_run(ctx, store, t, id, RB_ACTION_PLAN, 0, NULL, NULL, NULL, &plan) == 0)
            cJSON_AddItemToObject(e, "rollback_would", plan);
        else {
            cJSON_AddStringToObject(e, "plan_error", rb_error_last()->message);
            cJSON_Delete(plan);
        }
    }
    cJSON_Delete(verify);
    return e;
}

int rb_snapshot_diff(rb_ctx *ctx, const char *id, cJSON **response)
{
    int rc = rb_store_id_validate(id, "snapshot id");
    if (rc)
        return rc;
    rb_store *store;
    cJSON *doc = NULL;
    if ((rc = rb_ctx_store(ctx, 0, RB_STORE_LOCK_SHARED, &store)) ||
        (rc = rb_store_snapshot_read(store, id, &doc)))
        return rc;
    cJSON *targets = rb_doc_targets(doc);
    int n = cJSON_GetArraySize(targets);
    int *order = malloc(((size_t)n + 1) * sizeof *order);
    if (!targets || !order)
        rc = rb_error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
    else
        rc = rb_set_order(targets, order);
    cJSON *r = NULL;
    int changed = 0, error = 0;
    char error_msg[2048] = "";
    rb_error_class error_class = RB_ERRCLASS_NONE;
    if (rc == 0) {
        r = cJSON_CreateObject();
        cJSON_AddStringToObject(r, "snapshot_id", id);
        cJSON *list = cJSON_AddArrayToObject(r, "targets");
        for (int i = 0; i < n; i++) {
            int trc;
            cJSON_AddItemToArray(
                list, diff_target(ctx, store, id, cJSON_GetArrayItem(targets, order[i]), &trc));
            changed += trc == RB_EDRIFT;
            if (trc && trc != RB_EDRIFT && !error) {
                error = trc;
                error_class = rb_error_last()->klass;
                snprintf(error_msg, sizeof error_msg, "%s", rb_error_last()->message);
            }
        }
        cJSON_AddStringToObject(r, "status", error ? "error" : changed ? "changed" : "unchanged");
        cJSON_AddNumberToObject(r, "changed_targets", changed);
        *response = r;
        if (error)
            rc = rb_error_set(error, error_class, "%s", error_msg);
        else if (changed)
            rc = rb_error_set(RB_EDRIFT, RB_ERRCLASS_VERIFY,
                              "%d of %d targets of snapshot %s changed since it was taken", changed,
                              n, id);
    }
    free(order);
    cJSON_Delete(targets);
    cJSON_Delete(doc);
    return rc;
}
