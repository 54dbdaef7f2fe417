/* prune: restic's forget semantics over the store's snapshots, then gc.
 *
 * Snapshots are taken newest first. A keep rule with count N keeps the
 * newest snapshot of each of the N most recent periods (days, ISO weeks,
 * months, in local time) that have snapshots; "last" counts snapshots. A
 * snapshot kept by any rule is kept. --older-than narrows removal to
 * snapshots older than that many days. Safety snapshots form a group of
 * their own, so that frequent rollbacks do not push ordinary snapshots out
 * of a keep-last window (and the reverse). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rb_conf.h"
#include "rb_error.h"
#include "rb_log.h"
#include "rb_prune.h"
#include "rb_target.h"

typedef struct snap {
    char *id;
    double created_at;
    int safety;
    cJSON *doc; /* NULL when unreadable: such a snapshot is always kept */
    cJSON *reasons;
} snap;

typedef struct bucket_rule {
    const char *name;
    int count;
    long last; /* the period of the last snapshot this rule kept */
    int used;
} bucket_rule;

static long period_of(const char *rule, double created_at, size_t index)
{
    time_t t = (time_t)created_at;
    struct tm tm;
    localtime_r(&t, &tm);
    if (!strcmp(rule, "daily"))
        return (tm.tm_year + 1900L) * 10000 + (tm.tm_mon + 1) * 100 + tm.tm_mday;
    if (!strcmp(rule, "weekly")) {
        char buf[16];
        strftime(buf, sizeof buf, "%G%V", &tm);
        return strtol(buf, NULL, 10);
    }
    if (!strcmp(rule, "monthly"))
        return (tm.tm_year + 1900L) * 100 + tm.tm_mon + 1;
    return (long)index; /* last: every snapshot is a period of its own */
}

static int is_safety(const char *id, const cJSON *doc)
{
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(doc, "metadata");
    const char *kind = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(meta, "kind"));
    if (kind)
        return !strcmp(kind, "safety");
    return !strncmp(id, "pre-rollback-", strlen("pre-rollback-"));
}

/* The safety snapshot of the newest rollback: undoing the latest rollback
 * must stay possible whatever the rules say. */
static char *latest_safety_id(rb_store *store)
{
    char **ids = NULL;
    size_t n = 0;
    char *out = NULL;
    if (rb_store_record_list(store, &ids, &n) == 0 && n > 0) {
        cJSON *rec = NULL;
        if (rb_store_record_read(store, ids[n - 1], &rec) == 0) {
            const char *s =
                cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rec, "safety_snapshot_id"));
            if (s)
                out = strdup(s);
        }
        cJSON_Delete(rec);
    }
    rb_store_free_list(ids, n);
    rb_error_clear();
    return out;
}

static void keep(snap *s, const char *reason)
{
    cJSON_AddItemToArray(s->reasons, cJSON_CreateString(reason));
}

/* Applies the keep rules to one group, `idx` listing its members newest
 * first. */
static void apply_rules(snap *snaps, const size_t *idx, size_t n, const rb_prune_options *o)
{
    bucket_rule rules[] = {{"last", o->keep_last, 0, 0},
                           {"daily", o->keep_daily, 0, 0},
                           {"weekly", o->keep_weekly, 0, 0},
                           {"monthly", o->keep_monthly, 0, 0}};
    for (size_t i = 0; i < n; i++) {
        snap *s = &snaps[idx[i]];
        for (size_t r = 0; r < sizeof rules / sizeof rules[0]; r++) {
            if (rules[r].count <= 0)
                continue;
            long p = period_of(rules[r].name, s->created_at, i);
            if (rules[r].used && p == rules[r].last)
                continue;
            rules[r].last = p;
            rules[r].used = 1;
            rules[r].count--;
            keep(s, rules[r].name);
        }
    }
}

static cJSON *entry(const snap *s, int with_reasons)
{
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "id", s->id);
    cJSON_AddNumberToObject(e, "created_at", s->created_at);
    cJSON_AddStringToObject(e, "kind", s->safety ? "safety" : "snapshot");
    if (with_reasons)
        cJSON_AddItemToObject(e, "kept_by", cJSON_Duplicate(s->reasons, 1));
    return e;
}

/* What a backend kept outside the store (git refs, database copies) goes
 * before the document that names it. */
