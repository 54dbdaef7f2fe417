/* create-snapshot: one target, or a set of targets from a spec. */
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rb_core.h"
#include "rb_error.h"
#include "rb_events.h"
#include "rb_log.h"
#include "rb_progress.h"
#include "rb_set.h"
#include "rb_target.h"

static void add_origin(cJSON *doc, double seconds)
{
    cJSON *o = cJSON_AddObjectToObject(doc, "rbhost");
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    struct passwd *pw = getpwuid(geteuid());
    cJSON_AddStringToObject(o, "version", RB_VERSION);
    cJSON_AddStringToObject(o, "hostname", host);
    cJSON_AddStringToObject(o, "user", pw ? pw->pw_name : "");
    cJSON_AddNumberToObject(o, "uid", (double)geteuid());
    cJSON_AddNumberToObject(o, "duration", seconds);
}

static int refuse_existing(rb_store *store, const char *id)
{
    cJSON *doc = NULL;
    int rc = rb_store_snapshot_read(store, id, &doc);
    cJSON_Delete(doc);
    if (rc == 0)
        return rb_error_set(RB_EEXISTS, RB_ERRCLASS_INVALID,
                            "snapshot '%s' already exists (delete-snapshot it first, or choose "
                            "another id)",
                            id);
    if (rc != RB_ENOTFOUND)
        return rc;
    rb_error_clear();
    return 0;
}

/* The seed's response: status, snapshot_id, type and the metadata with its
 * created_at. */
static cJSON *snapshot_response(const cJSON *doc)
{
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "status", "success");
    cJSON_AddItemToObject(r, "snapshot_id",
                          cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(doc, "id"), 1));
    cJSON_AddItemToObject(r, "type",
                          cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(doc, "type"), 1));
    const cJSON *targets = cJSON_GetObjectItemCaseSensitive(doc, "targets");
    if (targets) {
        cJSON *m = cJSON_AddObjectToObject(r, "metadata");
        cJSON *list = cJSON_AddArrayToObject(m, "targets");
        const cJSON *t;
        cJSON_ArrayForEach(t, targets)
        {
            cJSON *e = cJSON_CreateObject();
            cJSON_AddItemToArray(list, e);
            cJSON_AddItemToObject(e, "name",
                                  cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(t, "name"), 1));
            cJSON_AddItemToObject(e, "type",
                                  cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(t, "type"), 1));
            cJSON_AddItemToObject(
                e, "metadata", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(t, "metadata"), 1));
        }
        cJSON_AddItemToObject(
            m, "created_at",
            cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(doc, "created_at"), 1));
    } else {
        cJSON *m = cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(doc, "metadata"), 1);
        if (!m)
            m = cJSON_CreateObject();
        cJSON_DeleteItemFromObjectCaseSensitive(m, "created_at");
        cJSON_AddItemToObject(
            m, "created_at",
            cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(doc, "created_at"), 1));
        cJSON_AddItemToObject(r, "metadata", m);
    }
    const cJSON *store = cJSON_GetObjectItemCaseSensitive(doc, "store");
    if (store)
        cJSON_AddItemToObject(r, "store", cJSON_Duplicate(store, 1));
    return r;
}

int rb_snapshot_create(rb_ctx *ctx, const char *id, const char *type, const cJSON *config,
                       cJSON **response)
{
    int rc = rb_store_id_validate(id, "snapshot id");
    if (rc)
        return rc;
    if (!type || !*type)
        return rb_error_set(RB_EINVAL, RB_ERRCLASS_INVALID, "a snapshot needs a type");
    /* An unknown type is refused before a store is created for it. */
    rb_plugin_entry *backend;
    if ((rc = rb_ctx_backend(ctx, type, &backend)))
        return rc;
    rb_store *store;
    rc = rb_ctx_store(ctx, 1, RB_STORE_LOCK_SHARED, &store);
    if (rc)
        return rc;
    if ((rc = refuse_existing(store, id)))
        return rc;
    rb_store_txn *txn;
    if ((rc = rb_store_txn_begin(store, &txn)))
        return rc;
    double t0 = rb_monotonic();
    cJSON *target = NULL;
    rc = rb_target_snapshot(ctx, store, txn, id, type, type, config, 0, NULL, &target);
    if (rc) {
        rb_store_txn_abort(txn);
        return rc;
    }
    /* Seed 001's metadata file: the target's fields at the top level. */
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "id", id);
    cJSON_AddStringToObject(doc, "type", type);
    cJSON_AddItemToObject(doc, "created_at",
                          cJSON_DetachItemFromObjectCaseSensitive(target, "created_at"));
    cJSON_AddItemToObject(doc, "config", cJSON_DetachItemFromObjectCaseSensitive(target, "config"));
    cJSON_AddStringToObject(doc, "status", "created");
    cJSON_AddItemToObject(doc, "metadata",
                          cJSON_DetachItemFromObjectCaseSensitive(target, "metadata"));
    cJSON_Delete(target);
    add_origin(doc, rb_monotonic() - t0);
    rc = rb_store_snapshot_commit(txn, id, doc);
    if (rc == 0)
        *response = snapshot_response(doc);
    cJSON_Delete(doc);
    return rc;
}

