/* The commands that change the store itself: delete-snapshot, export,
 * import. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "rb_core.h"
#include "rb_error.h"
#include "rb_log.h"
#include "rb_target.h"

int rb_snapshot_delete(rb_ctx *ctx, const char *id, int force, cJSON **response)
{
    int rc = rb_store_id_validate(id, "snapshot id");
    rb_store *store;
    cJSON *doc = NULL;
    if (rc || (rc = rb_ctx_store(ctx, 0, RB_STORE_LOCK_EXCLUSIVE, &store)) ||
        (rc = rb_store_snapshot_read(store, id, &doc)))
        return rc;
    cJSON *targets = rb_doc_targets(doc);
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "status", "success");
    cJSON_AddStringToObject(r, "snapshot_id", id);
    cJSON *list = cJSON_AddArrayToObject(r, "targets");
    /* What a backend kept outside the store (git refs, database copies)
     * goes first: once the document is gone nothing names it any more. */
    const cJSON *t;
    cJSON_ArrayForEach(t, targets)
    {
        const char *status = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "status"));
        cJSON *result = NULL;
        int trc =
            status && !strcmp(status, "pending")
                ? 0
                : rb_target_run(ctx, store, t, id, RB_ACTION_DESTROY, 0, NULL, NULL, NULL, &result);
        cJSON *e = cJSON_CreateObject();
        cJSON_AddItemToObject(e, "name",
                              cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(t, "name"), 1));
        cJSON_AddStringToObject(e, "status", trc ? "failed" : "success");
        if (trc)
            cJSON_AddStringToObject(e, "error", rb_error_last()->message);
        cJSON_AddItemToObject(e, "result", result ? result : cJSON_CreateObject());
        cJSON_AddItemToArray(list, e);
        if (trc && !force) {
            rb_error_prefix("snapshot '%s' kept (--force deletes it anyway, leaving what the "
                            "backend could not remove)",
                            id);
            rc = trc;
            break;
        }
        if (trc)
            rb_error_clear();
    }
    cJSON_Delete(targets);
    cJSON_Delete(doc);
    if (rc == 0)
        rc = rb_store_snapshot_delete(store, id);
    if (rc == 0) {
        uint64_t blobs = 0, bytes = 0;
        if (rb_store_gc(store, &blobs, &bytes) < 0) {
            rb_log(RB_LOG_WARN, "unused blobs not yet removed: %s", rb_error_last()->message);
            rb_error_clear();
        }
        cJSON_AddNumberToObject(r, "freed_blobs", (double)blobs);
        cJSON_AddNumberToObject(r, "freed_bytes", (double)bytes);
    }
    if (rc) {
        cJSON_Delete(r);
        return rc;
    }
    *response = r;
    return 0;
}

int rb_snapshot_export(rb_ctx *ctx, const char *id, const char *path, cJSON **response)
{
    int rc = rb_store_id_validate(id, "snapshot id");
    rb_store *store;
    if (rc || (rc = rb_ctx_store(ctx, 0, RB_STORE_LOCK_SHARED, &store)) ||
        (rc = rb_store_export(store, id, path)))
        return rc;
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "status", "success");
    cJSON_AddStringToObject(r, "snapshot_id", id);
    cJSON_AddStringToObject(r, "archive", path);
    *response = r;
    return 0;
}

int rb_snapshot_import(rb_ctx *ctx, const char *path, cJSON **response)
{
    rb_store *store;
    char *id = NULL;
    /* A missing archive is reported before a store is created for it. */
    struct stat st;
    if (stat(path, &st) < 0)
        return rb_error_os("cannot read archive %s", path);
    int rc = rb_ctx_store(ctx, 1, RB_STORE_LOCK_EXCLUSIVE, &store);
    if (rc || (rc = rb_store_import(store, path, &id)))
        return rc;
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "status", "success");
    cJSON_AddStringToObject(r, "snapshot_id", id);
    cJSON_AddStringToObject(r, "archive", path);
    free(id);
    *response = r;
    return 0;
}
