/* The pre-flight of a real rollback: every target's backend is asked, before
 * anything changes, whether the live target is still the one the snapshot
 * recorded (the same repository, database lineage, container engine). One
 * that is not is refused here, for all targets at once, so that a rollback
 * never stops half-way on a target it should not have touched. */
#include <stdio.h>
#include <string.h>

#include "rb_log.h"
#include "rb_rollback.h"

int rb_rollback_preflight(rb_rollback_run *run)
{
    char refused[2048] = "";
    size_t used = 0;
    int count = 0;
    for (int i = 0; i < run->n; i++) {
        const cJSON *t = cJSON_GetArrayItem(run->targets, run->order[i]);
        cJSON *result = NULL;
        int rc =
            rb_target_run(run->ctx, run->store, t, run->snapshot_id, RB_ACTION_PLAN,
                          run->op_flags | RB_OP_PREFLIGHT, NULL, run->restore_to, NULL, &result);
        cJSON_Delete(result);
        /* Any other failure of a plan (a repository that is gone, a
         * server that is down) is the restore's to report: it may well
         * cope, and did before this check existed. */
        if (rc != RB_ECONFLICT) {
            if (rc)
                rb_log(RB_LOG_DEBUG, "pre-flight of %s: %s", rb_rollback_tname(t),
                       rb_error_last()->message);
            continue;
        }
        count++;
        if (used < sizeof refused) {
            int n = snprintf(refused + used, sizeof refused - used, "%s%s", count > 1 ? "; " : "",
                             rb_error_last()->message);
            used += n > 0 ? (size_t)n : 0;
        }
    }
    rb_error_clear();
    if (!count)
        return 0;
    return rb_error_set(RB_ECONFLICT, RB_ERRCLASS_INVALID,
                        "refusing to roll back to snapshot '%s', nothing was changed: %s "
                        "(--force rolls back anyway)",
                        run->snapshot_id, refused);
}
