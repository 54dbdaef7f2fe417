#include "store_internal.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "rb_error.h"

/* Content longer than one chunk is cut into fixed-size chunks, each a blob
 * of its own, so memory stays bounded whatever the stream's length and
 * unchanged chunks of a large file deduplicate. The last full chunk is held
 * back until more data arrives: content of exactly one chunk is stored as a
 * plain blob. */

struct rb_store_writer {
    rb_store_txn *txn;
    uint8_t *buf;
    size_t fill;
    EVP_MD_CTX *whole;
    uint64_t total;
    rb_store_chunker *chunker; /* started by the first full chunk */
    int failed;
};

int rb_store_writer_open(rb_store_txn *txn, rb_store_writer **out)
{
    *out = NULL;
    rb_store_writer *w = calloc(1, sizeof *w);
    if (!w)
        return rb_store_nomem();
    w->txn = txn;
    w->buf = malloc(RB_STORE_CHUNK_SIZE);
    w->whole = EVP_MD_CTX_new();
    if (!w->buf || !w->whole || !EVP_DigestInit_ex(w->whole, EVP_sha256(), NULL)) {
        rb_store_writer_abort(w);
        return rb_store_nomem();
    }
    *out = w;
    return 0;
}

static int submit(rb_store_writer *w, bool more)
{
    int rc = w->chunker ? 0 : rb_store_chunker_new(w->txn, &w->chunker);
    if (rc < 0)
        return rc;
    uint8_t *full = w->buf;
    w->buf = NULL;
    rc = rb_store_chunker_submit(w->chunker, full, w->fill, more ? &w->buf : NULL);
    w->fill = 0;
    return rc;
}

int rb_store_writer_write(rb_store_writer *w, const void *data, size_t len)
{
    if (w->failed)
        return w->failed;
    const uint8_t *p = data;
    if (len > 0 && !EVP_DigestUpdate(w->whole, p, len))
        return w->failed = rb_error_set(RB_ERROR, RB_ERRCLASS_STORE, "SHA-256 failed");
    w->total += len;
    while (len > 0) {
        if (w->fill == RB_STORE_CHUNK_SIZE) {
            int rc = submit(w, true);
            if (rc < 0)
                return w->failed = rc;
        }
        size_t n = RB_STORE_CHUNK_SIZE - w->fill;
        if (n > len)
            n = len;
        memcpy(w->buf + w->fill, p, n);
        w->fill += n;
        p += n;
        len -= n;
    }
    return 0;
}

int rb_store_writer_commit(rb_store_writer *w, char id_out[RB_BLOB_ID_SIZE])
{
    int rc = w->failed;
    uint8_t whole[32];
    unsigned int dlen = 0;
    if (rc == 0 && (!EVP_DigestFinal_ex(w->whole, whole, &dlen) || dlen != 32))
        rc = rb_error_set(RB_ERROR, RB_ERRCLASS_STORE, "SHA-256 failed");
    if (rc == 0 && !w->chunker) {
        rc = rb_store_txn_put_chunk(w->txn, w->buf, w->fill, whole);
    } else if (rc == 0) {
        const uint8_t *ids;
        size_t n;
        if (w->fill > 0)
            rc = submit(w, false);
        if (rc == 0)
            rc = rb_store_chunker_finish(w->chunker, &ids, &n);
        if (rc == 0)
            rc = rb_store_txn_put_list(w->txn, whole, ids, n, w->total);
    }
    if (rc == 0)
        rb_store_hex(whole, id_out);
    rb_store_writer_abort(w);
    return rc;
}

void rb_store_writer_abort(rb_store_writer *w)
{
    if (!w)
        return;
    rb_store_chunker_free(w->chunker);
    EVP_MD_CTX_free(w->whole);
    free(w->buf);
    free(w);
}

int rb_store_put(rb_store_txn *txn, const void *data, size_t len, char id_out[RB_BLOB_ID_SIZE])
{
    uint8_t whole[32];
    int rc = rb_store_sha256(data, len, whole);
    if (rc < 0)
        return rc;
    if (len <= RB_STORE_CHUNK_SIZE) {
        rc = rb_store_txn_put_chunk(txn, data, len, whole);
        if (rc == 0)
            rb_store_hex(whole, id_out);
        return rc;
    }
    rb_store_hex(whole, id_out);
    /* Stored already: only its chunks need marking as used. */
    rb_blob_loc loc;
    if (rb_store_txn_known(txn, whole, &loc))
        return rb_store_ref(txn, id_out);
    rb_store_writer *w;
    rc = rb_store_writer_open(txn, &w);
    if (rc == 0)
        rc = rb_store_writer_write(w, data, len);
    if (rc < 0) {
        rb_store_writer_abort(w);
        return rc;
    }
    return rb_store_writer_commit(w, id_out);
}

/* Reads until `len` bytes or end of file; returns the count or -1. */
static ssize_t read_full(int fd, char *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = read(fd, buf + got, len - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            break;
        got += (size_t)n;
    }
    return (ssize_t)got;
}

int rb_store_put_fd(rb_store_txn *txn, int fd, char id_out[RB_BLOB_ID_SIZE])
{
    /* Most files of a tree are small: read them whole into a buffer of
     * their size and store them in one piece. One byte more than the size
     * is asked for, to notice a file that grew meanwhile. */
    struct stat st;
    size_t cap = 1024 * 1024;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size < (off_t)RB_STORE_CHUNK_SIZE)
        cap = (size_t)st.st_size + 1;
    char *buf = malloc(cap);
    if (!buf)
        return rb_store_nomem();
    ssize_t n = read_full(fd, buf, cap);
    if (n >= 0 && (size_t)n < cap) {
        int rc = rb_store_put(txn, buf, (size_t)n, id_out);
        free(buf);
        return rc;
    }
    rb_store_writer *w = NULL;
    int rc =
        n < 0 ? rb_error_os("cannot read file descriptor %d", fd) : rb_store_writer_open(txn, &w);
    while (rc == 0 && n > 0) {
        rc = rb_store_writer_write(w, buf, (size_t)n);
        if (rc == 0 && (n = read_full(fd, buf, cap)) < 0)
            rc = rb_error_os("cannot read file descriptor %d", fd);
    }
    free(buf);
    if (rc < 0) {
        rb_store_writer_abort(w);
        return rc;
    }
    return rb_store_writer_commit(w, id_out);
}
