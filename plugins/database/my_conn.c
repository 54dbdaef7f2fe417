/* The target of the MySQL engine: parsing mysql:// connection strings,
 * connecting, and turning server errors into messages a user can act on. */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <errmsg.h>
#include <mysqld_error.h>

#include "my_db.h"

int my_error(my_target *t, int code, rb_error_class klass, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->err_msg, sizeof t->err_msg, fmt, ap);
    va_end(ap);
    t->err_code = code;
    t->err_class = klass;
    return t->host->error_set(code, klass, "%s", t->err_msg);
}

int my_error_forward(my_target *t, const my_target *worker)
{
    return my_error(t, worker->err_code ? worker->err_code : RB_ERROR, worker->err_class, "%s",
                    worker->err_msg);
}

/* libmariadb keeps global state from the first mysql_init until
 * mysql_library_end; it must be released before the backend is unloaded,
 * and only when no operation of any thread still uses it. */
static pthread_mutex_t library_mu = PTHREAD_MUTEX_INITIALIZER;
static unsigned library_users;

int my_library_acquire(void)
{
    pthread_mutex_lock(&library_mu);
    int rc = library_users++ ? 0 : mysql_library_init(0, NULL, NULL);
    if (rc)
        library_users--;
    pthread_mutex_unlock(&library_mu);
    return rc ? RB_ERROR : 0;
}

void my_library_release(void)
{
    pthread_mutex_lock(&library_mu);
    if (library_users && !--library_users)
        mysql_library_end();
    pthread_mutex_unlock(&library_mu);
}

static const char *const schemes[] = {"mysql://", "mariadb://"};

int my_url_accepts(const char *cs)
{
    for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++)
        if (!strncasecmp(cs, schemes[i], strlen(schemes[i])))
            return 1;
    return 0;
}

