/* Lists of repository paths, and the paths where two trees differ. */
#ifndef RB_GIT_PATHS_H
#define RB_GIT_PATHS_H

#include <git2.h>
#include <stddef.h>

typedef struct rb_git_paths {
    char **items;
    size_t count;
    size_t capacity;
} rb_git_paths;

int rb_git_paths_add(rb_git_paths *paths, const char *path);
void rb_git_paths_free(rb_git_paths *paths);

/* Adds every file path whose entry differs between tree `a` and tree `b`
 * (NULL: the empty tree). Subtrees with the same id are skipped without
 * being read, so the cost follows the size of the change, not of the
 * repository. Returns 0 or a libgit2 error. */
int rb_git_tree_diff_paths(git_repository *repo, const git_oid *a, const git_oid *b,
                           rb_git_paths *out);

#endif