static int destroy_targets(rb_ctx *ctx, rb_store *store, const snap *s)
{
    cJSON *targets = rb_doc_targets(s->doc);
    int rc = 0;
    const cJSON *t;
    cJSON_ArrayForEach(t, targets)
    {
        const char *status = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "status"));
        if (status && !strcmp(status, "pending"))
            continue;
        cJSON *result = NULL;
        rc = rb_target_run(ctx, store, t, s->id, RB_ACTION_DESTROY, 0, NULL, NULL, NULL, &result);
        cJSON_Delete(result);
        if (rc)
            break;
    }
    cJSON_Delete(targets);
    return rc;
}

static int load(rb_store *store, snap **out, size_t *count)
{
    char **ids = NULL;
    size_t n = 0;
    int rc = rb_store_snapshot_list(store, &ids, &n);
    if (rc)
        return rc;
    snap *snaps = calloc(n ? n : 1, sizeof *snaps);
    if (!snaps) {
        rb_store_free_list(ids, n);
        return rb_error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        snap *s = &snaps[i];
        s->id = ids[i];
        s->reasons = cJSON_CreateArray();
        if (rb_store_snapshot_read(store, s->id, &s->doc) < 0) {
            rb_log(RB_LOG_WARN, "prune keeps snapshot '%s': %s", s->id, rb_error_last()->message);
            rb_error_clear();
            keep(s, "unreadable");
            continue;
        }
        const cJSON *at = cJSON_GetObjectItemCaseSensitive(s->doc, "created_at");
        s->created_at = cJSON_IsNumber(at) ? at->valuedouble : 0;
        s->safety = is_safety(s->id, s->doc);
    }
    free(ids); /* the strings now belong to snaps */
    *out = snaps;
    *count = n;
    return 0;
}

static void free_snaps(snap *snaps, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(snaps[i].id);
        cJSON_Delete(snaps[i].doc);
        cJSON_Delete(snaps[i].reasons);
    }
    free(snaps);
}

static void decide(snap *snaps, size_t n, const rb_prune_options *o, const char *protect)
{
    size_t *idx = malloc((n ? n : 1) * sizeof *idx);
    if (!idx) {
        /* Without the order nothing can be judged: keep everything. */
        for (size_t i = 0; i < n; i++)
            keep(&snaps[i], "unjudged");
        return;
    }
    for (int group = 0; group < 2; group++) {
        size_t m = 0;
        /* The store lists oldest first. */
        for (size_t i = n; i-- > 0;)
            if (snaps[i].doc && snaps[i].safety == group)
                idx[m++] = i;
        apply_rules(snaps, idx, m, o);
    }
    free(idx);
    double cutoff = (double)rb_now() - (double)o->older_than_days * 86400.0;
    for (size_t i = 0; i < n; i++) {
        snap *s = &snaps[i];
        if (protect && !strcmp(s->id, protect))
            keep(s, "latest-rollback-safety");
        if (o->older_than_days >= 0 && s->created_at >= cutoff &&
            cJSON_GetArraySize(s->reasons) == 0)
            keep(s, "newer-than-older-than");
    }
}

static cJSON *rules_doc(const rb_prune_options *o)
{
    cJSON *r = cJSON_CreateObject();
    cJSON_AddNumberToObject(r, "keep_last", o->keep_last);
    cJSON_AddNumberToObject(r, "keep_daily", o->keep_daily);
    cJSON_AddNumberToObject(r, "keep_weekly", o->keep_weekly);
    cJSON_AddNumberToObject(r, "keep_monthly", o->keep_monthly);
    if (o->older_than_days >= 0)
        cJSON_AddNumberToObject(r, "older_than_days", (double)o->older_than_days);
    else
        cJSON_AddNullToObject(r, "older_than_days");
    return r;
}

static int no_rule(const rb_prune_options *o)
{
    return !o->keep_last && !o->keep_daily && !o->keep_weekly && !o->keep_monthly &&
           o->older_than_days < 0;
}

/* The [retention] section of rbhost.conf: keep_* as they are,
 * max_operations as keep_last (when keep_last is not set), retention_days
 * as older_than. */
static void retention_defaults(rb_prune_options *o)
{
    const rb_conf *conf = rb_conf_active();
    long v;
    if (rb_conf_get_uint(conf, "retention.keep_last", &v) ||
        rb_conf_get_uint(conf, "retention.max_operations", &v))
        o->keep_last = (int)v;
    if (rb_conf_get_uint(conf, "retention.keep_daily", &v))
        o->keep_daily = (int)v;
    if (rb_conf_get_uint(conf, "retention.keep_weekly", &v))
        o->keep_weekly = (int)v;
    if (rb_conf_get_uint(conf, "retention.keep_monthly", &v))
        o->keep_monthly = (int)v;
    if (rb_conf_get_uint(conf, "retention.retention_days", &v))
        o->older_than_days = v;
}

