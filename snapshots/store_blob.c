#include "store_internal.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rb_error.h"

/* Chunk list record: "RBCL0001", chunk count (u64), total length (u64),
 * the chunk ids, then the SHA-256 of everything before it (the list is
 * stored under the whole content's id, so it needs its own checksum). */
#define LIST_MAGIC "RBCL0001"
#define LIST_HEAD  24

static int corrupt(const rb_blob_loc *loc, const char *why)
{
    char hex[RB_BLOB_ID_SIZE];
    rb_store_hex(loc->id, hex);
    return rb_error_set(RB_ECORRUPT, RB_ERRCLASS_STORE, "blob %s is corrupt: %s", hex, why);
}

static int read_stored(rb_store *s, const rb_blob_loc *loc, void *buf)
{
    int fd;
    bool owned;
    int rc = rb_store_pack_open(s, loc->pack, &fd, &owned);
    if (rc < 0)
        return rc;
    if (loc->stored_len > 0)
        rc = rb_store_pread_all(fd, buf, loc->stored_len, loc->offset, "pack");
    if (owned)
        close(fd);
    if (rc == RB_ECORRUPT)
        return corrupt(loc, "its pack file is truncated");
    return rc;
}

int rb_store_record_load(rb_store *s, const rb_blob_loc *loc, void *out)
{
    if (!(loc->flags & RB_BLOB_ZSTD)) {
        if (loc->stored_len != loc->orig_len)
            return corrupt(loc, "stored and original sizes differ");
        return read_stored(s, loc, out);
    }
    void *buf = malloc(loc->stored_len ? loc->stored_len : 1);
    if (!buf)
        return rb_store_nomem();
    int rc = read_stored(s, loc, buf);
    if (rc == 0) {
        ZSTD_DCtx *d = rb_store_dctx_get(s);
        if (!d) {
            rc = rb_store_nomem();
        } else {
            size_t n = ZSTD_decompressDCtx(d, out, loc->orig_len, buf, loc->stored_len);
            rb_store_dctx_put(s, d);
            if (ZSTD_isError(n))
                rc = corrupt(loc, ZSTD_getErrorName(n));
            else if (n != loc->orig_len)
                rc = corrupt(loc, "it decompresses to the wrong size");
        }
    }
    free(buf);
    return rc;
}

size_t rb_store_chunklist_size(size_t nchunks)
{
    return LIST_HEAD + nchunks * 32 + 32;
}

int rb_store_chunklist_encode(const uint8_t *ids, size_t nchunks, uint64_t total, uint8_t *out)
{
    memcpy(out, LIST_MAGIC, 8);
    for (int i = 0; i < 8; i++) {
        out[8 + i] = (uint8_t)((uint64_t)nchunks >> (8 * i));
        out[16 + i] = (uint8_t)(total >> (8 * i));
    }
    memcpy(out + LIST_HEAD, ids, nchunks * 32);
    size_t body = LIST_HEAD + nchunks * 32;
    return rb_store_sha256(out, body, out + body);
}

int rb_store_chunklist_load(rb_store *s, const rb_blob_loc *loc, uint8_t **ids, size_t *n)
{
    *ids = NULL;
    *n = 0;
    if (!(loc->flags & RB_BLOB_CHUNKLIST) || loc->stored_len < LIST_HEAD + 32 ||
        (loc->stored_len - LIST_HEAD - 32) % 32 != 0)
        return corrupt(loc, "bad chunk list");
    uint8_t *buf = malloc(loc->stored_len);
    if (!buf)
        return rb_store_nomem();
    int rc = read_stored(s, loc, buf);
    if (rc < 0) {
        free(buf);
        return rc;
    }
    size_t count = (loc->stored_len - LIST_HEAD - 32) / 32;
    uint64_t c = 0, total = 0;
    for (int i = 7; i >= 0; i--) {
        c = c << 8 | buf[8 + i];
        total = total << 8 | buf[16 + i];
    }
    uint8_t sum[32];
    size_t body = loc->stored_len - 32;
    if (memcmp(buf, LIST_MAGIC, 8) != 0 || c != count || total != loc->orig_len ||
        rb_store_sha256(buf, body, sum) < 0 || memcmp(sum, buf + body, 32) != 0) {
        free(buf);
        return corrupt(loc, "its chunk list fails its checksum");
    }
    memmove(buf, buf + LIST_HEAD, count * 32);
    *ids = buf;
    *n = count;
    return 0;
}

int rb_store_record_verify(rb_store *s, const rb_blob_loc *loc)
{
    if (loc->flags & RB_BLOB_CHUNKLIST) {
        uint8_t *ids;
        size_t n;
        int rc = rb_store_chunklist_load(s, loc, &ids, &n);
        free(ids);
        return rc;
    }
    void *buf = malloc(loc->orig_len ? loc->orig_len : 1);
    if (!buf)
        return rb_store_nomem();
    int rc = rb_store_record_load(s, loc, buf);
    uint8_t sum[32];
    if (rc == 0)
        rc = rb_store_sha256(buf, loc->orig_len, sum);
    if (rc == 0 && memcmp(sum, loc->id, 32) != 0)
        rc = corrupt(loc, "its content does not hash to its id");
    free(buf);
    return rc;
}
