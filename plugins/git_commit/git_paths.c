#include "git_paths.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int rb_git_paths_add(rb_git_paths *paths, const char *path)
{
    if (paths->count == paths->capacity) {
        size_t cap = paths->capacity ? paths->capacity * 2 : 32;
        char **n = realloc(paths->items, cap * sizeof *n);
        if (!n)
            return GIT_ERROR;
        paths->items = n;
        paths->capacity = cap;
    }
    if (!(paths->items[paths->count] = strdup(path)))
        return GIT_ERROR;
    paths->count++;
    return 0;
}

void rb_git_paths_free(rb_git_paths *paths)
{
    for (size_t i = 0; i < paths->count; i++)
        free(paths->items[i]);
    free(paths->items);
    memset(paths, 0, sizeof *paths);
}

static int join(char *buf, size_t size, const char *prefix, const char *name)
{
    int n = snprintf(buf, size, "%s%s%s", prefix, *prefix ? "/" : "", name);
    return n < 0 || (size_t)n >= size ? GIT_ERROR : 0;
}

static int list_entry(git_repository *repo, const git_tree_entry *e, const char *path,
                      rb_git_paths *out)
{
    if (git_tree_entry_type(e) != GIT_OBJECT_TREE)
        return rb_git_paths_add(out, path);
    git_tree *t = NULL;
    int err = git_tree_lookup(&t, repo, git_tree_entry_id(e));
    size_t n = t ? git_tree_entrycount(t) : 0;
    char child[4096];
    for (size_t i = 0; !err && i < n; i++) {
        const git_tree_entry *c = git_tree_entry_byindex(t, i);
        err = join(child, sizeof child, path, git_tree_entry_name(c));
        if (!err)
            err = list_entry(repo, c, child, out);
    }
    git_tree_free(t);
    return err;
}

static int diff_trees(git_repository *repo, git_tree *a, git_tree *b, const char *prefix,
                      rb_git_paths *out);

static int diff_entries(git_repository *repo, const git_tree_entry *ea, const git_tree_entry *eb,
                        const char *path, rb_git_paths *out)
{
    if (ea && eb && git_tree_entry_filemode(ea) == git_tree_entry_filemode(eb) &&
        git_oid_equal(git_tree_entry_id(ea), git_tree_entry_id(eb)))
        return 0;
    if (ea && eb && git_tree_entry_type(ea) == GIT_OBJECT_TREE &&
        git_tree_entry_type(eb) == GIT_OBJECT_TREE) {
        git_tree *ta = NULL, *tb = NULL;
        int err = git_tree_lookup(&ta, repo, git_tree_entry_id(ea));
        if (!err)
            err = git_tree_lookup(&tb, repo, git_tree_entry_id(eb));
        if (!err)
            err = diff_trees(repo, ta, tb, path, out);
        git_tree_free(tb);
        git_tree_free(ta);
        return err;
    }
    int err = ea ? list_entry(repo, ea, path, out) : 0;
    return err || !eb ? err : list_entry(repo, eb, path, out);
}

static int diff_trees(git_repository *repo, git_tree *a, git_tree *b, const char *prefix,
                      rb_git_paths *out)
{
    char path[4096];
    int err = 0;
    size_t na = a ? git_tree_entrycount(a) : 0, nb = b ? git_tree_entrycount(b) : 0;
    for (size_t i = 0; !err && i < na; i++) {
        const git_tree_entry *ea = git_tree_entry_byindex(a, i);
        const char *name = git_tree_entry_name(ea);
        err = join(path, sizeof path, prefix, name);
        if (!err)
            err = diff_entries(repo, ea, b ? git_tree_entry_byname(b, name) : NULL, path, out);
    }
    for (size_t i = 0; !err && i < nb; i++) {
        const git_tree_entry *eb = git_tree_entry_byindex(b, i);
        const char *name = git_tree_entry_name(eb);
        if (a && git_tree_entry_byname(a, name))
            continue;
        err = join(path, sizeof path, prefix, name);
        if (!err)
            err = list_entry(repo, eb, path, out);
    }
    return err;
}

int rb_git_tree_diff_paths(git_repository *repo, const git_oid *a, const git_oid *b,
                           rb_git_paths *out)
{
    git_tree *ta = NULL, *tb = NULL;
    int err = a ? git_tree_lookup(&ta, repo, a) : 0;
    if (!err && b)
        err = git_tree_lookup(&tb, repo, b);
    if (!err)
        err = diff_trees(repo, ta, tb, "", out);
    git_tree_free(tb);
    git_tree_free(ta);
    return err;
}
