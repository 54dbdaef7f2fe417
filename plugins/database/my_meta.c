/* The catalog in snapshot metadata and back. */
#include <stdlib.h>
#include <string.h>

#include "my_db.h"

static int oom(const rb_host_api *host)
{
    return host->error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
}

static int put(const rb_host_api *host, rb_node *o, const char *key, const char *value)
{
    return value && !host->node_add_string(o, key, value) ? RB_ENOMEM : 0;
}

int my_catalog_save(const rb_host_api *host, const my_catalog *cat, rb_node *meta)
{
    char hash[65];
    if (my_catalog_hash(cat, hash))
        return oom(host);
    rb_node *tables = host->node_add_array(meta, "tables");
    rb_node *objects = host->node_add_array(meta, "objects");
    if (!tables || !objects || !host->node_add_string(meta, "schema_hash", hash) ||
        put(host, meta, "database_charset", cat->charset) ||
        put(host, meta, "database_collation", cat->collation))
        return oom(host);
    for (size_t i = 0; i < cat->ntables; i++) {
        const my_table *tb = &cat->tables[i];
        rb_node *o = host->node_add_object(tables, NULL);
        if (!o || put(host, o, "name", tb->name) || put(host, o, "create", tb->create) ||
            put(host, o, "columns", tb->columns) || put(host, o, "load_list", tb->load_list) ||
            !host->node_add_int(o, "auto_increment", tb->auto_increment) ||
            !host->node_add_int(o, "rows", tb->rows) ||
            !host->node_add_int(o, "checksum", tb->checksum))
            return oom(host);
        if (tb->nparts) {
            rb_node *blobs = host->node_add_array(o, "blobs");
            for (int p = 0; blobs && p < tb->nparts; p++)
                if (!host->node_add_string(blobs, NULL, tb->blobs[p]))
                    blobs = NULL;
            if (!blobs)
                return oom(host);
        }
    }
    for (size_t i = 0; i < cat->nobjects; i++) {
        const my_object *ob = &cat->objects[i];
        rb_node *o = host->node_add_object(objects, NULL);
        if (!o || put(host, o, "kind", my_kind_name(ob->kind)) || put(host, o, "name", ob->name) ||
            put(host, o, "table", ob->table) || put(host, o, "create", ob->create) ||
            put(host, o, "sql_mode", ob->sql_mode) ||
            put(host, o, "character_set_client", ob->charset_client) ||
            put(host, o, "collation_connection", ob->collation_connection))
            return oom(host);
    }
    return 0;
}

static char *get(const rb_host_api *host, const rb_node *o, const char *key, int *bad)
{
    const char *s = host->node_string(host->node_get(o, key));
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        *bad = 1;
    return d;
}

int my_catalog_load(my_target *t, const rb_node *meta, my_catalog *cat)
{
    const rb_host_api *host = t->host;
    memset(cat, 0, sizeof *cat);
    const rb_node *tables = host->node_get(meta, "tables");
    const rb_node *objects = host->node_get(meta, "objects");
    if (host->node_type(tables) != RB_NODE_ARRAY || host->node_type(objects) != RB_NODE_ARRAY)
        return host->error_set(RB_ECORRUPT, RB_ERRCLASS_STORE,
                               "snapshot %s: the metadata lists no tables",
                               host->op_snapshot_id(t->op));
    size_t nt = host->node_count(tables), no = host->node_count(objects);
    cat->tables = calloc(nt ? nt : 1, sizeof *cat->tables);
    cat->objects = calloc(no ? no : 1, sizeof *cat->objects);
    if (!cat->tables || !cat->objects) {
        my_catalog_free(cat);
        return oom(host);
    }
    int bad = 0, corrupt = 0;
    cat->charset = get(host, meta, "database_charset", &bad);
    cat->collation = get(host, meta, "database_collation", &bad);
    for (size_t i = 0; i < nt; i++) {
        const rb_node *o = host->node_at(tables, i);
        my_table *tb = &cat->tables[cat->ntables++];
        tb->name = get(host, o, "name", &bad);
        tb->create = get(host, o, "create", &bad);
        tb->columns = get(host, o, "columns", &bad);
        tb->load_list = get(host, o, "load_list", &bad);
        tb->auto_increment = host->node_int(host->node_get(o, "auto_increment"));
        tb->rows = host->node_int(host->node_get(o, "rows"));
        tb->checksum = host->node_int(host->node_get(o, "checksum"));
        const rb_node *blobs = host->node_get(o, "blobs");
        size_t nb = host->node_count(blobs);
        for (size_t p = 0; p < nb && p < MY_MAX_PARTS; p++) {
            const char *id = host->node_string(host->node_at(blobs, p));
            if (!id || strlen(id) != RB_BLOB_ID_LEN)
                corrupt = 1;
            else
                memcpy(tb->blobs[tb->nparts++], id, RB_BLOB_ID_SIZE);
        }
        if (nb > MY_MAX_PARTS)
            corrupt = 1;
        if (!tb->name || !tb->create)
            corrupt = 1;
    }
    for (size_t i = 0; i < no; i++) {
        const rb_node *o = host->node_at(objects, i);
        my_object *ob = &cat->objects[cat->nobjects++];
        const char *kind = host->node_string(host->node_get(o, "kind"));
        corrupt |= !kind;
        for (int k = 0; kind && k < 4; k++)
            if (!strcmp(kind, my_kind_name((my_kind)k)))
                ob->kind = (my_kind)k;
        ob->name = get(host, o, "name", &bad);
        ob->table = get(host, o, "table", &bad);
        ob->create = get(host, o, "create", &bad);
        ob->sql_mode = get(host, o, "sql_mode", &bad);
        ob->charset_client = get(host, o, "character_set_client", &bad);
        ob->collation_connection = get(host, o, "collation_connection", &bad);
        if (!ob->name || !ob->create)
            corrupt = 1;
    }
    if (bad || corrupt) {
        my_catalog_free(cat);
        return bad ? oom(host)
                   : host->error_set(RB_ECORRUPT, RB_ERRCLASS_STORE,
                                     "snapshot %s: a table or object in the metadata lacks its "
                                     "name or definition",
                                     host->op_snapshot_id(t->op));
    }
    return 0;
}
