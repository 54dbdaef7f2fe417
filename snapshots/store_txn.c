#include "store_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rb_error.h"
#include "rb_fs.h"
#include "store_s3.h"

/* Full packs of a transaction are synced in batches so that a snapshot of
 * many GiB does not keep hundreds of descriptors open until commit. */
#define DONE_FDS_MAX 8
/* Small records are gathered and written in one call: a snapshot of tens
 * of thousands of small files should not cost a system call each. */
#define WBUF_CAP (1024u * 1024u)

static int grow_array(void **arr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t ncap = *cap ? *cap * 2 : 8;
    while (ncap < need)
        ncap *= 2;
    void *n = realloc(*arr, ncap * elem);
    if (!n)
        return rb_store_nomem();
    *arr = n;
    *cap = ncap;
    return 0;
}

static int txn_create(rb_store *store, rb_store_txn **out, bool take_lock)
{
    *out = NULL;
    int rc = rb_fs_mkdir_p(store->packs_dir, RB_STORE_DIR_MODE);
    if (rc < 0)
        return rc;
    rb_store_txn *t = calloc(1, sizeof *t);
    if (!t)
        return rb_store_nomem();
    t->store = store;
    t->pack_fd = -1;
    t->data_lock_fd = -1;
    pthread_mutex_init(&t->mu, NULL);
    if (take_lock)
        rc = rb_store_data_lock(store, false, &t->data_lock_fd);
    if (rc == 0)
        rc = take_lock ? rb_store_index_sync(store) : rb_store_index_ensure(store);
    if (rc == 0) {
        /* A re-snapshot uses about as many blobs as the store holds; the
         * pages of a table sized for that are only touched where used. */
        pthread_rwlock_rdlock(&store->index_lock);
        size_t expect = store->index.count;
        pthread_rwlock_unlock(&store->index_lock);
        if (rb_idtab_reserve(&t->used, expect) < 0)
            rc = rb_store_nomem();
    }
    if (rc == 0) {
        pthread_rwlock_wrlock(&store->index_lock);
        rc = grow_array((void **)&store->txns, &store->txns_cap, store->ntxns + 1,
                        sizeof *store->txns);
        if (rc == 0)
            store->txns[store->ntxns++] = t;
        pthread_rwlock_unlock(&store->index_lock);
    }
    if (rc < 0) {
        if (t->data_lock_fd >= 0)
            close(t->data_lock_fd);
        rb_idtab_free(&t->used);
        pthread_mutex_destroy(&t->mu);
        free(t);
        return rc;
    }
    *out = t;
    return 0;
}

int rb_store_txn_begin(rb_store *store, rb_store_txn **out)
{
    return txn_create(store, out, true);
}

int rb_store_txn_begin_locked(rb_store *store, rb_store_txn **out)
{
    return txn_create(store, out, false);
}

static int sync_done(rb_store_txn *t)
{
    int rc = 0;
    for (size_t i = 0; i < t->ndone; i++) {
        if (rc == 0 && fsync(t->done_fds[i]) < 0)
            rc = errno == ENOSPC ? rb_error_set(RB_ENOSPC, RB_ERRCLASS_OS,
                                                "no space left on device writing a pack in %s",
                                                t->store->packs_dir)
                                 : rb_error_os("cannot sync a pack in %s", t->store->packs_dir);
        close(t->done_fds[i]);
    }
    t->ndone = 0;
    return rc;
}

int rb_store_txn_flush_locked(rb_store_txn *t)
{
    if (t->wlen == 0)
        return 0;
    int rc = rb_store_pwrite_all(t->pack_fd, t->wbuf, t->wlen, t->pack_off - t->wlen,
                                 t->store->packs_dir);
    t->wlen = 0;
    if (rc < 0)
        t->failed = rc;
    return rc;
}

/* A full pack of an S3 store goes up while the next one fills. */
static int upload_pack(rb_store_txn *t, uint32_t no)
{
    rb_store *s = t->store;
    if (!s->s3)
        return 0;
    char name[RB_STORE_PACK_NAME + 1];
    pthread_mutex_lock(&s->packs_mu);
    memcpy(name, s->packs[no].name, sizeof name);
    pthread_mutex_unlock(&s->packs_mu);
    return rb_store_s3_pack_done(s, &t->s3_uploads, name);
}

