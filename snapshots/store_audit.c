/* The audit log: <store>/audit.log, one line per state-changing command.
 *
 * Lines are only appended (O_APPEND, one write per line, fsync) under an
 * exclusive flock of the log itself: the store's own lock is shared by
 * snapshots taken at the same time, and each of them must read the last
 * line and append its own without another line slipping in between. */
#include "store_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rb_error.h"
#include "rb_fs.h"

#define AUDIT_NAME "audit.log"

/* The last line of the log, read from the end. A log that does not end
 * with a newline was cut short by a crash: *torn says so, and the next
 * line starts on a line of its own. */
static int read_last_line(int fd, off_t size, const char *path, char **out, bool *torn)
{
    *out = NULL;
    *torn = false;
    if (size == 0)
        return 0;
    for (size_t want = 4096;; want *= 4) {
        off_t start = size > (off_t)want ? size - (off_t)want : 0;
        size_t len = (size_t)(size - start);
        char *buf = malloc(len + 1);
        if (!buf)
            return rb_store_nomem();
        int rc = rb_store_pread_all(fd, buf, len, (uint64_t)start, path);
        if (rc < 0) {
            free(buf);
            return rc;
        }
        buf[len] = '\0';
        size_t end = len;
        if (buf[end - 1] == '\n')
            end--;
        else
            *torn = true;
        size_t begin = end;
        while (begin > 0 && buf[begin - 1] != '\n')
            begin--;
        if (begin > 0 || start == 0) {
            *out = strndup(buf + begin, end - begin);
            free(buf);
            return *out ? 0 : rb_store_nomem();
        }
        free(buf);
    }
}

static int write_all(int fd, const char *data, size_t len, const char *path)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return rb_error_os("cannot append to %s", path);
        }
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

static int append_locked(rb_store *store, int fd, const char *path, rb_store_audit_fn make,
                         void *arg)
{
    struct stat st;
    if (fstat(fd, &st) < 0)
        return rb_error_os("cannot read %s", path);
    char *last;
    bool torn;
    int rc = read_last_line(fd, st.st_size, path, &last, &torn);
    if (rc < 0)
        return rc;
    char *line = make(last, arg);
    free(last);
    if (!line)
        return rb_error_last()->code ? rb_error_last()->code : RB_ERROR;
    size_t len = strlen(line);
    char *buf = malloc(len + 3);
    if (!buf) {
        free(line);
        return rb_store_nomem();
    }
    size_t off = 0;
    if (torn)
        buf[off++] = '\n';
    memcpy(buf + off, line, len);
    off += len;
    buf[off++] = '\n';
    free(line);
    /* One write: a reader never sees half a line unless the system crashes
     * in the middle of it, which verify then reports. */
    rc = write_all(fd, buf, off, path);
    free(buf);
    if (rc == 0 && fsync(fd) < 0)
        rc = rb_error_os("cannot sync %s", path);
    if (rc == 0 && st.st_size == 0)
        rc = rb_fs_fsync_dir(store->dir);
    return rc;
}

int rb_store_audit_append(rb_store *store, rb_store_audit_fn make, void *arg)
{
    char *path = rb_fs_join(store->dir, AUDIT_NAME);
    if (!path)
        return rb_store_nomem();
    int fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, RB_STORE_FILE_MODE);
    if (fd < 0) {
        int rc = rb_error_os("cannot open the audit log %s", path);
        free(path);
        return rc;
    }
    int rc = 0;
    while (flock(fd, LOCK_EX) < 0) {
        if (errno != EINTR) {
            rc = rb_error_os("cannot lock the audit log %s", path);
            break;
        }
    }
    if (rc == 0)
        rc = append_locked(store, fd, path, make, arg);
    /* Still under the log's lock: an S3 store's copy gets every line. */
    if (rc == 0)
        rc = rb_store_file_publish(path);
    close(fd);
    free(path);
    return rc;
}

int rb_store_audit_read(rb_store *store, char **text_out, size_t *len_out)
{
    *text_out = NULL;
    if (len_out)
        *len_out = 0;
    char *path = rb_fs_join(store->dir, AUDIT_NAME);
    if (!path)
        return rb_store_nomem();
    size_t len = 0;
    int rc = rb_fs_read_all(path, text_out, &len);
    if (rc == RB_ENOTFOUND) {
        rb_error_clear();
        *text_out = strdup("");
        rc = *text_out ? 0 : rb_store_nomem();
    }
    free(path);
    if (rc == 0 && len_out)
        *len_out = len;
    return rc;
}
