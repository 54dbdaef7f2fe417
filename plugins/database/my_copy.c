/* Server-side copies: creating a catalog's tables in another schema and
 * filling them with INSERT ... SELECT while the sources are read-locked. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "my_db.h"

int my_schema_create(my_target *t, MYSQL *c, const char *name, const my_catalog *cat)
{
    int rc = my_schema_drop(t, c, name);
    if (rc)
        return rc;
    my_buf q = {0};
    my_buf_puts(&q, "CREATE DATABASE ");
    my_buf_ident(&q, name);
    if (cat->charset && *cat->charset)
        my_buf_printf(&q, " CHARACTER SET %s", cat->charset);
    if (cat->collation && *cat->collation)
        my_buf_printf(&q, " COLLATE %s", cat->collation);
    char what[128];
    snprintf(what, sizeof what, "creating schema %s for the copies", name);
    rc = my_exec(t, c, what, my_buf_str(&q));
    my_buf_free(&q);
    return rc;
}

int my_create_tables(my_target *t, MYSQL *c, const char *schema, const my_catalog *cat,
                     int defer_keys)
{
    my_buf q = {0};
    my_buf_puts(&q, "USE ");
    my_buf_ident(&q, schema);
    int rc = my_exec(t, c, "switching schema", my_buf_str(&q));
    my_buf_free(&q);
    /* Unqualified REFERENCES in the recorded CREATE TABLE resolve to this
     * schema, so the copies' foreign keys point at each other and follow
     * them through the RENAME TABLE swap. */
    for (size_t i = 0; !rc && i < cat->ntables; i++) {
        char what[160];
        snprintf(what, sizeof what, "creating table %s.%.64s", schema, cat->tables[i].name);
        char *table = NULL, *keys = NULL, *fks = NULL;
        if (defer_keys && my_create_split(cat->tables[i].create, "", &table, &keys, &fks))
            return my_error(t, RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
        rc = my_exec(t, c, what, defer_keys ? table : cat->tables[i].create);
        free(table);
        free(keys);
        free(fks);
    }
    return rc;
}

