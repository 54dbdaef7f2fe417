/* rbhost plugin SDK: the host-API table.
 *
 * A backend gets every service from this table, passed to its init(): it
 * never links against the host and calls nothing else of it. Fields are
 * only ever appended; a backend that needs a function added in a later
 * version checks host->version (or tests the pointer for NULL) first:
 *
 *     if (host->version >= 2 && host->something_new) ...
 *
 * Thread safety: the blob_*, log, error_*, progress and cancelled functions
 * may be called from any thread of the backend, concurrently. The node_*
 * functions may be called from one thread at a time for a given tree. */
#ifndef RBHOST_HOST_H
#define RBHOST_HOST_H

#include <stddef.h>
#include <stdint.h>

#include "abi.h"
#include "errors.h"
#include "node.h"

/* One operation (snapshot, restore, verify, plan, destroy, status) on one
 * target. Owned by the host; valid until the vtable function returns. */
typedef struct rb_op rb_op;
typedef struct rb_blob_writer rb_blob_writer;
typedef struct rb_blob_reader rb_blob_reader;

/* Blob ids are the lowercase hex SHA-256 of the blob's uncompressed
 * content: 64 characters plus the terminating NUL. */
#define RB_BLOB_ID_LEN  64
#define RB_BLOB_ID_SIZE 65

typedef enum rb_log_level {
    RB_LOG_ERROR = 0,
    RB_LOG_WARN = 1,
    RB_LOG_INFO = 2,
    RB_LOG_DEBUG = 3,
} rb_log_level;

/* Flags of an operation, from host->op_flags(). */
#define RB_OP_FORCE   0x1u /* the user passed --force: a backend may skip a refusal */
#define RB_OP_DRY_RUN 0x2u /* nothing may change (plan is always called this way) */
#define RB_OP_SAFETY  0x4u /* this snapshot is the safety snapshot taken before a rollback */
/* plan is the pre-flight of a real rollback: only whether the target may be
 * rolled back (is it still the one recorded?) matters, not the changes. A
 * backend that ignores this flag does its whole plan, which is as correct. */
#define RB_OP_PREFLIGHT 0x8u

