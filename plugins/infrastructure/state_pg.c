/* The pg backend: a row of <schema_name>.states, laid out and locked the way
 * Terraform's and OpenTofu's pg state backend do it
 * (internal/backend/remote-state/pg: backend.go, backend_state.go,
 * client.go in both projects):
 *   - the table is "states" in the schema schema_name (default
 *     terraform_remote_state): id bigint from public.global_states_id_seq,
 *     name text unique, data text (the state document);
 *   - a workspace is the row whose name is the workspace's name, the
 *     default workspace being the row named "default";
 *   - a client locks a workspace with a session-level
 *     pg_try_advisory_lock(states.id) of its row, taken in the same
 *     statement as a try of the workspace-creation lock, which it then
 *     releases; a workspace that has no row yet is created under the
 *     creation lock alone. Terraform's creation lock is the key -1;
 *     OpenTofu's is minus the 32-bit FNV-1 hash of schema_name, a NUL and
 *     the table name. rbhost tries both, so a creation in progress by
 *     either is respected.
 * The write itself happens in one transaction under that lock, with the
 * statement Terraform's Put uses. */
#include <inttypes.h>
#include <libpq-fe.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "infra.h"

#define STATES_TABLE            "states"
#define TERRAFORM_CREATION_LOCK INT64_C(-1)

typedef struct pg {
    PGconn *conn;
    const rb_infra_target *t;
    char *schema_q; /* the schema name, quoted as an identifier */
    int64_t held[3];
    size_t held_count;
} pg;

static int64_t opentofu_creation_lock(const char *schema)
{
    uint32_t h = 2166136261u;
    const char *parts[] = {schema, STATES_TABLE};
    for (size_t p = 0; p < 2; p++) {
        /* strlen + 1: the NUL after the schema name is hashed too. */
        size_t n = p == 0 ? strlen(parts[p]) + 1 : strlen(parts[p]);
        for (size_t i = 0; i < n; i++) {
            h *= 16777619u;
            h ^= (unsigned char)parts[p][i];
        }
    }
    return -(int64_t)h;
}

/* The length of libpq's message without its trailing newline, for "%.*s". */
static int message_len(PGconn *conn)
{
    const char *msg = PQerrorMessage(conn);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
        n--;
    return n > 1024 ? 1024 : (int)n;
}

int rb_infra_pg_describe(const char *conn_str, rb_node *obj)
{
    static const struct {
        const char *keyword, *name;
    } shown[] = {{"dbname", "database"}, {"host", "host"}, {"port", "port"}, {"user", "user"}};
    PQconninfoOption *opts = PQconninfoParse(conn_str, NULL);
    if (!opts)
        return rb_infra_host->error_set(RB_EINVAL, RB_ERRCLASS_CONFIG,
                                        "conn_str is not a libpq connection string or "
                                        "postgres:// URI");
    int rc = 0;
    for (PQconninfoOption *o = opts; o->keyword && rc == 0; o++)
        for (size_t i = 0; i < sizeof shown / sizeof shown[0]; i++)
            if (o->val && *o->val && !strcmp(o->keyword, shown[i].keyword) &&
                !rb_infra_host->node_add_string(obj, shown[i].name, o->val))
                rc = RB_ENOMEM;
    PQconninfoFree(opts);
    return rc;
}

