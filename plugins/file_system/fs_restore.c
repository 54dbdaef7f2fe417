/* Restore: compare, then stage, then commit.
 *
 * Staging writes every new file, symlink, device and hard link under a
 * temporary name in its final directory (files in parallel). A missing
 * directory is created under a temporary name too, and what goes inside it
 * is written under its final names there: nobody can see into it before
 * commit renames it into place (which saves a rename per file when whole
 * trees come back). If anything fails while staging (a full disk), the
 * temporaries are removed and the tree is as it was.
 * Commit then only removes, renames and sets metadata, which need no new
 * space, so a restore ends with the tree as it was or as the snapshot,
 * and the result says which. Every directory is reached through rb_fs_tree
 * and every call is *at() with no symlink following, so nothing outside
 * the target root is touched. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "fs_backend.h"
#include "fs_compare.h"
#include "fs_content.h"
#include "fs_failure.h"
#include "fs_pool.h"
#include "fs_report.h"
#include "fs_tree.h"
#include "fs_xattr.h"

#define ST_STAGED 0x1u /* a temporary holds the new version */
#define ST_MADE   0x2u /* a directory created by this restore */
#define ST_HIDDEN 0x4u /* a created directory still under its temporary name */

typedef struct restore {
    const rb_host_api *h;
    rb_op *op;
    rb_fs_diff d;
    rb_fs_tree *trees; /* per root: where entries are written */
    rb_fs_tree *aux;   /* per root: the second directory of a hard link */
    uint8_t *state;    /* ST_* per entry */
    uint32_t *inside;  /* per entry: 1 + the hidden directory it is being staged in, or 0 */
    int committed;     /* hidden directories have their final names */
    rb_fs_failure fail;
    int pid;
    uint64_t commit_failures;
    char commit_error[1024];
} restore;

/* Files of one directory, written by one worker (one queue hand-over per
 * batch, not per file). */
#define BATCH 64

typedef struct stage_job {
    rb_fs_dirref *dir;
    unsigned n;
    size_t idx[BATCH];
} stage_job;

typedef struct where {
    char full[8192]; /* root name / path, below the base */
    const char *leaf;
} where;

static void tmp_name(const restore *r, size_t idx, char *buf, size_t n)
{
    snprintf(buf, n, ".rbfs-%d-%zu", r->pid, idx);
}

/* Where entry idx is on disk now: below a hidden directory, the path
 * goes through that directory's temporary name. */
static void locate(const restore *r, size_t idx, where *w, char **parent)
{
    const rb_fs_entry *e = rb_fs_index_at(&r->d.ix, idx);
    rb_fs_diff_relpath(&r->d, e->root, e->path, w->full, sizeof w->full);
    if (!r->committed && r->inside[idx]) {
        size_t top = r->inside[idx] - 1;
        const rb_fs_entry *t = rb_fs_index_at(&r->d.ix, top);
        char top_full[8192], tmp[64], rest[8192];
        rb_fs_diff_relpath(&r->d, t->root, t->path, top_full, sizeof top_full);
        tmp_name(r, top, tmp, sizeof tmp);
        snprintf(rest, sizeof rest, "%s", w->full + strlen(top_full));
        char *cut = strrchr(top_full, '/');
        if (cut)
            cut[1] = '\0';
        else
            top_full[0] = '\0';
        if (snprintf(w->full, sizeof w->full, "%s%s%s", top_full, tmp, rest) < 0)
            w->full[0] = '\0';
    }
    char *slash = strrchr(w->full, '/');
    if (slash) {
        *slash = '\0';
        w->leaf = slash + 1;
        *parent = w->full;
    } else {
        w->leaf = w->full;
        *parent = "";
    }
}

/* The directory holding entry idx, opened beneath its base. */
static int parent_fd(restore *r, rb_fs_tree *trees, size_t idx, where *w)
{
    char *parent;
    locate(r, idx, w, &parent);
    return rb_fs_tree_dir(&trees[rb_fs_index_at(&r->d.ix, idx)->root], parent);
}

/* The name entry idx is staged under: its own inside a hidden directory
 * (in buf when it must outlive w), a temporary one elsewhere. */
static const char *stage_name(const restore *r, size_t idx, char *buf, size_t n)
{
    const rb_fs_entry *e = rb_fs_index_at(&r->d.ix, idx);
    if (r->inside[idx]) {
        const char *slash = strrchr(e->path, '/');
        snprintf(buf, n, "%s", slash ? slash + 1 : e->path);
    } else {
        tmp_name(r, idx, buf, n);
    }
    return buf;
}

