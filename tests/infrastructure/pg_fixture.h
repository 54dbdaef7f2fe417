/* A throw-away database on the test PostgreSQL server (tests/servers/
 * postgres.sh) for the pg backend's suites, and Terraform's own statements
 * for laying out and writing its state table. */
#ifndef PG_FIXTURE_H
#define PG_FIXTURE_H

#include <libpq-fe.h>

typedef struct ipg {
    PGconn *admin; /* to the postgres database */
    PGconn *db;    /* to the test's database */
    char *dbname;
    char *role; /* a role name the test may create; dropped at close */
    int opened;
} ipg;

/* Skips the test when the server's variables are unset (fails with
 * RBT_REQUIRE_SERVERS=1); creates a fresh database. */
void ipg_open(ipg *p);
void ipg_close(ipg *p);
PGconn *ipg_connect(const char *dbname);
/* A statement that must succeed; the result to PQclear. */
PGresult *ipg_run(PGconn *c, const char *sql, int n, const char *const *params);
/* Statements (several allowed) that must succeed. */
void ipg_exec(PGconn *c, const char *sql);
/* libpq keywords naming the test's database, malloc'd. */
char *ipg_conn_str(const ipg *p);

/* Terraform's Backend.configure, statement by statement. */
void ipg_terraform_layout(ipg *p, const char *schema);
/* Terraform's RemoteClient.Put. */
void ipg_put_state(ipg *p, const char *schema, const char *workspace, const char *doc);
/* The workspace row's data (and id when not NULL), malloc'd. */
char *ipg_get_state(ipg *p, const char *schema, const char *workspace, char **id);

#endif
