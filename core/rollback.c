/* execute-rollback: checks before anything changes, the safety snapshot,
 * the restore steps in order, reverting or going on when one fails,
 * verification and validation tests, and the record in seed 001's
 * history schema. Progress is journaled in the store as it goes, so that
 * an interrupted rollback can be resumed (rollback_journal.c).
 *
 * Order: a target is restored before the targets it depends on. When B
 * depends_on A, A was snapshotted first and is restored last: B (say, the
 * application) is put back while A (its database) is still in the state B
 * was running against, and A goes back once nothing restored after it
 * needs it. Without depends_on, targets go back in the reverse of their
 * listed order. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rb_checks.h"
#include "rb_config.h"
#include "rb_core.h"
#include "rb_error.h"
#include "rb_log.h"
#include "rb_progress.h"
#include "rb_rollback.h"

double rb_rollback_wallclock(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)(ts.tv_nsec / 1000000) / 1000.0;
}

static void rollback_id_make(char *buf, size_t len)
{
    unsigned char rnd[3] = {0};
    FILE *f = fopen("/dev/urandom", "rb");
    if (f) {
        if (fread(rnd, 1, sizeof rnd, f) != sizeof rnd)
            memset(rnd, 0, sizeof rnd);
        fclose(f);
    }
    snprintf(buf, len, "rollback_%lld_%02x%02x%02x", rb_now(), rnd[0], rnd[1], rnd[2]);
}

const char *rb_rollback_tname(const cJSON *t)
{
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "name"));
}

const char *rb_rollback_ttype(const cJSON *t)
{
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "type"));
}

static const char *str(const cJSON *o, const char *key)
{
    const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, key));
    return v ? v : "";
}

static void set_string(cJSON *obj, const char *key, const char *value)
{
    cJSON_DeleteItemFromObjectCaseSensitive(obj, key);
    cJSON_AddStringToObject(obj, key, value);
}

/* The host's view of the error wins over anything a backend put under the
 * same keys in its result. */
void rb_rollback_add_error(cJSON *obj)
{
    const rb_error_info *e = rb_error_last();
    set_string(obj, "error", e->message);
    set_string(obj, "error_class", rb_error_class_name(e->klass));
    set_string(obj, "error_code", rb_error_code_name(e->code));
}

static cJSON *detail(const char *action, const char *target, const char *status)
{
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "action", action);
    if (target)
        cJSON_AddStringToObject(d, "target", target);
    cJSON *r = cJSON_AddObjectToObject(d, "result");
    cJSON_AddStringToObject(r, "status", status);
    cJSON_AddNumberToObject(d, "timestamp", (double)rb_now());
    return d;
}

static void set_status(cJSON *d, const char *status)
{
    cJSON_ReplaceItemInObjectCaseSensitive(cJSON_GetObjectItemCaseSensitive(d, "result"), "status",
                                           cJSON_CreateString(status));
}

static cJSON *details_of(rb_rollback_run *run)
{
    return cJSON_GetObjectItemCaseSensitive(run->rec, "technical_details");
}

/* Journals progress; a journal that cannot be written stops the rollback
 * before its next step, since an interruption after that point would leave
 * nobody knowing what was restored. */
static int journal(rb_rollback_run *run)
{
    int rc = rb_journal_save(run);
    if (rc)
        rb_log(RB_LOG_ERROR, "%s", rb_error_last()->message);
    return rc;
}

/* The repository a git_commit validation test checks when it names none:
 * the snapshot's own git_commit target, if it has exactly that. */
static const char *default_repo(const cJSON *targets)
{
    const cJSON *t;
    cJSON_ArrayForEach(t, targets)
    {
        if (rb_rollback_ttype(t) && !strcmp(rb_rollback_ttype(t), "git_commit"))
            return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
                cJSON_GetObjectItemCaseSensitive(t, "config"), "repo_path"));
    }
    return NULL;
}

/* The recorded config must still fit the backend (it may have been
 * upgraded): finding out only when that target's turn comes would leave
 * the targets restored before it changed. */
static int config_fits(const rb_plugin_entry *e, const cJSON *t)
{
    const cJSON *config = cJSON_GetObjectItemCaseSensitive(t, "config");
    cJSON *empty = config ? NULL : cJSON_CreateObject();
    cJSON *effective = NULL;
    int rc = rb_config_validate(e->keys, rb_rollback_ttype(t), config ? config : empty, &effective);
    cJSON_Delete(empty);
    cJSON_Delete(effective);
    if (rc)
        rb_error_prefix("target '%s': the recorded config no longer fits its backend",
                        rb_rollback_tname(t));
    return rc;
}

/* Every backend must be there, and every target complete, before anything
 * changes. */
