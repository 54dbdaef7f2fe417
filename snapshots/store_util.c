#include "store_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "rb_error.h"
#include "rb_fs.h"
#include "store_s3.h"

static atomic_uint tmp_seq;

void rb_store_hex(const uint8_t id[32], char out[RB_BLOB_ID_SIZE])
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        out[2 * i] = digits[id[i] >> 4];
        out[2 * i + 1] = digits[id[i] & 15];
    }
    out[RB_BLOB_ID_LEN] = '\0';
}

/* A digit's value + 1; 0 for anything but a lowercase hex digit. */
static const int8_t hexval[256] = {
    ['0'] = 1, ['1'] = 2,  ['2'] = 3,  ['3'] = 4,  ['4'] = 5,  ['5'] = 6,  ['6'] = 7,  ['7'] = 8,
    ['8'] = 9, ['9'] = 10, ['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16,
};

int rb_store_unhex(const char *hex, uint8_t id[32])
{
    bool ok = hex != NULL;
    for (int i = 0; ok && i < 32; i++) {
        int hi = hexval[(unsigned char)hex[2 * i]] - 1;
        int lo = hi < 0 ? -1 : hexval[(unsigned char)hex[2 * i + 1]] - 1;
        ok = hi >= 0 && lo >= 0;
        if (ok)
            id[i] = (uint8_t)(hi << 4 | lo);
    }
    if (!ok || hex[RB_BLOB_ID_LEN] != '\0')
        return rb_error_set(RB_EINVAL, RB_ERRCLASS_INVALID,
                            "invalid blob id '%s': expected 64 lowercase hex digits",
                            hex ? hex : "(null)");
    return 0;
}

int rb_store_sha256(const void *data, size_t len, uint8_t out[32])
{
    unsigned int n = 0;
    if (!EVP_Digest(data, len, out, &n, EVP_sha256(), NULL) || n != 32)
        return rb_error_set(RB_ERROR, RB_ERRCLASS_STORE, "SHA-256 failed");
    return 0;
}

int rb_store_nomem(void)
{
    return rb_error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
}

char *rb_store_path(const char *dir, const char *fmt, ...)
{
    char name[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof name)
        return NULL;
    return rb_fs_join(dir, name);
}

static int write_error(const char *path)
{
    if (errno == ENOSPC || errno == EDQUOT)
        return rb_error_set(RB_ENOSPC, RB_ERRCLASS_OS,
                            "no space left on device writing %s: free space on the store's "
                            "file system or choose another store with --store",
                            path);
    return rb_error_os("cannot write %s", path);
}

int rb_store_pwrite_all(int fd, const void *data, size_t len, uint64_t off, const char *path)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = pwrite(fd, p, len, (off_t)off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return write_error(path);
        }
        p += n;
        off += (uint64_t)n;
        len -= (size_t)n;
    }
    return 0;
}

int rb_store_pread_all(int fd, void *buf, size_t len, uint64_t off, const char *path)
{
    char *p = buf;
    while (len > 0) {
        ssize_t n = pread(fd, p, len, (off_t)off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return rb_error_os("cannot read %s", path);
        }
        if (n == 0)
            return rb_error_set(RB_ECORRUPT, RB_ERRCLASS_STORE,
                                "%s is truncated: run 'rbhost check'", path);
        p += n;
        off += (uint64_t)n;
        len -= (size_t)n;
    }
    return 0;
}

void rb_store_error_save(rb_store_saved_error *e)
{
    const rb_error_info *last = rb_error_last();
    e->code = last->code;
    e->klass = (int)last->klass;
    e->message = last->code ? strdup(last->message) : NULL;
}

void rb_store_error_restore(rb_store_saved_error *e)
{
    if (e->code && e->message)
        rb_error_set(e->code, (rb_error_class)e->klass, "%s", e->message);
    else
        rb_error_clear();
    free(e->message);
    e->message = NULL;
}

int rb_store_file_remove(const char *path)
{
    int rc = rb_store_s3_remove_path(path);
    if (rc == 0 && unlink(path) < 0 && errno != ENOENT)
        rc = rb_error_os("cannot remove %s", path);
    return rc;
}

int rb_store_file_publish(const char *path)
{
    return rb_store_s3_put_file_path(path);
}

int rb_store_file_write(const char *path, const void *data, size_t len, bool noreplace)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return rb_error_set(RB_EINVAL, RB_ERRCLASS_INVALID, "not an absolute path: %s", path);
    /* In an S3 store the bucket is written first: it is the store. */
    int s3rc = rb_store_s3_put_path(path, data, len, noreplace);
    if (s3rc < 0)
        return s3rc;
    char *dir = strndup(path, (size_t)(slash - path));
    char *tmp = rb_store_path(dir && *dir ? dir : "/", ".%s.tmp.%ld.%u", slash + 1, (long)getpid(),
                              atomic_fetch_add(&tmp_seq, 1));
    if (!dir || !tmp) {
        free(dir);
        free(tmp);
        return rb_store_nomem();
    }
    int rc = 0;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, RB_STORE_FILE_MODE);
    if (fd < 0) {
        rc = errno == ENOSPC ? write_error(tmp) : rb_error_os("cannot create %s", tmp);
        goto out;
    }
    if (fchmod(fd, RB_STORE_FILE_MODE) < 0) {
        rc = rb_error_os("cannot set the mode of %s", tmp);
    } else if ((rc = rb_store_pwrite_all(fd, data, len, 0, path)) == 0 && fsync(fd) < 0) {
        rc = write_error(path);
    }
    if (close(fd) < 0 && rc == 0)
        rc = write_error(path);
    if (rc == 0) {
        if (noreplace) {
            if (link(tmp, path) < 0)
                rc = errno == EEXIST
                         ? rb_error_set(RB_EEXISTS, RB_ERRCLASS_STORE, "%s already exists", path)
                         : rb_error_os("cannot create %s", path);
        } else if (rename(tmp, path) < 0) {
            rc = rb_error_os("cannot rename %s to %s", tmp, path);
        }
    }
    if (rc != 0 || noreplace)
        unlink(tmp);
    if (rc == 0)
        rc = rb_fs_fsync_dir(*dir ? dir : "/");
out:
    free(dir);
    free(tmp);
    return rc;
}
