/* Shared by the rbhost commands: options every command has, reading
 * JSON arguments, printing results and mapping errors to exit codes. */
#ifndef RB_CLI_H
#define RB_CLI_H

#include <cjson/cJSON.h>

#include "rb_core.h"

/* Exit codes: stable, documented in rbhost(1). */
enum {
    RB_EXIT_OK = 0,
    RB_EXIT_DRIFT = 1, /* verify: drift; execute-rollback: partial */
    RB_EXIT_USAGE = 2,
    RB_EXIT_INVALID = 3,  /* bad JSON, unknown type or key, bad id, exists */
    RB_EXIT_NOTFOUND = 4, /* snapshot, backend or file missing */
    RB_EXIT_LOCKED = 5,   /* the store's lock, or a target's own (the message names the holder) */
    RB_EXIT_FAILED = 6,   /* the operation failed */
    RB_EXIT_CORRUPT = 7,  /* the store failed an integrity check */
    RB_EXIT_INTERRUPTED = 8,
};

typedef struct rb_cli {
    rb_ctx *ctx;
    int json;
    int verbosity;
    const char *store;
    const char **plugin_dirs;
    size_t plugin_dir_count;
    char *command_line;
    /* Defaults from rbhost.conf (or built in); a command-line flag wins. */
    int confirmation_required; /* execute-rollback asks on a terminal */
    int dry_run_default;       /* execute-rollback only plans unless told to act */
    int audited;               /* the command changes state: its run goes to the audit log */
    cJSON *outcome;            /* its response, kept by rb_cli_finish for the audit log */
} rb_cli;

typedef struct rb_command {
    const char *name;
    const char *summary;
    int (*run)(rb_cli *cli, int argc, char **argv);
    const char *usage; /* full --help text */
} rb_command;

extern const rb_command rb_commands[];
/* Names of the commands that change state (NULL-terminated): each run of
 * one is recorded in the store's audit log. */
extern const char *const rb_audited_commands[];

/* The context, created on first use (so --help needs no store). */
rb_ctx *rb_cli_ctx(rb_cli *cli);
/* "JSON" or "@FILE" (or "@-" for stdin) parsed into *out; on failure the
 * error is set naming `what`. */
int rb_cli_json_arg(const char *arg, const char *what, cJSON **out);
/* Prints the response (JSON, or through `human` to stdout) or the error,
 * frees the response, and returns the exit code for `rc`. */
int rb_cli_finish(rb_cli *cli, int rc, cJSON *response, void (*human)(const cJSON *response));
int rb_cli_exit_code(int rc);
/* A command whose only option is --id: parses it, runs `op` and finishes
 * with `human` (verify, diff). */
int rb_cli_run_with_id(rb_cli *cli, int argc, char **argv, const char *name,
                       int (*op)(rb_ctx *ctx, const char *id, cJSON **response),
                       void (*human)(const cJSON *response));
/* Prints a command's usage to stdout (help) or stderr (error). */
int rb_cli_usage(const rb_command *cmd, int error);
/* getopt_long over a command's arguments; "help" is handled by the caller. */
const rb_command *rb_cli_find(const char *name);

#endif
