#include <stdarg.h>
#include <stdio.h>

#include "git_backend.h"

int rb_git_code(int git_error)
{
    switch (git_error) {
    case GIT_ENOTFOUND:
        return RB_ENOTFOUND;
    case GIT_EEXISTS:
        return RB_EEXISTS;
    case GIT_ELOCKED:
        return RB_ELOCKED;
    case GIT_ECONFLICT:
    case GIT_EMERGECONFLICT:
    case GIT_EUNCOMMITTED:
        return RB_ECONFLICT;
    case GIT_EINVALIDSPEC:
        return RB_EINVAL;
    default:
        return RB_ERROR;
    }
}

int rb_git_fail(int code, const char *fmt, ...)
{
    char what[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    const git_error *last = git_error_last();
    if (last && last->message && *last->message)
        return rb_git_host->error_set(code, RB_ERRCLASS_GIT, "%s: %s", what, last->message);
    return rb_git_host->error_set(code, RB_ERRCLASS_GIT, "%s", what);
}
