/* The state one front-end invocation works with. */
#ifndef RB_CTX_H
#define RB_CTX_H

#include <stdatomic.h>

#include "rb_core.h"
#include "rb_registry.h"
#include "rb_store.h"

struct rb_ctx {
    char *store_location;
    rb_store *store; /* opened on first use */
    char **plugin_dirs;
    size_t plugin_dir_count;
    rb_registry registry;
    int registry_ready;
    int progress;
    int progress_tty;
    char *command;
    atomic_int cancel;
    int resuming; /* execute-rollback --resume: the one command a pending rollback allows */
};

/* Opens (and with `create`, creates) the store and takes its lock. */
int rb_ctx_store(rb_ctx *ctx, int create, rb_store_lock_mode mode, rb_store **out);
/* The registry, scanned on first use. */
rb_registry *rb_ctx_registry(rb_ctx *ctx);
/* Finds, loads and initialises the backend for `type`. */
int rb_ctx_backend(rb_ctx *ctx, const char *type, rb_plugin_entry **out);

#endif
