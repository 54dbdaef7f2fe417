/* The PostgreSQL engine's shared declarations: the target (connection
 * settings of one database), connections, names of the copies it keeps,
 * checksums, and the client tools (pg_dump, pg_restore) it runs. */
#ifndef RB_PG_DB_H
#define RB_PG_DB_H

#include <libpq-fe.h>
#include <stdint.h>

#include <rbhost/rbhost.h>

/* The database a target names, and how to reach its server. */
typedef struct pg_target {
    const rb_host_api *host;
    rb_op *op;
    PQconninfoOption *opts; /* the parsed connection string */
    char *password;         /* from the connection string; NULL when not given there */
    const char *live;       /* database_name: the live database */
    char *redacted;         /* the connection string without its password */
} pg_target;

/* Parses the connection string of the config (or, failing that, of the
 * metadata) and names the live database. Returns 0 or a negative rb_error. */
int pg_target_open(pg_target *t, const rb_host_api *host, rb_op *op, const rb_node *meta);
void pg_target_close(pg_target *t);
/* Connects to `dbname`; on failure sets a message that tells an unreachable
 * server, bad credentials and a missing database apart. */
int pg_connect(pg_target *t, const char *dbname, PGconn **out);
/* The maintenance database ("postgres", else "template1"): renaming and
 * dropping a database needs a connection to some other database. */
int pg_connect_admin(pg_target *t, PGconn **out);
/* A libpq keyword string for `dbname`, without the password: safe for a
 * command line. Free with free(). */
char *pg_conninfo_for(const pg_target *t, const char *dbname);
/* "host:port" of the server, for messages. */
const char *pg_server_name(const pg_target *t);

/* Runs SQL that returns no rows; on failure sets a message beginning with
 * `what` and maps the SQLSTATE to an rb_error. */
int pg_exec(pg_target *t, PGconn *c, const char *what, const char *sql);
/* Runs a query with text parameters; returns the result (PGRES_TUPLES_OK or
 * PGRES_COMMAND_OK) or NULL after setting the message. */
PGresult *pg_query(pg_target *t, PGconn *c, const char *what, const char *sql, int nparams,
                   const char *const *params);
/* Maps a failed result to an rb_error and sets "<what>: <server message>". */
int pg_fail(pg_target *t, PGconn *c, const PGresult *r, const char *what);
/* "SELECT ... FROM $1" needs identifiers: a quoted one, free with PQfreemem. */
char *pg_ident(PGconn *c, const char *name);

/* The name of the database that keeps a copy of `live` for `snapshot_id`:
 * a valid identifier of at most 63 bytes, unique per (live, id). `tag` is a
 * short marker ("s" snapshot, "n" next copy, "r" restore in progress). */
void pg_copy_name(const char *live, const char *tag, const char *snapshot_id, char out[64]);

/* What a role may do on the server. */
typedef struct pg_role {
    int superuser;
    int createdb;
    int owns_live; /* owner of the live database (or a member of its owner) */
    int server_major;
} pg_role;
int pg_role_read(pg_target *t, PGconn *c, pg_role *role);
/* Does a database of that name exist? 1 yes, 0 no, negative on error. */
int pg_database_exists(pg_target *t, PGconn *c, const char *name);

/* Sessions on a database. pg_sessions_block refuses new connections and
 * ends the present ones (waiting at most `timeout_s`), leaving the
 * database empty of other sessions; on failure the database is opened
 * again and the live state is untouched. `terminated` counts the sessions
 * ended. pg_sessions_allow opens it again. */
int pg_sessions_block(pg_target *t, PGconn *admin, const char *db, int terminate, double timeout_s,
                      int *terminated);
int pg_sessions_allow(pg_target *t, PGconn *admin, const char *db, int allow);

/* Checksums. A relation's checksum is the sum, modulo 2^256, of the
 * SHA-256 of each row in COPY text form: independent of the physical order
 * of rows (which a copy or a restore changes), so no sort is needed. */
typedef struct pg_relsum {
    char *name;        /* schema.relation */
    size_t schema_len; /* name[schema_len] is the dot */
    char kind;         /* 'r' table, 'm' materialized view, 'S' sequence */
    int64_t rows;
    char checksum[65];
    /* A sequence's state as read: "last_value<TAB>is_called". Sequences
     * are not transactional, so a dump and a checksum read them at two
     * different moments; a restore sets them to this recorded state. */
    char seq[48];
} pg_relsum;
typedef struct pg_sums {
    pg_relsum *rel;
    size_t count;
    char schema_sha256[65];
} pg_sums;
/* Checksums of every relation in scope, read through `c` (which the
 * caller may have put in a snapshot-isolated transaction). */
int pg_sums_relations(pg_target *t, PGconn *c, pg_sums *out);
/* The normalised `pg_dump --schema-only` of `db` and its SHA-256; with
 * `snapshot`, as of that exported snapshot. */
int pg_sums_schema(pg_target *t, PGconn *c, const char *db, const char *snapshot, char **text,
                   char sha[65]);
