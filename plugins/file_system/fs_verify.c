/* plan and verify: both compare the target tree with the snapshot and
 * report; neither changes anything. */
#include "fs_backend.h"
#include "fs_compare.h"
#include "fs_report.h"

int rb_fs_plan(rb_op *op)
{
    const rb_host_api *h = rb_fs_host;
    rb_fs_diff d;
    int rc = rb_fs_diff_compute(h, op, rb_fs_restore_target(h, op), &d);
    if (!rc && rb_fs_report_diff(h, h->result(op), &d, "changes"))
        rc = h->error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
    rb_fs_diff_free(&d);
    return rc;
}

int rb_fs_verify(rb_op *op)
{
    const rb_host_api *h = rb_fs_host;
    rb_fs_diff d;
    int rc = rb_fs_diff_compute(h, op, rb_fs_restore_target(h, op), &d);
    if (!rc && rb_fs_report_diff(h, h->result(op), &d, "differences"))
        rc = h->error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
    if (!rc && rb_fs_report_total(&d))
        rc = h->error_set(RB_EDRIFT, RB_ERRCLASS_VERIFY,
                          "%s differs from snapshot %s in %llu entries",
                          d.cfg.n_roots == 1 ? d.cfg.roots[0].path : "the tree",
                          h->op_snapshot_id(op), (unsigned long long)rb_fs_report_total(&d));
    rb_fs_diff_free(&d);
    return rc;
}
