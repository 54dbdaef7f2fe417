#include "store_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rb_error.h"

/* Hashes and compresses the chunks of one large stream on worker threads
 * while the caller keeps reading: a database dump or an image arrives
 * through a single writer, and zstd, not the disk, is its bottleneck.
 * Memory stays bounded: at most `max_bufs` chunk buffers exist. */

#define WORKERS_MAX 4

typedef struct job {
    uint8_t *buf;
    size_t len;
    size_t index;
} job;

struct rb_store_chunker {
    rb_store_txn *txn;
    pthread_mutex_t mu;
    pthread_cond_t work, done;
    pthread_t threads[WORKERS_MAX];
    size_t nthreads;
    job *queue; /* ring of max_bufs */
    size_t qhead, qlen;
    uint8_t **free_bufs;
    size_t nfree, nbufs, max_bufs;
    size_t inflight;
    uint8_t *ids;
    size_t nchunks, ids_cap;
    bool stop;
    int failed;
    rb_error_class failed_class;
    char failed_msg[512];
};

static void fail_locked(rb_store_chunker *c, int rc)
{
    if (c->failed)
        return;
    const rb_error_info *e = rb_error_last();
    c->failed = rc;
    c->failed_class = e->klass;
    snprintf(c->failed_msg, sizeof c->failed_msg, "%s", e->message);
}

static void *worker(void *arg)
{
    rb_store_chunker *c = arg;
    pthread_mutex_lock(&c->mu);
    for (;;) {
        while (c->qlen == 0 && !c->stop)
            pthread_cond_wait(&c->work, &c->mu);
        if (c->qlen == 0)
            break;
        job j = c->queue[c->qhead];
        c->qhead = (c->qhead + 1) % c->max_bufs;
        c->qlen--;
        bool skip = c->failed != 0;
        pthread_mutex_unlock(&c->mu);
        uint8_t id[32];
        int rc = 0;
        if (!skip) {
            rc = rb_store_sha256(j.buf, j.len, id);
            if (rc == 0)
                rc = rb_store_txn_put_chunk(c->txn, j.buf, j.len, id);
        }
        pthread_mutex_lock(&c->mu);
        if (rc < 0)
            fail_locked(c, rc);
        else if (!skip)
            memcpy(c->ids + 32 * j.index, id, 32);
        c->free_bufs[c->nfree++] = j.buf;
        c->inflight--;
        pthread_cond_broadcast(&c->done);
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

int rb_store_chunker_new(rb_store_txn *txn, rb_store_chunker **out)
{
    *out = NULL;
    rb_store_chunker *c = calloc(1, sizeof *c);
    if (!c)
        return rb_store_nomem();
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    size_t workers = cpus < 1 ? 1 : cpus > WORKERS_MAX ? WORKERS_MAX : (size_t)cpus;
    c->txn = txn;
    /* One buffer per worker, one queued, one being filled by the caller. */
    c->max_bufs = workers + 2;
    /* The caller's first buffer joins the pool with the first chunk. */
    c->nbufs = 1;
    c->queue = calloc(c->max_bufs, sizeof *c->queue);
    c->free_bufs = calloc(c->max_bufs, sizeof *c->free_bufs);
    if (!c->queue || !c->free_bufs) {
        free(c->queue);
        free(c->free_bufs);
        free(c);
        return rb_store_nomem();
    }
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->work, NULL);
    pthread_cond_init(&c->done, NULL);
    for (size_t i = 0; i < workers; i++) {
        if (pthread_create(&c->threads[i], NULL, worker, c) != 0)
            break;
        c->nthreads++;
    }
    if (c->nthreads == 0) {
        rb_store_chunker_free(c);
        return rb_error_set(RB_ERROR, RB_ERRCLASS_OS, "cannot start a compression thread");
    }
    *out = c;
    return 0;
}

static int failure(rb_store_chunker *c)
{
    return rb_error_set(c->failed, c->failed_class, "%s", c->failed_msg);
}

int rb_store_chunker_submit(rb_store_chunker *c, uint8_t *buf, size_t len, uint8_t **next)
{
    pthread_mutex_lock(&c->mu);
    int rc = c->failed ? failure(c) : 0;
    if (rc == 0 && c->nchunks == c->ids_cap) {
        size_t ncap = c->ids_cap ? c->ids_cap * 2 : 64;
        uint8_t *g = realloc(c->ids, ncap * 32);
        if (!g)
            rc = rb_store_nomem();
        else {
            c->ids = g;
            c->ids_cap = ncap;
        }
    }
    if (rc < 0) {
        /* Ours now whatever happens: kept for the cleanup. */
        c->free_bufs[c->nfree++] = buf;
        pthread_mutex_unlock(&c->mu);
        return rc;
    }
    c->queue[(c->qhead + c->qlen) % c->max_bufs] = (job){buf, len, c->nchunks++};
    c->qlen++;
    c->inflight++;
    pthread_cond_signal(&c->work);
    if (next) {
        *next = NULL;
        while (c->nfree == 0 && c->nbufs >= c->max_bufs)
            pthread_cond_wait(&c->done, &c->mu);
        if (c->nfree > 0) {
            *next = c->free_bufs[--c->nfree];
        } else {
            c->nbufs++;
            pthread_mutex_unlock(&c->mu);
            *next = malloc(RB_STORE_CHUNK_SIZE);
            if (!*next)
                return rb_store_nomem();
            return 0;
        }
    }
    pthread_mutex_unlock(&c->mu);
    return 0;
}

int rb_store_chunker_finish(rb_store_chunker *c, const uint8_t **ids, size_t *n)
{
    pthread_mutex_lock(&c->mu);
    while (c->inflight > 0)
        pthread_cond_wait(&c->done, &c->mu);
    int rc = c->failed ? failure(c) : 0;
    pthread_mutex_unlock(&c->mu);
    *ids = c->ids;
    *n = c->nchunks;
    return rc;
}

void rb_store_chunker_free(rb_store_chunker *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->mu);
    c->stop = true;
    /* Queued chunks of an abandoned stream are dropped unstored. */
    if (!c->failed)
        c->failed = RB_ECANCELED;
    pthread_cond_broadcast(&c->work);
    pthread_mutex_unlock(&c->mu);
    for (size_t i = 0; i < c->nthreads; i++)
        pthread_join(c->threads[i], NULL);
    for (size_t i = 0; i < c->nfree; i++)
        free(c->free_bufs[i]);
    pthread_cond_destroy(&c->work);
    pthread_cond_destroy(&c->done);
    pthread_mutex_destroy(&c->mu);
    free(c->queue);
    free(c->free_bufs);
    free(c->ids);
    free(c);
}
