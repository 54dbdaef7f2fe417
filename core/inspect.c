/* The commands that look at the store and the backends without changing
 * the live system: verify, list-snapshots, history, status, plugins, check. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rb_core.h"
#include "rb_error.h"
#include "rb_log.h"
#include "rb_rollback.h"
#include "rb_target.h"

cJSON *rb_error_response(void)
{
    const rb_error_info *e = rb_error_last();
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "status", "failed");
    cJSON_AddStringToObject(r, "error", e->message[0] ? e->message : "unknown error");
    cJSON_AddStringToObject(r, "error_class", rb_error_class_name(e->klass));
    cJSON_AddStringToObject(r, "error_code", rb_error_code_name(e->code));
    return r;
}

/* Read-only commands on a store that does not exist yet see an empty one. */
static int open_for_reading(rb_ctx *ctx, rb_store **store)
{
    int rc = rb_ctx_store(ctx, 0, RB_STORE_LOCK_SHARED, store);
    if (rc == RB_ENOTFOUND) {
        rb_error_clear();
        *store = NULL;
        return 0;
    }
    return rc;
}

int rb_snapshot_verify(rb_ctx *ctx, const char *id, cJSON **response)
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
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "snapshot_id", id);
    cJSON *list = cJSON_CreateArray();
    int drift = 0, error = 0;
    /* The next target's run clears the message: keep the first error's. */
    char error_msg[2048] = "";
    rb_error_class error_class = RB_ERRCLASS_NONE;
    const cJSON *t;
    cJSON_ArrayForEach(t, targets)
    {
        cJSON *result = NULL;
        int trc = rb_target_run(ctx, store, t, id, RB_ACTION_VERIFY, 0, NULL, NULL, NULL, &result);
        cJSON *e = cJSON_CreateObject();
        cJSON_AddItemToObject(e, "name",
                              cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(t, "name"), 1));
        cJSON_AddItemToObject(e, "type",
                              cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(t, "type"), 1));
        cJSON_AddStringToObject(e, "status",
                                trc == 0           ? "match"
                                : trc == RB_EDRIFT ? "drift"
                                                   : "error");
        if (trc && trc != RB_EDRIFT) {
            cJSON_AddStringToObject(e, "error", rb_error_last()->message);
            if (!error) {
                error = trc;
                error_class = rb_error_last()->klass;
                snprintf(error_msg, sizeof error_msg, "%s", rb_error_last()->message);
            }
        }
        drift |= trc == RB_EDRIFT;
        cJSON_AddItemToObject(e, "result", result ? result : cJSON_CreateObject());
        cJSON_AddItemToArray(list, e);
    }
    cJSON_AddStringToObject(r, "status", error ? "error" : drift ? "drift" : "match");
    cJSON_AddItemToObject(r, "targets", list);
    cJSON_Delete(targets);
    cJSON_Delete(doc);
    *response = r;
    if (error)
        return rb_error_set(error, error_class, "%s", error_msg);
    if (drift)
        return rb_error_set(RB_EDRIFT, RB_ERRCLASS_VERIFY,
                            "the live state differs from snapshot %s", id);
    return 0;
}

static cJSON *summary_of(const cJSON *doc)
{
    cJSON *s = cJSON_CreateObject();
    static const char *const keys[] = {"id", "type", "created_at", "status", "store"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, keys[i]);
        if (v)
            cJSON_AddItemToObject(s, keys[i], cJSON_Duplicate(v, 1));
    }
    const cJSON *targets = cJSON_GetObjectItemCaseSensitive(doc, "targets");
    if (targets) {
        cJSON *names = cJSON_AddArrayToObject(s, "targets");
        const cJSON *t;
        cJSON_ArrayForEach(t, targets)
        {
            cJSON *n = cJSON_CreateObject();
            cJSON_AddItemToObject(n, "name",
                                  cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(t, "name"), 1));
            cJSON_AddItemToObject(n, "type",
                                  cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(t, "type"), 1));
            cJSON_AddItemToArray(names, n);
        }
    }
    const cJSON *kind =
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(doc, "metadata"), "kind");
    if (cJSON_IsString(kind))
        cJSON_AddStringToObject(s, "kind", kind->valuestring);
    return s;
}

/* Lists the store's snapshot documents or rollback records: each one
 * through `shape` (which owns the document), an unreadable one as such. */
