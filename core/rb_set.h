/* Snapshot sets: checking a spec, the dependency order of its targets, and
 * running one job per target in parallel where dependencies allow. */
#ifndef RB_SET_H
#define RB_SET_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "rb_error.h"

/* What a step does when it still fails after its retries. */
typedef enum rb_on_failure {
    RB_ON_FAILURE_DEFAULT = 0, /* the snapshot's own setting, else revert */
    RB_ON_FAILURE_REVERT,
    RB_ON_FAILURE_CONTINUE,
} rb_on_failure;

/* Checks a set spec before anything runs: known keys, names, types,
 * depends_on naming known targets without cycles, timeout and retry
 * values. The error names the target. */
int rb_set_spec_check(const cJSON *spec);

/* "revert" or "continue" to the enum; RB_EINVAL naming `what` otherwise. */
int rb_set_on_failure_parse(const char *text, const char *what, rb_on_failure *out);
const char *rb_set_on_failure_name(rb_on_failure f);

/* The targets (spec or recorded) in dependency order: each after every
 * target it depends on, otherwise in their listed order. `order` holds
 * cJSON_GetArraySize(targets) indexes. RB_EINVAL on a cycle or an unknown
 * name (recorded documents were checked when taken). */
int rb_set_order(const cJSON *targets, int *order);

/* The retry and timeout policy of one target (seed 004). */
typedef struct rb_step_policy {
    double timeout;            /* seconds; 0: none */
    int max_attempts;          /* >= 1 */
    double initial_delay;      /* seconds before the second attempt */
    double backoff_multiplier; /* each later delay is the previous one times this */
} rb_step_policy;
void rb_set_policy(const cJSON *target, rb_step_policy *out);

/* Runs job(arg, i) for every target, at most `jobs` at a time, starting a
 * target only when every target it depends on has succeeded. After a
 * failure no new job starts; the ones running finish. Returns 0, or the
 * error of the first job that failed (message restored in this thread),
 * with *failed set to its index. */
typedef int (*rb_set_job_fn)(void *arg, int index);
int rb_set_run_parallel(const cJSON *targets, size_t jobs, rb_set_job_fn job, void *arg,
                        int *failed);

#endif
