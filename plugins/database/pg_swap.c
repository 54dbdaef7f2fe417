/* The critical path of every PostgreSQL rollback but an in-place one:
 * the live database's sessions end, two names change in one transaction,
 * and the replaced database is kept as the safety snapshot. No data is
 * copied while the live database is unavailable. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg_db.h"

/* Time a session gets to end once it has been told to. */
#define PG_ROLLBACK_SESSION_TIMEOUT_S 10.0

static int rename_sql(pg_target *t, PGconn *admin, const char *from, const char *to)
{
    char *qf = pg_ident(admin, from), *qt = pg_ident(admin, to);
    int rc;
    if (!qf || !qt) {
        rc = t->host->error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
    } else {
        char sql[300], what[300];
        snprintf(sql, sizeof sql, "ALTER DATABASE %s RENAME TO %s", qf, qt);
        snprintf(what, sizeof what, "renaming database %s to %s", from, to);
        rc = pg_exec(t, admin, what, sql);
    }
    PQfreemem(qf);
    PQfreemem(qt);
    return rc;
}

static int rename_all(pg_target *t, PGconn *admin, int present, const char *incoming,
                      const char *keep_as, const char *refill_from, const char *refill_to)
{
    int rc = pg_exec(t, admin, "starting the swap", "BEGIN");
    if (!rc && present)
        rc = rename_sql(t, admin, t->live, keep_as);
    if (!rc)
        rc = rename_sql(t, admin, incoming, t->live);
    if (!rc && refill_from)
        rc = rename_sql(t, admin, refill_from, refill_to);
    if (!rc)
        rc = pg_exec(t, admin, "committing the swap", "COMMIT");
    if (rc) {
        /* Not pg_sessions_allow: the first message says why the swap
         * failed and must stay. */
        PQclear(PQexec(admin, "ROLLBACK"));
        char *q = present ? pg_ident(admin, t->live) : NULL;
        if (q) {
            char sql[200];
            snprintf(sql, sizeof sql, "ALTER DATABASE %s ALLOW_CONNECTIONS true", q);
            PQclear(PQexec(admin, sql));
        }
        PQfreemem(q);
    }
    return rc;
}

int pg_swap_in(pg_target *t, PGconn *admin, const char *incoming, const char *keep_as,
               const char *refill_from, const char *refill_to, int *replaced)
{
    const rb_host_api *h = t->host;
    int present = pg_database_exists(t, admin, t->live);
    if (present < 0)
        return present;
    *replaced = present;
    int terminated = 0, rc = 0;
    double t0 = pg_now_ms();
    /* A client that was past the connection check when connections were
     * refused can still arrive; the rename then finds it ("being accessed
     * by other users") and the sessions are ended once more. */
    for (int attempt = 0;; attempt++) {
        int n = 0;
        if (present)
            rc = pg_sessions_block(t, admin, t->live, 1, PG_ROLLBACK_SESSION_TIMEOUT_S, &n);
        terminated += n;
        if (rc)
            return rc;
        rc = rename_all(t, admin, present, incoming, keep_as, refill_from, refill_to);
        if (rc != RB_ECONFLICT || attempt == 2)
            break;
    }
    if (rc)
        return rc;
    /* The incoming copy was closed to connections while it was kept. */
    rc = pg_sessions_allow(t, admin, t->live, 1);
    double t1 = pg_now_ms();
    rb_node *res = h->result(t->op);
    if (!h->node_add_number(res, "critical_path_ms", t1 - t0) ||
        !h->node_add_int(res, "sessions_terminated", terminated))
        return RB_ENOMEM;
    if (terminated)
        h->log(RB_LOG_INFO, "ended %d session(s) on database %s for the rollback", terminated,
               t->live);
    return rc;
}