static int check_targets(rb_rollback_run *run, int dry_run)
{
    const cJSON *t;
    cJSON_ArrayForEach(t, run->targets)
    {
        rb_plugin_entry *e;
        const char *status = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "status"));
        int rc = 0;
        if (!rb_rollback_tname(t) || !rb_rollback_ttype(t))
            return rb_error_set(RB_ECORRUPT, RB_ERRCLASS_STORE,
                                "snapshot %s has a target without name or type", run->snapshot_id);
        if (status && strcmp(status, "created"))
            return rb_error_set(RB_ECONFLICT, RB_ERRCLASS_STORE,
                                "cannot roll back to snapshot '%s': its target '%s' is %s, not "
                                "complete",
                                run->snapshot_id, rb_rollback_tname(t), status);
        if ((rc = rb_ctx_backend(run->ctx, rb_rollback_ttype(t), &e))) {
            rb_error_prefix("cannot roll back target '%s'", rb_rollback_tname(t));
            return rc;
        }
        if (!dry_run && (rc = config_fits(e, t)))
            return rc;
    }
    return 0;
}

/* The restore order: the reverse of the dependency order. */
static int plan_order(rb_rollback_run *run)
{
    run->n = cJSON_GetArraySize(run->targets);
    int *dep = malloc(((size_t)run->n + 1) * sizeof *dep);
    run->order = malloc(((size_t)run->n + 1) * sizeof *run->order);
    if (!dep || !run->order) {
        free(dep);
        return rb_error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
    }
    int rc = rb_set_order(run->targets, dep);
    if (rc)
        rb_error_prefix("snapshot %s", run->snapshot_id);
    for (int i = 0; rc == 0 && i < run->n; i++)
        run->order[i] = dep[run->n - 1 - i];
    free(dep);
    return rc;
}

static int find_target(rb_rollback_run *run, const char *name)
{
    for (int i = 0; i < run->n; i++)
        if (!strcmp(str(cJSON_GetArrayItem(run->targets, i), "name"), name))
            return i;
    return -1;
}

static void run_free(rb_rollback_run *run)
{
    cJSON_Delete(run->targets);
    cJSON_Delete(run->safety_doc);
    cJSON_Delete(run->journal);
    cJSON_Delete(run->tests);
    rb_events_free(run->events);
    free(run->order);
}

/* --- the steps --- */

/* Restores one target; the journal says "running" before the backend is
 * called and the outcome after, with the result, so that a resume knows
 * which targets may have changed. */
static int restore_step(rb_rollback_run *run, const cJSON *t, cJSON *step)
{
    rb_journal_step_set(step, "running");
    int rc = journal(run);
    cJSON *d = detail("rollback_execution", rb_rollback_tname(t), "running");
    cJSON_AddStringToObject(d, "type", rb_rollback_ttype(t));
    if (rc) {
        set_status(d, "failed");
        rb_rollback_add_error(cJSON_GetObjectItemCaseSensitive(d, "result"));
        cJSON_AddItemToArray(details_of(run), d);
        rb_journal_step_set(step, "failed");
        return rc;
    }
    /* A backend that keeps the replaced state itself fills its safety
     * entry during restore, into a transaction amended into the safety
     * snapshot right after the step, so that the entry outlives a crash
     * of a later step. */
    cJSON *safety = rb_rollback_safety_entry(run, rb_rollback_tname(t));
    rb_safety_slot slot = {NULL, NULL};
    int keeps = safety && !strcmp(str(safety, "status"), "pending") &&
                rb_rollback_keeps_safety(run, t) && rb_store_txn_begin(run->store, &slot.txn) == 0;
    if (keeps)
        slot.metadata = cJSON_GetObjectItemCaseSensitive(safety, "metadata");
    cJSON *result = NULL;
    int trc = rb_rollback_step(run, t, run->snapshot_id, keeps ? &slot : NULL, d, &result);
    rb_error_info err = *rb_error_last();
    char msg[2048];
    snprintf(msg, sizeof msg, "%s", err.message);
    /* A backend that restored the state but failed a follow-up (an apply
     * after a Terraform state rollback) reports "partial": the target
     * counts as restored, and the rollback cannot be complete. */
    int partial = trc && !strcmp(str(result, "status"), "partial");
    const char *state = !trc ? "restored" : partial ? "partial" : "failed";
    if (run->abandoned)
        state = "running";
    set_status(d, !trc ? "success" : partial ? "partial" : "failed");
    const cJSON *method = cJSON_GetObjectItemCaseSensitive(result, "method");
    if (method)
        cJSON_AddItemToObject(d, "method", cJSON_Duplicate(method, 1));
    cJSON *dres = cJSON_GetObjectItemCaseSensitive(d, "result");
    const cJSON *m;
    cJSON_ArrayForEach(m, result) if (!cJSON_GetObjectItemCaseSensitive(dres, m->string))
        cJSON_AddItemToObject(dres, m->string, cJSON_Duplicate(m, 1));
    if (trc)
        rb_rollback_add_error(dres);
    if (!cJSON_GetObjectItemCaseSensitive(result, "status"))
        cJSON_AddStringToObject(result, "status", trc ? "failed" : "success");
    if (trc)
        rb_rollback_add_error(result);
    if (keeps && !run->abandoned) {
        cJSON_ReplaceItemInObjectCaseSensitive(
            safety, "status", cJSON_CreateString(trc && !partial ? "failed" : "created"));
        if (rb_store_snapshot_amend(slot.txn, run->safety_id, run->safety_doc) < 0)
            rb_log(RB_LOG_WARN, "safety snapshot %s: %s", run->safety_id, rb_error_last()->message);
    }
    cJSON_AddItemToArray(details_of(run), d);
    rb_events_rollback_step(run->events, d);
    cJSON_DeleteItemFromObjectCaseSensitive(step, "result");
    cJSON_AddItemToObject(step, "result", result);
    rb_journal_step_set(step, state);
    if (run->abandoned)
        cJSON_AddStringToObject(step, "note", "its backend did not stop after the timeout");
    journal(run);
    rb_error_set(err.code, err.klass, "%s", msg);
    return partial ? 0 : trc;
}

