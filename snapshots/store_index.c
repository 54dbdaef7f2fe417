#include "store_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "rb_error.h"
#include "rb_fs.h"
#include "store_s3.h"

/* Index file: "RBIDX001", entry count (u64), entries sorted by id
 * (id[32], offset u64, original length u64, stored length u32, flags u32),
 * then the SHA-256 of everything before it. Integers little-endian. */
#define IDX_MAGIC "RBIDX001"
#define IDX_HEAD  16
#define IDX_ENTRY 56

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static uint32_t get32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static int cmp_loc(const void *a, const void *b)
{
    return memcmp(((const rb_blob_loc *)a)->id, ((const rb_blob_loc *)b)->id, 32);
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

char *rb_store_pack_path(rb_store *s, uint32_t no, const char *ext)
{
    pthread_mutex_lock(&s->packs_mu);
    char *p = rb_store_path(s->packs_dir, "%s.%s", s->packs[no].name, ext);
    pthread_mutex_unlock(&s->packs_mu);
    return p;
}

int rb_store_pack_register(rb_store *s, const char *name, uint32_t *no_out)
{
    int rc = 0;
    pthread_mutex_lock(&s->packs_mu);
    if (s->npacks == s->packs_cap) {
        size_t ncap = s->packs_cap ? s->packs_cap * 2 : 16;
        rb_store_pack *n = realloc(s->packs, ncap * sizeof *n);
        if (!n)
            rc = rb_store_nomem();
        else {
            s->packs = n;
            s->packs_cap = ncap;
        }
    }
    if (rc == 0) {
        rb_store_pack *p = &s->packs[s->npacks];
        memset(p, 0, sizeof *p);
        snprintf(p->name, sizeof p->name, "%s", name);
        p->fd = -1;
        *no_out = (uint32_t)s->npacks++;
    }
    pthread_mutex_unlock(&s->packs_mu);
    return rc;
}

/* Descriptors of packs read often stay open, up to a limit: a store of
 * thousands of snapshots must not run the process out of descriptors.
 * Beyond it each read opens its own. */
#define PACK_FDS_MAX 128

int rb_store_pack_open(rb_store *s, uint32_t no, int *fd_out, bool *owned)
{
    int rc = 0;
    *owned = false;
    pthread_mutex_lock(&s->packs_mu);
    int fd = s->packs[no].fd;
    if (fd < 0) {
        char *path = rb_store_path(s->packs_dir, "%s.pack", s->packs[no].name);
        if (path && (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 && errno == ENOENT && s->s3) {
            /* Not in the S3 store's cache yet: other readers go on while
             * it comes down. */
            char name[RB_STORE_PACK_NAME + 1];
            memcpy(name, s->packs[no].name, sizeof name);
            pthread_mutex_unlock(&s->packs_mu);
            int frc = rb_store_s3_fetch_pack(s, name);
            pthread_mutex_lock(&s->packs_mu);
            if (frc < 0) {
                free(path);
                pthread_mutex_unlock(&s->packs_mu);
                *fd_out = -1;
                return frc;
            }
            fd = s->packs[no].fd;
            if (fd >= 0) {
                free(path);
                pthread_mutex_unlock(&s->packs_mu);
                *fd_out = fd;
                return 0;
            }
            fd = open(path, O_RDONLY | O_CLOEXEC);
        }
        if (!path)
            rc = rb_store_nomem();
        else if (fd < 0)
            rc = rb_error_os("cannot open pack %s", path);
        else if (s->open_packs < PACK_FDS_MAX) {
            s->packs[no].fd = fd;
            s->open_packs++;
        } else {
            *owned = true;
        }
        free(path);
    }
    pthread_mutex_unlock(&s->packs_mu);
    *fd_out = fd;
    return rc;
}

/* Reads and checks an index file; *buf holds the raw entries. */
static int read_raw(const char *path, char **buf, size_t *count_out)
{
    size_t len;
    int rc = rb_fs_read_all(path, buf, &len);
    if (rc < 0)
        return rc;
    const uint8_t *p = (const uint8_t *)*buf;
    uint8_t sum[32];
    uint64_t count = len >= IDX_HEAD ? get64(p + 8) : 0;
    if (len < IDX_HEAD + 32 || memcmp(p, IDX_MAGIC, 8) != 0 ||
        count != (len - IDX_HEAD - 32) / IDX_ENTRY || len != IDX_HEAD + 32 + count * IDX_ENTRY ||
        rb_store_sha256(p, len - 32, sum) < 0 || memcmp(sum, p + len - 32, 32) != 0) {
        free(*buf);
        *buf = NULL;
        return rb_error_set(RB_ECORRUPT, RB_ERRCLASS_STORE,
                            "index file %s is damaged: run 'rbhost check'", path);
    }
    *count_out = count;
    return 0;
}

static void decode(const char *buf, size_t i, rb_blob_loc *e)
{
    const uint8_t *q = (const uint8_t *)buf + IDX_HEAD + i * IDX_ENTRY;
    memcpy(e->id, q, 32);
    e->offset = get64(q + 32);
    e->orig_len = get64(q + 40);
    e->stored_len = get32(q + 48);
    e->flags = get32(q + 52);
    e->used = 1;
}

int rb_store_index_read(const char *path, rb_blob_loc **entries, size_t *n)
{
    char *buf;
    size_t count;
    *entries = NULL;
    *n = 0;
    int rc = read_raw(path, &buf, &count);
    if (rc < 0)
        return rc;
    rb_blob_loc *e = calloc(count ? count : 1, sizeof *e);
    if (!e) {
        free(buf);
        return rb_store_nomem();
    }
    for (size_t i = 0; i < count; i++)
        decode(buf, i, &e[i]);
    free(buf);
    *entries = e;
    *n = count;
    return 0;
}

int rb_store_index_write(rb_store *s, uint32_t no, rb_blob_loc *entries, size_t n)
{
    qsort(entries, n, sizeof *entries, cmp_loc);
    size_t len = IDX_HEAD + n * IDX_ENTRY + 32;
    uint8_t *buf = malloc(len);
    char *path = rb_store_pack_path(s, no, "idx");
    if (!buf || !path) {
        free(buf);
        free(path);
        return rb_store_nomem();
    }
    memcpy(buf, IDX_MAGIC, 8);
    put64(buf + 8, n);
    for (size_t i = 0; i < n; i++) {
        uint8_t *q = buf + IDX_HEAD + i * IDX_ENTRY;
        memcpy(q, entries[i].id, 32);
        put64(q + 32, entries[i].offset);
        put64(q + 40, entries[i].orig_len);
        put32(q + 48, entries[i].stored_len);
        put32(q + 52, entries[i].flags);
    }
    int rc = rb_store_sha256(buf, len - 32, buf + len - 32);
    if (rc == 0)
        rc = rb_store_file_write(path, buf, len, false);
    free(buf);
    free(path);
    return rc;
}

static bool idx_known(rb_store *s, const char *name)
{
    return s->nidx > 0 &&
           bsearch(&name, s->idx_names, s->nidx, sizeof *s->idx_names, cmp_name) != NULL;
}

int rb_store_index_note_file(rb_store *s, const char *name)
{
    if (idx_known(s, name))
        return 0;
    if (s->nidx == s->idx_cap) {
        size_t ncap = s->idx_cap ? s->idx_cap * 2 : 16;
        char **n = realloc(s->idx_names, ncap * sizeof *n);
        if (!n)
            return rb_store_nomem();
        s->idx_names = n;
        s->idx_cap = ncap;
    }
    char *copy = strdup(name);
    if (!copy)
        return rb_store_nomem();
    s->idx_names[s->nidx++] = copy;
    qsort(s->idx_names, s->nidx, sizeof *s->idx_names, cmp_name);
    return 0;
}

static int load_one(rb_store *s, const char *file)
{
    char *path = rb_fs_join(s->packs_dir, file);
    if (!path)
        return rb_store_nomem();
    char *buf;
    size_t n;
    int rc = read_raw(path, &buf, &n);
    free(path);
    if (rc == RB_ECORRUPT || rc == RB_ENOTFOUND) {
        /* A damaged index makes its blobs missing; check reports it, the
         * rest of the store stays usable. A vanished one was removed by gc. */
        rb_error_clear();
        return rb_store_index_note_file(s, file);
    }
    if (rc < 0)
        return rc;
    char stem[RB_STORE_PACK_NAME + 1];
    snprintf(stem, sizeof stem, "%.*s", (int)(strlen(file) - 4), file);
    uint32_t no;
    rc = rb_store_pack_register(s, stem, &no);
    if (rc == 0 && rb_idtab_reserve(&s->index, s->index.count + n) < 0)
        rc = rb_store_nomem();
    for (size_t i = 0; rc == 0 && i < n; i++) {
        rb_blob_loc loc;
        decode(buf, i, &loc);
        bool fresh;
        rb_blob_loc *e = rb_idtab_insert(&s->index, loc.id, &fresh);
        if (!e) {
            rc = rb_store_nomem();
        } else if (fresh) {
            *e = loc;
            e->pack = no;
        }
    }
    free(buf);
    return rc == 0 ? rb_store_index_note_file(s, file) : rc;
}

static bool is_idx_name(const char *name)
{
    size_t n = strlen(name);
    if (n != RB_STORE_PACK_NAME + 4 || strcmp(name + RB_STORE_PACK_NAME, ".idx") != 0)
        return false;
    for (size_t i = 0; i < RB_STORE_PACK_NAME; i++)
        if (!strchr("0123456789abcdef", name[i]))
            return false;
    return true;
}

/* Rescanning the pack directory on every miss would make a caller that
 * probes many absent blobs slow: the directory's mtime says whether
 * anything was added since the last scan. The timestamp is coarse, so it
 * is trusted only once the scan ran well after the last change. */
#define MTIME_SLACK_NS 1000000000LL

static int64_t ns_of(const struct timespec *t)
{
    return (int64_t)t->tv_sec * 1000000000LL + t->tv_nsec;
}

static bool dir_unchanged(rb_store *s)
{
    struct stat st;
    if (!s->scanned || stat(s->packs_dir, &st) < 0)
        return false;
    return ns_of(&st.st_mtim) == s->scan_mtime_ns &&
           s->scan_time_ns - s->scan_mtime_ns > MTIME_SLACK_NS;
}

int rb_store_index_refresh(rb_store *s)
{
    struct stat st;
    struct timespec now;
    bool stamped = stat(s->packs_dir, &st) == 0 && clock_gettime(CLOCK_REALTIME, &now) == 0;
    DIR *d = opendir(s->packs_dir);
    if (!d) {
        if (errno == ENOENT) {
            s->loaded = true;
            return 0;
        }
        return rb_error_os("cannot read %s", s->packs_dir);
    }
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d))) {
        if (is_idx_name(e->d_name) && !idx_known(s, e->d_name))
            rc = load_one(s, e->d_name);
    }
    closedir(d);
    if (rc == 0)
        s->loaded = true;
    s->scanned = rc == 0 && stamped;
    if (s->scanned) {
        s->scan_mtime_ns = ns_of(&st.st_mtim);
        s->scan_time_ns = ns_of(&now);
    }
    return rc;
}