int pg_keep_replaced(pg_target *t, PGconn *admin, const char *replaced)
{
    const rb_host_api *h = t->host;
    rb_node *res = h->result(t->op);
    rb_node *safety = h->safety_metadata ? h->safety_metadata(t->op) : NULL;
    if (!safety) {
        int rc = pg_drop_database(t, admin, replaced);
        if (!rc && !h->node_add_bool(res, "replaced_database_dropped", 1))
            return RB_ENOMEM;
        return rc;
    }
    const char *rid = h->op_rollback_id(t->op);
    char label[200];
    snprintf(label, sizeof label, "pre-rollback-%s", rid ? rid : "");
    double t0 = pg_now_ms();
    int rc = pg_meta_common(t, admin, safety, "clone");
    if (!rc && !h->node_add_string(safety, "clone_database", replaced))
        rc = RB_ENOMEM;
    if (!rc)
        rc = pg_state_of_copy(t, admin, replaced, label, safety);
    if (!rc && (!h->node_add_string(res, "safety_database", replaced) ||
                !h->node_add_number(res, "safety_checksum_ms", pg_now_ms() - t0)))
        rc = RB_ENOMEM;
    return rc;
}

/* The name the replaced live database is kept under. */
void pg_keep_name(pg_target *t, char out[64])
{
    const rb_host_api *h = t->host;
    const char *rid = h->op_rollback_id(t->op);
    if (h->safety_metadata && h->safety_metadata(t->op)) {
        char id[200];
        snprintf(id, sizeof id, "pre-rollback-%s", rid ? rid : h->op_snapshot_id(t->op));
        pg_copy_name(t->live, "s", id, out);
    } else {
        pg_copy_name(t->live, "r", h->op_snapshot_id(t->op), out);
    }
}

int pg_ensure_absent(pg_target *t, PGconn *admin, const char *name)
{
    int e = pg_database_exists(t, admin, name);
    if (e < 0)
        return e;
    if (e)
        return t->host->error_set(RB_EEXISTS, RB_ERRCLASS_DATABASE,
                                  "database %s already exists on PostgreSQL server %s, and the "
                                  "rollback needs that name for the replaced database; drop or "
                                  "rename it, then retry (the live database is untouched)",
                                  name, pg_server_name(t));
    return 0;
}

int pg_restore_clone(pg_target *t, PGconn *admin, const rb_node *meta)
{
    const rb_host_api *h = t->host;
    const char *snap = h->node_string(h->node_get(meta, "clone_database"));
    const char *id = h->op_snapshot_id(t->op);
    if (!snap)
        return h->error_set(RB_ECORRUPT, RB_ERRCLASS_STORE, "snapshot %s names no database copy",
                            id);
    int e = pg_database_exists(t, admin, snap);
    if (e < 0)
        return e;
    if (!e)
        return h->error_set(RB_ENOTFOUND, RB_ERRCLASS_DATABASE,
                            "database %s, the copy snapshot %s keeps of %s, is gone from "
                            "PostgreSQL server %s; this snapshot cannot be restored (the live "
                            "database is untouched)",
                            snap, id, t->live, pg_server_name(t));
    char next[64], keep[64];
    pg_copy_name(t->live, "n", id, next);
    pg_keep_name(t, keep);
    int rc = pg_drop_database(t, admin, next);
    if (!rc && strncmp(keep, "rb_r_", 5))
        rc = pg_ensure_absent(t, admin, keep);
    else if (!rc)
        rc = pg_drop_database(t, admin, keep);
    if (rc)
        return rc;
    /* The copy that will stand in for the snapshot after the swap is made
     * first, from the snapshot's own idle copy: the live database is not
     * touched while data is copied, and a full disk stops the rollback
     * before anything changed. */
    double t0 = pg_now_ms();
    rc = pg_copy_database(t, admin, snap, next);
    double reclone = pg_now_ms() - t0;
    if (rc)
        return rc;
    int replaced = 0;
    rc = pg_swap_in(t, admin, snap, keep, next, snap, &replaced);
    if (rc) {
        pg_drop_database(t, admin, next);
        return rc;
    }
    rb_node *res = h->result(t->op);
    if (!h->node_add_string(res, "method", "clone_swap") ||
        !h->node_add_string(res, "database", t->live) ||
        !h->node_add_string(res, "restored_from", snap) ||
        !h->node_add_number(res, "reclone_ms", reclone))
        return RB_ENOMEM;
    rc = pg_seal_copy(t, admin, snap, id);
    if (!rc && replaced)
        rc = pg_keep_replaced(t, admin, keep);
    return rc;
}