/* Puts the targets the rollback changed back from the safety snapshot,
 * the last one restored first. `also_running` includes a step that was
 * interrupted while running (on resume), which may have changed its
 * target. Returns the number of targets that could not be reverted. */
static int revert_restored(rb_rollback_run *run, int also_running)
{
    rb_journal_phase(run, "reverting");
    journal(run);
    cJSON *reverted = cJSON_AddArrayToObject(run->rec, "reverted");
    cJSON *revert_failed = cJSON_AddArrayToObject(run->rec, "revert_failed");
    int failures = 0;
    for (int i = run->n - 1; i >= 0; i--) {
        const cJSON *t = cJSON_GetArrayItem(run->targets, run->order[i]);
        cJSON *step = rb_journal_step(run, rb_rollback_tname(t));
        const char *state = rb_journal_step_state(step);
        int changed = !strcmp(state, "restored") || !strcmp(state, "partial") ||
                      !strcmp(state, "reverting") || (also_running && !strcmp(state, "running"));
        if (!changed)
            continue;
        cJSON *d = detail("revert", rb_rollback_tname(t), "running");
        cJSON_AddStringToObject(d, "type", rb_rollback_ttype(t));
        cJSON_AddStringToObject(d, "from_snapshot", run->safety_id);
        const cJSON *entry = rb_rollback_safety_entry(run, rb_rollback_tname(t));
        int rc;
        cJSON *result = NULL;
        if (!entry || strcmp(str(entry, "status"), "created")) {
            rc = rb_error_set(RB_ENOTFOUND, RB_ERRCLASS_STORE,
                              "target '%s' cannot be reverted: the safety snapshot %s holds no "
                              "state of it%s",
                              rb_rollback_tname(t), run->safety_id,
                              entry ? " (its backend keeps that state during restore, and the "
                                      "restore did not get that far)"
                                    : "");
        } else {
            rb_journal_step_set(step, "reverting");
            journal(run);
            rc = rb_rollback_step(run, entry, run->safety_id, NULL, d, &result);
        }
        set_status(d, rc ? "failed" : "success");
        if (rc)
            rb_rollback_add_error(cJSON_GetObjectItemCaseSensitive(d, "result"));
        cJSON_Delete(result);
        cJSON_AddItemToArray(details_of(run), d);
        cJSON_AddItemToArray(rc ? revert_failed : reverted,
                             cJSON_CreateString(rb_rollback_tname(t)));
        rb_journal_step_set(step, rc ? "revert_failed" : "reverted");
        failures += rc != 0;
        journal(run);
        if (run->abandoned)
            break;
    }
    return failures;
}

/* --- the end: verification, the record --- */

static void explain_failed_checks(const cJSON *results, const char *rollback_id)
{
    char msg[2048];
    int used = snprintf(msg, sizeof msg, "rollback %s is partial; failed checks:", rollback_id);
    const cJSON *r;
    cJSON_ArrayForEach(r, results)
    {
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "passed")) || used < 0 ||
            (size_t)used >= sizeof msg)
            continue;
        const char *test = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "test"));
        const char *target = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "target"));
        const char *why = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "error"));
        const cJSON *diff =
            cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(r, "differences"), 0);
        char *diff_text = diff && !cJSON_IsString(diff) ? cJSON_PrintUnformatted(diff) : NULL;
        if (!why)
            why = diff_text ? diff_text : cJSON_GetStringValue(diff);
        used +=
            snprintf(msg + used, sizeof msg - (size_t)used, " %s%s%s%s%s;", test ? test : "?",
                     target ? " of " : "", target ? target : "", why ? ": " : "", why ? why : "");
        cJSON_free(diff_text);
    }
    rb_error_set(RB_EDRIFT, RB_ERRCLASS_VERIFY, "%s", msg);
}

/* Each backend's verification of the targets restored, then the
 * validation tests. Returns the number of checks that failed. */
