/* The audit log: one hash-chained line per state-changing command. */
#ifndef RB_AUDIT_H
#define RB_AUDIT_H

#include "rb_core.h"

/* SHA-256 (hex) of the empty string: what the first line's "prev" holds. */
#define RB_AUDIT_GENESIS "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

typedef struct rb_audit_event {
    int argc; /* the command name and its arguments */
    char **argv;
    int exit_code;
    const char *error;     /* NULL or empty when the command succeeded */
    const cJSON *response; /* the command's answer, for the ids it names; may be NULL */
} rb_audit_event;

/* "rbhost ARGS..." with secrets removed (JSON keys that name one, URL
 * passwords, password=): the form any record or message may show. */
RB_CORE_API char *rb_audit_command_line(int argc, char **argv);
/* Appends the event to the log of the context's store, with secrets
 * removed from the command line. A store that does not exist is left
 * alone (returns 0): a command that failed before creating it changed
 * nothing. */
RB_CORE_API int rb_audit_record(rb_ctx *ctx, const rb_audit_event *ev);
/* {"entries": [...]}: the last `last` lines (all when last <= 0). */
RB_CORE_API int rb_audit_list(rb_ctx *ctx, long last, cJSON **response);
/* Checks the chain. 0 when intact; RB_ECORRUPT naming the first line that
 * was edited, inserted or removed. *response says which, also on failure. */
RB_CORE_API int rb_audit_verify(rb_ctx *ctx, cJSON **response);

#endif
