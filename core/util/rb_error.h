/* Per-thread error state of the host: the message that goes with the
 * negative rb_error code a function returns. */
#ifndef RB_UTIL_ERROR_H
#define RB_UTIL_ERROR_H

#include <rbhost/abi.h>
#include <rbhost/errors.h>

/* Exported from librbhost so that front ends read the same per-thread
 * state the core sets. */
#define RB_UTIL_API __attribute__((visibility("default")))

typedef struct rb_error_info {
    int code;
    rb_error_class klass;
    const char *message;
} rb_error_info;

/* Sets this thread's error; returns `code` for `return rb_error_set(...)`. */
RB_UTIL_API int rb_error_set(int code, rb_error_class klass, const char *fmt, ...) RB_PRINTF(3, 4);
/* Same, from a va_list. */
RB_UTIL_API int rb_error_vset(int code, rb_error_class klass, const char *fmt, __builtin_va_list ap)
    RB_PRINTF(3, 0);
/* Sets RB_ERRCLASS_OS with ": <strerror(errno)>" appended; the code is
 * derived from errno (ENOENT: RB_ENOTFOUND, EACCES: RB_EPERM, ENOSPC: RB_ENOSPC...). */
RB_UTIL_API int rb_error_os(const char *fmt, ...) RB_PRINTF(1, 2);
/* Maps an errno value to an rb_error code. */
RB_UTIL_API int rb_error_from_errno(int err);
/* Prefixes the current message with "<prefix>: ". */
RB_UTIL_API void rb_error_prefix(const char *fmt, ...) RB_PRINTF(1, 2);
/* Never NULL; code 0 and an empty message when nothing failed. */
RB_UTIL_API const rb_error_info *rb_error_last(void);
RB_UTIL_API void rb_error_clear(void);
/* Stable lowercase names used in --json output and docs. */
RB_UTIL_API const char *rb_error_class_name(rb_error_class klass);
RB_UTIL_API const char *rb_error_code_name(int code);

#endif
