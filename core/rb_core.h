/* librbhost: what the rbhost CLI (and any other front end) calls.
 *
 * Every function returns 0 or a negative rb_error code; the message is in
 * rb_error_last(). Functions that answer with a document put it in
 * *response (a cJSON tree the caller frees), also on failure when there is
 * something to report (a failed rollback still has its record). */
#ifndef RB_CORE_H
#define RB_CORE_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "rb_error.h"

#define RB_CORE_API __attribute__((visibility("default")))

typedef struct rb_ctx rb_ctx;

typedef struct rb_ctx_options {
    const char *store;              /* NULL: $RBHOST_STORE, then the default */
    const char *const *plugin_dirs; /* --plugin-dir, searched first, in order */
    size_t plugin_dir_count;
    int verbosity;       /* -1 quiet, 0 default, 1 -v, 2 -vv */
    int progress;        /* draw progress on stderr */
    const char *command; /* the command line, for lock messages */
} rb_ctx_options;

RB_CORE_API int rb_ctx_new(rb_ctx **out, const rb_ctx_options *opts);
RB_CORE_API void rb_ctx_free(rb_ctx *ctx);
/* Location of the store this context uses. */
RB_CORE_API const char *rb_ctx_store_location(rb_ctx *ctx);
/* Asks running operations to stop (from a signal handler: async-signal-safe). */
RB_CORE_API void rb_ctx_cancel(rb_ctx *ctx);

/* create-snapshot with one target. `config` is borrowed. */
RB_CORE_API int rb_snapshot_create(rb_ctx *ctx, const char *id, const char *type,
                                   const cJSON *config, cJSON **response);
/* create-snapshot --spec: {"targets": [{"name", "type", "config"}...]}. */
RB_CORE_API int rb_snapshot_create_set(rb_ctx *ctx, const char *id, const cJSON *spec,
                                       cJSON **response);

#define RB_ROLLBACK_DRY_RUN   0x1u
#define RB_ROLLBACK_NO_SAFETY 0x2u
#define RB_ROLLBACK_FORCE     0x4u

typedef struct rb_rollback_options {
    unsigned int flags;
    const char *restore_to;  /* --to DIR */
    const cJSON *validation; /* {"tests": [...]} or [...], borrowed; may be NULL */
} rb_rollback_options;

/* execute-rollback. Returns 0 when completed, RB_EDRIFT when partial
 * (restored, but a verification failed), another negative code when failed;
 * *response holds the rollback record (or the plan with RB_ROLLBACK_DRY_RUN). */
RB_CORE_API int rb_rollback_execute(rb_ctx *ctx, const char *id, const rb_rollback_options *opts,
                                    cJSON **response);
/* verify: 0 when the live state matches, RB_EDRIFT when not. */
RB_CORE_API int rb_snapshot_verify(rb_ctx *ctx, const char *id, cJSON **response);
RB_CORE_API int rb_snapshot_delete(rb_ctx *ctx, const char *id, int force, cJSON **response);
RB_CORE_API int rb_snapshot_list(rb_ctx *ctx, cJSON **response);
RB_CORE_API int rb_snapshot_show(rb_ctx *ctx, const char *id, cJSON **response);
RB_CORE_API int rb_history_list(rb_ctx *ctx, cJSON **response);
RB_CORE_API int rb_status_get(rb_ctx *ctx, cJSON **response);
/* Lists discovered backends; with `load`, loads and initialises each. */
RB_CORE_API int rb_plugins_list(rb_ctx *ctx, int load, cJSON **response);
/* check: 0 clean, RB_ECORRUPT with the problems in *response. */
RB_CORE_API int rb_store_check_run(rb_ctx *ctx, cJSON **response);
RB_CORE_API int rb_snapshot_export(rb_ctx *ctx, const char *id, const char *path, cJSON **response);
RB_CORE_API int rb_snapshot_import(rb_ctx *ctx, const char *path, cJSON **response);
/* Seed 001's request/response protocol. */
RB_CORE_API int rb_process_request(rb_ctx *ctx, const cJSON *request, cJSON **response);

/* A {"status": "failed", "error": ..., "error_class": ..., "error_code": ...}
 * document for the current error. */
RB_CORE_API cJSON *rb_error_response(void);

#endif