void pg_sums_free(pg_sums *s);
/* Sets every recorded sequence (in the configured scope) of the database
 * `c` is connected to, to its recorded state. */
int pg_sums_set_sequences(pg_target *t, PGconn *c, const rb_node *meta);
/* The same as SQL statements, for a script (free()). */
char *pg_sums_sequence_sql(pg_target *t, PGconn *c, const rb_node *meta);
/* Writes sums into metadata; reads them back. */
int pg_sums_record(pg_target *t, rb_node *meta, const pg_sums *s);
int pg_sums_load(pg_target *t, const rb_node *meta, pg_sums *out);

/* Client tools. Paths of the Debian tools matching the server's major
 * version (RBHOST_PG_BINDIR overrides). */
char *pg_tool_path(int server_major, const char *tool);
/* Spawns `argv` with the target's password in PGPASSWORD (never argv),
 * stdin/stdout connected as given (-1: /dev/null), stderr captured to a
 * file in the scratch directory. */
typedef struct pg_child {
    pid_t pid;
    char *errpath;
} pg_child;
int pg_spawn(pg_target *t, char *const argv[], int in_fd, int out_fd, pg_child *child);
/* Runs a tool to its end and returns its standard output (free()). */
int pg_run_capture(pg_target *t, char *const argv[], char **out);
/* Waits; on a non-zero exit sets "<what> failed: <its stderr>". */
int pg_child_wait(pg_target *t, pg_child *child, const char *what);

/* Snapshot methods; `meta` is the object to fill (the snapshot's metadata,
 * or a safety snapshot's during a restore). */
int pg_snapshot_clone(pg_target *t, PGconn *admin, rb_node *meta, const char *snapshot_id);
int pg_snapshot_dump(pg_target *t, rb_node *meta, const pg_role *role, const char *backup);
/* Fills the fields every PostgreSQL snapshot's metadata has, including the
 * live database's owner, encoding and locale (read through `admin`). */
int pg_meta_common(pg_target *t, PGconn *admin, rb_node *meta, const char *method);
/* Records the schema and relation checksums of the database `c` is
 * connected to (`db`), as of `snapshot` when not NULL. */
int pg_meta_state(pg_target *t, PGconn *c, const char *db, const char *snapshot, rb_node *meta);
/* CREATE DATABASE `name` as a copy of `tmpl`; a failure leaves nothing. */
int pg_copy_database(pg_target *t, PGconn *admin, const char *tmpl, const char *name);
/* Records the state of a kept copy (connecting to it for a moment), then
 * labels it and closes it to connections. */
int pg_state_of_copy(pg_target *t, PGconn *admin, const char *name, const char *snapshot_id,
                     rb_node *meta);
/* Labels a kept copy with its snapshot and closes it to connections. */
int pg_seal_copy(pg_target *t, PGconn *admin, const char *name, const char *snapshot_id);
/* DROP DATABASE IF EXISTS, ending its sessions. */
int pg_drop_database(pg_target *t, PGconn *admin, const char *name);

/* Restores: swapping a prepared database in, or in place. */
int pg_restore_clone(pg_target *t, PGconn *admin, const rb_node *meta);
int pg_restore_dump(pg_target *t, PGconn *admin, const rb_node *meta);
/* Replaces the configured schemas inside the live database with the
 * dump's, in one transaction. */
int pg_restore_in_place(pg_target *t, PGconn *admin, const rb_node *meta);

/* Puts database `incoming` in place of the live one: blocks and ends the
 * live database's sessions, then renames live to `keep_as` and incoming to
 * live in one transaction (and refill_from to refill_to, when given, so the
 * snapshot's copy is back under its name in the same instant). Records the
 * time the live database was unavailable in the result. *replaced is 0
 * when there was no live database to replace. */
int pg_swap_in(pg_target *t, PGconn *admin, const char *incoming, const char *keep_as,
               const char *refill_from, const char *refill_to, int *replaced);
/* The name the replaced live database is kept under, and a check that it
 * is free. */
void pg_keep_name(pg_target *t, char out[64]);
int pg_ensure_absent(pg_target *t, PGconn *admin, const char *name);
/* After a swap: describe the replaced database as the safety snapshot, or
 * drop it when no safety snapshot is wanted. */
int pg_keep_replaced(pg_target *t, PGconn *admin, const char *replaced);

/* verify and plan: compare the live database with the operation's
 * metadata, filling the result. */
int pg_verify_run(pg_target *t);
int pg_plan_run(pg_target *t);

/* The identity of the live database (cluster system_identifier and
 * database OID), recorded under "identity"; the check returns
 * RB_ECONFLICT when the live database is of another lineage, unless
 * RB_OP_FORCE is set. pg_identity_label marks a database rbhost swaps in
 * as being of the live database's lineage. */
int pg_identity_record(pg_target *t, PGconn *admin, rb_node *meta);
int pg_identity_check(pg_target *t);
int pg_identity_label(pg_target *t, PGconn *admin, const char *db, const char *snapshot_id);

/* Milliseconds of a monotonic clock. */
double pg_now_ms(void);

#endif
