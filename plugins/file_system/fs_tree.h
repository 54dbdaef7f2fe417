/* Moving around a tree being restored without ever leaving it: every
 * directory is opened one component at a time with O_NOFOLLOW|O_DIRECTORY
 * from the directory above, so a symlink planted where a directory was is
 * an error (and is replaced by the restore), never a way out. */
#ifndef FS_TREE_H
#define FS_TREE_H

#include <stddef.h>

typedef struct rb_fs_tree {
    int base;  /* the directory holding the root (owned) */
    char *cur; /* path of the open directory below base, "" for base */
    size_t cur_len, cur_cap;
    int *fds; /* fds[i]: the directory after i+1 components of cur */
    size_t depth, cap;
} rb_fs_tree;

/* Takes ownership of base_fd. */
void rb_fs_tree_init(rb_fs_tree *t, int base_fd);
/* The fd of directory `rel` (below base; "" is base), valid until the next
 * call on this tree. Returns -errno when a component is missing, not a
 * directory, or a symlink (ELOOP/ENOTDIR). */
int rb_fs_tree_dir(rb_fs_tree *t, const char *rel);
void rb_fs_tree_close(rb_fs_tree *t);

/* Opens (creating what is missing, mode 0755) directory `rel` below the
 * directory `top`, one component at a time, never following a symlink.
 * Returns the fd or -errno. */
int rb_fs_tree_mkdirs(int top, const char *rel);

/* Removes `name` in `dir_fd` and, for a directory, everything below it,
 * without following symlinks. Returns 0 or -errno. */
int rb_fs_tree_remove(int dir_fd, const char *name);

#endif
