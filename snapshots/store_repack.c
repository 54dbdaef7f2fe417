#include "store_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rb_error.h"
#include "rb_fs.h"

/* Every snapshot adds a pack and its index, and every command loads all
 * the indexes: gc merges small packs so that a store of many snapshots
 * stays quick to open. Only packs under 4 MiB qualify, so a merge (run at
 * each delete-snapshot) copies little. Used only with gc's locks held. */

#define SMALL_PACK (RB_STORE_PACK_MAX / 16)
#define MERGE_MIN  16 /* fewer small packs are not worth rewriting */

int rb_store_repack_copy(rb_store_txn *t, uint32_t from, const rb_blob_loc *recs, size_t n)
{
    int src = -1;
    bool owned = false;
    int rc = rb_store_pack_open(t->store, from, &src, &owned);
    uint8_t *buf = NULL;
    size_t cap = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (recs[i].stored_len > cap || !buf) {
            cap = recs[i].stored_len ? recs[i].stored_len : 1;
            uint8_t *nb = realloc(buf, cap);
            if (!nb) {
                rc = rb_store_nomem();
                break;
            }
            buf = nb;
        }
        rc = rb_store_pread_all(src, buf, recs[i].stored_len, recs[i].offset, "pack");
        if (rc == 0)
            rc = rb_store_txn_append_raw(t, &recs[i], buf);
    }
    free(buf);
    if (owned)
        close(src);
    return rc;
}

typedef struct small_pack {
    uint32_t no;
    char name[RB_STORE_PACK_NAME + 1];
} small_pack;

static int find_small(rb_store *s, small_pack **out, size_t *n_out)
{
    pthread_mutex_lock(&s->packs_mu);
    size_t npacks = s->npacks, n = 0;
    small_pack *list = malloc((npacks ? npacks : 1) * sizeof *list);
    for (size_t i = 0; list && i < npacks; i++) {
        list[i].no = (uint32_t)i;
        memcpy(list[i].name, s->packs[i].name, sizeof list[i].name);
    }
    pthread_mutex_unlock(&s->packs_mu);
    if (!list)
        return rb_store_nomem();
    for (size_t i = 0; i < npacks; i++) {
        char *path = rb_store_path(s->packs_dir, "%s.pack", list[i].name);
        struct stat st;
        if (path && stat(path, &st) == 0 && st.st_size < (off_t)SMALL_PACK)
            list[n++] = list[i];
        free(path);
    }
    *out = list;
    *n_out = n;
    return 0;
}

/* The records of pack `no` the index serves from it (a blob stored twice
 * is kept once). */
static int served_records(rb_store *s, const small_pack *p, rb_blob_loc **out, size_t *n_out)
{
    char *path = rb_store_path(s->packs_dir, "%s.idx", p->name);
    if (!path)
        return rb_store_nomem();
    rb_blob_loc *recs;
    size_t n, kept = 0;
    int rc = rb_store_index_read(path, &recs, &n);
    free(path);
    if (rc < 0)
        return rc;
    pthread_rwlock_rdlock(&s->index_lock);
    for (size_t i = 0; i < n; i++) {
        const rb_blob_loc *canon = rb_idtab_find(&s->index, recs[i].id);
        if (canon && canon->pack == p->no && canon->offset == recs[i].offset)
            recs[kept++] = recs[i];
    }
    pthread_rwlock_unlock(&s->index_lock);
    *out = recs;
    *n_out = kept;
    return 0;
}

int rb_store_pack_remove(rb_store *s, const char *name)
{
    char *idx = rb_store_path(s->packs_dir, "%s.idx", name);
    char *pack = rb_store_path(s->packs_dir, "%s.pack", name);
    int rc = !idx || !pack ? rb_store_nomem() : 0;
    /* Index first: a pack without an index is garbage, an index without
     * its pack is damage. */
    if (rc == 0)
        rc = rb_store_file_remove(idx);
    if (rc == 0)
        rc = rb_store_file_remove(pack);
    free(idx);
    free(pack);
    return rc;
}

int rb_store_repack_small(rb_store *s)
{
    small_pack *small = NULL;
    size_t n = 0;
    int rc = find_small(s, &small, &n);
    if (rc < 0)
        return rc;
    if (n < MERGE_MIN) {
        free(small);
        return 0;
    }
    rb_store_txn *t = NULL;
    rc = rb_store_txn_begin_locked(s, &t);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        rb_blob_loc *recs = NULL;
        size_t nrecs = 0;
        rc = served_records(s, &small[i], &recs, &nrecs);
        if (rc == RB_ECORRUPT) {
            /* A damaged index stays for check to report; its pack stays
             * with it. */
            rb_error_clear();
            small[i].no = UINT32_MAX;
            rc = 0;
            continue;
        }
        if (rc == 0)
            rc = rb_store_repack_copy(t, small[i].no, recs, nrecs);
        free(recs);
    }
    /* The copies are durable and indexed before any original goes. */
    if (rc == 0)
        rc = rb_store_txn_write_indexes(t);
    if (t)
        rb_store_txn_free(t, rc < 0);
    for (size_t i = 0; rc == 0 && i < n; i++)
        if (small[i].no != UINT32_MAX)
            rc = rb_store_pack_remove(s, small[i].name);
    if (rc == 0)
        rc = rb_fs_fsync_dir(s->packs_dir);
    free(small);
    return rc;
}
