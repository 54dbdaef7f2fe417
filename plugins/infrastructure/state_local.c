/* The local backend: a terraform.tfstate file. Written the way Terraform's
 * statemgr.Filesystem would, under its lock, with the replaced state kept
 * in <state>.backup (Terraform's DefaultBackupExtension), but atomically:
 * a temporary file in the same directory, fsynced, renamed over the state,
 * the directory fsynced, so a crash leaves the old state or the new one,
 * never a truncated one. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "infra.h"
#include "local_lock.h"

static int read_all(int fd, const char *path, rb_infra_buf *out)
{
    size_t cap = 65536, len = 0;
    char *data = malloc(cap + 1);
    if (!data)
        return rb_infra_host->error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
    for (;;) {
        if (len == cap) {
            char *grown = realloc(data, cap * 2 + 1);
            if (!grown) {
                free(data);
                return rb_infra_host->error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
            }
            data = grown;
            cap *= 2;
        }
        ssize_t n = pread(fd, data + len, cap - len, (off_t)len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int err = errno;
            free(data);
            return rb_infra_host->error_set(RB_EIO, RB_ERRCLASS_OS, "cannot read %s: %s", path,
                                            strerror(err));
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    data[len] = '\0';
    out->data = data;
    out->len = len;
    return 0;
}

static int refuse_locked(const char *state_path, int held)
{
    char *info_path = rb_infra_lockinfo_path(state_path);
    if (!info_path)
        return rb_infra_host->error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
    int rc = rb_infra_lockinfo_refuse(state_path, info_path, held);
    free(info_path);
    return rc;
}

static int local_read(const rb_infra_target *t, rb_infra_buf *doc, int *exists)
{
    *exists = 0;
    int fd = open(t->state_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT)
        return 0;
    if (fd < 0)
        return rb_infra_host->error_set(errno == EACCES ? RB_EPERM : RB_EIO, RB_ERRCLASS_OS,
                                        "cannot open %s: %s", t->state_path, strerror(errno));
    /* A shared lock: Terraform truncates and rewrites the file in place
     * under its write lock, so a read without one could see half a state. */
    int rc = rb_infra_local_lock_fd(fd, F_RDLCK, t->state_path);
    if (rc == RB_ELOCKED)
        rc = refuse_locked(t->state_path, 1);
    if (rc == 0)
        rc = read_all(fd, t->state_path, doc);
    close(fd);
    if (rc == 0)
        *exists = doc->len > 0;
    return rc;
}

static int fsync_dir_of(const char *path)
{
    char *dir = strdup(path);
    if (!dir)
        return -1;
    char *slash = strrchr(dir, '/');
    if (slash == dir)
        dir[1] = '\0';
    else if (slash)
        *slash = '\0';
    else
        strcpy(dir, ".");
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(dir);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

/* Replaces path with data: temporary file, fsync, rename, fsync of the
 * directory. The file gets the mode and owner of `like`. */
static int write_atomic(const char *path, const rb_infra_buf *data, const struct stat *like)
{
    const char *slash = strrchr(path, '/');
    int dir_len = slash ? (int)(slash - path + 1) : 0;
    char *tmp = NULL;
    if (asprintf(&tmp, "%.*s.%s.rbhost-XXXXXX", dir_len, path, slash ? slash + 1 : path) < 0)
        return rb_infra_host->error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        int err = errno;
        free(tmp);
        return rb_infra_host->error_set(err == EACCES ? RB_EPERM : RB_EIO, RB_ERRCLASS_OS,
                                        "cannot create a temporary file next to %s: %s", path,
                                        strerror(err));
    }
    const char *step = NULL;
    size_t done = 0;
    while (!step && done < data->len) {
        ssize_t n = write(fd, data->data + done, data->len - done);
        if (n < 0 && errno != EINTR)
            step = "write";
        else if (n > 0)
            done += (size_t)n;
    }
    if (!step && fchmod(fd, like->st_mode & 07777) < 0)
        step = "set the mode of";
    if (!step && geteuid() == 0 && fchown(fd, like->st_uid, like->st_gid) < 0)
        step = "set the owner of";
    if (!step && fsync(fd) < 0)
        step = "fsync";
    int err = errno;
    close(fd);
    if (!step && rename(tmp, path) < 0) {
        step = "rename a temporary file over";
        err = errno;
    }
    if (step) {
        unlink(tmp);
        free(tmp);
        return rb_infra_host->error_set(err == ENOSPC ? RB_ENOSPC : RB_EIO, RB_ERRCLASS_OS,
                                        "cannot %s %s: %s", step, path, strerror(err));
    }
    free(tmp);
    if (fsync_dir_of(path) < 0)
        return rb_infra_host->error_set(RB_EIO, RB_ERRCLASS_OS,
                                        "wrote %s but cannot fsync its directory: %s", path,
                                        strerror(errno));
    return 0;
}

