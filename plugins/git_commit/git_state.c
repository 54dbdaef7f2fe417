#include <stdlib.h>
#include <string.h>

#include "git_backend.h"
#include "git_scan.h"

/* The blob goes through the repository's filters (autocrlf, attributes),
 * exactly as `git add` would store the file. */
static int blob_of(git_repository *repo, const rb_git_change *c, git_oid *id)
{
    return git_blob_create_from_workdir(id, repo, c->path);
}

static int add_update(git_tree_update **ups, size_t *n, size_t *cap, git_tree_update u)
{
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 16;
        git_tree_update *p = realloc(*ups, nc * sizeof *p);
        if (!p)
            return GIT_ERROR;
        *ups = p;
        *cap = nc;
    }
    (*ups)[(*n)++] = u;
    return 0;
}

/* Tracked changes as updates of the index tree (cost: the changed paths),
 * untracked files into an index of their own. */
static int sort_change(git_repository *repo, git_index *index, const rb_git_change *c,
                       git_tree_update **ups, size_t *nups, size_t *cap, git_index *untracked,
                       rb_git_state *out)
{
    git_tree_update u;
    memset(&u, 0, sizeof u);
    u.path = c->path;
    if (c->kind == RB_GIT_DELETED) {
        u.action = GIT_TREE_UPDATE_REMOVE;
        return add_update(ups, nups, cap, u);
    }
    git_oid id;
    int err = blob_of(repo, c, &id);
    if (err < 0)
        return err;
    if (c->kind == RB_GIT_MAYBE_MODIFIED) {
        const git_index_entry *e = git_index_get_bypath(index, c->path, 0);
        if (e && e->mode == c->mode && git_oid_equal(&e->id, &id))
            return 0;
        u.action = GIT_TREE_UPDATE_UPSERT;
        u.filemode = c->mode;
        git_oid_cpy(&u.id, &id);
        return add_update(ups, nups, cap, u);
    }
    git_index_entry e;
    memset(&e, 0, sizeof e);
    e.path = c->path;
    e.mode = c->mode;
    git_oid_cpy(&e.id, &id);
    out->has_untracked = 1;
    return git_index_add(untracked, &e);
}

static int build_trees(git_repository *repo, git_index *index, const rb_git_options *opt,
                       rb_git_state *out)
{
    rb_git_scan scan;
    int err = rb_git_scan_workdir(repo, index, opt->include_untracked, opt->include_ignored, &scan);
    if (err < 0)
        return err;
    git_tree_update *ups = NULL;
    size_t nups = 0, cap = 0;
    git_index *untracked = NULL;
    git_tree *index_tree = NULL;
    err = git_index_new(&untracked);
    for (size_t i = 0; !err && i < scan.count; i++)
        err = sort_change(repo, index, &scan.items[i], &ups, &nups, &cap, untracked, out);
    if (!err && nups)
        err = git_tree_lookup(&index_tree, repo, &out->index_tree);
    if (!err && nups)
        err = git_tree_create_updated(&out->worktree_tree, repo, index_tree, nups, ups);
    else if (!err)
        git_oid_cpy(&out->worktree_tree, &out->index_tree);
    if (!err && out->has_untracked)
        err = git_index_write_tree_to(&out->untracked_tree, untracked, repo);
    out->skipped = scan.skipped;
    if (scan.skipped)
        rb_git_host->log(RB_LOG_WARN,
                         "%zu nested repositor%s in %s not saved (git does not descend into "
                         "them either)",
                         scan.skipped, scan.skipped == 1 ? "y" : "ies", opt->repo_path);
    git_tree_free(index_tree);
    git_index_free(untracked);
    free(ups);
    rb_git_scan_free(&scan);
    return err;
}

int rb_git_state_compute(git_repository *repo, const rb_git_options *opt, rb_git_state *out)
{
    memset(out, 0, sizeof *out);
    git_index *index = NULL;
    int err = git_repository_index(&index, repo);
    if (!err)
        err = git_index_read(index, 0);
    if (err < 0)
        return rb_git_fail(rb_git_code(err), "cannot read the index of %s", opt->repo_path);
    if (git_index_has_conflicts(index)) {
        git_index_free(index);
        return rb_git_host->error_set(RB_ECONFLICT, RB_ERRCLASS_GIT,
                                      "the index of %s has unresolved conflicts: resolve them "
                                      "(git add) or abort the merge first",
                                      opt->repo_path);
    }
    err = git_index_write_tree(&out->index_tree, index);
    if (!err)
        err = build_trees(repo, index, opt, out);
    git_index_free(index);
    if (err < 0)
        return rb_git_fail(rb_git_code(err), "cannot record the working state of %s",
                           opt->repo_path);
    return 0;
}

typedef struct union_ctx {
    git_tree_update *ups;
    size_t n;
    size_t cap;
    char **paths;
} union_ctx;

static int collect_untracked(const char *root, const git_tree_entry *e, void *payload)
{
    union_ctx *u = payload;
    if (git_tree_entry_type(e) == GIT_OBJECT_TREE)
        return 0;
    size_t len = strlen(root) + strlen(git_tree_entry_name(e)) + 1;
    char *path = malloc(len);
    char **paths = realloc(u->paths, (u->n + 1) * sizeof *paths);
    if (!path || !paths) {
        free(path);
        if (paths)
            u->paths = paths;
        return GIT_ERROR;
    }
    u->paths = paths;
    strcpy(path, root);
    strcat(path, git_tree_entry_name(e));
    git_tree_update up;
    memset(&up, 0, sizeof up);
    up.action = GIT_TREE_UPDATE_UPSERT;
    up.path = path;
    up.filemode = git_tree_entry_filemode(e);
    git_oid_cpy(&up.id, git_tree_entry_id(e));
    u->paths[u->n] = path;
    if (add_update(&u->ups, &u->n, &u->cap, up) < 0) {
        free(path);
        return GIT_ERROR;
    }
    return 0;
}

int rb_git_state_union(git_repository *repo, const git_oid *worktree_tree,
                       const git_oid *untracked_tree, git_oid *out)
{
    if (!untracked_tree) {
        git_oid_cpy(out, worktree_tree);
        return 0;
    }
    git_tree *wt = NULL, *ut = NULL;
    union_ctx u = {NULL, 0, 0, NULL};
    int err = git_tree_lookup(&wt, repo, worktree_tree);
    if (!err)
        err = git_tree_lookup(&ut, repo, untracked_tree);
    if (!err)
        err = git_tree_walk(ut, GIT_TREEWALK_PRE, collect_untracked, &u);
    if (!err)
        err = git_tree_create_updated(out, repo, wt, u.n, u.ups);
    for (size_t i = 0; i < u.n; i++)
        free(u.paths[i]);
    free(u.paths);
    free(u.ups);
    git_tree_free(ut);
    git_tree_free(wt);
    return err;
}