static int verify_restored(rb_rollback_run *run, cJSON *ver)
{
    int passed = 0, total = 0;
    cJSON *vres = cJSON_AddArrayToObject(ver, "results");
    for (int i = 0; i < run->n && !run->restore_to; i++) {
        const cJSON *t = cJSON_GetArrayItem(run->targets, run->order[i]);
        const char *state = rb_journal_step_state(rb_journal_step(run, rb_rollback_tname(t)));
        if (strcmp(state, "restored") && strcmp(state, "partial"))
            continue;
        cJSON *result = NULL;
        int vrc = rb_target_run(run->ctx, run->store, t, run->snapshot_id, RB_ACTION_VERIFY, 0,
                                run->rollback_id, NULL, NULL, &result);
        cJSON *v = cJSON_CreateObject();
        cJSON_AddStringToObject(v, "test", "snapshot_state");
        cJSON_AddStringToObject(v, "target", rb_rollback_tname(t));
        cJSON_AddStringToObject(v, "type", rb_rollback_ttype(t));
        cJSON_AddBoolToObject(v, "passed", vrc == 0);
        if (vrc && vrc != RB_EDRIFT)
            rb_rollback_add_error(v);
        const cJSON *m;
        cJSON_ArrayForEach(m, result) if (!cJSON_GetObjectItemCaseSensitive(v, m->string))
            cJSON_AddItemToObject(v, m->string, cJSON_Duplicate(m, 1));
        cJSON_Delete(result);
        cJSON_AddItemToArray(vres, v);
        total++;
        passed += vrc == 0;
    }
    const cJSON *test;
    cJSON_ArrayForEach(test, run->tests)
    {
        cJSON *r = rb_checks_run(test, default_repo(run->targets));
        passed += cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "passed"));
        total++;
        cJSON_AddItemToArray(vres, r);
    }
    cJSON *d = detail("rollback_verification", NULL, passed == total ? "success" : "failed");
    cJSON_AddNumberToObject(cJSON_GetObjectItemCaseSensitive(d, "result"), "passed", passed);
    cJSON_AddNumberToObject(cJSON_GetObjectItemCaseSensitive(d, "result"), "total", total);
    cJSON_AddItemToArray(details_of(run), d);
    cJSON_AddStringToObject(ver, "status", passed == total ? "success" : "failed");
    cJSON_AddNumberToObject(ver, "passed", passed);
    cJSON_AddNumberToObject(ver, "total", total);
    return total - passed;
}

/* Seed 001 has one execution_result; a set reports each target in it. */
static void add_execution_result(rb_rollback_run *run, const char *status)
{
    cJSON *exec_targets = cJSON_CreateArray();
    for (int i = 0; i < run->n; i++) {
        const cJSON *t = cJSON_GetArrayItem(run->targets, run->order[i]);
        const cJSON *step = rb_journal_step(run, rb_rollback_tname(t));
        const cJSON *result = cJSON_GetObjectItemCaseSensitive(step, "result");
        if (!result)
            continue;
        cJSON *et = cJSON_CreateObject();
        cJSON_AddStringToObject(et, "name", rb_rollback_tname(t));
        cJSON_AddStringToObject(et, "type", rb_rollback_ttype(t));
        cJSON_AddStringToObject(et, "state", rb_journal_step_state(step));
        cJSON_AddItemToObject(et, "result", cJSON_Duplicate(result, 1));
        cJSON_AddItemToArray(exec_targets, et);
    }
    cJSON *exec;
    if (run->n == 1 && cJSON_GetArraySize(exec_targets) == 1) {
        exec =
            cJSON_DetachItemFromObjectCaseSensitive(cJSON_GetArrayItem(exec_targets, 0), "result");
        cJSON_Delete(exec_targets);
    } else {
        exec = cJSON_CreateObject();
        cJSON_AddStringToObject(exec, "status", status);
        cJSON_AddItemToObject(exec, "targets", exec_targets);
    }
    cJSON_DeleteItemFromObjectCaseSensitive(run->rec, "execution_result");
    cJSON_AddItemToObject(run->rec, "execution_result", exec);
}

/* Writes the record, then removes the journal: a crash between the two
 * leaves a journal whose resume writes the same record again. */
static int write_record(rb_rollback_run *run, cJSON **response)
{
    cJSON_AddNumberToObject(run->rec, "completed_at", (double)rb_now());
    cJSON_AddNumberToObject(
        run->rec, "duration",
        rb_rollback_wallclock() -
            cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(run->journal, "started_at")));
    rb_error_info saved = *rb_error_last();
    char saved_msg[2048];
    snprintf(saved_msg, sizeof saved_msg, "%s", saved.message);
    int wrc = rb_store_record_write(run->store, run->rollback_id, run->rec);
    if (wrc < 0)
        rb_log(RB_LOG_ERROR,
               "the rollback record %s could not be written (%s); its journal stays, and "
               "`execute-rollback --resume` writes it",
               run->rollback_id, rb_error_last()->message);
    else if (rb_store_journal_remove(run->store, run->rollback_id) < 0)
        rb_log(RB_LOG_ERROR, "%s", rb_error_last()->message);
    rb_events_rollback_end(run->events, run->rec);
    run->events = NULL;
    rb_error_set(saved.code, saved.klass, "%s", saved_msg);
    *response = cJSON_DetachItemFromObjectCaseSensitive(run->journal, "record");
    run->rec = NULL;
    return 0;
}

/* The rollback stops with its journal in place: the user interrupted it,
 * or a backend did not stop after its timeout. */
