#include "rb_log.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

static int log_verbosity;
static _Thread_local const char *log_target;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

void rb_log_set_verbosity(int verbosity)
{
    log_verbosity = verbosity;
}

int rb_log_enabled(rb_log_level level)
{
    return (int)level <= log_verbosity + 1;
}

void rb_log_set_target(const char *name)
{
    log_target = name;
}

void rb_log_v(rb_log_level level, const char *fmt, va_list ap)
{
    static const char *const names[] = {"error", "warning", "info", "debug"};
    /* A backend may pass any number: out of range reads as debug. */
    if ((unsigned)level > RB_LOG_DEBUG)
        level = RB_LOG_DEBUG;
    if (!rb_log_enabled(level))
        return;
    char msg[4096];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n > 0 && msg[n - 1] == '\n')
        msg[--n] = '\0';
    /* One write per line under a lock, so lines of parallel targets do not
     * interleave mid-line. */
    pthread_mutex_lock(&log_lock);
    if (log_target)
        fprintf(stderr, "rbhost: %s: [%s] %s\n", names[level], log_target, msg);
    else
        fprintf(stderr, "rbhost: %s: %s\n", names[level], msg);
    pthread_mutex_unlock(&log_lock);
}

void rb_log(rb_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    rb_log_v(level, fmt, ap);
    va_end(ap);
}
