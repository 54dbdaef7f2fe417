/* The MySQL and MariaDB engine of the database backend: opens the target,
 * connects, and hands each operation to the method that made the
 * snapshot (clone or dump). */
#include <string.h>

#include "db_engine.h"
#include "my_db.h"

static int my_accepts(const char *cs)
{
    return my_url_accepts(cs);
}

/* Opens the target and a connection with the session settings every
 * operation uses; with `in_live` 0 it connects without a default database,
 * for operations that must work when the live database is gone. */
static int open_all(my_target *t, const rb_host_api *host, rb_op *op, int in_live, MYSQL **c)
{
    *c = NULL;
    int rc = my_target_open(t, host, op);
    if (!rc && my_library_acquire())
        rc = my_error(t, RB_ENOMEM, RB_ERRCLASS_DATABASE,
                      "cannot initialise the MySQL client library");
    t->library_held = !rc;
    if (!rc)
        rc = my_connect(t, in_live ? t->live : NULL, c);
    if (!rc)
        rc = my_session_setup(t, *c);
    return rc;
}

static void close_all(my_target *t, MYSQL *c)
{
    if (c)
        mysql_close(c);
    if (t->library_held)
        my_library_release();
    my_target_close(t);
}

static int oom(my_target *t)
{
    return my_error(t, RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
}

static int record_common(my_target *t, MYSQL *c, const char *method, const my_catalog *cat,
                         rb_node *meta)
{
    const rb_host_api *h = t->host;
    if (!h->node_add_string(meta, "method", method) ||
        !h->node_add_string(meta, "database", t->live) ||
        !h->node_add_string(meta, "connection_string", t->redacted) ||
        !h->node_add_string(meta, "server_version", mysql_get_server_info(c)))
        return oom(t);
    return my_catalog_save(h, cat, meta) ? oom(t) : 0;
}

static int my_snapshot(const rb_host_api *host, rb_op *op)
{
    my_target t;
    MYSQL *c = NULL;
    my_catalog cat = {0};
    const rb_node *cfg = host->config(op);
    const char *method = host->node_string(host->node_get(cfg, "method"));
    const char *backup = host->node_string(host->node_get(cfg, "backup_file"));
    rb_node *meta = host->metadata(op);
    int rc = open_all(&t, host, op, 1, &c);
    if (!rc && method && strcmp(method, "clone") && strcmp(method, "dump"))
        rc = my_error(&t, RB_EINVAL, RB_ERRCLASS_CONFIG, "method: '%s' is neither clone nor dump",
                      method);
    if (!rc)
        rc = my_catalog_read(&t, c, t.live, &cat);
    const char *used = method ? method : "clone";
    if (!rc && !strcmp(used, "clone")) {
        rc = my_clone_snapshot(&t, c, &cat, meta);
        /* Without an explicit method, a user who may not create schemas
         * still gets a snapshot: the dump needs only read access. */
        if (rc == RB_EPERM && !method) {
            host->log(RB_LOG_INFO, "clone not possible (%s); taking a dump instead", t.err_msg);
            used = "dump";
            rc = my_dump_snapshot(&t, c, &cat, meta);
        }
    } else if (!rc) {
        rc = my_dump_snapshot(&t, c, &cat, meta);
    }
    if (!rc)
        rc = record_common(&t, c, used, &cat, meta);
    if (!rc && backup && *backup) {
        const char *schema = host->node_string(host->node_get(meta, "clone_schema"));
        rc = my_sqlfile_write(&t, c, &cat, used, schema, backup);
        if (!rc && !host->node_add_string(meta, "backup_file", backup))
            rc = oom(&t);
        if (rc && !strcmp(used, "clone") && schema) {
            my_target failed = t;
            my_schema_drop(&t, c, schema);
            rc = my_error_forward(&t, &failed);
        }
    }
    my_catalog_free(&cat);
    close_all(&t, c);
    return rc;
}

static int my_restore(const rb_host_api *host, rb_op *op)
{
    my_target t;
    MYSQL *c = NULL;
    const rb_node *meta = host->metadata(op);
    rb_node *result = host->result(op);
    const char *method = host->node_string(host->node_get(meta, "method"));
    int rc = open_all(&t, host, op, 0, &c);
    if (!rc && method && !strcmp(method, "clone"))
        rc = my_clone_restore(&t, c, meta, result);
    else if (!rc && method && !strcmp(method, "dump"))
        rc = my_dump_restore(&t, c, meta, result);
    else if (!rc)
        rc = my_error(&t, RB_ECORRUPT, RB_ERRCLASS_STORE, "snapshot %s records no known method",
                      host->op_snapshot_id(op));
    if (!rc && (!host->node_add_string(result, "status", "success") ||
                !host->node_add_string(result, "database", t.live)))
        rc = oom(&t);
    close_all(&t, c);
    return rc;
}

static int check(const rb_host_api *host, rb_op *op, int plan)
{
    my_target t;
    MYSQL *c = NULL;
    int rc = open_all(&t, host, op, 0, &c);
    if (!rc)
        rc = my_verify_run(&t, c, host->metadata(op), host->result(op), plan);
    close_all(&t, c);
    return rc;
}

static int my_verify(const rb_host_api *host, rb_op *op)
{
    return check(host, op, 0);
}

static int my_plan(const rb_host_api *host, rb_op *op)
{
    return check(host, op, 1);
}

static int my_destroy(const rb_host_api *host, rb_op *op)
{
    const char *schema = host->node_string(host->node_get(host->metadata(op), "clone_schema"));
    if (!schema)
        return 0;
    my_target t;
    MYSQL *c = NULL;
    int rc = open_all(&t, host, op, 0, &c);
    if (!rc)
        rc = my_schema_drop(&t, c, schema);
    close_all(&t, c);
    return rc;
}

const rb_db_engine rb_db_engine_mysql = {
    "mysql", my_accepts, my_snapshot, my_restore, my_verify, my_plan, my_destroy,
};