static int pg_open(const rb_infra_target *t, pg *db)
{
    memset(db, 0, sizeof *db);
    db->t = t;
    /* Checked first, because libpq's own parse errors quote the text around
     * the problem, which may be the password. */
    PQconninfoOption *opts = PQconninfoParse(t->conn_str, NULL);
    if (!opts)
        return rb_infra_host->error_set(RB_EINVAL, RB_ERRCLASS_CONFIG,
                                        "conn_str is not a libpq connection string or "
                                        "postgres:// URI");
    PQconninfoFree(opts);
    /* Keywords before dbname are defaults the connection string may
     * override: a server that never answers must not hang a rollback. */
    const char *const keys[] = {"connect_timeout", "dbname", "fallback_application_name", NULL};
    const char *const values[] = {"30", t->conn_str, "rbhost", NULL};
    db->conn = PQconnectdbParams(keys, values, 1);
    if (!db->conn)
        return rb_infra_host->error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
    if (PQstatus(db->conn) != CONNECTION_OK) {
        int rc = rb_infra_host->error_set(RB_EIO, RB_ERRCLASS_DATABASE,
                                          "cannot connect to the pg state backend's database: %.*s",
                                          message_len(db->conn), PQerrorMessage(db->conn));
        PQfinish(db->conn);
        db->conn = NULL;
        return rc;
    }
    db->schema_q = PQescapeIdentifier(db->conn, t->schema_name, strlen(t->schema_name));
    if (!db->schema_q) {
        int rc = rb_infra_host->error_set(RB_EINVAL, RB_ERRCLASS_CONFIG,
                                          "schema_name %s cannot be used: %.*s", t->schema_name,
                                          message_len(db->conn), PQerrorMessage(db->conn));
        PQfinish(db->conn);
        db->conn = NULL;
        return rc;
    }
    return 0;
}

static void pg_close(pg *db)
{
    PQfreemem(db->schema_q);
    if (db->conn)
        PQfinish(db->conn);
    memset(db, 0, sizeof *db);
}

/* Runs one statement with text parameters. 0 and *out set, or a negative
 * rb_error after error_set. */
static int query(pg *db, const char *sql, int n, const char *const *params, PGresult **out)
{
    *out = NULL;
    if (!sql)
        return RB_ENOMEM;
    PGresult *res = PQexecParams(db->conn, sql, n, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(res);
    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
        *out = res;
        return 0;
    }
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    int rc;
    if (state && (!strcmp(state, "42P01") || !strcmp(state, "3F000")))
        rc = rb_infra_host->error_set(RB_ENOTFOUND, RB_ERRCLASS_INFRA,
                                      "no table %s.%s in the pg state backend's database: "
                                      "terraform init (or tofu init) creates it; check "
                                      "schema_name",
                                      db->t->schema_name, STATES_TABLE);
    else
        rc = rb_infra_host->error_set(RB_EIO, RB_ERRCLASS_DATABASE, "pg state backend: %.*s",
                                      message_len(db->conn), PQerrorMessage(db->conn));
    PQclear(res);
    return rc;
}

static char *sql_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *sql_fmt(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *out = NULL;
    if (vasprintf(&out, fmt, ap) < 0)
        out = NULL;
    va_end(ap);
    if (!out)
        rb_infra_host->error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
    return out;
}

