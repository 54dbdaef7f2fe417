#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "git_backend.h"
#include "git_head.h"
#include "git_paths.h"
#include "git_scan.h"

typedef struct progress_ctx {
    rb_op *op;
    size_t files;
} progress_ctx;

static void on_progress(const char *path, size_t done, size_t total, void *payload)
{
    (void)path;
    progress_ctx *p = payload;
    p->files = total;
    rb_git_host->progress(p->op, done, total, "files");
}

/* The paths a restore has to look at: whatever differs between the working
 * tree and the index, and between the index and the target. Everything
 * else is already as recorded, so the checkout is limited to these paths
 * and its cost follows the size of the change. */
static int changed_paths(git_repository *repo, git_index *index, const git_oid *target,
                         const rb_git_scan *scan, rb_git_paths *paths)
{
    git_oid current;
    int err = git_index_write_tree(&current, index);
    for (size_t i = 0; !err && i < scan->count; i++)
        err = rb_git_paths_add(paths, scan->items[i].path);
    return err < 0 ? err : rb_git_tree_diff_paths(repo, &current, target, paths);
}

static void remove_empty_parents(const char *workdir, char *full)
{
    size_t root = strlen(workdir);
    char *slash;
    while ((slash = strrchr(full, '/')) && (size_t)(slash - full) >= root) {
        *slash = '\0';
        if (strlen(full) < root || rmdir(full) < 0)
            break;
    }
}

/* Untracked (and with include_ignored, ignored) files that the snapshot
 * does not have are removed here, not by the checkout: libgit2 would leave
 * an untracked symbolic link where the target needs a directory. */
static int remove_unrecorded(git_repository *repo, git_tree *target, const rb_git_scan *scan)
{
    const char *workdir = git_repository_workdir(repo);
    char full[4096];
    for (size_t i = 0; i < scan->count; i++) {
        const rb_git_change *c = &scan->items[i];
        if (c->kind != RB_GIT_UNTRACKED && c->kind != RB_GIT_IGNORED)
            continue;
        git_tree_entry *e = NULL;
        int in_target = git_tree_entry_bypath(&e, target, c->path) == 0 &&
                        git_tree_entry_type(e) != GIT_OBJECT_TREE;
        git_tree_entry_free(e);
        git_error_clear();
        if (in_target)
            continue;
        if ((size_t)snprintf(full, sizeof full, "%s%s", workdir, c->path) >= sizeof full)
            continue;
        if (unlink(full) < 0 && errno != ENOENT)
            return rb_git_host->error_set(RB_EIO, RB_ERRCLASS_GIT, "cannot remove %s: %s", full,
                                          strerror(errno));
        remove_empty_parents(workdir, full);
    }
    return 0;
}

/* After the checkout, every path it looked at holds the target's content on
 * disk; give those paths the recorded index entries. Where the index entry
 * equals the file on disk it is re-read from disk (fresh stat data, so
 * `git status` need not hash it again); where the snapshot had staged
 * something other than what is on disk, the entry is set as recorded. */
static int set_index_entry(git_index *index, git_tree *target, git_tree *index_tree,
                           const char *path)
{
    git_tree_entry *want = NULL, *have = NULL;
    int err = git_tree_entry_bypath(&want, index_tree, path);
    if (err == GIT_ENOTFOUND || (!err && git_tree_entry_type(want) == GIT_OBJECT_TREE)) {
        git_tree_entry_free(want);
        err = git_index_remove(index, path, 0);
        git_error_clear();
        return err == GIT_ENOTFOUND ? 0 : err;
    }
    if (err < 0)
        return err;
    /* A submodule's entry is its recorded commit, not what its checkout
     * holds right now (the submodules are put back afterwards). */
    if (git_tree_entry_filemode(want) != GIT_FILEMODE_COMMIT &&
        git_tree_entry_bypath(&have, target, path) == 0 &&
        git_tree_entry_filemode(have) == git_tree_entry_filemode(want) &&
        git_oid_equal(git_tree_entry_id(have), git_tree_entry_id(want))) {
        err = git_index_add_bypath(index, path);
    } else {
        git_index_entry e;
        memset(&e, 0, sizeof e);
        e.path = path;
        e.mode = git_tree_entry_filemode(want);
        git_oid_cpy(&e.id, git_tree_entry_id(want));
        err = git_index_add(index, &e);
    }
    git_error_clear();
    git_tree_entry_free(have);
    git_tree_entry_free(want);
    return err;
}