static int list_documents(rb_ctx *ctx, const char *key, int (*list)(rb_store *, char ***, size_t *),
                          int (*read)(rb_store *, const char *, cJSON **),
                          cJSON *(*shape)(cJSON *doc), cJSON **response)
{
    rb_store *store;
    int rc = open_for_reading(ctx, &store);
    if (rc)
        return rc;
    char **ids = NULL;
    size_t n = 0;
    if (store && (rc = list(store, &ids, &n)))
        return rc;
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "status", "success");
    cJSON *items = cJSON_AddArrayToObject(r, key);
    for (size_t i = 0; i < n; i++) {
        cJSON *doc = NULL;
        if (read(store, ids[i], &doc) < 0) {
            cJSON *bad = cJSON_CreateObject();
            cJSON_AddStringToObject(bad, "id", ids[i]);
            cJSON_AddStringToObject(bad, "status", "unreadable");
            cJSON_AddStringToObject(bad, "error", rb_error_last()->message);
            cJSON_AddItemToArray(items, bad);
            rb_error_clear();
            continue;
        }
        cJSON_AddItemToArray(items, shape(doc));
    }
    cJSON_AddNumberToObject(r, "count", (double)n);
    rb_store_free_list(ids, n);
    *response = r;
    return 0;
}

static cJSON *summarize(cJSON *doc)
{
    cJSON *s = summary_of(doc);
    cJSON_Delete(doc);
    return s;
}

static cJSON *as_is(cJSON *doc)
{
    return doc;
}

int rb_snapshot_list(rb_ctx *ctx, cJSON **response)
{
    return list_documents(ctx, "snapshots", rb_store_snapshot_list, rb_store_snapshot_read,
                          summarize, response);
}

int rb_snapshot_show(rb_ctx *ctx, const char *id, cJSON **response)
{
    int rc = rb_store_id_validate(id, "snapshot id");
    rb_store *store;
    if (rc || (rc = rb_ctx_store(ctx, 0, RB_STORE_LOCK_SHARED, &store)))
        return rc;
    return rb_store_snapshot_read(store, id, response);
}

int rb_history_list(rb_ctx *ctx, cJSON **response)
{
    return list_documents(ctx, "history", rb_store_record_list, rb_store_record_read, as_is,
                          response);
}

static cJSON *describe_entry(const rb_plugin_entry *e, int with_keys)
{
    cJSON *p = cJSON_CreateObject();
    if (e->name)
        cJSON_AddStringToObject(p, "name", e->name);
    else
        cJSON_AddNullToObject(p, "name");
    cJSON_AddStringToObject(p, "path", e->path);
    cJSON_AddStringToObject(p, "status", e->failed ? "failed" : "ok");
    if (e->failed) {
        cJSON *err = cJSON_AddObjectToObject(p, "error");
        cJSON_AddStringToObject(err, "class", rb_error_class_name(e->err_class));
        cJSON_AddStringToObject(err, "code", rb_error_code_name(e->err_code));
        cJSON_AddStringToObject(err, "message", e->err_message ? e->err_message : "");
    }
    if (e->name && e->description) {
        cJSON_AddStringToObject(p, "description", e->description);
        cJSON_AddStringToObject(p, "version", e->plugin_version ? e->plugin_version : "");
        char abi[32];
        snprintf(abi, sizeof abi, "%u.%u", e->abi_major, e->abi_minor);
        cJSON_AddStringToObject(p, "abi", abi);
        cJSON *caps = cJSON_AddArrayToObject(p, "capabilities");
        if (e->has_plan)
            cJSON_AddItemToArray(caps, cJSON_CreateString("plan"));
        if (e->has_status)
            cJSON_AddItemToArray(caps, cJSON_CreateString("status"));
        if (e->has_destroy)
            cJSON_AddItemToArray(caps, cJSON_CreateString("destroy"));
        if (e->capabilities & RB_PLUGIN_CAP_RESTORE_KEEPS_SAFETY)
            cJSON_AddItemToArray(caps, cJSON_CreateString("restore_keeps_safety"));
        if (e->capabilities & RB_PLUGIN_CAP_RESTORE_TO)
            cJSON_AddItemToArray(caps, cJSON_CreateString("restore_to"));
        if (with_keys && e->keys)
            cJSON_AddItemToObject(p, "config_keys", cJSON_Duplicate(e->keys, 1));
    }
    return p;
}

