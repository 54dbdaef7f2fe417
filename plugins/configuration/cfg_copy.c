/* backup_location: besides the store, a plain copy of the recorded files
 * under <backup_location>/<snapshot id>/<absolute path>, for people to read
 * and diff with ordinary tools. Rollbacks never read it; the store holds
 * the bytes that count. The copy is written from the stored blobs (already
 * verified) and is private: directories 0700, files 0600, since
 * configuration often holds secrets. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfg.h"

#define H rb_cfg_host

static int os_error(int err, const char *what, const char *path)
{
    return H->error_set(rb_cfg_errno_code(err), RB_ERRCLASS_OS, "backup_location: cannot %s %s: %s",
                        what, path, strerror(err));
}

static int mkdirs(char *path)
{
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        int rc = mkdir(path, 0700) == 0 || errno == EEXIST ? 0 : os_error(errno, "create", path);
        *p = '/';
        if (rc)
            return rc;
    }
    return mkdir(path, 0700) == 0 || errno == EEXIST ? 0 : os_error(errno, "create", path);
}

static int copy_entry(rb_op *op, const char *root, const cfg_entry *e)
{
    char *dst = rb_cfg_path_join(root, e->path + 1);
    if (!dst)
        return H->error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
    int rc = 0;
    if (e->kind == CFG_DIR) {
        rc = mkdirs(dst);
    } else if (e->kind == CFG_FILE || e->kind == CFG_SYMLINK) {
        char *parent = rb_cfg_path_parent(dst);
        rc = parent ? mkdirs(parent)
                    : H->error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
        free(parent);
    }
    if (rc == 0 && e->kind == CFG_SYMLINK && symlink(e->target, dst) != 0)
        rc = os_error(errno, "create", dst);
    if (rc == 0 && e->kind == CFG_FILE) {
        int fd = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0) {
            rc = os_error(errno, "create", dst);
        } else {
            rc = H->blob_get_fd(op, e->sha256, fd);
            if (close(fd) != 0 && rc == 0)
                rc = os_error(errno, "write", dst);
        }
    }
    free(dst);
    return rc;
}

int rb_cfg_copy_write(rb_op *op, const cfg_set *s, char **copy_dir)
{
    *copy_dir = NULL;
    const char *location = H->node_string(H->node_get(H->config(op), "backup_location"));
    if (!location || !*location)
        return 0;
    char *base = rb_cfg_path_absolute(location);
    char *root = base ? rb_cfg_path_join(base, H->op_snapshot_id(op)) : NULL;
    free(base);
    if (!root)
        return H->error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
    struct stat st;
    if (lstat(root, &st) == 0) {
        int rc = H->error_set(RB_EEXISTS, RB_ERRCLASS_CONFIG,
                              "backup_location: %s already exists; remove it or choose another "
                              "snapshot id",
                              root);
        free(root);
        return rc;
    }
    int rc = mkdirs(root);
    for (size_t i = 0; rc == 0 && i < s->n; i++)
        rc = copy_entry(op, root, &s->v[i]);
    if (rc) {
        rb_cfg_copy_remove(root);
        free(root);
        return rc;
    }
    *copy_dir = root;
    return 0;
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *f)
{
    (void)st;
    (void)f;
    return type == FTW_DP ? rmdir(path) : unlink(path);
}

int rb_cfg_copy_remove(const char *copy_dir)
{
    struct stat st;
    if (lstat(copy_dir, &st) != 0 && errno == ENOENT)
        return 0;
    if (nftw(copy_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
        return os_error(errno, "delete", copy_dir);
    return 0;
}
