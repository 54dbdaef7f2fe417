/* Reading live files: into a blob at snapshot time, into a hash when
 * comparing. A file that changes while it is read would be recorded torn,
 * so the size, mtime and ctime are compared before and after; on a change
 * the partial blob is dropped and the read retried. */
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cfg.h"

#define H             rb_cfg_host
#define READ_ATTEMPTS 5
#define CHUNK         65536

static int open_error(int err, const char *path)
{
    if (err == EACCES || err == EPERM)
        return H->error_set(RB_EPERM, RB_ERRCLASS_FILESYSTEM,
                            "cannot read %s: permission denied; run rbhost as a user who may "
                            "read it (usually root)",
                            path);
    if (err == ELOOP)
        return H->error_set(RB_ECONFLICT, RB_ERRCLASS_FILESYSTEM,
                            "%s turned into a symlink while being recorded; snapshot again", path);
    return H->error_set(rb_cfg_errno_code(err), RB_ERRCLASS_OS, "cannot read %s: %s", path,
                        strerror(err));
}

static int same_version(const struct stat *a, const struct stat *b)
{
    return a->st_size == b->st_size && a->st_ino == b->st_ino &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
           a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/* One attempt: 0 done, 1 the file changed meanwhile, <0 error. */
static int read_once(rb_op *op, cfg_entry *e)
{
    int fd = open(e->path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return open_error(errno, e->path);
    struct stat before, after, now;
    if (fstat(fd, &before) != 0 || !S_ISREG(before.st_mode)) {
        close(fd);
        return H->error_set(RB_ECONFLICT, RB_ERRCLASS_FILESYSTEM,
                            "%s stopped being a regular file while being recorded; snapshot "
                            "again",
                            e->path);
    }
    char *buf = malloc(CHUNK);
    if (!buf) {
        close(fd);
        return H->error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "configuration: out of memory");
    }
    rb_blob_writer *w = NULL;
    int rc = H->blob_writer_open(op, &w);
    if (rc) {
        free(buf);
        close(fd);
        return rc;
    }
    int64_t total = 0;
    for (;;) {
        ssize_t n = read(fd, buf, CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = H->error_set(RB_EIO, RB_ERRCLASS_OS, "cannot read %s: %s", e->path,
                              strerror(errno));
            break;
        }
        if (n == 0)
            break;
        rc = H->blob_write(w, buf, (size_t)n);
        if (rc)
            break;
        total += n;
    }
    int changed = 0;
    if (rc == 0) {
        /* Checked by fd and by path: a writer may rewrite in place or
         * rename a new file over this one. */
        changed = fstat(fd, &after) != 0 || !same_version(&before, &after) ||
                  total != (int64_t)before.st_size || lstat(e->path, &now) != 0 ||
                  now.st_ino != before.st_ino || now.st_dev != before.st_dev;
    }
    close(fd);
    free(buf);
    if (rc || changed) {
        H->blob_writer_abort(w);
        return rc ? rc : 1;
    }
    rc = H->blob_writer_commit(w, e->sha256);
    if (rc)
        return rc;
    rb_cfg_entry_from_stat(e, &after);
    return 0;
}

int rb_cfg_read_into_blob(rb_op *op, cfg_entry *e)
{
    for (int attempt = 1; attempt <= READ_ATTEMPTS; attempt++) {
        int rc = read_once(op, e);
        if (rc <= 0)
            return rc;
        H->log(RB_LOG_INFO, "%s changed while being read; reading it again", e->path);
        struct timespec pause = {0, 20L * 1000 * 1000 * attempt};
        nanosleep(&pause, NULL);
    }
    return H->error_set(RB_ECONFLICT, RB_ERRCLASS_FILESYSTEM,
                        "%s kept changing while being read (%d attempts); stop what writes it "
                        "and snapshot again",
                        e->path, READ_ATTEMPTS);
}

int rb_cfg_hash_file(const char *path, char out[RB_BLOB_ID_SIZE])
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return open_error(errno, path);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    char *buf = malloc(CHUNK);
    if (!ctx || !buf || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(ctx);
        free(buf);
        close(fd);
        return H->error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "cannot start a SHA-256 digest");
    }
    int rc = 0;
    for (;;) {
        ssize_t n = read(fd, buf, CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = H->error_set(RB_EIO, RB_ERRCLASS_OS, "cannot read %s: %s", path, strerror(errno));
            break;
        }
        if (n == 0)
            break;
        EVP_DigestUpdate(ctx, buf, (size_t)n);
    }
    close(fd);
    free(buf);
    unsigned char md[32];
    unsigned int md_len = 0;
    if (rc == 0 && EVP_DigestFinal_ex(ctx, md, &md_len) == 1 && md_len == sizeof md) {
        static const char hex[] = "0123456789abcdef";
        for (size_t i = 0; i < sizeof md; i++) {
            out[2 * i] = hex[md[i] >> 4];
            out[2 * i + 1] = hex[md[i] & 15];
        }
        out[RB_BLOB_ID_LEN] = '\0';
    } else if (rc == 0) {
        rc = H->error_set(RB_ERROR, RB_ERRCLASS_BACKEND, "SHA-256 of %s failed", path);
    }
    EVP_MD_CTX_free(ctx);
    return rc;
}
