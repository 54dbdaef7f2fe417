/* Reaching a PostgreSQL server: the connection string of a target, the
 * password kept out of everything recorded, and errors worded so a user can
 * tell an unreachable server, bad credentials and a missing database apart. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg_db.h"

static const char *opt(const pg_target *t, const char *keyword)
{
    for (const PQconninfoOption *o = t->opts; o && o->keyword; o++)
        if (!strcmp(o->keyword, keyword))
            return o->val && *o->val ? o->val : NULL;
    return NULL;
}

static int is_uri(const char *cs)
{
    return !strncmp(cs, "postgresql://", 13) || !strncmp(cs, "postgres://", 11);
}

/* Appends `s` (n bytes) to a malloc'd buffer. */
static int append(char **buf, size_t *len, const char *s, size_t n)
{
    char *p = realloc(*buf, *len + n + 1);
    if (!p)
        return -1;
    memcpy(p + *len, s, n);
    *len += n;
    p[*len] = '\0';
    *buf = p;
    return 0;
}

/* A URI keeps its shape; only the password of the user part and any
 * password= parameter go. */
static char *redact_uri(const char *cs)
{
    char *out = NULL;
    size_t len = 0;
    const char *scheme_end = strstr(cs, "://") + 3;
    const char *path = scheme_end + strcspn(scheme_end, "/?");
    const char *at = memchr(scheme_end, '@', (size_t)(path - scheme_end));
    int bad = append(&out, &len, cs, (size_t)(scheme_end - cs));
    if (at) {
        const char *colon = memchr(scheme_end, ':', (size_t)(at - scheme_end));
        const char *user_end = colon ? colon : at;
        bad |= append(&out, &len, scheme_end, (size_t)(user_end - scheme_end));
        bad |= append(&out, &len, at, (size_t)(path - at));
    } else {
        bad |= append(&out, &len, scheme_end, (size_t)(path - scheme_end));
    }
    const char *query = strchr(path, '?');
    bad |= append(&out, &len, path, (size_t)((query ? query : path + strlen(path)) - path));
    char sep = '?';
    for (const char *p = query ? query + 1 : NULL; p && *p;) {
        size_t n = strcspn(p, "&");
        if (strncmp(p, "password=", 9)) {
            bad |= append(&out, &len, &sep, 1);
            bad |= append(&out, &len, p, n);
            sep = '&';
        }
        p += n + (p[n] == '&');
    }
    if (bad) {
        free(out);
        return NULL;
    }
    return out;
}

/* key='value' with \ and ' escaped, as libpq reads it. */
static int append_kv(char **buf, size_t *len, const char *key, const char *val)
{
    int bad = 0;
    if (*len)
        bad |= append(buf, len, " ", 1);
    bad |= append(buf, len, key, strlen(key));
    bad |= append(buf, len, "='", 2);
    for (const char *p = val; *p; p++) {
        if (*p == '\\' || *p == '\'')
            bad |= append(buf, len, "\\", 1);
        bad |= append(buf, len, p, 1);
    }
    bad |= append(buf, len, "'", 1);
    return bad;
}

/* Every option that was set, except the password; `dbname` replaces the
 * database when not NULL. */
static char *keyword_string(const pg_target *t, const char *dbname)
{
    char *out = NULL;
    size_t len = 0;
    int bad = 0;
    for (const PQconninfoOption *o = t->opts; o->keyword; o++) {
        if (!o->val || !*o->val || !strcmp(o->keyword, "password") ||
            (dbname && !strcmp(o->keyword, "dbname")))
            continue;
        bad |= append_kv(&out, &len, o->keyword, o->val);
    }
    if (dbname)
        bad |= append_kv(&out, &len, "dbname", dbname);
    if (bad || !out) {
        free(out);
        return bad ? NULL : strdup("");
    }
    return out;
}

char *pg_conninfo_for(const pg_target *t, const char *dbname)
{
    return keyword_string(t, dbname);
}

