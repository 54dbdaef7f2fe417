/* metrics: the store, the rollback history and the watches in the
 * Prometheus text exposition format (version 0.0.4). */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rb_ctx.h"
#include "rb_error.h"
#include "rb_target.h"
#include "rb_watch.h"

/* Label values escape backslash, double quote and newline. */
static void label_value(FILE *f, const char *v)
{
    fputc('"', f);
    for (; v && *v; v++) {
        if (*v == '\\' || *v == '"')
            fprintf(f, "\\%c", *v);
        else if (*v == '\n')
            fputs("\\n", f);
        else
            fputc(*v, f);
    }
    fputc('"', f);
}

static void family(FILE *f, const char *name, const char *type, const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void sample(FILE *f, const char *name, const char *label, const char *value, double v)
{
    fputs(name, f);
    if (label) {
        fprintf(f, "{%s=", label);
        label_value(f, value);
        fputc('}', f);
    }
    if (v == floor(v) && fabs(v) < 1e15)
        fprintf(f, " %.0f\n", v);
    else
        fprintf(f, " %.6g\n", v);
}

/* Counts and sums keyed by a label value, in first-seen order. */
typedef struct tally {
    char **keys;
    double *a, *b;
    size_t n;
} tally;

static void tally_add(tally *t, const char *key, double a, double b)
{
    for (size_t i = 0; i < t->n; i++)
        if (!strcmp(t->keys[i], key)) {
            t->a[i] += a;
            t->b[i] += b;
            return;
        }
    char **k = realloc(t->keys, (t->n + 1) * sizeof *k);
    if (k)
        t->keys = k;
    double *na = realloc(t->a, (t->n + 1) * sizeof *na);
    if (na)
        t->a = na;
    double *nb = realloc(t->b, (t->n + 1) * sizeof *nb);
    if (nb)
        t->b = nb;
    char *copy = strdup(key);
    if (!k || !na || !nb || !copy) {
        free(copy);
        return;
    }
    t->keys[t->n] = copy;
    t->a[t->n] = a;
    t->b[t->n] = b;
    t->n++;
}

static void tally_free(tally *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->keys[i]);
    free(t->keys);
    free(t->a);
    free(t->b);
}

static double num(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

/* A snapshot counts under its backend, or "mixed" for a set of several;
 * its bytes are the store's own accounting of what it references. */
static void snapshot_metrics(FILE *f, rb_store *store)
{
    char **ids = NULL;
    size_t n = 0;
    tally by_backend = {0};
    if (rb_store_snapshot_list(store, &ids, &n) == 0) {
        for (size_t i = 0; i < n; i++) {
            cJSON *doc = NULL;
            if (rb_store_snapshot_read(store, ids[i], &doc) < 0)
                continue;
            cJSON *targets = rb_doc_targets(doc);
            const char *backend = NULL;
            const cJSON *t;
            cJSON_ArrayForEach(t, targets)
            {
                const char *type =
                    cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "type"));
                if (type && (!backend || !strcmp(backend, type)))
                    backend = type;
                else if (type)
                    backend = "mixed";
            }
            const cJSON *st = cJSON_GetObjectItemCaseSensitive(doc, "store");
            tally_add(&by_backend, backend ? backend : "unknown", 1, num(st, "stored_bytes"));
            cJSON_Delete(targets);
            cJSON_Delete(doc);
        }
        rb_store_free_list(ids, n);
    }
    rb_error_clear();
    family(f, "rbhost_snapshots", "gauge",
           "Snapshots in the store, by backend (mixed: a set of several backends).");
    for (size_t i = 0; i < by_backend.n; i++)
        sample(f, "rbhost_snapshots", "backend", by_backend.keys[i], by_backend.a[i]);
    if (by_backend.n) {
        family(f, "rbhost_snapshot_stored_bytes", "gauge",
               "Bytes on disk the snapshots of a backend reference (shared blobs count in each).");
        for (size_t i = 0; i < by_backend.n; i++)
            sample(f, "rbhost_snapshot_stored_bytes", "backend", by_backend.keys[i],
                   by_backend.b[i]);
    }
    tally_free(&by_backend);
}

static void store_metrics(FILE *f, rb_store *store)
{
    rb_store_stats st = {0};
    if (rb_store_stats_get(store, &st) < 0) {
        rb_error_clear();
        return;
    }
    family(f, "rbhost_store_blobs", "gauge", "Distinct blobs in the store.");
    sample(f, "rbhost_store_blobs", NULL, NULL, (double)st.blobs);
    family(f, "rbhost_store_size_bytes", "gauge", "Bytes the store's blobs take on disk.");
    sample(f, "rbhost_store_size_bytes", NULL, NULL, (double)st.stored_bytes);
    family(f, "rbhost_store_original_bytes", "gauge",
           "Bytes of the stored content before compression and deduplication.");
    sample(f, "rbhost_store_original_bytes", NULL, NULL, (double)st.original_bytes);
    family(f, "rbhost_store_dedup_ratio", "gauge",
           "Original bytes per stored byte (compression and deduplication together).");
    sample(f, "rbhost_store_dedup_ratio", NULL, NULL,
           st.stored_bytes ? (double)st.original_bytes / (double)st.stored_bytes : 1);
}

