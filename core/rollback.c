/* execute-rollback: safety snapshot, restore, verify, validation tests,
 * and the record in seed 001's history schema. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rb_checks.h"
#include "rb_config.h"
#include "rb_core.h"
#include "rb_error.h"
#include "rb_log.h"
#include "rb_progress.h"
#include "rb_target.h"

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

static void set_string(cJSON *obj, const char *key, const char *value)
{
    cJSON_DeleteItemFromObjectCaseSensitive(obj, key);
    cJSON_AddStringToObject(obj, key, value);
}

/* The host's view of the error wins over anything a backend put under the
 * same keys in its result. */
static void add_error(cJSON *obj)
{
    const rb_error_info *e = rb_error_last();
    set_string(obj, "error", e->message);
    set_string(obj, "error_class", rb_error_class_name(e->klass));
    set_string(obj, "error_code", rb_error_code_name(e->code));
}

static const char *tname(const cJSON *t)
{
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "name"));
}

static const char *ttype(const cJSON *t)
{
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "type"));
}

/* The repository a git_commit validation test checks when it names none:
 * the snapshot's own git_commit target, if it has exactly that. */
static const char *default_repo(const cJSON *targets)
{
    const cJSON *t;
    cJSON_ArrayForEach(t, targets)
    {
        if (ttype(t) && !strcmp(ttype(t), "git_commit"))
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
    int rc = rb_config_validate(e->keys, ttype(t), config ? config : empty, &effective);
    cJSON_Delete(empty);
    cJSON_Delete(effective);
    if (rc)
        rb_error_prefix("target '%s': the recorded config no longer fits its backend", tname(t));
    return rc;
}

static int dry_run(rb_ctx *ctx, rb_store *store, const char *id, const cJSON *targets,
                   const cJSON *tests, const rb_rollback_options *opts, cJSON **response)
{
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "status", "success");
    cJSON_AddBoolToObject(r, "dry_run", 1);
    cJSON_AddStringToObject(r, "snapshot_id", id);
    cJSON_AddBoolToObject(r, "safety_snapshot",
                          !(opts->flags & RB_ROLLBACK_NO_SAFETY) && !opts->restore_to);
    cJSON *list = cJSON_AddArrayToObject(r, "targets");
    int rc = 0;
    /* The next target's plan clears the message: keep the first error's. */
    const cJSON *first_error = NULL;
    rb_error_class first_class = RB_ERRCLASS_NONE;
    for (int i = cJSON_GetArraySize(targets) - 1; i >= 0; i--) {
        const cJSON *t = cJSON_GetArrayItem(targets, i);
        cJSON *plan = NULL;
        int prc = rb_target_run(ctx, store, t, id, RB_ACTION_PLAN,
                                (opts->flags & RB_ROLLBACK_FORCE) ? RB_OP_FORCE : 0, NULL,
                                opts->restore_to, NULL, &plan);
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "name", tname(t));
        cJSON_AddStringToObject(e, "type", ttype(t));
        if (prc) {
            add_error(e);
            if (!rc) {
                rc = prc;
                first_error = cJSON_GetObjectItemCaseSensitive(e, "error");
                first_class = rb_error_last()->klass;
            }
        }
        cJSON_AddItemToObject(e, "plan", plan ? plan : cJSON_CreateObject());
        cJSON_AddItemToArray(list, e);
    }
    cJSON_AddItemToObject(r, "validation", cJSON_Duplicate(tests, 1));
    if (rc) {
        cJSON_ReplaceItemInObjectCaseSensitive(r, "status", cJSON_CreateString("failed"));
        const char *msg = cJSON_GetStringValue(first_error);
        rb_error_set(rc, first_class, "%s", msg ? msg : "");
    }
    *response = r;
    return rc;
}

/* Takes the safety snapshot of every target whose backend does not keep
 * the replaced state itself, and records those that do as pending: they
 * fill their entry during restore. */
