/* The MySQL/MariaDB engine's shared declarations: the target (connection
 * settings of one database), connections and error mapping, the catalog of
 * a database (tables, views, triggers, routines as SHOW CREATE prints
 * them), the names of the hidden schemas it keeps, and the steps the two
 * methods share (server-side copy, the RENAME TABLE swap). */
#ifndef RB_MY_DB_H
#define RB_MY_DB_H

#include <mysql.h>
#include <stddef.h>
#include <stdint.h>

#include <rbhost/rbhost.h>

/* How long a statement waits for a metadata or row lock another session
 * holds before the operation gives up with a message naming that session. */
#define MY_LOCK_WAIT_SECONDS 10

/* A growing NUL-terminated string; on allocation failure `failed` is set
 * and later appends are ignored, so callers check once at the end. */
typedef struct my_buf {
    char *p;
    size_t len;
    size_t cap;
    int failed;
} my_buf;

void my_buf_add(my_buf *b, const char *s, size_t n);
void my_buf_puts(my_buf *b, const char *s);
void my_buf_printf(my_buf *b, const char *fmt, ...) RB_PRINTF(2, 3);
/* `name` as a backquoted identifier (backquotes doubled). */
void my_buf_ident(my_buf *b, const char *name);
/* `schema`.`name` */
void my_buf_qname(my_buf *b, const char *schema, const char *name);
/* 'text' as a string literal, escaped for any sql_mode. */
void my_buf_literal(my_buf *b, const char *s, size_t n);
void my_buf_free(my_buf *b);
/* The string (never NULL), or NULL when an append failed. */
const char *my_buf_str(my_buf *b);

/* One target: which server, as whom, which database. */
typedef struct my_target {
    const rb_host_api *host;
    rb_op *op;
    char *user;
    char *password; /* from the connection string or MYSQL_PWD; never recorded */
    char *host_name;
    char *socket;
    unsigned int port;
    const char *live;      /* database_name */
    char *redacted;        /* the connection string without its password */
    char *where;           /* "socket /x" or "host:port", for messages */
    const rb_node *tables; /* config "tables": the scope, or NULL for all */
    int library_held;
    /* The last message set through my_error: worker threads keep theirs
     * here for the calling thread to report (host messages are per thread). */
    int err_code;
    rb_error_class err_class;
    char err_msg[1024];
} my_target;

/* Sets the host's message for `code` and keeps a copy in the target. */
int my_error(my_target *t, int code, rb_error_class klass, const char *fmt, ...) RB_PRINTF(4, 5);
/* Reports, on the calling thread, an error a worker's target copy kept. */
int my_error_forward(my_target *t, const my_target *worker);

/* Every operation holds the client library between these two calls. */
int my_library_acquire(void);
void my_library_release(void);

/* Does the connection string name the MySQL engine (mysql://, mariadb://)? */
int my_url_accepts(const char *cs);
/* Reads the target from the config (connection_string, database_name,
 * tables). Returns 0 or a negative rb_error with the message set. */
int my_target_open(my_target *t, const rb_host_api *host, rb_op *op);
void my_target_close(my_target *t);
/* Connects with `db` as the default database (NULL: none). Sets a message
 * that tells an unreachable server, bad credentials and a missing database
 * apart. */
int my_connect(my_target *t, const char *db, MYSQL **out);

/* Maps the connection's last error to an rb_error and sets
 * "<what>: <server message>" plus advice for the common causes. */
int my_fail(my_target *t, MYSQL *c, const char *what);
/* Runs a statement that returns no rows. */
int my_exec(my_target *t, MYSQL *c, const char *what, const char *sql);
/* Runs a query and returns its whole result, or NULL with the message set. */
MYSQL_RES *my_query(my_target *t, MYSQL *c, const char *what, const char *sql);
/* Session settings every connection that copies, loads or swaps uses. */
int my_session_setup(my_target *t, MYSQL *c);
/* Does a schema (database) of that name exist? 1, 0, or negative. */
int my_schema_exists(my_target *t, MYSQL *c, const char *name);
/* Seconds on a monotonic clock. */
double my_now(void);

