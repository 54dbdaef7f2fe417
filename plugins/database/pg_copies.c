/* Databases the engine keeps on the server beside the live one: making
 * them (a template copy), labelling and closing them, dropping them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg_db.h"

int pg_copy_database(pg_target *t, PGconn *admin, const char *tmpl, const char *name)
{
    const rb_host_api *h = t->host;
    const char *p[1] = {tmpl};
    PGresult *r = pg_query(t, admin, "reading a database's owner",
                           "SELECT pg_get_userbyid(datdba), "
                           "(SELECT rolsuper FROM pg_roles WHERE rolname = current_user), "
                           "current_user FROM pg_database WHERE datname = $1",
                           1, p);
    if (!r)
        return RB_EIO;
    if (PQntuples(r) != 1) {
        PQclear(r);
        return h->error_set(RB_ENOTFOUND, RB_ERRCLASS_DATABASE,
                            "database %s does not exist on PostgreSQL server %s", tmpl,
                            pg_server_name(t));
    }
    char *qt = pg_ident(admin, tmpl), *qn = pg_ident(admin, name);
    char *qo = pg_ident(admin, PQgetvalue(r, 0, 0));
    int super = !strcmp(PQgetvalue(r, 0, 1), "t");
    char user[128];
    snprintf(user, sizeof user, "%s", PQgetvalue(r, 0, 2));
    PQclear(r);
    if (!qt || !qn || !qo) {
        PQfreemem(qt);
        PQfreemem(qn);
        PQfreemem(qo);
        return h->error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
    }
    /* FILE_COPY copies the files and checkpoints once; the default
     * (WAL_LOG) writes every page to the WAL too, several times slower for
     * a large database. Only a superuser may give the copy another owner. */
    char sql[1024];
    snprintf(sql, sizeof sql, "CREATE DATABASE %s TEMPLATE %s%s%s%s", qn, qt,
             PQserverVersion(admin) >= 150000 ? " STRATEGY FILE_COPY" : "", super ? " OWNER " : "",
             super ? qo : "");
    PQfreemem(qt);
    PQfreemem(qn);
    PQfreemem(qo);
    r = PQexec(admin, sql);
    int rc = 0;
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
        if (state && !strcmp(state, "42501") && msg && strstr(msg, "create database"))
            rc = h->error_set(RB_EPERM, RB_ERRCLASS_DATABASE,
                              "role %s may not create databases on PostgreSQL server %s (it "
                              "lacks the CREATEDB privilege), which copying database %s needs; "
                              "grant it (ALTER ROLE %s CREATEDB) or use \"method\": \"dump\"",
                              user, pg_server_name(t), tmpl, user);
        else if (state && !strcmp(state, "42501"))
            rc = h->error_set(RB_EPERM, RB_ERRCLASS_DATABASE,
                              "role %s may not copy database %s on PostgreSQL server %s (%s); "
                              "only its owner or a superuser may; use \"method\": \"dump\"",
                              user, tmpl, pg_server_name(t), msg ? msg : "permission denied");
        else {
            char what[256];
            snprintf(what, sizeof what, "copying database %s to %s", tmpl, name);
            rc = pg_fail(t, admin, r, what);
        }
    }
    PQclear(r);
    return rc;
}

int pg_drop_database(pg_target *t, PGconn *admin, const char *name)
{
    char *q = pg_ident(admin, name);
    if (!q)
        return t->host->error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
    char sql[256], what[200];
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s%s", q,
             PQserverVersion(admin) >= 130000 ? " WITH (FORCE)" : "");
    PQfreemem(q);
    snprintf(what, sizeof what, "dropping database %s", name);
    return pg_exec(t, admin, what, sql);
}

/* Marks a kept copy for the people who list databases on the server, and
 * closes it to connections so nothing changes it by accident. */
int pg_seal_copy(pg_target *t, PGconn *admin, const char *name, const char *snapshot_id)
{
    /* The same label the identity check accepts after a swap. */
    int rc = pg_identity_label(t, admin, name, snapshot_id);
    return rc ? rc : pg_sessions_allow(t, admin, name, 0);
}