int rb_prune_run(rb_ctx *ctx, const rb_prune_options *given, cJSON **response)
{
    rb_prune_options opts = *given;
    const rb_prune_options *o = &opts;
    if (no_rule(o))
        retention_defaults(&opts);
    if (o->keep_last < 0 || o->keep_daily < 0 || o->keep_weekly < 0 || o->keep_monthly < 0)
        return rb_error_set(RB_EINVAL, RB_ERRCLASS_INVALID, "keep counts cannot be negative");
    if (no_rule(o))
        return rb_error_set(RB_EINVAL, RB_ERRCLASS_INVALID,
                            "no retention rule given: prune removes nothing without --keep-last, "
                            "--keep-daily, --keep-weekly, --keep-monthly or --older-than (or "
                            "retention defaults in rbhost.conf)");
    rb_store *store;
    /* The exclusive lock keeps every snapshot being taken out until the
     * blobs are collected: nothing is removed that a new snapshot uses. */
    int rc =
        rb_ctx_store(ctx, 0, o->dry_run ? RB_STORE_LOCK_SHARED : RB_STORE_LOCK_EXCLUSIVE, &store);
    if (rc)
        return rc;
    snap *snaps = NULL;
    size_t n = 0;
    if ((rc = load(store, &snaps, &n)))
        return rc;
    char *protect = latest_safety_id(store);
    decide(snaps, n, o, protect);
    free(protect);

    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "status", "success");
    cJSON_AddBoolToObject(r, "dry_run", o->dry_run != 0);
    cJSON_AddItemToObject(r, "rules", rules_doc(o));
    cJSON *kept = cJSON_AddArrayToObject(r, "kept");
    cJSON *removed = cJSON_AddArrayToObject(r, "removed");
    cJSON *failed = cJSON_AddArrayToObject(r, "failed");
    /* Newest first, as the rules saw them. */
    for (size_t i = n; i-- > 0;) {
        snap *s = &snaps[i];
        if (cJSON_GetArraySize(s->reasons) > 0) {
            cJSON_AddItemToArray(kept, entry(s, 1));
            continue;
        }
        int drc = o->dry_run ? 0 : destroy_targets(ctx, store, s);
        if (drc == 0 && !o->dry_run)
            drc = rb_store_snapshot_delete(store, s->id);
        if (drc) {
            cJSON *e = entry(s, 0);
            cJSON_AddStringToObject(e, "error", rb_error_last()->message);
            cJSON_AddItemToArray(failed, e);
            rb_error_clear();
            continue;
        }
        cJSON_AddItemToArray(removed, entry(s, 0));
    }
    free_snaps(snaps, n);
    uint64_t blobs = 0, bytes = 0;
    if (!o->dry_run && (rc = rb_store_gc(store, &blobs, &bytes)) < 0) {
        rb_error_prefix("snapshots removed, but unused blobs were not collected");
        cJSON_Delete(r);
        return rc;
    }
    cJSON_AddNumberToObject(r, "freed_blobs", (double)blobs);
    cJSON_AddNumberToObject(r, "freed_bytes", (double)bytes);
    int nfailed = cJSON_GetArraySize(failed);
    if (nfailed > 0) {
        cJSON_ReplaceItemInObjectCaseSensitive(r, "status", cJSON_CreateString("partial"));
        rc = rb_error_set(RB_EDRIFT, RB_ERRCLASS_BACKEND,
                          "%d snapshot(s) kept because their backend could not clean up; see "
                          "\"failed\"",
                          nfailed);
    }
    *response = r;
    return rc;
}

int rb_gc_run(rb_ctx *ctx, cJSON **response)
{
    rb_store *store;
    uint64_t blobs = 0, bytes = 0;
    int rc = rb_ctx_store(ctx, 0, RB_STORE_LOCK_EXCLUSIVE, &store);
    if (rc || (rc = rb_store_gc(store, &blobs, &bytes)))
        return rc;
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "status", "success");
    cJSON_AddNumberToObject(r, "freed_blobs", (double)blobs);
    cJSON_AddNumberToObject(r, "freed_bytes", (double)bytes);
    *response = r;
    return 0;
}
