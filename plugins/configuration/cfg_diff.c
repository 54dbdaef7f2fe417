/* Compares a snapshot's record with the live system. The result drives all
 * three of plan (what would change), restore (what to change) and verify
 * (what differs), so they can never disagree. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfg.h"

#define H rb_cfg_host

static int oom(void)
{
    return H->error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "configuration: out of memory");
}

static int os_error(int err, const char *what, const char *path)
{
    return H->error_set(rb_cfg_errno_code(err), RB_ERRCLASS_OS, "cannot %s %s: %s", what, path,
                        strerror(err));
}

const char *rb_cfg_action_name(cfg_action a)
{
    switch (a) {
    case CFG_CREATE:
        return "create";
    case CFG_REWRITE:
        return "rewrite";
    case CFG_ATTRS:
        return "attributes";
    case CFG_MKDIR:
        return "mkdir";
    case CFG_REMOVE:
        return "remove";
    case CFG_CONFLICT:
        return "conflict";
    }
    return "unknown";
}

static cfg_change *add_change(cfg_plan *p, cfg_action action, const char *path,
                              const cfg_entry *rec, const struct stat *live)
{
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 16;
        cfg_change *v = realloc(p->v, cap * sizeof *v);
        if (!v)
            return NULL;
        p->v = v;
        p->cap = cap;
    }
    cfg_change *c = &p->v[p->n];
    memset(c, 0, sizeof *c);
    c->path = strdup(path);
    if (!c->path)
        return NULL;
    c->action = action;
    c->rec = rec;
    if (live) {
        c->live_exists = 1;
        c->live = *live;
    }
    p->n++;
    return c;
}

static unsigned attr_diff(const cfg_entry *e, const struct stat *st, int with_mode)
{
    unsigned d = 0;
    if (with_mode && (st->st_mode & 07777) != e->mode)
        d |= CFG_DIFF_MODE;
    if (st->st_uid != e->uid || st->st_gid != e->gid)
        d |= CFG_DIFF_OWNER;
    return d;
}

static int diff_file(const cfg_entry *e, const struct stat *st, unsigned *d,
                     char sha[RB_BLOB_ID_SIZE])
{
    if (!S_ISREG(st->st_mode)) {
        *d = CFG_DIFF_TYPE;
        return 0;
    }
    *d = attr_diff(e, st, 1);
    if ((int64_t)st->st_size != e->size) {
        *d |= CFG_DIFF_CONTENT;
        return 0;
    }
    int rc = rb_cfg_hash_file(e->path, sha);
    if (rc)
        return rc;
    if (strcmp(sha, e->sha256) != 0)
        *d |= CFG_DIFF_CONTENT;
    return 0;
}

static int diff_symlink(const cfg_entry *e, const struct stat *st, unsigned *d)
{
    if (!S_ISLNK(st->st_mode)) {
        *d = CFG_DIFF_TYPE;
        return 0;
    }
    *d = attr_diff(e, st, 0);
    char buf[PATH_MAX];
    ssize_t n = readlink(e->path, buf, sizeof buf - 1);
    if (n < 0)
        return os_error(errno, "read symlink", e->path);
    buf[n] = '\0';
    if (strcmp(buf, e->target) != 0)
        *d |= CFG_DIFF_CONTENT;
    return 0;
}

static int diff_entry(const cfg_entry *e, cfg_plan *p)
{
    struct stat st;
    int exists = lstat(e->path, &st) == 0;
    if (!exists && errno != ENOENT && errno != ENOTDIR)
        return os_error(errno, "read", e->path);
    unsigned d = 0;
    int rc = 0;
    cfg_action action = 0;
    char sha[RB_BLOB_ID_SIZE] = "";
    switch (e->kind) {
    case CFG_ABSENT:
        action = exists ? CFG_REMOVE : 0;
        break;
    case CFG_DIR:
        if (!exists)
            action = CFG_MKDIR;
        else if (!S_ISDIR(st.st_mode)) {
            action = CFG_CONFLICT;
            d = CFG_DIFF_TYPE;
        } else if ((d = attr_diff(e, &st, 1)))
            action = CFG_ATTRS;
        break;
    case CFG_FILE:
    case CFG_SYMLINK:
        if (!exists) {
            action = CFG_CREATE;
            break;
        }
        rc = e->kind == CFG_FILE ? diff_file(e, &st, &d, sha) : diff_symlink(e, &st, &d);
        if (d & (CFG_DIFF_CONTENT | CFG_DIFF_TYPE))
            action = CFG_REWRITE;
        else if (d)
            action = CFG_ATTRS;
        break;
    }
    if (rc)
        return rc;
    if (!action) {
        if (e->kind != CFG_DIR)
            p->unchanged++;
        return 0;
    }
    cfg_change *c = add_change(p, action, e->path, e, exists ? &st : NULL);
    if (!c)
        return oom();
    c->diff = d;
    memcpy(c->live_sha256, sha, sizeof sha);
    return 0;
}

/* Paths under a recorded directory (or matching a recorded pattern) that
 * the record does not name were created after the snapshot. */
