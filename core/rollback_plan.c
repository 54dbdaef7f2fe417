/* execute-rollback --dry-run: the whole plan, changing nothing. Each
 * target in the order it would be restored, what its backend's plan says
 * would change, its timeout and retries, then the checks that would run. */
#include <stdio.h>

#include "rb_rollback.h"

static void add_policy(cJSON *e, const cJSON *t)
{
    rb_step_policy pol;
    rb_set_policy(t, &pol);
    if (pol.timeout > 0)
        cJSON_AddNumberToObject(e, "timeout", pol.timeout);
    cJSON *r = cJSON_AddObjectToObject(e, "retry");
    cJSON_AddNumberToObject(r, "max_attempts", pol.max_attempts);
    cJSON_AddNumberToObject(r, "initial_delay", pol.initial_delay);
    cJSON_AddNumberToObject(r, "backoff_multiplier", pol.backoff_multiplier);
    const cJSON *deps = cJSON_GetObjectItemCaseSensitive(t, "depends_on");
    if (deps)
        cJSON_AddItemToObject(e, "depends_on", cJSON_Duplicate(deps, 1));
}

int rb_rollback_plan(rb_rollback_run *run, const rb_rollback_options *opts, cJSON **response)
{
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "status", "success");
    cJSON_AddBoolToObject(r, "dry_run", 1);
    cJSON_AddStringToObject(r, "snapshot_id", run->snapshot_id);
    cJSON_AddBoolToObject(r, "safety_snapshot",
                          !(opts->flags & RB_ROLLBACK_NO_SAFETY) && !opts->restore_to);
    cJSON_AddStringToObject(r, "on_failure", rb_set_on_failure_name(run->on_failure));
    cJSON *list = cJSON_AddArrayToObject(r, "targets");
    int rc = 0;
    /* The next target's plan clears the message: keep the first error's. */
    char first_msg[2048] = "";
    rb_error_class first_class = RB_ERRCLASS_NONE;
    for (int i = 0; i < run->n; i++) {
        const cJSON *t = cJSON_GetArrayItem(run->targets, run->order[i]);
        cJSON *plan = NULL;
        int prc = rb_target_run(run->ctx, run->store, t, run->snapshot_id, RB_ACTION_PLAN,
                                run->op_flags, NULL, opts->restore_to, NULL, &plan);
        cJSON *e = cJSON_CreateObject();
        cJSON_AddNumberToObject(e, "step", i + 1);
        cJSON_AddStringToObject(e, "name", rb_rollback_tname(t));
        cJSON_AddStringToObject(e, "type", rb_rollback_ttype(t));
        add_policy(e, t);
        if (prc) {
            rb_rollback_add_error(e);
            if (!rc) {
                rc = prc;
                snprintf(first_msg, sizeof first_msg, "%s", rb_error_last()->message);
                first_class = rb_error_last()->klass;
            }
        }
        cJSON_AddItemToObject(e, "plan", plan ? plan : cJSON_CreateObject());
        cJSON_AddItemToArray(list, e);
    }
    cJSON_AddItemToObject(r, "validation", cJSON_Duplicate(run->tests, 1));
    if (rc) {
        cJSON_ReplaceItemInObjectCaseSensitive(r, "status", cJSON_CreateString("failed"));
        rb_error_set(rc, first_class, "%s", first_msg);
    }
    *response = r;
    return rc;
}
