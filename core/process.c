/* Seed 001's request/response protocol: {"action": ..., ...} in, the
 * seed's response documents out. */
#include <string.h>

#include "rb_core.h"
#include "rb_error.h"

static const char *str(const cJSON *o, const char *k)
{
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
}

static int only_keys(const cJSON *req, const char *const *allowed)
{
    const cJSON *m;
    cJSON_ArrayForEach(m, req)
    {
        int ok = 0;
        for (const char *const *a = allowed; *a; a++)
            ok |= !strcmp(*a, m->string);
        if (!ok)
            return rb_error_set(RB_EINVAL, RB_ERRCLASS_INVALID,
                                "request: unknown key '%s' for action '%s'", m->string,
                                str(req, "action"));
    }
    return 0;
}

static int need(const cJSON *req, const char *key)
{
    if (str(req, key))
        return 0;
    return rb_error_set(RB_EINVAL, RB_ERRCLASS_INVALID,
                        "request: action '%s' needs '%s' (a string)", str(req, "action"), key);
}

/* A flag of the wrong type must not fall back to false: "dry_run": "yes"
 * would otherwise run a real rollback. */
static int flag(const cJSON *req, const char *key, unsigned bit, unsigned *flags)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(req, key);
    if (!v)
        return 0;
    if (!cJSON_IsBool(v))
        return rb_error_set(RB_EINVAL, RB_ERRCLASS_INVALID, "request: '%s' must be true or false",
                            key);
    if (cJSON_IsTrue(v))
        *flags |= bit;
    return 0;
}

int rb_process_request(rb_ctx *ctx, const cJSON *req, cJSON **response)
{
    if (!cJSON_IsObject(req))
        return rb_error_set(RB_EINVAL, RB_ERRCLASS_INVALID, "request: expected a JSON object");
    const char *action = str(req, "action");
    if (!action)
        return rb_error_set(RB_EINVAL, RB_ERRCLASS_INVALID,
                            "request: missing \"action\" (create_snapshot, execute_rollback, "
                            "list_snapshots, get_rollback_history, status)");
    int rc;
    if (!strcmp(action, "create_snapshot")) {
        static const char *const k[] = {"action", "snapshot_id", "type", "config", "targets", NULL};
        if ((rc = only_keys(req, k)) || (rc = need(req, "snapshot_id")))
            return rc;
        const cJSON *targets = cJSON_GetObjectItemCaseSensitive(req, "targets");
        if (targets) {
            cJSON *spec = cJSON_CreateObject();
            cJSON_AddItemToObject(spec, "targets", cJSON_Duplicate(targets, 1));
            rc = rb_snapshot_create_set(ctx, str(req, "snapshot_id"), spec, response);
            cJSON_Delete(spec);
            return rc;
        }
        if ((rc = need(req, "type")))
            return rc;
        const cJSON *config = cJSON_GetObjectItemCaseSensitive(req, "config");
        if (!config)
            return rb_error_set(RB_EINVAL, RB_ERRCLASS_INVALID,
                                "request: action 'create_snapshot' needs 'config' (an object)");
        return rb_snapshot_create(ctx, str(req, "snapshot_id"), str(req, "type"), config, response);
    }
    if (!strcmp(action, "execute_rollback")) {
        static const char *const k[] = {"action", "snapshot_id",        "validation", "dry_run",
                                        "force",  "no_safety_snapshot", "restore_to", NULL};
        if ((rc = only_keys(req, k)) || (rc = need(req, "snapshot_id")))
            return rc;
        rb_rollback_options o = {0};
        if ((rc = flag(req, "dry_run", RB_ROLLBACK_DRY_RUN, &o.flags)) ||
            (rc = flag(req, "force", RB_ROLLBACK_FORCE, &o.flags)) ||
            (rc = flag(req, "no_safety_snapshot", RB_ROLLBACK_NO_SAFETY, &o.flags)))
            return rc;
        const cJSON *to = cJSON_GetObjectItemCaseSensitive(req, "restore_to");
        if (to && !cJSON_IsString(to))
            return rb_error_set(RB_EINVAL, RB_ERRCLASS_INVALID,
                                "request: 'restore_to' must be a directory path (a string)");
        o.restore_to = str(req, "restore_to");
        o.validation = cJSON_GetObjectItemCaseSensitive(req, "validation");
        return rb_rollback_execute(ctx, str(req, "snapshot_id"), &o, response);
    }
    static const char *const only_action[] = {"action", NULL};
    if (!strcmp(action, "list_snapshots"))
        return (rc = only_keys(req, only_action)) ? rc : rb_snapshot_list(ctx, response);
    if (!strcmp(action, "get_rollback_history"))
        return (rc = only_keys(req, only_action)) ? rc : rb_history_list(ctx, response);
    if (!strcmp(action, "status"))
        return (rc = only_keys(req, only_action)) ? rc : rb_status_get(ctx, response);
    return rb_error_set(RB_EINVAL, RB_ERRCLASS_INVALID,
                        "request: unknown action '%s' (create_snapshot, execute_rollback, "
                        "list_snapshots, get_rollback_history, status)",
                        action);
}
