/* Shared by the set suites: a temporary directory with a store, rbhost
 * run with the fixture backends, and the fixture_gate targets (a state
 * file each, an event log, a fifo gate). */
#ifndef SETS_FIXTURE_H
#define SETS_FIXTURE_H

#include <cjson/cJSON.h>

#include "rbtest.h"

typedef struct sft {
    char *dir;
    char *store;
    char *log;
} sft;

void sft_open(sft *t);
void sft_close(sft *t);
/* rbhost with the fixture backends; `args` in shell syntax. */
rbt_run sft_rbhost(const sft *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The same with --json; the parsed document, exit code in *code. */
cJSON *sft_json(const sft *t, int *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Writes a spec file and returns its path (free()). */
char *sft_spec(const sft *t, const char *name, const char *json);
/* A fixture_gate target: {"name", "type", "config": {path: <dir>/<name>,
 * log, extra config members}, extra target members}; `config` and `extra`
 * are JSON members without braces, or "". */
char *sft_gate(const sft *t, const char *name, const char *config, const char *extra);
/* The state file of target `name`, and writing it. */
char *sft_state(const sft *t, const char *name);
void sft_set_state(const sft *t, const char *name, const char *content);
/* The line number (from 1) of an event in the log, or 0. */
int sft_event(const sft *t, const char *event);
/* Waits (bounded, 60 s) until the event is in the log; asserts it came. */
void sft_wait_event(const sft *t, const char *event);
/* Pending rollbacks in the store, from `status --json`. */
int sft_pending(const sft *t);
const char *sft_str(const cJSON *j, const char *key);

#endif
