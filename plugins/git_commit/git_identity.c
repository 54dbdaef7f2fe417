/* Which repository a snapshot is of. A path can come to hold another
 * repository (a project re-cloned over an old one, a directory reused);
 * resetting that one to the snapshot's commit would be wrong, so a
 * rollback is refused when the live repository is not of the recorded
 * lineage.
 *
 * The lineage is an ancestor of the recorded commit: the root reached by
 * first parents, or in a longer history the commit RB_GIT_LINEAGE_DEPTH
 * first parents back, so that a snapshot of a deep history stays cheap.
 * Every clone of the project has it, however it was cloned or wherever its
 * git dir is, and another project does not. A shallow clone may lack it
 * but then has the recorded commit, whose id covers its whole history,
 * which is as good. The check is one or two lookups. */
#include <stdio.h>
#include <string.h>

#include "git_backend.h"

#define RB_GIT_LINEAGE_DEPTH 1000

int rb_git_identity_record(git_repository *repo, const git_oid *commit, rb_node *meta)
{
    const rb_host_api *h = rb_git_host;
    git_commit *c = NULL;
    int err = git_commit_lookup(&c, repo, commit);
    for (int depth = 0; err == 0 && depth < RB_GIT_LINEAGE_DEPTH && git_commit_parentcount(c) > 0;
         depth++) {
        git_commit *parent = NULL;
        /* A shallow clone ends where its history does: that commit is the
         * root as far as this repository knows. */
        if (git_commit_parent(&parent, c, 0) < 0)
            break;
        git_commit_free(c);
        c = parent;
    }
    if (err < 0)
        return rb_git_fail(rb_git_code(err), "cannot read the history of %s",
                           git_repository_workdir(repo));
    char hex[GIT_OID_HEXSZ + 1];
    git_oid_tostr(hex, sizeof hex, git_commit_id(c));
    git_commit_free(c);
    rb_node *id = h->node_add_object(meta, "identity");
    if (!id || !h->node_add_string(id, "lineage_commit", hex) ||
        !h->node_add_string(id, "git_dir", git_repository_path(repo)))
        return RB_ENOMEM;
    return 0;
}

int rb_git_identity_check(git_repository *repo, rb_op *op, const char *repo_path)
{
    const rb_host_api *h = rb_git_host;
    const rb_node *id = h->node_get(h->metadata(op), "identity");
    const char *root = h->node_string(h->node_get(id, "lineage_commit"));
    const char *commit = h->node_string(h->node_get(h->metadata(op), "commit_hash"));
    git_oid root_id, commit_id;
    /* Snapshots taken before the identity was recorded roll back as they
     * always did. */
    if (!root || git_oid_fromstr(&root_id, root) < 0)
        return 0;
    git_odb *odb = NULL;
    int present =
        git_repository_odb(&odb, repo) == 0 &&
        (git_odb_exists(odb, &root_id) ||
         (commit && git_oid_fromstr(&commit_id, commit) == 0 && git_odb_exists(odb, &commit_id)));
    git_odb_free(odb);
    if (present)
        return 0;
    const char *dir = h->node_string(h->node_get(id, "git_dir"));
    const char *now = git_repository_path(repo);
    char where[2200] = "";
    if (dir && strcmp(dir, now))
        snprintf(where, sizeof where, " (its git dir is now %s, was %s)", now, dir);
    if (h->op_flags(op) & RB_OP_FORCE) {
        h->log(RB_LOG_WARN,
               "%s is another repository than the one snapshotted (no commit %.12s of the recorded "
               "history); "
               "going on because of --force",
               repo_path, root);
        return h->node_add_bool(h->result(op), "identity_differs", 1) ? 0 : RB_ENOMEM;
    }
    return h->error_set(
        RB_ECONFLICT, RB_ERRCLASS_GIT,
        "%s is another repository than the one snapshotted: it has neither the "
        "recorded ancestor commit %.12s nor the recorded commit %.12s, so it is not a "
        "clone of the same project%s",
        repo_path, root, commit ? commit : "?", where);
}
