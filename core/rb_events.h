/* Hooks (commands run at points of a snapshot or a rollback, a failing
 * pre_* hook vetoes it) and notifications (a JSON event to webhooks and
 * commands), configured in a snapshot's spec or a rollback's options. */
#ifndef RB_EVENTS_H
#define RB_EVENTS_H

#include <cjson/cJSON.h>

#include "rb_core.h"
#include "rb_store.h"

typedef struct rb_events {
    cJSON *hooks;  /* {"pre_rollback": [{"run", "timeout"}...], ...} */
    cJSON *notify; /* [{"type", ...}] */
    cJSON *fields; /* what every event and hook is told: snapshot_id, ... */
} rb_events;

/* Refuses unknown hook names, keys and notification types, naming them. */
int rb_events_validate(const cJSON *hooks, const cJSON *notify);
/* The hooks and notifications of `doc` (a spec or a snapshot document,
 * keys "hooks" and "notify"), overridden per hook name by `hooks` and
 * replaced by `notify` when given. NULL when there are none. */
rb_events *rb_events_new(const char *store_location, const cJSON *doc, const cJSON *hooks,
                         const cJSON *notify);
void rb_events_free(rb_events *ev);
/* Sets RBHOST_<NAME> for the hooks and the "name" field of every event. */
void rb_events_set(rb_events *ev, const char *name, const char *value);
/* Runs the hooks of `event` in order, stopping at the first that fails.
 * Returns 0, or the failing hook's exit status (124 when it timed out),
 * with a description added to `details` (may be NULL). */
int rb_hooks_run(rb_events *ev, const char *event, cJSON *details);
/* Sends {"event": event, ...fields of ev, ...payload} to every
 * notification. Never fails: what cannot be delivered is logged. */
void rb_events_emit(rb_events *ev, const char *event, const cJSON *payload);

/* execute-rollback's use of the above, so that rollback.c only calls:
 * begin runs pre_rollback and, on a veto, fills and writes `rec` as
 * "vetoed" and returns the error; step reports one technical detail;
 * restored runs post_rollback; end notifies the outcome and runs
 * on_failure, then frees. */
int rb_events_rollback_begin(rb_events **out, rb_ctx *ctx, rb_store *store, const cJSON *doc,
                             const rb_rollback_options *opts, cJSON *rec);
void rb_events_rollback_step(rb_events *ev, const cJSON *detail);
void rb_events_rollback_restored(rb_events *ev, int failed, cJSON *details);
void rb_events_rollback_end(rb_events *ev, cJSON *rec);

/* create-snapshot --spec's use: begin checks the spec's hooks and notify
 * and runs pre_snapshot (a failure vetoes the snapshot); record copies
 * them into the document, for the rollbacks to come; end notifies and
 * runs post_snapshot, or on_failure when `rc` says the snapshot failed. */
int rb_events_snapshot_begin(rb_events **out, rb_ctx *ctx, const char *id, const cJSON *spec);
void rb_events_snapshot_record(const cJSON *spec, cJSON *doc);
void rb_events_snapshot_end(rb_events *ev, int rc);

#endif
