#include "pg_fixture.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rbtest.h"

PGconn *ipg_connect(const char *name)
{
    char *ci = rbt_fmt("host=%s port=%s user=%s dbname=%s", getenv("RBT_PG_HOST"),
                       getenv("RBT_PG_PORT"), getenv("RBT_PG_USER"), name);
    PGconn *c = PQconnectdb(ci);
    cr_assert_eq(PQstatus(c), CONNECTION_OK, "connect %s: %s", ci, PQerrorMessage(c));
    free(ci);
    return c;
}

PGresult *ipg_run(PGconn *c, const char *sql, int n, const char *const *params)
{
    PGresult *r = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(r);
    cr_assert(st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK, "%s: %s", sql, PQerrorMessage(c));
    return r;
}

void ipg_exec(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    cr_assert(st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK, "%s: %s", sql, PQerrorMessage(c));
    PQclear(r);
}

void ipg_open(ipg *p)
{
    rbt_server_env("RBT_PG_HOST");
    rbt_server_env("RBT_PG_PORT");
    rbt_server_env("RBT_PG_USER");
    static int n;
    p->dbname = rbt_fmt("rbt_infra_%d_%d", (int)getpid(), n);
    p->role = rbt_fmt("rbt_tf_%d_%d", (int)getpid(), n++);
    p->admin = ipg_connect("postgres");
    ipg_exec(p->admin, "SET client_min_messages TO warning");
    char *sql = rbt_fmt("CREATE DATABASE %s", p->dbname);
    ipg_exec(p->admin, sql);
    free(sql);
    p->db = ipg_connect(p->dbname);
    p->opened = 1;
}

void ipg_close(ipg *p)
{
    if (!p->opened)
        return;
    PQfinish(p->db);
    char *sql = rbt_fmt("DROP DATABASE %s WITH (FORCE)", p->dbname);
    ipg_exec(p->admin, sql);
    free(sql);
    sql = rbt_fmt("DROP ROLE IF EXISTS %s", p->role);
    ipg_exec(p->admin, sql);
    free(sql);
    PQfinish(p->admin);
    free(p->dbname);
    free(p->role);
    memset(p, 0, sizeof *p);
}

char *ipg_conn_str(const ipg *p)
{
    return rbt_fmt("host=%s port=%s user=%s dbname=%s", getenv("RBT_PG_HOST"),
                   getenv("RBT_PG_PORT"), getenv("RBT_PG_USER"), p->dbname);
}

void ipg_terraform_layout(ipg *p, const char *schema)
{
    PGresult *r =
        ipg_run(p->db, "select count(1) from information_schema.schemata where schema_name = $1", 1,
                &schema);
    int exists = atoi(PQgetvalue(r, 0, 0));
    PQclear(r);
    char *quoted = PQescapeIdentifier(p->db, schema, strlen(schema));
    if (!exists) {
        char *sql = rbt_fmt("CREATE SCHEMA IF NOT EXISTS %s", quoted);
        ipg_exec(p->db, sql);
        free(sql);
    }
    ipg_exec(p->db, "CREATE SEQUENCE IF NOT EXISTS public.global_states_id_seq AS bigint");
    char *sql = rbt_fmt("CREATE TABLE IF NOT EXISTS %s.%s (\n"
                        "\t\t\tid bigint NOT NULL DEFAULT nextval('public.global_states_id_seq') "
                        "PRIMARY KEY,\n\t\t\tname text UNIQUE,\n\t\t\tdata text\n\t\t\t)",
                        quoted, "states");
    ipg_exec(p->db, sql);
    free(sql);
    sql = rbt_fmt("CREATE UNIQUE INDEX IF NOT EXISTS %s ON %s.%s (name)", "states_by_name", quoted,
                  "states");
    ipg_exec(p->db, sql);
    free(sql);
    PQfreemem(quoted);
}

void ipg_put_state(ipg *p, const char *schema, const char *workspace, const char *doc)
{
    char *quoted = PQescapeIdentifier(p->db, schema, strlen(schema));
    char *sql = rbt_fmt("INSERT INTO %s.%s (name, data) VALUES ($1, $2)\n\t\tON CONFLICT (name) DO "
                        "UPDATE\n\t\tSET data = $2 WHERE %s.name = $1",
                        quoted, "states", "states");
    const char *params[] = {workspace, doc};
    PQclear(ipg_run(p->db, sql, 2, params));
    free(sql);
    PQfreemem(quoted);
}

char *ipg_get_state(ipg *p, const char *schema, const char *workspace, char **id)
{
    char *quoted = PQescapeIdentifier(p->db, schema, strlen(schema));
    char *sql = rbt_fmt("SELECT id, data FROM %s.states WHERE name = $1", quoted);
    PGresult *r = ipg_run(p->db, sql, 1, &workspace);
    cr_assert_eq(PQntuples(r), 1, "no row %s in %s.states", workspace, schema);
    if (id)
        *id = strdup(PQgetvalue(r, 0, 0));
    char *data = strdup(PQgetvalue(r, 0, 1));
    PQclear(r);
    free(sql);
    PQfreemem(quoted);
    return data;
}
