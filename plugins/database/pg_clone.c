/* Method clone: the snapshot is a copy of the live database kept on the
 * server. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg_db.h"

/* Long enough for a pooler or a short job to let go by itself, short
 * enough that a snapshot does not hang on an idle client. */
#define PG_SNAPSHOT_SESSION_TIMEOUT_S 10.0

int pg_snapshot_clone(pg_target *t, PGconn *admin, rb_node *meta, const char *snapshot_id)
{
    const rb_host_api *h = t->host;
    char name[64];
    pg_copy_name(t->live, "s", snapshot_id, name);
    int exists = pg_database_exists(t, admin, name);
    if (exists < 0)
        return exists;
    if (exists)
        return h->error_set(RB_EEXISTS, RB_ERRCLASS_DATABASE,
                            "database %s already exists on PostgreSQL server %s (the copy of an "
                            "earlier snapshot %s of %s?); delete that snapshot or drop the "
                            "database, then retry",
                            name, pg_server_name(t), snapshot_id, t->live);
    int rc = pg_meta_common(t, admin, meta, "clone");
    if (rc)
        return rc;
    /* A template copy needs the source free of other sessions. A client
     * past the connection check when connections were refused can still
     * arrive; the copy then fails as "being accessed by other users" and
     * the sessions are dealt with once more. */
    int terminated = 0, arc = 0;
    double t0 = pg_now_ms(), t1 = t0, t2 = t0;
    for (int attempt = 0;; attempt++) {
        int n = 0;
        rc = pg_sessions_block(t, admin, t->live, 0, PG_SNAPSHOT_SESSION_TIMEOUT_S, &n);
        terminated += n;
        if (rc)
            return rc;
        t1 = pg_now_ms();
        rc = pg_copy_database(t, admin, t->live, name);
        t2 = pg_now_ms();
        arc = pg_sessions_allow(t, admin, t->live, 1);
        if (rc != RB_ECONFLICT || arc || attempt == 2)
            break;
    }
    if (terminated)
        h->log(RB_LOG_WARN,
               "ended %d session(s) on database %s that did not leave within %.0f s, to copy it",
               terminated, t->live, PG_SNAPSHOT_SESSION_TIMEOUT_S / 2);
    if (!rc)
        rc = arc;
    if (!rc && (!h->node_add_string(meta, "clone_database", name) ||
                !h->node_add_int(meta, "sessions_terminated", terminated) ||
                !h->node_add_number(meta, "blocked_ms", t2 - t0) ||
                !h->node_add_number(meta, "copy_ms", t2 - t1)))
        rc = RB_ENOMEM;
    if (!rc)
        rc = pg_state_of_copy(t, admin, name, snapshot_id, meta);
    if (rc) {
        /* Not pg_drop_database: the first message says why the snapshot
         * failed and must stay. */
        char *q = pg_ident(admin, name);
        if (q) {
            char sql[200];
            snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s", q);
            PQclear(PQexec(admin, sql));
        }
        PQfreemem(q);
    }
    return rc;
}
