/* The infrastructure backend's internal interfaces: the target's config,
 * the two places a Terraform/OpenTofu state lives (a local file, the pg
 * backend's table), and the operations built on them. Never installed. */
#ifndef RB_INFRA_H
#define RB_INFRA_H

#include <rbhost/rbhost.h>
#include <stddef.h>
#include <stdint.h>

/* The host table, set once by init(); every file of the backend uses it. */
extern const rb_host_api *rb_infra_host;

/* A byte buffer owned by the backend (malloc/free). */
typedef struct rb_infra_buf {
    char *data;
    size_t len;
} rb_infra_buf;

void rb_infra_buf_free(rb_infra_buf *b);
/* Copies len bytes into a fresh buffer; RB_ENOMEM after error_set. */
int rb_infra_buf_set(rb_infra_buf *b, const char *data, size_t len);

typedef enum rb_infra_kind {
    RB_INFRA_LOCAL = 1,
    RB_INFRA_PG = 2,
} rb_infra_kind;

/* A target's config. Strings belong to the host's config tree, except
 * state_path, which is resolved and owned here. */
typedef struct rb_infra_target {
    rb_infra_kind kind;
    const char *backend;
    char *state_path; /* local: absolute path of the state file */
    const char *conn_str;
    const char *schema_name;
    const char *workspace;
    const char *working_dir;
    const char *apply_command;
    int64_t timeout;
} rb_infra_target;

/* Reads and checks the config. For restore, verify and plan, the state
 * path recorded at snapshot time wins over the config's (which may have
 * been relative). */
int rb_infra_target_read(rb_op *op, int from_metadata, rb_infra_target *t);
void rb_infra_target_free(rb_infra_target *t);
/* Sets RB_ENOTFOUND for a target that has no state yet, with advice that
 * fits the operation (a safety snapshot names --no-safety-snapshot). */
int rb_infra_no_state(rb_op *op, const char *where);
/* "state file PATH" or "workspace W in SCHEMA.states", for messages. */
void rb_infra_target_name(const rb_infra_target *t, char *out, size_t size);
/* Adds the target's location to obj (never the connection string). */
int rb_infra_target_describe(const rb_infra_target *t, rb_node *obj);
/* pg: the database, host, port and user a connection string names, never
 * its password. */
int rb_infra_pg_describe(const char *conn_str, rb_node *obj);

/* Called under the backend's lock with the current state document (NULL
 * when there is none). Fills *out with the document to write, or leaves
 * out->data NULL when nothing needs writing; a negative return refuses the
 * change and nothing is written. */
typedef int (*rb_infra_decide_fn)(void *ctx, const rb_infra_buf *current, rb_infra_buf *out);

typedef struct rb_infra_backend {
    /* The live document. *exists is 0 (and doc empty) when there is no
     * state yet. Must not change anything. */
    int (*read)(const rb_infra_target *t, rb_infra_buf *doc, int *exists);
    /* Takes the backend's own lock, reads the current document, asks
     * decide, writes its answer the way the backend's owner would, and
     * releases the lock. Describes what it did in result. */
    int (*replace)(rb_op *op, const rb_infra_target *t, rb_infra_decide_fn decide, void *ctx,
                   rb_node *result);
} rb_infra_backend;

extern const rb_infra_backend rb_infra_backend_local;
extern const rb_infra_backend rb_infra_backend_pg;
const rb_infra_backend *rb_infra_backend_for(const rb_infra_target *t);

/* Whole blob into a buffer. */
int rb_infra_blob_read(rb_op *op, const char *id, rb_infra_buf *out);

/* The vtable operations. */
int rb_infra_snapshot(rb_op *op);
int rb_infra_restore(rb_op *op);
int rb_infra_verify(rb_op *op);
int rb_infra_plan(rb_op *op);

/* Runs the target's apply_command (sh -c, in working_dir, with its
 * timeout), streaming its output into the log line by line, and records
 * apply_status, apply_exit_status and apply_duration_ms in result.
 * 0 when it exited with status 0. */
int rb_infra_apply_run(rb_op *op, const rb_infra_target *t, rb_node *result);

#endif
