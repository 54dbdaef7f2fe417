/* Comparing the live tree with a snapshot's index: what a restore has to
 * do for each recorded entry, and which live entries are not in the
 * snapshot. Shared by plan, verify and restore. The walk never follows a
 * symlink; metadata decides first, content is hashed only when size is
 * equal but mtime is not. */
#ifndef FS_COMPARE_H
#define FS_COMPARE_H

#include <stddef.h>
#include <stdint.h>

#include <rbhost/rbhost.h>

#include "fs_config.h"
#include "fs_index.h"

typedef enum rb_fs_action {
    RB_FS_OK = 0,
    RB_FS_META = 1,    /* only mode, owner, mtime or xattrs differ */
    RB_FS_REWRITE = 2, /* content (or symlink target, device number) differs */
    RB_FS_CREATE = 3,  /* missing, or another kind of entry is in its place */
} rb_fs_action;

/* Why an entry differs (bits of rb_fs_live.why). */
#define RB_FS_WHY_MISSING 0x01u
#define RB_FS_WHY_TYPE    0x02u
#define RB_FS_WHY_CONTENT 0x04u
#define RB_FS_WHY_MODE    0x08u
#define RB_FS_WHY_OWNER   0x10u
#define RB_FS_WHY_MTIME   0x20u
#define RB_FS_WHY_XATTR   0x40u
#define RB_FS_WHY_LINK    0x80u

typedef struct rb_fs_live {
    uint64_t ino;    /* of the live entry, when there is one */
    int64_t mtime_s; /* of the live entry, to put back after a failed restore */
    uint32_t mtime_ns;
    uint8_t action;    /* rb_fs_action */
    uint8_t why;       /* RB_FS_WHY_* */
    uint8_t live_kind; /* rb_fs_kind of what is at the path now, 0 when nothing */
    uint8_t touched;   /* directories: something inside changes */
    uint8_t shared;    /* the live file has other names too */
} rb_fs_live;

typedef struct rb_fs_extra {
    const char *path; /* relative to its root */
    uint64_t size;
    uint16_t root;
    uint8_t is_dir;
} rb_fs_extra;

typedef struct rb_fs_diff {
    rb_fs_config cfg; /* paths and excludes as recorded */
    char **bases;     /* per root: the directory holding it in the target tree */
    rb_fs_index ix;
    rb_fs_live *live; /* one per index entry */
    rb_fs_extra *extras;
    size_t n_extras, cap_extras;
    rb_fs_arena arena;  /* extras' paths, live xattrs */
    uint64_t counts[4]; /* by rb_fs_action, plus extras in n_extras */
    uint64_t bytes[4];
    uint64_t extra_bytes;
    const char *target_dir; /* restore_to / --to, or NULL: in place */
    char index_id[RB_BLOB_ID_SIZE];
} rb_fs_diff;

/* Loads the snapshot's index and compares the target tree with it.
 * `to` is the directory to restore into (NULL: in place). */
int rb_fs_diff_compute(const rb_host_api *host, rb_op *op, const char *to, rb_fs_diff *d);
void rb_fs_diff_free(rb_fs_diff *d);
/* rb_fs_diff_free, but the loaded index is kept for the next
 * rb_fs_diff_compute of the same snapshot in this process: a rollback
 * verifies right after it restores, and the blob id names the index's
 * content exactly, so loading it again would give the same index. */
void rb_fs_diff_free_keep_index(rb_fs_diff *d);
/* Frees a kept index (at unload). */
void rb_fs_diff_drop_kept(void);

/* "dir/name" of an entry below its base directory, in buf. */
void rb_fs_diff_relpath(const rb_fs_diff *d, unsigned root, const char *path, char *buf, size_t n);

/* The restore target of an operation: --to, else restore_to, else NULL. */
const char *rb_fs_restore_target(const rb_host_api *host, rb_op *op);

#endif
