/* Internal to execute-rollback, shared by its files: rollback.c (the
 * flow), rollback_steps.c (one step with its timeout and retries),
 * rollback_journal.c (progress kept in the store), rollback_safety.c (the
 * safety snapshot) and rollback_plan.c (the dry run). */
#ifndef RB_ROLLBACK_H
#define RB_ROLLBACK_H

#include <cjson/cJSON.h>

#include "rb_ctx.h"
#include "rb_events.h"
#include "rb_set.h"
#include "rb_target.h"

typedef struct rb_rollback_run {
    rb_ctx *ctx;
    rb_store *store;
    char rollback_id[64];
    char safety_id[160];
    const char *snapshot_id;
    cJSON *targets; /* the snapshot's recorded targets */
    int n;
    int *order;        /* restore order: indexes into targets */
    cJSON *safety_doc; /* NULL when no safety snapshot is taken */
    cJSON *journal;    /* owns "steps" and "record" */
    cJSON *rec;        /* the record being built, inside the journal */
    cJSON *tests;      /* validation tests, an array */
    unsigned int op_flags;
    const char *restore_to;
    rb_on_failure on_failure;
    int abandoned;     /* a backend did not stop after its timeout */
    rb_events *events; /* hooks and notifications; NULL when there are none */
} rb_rollback_run;

/* --- steps (rollback_steps.c) --- */
/* Restores `target` from snapshot `from_id` with the target's timeout and
 * retry policy, each attempt on a thread of its own so that the timeout is
 * kept even by a backend that does not return. Fills `detail` (a
 * technical_details entry) with times, attempts and the result, and
 * returns the last attempt's code. When a backend did not stop within the
 * grace period after its timeout, sets run->abandoned and returns
 * RB_ETIMEOUT: its thread still runs, and the process must end without
 * freeing the context. */
int rb_rollback_step(rb_rollback_run *run, const cJSON *target, const char *from_id,
                     const rb_safety_slot *safety, cJSON *detail, cJSON **result);

/* --- journal (rollback_journal.c) --- */
/* A new journal for run (phase "safety_snapshot", every step pending). */
cJSON *rb_journal_new(const rb_rollback_run *run);
int rb_journal_save(rb_rollback_run *run);
void rb_journal_phase(rb_rollback_run *run, const char *phase);
const char *rb_journal_phase_of(const cJSON *journal);
/* The journal's entry for a target, and its state. */
cJSON *rb_journal_step(rb_rollback_run *run, const char *target);
const char *rb_journal_step_state(const cJSON *step);
void rb_journal_step_set(cJSON *step, const char *state);
/* The id of the pending rollback `id` names (a rollback id or the
 * snapshot it rolls back to), or the only pending one when id is NULL.
 * RB_ENOTFOUND when there is none, RB_EINVAL when NULL is ambiguous. */
int rb_journal_find(rb_store *store, const char *id, char *rollback_id, size_t len);
/* [{rollback_id, snapshot_id, phase, started_at, steps}] of every pending
 * rollback. */
cJSON *rb_rollback_pending_list(rb_store *store);
/* Called when a command opens the store: a command that changes state is
 * refused while a rollback is pending (unless the context resumes it);
 * one that reads is told on stderr. */
int rb_rollback_pending_check(rb_ctx *ctx, rb_store *store, int changes_state);

/* --- safety snapshot (rollback_safety.c) --- */
int rb_rollback_take_safety(rb_rollback_run *run);
/* The safety entry of a target, or NULL. */
cJSON *rb_rollback_safety_entry(rb_rollback_run *run, const char *name);
/* Whether the backend of `target` keeps the replaced state itself. */
int rb_rollback_keeps_safety(rb_rollback_run *run, const cJSON *target);

/* --- dry run (rollback_plan.c) --- */
int rb_rollback_plan(rb_rollback_run *run, const rb_rollback_options *opts, cJSON **response);

/* --- pre-flight (rollback_preflight.c) --- */
/* Asks every target's backend (plan with RB_OP_PREFLIGHT) whether the live
 * target is still the one recorded; RB_ECONFLICT naming each one that is
 * not, unless run->op_flags has RB_OP_FORCE. Changes nothing. */
int rb_rollback_preflight(rb_rollback_run *run);

/* --- small shared helpers (rollback.c) --- */
const char *rb_rollback_tname(const cJSON *t);
const char *rb_rollback_ttype(const cJSON *t);
/* Sets error, error_class and error_code of obj from the current error. */
void rb_rollback_add_error(cJSON *obj);
double rb_rollback_wallclock(void);

#endif
