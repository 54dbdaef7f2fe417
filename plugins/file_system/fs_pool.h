/* A small pool of worker threads fed through a bounded queue, and the
 * reference-counted directory handles the jobs carry, so that workers open
 * files relative to a directory fd instead of by path. */
#ifndef FS_POOL_H
#define FS_POOL_H

#include <stdatomic.h>

typedef struct rb_fs_pool rb_fs_pool;

/* `worker` is the thread's number, 0 .. threads-1. */
typedef void (*rb_fs_job_fn)(void *ctx, unsigned worker, void *job);

/* How many workers to use: one per core, at least 2, at most 4. */
unsigned rb_fs_pool_default_threads(void);
int rb_fs_pool_start(rb_fs_pool **out, unsigned threads, rb_fs_job_fn fn, void *ctx);
/* Queues a job; waits while the queue is full. */
void rb_fs_pool_submit(rb_fs_pool *p, void *job);
/* Queues a job only when a worker would otherwise wait for one; never
 * waits. 0 when queued, -1 when the caller should do the job itself. Jobs
 * may offer more work this way, even while the pool finishes. */
int rb_fs_pool_offer(rb_fs_pool *p, void *job);
/* Runs every queued job to its end, joins the threads and frees the pool. */
void rb_fs_pool_finish(rb_fs_pool *p);

typedef struct rb_fs_dirref {
    int fd;
    atomic_int refs;
} rb_fs_dirref;

/* Takes ownership of fd; NULL (fd closed) when out of memory. */
rb_fs_dirref *rb_fs_dirref_new(int fd);
rb_fs_dirref *rb_fs_dirref_get(rb_fs_dirref *d);
void rb_fs_dirref_put(rb_fs_dirref *d);

#endif
