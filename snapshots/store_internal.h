/* Shared by the store's own files only.
 *
 * Layout under the store directory:
 *   <id>_metadata.json          snapshot documents (seed 001 naming)
 *   rollbacks/<id>.json         rollback records
 *   lock, locks/<pid>           flock file; who holds it, for the message
 *   data/txn.lock               shared by every open transaction, exclusive for gc
 *   data/packs/<name>.pack      blob records, written by one transaction each
 *   data/packs/<name>.idx       the index of one pack, written when the pack is
 *                               durable; a pack without an index is garbage
 *
 * A blob is stored as one record (zstd or raw) when its content fits in one
 * chunk, otherwise as chunk blobs plus a chunk list stored under the id of
 * the whole content. */
#ifndef RB_STORE_INTERNAL_H
#define RB_STORE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <zstd.h>

#include "rb_store.h"

#define RB_STORE_CHUNK_SIZE (4u * 1024u * 1024u)
#define RB_STORE_PACK_MAX   (64u * 1024u * 1024u)
#define RB_STORE_ZSTD_LEVEL 3
#define RB_STORE_DIR_MODE   0700
#define RB_STORE_FILE_MODE  0600
#define RB_STORE_ID_MAX     128
#define RB_STORE_PACK_NAME  32 /* hex characters */

/* Record flags. */
#define RB_BLOB_ZSTD      0x1u /* stored compressed; otherwise as is */
#define RB_BLOB_CHUNKLIST 0x2u /* content is the concatenation of the listed chunks */

/* In a transaction's used set: the record's sizes were not looked up. */
#define RB_LOC_UNKNOWN UINT32_MAX

typedef struct rb_blob_loc {
    uint8_t id[32];
    uint32_t pack; /* number in the store's pack table */
    uint32_t flags;
    uint64_t offset;
    uint64_t orig_len;
    uint32_t stored_len;
    uint32_t used; /* slot in use (hash table) */
} rb_blob_loc;

/* Open-addressing hash table keyed by raw ids (already uniformly random). */
typedef struct rb_idtab {
    rb_blob_loc *slots;
    size_t cap; /* power of two, or 0 */
    size_t count;
} rb_idtab;

rb_blob_loc *rb_idtab_find(const rb_idtab *t, const uint8_t id[32]);
/* Inserts or returns the existing entry; NULL when out of memory. `*fresh`
 * tells which. */
rb_blob_loc *rb_idtab_insert(rb_idtab *t, const uint8_t id[32], bool *fresh);
/* Makes room for `n` entries in all. */
int rb_idtab_reserve(rb_idtab *t, size_t n);
void rb_idtab_free(rb_idtab *t);

typedef struct rb_store_pack {
    char name[RB_STORE_PACK_NAME + 1];
    int fd; /* opened lazily for reading; -1 */
} rb_store_pack;

typedef struct rb_store_pool {
    pthread_mutex_t mu;
    void **items;
    size_t count, cap;
} rb_store_pool;

struct rb_s3;
struct rb_s3_lock;

struct rb_store {
    char *dir; /* for an S3 store, its cache directory */
    char *data_dir;
    char *packs_dir;
    char *records_dir;
    int lock_fd;
    rb_store_lock_mode lock_mode;

    /* Lock order: index_lock, then a transaction's mu, then packs_mu;
     * nothing is taken while packs_mu is held. */
    pthread_rwlock_t index_lock; /* the fields down to packs_mu */
    bool loaded;
    bool scanned; /* the pack directory as of the last scan: */
    int64_t scan_mtime_ns, scan_time_ns;
    rb_idtab index;
    char **idx_names; /* idx files already loaded, sorted */
    size_t nidx, idx_cap;
    rb_store_txn **txns; /* open transactions, whose records are readable */
    size_t ntxns, txns_cap;

    pthread_mutex_t packs_mu; /* packs, npacks, packs_cap, open_packs */
    rb_store_pack *packs;
    size_t npacks, packs_cap;
    size_t open_packs; /* descriptors kept in packs[].fd */

    rb_store_pool dctx_pool;
    rb_store_pool cctx_pool;

    /* An S3 store (store_s3.h): NULL for a local one. */
    char *url;
    struct rb_s3 *s3;
    char s3_owner[128];
    struct rb_s3_lock *s3_shared, *s3_excl;
    bool s3_registered;
};

