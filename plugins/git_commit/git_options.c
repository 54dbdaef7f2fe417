#include "git_backend.h"

int rb_git_options_read(rb_op *op, rb_git_options *out)
{
    const rb_host_api *h = rb_git_host;
    const rb_node *cfg = h->config(op);
    out->repo_path = h->node_string(h->node_get(cfg, "repo_path"));
    out->branch = h->node_string(h->node_get(cfg, "branch"));
    if (out->branch && !*out->branch)
        out->branch = NULL;
    const rb_node *u = h->node_get(cfg, "include_untracked");
    out->include_untracked = h->node_type(u) == RB_NODE_MISSING ? 1 : h->node_bool(u);
    out->include_ignored = h->node_bool(h->node_get(cfg, "include_ignored"));
    if (!out->repo_path || !*out->repo_path)
        return h->error_set(RB_EINVAL, RB_ERRCLASS_CONFIG,
                            "repo_path is empty: set it to the top of a git working tree");
    return 0;
}