static int leave_pending(rb_rollback_run *run, int rc, cJSON **response)
{
    char msg[2048];
    snprintf(msg, sizeof msg, "%s", rb_error_last()->message);
    rb_error_class klass = rb_error_last()->klass;
    cJSON *r = cJSON_Duplicate(run->rec, 1);
    set_string(r, "status", "interrupted");
    cJSON_AddBoolToObject(r, "pending", 1);
    cJSON_AddItemToObject(
        r, "journal", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(run->journal, "steps"), 1));
    if (run->abandoned)
        cJSON_AddBoolToObject(r, "step_still_running", 1);
    rb_error_set(rc, klass,
                 "%s; rollback %s is pending: `rbhost execute-rollback --resume` finishes it, "
                 "`--resume --revert` undoes what it restored",
                 msg, run->rollback_id);
    rb_rollback_add_error(r);
    *response = r;
    return rc;
}

static const char *half_restored_warning(const rb_rollback_run *run)
{
    return run->safety_doc ? "some targets were restored and others were not; the safety "
                             "snapshot holds the state from before the rollback"
                           : "some targets were restored and others were not; no safety "
                             "snapshot was taken";
}

/* After the steps: the outcome, verification and the record. */
static int finish(rb_rollback_run *run, int failed_rc, int reverted_all, cJSON **response)
{
    int restored = 0, failed_steps = 0, partial_steps = 0;
    const cJSON *first_partial = NULL;
    char first_failed[2048] = "";
    for (int i = 0; i < run->n; i++) {
        const cJSON *t = cJSON_GetArrayItem(run->targets, run->order[i]);
        const cJSON *step = rb_journal_step(run, rb_rollback_tname(t));
        const char *state = rb_journal_step_state(step);
        restored += !strcmp(state, "restored") || !strcmp(state, "partial");
        if (!strcmp(state, "partial") && !partial_steps++)
            first_partial = cJSON_GetObjectItemCaseSensitive(step, "result");
        if (!strcmp(state, "failed") && !failed_steps++)
            snprintf(first_failed, sizeof first_failed, "%s",
                     str(cJSON_GetObjectItemCaseSensitive(step, "result"), "error"));
    }
    rb_error_info err = *rb_error_last();
    char err_msg[2048];
    snprintf(err_msg, sizeof err_msg, "%s", err.message);
    /* post_rollback runs before verification: a reload it does makes the
     * restored state the one that is checked. */
    rb_events_rollback_restored(run->events, failed_rc || failed_steps || reverted_all,
                                details_of(run));
    rb_journal_phase(run, "verifying");
    journal(run);
    cJSON *ver = cJSON_AddObjectToObject(run->rec, "verification_results");
    int checks_failed = 0;
    if (restored > 0 && !reverted_all) {
        checks_failed = verify_restored(run, ver);
    } else {
        cJSON_AddStringToObject(ver, "status", "skipped");
        cJSON_AddNumberToObject(ver, "passed", 0);
        cJSON_AddNumberToObject(ver, "total", 0);
        cJSON_AddArrayToObject(ver, "results");
    }
    if (run->restore_to)
        cJSON_AddStringToObject(ver, "note",
                                "restored into another directory: the live state was not "
                                "changed, so it was not compared with the snapshot");
    const char *status = "completed";
    if ((failed_rc || failed_steps) && (reverted_all || restored == 0))
        status = "failed";
    else if (failed_rc || failed_steps || partial_steps || checks_failed)
        status = "partial";
    set_string(run->rec, "status", status);
    add_execution_result(run, !strcmp(status, "completed") ? "success" : status);
    int rc = 0;
    if (failed_rc) {
        rb_error_set(err.code, err.klass, "%s", err_msg);
        const cJSON *rf = cJSON_GetObjectItemCaseSensitive(run->rec, "revert_failed");
        if (reverted_all && cJSON_GetArraySize(rf) > 0) {
            char *names = cJSON_PrintUnformatted(rf);
            rb_error_set(err.code, err.klass,
                         "%s; reverting what was restored failed for %s: those targets are "
                         "neither in the snapshot's state nor in the one before the rollback "
                         "(see technical_details; the safety snapshot is %s)",
                         err_msg, names ? names : "?", run->safety_id);
            cJSON_free(names);
            set_string(run->rec, "warning",
                       "some targets could not be reverted to their state before the rollback");
        } else if (reverted_all) {
            rb_error_set(err.code, err.klass,
                         "%s; the targets already restored were put back as they were before "
                         "the rollback",
                         err_msg);
        } else if (restored > 0) {
            set_string(run->rec, "warning", half_restored_warning(run));
            rb_error_set(RB_EDRIFT, err.klass,
                         "rollback %s is partial, only some targets were restored: %s",
                         run->rollback_id, err_msg);
        }
        rb_rollback_add_error(run->rec);
        rc = !strcmp(status, "partial") ? RB_EDRIFT : failed_rc;
    } else if (failed_steps && restored == 0) {
        rb_error_set(err.code ? err.code : RB_ERROR, err.klass,
                     "rollback %s failed, no target was restored: %s", run->rollback_id,
                     first_failed[0] ? first_failed : err_msg);
        rb_rollback_add_error(run->rec);
        rc = err.code ? err.code : RB_ERROR;
    } else if (failed_steps) {
        set_string(run->rec, "warning", half_restored_warning(run));
        rb_error_set(RB_EDRIFT, RB_ERRCLASS_BACKEND,
                     "rollback %s is partial, only some targets were restored: %s",
                     run->rollback_id, first_failed[0] ? first_failed : err_msg);
        rb_rollback_add_error(run->rec);
        rc = RB_EDRIFT;
    } else if (partial_steps) {
        rb_error_set(RB_EDRIFT, RB_ERRCLASS_BACKEND, "rollback %s is partial: %s", run->rollback_id,
                     first_failed[0] ? first_failed : err_msg);
        rb_rollback_add_error(run->rec);
        /* The record names what went wrong in the step (a timeout, say),
         * not only that the rollback is partial. */
        if (*str(first_partial, "error_code")) {
            set_string(run->rec, "error_code", str(first_partial, "error_code"));
            set_string(run->rec, "error_class", str(first_partial, "error_class"));
        }
        rc = RB_EDRIFT;
    } else if (checks_failed) {
        explain_failed_checks(cJSON_GetObjectItemCaseSensitive(ver, "results"), run->rollback_id);
        rc = RB_EDRIFT;
    }
    write_record(run, response);
    return rc;
}