struct rb_store_txn {
    rb_store *store;
    int data_lock_fd;
    pthread_mutex_t mu; /* everything below */
    rb_idtab written;   /* records this transaction stored */
    rb_idtab used;      /* every id the snapshot uses (written or referenced) */
    int pack_fd;
    uint32_t pack_no;
    uint64_t pack_off;
    uint32_t *packs; /* pack numbers this transaction created */
    size_t npacks, packs_cap;
    int *done_fds; /* full packs not yet synced */
    size_t ndone, done_cap;
    uint8_t *wbuf; /* records not written to the pack yet, ending at pack_off */
    size_t wlen;
    int failed;       /* sticky error code after a failed append */
    void *s3_uploads; /* packs going up to an S3 store */
};

/* --- helpers (store_util.c) --- */
void rb_store_hex(const uint8_t id[32], char out[RB_BLOB_ID_SIZE]);
/* 0, or RB_EINVAL when `hex` is not 64 lowercase hex digits. */
int rb_store_unhex(const char *hex, uint8_t id[32]);
int rb_store_sha256(const void *data, size_t len, uint8_t out[32]);
int rb_store_nomem(void);
/* Writes a file durably: temp name, fsync, then rename (or link, refusing
 * to replace, when `noreplace`), fsync the directory. Mode 0600 whatever
 * the umask. */
int rb_store_file_write(const char *path, const void *data, size_t len, bool noreplace);
/* Keeps the calling thread's error across clean-up that may fail. */
typedef struct rb_store_saved_error {
    int code;
    int klass;
    char *message;
} rb_store_saved_error;
void rb_store_error_save(rb_store_saved_error *e);
void rb_store_error_restore(rb_store_saved_error *e);
/* Removes a store file (and its object, in an S3 store); an absent file
 * is no error. */
int rb_store_file_remove(const char *path);
/* Sends a file changed in place (appended) to the bucket of an S3 store;
 * nothing for a local store. */
