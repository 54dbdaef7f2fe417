/* The index of one snapshot: every entry under the configured paths with
 * its metadata, and for regular files the blob holding their content.
 *
 * Kept in memory (the data never is) and stored as a blob of its own in a
 * compact binary form (format "rbfs-index-1", described in fs_index.c). */
#ifndef FS_INDEX_H
#define FS_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include <rbhost/rbhost.h>

#include "fs_arena.h"

typedef enum rb_fs_kind {
    RB_FS_DIR = 1,
    RB_FS_REG = 2,
    RB_FS_LNK = 3,
    RB_FS_HARDLINK = 4, /* another name of a regular file recorded earlier */
    RB_FS_FIFO = 5,
    RB_FS_CHR = 6,
    RB_FS_BLK = 7,
} rb_fs_kind;

#define RB_FS_F_BLOB   0x1u /* content is in `blob` (empty files have none) */
#define RB_FS_F_SPARSE 0x2u /* the blob holds only the data extents */

typedef struct rb_fs_entry {
    const char *path;            /* relative to its root, "" for the root itself */
    const char *target;          /* symlink target, or for a hard link the path of the file */
    const unsigned char *xattrs; /* see rb_fs_xattr_*: canonical encoding */
    const uint64_t *extents;     /* offset, length pairs of a sparse file */
    uint64_t size;
    uint64_t ino;
    uint64_t rdev;
    int64_t mtime_s;
    int64_t ctime_s;
    uint32_t mtime_ns;
    uint32_t ctime_ns;
    uint32_t mode; /* with the file type bits */
    uint32_t uid;
    uint32_t gid;
    uint32_t xattrs_len;
    uint32_t n_extents;
    uint16_t root;
    uint16_t target_root; /* hard links: the root holding `target` */
    uint8_t kind;
    uint8_t flags;
    unsigned char blob[32]; /* binary SHA-256 */
} rb_fs_entry;

typedef struct rb_fs_index {
    rb_fs_entry **chunks; /* fixed-size chunks, so entry pointers stay valid */
    size_t n_chunks;
    size_t count;
    uint64_t *slots; /* hash of (root, path): high 32 bits of the hash, entry number + 1 */
    size_t n_slots;
    rb_fs_arena arena;
} rb_fs_index;

#define RB_FS_CHUNK 4096u

static inline rb_fs_entry *rb_fs_index_at(const rb_fs_index *ix, size_t i)
{
    return &ix->chunks[i / RB_FS_CHUNK][i % RB_FS_CHUNK];
}

/* A zeroed new entry at the end; NULL when out of memory. */
rb_fs_entry *rb_fs_index_append(rb_fs_index *ix);
/* Builds the path lookup; call once all entries are in. */
int rb_fs_index_build_lookup(rb_fs_index *ix);
/* The entry number of (root, path), or -1. */
ptrdiff_t rb_fs_index_find(const rb_fs_index *ix, unsigned root, const char *path);

/* The lookup's hash, built a piece at a time: a walk extends its
 * directory's state by "/" and a name instead of hashing whole paths. */
uint64_t rb_fs_path_hash_start(unsigned root);
uint64_t rb_fs_path_hash_add(uint64_t state, const char *s, size_t n);
/* rb_fs_index_find with the state of (root, path) already computed. */
ptrdiff_t rb_fs_index_find_hashed(const rb_fs_index *ix, unsigned root, const char *path,
                                  uint64_t state);
void rb_fs_index_free(rb_fs_index *ix);

/* Streams the index into a new blob; id_out gets its id. */
int rb_fs_index_store(const rb_host_api *host, rb_op *op, const rb_fs_index *ix,
                      char id_out[RB_BLOB_ID_SIZE]);
/* Reads an index blob back, with its lookup built. */
int rb_fs_index_load(const rb_host_api *host, rb_op *op, const char *id, rb_fs_index *ix);

void rb_fs_blob_hex(const unsigned char bin[32], char hex[RB_BLOB_ID_SIZE]);
int rb_fs_blob_unhex(const char *hex, unsigned char bin[32]);

#endif
