/* Hooks and notifications: reading them from a spec, a snapshot document
 * or options, and what execute-rollback reports through them. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rb_ctx.h"
#include "rb_error.h"
#include "rb_events.h"
#include "rb_log.h"
#include "rb_target.h"

static const char *const hook_names[] = {"pre_snapshot",  "post_snapshot", "pre_rollback",
                                         "post_rollback", "on_failure",    NULL};

static int known(const char *const *list, const char *k)
{
    for (; *list; list++)
        if (!strcmp(*list, k))
            return 1;
    return 0;
}

#define bad(...) rb_error_set(RB_EINVAL, RB_ERRCLASS_INVALID, __VA_ARGS__)

static int check_hook(const char *name, const cJSON *h)
{
    static const char *const keys[] = {"run", "timeout", NULL};
    if (!cJSON_IsObject(h) || !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(h, "run")))
        return bad("hooks: %s needs {\"run\": \"command\", \"timeout\"?: seconds}", name);
    const cJSON *m;
    cJSON_ArrayForEach(m, h) if (!known(keys, m->string)) return bad(
        "hooks: %s: unknown key '%s' (known: run, timeout)", name, m->string);
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(h, "timeout");
    if (t && (!cJSON_IsNumber(t) || t->valuedouble <= 0))
        return bad("hooks: %s: 'timeout' must be a positive number of seconds", name);
    return 0;
}

static int check_notify(const cJSON *n)
{
    static const char *const web[] = {"type", "url", "headers", "timeout", NULL};
    static const char *const cmd[] = {"type", "run", "timeout", NULL};
    const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(n, "type"));
    int is_web = type && !strcmp(type, "webhook"), is_cmd = type && !strcmp(type, "command");
    if (!cJSON_IsObject(n) || (!is_web && !is_cmd))
        return bad("notify: each entry is {\"type\": \"webhook\", \"url\", \"headers\"?} or "
                   "{\"type\": \"command\", \"run\"}");
    const cJSON *m;
    cJSON_ArrayForEach(m, n) if (!known(is_web ? web : cmd, m->string)) return bad(
        "notify: %s: unknown key '%s'", type, m->string);
    const char *need = is_web ? "url" : "run";
    if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(n, need)))
        return bad("notify: %s needs '%s' (a string)", type, need);
    const cJSON *headers = cJSON_GetObjectItemCaseSensitive(n, "headers");
    cJSON_ArrayForEach(m, headers) if (!cJSON_IsString(m)) return bad(
        "notify: webhook header '%s' must be a string", m->string);
    if (headers && !cJSON_IsObject(headers))
        return bad("notify: webhook 'headers' must be an object of strings");
    return 0;
}

int rb_events_validate(const cJSON *hooks, const cJSON *notify)
{
    if (hooks && !cJSON_IsObject(hooks))
        return bad("hooks: expected {\"pre_rollback\": {\"run\": ...}, ...}");
    const cJSON *h;
    cJSON_ArrayForEach(h, hooks)
    {
        if (!known(hook_names, h->string))
            return bad("hooks: unknown hook '%s' (known: pre_snapshot, post_snapshot, "
                       "pre_rollback, post_rollback, on_failure)",
                       h->string);
        const cJSON *one;
        int rc = 0;
        if (cJSON_IsArray(h)) {
            cJSON_ArrayForEach(one, h) if ((rc = check_hook(h->string, one))) return rc;
        } else if ((rc = check_hook(h->string, h))) {
            return rc;
        }
    }
    if (notify && !cJSON_IsArray(notify))
        return bad("notify: expected a list of notifications");
    const cJSON *n;
    cJSON_ArrayForEach(n, notify)
    {
        int rc = check_notify(n);
        if (rc)
            return rc;
    }
    return 0;
}

/* Each hook name maps to a list, whatever form it was given in. */
static void merge_hooks(cJSON *into, const cJSON *hooks)
{
    const cJSON *h;
    cJSON_ArrayForEach(h, hooks)
    {
        cJSON *list = cJSON_IsArray(h) ? cJSON_Duplicate(h, 1) : cJSON_CreateArray();
        if (!cJSON_IsArray(h))
            cJSON_AddItemToArray(list, cJSON_Duplicate(h, 1));
        cJSON_DeleteItemFromObjectCaseSensitive(into, h->string);
        cJSON_AddItemToObject(into, h->string, list);
    }
}

rb_events *rb_events_new(const char *store_location, const cJSON *doc, const cJSON *hooks,
                         const cJSON *notify)
{
    const cJSON *doc_hooks = cJSON_GetObjectItemCaseSensitive(doc, "hooks");
    const cJSON *doc_notify = cJSON_GetObjectItemCaseSensitive(doc, "notify");
    if (!doc_hooks && !doc_notify && !hooks && !notify)
        return NULL;
    rb_events *ev = calloc(1, sizeof *ev);
    if (!ev)
        return NULL;
    ev->hooks = cJSON_CreateObject();
    merge_hooks(ev->hooks, doc_hooks);
    merge_hooks(ev->hooks, hooks);
    ev->notify = cJSON_Duplicate(notify ? notify : doc_notify, 1);
    ev->fields = cJSON_CreateObject();
    rb_events_set(ev, "store", store_location);
    return ev;
}

void rb_events_free(rb_events *ev)
{
    if (!ev)
        return;
    cJSON_Delete(ev->hooks);
    cJSON_Delete(ev->notify);
    cJSON_Delete(ev->fields);
    free(ev);
}

void rb_events_set(rb_events *ev, const char *name, const char *value)
{
    if (!ev || !value)
        return;
    cJSON_DeleteItemFromObjectCaseSensitive(ev->fields, name);
    cJSON_AddStringToObject(ev->fields, name, value);
}

