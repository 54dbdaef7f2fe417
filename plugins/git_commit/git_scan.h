/* How the working tree differs from the index: one stat per index entry
 * compared with the index's stat data, and one directory read per tracked
 * directory for untracked files. It is what libgit2's index-to-workdir diff
 * computes, with less CPU and with the stat calls spread over the cores as
 * git's preloaded index does; every snapshot, restore and verify starts
 * with it. */
#ifndef RB_GIT_SCAN_H
#define RB_GIT_SCAN_H

#include <git2.h>
#include <stddef.h>
#include <stdint.h>

typedef enum rb_git_change_kind {
    RB_GIT_MAYBE_MODIFIED = 1, /* stat data differs: the content may or may not */
    RB_GIT_DELETED = 2,        /* tracked, gone from disk (or a directory now) */
    RB_GIT_UNTRACKED = 3,
    RB_GIT_IGNORED = 4,
} rb_git_change_kind;

typedef struct rb_git_change {
    char *path; /* relative to the working tree, '/' separated */
    rb_git_change_kind kind;
    uint32_t mode; /* on disk, as a git file mode (MAYBE_MODIFIED, UNTRACKED, IGNORED) */
} rb_git_change;

typedef struct rb_git_scan {
    rb_git_change *items;
    size_t count;
    size_t capacity;
    size_t skipped; /* untracked nested repositories, not descended into */
} rb_git_scan;

/* Scans the working tree of `repo` against `index` (stage 0 entries; any
 * entry in conflict is reported as MAYBE_MODIFIED). Untracked and ignored
 * files are listed only when asked for. Returns 0 or a libgit2 error. */
int rb_git_scan_workdir(git_repository *repo, git_index *index, int untracked, int ignored,
                        rb_git_scan *out);
void rb_git_scan_free(rb_git_scan *scan);

#endif
