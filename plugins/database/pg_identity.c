/* Which PostgreSQL database a snapshot is of: the cluster (its
 * system_identifier, which a restored base backup keeps and initdb
 * changes) and the database's OID (which DROP and CREATE change).
 *
 * rbhost's own rollbacks swap databases by renaming, so after one the live
 * database has another OID. Those databases carry the label rbhost puts on
 * the copies it keeps ("rbhost snapshot <id> of database <name>"), which a
 * database a user creates does not: a live database with a new OID is of
 * the recorded lineage when it carries that label for its own name. The
 * safety snapshot of a rollback records the OID of the database swapped
 * in, so undoing a rollback finds the OID it expects. */
#include <stdio.h>
#include <string.h>
#include <sys/types.h>

#include "pg_db.h"

#define PG_LABEL_PREFIX "rbhost snapshot "

static const char identity_sql[] =
    "SELECT (SELECT system_identifier::text FROM pg_control_system()), d.oid::text, "
    "shobj_description(d.oid, 'pg_database') FROM pg_database d WHERE d.datname = $1";

/* Reads the live identity through `admin`; 0 with *r NULL when the
 * database does not exist. */
static int identity_read(pg_target *t, PGconn *admin, PGresult **r)
{
    const char *p[1] = {t->live};
    *r = pg_query(t, admin, "reading the database's identity", identity_sql, 1, p);
    if (!*r)
        return RB_EIO;
    if (PQntuples(*r) != 1) {
        PQclear(*r);
        *r = NULL;
    }
    return 0;
}

int pg_identity_record(pg_target *t, PGconn *admin, rb_node *meta)
{
    const rb_host_api *h = t->host;
    PGresult *r = NULL;
    int rc = identity_read(t, admin, &r);
    if (rc || !r)
        return rc;
    rb_node *id = h->node_add_object(meta, "identity");
    int ok = id &&
             (PQgetisnull(r, 0, 0) ||
              h->node_add_string(id, "system_identifier", PQgetvalue(r, 0, 0))) &&
             h->node_add_string(id, "database_oid", PQgetvalue(r, 0, 1));
    PQclear(r);
    return ok ? 0 : RB_ENOMEM;
}

int pg_identity_label(pg_target *t, PGconn *admin, const char *db, const char *snapshot_id)
{
    char *q = pg_ident(admin, db);
    char note[300];
    snprintf(note, sizeof note, PG_LABEL_PREFIX "%s of database %s", snapshot_id, t->live);
    char *lit = PQescapeLiteral(admin, note, strlen(note));
    int rc;
    if (!q || !lit) {
        rc = t->host->error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
    } else {
        char sql[800];
        snprintf(sql, sizeof sql, "COMMENT ON DATABASE %s IS %s", q, lit);
        rc = pg_exec(t, admin, "labelling a database rbhost keeps or swaps in", sql);
    }
    PQfreemem(q);
    PQfreemem(lit);
    return rc;
}

static int labelled_by_rbhost(const pg_target *t, const char *comment)
{
    char suffix[128];
    snprintf(suffix, sizeof suffix, " of database %s", t->live);
    size_t n = strlen(comment), s = strlen(suffix);
    return !strncmp(comment, PG_LABEL_PREFIX, strlen(PG_LABEL_PREFIX)) && n > s &&
           !strcmp(comment + n - s, suffix);
}

static int differs(pg_target *t, const char *why)
{
    const rb_host_api *h = t->host;
    if (h->op_flags(t->op) & RB_OP_FORCE) {
        h->log(RB_LOG_WARN, "%s; going on because of --force", why);
        return h->node_add_bool(h->result(t->op), "identity_differs", 1) ? 0 : RB_ENOMEM;
    }
    return h->error_set(RB_ECONFLICT, RB_ERRCLASS_DATABASE, "%s", why);
}

int pg_identity_check(pg_target *t)
{
    const rb_host_api *h = t->host;
    const rb_node *id = h->node_get(h->metadata(t->op), "identity");
    const char *oid = h->node_string(h->node_get(id, "database_oid"));
    const char *sysid = h->node_string(h->node_get(id, "system_identifier"));
    /* Snapshots taken before the identity was recorded roll back as they
     * always did. */
    if (!oid)
        return 0;
    PGconn *admin = NULL;
    PGresult *r = NULL;
    int rc = pg_connect_admin(t, &admin);
    if (!rc)
        rc = identity_read(t, admin, &r);
    PQfinish(admin);
    /* A database that is gone is the restore's to create or report. */
    if (rc || !r)
        return rc;
    char why[1024] = "";
    if (sysid && !PQgetisnull(r, 0, 0) && strcmp(sysid, PQgetvalue(r, 0, 0)))
        snprintf(why, sizeof why,
                 "database %s at %s is on another PostgreSQL cluster than the one snapshotted "
                 "(system identifier %s, recorded %s)",
                 t->live, pg_server_name(t), PQgetvalue(r, 0, 0), sysid);
    else if (strcmp(oid, PQgetvalue(r, 0, 1)) &&
             (PQgetisnull(r, 0, 2) || !labelled_by_rbhost(t, PQgetvalue(r, 0, 2))))
        snprintf(why, sizeof why,
                 "database %s at %s is another database than the one snapshotted: it was "
                 "dropped and created again since (OID %s, recorded %s)",
                 t->live, pg_server_name(t), PQgetvalue(r, 0, 1), oid);
    PQclear(r);
    return why[0] ? differs(t, why) : 0;
}
