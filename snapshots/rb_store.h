/* The snapshot store: snapshot metadata documents, rollback records and a
 * content-addressed, compressed, deduplicated blob store.
 *
 * Internal to the host (never installed). Functions return 0 or a negative
 * rb_error code with the message set through rb_error_set(). The on-disk
 * layout is the store's own business; nothing outside snapshots/ looks at
 * files under the store directory. */
#ifndef RB_STORE_H
#define RB_STORE_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <rbhost/host.h>

typedef struct rb_store rb_store;
typedef struct rb_store_txn rb_store_txn;
typedef struct rb_store_writer rb_store_writer;
typedef struct rb_store_reader rb_store_reader;

#define RB_STORE_CREATE 0x1u /* create the store if it does not exist */

/* Opens the store at `location`: a directory path, or
 * s3://BUCKET[/PREFIX][?endpoint=URL&region=R&style=path|virtual] for an
 * S3 store (store_s3.h), which works through a local cache directory.
 * Takes no lock. */
int rb_store_open(rb_store **out, const char *location, unsigned int flags);
void rb_store_close(rb_store *store);
/* Defaults for s3:// locations from the front end's configuration file
 * ([s3] section); the URL's query overrides them, and they override the
 * environment. Copied; NULL clears them. */
typedef struct rb_store_s3_settings {
    const char *endpoint;
    const char *region;
    const char *style; /* "path" or "virtual" */
    const char *ca_file;
} rb_store_s3_settings;
int rb_store_s3_configure(const rb_store_s3_settings *settings);

/* The location as given (the s3:// URL without its query for S3). */
const char *rb_store_location(const rb_store *store);

/* The default location: /var/lib/rbhost for root, $XDG_STATE_HOME/rbhost
 * or ~/.local/state/rbhost otherwise. Returns a malloc'd string. */
char *rb_store_default_location(void);

/* Snapshot and rollback ids: [A-Za-z0-9][A-Za-z0-9._-]{0,127}. Returns 0,
 * or RB_EINVAL with a message quoting the id. Checked before any file is
 * touched. */
int rb_store_id_validate(const char *id, const char *what);

/* Locks, with flock: the kernel drops them when the process dies.
 * Shared for readers, exclusive for writers. When `wait` is 0 and another
 * process holds a conflicting lock, returns RB_ELOCKED with the message
 * "store <dir> is locked by pid N (command)". */
typedef enum rb_store_lock_mode {
    RB_STORE_LOCK_SHARED = 1,
    RB_STORE_LOCK_EXCLUSIVE = 2
} rb_store_lock_mode;
int rb_store_lock(rb_store *store, rb_store_lock_mode mode, const char *command, int wait);
void rb_store_unlock(rb_store *store);

/* --- writing blobs: one transaction per snapshot being taken ---
 * All blob functions on one transaction are thread-safe. Blobs become
 * durable in rb_store_snapshot_commit, before the metadata naming them. */
int rb_store_txn_begin(rb_store *store, rb_store_txn **out);
int rb_store_writer_open(rb_store_txn *txn, rb_store_writer **out);
int rb_store_writer_write(rb_store_writer *w, const void *data, size_t len);
/* Finishes and frees w; id_out gets the hex SHA-256 of the content. */
int rb_store_writer_commit(rb_store_writer *w, char id_out[RB_BLOB_ID_SIZE]);
void rb_store_writer_abort(rb_store_writer *w);
int rb_store_put(rb_store_txn *txn, const void *data, size_t len, char id_out[RB_BLOB_ID_SIZE]);
int rb_store_put_fd(rb_store_txn *txn, int fd, char id_out[RB_BLOB_ID_SIZE]);
/* Marks an existing blob as used by this snapshot. RB_ENOTFOUND if absent. */
int rb_store_ref(rb_store_txn *txn, const char *id);
/* Commits: makes every blob of the transaction durable, records the list
 * of blobs the snapshot uses, then writes `doc` as <id>_metadata.json
 * atomically (adding a top-level "store" object with the blob count, the
 * stored and original bytes). Refuses (RB_EEXISTS) when the snapshot
 * exists. Frees txn whatever the result. */
int rb_store_snapshot_commit(rb_store_txn *txn, const char *id, cJSON *doc);
/* Adds the transaction's blobs to an existing snapshot and replaces its
 * document with `doc` (atomically; the snapshot keeps every blob it had).
 * Used for a safety snapshot that a restore completes. Frees txn. */
int rb_store_snapshot_amend(rb_store_txn *txn, const char *id, cJSON *doc);
/* Drops the transaction: blobs it alone wrote are garbage. Frees txn. */
void rb_store_txn_abort(rb_store_txn *txn);

/* --- reading blobs (thread-safe) --- */
int64_t rb_store_blob_size(rb_store *store, const char *id);
int rb_store_blob_exists(rb_store *store, const char *id);
int rb_store_reader_open(rb_store *store, const char *id, rb_store_reader **out);
/* Bytes read, 0 at the end, negative rb_error; RB_ECORRUPT when the
 * content does not hash to its id. */
