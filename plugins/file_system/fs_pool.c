#include "fs_pool.h"

#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#define QUEUE 256

typedef struct worker_arg {
    struct rb_fs_pool *pool;
    unsigned id;
} worker_arg;

struct rb_fs_pool {
    pthread_mutex_t mu;
    pthread_cond_t not_empty;
    pthread_cond_t not_full;
    void *queue[QUEUE];
    unsigned head, len;
    unsigned active; /* jobs running */
    int closing;
    rb_fs_job_fn fn;
    void *ctx;
    unsigned n_threads;
    pthread_t threads[4];
    worker_arg args[4];
};

unsigned rb_fs_pool_default_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 2 ? 2 : n > 4 ? 4 : (unsigned)n;
}

static void *worker_main(void *arg)
{
    rb_fs_pool *p = ((worker_arg *)arg)->pool;
    unsigned id = ((worker_arg *)arg)->id;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        /* A running job may still hand over more work: stay until none runs. */
        while (!p->len && !(p->closing && !p->active))
            pthread_cond_wait(&p->not_empty, &p->mu);
        if (!p->len)
            break;
        void *job = p->queue[p->head];
        p->head = (p->head + 1) % QUEUE;
        p->len--;
        p->active++;
        pthread_cond_signal(&p->not_full);
        pthread_mutex_unlock(&p->mu);
        p->fn(p->ctx, id, job);
        pthread_mutex_lock(&p->mu);
        if (!--p->active && p->closing)
            pthread_cond_broadcast(&p->not_empty);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

int rb_fs_pool_start(rb_fs_pool **out, unsigned threads, rb_fs_job_fn fn, void *ctx)
{
    rb_fs_pool *p = calloc(1, sizeof *p);
    if (!p)
        return -1;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->not_empty, NULL);
    pthread_cond_init(&p->not_full, NULL);
    p->fn = fn;
    p->ctx = ctx;
    if (threads > 4)
        threads = 4;
    for (unsigned i = 0; i < threads; i++) {
        p->args[i].pool = p;
        p->args[i].id = i;
        if (pthread_create(&p->threads[i], NULL, worker_main, &p->args[i]))
            break;
        p->n_threads++;
    }
    if (!p->n_threads) {
        pthread_mutex_destroy(&p->mu);
        pthread_cond_destroy(&p->not_empty);
        pthread_cond_destroy(&p->not_full);
        free(p);
        return -1;
    }
    *out = p;
    return 0;
}

void rb_fs_pool_submit(rb_fs_pool *p, void *job)
{
    pthread_mutex_lock(&p->mu);
    while (p->len == QUEUE)
        pthread_cond_wait(&p->not_full, &p->mu);
    p->queue[(p->head + p->len) % QUEUE] = job;
    p->len++;
    pthread_cond_signal(&p->not_empty);
    pthread_mutex_unlock(&p->mu);
}

int rb_fs_pool_offer(rb_fs_pool *p, void *job)
{
    pthread_mutex_lock(&p->mu);
    int idle = p->active + p->len < p->n_threads;
    if (idle) {
        p->queue[(p->head + p->len) % QUEUE] = job;
        p->len++;
        pthread_cond_signal(&p->not_empty);
    }
    pthread_mutex_unlock(&p->mu);
    return idle ? 0 : -1;
}

void rb_fs_pool_finish(rb_fs_pool *p)
{
    pthread_mutex_lock(&p->mu);
    p->closing = 1;
    pthread_cond_broadcast(&p->not_empty);
    pthread_mutex_unlock(&p->mu);
    for (unsigned i = 0; i < p->n_threads; i++)
        pthread_join(p->threads[i], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->not_empty);
    pthread_cond_destroy(&p->not_full);
    free(p);
}

rb_fs_dirref *rb_fs_dirref_new(int fd)
{
    rb_fs_dirref *d = malloc(sizeof *d);
    if (!d) {
        close(fd);
        return NULL;
    }
    d->fd = fd;
    atomic_init(&d->refs, 1);
    return d;
}

rb_fs_dirref *rb_fs_dirref_get(rb_fs_dirref *d)
{
    atomic_fetch_add(&d->refs, 1);
    return d;
}

void rb_fs_dirref_put(rb_fs_dirref *d)
{
    if (d && atomic_fetch_sub(&d->refs, 1) == 1) {
        close(d->fd);
        free(d);
    }
}
