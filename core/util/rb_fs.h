/* Crash-safe file primitives shared by the store and the core. */
#ifndef RB_UTIL_FS_H
#define RB_UTIL_FS_H

#include <stddef.h>
#include <sys/types.h>

/* Writes `len` bytes to `path` through a temporary file in the same
 * directory: write, fsync, rename, fsync the directory. A reader sees the
 * old content or the new, never a mix; a crash leaves at most a temporary
 * file named ".<name>.tmp.<pid>.<n>". */
int rb_fs_write_atomic(const char *path, const void *data, size_t len, mode_t mode);
/* Reads a whole file into a NUL-terminated malloc'd buffer. */
int rb_fs_read_all(const char *path, char **data, size_t *len);
/* mkdir -p with `mode` for the directories it creates. */
int rb_fs_mkdir_p(const char *path, mode_t mode);
int rb_fs_fsync_dir(const char *dir);
/* rm -rf that never follows symlinks. Missing path is not an error. */
int rb_fs_remove_tree(const char *path);
/* Joins two path parts into a malloc'd string. */
char *rb_fs_join(const char *a, const char *b);

#endif
