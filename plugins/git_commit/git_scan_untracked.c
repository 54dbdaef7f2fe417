#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "git_scan_internal.h"

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int found_add(scan_found_list *l, const char *path, int is_dir)
{
    if (l->count == l->capacity) {
        size_t cap = l->capacity ? l->capacity * 2 : 16;
        scan_found *n = realloc(l->items, cap * sizeof *n);
        if (!n)
            return -1;
        l->items = n;
        l->capacity = cap;
    }
    char *p = strdup(path);
    if (!p)
        return -1;
    l->items[l->count++] = (scan_found){p, is_dir};
    return 0;
}

void rb_git_scan_found_free(scan_found_list *list)
{
    for (size_t i = 0; i < list->count; i++)
        free(list->items[i].path);
    free(list->items);
    memset(list, 0, sizeof *list);
}

static const git_index_entry *tracked_entry(const scan_ctx *c, const char *rel)
{
    size_t lo = 0, hi = c->nentries;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(c->entries[mid]->path, rel) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < c->nentries && !strcmp(c->entries[lo]->path, rel) ? c->entries[lo] : NULL;
}

static int tracked_dir(const scan_ctx *c, const char *rel)
{
    return bsearch(&rel, c->dirs, c->ndirs, sizeof *c->dirs, cmp_str) != NULL;
}

static unsigned char type_of(const char *full, unsigned char d_type)
{
    if (d_type != DT_UNKNOWN)
        return d_type;
    struct stat st;
    if (lstat(full, &st) < 0)
        return DT_UNKNOWN;
    return S_ISDIR(st.st_mode)   ? DT_DIR
           : S_ISREG(st.st_mode) ? DT_REG
           : S_ISLNK(st.st_mode) ? DT_LNK
                                 : DT_UNKNOWN;
}

/* A directory of the working tree, never one a symbolic link points to:
 * what lies behind a link is not part of the checkout. */
static DIR *open_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    DIR *d = fdopendir(fd);
    if (!d)
        close(fd);
    return d;
}

static int read_one_dir(const scan_ctx *c, const char *dir, scan_found_list *out)
{
    char full[4096], rel[4096];
    if ((size_t)snprintf(full, sizeof full, "%s%s", c->workdir, dir) >= sizeof full)
        return 0;
    DIR *d = open_dir(full);
    if (!d)
        return 0;
    int err = 0;
    struct dirent *de;
    while (!err && (de = readdir(d))) {
        const char *name = de->d_name;
        if (!strcmp(name, ".") || !strcmp(name, "..") || (!*dir && !strcmp(name, ".git")))
            continue;
        int n = snprintf(rel, sizeof rel, "%s%s%s", dir, *dir ? "/" : "", name);
        if (n < 0 || (size_t)n >= sizeof rel)
            continue;
        unsigned char type = de->d_type;
        if (type == DT_UNKNOWN) {
            snprintf(full, sizeof full, "%s%s", c->workdir, rel);
            type = type_of(full, type);
        }
        if (type != DT_DIR && type != DT_REG && type != DT_LNK)
            continue;
        const git_index_entry *e = tracked_entry(c, rel);
        /* A tracked file turned into a directory: its content is new. A
         * submodule is tracked as one entry, not as a directory. */
        if (e && !(type == DT_DIR && e->mode != GIT_FILEMODE_COMMIT))
            continue;
        if (type == DT_DIR && !e && tracked_dir(c, rel))
            continue;
        err = found_add(out, rel, type == DT_DIR);
    }
    closedir(d);
    return err;
}

int rb_git_scan_read_dirs(const scan_ctx *c, size_t begin, size_t end, scan_found_list *out)
{
    for (size_t i = begin; i < end; i++)
        if (read_one_dir(c, c->dirs[i], out) < 0)
            return -1;
    return 0;
}

static int is_ignored(const scan_ctx *c, const char *rel)
{
    int ignored = 0;
    if (git_ignore_path_is_ignored(&ignored, c->repo, rel) < 0) {
        git_error_clear();
        ignored = 0;
    }
    return ignored;
}

static int add_file(const scan_ctx *c, const char *rel, int ignored, rb_git_scan *out)
{
    if (ignored ? !c->ignored : !c->untracked)
        return 0;
    char full[4096];
    struct stat st;
    if ((size_t)snprintf(full, sizeof full, "%s%s", c->workdir, rel) >= sizeof full ||
        lstat(full, &st) < 0 || !(S_ISREG(st.st_mode) || S_ISLNK(st.st_mode)))
        return 0;
    return rb_git_scan_add(out, rel, ignored ? RB_GIT_IGNORED : RB_GIT_UNTRACKED,
                           rb_git_scan_mode(c, &st, GIT_FILEMODE_BLOB));
}

/* Everything below an untracked directory is untracked; git does not
 * descend into a directory that is a repository of its own. */
static int add_dir(const scan_ctx *c, const char *rel, int inside_ignored, rb_git_scan *out)
{
    char full[4096], probe[4096], child[4096];
    struct stat st;
    if ((size_t)snprintf(full, sizeof full, "%s%s", c->workdir, rel) >= sizeof full)
        return 0;
    if ((size_t)snprintf(probe, sizeof probe, "%s/.git", full) < sizeof probe &&
        lstat(probe, &st) == 0) {
        out->skipped++;
        return 0;
    }
    snprintf(child, sizeof child, "%s/", rel);
    int ignored = inside_ignored || is_ignored(c, child);
    if (ignored && !c->ignored)
        return 0;
    DIR *d = open_dir(full);
    if (!d)
        return 0;
    /* Sorted, so that the same tree always comes out the same way. */
    char **names = NULL;
    size_t n = 0, cap = 0;
    int err = 0;
    struct dirent *de;
    while (!err && (de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            char **nn = realloc(names, cap * sizeof *nn);
            if (!nn) {
                err = GIT_ERROR;
                break;
            }
            names = nn;
        }
        if (!(names[n] = strdup(de->d_name)))
            err = GIT_ERROR;
        else
            n++;
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; !err && i < n; i++) {
        if ((size_t)snprintf(child, sizeof child, "%s/%s", rel, names[i]) >= sizeof child)
            continue;
        snprintf(full, sizeof full, "%s%s", c->workdir, child);
        unsigned char type = type_of(full, DT_UNKNOWN);
        if (type == DT_DIR)
            err = add_dir(c, child, ignored, out);
        else if (type == DT_REG || type == DT_LNK)
            err = add_file(c, child, ignored || is_ignored(c, child), out);
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return err;
}

static int cmp_found(const void *a, const void *b)
{
    return strcmp(((const scan_found *)a)->path, ((const scan_found *)b)->path);
}

int rb_git_scan_untracked(const scan_ctx *c, scan_found_list *found, rb_git_scan *out)
{
    if (found->count)
        qsort(found->items, found->count, sizeof *found->items, cmp_found);
    int err = 0;
    for (size_t i = 0; !err && i < found->count; i++) {
        const scan_found *f = &found->items[i];
        err = f->is_dir ? add_dir(c, f->path, 0, out)
                        : add_file(c, f->path, is_ignored(c, f->path), out);
    }
    return err;
}
