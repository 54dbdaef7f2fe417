#include "rb_target.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rb_config.h"
#include "rb_error.h"
#include "rb_log.h"
#include "rb_progress.h"

long long rb_now(void)
{
    return (long long)time(NULL);
}

static void copy_field(cJSON *to, const cJSON *from, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(from, key);
    if (v)
        cJSON_AddItemToObject(to, key, cJSON_Duplicate(v, 1));
}

cJSON *rb_doc_new_set(const char *id, cJSON **targets)
{
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "id", id);
    cJSON_AddStringToObject(doc, "type", "set");
    cJSON_AddNumberToObject(doc, "created_at", (double)rb_now());
    cJSON_AddItemToObject(doc, "config", cJSON_CreateObject());
    cJSON_AddStringToObject(doc, "status", "created");
    cJSON_AddItemToObject(doc, "metadata", cJSON_CreateObject());
    *targets = cJSON_AddArrayToObject(doc, "targets");
    return doc;
}

cJSON *rb_doc_targets(const cJSON *doc)
{
    cJSON *out = cJSON_CreateArray();
    if (!out)
        return NULL;
    const cJSON *targets = cJSON_GetObjectItemCaseSensitive(doc, "targets");
    if (cJSON_IsArray(targets)) {
        const cJSON *t;
        cJSON_ArrayForEach(t, targets) cJSON_AddItemToArray(out, cJSON_Duplicate(t, 1));
        return out;
    }
    cJSON *t = cJSON_CreateObject();
    cJSON_AddItemToArray(out, t);
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(doc, "type");
    cJSON_AddStringToObject(t, "name", cJSON_IsString(type) ? type->valuestring : "");
    copy_field(t, doc, "type");
    copy_field(t, doc, "config");
    copy_field(t, doc, "metadata");
    copy_field(t, doc, "status");
    return out;
}

/* The newest earlier snapshot of a target with the same type and recorded
 * config: what an incremental backend compares against. */
static cJSON *find_previous(rb_store *store, const char *type, const cJSON *recorded)
{
    char **ids = NULL;
    size_t n = 0;
    if (rb_store_snapshot_list(store, &ids, &n) < 0) {
        rb_error_clear();
        return NULL;
    }
    cJSON *found = NULL;
    for (size_t i = n; i-- > 0 && !found;) {
        cJSON *doc = NULL;
        if (rb_store_snapshot_read(store, ids[i], &doc) < 0) {
            rb_error_clear();
            continue;
        }
        cJSON *targets = rb_doc_targets(doc);
        const cJSON *t;
        cJSON_ArrayForEach(t, targets)
        {
            const cJSON *tt = cJSON_GetObjectItemCaseSensitive(t, "type");
            const cJSON *st = cJSON_GetObjectItemCaseSensitive(t, "status");
            if (!cJSON_IsString(tt) || strcmp(tt->valuestring, type))
                continue;
            if (!cJSON_IsString(st) || strcmp(st->valuestring, "created"))
                continue;
            if (!cJSON_Compare(cJSON_GetObjectItemCaseSensitive(t, "config"), recorded, 1))
                continue;
            found = cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(t, "metadata"), 1);
            break;
        }
        cJSON_Delete(targets);
        cJSON_Delete(doc);
    }
    rb_store_free_list(ids, n);
    return found;
}

static void op_prepare(rb_ctx *ctx, struct rb_op *op, const char *label)
{
    op->cancel = &ctx->cancel;
    op->progress = rb_progress_new(label, ctx->progress, ctx->progress_tty);
}