int pg_target_open(pg_target *t, const rb_host_api *host, rb_op *op, const rb_node *meta)
{
    memset(t, 0, sizeof *t);
    t->host = host;
    t->op = op;
    const rb_node *cfg = host->config(op);
    const char *cs = host->node_string(host->node_get(cfg, "connection_string"));
    if (!cs && meta)
        cs = host->node_string(host->node_get(meta, "connection_string"));
    t->live = host->node_string(host->node_get(cfg, "database_name"));
    if (!t->live && meta)
        t->live = host->node_string(host->node_get(meta, "database_name"));
    if (!cs || !t->live)
        return host->error_set(RB_EINVAL, RB_ERRCLASS_CONFIG,
                               "database: connection_string and database_name are required");
    char *err = NULL;
    t->opts = PQconninfoParse(cs, &err);
    if (!t->opts) {
        /* libpq's message may quote the string, password included. */
        PQfreemem(err);
        return host->error_set(RB_EINVAL, RB_ERRCLASS_CONFIG,
                               "connection_string for database %s is not a valid libpq "
                               "connection string or postgresql:// URI",
                               t->live);
    }
    const char *pw = opt(t, "password");
    t->password = pw ? strdup(pw) : NULL;
    t->redacted = is_uri(cs) ? redact_uri(cs) : keyword_string(t, NULL);
    if (!t->redacted || (pw && !t->password)) {
        pg_target_close(t);
        return host->error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
    }
    return 0;
}

void pg_target_close(pg_target *t)
{
    if (t->opts)
        PQconninfoFree(t->opts);
    if (t->password) {
        memset(t->password, 0, strlen(t->password));
        free(t->password);
    }
    free(t->redacted);
    memset(t, 0, sizeof *t);
}

const char *pg_server_name(const pg_target *t)
{
    static _Thread_local char buf[512];
    const char *host = opt(t, "host");
    if (!host)
        host = opt(t, "hostaddr");
    const char *port = opt(t, "port");
    snprintf(buf, sizeof buf, "%s:%s", host ? host : "(default socket)", port ? port : "5432");
    return buf;
}

/* libpq reports connection failures as text only; these phrases are stable
 * across the versions Debian ships. */
static int connect_error(pg_target *t, PGconn *c, const char *dbname)
{
    const rb_host_api *h = t->host;
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", c ? PQerrorMessage(c) : "out of memory");
    msg[strcspn(msg, "\n")] = '\0';
    const char *user = opt(t, "user");
    if (strstr(msg, "password authentication failed") || strstr(msg, "no password supplied") ||
        strstr(msg, "authentication failed") ||
        (strstr(msg, "role \"") && strstr(msg, "does not exist")))
        return h->error_set(RB_EPERM, RB_ERRCLASS_DATABASE,
                            "PostgreSQL server %s refused the credentials of role %s (%s); give "
                            "the password in the connection string, in PGPASSFILE or ~/.pgpass, "
                            "or in PGPASSWORD",
                            pg_server_name(t), user ? user : "(default)", msg);
    if (strstr(msg, "database \"") && strstr(msg, "does not exist"))
        return h->error_set(RB_ENOTFOUND, RB_ERRCLASS_DATABASE,
                            "database %s does not exist on PostgreSQL server %s", dbname,
                            pg_server_name(t));
    if (strstr(msg, "not currently accepting connections"))
        return h->error_set(RB_ECONFLICT, RB_ERRCLASS_DATABASE,
                            "database %s on PostgreSQL server %s does not accept connections (%s)",
                            dbname, pg_server_name(t), msg);
    /* Named after the live database even when the maintenance database
     * was being opened: that is the one the user asked about. */
    return h->error_set(RB_EIO, RB_ERRCLASS_DATABASE,
                        "cannot reach PostgreSQL server %s for database %s: %s", pg_server_name(t),
                        t->live, msg);
}

static void quiet_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

int pg_connect(pg_target *t, const char *dbname, PGconn **out)
{
    const char *kw[64];
    const char *val[64];
    size_t n = 0;
    for (const PQconninfoOption *o = t->opts; o->keyword && n < 60; o++) {
        if (!o->val || !*o->val || !strcmp(o->keyword, "dbname"))
            continue;
        kw[n] = o->keyword;
        val[n++] = o->val;
    }
    kw[n] = "dbname";
    val[n++] = dbname;
    kw[n] = "fallback_application_name";
    val[n++] = "rbhost";
    if (!opt(t, "connect_timeout")) {
        kw[n] = "connect_timeout";
        val[n++] = "10";
    }
    kw[n] = NULL;
    val[n] = NULL;
    PGconn *c = PQconnectdbParams(kw, val, 0);
    if (!c || PQstatus(c) != CONNECTION_OK) {
        int rc = connect_error(t, c, dbname);
        PQfinish(c);
        return rc;
    }
    /* Server notices (DROP ... IF EXISTS skipping) are not for the user. */
    PQsetNoticeProcessor(c, quiet_notice, NULL);
    /* Checksums read rows as text: fix every setting that changes it. */
    PGresult *r = PQexec(c, "SET DateStyle = ISO, YMD; SET IntervalStyle = postgres; "
                            "SET TimeZone = 'UTC'; SET extra_float_digits = 1; "
                            "SET bytea_output = hex; SET client_encoding = 'UTF8'");
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    if (!ok) {
        int rc = connect_error(t, c, dbname);
        PQfinish(c);
        return rc;
    }
    *out = c;
    return 0;
}

