#include <string.h>

#include "git_backend.h"

static int read_oid(rb_op *op, const rb_node *meta, const char *key, git_oid *out, int optional)
{
    const rb_host_api *h = rb_git_host;
    const rb_node *n = h->node_get(meta, key);
    if (optional && h->node_type(n) != RB_NODE_STRING)
        return 0;
    const char *hex = h->node_string(n);
    if (!hex || strlen(hex) != GIT_OID_HEXSZ || git_oid_fromstr(out, hex) < 0)
        return h->error_set(RB_ECORRUPT, RB_ERRCLASS_GIT,
                            "snapshot %s: metadata field %s is not a git object id",
                            h->op_snapshot_id(op), key);
    return 1;
}

int rb_git_recorded_read(rb_op *op, rb_git_recorded *out)
{
    const rb_host_api *h = rb_git_host;
    const rb_node *meta = h->metadata(op);
    memset(out, 0, sizeof *out);
    out->repo_path = h->node_string(h->node_get(meta, "repo_path"));
    out->branch = h->node_string(h->node_get(meta, "branch"));
    out->dirty = h->node_bool(h->node_get(meta, "dirty"));
    out->submodules = h->node_get(meta, "submodules");
    int rc;
    if ((rc = read_oid(op, meta, "commit_hash", &out->commit, 0)) < 0 ||
        (rc = read_oid(op, meta, "index_tree", &out->index_tree, 0)) < 0 ||
        (rc = read_oid(op, meta, "worktree_tree", &out->worktree_tree, 0)) < 0 ||
        (rc = read_oid(op, meta, "untracked_tree", &out->untracked_tree, 1)) < 0)
        return rc;
    out->has_untracked = rc;
    if (!out->repo_path)
        return h->error_set(RB_ECORRUPT, RB_ERRCLASS_GIT, "snapshot %s: metadata has no repo_path",
                            h->op_snapshot_id(op));
    return 0;
}

static int require_object(git_repository *repo, const rb_git_recorded *rec, const git_oid *id,
                          git_object_t type, const char *what)
{
    git_object *obj = NULL;
    int err = git_object_lookup(&obj, repo, id, type);
    git_object_free(obj);
    if (err == GIT_ENOTFOUND) {
        char hex[GIT_OID_HEXSZ + 1];
        git_oid_tostr(hex, sizeof hex, id);
        return rb_git_host->error_set(RB_ENOTFOUND, RB_ERRCLASS_GIT,
                                      "the recorded %s %s no longer exists in %s (a shallow "
                                      "clone, or pruned objects); nothing was changed",
                                      what, hex, rec->repo_path);
    }
    if (err < 0)
        return rb_git_fail(rb_git_code(err), "cannot read the recorded %s in %s", what,
                           rec->repo_path);
    return 0;
}

int rb_git_recorded_target(git_repository *repo, const rb_git_recorded *rec, git_oid *target)
{
    int rc;
    if ((rc = require_object(repo, rec, &rec->commit, GIT_OBJECT_COMMIT, "commit")) < 0 ||
        (rc = require_object(repo, rec, &rec->index_tree, GIT_OBJECT_TREE, "index tree")) < 0 ||
        (rc = require_object(repo, rec, &rec->worktree_tree, GIT_OBJECT_TREE, "working tree")) < 0)
        return rc;
    if (rec->has_untracked && (rc = require_object(repo, rec, &rec->untracked_tree, GIT_OBJECT_TREE,
                                                   "untracked files tree")) < 0)
        return rc;
    int err = rb_git_state_union(repo, &rec->worktree_tree,
                                 rec->has_untracked ? &rec->untracked_tree : NULL, target);
    if (err < 0)
        return rb_git_fail(rb_git_code(err), "cannot assemble the recorded files of %s",
                           rec->repo_path);
    return 0;
}