/* Called with t->mu held. */
static int new_pack(rb_store_txn *t)
{
    rb_store *s = t->store;
    int frc = rb_store_txn_flush_locked(t);
    if (frc < 0)
        return frc;
    uint8_t rnd[RB_STORE_PACK_NAME / 2];
    char name[RB_STORE_PACK_NAME + 1];
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
        return rb_error_os("cannot get random bytes for a pack name");
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < sizeof rnd; i++) {
        name[2 * i] = digits[rnd[i] >> 4];
        name[2 * i + 1] = digits[rnd[i] & 15];
    }
    name[RB_STORE_PACK_NAME] = '\0';
    char *path = rb_store_path(s->packs_dir, "%s.pack", name);
    if (!path)
        return rb_store_nomem();
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, RB_STORE_FILE_MODE);
    int rc = 0;
    if (fd < 0)
        rc = errno == ENOSPC ? rb_error_set(RB_ENOSPC, RB_ERRCLASS_OS,
                                            "no space left on device creating %s", path)
                             : rb_error_os("cannot create pack %s", path);
    else if (fchmod(fd, RB_STORE_FILE_MODE) < 0)
        rc = rb_error_os("cannot set the mode of %s", path);
    free(path);
    uint32_t no = 0;
    if (rc == 0)
        rc = grow_array((void **)&t->packs, &t->packs_cap, t->npacks + 1, sizeof *t->packs);
    if (rc == 0)
        rc = grow_array((void **)&t->done_fds, &t->done_cap, t->ndone + 2, sizeof *t->done_fds);
    if (rc == 0)
        rc = rb_store_pack_register(s, name, &no);
    if (rc < 0) {
        if (fd >= 0)
            close(fd);
        return rc;
    }
    t->packs[t->npacks++] = no;
    if (t->pack_fd >= 0) {
        t->done_fds[t->ndone++] = t->pack_fd;
        rc = upload_pack(t, t->pack_no);
        if (rc < 0) {
            t->pack_fd = fd;
            t->pack_no = no;
            return rc;
        }
    }
    t->pack_fd = fd;
    t->pack_no = no;
    t->pack_off = 0;
    if (t->ndone >= DONE_FDS_MAX)
        return sync_done(t);
    return 0;
}

/* Called with t->mu held. `loc`, when known, saves the commit a lookup
 * per blob: a re-snapshot referencing 68k blobs must stay cheap. */
static int use_locked(rb_store_txn *t, const uint8_t id[32], const rb_blob_loc *loc)
{
    bool fresh;
    rb_blob_loc *e = rb_idtab_insert(&t->used, id, &fresh);
    if (!e)
        return rb_store_nomem();
    if (fresh && loc) {
        e->flags = loc->flags;
        e->orig_len = loc->orig_len;
        e->stored_len = loc->stored_len;
        e->pack = 0;
    } else if (fresh) {
        e->pack = RB_LOC_UNKNOWN;
    }
    return 0;
}

int rb_store_txn_use(rb_store_txn *txn, const uint8_t id[32], const rb_blob_loc *loc)
{
    pthread_mutex_lock(&txn->mu);
    int rc = use_locked(txn, id, loc);
    pthread_mutex_unlock(&txn->mu);
    return rc;
}

static int append(rb_store_txn *t, const uint8_t id[32], const void *data, size_t len,
                  uint32_t flags, uint64_t orig_len)
{
    pthread_mutex_lock(&t->mu);
    int rc = t->failed;
    const rb_blob_loc *dup = rc == 0 ? rb_idtab_find(&t->written, id) : NULL;
    if (dup) {
        rc = use_locked(t, id, dup);
        pthread_mutex_unlock(&t->mu);
        return rc;
    }
    if (rc == 0 && (t->pack_fd < 0 || (t->pack_off > 0 && t->pack_off + len > RB_STORE_PACK_MAX)))
        rc = new_pack(t);
    if (rc == 0 && (len >= WBUF_CAP / 2 || t->wlen + len > WBUF_CAP))
        rc = rb_store_txn_flush_locked(t);
    if (rc == 0 && len >= WBUF_CAP / 2) {
        rc = rb_store_pwrite_all(t->pack_fd, data, len, t->pack_off, t->store->packs_dir);
    } else if (rc == 0) {
        if (!t->wbuf && !(t->wbuf = malloc(WBUF_CAP)))
            rc = rb_store_nomem();
        else if (len > 0)
            memcpy(t->wbuf + t->wlen, data, len);
        if (rc == 0)
            t->wlen += len;
    }
    if (rc == 0) {
        bool fresh;
        rb_blob_loc *e = rb_idtab_insert(&t->written, id, &fresh);
        if (!e) {
            rc = rb_store_nomem();
        } else {
            e->pack = t->pack_no;
            e->flags = flags;
            e->offset = t->pack_off;
            e->orig_len = orig_len;
            e->stored_len = (uint32_t)len;
            t->pack_off += len;
            rc = use_locked(t, id, e);
        }
    }
    /* A failed write may have left part of a record: nothing after it can
     * be trusted, so the transaction can only be aborted now. */
    if (rc < 0 && rc != RB_ENOMEM)
        t->failed = rc;
    pthread_mutex_unlock(&t->mu);
    return rc;
}

