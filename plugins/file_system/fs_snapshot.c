/* Snapshot: the tree is walked with openat/fstatat relative to directory
 * fds, never following a symlink, and each entry recorded in the index;
 * worker threads read the regular files whose size, mtime, ctime or inode
 * differ from the previous snapshot's and store their content (the store
 * hashes and compresses inside put, so that work is parallel too).
 *
 * An unchanged re-snapshot is nothing but the walk (one stat per entry),
 * so a re-snapshot walks on every core as well: the calling thread lists
 * each root and hands every directory right below it to a walker thread,
 * which records that whole subtree into a segment of its own and hands a
 * deeper directory on whenever another walker is idle. The segments are
 * joined in walk order at the end, so the index is the same as one thread
 * walking alone would make. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "fs_backend.h"
#include "fs_config.h"
#include "fs_failure.h"
#include "fs_index.h"
#include "fs_pool.h"
#include "fs_tree.h"
#include "fs_xattr.h"

#define READ_ATTEMPTS 3
/* Files up to this size are read whole into a per-thread buffer and stored
 * with one blob_put: most files of a tree are small, and the streaming
 * writer's per-blob buffers cost more than their content. */
#define SMALL_FILE (1u << 20)

typedef struct inode_slot {
    uint64_t dev, ino;
    rb_fs_entry *first;
} inode_slot;

/* Files of one directory, read by one worker: one queue hand-over per
 * batch instead of per file keeps small files from costing a context
 * switch each. */
#define BATCH 64

typedef struct read_job {
    rb_fs_dirref *dir;
    unsigned n;
    rb_fs_entry *e[BATCH];
    const char *name[BATCH];
} read_job;

/* A segment holds, in walk order, the entries of one subtree, in blocks
 * whose addresses stay valid while readers fill the entries in; a subtree
 * handed to another walker is a segment of its own, and an entry of kind
 * KIND_SUB marks its place (the next of `subs`). The first block is
 * small, for the many short runs of entries between handed-over
 * directories; the others are full-size. */
#define ENTRY_BLOCK_MIN 16
#define ENTRY_BLOCK_MAX 1024
#define KIND_SUB        0xffu

typedef struct entry_block {
    struct entry_block *next;
    size_t n, cap;
    rb_fs_entry e[];
} entry_block;

typedef struct segment {
    entry_block *head, *tail;
    struct segment **subs;
    size_t n_subs, cap_subs;
} segment;

/* Slot 0 is the calling thread's, slot 1 + i walker thread i's. */
#define WALK_SLOTS 5

typedef struct walk_slot {
    rb_fs_arena arena;
} walk_slot;

typedef struct snap {
    const rb_host_api *host;
    rb_op *op;
    rb_fs_config cfg;
    rb_fs_index ix;
    rb_fs_index prev;
    int have_prev;
    rb_fs_pool *pool;      /* readers */
    rb_fs_pool *walk_pool; /* walkers of the subtrees below each root */
    rb_fs_arena worker_arena[4];
    char *worker_buf[4];
    walk_slot slots[WALK_SLOTS];
    segment top; /* every root, in walk order */
    rb_fs_failure fail;
    inode_slot *inodes; /* regular files with several links, by (dev, ino) */
    size_t n_inodes, cap_inodes;
    atomic_ullong bytes_read;
    atomic_ullong files_read;
    atomic_ullong gone;
    atomic_ullong files_reused;
    atomic_ullong bytes_reused;
    atomic_ullong sockets;
    atomic_ullong walked;
} snap;

/* One thread's place in the walk. */
typedef struct walker {
    snap *s;
    walk_slot *slot;
    segment *seg;
    read_job *batch; /* being filled */
} walker;

/* A directory and everything in it, for a walker thread. */
typedef struct subtree_job {
    rb_fs_dirref *dir; /* the directory holding it */
    segment *seg;
    unsigned root;
    struct stat st;
    uint64_t hash;    /* rb_fs_path_hash_add state of (root, rel) */
    const char *name; /* the last component of rel */
    char rel[];
} subtree_job;

/* Internal flag: the entry vanished while the snapshot ran; not stored. */
#define F_GONE 0x80u
/* Internal flag: a regular file with several links. Which of its names is
 * the file and which are links depends on walk order, so the walkers leave
 * it to a pass over the segments once they are done; until then `rdev`
 * holds its st_dev. */
#define F_LINKS 0x40u

static const char *root_path(const snap *s, const rb_fs_entry *e)
{
    return s->cfg.roots[e->root].path;
}

static void fill_stat(rb_fs_entry *e, const struct stat *st)
{
    e->mode = st->st_mode;
    e->uid = st->st_uid;
    e->gid = st->st_gid;
    e->size = S_ISREG(st->st_mode) ? (uint64_t)st->st_size : 0;
    e->ino = st->st_ino;
    e->mtime_s = st->st_mtim.tv_sec;
    e->mtime_ns = (uint32_t)st->st_mtim.tv_nsec;
    e->ctime_s = st->st_ctim.tv_sec;
    e->ctime_ns = (uint32_t)st->st_ctim.tv_nsec;
    e->rdev = S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode) ? (uint64_t)st->st_rdev : 0;
}

