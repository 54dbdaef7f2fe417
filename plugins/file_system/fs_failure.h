/* The first error a worker thread hit. host->error_set keeps its message
 * per thread, so workers park theirs here and the calling thread raises it
 * once the workers are done. */
#ifndef FS_FAILURE_H
#define FS_FAILURE_H

#include <pthread.h>
#include <stdatomic.h>

#include <rbhost/rbhost.h>

typedef struct rb_fs_failure {
    atomic_int failed;
    pthread_mutex_t mu;
    int code;
    rb_error_class klass;
    char message[1024];
} rb_fs_failure;

void rb_fs_failure_init(rb_fs_failure *f);
void rb_fs_failure_destroy(rb_fs_failure *f);
/* Keeps the first failure only; returns code. */
int rb_fs_failure_set(rb_fs_failure *f, int code, rb_error_class klass, const char *fmt, ...)
    RB_PRINTF(4, 5);
/* Hands the kept failure to host->error_set; returns its code. */
int rb_fs_failure_raise(const rb_fs_failure *f);
/* The rb_error for an errno value. */
int rb_fs_errno_code(int err);

#endif
