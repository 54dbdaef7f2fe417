/* The journal of a rollback in progress: which step is where, kept in the
 * store and rewritten durably before and after every step, so that an
 * interrupted rollback can be finished or reverted, and so that nothing
 * else changes the live state or the store while one is pending. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rb_log.h"
#include "rb_rollback.h"

cJSON *rb_journal_new(const rb_rollback_run *run)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "rollback_id", run->rollback_id);
    cJSON_AddStringToObject(j, "snapshot_id", run->snapshot_id);
    cJSON_AddNumberToObject(j, "started_at", rb_rollback_wallclock());
    cJSON_AddNumberToObject(j, "pid", (double)getpid());
    cJSON_AddStringToObject(j, "command", run->ctx->command);
    cJSON_AddStringToObject(j, "phase", "safety_snapshot");
    if (run->safety_doc || run->safety_id[0])
        cJSON_AddStringToObject(j, "safety_snapshot_id", run->safety_id);
    cJSON_AddStringToObject(j, "on_failure", rb_set_on_failure_name(run->on_failure));
    cJSON_AddBoolToObject(j, "force", (run->op_flags & RB_OP_FORCE) != 0);
    cJSON *steps = cJSON_AddArrayToObject(j, "steps");
    for (int i = 0; i < run->n; i++) {
        const cJSON *t = cJSON_GetArrayItem(run->targets, run->order[i]);
        cJSON *s = cJSON_CreateObject();
        cJSON_AddStringToObject(s, "target", rb_rollback_tname(t));
        cJSON_AddStringToObject(s, "type", rb_rollback_ttype(t));
        cJSON_AddStringToObject(s, "state", "pending");
        cJSON_AddItemToArray(steps, s);
    }
    cJSON_AddItemToObject(j, "validation", cJSON_Duplicate(run->tests, 1));
    return j;
}

int rb_journal_save(rb_rollback_run *run)
{
    cJSON_DeleteItemFromObjectCaseSensitive(run->journal, "updated_at");
    cJSON_AddNumberToObject(run->journal, "updated_at", rb_rollback_wallclock());
    return rb_store_journal_write(run->store, run->rollback_id, run->journal);
}

void rb_journal_phase(rb_rollback_run *run, const char *phase)
{
    cJSON_ReplaceItemInObjectCaseSensitive(run->journal, "phase", cJSON_CreateString(phase));
}

const char *rb_journal_phase_of(const cJSON *journal)
{
    const char *p = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(journal, "phase"));
    return p ? p : "";
}

cJSON *rb_journal_step(rb_rollback_run *run, const char *target)
{
    cJSON *s;
    cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(run->journal, "steps"))
    {
        const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(s, "target"));
        if (name && !strcmp(name, target))
            return s;
    }
    return NULL;
}

const char *rb_journal_step_state(const cJSON *step)
{
    const char *st = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(step, "state"));
    return st ? st : "";
}

void rb_journal_step_set(cJSON *step, const char *state)
{
    if (step)
        cJSON_ReplaceItemInObjectCaseSensitive(step, "state", cJSON_CreateString(state));
}

static cJSON *summary(const cJSON *j)
{
    cJSON *s = cJSON_CreateObject();
    static const char *const keys[] = {"rollback_id", "snapshot_id", "phase", "started_at",
                                       "updated_at",  "pid",         "steps"};
    for (size_t k = 0; k < sizeof keys / sizeof *keys; k++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, keys[k]);
        if (v)
            cJSON_AddItemToObject(s, keys[k], cJSON_Duplicate(v, 1));
    }
    return s;
}

cJSON *rb_rollback_pending_list(rb_store *store)
{
    cJSON *list = cJSON_CreateArray();
    char **ids = NULL;
    size_t n = 0;
    if (rb_store_journal_list(store, &ids, &n) < 0) {
        /* The journal cannot be read: say a rollback may be pending rather
         * than that none is. */
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "error", rb_error_last()->message);
        cJSON_AddItemToArray(list, e);
        return list;
    }
    for (size_t i = 0; i < n; i++) {
        cJSON *j = NULL;
        if (rb_store_journal_read(store, ids[i], &j) == 0) {
            cJSON_AddItemToArray(list, summary(j));
        } else {
            cJSON *e = cJSON_CreateObject();
            cJSON_AddStringToObject(e, "rollback_id", ids[i]);
            cJSON_AddStringToObject(e, "error", rb_error_last()->message);
            cJSON_AddItemToArray(list, e);
        }
        cJSON_Delete(j);
    }
    rb_store_free_list(ids, n);
    return list;
}

int rb_journal_find(rb_store *store, const char *id, char *rollback_id, size_t len)
{
    cJSON *list = rb_rollback_pending_list(store);
    int found = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, list)
    {
        const char *rid = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "rollback_id"));
        const char *sid = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "snapshot_id"));
        if (!rid || (id && strcmp(rid, id) && (!sid || strcmp(sid, id))))
            continue;
        if (found++ == 0)
            snprintf(rollback_id, len, "%s", rid);
    }
    cJSON_Delete(list);
    if (found == 1)
        return 0;
    if (found == 0)
        return rb_error_set(RB_ENOTFOUND, RB_ERRCLASS_STORE,
                            id ? "no pending rollback of or named '%s'; nothing to resume"
                               : "no rollback is pending; nothing to resume%s",
                            id ? id : "");
    return rb_error_set(RB_EINVAL, RB_ERRCLASS_INVALID,
                        "%d rollbacks are pending; name one with --id ROLLBACK_ID", found);
}

int rb_rollback_pending_check(rb_ctx *ctx, rb_store *store, int changes_state)
{
    cJSON *list = rb_rollback_pending_list(store);
    const cJSON *first = cJSON_GetArrayItem(list, 0);
    int rc = 0;
    if (first) {
        const char *rid =
            cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(first, "rollback_id"));
        const char *sid =
            cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(first, "snapshot_id"));
        const char *why = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(first, "error"));
        char what[512];
        snprintf(what, sizeof what, "rollback %s to snapshot %s was interrupted and is pending",
                 rid ? rid : "?", sid ? sid : "?");
        if (why && !rid)
            snprintf(what, sizeof what, "a rollback may be pending (%s)", why);
        static const char how[] = "run `rbhost execute-rollback --resume` to finish it, or "
                                  "`rbhost execute-rollback --resume --revert` to undo what it "
                                  "restored";
        if (changes_state && !ctx->resuming)
            rc = rb_error_set(RB_ELOCKED, RB_ERRCLASS_STORE, "%s; %s", what, how);
        else if (!ctx->resuming)
            rb_log(RB_LOG_WARN, "%s; %s", what, how);
    }
    cJSON_Delete(list);
    return rc;
}