/* The step loop, shared by a new rollback and a resumed one: every step
 * not done yet, in order. */
static int run_steps(rb_rollback_run *run, cJSON **response)
{
    rb_journal_phase(run, "restoring");
    int failed_rc = journal(run);
    for (int i = 0; i < run->n && failed_rc == 0; i++) {
        const cJSON *t = cJSON_GetArrayItem(run->targets, run->order[i]);
        cJSON *step = rb_journal_step(run, rb_rollback_tname(t));
        const char *state = rb_journal_step_state(step);
        if (strcmp(state, "pending") && strcmp(state, "running"))
            continue;
        int rc = restore_step(run, t, step);
        if (run->abandoned || atomic_load(&run->ctx->cancel))
            return leave_pending(run, RB_ECANCELED, response);
        if (rc && run->on_failure != RB_ON_FAILURE_CONTINUE)
            failed_rc = rc;
    }
    int reverted_all = 0;
    if (failed_rc && run->on_failure != RB_ON_FAILURE_CONTINUE && run->safety_doc) {
        rb_error_info err = *rb_error_last();
        char msg[2048];
        snprintf(msg, sizeof msg, "%s", err.message);
        revert_restored(run, 0);
        if (run->abandoned || atomic_load(&run->ctx->cancel))
            return leave_pending(run, RB_ECANCELED, response);
        reverted_all = 1;
        rb_error_set(err.code, err.klass, "%s", msg);
    }
    return finish(run, failed_rc, reverted_all, response);
}

static cJSON *record_new(rb_rollback_run *run)
{
    cJSON *rec = cJSON_CreateObject();
    cJSON_AddStringToObject(rec, "rollback_id", run->rollback_id);
    cJSON_AddStringToObject(rec, "snapshot_id", run->snapshot_id);
    cJSON_AddStringToObject(rec, "status", "failed");
    cJSON_AddNumberToObject(rec, "started_at", (double)rb_now());
    cJSON_AddArrayToObject(rec, "technical_details");
    cJSON_AddStringToObject(rec, "on_failure", rb_set_on_failure_name(run->on_failure));
    cJSON *order = cJSON_AddArrayToObject(rec, "order");
    for (int i = 0; i < run->n; i++)
        cJSON_AddItemToArray(order, cJSON_CreateString(rb_rollback_tname(
                                        cJSON_GetArrayItem(run->targets, run->order[i]))));
    return rec;
}

/* Takes the safety snapshot; when that fails nothing was changed, and the
 * rollback ends here as failed. */
static int safety_step(rb_rollback_run *run)
{
    int rc = rb_rollback_take_safety(run);
    cJSON *d = detail("safety_snapshot", NULL, rc ? "failed" : "success");
    cJSON_AddStringToObject(d, "snapshot_id", run->safety_id);
    if (rc) {
        rb_error_prefix("could not take the safety snapshot, nothing was changed");
        rb_rollback_add_error(cJSON_GetObjectItemCaseSensitive(d, "result"));
    }
    cJSON_AddItemToArray(details_of(run), d);
    if (rc == 0)
        set_string(run->rec, "safety_snapshot_id", run->safety_id);
    return rc;
}

