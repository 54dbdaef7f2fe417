#include <stdio.h>
#include <string.h>

#include "git_backend.h"
#include "git_head.h"

/* The commit the snapshot is of: the `branch` config's tip, else HEAD's. */
static int resolve_recorded(git_repository *repo, const rb_git_options *opt,
                            const rb_git_head *head, git_oid *commit)
{
    const rb_host_api *h = rb_git_host;
    if (!opt->branch) {
        if (head->unborn)
            return h->error_set(RB_ENOTFOUND, RB_ERRCLASS_GIT,
                                "%s has no commit yet (branch %s is unborn): commit once before "
                                "taking a snapshot",
                                opt->repo_path, head->branch ? head->branch : "HEAD");
        git_oid_cpy(commit, &head->commit);
        return 0;
    }
    git_reference *ref = NULL;
    git_object *peeled = NULL;
    int err = git_branch_lookup(&ref, repo, opt->branch, GIT_BRANCH_LOCAL);
    if (err == GIT_ENOTFOUND || err == GIT_EINVALIDSPEC)
        return h->error_set(RB_ENOTFOUND, RB_ERRCLASS_GIT, "there is no branch %s in %s",
                            opt->branch, opt->repo_path);
    if (!err)
        err = git_reference_peel(&peeled, ref, GIT_OBJECT_COMMIT);
    if (!err)
        git_oid_cpy(commit, git_object_id(peeled));
    git_object_free(peeled);
    git_reference_free(ref);
    if (err < 0)
        return rb_git_fail(rb_git_code(err), "cannot read branch %s in %s", opt->branch,
                           opt->repo_path);
    return 0;
}

static int make_commit(git_repository *repo, const char *message, const git_oid *tree_id,
                       size_t nparents, const git_oid *parent_ids, git_oid *out)
{
    git_signature *sig = NULL;
    git_tree *tree = NULL;
    git_commit *parents[2] = {NULL, NULL};
    /* A fresh machine may have no user.name: the commits are ours anyway. */
    int err = git_signature_default(&sig, repo);
    if (err < 0)
        err = git_signature_now(&sig, "rbhost", "rbhost@localhost");
    if (!err)
        err = git_tree_lookup(&tree, repo, tree_id);
    for (size_t i = 0; !err && i < nparents; i++)
        err = git_commit_lookup(&parents[i], repo, &parent_ids[i]);
    if (!err)
        err = git_commit_create(out, repo, NULL, sig, sig, NULL, message, tree, nparents,
                                (const git_commit **)parents);
    git_commit_free(parents[0]);
    git_commit_free(parents[1]);
    git_tree_free(tree);
    git_signature_free(sig);
    return err;
}

/* Like `git stash`: the index as a commit on HEAD, the working tree as a
 * commit on HEAD and the index, the untracked files as a root commit. */
static int save_state(git_repository *repo, const char *id, const rb_git_head *head,
                      const rb_git_state *st, int dirty, rb_node *saved)
{
    const rb_host_api *h = rb_git_host;
    char msg[512], hex[GIT_OID_HEXSZ + 1];
    const char *on = head->branch ? head->branch : "(detached HEAD)";
    git_oid ids[2];
    int rc = rb_git_refs_set(repo, id, "head", &head->commit);
    if (rc < 0)
        return rc;
    h->node_add_string(saved, "head", git_oid_tostr(hex, sizeof hex, &head->commit));
    if (!dirty)
        return 0;
    git_oid_cpy(&ids[0], &head->commit);
    snprintf(msg, sizeof msg, "rbhost snapshot %s: index on %s\n", id, on);
    int err = make_commit(repo, msg, &st->index_tree, 1, ids, &ids[1]);
    if (err < 0 || (rc = rb_git_refs_set(repo, id, "index", &ids[1])) < 0)
        goto fail;
    h->node_add_string(saved, "index", git_oid_tostr(hex, sizeof hex, &ids[1]));
    snprintf(msg, sizeof msg, "rbhost snapshot %s: working tree on %s\n", id, on);
    git_oid wt;
    err = make_commit(repo, msg, &st->worktree_tree, 2, ids, &wt);
    if (err < 0 || (rc = rb_git_refs_set(repo, id, "worktree", &wt)) < 0)
        goto fail;
    h->node_add_string(saved, "worktree", git_oid_tostr(hex, sizeof hex, &wt));
    if (!st->has_untracked)
        return 0;
    snprintf(msg, sizeof msg, "rbhost snapshot %s: untracked files on %s\n", id, on);
    git_oid ut;
    err = make_commit(repo, msg, &st->untracked_tree, 0, NULL, &ut);
    if (err < 0 || (rc = rb_git_refs_set(repo, id, "untracked", &ut)) < 0)
        goto fail;
    h->node_add_string(saved, "untracked", git_oid_tostr(hex, sizeof hex, &ut));
    return 0;
fail:
    if (err < 0)
        rc = rb_git_fail(rb_git_code(err), "cannot save the working state of %s",
                         git_repository_workdir(repo));
    return rc;
}

static void put_oid(rb_node *meta, const char *key, const git_oid *id)
{
    char hex[GIT_OID_HEXSZ + 1];
    rb_git_host->node_add_string(meta, key, git_oid_tostr(hex, sizeof hex, id));
}

static int is_dirty(git_repository *repo, const git_oid *head_commit, const rb_git_state *st)
{
    git_commit *c = NULL;
    if (git_commit_lookup(&c, repo, head_commit) < 0)
        return 1;
    int dirty = !git_oid_equal(git_commit_tree_id(c), &st->index_tree) ||
                !git_oid_equal(&st->index_tree, &st->worktree_tree) || st->has_untracked;
    git_commit_free(c);
    return dirty;
}