static int pg_read(const rb_infra_target *t, rb_infra_buf *doc, int *exists)
{
    *exists = 0;
    pg db;
    int rc = pg_open(t, &db);
    if (rc < 0)
        return rc;
    char *sql = sql_fmt("SELECT data FROM %s.%s WHERE name = $1", db.schema_q, STATES_TABLE);
    PGresult *res = NULL;
    rc = query(&db, sql, 1, &t->workspace, &res);
    if (rc == 0 && PQntuples(res) == 1 && !PQgetisnull(res, 0, 0)) {
        rc = rb_infra_buf_set(doc, PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
        *exists = rc == 0 && doc->len > 0;
    }
    PQclear(res);
    free(sql);
    pg_close(&db);
    return rc;
}

static void unlock_all(pg *db)
{
    for (size_t i = 0; i < db->held_count; i++) {
        char key[24];
        snprintf(key, sizeof key, "%" PRId64, db->held[i]);
        const char *p = key;
        PQclear(PQexecParams(db->conn, "SELECT pg_advisory_unlock($1::bigint)", 1, NULL, &p, NULL,
                             NULL, 0));
    }
    db->held_count = 0;
}

static void unlock_one(pg *db, int64_t key)
{
    for (size_t i = 0; i < db->held_count; i++) {
        if (db->held[i] != key)
            continue;
        char text[24];
        snprintf(text, sizeof text, "%" PRId64, key);
        const char *p = text;
        PQclear(PQexecParams(db->conn, "SELECT pg_advisory_unlock($1::bigint)", 1, NULL, &p, NULL,
                             NULL, 0));
        db->held[i] = db->held[--db->held_count];
        return;
    }
}

static void note_held(pg *db, const char *granted, int64_t key)
{
    if (granted && !strcmp(granted, "t") && db->held_count < 3)
        db->held[db->held_count++] = key;
}

/* Names the session holding advisory lock `key`, from pg_locks and
 * pg_stat_activity, and refuses. A bigint key shows in pg_locks as its
 * high half in classid and its low half in objid, with objsubid 1. */
static int refuse_held(pg *db, int64_t key, const char *what)
{
    char text[24];
    snprintf(text, sizeof text, "%" PRId64, key);
    const char *p = text;
    PGresult *res =
        PQexecParams(db->conn,
                     "SELECT a.pid, coalesce(a.usename, ''), coalesce(a.application_name, ''), "
                     "coalesce(host(a.client_addr), 'local socket'), "
                     "coalesce(to_char(a.backend_start AT TIME ZONE 'UTC', "
                     "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), '?') "
                     "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                     "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 "
                     "AND l.database = (SELECT oid FROM pg_database "
                     "WHERE datname = current_database()) "
                     "AND l.classid::bigint = (($1::bigint >> 32) & 4294967295) "
                     "AND l.objid::bigint = ($1::bigint & 4294967295) "
                     "AND l.pid <> pg_backend_pid() LIMIT 1",
                     1, NULL, &p, NULL, NULL, 0);
    int rc;
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
        rc = rb_infra_host->error_set(
            RB_ELOCKED, RB_ERRCLASS_LOCK,
            "workspace \"%s\" in schema %s is %s: advisory lock %s is held by PostgreSQL "
            "backend pid %s (user %s, application \"%s\", client %s, connected since %s); wait "
            "for that run to finish, then retry",
            db->t->workspace, db->t->schema_name, what, text, PQgetvalue(res, 0, 0),
            PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2), PQgetvalue(res, 0, 3),
            PQgetvalue(res, 0, 4));
    else
        rc = rb_infra_host->error_set(RB_ELOCKED, RB_ERRCLASS_LOCK,
                                      "workspace \"%s\" in schema %s is %s: advisory lock %s is "
                                      "held by another session; wait for that run to finish, "
                                      "then retry",
                                      db->t->workspace, db->t->schema_name, what, text);
    PQclear(res);
    return rc;
}

/* Takes the workspace's lock as Terraform's RemoteClient.Lock does. Sets
 * *row_id to the workspace's row id, or to "" when it has no row yet (then
 * the creation locks are what is held). */
static int lock_workspace(pg *db, char row_id[24])
{
    int64_t tofu = opentofu_creation_lock(db->t->schema_name);
    char tofu_text[24];
    snprintf(tofu_text, sizeof tofu_text, "%" PRId64, tofu);
    const char *params[] = {db->t->workspace, tofu_text};
    char *sql = sql_fmt("SELECT %s.id, pg_try_advisory_lock(%s.id), pg_try_advisory_lock(-1), "
                        "pg_try_advisory_lock($2::bigint) FROM %s.%s WHERE %s.name = $1",
                        STATES_TABLE, STATES_TABLE, db->schema_q, STATES_TABLE, STATES_TABLE);
    PGresult *res = NULL;
    int rc = query(db, sql, 2, params, &res);
    free(sql);
    if (rc < 0)
        return rc;
    row_id[0] = '\0';
    if (PQntuples(res) == 1) {
        snprintf(row_id, 24, "%s", PQgetvalue(res, 0, 0));
        int64_t id = strtoll(row_id, NULL, 10);
        note_held(db, PQgetvalue(res, 0, 1), id);
        note_held(db, PQgetvalue(res, 0, 2), TERRAFORM_CREATION_LOCK);
        note_held(db, PQgetvalue(res, 0, 3), tofu);
        int got_row = !strcmp(PQgetvalue(res, 0, 1), "t");
        int got_tf = !strcmp(PQgetvalue(res, 0, 2), "t");
        if (!got_row)
            rc = refuse_held(db, id, "locked");
        else if (!got_tf)
            rc = refuse_held(db, TERRAFORM_CREATION_LOCK, "being created");
        else if (strcmp(PQgetvalue(res, 0, 3), "t"))
            rc = refuse_held(db, tofu, "being created");
        unlock_one(db, TERRAFORM_CREATION_LOCK);
        unlock_one(db, tofu);
    } else {
        PQclear(res);
        rc = query(db, "SELECT pg_try_advisory_lock(-1), pg_try_advisory_lock($1::bigint)", 1,
                   params + 1, &res);
        if (rc < 0)
            return rc;
        note_held(db, PQgetvalue(res, 0, 0), TERRAFORM_CREATION_LOCK);
        note_held(db, PQgetvalue(res, 0, 1), tofu);
        if (strcmp(PQgetvalue(res, 0, 0), "t"))
            rc = refuse_held(db, TERRAFORM_CREATION_LOCK, "being created");
        else if (strcmp(PQgetvalue(res, 0, 1), "t"))
            rc = refuse_held(db, tofu, "being created");
    }
    PQclear(res);
    return rc;
}

