/* One step of a rollback: a restore with its timeout and retry policy.
 *
 * Backends run in the rbhost process, so a timeout cannot kill one. Each
 * attempt runs on a thread; at the timeout the backend's cancelled()
 * turns true (the backends poll it between units of work) and the attempt
 * is given a grace period to return: as long again as its timeout, at
 * most 10 s. A backend that is still running after that is abandoned:
 * the journal says the step was interrupted, the command ends (which ends
 * the backend with the process), and `execute-rollback --resume` finishes
 * or reverts the rollback. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rb_log.h"
#include "rb_progress.h"
#include "rb_rollback.h"

typedef struct attempt {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int finished;
    int abandoned; /* the thread frees the attempt when it ends */
    atomic_int cancel;
    rb_ctx *ctx;
    rb_store *store;
    cJSON *target;
    char *snapshot_id;
    char *rollback_id;
    const char *restore_to;
    rb_safety_slot safety;
    int has_safety;
    unsigned int flags;
    double deadline;
    int rc;
    cJSON *result;
    int err_code;
    rb_error_class err_class;
    char err_msg[2048];
} attempt;

static void attempt_free(attempt *a)
{
    cJSON_Delete(a->target);
    cJSON_Delete(a->result);
    free(a->snapshot_id);
    free(a->rollback_id);
    pthread_cond_destroy(&a->cv);
    pthread_mutex_destroy(&a->mu);
    free(a);
}

static void *attempt_thread(void *arg)
{
    attempt *a = arg;
    rb_target_limits limits = {&a->cancel, a->deadline};
    cJSON *result = NULL;
    int rc = rb_target_run_limited(a->ctx, a->store, a->target, a->snapshot_id, RB_ACTION_RESTORE,
                                   a->flags, a->rollback_id, a->restore_to,
                                   a->has_safety ? &a->safety : NULL, &limits, &result);
    const rb_error_info *e = rb_error_last();
    pthread_mutex_lock(&a->mu);
    a->rc = rc;
    a->result = result;
    a->err_code = e->code;
    a->err_class = e->klass;
    snprintf(a->err_msg, sizeof a->err_msg, "%s", e->message);
    a->finished = 1;
    int abandoned = a->abandoned;
    pthread_cond_broadcast(&a->cv);
    pthread_mutex_unlock(&a->mu);
    if (abandoned)
        attempt_free(a);
    return NULL;
}

static struct timespec abs_in(double seconds)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    double ns = (double)ts.tv_nsec + seconds * 1e9;
    ts.tv_sec += (time_t)(ns / 1e9);
    ts.tv_nsec = (long)(ns - (double)(time_t)(ns / 1e9) * 1e9);
    return ts;
}

/* Waits for the attempt, passing on an interrupt of the user. Returns 0
 * when it finished, RB_ETIMEOUT when it did not stop within `hard`
 * (monotonic seconds; 0: no limit). */
static int attempt_wait(rb_rollback_run *run, attempt *a, double hard)
{
    pthread_mutex_lock(&a->mu);
    while (!a->finished) {
        if (atomic_load(&run->ctx->cancel))
            atomic_store(&a->cancel, 1);
        if (hard > 0 && rb_monotonic() > hard) {
            a->abandoned = 1;
            pthread_mutex_unlock(&a->mu);
            return RB_ETIMEOUT;
        }
        struct timespec ts = abs_in(0.1);
        pthread_cond_timedwait(&a->cv, &a->mu, &ts);
    }
    pthread_mutex_unlock(&a->mu);
    return 0;
}

