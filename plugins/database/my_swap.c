/* The swap: one RENAME TABLE moves the live tables out and the prepared
 * ones in, then the views, triggers and routines are recreated. */
#include <mysqld_error.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <stdio.h>

#include "my_db.h"

static int use_live(my_target *t, MYSQL *c)
{
    my_buf q = {0};
    my_buf_puts(&q, "USE ");
    my_buf_ident(&q, t->live);
    int rc = my_exec(t, c, "switching to the live database", my_buf_str(&q));
    my_buf_free(&q);
    return rc;
}

int my_object_charset_usable(const my_object *o)
{
    if (!o->charset_client || !*o->charset_client)
        return 0;
    if (!strncmp(o->charset_client, "utf8", 4))
        return 1;
    for (const unsigned char *s = (const unsigned char *)o->create; *s; s++)
        if (*s >= 0x80)
            return 0;
    return 1;
}

/* A recorded definition runs under the sql_mode, client character set and
 * collation it was created with. */
static int create_object(my_target *t, MYSQL *c, const my_object *o)
{
    my_buf q = {0};
    my_buf_puts(&q, "SET SESSION sql_mode = ");
    my_buf_literal(&q, o->sql_mode ? o->sql_mode : "", strlen(o->sql_mode ? o->sql_mode : ""));
    if (my_object_charset_usable(o)) {
        my_buf_puts(&q, ", character_set_client = ");
        my_buf_literal(&q, o->charset_client, strlen(o->charset_client));
    }
    if (o->collation_connection && *o->collation_connection) {
        my_buf_puts(&q, ", collation_connection = ");
        my_buf_literal(&q, o->collation_connection, strlen(o->collation_connection));
    }
    int rc = my_exec(t, c, "preparing the session for a definition", my_buf_str(&q));
    my_buf_free(&q);
    if (rc)
        return rc;
    /* OR REPLACE: putting back the live objects after a failed swap must
     * work whichever of them were already dropped. */
    my_buf_puts(&q, "CREATE OR REPLACE ");
    my_buf_puts(&q, o->create + (strncasecmp(o->create, "CREATE ", 7) ? 0 : 7));
    if (!my_buf_str(&q))
        return my_error(t, RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
    int failed = mysql_query(c, q.p);
    my_buf_free(&q);
    unsigned int e = failed ? mysql_errno(c) : 0;
    char msg[512];
    snprintf(msg, sizeof msg, "%s", failed ? mysql_error(c) : "");
    rc = my_exec(t, c, "resetting the session",
                 "SET SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO,NO_ENGINE_SUBSTITUTION', "
                 "character_set_client = utf8mb4, collation_connection = utf8mb4_general_ci");
    if (failed)
        return e == ER_NO_SUCH_TABLE || e == ER_VIEW_INVALID || e == ER_SP_DOES_NOT_EXIST
                   ? 1
                   : my_error(t, RB_ERROR, RB_ERRCLASS_DATABASE,
                              "creating %s %s.%s: %s (MySQL error %u)", my_kind_name(o->kind),
                              t->live, o->name, msg, e);
    return rc;
}

/* A view or routine that the other catalog has with the same text needs
 * no drop and no create: views and routines find tables by name, so they
 * work on the swapped-in tables as they are. Triggers always move. */
static int kept_as_is(const my_object *o, const my_catalog *other)
{
    if (!other || o->kind == MY_TRIGGER || (o->kind == MY_VIEW && my_catalog_table(other, o->name)))
        return 0;
    const my_object *m = my_catalog_object(other, o->kind, o->name);
    return m && !strcmp(m->create, o->create) &&
           !strcmp(m->sql_mode ? m->sql_mode : "", o->sql_mode ? o->sql_mode : "");
}

int my_objects_create(my_target *t, MYSQL *c, const my_catalog *cat, const my_catalog *present)
{
    int rc = use_live(t, c);
    if (rc)
        return rc;
    /* Routines first (views may call functions), then views, which may
     * need each other: passes until nothing is left or nothing moves. */
    static const my_kind order[] = {MY_FUNCTION, MY_PROCEDURE, MY_VIEW, MY_TRIGGER};
    for (size_t k = 0; k < 4; k++) {
        char *done = calloc(cat->nobjects + 1, 1);
        if (!done)
            return my_error(t, RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
        int progress = 1, pending = 1;
        const my_object *last = NULL;
        while (!rc && progress && pending) {
            progress = pending = 0;
            for (size_t i = 0; !rc && i < cat->nobjects; i++) {
                const my_object *o = &cat->objects[i];
                if (o->kind != order[k] || done[i])
                    continue;
                int r = kept_as_is(o, present) ? 0 : create_object(t, c, o);
                if (r == 1) {
                    pending = 1;
                    last = o;
                } else if (r) {
                    rc = r;
                } else {
                    done[i] = 1;
                    progress = 1;
                }
            }
        }
        free(done);
        if (!rc && pending)
            rc = my_error(t, RB_ERROR, RB_ERRCLASS_DATABASE,
                          "creating %s %s.%s: it refers to something that does not exist",
                          my_kind_name(last->kind), t->live, last->name);
        if (rc)
            return rc;
    }
    return 0;
}

static int drop_objects(my_target *t, MYSQL *c, const my_catalog *live, const my_catalog *snap)
{
    static const char *const what[] = {"VIEW", "TRIGGER", "PROCEDURE", "FUNCTION"};
    for (size_t i = 0; i < live->nobjects; i++) {
        const my_object *o = &live->objects[i];
        if (kept_as_is(o, snap))
            continue;
        my_buf q = {0};
        my_buf_printf(&q, "DROP %s IF EXISTS ", what[o->kind]);
        my_buf_qname(&q, t->live, o->name);
        int rc = my_exec(t, c, "dropping a view, trigger or routine", my_buf_str(&q));
        my_buf_free(&q);
        if (rc)
            return rc;
    }
    return 0;
}

static int ensure_live_database(my_target *t, MYSQL *c, const my_catalog *snap,
                                const my_catalog *live)
{
    int exists = my_schema_exists(t, c, t->live);
    if (exists < 0)
        return exists;
    if (exists && live->charset && snap->charset && live->collation && snap->collation &&
        !strcmp(live->charset, snap->charset) && !strcmp(live->collation, snap->collation))
        return 0;
    my_buf q = {0};
    my_buf_puts(&q, exists ? "ALTER DATABASE " : "CREATE DATABASE ");
    my_buf_ident(&q, t->live);
    if (snap->charset && *snap->charset)
        my_buf_printf(&q, " CHARACTER SET %s", snap->charset);
    if (snap->collation && *snap->collation)
        my_buf_printf(&q, " COLLATE %s", snap->collation);
    int rc = exists && !(snap->charset && *snap->charset)
                 ? 0
                 : my_exec(t, c, "setting the live database's character set", my_buf_str(&q));
    my_buf_free(&q);
    return rc;
}

int my_swap_in(my_target *t, MYSQL *c, const char *from, const char *keep, const my_catalog *snap,
               const my_catalog *live, double *swap_seconds)
{
    my_buf q = {0};
    my_buf_puts(&q, "RENAME TABLE ");
    size_t n = 0;
    /* Every live table out first, then every copy in: RENAME TABLE runs
     * its pairs in order, as one atomic statement. */
    for (size_t i = 0; i < live->ntables; i++, n++) {
        my_buf_puts(&q, n ? ", " : "");
        my_buf_qname(&q, t->live, live->tables[i].name);
        my_buf_puts(&q, " TO ");
        my_buf_qname(&q, keep, live->tables[i].name);
    }
    for (size_t i = 0; i < snap->ntables; i++, n++) {
        my_buf_puts(&q, n ? ", " : "");
        my_buf_qname(&q, from, snap->tables[i].name);
        my_buf_puts(&q, " TO ");
        my_buf_qname(&q, t->live, snap->tables[i].name);
    }
    if (!my_buf_str(&q)) {
        my_buf_free(&q);
        return my_error(t, RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
    }
    double start = my_now();
    int rc = ensure_live_database(t, c, snap, live);
    /* Triggers cannot move to another schema with their table, and views
     * would block a table of the same name: both go before the swap and
     * come back from the snapshot's definitions after it. */
    if (!rc)
        rc = drop_objects(t, c, live, snap);
    if (!rc && n)
        rc = my_exec(t, c, "swapping the tables in with RENAME TABLE", q.p);
    my_buf_free(&q);
    if (rc) {
        my_target keepmsg = *t;
        if (my_objects_create(t, c, live, NULL))
            return my_error(t, rc, keepmsg.err_class,
                            "%s; the live tables of '%s' are unchanged but some of their views, "
                            "triggers or routines could not be put back: %s",
                            keepmsg.err_msg, t->live, t->err_msg);
        return my_error(t, rc, keepmsg.err_class, "%s; database '%s' is unchanged", keepmsg.err_msg,
                        t->live);
    }
    rc = my_objects_create(t, c, snap, live);
    *swap_seconds = my_now() - start;
    if (rc)
        return my_error(t, rc, t->err_class,
                        "%s; the snapshot's tables are in place in '%s' but its views, triggers "
                        "and routines are incomplete; the replaced tables are in schema '%s'",
                        t->err_msg, t->live, keep);
    return 0;
}

int my_safety_record(my_target *t, MYSQL *c, const char *keep, my_catalog *replaced,
                     rb_node *safety)
{
    const rb_host_api *h = t->host;
    int rc = my_catalog_count(t, c, keep, replaced);
    if (rc)
        return rc;
    if (!h->node_add_string(safety, "engine", "mysql") ||
        !h->node_add_string(safety, "method", "clone") ||
        !h->node_add_string(safety, "database", t->live) ||
        !h->node_add_string(safety, "connection_string", t->redacted) ||
        !h->node_add_string(safety, "clone_schema", keep))
        return my_error(t, RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
    return my_catalog_save(h, replaced, safety);
}
