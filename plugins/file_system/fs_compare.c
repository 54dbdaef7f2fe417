#include "fs_compare.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs_content.h"
#include "fs_failure.h"
#include "fs_pool.h"
#include "fs_xattr.h"

/* The walk is shared with worker threads: each directory directly below a
 * root is compared by a worker, so stat calls run on every core. Entries
 * are distinct per thread (live[] by index); extras and the arena are
 * shared under `mu`; errors go through `fail` (error_set is per thread). */
typedef struct cmp {
    const rb_host_api *host;
    rb_fs_diff *d;
    rb_fs_pool *pool;
    pthread_mutex_t mu;
    rb_fs_failure fail;
} cmp;

typedef struct subtree_job {
    int fd;
    unsigned root;
    char rel[];
} subtree_job;

/* One index kept by rb_fs_diff_free_keep_index. */
static pthread_mutex_t kept_mu = PTHREAD_MUTEX_INITIALIZER;
static char kept_id[RB_BLOB_ID_SIZE];
static rb_fs_index kept_ix;
static int kept;

/* Moves the kept index into ix when it is the one named id. */
static int take_kept(const char *id, rb_fs_index *ix)
{
    pthread_mutex_lock(&kept_mu);
    int hit = kept && !strcmp(kept_id, id);
    if (hit) {
        *ix = kept_ix;
        memset(&kept_ix, 0, sizeof kept_ix);
        kept = 0;
    }
    pthread_mutex_unlock(&kept_mu);
    return hit;
}

void rb_fs_diff_drop_kept(void)
{
    pthread_mutex_lock(&kept_mu);
    if (kept)
        rb_fs_index_free(&kept_ix);
    kept = 0;
    pthread_mutex_unlock(&kept_mu);
}

const char *rb_fs_restore_target(const rb_host_api *host, rb_op *op)
{
    const char *to = host->op_restore_to ? host->op_restore_to(op) : NULL;
    if (to && *to)
        return to;
    to = host->node_string(host->node_get(host->config(op), "restore_to"));
    return to && *to ? to : NULL;
}

void rb_fs_diff_relpath(const rb_fs_diff *d, unsigned root, const char *path, char *buf, size_t n)
{
    snprintf(buf, n, "%s%s%s", d->cfg.roots[root].name, *path ? "/" : "", path);
}

static int kind_of(mode_t m)
{
    return S_ISDIR(m)    ? RB_FS_DIR
           : S_ISREG(m)  ? RB_FS_REG
           : S_ISLNK(m)  ? RB_FS_LNK
           : S_ISFIFO(m) ? RB_FS_FIFO
           : S_ISCHR(m)  ? RB_FS_CHR
           : S_ISBLK(m)  ? RB_FS_BLK
                         : 0;
}

static int fs_fail(cmp *c, int err, unsigned root, const char *rel, const char *what)
{
    return rb_fs_failure_set(&c->fail, rb_fs_errno_code(err), RB_ERRCLASS_FILESYSTEM,
                             "cannot %s %s/%s%s%s: %s", what, c->d->bases[root],
                             c->d->cfg.roots[root].name, *rel ? "/" : "", rel, strerror(err));
}

