/* Parallel uploads: a transaction's packs go up while it writes the next
 * ones, on up to RBHOST_S3_JOBS workers sharing the client's connections. */
#include "store_s3_client.h"

#include <stdlib.h>
#include <string.h>

#include "rb_error.h"
#include "store_internal.h"

typedef struct job {
    char *key;
    char *path;
    struct job *next;
} job;

struct rb_s3_batch {
    rb_s3 *c;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    job *head, *tail;
    pthread_t *threads;
    size_t nthreads;
    bool closing;
    /* The first failure, carried to the thread that finishes the batch
     * (errors are per thread). */
    int rc;
    rb_error_class klass;
    char *msg;
};

int rb_s3_client_batch_new(rb_s3 *c, rb_s3_batch **out)
{
    rb_s3_batch *b = calloc(1, sizeof *b);
    if (b)
        b->threads = calloc((size_t)c->jobs, sizeof *b->threads);
    if (!b || !b->threads) {
        free(b);
        return rb_store_nomem();
    }
    b->c = c;
    pthread_mutex_init(&b->mu, NULL);
    pthread_cond_init(&b->cv, NULL);
    *out = b;
    return 0;
}

static void job_free(job *j)
{
    free(j->key);
    free(j->path);
    free(j);
}

static void *worker(void *arg)
{
    rb_s3_batch *b = arg;
    pthread_mutex_lock(&b->mu);
    for (;;) {
        while (!b->head && !b->closing)
            pthread_cond_wait(&b->cv, &b->mu);
        job *j = b->head;
        if (!j)
            break;
        b->head = j->next;
        if (!b->head)
            b->tail = NULL;
        bool skip = b->rc != 0;
        pthread_mutex_unlock(&b->mu);
        int rc = skip ? 0 : rb_s3_client_put_file(b->c, j->key, j->path);
        char *msg = rc < 0 ? strdup(rb_error_last()->message) : NULL;
        rb_error_class klass = rb_error_last()->klass;
        job_free(j);
        pthread_mutex_lock(&b->mu);
        if (rc < 0 && b->rc == 0) {
            b->rc = rc;
            b->klass = klass;
            b->msg = msg;
            msg = NULL;
        }
        free(msg);
    }
    pthread_mutex_unlock(&b->mu);
    return NULL;
}

int rb_s3_client_batch_put_file(rb_s3_batch *b, const char *key, const char *path)
{
    job *j = calloc(1, sizeof *j);
    if (j) {
        j->key = strdup(key);
        j->path = strdup(path);
    }
    if (!j || !j->key || !j->path) {
        if (j)
            job_free(j);
        return rb_store_nomem();
    }
    pthread_mutex_lock(&b->mu);
    if (b->tail)
        b->tail->next = j;
    else
        b->head = j;
    b->tail = j;
    int rc = 0;
    if (b->nthreads < (size_t)b->c->jobs) {
        if (pthread_create(&b->threads[b->nthreads], NULL, worker, b) == 0)
            b->nthreads++;
        else if (b->nthreads == 0)
            rc = rb_error_set(RB_ERROR, RB_ERRCLASS_OS, "cannot start an upload thread");
    }
    pthread_cond_signal(&b->cv);
    pthread_mutex_unlock(&b->mu);
    return rc;
}

int rb_s3_client_batch_finish(rb_s3_batch *b)
{
    pthread_mutex_lock(&b->mu);
    b->closing = true;
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
    for (size_t i = 0; i < b->nthreads; i++)
        pthread_join(b->threads[i], NULL);
    int rc = b->rc;
    if (rc < 0)
        rc = b->msg ? rb_error_set(rc, b->klass, "%s", b->msg) : rb_store_nomem();
    while (b->head) {
        job *j = b->head;
        b->head = j->next;
        job_free(j);
    }
    free(b->msg);
    free(b->threads);
    pthread_mutex_destroy(&b->mu);
    pthread_cond_destroy(&b->cv);
    free(b);
    return rc;
}
