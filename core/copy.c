/* copy: one snapshot from a store to another (local or S3). */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "rb_core.h"
#include "rb_ctx.h"
#include "rb_error.h"

static int open_locked(rb_ctx *ctx, const char *location, bool create, rb_store **out)
{
    int rc = rb_store_open(out, location, create ? RB_STORE_CREATE : 0);
    if (rc == 0 && (rc = rb_store_lock(*out, RB_STORE_LOCK_SHARED, ctx->command, 0)) < 0) {
        rb_store_close(*out);
        *out = NULL;
    }
    return rc;
}

int rb_snapshot_copy(rb_ctx *ctx, const char *from, const char *to, const char *id,
                     cJSON **response)
{
    *response = NULL;
    int rc = rb_store_id_validate(id, "snapshot id");
    if (rc < 0)
        return rc;
    if (!strcmp(from, to))
        return rb_error_set(RB_EINVAL, RB_ERRCLASS_INVALID,
                            "copy needs two different stores; both are %s", from);
    rb_store *src = NULL, *dst = NULL;
    rc = open_locked(ctx, from, false, &src);
    if (rc < 0)
        rb_error_prefix("source store");
    if (rc == 0 && (rc = open_locked(ctx, to, true, &dst)) < 0)
        rb_error_prefix("destination store");
    rb_store_copy_stats st;
    if (rc == 0)
        rc = rb_store_copy_snapshot(src, dst, id, &st);
    if (rc == 0) {
        cJSON *r = cJSON_CreateObject();
        cJSON_AddStringToObject(r, "status", "success");
        cJSON_AddStringToObject(r, "snapshot_id", id);
        cJSON_AddStringToObject(r, "from", rb_store_location(src));
        cJSON_AddStringToObject(r, "to", rb_store_location(dst));
        cJSON_AddNumberToObject(r, "copied_blobs", (double)st.copied_blobs);
        cJSON_AddNumberToObject(r, "reused_blobs", (double)st.reused_blobs);
        cJSON_AddNumberToObject(r, "copied_bytes", (double)st.copied_bytes);
        *response = r;
    }
    rb_store_close(dst);
    rb_store_close(src);
    return rc;
}