int rb_events_rollback_begin(rb_events **out, rb_ctx *ctx, rb_store *store, const cJSON *doc,
                             const rb_rollback_options *opts, cJSON *rec)
{
    *out = NULL;
    rb_events *ev = rb_events_new(ctx->store_location, doc, opts->hooks, opts->notify);
    if (!ev)
        return 0;
    rb_events_set(ev, "snapshot_id",
                  cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rec, "snapshot_id")));
    rb_events_set(ev, "rollback_id",
                  cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rec, "rollback_id")));
    rb_events_set(ev, "status", "started");
    cJSON *details = cJSON_GetObjectItemCaseSensitive(rec, "technical_details");
    int veto = rb_hooks_run(ev, "pre_rollback", details);
    if (!veto) {
        rb_events_emit(ev, "rollback.started", NULL);
        *out = ev;
        return 0;
    }
    /* A veto changes nothing: no safety snapshot, no restore; the record
     * says who refused and why. */
    cJSON_ReplaceItemInObjectCaseSensitive(rec, "status", cJSON_CreateString("vetoed"));
    const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rec, "rollback_id"));
    rb_error_set(RB_ECONFLICT, RB_ERRCLASS_BACKEND,
                 "rollback %s vetoed: the pre_rollback hook exited with %d; nothing was "
                 "changed",
                 id, veto);
    cJSON_AddStringToObject(rec, "error", rb_error_last()->message);
    cJSON_AddStringToObject(rec, "error_class", rb_error_class_name(RB_ERRCLASS_BACKEND));
    cJSON_AddStringToObject(rec, "error_code", "vetoed");
    cJSON_AddNumberToObject(rec, "completed_at", (double)rb_now());
    rb_events_set(ev, "status", "vetoed");
    rb_events_emit(ev, "rollback.vetoed", NULL);
    rb_error_info saved = *rb_error_last();
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", saved.message);
    if (rb_store_record_write(store, id, rec) < 0)
        rb_log(RB_LOG_ERROR, "the rollback record %s could not be written: %s", id,
               rb_error_last()->message);
    rb_events_free(ev);
    return rb_error_set(saved.code, saved.klass, "%s", msg);
}

void rb_events_rollback_step(rb_events *ev, const cJSON *detail)
{
    if (!ev)
        return;
    cJSON *p = cJSON_CreateObject();
    cJSON_AddItemToObject(p, "step", cJSON_Duplicate(detail, 1));
    rb_events_emit(ev, "rollback.step", p);
    cJSON_Delete(p);
}

void rb_events_rollback_restored(rb_events *ev, int failed, cJSON *details)
{
    if (!ev)
        return;
    rb_events_set(ev, "status", failed ? "failed" : "restored");
    rb_hooks_run(ev, "post_rollback", details);
}

void rb_events_rollback_end(rb_events *ev, cJSON *rec)
{
    if (!ev)
        return;
    const char *status = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rec, "status"));
    rb_events_set(ev, "status", status);
    cJSON *p = cJSON_CreateObject();
    static const char *const keys[] = {"status", "duration", "error", "safety_snapshot_id"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(rec, keys[i]);
        if (v)
            cJSON_AddItemToObject(p, keys[i], cJSON_Duplicate(v, 1));
    }
    int ok = status && !strcmp(status, "completed");
    rb_events_emit(ev, ok ? "rollback.completed" : "rollback.failed", p);
    cJSON_Delete(p);
    if (!ok)
        rb_hooks_run(ev, "on_failure", cJSON_GetObjectItemCaseSensitive(rec, "technical_details"));
    rb_events_free(ev);
}

int rb_events_snapshot_begin(rb_events **out, rb_ctx *ctx, const char *id, const cJSON *spec)
{
    *out = NULL;
    const cJSON *hooks = cJSON_GetObjectItemCaseSensitive(spec, "hooks");
    const cJSON *notify = cJSON_GetObjectItemCaseSensitive(spec, "notify");
    int rc = rb_events_validate(hooks, notify);
    if (rc)
        return rc;
    rb_events *ev = rb_events_new(ctx->store_location, spec, NULL, NULL);
    if (!ev)
        return 0;
    rb_events_set(ev, "snapshot_id", id);
    rb_events_set(ev, "status", "started");
    int veto = rb_hooks_run(ev, "pre_snapshot", NULL);
    if (veto) {
        rb_events_free(ev);
        return rb_error_set(RB_ECONFLICT, RB_ERRCLASS_BACKEND,
                            "snapshot %s vetoed: the pre_snapshot hook exited with %d; nothing "
                            "was recorded",
                            id, veto);
    }
    rb_events_emit(ev, "snapshot.started", NULL);
    *out = ev;
    return 0;
}

void rb_events_snapshot_record(const cJSON *spec, cJSON *doc)
{
    static const char *const keys[] = {"hooks", "notify"};
    for (size_t i = 0; i < 2; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(spec, keys[i]);
        if (v)
            cJSON_AddItemToObject(doc, keys[i], cJSON_Duplicate(v, 1));
    }
}

void rb_events_snapshot_end(rb_events *ev, int rc)
{
    if (!ev)
        return;
    rb_error_info saved = *rb_error_last();
    char msg[2048];
    snprintf(msg, sizeof msg, "%s", saved.message);
    rb_events_set(ev, "status", rc ? "failed" : "created");
    cJSON *p = cJSON_CreateObject();
    if (rc)
        cJSON_AddStringToObject(p, "error", msg);
    rb_events_emit(ev, rc ? "snapshot.failed" : "snapshot.created", p);
    cJSON_Delete(p);
    rb_hooks_run(ev, rc ? "on_failure" : "post_snapshot", NULL);
    rb_events_free(ev);
    if (rc)
        rb_error_set(saved.code, saved.klass, "%s", msg);
}
