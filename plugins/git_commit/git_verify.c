#include <stdio.h>
#include <string.h>

#include "git_backend.h"
#include "git_head.h"

static rb_node *add_difference(rb_node *diffs, const char *item, const char *expected,
                               const char *actual)
{
    const rb_host_api *h = rb_git_host;
    rb_node *o = h->node_add_object(diffs, NULL);
    if (o) {
        h->node_add_string(o, "item", item);
        h->node_add_string(o, "expected", expected);
        h->node_add_string(o, "actual", actual);
    }
    return o;
}

static size_t compare_head(const rb_git_recorded *rec, const rb_git_head *head, rb_node *diffs)
{
    char want[GIT_OID_HEXSZ + 1], have[GIT_OID_HEXSZ + 1] = "unborn";
    git_oid_tostr(want, sizeof want, &rec->commit);
    if (!head->unborn)
        git_oid_tostr(have, sizeof have, &head->commit);
    size_t n = 0;
    /* The same rule as seed 001's git_commit verification test, given the
     * full id: the recorded commit must be the one checked out. */
    if (head->unborn || rb_git_commit_matches(&head->commit, want) != 1) {
        add_difference(diffs, "HEAD", want, have);
        n++;
    }
    const char *want_branch = rec->branch ? rec->branch : "(detached)";
    const char *have_branch = head->detached ? "(detached)" : head->branch;
    if (strcmp(want_branch, have_branch ? have_branch : "")) {
        add_difference(diffs, "branch", want_branch, have_branch ? have_branch : "");
        n++;
    }
    return n;
}

/* Compares one recorded tree with the live one; the file-level changes go
 * into the difference so a user sees what drifted, not only that it did. */
static size_t compare_tree(git_repository *repo, const char *item, const git_oid *want,
                           const git_oid *have, rb_node *diffs)
{
    if ((!want && !have) || (want && have && git_oid_equal(want, have)))
        return 0;
    char w[GIT_OID_HEXSZ + 1] = "none", a[GIT_OID_HEXSZ + 1] = "none";
    if (want)
        git_oid_tostr(w, sizeof w, want);
    if (have)
        git_oid_tostr(a, sizeof a, have);
    rb_node *d = add_difference(diffs, item, w, a);
    rb_node *files = d ? rb_git_host->node_add_array(d, "changes") : NULL;
    if (files)
        rb_git_host->node_add_int(d, "files",
                                  (int64_t)rb_git_tree_changes(repo, want, have, files, 50));
    return 1;
}

int rb_git_verify(void *state, rb_op *op)
{
    (void)state;
    const rb_host_api *h = rb_git_host;
    rb_git_options opt;
    rb_git_recorded rec;
    git_repository *repo = NULL;
    rb_git_head head;
    memset(&head, 0, sizeof head);
    rb_git_state st;
    int rc = rb_git_options_read(op, &opt);
    if (!rc)
        rc = rb_git_recorded_read(op, &rec);
    if (!rc)
        rc = rb_git_repo_reuse(rec.repo_path, &repo);
    if (!rc) {
        int err = rb_git_head_read(repo, &head);
        if (err < 0)
            rc = rb_git_fail(rb_git_code(err), "cannot read HEAD of %s", rec.repo_path);
    }
    if (!rc)
        rc = rb_git_state_compute(repo, &opt, &st);
    rb_node *diffs = rc ? NULL : h->node_add_array(h->result(op), "differences");
    if (!rc && !diffs)
        rc = RB_ENOMEM;
    if (!rc) {
        size_t n = compare_head(&rec, &head, diffs);
        n += compare_tree(repo, "index", &rec.index_tree, &st.index_tree, diffs);
        n += compare_tree(repo, "worktree", &rec.worktree_tree, &st.worktree_tree, diffs);
        n += compare_tree(repo, "untracked", rec.has_untracked ? &rec.untracked_tree : NULL,
                          st.has_untracked ? &st.untracked_tree : NULL, diffs);
        n += rb_git_submodules_compare(repo, rec.submodules, diffs);
        if (n)
            rc = h->error_set(RB_EDRIFT, RB_ERRCLASS_VERIFY,
                              "%s differs from the snapshot in %zu place%s (HEAD, branch, "
                              "index, working tree, untracked files or submodules)",
                              rec.repo_path, n, n == 1 ? "" : "s");
    }
    rb_git_head_clear(&head);
    git_repository_free(repo);
    return rc;
}
