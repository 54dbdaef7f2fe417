#include "fs_failure.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

#include "fs_backend.h"

void rb_fs_failure_init(rb_fs_failure *f)
{
    atomic_init(&f->failed, 0);
    pthread_mutex_init(&f->mu, NULL);
    f->code = 0;
    f->klass = RB_ERRCLASS_NONE;
    f->message[0] = '\0';
}

void rb_fs_failure_destroy(rb_fs_failure *f)
{
    pthread_mutex_destroy(&f->mu);
}

int rb_fs_failure_set(rb_fs_failure *f, int code, rb_error_class klass, const char *fmt, ...)
{
    pthread_mutex_lock(&f->mu);
    if (!f->code) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(f->message, sizeof f->message, fmt, ap);
        va_end(ap);
        f->code = code;
        f->klass = klass;
        atomic_store(&f->failed, 1);
    }
    pthread_mutex_unlock(&f->mu);
    return code;
}

int rb_fs_failure_raise(const rb_fs_failure *f)
{
    return rb_fs_host->error_set(f->code, f->klass, "%s", f->message);
}

int rb_fs_errno_code(int err)
{
    switch (err) {
    case ENOENT:
        return RB_ENOTFOUND;
    case EACCES:
    case EPERM:
        return RB_EPERM;
    case ENOSPC:
    case EDQUOT:
        return RB_ENOSPC;
    case ENOMEM:
        return RB_ENOMEM;
    case EEXIST:
        return RB_EEXISTS;
    default:
        return RB_EIO;
    }
}