int64_t rb_store_reader_read(rb_store_reader *r, void *buf, size_t len);
void rb_store_reader_close(rb_store_reader *r);
int rb_store_get_fd(rb_store *store, const char *id, int fd);

/* --- snapshot metadata documents --- */
int rb_store_snapshot_read(rb_store *store, const char *id, cJSON **doc_out);
/* Rewrites an existing snapshot's document (status changes). */
int rb_store_snapshot_update(rb_store *store, const char *id, const cJSON *doc);
/* Ids of every snapshot, sorted by created_at then id. Free with
 * rb_store_free_list. */
int rb_store_snapshot_list(rb_store *store, char ***ids_out, size_t *count_out);
/* Removes the document; blobs only it used go at the next rb_store_gc. */
int rb_store_snapshot_delete(rb_store *store, const char *id);
void rb_store_free_list(char **ids, size_t count);

/* --- rollback records (seed 001 history schema) --- */
int rb_store_record_write(rb_store *store, const char *rollback_id, const cJSON *record);
int rb_store_record_read(rb_store *store, const char *rollback_id, cJSON **record_out);
/* Ids sorted by started_at then id. */
int rb_store_record_list(rb_store *store, char ***ids_out, size_t *count_out);

/* --- journals of rollbacks in progress (one JSON document each) ---
 * Written durably (temporary name, fsync, rename) after every step of a
 * rollback and removed once its record is written: a journal that remains
 * is a rollback that was interrupted. */
int rb_store_journal_write(rb_store *store, const char *rollback_id, const cJSON *journal);
int rb_store_journal_read(rb_store *store, const char *rollback_id, cJSON **journal_out);
/* Ids sorted by started_at then id; an empty list when there is none. */
int rb_store_journal_list(rb_store *store, char ***ids_out, size_t *count_out);
/* Removing a journal that is not there is not an error. */
int rb_store_journal_remove(rb_store *store, const char *rollback_id);

/* --- maintenance --- */
typedef struct rb_store_stats {
    uint64_t snapshots;
    uint64_t records;
    uint64_t blobs;
    uint64_t stored_bytes;   /* on disk, compressed */
    uint64_t original_bytes; /* content size before compression and dedup */
} rb_store_stats;
int rb_store_stats_get(rb_store *store, rb_store_stats *out);

/* One problem found by rb_store_check. */
typedef struct rb_store_problem {
    const char *kind;     /* "missing_blob", "corrupt_blob", "bad_metadata", "bad_index" */
    const char *object;   /* blob id or snapshot id */
    const char *snapshot; /* the snapshot that names it, or NULL */
    const char *detail;
} rb_store_problem;
typedef void (*rb_store_problem_fn)(const rb_store_problem *p, void *ctx);
/* Re-hashes every blob and checks every snapshot's blobs exist. Returns 0
 * when clean, RB_ECORRUPT when problems were reported through `fn`. */
int rb_store_check(rb_store *store, rb_store_problem_fn fn, void *ctx);
/* Removes blobs no snapshot uses; safe against a snapshot being committed
 * at the same time (takes the exclusive lock itself). */
int rb_store_gc(rb_store *store, uint64_t *freed_blobs, uint64_t *freed_bytes);

/* --- the audit log: lines only ever appended ---
 * Appends the line `make` returns (malloc'd, without a newline; NULL after
 * setting an error to give up) given the current last line of the log
 * (NULL when the log is empty). The log's own exclusive lock is held from
 * reading the last line until the new one is durable, so concurrent
 * appenders chain one after the other. */
typedef char *(*rb_store_audit_fn)(const char *last_line, void *arg);
int rb_store_audit_append(rb_store *store, rb_store_audit_fn make, void *arg);
/* The whole log as written (empty when there is none); *text_out is
 * malloc'd and NUL-terminated. */
int rb_store_audit_read(rb_store *store, char **text_out, size_t *len_out);

/* Copies snapshot `id` and every blob it uses from one store to another
 * (a directory or an s3:// location): records travel as stored, each
 * checked against its id first; those the destination holds already are
 * not copied again. Refuses (RB_EEXISTS) when `to` has the id. */
typedef struct rb_store_copy_stats {
    uint64_t copied_blobs;
    uint64_t reused_blobs;
    uint64_t copied_bytes; /* stored (compressed) bytes sent */
} rb_store_copy_stats;
int rb_store_copy_snapshot(rb_store *from, rb_store *to, const char *id, rb_store_copy_stats *st);

/* Export one snapshot (document and every blob it uses) as a
 * zstd-compressed tar; import one back. Import refuses absolute paths, "..",
 * links, unknown entries and an existing snapshot id. */
int rb_store_export(rb_store *store, const char *id, const char *archive_path);
int rb_store_import(rb_store *store, const char *archive_path, char **id_out);

#endif