static const char *entry_path(const restore *r, size_t idx, char *buf, size_t n)
{
    const rb_fs_entry *e = rb_fs_index_at(&r->d.ix, idx);
    snprintf(buf, n, "%s/%s%s%s", r->d.bases[e->root], r->d.cfg.roots[e->root].name,
             *e->path ? "/" : "", e->path);
    return buf;
}

static int stage_fail(restore *r, size_t idx, int err, const char *what)
{
    char p[8192];
    return rb_fs_failure_set(&r->fail, rb_fs_errno_code(err), RB_ERRCLASS_FILESYSTEM,
                             "cannot %s %s: %s", what, entry_path(r, idx, p, sizeof p),
                             strerror(err));
}

static int stage_rc_fail(restore *r, size_t idx, int rc)
{
    char p[8192];
    if (rc == RB_ENOSPC)
        return rb_fs_failure_set(&r->fail, rc, RB_ERRCLASS_FILESYSTEM, "no space left writing %s",
                                 entry_path(r, idx, p, sizeof p));
    return rb_fs_failure_set(&r->fail, rc, RB_ERRCLASS_FILESYSTEM,
                             "cannot write %s from the store (error %d)",
                             entry_path(r, idx, p, sizeof p), rc);
}

static int set_times(int dfd, const char *name, const rb_fs_entry *e)
{
    struct timespec ts[2] = {{e->mtime_s, e->mtime_ns}, {e->mtime_s, e->mtime_ns}};
    return utimensat(dfd, name, ts, AT_SYMLINK_NOFOLLOW);
}

/* Owner, xattrs (ACLs), mode, mtime, in that order: chown clears setuid
 * bits and an ACL rewrites the group bits, so mode comes after both. */
static int apply_meta(int dfd, const char *name, const rb_fs_entry *e, const char **what)
{
    *what = "change the owner of";
    if (fchownat(dfd, name, e->uid, e->gid, AT_SYMLINK_NOFOLLOW) < 0)
        return -errno;
    const char *failed = NULL;
    int rc = rb_fs_xattr_apply(-1, dfd, name, e->xattrs, e->xattrs_len, &failed);
    if (rc) {
        *what = "set extended attributes of";
        return rc;
    }
    if (e->kind != RB_FS_LNK && fchmodat(dfd, name, e->mode & 07777, AT_SYMLINK_NOFOLLOW) < 0) {
        *what = "change the mode of";
        return -errno;
    }
    *what = "set the mtime of";
    return set_times(dfd, name, e) < 0 ? -errno : 0;
}

static void stage_one(restore *r, int dirfd, size_t idx)
{
    const rb_fs_entry *e = rb_fs_index_at(&r->d.ix, idx);
    char tmp[256];
    stage_name(r, idx, tmp, sizeof tmp);
    int flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
    int fd = openat(dirfd, tmp, flags, 0600);
    if (fd < 0 && errno == EEXIST && unlinkat(dirfd, tmp, 0) == 0)
        fd = openat(dirfd, tmp, flags, 0600);
    if (fd < 0) {
        stage_fail(r, idx, errno, "create a temporary file beside");
        return;
    }
    r->state[idx] |= ST_STAGED;
    int rc = rb_fs_content_write(r->h, r->op, fd, e);
    const char *failed = NULL;
    if (rc)
        stage_rc_fail(r, idx, rc);
    else if (fchown(fd, e->uid, e->gid) < 0)
        stage_fail(r, idx, errno, "change the owner of");
    else if ((rc = rb_fs_xattr_apply(fd, -1, NULL, e->xattrs, e->xattrs_len, &failed)))
        stage_fail(r, idx, -rc, "set extended attributes of");
    else if (fchmod(fd, e->mode & 07777) < 0)
        stage_fail(r, idx, errno, "change the mode of");
    else {
        struct timespec ts[2] = {{e->mtime_s, e->mtime_ns}, {e->mtime_s, e->mtime_ns}};
        if (futimens(fd, ts) < 0)
            stage_fail(r, idx, errno, "set the mtime of");
        /* Renaming over a file makes ext4 allocate and start writing the
         * new one's data inside the rename, which commit does one after
         * another; started here, that work runs on every worker. */
        else if (!r->inside[idx] && r->d.live[idx].live_kind == RB_FS_REG &&
                 sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE) < 0 && errno != EINVAL &&
                 errno != ENOSYS)
            stage_fail(r, idx, errno, "write");
    }
    if (close(fd) < 0)
        stage_fail(r, idx, errno, "write");
}