int rb_target_snapshot(rb_ctx *ctx, rb_store *store, rb_store_txn *txn, const char *snapshot_id,
                       const char *name, const char *type, const cJSON *config, unsigned int flags,
                       const char *rollback_id, cJSON **target_doc)
{
    rb_plugin_entry *e;
    int rc = rb_ctx_backend(ctx, type, &e);
    if (rc)
        return rc;
    cJSON *effective = NULL;
    rc = rb_config_validate(e->keys, type, config, &effective);
    if (rc)
        return rc;
    cJSON *recorded = rb_config_redact(e->keys, config);
    cJSON *previous = recorded ? find_previous(store, type, recorded) : NULL;
    struct rb_op op;
    rb_op_init(&op);
    op.snapshot_id = snapshot_id;
    op.target_name = name;
    op.rollback_id = rollback_id;
    op.flags = flags;
    op.config = effective;
    op.metadata = cJSON_CreateObject();
    op.previous = previous;
    op.store = store;
    op.txn = txn;
    char label[256];
    snprintf(label, sizeof label, "snapshot %s", name);
    op_prepare(ctx, &op, label);
    if (!recorded || !op.metadata || !op.result) {
        rc = rb_error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
    } else {
        rb_log(RB_LOG_INFO, "snapshot of %s (%s) into %s", name, type, snapshot_id);
        rb_log_set_target(name);
        rb_error_clear();
        rc = e->vt->snapshot(e->state, &op);
        rb_log_set_target(NULL);
        if (rc > 0)
            rc = RB_ERROR;
        if (rc == 0 && atomic_load(&ctx->cancel))
            rc = rb_error_set(RB_ECANCELED, RB_ERRCLASS_BACKEND, "interrupted");
        if (rc) {
            const rb_error_info *err = rb_error_last();
            if (!err->message[0])
                rb_error_set(rc, RB_ERRCLASS_BACKEND, "backend '%s' failed without a message",
                             type);
            rb_error_prefix("snapshot of target '%s' (%s)", name, type);
        }
    }
    rb_progress_done(op.progress);
    if (rc == 0) {
        cJSON *doc = cJSON_CreateObject();
        cJSON_AddStringToObject(doc, "name", name);
        cJSON_AddStringToObject(doc, "type", type);
        cJSON_AddNumberToObject(doc, "created_at", (double)rb_now());
        cJSON_AddItemToObject(doc, "config", recorded);
        recorded = NULL;
        cJSON_AddStringToObject(doc, "status", "created");
        cJSON_AddItemToObject(doc, "metadata", op.metadata);
        op.metadata = NULL;
        *target_doc = doc;
    }
    cJSON_Delete(op.metadata);
    cJSON_Delete(recorded);
    cJSON_Delete(previous);
    cJSON_Delete(effective);
    rb_op_release(&op);
    return rc;
}

static const char *action_name(rb_target_action a)
{
    switch (a) {
    case RB_ACTION_RESTORE:
        return "restore";
    case RB_ACTION_VERIFY:
        return "verify";
    case RB_ACTION_PLAN:
        return "plan";
    case RB_ACTION_DESTROY:
        return "destroy";
    }
    return "?";
}

int rb_target_run(rb_ctx *ctx, rb_store *store, const cJSON *target, const char *snapshot_id,
                  rb_target_action action, unsigned int flags, const char *rollback_id,
                  const char *restore_to, const rb_safety_slot *safety, cJSON **result)
{
    rb_target_limits limits = {&ctx->cancel, 0};
    return rb_target_run_limited(ctx, store, target, snapshot_id, action, flags, rollback_id,
                                 restore_to, safety, &limits, result);
}