static int take_safety(rb_ctx *ctx, rb_store *store, const char *safety_id, const char *rollback_id,
                       const char *snapshot_id, const cJSON *targets, cJSON **doc_out)
{
    rb_store_txn *txn;
    int rc = rb_store_txn_begin(store, &txn);
    if (rc)
        return rc;
    cJSON *list;
    cJSON *doc = rb_doc_new_set(safety_id, &list);
    cJSON *meta = cJSON_GetObjectItemCaseSensitive(doc, "metadata");
    cJSON_AddStringToObject(meta, "kind", "safety");
    cJSON_AddStringToObject(meta, "rollback_id", rollback_id);
    cJSON_AddStringToObject(meta, "before_rollback_to", snapshot_id);
    const cJSON *t;
    cJSON_ArrayForEach(t, targets)
    {
        rb_plugin_entry *e;
        if ((rc = rb_ctx_backend(ctx, ttype(t), &e)))
            break;
        cJSON *td = NULL;
        if (e->capabilities & RB_PLUGIN_CAP_RESTORE_KEEPS_SAFETY) {
            td = cJSON_CreateObject();
            cJSON_AddStringToObject(td, "name", tname(t));
            cJSON_AddStringToObject(td, "type", ttype(t));
            cJSON_AddNumberToObject(td, "created_at", (double)rb_now());
            cJSON_AddItemToObject(
                td, "config", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(t, "config"), 1));
            cJSON_AddStringToObject(td, "status", "pending");
            cJSON_AddItemToObject(td, "metadata", cJSON_CreateObject());
        } else {
            const cJSON *config = cJSON_GetObjectItemCaseSensitive(t, "config");
            rc = rb_target_snapshot(ctx, store, txn, safety_id, tname(t), ttype(t), config,
                                    RB_OP_SAFETY, rollback_id, &td);
            if (rc)
                break;
        }
        cJSON_AddItemToArray(list, td);
    }
    if (rc) {
        rb_store_txn_abort(txn);
        cJSON_Delete(doc);
        return rc;
    }
    rc = rb_store_snapshot_commit(txn, safety_id, doc);
    if (rc) {
        cJSON_Delete(doc);
        return rc;
    }
    *doc_out = doc;
    return 0;
}

static int keeps_safety(rb_ctx *ctx, const cJSON *targets)
{
    const cJSON *t;
    cJSON_ArrayForEach(t, targets)
    {
        rb_plugin_entry *e;
        if (rb_ctx_backend(ctx, ttype(t), &e) == 0 &&
            (e->capabilities & RB_PLUGIN_CAP_RESTORE_KEEPS_SAFETY))
            return 1;
    }
    return 0;
}

static cJSON *safety_entry(cJSON *safety_doc, const char *name)
{
    cJSON *t;
    cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(safety_doc, "targets"))
    {
        if (!strcmp(tname(t), name))
            return t;
    }
    return NULL;
}

/* A partial rollback says which checks failed and the first thing each
 * found, so the reason is visible without --json. */
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