int rb_store_txn_append_raw(rb_store_txn *txn, const rb_blob_loc *loc, const void *stored)
{
    return append(txn, loc->id, stored, loc->stored_len, loc->flags, loc->orig_len);
}

bool rb_store_txn_known(rb_store_txn *t, const uint8_t id[32], rb_blob_loc *loc)
{
    rb_store *s = t->store;
    pthread_rwlock_rdlock(&s->index_lock);
    const rb_blob_loc *e = rb_idtab_find(&s->index, id);
    if (e)
        *loc = *e;
    pthread_rwlock_unlock(&s->index_lock);
    if (!e) {
        pthread_mutex_lock(&t->mu);
        e = rb_idtab_find(&t->written, id);
        if (e)
            *loc = *e;
        pthread_mutex_unlock(&t->mu);
    }
    return e != NULL;
}

int rb_store_txn_put_chunk(rb_store_txn *txn, const void *data, size_t len, const uint8_t id[32])
{
    rb_blob_loc loc;
    if (rb_store_txn_known(txn, id, &loc))
        return rb_store_txn_use(txn, id, &loc);
    void *buf;
    const void *out;
    size_t out_len;
    uint32_t flags;
    int rc = rb_store_compress(txn->store, data, len, &buf, &out, &out_len, &flags);
    if (rc == 0)
        rc = append(txn, id, out, out_len, flags, len);
    free(buf);
    return rc;
}

int rb_store_txn_put_raw(rb_store_txn *txn, const void *data, size_t len, const uint8_t id[32])
{
    rb_blob_loc loc;
    if (rb_store_txn_known(txn, id, &loc))
        return rb_store_txn_use(txn, id, &loc);
    return append(txn, id, data, len, 0, len);
}

int rb_store_txn_put_list(rb_store_txn *txn, const uint8_t whole_id[32], const uint8_t *ids,
                          size_t nchunks, uint64_t total)
{
    rb_blob_loc loc;
    if (rb_store_txn_known(txn, whole_id, &loc))
        return rb_store_txn_use(txn, whole_id, &loc);
    size_t len = rb_store_chunklist_size(nchunks);
    uint8_t *buf = malloc(len);
    if (!buf)
        return rb_store_nomem();
    int rc = rb_store_chunklist_encode(ids, nchunks, total, buf);
    if (rc == 0)
        rc = append(txn, whole_id, buf, len, RB_BLOB_CHUNKLIST, total);
    free(buf);
    return rc;
}

int rb_store_ref(rb_store_txn *txn, const char *id)
{
    uint8_t raw[32];
    int rc = rb_store_unhex(id, raw);
    if (rc < 0)
        return rc;
    rb_blob_loc loc;
    rc = rb_store_index_lookup(txn->store, raw, &loc, true);
    if (rc < 0)
        return rc;
    if (loc.flags & RB_BLOB_CHUNKLIST) {
        uint8_t *ids;
        size_t n;
        rc = rb_store_chunklist_load(txn->store, &loc, &ids, &n);
        if (rc < 0)
            return rc;
        pthread_mutex_lock(&txn->mu);
        for (size_t i = 0; rc == 0 && i < n; i++)
            rc = use_locked(txn, ids + 32 * i, NULL);
        pthread_mutex_unlock(&txn->mu);
        free(ids);
        if (rc < 0)
            return rc;
    }
    return rb_store_txn_use(txn, raw, &loc);
}