/* Writes the backup, then the new state: the replaced state is safe on
 * disk before it is overwritten, as in Terraform. */
static int write_state(const rb_infra_target *t, int fd, const rb_infra_buf *current,
                       const rb_infra_buf *next, rb_node *result)
{
    struct stat st;
    if (fstat(fd, &st) < 0)
        return rb_infra_host->error_set(RB_EIO, RB_ERRCLASS_OS, "cannot stat %s: %s", t->state_path,
                                        strerror(errno));
    if (current->len) {
        char *backup = NULL;
        if (asprintf(&backup, "%s.backup", t->state_path) < 0)
            return rb_infra_host->error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
        int rc = write_atomic(backup, current, &st);
        if (rc == 0 && !rb_infra_host->node_add_string(result, "backup_path", backup))
            rc = RB_ENOMEM;
        free(backup);
        if (rc < 0)
            return rc;
    }
    return write_atomic(t->state_path, next, &st);
}

static int local_replace(rb_op *op, const rb_infra_target *t, rb_infra_decide_fn decide, void *ctx,
                         rb_node *result)
{
    const rb_host_api *h = rb_infra_host;
    int created = access(t->state_path, F_OK) < 0 && errno == ENOENT;
    /* Terraform creates the state file to lock it, too: the lock lives on
     * the file, so a missing state is locked by creating it empty. */
    int fd = open(t->state_path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0)
        return h->error_set(errno == EACCES ? RB_EPERM : RB_EIO, RB_ERRCLASS_OS,
                            "cannot open %s: %s", t->state_path, strerror(errno));
    char *info_path = rb_infra_lockinfo_path(t->state_path);
    int info_taken = 0, written = 0;
    rb_infra_buf current = {NULL, 0}, next = {NULL, 0};
    int rc = info_path ? rb_infra_local_lock_fd(fd, F_WRLCK, t->state_path)
                       : h->error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
    if (rc == RB_ELOCKED)
        rc = rb_infra_lockinfo_refuse(t->state_path, info_path, 1);
    if (rc == 0) {
        rc = rb_infra_lockinfo_create(t->state_path, info_path, h->op_snapshot_id(op));
        info_taken = rc == 0;
    }
    if (rc == 0) {
        h->log(RB_LOG_DEBUG, "locked %s (%s)", t->state_path, info_path);
        rc = read_all(fd, t->state_path, &current);
    }
    if (rc == 0)
        rc = decide(ctx, current.len ? &current : NULL, &next);
    if (rc == 0 && next.data) {
        rc = write_state(t, fd, &current, &next, result);
        written = rc == 0;
    }
    if (rc == 0 && !h->node_add_string(result, "state_path", t->state_path))
        rc = RB_ENOMEM;
    if (info_taken && unlink(info_path) < 0 && errno != ENOENT)
        h->log(RB_LOG_WARN, "could not remove the lock info file %s: %s; remove it by hand",
               info_path, strerror(errno));
    struct stat now;
    if (created && !written && fstat(fd, &now) == 0 && now.st_size == 0)
        unlink(t->state_path);
    close(fd);
    free(info_path);
    rb_infra_buf_free(&current);
    rb_infra_buf_free(&next);
    return rc;
}

const rb_infra_backend rb_infra_backend_local = {local_read, local_replace};
