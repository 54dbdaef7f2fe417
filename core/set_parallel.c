/* Running one job per target of a set on a few threads, each target only
 * once the targets it depends on have succeeded. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rb_set.h"

enum { WAITING, RUNNING, DONE, FAILED };

typedef struct pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    const cJSON *targets;
    int n;
    char *state;
    int *deps; /* n * n: deps[i * n + j] when target i depends on j */
    int running;
    int failed; /* index of the first failure, or -1 */
    rb_set_job_fn job;
    void *arg;
    /* The first failure's error, copied out of its thread. */
    int err_code;
    rb_error_class err_class;
    char err_msg[2048];
} pool;

/* The next target whose dependencies all succeeded, or -1. Called locked. */
static int next_ready(pool *p)
{
    if (p->failed >= 0)
        return -1;
    for (int i = 0; i < p->n; i++) {
        if (p->state[i] != WAITING)
            continue;
        int ready = 1;
        for (int j = 0; j < p->n && ready; j++)
            if (p->deps[i * p->n + j] && p->state[j] != DONE)
                ready = 0;
        if (ready)
            return i;
    }
    return -1;
}

static int all_settled(pool *p)
{
    if (p->running)
        return 0;
    return next_ready(p) < 0;
}

static void *worker(void *arg)
{
    pool *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        int i = next_ready(p);
        if (i < 0) {
            if (all_settled(p))
                break;
            pthread_cond_wait(&p->cv, &p->mu);
            continue;
        }
        p->state[i] = RUNNING;
        p->running++;
        pthread_mutex_unlock(&p->mu);
        rb_error_clear();
        int rc = p->job(p->arg, i);
        pthread_mutex_lock(&p->mu);
        p->running--;
        p->state[i] = rc ? FAILED : DONE;
        if (rc && p->failed < 0) {
            const rb_error_info *e = rb_error_last();
            p->failed = i;
            p->err_code = rc;
            p->err_class = e->klass;
            snprintf(p->err_msg, sizeof p->err_msg, "%s", e->message);
        }
        pthread_cond_broadcast(&p->cv);
    }
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

static int build_deps(pool *p)
{
    p->deps = calloc((size_t)p->n * (size_t)p->n, sizeof *p->deps);
    p->state = calloc((size_t)p->n, 1);
    if (!p->deps || !p->state)
        return rb_error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
    for (int i = 0; i < p->n; i++) {
        const cJSON *d;
        cJSON_ArrayForEach(
            d, cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(p->targets, i), "depends_on"))
        {
            for (int j = 0; j < p->n; j++) {
                const char *name = cJSON_GetStringValue(
                    cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(p->targets, j), "name"));
                if (cJSON_IsString(d) && name && !strcmp(name, d->valuestring))
                    p->deps[i * p->n + j] = 1;
            }
        }
    }
    return 0;
}

int rb_set_run_parallel(const cJSON *targets, size_t jobs, rb_set_job_fn job, void *arg,
                        int *failed)
{
    pool p = {
        .targets = targets, .n = cJSON_GetArraySize(targets), .failed = -1, .job = job, .arg = arg};
    pthread_mutex_init(&p.mu, NULL);
    pthread_cond_init(&p.cv, NULL);
    int rc = build_deps(&p);
    if (jobs < 1)
        jobs = 1;
    if (jobs > (size_t)p.n)
        jobs = (size_t)p.n;
    pthread_t *threads = rc ? NULL : calloc(jobs, sizeof *threads);
    if (rc == 0 && !threads)
        rc = rb_error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
    size_t started = 0;
    /* The calling thread is one of the workers: --jobs 1 runs everything
     * on it, in dependency order. */
    for (size_t k = 1; rc == 0 && k < jobs; k++) {
        if (pthread_create(&threads[k], NULL, worker, &p) == 0)
            started++;
        else
            break;
    }
    if (rc == 0) {
        worker(&p);
        for (size_t k = 1; k <= started; k++)
            pthread_join(threads[k], NULL);
        if (p.failed >= 0) {
            *failed = p.failed;
            rc = rb_error_set(p.err_code, p.err_class, "%s", p.err_msg);
        }
    }
    free(threads);
    free(p.deps);
    free(p.state);
    pthread_cond_destroy(&p.cv);
    pthread_mutex_destroy(&p.mu);
    return rc;
}