static int start(rb_rollback_run *run, const cJSON *doc, const rb_rollback_options *opts,
                 cJSON **response)
{
    rollback_id_make(run->rollback_id, sizeof run->rollback_id);
    int want_safety = !(opts->flags & RB_ROLLBACK_NO_SAFETY) && !opts->restore_to;
    if (want_safety)
        snprintf(run->safety_id, sizeof run->safety_id, "pre-rollback-%s", run->rollback_id);
    run->journal = rb_journal_new(run);
    if (opts->restore_to)
        cJSON_AddStringToObject(run->journal, "restore_to", opts->restore_to);
    run->rec = record_new(run);
    cJSON_AddItemToObject(run->journal, "record", run->rec);
    /* A pre_rollback hook may veto: the record (written by the hook's
     * side) says so, and no journal was ever written. */
    int rc = rb_events_rollback_begin(&run->events, run->ctx, run->store, doc, opts, run->rec);
    if (rc) {
        *response = cJSON_DetachItemFromObjectCaseSensitive(run->journal, "record");
        run->rec = NULL;
        return rc;
    }
    rc = journal(run);
    if (rc) {
        rb_error_prefix("nothing was changed");
        return rc;
    }
    if (want_safety && (rc = safety_step(run))) {
        char msg[2048];
        snprintf(msg, sizeof msg, "%s", rb_error_last()->message);
        rb_error_info e = *rb_error_last();
        rb_rollback_add_error(run->rec);
        cJSON *ver = cJSON_AddObjectToObject(run->rec, "verification_results");
        cJSON_AddStringToObject(ver, "status", "skipped");
        cJSON_AddNumberToObject(ver, "passed", 0);
        cJSON_AddNumberToObject(ver, "total", 0);
        cJSON_AddArrayToObject(ver, "results");
        write_record(run, response);
        rb_error_set(e.code, e.klass, "%s", msg);
        return rc;
    }
    return run_steps(run, response);
}

/* --- resume --- */

static int load_journal(rb_rollback_run *run, const char *id, cJSON **doc)
{
    int rc = rb_journal_find(run->store, id, run->rollback_id, sizeof run->rollback_id);
    if (rc || (rc = rb_store_journal_read(run->store, run->rollback_id, &run->journal)))
        return rc;
    run->snapshot_id = str(run->journal, "snapshot_id");
    snprintf(run->safety_id, sizeof run->safety_id, "%s", str(run->journal, "safety_snapshot_id"));
    run->rec = cJSON_GetObjectItemCaseSensitive(run->journal, "record");
    if (!run->rec || !cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(run->journal, "steps")))
        return rb_error_set(RB_ECORRUPT, RB_ERRCLASS_STORE,
                            "the journal of rollback %s has no record or steps", run->rollback_id);
    if ((rc = rb_store_snapshot_read(run->store, run->snapshot_id, doc))) {
        rb_error_prefix("cannot resume rollback %s", run->rollback_id);
        return rc;
    }
    run->targets = rb_doc_targets(*doc);
    run->n = cJSON_GetArraySize(run->targets);
    run->order = malloc(((size_t)run->n + 1) * sizeof *run->order);
    if (!run->targets || !run->order)
        return rb_error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
    /* The order the rollback started with, whatever the snapshot says now. */
    int k = 0;
    const cJSON *s;
    cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(run->journal, "steps"))
    {
        int i = find_target(run, str(s, "target"));
        if (i < 0 || k == run->n)
            return rb_error_set(RB_ECORRUPT, RB_ERRCLASS_STORE,
                                "the journal of rollback %s names target '%s', which snapshot %s "
                                "does not have",
                                run->rollback_id, str(s, "target"), run->snapshot_id);
        run->order[k++] = i;
    }
    if (k != run->n)
        return rb_error_set(RB_ECORRUPT, RB_ERRCLASS_STORE,
                            "the journal of rollback %s does not list every target of %s",
                            run->rollback_id, run->snapshot_id);
    rb_set_on_failure_parse(str(run->journal, "on_failure"), "journal", &run->on_failure);
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(run->journal, "force")))
        run->op_flags |= RB_OP_FORCE;
    const char *to = str(run->journal, "restore_to");
    run->restore_to = *to ? to : NULL;
    run->tests = cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(run->journal, "validation"), 1);
    if (run->safety_id[0]) {
        cJSON *sd = NULL;
        if (rb_store_snapshot_read(run->store, run->safety_id, &sd) == 0)
            run->safety_doc = sd;
        else
            rb_error_clear();
    }
    return 0;
}

