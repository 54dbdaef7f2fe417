/* Restore as one step: every change or none.
 *
 * Stage: each file's recorded content is written beside its target under a
 * temporary name, with its owner and mode, and fsynced; missing directories
 * are created. Nothing live has changed yet, except new empty directories.
 * Commit: the staged files are renamed into place one by one. A replaced
 * original is first hard-linked (or, for a directory, renamed) to a kept
 * name, and a file to remove is renamed to one, so every step can be
 * undone by a rename. If any step fails, the steps already taken are undone
 * in reverse and the live files are exactly as before. Only once every
 * step has succeeded are the kept originals deleted. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfg.h"

#define H     rb_cfg_host
#define CHUNK 65536

typedef struct apply_ctx {
    rb_op *op;
    cfg_plan *p;
    char **made; /* ancestors created that the record does not name */
    size_t nmade, made_cap;
    char *msg;
    size_t msglen;
    int code;
} apply_ctx;

static int fail(apply_ctx *a, int code, const char *fmt, ...) RB_PRINTF(3, 4);
static int fail(apply_ctx *a, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->msg, a->msglen, fmt, ap);
    va_end(ap);
    a->code = code;
    return code;
}

static int fail_os(apply_ctx *a, int err, const char *what, const char *path)
{
    return fail(a, rb_cfg_errno_code(err), "cannot %s %s: %s", what, path, strerror(err));
}

static int remember_made(apply_ctx *a, const char *dir)
{
    if (a->nmade == a->made_cap) {
        size_t cap = a->made_cap ? a->made_cap * 2 : 4;
        char **v = realloc(a->made, cap * sizeof *v);
        if (!v)
            return fail(a, RB_ENOMEM, "out of memory");
        a->made = v;
        a->made_cap = cap;
    }
    if (!(a->made[a->nmade] = strdup(dir)))
        return fail(a, RB_ENOMEM, "out of memory");
    a->nmade++;
    return 0;
}

/* Ancestors the record does not name get 0755, whatever the umask; a
 * recorded parent is created by its own CFG_MKDIR change, which sorts
 * before this one. */
static int ensure_dir(apply_ctx *a, const char *dir)
{
    struct stat st;
    if (lstat(dir, &st) == 0)
        return S_ISDIR(st.st_mode) ? 0 : fail(a, RB_ECONFLICT, "%s is not a directory", dir);
    if (errno != ENOENT)
        return fail_os(a, errno, "read", dir);
    char *parent = rb_cfg_path_parent(dir);
    if (!parent)
        return fail(a, RB_ENOMEM, "out of memory");
    int rc = strcmp(parent, dir) ? ensure_dir(a, parent) : 0;
    free(parent);
    if (rc)
        return rc;
    if (mkdir(dir, 0755) != 0)
        return fail_os(a, errno, "create directory", dir);
    rc = remember_made(a, dir);
    if (rc == 0 && chmod(dir, 0755) != 0)
        rc = fail_os(a, errno, "set the mode of", dir);
    return rc;
}

static int ensure_parent(apply_ctx *a, const char *path)
{
    char *parent = rb_cfg_path_parent(path);
    if (!parent)
        return fail(a, RB_ENOMEM, "out of memory");
    int rc = ensure_dir(a, parent);
    free(parent);
    return rc;
}

static int set_owner(apply_ctx *a, const char *path, const char *shown, uid_t uid, gid_t gid)
{
    if (fchownat(AT_FDCWD, path, uid, gid, AT_SYMLINK_NOFOLLOW) == 0)
        return 0;
    int err = errno;
    return fail(a, rb_cfg_errno_code(err), "cannot give %s the owner %ld:%ld: %s%s", shown,
                (long)uid, (long)gid, strerror(err),
                err == EPERM ? " (run the rollback as root)" : "");
}

static int write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

