/* Logging of the host and of backends, to stderr. */
#ifndef RB_LOG_H
#define RB_LOG_H

#include <rbhost/host.h>
#include <stdarg.h>

/* -1 quiet (errors only), 0 warnings, 1 info, 2 debug. */
void rb_log_set_verbosity(int verbosity);
int rb_log_enabled(rb_log_level level);
void rb_log(rb_log_level level, const char *fmt, ...) RB_PRINTF(2, 3);
void rb_log_v(rb_log_level level, const char *fmt, va_list ap);
/* Prefix for messages logged from the calling thread (a target name). */
void rb_log_set_target(const char *name);

#endif