/* The hidden schema that keeps the copies of snapshot `id`: "_rbhost_",
 * the id with characters other than [A-Za-z0-9_] replaced, then a hash of
 * the id, at most 64 bytes. `kind` is one letter: 's' snapshot copy,
 * 'l' load in progress, 'o' replaced tables kept nowhere else. */
void my_schema_name(char kind, const char *id, char out[65]);

/* Objects other than tables that SHOW CREATE describes. */
typedef enum my_kind {
    MY_VIEW = 0,
    MY_TRIGGER = 1,
    MY_PROCEDURE = 2,
    MY_FUNCTION = 3,
} my_kind;

#define MY_MAX_PARTS 2

typedef struct my_table {
    char *name;
    char *create;           /* SHOW CREATE TABLE, AUTO_INCREMENT option included */
    char *columns;          /* `a`,`b`: the stored (not generated) columns */
    char *select_list;      /* the same columns as a dump reads them (BIT as numbers) */
    char *load_list;        /* the LOAD DATA column list and SET clause */
    int64_t auto_increment; /* -1: none */
    int64_t rows;
    int64_t checksum; /* -1: NULL (a table engine without checksums) */
    /* dump: its rows, one blob per part; a large table with an integer
     * primary key is read (and loaded) in key ranges, one per connection */
    char blobs[MY_MAX_PARTS][RB_BLOB_ID_SIZE];
    int nparts;
} my_table;

typedef struct my_object {
    my_kind kind;
    char *name;
    char *table; /* a trigger's table */
    char *create;
    char *sql_mode;
    char *charset_client;
    char *collation_connection;
} my_object;

typedef struct my_catalog {
    my_table *tables;
    size_t ntables;
    my_object *objects;
    size_t nobjects;
    char *charset;
    char *collation;
} my_catalog;

/* Reads the definitions of `db` (the whole database, or the tables in
 * t->tables and their triggers). Rows and checksums are left at -1. */
int my_catalog_read(my_target *t, MYSQL *c, const char *db, my_catalog *cat);
/* Just the base tables of `db` that are in scope (names only). */
int my_catalog_read_tables(my_target *t, MYSQL *c, const char *db, my_catalog *cat);
/* Fills rows and checksum of every table, read from schema `db`. */
int my_catalog_count(my_target *t, MYSQL *c, const char *db, my_catalog *cat);
void my_catalog_free(my_catalog *cat);
my_table *my_catalog_table(const my_catalog *cat, const char *name);
const my_object *my_catalog_object(const my_catalog *cat, my_kind kind, const char *name);
/* The table's CREATE without its AUTO_INCREMENT=N option, for comparing. */
char *my_create_normalized(const char *create);
/* The AUTO_INCREMENT=N table option of a CREATE TABLE, or -1. */
int64_t my_create_auto_increment(const char *create);
/* Hex SHA-256 over every definition, normalised. */
int my_catalog_hash(const my_catalog *cat, char out[65]);
const char *my_kind_name(my_kind kind);

/* Metadata <-> catalog. */
int my_catalog_save(const rb_host_api *host, const my_catalog *cat, rb_node *meta);
int my_catalog_load(my_target *t, const rb_node *meta, my_catalog *cat);

/* LOCK TABLES on every table of `cat`: READ in schema `from`, and WRITE on
 * the same names in `to` unless NULL; then checks that no definition
 * changed since `cat` was read and takes the AUTO_INCREMENT counters as
 * they are under the lock. */
int my_lock_tables(my_target *t, MYSQL *c, const char *from, const char *to, my_catalog *cat);

/* Server-side copy of every table of `cat` from schema `from` into the
 * (existing, empty) schema `to`; with `locked`, consistent across tables
 * (the sources are read-locked for the copy, and the definitions and
 * AUTO_INCREMENT counters taken under the lock), else without blocking
 * writers. Then rows and checksums of the copies are filled in. */
int my_copy_tables(my_target *t, MYSQL *c, const char *from, const char *to, my_catalog *cat,
                   int locked);

