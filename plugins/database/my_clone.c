/* The clone method: the snapshot is a server-side copy of every table in a
 * hidden schema; rollback swaps the copies in with one RENAME TABLE, keeps
 * the replaced tables as the safety snapshot, and copies again so the
 * snapshot stays usable. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "my_db.h"

int my_clone_snapshot(my_target *t, MYSQL *c, my_catalog *cat, rb_node *meta)
{
    const rb_host_api *h = t->host;
    char schema[65];
    my_schema_name('s', h->op_snapshot_id(t->op), schema);
    int rc = my_schema_create(t, c, schema, cat);
    if (rc)
        return rc;
    double start = my_now();
    rc = my_copy_tables(t, c, t->live, schema, cat, 1);
    if (rc) {
        my_target failed = *t;
        my_schema_drop(t, c, schema);
        return my_error_forward(t, &failed);
    }
    if (!h->node_add_string(meta, "clone_schema", schema) ||
        !h->node_add_number(meta, "copy_seconds", my_now() - start))
        return my_error(t, RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
    return 0;
}

/* Every recorded table must still be in the hidden schema: someone may have
 * dropped it by hand, or a rollback may have found the copy tainted. */
static int check_copies(my_target *t, MYSQL *c, const char *schema, const my_catalog *snap)
{
    int exists = my_schema_exists(t, c, schema);
    if (exists < 0)
        return exists;
    my_catalog have = {0};
    int rc = exists ? my_catalog_read_tables(t, c, schema, &have) : 0;
    for (size_t i = 0; !rc && i < snap->ntables; i++)
        if (!my_catalog_table(&have, snap->tables[i].name))
            rc = my_error(t, RB_ENOTFOUND, RB_ERRCLASS_DATABASE,
                          "the server-side copy of snapshot %s is incomplete: schema %s lacks "
                          "table %s; this snapshot cannot be restored (take a new one); "
                          "database '%s' is unchanged",
                          t->host->op_snapshot_id(t->op), schema, snap->tables[i].name, t->live);
    my_catalog_free(&have);
    return rc;
}

/* After the swap the live tables hold the snapshot's content: copy them back
 * into the hidden schema, off the rollback's critical path. */
static int recopy(my_target *t, MYSQL *c, const char *schema, my_catalog *snap, rb_node *result)
{
    const rb_host_api *h = t->host;
    double start = my_now();
    int64_t *recorded = calloc(2 * (snap->ntables + 1), sizeof *recorded);
    if (!recorded)
        return my_error(t, RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
    for (size_t i = 0; i < snap->ntables; i++) {
        recorded[2 * i] = snap->tables[i].rows;
        recorded[2 * i + 1] = snap->tables[i].checksum;
    }
    int rc = my_schema_create(t, c, schema, snap);
    if (!rc)
        rc = my_copy_tables(t, c, t->live, schema, snap, 0);
    /* The copies must equal what was recorded; a write that reached the
     * live tables after the swap, before the copy read them, would make
     * them differ. */
    int same = 1;
    for (size_t i = 0; i < snap->ntables; i++) {
        same &= snap->tables[i].rows == recorded[2 * i] &&
                snap->tables[i].checksum == recorded[2 * i + 1];
        snap->tables[i].rows = recorded[2 * i];
        snap->tables[i].checksum = recorded[2 * i + 1];
    }
    free(recorded);
    int reusable = !rc && same;
    if (!reusable) {
        h->log(RB_LOG_WARN,
               "snapshot %s could not be copied again after the rollback (%s); its schema %s "
               "is dropped and the snapshot cannot be restored a second time",
               h->op_snapshot_id(t->op),
               rc ? t->err_msg : "the live tables changed during the copy", schema);
        my_schema_drop(t, c, schema);
    }
    if (!h->node_add_bool(result, "snapshot_reusable", reusable) ||
        !h->node_add_number(result, "recopy_seconds", my_now() - start))
        return my_error(t, RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
    return 0;
}

int my_clone_restore(my_target *t, MYSQL *c, const rb_node *meta, rb_node *result)
{
    const rb_host_api *h = t->host;
    const char *schema = h->node_string(h->node_get(meta, "clone_schema"));
    if (!schema || strlen(schema) > 64)
        return my_error(t, RB_ECORRUPT, RB_ERRCLASS_STORE,
                        "snapshot %s names no schema holding its copies", h->op_snapshot_id(t->op));
    my_catalog snap;
    int rc = my_catalog_load(t, meta, &snap);
    if (rc)
        return rc;
    rc = check_copies(t, c, schema, &snap);
    if (!rc)
        rc = my_restore_swap(t, c, schema, &snap, result);
    if (!rc && !h->node_add_string(result, "method", "mysql_rename_swap"))
        rc = my_error(t, RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
    if (!rc)
        rc = recopy(t, c, schema, &snap, result);
    my_catalog_free(&snap);
    return rc;
}
