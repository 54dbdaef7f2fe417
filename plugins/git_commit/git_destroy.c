#include "git_backend.h"

int rb_git_destroy(void *state, rb_op *op)
{
    (void)state;
    const rb_host_api *h = rb_git_host;
    const char *path = h->node_string(h->node_get(h->metadata(op), "repo_path"));
    if (!path)
        path = h->node_string(h->node_get(h->config(op), "repo_path"));
    git_repository *repo = NULL;
    /* The repository may be gone with the project it held: then nothing is
     * left to clean up, and deleting the snapshot must still work. */
    if (!path || git_repository_open_ext(&repo, path, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL) < 0) {
        h->log(RB_LOG_WARN, "no repository at %s any more: no refs to remove",
               path ? path : "(unknown path)");
        git_error_clear();
        return 0;
    }
    int rc = rb_git_refs_remove(repo, h->op_snapshot_id(op));
    git_repository_free(repo);
    return rc;
}