int rb_store_txn_finish_packs(rb_store_txn *t)
{
    int rc = t->pack_fd >= 0 ? rb_store_txn_flush_locked(t) : 0;
    if (rc < 0)
        return rc;
    if (t->pack_fd >= 0) {
        t->done_fds[t->ndone++] = t->pack_fd;
        t->pack_fd = -1;
        rc = upload_pack(t, t->pack_no);
    }
    int src = sync_done(t);
    int urc = rb_store_s3_packs_wait(&t->s3_uploads);
    return rc < 0 ? rc : src < 0 ? src : urc;
}

/* Pack data is synced before the index naming it, and the index before
 * the metadata naming its blobs: a crash at any point leaves either a
 * complete snapshot or garbage that gc removes. */
int rb_store_txn_write_indexes(rb_store_txn *t)
{
    rb_store *s = t->store;
    int rc = rb_store_txn_finish_packs(t);
    if (rc < 0 || t->npacks == 0)
        return rc;
    rb_blob_loc *entries = malloc((t->written.count ? t->written.count : 1) * sizeof *entries);
    if (!entries)
        return rb_store_nomem();
    for (size_t p = 0; rc == 0 && p < t->npacks; p++) {
        size_t n = 0;
        for (size_t i = 0; i < t->written.cap; i++)
            if (t->written.slots[i].used && t->written.slots[i].pack == t->packs[p])
                entries[n++] = t->written.slots[i];
        rc = rb_store_index_write(s, t->packs[p], entries, n);
    }
    free(entries);
    if (rc < 0)
        return rc;
    pthread_rwlock_wrlock(&s->index_lock);
    for (size_t i = 0; rc == 0 && i < t->written.cap; i++) {
        const rb_blob_loc *w = &t->written.slots[i];
        if (!w->used)
            continue;
        bool fresh;
        rb_blob_loc *e = rb_idtab_insert(&s->index, w->id, &fresh);
        if (!e)
            rc = rb_store_nomem();
        else if (fresh)
            *e = *w;
    }
    for (size_t p = 0; rc == 0 && p < t->npacks; p++) {
        char name[RB_STORE_PACK_NAME + 8];
        pthread_mutex_lock(&s->packs_mu);
        snprintf(name, sizeof name, "%s.idx", s->packs[t->packs[p]].name);
        pthread_mutex_unlock(&s->packs_mu);
        rc = rb_store_index_note_file(s, name);
    }
    pthread_rwlock_unlock(&s->index_lock);
    return rc;
}

void rb_store_txn_free(rb_store_txn *txn, bool remove_packs)
{
    rb_store *s = txn->store;
    rb_store_saved_error saved;
    rb_store_error_save(&saved);
    if (txn->s3_uploads)
        rb_store_s3_packs_wait(&txn->s3_uploads);
    if (txn->pack_fd >= 0)
        txn->done_fds[txn->ndone++] = txn->pack_fd;
    for (size_t i = 0; i < txn->ndone; i++)
        close(txn->done_fds[i]);
    pthread_rwlock_wrlock(&s->index_lock);
    for (size_t i = 0; i < s->ntxns; i++) {
        if (s->txns[i] == txn) {
            s->txns[i] = s->txns[--s->ntxns];
            break;
        }
    }
    pthread_mutex_lock(&s->packs_mu);
    for (size_t i = 0; remove_packs && i < txn->npacks; i++) {
        rb_store_pack *p = &s->packs[txn->packs[i]];
        /* The index goes first: an index naming a missing pack is damage,
         * a pack without an index only garbage. */
        char *idx = rb_store_path(s->packs_dir, "%s.idx", p->name);
        char *path = rb_store_path(s->packs_dir, "%s.pack", p->name);
        /* In an S3 store, packs already up go too; a failure leaves
         * garbage that gc removes. */
        if (idx)
            rb_store_file_remove(idx);
        if (path)
            rb_store_file_remove(path);
        free(idx);
        free(path);
        if (p->fd >= 0) {
            close(p->fd);
            s->open_packs--;
        }
        p->fd = -1;
    }
    pthread_mutex_unlock(&s->packs_mu);
    pthread_rwlock_unlock(&s->index_lock);
    rb_store_error_restore(&saved);
    rb_idtab_free(&txn->written);
    rb_idtab_free(&txn->used);
    free(txn->packs);
    free(txn->done_fds);
    free(txn->wbuf);
    if (txn->data_lock_fd >= 0)
        close(txn->data_lock_fd);
    pthread_mutex_destroy(&txn->mu);
    free(txn);
}

void rb_store_txn_abort(rb_store_txn *txn)
{
    if (txn)
        rb_store_txn_free(txn, true);
}
