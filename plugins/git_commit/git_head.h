/* Reading HEAD, and matching a commit id against an expected one.
 *
 * Kept free of host calls so that the rules stay in one place: the core's
 * seed 001 `git_commit` verification test follows the same ones. */
#ifndef RB_GIT_HEAD_H
#define RB_GIT_HEAD_H

#include <git2.h>

typedef struct rb_git_head {
    git_oid commit; /* zero when unborn */
    char *branch;   /* short name ("main"), malloc'd; NULL when detached or unborn */
    int detached;
    int unborn; /* HEAD names a branch that has no commit yet */
} rb_git_head;

/* Reads HEAD of `repo`. Returns 0 or a negative libgit2 error code. An
 * unborn branch is not an error: `unborn` is set and `branch` names it. */
int rb_git_head_read(git_repository *repo, rb_git_head *out);
void rb_git_head_clear(rb_git_head *head);

/* Whether `expected` designates `actual`: 1 when it is 4 to 40 hexadecimal
 * digits (either case) that the full lowercase hex id starts with, 0 when it
 * is such a string but does not match, -1 when it is not such a string. */
int rb_git_commit_matches(const git_oid *actual, const char *expected);

#endif