double my_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Percent-decodes s[0..n) into a new string; NULL on bad escapes or memory. */
static char *decode(const char *s, size_t n)
{
    char *out = malloc(n + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%') {
            int hi = i + 2 < n ? hexval((unsigned char)s[i + 1]) : -1;
            int lo = hi >= 0 ? hexval((unsigned char)s[i + 2]) : -1;
            if (lo < 0) {
                free(out);
                return NULL;
            }
            out[o++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    return out;
}

static int bad_url(my_target *t, const char *why)
{
    return my_error(t, RB_EINVAL, RB_ERRCLASS_CONFIG,
                    "connection_string: %s; expected "
                    "mysql://user[:password]@host[:port]/db[?socket=PATH]",
                    why);
}

/* Splits mysql://user:pw@host:port/db?socket=/x into the target's fields
 * and builds the same string without the password. */
static int parse_url(my_target *t, const char *cs)
{
    const char *p = strstr(cs, "://") + 3;
    const char *end_auth = p + strcspn(p, "/?");
    const char *at = NULL;
    for (const char *s = p; s < end_auth; s++)
        if (*s == '@')
            at = s;
    my_buf red = {0};
    my_buf_add(&red, cs, (size_t)(p - cs));
    const char *hp = p;
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        const char *uend = colon ? colon : at;
        t->user = decode(p, (size_t)(uend - p));
        if (colon)
            t->password = decode(colon + 1, (size_t)(at - colon - 1));
        if (!t->user || (colon && !t->password)) {
            my_buf_free(&red);
            return bad_url(t, "bad %-escape in the user name or password");
        }
        my_buf_add(&red, p, (size_t)(uend - p));
        my_buf_add(&red, "@", 1);
        hp = at + 1;
    }
    my_buf_add(&red, hp, strlen(hp));
    t->redacted = red.failed ? NULL : red.p;
    if (!t->redacted)
        return my_error(t, RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");

    const char *hend = end_auth;
    if (hp < end_auth && *hp == '[') {
        const char *rb = memchr(hp, ']', (size_t)(end_auth - hp));
        if (!rb)
            return bad_url(t, "unterminated [ in the host");
        t->host_name = decode(hp + 1, (size_t)(rb - hp - 1));
        hp = rb + 1;
        hend = hp;
    } else {
        const char *colon = memchr(hp, ':', (size_t)(end_auth - hp));
        hend = colon ? colon : end_auth;
        t->host_name = decode(hp, (size_t)(hend - hp));
    }
    if (!t->host_name)
        return bad_url(t, "bad %-escape in the host");
    if (hend < end_auth && *hend == ':') {
        char *e;
        long port = strtol(hend + 1, &e, 10);
        if (e != end_auth || port <= 0 || port > 65535)
            return bad_url(t, "the port is not a number from 1 to 65535");
        t->port = (unsigned int)port;
    }

    const char *q = strchr(end_auth, '?');
    while (q && *q) {
        q++;
        size_t n = strcspn(q, "&");
        if (!strncmp(q, "socket=", 7)) {
            free(t->socket);
            t->socket = decode(q + 7, n - 7);
            if (!t->socket)
                return bad_url(t, "bad %-escape in socket=");
        } else if (n) {
            size_t nl = strcspn(q, "=&");
            char name[64];
            snprintf(name, sizeof name, "%.*s", (int)(nl < 60 ? nl : 60), q);
            return my_error(t, RB_EINVAL, RB_ERRCLASS_CONFIG,
                            "connection_string: unknown parameter '%s' (only socket= "
                            "is understood)",
                            name);
        }
        q += n;
    }
    return 0;
}

int my_target_open(my_target *t, const rb_host_api *host, rb_op *op)
{
    memset(t, 0, sizeof *t);
    t->host = host;
    t->op = op;
    const rb_node *cfg = host->config(op);
    const rb_node *meta = host->metadata(op);
    const char *cs = host->node_string(host->node_get(cfg, "connection_string"));
    if (!cs || !my_url_accepts(cs))
        cs = host->node_string(host->node_get(meta, "connection_string"));
    t->live = host->node_string(host->node_get(cfg, "database_name"));
    if (!t->live || !*t->live)
        t->live = host->node_string(host->node_get(meta, "database"));
    if (!cs || !my_url_accepts(cs))
        return bad_url(t, "not a mysql:// or mariadb:// URL");
    if (!t->live || !*t->live)
        return host->error_set(RB_EINVAL, RB_ERRCLASS_CONFIG, "database_name is empty");
    if (strlen(t->live) > 64)
        return host->error_set(RB_EINVAL, RB_ERRCLASS_CONFIG,
                               "database_name '%s' is longer than MySQL's 64 characters", t->live);
    if (host->node_count(host->node_get(cfg, "schemas")))
        return host->error_set(RB_EINVAL, RB_ERRCLASS_CONFIG,
                               "schemas: a MySQL database has no schemas inside it; name the "
                               "database in database_name and narrow with tables");
    if (host->node_bool(host->node_get(cfg, "in_place")))
        return host->error_set(RB_EINVAL, RB_ERRCLASS_CONFIG,
                               "in_place: the MySQL engine always restores into a separate "
                               "schema and swaps it in with one RENAME TABLE; remove in_place");
    const rb_node *tables = host->node_get(cfg, "tables");
    if (host->node_count(tables))
        t->tables = tables;
    int rc = parse_url(t, cs);
    if (rc)
        return rc;
    if (!t->password) {
        const char *env = getenv("MYSQL_PWD");
        if (env && *env && !(t->password = strdup(env)))
            return host->error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
    }
    my_buf w = {0};
    if (t->socket)
        my_buf_printf(&w, "socket %s", t->socket);
    else
        my_buf_printf(&w, "%s:%u", *t->host_name ? t->host_name : "localhost",
                      t->port ? t->port : 3306);
    t->where = w.failed ? NULL : w.p;
    if (!t->where)
        return host->error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
    return 0;
}

void my_target_close(my_target *t)
{
    if (t->password)
        memset(t->password, 0, strlen(t->password));
    free(t->user);
    free(t->password);
    free(t->host_name);
    free(t->socket);
    free(t->redacted);
    free(t->where);
    memset(t, 0, sizeof *t);
}

int my_connect(my_target *t, const char *db, MYSQL **out)
{
    *out = NULL;
    MYSQL *c = mysql_init(NULL);
    if (!c)
        return my_error(t, RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
    unsigned int timeout = 10;
    my_bool on = 1;
    /* The [client] group of the usual option files, ~/.my.cnf included,
     * supplies a password the connection string leaves out. */
    mysql_optionsv(c, MYSQL_READ_DEFAULT_GROUP, "client");
    mysql_optionsv(c, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
    mysql_optionsv(c, MYSQL_OPT_LOCAL_INFILE, &on);
    mysql_optionsv(c, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    const char *hostname = t->host_name && *t->host_name ? t->host_name : NULL;
    if (!mysql_real_connect(c, hostname, t->user && *t->user ? t->user : NULL, t->password, db,
                            t->port, t->socket, CLIENT_MULTI_RESULTS)) {
        unsigned int e = mysql_errno(c);
        int rc;
        if (e == ER_ACCESS_DENIED_ERROR || e == ER_ACCESS_DENIED_NO_PASSWORD_ERROR)
            rc = my_error(t, RB_EPERM, RB_ERRCLASS_DATABASE,
                          "the MySQL server at %s refused user '%s' (wrong user name "
                          "or password): %s; give the password in the "
                          "connection_string, ~/.my.cnf or MYSQL_PWD",
                          t->where, t->user ? t->user : "", mysql_error(c));
        else if (e == ER_BAD_DB_ERROR)
            rc = my_error(t, RB_ENOTFOUND, RB_ERRCLASS_DATABASE,
                          "database '%s' does not exist on the MySQL server at %s", db, t->where);
        else if (e == ER_DBACCESS_DENIED_ERROR)
            rc = my_error(t, RB_EPERM, RB_ERRCLASS_DATABASE,
                          "user '%s' may not use database '%s' on %s: %s", t->user ? t->user : "",
                          db, t->where, mysql_error(c));
        else if (e >= 2000 && e < 3000)
            rc = my_error(t, RB_EIO, RB_ERRCLASS_DATABASE,
                          "cannot reach the MySQL server at %s: %s; check that it "
                          "runs and that connection_string names it",
                          t->where, mysql_error(c));
        else
            rc = my_fail(t, c, "connecting");
        mysql_close(c);
        return rc;
    }
    *out = c;
    return 0;
}

/* Who else is connected to the live database, those with an open
 * transaction first: the sessions a lock wait was most likely waiting for. */
static void other_sessions(my_target *t, MYSQL *c, my_buf *b)
{
    my_buf q = {0};
    my_buf_puts(&q, "SELECT p.ID, p.USER, p.COMMAND, p.TIME, "
                    "TIMESTAMPDIFF(SECOND, x.trx_started, NOW()) "
                    "FROM information_schema.PROCESSLIST p LEFT JOIN "
                    "information_schema.INNODB_TRX x ON x.trx_mysql_thread_id = p.ID "
                    "WHERE p.ID <> CONNECTION_ID() AND p.DB = ");
    my_buf_literal(&q, t->live, strlen(t->live));
    my_buf_puts(&q, " ORDER BY x.trx_started IS NULL, p.TIME DESC LIMIT 5");
    if (my_buf_str(&q) && !mysql_query(c, q.p)) {
        MYSQL_RES *r = mysql_store_result(c);
        MYSQL_ROW row;
        int n = 0;
        while (r && (row = mysql_fetch_row(r))) {
            my_buf_printf(b, "%s session %s (user %s, %s for %s s",
                          n++ ? "," : "; connected:", row[0], row[1] ? row[1] : "?",
                          row[2] ? row[2] : "?", row[3] ? row[3] : "?");
            if (row[4])
                my_buf_printf(b, ", transaction open for %s s", row[4]);
            my_buf_puts(b, ")");
        }
        mysql_free_result(r);
    }
    my_buf_free(&q);
}

int my_fail(my_target *t, MYSQL *c, const char *what)
{
    unsigned int e = mysql_errno(c);
    const char *msg = mysql_error(c);
    const char *user = t->user ? t->user : "";
    switch (e) {
    case ER_DBACCESS_DENIED_ERROR:
    case ER_ACCESS_DENIED_ERROR:
    case ER_TABLEACCESS_DENIED_ERROR:
    case ER_COLUMNACCESS_DENIED_ERROR:
    case ER_SPECIFIC_ACCESS_DENIED_ERROR:
    case ER_PROCACCESS_DENIED_ERROR:
    case ER_BINLOG_CREATE_ROUTINE_NEED_SUPER:
        return my_error(t, RB_EPERM, RB_ERRCLASS_DATABASE,
                        "%s: %s; user '%s' lacks the privilege this needs: grant it, or "
                        "use the other method (clone needs CREATE, DROP, INSERT, ALTER "
                        "and LOCK TABLES on the _rbhost_* schemas; dump needs SELECT, "
                        "LOCK TABLES and SHOW VIEW to snapshot)",
                        what, msg, user);
    case ER_LOCK_WAIT_TIMEOUT: {
        my_buf b = {0};
        other_sessions(t, c, &b);
        int rc =
            my_error(t, RB_ELOCKED, RB_ERRCLASS_LOCK,
                     "%s: another session holds a lock on database '%s' and did not "
                     "end it within %d s%s; end that transaction (or the session) "
                     "and try again",
                     what, t->live, MY_LOCK_WAIT_SECONDS, my_buf_str(&b) ? my_buf_str(&b) : "");
        my_buf_free(&b);
        return rc;
    }
    case ER_DISK_FULL:
    case ER_RECORD_FILE_FULL:
        return my_error(t, RB_ENOSPC, RB_ERRCLASS_DATABASE,
                        "%s: the MySQL server at %s ran out of disk space: %s", what, t->where,
                        msg);
    case ER_BAD_DB_ERROR:
    case ER_NO_SUCH_TABLE:
        return my_error(t, RB_ENOTFOUND, RB_ERRCLASS_DATABASE, "%s: %s", what, msg);
    case CR_SERVER_GONE_ERROR:
    case CR_SERVER_LOST:
        return my_error(t, RB_EIO, RB_ERRCLASS_DATABASE,
                        "%s: lost the connection to the MySQL server at %s: %s", what, t->where,
                        msg);
    default:
        break;
    }
    if (strstr(msg, "errno: 28") || strstr(msg, "error 28") || strstr(msg, "No space left"))
        return my_error(t, RB_ENOSPC, RB_ERRCLASS_DATABASE,
                        "%s: the MySQL server at %s ran out of disk space: %s", what, t->where,
                        msg);
    return my_error(t, RB_ERROR, RB_ERRCLASS_DATABASE, "%s: %s (MySQL error %u)", what, msg, e);
}

int my_exec(my_target *t, MYSQL *c, const char *what, const char *sql)
{
    if (!sql)
        return my_error(t, RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
    if (mysql_query(c, sql))
        return my_fail(t, c, what);
    /* A statement may still return a result (CHECKSUM, OPTIMIZE); drain it
     * so the connection stays usable. */
    do {
        MYSQL_RES *r = mysql_store_result(c);
        mysql_free_result(r);
    } while (mysql_next_result(c) == 0);
    if (mysql_errno(c))
        return my_fail(t, c, what);
    return 0;
}

MYSQL_RES *my_query(my_target *t, MYSQL *c, const char *what, const char *sql)
{
    if (!sql) {
        my_error(t, RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
        return NULL;
    }
    if (mysql_query(c, sql)) {
        my_fail(t, c, what);
        return NULL;
    }
    MYSQL_RES *r = mysql_store_result(c);
    if (!r) {
        if (mysql_errno(c))
            my_fail(t, c, what);
        else
            my_error(t, RB_ERROR, RB_ERRCLASS_DATABASE, "%s: the server returned no rows", what);
    }
    return r;
}

int my_session_setup(my_target *t, MYSQL *c)
{
    char sql[512];
    /* Copies and loads must take values as they are: no strict-mode
     * rejection of old zero dates, 0 kept in AUTO_INCREMENT columns, times
     * in UTC so TIMESTAMP columns round-trip, and no checks the source
     * already passed. */
    snprintf(sql, sizeof sql,
             "SET SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO,NO_ENGINE_SUBSTITUTION', "
             "time_zone = '+00:00', foreign_key_checks = 0, unique_checks = 0, "
             "lock_wait_timeout = %d, innodb_lock_wait_timeout = %d, "
             "group_concat_max_len = 1048576",
             MY_LOCK_WAIT_SECONDS, MY_LOCK_WAIT_SECONDS);
    return my_exec(t, c, "setting up the session", sql);
}

int my_schema_exists(my_target *t, MYSQL *c, const char *name)
{
    my_buf q = {0};
    my_buf_puts(&q, "SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ");
    my_buf_literal(&q, name, strlen(name));
    MYSQL_RES *r = my_query(t, c, "looking up a schema", my_buf_str(&q));
    my_buf_free(&q);
    if (!r)
        return RB_ERROR;
    int found = mysql_num_rows(r) > 0;
    mysql_free_result(r);
    return found;
}

int my_schema_drop(my_target *t, MYSQL *c, const char *schema)
{
    my_buf q = {0};
    my_buf_puts(&q, "DROP DATABASE IF EXISTS ");
    my_buf_ident(&q, schema);
    char what[128];
    snprintf(what, sizeof what, "dropping schema %s", schema);
    int rc = my_exec(t, c, what, my_buf_str(&q));
    my_buf_free(&q);
    return rc;
}