int rb_target_run_limited(rb_ctx *ctx, rb_store *store, const cJSON *target,
                          const char *snapshot_id, rb_target_action action, unsigned int flags,
                          const char *rollback_id, const char *restore_to,
                          const rb_safety_slot *safety, const rb_target_limits *limits,
                          cJSON **result)
{
    const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(target, "name"));
    const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(target, "type"));
    if (!name || !type)
        return rb_error_set(RB_ECORRUPT, RB_ERRCLASS_STORE,
                            "snapshot %s has a target without name or type", snapshot_id);
    rb_plugin_entry *e;
    int rc = rb_ctx_backend(ctx, type, &e);
    if (rc) {
        rb_error_prefix("target '%s'", name);
        return rc;
    }
    const cJSON *config = cJSON_GetObjectItemCaseSensitive(target, "config");
    cJSON *effective = NULL;
    cJSON *empty = config ? NULL : cJSON_CreateObject();
    rc = rb_config_validate(e->keys, type, config ? config : empty, &effective);
    cJSON_Delete(empty);
    if (rc) {
        rb_error_prefix("target '%s': the recorded config no longer fits its backend", name);
        return rc;
    }
    int (*fn)(void *, rb_op *) = NULL;
    switch (action) {
    case RB_ACTION_RESTORE:
        fn = e->vt->restore;
        break;
    case RB_ACTION_VERIFY:
        fn = e->vt->verify;
        break;
    case RB_ACTION_PLAN:
        fn = e->vt->plan;
        break;
    case RB_ACTION_DESTROY:
        fn = e->vt->destroy;
        break;
    }
    struct rb_op op;
    rb_op_init(&op);
    op.snapshot_id = snapshot_id;
    op.target_name = name;
    op.rollback_id = rollback_id;
    op.flags = flags | (action == RB_ACTION_PLAN || action == RB_ACTION_VERIFY ? RB_OP_DRY_RUN : 0);
    op.restore_to = restore_to;
    op.config = effective;
    op.metadata = cJSON_GetObjectItemCaseSensitive(target, "metadata");
    op.store = store;
    if (action == RB_ACTION_RESTORE && safety &&
        (e->capabilities & RB_PLUGIN_CAP_RESTORE_KEEPS_SAFETY)) {
        op.safety_metadata = safety->metadata;
        op.txn = safety->txn;
    }
    char label[256];
    snprintf(label, sizeof label, "%s %s", action_name(action), name);
    op_prepare(ctx, &op, label);
    op.cancel = limits->cancel;
    op.deadline = limits->deadline;
    if (!fn) {
        rc = 0;
        if (action == RB_ACTION_PLAN)
            cJSON_AddStringToObject(op.result, "summary",
                                    "this backend cannot tell in advance what it would change");
    } else if (action == RB_ACTION_RESTORE && restore_to &&
               !(e->capabilities & RB_PLUGIN_CAP_RESTORE_TO)) {
        rc = rb_error_set(RB_EUNSUPPORTED, RB_ERRCLASS_INVALID,
                          "target '%s': backend '%s' cannot restore into another place (--to)",
                          name, type);
    } else {
        rb_log(RB_LOG_INFO, "%s of %s (%s) from %s", action_name(action), name, type, snapshot_id);
        rb_log_set_target(name);
        rb_error_clear();
        rc = fn(e->state, &op);
        rb_log_set_target(NULL);
        if (rc > 0)
            rc = RB_ERROR;
        /* A backend that gave up because the step's time ran out says
         * "cancelled"; the user wants to know it was the timeout. */
        if (rc && op.deadline > 0 && rb_monotonic() > op.deadline && !atomic_load(&ctx->cancel)) {
            char why[1024];
            snprintf(why, sizeof why, "%s", rb_error_last()->message);
            rc = rb_error_set(RB_ETIMEOUT, RB_ERRCLASS_BACKEND,
                              "did not finish within its timeout (%s)", why);
        }
        if (rc && rc != RB_EDRIFT) {
            if (!rb_error_last()->message[0])
                rb_error_set(rc, RB_ERRCLASS_BACKEND, "backend '%s' failed without a message",
                             type);
            rb_error_prefix("%s of target '%s' (%s)", action_name(action), name, type);
        }
    }
    rb_progress_done(op.progress);
    *result = op.result;
    op.result = NULL;
    op.metadata = NULL;
    cJSON_Delete(effective);
    rb_op_release(&op);
    return rc;
}
