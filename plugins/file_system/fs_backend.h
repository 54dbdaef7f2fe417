/* The file_system backend's operations, shared by its source files. */
#ifndef FS_BACKEND_H
#define FS_BACKEND_H

#include <rbhost/rbhost.h>

/* The host table given at init; the backend has no other way to the host. */
extern const rb_host_api *rb_fs_host;

int rb_fs_snapshot(rb_op *op);
int rb_fs_restore(rb_op *op);
int rb_fs_verify(rb_op *op);
int rb_fs_plan(rb_op *op);

#endif
