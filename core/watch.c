/* watch: checks a service every interval after a change and rolls the
 * snapshot back, once, when it stays unhealthy or a rule's threshold is
 * crossed (seeds 002 and 003). */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rb_checks.h"
#include "rb_checks_module.h"
#include "rb_ctx.h"
#include "rb_error.h"
#include "rb_log.h"
#include "rb_progress.h"
#include "rb_watch.h"

typedef struct watch_run {
    rb_ctx *ctx;
    const char *id;
    rb_watch_plan plan;
    cJSON *state;
    int rounds, in_a_row;
} watch_run;

static void set_num(cJSON *obj, const char *key, double v)
{
    cJSON_DeleteItemFromObjectCaseSensitive(obj, key);
    cJSON_AddNumberToObject(obj, key, v);
}

static void set_str(cJSON *obj, const char *key, const char *v)
{
    cJSON_DeleteItemFromObjectCaseSensitive(obj, key);
    cJSON_AddStringToObject(obj, key, v);
}

/* The state file is for observers: failing to write it is worth a warning,
 * never a reason to stop watching (or to lose the rollback's message). */
static void state_save(watch_run *w, const char *state)
{
    set_str(w->state, "state", state);
    set_num(w->state, "updated_at", (double)time(NULL));
    rb_error_info saved = *rb_error_last();
    char msg[2048];
    snprintf(msg, sizeof msg, "%s", saved.message);
    if (rb_watch_state_write(w->ctx->store_location, w->id, w->state) < 0)
        rb_log(RB_LOG_WARN, "watch %s: state file: %s", w->id, rb_error_last()->message);
    if (saved.code)
        rb_error_set(saved.code, saved.klass, "%s", msg);
    else
        rb_error_clear();
}

static int cancelled(const watch_run *w)
{
    return atomic_load(&w->ctx->cancel) != 0;
}

/* Sleeps until `until` (monotonic), waking early when cancelled. */
static void wait_until(const watch_run *w, double until)
{
    while (!cancelled(w) && rb_monotonic() < until)
        nanosleep(&(struct timespec){0, 50 * 1000 * 1000}, NULL);
}

/* "health_check http://x/health: actual 503" for the round's log line. */
static void describe_failure(const cJSON *r, char *buf, size_t len)
{
    const char *test = rb_check_str(r, "test");
    const char *what = rb_check_str(r, "url");
    if (!what)
        what = rb_check_str(r, "run");
    const char *err = rb_check_str(r, "error");
    const cJSON *actual = cJSON_GetObjectItemCaseSensitive(r, "actual");
    if (err)
        snprintf(buf, len, "%s %s: %s", test, what ? what : "", err);
    else if (cJSON_IsNumber(actual))
        snprintf(buf, len, "%s %s: got %g", test, what ? what : "", actual->valuedouble);
    else
        snprintf(buf, len, "%s %s: failed", test, what ? what : "");
}

/* One round: every test, then one sample per rule. Returns 1 when this
 * round starts an incident, with the reason in `why`. */
static int round_run(watch_run *w, cJSON **results_out, char *why, size_t whylen)
{
    cJSON *results = cJSON_CreateArray();
    int failed = 0;
    char first[512] = "";
    const cJSON *test;
    cJSON_ArrayForEach(test, w->plan.tests)
    {
        cJSON *r = rb_checks_run(test, NULL);
        if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "passed")) && !failed++)
            describe_failure(r, first, sizeof first);
        cJSON_AddItemToArray(results, r);
    }
    char rule_why[512] = "";
    int crossed =
        rb_watch_rules_round(&w->plan, rb_monotonic(), results, rule_why, sizeof rule_why);
    w->rounds++;
    w->in_a_row = failed ? w->in_a_row + 1 : 0;
    if (rb_log_enabled(RB_LOG_WARN)) {
        if (failed)
            fprintf(stderr,
                    "rbhost: watch %s: round %d: %d of %d checks failed (%s); %d of %d "
                    "failed rounds in a row\n",
                    w->id, w->rounds, failed, cJSON_GetArraySize(w->plan.tests), first, w->in_a_row,
                    w->plan.failures);
        else
            fprintf(stderr, "rbhost: watch %s: round %d: healthy\n", w->id, w->rounds);
        if (crossed >= 0)
            fprintf(stderr, "rbhost: watch %s: round %d: %s\n", w->id, w->rounds, rule_why);
    }
    set_num(w->state, "rounds", w->rounds);
    set_num(w->state, "failures_in_a_row", w->in_a_row);
    set_num(w->state, "last_round_at", (double)time(NULL));
    set_num(w->state, "last_round_passed", !failed && crossed < 0);
    *results_out = results;
    if (w->in_a_row >= w->plan.failures) {
        snprintf(why, whylen, "%d rounds in a row failed, the last one: %s", w->in_a_row, first);
        return 1;
    }
    if (crossed >= 0) {
        snprintf(why, whylen, "%s", rule_why);
        return 1;
    }
    return 0;
}

static int snapshot_exists(rb_ctx *ctx, const char *id)
{
    rb_store *store;
    int rc = rb_store_open(&store, ctx->store_location, 0);
    if (rc)
        return rc;
    cJSON *doc = NULL;
    rc = rb_store_snapshot_read(store, id, &doc);
    cJSON_Delete(doc);
    rb_store_close(store);
    return rc;
}

/* Rolls back once for the incident. Another attempt is made only when
 * the previous one changed nothing (the store was locked, a backend could
 * not start): a rollback that restored anything is never repeated. */