/* One target of a set, run on a worker thread: everything it touches is
 * its own (op, progress, error message) or thread-safe (the transaction's
 * blob writes, the loaded backends, read-only store lookups). */
typedef struct set_run {
    rb_ctx *ctx;
    rb_store *store;
    rb_store_txn *txn;
    const char *id;
    const cJSON *targets;
    cJSON **docs;
} set_run;

static int snapshot_one(void *arg, int index)
{
    set_run *r = arg;
    const cJSON *t = cJSON_GetArrayItem(r->targets, index);
    const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "name"));
    const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "type"));
    const cJSON *config = cJSON_GetObjectItemCaseSensitive(t, "config");
    cJSON *empty = config ? NULL : cJSON_CreateObject();
    int rc = rb_target_snapshot(r->ctx, r->store, r->txn, r->id, name, type,
                                config ? config : empty, 0, NULL, &r->docs[index]);
    cJSON_Delete(empty);
    if (rc == 0) {
        /* The rollback reads its order and policy from the snapshot. */
        static const char *const kept[] = {"depends_on", "timeout", "retry"};
        for (size_t k = 0; k < sizeof kept / sizeof *kept; k++) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(t, kept[k]);
            if (v)
                cJSON_AddItemToObject(r->docs[index], kept[k], cJSON_Duplicate(v, 1));
        }
    }
    return rc;
}

/* The targets of a set, in parallel where depends_on allows, committed as
 * one snapshot only when every one succeeded. */
static int take_set(rb_ctx *ctx, rb_store *store, const char *id, const cJSON *spec, int jobs,
                    cJSON **response)
{
    const cJSON *targets = cJSON_GetObjectItemCaseSensitive(spec, "targets");
    int rc;
    int n = cJSON_GetArraySize(targets);
    cJSON **docs = calloc((size_t)n, sizeof *docs);
    if (!docs)
        return rb_error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
    rb_store_txn *txn;
    if ((rc = rb_store_txn_begin(store, &txn))) {
        free(docs);
        return rc;
    }
    if (jobs <= 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        jobs = cores > 0 ? (int)cores : 1;
    }
    double t0 = rb_monotonic();
    set_run run = {ctx, store, txn, id, targets, docs};
    int failed = -1;
    rc = rb_set_run_parallel(targets, (size_t)jobs, snapshot_one, &run, &failed);
    cJSON *list;
    cJSON *doc = rb_doc_new_set(id, &list);
    const cJSON *of = cJSON_GetObjectItemCaseSensitive(spec, "on_failure");
    if (of)
        cJSON_AddItemToObject(cJSON_GetObjectItemCaseSensitive(doc, "config"), "on_failure",
                              cJSON_Duplicate(of, 1));
    for (int i = 0; i < n; i++) {
        if (rc == 0)
            cJSON_AddItemToArray(list, docs[i]);
        else
            cJSON_Delete(docs[i]);
    }
    free(docs);
    if (rc) {
        /* Nothing of a set is kept unless every target succeeded; the
         * message already names the target that failed. */
        rb_store_txn_abort(txn);
        cJSON_Delete(doc);
        return rc;
    }
    add_origin(doc, rb_monotonic() - t0);
    rb_events_snapshot_record(spec, doc);
    rc = rb_store_snapshot_commit(txn, id, doc);
    if (rc == 0)
        *response = snapshot_response(doc);
    cJSON_Delete(doc);
    return rc;
}

int rb_snapshot_create_set(rb_ctx *ctx, const char *id, const cJSON *spec, cJSON **response)
{
    return rb_snapshot_create_set_jobs(ctx, id, spec, 0, response);
}

int rb_snapshot_create_set_jobs(rb_ctx *ctx, const char *id, const cJSON *spec, int jobs,
                                cJSON **response)
{
    int rc = rb_store_id_validate(id, "snapshot id");
    if (rc || (rc = rb_set_spec_check(spec)))
        return rc;
    const cJSON *targets = cJSON_GetObjectItemCaseSensitive(spec, "targets");
    /* Every backend is loaded here, on this thread: the workers only look
     * them up. */
    const cJSON *t;
    cJSON_ArrayForEach(t, targets)
    {
        rb_plugin_entry *backend;
        if ((rc = rb_ctx_backend(ctx,
                                 cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "type")),
                                 &backend))) {
            rb_error_prefix("spec: target '%s'",
                            cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "name")));
            return rc;
        }
    }
    rb_store *store;
    if ((rc = rb_ctx_store(ctx, 1, RB_STORE_LOCK_SHARED, &store)))
        return rc;
    if ((rc = refuse_existing(store, id)))
        return rc;
    rb_events *events;
    if ((rc = rb_events_snapshot_begin(&events, ctx, id, spec)))
        return rc;
    rc = take_set(ctx, store, id, spec, jobs, response);
    rb_events_snapshot_end(events, rc);
    return rc;
}
