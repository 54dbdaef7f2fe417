/* Shared by the MySQL/MariaDB suites: a database of its own on the test
 * server (tests/servers/mariadb.sh), a temporary store, and what a user
 * compares before and after a rollback (the schema as mysqldump prints it,
 * CHECKSUM TABLE of every table). */
#ifndef MY_FIXTURE_H
#define MY_FIXTURE_H

#include <cjson/cJSON.h>
#include <mysql.h>

#include "rbtest.h"

typedef struct myt {
    const char *socket;
    const char *user;
    const char *password;
    char db[64]; /* the live database of this test */
    char *store;
    char *tmp;
    MYSQL *c;            /* the test's own connection */
    char *hidden_before; /* _rbhost_ schemas already there at the start */
} myt;

/* Creates database <db> from schema.sql (empty when with_schema is 0). The
 * password reaches rbhost through MYSQL_PWD, never its command line. */
void myt_open(myt *t, int with_schema);
/* Deletes the snapshots (so their hidden schemas go), drops the database. */
void myt_close(myt *t);

/* mysql://user@localhost/<db>?socket=...; free() it. */
char *myt_cs(const myt *t);
/* {"database_name": db, "connection_string": ..., "method": method, ...extra}. */
char *myt_config(const myt *t, const char *method, const char *extra_json);

/* Runs SQL on the test's connection (several statements allowed). */
void myt_sql(myt *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The first column of the first row, malloc'd ("NULL" for NULL). */
char *myt_value(myt *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Runs a file through the mariadb client against <db>. */
void myt_source(const myt *t, const char *file);
/* mysqldump --no-data --skip-dump-date --routines --triggers of <db>. */
char *myt_schema_dump(const myt *t);
/* "table checksum rows\n" for every table of <db>, sorted. */
char *myt_checksums(myt *t);
/* Names of the _rbhost_ schemas on the server that were not there when the
 * test started, one per line. */
char *myt_hidden_schemas(myt *t);

/* rbhost --json with the arguments; *code gets the exit code. */
cJSON *myt_rbhost(const myt *t, int *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* create-snapshot; asserts success; returns the response. */
cJSON *myt_snapshot(const myt *t, const char *id, const char *config);
/* execute-rollback --yes (plus flags); returns the record. */
cJSON *myt_rollback(const myt *t, const char *id, const char *flags, int *code);
const char *myt_str(const cJSON *j, ...) __attribute__((sentinel));
cJSON *myt_get(const cJSON *j, ...) __attribute__((sentinel));

#endif
