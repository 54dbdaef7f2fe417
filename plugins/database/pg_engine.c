/* The PostgreSQL engine of the database backend: picks the method, opens
 * the connections, and hands over to the snapshot, restore and compare
 * code. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db_engine.h"
#include "pg_db.h"

static int pg_accepts(const char *cs)
{
    if (!strncmp(cs, "postgresql://", 13) || !strncmp(cs, "postgres://", 11))
        return 1;
    if (strstr(cs, "://") || !strchr(cs, '='))
        return 0;
    char *err = NULL;
    PQconninfoOption *o = PQconninfoParse(cs, &err);
    PQfreemem(err);
    if (!o)
        return 0;
    PQconninfoFree(o);
    return 1;
}

/* Connects to the maintenance database and checks that the live one
 * exists, so each failure names the right thing. */
static int open_admin(pg_target *t, PGconn **admin)
{
    int rc = pg_connect_admin(t, admin);
    if (rc)
        return rc;
    int e = pg_database_exists(t, *admin, t->live);
    if (e <= 0) {
        PQfinish(*admin);
        *admin = NULL;
        return e < 0 ? e
                     : t->host->error_set(RB_ENOTFOUND, RB_ERRCLASS_DATABASE,
                                          "database %s does not exist on PostgreSQL server %s",
                                          t->live, pg_server_name(t));
    }
    return 0;
}

static int write_backup(pg_target *t, int server_major, const char *db, const char *path)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.partial-XXXXXX", path);
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0)
        return t->host->error_set(RB_EIO, RB_ERRCLASS_FILESYSTEM,
                                  "cannot create backup_file %s: %s", path, strerror(errno));
    char *ci = pg_conninfo_for(t, db);
    char dbarg[4200];
    snprintf(dbarg, sizeof dbarg, "--dbname=%s", ci ? ci : "");
    free(ci);
    char *tool = pg_tool_path(server_major, "pg_dump");
    char *argv[] = {tool, "--format=custom", dbarg, NULL};
    pg_child child = {-1, NULL};
    int rc = tool ? pg_spawn(t, argv, -1, fd, &child)
                  : t->host->error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
    if (!rc) {
        char what[300];
        snprintf(what, sizeof what, "pg_dump of database %s into backup_file %s", db, path);
        rc = pg_child_wait(t, &child, what);
    }
    free(tool);
    if (!rc && fsync(fd))
        rc = t->host->error_set(RB_EIO, RB_ERRCLASS_FILESYSTEM, "writing backup_file %s: %s", path,
                                strerror(errno));
    close(fd);
    if (!rc && rename(tmp, path))
        rc = t->host->error_set(RB_EIO, RB_ERRCLASS_FILESYSTEM, "cannot write backup_file %s: %s",
                                path, strerror(errno));
    if (rc)
        unlink(tmp);
    return rc;
}

static int clone_with_backup(pg_target *t, PGconn *admin, rb_node *meta, const pg_role *role)
{
    const rb_host_api *h = t->host;
    int rc = pg_snapshot_clone(t, admin, meta, h->op_snapshot_id(t->op));
    const char *backup = h->node_string(h->node_get(h->config(t->op), "backup_file"));
    if (rc || !backup)
        return rc;
    /* The copy is the snapshot: dumping it gives the same state without
     * holding anything open on the live database. */
    const char *copy = h->node_string(h->node_get(meta, "clone_database"));
    rc = pg_sessions_allow(t, admin, copy, 1);
    if (!rc)
        rc = write_backup(t, role->server_major, copy, backup);
    int src = pg_sessions_allow(t, admin, copy, 0);
    if (!rc)
        rc = src;
    if (!rc && !h->node_add_string(meta, "backup_file", backup))
        rc = RB_ENOMEM;
    if (rc)
        pg_drop_database(t, admin, copy);
    return rc;
}

