/* Helpers shared by the Criterion suites: temporary directories, running
 * the real rbhost binary and shell commands, reading their output. */
#ifndef RBTEST_H
#define RBTEST_H

#include <cjson/cJSON.h>
#include <stddef.h>

typedef struct rbt_run {
    int code; /* exit status, or 128 + signal number */
    char *out;
    char *err;
} rbt_run;

/* A fresh directory under $TMPDIR (or /tmp); free() the result, remove it
 * with rbt_rmtree. */
char *rbt_tmpdir(void);
void rbt_rmtree(const char *path);

/* Runs `/bin/sh -c <command>` and captures its output. */
rbt_run rbt_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Runs the built rbhost with `--store <store>` and the given arguments
 * (shell syntax: quote what needs it). */
rbt_run rbt_rbhost(const char *store, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void rbt_run_free(rbt_run *r);
/* The path of the built rbhost binary and of the fixture plugins. */
const char *rbt_rbhost_bin(void);
const char *rbt_fixture_plugin_dir(void);

/* Parses JSON; a Criterion assertion fails with the text when it is not. */
cJSON *rbt_json(const char *text);
/* Whole file, NUL-terminated, or NULL when it cannot be read. */
char *rbt_slurp(const char *path);
void rbt_spit(const char *path, const char *content);
/* Formats into a malloc'd string. */
char *rbt_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The value of an environment variable that names a test server; when it is
 * unset the test is skipped, or fails when RBT_REQUIRE_SERVERS=1. */
const char *rbt_server_env(const char *name);

#endif
