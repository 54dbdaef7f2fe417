/* Verify and plan: the live database against the recorded catalog, by
 * definitions (SHOW CREATE, AUTO_INCREMENT apart), row counts and
 * CHECKSUM TABLE. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "my_db.h"

typedef struct diff_ctx {
    my_target *t;
    rb_node *list; /* verify: differences; plan: changes */
    int plan;
    size_t count;
    int failed;
} diff_ctx;

static rb_node *entry(diff_ctx *d, const char *kind, const char *what, const char *name)
{
    const rb_host_api *h = d->t->host;
    rb_node *o = h->node_add_object(d->list, NULL);
    char item[200];
    snprintf(item, sizeof item, "%s %.150s", what, name);
    if (!o || !h->node_add_string(o, d->plan ? "action" : "kind", kind) ||
        !h->node_add_string(o, "item", item)) {
        d->failed = 1;
        return NULL;
    }
    d->count++;
    return o;
}

static void add_int(diff_ctx *d, rb_node *o, const char *key, int64_t v)
{
    if (o && !d->t->host->node_add_int(o, key, v))
        d->failed = 1;
}

static void add_texts(diff_ctx *d, rb_node *o, const char *expected, const char *actual)
{
    const rb_host_api *h = d->t->host;
    if (o &&
        (!h->node_add_string(o, "expected", expected) || !h->node_add_string(o, "actual", actual)))
        d->failed = 1;
}

static void compare_tables(diff_ctx *d, const my_catalog *snap, const my_catalog *live)
{
    for (size_t i = 0; i < snap->ntables; i++) {
        const my_table *s = &snap->tables[i];
        const my_table *l = my_catalog_table(live, s->name);
        if (!l) {
            rb_node *o = entry(d, d->plan ? "create" : "missing", "table", s->name);
            add_int(d, o, d->plan ? "rows_then" : "expected_rows", s->rows);
            continue;
        }
        char *ns = my_create_normalized(s->create), *nl = my_create_normalized(l->create);
        int same_def = ns && nl && !strcmp(ns, nl);
        free(ns);
        free(nl);
        int same_rows = s->rows == l->rows && s->checksum == l->checksum;
        if (d->plan) {
            if (!same_def || !same_rows || s->auto_increment != l->auto_increment) {
                rb_node *o = entry(d, "restore", "table", s->name);
                add_int(d, o, "rows_then", s->rows);
                add_int(d, o, "rows_now", l->rows);
                if (o && !d->t->host->node_add_bool(o, "content_differs", !same_rows))
                    d->failed = 1;
                if (o && !d->t->host->node_add_bool(o, "definition_differs", !same_def))
                    d->failed = 1;
            }
            continue;
        }
        if (!same_def)
            add_texts(d, entry(d, "definition", "table", s->name), s->create, l->create);
        if (s->rows != l->rows) {
            rb_node *o = entry(d, "rows", "table", s->name);
            add_int(d, o, "expected", s->rows);
            add_int(d, o, "actual", l->rows);
        } else if (s->checksum != l->checksum) {
            rb_node *o = entry(d, "checksum", "table", s->name);
            add_int(d, o, "expected", s->checksum);
            add_int(d, o, "actual", l->checksum);
        }
        if (s->auto_increment != l->auto_increment) {
            rb_node *o = entry(d, "auto_increment", "table", s->name);
            add_int(d, o, "expected", s->auto_increment);
            add_int(d, o, "actual", l->auto_increment);
        }
    }
    for (size_t i = 0; i < live->ntables; i++)
        if (!my_catalog_table(snap, live->tables[i].name)) {
            rb_node *o = entry(d, d->plan ? "drop" : "extra", "table", live->tables[i].name);
            add_int(d, o, d->plan ? "rows_now" : "actual_rows", live->tables[i].rows);
        }
}

static void compare_objects(diff_ctx *d, const my_catalog *snap, const my_catalog *live)
{
    for (size_t i = 0; i < snap->nobjects; i++) {
        const my_object *s = &snap->objects[i];
        const my_object *l = my_catalog_object(live, s->kind, s->name);
        if (!l)
            entry(d, d->plan ? "create" : "missing", my_kind_name(s->kind), s->name);
        else if (strcmp(s->create, l->create))
            add_texts(d,
                      entry(d, d->plan ? "replace" : "definition", my_kind_name(s->kind), s->name),
                      s->create, l->create);
    }
    for (size_t i = 0; i < live->nobjects; i++) {
        const my_object *l = &live->objects[i];
        if (!my_catalog_object(snap, l->kind, l->name))
            entry(d, d->plan ? "drop" : "extra", my_kind_name(l->kind), l->name);
    }
    if (snap->charset && live->charset &&
        (strcmp(snap->charset, live->charset) || strcmp(snap->collation, live->collation))) {
        rb_node *o = entry(d, d->plan ? "alter" : "character_set", "database", d->t->live);
        const rb_host_api *h = d->t->host;
        if (o && (!h->node_add_string(o, "expected", snap->collation) ||
                  !h->node_add_string(o, "actual", live->collation)))
            d->failed = 1;
    }
}

int my_verify_run(my_target *t, MYSQL *c, const rb_node *meta, rb_node *result, int plan)
{
    const rb_host_api *h = t->host;
    my_catalog snap, live = {0};
    int rc = my_catalog_load(t, meta, &snap);
    if (rc)
        return rc;
    int exists = my_schema_exists(t, c, t->live);
    rc = exists < 0 ? exists : 0;
    if (!rc && exists)
        rc = my_catalog_read(t, c, t->live, &live);
    if (!rc && exists)
        rc = my_catalog_count(t, c, t->live, &live);
    diff_ctx d = {t, h->node_add_array(result, plan ? "changes" : "differences"), plan, 0, 0};
    if (!rc && !d.list)
        rc = my_error(t, RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
    if (!rc && !exists)
        entry(&d, d.plan ? "create" : "missing", "database", t->live);
    if (!rc) {
        compare_tables(&d, &snap, &live);
        compare_objects(&d, &snap, &live);
        char hash[65] = "";
        if (exists && my_catalog_hash(&live, hash))
            d.failed = 1;
        const char *expected = h->node_string(h->node_get(meta, "schema_hash"));
        if (!h->node_add_string(result, "database", t->live) ||
            !h->node_add_int(result, "tables_checked", (int64_t)snap.ntables) ||
            (expected && !h->node_add_string(result, "schema_hash_expected", expected)) ||
            !h->node_add_string(result, "schema_hash_actual", hash))
            d.failed = 1;
        if (plan) {
            char summary[200];
            snprintf(summary, sizeof summary,
                     "%zu change%s to database '%.64s' (%zu tables in the snapshot)", d.count,
                     d.count == 1 ? "" : "s", t->live, snap.ntables);
            if (!h->node_add_string(result, "summary", summary))
                d.failed = 1;
        }
        if (d.failed)
            rc = my_error(t, RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
        else if (!plan && d.count)
            rc = my_error(t, RB_EDRIFT, RB_ERRCLASS_VERIFY,
                          "database '%s' differs from snapshot %s in %zu place%s", t->live,
                          h->op_snapshot_id(t->op), d.count, d.count == 1 ? "" : "s");
    }
    my_catalog_free(&snap);
    my_catalog_free(&live);
    return rc;
}