static void stage_file(void *ctx, unsigned worker, void *arg)
{
    (void)worker;
    restore *r = ctx;
    stage_job *j = arg;
    for (unsigned i = 0; i < j->n && !atomic_load(&r->fail.failed); i++)
        stage_one(r, j->dir->fd, j->idx[i]);
    rb_fs_dirref_put(j->dir);
    free(j);
}

static int stage_special(restore *r, int dfd, size_t idx)
{
    const rb_fs_entry *e = rb_fs_index_at(&r->d.ix, idx);
    char tmp[256];
    stage_name(r, idx, tmp, sizeof tmp);
    unlinkat(dfd, tmp, 0);
    int rc;
    if (e->kind == RB_FS_LNK)
        rc = symlinkat(e->target, dfd, tmp);
    else
        rc = mknodat(dfd, tmp, (mode_t)((e->mode & S_IFMT) | 0600), (dev_t)e->rdev);
    if (rc < 0)
        return stage_fail(r, idx, errno, "create");
    r->state[idx] |= ST_STAGED;
    const char *what;
    rc = apply_meta(dfd, tmp, e, &what);
    return rc ? stage_fail(r, idx, -rc, what) : 0;
}

static int stage_hardlink(restore *r, size_t idx)
{
    const rb_fs_entry *e = rb_fs_index_at(&r->d.ix, idx);
    ptrdiff_t t = rb_fs_index_find(&r->d.ix, e->target_root, e->target);
    if (t < 0)
        return rb_fs_failure_set(&r->fail, RB_ECORRUPT, RB_ERRCLASS_STORE,
                                 "the snapshot's index names a missing hard link target %s",
                                 e->target);
    where ws, wd;
    int sfd = parent_fd(r, r->aux, (size_t)t, &ws);
    if (sfd < 0)
        return stage_fail(r, idx, -sfd, "open the directory of the file linked to by");
    char src_tmp[256], tmp[256];
    stage_name(r, (size_t)t, src_tmp, sizeof src_tmp);
    stage_name(r, idx, tmp, sizeof tmp);
    const char *src = r->state[t] & ST_STAGED ? src_tmp : ws.leaf;
    int dfd = parent_fd(r, r->trees, idx, &wd);
    if (dfd < 0)
        return stage_fail(r, idx, -dfd, "open the directory of");
    unlinkat(dfd, tmp, 0);
    if (linkat(sfd, src, dfd, tmp, 0) < 0)
        return stage_fail(r, idx, errno, "create the hard link");
    r->state[idx] |= ST_STAGED;
    return 0;
}

/* Puts everything back as it was before staging. Returns the number of
 * entries that could not be put back. */
static uint64_t unstage(restore *r)
{
    uint64_t left = 0;
    for (size_t i = r->d.ix.count; i-- > 0;) {
        /* Whatever is inside a hidden directory goes with it. */
        if (!r->state[i] || r->inside[i])
            continue;
        where w;
        int dfd = parent_fd(r, r->trees, i, &w);
        if (dfd < 0) {
            left++;
            continue;
        }
        char tmp[64];
        tmp_name(r, i, tmp, sizeof tmp);
        if ((r->state[i] & ST_STAGED) && unlinkat(dfd, tmp, 0) < 0 && errno != ENOENT)
            left++;
        if ((r->state[i] & ST_HIDDEN) && rb_fs_tree_remove(dfd, tmp) < 0)
            left++;
        r->state[i] = 0;
    }
    /* Temporaries created and removed still moved the directories' mtimes. */
    for (size_t i = r->d.ix.count; i-- > 0;) {
        const rb_fs_live *l = &r->d.live[i];
        if (!l->touched || l->live_kind != RB_FS_DIR)
            continue;
        where w;
        int dfd = parent_fd(r, r->trees, i, &w);
        struct timespec ts[2] = {{0, UTIME_OMIT}, {l->mtime_s, l->mtime_ns}};
        if (dfd < 0 || utimensat(dfd, w.leaf, ts, AT_SYMLINK_NOFOLLOW) < 0)
            left++;
    }
    return left;
}

