/* The host's own modules (rbhost-checks.so, rbhost-archive.so): pieces
 * that need heavy libraries, loaded only by the commands that use them. */
#ifndef RB_UTIL_MODULE_H
#define RB_UTIL_MODULE_H

#include <stddef.h>

/* Every module's table starts with its version. */
typedef struct rb_module_header {
    unsigned int version;
} rb_module_header;

/* Loads <prefix>/<reldir>/<file> (see rb_paths.h), calls its entry function
 * and returns the table it gives when the table's version is `version`.
 * The module stays mapped until exit: the libraries it links keep global
 * state. NULL with the reason in `err` otherwise. */
const void *rb_module_load(const char *reldir, const char *file, const char *entry,
                           unsigned int version, char *err, size_t errlen);

#endif
