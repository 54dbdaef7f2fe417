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
/* The same, snapshotting at most `jobs` targets at a time (0: one per
 * core). The spec also has per-target depends_on, timeout and retry, and
 * on_failure; see rb_set.h. */
RB_CORE_API int rb_snapshot_create_set_jobs(rb_ctx *ctx, const char *id, const cJSON *spec,
                                            int jobs, cJSON **response);

#define RB_ROLLBACK_DRY_RUN   0x1u
#define RB_ROLLBACK_NO_SAFETY 0x2u
#define RB_ROLLBACK_FORCE     0x4u
/* Finish the pending (interrupted) rollback named by `id` (its rollback id
 * or its snapshot's id; NULL: the only one pending), or with
 * RB_ROLLBACK_REVERT put back what it restored, from its safety snapshot. */
#define RB_ROLLBACK_RESUME 0x8u
#define RB_ROLLBACK_REVERT 0x10u

/* rb_rollback_options.on_failure: what a set's rollback does when a step
 * still fails after its retries. */
#define RB_ROLLBACK_ON_FAILURE_SNAPSHOT 0 /* the snapshot's on_failure, else revert */
#define RB_ROLLBACK_ON_FAILURE_REVERT   1 /* put back what was restored: "failed" */
#define RB_ROLLBACK_ON_FAILURE_CONTINUE 2 /* restore the others: "partial" */

typedef struct rb_rollback_options {
    unsigned int flags;
    const char *restore_to;  /* --to DIR */
    const cJSON *validation; /* {"tests": [...]} or [...], borrowed; may be NULL */
    const cJSON *hooks;      /* {"pre_rollback": ...}, over the snapshot's own; may be NULL */
    const cJSON *notify;     /* [{"type": "webhook"|"command", ...}]; may be NULL */
    int on_failure;          /* RB_ROLLBACK_ON_FAILURE_* */
    /* Called with the plan (what --dry-run returns) once the store is
     * locked and before anything changes; returning 0 cancels the rollback
     * (RB_ECANCELED, nothing changed). NULL: no confirmation. */
    int (*confirm)(const cJSON *plan, void *arg);
    void *confirm_arg;
} rb_rollback_options;

/* execute-rollback. Returns 0 when completed, RB_EDRIFT when partial
 * (restored, but a verification failed), another negative code when failed;
 * *response holds the rollback record (or the plan with RB_ROLLBACK_DRY_RUN). */
RB_CORE_API int rb_rollback_execute(rb_ctx *ctx, const char *id, const rb_rollback_options *opts,
                                    cJSON **response);
/* When the response of rb_rollback_execute has "step_still_running": true,
 * a backend did not stop after its timeout and still runs on a thread:
 * print the response, then end the process (_exit) without freeing the
 * context. The rollback's journal lets --resume finish or revert it. */

/* diff: what changed in each target since the snapshot, changing nothing.
 * 0 when nothing did, RB_EDRIFT when something did. */
RB_CORE_API int rb_snapshot_diff(rb_ctx *ctx, const char *id, cJSON **response);
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
/* copy: snapshot `id` from store `from` to store `to` (directories or
 * s3:// locations), blobs the destination has not copied again. */
RB_CORE_API int rb_snapshot_copy(rb_ctx *ctx, const char *from, const char *to, const char *id,
                                 cJSON **response);
/* Seed 001's request/response protocol. */
RB_CORE_API int rb_process_request(rb_ctx *ctx, const cJSON *request, cJSON **response);

typedef struct rb_watch_options {
    const cJSON *check;        /* [...] or {"checks": [...], "interval", ...}, borrowed */
    double interval;           /* seconds between rounds; 0: the document's, else 10 */
    int failures;              /* failed rounds in a row that trigger; 0: document's, else 3 */
    double window;             /* seconds of samples the rules judge; 0: document's, else 300 */
    int max_rollback_attempts; /* 0: the document's, else 1 */
    const cJSON *hooks;        /* passed to the rollback, may be NULL */
    const cJSON *notify;       /* passed to the rollback, may be NULL */
} rb_watch_options;

/* watch: runs the checks every interval until they fail `failures` rounds
 * in a row or a rule's threshold is crossed, then rolls back snapshot `id`
 * once. Returns 0 when stopped (rb_ctx_cancel) without an incident, else
 * what rb_rollback_execute returned; *response is the watch's report. */
RB_CORE_API int rb_watch_run(rb_ctx *ctx, const char *id, const rb_watch_options *opts,
                             cJSON **response);
/* metrics: the Prometheus text exposition of the store, the history and
 * the watches, in *text (free()). */
RB_CORE_API int rb_metrics_render(rb_ctx *ctx, char **text);

/* A {"status": "failed", "error": ..., "error_class": ..., "error_code": ...}
 * document for the current error. */
RB_CORE_API cJSON *rb_error_response(void);

#endif
