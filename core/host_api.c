/* The host-API table: every service a backend gets from the host. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rb_error.h"
#include "rb_fs.h"
#include "rb_log.h"
#include "rb_node.h"
#include "rb_op.h"
#include "rb_progress.h"

static void h_log(rb_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    rb_log_v(level, fmt, ap);
    va_end(ap);
}

static int h_error_set(int code, rb_error_class klass, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    rb_error_vset(code, klass, fmt, ap);
    va_end(ap);
    return code;
}

static char *h_strdup(const char *s)
{
    return s ? strdup(s) : NULL;
}

static const char *h_snapshot_id(rb_op *op)
{
    return op->snapshot_id;
}

static const char *h_target_name(rb_op *op)
{
    return op->target_name;
}

static const char *h_rollback_id(rb_op *op)
{
    return op->rollback_id;
}

static unsigned int h_flags(rb_op *op)
{
    return op->flags;
}

static const char *h_restore_to(rb_op *op)
{
    return op->restore_to;
}

static const char *h_scratch_dir(rb_op *op)
{
    if (op->scratch_dir)
        return op->scratch_dir;
    const char *base = getenv("TMPDIR");
    char tmpl[4096];
    snprintf(tmpl, sizeof tmpl, "%s/rbhost-op-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tmpl)) {
        rb_error_os("cannot create a scratch directory under %s", base && *base ? base : "/tmp");
        return NULL;
    }
    op->scratch_dir = strdup(tmpl);
    return op->scratch_dir;
}

static const rb_node *h_config(rb_op *op)
{
    return (const rb_node *)op->config;
}

static rb_node *h_metadata(rb_op *op)
{
    return (rb_node *)op->metadata;
}

static const rb_node *h_previous(rb_op *op)
{
    return (const rb_node *)op->previous;
}

static rb_node *h_result(rb_op *op)
{
    return (rb_node *)op->result;
}

static rb_node *h_safety(rb_op *op)
{
    return (rb_node *)op->safety_metadata;
}

static int need_txn(rb_op *op)
{
    if (op->txn)
        return 0;
    return rb_error_set(RB_EUNSUPPORTED, RB_ERRCLASS_PLUGIN,
                        "blobs can only be written while a snapshot is being taken");
}

/* Writers and readers carry their op so that the bytes they move show in
 * its progress; backends only ever see the opaque pointer. */
typedef struct counted_writer {
    rb_store_writer *w;
    rb_progress *progress;
} counted_writer;

typedef struct counted_reader {
    rb_store_reader *r;
    rb_progress *progress;
} counted_reader;

static int h_writer_open(rb_op *op, rb_blob_writer **out)
{
    int rc = need_txn(op);
    if (rc)
        return rc;
    counted_writer *cw = malloc(sizeof *cw);
    if (!cw)
        return rb_error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
    cw->progress = op->progress;
    rc = rb_store_writer_open(op->txn, &cw->w);
    if (rc) {
        free(cw);
        return rc;
    }
    *out = (rb_blob_writer *)cw;
    return 0;
}

static int h_write(rb_blob_writer *w, const void *data, size_t len)
{
    counted_writer *cw = (counted_writer *)w;
    int rc = rb_store_writer_write(cw->w, data, len);
    if (rc == 0)
        rb_progress_add_bytes(cw->progress, len);
    return rc;
}

static int h_writer_commit(rb_blob_writer *w, char id[RB_BLOB_ID_SIZE])
{
    counted_writer *cw = (counted_writer *)w;
    int rc = rb_store_writer_commit(cw->w, id);
    free(cw);
    return rc;
}

static void h_writer_abort(rb_blob_writer *w)
{
    counted_writer *cw = (counted_writer *)w;
    if (!cw)
        return;
    rb_store_writer_abort(cw->w);
    free(cw);
}

static int h_put(rb_op *op, const void *data, size_t len, char id[RB_BLOB_ID_SIZE])
{
    int rc = need_txn(op);
    rc = rc ? rc : rb_store_put(op->txn, data, len, id);
    if (rc == 0)
        rb_progress_add_bytes(op->progress, len);
    return rc;
}

static int h_put_fd(rb_op *op, int fd, char id[RB_BLOB_ID_SIZE])
{
    int rc = need_txn(op);
    if (rc)
        return rc;
    /* The store reads from the current offset to the end. */
    struct stat st;
    off_t at = lseek(fd, 0, SEEK_CUR);
    uint64_t len = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && at >= 0 && st.st_size > at
                       ? (uint64_t)(st.st_size - at)
                       : 0;
    rc = rb_store_put_fd(op->txn, fd, id);
    if (rc == 0)
        rb_progress_add_bytes(op->progress, len);
    return rc;
}