/* Entries below a directory this restore creates are staged inside it. */
static void note_inside(restore *r, size_t idx)
{
    const rb_fs_entry *e = rb_fs_index_at(&r->d.ix, idx);
    const char *slash = strrchr(e->path, '/');
    char parent[8192];
    if (!*e->path)
        return;
    size_t n = slash ? (size_t)(slash - e->path) : 0;
    memcpy(parent, e->path, n);
    parent[n] = '\0';
    ptrdiff_t p = rb_fs_index_find(&r->d.ix, e->root, parent);
    if (p < 0 || !(r->state[p] & ST_MADE))
        return;
    r->inside[idx] = r->state[p] & ST_HIDDEN ? (uint32_t)p + 1 : r->inside[p];
}

static int stage(restore *r)
{
    rb_fs_pool *pool;
    if (rb_fs_pool_start(&pool, rb_fs_pool_default_threads(), stage_file, r))
        return rb_fs_failure_set(&r->fail, RB_ERROR, RB_ERRCLASS_OS, "cannot start threads");
    /* The fd the tree hands out is reused for other directories, so the
     * shared handle is keyed by the directory's path. */
    rb_fs_dirref *dir = NULL;
    stage_job *batch = NULL;
    char dir_path[8192] = "";
    unsigned dir_root = 0;
    for (size_t i = 0; i < r->d.ix.count && !atomic_load(&r->fail.failed); i++) {
        const rb_fs_live *l = &r->d.live[i];
        const rb_fs_entry *e = rb_fs_index_at(&r->d.ix, i);
        if (l->action < RB_FS_REWRITE)
            continue;
        note_inside(r, i);
        if (e->kind == RB_FS_HARDLINK)
            continue;
        where w;
        int dfd = parent_fd(r, r->trees, i, &w);
        if (dfd < 0) {
            stage_fail(r, i, -dfd, "open the directory of");
            break;
        }
        if (e->kind == RB_FS_DIR) {
            char name[256];
            stage_name(r, i, name, sizeof name);
            if (mkdirat(dfd, name, 0700) < 0) {
                stage_fail(r, i, errno, "create directory");
                break;
            }
            r->state[i] |= r->inside[i] ? ST_MADE : ST_MADE | ST_HIDDEN;
        } else if (e->kind == RB_FS_REG) {
            const char *parent = w.leaf == w.full ? "" : w.full;
            if (!dir || dir_root != e->root || strcmp(dir_path, parent)) {
                if (batch)
                    rb_fs_pool_submit(pool, batch);
                batch = NULL;
                rb_fs_dirref_put(dir);
                int dup_fd = fcntl(dfd, F_DUPFD_CLOEXEC, 0);
                dir = dup_fd >= 0 ? rb_fs_dirref_new(dup_fd) : NULL;
                snprintf(dir_path, sizeof dir_path, "%s", parent);
                dir_root = e->root;
                if (!dir) {
                    stage_fail(r, i, dup_fd < 0 ? errno : ENOMEM, "open the directory of");
                    break;
                }
            }
            if (batch && batch->n == BATCH) {
                rb_fs_pool_submit(pool, batch);
                batch = NULL;
            }
            if (!batch) {
                batch = malloc(sizeof *batch);
                if (!batch) {
                    stage_fail(r, i, ENOMEM, "stage");
                    break;
                }
                batch->dir = rb_fs_dirref_get(dir);
                batch->n = 0;
            }
            batch->idx[batch->n++] = i;
        } else if (stage_special(r, dfd, i)) {
            break;
        }
    }
    if (batch)
        rb_fs_pool_submit(pool, batch);
    rb_fs_dirref_put(dir);
    rb_fs_pool_finish(pool);
    for (size_t i = 0; i < r->d.ix.count && !atomic_load(&r->fail.failed); i++) {
        const rb_fs_entry *e = rb_fs_index_at(&r->d.ix, i);
        if (e->kind == RB_FS_HARDLINK && r->d.live[i].action >= RB_FS_REWRITE)
            stage_hardlink(r, i);
    }
    return atomic_load(&r->fail.failed) ? r->fail.code : 0;
}

