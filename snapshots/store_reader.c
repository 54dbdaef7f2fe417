#include "store_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "rb_error.h"

/* Every chunk is checked against its own id as it is read, and the whole
 * content against the blob's id at the end, so a reader never hands out
 * more than one chunk of bad data before failing. */

struct rb_store_reader {
    rb_store *store;
    rb_blob_loc loc;
    uint8_t *chunks;
    size_t nchunks, next;
    uint8_t *buf;
    size_t len, pos;
    bool plain_done;
    EVP_MD_CTX *whole;
    uint64_t total;
    int failed;
};

int rb_store_reader_open(rb_store *store, const char *id, rb_store_reader **out)
{
    *out = NULL;
    uint8_t raw[32];
    int rc = rb_store_unhex(id, raw);
    if (rc < 0)
        return rc;
    rb_store_reader *r = calloc(1, sizeof *r);
    if (!r)
        return rb_store_nomem();
    r->store = store;
    rc = rb_store_index_lookup(store, raw, &r->loc, true);
    if (rc == 0 && (r->loc.flags & RB_BLOB_CHUNKLIST)) {
        rc = rb_store_chunklist_load(store, &r->loc, &r->chunks, &r->nchunks);
        r->whole = rc == 0 ? EVP_MD_CTX_new() : NULL;
        if (rc == 0 && (!r->whole || !EVP_DigestInit_ex(r->whole, EVP_sha256(), NULL)))
            rc = rb_store_nomem();
    }
    if (rc < 0) {
        rb_store_reader_close(r);
        return rc;
    }
    *out = r;
    return 0;
}

static int load_verified(rb_store_reader *r, const rb_blob_loc *loc)
{
    free(r->buf);
    r->buf = malloc(loc->orig_len ? loc->orig_len : 1);
    r->len = r->pos = 0;
    if (!r->buf)
        return rb_store_nomem();
    int rc = rb_store_record_load(r->store, loc, r->buf);
    uint8_t sum[32];
    if (rc == 0)
        rc = rb_store_sha256(r->buf, loc->orig_len, sum);
    if (rc == 0 && memcmp(sum, loc->id, 32) != 0) {
        char hex[RB_BLOB_ID_SIZE];
        rb_store_hex(loc->id, hex);
        rc = rb_error_set(RB_ECORRUPT, RB_ERRCLASS_STORE,
                          "blob %s in store %s is corrupt: its content does not hash to its id; "
                          "run 'rbhost check'",
                          hex, r->store->dir);
    }
    if (rc == 0)
        r->len = loc->orig_len;
    return rc;
}

static int next_piece(rb_store_reader *r)
{
    if (!r->chunks) {
        r->plain_done = true;
        return load_verified(r, &r->loc);
    }
    rb_blob_loc loc;
    int rc = rb_store_index_lookup(r->store, r->chunks + 32 * r->next, &loc, true);
    if (rc == 0 && (loc.flags & RB_BLOB_CHUNKLIST))
        rc = rb_error_set(RB_ECORRUPT, RB_ERRCLASS_STORE, "nested chunk list in store %s",
                          r->store->dir);
    if (rc == 0)
        rc = load_verified(r, &loc);
    if (rc == 0 && r->len > 0 && !EVP_DigestUpdate(r->whole, r->buf, r->len))
        rc = rb_error_set(RB_ERROR, RB_ERRCLASS_STORE, "SHA-256 failed");
    r->next++;
    r->total += r->len;
    return rc;
}

static int check_end(rb_store_reader *r)
{
    if (!r->chunks)
        return 0;
    uint8_t sum[32];
    unsigned int n = 0;
    if (!EVP_DigestFinal_ex(r->whole, sum, &n) || memcmp(sum, r->loc.id, 32) != 0 ||
        r->total != r->loc.orig_len) {
        char hex[RB_BLOB_ID_SIZE];
        rb_store_hex(r->loc.id, hex);
        return rb_error_set(RB_ECORRUPT, RB_ERRCLASS_STORE,
                            "blob %s in store %s is corrupt: its chunks do not hash to its id; "
                            "run 'rbhost check'",
                            hex, r->store->dir);
    }
    return 0;
}

int64_t rb_store_reader_read(rb_store_reader *r, void *buf, size_t len)
{
    if (r->failed)
        return r->failed;
    while (r->pos == r->len) {
        bool more = r->chunks ? r->next < r->nchunks : !r->plain_done;
        if (!more) {
            int rc = check_end(r);
            /* Checked once: the digest context is spent. */
            if (r->chunks) {
                free(r->chunks);
                r->chunks = NULL;
                r->plain_done = true;
            }
            return rc < 0 ? (r->failed = rc) : 0;
        }
        int rc = next_piece(r);
        if (rc < 0)
            return r->failed = rc;
    }
    size_t n = r->len - r->pos;
    if (n > len)
        n = len;
    memcpy(buf, r->buf + r->pos, n);
    r->pos += n;
    return (int64_t)n;
}

void rb_store_reader_close(rb_store_reader *r)
{
    if (!r)
        return;
    free(r->chunks);
    free(r->buf);
    EVP_MD_CTX_free(r->whole);
    free(r);
}

int rb_store_get_fd(rb_store *store, const char *id, int fd)
{
    rb_store_reader *r;
    int rc = rb_store_reader_open(store, id, &r);
    if (rc < 0)
        return rc;
    size_t cap = 1024 * 1024;
    char *buf = malloc(cap);
    if (!buf) {
        rb_store_reader_close(r);
        return rb_store_nomem();
    }
    for (;;) {
        int64_t n = rb_store_reader_read(r, buf, cap);
        if (n <= 0) {
            rc = (int)n;
            break;
        }
        const char *p = buf;
        size_t left = (size_t)n;
        while (left > 0) {
            ssize_t w = write(fd, p, left);
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0) {
                rc = rb_error_os("cannot write blob %s to file descriptor %d", id, fd);
                break;
            }
            p += w;
            left -= (size_t)w;
        }
        if (rc < 0)
            break;
    }
    free(buf);
    rb_store_reader_close(r);
    return rc;
}

int64_t rb_store_blob_size(rb_store *store, const char *id)
{
    uint8_t raw[32];
    rb_blob_loc loc;
    int rc = rb_store_unhex(id, raw);
    if (rc == 0)
        rc = rb_store_index_lookup(store, raw, &loc, true);
    return rc < 0 ? rc : (int64_t)loc.orig_len;
}

int rb_store_blob_exists(rb_store *store, const char *id)
{
    uint8_t raw[32];
    rb_blob_loc loc;
    if (rb_store_unhex(id, raw) < 0)
        return 0;
    int rc = rb_store_index_lookup(store, raw, &loc, true);
    if (rc == RB_ENOTFOUND) {
        rb_error_clear();
        return 0;
    }
    return rc < 0 ? rc : 1;
}
