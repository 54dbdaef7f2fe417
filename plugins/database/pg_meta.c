/* What every PostgreSQL snapshot records besides its method's own data:
 * where the database lives, its owner and locale, and the schema and row
 * checksums verify compares against. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg_db.h"

int pg_meta_common(pg_target *t, PGconn *admin, rb_node *meta, const char *method)
{
    const rb_host_api *h = t->host;
    const char *p[1] = {t->live};
    PGresult *r = pg_query(t, admin, "reading the live database's settings",
                           "SELECT pg_get_userbyid(datdba), pg_encoding_to_char(encoding), "
                           "datcollate, datctype FROM pg_database WHERE datname = $1",
                           1, p);
    if (!r)
        return RB_EIO;
    if (PQntuples(r) != 1) {
        PQclear(r);
        return h->error_set(RB_ENOTFOUND, RB_ERRCLASS_DATABASE,
                            "database %s does not exist on PostgreSQL server %s", t->live,
                            pg_server_name(t));
    }
    char version[16];
    snprintf(version, sizeof version, "%d", PQserverVersion(admin));
    int ok = h->node_add_string(meta, "engine", "postgresql") &&
             h->node_add_string(meta, "method", method) &&
             h->node_add_string(meta, "database_name", t->live) &&
             h->node_add_string(meta, "connection_string", t->redacted) &&
             h->node_add_string(meta, "server_version", version) &&
             h->node_add_string(meta, "owner", PQgetvalue(r, 0, 0)) &&
             h->node_add_string(meta, "encoding", PQgetvalue(r, 0, 1)) &&
             h->node_add_string(meta, "lc_collate", PQgetvalue(r, 0, 2)) &&
             h->node_add_string(meta, "lc_ctype", PQgetvalue(r, 0, 3));
    PQclear(r);
    return ok ? pg_identity_record(t, admin, meta) : RB_ENOMEM;
}

int pg_meta_state(pg_target *t, PGconn *c, const char *db, const char *snapshot, rb_node *meta)
{
    const rb_host_api *h = t->host;
    pg_sums sums = {0};
    char *schema = NULL;
    int rc = pg_sums_schema(t, c, db, snapshot, &schema, sums.schema_sha256);
    if (!rc)
        rc = pg_sums_relations(t, c, &sums);
    char id[RB_BLOB_ID_SIZE];
    /* The schema text itself lets plan name the objects that changed; a
     * host that stores no blobs at this point (a safety snapshot kept by a
     * restore) gets a plan naming only "schema". */
    if (!rc) {
        int brc = h->blob_put(t->op, schema, strlen(schema), id);
        if (brc == 0 && !h->node_add_string(meta, "schema_blob", id))
            rc = RB_ENOMEM;
        else if (brc && brc != RB_EUNSUPPORTED)
            rc = brc;
    }
    if (!rc)
        rc = pg_sums_record(t, meta, &sums);
    pg_sums_free(&sums);
    free(schema);
    return rc;
}
int pg_state_of_copy(pg_target *t, PGconn *admin, const char *name, const char *snapshot_id,
                     rb_node *meta)
{
    int rc = pg_sessions_allow(t, admin, name, 1);
    PGconn *c = NULL;
    if (!rc)
        rc = pg_connect(t, name, &c);
    if (!rc)
        rc = pg_meta_state(t, c, name, NULL, meta);
    PQfinish(c);
    int src = pg_seal_copy(t, admin, name, snapshot_id);
    return rc ? rc : src;
}
