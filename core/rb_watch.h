/* watch: the checks and rules it runs each round, and the state file that
 * `rbhost metrics` reads. */
#ifndef RB_WATCH_H
#define RB_WATCH_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "rb_core.h"

/* A latency or error_rate rule and the samples it took inside the window. */
typedef struct rb_watch_rule {
    const char *type; /* "latency" or "error_rate" (borrowed from the plan's doc) */
    const char *url;
    double limit;   /* p95_ms, or the error fraction */
    double timeout; /* seconds per request */
    double *at, *seconds;
    int *bad;
    size_t n, cap;
} rb_watch_rule;

typedef struct rb_watch_plan {
    cJSON *doc;   /* the normalised check document, owns the strings above */
    cJSON *tests; /* validation tests (rb_checks_parse) */
    rb_watch_rule *rules;
    size_t nrules;
    double interval, window;
    int failures, max_attempts;
    const cJSON *hooks, *notify;
} rb_watch_plan;

/* Reads the check document and the options (an option wins over the
 * document), refusing unknown kinds and keys before anything runs. */
int rb_watch_plan_parse(const rb_watch_options *o, rb_watch_plan *plan);
void rb_watch_plan_free(rb_watch_plan *plan);
/* Takes one sample per rule at `now`, drops those older than the window,
 * and adds a result per rule to `results`. Returns the first rule whose
 * threshold is crossed (judged once the window holds `failures` samples),
 * with the reason in `why`, or -1. */
int rb_watch_rules_round(rb_watch_plan *plan, double now, cJSON *results, char *why, size_t whylen);

/* <store>/watch/<id>.json: running, rounds, failures in a row, incidents. */
int rb_watch_state_write(const char *store_location, const char *id, const cJSON *state);
/* Every state file of the store, as an array (empty when there are none). */
cJSON *rb_watch_state_list(const char *store_location);

#endif
