#include "fs_content.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs_failure.h"

#define BUF (1u << 20)

int rb_fs_content_same(int fd, const rb_fs_entry *e)
{
    if (!(e->flags & RB_FS_F_BLOB))
        return e->size == 0;
    unsigned char *buf = malloc(BUF);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!buf || !md || !EVP_DigestInit_ex(md, EVP_sha256(), NULL)) {
        free(buf);
        EVP_MD_CTX_free(md);
        return -ENOMEM;
    }
    /* A sparse file's blob is its data extents; outside them the recorded
     * file reads as zeros. */
    uint64_t whole[2] = {0, e->size};
    const uint64_t *ext = e->flags & RB_FS_F_SPARSE ? e->extents : whole;
    uint32_t n_ext = e->flags & RB_FS_F_SPARSE ? e->n_extents : 1;
    uint64_t off = 0;
    uint32_t k = 0;
    int same = 1;
    while (same && off < e->size) {
        ssize_t n = pread(fd, buf, BUF, (off_t)off);
        if (n < 0) {
            same = -errno;
            break;
        }
        if (n == 0) {
            same = 0;
            break;
        }
        for (uint64_t i = 0; i < (uint64_t)n && same == 1;) {
            uint64_t at = off + i;
            while (k < n_ext && ext[2 * k] + ext[2 * k + 1] <= at)
                k++;
            uint64_t chunk_end = off + (uint64_t)n;
            if (k < n_ext && ext[2 * k] <= at) {
                uint64_t end = ext[2 * k] + ext[2 * k + 1];
                uint64_t stop = end < chunk_end ? end : chunk_end;
                EVP_DigestUpdate(md, buf + i, stop - at);
                i += stop - at;
            } else {
                uint64_t next = k < n_ext ? ext[2 * k] : e->size;
                uint64_t stop = next < chunk_end ? next : chunk_end;
                for (uint64_t z = i; z < i + (stop - at); z++)
                    if (buf[z]) {
                        same = 0;
                        break;
                    }
                i += stop - at;
            }
        }
        off += (uint64_t)n;
    }
    unsigned char digest[32];
    if (same == 1 && EVP_DigestFinal_ex(md, digest, NULL))
        same = !memcmp(digest, e->blob, 32);
    EVP_MD_CTX_free(md);
    free(buf);
    return same;
}

int rb_fs_content_write(const rb_host_api *host, rb_op *op, int fd, const rb_fs_entry *e)
{
    if (!(e->flags & RB_FS_F_BLOB))
        return ftruncate(fd, (off_t)e->size) < 0 ? rb_fs_errno_code(errno) : 0;
    char id[RB_BLOB_ID_SIZE];
    rb_fs_blob_hex(e->blob, id);
    if (!(e->flags & RB_FS_F_SPARSE))
        return host->blob_get_fd(op, id, fd);
    rb_blob_reader *r = NULL;
    int rc = host->blob_reader_open(op, id, &r);
    if (rc)
        return rc;
    char *buf = malloc(BUF);
    if (!buf) {
        host->blob_reader_close(r);
        return RB_ENOMEM;
    }
    for (uint32_t i = 0; i < e->n_extents && !rc; i++) {
        uint64_t off = e->extents[2 * i], left = e->extents[2 * i + 1];
        while (left && !rc) {
            int64_t n = host->blob_read(r, buf, left < BUF ? left : BUF);
            if (n <= 0) {
                rc = n < 0 ? (int)n : RB_ECORRUPT;
                break;
            }
            for (int64_t done = 0; done < n && !rc;) {
                ssize_t w = pwrite(fd, buf + done, (size_t)(n - done), (off_t)(off + done));
                if (w < 0)
                    rc = rb_fs_errno_code(errno);
                else
                    done += w;
            }
            off += (uint64_t)n;
            left -= (uint64_t)n;
        }
    }
    /* Reading to the end makes the reader check the content's hash. */
    if (!rc && host->blob_read(r, buf, 1) != 0)
        rc = RB_ECORRUPT;
    free(buf);
    host->blob_reader_close(r);
    if (!rc && ftruncate(fd, (off_t)e->size) < 0)
        rc = rb_fs_errno_code(errno);
    return rc;
}