static int exec_simple(pg *db, const char *sql)
{
    PGresult *res = NULL;
    int rc = query(db, sql, 0, NULL, &res);
    PQclear(res);
    return rc;
}

/* Inside the transaction: read the row, decide, write. */
static int rewrite_row(pg *db, const char *row_id, rb_infra_decide_fn decide, void *ctx)
{
    rb_infra_buf current = {NULL, 0}, next = {NULL, 0};
    PGresult *res = NULL;
    int rc = 0;
    if (*row_id) {
        char *sql = sql_fmt("SELECT data FROM %s.%s WHERE id = $1::bigint FOR UPDATE", db->schema_q,
                            STATES_TABLE);
        rc = query(db, sql, 1, &row_id, &res);
        free(sql);
        if (rc == 0 && PQntuples(res) == 1 && !PQgetisnull(res, 0, 0))
            rc = rb_infra_buf_set(&current, PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
        PQclear(res);
        res = NULL;
    }
    if (rc == 0)
        rc = decide(ctx, current.len ? &current : NULL, &next);
    if (rc == 0 && next.data) {
        /* The statement of Terraform's RemoteClient.Put. */
        char *sql = sql_fmt("INSERT INTO %s.%s (name, data) VALUES ($1, $2) ON CONFLICT (name) "
                            "DO UPDATE SET data = $2 WHERE %s.name = $1",
                            db->schema_q, STATES_TABLE, STATES_TABLE);
        const char *params[] = {db->t->workspace, next.data};
        rc = query(db, sql, 2, params, &res);
        PQclear(res);
        free(sql);
    }
    rb_infra_buf_free(&current);
    rb_infra_buf_free(&next);
    return rc;
}

static int pg_replace(rb_op *op, const rb_infra_target *t, rb_infra_decide_fn decide, void *ctx,
                      rb_node *result)
{
    (void)op;
    pg db;
    int rc = pg_open(t, &db);
    if (rc < 0)
        return rc;
    char row_id[24];
    rc = lock_workspace(&db, row_id);
    if (rc == 0) {
        rb_infra_host->log(RB_LOG_DEBUG, "holding the lock of workspace %s in %s.%s", t->workspace,
                           t->schema_name, STATES_TABLE);
        rc = exec_simple(&db, "BEGIN");
        if (rc == 0) {
            rc = rewrite_row(&db, row_id, decide, ctx);
            if (rc == 0)
                rc = exec_simple(&db, "COMMIT");
            else
                PQclear(PQexec(db.conn, "ROLLBACK"));
        }
    }
    unlock_all(&db);
    if (rc == 0) {
        char *table = sql_fmt("%s.%s", t->schema_name, STATES_TABLE);
        if (!table || !rb_infra_host->node_add_string(result, "table", table) ||
            !rb_infra_host->node_add_string(result, "workspace", t->workspace))
            rc = RB_ENOMEM;
        free(table);
    }
    pg_close(&db);
    return rc;
}

const rb_infra_backend rb_infra_backend_pg = {pg_read, pg_replace};
