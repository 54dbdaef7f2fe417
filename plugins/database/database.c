/* The database backend: one target type, two engines (PostgreSQL through
 * libpq, MySQL and MariaDB through libmariadb). */
#include <string.h>

#include "db_engine.h"

static const rb_db_engine *const engines[] = {&rb_db_engine_postgresql, &rb_db_engine_mysql};

static const rb_config_key db_keys[] = {
    RB_CONFIG_KEY("database_name", RB_KEY_STRING, 1, NULL, "the database to snapshot"),
    RB_CONFIG_KEY("connection_string", RB_KEY_STRING, 1, NULL,
                  "postgresql://user@host:port/db, libpq keyword form, or "
                  "mysql://user@host:port/db[?socket=PATH]; the password is never recorded"),
    RB_CONFIG_KEY("backup_file", RB_KEY_STRING, 0, NULL,
                  "also write a dump the engine's own restore tool reads, at this path"),
    RB_CONFIG_KEY("method", RB_KEY_STRING, 0, NULL,
                  "clone (server-side copy) or dump (logical dump in the store); "
                  "default: clone where the role may create databases, else dump"),
    RB_CONFIG_KEY("schemas", RB_KEY_STRING_LIST, 0, NULL, "only these schemas"),
    RB_CONFIG_KEY("tables", RB_KEY_STRING_LIST, 0, NULL, "only these tables"),
    RB_CONFIG_KEY("in_place", RB_KEY_BOOL, 0, "false",
                  "dump method: restore the listed schemas inside the live database, in one "
                  "transaction, instead of swapping databases"),
    RB_CONFIG_KEY_END,
};

static const rb_host_api *host;

static int db_init(const rb_host_api *h, void **state)
{
    host = h;
    *state = NULL;
    return 0;
}

static void db_fini(void *state)
{
    (void)state;
}

/* At snapshot time the connection string decides; later the metadata does,
 * so a snapshot keeps working even if the config's scheme is ambiguous. */
static const rb_db_engine *engine_for(rb_op *op, int from_metadata)
{
    if (from_metadata) {
        const char *name = host->node_string(host->node_get(host->metadata(op), "engine"));
        for (size_t i = 0; name && i < sizeof engines / sizeof engines[0]; i++)
            if (!strcmp(engines[i]->name, name))
                return engines[i];
        host->error_set(RB_ECORRUPT, RB_ERRCLASS_DATABASE,
                        "snapshot %s records no known database engine ('%s')",
                        host->op_snapshot_id(op), name ? name : "");
        return NULL;
    }
    const char *cs = host->node_string(host->node_get(host->config(op), "connection_string"));
    for (size_t i = 0; cs && i < sizeof engines / sizeof engines[0]; i++)
        if (engines[i]->accepts(cs))
            return engines[i];
    host->error_set(RB_EINVAL, RB_ERRCLASS_CONFIG,
                    "connection_string: cannot tell the engine; use postgresql://..., a libpq "
                    "keyword string (host=... dbname=...), or mysql://...");
    return NULL;
}

static int db_snapshot(void *state, rb_op *op)
{
    (void)state;
    const rb_db_engine *e = engine_for(op, 0);
    if (!e)
        return RB_EINVAL;
    if (!host->node_add_string(host->metadata(op), "engine", e->name))
        return RB_ENOMEM;
    return e->snapshot(host, op);
}

#define DISPATCH(fn)                                                                               \
    static int db_##fn(void *state, rb_op *op)                                                     \
    {                                                                                              \
        (void)state;                                                                               \
        const rb_db_engine *e = engine_for(op, 1);                                                 \
        return e ? e->fn(host, op) : RB_ECORRUPT;                                                  \
    }
DISPATCH(restore)
DISPATCH(verify)
DISPATCH(plan)
DISPATCH(destroy)

static const rollback_plugin database_plugin = {
    RB_PLUGIN_HEADER,
    "database",
    "PostgreSQL, MySQL and MariaDB databases: server-side clones or logical dumps",
    "1.0.0",
    RB_PLUGIN_CAP_RESTORE_KEEPS_SAFETY,
    db_keys,
    db_init,
    db_fini,
    db_snapshot,
    db_restore,
    db_verify,
    db_plan,
    NULL,
    db_destroy,
};

RB_PLUGIN_DEFINE(database_plugin)