int rb_store_file_publish(const char *path);
int rb_store_pwrite_all(int fd, const void *data, size_t len, uint64_t off, const char *path);
int rb_store_pread_all(int fd, void *buf, size_t len, uint64_t off, const char *path);
char *rb_store_path(const char *dir, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* --- zstd context pools (store_codec.c) --- */
void rb_store_pool_init(rb_store_pool *p);
void rb_store_pool_destroy(rb_store_pool *p, void (*free_fn)(void *));
ZSTD_CCtx *rb_store_cctx_get(rb_store *s);
void rb_store_cctx_put(rb_store *s, ZSTD_CCtx *c);
ZSTD_DCtx *rb_store_dctx_get(rb_store *s);
void rb_store_dctx_put(rb_store *s, ZSTD_DCtx *d);
void rb_store_cctx_free(void *c);
void rb_store_dctx_free(void *d);
/* Compresses `data` when that makes it smaller: *out points either at
 * `data` (flags 0) or at *buf (RB_BLOB_ZSTD), *buf being malloc'd. */
int rb_store_compress(rb_store *s, const void *data, size_t len, void **buf, const void **out,
                      size_t *out_len, uint32_t *flags);

/* --- the index (store_index.c) --- */
/* Loads every index file not loaded yet. Call with index_lock held for
 * writing. */
int rb_store_index_refresh(rb_store *s);
/* Looks `id` up in the durable index and in open transactions, loading
 * new index files on a miss. Copies the location into *out. */
int rb_store_index_lookup(rb_store *s, const uint8_t id[32], rb_blob_loc *out, bool reload);
/* Loads the index on first use. */
int rb_store_index_ensure(rb_store *s);
/* Brings the index up to date for a new transaction. */
int rb_store_index_sync(rb_store *s);
/* Remembers that index file `name` is loaded; index_lock held for writing. */
int rb_store_index_note_file(rb_store *s, const char *name);
/* Registers a new pack name; returns its number or a negative error. */
int rb_store_pack_register(rb_store *s, const char *name, uint32_t *no_out);
/* A read-only descriptor for pack `no`; the caller closes it when *owned. */
int rb_store_pack_open(rb_store *s, uint32_t no, int *fd_out, bool *owned);
char *rb_store_pack_path(rb_store *s, uint32_t no, const char *ext);
/* Writes the index file of pack `no` from `entries`. */
int rb_store_index_write(rb_store *s, uint32_t no, rb_blob_loc *entries, size_t n);
/* Reads one index file; entries are malloc'd. */
int rb_store_index_read(const char *path, rb_blob_loc **entries, size_t *n);
void rb_store_index_reset(rb_store *s);

/* --- records (store_blob.c) --- */
/* Reads the stored bytes of `loc` and decodes them into `out` (which must
 * hold loc->orig_len bytes; not for chunk lists). */
int rb_store_record_load(rb_store *s, const rb_blob_loc *loc, void *out);
/* Reads a chunk list: ids of the chunks, 32 bytes each. */
int rb_store_chunklist_load(rb_store *s, const rb_blob_loc *loc, uint8_t **ids, size_t *n);
size_t rb_store_chunklist_size(size_t nchunks);
int rb_store_chunklist_encode(const uint8_t *ids, size_t nchunks, uint64_t total, uint8_t *out);
/* Verifies one record: content hash for a plain record, the list's own
 * checksum and sizes for a chunk list. RB_ECORRUPT with a message. */
int rb_store_record_verify(rb_store *s, const rb_blob_loc *loc);

/* --- transactions (store_txn.c) --- */
/* Stores content up to one chunk long whose id is known. */
int rb_store_txn_put_chunk(rb_store_txn *txn, const void *data, size_t len, const uint8_t id[32]);
/* Same, never compressed. */
int rb_store_txn_put_raw(rb_store_txn *txn, const void *data, size_t len, const uint8_t id[32]);
/* Stores a chunk list for `whole_id`. */
int rb_store_txn_put_list(rb_store_txn *txn, const uint8_t whole_id[32], const uint8_t *ids,
                          size_t nchunks, uint64_t total);
/* Marks `id` as used by the snapshot; `loc` is its record when known. */
int rb_store_txn_use(rb_store_txn *txn, const uint8_t id[32], const rb_blob_loc *loc);
/* Stored durably or by this transaction; *loc gets the record. */
bool rb_store_txn_known(rb_store_txn *t, const uint8_t id[32], rb_blob_loc *loc);
/* For gc, which holds the transaction lock exclusively already. */
int rb_store_txn_begin_locked(rb_store *store, rb_store_txn **out);
/* Stores a record copied as is from another pack. */
int rb_store_txn_append_raw(rb_store_txn *txn, const rb_blob_loc *loc, const void *stored);
/* Syncs the packs, writes their index files and adds the records to the
 * store's index. */
int rb_store_txn_write_indexes(rb_store_txn *t);
/* Writes out buffered records; t->mu held. */
int rb_store_txn_flush_locked(rb_store_txn *t);
/* Syncs and closes every pack the transaction wrote. */
int rb_store_txn_finish_packs(rb_store_txn *t);
void rb_store_txn_free(rb_store_txn *txn, bool remove_packs);

/* Commits like rb_store_snapshot_commit, refusing unless the refs blob
 * comes out as `refs`: an imported snapshot uses exactly the exported set. */
int rb_store_import_commit(rb_store_txn *txn, const char *id, cJSON *doc, const char *refs);

/* --- gc's pack rewriting (store_repack.c) --- */
/* Copies records of pack `from` as they are into transaction t. */
int rb_store_repack_copy(rb_store_txn *t, uint32_t from, const rb_blob_loc *recs, size_t n);
/* Removes a pack and its index file. */
int rb_store_pack_remove(rb_store *s, const char *name);
/* Merges the small packs into full ones. */
int rb_store_repack_small(rb_store *s);

/* --- parallel chunking of one stream (store_chunker.c) --- */
typedef struct rb_store_chunker rb_store_chunker;
int rb_store_chunker_new(rb_store_txn *txn, rb_store_chunker **out);
/* Hands `buf` (a malloc'd chunk buffer, owned by the chunker from now on)
 * to the workers; *next, when not NULL, gets an empty buffer to fill. */
int rb_store_chunker_submit(rb_store_chunker *c, uint8_t *buf, size_t len, uint8_t **next);
/* Waits for every chunk: their ids, in order, owned by the chunker. */
int rb_store_chunker_finish(rb_store_chunker *c, const uint8_t **ids, size_t *n);
void rb_store_chunker_free(rb_store_chunker *c);

/* --- snapshots (store_snapshot.c) --- */
char *rb_store_meta_path(rb_store *s, const char *id);
/* Every id a snapshot's refs object names, the refs blob itself and its
 * chunks included, as raw ids. */
int rb_store_snapshot_refs(rb_store *s, const cJSON *doc, uint8_t **ids, size_t *n);
/* Lists <dir>/<id><suffix> sorted by the number `key` in each, then id. */
int rb_store_list_docs(const char *dir, const char *suffix, const char *key, char ***ids_out,
                       size_t *count_out);

/* --- internal locks (store_lock.c) --- */
int rb_store_data_lock(rb_store *s, bool exclusive, int *fd_out);

#endif