/* Creates schema `name` afresh (dropping a leftover of that name) with the
 * character set and collation of `cat`. */
int my_schema_create(my_target *t, MYSQL *c, const char *name, const my_catalog *cat);

/* Creates `cat`'s tables in schema `schema` (foreign keys point inside it);
 * with `defer_keys`, without the secondary keys and foreign keys, which
 * my_add_keys adds once the rows are in. */
int my_create_tables(my_target *t, MYSQL *c, const char *schema, const my_catalog *cat,
                     int defer_keys);
#define MY_KEYS         1
#define MY_FOREIGN_KEYS 2
int my_add_keys(my_target *t, MYSQL *c, const char *schema, const my_table *tb, int which);
/* Splits a SHOW CREATE TABLE text into the CREATE without the keys that can
 * wait, "ALTER TABLE <qname> ADD ..." for its secondary keys and another for
 * its foreign keys (NULL when there are none). */
int my_create_split(const char *create, const char *qname, char **table, char **keys, char **fks);

/* Swaps the tables of `snap` (in schema `from`) in as the live database:
 * live views and triggers dropped, one RENAME TABLE moving every live table
 * in scope into `keep` and every table of `from` into the live database,
 * then views, triggers and routines recreated from `snap`. `live` is the
 * catalog of the live database read just before. On failure after the
 * RENAME the message says what is left. `swap_seconds` gets the time the
 * live database was changing. */
int my_swap_in(my_target *t, MYSQL *c, const char *from, const char *keep, const my_catalog *snap,
               const my_catalog *live, double *swap_seconds);
/* Can the object's text (utf8mb4, as read) be sent under the character_set_client
 * it was created with? Yes for the utf8 sets and for plain ASCII text. */
int my_object_charset_usable(const my_object *o);
/* Creates the views, triggers and routines of `cat` in the live database,
 * but not the views and routines `present` (when not NULL) already has
 * with the same text. */
int my_objects_create(my_target *t, MYSQL *c, const my_catalog *cat, const my_catalog *present);

/* Writes what restore keeps of the replaced state (the tables now in schema
 * `keep`) into the safety snapshot's metadata, so that restoring it works
 * like a clone snapshot. */
int my_safety_record(my_target *t, MYSQL *c, const char *keep, my_catalog *replaced,
                     rb_node *safety);

/* The end both methods share: the live tables in scope move into a schema
 * of their own (recorded as the safety snapshot when there is one, else
 * dropped) and the tables in schema `from` take their place. */
int my_restore_swap(my_target *t, MYSQL *c, const char *from, const my_catalog *snap,
                    rb_node *result);

/* Drops a schema if it exists. */
int my_schema_drop(my_target *t, MYSQL *c, const char *schema);

/* The methods. */
int my_clone_snapshot(my_target *t, MYSQL *c, my_catalog *cat, rb_node *meta);
int my_clone_restore(my_target *t, MYSQL *c, const rb_node *meta, rb_node *result);
int my_dump_snapshot(my_target *t, MYSQL *c, my_catalog *cat, rb_node *meta);
int my_dump_restore(my_target *t, MYSQL *c, const rb_node *meta, rb_node *result);
/* Rows of one table as LOAD DATA's default text format (tab-separated,
 * backslash escapes, \N for NULL), read from schema `schema` (only those
 * matching `where`, unless NULL), given to `sink`. Counts the rows. */
typedef int (*my_sink_fn)(void *ctx, const void *data, size_t len);
int my_rows_stream(my_target *t, MYSQL *c, const char *schema, const my_table *tb,
                   const char *where, my_sink_fn sink, void *ctx, int64_t *rows);
/* backup_file: a SQL script the mysql client reads, written crash-safely. */
int my_sqlfile_write(my_target *t, MYSQL *c, const my_catalog *cat, const char *method,
                     const char *clone_schema, const char *path);

int my_verify_run(my_target *t, MYSQL *c, const rb_node *meta, rb_node *result, int plan);

#endif
