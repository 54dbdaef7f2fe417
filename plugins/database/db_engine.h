/* The database backend serves two engines behind one target type; each
 * engine implements this table. database.c picks the engine from the
 * connection string at snapshot time and from the recorded metadata
 * ("engine") afterwards. */
#ifndef RB_DB_ENGINE_H
#define RB_DB_ENGINE_H

#include <rbhost/rbhost.h>

typedef struct rb_db_engine {
    const char *name; /* recorded as metadata "engine" */
    /* Does this engine handle the connection string? */
    int (*accepts)(const char *connection_string);
    int (*snapshot)(const rb_host_api *host, rb_op *op);
    int (*restore)(const rb_host_api *host, rb_op *op);
    int (*verify)(const rb_host_api *host, rb_op *op);
    int (*plan)(const rb_host_api *host, rb_op *op);
    int (*destroy)(const rb_host_api *host, rb_op *op);
} rb_db_engine;

extern const rb_db_engine rb_db_engine_postgresql;
extern const rb_db_engine rb_db_engine_mysql;

#endif