/* One checkout of the recorded files (tracked and untracked together),
 * limited to the paths that differ, then the recorded index. With the index
 * in conflict (a merge abandoned with --force) there is no index tree to
 * compare with: the checkout then looks at every path and the index is
 * rebuilt from the recorded tree. */
static int put_files_back(git_repository *repo, const rb_git_options *opt,
                          const rb_git_recorded *rec, const git_oid *target, progress_ctx *prog)
{
    git_tree *tree = NULL, *index_tree = NULL;
    git_index *index = NULL;
    rb_git_paths paths = {NULL, 0, 0};
    rb_git_scan scan = {NULL, 0, 0, 0};
    git_checkout_options co;
    git_checkout_options_init(&co, GIT_CHECKOUT_OPTIONS_VERSION);
    co.checkout_strategy = GIT_CHECKOUT_FORCE | GIT_CHECKOUT_DONT_WRITE_INDEX;
    co.progress_cb = on_progress;
    co.progress_payload = prog;
    int err = git_tree_lookup(&tree, repo, target);
    if (!err)
        err = git_tree_lookup(&index_tree, repo, &rec->index_tree);
    if (!err)
        err = git_repository_index(&index, repo);
    if (!err)
        err = git_index_read(index, 0);
    int conflicted = !err && git_index_has_conflicts(index);
    if (!err && conflicted) {
        if (opt->include_untracked)
            co.checkout_strategy |= GIT_CHECKOUT_REMOVE_UNTRACKED;
        if (opt->include_ignored)
            co.checkout_strategy |= GIT_CHECKOUT_REMOVE_IGNORED;
    } else if (!err) {
        err = rb_git_scan_workdir(repo, index, opt->include_untracked, opt->include_ignored, &scan);
        if (!err)
            err = changed_paths(repo, index, target, &scan, &paths);
        if (!err)
            err = remove_unrecorded(repo, tree, &scan);
        co.paths.strings = paths.items;
        co.paths.count = paths.count;
        co.checkout_strategy |= GIT_CHECKOUT_DISABLE_PATHSPEC_MATCH;
    }
    if (!err && (paths.count || conflicted))
        err = git_checkout_tree(repo, (const git_object *)tree, &co);
    if (!err && conflicted)
        err = git_index_read_tree(index, index_tree);
    if (!err && !conflicted)
        err = rb_git_tree_diff_paths(repo, target, &rec->index_tree, &paths);
    for (size_t i = 0; !err && !conflicted && i < paths.count; i++)
        err = set_index_entry(index, tree, index_tree, paths.items[i]);
    if (!err)
        err = git_index_write(index);
    rb_git_scan_free(&scan);
    rb_git_paths_free(&paths);
    git_index_free(index);
    git_tree_free(index_tree);
    git_tree_free(tree);
    return err;
}

static int move_head(git_repository *repo, const rb_git_recorded *rec, const char *id)
{
    char msg[512];
    snprintf(msg, sizeof msg, "rbhost: rollback to snapshot %s", id);
    if (!rec->branch)
        return git_repository_set_head_detached(repo, &rec->commit);
    char ref[1024];
    snprintf(ref, sizeof ref, "refs/heads/%s", rec->branch);
    git_reference *out = NULL;
    int err = git_reference_create(&out, repo, ref, &rec->commit, 1, msg);
    git_reference_free(out);
    return err < 0 ? err : git_repository_set_head(repo, ref);
}