int pg_connect_admin(pg_target *t, PGconn **out)
{
    int rc = pg_connect(t, "postgres", out);
    if (rc == RB_ENOTFOUND || rc == RB_ECONFLICT)
        rc = pg_connect(t, "template1", out);
    return rc;
}

static int map_sqlstate(const char *state)
{
    if (!state)
        return RB_EIO;
    if (!strcmp(state, "42501"))
        return RB_EPERM;
    if (!strcmp(state, "53100"))
        return RB_ENOSPC;
    if (!strcmp(state, "3D000") || !strcmp(state, "42P01") || !strcmp(state, "3F000"))
        return RB_ENOTFOUND;
    if (!strcmp(state, "42P04"))
        return RB_EEXISTS;
    if (!strcmp(state, "55006") || !strcmp(state, "55P03"))
        return RB_ECONFLICT;
    if (!strcmp(state, "57014"))
        return RB_ECANCELED;
    if (!strncmp(state, "08", 2) || !strncmp(state, "57P", 3))
        return RB_EIO;
    return RB_ERROR;
}

int pg_fail(pg_target *t, PGconn *c, const PGresult *r, const char *what)
{
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", msg ? msg : PQerrorMessage(c));
    buf[strcspn(buf, "\n")] = '\0';
    int code = map_sqlstate(state);
    if (code == RB_ENOSPC)
        return t->host->error_set(code, RB_ERRCLASS_DATABASE,
                                  "%s on PostgreSQL server %s: the server ran out of disk space "
                                  "(%s); free space on the server and retry",
                                  what, pg_server_name(t), buf);
    return t->host->error_set(code, RB_ERRCLASS_DATABASE, "%s on PostgreSQL server %s: %s", what,
                              pg_server_name(t), buf);
}

PGresult *pg_query(pg_target *t, PGconn *c, const char *what, const char *sql, int nparams,
                   const char *const *params)
{
    PGresult *r = PQexecParams(c, sql, nparams, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
        return r;
    pg_fail(t, c, r, what);
    PQclear(r);
    return NULL;
}

int pg_exec(pg_target *t, PGconn *c, const char *what, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    int rc = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? 0 : pg_fail(t, c, r, what);
    PQclear(r);
    return rc;
}

char *pg_ident(PGconn *c, const char *name)
{
    return PQescapeIdentifier(c, name, strlen(name));
}

int pg_role_read(pg_target *t, PGconn *c, pg_role *role)
{
    const char *p[1] = {t->live};
    PGresult *r = pg_query(t, c, "reading the privileges of the connecting role",
                           "SELECT rolsuper, rolcreatedb, coalesce((SELECT pg_has_role(datdba, "
                           "'MEMBER') FROM pg_database WHERE datname = $1), false) "
                           "FROM pg_roles WHERE rolname = current_user",
                           1, p);
    if (!r)
        return RB_EIO;
    int one = PQntuples(r) == 1;
    role->superuser = one && !strcmp(PQgetvalue(r, 0, 0), "t");
    role->createdb = role->superuser || (one && !strcmp(PQgetvalue(r, 0, 1), "t"));
    role->owns_live = role->superuser || (one && !strcmp(PQgetvalue(r, 0, 2), "t"));
    role->server_major = PQserverVersion(c) / 10000;
    PQclear(r);
    return 0;
}

int pg_database_exists(pg_target *t, PGconn *c, const char *name)
{
    const char *p[1] = {name};
    PGresult *r = pg_query(t, c, "looking up a database",
                           "SELECT 1 FROM pg_database WHERE datname = $1", 1, p);
    if (!r)
        return RB_EIO;
    int found = PQntuples(r) > 0;
    PQclear(r);
    return found;
}