static void commit_fail(restore *r, size_t idx, const char *path, int err, const char *what)
{
    char p[8192];
    /* A message cut short still names what failed; the return value is
     * checked only to say so. */
    if (!r->commit_failures++ &&
        snprintf(r->commit_error, sizeof r->commit_error, "cannot %s %s: %s", what,
                 path ? path : entry_path(r, idx, p, sizeof p), strerror(err)) < 0)
        r->commit_error[0] = '\0';
}

static void commit(restore *r)
{
    char p[8192];
    r->committed = 1;
    for (size_t i = 0; i < r->d.n_extras; i++) {
        const rb_fs_extra *x = &r->d.extras[i];
        char full[8192];
        rb_fs_diff_relpath(&r->d, x->root, x->path, full, sizeof full);
        char *slash = strrchr(full, '/');
        *slash = '\0';
        int dfd = rb_fs_tree_dir(&r->trees[x->root], full);
        int rc = dfd < 0 ? dfd : rb_fs_tree_remove(dfd, slash + 1);
        if (rc < 0) {
            snprintf(p, sizeof p, "%s/%s/%s", r->d.bases[x->root], r->d.cfg.roots[x->root].name,
                     x->path);
            commit_fail(r, i, p, -rc, "remove");
        }
    }
    for (size_t i = 0; i < r->d.ix.count; i++) {
        const rb_fs_live *l = &r->d.live[i];
        const rb_fs_entry *e = rb_fs_index_at(&r->d.ix, i);
        if (l->action == RB_FS_OK || r->inside[i] ||
            (e->kind == RB_FS_DIR && !(r->state[i] & ST_HIDDEN)))
            continue;
        where w;
        int dfd = parent_fd(r, r->trees, i, &w);
        if (dfd < 0) {
            commit_fail(r, i, NULL, -dfd, "open the directory of");
            continue;
        }
        char tmp[64];
        tmp_name(r, i, tmp, sizeof tmp);
        int rc;
        if (r->state[i] & (ST_STAGED | ST_HIDDEN)) {
            /* rename() replaces a file atomically but not a directory, nor
             * puts a directory over a file: those go first. */
            int gone_first = l->live_kind == RB_FS_DIR || (l->live_kind && e->kind == RB_FS_DIR);
            if (gone_first && (rc = rb_fs_tree_remove(dfd, w.leaf)) < 0)
                commit_fail(r, i, NULL, -rc, "remove what is in the place of");
            else if (renameat(dfd, tmp, dfd, w.leaf) < 0)
                commit_fail(r, i, NULL, errno, "rename into place");
        } else if (l->action == RB_FS_META && e->kind != RB_FS_DIR) {
            const char *what;
            if ((rc = apply_meta(dfd, w.leaf, e, &what)) < 0)
                commit_fail(r, i, NULL, -rc, what);
        }
    }
    /* Directories last and deepest first: renames inside a directory
     * change its mtime, so it is set once nothing else will. */
    for (size_t i = r->d.ix.count; i-- > 0;) {
        const rb_fs_live *l = &r->d.live[i];
        const rb_fs_entry *e = rb_fs_index_at(&r->d.ix, i);
        if (e->kind != RB_FS_DIR || (l->action == RB_FS_OK && !l->touched))
            continue;
        where w;
        int dfd = parent_fd(r, r->trees, i, &w);
        const char *what = "open the directory of";
        int rc = dfd < 0 ? dfd : apply_meta(dfd, w.leaf, e, &what);
        if (rc < 0)
            commit_fail(r, i, NULL, -rc, what);
    }
}

