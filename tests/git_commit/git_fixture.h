/* Real repositories for the git_commit suite: made with the git command
 * line in a fresh HOME, compared through git's own view of them. */
#ifndef GIT_FIXTURE_H
#define GIT_FIXTURE_H

#include <cjson/cJSON.h>

#include "rbtest.h"

/* Per test: a temporary root with HOME, the store and the repositories. */
extern char *gf_root;
extern char *gf_store;

void gf_setup(void);
void gf_teardown(void);

/* `git -C <repo> <args>`; asserts exit 0 and returns stdout (free it). */
char *gf_git(const char *repo, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Any shell command run in <repo>; asserts exit 0. */
void gf_sh(const char *repo, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A new repository <root>/<name> on branch main with one commit. */
char *gf_repo(const char *name);
/* Writes <repo>/<path> (parent directories made) with the content. */
void gf_write(const char *repo, const char *path, const char *content);
/* Writes a file and commits it. */
void gf_commit(const char *repo, const char *path, const char *content, const char *message);

/* What a user sees: rev-parse HEAD, symbolic-ref -q HEAD, status
 * --porcelain=v2 --untracked-files=all --ignored, diff, diff --cached. */
char *gf_view(const char *repo);
/* Every file and symlink under the working tree (outside .git): mode,
 * size, content hash, path. */
char *gf_files(const char *repo);

/* {"repo_path": repo} plus `extra` members (JSON text without braces, or NULL). */
char *gf_config(const char *repo, const char *extra);
/* create-snapshot --json; asserts success and returns the parsed response. */
cJSON *gf_snapshot(const char *id, const char *config);
/* execute-rollback --yes --json [extra]; returns the run (caller frees). */
rbt_run gf_rollback(const char *id, const char *extra);
/* Asserts that a rollback run completed. */
void gf_assert_completed(const rbt_run *r);

#endif
