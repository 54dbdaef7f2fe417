/* Emptying a database of sessions before it is copied or renamed: both
 * need it to have no other session. New connections are refused first
 * (ALLOW_CONNECTIONS false) so the database stays empty once it is. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pg_db.h"

int pg_sessions_allow(pg_target *t, PGconn *admin, const char *db, int allow)
{
    char *q = pg_ident(admin, db);
    if (!q)
        return t->host->error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
    char sql[256];
    snprintf(sql, sizeof sql, "ALTER DATABASE %s ALLOW_CONNECTIONS %s", q,
             allow ? "true" : "false");
    PQfreemem(q);
    char what[200];
    snprintf(what, sizeof what, "%s connections to database %s", allow ? "allowing" : "refusing",
             db);
    return pg_exec(t, admin, what, sql);
}

static void nap_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Ends one session; 0, or the server's reason for refusing. */
static int terminate(PGconn *admin, const char *pid, char *why, size_t whylen)
{
    const char *p[1] = {pid};
    PGresult *r =
        PQexecParams(admin, "SELECT pg_terminate_backend($1::int)", 1, NULL, p, NULL, NULL, 0);
    int rc = 0;
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        const char *m = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
        const char *d = PQresultErrorField(r, PG_DIAG_MESSAGE_DETAIL);
        snprintf(why, whylen, "%s%s%s", m ? m : "refused", d ? " " : "", d ? d : "");
        rc = -1;
    }
    PQclear(r);
    return rc;
}

int pg_sessions_block(pg_target *t, PGconn *admin, const char *db, int terminate_at_once,
                      double timeout_s, int *terminated)
{
    const rb_host_api *h = t->host;
    *terminated = 0;
    int rc = pg_sessions_allow(t, admin, db, 0);
    if (rc)
        return rc;
    const char *p[1] = {db};
    double start = pg_now_ms(), deadline = start + timeout_s * 1000.0;
    /* Without terminate_at_once, sessions get half the time to leave by
     * themselves before they are ended. */
    double terminate_from = terminate_at_once ? start : start + timeout_s * 500.0;
    char why[512] = "", who[300] = "";
    /* Autovacuum workers are left out: the server cancels them itself.
     * Another role's session shows no backend_type to a role without
     * pg_read_all_stats, but does show its user. */
    for (;;) {
        PGresult *r = pg_query(t, admin, "listing the sessions on a database",
                               "SELECT pid::text, coalesce(usename, ''), "
                               "coalesce(application_name, '') "
                               "FROM pg_stat_activity WHERE datname = $1 "
                               "AND pid <> pg_backend_pid() "
                               "AND (backend_type = 'client backend' OR "
                               "(backend_type IS NULL AND usename IS NOT NULL))",
                               1, p);
        if (!r) {
            rc = RB_EIO;
            break;
        }
        int n = PQntuples(r);
        if (n == 0) {
            PQclear(r);
            return 0;
        }
        double now = pg_now_ms();
        if (why[0]) {
            rc = h->error_set(RB_ECONFLICT, RB_ERRCLASS_DATABASE,
                              "cannot end session %s on database %s: %s; the database is "
                              "untouched and accepts connections again; end that session "
                              "yourself, or connect as a role that may, and retry",
                              who, db, why);
            PQclear(r);
            break;
        }
        if (now >= deadline) {
            rc = h->error_set(RB_ECONFLICT, RB_ERRCLASS_DATABASE,
                              "%d session(s) on database %s did not end within %.0f s (first: "
                              "pid %s, role %s, application '%s'); the database is untouched "
                              "and accepts connections again; end the session and retry",
                              n, db, timeout_s, PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1),
                              PQgetvalue(r, 0, 2));
            PQclear(r);
            break;
        }
        if (now >= terminate_from) {
            for (int i = 0; i < n && !why[0]; i++) {
                if (terminate(admin, PQgetvalue(r, i, 0), why, sizeof why) == 0)
                    (*terminated)++;
                else
                    snprintf(who, sizeof who, "pid %s (role %s, application '%s')",
                             PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), PQgetvalue(r, i, 2));
            }
            terminate_from = deadline;
        }
        PQclear(r);
        if (!why[0])
            nap_ms(20);
    }
    pg_sessions_allow(t, admin, db, 1);
    return rc;
}
