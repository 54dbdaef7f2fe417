#include "store_internal.h"

#include <stdlib.h>
#include <string.h>

#include "rb_error.h"

int rb_store_stats_get(rb_store *store, rb_store_stats *out)
{
    memset(out, 0, sizeof *out);
    char **ids;
    size_t n;
    int rc = rb_store_snapshot_list(store, &ids, &n);
    if (rc < 0)
        return rc;
    out->snapshots = n;
    /* Original bytes are what the snapshots hold before dedup: the sum of
     * what each one recorded at commit. */
    for (size_t i = 0; i < n; i++) {
        cJSON *doc;
        if (rb_store_snapshot_read(store, ids[i], &doc) < 0) {
            rb_error_clear();
            continue;
        }
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(doc, "store");
        const cJSON *orig = cJSON_GetObjectItemCaseSensitive(st, "original_bytes");
        if (cJSON_IsNumber(orig) && orig->valuedouble > 0)
            out->original_bytes += (uint64_t)orig->valuedouble;
        cJSON_Delete(doc);
    }
    rb_store_free_list(ids, n);
    rc = rb_store_record_list(store, &ids, &n);
    if (rc < 0)
        return rc;
    out->records = n;
    rb_store_free_list(ids, n);
    pthread_rwlock_wrlock(&store->index_lock);
    rc = rb_store_index_refresh(store);
    for (size_t i = 0; rc == 0 && i < store->index.cap; i++) {
        const rb_blob_loc *e = &store->index.slots[i];
        if (!e->used)
            continue;
        out->blobs++;
        out->stored_bytes += e->stored_len;
    }
    pthread_rwlock_unlock(&store->index_lock);
    return rc;
}