static bool find_locked(rb_store *s, const uint8_t id[32], rb_blob_loc *out)
{
    rb_blob_loc *e = rb_idtab_find(&s->index, id);
    if (e) {
        *out = *e;
        return true;
    }
    for (size_t i = 0; i < s->ntxns; i++) {
        rb_store_txn *t = s->txns[i];
        pthread_mutex_lock(&t->mu);
        e = rb_idtab_find(&t->written, id);
        if (e) {
            /* Readable before commit: the record must be in the file. */
            *out = *e;
            if (rb_store_txn_flush_locked(t) < 0)
                rb_error_clear();
        }
        pthread_mutex_unlock(&t->mu);
        if (e)
            return true;
    }
    return false;
}

int rb_store_index_ensure(rb_store *s)
{
    pthread_rwlock_rdlock(&s->index_lock);
    bool loaded = s->loaded;
    pthread_rwlock_unlock(&s->index_lock);
    if (loaded)
        return 0;
    pthread_rwlock_wrlock(&s->index_lock);
    int rc = s->loaded ? 0 : rb_store_index_refresh(s);
    pthread_rwlock_unlock(&s->index_lock);
    return rc;
}

int rb_store_index_lookup(rb_store *s, const uint8_t id[32], rb_blob_loc *out, bool reload)
{
    int rc = rb_store_index_ensure(s);
    if (rc < 0)
        return rc;
    pthread_rwlock_rdlock(&s->index_lock);
    bool found = find_locked(s, id, out);
    pthread_rwlock_unlock(&s->index_lock);
    if (found)
        return 0;
    if (reload) {
        /* Another process may have committed since the index was loaded. */
        pthread_rwlock_wrlock(&s->index_lock);
        rc = dir_unchanged(s) ? 0 : rb_store_index_refresh(s);
        found = rc == 0 && find_locked(s, id, out);
        pthread_rwlock_unlock(&s->index_lock);
        if (rc < 0)
            return rc;
        if (found)
            return 0;
    }
    char hex[RB_BLOB_ID_SIZE];
    rb_store_hex(id, hex);
    return rb_error_set(RB_ENOTFOUND, RB_ERRCLASS_STORE, "blob %s is not in store %s", hex, s->dir);
}

