#include "store_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "rb_error.h"

typedef struct commit_stats {
    uint64_t blobs, stored, original;
} commit_stats;

static uint64_t be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

static int cmp_id(const void *a, const void *b)
{
    /* Random ids almost always differ in their first 8 bytes. */
    uint64_t x = be64(a), y = be64(b);
    if (x != y)
        return x < y ? -1 : 1;
    return memcmp(a, b, 32);
}

/* Ids are uniformly random: one counting pass on their first two bytes
 * leaves buckets of one or two, so a re-snapshot of 68k files sorts its
 * refs in a few milliseconds instead of qsort's tens. */
static int sort_ids(uint8_t *ids, size_t n)
{
    if (n < 4096) {
        qsort(ids, n, 32, cmp_id);
        return 0;
    }
    size_t *start = calloc(65537, sizeof *start);
    uint8_t *tmp = malloc(n * 32);
    if (!start || !tmp) {
        free(start);
        free(tmp);
        return rb_store_nomem();
    }
    for (size_t i = 0; i < n; i++)
        start[(ids[32 * i] << 8 | ids[32 * i + 1]) + 1]++;
    for (size_t b = 1; b <= 65536; b++)
        start[b] += start[b - 1];
    for (size_t i = 0; i < n; i++) {
        size_t b = (size_t)(ids[32 * i] << 8 | ids[32 * i + 1]);
        memcpy(tmp + 32 * start[b]++, ids + 32 * i, 32);
    }
    /* start[b] is now the end of bucket b, which begins where b-1 ends. */
    for (size_t b = 0, from = 0; b < 65536; from = start[b++]) {
        if (start[b] - from > 1)
            qsort(tmp + 32 * from, start[b] - from, 32, cmp_id);
    }
    memcpy(ids, tmp, n * 32);
    free(tmp);
    free(start);
    return 0;
}

/* The refs blob: the sorted raw ids of every blob the snapshot uses, so
 * check and gc know what each snapshot needs without asking its backend. */
static int collect_refs(rb_store_txn *t, uint8_t **out, size_t *n_out, commit_stats *st)
{
    rb_store *s = t->store;
    pthread_mutex_lock(&t->mu);
    size_t n = t->used.count, k = 0, nunknown = 0;
    uint8_t *ids = malloc(n ? n * 32 : 1);
    uint8_t *unknown = malloc(n ? n * 32 : 1);
    for (size_t i = 0; ids && unknown && i < t->used.cap; i++) {
        const rb_blob_loc *u = &t->used.slots[i];
        if (!u->used)
            continue;
        memcpy(ids + 32 * k++, u->id, 32);
        const rb_blob_loc *e = u;
        if (u->pack == RB_LOC_UNKNOWN && !(e = rb_idtab_find(&t->written, u->id))) {
            memcpy(unknown + 32 * nunknown++, u->id, 32);
            continue;
        }
        st->stored += e->stored_len;
        if (!(e->flags & RB_BLOB_CHUNKLIST))
            st->original += e->orig_len;
    }
    pthread_mutex_unlock(&t->mu);
    if (!ids || !unknown) {
        free(ids);
        free(unknown);
        return rb_store_nomem();
    }
    /* Taken after the transaction's lock, never inside it (lock order). */
    pthread_rwlock_rdlock(&s->index_lock);
    for (size_t i = 0; i < nunknown; i++) {
        const rb_blob_loc *e = rb_idtab_find(&s->index, unknown + 32 * i);
        if (!e)
            continue;
        st->stored += e->stored_len;
        if (!(e->flags & RB_BLOB_CHUNKLIST))
            st->original += e->orig_len;
    }
    pthread_rwlock_unlock(&s->index_lock);
    free(unknown);
    int rc = sort_ids(ids, n);
    if (rc < 0) {
        free(ids);
        return rc;
    }
    st->blobs = n;
    *out = ids;
    *n_out = n;
    return 0;
}

/* Sorted random ids do not compress: stored as is when they fit in one
 * record, without trying. */
static int put_refs(rb_store_txn *txn, const uint8_t *ids, size_t len, char hex[RB_BLOB_ID_SIZE])
{
    if (len > RB_STORE_CHUNK_SIZE)
        return rb_store_put(txn, ids, len, hex);
    uint8_t id[32];
    int rc = rb_store_sha256(ids, len, id);
    if (rc == 0)
        rc = rb_store_txn_put_raw(txn, ids, len, id);
    if (rc == 0)
        rb_store_hex(id, hex);
    return rc;
}

