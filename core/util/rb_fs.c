#include "rb_fs.h"

#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rb_error.h"

static atomic_uint tmp_counter;

char *rb_fs_join(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    int slash = la > 0 && a[la - 1] != '/';
    char *out = malloc(la + lb + 2);
    if (!out)
        return NULL;
    memcpy(out, a, la);
    if (slash)
        out[la] = '/';
    memcpy(out + la + slash, b, lb + 1);
    return out;
}

int rb_fs_fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return rb_error_os("cannot open directory %s", dir);
    if (fsync(fd) < 0 && errno != EINVAL) {
        int rc = rb_error_os("cannot sync directory %s", dir);
        close(fd);
        return rc;
    }
    close(fd);
    return 0;
}

static int write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int rb_fs_write_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
    const char *slash = strrchr(path, '/');
    size_t dirlen = slash ? (size_t)(slash - path) : 0;
    const char *base = slash ? slash + 1 : path;
    char dir[4096], tmp[4200];
    if (dirlen >= sizeof dir)
        return rb_error_set(RB_EINVAL, RB_ERRCLASS_INVALID, "path too long: %s", path);
    if (slash) {
        memcpy(dir, path, dirlen);
        dir[dirlen] = '\0';
        if (dirlen == 0)
            strcpy(dir, "/");
    } else {
        strcpy(dir, ".");
    }
    snprintf(tmp, sizeof tmp, "%s/.%s.tmp.%ld.%u", dir, base, (long)getpid(),
             atomic_fetch_add(&tmp_counter, 1));
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0)
        return rb_error_os("cannot create %s", tmp);
    /* The mode asked for, whatever the umask. */
    if (fchmod(fd, mode) < 0 || write_all(fd, data, len) < 0 || fsync(fd) < 0) {
        int rc = rb_error_os("cannot write %s", path);
        close(fd);
        unlink(tmp);
        return rc;
    }
    if (close(fd) < 0) {
        int rc = rb_error_os("cannot write %s", path);
        unlink(tmp);
        return rc;
    }
    if (rename(tmp, path) < 0) {
        int rc = rb_error_os("cannot rename %s to %s", tmp, path);
        unlink(tmp);
        return rc;
    }
    return rb_fs_fsync_dir(dir);
}

int rb_fs_read_all(const char *path, char **data, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return rb_error_os("cannot open %s", path);
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int rc = rb_error_os("cannot stat %s", path);
        close(fd);
        return rc;
    }
    size_t cap = st.st_size > 0 ? (size_t)st.st_size + 1 : 4096, used = 0;
    char *buf = malloc(cap);
    if (!buf) {
        close(fd);
        return rb_error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
    }
    for (;;) {
        if (used + 1 >= cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                close(fd);
                return rb_error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
            }
            buf = nb;
            cap *= 2;
        }
        ssize_t n = read(fd, buf + used, cap - used - 1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            int rc = rb_error_os("cannot read %s", path);
            free(buf);
            close(fd);
            return rc;
        }
        if (n == 0)
            break;
        used += (size_t)n;
    }
    close(fd);
    buf[used] = '\0';
    *data = buf;
    if (len)
        *len = used;
    return 0;
}

int rb_fs_mkdir_p(const char *path, mode_t mode)
{
    char buf[4096];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof buf)
        return rb_error_set(RB_EINVAL, RB_ERRCLASS_INVALID, "bad directory path '%s'", path);
    memcpy(buf, path, n + 1);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, mode) < 0 && errno != EEXIST)
            return rb_error_os("cannot create directory %s", buf);
        *p = '/';
    }
    if (mkdir(buf, mode) < 0 && errno != EEXIST)
        return rb_error_os("cannot create directory %s", buf);
    struct stat st;
    if (stat(buf, &st) < 0)
        return rb_error_os("cannot stat %s", buf);
    if (!S_ISDIR(st.st_mode))
        return rb_error_set(RB_EEXISTS, RB_ERRCLASS_OS, "%s exists and is not a directory", buf);
    return 0;
}

static int remove_at(int parent, const char *name)
{
    if (unlinkat(parent, name, 0) == 0 || errno == ENOENT)
        return 0;
    if (errno != EISDIR && errno != EPERM)
        return rb_error_os("cannot remove %s", name);
    int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return rb_error_os("cannot open %s", name);
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return rb_error_os("cannot read %s", name);
    }
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        rc = remove_at(dirfd(d), e->d_name);
    }
    closedir(d);
    if (rc == 0 && unlinkat(parent, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
        rc = rb_error_os("cannot remove directory %s", name);
    return rc;
}

int rb_fs_remove_tree(const char *path)
{
    return remove_at(AT_FDCWD, path);
}