int my_add_keys(my_target *t, MYSQL *c, const char *schema, const my_table *tb, int which)
{
    my_buf q = {0};
    my_buf_qname(&q, schema, tb->name);
    char *table = NULL, *keys = NULL, *fks = NULL;
    int rc = my_buf_str(&q) ? my_create_split(tb->create, q.p, &table, &keys, &fks) : RB_ENOMEM;
    my_buf_free(&q);
    if (rc)
        return my_error(t, RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
    char what[160];
    snprintf(what, sizeof what, "building the indexes of table %s.%.64s", schema, tb->name);
    if (keys && (which & MY_KEYS))
        rc = my_exec(t, c, what, keys);
    snprintf(what, sizeof what, "adding the foreign keys of table %s.%.64s", schema, tb->name);
    if (!rc && fks && (which & MY_FOREIGN_KEYS))
        rc = my_exec(t, c, what, fks);
    free(table);
    free(keys);
    free(fks);
    return rc;
}

/* Under LOCK TABLES nobody may change a definition, but one may have
 * changed between reading the catalog and taking the lock; and the
 * AUTO_INCREMENT counters moved with every insert since. Reads both again
 * under the lock. */
static int refresh_definitions(my_target *t, MYSQL *c, const char *from, my_catalog *cat)
{
    for (size_t i = 0; i < cat->ntables; i++) {
        my_table *tb = &cat->tables[i];
        my_buf q = {0};
        my_buf_puts(&q, "SHOW CREATE TABLE ");
        my_buf_qname(&q, from, tb->name);
        MYSQL_RES *r = my_query(t, c, "reading a table definition", my_buf_str(&q));
        my_buf_free(&q);
        if (!r)
            return RB_ERROR;
        MYSQL_ROW row = mysql_fetch_row(r);
        char *fresh = row && row[1] ? strdup(row[1]) : NULL;
        mysql_free_result(r);
        char *now = fresh ? my_create_normalized(fresh) : NULL;
        char *then = my_create_normalized(tb->create);
        int same = now && then && !strcmp(now, then);
        free(now);
        free(then);
        if (!same) {
            free(fresh);
            return my_error(t, RB_ECONFLICT, RB_ERRCLASS_DATABASE,
                            "the definition of table %s.%s changed while the snapshot was "
                            "being taken; take it again",
                            from, tb->name);
        }
        free(tb->create);
        tb->create = fresh;
        tb->auto_increment = my_create_auto_increment(fresh);
    }
    return 0;
}

int my_lock_tables(my_target *t, MYSQL *c, const char *from, const char *to, my_catalog *cat)
{
    if (!cat->ntables)
        return 0;
    my_buf q = {0};
    my_buf_puts(&q, "LOCK TABLES ");
    for (size_t i = 0; i < cat->ntables; i++) {
        my_buf_puts(&q, i ? ", " : "");
        my_buf_qname(&q, from, cat->tables[i].name);
        my_buf_puts(&q, " READ");
        if (to) {
            my_buf_puts(&q, ", ");
            my_buf_qname(&q, to, cat->tables[i].name);
            my_buf_puts(&q, " WRITE");
        }
    }
    int rc = my_exec(t, c, "locking the tables for a consistent copy", my_buf_str(&q));
    my_buf_free(&q);
    if (!rc) {
        rc = refresh_definitions(t, c, from, cat);
        if (rc)
            mysql_query(c, "UNLOCK TABLES");
    }
    return rc;
}

int my_copy_tables(my_target *t, MYSQL *c, const char *from, const char *to, my_catalog *cat,
                   int locked)
{
    int rc = my_create_tables(t, c, to, cat, 1);
    if (rc)
        return rc;
    /* Locked: read locks on every source at once; writers wait (at most
     * lock_wait_timeout for the lock itself) and the copies are one
     * consistent state of the database. Unlocked: each INSERT ... SELECT
     * reads a committed state of its table without locking rows (READ
     * COMMITTED), writers go on, and the caller checks the result. */
    rc = locked ? my_lock_tables(t, c, from, to, cat)
                : my_exec(t, c, "preparing the copy",
                          "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED");
    for (size_t i = 0; !rc && i < cat->ntables; i++) {
        my_table *tb = &cat->tables[i];
        my_buf q = {0};
        my_buf_puts(&q, "INSERT INTO ");
        my_buf_qname(&q, to, tb->name);
        my_buf_printf(&q, " (%s) SELECT %s FROM ", tb->columns, tb->columns);
        my_buf_qname(&q, from, tb->name);
        char what[160];
        snprintf(what, sizeof what, "copying table %s.%.64s", from, tb->name);
        rc = my_exec(t, c, what, my_buf_str(&q));
        my_buf_free(&q);
        /* The copy was created before the lock, with the counter then; or
         * it is to have the recorded counter. */
        if (!rc && tb->auto_increment > 0) {
            my_buf_puts(&q, "ALTER TABLE ");
            my_buf_qname(&q, to, tb->name);
            my_buf_printf(&q, " AUTO_INCREMENT = %lld", (long long)tb->auto_increment);
            rc = my_exec(t, c, what, my_buf_str(&q));
            my_buf_free(&q);
        }
        t->host->progress(t->op, i + 1, cat->ntables, "tables");
        if (!rc && t->host->cancelled(t->op))
            rc = my_error(t, RB_ECANCELED, RB_ERRCLASS_DATABASE, "cancelled");
    }
    if (cat->ntables && locked)
        mysql_query(c, "UNLOCK TABLES");
    if (!locked)
        mysql_query(c, "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ");
    /* The copies are private: their indexes are built after the live
     * tables are unlocked again. */
    for (size_t i = 0; !rc && i < cat->ntables; i++)
        rc = my_add_keys(t, c, to, &cat->tables[i], MY_KEYS | MY_FOREIGN_KEYS);
    if (!rc)
        rc = my_catalog_count(t, c, to, cat);
    return rc;
}
