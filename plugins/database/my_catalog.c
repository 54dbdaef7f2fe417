/* The catalog of a database: every table, view, trigger and routine as
 * SHOW CREATE prints it, the columns a dump reads and a load writes, and
 * the database's character set. */
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include <stdio.h>

#include "my_db.h"

static const char *const kind_names[] = {"view", "trigger", "procedure", "function"};

const char *my_kind_name(my_kind kind)
{
    return kind_names[kind];
}

static int oom(my_target *t)
{
    return my_error(t, RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
}

static char *dup_or_empty(const char *s)
{
    return strdup(s ? s : "");
}

static int in_scope(my_target *t, const char *table)
{
    if (!t->tables)
        return 1;
    size_t n = t->host->node_count(t->tables);
    for (size_t i = 0; i < n; i++) {
        const char *name = t->host->node_string(t->host->node_at(t->tables, i));
        if (name && !strcmp(name, table))
            return 1;
    }
    return 0;
}

static void table_free(my_table *tb)
{
    free(tb->name);
    free(tb->create);
    free(tb->columns);
    free(tb->select_list);
    free(tb->load_list);
}

static void object_free(my_object *o)
{
    free(o->name);
    free(o->table);
    free(o->create);
    free(o->sql_mode);
    free(o->charset_client);
    free(o->collation_connection);
}

void my_catalog_free(my_catalog *cat)
{
    for (size_t i = 0; i < cat->ntables; i++)
        table_free(&cat->tables[i]);
    for (size_t i = 0; i < cat->nobjects; i++)
        object_free(&cat->objects[i]);
    free(cat->tables);
    free(cat->objects);
    free(cat->charset);
    free(cat->collation);
    memset(cat, 0, sizeof *cat);
}

static my_table *add_table(my_catalog *cat, const char *name)
{
    my_table *n = realloc(cat->tables, (cat->ntables + 1) * sizeof *n);
    if (!n)
        return NULL;
    cat->tables = n;
    my_table *tb = &n[cat->ntables];
    memset(tb, 0, sizeof *tb);
    tb->auto_increment = -1;
    tb->rows = -1;
    tb->checksum = -1;
    if (!(tb->name = strdup(name)))
        return NULL;
    cat->ntables++;
    return tb;
}

static my_object *add_object(my_catalog *cat, my_kind kind, const char *name)
{
    my_object *n = realloc(cat->objects, (cat->nobjects + 1) * sizeof *n);
    if (!n)
        return NULL;
    cat->objects = n;
    my_object *o = &n[cat->nobjects];
    memset(o, 0, sizeof *o);
    o->kind = kind;
    if (!(o->name = strdup(name)))
        return NULL;
    cat->nobjects++;
    return o;
}

my_table *my_catalog_table(const my_catalog *cat, const char *name)
{
    for (size_t i = 0; i < cat->ntables; i++)
        if (!strcmp(cat->tables[i].name, name))
            return &cat->tables[i];
    return NULL;
}

const my_object *my_catalog_object(const my_catalog *cat, my_kind kind, const char *name)
{
    for (size_t i = 0; i < cat->nobjects; i++)
        if (cat->objects[i].kind == kind && !strcmp(cat->objects[i].name, name))
            return &cat->objects[i];
    return NULL;
}

/* The AUTO_INCREMENT=N table option sits after the closing parenthesis of
 * the column list; a column's DEFAULT text cannot be mistaken for it. */
static const char *auto_inc_option(const char *create)
{
    const char *close = strrchr(create, ')');
    return close ? strstr(close, " AUTO_INCREMENT=") : NULL;
}

char *my_create_normalized(const char *create)
{
    char *out = strdup(create);
    if (!out)
        return NULL;
    const char *opt = auto_inc_option(create);
    if (opt) {
        size_t at = (size_t)(opt - create);
        size_t end = at + strlen(" AUTO_INCREMENT=");
        while (create[end] >= '0' && create[end] <= '9')
            end++;
        memmove(out + at, out + end, strlen(out + end) + 1);
    }
    return out;
}

int64_t my_create_auto_increment(const char *create)
{
    const char *opt = auto_inc_option(create);
    return opt ? strtoll(opt + strlen(" AUTO_INCREMENT="), NULL, 10) : -1;
}

static MYSQL_RES *listing(my_target *t, MYSQL *c, const char *what, const char *head,
                          const char *db, const char *tail)
{
    my_buf q = {0};
    my_buf_puts(&q, head);
    my_buf_literal(&q, db, strlen(db));
    my_buf_puts(&q, tail);
    MYSQL_RES *r = my_query(t, c, what, my_buf_str(&q));
    my_buf_free(&q);
    return r;
}

int my_catalog_read_tables(my_target *t, MYSQL *c, const char *db, my_catalog *cat)
{
    memset(cat, 0, sizeof *cat);
    MYSQL_RES *r = listing(t, c, "listing tables",
                           "SELECT TABLE_NAME FROM information_schema.TABLES WHERE "
                           "TABLE_TYPE = 'BASE TABLE' AND TABLE_SCHEMA = ",
                           db, " ORDER BY TABLE_NAME");
    if (!r)
        return RB_ERROR;
    MYSQL_ROW row;
    int rc = 0;
    while (!rc && (row = mysql_fetch_row(r)))
        if (in_scope(t, row[0]) && !add_table(cat, row[0]))
            rc = oom(t);
    mysql_free_result(r);
    return rc;
}

static int read_charset(my_target *t, MYSQL *c, const char *db, my_catalog *cat)
{
    MYSQL_RES *r = listing(t, c, "reading the database's character set",
                           "SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME FROM "
                           "information_schema.SCHEMATA WHERE SCHEMA_NAME = ",
                           db, "");
    if (!r)
        return RB_ERROR;
    MYSQL_ROW row = mysql_fetch_row(r);
    int rc = 0;
    if (!row)
        rc = my_error(t, RB_ENOTFOUND, RB_ERRCLASS_DATABASE,
                      "database '%s' does not exist on the MySQL server at %s", db, t->where);
    else if (!(cat->charset = dup_or_empty(row[0])) || !(cat->collation = dup_or_empty(row[1])))
        rc = oom(t);
    mysql_free_result(r);
    return rc;
}

static int read_creates(my_target *t, MYSQL *c, const char *db, my_catalog *cat)
{
    for (size_t i = 0; i < cat->ntables; i++) {
        my_table *tb = &cat->tables[i];
        my_buf q = {0};
        my_buf_puts(&q, "SHOW CREATE TABLE ");
        my_buf_qname(&q, db, tb->name);
        MYSQL_RES *r = my_query(t, c, "reading a table definition", my_buf_str(&q));
        my_buf_free(&q);
        if (!r)
            return RB_ERROR;
        MYSQL_ROW row = mysql_fetch_row(r);
        int rc = 0;
        if (!row || mysql_num_fields(r) < 2 || !row[1])
            rc = my_error(t, RB_ERROR, RB_ERRCLASS_DATABASE,
                          "SHOW CREATE TABLE %s.%s returned nothing", db, tb->name);
        else if (!(tb->create = strdup(row[1])))
            rc = oom(t);
        else
            tb->auto_increment = my_create_auto_increment(tb->create);
        mysql_free_result(r);
        if (rc)
            return rc;
    }
    return 0;
}

/* Column lists: a dump reads the stored columns (generated ones are
 * computed again on load), BIT as numbers and FLOAT widened to DOUBLE so
 * the text form round-trips exactly. */
static int read_columns(my_target *t, MYSQL *c, const char *db, my_catalog *cat)
{
    MYSQL_RES *r = listing(t, c, "listing columns",
                           "SELECT TABLE_NAME, COLUMN_NAME, DATA_TYPE, IS_GENERATED FROM "
                           "information_schema.COLUMNS WHERE TABLE_SCHEMA = ",
                           db, " ORDER BY TABLE_NAME, ORDINAL_POSITION");
    if (!r)
        return RB_ERROR;
    size_t nt = cat->ntables;
    my_buf *cols = calloc(nt ? nt : 1, sizeof *cols);
    my_buf *sel = calloc(nt ? nt : 1, sizeof *sel);
    my_buf *load = calloc(nt ? nt : 1, sizeof *load);
    my_buf *set = calloc(nt ? nt : 1, sizeof *set);
    int rc = cols && sel && load && set ? 0 : oom(t);
    MYSQL_ROW row;
    unsigned var = 0;
    while (!rc && (row = mysql_fetch_row(r))) {
        my_table *tb = my_catalog_table(cat, row[0]);
        if (!tb || (row[3] && strcmp(row[3], "NEVER")))
            continue;
        size_t i = (size_t)(tb - cat->tables);
        const char *sep = cols[i].len ? "," : "";
        my_buf_puts(&cols[i], sep);
        my_buf_ident(&cols[i], row[1]);
        my_buf_puts(&sel[i], sep);
        my_buf_puts(&load[i], sep);
        if (!strcmp(row[2], "bit")) {
            my_buf_ident(&sel[i], row[1]);
            my_buf_puts(&sel[i], "+0");
            my_buf_printf(&load[i], "@rb%u", var);
            my_buf_puts(&set[i], set[i].len ? ", " : " SET ");
            my_buf_ident(&set[i], row[1]);
            my_buf_printf(&set[i], " = CAST(@rb%u AS UNSIGNED)", var++);
        } else if (!strcmp(row[2], "float")) {
            my_buf_puts(&sel[i], "CAST(");
            my_buf_ident(&sel[i], row[1]);
            my_buf_puts(&sel[i], " AS DOUBLE)");
            my_buf_ident(&load[i], row[1]);
        } else {
            my_buf_ident(&sel[i], row[1]);
            my_buf_ident(&load[i], row[1]);
        }
    }
    mysql_free_result(r);
    for (size_t i = 0; !rc && i < nt; i++) {
        my_table *tb = &cat->tables[i];
        my_buf l = {0};
        my_buf_printf(&l, "(%s)%s", my_buf_str(&load[i]) ? load[i].p : "",
                      my_buf_str(&set[i]) ? set[i].p : "");
        tb->columns = my_buf_str(&cols[i]) ? strdup(cols[i].p) : NULL;
        tb->select_list = my_buf_str(&sel[i]) ? strdup(sel[i].p) : NULL;
        tb->load_list = my_buf_str(&l) ? strdup(l.p) : NULL;
        my_buf_free(&l);
        if (!tb->columns || !tb->select_list || !tb->load_list)
            rc = oom(t);
        else if (!*tb->columns)
            rc = my_error(t, RB_EUNSUPPORTED, RB_ERRCLASS_DATABASE,
                          "table %s.%s has no stored columns", db, tb->name);
    }
    for (size_t i = 0; i < nt; i++) {
        if (cols)
            my_buf_free(&cols[i]);
        if (sel)
            my_buf_free(&sel[i]);
        if (load)
            my_buf_free(&load[i]);
        if (set)
            my_buf_free(&set[i]);
    }
    free(cols);
    free(sel);
    free(load);
    free(set);
    return rc;
}

/* SHOW CREATE VIEW/TRIGGER/PROCEDURE/FUNCTION: the name of the column that
 * holds the statement, and where the session settings it needs are. */
static int read_object(my_target *t, MYSQL *c, const char *db, my_object *o)
{
    static const char *const show[] = {"VIEW", "TRIGGER", "PROCEDURE", "FUNCTION"};
    static const char *const column[] = {"Create View", "SQL Original Statement",
                                         "Create Procedure", "Create Function"};
    my_buf q = {0};
    my_buf_printf(&q, "SHOW CREATE %s ", show[o->kind]);
    my_buf_qname(&q, db, o->name);
    MYSQL_RES *r = my_query(t, c, "reading a definition", my_buf_str(&q));
    my_buf_free(&q);
    if (!r)
        return RB_ERROR;
    MYSQL_ROW row = mysql_fetch_row(r);
    MYSQL_FIELD *f = mysql_fetch_fields(r);
    unsigned n = mysql_num_fields(r);
    int rc = 0;
    for (unsigned i = 0; row && !rc && i < n; i++) {
        char **slot = NULL;
        if (!strcmp(f[i].name, column[o->kind]))
            slot = &o->create;
        else if (!strcmp(f[i].name, "sql_mode"))
            slot = &o->sql_mode;
        else if (!strcmp(f[i].name, "character_set_client"))
            slot = &o->charset_client;
        else if (!strcmp(f[i].name, "collation_connection"))
            slot = &o->collation_connection;
        if (slot && row[i] && !(*slot = strdup(row[i])))
            rc = oom(t);
    }
    mysql_free_result(r);
    if (!rc && !o->create)
        rc = my_error(t, RB_EPERM, RB_ERRCLASS_DATABASE,
                      "cannot read the definition of %s %s.%s: user '%s' needs SHOW "
                      "VIEW or SHOW CREATE ROUTINE (or to be its definer)",
                      kind_names[o->kind], db, o->name, t->user ? t->user : "");
    return rc;
}

static int read_objects(my_target *t, MYSQL *c, const char *db, my_catalog *cat)
{
    struct {
        const char *head, *tail;
    } lists[] = {
        {"SELECT TABLE_NAME, 'view', NULL FROM information_schema.VIEWS WHERE TABLE_SCHEMA = ",
         " ORDER BY TABLE_NAME"},
        {"SELECT TRIGGER_NAME, 'trigger', EVENT_OBJECT_TABLE FROM information_schema.TRIGGERS "
         "WHERE TRIGGER_SCHEMA = ",
         " ORDER BY EVENT_OBJECT_TABLE, ACTION_TIMING, EVENT_MANIPULATION, ACTION_ORDER"},
        {"SELECT ROUTINE_NAME, LOWER(ROUTINE_TYPE), NULL FROM information_schema.ROUTINES WHERE "
         "ROUTINE_TYPE IN ('PROCEDURE', 'FUNCTION') AND ROUTINE_SCHEMA = ",
         " ORDER BY ROUTINE_TYPE DESC, ROUTINE_NAME"},
    };
    for (size_t l = 0; l < 3; l++) {
        /* With a narrowed scope only the triggers of the listed tables
         * belong to it: views and routines span the whole database. */
        if (t->tables && l != 1)
            continue;
        MYSQL_RES *r =
            listing(t, c, "listing views, triggers and routines", lists[l].head, db, lists[l].tail);
        if (!r)
            return RB_ERROR;
        MYSQL_ROW row;
        int rc = 0;
        while (!rc && (row = mysql_fetch_row(r))) {
            if (row[2] && !in_scope(t, row[2]))
                continue;
            my_kind kind = MY_VIEW;
            for (int k = 0; k < 4; k++)
                if (!strcmp(row[1], kind_names[k]))
                    kind = (my_kind)k;
            my_object *o = add_object(cat, kind, row[0]);
            if (!o || (row[2] && !(o->table = strdup(row[2]))))
                rc = oom(t);
        }
        mysql_free_result(r);
        if (rc)
            return rc;
    }
    for (size_t i = 0; i < cat->nobjects; i++) {
        int rc = read_object(t, c, db, &cat->objects[i]);
        if (rc)
            return rc;
    }
    return 0;
}

/* The swap moves only the tables in scope; a foreign key between a table
 * inside and one outside would end up pointing at the replaced copy. */
static int scope_closed(my_target *t, MYSQL *c, const char *db)
{
    MYSQL_RES *r = listing(t, c, "listing foreign keys",
                           "SELECT TABLE_NAME, REFERENCED_TABLE_NAME, CONSTRAINT_NAME FROM "
                           "information_schema.REFERENTIAL_CONSTRAINTS WHERE "
                           "UNIQUE_CONSTRAINT_SCHEMA = CONSTRAINT_SCHEMA AND CONSTRAINT_SCHEMA = ",
                           db, " ORDER BY TABLE_NAME, CONSTRAINT_NAME");
    if (!r)
        return RB_ERROR;
    MYSQL_ROW row;
    int rc = 0;
    while (!rc && (row = mysql_fetch_row(r)))
        if (in_scope(t, row[0]) != in_scope(t, row[1]))
            rc = my_error(t, RB_EUNSUPPORTED, RB_ERRCLASS_CONFIG,
                          "tables: foreign key %s links table %s to table %s, but only one of "
                          "them is listed; list both or neither",
                          row[2], row[0], row[1]);
    mysql_free_result(r);
    return rc;
}

int my_catalog_read(my_target *t, MYSQL *c, const char *db, my_catalog *cat)
{
    int rc = my_catalog_read_tables(t, c, db, cat);
    if (!rc)
        rc = read_charset(t, c, db, cat);
    if (!rc && t->tables)
        rc = scope_closed(t, c, db);
    /* SHOW CREATE VIEW qualifies names with the schema unless it is the
     * current one: read from inside it, so the text is the same wherever
     * the database is recreated. */
    if (!rc) {
        my_buf q = {0};
        my_buf_puts(&q, "USE ");
        my_buf_ident(&q, db);
        rc = my_exec(t, c, "switching schema", my_buf_str(&q));
        my_buf_free(&q);
    }
    if (!rc)
        rc = read_creates(t, c, db, cat);
    if (!rc)
        rc = read_columns(t, c, db, cat);
    if (!rc)
        rc = read_objects(t, c, db, cat);
    if (rc)
        my_catalog_free(cat);
    return rc;
}

int my_catalog_count(my_target *t, MYSQL *c, const char *db, my_catalog *cat)
{
    for (size_t i = 0; i < cat->ntables; i++) {
        my_table *tb = &cat->tables[i];
        my_buf q = {0};
        my_buf_puts(&q, "SELECT COUNT(*) FROM ");
        my_buf_qname(&q, db, tb->name);
        MYSQL_RES *r = my_query(t, c, "counting rows", my_buf_str(&q));
        my_buf_free(&q);
        if (!r)
            return RB_ERROR;
        MYSQL_ROW row = mysql_fetch_row(r);
        tb->rows = row && row[0] ? strtoll(row[0], NULL, 10) : -1;
        mysql_free_result(r);
        my_buf_puts(&q, "CHECKSUM TABLE ");
        my_buf_qname(&q, db, tb->name);
        r = my_query(t, c, "checksumming a table", my_buf_str(&q));
        my_buf_free(&q);
        if (!r)
            return RB_ERROR;
        row = mysql_fetch_row(r);
        tb->checksum = row && mysql_num_fields(r) > 1 && row[1] ? strtoll(row[1], NULL, 10) : -1;
        mysql_free_result(r);
        if (t->host->cancelled(t->op))
            return my_error(t, RB_ECANCELED, RB_ERRCLASS_DATABASE, "cancelled");
    }
    return 0;
}

int my_catalog_hash(const my_catalog *cat, char out[65])
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!md || !EVP_DigestInit_ex(md, EVP_sha256(), NULL)) {
        EVP_MD_CTX_free(md);
        return RB_ENOMEM;
    }
    EVP_DigestUpdate(md, cat->charset ? cat->charset : "",
                     strlen(cat->charset ? cat->charset : "") + 1);
    EVP_DigestUpdate(md, cat->collation ? cat->collation : "",
                     strlen(cat->collation ? cat->collation : "") + 1);
    for (size_t i = 0; i < cat->ntables; i++) {
        char *norm = my_create_normalized(cat->tables[i].create);
        if (!norm) {
            EVP_MD_CTX_free(md);
            return RB_ENOMEM;
        }
        EVP_DigestUpdate(md, cat->tables[i].name, strlen(cat->tables[i].name) + 1);
        EVP_DigestUpdate(md, norm, strlen(norm) + 1);
        free(norm);
    }
    for (size_t i = 0; i < cat->nobjects; i++) {
        const my_object *o = &cat->objects[i];
        EVP_DigestUpdate(md, kind_names[o->kind], strlen(kind_names[o->kind]) + 1);
        EVP_DigestUpdate(md, o->name, strlen(o->name) + 1);
        EVP_DigestUpdate(md, o->create, strlen(o->create) + 1);
    }
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_DigestFinal_ex(md, d, &n);
    EVP_MD_CTX_free(md);
    for (unsigned int i = 0; i < 32; i++) {
        static const char hex[] = "0123456789abcdef";
        out[2 * i] = hex[d[i] >> 4];
        out[2 * i + 1] = hex[d[i] & 15];
    }
    out[64] = '\0';
    return 0;
}
