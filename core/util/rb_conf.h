/* rbhost.conf: the settings a site or a user gives once instead of on every
 * command line (store, backend directories, retention, confirmation, dry
 * run, S3 endpoint).
 *
 * Files, read in this order, a later one overriding a key an earlier one
 * set: /etc/rbhost/rbhost.conf, $XDG_CONFIG_HOME/rbhost/rbhost.conf (or
 * ~/.config/rbhost/rbhost.conf), then the file given explicitly (the
 * --config-file option or $RBHOST_CONFIG). The first two may be absent;
 * the explicit one must exist.
 *
 * Format: "key = value" lines, "[section]" headers, "#" or ";" comments,
 * values optionally in double quotes. Keys are named "section.key" in the
 * lookup functions ("s3.endpoint"); top-level keys have no section. An
 * unknown section or key, a line that is neither, or a value of the wrong
 * type is refused (RB_EINVAL) naming the file, the line and the key. */
#ifndef RB_UTIL_CONF_H
#define RB_UTIL_CONF_H

#include "rb_error.h"

typedef struct rb_conf rb_conf;

RB_UTIL_API int rb_conf_load(rb_conf **out, const char *explicit_path);
/* Reads one file only (and nothing else): for tools and tests. */
RB_UTIL_API int rb_conf_load_file(rb_conf **out, const char *path);
RB_UTIL_API void rb_conf_free(rb_conf *conf);

/* The value as written (a path with "~/" expanded), or NULL when no file
 * sets it. */
RB_UTIL_API const char *rb_conf_get_string(const rb_conf *conf, const char *key);
/* 1 and *out when set, 0 when not. The type was checked at load. */
RB_UTIL_API int rb_conf_get_bool(const rb_conf *conf, const char *key, int *out);
RB_UTIL_API int rb_conf_get_uint(const rb_conf *conf, const char *key, long *out);
/* "FILE:LINE" of the setting in force, or NULL. */
RB_UTIL_API const char *rb_conf_origin(const rb_conf *conf, const char *key);

/* The configuration the front end loaded, for code that is not handed one
 * (a store engine opened by location). NULL before rb_conf_set_active. */
RB_UTIL_API void rb_conf_set_active(const rb_conf *conf);
RB_UTIL_API const rb_conf *rb_conf_active(void);

#endif
