#include <stdio.h>
#include <string.h>

#include "git_backend.h"
#include "git_head.h"

static void put_head(rb_node *res, const char *key_commit, const char *key_branch,
                     const git_oid *commit, const char *branch)
{
    const rb_host_api *h = rb_git_host;
    char hex[GIT_OID_HEXSZ + 1];
    if (commit)
        h->node_add_string(res, key_commit, git_oid_tostr(hex, sizeof hex, commit));
    else
        h->node_add_null(res, key_commit);
    if (branch)
        h->node_add_string(res, key_branch, branch);
    else
        h->node_add_null(res, key_branch);
}

/* What a restore would do, computed as the restore and verify would see it;
 * nothing in the working tree, the index or the refs is touched. */
int rb_git_plan(void *state, rb_op *op)
{
    (void)state;
    const rb_host_api *h = rb_git_host;
    rb_git_options opt;
    rb_git_recorded rec;
    git_repository *repo = NULL;
    rb_git_head head;
    memset(&head, 0, sizeof head);
    rb_git_state st;
    git_oid target, current;
    int rc = rb_git_options_read(op, &opt);
    if (!rc)
        rc = rb_git_recorded_read(op, &rec);
    if (!rc)
        rc = rb_git_repo_open(rec.repo_path, &repo);
    if (!rc)
        rc = rb_git_identity_check(repo, op, rec.repo_path);
    if (!rc && (h->op_flags(op) & RB_OP_PREFLIGHT)) {
        git_repository_free(repo);
        return 0;
    }
    if (!rc)
        rc = rb_git_recorded_target(repo, &rec, &target);
    if (!rc) {
        int err = rb_git_head_read(repo, &head);
        if (err < 0)
            rc = rb_git_fail(rb_git_code(err), "cannot read HEAD of %s", rec.repo_path);
    }
    if (!rc)
        rc = rb_git_state_compute(repo, &opt, &st);
    if (!rc) {
        int err = rb_git_state_union(repo, &st.worktree_tree,
                                     st.has_untracked ? &st.untracked_tree : NULL, &current);
        if (err < 0)
            rc = rb_git_fail(rb_git_code(err), "cannot read the working tree of %s", rec.repo_path);
    }
    if (!rc) {
        rb_node *res = h->result(op);
        put_head(res, "commit_from", "branch_from", head.unborn ? NULL : &head.commit,
                 head.detached ? NULL : head.branch);
        put_head(res, "commit_to", "branch_to", &rec.commit, rec.branch);
        rb_node *changes = h->node_add_array(res, "changes");
        size_t files = changes ? rb_git_tree_changes(repo, &current, &target, changes, 1000) : 0;
        int index_changes = !git_oid_equal(&st.index_tree, &rec.index_tree);
        int repo_state = git_repository_state(repo);
        h->node_add_int(res, "files_changed", (int64_t)files);
        h->node_add_bool(res, "index_changes", index_changes);
        if (repo_state != GIT_REPOSITORY_STATE_NONE)
            h->node_add_string(res, "refused_without_force", rb_git_repo_state_name(repo_state));
        char summary[512], from[12] = "unborn", to[12];
        if (!head.unborn)
            git_oid_tostr(from, sizeof from, &head.commit);
        git_oid_tostr(to, sizeof to, &rec.commit);
        snprintf(summary, sizeof summary, "%s: %s -> %s%s%s, %zu file%s to write or remove%s",
                 rec.repo_path, from, to, rec.branch ? " on " : " (detached)",
                 rec.branch ? rec.branch : "", files, files == 1 ? "" : "s",
                 index_changes ? ", index reset" : "");
        h->node_add_string(res, "summary", summary);
    }
    rb_git_head_clear(&head);
    git_repository_free(repo);
    return rc;
}
