/* The end both methods share: the live tables move into a schema of their
 * own, the prepared tables take their place, and what was replaced becomes
 * the safety snapshot (or is dropped when none is wanted). */
#include <stdio.h>

#include "my_db.h"

/* Where the replaced tables go: the safety snapshot's own schema, or a
 * schema dropped right after the swap when no safety snapshot is wanted. */
static void keep_schema_name(my_target *t, int safety, char out[65])
{
    const rb_host_api *h = t->host;
    const char *rid = h->op_rollback_id(t->op);
    my_buf id = {0};
    if (safety)
        my_buf_printf(&id, "pre-rollback-%s", rid ? rid : h->op_snapshot_id(t->op));
    else
        my_buf_printf(&id, "%s-%s", h->op_snapshot_id(t->op), rid ? rid : "");
    my_schema_name(safety ? 's' : 'o', my_buf_str(&id) ? id.p : h->op_snapshot_id(t->op), out);
    my_buf_free(&id);
}

/* The swap both methods end with; `from` holds the snapshot's tables. */
int my_restore_swap(my_target *t, MYSQL *c, const char *from, const my_catalog *snap,
                    rb_node *result)
{
    const rb_host_api *h = t->host;
    rb_node *safety = h->safety_metadata(t->op);
    char keep[65];
    keep_schema_name(t, safety != NULL, keep);
    my_catalog live = {0};
    int live_exists = my_schema_exists(t, c, t->live);
    if (live_exists < 0)
        return live_exists;
    int rc = live_exists ? my_catalog_read(t, c, t->live, &live) : 0;
    if (!rc)
        rc = my_schema_create(t, c, keep, snap);
    double swap_seconds = 0;
    if (!rc)
        rc = my_swap_in(t, c, from, keep, snap, &live, &swap_seconds);
    if (rc) {
        my_target failed = *t;
        my_schema_drop(t, c, keep);
        my_catalog_free(&live);
        return my_error_forward(t, &failed);
    }
    if (!h->node_add_number(result, "swap_seconds", swap_seconds) ||
        !h->node_add_int(result, "tables_restored", (int64_t)snap->ntables) ||
        !h->node_add_int(result, "tables_replaced", (int64_t)live.ntables))
        rc = my_error(t, RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
    if (!rc && safety) {
        rc = my_safety_record(t, c, keep, &live, safety);
        if (!rc && !h->node_add_string(result, "safety_schema", keep))
            rc = my_error(t, RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
        if (rc)
            rc = my_error(t, rc, t->err_class,
                          "%s; the rollback itself is done, but the replaced tables in schema "
                          "%s are not recorded as the safety snapshot",
                          t->err_msg, keep);
    } else if (!rc) {
        rc = my_schema_drop(t, c, keep);
    }
    my_catalog_free(&live);
    return rc;
}