static void reset_locked(rb_store *s)
{
    rb_idtab_free(&s->index);
    pthread_mutex_lock(&s->packs_mu);
    for (size_t i = 0; i < s->npacks; i++)
        if (s->packs[i].fd >= 0)
            close(s->packs[i].fd);
    s->open_packs = 0;
    free(s->packs);
    s->packs = NULL;
    s->npacks = s->packs_cap = 0;
    pthread_mutex_unlock(&s->packs_mu);
    for (size_t i = 0; i < s->nidx; i++)
        free(s->idx_names[i]);
    free(s->idx_names);
    s->idx_names = NULL;
    s->nidx = s->idx_cap = 0;
    s->loaded = false;
    s->scanned = false;
}

void rb_store_index_reset(rb_store *s)
{
    pthread_rwlock_wrlock(&s->index_lock);
    reset_locked(s);
    pthread_rwlock_unlock(&s->index_lock);
}

int rb_store_index_sync(rb_store *s)
{
    pthread_rwlock_wrlock(&s->index_lock);
    /* A gc since the index was loaded may have removed records it still
     * lists; a new snapshot must not reference them. Pack numbers of open
     * transactions must stay valid, so with one open only additions are
     * picked up (gc cannot have run since it began). */
    if (s->loaded && s->ntxns == 0 && !dir_unchanged(s))
        reset_locked(s);
    int rc = s->loaded && dir_unchanged(s) ? 0 : rb_store_index_refresh(s);
    pthread_rwlock_unlock(&s->index_lock);
    return rc;
}