typedef struct rb_host_api {
    /* --- version 1 --- */
    unsigned int version; /* RB_HOST_API_VERSION of the running host */
    unsigned int abi_major;
    unsigned int abi_minor;
    const char *host_version; /* "rbhost 1.0.0" */

    /* Logging; messages are prefixed with the target's name by the host. */
    void (*log)(rb_log_level level, const char *fmt, ...) RB_PRINTF(2, 3);

    /* Errors: set the message for the negative code the backend is about
     * to return. Per thread; a later call replaces the earlier message.
     * Returns `code`, so a backend can write
     *     return host->error_set(RB_ENOTFOUND, RB_ERRCLASS_GIT, "no repository at %s", p); */
    int (*error_set)(int code, rb_error_class klass, const char *fmt, ...) RB_PRINTF(3, 4);

    /* Memory that crosses the boundary is allocated and freed by the host. */
    void *(*alloc)(size_t size);
    void *(*realloc)(void *ptr, size_t size);
    void (*free)(void *ptr);
    char *(*strdup)(const char *s);

    /* What this operation is about. Strings belong to the host. */
    const char *(*op_snapshot_id)(rb_op *op);
    const char *(*op_target_name)(rb_op *op);
    const char *(*op_rollback_id)(rb_op *op); /* NULL outside a rollback */
    unsigned int (*op_flags)(rb_op *op);
    const char *(*op_restore_to)(
        rb_op *op); /* restore into this directory instead; NULL: in place */
    const char *(*op_scratch_dir)(rb_op *op); /* private directory, removed after the operation */

    /* The target's config, validated against the declared keys, defaults
     * applied. Read only. */
    const rb_node *(*config)(rb_op *op);
    /* snapshot: an empty object to fill with what restore will need.
     * restore, verify, plan, destroy: the metadata recorded then (read only). */
    rb_node *(*metadata)(rb_op *op);
    /* The metadata of the most recent earlier snapshot of the same type and
     * config, or NULL. Lets a backend skip reading what has not changed:
     * blob_ref() of a blob it names fails with RB_ENOTFOUND if the store no
     * longer has it, and the backend then reads the data again. */
    const rb_node *(*previous_metadata)(rb_op *op);
    /* An object for the outcome: restore: seed 001's execution_result
     * fields; verify: {"differences": [...]}; plan: {"summary": "...",
     * "changes": [{"action", "item", ...}]}; status: free form. */
    rb_node *(*result)(rb_op *op);
    /* Only for backends with RB_PLUGIN_CAP_RESTORE_KEEPS_SAFETY, during
     * restore: the metadata object of the safety snapshot, to fill with what
     * the backend kept of the state it replaced (a renamed database or
     * container, or a dump: blobs written during such a restore belong to
     * the safety snapshot). NULL otherwise, and NULL with
     * --no-safety-snapshot: then nothing needs to be kept. */
    rb_node *(*safety_metadata)(rb_op *op);

    /* Reading nodes. A NULL node reads as RB_NODE_MISSING. */
    rb_node_type (*node_type)(const rb_node *node);
    const rb_node *(*node_get)(const rb_node *object, const char *key);
    size_t (*node_count)(const rb_node *node); /* members of an array or object */
    const rb_node *(*node_at)(const rb_node *node, size_t index);
    const char *(*node_key)(const rb_node *member);  /* key of an object's member */
    const char *(*node_string)(const rb_node *node); /* NULL unless a string */
    int64_t (*node_int)(const rb_node *node);        /* 0 unless a number */
    double (*node_number)(const rb_node *node);
    int (*node_bool)(const rb_node *node); /* 0 unless true */
    /* The node as compact JSON text, allocated with host->alloc. */
    char *(*node_to_json)(const rb_node *node);

    /* Building nodes. `key` names the member when `parent` is an object and
     * must be NULL when it is an array (the value is appended). An existing
     * member of that name is replaced. Return the new node, or NULL (out of
     * memory or wrong parent type; error_set has been called). */
    rb_node *(*node_add_object)(rb_node *parent, const char *key);
    rb_node *(*node_add_array)(rb_node *parent, const char *key);
    rb_node *(*node_add_string)(rb_node *parent, const char *key, const char *value);
    rb_node *(*node_add_int)(rb_node *parent, const char *key, int64_t value);
    rb_node *(*node_add_number)(rb_node *parent, const char *key, double value);
    rb_node *(*node_add_bool)(rb_node *parent, const char *key, int value);
    rb_node *(*node_add_null)(rb_node *parent, const char *key);
    /* Parse JSON text into a new member (NULL and error_set on bad JSON). */
    rb_node *(*node_add_json)(rb_node *parent, const char *key, const char *json);

    /* Blobs: content-addressed, compressed and deduplicated by the store.
     * Every blob a snapshot writes or references is kept as long as the
     * snapshot is; blobs of a snapshot that fails are dropped. Writing
     * (writer_open, put, ref) is possible in snapshot() and, for the safety
     * snapshot, in a restore that has safety_metadata; elsewhere it returns
     * RB_EUNSUPPORTED. Reading works in every operation. */
    int (*blob_writer_open)(rb_op *op, rb_blob_writer **out);
    int (*blob_write)(rb_blob_writer *writer, const void *data, size_t len);
    /* Finishes and frees the writer; stores the id in id_out. */
    int (*blob_writer_commit)(rb_blob_writer *writer, char id_out[RB_BLOB_ID_SIZE]);
    void (*blob_writer_abort)(rb_blob_writer *writer);
    /* Whole buffer, or everything readable from fd (from its current offset). */
    int (*blob_put)(rb_op *op, const void *data, size_t len, char id_out[RB_BLOB_ID_SIZE]);
    int (*blob_put_fd)(rb_op *op, int fd, char id_out[RB_BLOB_ID_SIZE]);
    /* Declare that this snapshot uses a blob an earlier one stored, without
     * writing it again. RB_ENOTFOUND if the store lacks it. */
    int (*blob_ref)(rb_op *op, const char *id);
    /* Size of a stored blob's content, or a negative rb_error. */
    int64_t (*blob_size)(rb_op *op, const char *id);
    int (*blob_reader_open)(rb_op *op, const char *id, rb_blob_reader **out);
    /* Bytes read, 0 at the end, or a negative rb_error. The content is
     * checked against its id; a mismatch at the end reads as RB_ECORRUPT. */
    int64_t (*blob_read)(rb_blob_reader *reader, void *buf, size_t len);
    void (*blob_reader_close)(rb_blob_reader *reader);
    /* Write a blob's whole content to fd, verified. */
    int (*blob_get_fd)(rb_op *op, const char *id, int fd);

    /* Progress of long work, in bytes or items (`unit` says which). */
    void (*progress)(rb_op *op, uint64_t done, uint64_t total, const char *unit);
    /* Non-zero once the user interrupted or the step's timeout passed; long
     * loops test it and return RB_ECANCELED. */
    int (*cancelled)(rb_op *op);
} rb_host_api;

#endif