static int roll_back(watch_run *w, cJSON *report)
{
    rb_rollback_options ro = {0};
    ro.validation = w->plan.tests;
    ro.hooks = w->plan.hooks;
    ro.notify = w->plan.notify;
    cJSON *attempts = cJSON_AddArrayToObject(report, "rollback_attempts");
    cJSON *record = NULL;
    int rc = RB_ERROR;
    for (int a = 1; a <= w->plan.max_attempts && !cancelled(w); a++) {
        if (a > 1)
            wait_until(w, rb_monotonic() + w->plan.interval);
        if (cancelled(w))
            break;
        if (rb_log_enabled(RB_LOG_WARN))
            fprintf(stderr, "rbhost: watch %s: rolling back (attempt %d of %d)\n", w->id, a,
                    w->plan.max_attempts);
        cJSON_Delete(record);
        record = NULL;
        rc = rb_rollback_execute(w->ctx, w->id, &ro, &record);
        cJSON *at = cJSON_CreateObject();
        cJSON_AddNumberToObject(at, "attempt", a);
        cJSON_AddStringToObject(at, "result", rc ? rb_error_code_name(rc) : "ok");
        if (rc)
            cJSON_AddStringToObject(at, "error", rb_error_last()->message);
        cJSON_AddItemToArray(attempts, at);
        if (rc == 0 || rc == RB_EDRIFT || rc == RB_ECANCELED)
            break;
        const char *status = rb_check_str(record, "status");
        if (status && strcmp(status, "failed"))
            break;
        if (rb_log_enabled(RB_LOG_WARN))
            fprintf(stderr, "rbhost: watch %s: rollback attempt %d failed: %s\n", w->id, a,
                    rb_error_last()->message);
    }
    if (cancelled(w) && rc != 0 && rc != RB_EDRIFT && !record)
        rc = rb_error_set(RB_ECANCELED, RB_ERRCLASS_BACKEND,
                          "watch %s: stopped before the rollback could be done", w->id);
    if (record)
        cJSON_AddItemToObject(report, "rollback", record);
    return rc;
}

int rb_watch_run(rb_ctx *ctx, const char *id, const rb_watch_options *opts, cJSON **response)
{
    int rc = rb_store_id_validate(id, "snapshot id");
    watch_run w = {.ctx = ctx, .id = id};
    if (rc || (rc = rb_watch_plan_parse(opts, &w.plan)))
        return rc;
    if ((rc = snapshot_exists(ctx, id))) {
        rb_error_prefix("cannot watch for snapshot '%s'", id);
        rb_watch_plan_free(&w.plan);
        return rc;
    }
    w.state = cJSON_CreateObject();
    cJSON_AddStringToObject(w.state, "snapshot_id", id);
    cJSON_AddNumberToObject(w.state, "pid", (double)getpid());
    cJSON_AddNumberToObject(w.state, "started_at", (double)time(NULL));
    cJSON_AddNumberToObject(w.state, "interval", w.plan.interval);
    cJSON_AddNumberToObject(w.state, "failures", w.plan.failures);
    cJSON_AddNumberToObject(w.state, "window", w.plan.window);
    cJSON_AddNumberToObject(w.state, "incidents", 0);
    state_save(&w, "running");
    if (rb_log_enabled(RB_LOG_WARN))
        fprintf(stderr,
                "rbhost: watch %s: %d checks and %zu rules every %gs; rolls back after %d failed "
                "rounds in a row\n",
                id, cJSON_GetArraySize(w.plan.tests), w.plan.nrules, w.plan.interval,
                w.plan.failures);

    cJSON *report = cJSON_CreateObject();
    cJSON_AddStringToObject(report, "snapshot_id", id);
    cJSON *last = NULL;
    char why[1024] = "";
    int incident = 0;
    while (!cancelled(&w) && !incident) {
        double next = rb_monotonic() + w.plan.interval;
        cJSON_Delete(last);
        incident = round_run(&w, &last, why, sizeof why);
        if (incident || cancelled(&w))
            break;
        state_save(&w, "running");
        wait_until(&w, next);
    }
    cJSON_AddNumberToObject(report, "rounds", w.rounds);
    const char *status = "stopped";
    rc = 0;
    /* An operator's stop wins over an incident found in the same round:
     * the rollback would be interrupted at once anyway. */
    if (incident && !cancelled(&w)) {
        cJSON *inc = cJSON_AddObjectToObject(report, "incident");
        cJSON_AddNumberToObject(inc, "round", w.rounds);
        cJSON_AddNumberToObject(inc, "at", (double)time(NULL));
        cJSON_AddStringToObject(inc, "reason", why);
        set_num(w.state, "incidents", 1);
        set_str(w.state, "incident", why);
        state_save(&w, "rolling_back");
        if (rb_log_enabled(RB_LOG_WARN))
            fprintf(stderr, "rbhost: watch %s: incident: %s\n", id, why);
        rc = roll_back(&w, report);
        status = rc == 0              ? "rolled_back"
                 : rc == RB_EDRIFT    ? "rollback_partial"
                 : rc == RB_ECANCELED ? "interrupted"
                                      : "rollback_failed";
    } else if (rb_log_enabled(RB_LOG_WARN)) {
        fprintf(stderr, "rbhost: watch %s: stopped after %d rounds, no incident\n", id, w.rounds);
    }
    cJSON_AddStringToObject(report, "status", status);
    if (last)
        cJSON_AddItemToObject(report, "last_round", last);
    state_save(&w, status);
    cJSON_Delete(w.state);
    rb_watch_plan_free(&w.plan);
    *response = report;
    return rc;
}