static int same_version(const struct stat *a, const struct stat *b)
{
    return a->st_size == b->st_size && a->st_ino == b->st_ino &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
           a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/* The data extents of a file with holes; 0 extents written and *sparse = 0
 * when it has none (then the whole file is its content). */
static int find_extents(int fd, uint64_t size, rb_fs_arena *arena, rb_fs_entry *e, int *sparse)
{
    size_t cap = 16, n = 0;
    uint64_t *ext = malloc(cap * 2 * sizeof *ext);
    if (!ext)
        return -ENOMEM;
    off_t off = 0;
    while ((uint64_t)off < size) {
        off_t d = lseek(fd, off, SEEK_DATA);
        if (d < 0) {
            if (errno == ENXIO)
                break;
            int err = errno;
            free(ext);
            return err == EINVAL ? (*sparse = 0, 0) : -err;
        }
        off_t h = lseek(fd, d, SEEK_HOLE);
        if (h < 0 || (uint64_t)h > size)
            h = (off_t)size;
        if (n == cap) {
            uint64_t *ne = realloc(ext, cap * 4 * sizeof *ext);
            if (!ne) {
                free(ext);
                return -ENOMEM;
            }
            ext = ne;
            cap *= 2;
        }
        ext[2 * n] = (uint64_t)d;
        ext[2 * n + 1] = (uint64_t)(h - d);
        n++;
        off = h;
    }
    *sparse = !(n == 1 && ext[0] == 0 && ext[1] == size);
    if (*sparse) {
        e->extents = rb_fs_arena_copy(arena, ext, n * 2 * sizeof *ext);
        e->n_extents = (uint32_t)n;
        if (!e->extents) {
            free(ext);
            return -ENOMEM;
        }
    }
    free(ext);
    return 0;
}

static int store_extents(snap *s, int fd, rb_fs_entry *e, unsigned char bin[32],
                         uint64_t *read_bytes)
{
    rb_blob_writer *w = NULL;
    int rc = s->host->blob_writer_open(s->op, &w);
    if (rc)
        return rc;
    size_t cap = 1 << 20;
    char *buf = malloc(cap);
    if (!buf) {
        s->host->blob_writer_abort(w);
        return RB_ENOMEM;
    }
    for (uint32_t i = 0; i < e->n_extents && !rc; i++) {
        uint64_t off = e->extents[2 * i], left = e->extents[2 * i + 1];
        while (left && !rc) {
            ssize_t n = pread(fd, buf, left < cap ? left : cap, (off_t)off);
            if (n <= 0) {
                rc = n < 0 ? -errno : -EAGAIN;
                break;
            }
            rc = s->host->blob_write(w, buf, (size_t)n);
            off += (uint64_t)n;
            left -= (uint64_t)n;
            *read_bytes += (uint64_t)n;
        }
    }
    free(buf);
    if (rc) {
        s->host->blob_writer_abort(w);
        return rc;
    }
    char hex[RB_BLOB_ID_SIZE];
    rc = s->host->blob_writer_commit(w, hex);
    if (!rc)
        rb_fs_blob_unhex(hex, bin);
    return rc;
}

/* -EAGAIN when the file is not `size` bytes long any more. */
static int store_small(snap *s, unsigned worker, int fd, size_t size, unsigned char bin[32])
{
    if (!s->worker_buf[worker]) {
        s->worker_buf[worker] = malloc(SMALL_FILE + 1);
        if (!s->worker_buf[worker])
            return -ENOMEM;
    }
    char *buf = s->worker_buf[worker];
    size_t got = 0;
    while (got <= size) {
        ssize_t n = pread(fd, buf + got, size + 1 - got, (off_t)got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0)
            break;
        got += (size_t)n;
    }
    if (got != size)
        return -EAGAIN;
    char hex[RB_BLOB_ID_SIZE];
    int rc = s->host->blob_put(s->op, buf, size, hex);
    if (!rc)
        rb_fs_blob_unhex(hex, bin);
    return rc;
}

static int open_file(int dirfd, const char *name)
{
    int flags = O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC;
    int fd = openat(dirfd, name, flags | O_NOATIME);
    if (fd < 0 && errno == EPERM)
        fd = openat(dirfd, name, flags);
    return fd;
}

/* One attempt at a file: 0 done, 1 it changed while being read. */
static int read_once(snap *s, unsigned worker, int dirfd, rb_fs_entry *e, const char *name,
                     uint64_t *read_bytes)
{
    int fd = open_file(dirfd, name);
    if (fd < 0) {
        if (errno == ENOENT) {
            e->flags |= F_GONE;
            atomic_fetch_add(&s->gone, 1);
            return 0;
        }
        if (errno == ELOOP)
            return 1;
        return rb_fs_failure_set(&s->fail, rb_fs_errno_code(errno), RB_ERRCLASS_FILESYSTEM,
                                 "cannot read %s/%s: %s; run as a user who can read it, or "
                                 "exclude it",
                                 root_path(s, e), e->path, strerror(errno));
    }
    struct stat a, b;
    int rc = fstat(fd, &a) < 0 ? -errno : 0;
    if (!rc && !S_ISREG(a.st_mode)) {
        close(fd);
        return 1;
    }
    rb_fs_arena *arena = &s->worker_arena[worker];
    e->xattrs = NULL;
    e->xattrs_len = 0;
    e->extents = NULL;
    e->n_extents = 0;
    e->flags = 0;
    if (!rc)
        rc = rb_fs_xattr_read(fd, -1, NULL, arena, &e->xattrs, &e->xattrs_len);
    int sparse = 0;
    if (!rc && a.st_size > 0 && (uint64_t)a.st_blocks * 512 < (uint64_t)a.st_size)
        rc = find_extents(fd, (uint64_t)a.st_size, arena, e, &sparse);
    if (!rc && a.st_size > 0) {
        if (sparse) {
            rc = store_extents(s, fd, e, e->blob, read_bytes);
            e->flags = RB_FS_F_BLOB | RB_FS_F_SPARSE;
        } else if ((uint64_t)a.st_size <= SMALL_FILE) {
            rc = store_small(s, worker, fd, (size_t)a.st_size, e->blob);
            if (!rc)
                *read_bytes += (uint64_t)a.st_size;
            e->flags = RB_FS_F_BLOB;
        } else {
            char hex[RB_BLOB_ID_SIZE];
            rc = lseek(fd, 0, SEEK_SET) < 0 ? -errno : s->host->blob_put_fd(s->op, fd, hex);
            if (!rc) {
                rb_fs_blob_unhex(hex, e->blob);
                *read_bytes += (uint64_t)a.st_size;
            }
            e->flags = RB_FS_F_BLOB;
        }
    }
    if (!rc && fstat(fd, &b) < 0)
        rc = -errno;
    close(fd);
    if (rc == -EAGAIN)
        return 1;
    if (rc) {
        int err = rc < 0 ? -rc : 0;
        return rb_fs_failure_set(&s->fail, err ? rb_fs_errno_code(err) : rc, RB_ERRCLASS_FILESYSTEM,
                                 "cannot record %s/%s: %s", root_path(s, e), e->path,
                                 err ? strerror(err) : "store failed");
    }
    if (!same_version(&a, &b))
        return 1;
    fill_stat(e, &b);
    return 0;
}

static void read_job_run(void *ctx, unsigned worker, void *arg)
{
    snap *s = ctx;
    read_job *j = arg;
    for (unsigned i = 0; i < j->n && !atomic_load(&s->fail.failed); i++) {
        rb_fs_entry *e = j->e[i];
        uint64_t read_bytes = 0;
        int rc = 1;
        for (int attempt = 0; attempt < READ_ATTEMPTS && rc == 1; attempt++)
            rc = read_once(s, worker, j->dir->fd, e, j->name[i], &read_bytes);
        if (rc == 1)
            rb_fs_failure_set(&s->fail, RB_ECONFLICT, RB_ERRCLASS_FILESYSTEM,
                              "%s/%s changed while being read, %d times; stop what writes it "
                              "during the snapshot, or exclude it",
                              root_path(s, e), e->path, READ_ATTEMPTS);
        else if (rc == 0 && !(e->flags & F_GONE))
            atomic_fetch_add(&s->files_read, 1);
        atomic_fetch_add(&s->bytes_read, read_bytes);
    }
    rb_fs_dirref_put(j->dir);
    free(j);
}

static void submit_batch(walker *w)
{
    if (w->batch)
        rb_fs_pool_submit(w->s->pool, w->batch);
    w->batch = NULL;
}

static int queue_read(walker *w, rb_fs_dirref *dir, rb_fs_entry *e, const char *name)
{
    if (w->batch && (w->batch->dir != dir || w->batch->n == BATCH))
        submit_batch(w);
    if (!w->batch) {
        w->batch = malloc(sizeof *w->batch);
        if (!w->batch)
            return -1;
        w->batch->dir = rb_fs_dirref_get(dir);
        w->batch->n = 0;
    }
    w->batch->e[w->batch->n] = e;
    w->batch->name[w->batch->n++] = name;
    return 0;
}

static inode_slot *inode_lookup(snap *s, uint64_t dev, uint64_t ino)
{
    if (s->n_inodes * 2 >= s->cap_inodes) {
        size_t cap = s->cap_inodes ? s->cap_inodes * 2 : 256;
        inode_slot *ns = calloc(cap, sizeof *ns);
        if (!ns)
            return NULL;
        for (size_t i = 0; i < s->cap_inodes; i++) {
            if (!s->inodes[i].first)
                continue;
            size_t k = (s->inodes[i].ino * 31 + s->inodes[i].dev) & (cap - 1);
            while (ns[k].first)
                k = (k + 1) & (cap - 1);
            ns[k] = s->inodes[i];
        }
        free(s->inodes);
        s->inodes = ns;
        s->cap_inodes = cap;
    }
    size_t k = (ino * 31 + dev) & (s->cap_inodes - 1);
    while (s->inodes[k].first && (s->inodes[k].ino != ino || s->inodes[k].dev != dev))
        k = (k + 1) & (s->cap_inodes - 1);
    if (!s->inodes[k].first) {
        s->inodes[k].dev = dev;
        s->inodes[k].ino = ino;
        s->n_inodes++;
    }
    return &s->inodes[k];
}

static int oom(snap *s)
{
    return rb_fs_failure_set(&s->fail, RB_ENOMEM, RB_ERRCLASS_NOMEMORY,
                             "out of memory recording %s", s->cfg.roots[0].path);
}

static int fs_err(snap *s, int err, const rb_fs_root *r, const char *rel, const char *what)
{
    return rb_fs_failure_set(&s->fail, rb_fs_errno_code(err), RB_ERRCLASS_FILESYSTEM,
                             "cannot %s %s%s%s: %s", what, r->path, *rel ? "/" : "", rel,
                             strerror(err));
}

/* Full-size blocks are mapped directly: the walker threads free them
 * while the calling thread builds the index, and memory a thread's malloc
 * arena keeps would stay resident beside the index. */
static entry_block *block_alloc(size_t cap)
{
    size_t size = sizeof(entry_block) + cap * sizeof(rb_fs_entry);
    if (cap < ENTRY_BLOCK_MAX)
        return malloc(size);
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

static void block_free(entry_block *b)
{
    if (b->cap < ENTRY_BLOCK_MAX)
        free(b);
    else
        munmap(b, sizeof *b + b->cap * sizeof b->e[0]);
}

/* A zeroed new entry at the end of seg; NULL when out of memory. */
static rb_fs_entry *seg_append(segment *seg)
{
    entry_block *b = seg->tail;
    if (!b || b->n == b->cap) {
        size_t cap = b ? ENTRY_BLOCK_MAX : ENTRY_BLOCK_MIN;
        entry_block *nb = block_alloc(cap);
        if (!nb)
            return NULL;
        nb->next = NULL;
        nb->n = 0;
        nb->cap = cap;
        if (b)
            b->next = nb;
        else
            seg->head = nb;
        seg->tail = b = nb;
    }
    rb_fs_entry *e = &b->e[b->n++];
    memset(e, 0, sizeof *e);
    return e;
}

static rb_fs_entry *new_entry(walker *w)
{
    return seg_append(w->seg);
}

static void seg_free_blocks(segment *seg)
{
    for (entry_block *b = seg->head, *next; b; b = next) {
        next = b->next;
        block_free(b);
    }
    seg->head = seg->tail = NULL;
}

static void seg_free(segment *seg)
{
    for (size_t i = 0; i < seg->n_subs; i++) {
        seg_free(seg->subs[i]);
        free(seg->subs[i]);
    }
    free(seg->subs);
    seg_free_blocks(seg);
    memset(seg, 0, sizeof *seg);
}

/* The previous snapshot's entry for the same path, or NULL. */
static const rb_fs_entry *previous(const snap *s, unsigned root, const char *rel)
{
    if (!s->have_prev)
        return NULL;
    ptrdiff_t i = rb_fs_index_find(&s->prev, root, rel);
    return i < 0 ? NULL : rb_fs_index_at(&s->prev, (size_t)i);
}

/* previous() with the lookup hash of (root, rel) already computed. */
static const rb_fs_entry *previous_hashed(const snap *s, unsigned root, const char *rel,
                                          uint64_t hash)
{
    if (!s->have_prev)
        return NULL;
    ptrdiff_t i = rb_fs_index_find_hashed(&s->prev, root, rel, hash);
    return i < 0 ? NULL : rb_fs_index_at(&s->prev, (size_t)i);
}

/* p when it recorded the same version of the file (same kind, inode,
 * mtime, ctime and size) as e, else NULL. */
static const rb_fs_entry *unchanged(const rb_fs_entry *p, const rb_fs_entry *e)
{
    if (!p || p->kind != e->kind || p->ino != e->ino || p->mtime_s != e->mtime_s ||
        p->mtime_ns != e->mtime_ns || p->ctime_s != e->ctime_s || p->ctime_ns != e->ctime_ns ||
        (e->kind == RB_FS_REG && p->size != e->size))
        return NULL;
    return p;
}

static int walk_dir(walker *w, unsigned root, int dirfd, const char *rel, uint64_t hash);

/* A regular file whose names are all settled: reuses the previous
 * snapshot's content when the file has not changed, else queues a read. */
static int add_file(walker *w, rb_fs_dirref *dir, const char *name, rb_fs_entry *e,
                    const rb_fs_entry *prev)
{
    snap *s = w->s;
    const rb_fs_entry *p = unchanged(prev, e);
    if (p) {
        char hex[RB_BLOB_ID_SIZE];
        rb_fs_blob_hex(p->blob, hex);
        if (!(p->flags & RB_FS_F_BLOB) || s->host->blob_ref(s->op, hex) == 0) {
            e->flags = p->flags;
            memcpy(e->blob, p->blob, 32);
            e->extents = p->extents;
            e->n_extents = p->n_extents;
            e->xattrs = p->xattrs;
            e->xattrs_len = p->xattrs_len;
            atomic_fetch_add(&s->files_reused, 1);
            atomic_fetch_add(&s->bytes_reused, e->size);
            return 0;
        }
    }
    return queue_read(w, dir, e, name) ? oom(s) : 0;
}

/* Records `name` in `dir` (the root itself when rel is ""); hash is the
 * lookup hash state of (root, rel). */
static int add_entry(walker *w, unsigned root, rb_fs_dirref *dir, const char *name, const char *rel,
                     uint64_t hash, struct stat *st)
{
    snap *s = w->s;
    const rb_fs_root *r = &s->cfg.roots[root];
    int kind = S_ISDIR(st->st_mode)    ? RB_FS_DIR
               : S_ISREG(st->st_mode)  ? RB_FS_REG
               : S_ISLNK(st->st_mode)  ? RB_FS_LNK
               : S_ISFIFO(st->st_mode) ? RB_FS_FIFO
               : S_ISCHR(st->st_mode)  ? RB_FS_CHR
               : S_ISBLK(st->st_mode)  ? RB_FS_BLK
                                       : 0;
    if (!kind) {
        atomic_fetch_add(&s->sockets, 1);
        s->host->log(RB_LOG_INFO, "skipping socket %s/%s: sockets are recreated by their server",
                     r->path, rel);
        return 0;
    }
    int dfd = -1;
    if (kind == RB_FS_DIR) {
        dfd = openat(dir->fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dfd < 0) {
            if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP)
                return 0;
            return fs_err(s, errno, r, rel, "open directory");
        }
        if (fstat(dfd, st) < 0) {
            int err = errno;
            close(dfd);
            return fs_err(s, err, r, rel, "stat");
        }
    }
    /* An entry the previous snapshot had shares its path string. */
    const rb_fs_entry *prev = previous_hashed(s, root, rel, hash);
    rb_fs_entry *e = new_entry(w);
    const char *path = !e     ? NULL
                       : prev ? prev->path
                              : rb_fs_arena_strndup(&w->slot->arena, rel, strlen(rel));
    if (!path) {
        if (dfd >= 0)
            close(dfd);
        return oom(s);
    }
    e->path = path;
    e->root = (uint16_t)root;
    e->kind = (uint8_t)kind;
    fill_stat(e, st);
    if ((atomic_fetch_add(&s->walked, 1) + 1) % 4096 == 0) {
        s->host->progress(s->op, atomic_load(&s->walked), 0, "entries");
        if (s->host->cancelled(s->op)) {
            if (dfd >= 0)
                close(dfd);
            return rb_fs_failure_set(&s->fail, RB_ECANCELED, RB_ERRCLASS_FILESYSTEM,
                                     "snapshot of %s cancelled", r->path);
        }
    }
    /* Workers open the file by a name that must outlive this call. */
    const char *slash = strrchr(path, '/');
    const char *stable_name = *path ? (slash ? slash + 1 : path) : r->name;
    if (kind == RB_FS_REG) {
        if (st->st_nlink > 1) {
            e->flags = F_LINKS;
            e->rdev = (uint64_t)st->st_dev;
            return 0;
        }
        return add_file(w, dir, stable_name, e, prev);
    }

    const rb_fs_entry *p = unchanged(prev, e);
    int rc = 0;
    if (kind == RB_FS_LNK) {
        if (p) {
            e->target = p->target;
        } else {
            char buf[4097];
            ssize_t n = readlinkat(dir->fd, name, buf, sizeof buf - 1);
            if (n < 0)
                return fs_err(s, errno, r, rel, "read symlink");
            e->target = rb_fs_arena_strndup(&w->slot->arena, buf, (size_t)n);
            if (!e->target)
                return oom(s);
        }
    }
    if (p) {
        e->xattrs = p->xattrs;
        e->xattrs_len = p->xattrs_len;
    } else {
        rc = rb_fs_xattr_read(dfd, dir->fd, name, &w->slot->arena, &e->xattrs, &e->xattrs_len);
        if (rc) {
            if (dfd >= 0)
                close(dfd);
            return fs_err(s, -rc, r, rel, "read extended attributes of");
        }
    }
    if (kind == RB_FS_DIR)
        return walk_dir(w, root, dfd, path, hash);
    return 0;
}

static void subtree_run(void *ctx, unsigned worker, void *arg)
{
    snap *s = ctx;
    subtree_job *j = arg;
    walker w = {s, &s->slots[1 + worker], j->seg, NULL};
    if (!atomic_load(&s->fail.failed))
        add_entry(&w, j->root, j->dir, j->name, j->rel, j->hash, &j->st);
    submit_batch(&w);
    rb_fs_dirref_put(j->dir);
    free(j);
}

/* Hands the directory `rel` and everything in it to a walker thread:
 * always for the directories right below a root (the calling thread only
 * lists the roots), deeper ones when a walker is idle. 0 handed over, 1
 * when the caller walks it itself, or a failure. */
static int hand_over(walker *w, unsigned root, rb_fs_dirref *dir, const char *rel, uint64_t hash,
                     const struct stat *st)
{
    snap *s = w->s;
    const char *slash = strrchr(rel, '/');
    size_t n = strlen(rel);
    subtree_job *j = malloc(sizeof *j + n + 1);
    segment *sub = j ? calloc(1, sizeof *sub) : NULL;
    segment *seg = w->seg;
    if (sub && seg->n_subs == seg->cap_subs) {
        size_t cap = seg->cap_subs ? seg->cap_subs * 2 : 8;
        segment **ns = realloc(seg->subs, cap * sizeof *ns);
        if (ns) {
            seg->subs = ns;
            seg->cap_subs = cap;
        }
    }
    rb_fs_entry *mark = sub && seg->n_subs < seg->cap_subs ? seg_append(seg) : NULL;
    if (!mark) {
        free(sub);
        free(j);
        return oom(s);
    }
    mark->kind = KIND_SUB;
    j->dir = rb_fs_dirref_get(dir);
    j->seg = sub;
    j->root = root;
    j->st = *st;
    j->hash = hash;
    memcpy(j->rel, rel, n + 1);
    j->name = slash ? j->rel + (slash - rel) + 1 : j->rel;
    if (!slash) {
        rb_fs_pool_submit(s->walk_pool, j);
    } else if (rb_fs_pool_offer(s->walk_pool, j)) {
        rb_fs_dirref_put(j->dir);
        free(j);
        free(sub);
        seg->tail->n--;
        return 1;
    }
    seg->subs[seg->n_subs++] = sub;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Takes ownership of dirfd. Names are sorted so that an unchanged tree
 * gives a byte-identical index (stored once). */
static int walk_dir(walker *w, unsigned root, int dirfd, const char *rel, uint64_t hash)
{
    snap *s = w->s;
    const rb_fs_root *r = &s->cfg.roots[root];
    rb_fs_dirref *dir = rb_fs_dirref_new(dirfd);
    if (!dir)
        return oom(s);
    int dup_fd = dup(dirfd);
    DIR *d = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
    if (!d) {
        int err = errno;
        if (dup_fd >= 0)
            close(dup_fd);
        rb_fs_dirref_put(dir);
        return fs_err(s, err, r, rel, "list");
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    struct dirent *de;
    errno = 0;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 32;
            char **nn = realloc(names, cap * sizeof *nn);
            if (!nn) {
                rc = oom(s);
                break;
            }
            names = nn;
        }
        if (!(names[n] = strdup(de->d_name))) {
            rc = oom(s);
            break;
        }
        n++;
    }
    if (!rc && errno)
        rc = fs_err(s, errno, r, rel, "list");
    closedir(d);
    if (!rc && n)
        qsort(names, n, sizeof *names, cmp_str);
    size_t rl = strlen(rel), child_cap = 0;
    char *child = NULL;
    /* Each child's lookup hash continues this directory's. */
    uint64_t dir_hash = rl ? rb_fs_path_hash_add(hash, "/", 1) : hash;
    for (size_t i = 0; i < n && !rc && !atomic_load(&s->fail.failed); i++) {
        const char *name = names[i];
        size_t nl = strlen(name), need = rl + nl + 2;
        if (need > child_cap) {
            char *nc = realloc(child, need + 64);
            if (!nc) {
                rc = oom(s);
                break;
            }
            child = nc;
            child_cap = need + 64;
        }
        size_t at = 0;
        if (rl) {
            memcpy(child, rel, rl);
            child[rl] = '/';
            at = rl + 1;
        }
        memcpy(child + at, name, nl + 1);
        if (rb_fs_config_excluded(&s->cfg, child))
            continue;
        struct stat st;
        if (fstatat(dir->fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
            if (errno == ENOENT)
                continue;
            rc = fs_err(s, errno, r, child, "stat");
            break;
        }
        uint64_t child_hash = rb_fs_path_hash_add(dir_hash, name, nl);
        if (S_ISDIR(st.st_mode) && s->walk_pool &&
            (rc = hand_over(w, root, dir, child, child_hash, &st)) <= 0)
            continue;
        rc = add_entry(w, root, dir, name, child, child_hash, &st);
    }
    free(child);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    rb_fs_dirref_put(dir);
    return rc;
}

static int walk_root(walker *w, unsigned root)
{
    snap *s = w->s;
    const rb_fs_root *r = &s->cfg.roots[root];
    int base = open(r->parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    struct stat st;
    if (base < 0 || fstatat(base, r->name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
        int err = errno;
        if (base >= 0)
            close(base);
        if (err == ENOENT || err == ENOTDIR)
            return rb_fs_failure_set(&s->fail, RB_ENOTFOUND, RB_ERRCLASS_FILESYSTEM,
                                     "path %s does not exist; check the target's paths", r->path);
        return fs_err(s, err, r, "", "stat");
    }
    rb_fs_dirref *dir = rb_fs_dirref_new(base);
    if (!dir)
        return oom(s);
    int rc = add_entry(w, root, dir, r->name, "", rb_fs_path_hash_start(root), &st);
    rb_fs_dirref_put(dir);
    return rc;
}

/* The directory holding e, opened below its root's parent without
 * following a symlink, as a handle of its own. */
static rb_fs_dirref *open_parent(snap *s, rb_fs_tree *trees, const rb_fs_entry *e)
{
    const rb_fs_root *r = &s->cfg.roots[e->root];
    rb_fs_tree *t = &trees[e->root];
    if (t->base < 0) {
        int base = open(r->parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (base < 0) {
            fs_err(s, errno, r, "", "open the directory holding");
            return NULL;
        }
        rb_fs_tree_init(t, base);
    }
    char rel[8192];
    const char *slash = strrchr(e->path, '/');
    int n = !*e->path ? snprintf(rel, sizeof rel, "%s", "")
            : slash ? snprintf(rel, sizeof rel, "%s/%.*s", r->name, (int)(slash - e->path), e->path)
                    : snprintf(rel, sizeof rel, "%s", r->name);
    if (n < 0 || (size_t)n >= sizeof rel) {
        fs_err(s, ENAMETOOLONG, r, e->path, "open the directory of");
        return NULL;
    }
    int fd = rb_fs_tree_dir(t, rel);
    int dfd = fd < 0 ? fd : fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (dfd < 0) {
        fs_err(s, fd < 0 ? -fd : errno, r, e->path, "open the directory of");
        return NULL;
    }
    rb_fs_dirref *d = rb_fs_dirref_new(dfd);
    if (!d)
        oom(s);
    return d;
}

typedef struct links_pass {
    snap *s;
    rb_fs_tree *trees; /* per root, for open_parent */
    walker w;
} links_pass;

static int settle_one(links_pass *lp, rb_fs_entry *e)
{
    snap *s = lp->s;
    uint64_t dev = e->rdev;
    e->flags = 0;
    e->rdev = 0;
    inode_slot *slot = inode_lookup(s, dev, e->ino);
    if (!slot)
        return oom(s);
    if (slot->first) {
        e->kind = RB_FS_HARDLINK;
        e->size = 0;
        e->target = slot->first->path;
        e->target_root = slot->first->root;
        return 0;
    }
    slot->first = e;
    if (!s->pool && rb_fs_pool_start(&s->pool, rb_fs_pool_default_threads(), read_job_run, s))
        return rb_fs_failure_set(&s->fail, RB_ERROR, RB_ERRCLASS_OS, "cannot start reader threads");
    rb_fs_dirref *dir = open_parent(s, lp->trees, e);
    if (!dir)
        return -1;
    const char *slash = strrchr(e->path, '/');
    const char *name = *e->path ? (slash ? slash + 1 : e->path) : s->cfg.roots[e->root].name;
    int rc = add_file(&lp->w, dir, name, e, previous(s, e->root, e->path));
    rb_fs_dirref_put(dir);
    return rc;
}

static int settle_segment(links_pass *lp, const segment *seg)
{
    size_t sub = 0;
    int rc = 0;
    for (entry_block *b = seg->head; b && !rc; b = b->next)
        for (size_t i = 0; i < b->n && !rc; i++) {
            rb_fs_entry *e = &b->e[i];
            if (e->kind == KIND_SUB)
                rc = settle_segment(lp, seg->subs[sub++]);
            else if (e->flags & F_LINKS)
                rc = settle_one(lp, e);
        }
    return rc;
}

/* Files with several links, in walk order: the first name found is the
 * file, the others are hard links to it. Runs once the walk and its reads
 * are done; the files it finds to read get readers of their own. */
static int settle_links(snap *s)
{
    links_pass lp = {s, calloc(s->cfg.n_roots, sizeof *lp.trees), {s, &s->slots[0], NULL, NULL}};
    if (!lp.trees)
        return oom(s);
    for (size_t i = 0; i < s->cfg.n_roots; i++)
        lp.trees[i].base = -1;
    int rc = settle_segment(&lp, &s->top);
    submit_batch(&lp.w);
    if (s->pool)
        rb_fs_pool_finish(s->pool);
    s->pool = NULL;
    for (size_t i = 0; i < s->cfg.n_roots; i++)
        if (lp.trees[i].base >= 0)
            rb_fs_tree_close(&lp.trees[i]);
    free(lp.trees);
    return rc;
}

/* Copies the segments' entries into the index, in walk order, freeing
 * each segment's blocks once copied so the entries are not held twice. */
static int join_segment(snap *s, segment *seg)
{
    size_t sub = 0;
    for (entry_block *b = seg->head; b; b = b->next)
        for (size_t i = 0; i < b->n; i++) {
            if (b->e[i].kind == KIND_SUB) {
                int rc = join_segment(s, seg->subs[sub++]);
                if (rc)
                    return rc;
                continue;
            }
            rb_fs_entry *e = rb_fs_index_append(&s->ix);
            if (!e)
                return s->host->error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY,
                                          "out of memory recording %s", s->cfg.roots[0].path);
            *e = b->e[i];
        }
    seg_free_blocks(seg);
    return 0;
}

static void free_walk(snap *s)
{
    seg_free(&s->top);
    for (unsigned i = 0; i < WALK_SLOTS; i++)
        rb_fs_arena_free(&s->slots[i].arena);
}

static void load_previous(snap *s)
{
    const rb_node *pm = s->host->previous_metadata ? s->host->previous_metadata(s->op) : NULL;
    const char *id = s->host->node_string(s->host->node_get(pm, "index"));
    if (!id)
        return;
    if (rb_fs_index_load(s->host, s->op, id, &s->prev) == 0)
        s->have_prev = 1;
    else {
        s->host->log(RB_LOG_WARN, "previous index %s unusable, reading every file", id);
        rb_fs_index_free(&s->prev);
    }
}

static int write_metadata(snap *s, const char *index_id)
{
    const rb_host_api *h = s->host;
    rb_node *m = h->metadata(s->op);
    const rb_node *cfg = h->config(s->op);
    uint64_t counts[8] = {0}, total = 0, sparse = 0, entries = 0;
    for (size_t i = 0; i < s->ix.count; i++) {
        const rb_fs_entry *e = rb_fs_index_at(&s->ix, i);
        if (!e->kind)
            continue;
        entries++;
        counts[e->kind]++;
        total += e->size;
        sparse += (e->flags & RB_FS_F_SPARSE) != 0;
    }
    rb_node *paths, *c, *b;
    int ok = h->node_add_string(m, "method", "filesystem_backup") &&
             (paths = h->node_add_array(m, "paths")) != NULL;
    for (size_t i = 0; ok && i < s->cfg.n_roots; i++)
        ok = h->node_add_string(paths, NULL, s->cfg.roots[i].path) != NULL;
    if (ok && s->cfg.n_exclude) {
        rb_node *ex = h->node_add_array(m, "exclude");
        ok = ex != NULL;
        for (size_t i = 0; ok && i < s->cfg.n_exclude; i++)
            ok = h->node_add_string(ex, NULL, s->cfg.exclude[i]) != NULL;
    }
    const char *bl = h->node_string(h->node_get(cfg, "backup_location"));
    if (ok && bl)
        ok = h->node_add_string(m, "backup_location", bl) != NULL;
    ok = ok && h->node_add_string(m, "index", index_id) &&
         h->node_add_string(m, "index_format", "rbfs-index-1") &&
         h->node_add_int(m, "entries", (int64_t)entries) &&
         (c = h->node_add_object(m, "counts")) != NULL &&
         h->node_add_int(c, "files", (int64_t)counts[RB_FS_REG]) &&
         h->node_add_int(c, "directories", (int64_t)counts[RB_FS_DIR]) &&
         h->node_add_int(c, "symlinks", (int64_t)counts[RB_FS_LNK]) &&
         h->node_add_int(c, "hardlinks", (int64_t)counts[RB_FS_HARDLINK]) &&
         h->node_add_int(c, "fifos", (int64_t)counts[RB_FS_FIFO]) &&
         h->node_add_int(c, "devices", (int64_t)(counts[RB_FS_CHR] + counts[RB_FS_BLK])) &&
         h->node_add_int(c, "sparse_files", (int64_t)sparse) &&
         h->node_add_int(c, "sockets_skipped", (int64_t)atomic_load(&s->sockets)) &&
         h->node_add_int(c, "files_read", (int64_t)atomic_load(&s->files_read)) &&
         h->node_add_int(c, "files_unchanged", (int64_t)atomic_load(&s->files_reused)) &&
         (b = h->node_add_object(m, "bytes")) != NULL &&
         h->node_add_int(b, "total", (int64_t)total) &&
         h->node_add_int(b, "read", (int64_t)atomic_load(&s->bytes_read)) &&
         h->node_add_int(b, "unchanged", (int64_t)atomic_load(&s->bytes_reused)) &&
         h->node_add_bool(m, "incremental", s->have_prev);
    return ok ? 0 : RB_ENOMEM;
}

int rb_fs_snapshot(rb_op *op)
{
    const rb_host_api *h = rb_fs_host;
    snap *s = calloc(1, sizeof *s);
    if (!s)
        return h->error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
    s->host = h;
    s->op = op;
    rb_fs_failure_init(&s->fail);
    int rc = rb_fs_config_read(h, h->config(op), &s->cfg);
    if (!rc) {
        load_previous(s);
        unsigned threads = rb_fs_pool_default_threads();
        if (rb_fs_pool_start(&s->pool, threads, read_job_run, s))
            rc = h->error_set(RB_ERROR, RB_ERRCLASS_OS, "cannot start reader threads");
        /* Without walker threads the calling thread walks everything. A
         * first snapshot goes without: reading the files bounds it, and
         * the readers already keep every core busy. */
        else if (s->have_prev && rb_fs_pool_start(&s->walk_pool, threads, subtree_run, s))
            s->walk_pool = NULL;
    }
    if (!rc) {
        walker w = {s, &s->slots[0], &s->top, NULL};
        for (unsigned i = 0; i < s->cfg.n_roots && !atomic_load(&s->fail.failed); i++)
            walk_root(&w, i);
        submit_batch(&w);
        if (s->walk_pool)
            rb_fs_pool_finish(s->walk_pool);
        /* After a walk error the queued reads are of no use: workers skip them. */
        rb_fs_pool_finish(s->pool);
        s->pool = NULL;
        if (!atomic_load(&s->fail.failed))
            settle_links(s);
        if (!atomic_load(&s->fail.failed))
            rc = join_segment(s, &s->top);
        for (unsigned i = 0; i < WALK_SLOTS; i++)
            rb_fs_arena_merge(&s->ix.arena, &s->slots[i].arena);
        for (unsigned i = 0; i < 4; i++)
            rb_fs_arena_merge(&s->ix.arena, &s->worker_arena[i]);
        free_walk(s);
    }
    if (!rc && atomic_load(&s->fail.failed))
        rc = rb_fs_failure_raise(&s->fail);
    if (!rc) {
        for (size_t i = 0; i < s->ix.count; i++) {
            rb_fs_entry *e = rb_fs_index_at(&s->ix, i);
            if (e->flags & F_GONE)
                e->kind = 0;
        }
        char id[RB_BLOB_ID_SIZE];
        rc = rb_fs_index_store(h, op, &s->ix, id);
        if (!rc && write_metadata(s, id))
            rc = h->error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory writing metadata");
    }
    rb_fs_failure_destroy(&s->fail);
    for (unsigned i = 0; i < 4; i++) {
        rb_fs_arena_free(&s->worker_arena[i]);
        free(s->worker_buf[i]);
    }
    free_walk(s);
    rb_fs_index_free(&s->ix);
    rb_fs_index_free(&s->prev);
    free(s->inodes);
    rb_fs_config_free(&s->cfg);
    free(s);
    return rc;
}
