/* Extended attributes, POSIX ACLs included (they are the
 * system.posix_acl_access and system.posix_acl_default attributes).
 *
 * Canonical encoding, so that two sets compare with memcmp: attributes
 * sorted by name, each as a 32-bit name length, the name, a 32-bit value
 * length and the value (little-endian). */
#ifndef FS_XATTR_H
#define FS_XATTR_H

#include <stdint.h>

#include "fs_arena.h"

/* Reads the attributes of an open file, or of `name` in `dirfd` without
 * following a symlink (fd < 0). Returns 0 or -errno; a file system without
 * attribute support reads as none. *out is NULL when there are none. */
int rb_fs_xattr_read(int fd, int dirfd, const char *name, rb_fs_arena *arena,
                     const unsigned char **out, uint32_t *out_len);

/* Makes the attributes of the file equal to the encoded set: sets each,
 * removes those not in it (a new file may have inherited a default ACL).
 * Returns 0 or -errno; *failed names the attribute that could not be set. */
int rb_fs_xattr_apply(int fd, int dirfd, const char *name, const unsigned char *set,
                      uint32_t set_len, const char **failed);

#endif