static void describe(rb_op *op, const rb_git_recorded *rec, const rb_git_head *before, size_t files)
{
    const rb_host_api *h = rb_git_host;
    rb_node *res = h->result(op);
    char hex[GIT_OID_HEXSZ + 1];
    h->node_add_string(res, "status", "success");
    h->node_add_string(res, "method", "git_reset");
    h->node_add_string(res, "commit_hash", git_oid_tostr(hex, sizeof hex, &rec->commit));
    if (rec->branch)
        h->node_add_string(res, "branch", rec->branch);
    else
        h->node_add_null(res, "branch");
    h->node_add_bool(res, "detached", rec->branch == NULL);
    if (!before->unborn)
        h->node_add_string(res, "previous_commit", git_oid_tostr(hex, sizeof hex, &before->commit));
    if (before->branch)
        h->node_add_string(res, "previous_branch", before->branch);
    h->node_add_bool(res, "dirty", rec->dirty);
    h->node_add_int(res, "files_written", (int64_t)files);
}

int rb_git_restore(void *state, rb_op *op)
{
    (void)state;
    const rb_host_api *h = rb_git_host;
    const char *id = h->op_snapshot_id(op);
    unsigned int flags = h->op_flags(op);
    rb_git_options opt;
    rb_git_recorded rec;
    git_repository *repo = NULL;
    rb_git_head before;
    memset(&before, 0, sizeof before);
    git_oid target;
    int rc = rb_git_options_read(op, &opt);
    if (!rc)
        rc = rb_git_recorded_read(op, &rec);
    if (!rc)
        rc = rb_git_repo_open(rec.repo_path, &repo);
    if (!rc)
        rc = rb_git_repo_check_lock(repo, rec.repo_path);
    if (!rc)
        rc = rb_git_repo_check_idle(repo, rec.repo_path, flags);
    if (!rc)
        rc = rb_git_recorded_target(repo, &rec, &target);
    if (!rc)
        rc = rb_git_submodules_check(repo, rec.repo_path, rec.submodules, flags);
    if (!rc) {
        int err = rb_git_head_read(repo, &before);
        if (err < 0)
            rc = rb_git_fail(rb_git_code(err), "cannot read HEAD of %s", rec.repo_path);
    }
    /* Nothing has changed up to here; from now on a failure says how far
     * the restore got. */
    progress_ctx prog = {op, 0};
    if (!rc) {
        int err = put_files_back(repo, &opt, &rec, &target, &prog);
        if (err < 0)
            rc = rb_git_fail(rb_git_code(err),
                             "restoring the files of %s failed part way: the working tree "
                             "may be partly restored (HEAD was not moved; run the rollback "
                             "again)",
                             rec.repo_path);
    }
    if (!rc) {
        int err = move_head(repo, &rec, id);
        if (err < 0)
            rc = rb_git_fail(rb_git_code(err),
                             "the files of %s were restored but HEAD could not be moved to "
                             "the recorded %s",
                             rec.repo_path, rec.branch ? "branch" : "commit");
    }
    if (!rc && git_repository_state(repo) != GIT_REPOSITORY_STATE_NONE) {
        int err = git_repository_state_cleanup(repo);
        if (err < 0)
            rc = rb_git_fail(rb_git_code(err),
                             "%s was restored but the abandoned operation's files in .git "
                             "could not be removed",
                             rec.repo_path);
    }
    if (!rc)
        describe(op, &rec, &before, prog.files);
    if (!rc)
        rc = rb_git_submodules_restore(repo, rec.repo_path, rec.submodules, h->result(op));
    rb_git_head_clear(&before);
    if (!rc)
        rb_git_repo_keep(rec.repo_path, repo);
    else
        git_repository_free(repo);
    return rc;
}
