/* Shared by the PostgreSQL suites: a database of its own on the test
 * server (tests/servers/postgres.sh), a temporary store, and shortcuts for
 * running rbhost and psql against them. */
#ifndef PG_FIXTURE_H
#define PG_FIXTURE_H

#include <cjson/cJSON.h>

#include "rbtest.h"

typedef struct pgt {
    char *tmp;
    char *store;
    char *db; /* the live database: rbt_<pid>_<n> */
    char *cs; /* superuser connection string (unix socket, no password) */
    const char *host, *port, *user, *bindir;
} pgt;

/* Creates the database; with `schema`, loads schema.sql into it. */
void pgt_open(pgt *t, int schema);
/* Drops the database and every copy rbhost kept of it, then the rest. */
void pgt_close(pgt *t);
void pgt_drop_databases(const pgt *t);

/* Runs SQL with psql as the superuser on `db` (NULL: the test database);
 * asserts success and returns the trimmed output (-At), malloc'd. */
char *pgt_sql(const pgt *t, const char *db, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Runs a file of the suite's directory (schema.sql, changes.sql). */
void pgt_sql_file(const pgt *t, const char *name);
/* `pg_dump --schema-only` without the random \restrict key lines. */
char *pgt_schema(const pgt *t, const char *db);
/* One line per table and sequence: name, row count and an ordered md5 of
 * the rows, computed by the server (independently of rbhost's checksums). */
char *pgt_contents(const pgt *t, const char *db);

/* A database config for the test database: {"database_name", "connection_string"}
 * plus `extra` members (JSON object text without braces, or ""). */
char *pgt_config(const pgt *t, const char *cs, const char *extra);
/* rbhost --json <args>; returns the parsed output, exit code in *code. */
cJSON *pgt_rbhost(const pgt *t, int *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* create-snapshot with the config; asserts success. */
cJSON *pgt_snapshot(const pgt *t, const char *id, const char *config);
/* execute-rollback --yes [flags]. */
cJSON *pgt_rollback(const pgt *t, const char *id, const char *flags, int *code);

cJSON *pgt_get(const cJSON *j, ...) __attribute__((sentinel));
const char *pgt_str(const cJSON *j, ...) __attribute__((sentinel));
/* Does a database of that name exist? */
int pgt_db_exists(const pgt *t, const char *name);

#endif