static int add_extra(const cfg_set *rec, cfg_plan *p, const char *path)
{
    if (rb_cfg_set_find(rec, path) || rb_cfg_set_excludes(rec, path))
        return 0;
    struct stat st;
    if (lstat(path, &st) != 0) {
        if (errno == ENOENT)
            return 0;
        return os_error(errno, "read", path);
    }
    /* Sockets, fifos and devices are never recorded, so never removed. */
    if (!S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode) && !S_ISDIR(st.st_mode))
        return 0;
    return add_change(p, CFG_REMOVE, path, NULL, &st) ? 0 : oom();
}

static int scan_dir(const cfg_set *rec, cfg_plan *p, const char *dir)
{
    /* O_NOFOLLOW: a recorded directory replaced by a symlink is a conflict,
     * and what the symlink points to must never be cleaned up. */
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP)
            return 0;
        return os_error(errno, "list directory", dir);
    }
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return oom();
    }
    int rc = 0;
    for (;;) {
        errno = 0;
        struct dirent *de = readdir(d);
        if (!de) {
            if (errno)
                rc = os_error(errno, "list directory", dir);
            break;
        }
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        char *path = rb_cfg_path_join(dir, de->d_name);
        if (!path) {
            rc = oom();
            break;
        }
        rc = add_extra(rec, p, path);
        free(path);
        if (rc)
            break;
    }
    closedir(d);
    return rc;
}

static int scan_pattern(const cfg_set *rec, cfg_plan *p, const char *pattern)
{
    glob_t g;
    memset(&g, 0, sizeof g);
    int grc = glob(pattern, 0, NULL, &g);
    int rc = 0;
    if (grc == GLOB_NOSPACE)
        rc = oom();
    for (size_t i = 0; grc == 0 && rc == 0 && i < g.gl_pathc; i++)
        rc = add_extra(rec, p, g.gl_pathv[i]);
    globfree(&g);
    return rc;
}

static int by_path(const void *a, const void *b)
{
    return strcmp(((const cfg_change *)a)->path, ((const cfg_change *)b)->path);
}

/* Sorted by path, a directory's change comes before those of what it
 * contains. Duplicates (an extra found by a pattern and by a directory scan)
 * and changes below a path that is removed as a whole are dropped. */
static void tidy(cfg_plan *p)
{
    if (p->n == 0)
        return;
    qsort(p->v, p->n, sizeof *p->v, by_path);
    size_t w = 0;
    const char *removed = NULL;
    for (size_t r = 0; r < p->n; r++) {
        cfg_change *c = &p->v[r];
        int dup = w > 0 && strcmp(p->v[w - 1].path, c->path) == 0;
        if (dup || (removed && rb_cfg_path_is_below(c->path, removed))) {
            free(c->path);
            continue;
        }
        p->v[w++] = *c;
        if (c->action == CFG_REMOVE)
            removed = p->v[w - 1].path;
    }
    p->n = w;
}

int rb_cfg_diff(rb_op *op, const cfg_set *rec, cfg_plan *out)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < rec->n; i++) {
        if (H->cancelled(op))
            return H->error_set(RB_ECANCELED, RB_ERRCLASS_BACKEND, "cancelled");
        rc = diff_entry(&rec->v[i], out);
        if (rc == 0 && rec->v[i].kind == CFG_DIR && rec->v[i].contents)
            rc = scan_dir(rec, out, rec->v[i].path);
    }
    for (size_t i = 0; rc == 0 && i < rec->npatterns; i++)
        rc = scan_pattern(rec, out, rec->patterns[i].pattern);
    if (rc == 0)
        tidy(out);
    return rc;
}

void rb_cfg_plan_free(cfg_plan *p)
{
    for (size_t i = 0; i < p->n; i++) {
        free(p->v[i].path);
        free(p->v[i].staged);
        free(p->v[i].kept);
    }
    free(p->v);
    memset(p, 0, sizeof *p);
}