static int resume(rb_ctx *ctx, const char *id, const rb_rollback_options *opts, cJSON **response)
{
    rb_rollback_run run = {.ctx = ctx};
    ctx->resuming = 1;
    cJSON *doc = NULL;
    int rc = rb_ctx_store(ctx, 0, RB_STORE_LOCK_EXCLUSIVE, &run.store);
    if (rc == 0)
        rc = load_journal(&run, id, &doc);
    if (rc == 0)
        rc = check_targets(&run, 0);
    if (rc) {
        cJSON_Delete(doc);
        run_free(&run);
        return rc;
    }
    const char *phase = rb_journal_phase_of(run.journal);
    int revert = (opts->flags & RB_ROLLBACK_REVERT) || !strcmp(phase, "reverting");
    cJSON *d = detail("resume", NULL, "success");
    cJSON_AddStringToObject(d, "mode", revert ? "revert" : "finish");
    cJSON_AddStringToObject(d, "interrupted_in", phase);
    cJSON_AddItemToArray(details_of(&run), d);
    cJSON *resumed = cJSON_CreateObject();
    cJSON_AddNumberToObject(resumed, "at", (double)rb_now());
    cJSON_AddStringToObject(resumed, "mode", revert ? "revert" : "finish");
    cJSON_AddStringToObject(resumed, "interrupted_in", phase);
    cJSON_DeleteItemFromObjectCaseSensitive(run.rec, "resumed");
    cJSON_AddItemToObject(run.rec, "resumed", resumed);
    rb_log(RB_LOG_INFO, "resuming rollback %s of snapshot %s (%s)", run.rollback_id,
           run.snapshot_id, revert ? "reverting" : "finishing");
    if (revert) {
        if (!run.safety_doc && strcmp(phase, "safety_snapshot")) {
            rc = rb_error_set(RB_ENOTFOUND, RB_ERRCLASS_STORE,
                              "rollback %s cannot be reverted: it has no safety snapshot; "
                              "`execute-rollback --resume` without --revert finishes it",
                              run.rollback_id);
        } else {
            int failures = revert_restored(&run, 1);
            if (run.abandoned || atomic_load(&ctx->cancel)) {
                rc = leave_pending(&run, RB_ECANCELED, response);
            } else {
                rc = failures ? rb_error_set(RB_ERROR, RB_ERRCLASS_BACKEND,
                                             "rollback %s was interrupted and reverting it "
                                             "failed",
                                             run.rollback_id)
                              : rb_error_set(RB_ECANCELED, RB_ERRCLASS_NONE,
                                             "rollback %s was interrupted and has been reverted",
                                             run.rollback_id);
                rc = finish(&run, rc, 1, response);
                /* Undoing it was what was asked: done, though the record
                 * says the rollback failed. */
                if (!failures)
                    rc = 0;
            }
        }
    } else {
        if (!strcmp(phase, "safety_snapshot") && run.safety_id[0] && !run.safety_doc) {
            /* Interrupted before its safety snapshot was complete: nothing
             * was restored yet, so the live state is still the one to keep. */
            if ((rc = safety_step(&run)) == 0)
                rc = journal(&run);
        }
        if (rc == 0)
            rc = run_steps(&run, response);
        else {
            rb_rollback_add_error(run.rec);
            write_record(&run, response);
        }
    }
    cJSON_Delete(doc);
    run_free(&run);
    return rc;
}

/* Shows the plan to whoever confirms, under the lock the rollback then
 * runs with, so that what was confirmed is what runs. */
static int confirm(rb_rollback_run *run, const rb_rollback_options *opts)
{
    cJSON *plan = NULL;
    int rc = rb_rollback_plan(run, opts, &plan);
    /* A target that is no longer the one recorded is refused outright. */
    if (rc == RB_ECONFLICT) {
        cJSON_Delete(plan);
        return rc;
    }
    rb_error_clear();
    int yes = opts->confirm(plan, opts->confirm_arg);
    cJSON_Delete(plan);
    if (!yes)
        return rb_error_set(RB_ECANCELED, RB_ERRCLASS_NONE,
                            "rollback cancelled, nothing was changed");
    return 0;
}

int rb_rollback_execute(rb_ctx *ctx, const char *id, const rb_rollback_options *opts,
                        cJSON **response)
{
    if (opts->flags & RB_ROLLBACK_RESUME)
        return resume(ctx, id, opts, response);
    int rc = rb_store_id_validate(id, "snapshot id");
    if (rc)
        return rc;
    rb_rollback_run run = {.ctx = ctx, .snapshot_id = id, .restore_to = opts->restore_to};
    run.op_flags = (opts->flags & RB_ROLLBACK_FORCE) ? RB_OP_FORCE : 0;
    if ((rc = rb_checks_parse(opts->validation, &run.tests)))
        return rc;
    if ((rc = rb_events_validate(opts->hooks, opts->notify))) {
        cJSON_Delete(run.tests);
        return rc;
    }
    int dry = (opts->flags & RB_ROLLBACK_DRY_RUN) != 0;
    cJSON *doc = NULL;
    rc = rb_ctx_store(ctx, 0, dry ? RB_STORE_LOCK_SHARED : RB_STORE_LOCK_EXCLUSIVE, &run.store);
    if (rc == 0)
        rc = rb_store_snapshot_read(run.store, id, &doc);
    if (rc == 0 && !(run.targets = rb_doc_targets(doc)))
        rc = rb_error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
    if (rc == 0)
        rc = check_targets(&run, dry);
    if (rc == 0)
        rc = plan_order(&run);
    run.on_failure = (rb_on_failure)opts->on_failure;
    if (rc == 0 && run.on_failure == RB_ON_FAILURE_DEFAULT) {
        const cJSON *of = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(doc, "config"), "on_failure");
        run.on_failure = RB_ON_FAILURE_REVERT;
        if (of)
            rc = rb_set_on_failure_parse(cJSON_GetStringValue(of), "snapshot on_failure",
                                         &run.on_failure);
    }
    /* Before the question and before the safety snapshot: a target that is
     * no longer the one recorded is refused with nothing changed. */
    if (rc == 0 && !dry)
        rc = rb_rollback_preflight(&run);
    if (rc == 0 && !dry && opts->confirm)
        rc = confirm(&run, opts);
    if (rc == 0)
        rc = dry ? rb_rollback_plan(&run, opts, response) : start(&run, doc, opts, response);
    cJSON_Delete(doc);
    run_free(&run);
    return rc;
}