static int h_ref(rb_op *op, const char *id)
{
    int rc = need_txn(op);
    return rc ? rc : rb_store_ref(op->txn, id);
}

static int64_t h_blob_size(rb_op *op, const char *id)
{
    return rb_store_blob_size(op->store, id);
}

static int h_reader_open(rb_op *op, const char *id, rb_blob_reader **out)
{
    counted_reader *cr = malloc(sizeof *cr);
    if (!cr)
        return rb_error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
    cr->progress = op->progress;
    int rc = rb_store_reader_open(op->store, id, &cr->r);
    if (rc) {
        free(cr);
        return rc;
    }
    *out = (rb_blob_reader *)cr;
    return 0;
}

static int64_t h_read(rb_blob_reader *r, void *buf, size_t len)
{
    counted_reader *cr = (counted_reader *)r;
    int64_t n = rb_store_reader_read(cr->r, buf, len);
    if (n > 0)
        rb_progress_add_bytes(cr->progress, (uint64_t)n);
    return n;
}

static void h_reader_close(rb_blob_reader *r)
{
    counted_reader *cr = (counted_reader *)r;
    if (!cr)
        return;
    rb_store_reader_close(cr->r);
    free(cr);
}

static int h_get_fd(rb_op *op, const char *id, int fd)
{
    int rc = rb_store_get_fd(op->store, id, fd);
    if (rc == 0 && op->progress) {
        int64_t size = rb_store_blob_size(op->store, id);
        if (size > 0)
            rb_progress_add_bytes(op->progress, (uint64_t)size);
    }
    return rc;
}

static void h_progress(rb_op *op, uint64_t done, uint64_t total, const char *unit)
{
    rb_progress_update(op->progress, done, total, unit);
}

static int h_cancelled(rb_op *op)
{
    if (op->cancel && atomic_load(op->cancel))
        return 1;
    return op->deadline > 0 && rb_monotonic() > op->deadline;
}

static const rb_host_api host_api = {
    .version = RB_HOST_API_VERSION,
    .abi_major = RB_ABI_MAJOR,
    .abi_minor = RB_ABI_MINOR,
    .host_version = "rbhost " RB_VERSION,
    .log = h_log,
    .error_set = h_error_set,
    .alloc = malloc,
    .realloc = realloc,
    .free = free,
    .strdup = h_strdup,
    .op_snapshot_id = h_snapshot_id,
    .op_target_name = h_target_name,
    .op_rollback_id = h_rollback_id,
    .op_flags = h_flags,
    .op_restore_to = h_restore_to,
    .op_scratch_dir = h_scratch_dir,
    .config = h_config,
    .metadata = h_metadata,
    .previous_metadata = h_previous,
    .result = h_result,
    .safety_metadata = h_safety,
    .node_type = rb_node_type_of,
    .node_get = rb_node_get,
    .node_count = rb_node_count,
    .node_at = rb_node_at,
    .node_key = rb_node_key,
    .node_string = rb_node_string,
    .node_int = rb_node_int,
    .node_number = rb_node_number,
    .node_bool = rb_node_bool,
    .node_to_json = rb_node_to_json,
    .node_add_object = rb_node_add_object,
    .node_add_array = rb_node_add_array,
    .node_add_string = rb_node_add_string,
    .node_add_int = rb_node_add_int,
    .node_add_number = rb_node_add_number,
    .node_add_bool = rb_node_add_bool,
    .node_add_null = rb_node_add_null,
    .node_add_json = rb_node_add_json,
    .blob_writer_open = h_writer_open,
    .blob_write = h_write,
    .blob_writer_commit = h_writer_commit,
    .blob_writer_abort = h_writer_abort,
    .blob_put = h_put,
    .blob_put_fd = h_put_fd,
    .blob_ref = h_ref,
    .blob_size = h_blob_size,
    .blob_reader_open = h_reader_open,
    .blob_read = h_read,
    .blob_reader_close = h_reader_close,
    .blob_get_fd = h_get_fd,
    .progress = h_progress,
    .cancelled = h_cancelled,
};

const rb_host_api *rb_host_api_get(void)
{
    return &host_api;
}

void rb_op_init(struct rb_op *op)
{
    memset(op, 0, sizeof *op);
    op->result = cJSON_CreateObject();
}

void rb_op_release(struct rb_op *op)
{
    if (op->scratch_dir) {
        if (rb_fs_remove_tree(op->scratch_dir) < 0)
            rb_log(RB_LOG_WARN, "could not remove %s: %s", op->scratch_dir,
                   rb_error_last()->message);
        free(op->scratch_dir);
        op->scratch_dir = NULL;
    }
    cJSON_Delete(op->result);
    op->result = NULL;
}