static int write_document(rb_store *s, const char *id, cJSON *doc, const char *refs,
                          const commit_stats *st, bool replace)
{
    cJSON *store = cJSON_CreateObject();
    if (!store || !cJSON_AddStringToObject(store, "refs", refs) ||
        !cJSON_AddNumberToObject(store, "blobs", (double)st->blobs) ||
        !cJSON_AddNumberToObject(store, "stored_bytes", (double)st->stored) ||
        !cJSON_AddNumberToObject(store, "original_bytes", (double)st->original)) {
        cJSON_Delete(store);
        return rb_store_nomem();
    }
    cJSON_DeleteItemFromObjectCaseSensitive(doc, "store");
    cJSON_AddItemToObject(doc, "store", store);
    char *text = cJSON_Print(doc);
    char *path = rb_store_meta_path(s, id);
    int rc =
        !text || !path ? rb_store_nomem() : rb_store_file_write(path, text, strlen(text), !replace);
    if (rc == RB_EEXISTS)
        rc = rb_error_set(RB_EEXISTS, RB_ERRCLASS_STORE, "snapshot '%s' already exists in store %s",
                          id, s->dir);
    free(text);
    free(path);
    return rc;
}

static int commit(rb_store_txn *txn, const char *id, cJSON *doc, const char *expect_refs,
                  bool amend)
{
    rb_store *s = txn->store;
    int rc = rb_store_id_validate(id, "snapshot id");
    if (rc == 0 && !cJSON_IsObject(doc))
        rc = rb_error_set(RB_EINVAL, RB_ERRCLASS_INVALID,
                          "snapshot '%s': the metadata document must be a JSON object", id);
    char *path = rc == 0 ? rb_store_meta_path(s, id) : NULL;
    struct stat st;
    if (rc == 0 && !path)
        rc = rb_store_nomem();
    else if (rc == 0 && !amend && lstat(path, &st) == 0)
        rc = rb_error_set(RB_EEXISTS, RB_ERRCLASS_STORE, "snapshot '%s' already exists in store %s",
                          id, s->dir);
    free(path);
    if (rc == 0)
        rc = txn->failed;
    uint8_t *ids = NULL;
    size_t n = 0;
    commit_stats cs = {0, 0, 0};
    char refs[RB_BLOB_ID_SIZE];
    if (rc == 0)
        rc = collect_refs(txn, &ids, &n, &cs);
    if (rc == 0)
        rc = put_refs(txn, ids, n * 32, refs);
    free(ids);
    if (rc == 0 && expect_refs && strcmp(refs, expect_refs) != 0)
        rc = rb_error_set(RB_ECORRUPT, RB_ERRCLASS_STORE,
                          "refusing to import snapshot '%s': the archive does not hold exactly "
                          "the blobs the snapshot uses",
                          id);
    bool indexed = false;
    if (rc == 0) {
        rc = rb_store_txn_write_indexes(txn);
        indexed = rc == 0;
    }
    if (rc == 0)
        rc = write_document(s, id, doc, refs, &cs, amend);
    /* Once indexed, the packs are valid store content: a failed document
     * only leaves unreferenced blobs for gc. */
    rb_store_txn_free(txn, !indexed);
    return rc;
}

int rb_store_snapshot_commit(rb_store_txn *txn, const char *id, cJSON *doc)
{
    return commit(txn, id, doc, NULL, false);
}

int rb_store_import_commit(rb_store_txn *txn, const char *id, cJSON *doc, const char *refs)
{
    return commit(txn, id, doc, refs, false);
}

int rb_store_snapshot_amend(rb_store_txn *txn, const char *id, cJSON *doc)
{
    /* The blobs the snapshot already has stay in its refs: the new
     * document replaces the old one with the union of both. */
    cJSON *old = NULL;
    uint8_t *ids = NULL;
    size_t n = 0;
    int rc = rb_store_snapshot_read(txn->store, id, &old);
    if (rc == 0)
        rc = rb_store_snapshot_refs(txn->store, old, &ids, &n);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        char hex[RB_BLOB_ID_SIZE];
        rb_store_hex(ids + 32 * i, hex);
        rc = rb_store_ref(txn, hex);
    }
    free(ids);
    cJSON_Delete(old);
    if (rc) {
        rb_store_txn_abort(txn);
        return rc;
    }
    return commit(txn, id, doc, NULL, true);
}