static int oom(cmp *c)
{
    return rb_fs_failure_set(&c->fail, RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
}

static int compare_entry(cmp *c, int dfd, const char *name, size_t idx, const struct stat *st)
{
    const rb_fs_entry *e = rb_fs_index_at(&c->d->ix, idx);
    rb_fs_live *l = &c->d->live[idx];
    int live_kind = kind_of(st->st_mode);
    int expect = e->kind == RB_FS_HARDLINK ? RB_FS_REG : e->kind;
    l->live_kind = (uint8_t)live_kind;
    l->ino = st->st_ino;
    l->mtime_s = st->st_mtim.tv_sec;
    l->mtime_ns = (uint32_t)st->st_mtim.tv_nsec;
    l->shared = S_ISREG(st->st_mode) && st->st_nlink > 1;
    l->action = RB_FS_OK;
    l->why = 0;
    if (live_kind != expect) {
        l->action = RB_FS_CREATE;
        l->why = RB_FS_WHY_TYPE;
        return 0;
    }
    if (e->kind == RB_FS_HARDLINK)
        return 0;
    /* The same inode with the same ctime has not been touched since. */
    if ((uint64_t)st->st_ino == e->ino && st->st_ctim.tv_sec == e->ctime_s &&
        (uint32_t)st->st_ctim.tv_nsec == e->ctime_ns)
        return 0;
    unsigned why = 0;
    if (st->st_mode != e->mode)
        why |= RB_FS_WHY_MODE;
    if (st->st_uid != e->uid || st->st_gid != e->gid)
        why |= RB_FS_WHY_OWNER;
    if (st->st_mtim.tv_sec != e->mtime_s || (uint32_t)st->st_mtim.tv_nsec != e->mtime_ns)
        why |= RB_FS_WHY_MTIME;
    if (e->kind == RB_FS_REG) {
        if ((uint64_t)st->st_size != e->size) {
            why |= RB_FS_WHY_CONTENT;
        } else if (why & RB_FS_WHY_MTIME) {
            int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
            int same = fd < 0 ? -errno : rb_fs_content_same(fd, e);
            if (fd >= 0)
                close(fd);
            if (same < 0)
                return fs_fail(c, -same, e->root, e->path, "read");
            if (!same)
                why |= RB_FS_WHY_CONTENT;
        }
    } else if (e->kind == RB_FS_LNK) {
        char buf[4097];
        ssize_t n = readlinkat(dfd, name, buf, sizeof buf - 1);
        if (n < 0)
            return fs_fail(c, errno, e->root, e->path, "read symlink");
        buf[n] = '\0';
        if (strcmp(buf, e->target))
            why |= RB_FS_WHY_CONTENT;
    } else if (e->kind == RB_FS_CHR || e->kind == RB_FS_BLK) {
        if ((uint64_t)st->st_rdev != e->rdev)
            why |= RB_FS_WHY_CONTENT;
    }
    const unsigned char *xa = NULL;
    uint32_t xl = 0;
    pthread_mutex_lock(&c->mu);
    int rc = rb_fs_xattr_read(-1, dfd, name, &c->d->arena, &xa, &xl);
    int differ = !rc && (xl != e->xattrs_len || (xl && memcmp(xa, e->xattrs, xl)));
    pthread_mutex_unlock(&c->mu);
    if (rc)
        return fs_fail(c, -rc, e->root, e->path, "read extended attributes of");
    if (differ)
        why |= RB_FS_WHY_XATTR;
    l->why = (uint8_t)why;
    l->action = why & RB_FS_WHY_CONTENT ? RB_FS_REWRITE : why ? RB_FS_META : RB_FS_OK;
    return 0;
}

static int add_extra(cmp *c, unsigned root, const char *rel, const struct stat *st)
{
    rb_fs_diff *d = c->d;
    int rc = 0;
    pthread_mutex_lock(&c->mu);
    if (d->n_extras == d->cap_extras) {
        size_t cap = d->cap_extras ? d->cap_extras * 2 : 64;
        rb_fs_extra *ne = realloc(d->extras, cap * sizeof *ne);
        if (ne) {
            d->extras = ne;
            d->cap_extras = cap;
        }
    }
    const char *p =
        d->n_extras < d->cap_extras ? rb_fs_arena_strndup(&d->arena, rel, strlen(rel)) : NULL;
    if (p) {
        rb_fs_extra *x = &d->extras[d->n_extras++];
        x->path = p;
        x->root = (uint16_t)root;
        x->is_dir = S_ISDIR(st->st_mode);
        x->size = S_ISREG(st->st_mode) ? (uint64_t)st->st_size : 0;
    }
    pthread_mutex_unlock(&c->mu);
    if (!p)
        rc = oom(c);
    return rc;
}

static int compare_dir(cmp *c, int dfd, unsigned root, const char *rel);

static void subtree_run(void *ctx, unsigned worker, void *arg)
{
    (void)worker;
    cmp *c = ctx;
    subtree_job *j = arg;
    if (atomic_load(&c->fail.failed))
        close(j->fd);
    else
        compare_dir(c, j->fd, j->root, j->rel);
    free(j);
}

/* Directories right below a root go to the workers; deeper ones too
 * whenever a worker is idle (a big subtree met last would otherwise leave
 * the others waiting), else they are walked by whoever found them. */
static int descend(cmp *c, int sub, unsigned root, const char *rel)
{
    if (!c->pool)
        return compare_dir(c, sub, root, rel);
    size_t n = strlen(rel);
    subtree_job *j = malloc(sizeof *j + n + 1);
    if (!j) {
        close(sub);
        return oom(c);
    }
    j->fd = sub;
    j->root = root;
    memcpy(j->rel, rel, n + 1);
    if (!strchr(rel, '/'))
        rb_fs_pool_submit(c->pool, j);
    else if (rb_fs_pool_offer(c->pool, j)) {
        free(j);
        return compare_dir(c, sub, root, rel);
    }
    return 0;
}

/* Takes ownership of dfd. */
static int compare_dir(cmp *c, int dfd, unsigned root, const char *rel)
{
    DIR *dir = fdopendir(dfd);
    if (!dir) {
        int err = errno;
        close(dfd);
        return fs_fail(c, err, root, rel, "list");
    }
    size_t rl = strlen(rel), at = rl ? rl + 1 : 0;
    /* Each child's lookup hash continues this directory's. */
    uint64_t state = rb_fs_path_hash_add(rb_fs_path_hash_start(root), rel, rl);
    if (rl)
        state = rb_fs_path_hash_add(state, "/", 1);
    char *child = NULL;
    size_t cap = 0;
    int rc = 0;
    struct dirent *de;
    while (!rc && !atomic_load(&c->fail.failed) && (errno = 0, de = readdir(dir))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        size_t nl = strlen(de->d_name), need = at + nl + 1;
        if (need > cap) {
            char *nc = realloc(child, need + 64);
            if (!nc) {
                rc = oom(c);
                break;
            }
            child = nc;
            cap = need + 64;
            memcpy(child, rel, rl);
            child[rl] = '/';
        }
        memcpy(child + at, de->d_name, nl + 1);
        if (rb_fs_config_excluded(&c->d->cfg, child))
            continue;
        struct stat st;
        if (fstatat(dirfd(dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
            if (errno != ENOENT)
                rc = fs_fail(c, errno, root, child, "stat");
            continue;
        }
        if (S_ISSOCK(st.st_mode))
            continue;
        ptrdiff_t idx = rb_fs_index_find_hashed(&c->d->ix, root, child,
                                                rb_fs_path_hash_add(state, de->d_name, nl));
        if (idx < 0) {
            rc = add_extra(c, root, child, &st);
            continue;
        }
        rc = compare_entry(c, dirfd(dir), de->d_name, (size_t)idx, &st);
        if (!rc && S_ISDIR(st.st_mode) &&
            rb_fs_index_at(&c->d->ix, (size_t)idx)->kind == RB_FS_DIR) {
            int sub =
                openat(dirfd(dir), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub < 0)
                rc = fs_fail(c, errno, root, child, "open directory");
            else
                rc = descend(c, sub, root, child);
        }
    }
    if (!rc && errno)
        rc = fs_fail(c, errno, root, rel, "list");
    free(child);
    closedir(dir);
    return rc;
}

static int compare_root(cmp *c, unsigned root)
{
    rb_fs_diff *d = c->d;
    int base = open(d->bases[root], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (base < 0)
        return errno == ENOENT ? 0 : fs_fail(c, errno, root, "", "open the directory holding");
    ptrdiff_t idx = rb_fs_index_find(&d->ix, root, "");
    struct stat st;
    int rc = 0;
    if (idx >= 0 && fstatat(base, d->cfg.roots[root].name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
        rc = compare_entry(c, base, d->cfg.roots[root].name, (size_t)idx, &st);
        if (!rc && S_ISDIR(st.st_mode) && rb_fs_index_at(&d->ix, (size_t)idx)->kind == RB_FS_DIR) {
            int sub = openat(base, d->cfg.roots[root].name,
                             O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            rc = sub < 0 ? fs_fail(c, errno, root, "", "open directory")
                         : compare_dir(c, sub, root, "");
        }
    } else if (idx >= 0 && errno != ENOENT) {
        rc = fs_fail(c, errno, root, "", "stat");
    }
    close(base);
    return rc;
}

typedef struct ino_ref {
    uint64_t ino;
    size_t idx;
} ino_ref;

static int cmp_ino(const void *a, const void *b)
{
    const ino_ref *x = a, *y = b;
    if (x->ino != y->ino)
        return x->ino < y->ino ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Hard links: a recorded link is right only when it is the same live inode
 * as its file and that file stays; two recorded separate files must not be
 * one live inode. */
static int check_links(cmp *c)
{
    rb_fs_diff *d = c->d;
    size_t n_shared = 0;
    for (size_t i = 0; i < d->ix.count; i++) {
        const rb_fs_entry *e = rb_fs_index_at(&d->ix, i);
        rb_fs_live *l = &d->live[i];
        if (e->kind == RB_FS_REG && l->shared && l->action <= RB_FS_META)
            n_shared++;
        if (e->kind != RB_FS_HARDLINK || l->action != RB_FS_OK)
            continue;
        ptrdiff_t t = rb_fs_index_find(&d->ix, e->target_root, e->target);
        if (t < 0 || d->live[t].action >= RB_FS_REWRITE || d->live[t].ino != l->ino) {
            l->action = RB_FS_CREATE;
            l->why = RB_FS_WHY_LINK;
        }
    }
    if (!n_shared)
        return 0;
    ino_ref *refs = malloc(n_shared * sizeof *refs);
    if (!refs)
        return oom(c);
    size_t k = 0;
    for (size_t i = 0; i < d->ix.count; i++) {
        const rb_fs_entry *e = rb_fs_index_at(&d->ix, i);
        if (e->kind == RB_FS_REG && d->live[i].shared && d->live[i].action <= RB_FS_META)
            refs[k++] = (ino_ref){d->live[i].ino, i};
    }
    qsort(refs, k, sizeof *refs, cmp_ino);
    for (size_t i = 1; i < k; i++) {
        if (refs[i].ino == refs[i - 1].ino) {
            d->live[refs[i].idx].action = RB_FS_REWRITE;
            d->live[refs[i].idx].why |= RB_FS_WHY_LINK;
        }
    }
    free(refs);
    return 0;
}

static void mark_parent(rb_fs_diff *d, unsigned root, const char *path)
{
    const char *slash = strrchr(path, '/');
    char buf[4096];
    size_t n = slash ? (size_t)(slash - path) : 0;
    if (!*path || n >= sizeof buf)
        return;
    memcpy(buf, path, n);
    buf[n] = '\0';
    ptrdiff_t p = rb_fs_index_find(&d->ix, root, buf);
    if (p >= 0)
        d->live[p].touched = 1;
}

static int cmp_extra(const void *a, const void *b)
{
    const rb_fs_extra *x = a, *y = b;
    if (x->root != y->root)
        return x->root < y->root ? -1 : 1;
    return strcmp(x->path, y->path);
}

int rb_fs_diff_compute(const rb_host_api *host, rb_op *op, const char *to, rb_fs_diff *d)
{
    memset(d, 0, sizeof *d);
    d->target_dir = to;
    const rb_node *meta = host->metadata(op);
    int rc = rb_fs_config_read(host, meta, &d->cfg);
    if (rc)
        return rc;
    const char *id = host->node_string(host->node_get(meta, "index"));
    if (!id)
        return host->error_set(RB_ECORRUPT, RB_ERRCLASS_STORE,
                               "snapshot %s records no index; it was not made by this backend",
                               host->op_snapshot_id(op));
    if (strlen(id) >= sizeof d->index_id)
        return host->error_set(RB_ECORRUPT, RB_ERRCLASS_STORE,
                               "snapshot %s records an index id that is not a blob id",
                               host->op_snapshot_id(op));
    memcpy(d->index_id, id, strlen(id) + 1);
    if (!take_kept(id, &d->ix) && (rc = rb_fs_index_load(host, op, id, &d->ix)))
        return rc;
    d->live = calloc(d->ix.count ? d->ix.count : 1, sizeof *d->live);
    d->bases = calloc(d->cfg.n_roots, sizeof *d->bases);
    if (!d->live || !d->bases)
        return host->error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
    for (size_t i = 0; i < d->ix.count; i++) {
        d->live[i].action = RB_FS_CREATE;
        d->live[i].why = RB_FS_WHY_MISSING;
    }
    for (size_t r = 0; r < d->cfg.n_roots; r++) {
        const char *parent = d->cfg.roots[r].parent;
        if (to && asprintf(&d->bases[r], "%s%s", to, parent) < 0)
            d->bases[r] = NULL;
        else if (!to)
            d->bases[r] = strdup(parent);
        if (!d->bases[r])
            return host->error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
    }
    cmp c = {host, d, NULL, PTHREAD_MUTEX_INITIALIZER, {0}};
    rb_fs_failure_init(&c.fail);
    if (rb_fs_pool_start(&c.pool, rb_fs_pool_default_threads(), subtree_run, &c))
        c.pool = NULL;
    for (unsigned r = 0; r < d->cfg.n_roots && !rc; r++)
        rc = compare_root(&c, r);
    if (c.pool)
        rb_fs_pool_finish(c.pool);
    c.pool = NULL;
    if (!atomic_load(&c.fail.failed))
        rc = check_links(&c);
    if (atomic_load(&c.fail.failed))
        rc = rb_fs_failure_raise(&c.fail);
    rb_fs_failure_destroy(&c.fail);
    pthread_mutex_destroy(&c.mu);
    if (rc)
        return rc;
    /* Workers found them in any order; reports list them sorted. */
    if (d->n_extras > 1)
        qsort(d->extras, d->n_extras, sizeof *d->extras, cmp_extra);
    for (size_t i = 0; i < d->ix.count; i++) {
        const rb_fs_entry *e = rb_fs_index_at(&d->ix, i);
        const rb_fs_live *l = &d->live[i];
        d->counts[l->action]++;
        if (l->action >= RB_FS_REWRITE) {
            d->bytes[l->action] += e->size;
            mark_parent(d, e->root, e->path);
        }
    }
    for (size_t i = 0; i < d->n_extras; i++) {
        d->extra_bytes += d->extras[i].size;
        mark_parent(d, d->extras[i].root, d->extras[i].path);
    }
    return 0;
}

void rb_fs_diff_free_keep_index(rb_fs_diff *d)
{
    if (d->index_id[0] && d->ix.slots) {
        pthread_mutex_lock(&kept_mu);
        if (kept)
            rb_fs_index_free(&kept_ix);
        kept_ix = d->ix;
        memcpy(kept_id, d->index_id, sizeof kept_id);
        kept = 1;
        pthread_mutex_unlock(&kept_mu);
        memset(&d->ix, 0, sizeof d->ix);
    }
    rb_fs_diff_free(d);
}

void rb_fs_diff_free(rb_fs_diff *d)
{
    for (size_t r = 0; d->bases && r < d->cfg.n_roots; r++)
        free(d->bases[r]);
    free(d->bases);
    free(d->live);
    free(d->extras);
    rb_fs_arena_free(&d->arena);
    rb_fs_index_free(&d->ix);
    rb_fs_config_free(&d->cfg);
    memset(d, 0, sizeof *d);
}
