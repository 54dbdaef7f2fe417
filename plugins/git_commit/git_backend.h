/* The git_commit backend's internal interface: what its files share. */
#ifndef RB_GIT_BACKEND_H
#define RB_GIT_BACKEND_H

#include <git2.h>
#include <rbhost/rbhost.h>

/* The host table, set once by init(). */
extern const rb_host_api *rb_git_host;

/* Sets the host error message from a format plus libgit2's last error and
 * returns `code`. */
int rb_git_fail(int code, const char *fmt, ...) RB_PRINTF(2, 3);
/* The rb_error matching a negative libgit2 return code. */
int rb_git_code(int git_error);

/* A target's config, as validated by the host (defaults applied). */
typedef struct rb_git_options {
    const char *repo_path;
    const char *branch; /* NULL: the branch checked out */
    int include_untracked;
    int include_ignored;
} rb_git_options;

int rb_git_options_read(rb_op *op, rb_git_options *out);

/* Opens the repository whose working tree is at `path`. Refuses bare
 * repositories; messages name the path. */
int rb_git_repo_open(const char *path, git_repository **out);
/* Keeps a repository a restore has just finished with, for the
 * verification that follows in the same process: its index and objects
 * are loaded already, and libgit2 re-reads the index only if the file
 * changed on disk since. Takes ownership. */
void rb_git_repo_keep(const char *path, git_repository *repo);
/* rb_git_repo_open, returning the kept repository of `path` if there is one. */
int rb_git_repo_reuse(const char *path, git_repository **out);
/* Frees the kept repository (before libgit2 shuts down). */
void rb_git_repo_drop_kept(void);
/* RB_ELOCKED when another git process holds the index lock. */
int rb_git_repo_check_lock(git_repository *repo, const char *path);
/* RB_ECONFLICT naming the operation when a merge, rebase, cherry-pick,
 * revert, bisect or am is in progress, unless RB_OP_FORCE is set. */
int rb_git_repo_check_idle(git_repository *repo, const char *path, unsigned int op_flags);
/* "merge", "rebase"... for a git_repository_state_t other than NONE. */
const char *rb_git_repo_state_name(int state);

/* The working state of a checkout, as trees in the object database: the
 * index, the tracked files as they are on disk, and the untracked (and
 * with include_ignored, ignored) files. Computing it writes the blobs and
 * trees it needs, as `git stash create` does; nothing else changes. */
typedef struct rb_git_state {
    git_oid index_tree;
    git_oid worktree_tree;
    git_oid untracked_tree;
    int has_untracked; /* untracked_tree is set: at least one file */
    size_t skipped;    /* untracked entries that are not files (nested repositories) */
} rb_git_state;

int rb_git_state_compute(git_repository *repo, const rb_git_options *opt, rb_git_state *out);
/* The tree a restore checks out: the worktree tree with the untracked files
 * added. */
int rb_git_state_union(git_repository *repo, const git_oid *worktree_tree,
                       const git_oid *untracked_tree, git_oid *out);

/* What a snapshot recorded, read back from its metadata. */
typedef struct rb_git_recorded {
    const char *repo_path;
    git_oid commit;
    const char *branch; /* NULL when HEAD was detached */
    int dirty;
    git_oid index_tree;
    git_oid worktree_tree;
    git_oid untracked_tree;
    int has_untracked;
    const rb_node *submodules; /* array of {"path", "commit", "branch"} */
} rb_git_recorded;

int rb_git_recorded_read(rb_op *op, rb_git_recorded *out);
/* The tree restore checks out (worktree plus untracked files), checked to
 * exist together with the commit and the index tree. */
int rb_git_recorded_target(git_repository *repo, const rb_git_recorded *rec, git_oid *target);

/* refs/rbhost/<id>/<name> */
int rb_git_refs_name(char *buf, size_t size, const char *snapshot_id, const char *name);
int rb_git_refs_set(git_repository *repo, const char *snapshot_id, const char *name,
                    const git_oid *id);
/* Removes every ref under refs/rbhost/<id>/. */
int rb_git_refs_remove(git_repository *repo, const char *snapshot_id);

/* Submodules: record their checked-out commits into `array`; check before
 * a restore that each can go back; move them back. */
int rb_git_submodules_record(git_repository *repo, rb_node *array);
int rb_git_submodules_check(git_repository *repo, const char *repo_path, const rb_node *recorded,
                            unsigned int op_flags);
int rb_git_submodules_restore(git_repository *repo, const char *repo_path, const rb_node *recorded,
                              rb_node *result);
/* Adds one {"item": "submodule <path>", ...} difference per submodule whose
 * checked-out commit differs; returns how many. */
size_t rb_git_submodules_compare(git_repository *repo, const rb_node *recorded,
                                 rb_node *differences);

/* Appends {"action", "item"} changes that turn tree `from` into tree `to`
 * (NULL: empty tree) to `array`, at most `limit`; returns the total count. */
size_t rb_git_tree_changes(git_repository *repo, const git_oid *from, const git_oid *to,
                           rb_node *array, size_t limit);

/* The lineage of the repository (an ancestor of the recorded commit),
 * recorded at snapshot
 * under "identity"; the check returns RB_ECONFLICT when the live
 * repository is of another lineage, unless RB_OP_FORCE is set. Snapshots
 * without an identity pass. */
int rb_git_identity_record(git_repository *repo, const git_oid *commit, rb_node *meta);
int rb_git_identity_check(git_repository *repo, rb_op *op, const char *repo_path);

int rb_git_snapshot(void *state, rb_op *op);
int rb_git_restore(void *state, rb_op *op);
int rb_git_verify(void *state, rb_op *op);
int rb_git_plan(void *state, rb_op *op);
int rb_git_destroy(void *state, rb_op *op);

#endif