int rb_rollback_execute(rb_ctx *ctx, const char *id, const rb_rollback_options *opts,
                        cJSON **response)
{
    int rc = rb_store_id_validate(id, "snapshot id");
    if (rc)
        return rc;
    cJSON *tests = NULL;
    if ((rc = rb_checks_parse(opts->validation, &tests)))
        return rc;
    rb_store *store;
    cJSON *doc = NULL, *targets = NULL;
    rc = rb_ctx_store(ctx, 0,
                      (opts->flags & RB_ROLLBACK_DRY_RUN) ? RB_STORE_LOCK_SHARED
                                                          : RB_STORE_LOCK_EXCLUSIVE,
                      &store);
    if (rc == 0)
        rc = rb_store_snapshot_read(store, id, &doc);
    if (rc == 0 && !(targets = rb_doc_targets(doc)))
        rc = rb_error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
    /* Every backend must be there, and every target complete, before
     * anything changes. */
    const cJSON *t;
    cJSON_ArrayForEach(t, targets)
    {
        rb_plugin_entry *e;
        const char *status = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "status"));
        /* Everything below, the safety snapshot included, needs both. */
        if (rc == 0 && (!tname(t) || !ttype(t)))
            rc = rb_error_set(RB_ECORRUPT, RB_ERRCLASS_STORE,
                              "snapshot %s has a target without name or type", id);
        if (rc == 0 && status && strcmp(status, "created"))
            rc = rb_error_set(RB_ECONFLICT, RB_ERRCLASS_STORE,
                              "cannot roll back to snapshot '%s': its target '%s' is %s, not "
                              "complete",
                              id, tname(t), status);
        if (rc == 0 && (rc = rb_ctx_backend(ctx, ttype(t), &e)))
            rb_error_prefix("cannot roll back target '%s'", tname(t));
        if (rc == 0 && !(opts->flags & RB_ROLLBACK_DRY_RUN))
            rc = config_fits(e, t);
    }
    if (rc == 0 && (opts->flags & RB_ROLLBACK_DRY_RUN))
        rc = dry_run(ctx, store, id, targets, tests, opts, response);
    if (rc || (opts->flags & RB_ROLLBACK_DRY_RUN)) {
        cJSON_Delete(tests);
        cJSON_Delete(doc);
        cJSON_Delete(targets);
        return rc;
    }

    char rollback_id[64], safety_id[160];
    rollback_id_make(rollback_id, sizeof rollback_id);
    snprintf(safety_id, sizeof safety_id, "pre-rollback-%s", rollback_id);
    double t0 = rb_monotonic();
    cJSON *rec = cJSON_CreateObject();
    cJSON_AddStringToObject(rec, "rollback_id", rollback_id);
    cJSON_AddStringToObject(rec, "snapshot_id", id);
    cJSON_AddStringToObject(rec, "status", "failed");
    cJSON_AddNumberToObject(rec, "started_at", (double)rb_now());
    cJSON *details = cJSON_AddArrayToObject(rec, "technical_details");
    unsigned int flags = (opts->flags & RB_ROLLBACK_FORCE) ? RB_OP_FORCE : 0;
    int want_safety = !(opts->flags & RB_ROLLBACK_NO_SAFETY) && !opts->restore_to;

    cJSON *safety_doc = NULL;
    if (want_safety) {
        rc = take_safety(ctx, store, safety_id, rollback_id, id, targets, &safety_doc);
        cJSON *d = detail("safety_snapshot", NULL, rc ? "failed" : "success");
        cJSON_AddStringToObject(d, "snapshot_id", safety_id);
        if (rc) {
            rb_error_prefix("could not take the safety snapshot, nothing was changed");
            add_error(cJSON_GetObjectItemCaseSensitive(d, "result"));
        }
        cJSON_AddItemToArray(details, d);
        if (rc == 0)
            cJSON_AddStringToObject(rec, "safety_snapshot_id", safety_id);
    }

    /* Backends that keep the replaced state themselves fill their part of
     * the safety snapshot during restore, into a transaction of its own. */
    rb_store_txn *keep_txn = NULL;
    if (rc == 0 && safety_doc && keeps_safety(ctx, targets) &&
        (rc = rb_store_txn_begin(store, &keep_txn)) != 0)
        rb_error_prefix("cannot prepare the safety snapshot, nothing was changed");
    int n = cJSON_GetArraySize(targets), restored = 0, failed_rc = rc;
    char step_problem[1024] = "";
    int step_code = 0;
    rb_error_class step_class = RB_ERRCLASS_NONE;
    cJSON *exec = cJSON_CreateObject();
    cJSON *exec_targets = cJSON_CreateArray();
    /* Restore in reverse order: what was snapshotted last depends on what
     * came before it, so it goes back first. */
    for (int i = n - 1; i >= 0 && failed_rc == 0; i--) {
        t = cJSON_GetArrayItem(targets, i);
        cJSON *safety = safety_doc ? safety_entry(safety_doc, tname(t)) : NULL;
        rb_safety_slot slot = {safety ? cJSON_GetObjectItemCaseSensitive(safety, "metadata") : NULL,
                               keep_txn};
        double s0 = rb_monotonic();
        cJSON *result = NULL;
        int trc = rb_target_run(ctx, store, t, id, RB_ACTION_RESTORE, flags, rollback_id,
                                opts->restore_to, safety ? &slot : NULL, &result);
        /* A backend that restored the state but failed a follow-up (an
         * apply after a Terraform state rollback) reports "partial": the
         * target counts as restored, and the rollback cannot be complete. */
        const char *rstatus =
            cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(result, "status"));
        int partial_step = trc && rstatus && !strcmp(rstatus, "partial");
        cJSON *d = detail("rollback_execution", tname(t),
                          !trc           ? "success"
                          : partial_step ? "partial"
                                         : "failed");
        cJSON_AddStringToObject(d, "type", ttype(t));
        const cJSON *method = cJSON_GetObjectItemCaseSensitive(result, "method");
        if (method)
            cJSON_AddItemToObject(d, "method", cJSON_Duplicate(method, 1));
        cJSON *dres = cJSON_GetObjectItemCaseSensitive(d, "result");
        const cJSON *m;
        cJSON_ArrayForEach(m, result) if (!cJSON_GetObjectItemCaseSensitive(dres, m->string))
            cJSON_AddItemToObject(dres, m->string, cJSON_Duplicate(m, 1));
        if (trc)
            add_error(dres);
        cJSON_AddNumberToObject(d, "duration", rb_monotonic() - s0);
        cJSON_AddItemToArray(details, d);
        if (!cJSON_GetObjectItemCaseSensitive(result, "status"))
            cJSON_AddStringToObject(result, "status", trc ? "failed" : "success");
        cJSON *et = cJSON_CreateObject();
        cJSON_AddStringToObject(et, "name", tname(t));
        cJSON_AddStringToObject(et, "type", ttype(t));
        cJSON_AddItemToObject(et, "result", result);
        cJSON_AddItemToArray(exec_targets, et);
        if (safety &&
            !strcmp(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(safety, "status")),
                    "pending"))
            cJSON_ReplaceItemInObjectCaseSensitive(
                safety, "status", cJSON_CreateString(trc && !partial_step ? "failed" : "created"));
        if (partial_step && !step_problem[0]) {
            snprintf(step_problem, sizeof step_problem, "%s", rb_error_last()->message);
            step_code = rb_error_last()->code;
            step_class = rb_error_last()->klass;
        }
        if (trc && !partial_step)
            failed_rc = trc;
        else
            restored++;
    }
    /* What the restores kept goes into the safety snapshot, blobs included.
     * Failing that must not replace the message of a failed restore. */
    if (keep_txn) {
        rb_error_info restore_err = *rb_error_last();
        char restore_msg[2048];
        snprintf(restore_msg, sizeof restore_msg, "%s", restore_err.message);
        if (rb_store_snapshot_amend(keep_txn, safety_id, safety_doc) < 0) {
            rb_log(RB_LOG_WARN, "safety snapshot %s: %s", safety_id, rb_error_last()->message);
            rb_error_set(restore_err.code, restore_err.klass, "%s", restore_msg);
        }
    }

    /* Seed 001 has one execution_result; a set reports each target in it. */
    if (n == 1 && cJSON_GetArraySize(exec_targets) == 1) {
        cJSON_Delete(exec);
        exec =
            cJSON_DetachItemFromObjectCaseSensitive(cJSON_GetArrayItem(exec_targets, 0), "result");
        cJSON_Delete(exec_targets);
    } else {
        cJSON_AddStringToObject(exec, "status",
                                failed_rc         ? "failed"
                                : step_problem[0] ? "partial"
                                                  : "success");
        cJSON_AddItemToObject(exec, "targets", exec_targets);
    }
    cJSON_AddItemToObject(rec, "execution_result", exec);

    int passed = 0, total = 0;
    cJSON *vres = cJSON_CreateArray();
    if (failed_rc == 0) {
        for (int i = n - 1; i >= 0; i--) {
            t = cJSON_GetArrayItem(targets, i);
            if (opts->restore_to)
                break;
            cJSON *result = NULL;
            int vrc = rb_target_run(ctx, store, t, id, RB_ACTION_VERIFY, 0, rollback_id, NULL, NULL,
                                    &result);
            cJSON *v = cJSON_CreateObject();
            cJSON_AddStringToObject(v, "test", "snapshot_state");
            cJSON_AddStringToObject(v, "target", tname(t));
            cJSON_AddStringToObject(v, "type", ttype(t));
            cJSON_AddBoolToObject(v, "passed", vrc == 0);
            if (vrc && vrc != RB_EDRIFT)
                add_error(v);
            const cJSON *m;
            cJSON_ArrayForEach(m, result) if (!cJSON_GetObjectItemCaseSensitive(v, m->string))
                cJSON_AddItemToObject(v, m->string, cJSON_Duplicate(m, 1));
            cJSON_Delete(result);
            cJSON_AddItemToArray(vres, v);
            total++;
            passed += vrc == 0;
        }
        const cJSON *test;
        cJSON_ArrayForEach(test, tests)
        {
            cJSON *r = rb_checks_run(test, default_repo(targets));
            passed += cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "passed"));
            total++;
            cJSON_AddItemToArray(vres, r);
        }
        cJSON *d = detail("rollback_verification", NULL, passed == total ? "success" : "failed");
        cJSON_AddNumberToObject(cJSON_GetObjectItemCaseSensitive(d, "result"), "passed", passed);
        cJSON_AddNumberToObject(cJSON_GetObjectItemCaseSensitive(d, "result"), "total", total);
        cJSON_AddItemToArray(details, d);
    }
    cJSON *ver = cJSON_AddObjectToObject(rec, "verification_results");
    cJSON_AddStringToObject(ver, "status",
                            failed_rc         ? "skipped"
                            : passed == total ? "success"
                                              : "failed");
    cJSON_AddNumberToObject(ver, "passed", passed);
    cJSON_AddNumberToObject(ver, "total", total);
    cJSON_AddItemToObject(ver, "results", vres);
    if (opts->restore_to)
        cJSON_AddStringToObject(ver, "note",
                                "restored into another directory: the live state was not "
                                "changed, so it was not compared with the snapshot");

    const char *status = "completed";
    if (failed_rc)
        status = restored > 0 ? "partial" : "failed";
    else if (passed != total || step_problem[0])
        status = "partial";
    cJSON_ReplaceItemInObjectCaseSensitive(rec, "status", cJSON_CreateString(status));
    if (failed_rc) {
        add_error(rec);
    } else if (step_problem[0]) {
        set_string(rec, "error", step_problem);
        set_string(rec, "error_class", rb_error_class_name(step_class));
        set_string(rec, "error_code", rb_error_code_name(step_code));
    }
    if (failed_rc && restored > 0)
        cJSON_AddStringToObject(rec, "warning",
                                safety_doc ? "some targets were restored and others were not; "
                                             "the safety snapshot holds the state from before "
                                             "the rollback"
                                           : "some targets were restored and others were not; "
                                             "no safety snapshot was taken");
    cJSON_AddNumberToObject(rec, "completed_at", (double)rb_now());
    cJSON_AddNumberToObject(rec, "duration", rb_monotonic() - t0);

    /* Keep the backend's message: writing the record must not replace it. */
    rb_error_info saved = *rb_error_last();
    char saved_msg[2048];
    snprintf(saved_msg, sizeof saved_msg, "%s", saved.message);
    if (rb_store_record_write(store, rollback_id, rec) < 0)
        rb_log(RB_LOG_ERROR, "the rollback record %s could not be written: %s", rollback_id,
               rb_error_last()->message);
    /* Some targets were restored before one failed: the rollback is
     * partial, which exits 1 like a failed check (an interrupt keeps its
     * own code), and the message says the live system is half-restored. */
    int half_done = failed_rc && failed_rc != RB_ECANCELED && restored > 0;
    if (half_done)
        rb_error_set(RB_EDRIFT, saved.klass,
                     "rollback %s is partial, only some targets were restored: %s", rollback_id,
                     saved_msg);
    else if (failed_rc)
        rb_error_set(saved.code, saved.klass, "%s", saved_msg);

    if (!failed_rc && step_problem[0])
        rb_error_set(RB_EDRIFT, RB_ERRCLASS_BACKEND, "rollback %s is partial: %s", rollback_id,
                     step_problem);
    else if (!failed_rc && passed != total)
        explain_failed_checks(vres, rollback_id);
    cJSON_Delete(safety_doc);
    cJSON_Delete(tests);
    cJSON_Delete(doc);
    cJSON_Delete(targets);
    *response = rec;
    if (failed_rc)
        return half_done ? RB_EDRIFT : failed_rc;
    return passed == total && !step_problem[0] ? 0 : RB_EDRIFT;
}
