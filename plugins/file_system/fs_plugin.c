/* The file_system backend: records directory trees (content, metadata,
 * xattrs and ACLs, links, sparse files) into the store and rolls them back
 * in place, touching only what differs. */
#include "fs_backend.h"
#include "fs_compare.h"
#include "fs_config.h"

const rb_host_api *rb_fs_host;

static int fs_init(const rb_host_api *host, void **state)
{
    rb_fs_host = host;
    *state = NULL;
    return 0;
}

static void fs_fini(void *state)
{
    (void)state;
    rb_fs_diff_drop_kept();
}

static int fs_snapshot(void *state, rb_op *op)
{
    (void)state;
    return rb_fs_snapshot(op);
}

static int fs_restore(void *state, rb_op *op)
{
    (void)state;
    return rb_fs_restore(op);
}

static int fs_verify(void *state, rb_op *op)
{
    (void)state;
    return rb_fs_verify(op);
}

static int fs_plan(void *state, rb_op *op)
{
    (void)state;
    return rb_fs_plan(op);
}

static const rollback_plugin file_system_backend = {
    RB_PLUGIN_HEADER,
    "file_system",
    "directory trees: content, metadata, xattrs/ACLs, links; incremental, restored in place",
    "1.0.0",
    RB_PLUGIN_CAP_RESTORE_TO,
    rb_fs_config_keys,
    fs_init,
    fs_fini,
    fs_snapshot,
    fs_restore,
    fs_verify,
    fs_plan,
    NULL,
    NULL,
};

RB_PLUGIN_DEFINE(file_system_backend)