static int write_metadata(rb_op *op, const rb_git_options *opt, const git_oid *commit,
                          const char *branch, const rb_git_state *st, int dirty)
{
    const rb_host_api *h = rb_git_host;
    rb_node *meta = h->metadata(op);
    char refs[1024];
    snprintf(refs, sizeof refs, "refs/rbhost/%s/", h->op_snapshot_id(op));
    h->node_add_string(meta, "method", "git_commit");
    put_oid(meta, "commit_hash", commit);
    h->node_add_string(meta, "repo_path", opt->repo_path);
    if (branch)
        h->node_add_string(meta, "branch", branch);
    else
        h->node_add_null(meta, "branch");
    h->node_add_bool(meta, "detached", branch == NULL);
    h->node_add_bool(meta, "dirty", dirty);
    put_oid(meta, "index_tree", &st->index_tree);
    put_oid(meta, "worktree_tree", &st->worktree_tree);
    if (st->has_untracked)
        put_oid(meta, "untracked_tree", &st->untracked_tree);
    else
        h->node_add_null(meta, "untracked_tree");
    if (!h->node_add_string(meta, "refs", refs))
        return RB_ENOMEM;
    return 0;
}

/* With `branch` naming a branch that is not checked out, the snapshot is of
 * that branch as a clean checkout; the live working state is still saved
 * under the snapshot's refs so that nothing uncommitted is lost. */
static int use_commit_tree(git_repository *repo, const git_oid *commit, rb_git_state *target)
{
    git_commit *c = NULL;
    int err = git_commit_lookup(&c, repo, commit);
    if (err < 0)
        return rb_git_fail(rb_git_code(err), "cannot read the recorded commit in %s",
                           git_repository_workdir(repo));
    memset(target, 0, sizeof *target);
    git_oid_cpy(&target->index_tree, git_commit_tree_id(c));
    git_oid_cpy(&target->worktree_tree, git_commit_tree_id(c));
    git_commit_free(c);
    return 0;
}

static int record_other_checkout(rb_node *meta, const rb_git_head *head)
{
    const rb_host_api *h = rb_git_host;
    rb_node *o = h->node_add_object(meta, "checked_out");
    if (!o)
        return RB_ENOMEM;
    put_oid(o, "commit", &head->commit);
    if (head->branch)
        h->node_add_string(o, "branch", head->branch);
    else
        h->node_add_null(o, "branch");
    return 0;
}

int rb_git_snapshot(void *state, rb_op *op)
{
    (void)state;
    const rb_host_api *h = rb_git_host;
    const char *id = h->op_snapshot_id(op);
    rb_git_options opt;
    git_repository *repo = NULL;
    rb_git_head head;
    memset(&head, 0, sizeof head);
    rb_git_state live, target;
    git_oid commit;
    int refs_made = 0;
    int rc = rb_git_options_read(op, &opt);
    if (!rc)
        rc = rb_git_repo_open(opt.repo_path, &repo);
    if (!rc)
        rc = rb_git_repo_check_lock(repo, opt.repo_path);
    if (!rc) {
        int err = rb_git_head_read(repo, &head);
        if (err < 0)
            rc = rb_git_fail(rb_git_code(err), "cannot read HEAD of %s", opt.repo_path);
    }
    if (!rc)
        rc = resolve_recorded(repo, &opt, &head, &commit);
    if (!rc && head.unborn)
        rc = h->error_set(RB_ENOTFOUND, RB_ERRCLASS_GIT,
                          "%s has no commit checked out (branch %s is unborn)", opt.repo_path,
                          head.branch);
    int on_branch =
        !opt.branch || (!head.detached && head.branch && !strcmp(head.branch, opt.branch));
    if (!rc)
        rc = rb_git_state_compute(repo, &opt, &live);
    if (!rc && on_branch)
        target = live;
    else if (!rc)
        rc = use_commit_tree(repo, &commit, &target);
    /* A stale set from an earlier snapshot of the same id must not mix in. */
    if (!rc)
        rc = rb_git_refs_remove(repo, id);
    int live_dirty = !rc && is_dirty(repo, &head.commit, &live);
    rb_node *meta = h->metadata(op);
    if (!rc) {
        refs_made = 1;
        rb_node *saved = h->node_add_object(meta, "saved");
        rc = saved ? save_state(repo, id, &head, &live, live_dirty, saved) : RB_ENOMEM;
    }
    /* The recorded branch's tip stays reachable even if the branch moves. */
    if (!rc && !on_branch)
        rc = rb_git_refs_set(repo, id, "branch", &commit);
    if (!rc)
        rc = write_metadata(op, &opt, &commit, opt.branch ? opt.branch : head.branch, &target,
                            on_branch && live_dirty);
    if (!rc && !on_branch)
        rc = record_other_checkout(meta, &head);
    if (!rc)
        rc = rb_git_identity_record(repo, &commit, meta);
    if (!rc) {
        rb_node *subs = h->node_add_array(meta, "submodules");
        rc = subs ? rb_git_submodules_record(repo, subs) : RB_ENOMEM;
    }
    if (rc < 0 && refs_made)
        rb_git_refs_remove(repo, id);
    if (!rc && live_dirty)
        h->log(RB_LOG_INFO, "%s: uncommitted changes saved under refs/rbhost/%s/", opt.repo_path,
               id);
    rb_git_head_clear(&head);
    git_repository_free(repo);
    return rc;
}