static void rollback_metrics(FILE *f, rb_store *store)
{
    char **ids = NULL;
    size_t n = 0;
    tally by_status = {0};
    double last_start = -1, last_duration = 0, passed = 0, total = 0;
    if (rb_store_record_list(store, &ids, &n) == 0) {
        for (size_t i = 0; i < n; i++) {
            cJSON *rec = NULL;
            if (rb_store_record_read(store, ids[i], &rec) < 0)
                continue;
            const char *status =
                cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rec, "status"));
            tally_add(&by_status, status ? status : "unknown", 1, 0);
            if (num(rec, "started_at") >= last_start) {
                last_start = num(rec, "started_at");
                last_duration = num(rec, "duration");
            }
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(rec, "verification_results");
            passed += num(v, "passed");
            total += num(v, "total");
            cJSON_Delete(rec);
        }
        rb_store_free_list(ids, n);
    }
    rb_error_clear();
    /* Every status is present, at zero, so a rate() never starts from
     * nothing when the first failure happens. */
    static const char *const statuses[] = {"completed", "partial", "failed", "vetoed"};
    for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++)
        tally_add(&by_status, statuses[i], 0, 0);
    family(f, "rbhost_rollbacks_total", "counter", "Rollbacks recorded in the history, by status.");
    for (size_t i = 0; i < by_status.n; i++)
        sample(f, "rbhost_rollbacks_total", "status", by_status.keys[i], by_status.a[i]);
    tally_free(&by_status);
    if (last_start >= 0) {
        family(f, "rbhost_last_rollback_duration_seconds", "gauge",
               "How long the most recent rollback took.");
        sample(f, "rbhost_last_rollback_duration_seconds", NULL, NULL, last_duration);
        family(f, "rbhost_last_rollback_timestamp_seconds", "gauge",
               "When the most recent rollback started (Unix time).");
        sample(f, "rbhost_last_rollback_timestamp_seconds", NULL, NULL, last_start);
    }
    family(f, "rbhost_verification_checks_total", "counter",
           "Verification checks run after rollbacks, by result.");
    sample(f, "rbhost_verification_checks_total", "result", "passed", passed);
    sample(f, "rbhost_verification_checks_total", "result", "failed", total - passed);
    if (total > 0) {
        family(f, "rbhost_verification_pass_ratio", "gauge",
               "Fraction of the verification checks after rollbacks that passed.");
        sample(f, "rbhost_verification_pass_ratio", NULL, NULL, passed / total);
    }
}

/* A state file says "running" until its watch ends; a watch killed with
 * SIGKILL cannot say so, hence the check that its process is alive. */
static int watch_alive(const cJSON *w)
{
    const char *state = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(w, "state"));
    pid_t pid = (pid_t)num(w, "pid");
    if (!state || (strcmp(state, "running") && strcmp(state, "rolling_back")) || pid <= 0)
        return 0;
    return kill(pid, 0) == 0 || errno == EPERM;
}

static void watch_metrics(FILE *f, const char *location)
{
    cJSON *list = rb_watch_state_list(location);
    rb_error_clear();
    if (cJSON_GetArraySize(list) > 0) {
        static const struct {
            const char *name, *type, *key, *help;
        } fams[] = {
            {"rbhost_watch_running", "gauge", NULL, "1 while a watch of the snapshot runs."},
            {"rbhost_watch_rounds_total", "counter", "rounds", "Check rounds a watch has run."},
            {"rbhost_watch_consecutive_failures", "gauge", "failures_in_a_row",
             "Failed rounds in a row, as of the last round."},
            {"rbhost_watch_incidents_total", "counter", "incidents",
             "Incidents a watch found (each rolled back once)."},
            {"rbhost_watch_last_round_timestamp_seconds", "gauge", "last_round_at",
             "When a watch ran its last round (Unix time)."},
        };
        for (size_t i = 0; i < sizeof fams / sizeof fams[0]; i++) {
            family(f, fams[i].name, fams[i].type, fams[i].help);
            const cJSON *w;
            cJSON_ArrayForEach(w, list)
            {
                const char *id =
                    cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(w, "snapshot_id"));
                if (!id)
                    continue;
                sample(f, fams[i].name, "snapshot_id", id,
                       fams[i].key ? num(w, fams[i].key) : watch_alive(w));
            }
        }
    }
    cJSON_Delete(list);
}

int rb_metrics_render(rb_ctx *ctx, char **text)
{
    rb_store *store;
    int rc = rb_ctx_store(ctx, 0, RB_STORE_LOCK_SHARED, &store);
    if (rc)
        return rc;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return rb_error_os("metrics");
    snapshot_metrics(f, store);
    store_metrics(f, store);
    rollback_metrics(f, store);
    watch_metrics(f, ctx->store_location);
    if (fclose(f) != 0) {
        free(buf);
        return rb_error_os("metrics");
    }
    *text = buf;
    return 0;
}
