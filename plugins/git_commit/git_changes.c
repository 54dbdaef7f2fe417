#include "git_backend.h"

static const char *action_name(git_delta_t status)
{
    switch (status) {
    case GIT_DELTA_ADDED:
        return "add";
    case GIT_DELTA_DELETED:
        return "delete";
    case GIT_DELTA_TYPECHANGE:
        return "replace";
    default:
        return "modify";
    }
}

size_t rb_git_tree_changes(git_repository *repo, const git_oid *from, const git_oid *to,
                           rb_node *array, size_t limit)
{
    const rb_host_api *h = rb_git_host;
    git_tree *a = NULL, *b = NULL;
    git_diff *diff = NULL;
    git_diff_options o;
    git_diff_options_init(&o, GIT_DIFF_OPTIONS_VERSION);
    o.flags = GIT_DIFF_INCLUDE_TYPECHANGE;
    size_t n = 0;
    if ((from && git_tree_lookup(&a, repo, from) < 0) ||
        (to && git_tree_lookup(&b, repo, to) < 0) ||
        git_diff_tree_to_tree(&diff, repo, a, b, &o) < 0) {
        git_error_clear();
    } else {
        n = git_diff_num_deltas(diff);
        for (size_t i = 0; i < n && i < limit; i++) {
            const git_diff_delta *d = git_diff_get_delta(diff, i);
            rb_node *c = h->node_add_object(array, NULL);
            if (!c)
                break;
            h->node_add_string(c, "action", action_name(d->status));
            h->node_add_string(
                c, "item", d->status == GIT_DELTA_DELETED ? d->old_file.path : d->new_file.path);
        }
    }
    git_diff_free(diff);
    git_tree_free(b);
    git_tree_free(a);
    return n;
}