int rb_plugins_list(rb_ctx *ctx, int load, cJSON **response)
{
    rb_registry *reg = rb_ctx_registry(ctx);
    if (load)
        for (size_t i = 0; i < reg->count; i++)
            if (!reg->items[i].failed && rb_registry_load(reg, &reg->items[i]) < 0)
                rb_error_clear();
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "status", "success");
    cJSON *dirs = cJSON_AddArrayToObject(r, "search_path");
    for (size_t i = 0; i < reg->dir_count; i++)
        cJSON_AddItemToArray(dirs, cJSON_CreateString(reg->dirs[i]));
    cJSON *list = cJSON_AddArrayToObject(r, "plugins");
    for (size_t i = 0; i < reg->count; i++)
        cJSON_AddItemToArray(list, describe_entry(&reg->items[i], 1));
    *response = r;
    return 0;
}

int rb_status_get(rb_ctx *ctx, cJSON **response)
{
    rb_store *store;
    int rc = open_for_reading(ctx, &store);
    if (rc)
        return rc;
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "status", "success");
    cJSON_AddStringToObject(r, "plugin", "rbhost");
    cJSON_AddStringToObject(r, "version", RB_VERSION);
    char abi[32];
    snprintf(abi, sizeof abi, "%d.%d", RB_ABI_MAJOR, RB_ABI_MINOR);
    cJSON_AddStringToObject(r, "abi", abi);
    cJSON *st = cJSON_AddObjectToObject(r, "store");
    cJSON_AddStringToObject(st, "location", ctx->store_location);
    rb_store_stats stats = {0};
    if (store && rb_store_stats_get(store, &stats) < 0)
        rb_error_clear();
    cJSON_AddBoolToObject(st, "exists", store != NULL);
    cJSON_AddNumberToObject(st, "snapshots", (double)stats.snapshots);
    cJSON_AddNumberToObject(st, "rollbacks", (double)stats.records);
    cJSON_AddNumberToObject(st, "blobs", (double)stats.blobs);
    cJSON_AddNumberToObject(st, "stored_bytes", (double)stats.stored_bytes);
    cJSON_AddNumberToObject(st, "original_bytes", (double)stats.original_bytes);
    /* An interrupted rollback, until --resume finishes or reverts it. */
    cJSON_AddItemToObject(r, "pending_rollbacks",
                          store ? rb_rollback_pending_list(store) : cJSON_CreateArray());
    rb_registry *reg = rb_ctx_registry(ctx);
    cJSON *types = cJSON_AddArrayToObject(r, "supported_types");
    cJSON *backends = cJSON_AddArrayToObject(r, "backends");
    for (size_t i = 0; i < reg->count; i++) {
        const rb_plugin_entry *e = &reg->items[i];
        if (!e->failed)
            cJSON_AddItemToArray(types, cJSON_CreateString(e->name));
        cJSON_AddItemToArray(backends, describe_entry(e, 0));
    }
    cJSON *caps = cJSON_AddArrayToObject(r, "capabilities");
    static const char *const c[] = {
        "create_snapshot", "execute_rollback", "list_snapshots", "get_rollback_history",
        "status",          "verify",           "dry_run",        "safety_snapshot",
        "export",          "import",           "check"};
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++)
        cJSON_AddItemToArray(caps, cJSON_CreateString(c[i]));
    *response = r;
    return 0;
}

static void collect_problem(const rb_store_problem *p, void *ud)
{
    cJSON *list = ud;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "kind", p->kind);
    cJSON_AddStringToObject(o, "object", p->object ? p->object : "");
    if (p->snapshot)
        cJSON_AddStringToObject(o, "snapshot", p->snapshot);
    cJSON_AddStringToObject(o, "detail", p->detail ? p->detail : "");
    cJSON_AddItemToArray(list, o);
}

int rb_store_check_run(rb_ctx *ctx, cJSON **response)
{
    rb_store *store;
    int rc = rb_ctx_store(ctx, 0, RB_STORE_LOCK_SHARED, &store);
    if (rc)
        return rc;
    cJSON *problems = cJSON_CreateArray();
    rc = rb_store_check(store, collect_problem, problems);
    if (rc && rc != RB_ECORRUPT) {
        cJSON_Delete(problems);
        return rc;
    }
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "status", rc ? "failed" : "success");
    cJSON_AddStringToObject(r, "store", ctx->store_location);
    cJSON_AddNumberToObject(r, "problem_count", cJSON_GetArraySize(problems));
    cJSON_AddItemToObject(r, "problems", problems);
    if (rc)
        rb_error_set(RB_ECORRUPT, RB_ERRCLASS_STORE, "store %s has %d problem(s)",
                     ctx->store_location, cJSON_GetArraySize(problems));
    *response = r;
    return rc;
}