static int stage_file(apply_ctx *a, cfg_change *c)
{
    const cfg_entry *e = c->rec;
    int fd = open(c->staged, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return fail_os(a, errno, "write beside", c->path);
    char *buf = malloc(CHUNK);
    if (!buf) {
        close(fd);
        return fail(a, RB_ENOMEM, "out of memory");
    }
    rb_blob_reader *r = NULL;
    int rc = H->blob_reader_open(a->op, e->sha256, &r);
    if (rc) {
        free(buf);
        close(fd);
        return fail(a, rc, "cannot read the recorded content of %s from the store", c->path);
    }
    for (;;) {
        int64_t n = H->blob_read(r, buf, CHUNK);
        if (n < 0) {
            rc = fail(a, (int)n, "cannot read the recorded content of %s from the store", c->path);
            break;
        }
        if (n == 0)
            break;
        if (write_all(fd, buf, (size_t)n) != 0) {
            rc = fail_os(a, errno, "write the recorded content of", c->path);
            break;
        }
    }
    H->blob_reader_close(r);
    free(buf);
    /* chown before chmod: chown clears setuid and setgid bits. */
    if (rc == 0)
        rc = set_owner(a, c->staged, c->path, e->uid, e->gid);
    if (rc == 0 && fchmod(fd, e->mode) != 0)
        rc = fail_os(a, errno, "set the mode of", c->path);
    if (rc == 0 && fsync(fd) != 0)
        rc = fail_os(a, errno, "write the recorded content of", c->path);
    if (close(fd) != 0 && rc == 0)
        rc = fail_os(a, errno, "write the recorded content of", c->path);
    return rc;
}

static int stage_one(apply_ctx *a, cfg_change *c, unsigned n)
{
    const cfg_entry *e = c->rec;
    if (c->action == CFG_MKDIR) {
        int rc = ensure_parent(a, c->path);
        if (rc)
            return rc;
        if (mkdir(c->path, 0700) != 0)
            return fail_os(a, errno, "create directory", c->path);
        c->committed = 1;
        rc = set_owner(a, c->path, c->path, e->uid, e->gid);
        if (rc == 0 && chmod(c->path, e->mode) != 0)
            rc = fail_os(a, errno, "set the mode of", c->path);
        return rc;
    }
    if (c->action != CFG_CREATE && c->action != CFG_REWRITE)
        return 0;
    int rc = ensure_parent(a, c->path);
    if (rc)
        return rc;
    if (!(c->staged = rb_cfg_path_sibling(c->path, "new", n)))
        return fail(a, RB_ENOMEM, "out of memory");
    if (e->kind == CFG_FILE) {
        rc = stage_file(a, c);
    } else if (symlink(e->target, c->staged) != 0) {
        rc = fail_os(a, errno, "create the symlink", c->path);
        free(c->staged);
        c->staged = NULL;
    } else {
        rc = set_owner(a, c->staged, c->path, e->uid, e->gid);
    }
    return rc;
}

static int commit_one(apply_ctx *a, cfg_change *c, unsigned n)
{
    switch (c->action) {
    case CFG_CREATE:
        if (rename(c->staged, c->path) != 0)
            return fail_os(a, errno, "put in place", c->path);
        break;
    case CFG_REWRITE:
    case CFG_REMOVE:
        if (!(c->kept = rb_cfg_path_sibling(c->path, "old", n)))
            return fail(a, RB_ENOMEM, "out of memory");
        /* A hard link keeps the original reachable while the path never
         * stops existing; a directory or a removal is renamed aside. */
        if (c->action == CFG_REWRITE && !S_ISDIR(c->live.st_mode) && link(c->path, c->kept) == 0)
            c->kept_by_link = 1;
        else if (rename(c->path, c->kept) != 0)
            return fail_os(a, errno, c->action == CFG_REMOVE ? "remove" : "replace", c->path);
        if (c->action == CFG_REWRITE && rename(c->staged, c->path) != 0) {
            int err = errno;
            if (c->kept_by_link)
                unlink(c->kept);
            else
                rename(c->kept, c->path);
            return fail_os(a, err, "replace", c->path);
        }
        break;
    case CFG_ATTRS:
        if ((c->diff & CFG_DIFF_OWNER) &&
            set_owner(a, c->path, c->path, c->rec->uid, c->rec->gid) != 0)
            return a->code;
        c->committed = 1;
        if ((c->diff & CFG_DIFF_MODE) && chmod(c->path, c->rec->mode) != 0)
            return fail_os(a, errno, "set the mode of", c->path);
        break;
    case CFG_MKDIR:
    case CFG_CONFLICT:
        return 0;
    }
    c->committed = 1;
    return 0;
}

/* Undoes one committed change; on failure appends to `left` what the user
 * must know. */
static void undo_one(cfg_change *c, char *left, size_t leftlen)
{
    int ok = 1;
    switch (c->action) {
    case CFG_CREATE:
        ok = unlink(c->path) == 0;
        break;
    case CFG_REWRITE:
        if (!c->kept_by_link && unlink(c->path) != 0)
            ok = 0;
        else
            ok = rename(c->kept, c->path) == 0;
        break;
    case CFG_REMOVE:
        ok = rename(c->kept, c->path) == 0;
        break;
    case CFG_ATTRS:
        ok =
            fchownat(AT_FDCWD, c->path, c->live.st_uid, c->live.st_gid, AT_SYMLINK_NOFOLLOW) == 0 &&
            (S_ISLNK(c->live.st_mode) || chmod(c->path, c->live.st_mode & 07777) == 0);
        break;
    case CFG_MKDIR:
        ok = rmdir(c->path) == 0;
        break;
    case CFG_CONFLICT:
        break;
    }
    if (ok) {
        c->committed = 0;
        return;
    }
    size_t used = strlen(left);
    if (c->kept && (c->action == CFG_REWRITE || c->action == CFG_REMOVE))
        snprintf(left + used, leftlen - used, "%s%s (its previous version is kept as %s)",
                 used ? ", " : "", c->path, c->kept);
    else
        snprintf(left + used, leftlen - used, "%s%s", used ? ", " : "", c->path);
}

static int remove_tree_entry(const char *path, const struct stat *st, int type, struct FTW *f)
{
    (void)st;
    (void)f;
    return type == FTW_DP ? rmdir(path) : unlink(path);
}

static void discard_kept(const cfg_change *c)
{
    if (!c->kept)
        return;
    if (!c->kept_by_link && S_ISDIR(c->live.st_mode)) {
        if (nftw(c->kept, remove_tree_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
            H->log(RB_LOG_WARN, "could not delete %s, the replaced %s: %s", c->kept, c->path,
                   strerror(errno));
    } else if (unlink(c->kept) != 0) {
        H->log(RB_LOG_WARN, "could not delete %s, the replaced %s: %s", c->kept, c->path,
               strerror(errno));
    }
}

/* Renames are durable only once their directories are. */
static void sync_parents(const cfg_plan *p)
{
    char *last = NULL;
    for (size_t i = 0; i < p->n; i++) {
        char *dir = rb_cfg_path_parent(p->v[i].path);
        if (!dir)
            break;
        if (last && !strcmp(last, dir)) {
            free(dir);
            continue;
        }
        free(last);
        last = dir;
        int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd >= 0) {
            fsync(fd);
            close(fd);
        }
    }
    free(last);
}

static void clean_staging(apply_ctx *a)
{
    for (size_t i = 0; i < a->p->n; i++) {
        cfg_change *c = &a->p->v[i];
        if (c->staged && !c->committed)
            unlink(c->staged);
    }
}

int rb_cfg_apply(rb_op *op, cfg_plan *p, char *msg, size_t msglen)
{
    apply_ctx a = {op, p, NULL, 0, 0, msg, msglen, 0};
    msg[0] = '\0';
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < p->n; i++)
        if (p->v[i].action == CFG_CONFLICT)
            rc = fail(&a, RB_ECONFLICT,
                      "%s was a directory when the snapshot was taken and is something "
                      "else now; move it away and roll back again",
                      p->v[i].path);
    for (size_t i = 0; rc == 0 && i < p->n; i++) {
        if (H->cancelled(op))
            rc = fail(&a, RB_ECANCELED, "rollback cancelled before any file was replaced");
        else
            rc = stage_one(&a, &p->v[i], (unsigned)i);
        H->progress(op, i + 1, p->n, "files staged");
    }
    for (size_t i = 0; rc == 0 && i < p->n; i++)
        rc = commit_one(&a, &p->v[i], (unsigned)i);
    char left[2048] = "";
    if (rc) {
        /* Staged files go first: a directory created for them can only be
         * removed once it is empty again. */
        clean_staging(&a);
        for (size_t i = p->n; i-- > 0;)
            if (p->v[i].committed)
                undo_one(&p->v[i], left, sizeof left);
    }
    for (size_t i = a.nmade; i-- > 0;) {
        if (rc)
            rmdir(a.made[i]);
        free(a.made[i]);
    }
    free(a.made);
    if (rc) {
        size_t used = strlen(msg);
        if (left[0])
            snprintf(msg + used, msglen - used,
                     "; putting back what was already replaced failed for %s: these are "
                     "left as in the snapshot, everything else is as before the rollback",
                     left);
        else
            snprintf(msg + used, msglen - used, "; nothing was changed");
        return H->error_set(rc, RB_ERRCLASS_FILESYSTEM, "%s", msg);
    }
    sync_parents(p);
    for (size_t i = 0; i < p->n; i++)
        discard_kept(&p->v[i]);
    return 0;
}
