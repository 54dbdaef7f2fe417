#include "rb_error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define RB_ERROR_MSG_MAX 2048

static _Thread_local struct {
    rb_error_info info;
    char buf[RB_ERROR_MSG_MAX];
} tls_error = {{0, RB_ERRCLASS_NONE, ""}, ""};

int rb_error_vset(int code, rb_error_class klass, const char *fmt, va_list ap)
{
    /* Formatting into a fixed buffer needs no allocation, so out-of-memory
     * can be reported like any other error. */
    vsnprintf(tls_error.buf, sizeof tls_error.buf, fmt, ap);
    tls_error.info.code = code;
    tls_error.info.klass = klass;
    tls_error.info.message = tls_error.buf;
    return code;
}

int rb_error_set(int code, rb_error_class klass, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    rb_error_vset(code, klass, fmt, ap);
    va_end(ap);
    return code;
}

int rb_error_from_errno(int err)
{
    switch (err) {
    case ENOENT:
    case ENOTDIR:
        return RB_ENOTFOUND;
    case EACCES:
    case EPERM:
    case EROFS:
        return RB_EPERM;
    case ENOSPC:
    case EDQUOT:
        return RB_ENOSPC;
    case EEXIST:
    case ENOTEMPTY:
        return RB_EEXISTS;
    case ENOMEM:
        return RB_ENOMEM;
    case EINVAL:
    case ENAMETOOLONG:
    case ELOOP:
        return RB_EINVAL;
    case EWOULDBLOCK:
        return RB_ELOCKED;
    case ETIMEDOUT:
        return RB_ETIMEOUT;
    case EINTR:
        return RB_ECANCELED;
    default:
        return RB_EIO;
    }
}

int rb_error_os(const char *fmt, ...)
{
    int err = errno;
    char head[RB_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(head, sizeof head, fmt, ap);
    va_end(ap);
    return rb_error_set(rb_error_from_errno(err), RB_ERRCLASS_OS, "%s: %s", head, strerror(err));
}

void rb_error_prefix(const char *fmt, ...)
{
    char head[RB_ERROR_MSG_MAX];
    char old[RB_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(head, sizeof head, fmt, ap);
    va_end(ap);
    memcpy(old, tls_error.buf, sizeof old);
    /* A message longer than the buffer is cut; the start says the most. */
    if (snprintf(tls_error.buf, sizeof tls_error.buf, "%s: %s", head, old) < 0)
        tls_error.buf[0] = '\0';
    tls_error.info.message = tls_error.buf;
}

const rb_error_info *rb_error_last(void)
{
    if (!tls_error.info.message)
        tls_error.info.message = "";
    return &tls_error.info;
}

void rb_error_clear(void)
{
    tls_error.info.code = 0;
    tls_error.info.klass = RB_ERRCLASS_NONE;
    tls_error.buf[0] = '\0';
    tls_error.info.message = tls_error.buf;
}

const char *rb_error_class_name(rb_error_class klass)
{
    static const char *const names[] = {
        "none", "nomemory", "os",  "invalid",   "config", "plugin", "store",      "backend",
        "net",  "database", "git", "container", "verify", "lock",   "filesystem", "infra",
    };
    if ((unsigned)klass < sizeof names / sizeof names[0])
        return names[klass];
    return "unknown";
}

const char *rb_error_code_name(int code)
{
    static const char *const names[] = {
        "ok",    "error",    "nomem",   "invalid",     "notfound", "exists",
        "io",    "perm",     "locked",  "unsupported", "canceled", "timeout",
        "drift", "conflict", "corrupt", "nospace",
    };
    int i = -code;
    if (i >= 0 && (unsigned)i < sizeof names / sizeof names[0])
        return names[i];
    return "unknown";
}