static int open_bases(restore *r, const char *to)
{
    for (size_t i = 0; i < r->d.cfg.n_roots; i++) {
        int fd;
        if (to) {
            if (mkdir(to, 0755) < 0 && errno != EEXIST)
                return r->h->error_set(rb_fs_errno_code(errno), RB_ERRCLASS_FILESYSTEM,
                                       "cannot create %s: %s", to, strerror(errno));
            int top = open(to, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            fd = top < 0 ? -errno : rb_fs_tree_mkdirs(top, r->d.cfg.roots[i].parent + 1);
            if (top >= 0)
                close(top);
        } else {
            fd = open(r->d.bases[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            if (fd < 0)
                fd = -errno;
        }
        if (fd < 0)
            return r->h->error_set(rb_fs_errno_code(-fd), RB_ERRCLASS_FILESYSTEM,
                                   "cannot open %s, the directory holding %s: %s", r->d.bases[i],
                                   r->d.cfg.roots[i].name, strerror(-fd));
        int fd2 = fcntl(fd, F_DUPFD_CLOEXEC, 0);
        if (fd2 < 0) {
            close(fd);
            return r->h->error_set(RB_EIO, RB_ERRCLASS_OS, "dup: %s", strerror(errno));
        }
        rb_fs_tree_init(&r->trees[i], fd);
        rb_fs_tree_init(&r->aux[i], fd2);
    }
    return 0;
}

static int add_outcome(restore *r, const char *status, const char *tree)
{
    const rb_host_api *h = r->h;
    rb_node *res = h->result(r->op);
    const char *to = r->d.target_dir;
    if (!h->node_add_string(res, "status", status) ||
        !h->node_add_string(res, "method", "filesystem_restore") ||
        !h->node_add_string(res, "tree", tree) ||
        !(to ? h->node_add_string(res, "restored_to", to) : h->node_add_null(res, "restored_to")))
        return RB_ENOMEM;
    return 0;
}

int rb_fs_restore(rb_op *op)
{
    const rb_host_api *h = rb_fs_host;
    restore *r = calloc(1, sizeof *r);
    if (!r)
        return h->error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
    r->h = h;
    r->op = op;
    r->pid = (int)getpid();
    rb_fs_failure_init(&r->fail);
    const char *to = rb_fs_restore_target(h, op);
    int rc = rb_fs_diff_compute(h, op, to, &r->d);
    if (!rc) {
        r->trees = calloc(r->d.cfg.n_roots, sizeof *r->trees);
        r->aux = calloc(r->d.cfg.n_roots, sizeof *r->aux);
        r->state = calloc(r->d.ix.count ? r->d.ix.count : 1, 1);
        r->inside = calloc(r->d.ix.count ? r->d.ix.count : 1, sizeof *r->inside);
        if (!r->trees || !r->aux || !r->state || !r->inside)
            rc = h->error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
        for (size_t i = 0; !rc && i < r->d.cfg.n_roots; i++)
            r->trees[i].base = r->aux[i].base = -1;
    }
    if (!rc && rb_fs_report_total(&r->d) == 0) {
        rc = add_outcome(r, "success", "snapshot");
        if (!rc)
            rc = rb_fs_report_diff(h, h->result(op), &r->d, "changes");
        if (rc)
            rc = h->error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
        goto out;
    }
    if (!rc)
        rc = open_bases(r, to);
    if (!rc && (h->op_flags(op) & RB_OP_DRY_RUN)) {
        rc = rb_fs_report_diff(h, h->result(op), &r->d, "changes");
        goto out;
    }
    if (!rc) {
        rc = stage(r);
        if (rc) {
            uint64_t left = unstage(r);
            add_outcome(r, "failed", left ? "partial" : "unchanged");
            rc = h->error_set(
                r->fail.code, RB_ERRCLASS_FILESYSTEM, "%s; %s", r->fail.message,
                left ? "the temporary files could not all be removed: the tree is partly "
                       "changed, run the rollback again once the cause is fixed"
                     : "nothing was changed: the tree is as it was before the rollback");
            goto out;
        }
        commit(r);
        if (r->commit_failures) {
            add_outcome(r, "failed", "partial");
            rb_fs_report_diff(h, h->result(op), &r->d, "changes");
            rc = h->error_set(RB_EIO, RB_ERRCLASS_FILESYSTEM,
                              "%s; %llu entries could not be restored: the tree is partly "
                              "restored, run the rollback again once the cause is fixed",
                              r->commit_error, (unsigned long long)r->commit_failures);
            goto out;
        }
        rc = add_outcome(r, "success", "snapshot");
        if (!rc)
            rc = rb_fs_report_diff(h, h->result(op), &r->d, "changes");
        if (rc)
            rc = h->error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
    }
out:
    for (size_t i = 0; r->trees && i < r->d.cfg.n_roots; i++) {
        if (r->trees[i].base >= 0)
            rb_fs_tree_close(&r->trees[i]);
        if (r->aux[i].base >= 0)
            rb_fs_tree_close(&r->aux[i]);
    }
    free(r->trees);
    free(r->aux);
    free(r->state);
    free(r->inside);
    if (rc)
        rb_fs_diff_free(&r->d);
    else
        rb_fs_diff_free_keep_index(&r->d);
    rb_fs_failure_destroy(&r->fail);
    free(r);
    return rc;
}