/* Sleeps between attempts; returns early when the user interrupts. */
static void backoff_sleep(rb_rollback_run *run, double seconds)
{
    double until = rb_monotonic() + seconds;
    while (!atomic_load(&run->ctx->cancel) && rb_monotonic() < until) {
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

static attempt *attempt_new(rb_rollback_run *run, const cJSON *target, const char *from_id,
                            const rb_safety_slot *safety, double timeout)
{
    attempt *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    pthread_mutex_init(&a->mu, NULL);
    pthread_cond_init(&a->cv, NULL);
    a->ctx = run->ctx;
    a->store = run->store;
    a->target = cJSON_Duplicate(target, 1);
    a->snapshot_id = strdup(from_id);
    a->rollback_id = strdup(run->rollback_id);
    a->restore_to = run->restore_to;
    if (safety) {
        a->safety = *safety;
        a->has_safety = 1;
    }
    a->flags = run->op_flags;
    a->deadline = timeout > 0 ? rb_monotonic() + timeout : 0;
    if (!a->target || !a->snapshot_id || !a->rollback_id) {
        attempt_free(a);
        return NULL;
    }
    return a;
}

int rb_rollback_step(rb_rollback_run *run, const cJSON *target, const char *from_id,
                     const rb_safety_slot *safety, cJSON *detail, cJSON **result)
{
    rb_step_policy pol;
    rb_set_policy(target, &pol);
    cJSON_AddNumberToObject(detail, "started_at", rb_rollback_wallclock());
    if (pol.timeout > 0)
        cJSON_AddNumberToObject(detail, "timeout", pol.timeout);
    cJSON_AddNumberToObject(detail, "max_attempts", pol.max_attempts);
    cJSON *attempts = cJSON_AddArrayToObject(detail, "attempts");
    double s0 = rb_monotonic(), delay = pol.initial_delay;
    int rc = RB_ERROR;
    *result = NULL;
    for (int k = 1; k <= pol.max_attempts; k++) {
        cJSON_Delete(*result);
        *result = NULL;
        cJSON *at = cJSON_CreateObject();
        cJSON_AddItemToArray(attempts, at);
        cJSON_AddNumberToObject(at, "attempt", k);
        cJSON_AddNumberToObject(at, "started_at", rb_rollback_wallclock());
        attempt *a = attempt_new(run, target, from_id, safety, pol.timeout);
        pthread_t th;
        if (!a || pthread_create(&th, NULL, attempt_thread, a) != 0) {
            if (a)
                attempt_free(a);
            rc = rb_error_set(RB_ENOMEM, RB_ERRCLASS_OS, "cannot start the restore of target '%s'",
                              rb_rollback_tname(target));
        } else {
            double grace = pol.timeout < 1 ? 1 : pol.timeout > 10 ? 10 : pol.timeout;
            if (attempt_wait(run, a, pol.timeout > 0 ? a->deadline + grace : 0)) {
                /* The thread keeps the attempt and frees it if it ever ends. */
                pthread_detach(th);
                run->abandoned = 1;
                rc = rb_error_set(RB_ETIMEOUT, RB_ERRCLASS_BACKEND,
                                  "restore of target '%s' (%s) did not stop within %.0f s after "
                                  "its timeout of %g s; rbhost stops here, and the rollback "
                                  "stays pending (execute-rollback --resume)",
                                  rb_rollback_tname(target), rb_rollback_ttype(target), grace,
                                  pol.timeout);
                cJSON_AddStringToObject(at, "status", "abandoned");
                cJSON_AddNumberToObject(at, "completed_at", rb_rollback_wallclock());
                rb_rollback_add_error(at);
                break;
            }
            pthread_join(th, NULL);
            rc = a->rc;
            *result = a->result;
            a->result = NULL;
            if (rc)
                rb_error_set(a->err_code, a->err_class, "%s", a->err_msg);
            attempt_free(a);
        }
        cJSON_AddNumberToObject(at, "completed_at", rb_rollback_wallclock());
        cJSON_AddStringToObject(at, "status", rc ? "failed" : "success");
        if (rc)
            rb_rollback_add_error(at);
        if (rc == 0 || atomic_load(&run->ctx->cancel) || k == pol.max_attempts)
            break;
        rb_log(RB_LOG_WARN, "%s; trying again in %g s (attempt %d of %d)", rb_error_last()->message,
               delay, k + 1, pol.max_attempts);
        /* The message of the failed attempt is what the step reports if
         * the retries fail too; sleeping must not lose it. */
        backoff_sleep(run, delay);
        delay *= pol.backoff_multiplier;
    }
    cJSON_AddNumberToObject(detail, "attempt_count", cJSON_GetArraySize(attempts));
    cJSON_AddNumberToObject(detail, "completed_at", rb_rollback_wallclock());
    cJSON_AddNumberToObject(detail, "duration", rb_monotonic() - s0);
    if (!*result)
        *result = cJSON_CreateObject();
    return rc;
}
