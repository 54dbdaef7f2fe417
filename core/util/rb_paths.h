/* Where the installed pieces are, relative to the running binary, so that
 * an install can be moved and the build tree works like an install. */
#ifndef RB_PATHS_H
#define RB_PATHS_H

#include <stddef.h>

/* <prefix>/<reldir>, where <prefix> is the parent of the directory holding
 * the running executable. 0, or -1 when /proc/self/exe cannot be read. */
int rb_paths_under_prefix(const char *reldir, char *buf, size_t len);

#endif
