/* Copying one snapshot between stores (local or S3): each record goes
 * across as it is stored (compressed), checked against its id first; a
 * record the destination already holds is only referenced. */
#include "store_internal.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rb_error.h"

static int copy_record(rb_store *from, rb_store_txn *txn, const rb_blob_loc *loc, uint8_t **buf,
                       size_t *cap)
{
    int rc = rb_store_record_verify(from, loc);
    if (rc < 0)
        return rc;
    if (loc->stored_len > *cap || !*buf) {
        size_t ncap = loc->stored_len ? loc->stored_len : 1;
        uint8_t *nb = realloc(*buf, ncap);
        if (!nb)
            return rb_store_nomem();
        *buf = nb;
        *cap = ncap;
    }
    int fd;
    bool owned;
    rc = rb_store_pack_open(from, loc->pack, &fd, &owned);
    if (rc == 0)
        rc = rb_store_pread_all(fd, *buf, loc->stored_len, loc->offset, "pack");
    if (rc == 0 && owned)
        close(fd);
    return rc == 0 ? rb_store_txn_append_raw(txn, loc, *buf) : rc;
}

static int copy_blobs(rb_store *from, rb_store_txn *txn, const uint8_t *ids, size_t n,
                      rb_store_copy_stats *st)
{
    uint8_t *buf = NULL;
    size_t cap = 0;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const uint8_t *id = ids + 32 * i;
        rb_blob_loc have;
        if (rb_store_txn_known(txn, id, &have)) {
            rc = rb_store_txn_use(txn, id, &have);
            st->reused_blobs++;
            continue;
        }
        rb_blob_loc loc;
        rc = rb_store_index_lookup(from, id, &loc, true);
        if (rc == 0)
            rc = copy_record(from, txn, &loc, &buf, &cap);
        if (rc == 0) {
            st->copied_blobs++;
            st->copied_bytes += loc.stored_len;
        }
    }
    free(buf);
    return rc;
}

int rb_store_copy_snapshot(rb_store *from, rb_store *to, const char *id, rb_store_copy_stats *st)
{
    memset(st, 0, sizeof *st);
    cJSON *doc = NULL;
    int rc = rb_store_snapshot_read(from, id, &doc);
    if (rc < 0)
        return rc;
    const char *refs = cJSON_GetStringValue(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(doc, "store"), "refs"));
    uint8_t refs_raw[32];
    uint8_t *ids = NULL;
    size_t n = 0;
    if (!refs || rb_store_unhex(refs, refs_raw) < 0)
        rc = rb_error_set(RB_ECORRUPT, RB_ERRCLASS_STORE,
                          "snapshot '%s' in %s has no valid \"store\".\"refs\" blob id", id,
                          rb_store_location(from));
    char *expect = rc == 0 ? strdup(refs) : NULL;
    if (rc == 0 && !expect)
        rc = rb_store_nomem();
    if (rc == 0)
        rc = rb_store_snapshot_refs(from, doc, &ids, &n);
    /* The blobs the snapshot uses come first, then the refs blob and its
     * chunks, which the commit writes again from the same list. */
    size_t used = 0;
    while (rc == 0 && used < n && memcmp(ids + 32 * used, refs_raw, 32) != 0)
        used++;
    rb_store_txn *txn = NULL;
    if (rc == 0)
        rc = rb_store_txn_begin(to, &txn);
    if (rc == 0)
        rc = copy_blobs(from, txn, ids, used, st);
    free(ids);
    if (rc == 0) {
        cJSON_DeleteItemFromObjectCaseSensitive(doc, "store");
        rc = rb_store_import_commit(txn, id, doc, expect);
        txn = NULL;
    }
    if (txn)
        rb_store_txn_abort(txn);
    free(expect);
    cJSON_Delete(doc);
    return rc;
}