static int pg_snapshot(const rb_host_api *host, rb_op *op)
{
    pg_target t;
    int rc = pg_target_open(&t, host, op, NULL);
    if (rc)
        return rc;
    PGconn *admin = NULL;
    pg_role role;
    rc = open_admin(&t, &admin);
    if (!rc)
        rc = pg_role_read(&t, admin, &role);
    const char *method = host->node_string(host->node_get(host->config(op), "method"));
    if (!rc && !method)
        method = role.createdb && role.owns_live ? "clone" : "dump";
    rb_node *meta = host->metadata(op);
    if (rc) {
    } else if (!strcmp(method, "clone")) {
        if (!role.createdb)
            rc = host->error_set(RB_EPERM, RB_ERRCLASS_DATABASE,
                                 "method clone copies database %s on the server, which needs the "
                                 "CREATEDB privilege; the connecting role lacks it on PostgreSQL "
                                 "server %s; grant it or use \"method\": \"dump\"",
                                 t.live, pg_server_name(&t));
        else if (!role.owns_live)
            rc = host->error_set(RB_EPERM, RB_ERRCLASS_DATABASE,
                                 "method clone copies database %s on the server, which only its "
                                 "owner or a superuser may do; the connecting role is neither on "
                                 "PostgreSQL server %s; connect as the owner or use "
                                 "\"method\": \"dump\"",
                                 t.live, pg_server_name(&t));
        else
            rc = clone_with_backup(&t, admin, meta, &role);
    } else if (!strcmp(method, "dump")) {
        rc = pg_meta_common(&t, admin, meta, "dump");
        if (!rc)
            rc = pg_snapshot_dump(
                &t, meta, &role,
                host->node_string(host->node_get(host->config(op), "backup_file")));
    } else {
        rc = host->error_set(RB_EINVAL, RB_ERRCLASS_CONFIG,
                             "method: '%s' is not a PostgreSQL method; use clone or dump", method);
    }
    PQfinish(admin);
    pg_target_close(&t);
    return rc;
}

static int pg_restore(const rb_host_api *host, rb_op *op)
{
    const rb_node *meta = host->metadata(op);
    pg_target t;
    int rc = pg_target_open(&t, host, op, meta);
    if (rc)
        return rc;
    PGconn *admin = NULL;
    rc = pg_connect_admin(&t, &admin);
    const char *method = host->node_string(host->node_get(meta, "method"));
    if (rc) {
    } else if (method && !strcmp(method, "clone")) {
        rc = pg_restore_clone(&t, admin, meta);
    } else if (method && !strcmp(method, "dump")) {
        rc = host->node_bool(host->node_get(host->config(op), "in_place"))
                 ? pg_restore_in_place(&t, admin, meta)
                 : pg_restore_dump(&t, admin, meta);
    } else {
        rc = host->error_set(RB_ECORRUPT, RB_ERRCLASS_STORE,
                             "snapshot %s records an unknown PostgreSQL method '%s'",
                             host->op_snapshot_id(op), method ? method : "");
    }
    PQfinish(admin);
    pg_target_close(&t);
    return rc;
}

static int pg_verify(const rb_host_api *host, rb_op *op)
{
    pg_target t;
    int rc = pg_target_open(&t, host, op, host->metadata(op));
    if (!rc)
        rc = pg_verify_run(&t);
    pg_target_close(&t);
    return rc;
}

static int pg_plan(const rb_host_api *host, rb_op *op)
{
    pg_target t;
    int rc = pg_target_open(&t, host, op, host->metadata(op));
    if (!rc)
        rc = pg_identity_check(&t);
    if (!rc && !(host->op_flags(op) & RB_OP_PREFLIGHT))
        rc = pg_plan_run(&t);
    pg_target_close(&t);
    return rc;
}

static int pg_destroy(const rb_host_api *host, rb_op *op)
{
    const rb_node *meta = host->metadata(op);
    const char *copy = host->node_string(host->node_get(meta, "clone_database"));
    if (!copy)
        return 0;
    pg_target t;
    int rc = pg_target_open(&t, host, op, meta);
    if (rc)
        return rc;
    PGconn *admin = NULL;
    rc = pg_connect_admin(&t, &admin);
    if (!rc)
        rc = pg_drop_database(&t, admin, copy);
    PQfinish(admin);
    pg_target_close(&t);
    return rc;
}

const rb_db_engine rb_db_engine_postgresql = {
    "postgresql", pg_accepts, pg_snapshot, pg_restore, pg_verify, pg_plan, pg_destroy,
};
