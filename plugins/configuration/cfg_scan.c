/* Snapshot side: expands config_files into the set of live paths to record
 * and reads their content into blobs. A literal path that does not exist is
 * recorded as absent; a glob pattern is recorded with how many paths it
 * matched; a directory is recorded with everything below it. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfg.h"

#define H rb_cfg_host

static int oom(void)
{
    return H->error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "configuration: out of memory");
}

static int os_error(int err, const char *what, const char *path)
{
    if (err == EACCES || err == EPERM)
        return H->error_set(RB_EPERM, RB_ERRCLASS_FILESYSTEM,
                            "cannot %s %s: permission denied; run rbhost as a user who may "
                            "read it (usually root)",
                            what, path);
    return H->error_set(rb_cfg_errno_code(err), RB_ERRCLASS_OS, "cannot %s %s: %s", what, path,
                        strerror(err));
}

static int walk(rb_op *op, cfg_set *s, const char *dir);

/* Records one live path found by lstat; descends into directories. */
static int add_found(rb_op *op, cfg_set *s, const char *path, const struct stat *st)
{
    if (rb_cfg_set_excludes(s, path))
        return 0;
    cfg_kind kind;
    if (S_ISREG(st->st_mode))
        kind = CFG_FILE;
    else if (S_ISLNK(st->st_mode))
        kind = CFG_SYMLINK;
    else if (S_ISDIR(st->st_mode))
        kind = CFG_DIR;
    else {
        H->log(RB_LOG_WARN, "%s is not a file, directory or symlink; it is left out", path);
        return 0;
    }
    cfg_entry *e = rb_cfg_set_add(s, path, kind);
    if (!e)
        return oom();
    rb_cfg_entry_from_stat(e, st);
    if (kind != CFG_DIR)
        return 0;
    e->contents = 1;
    return walk(op, s, path);
}

static int walk(rb_op *op, cfg_set *s, const char *dir)
{
    /* O_NOFOLLOW: a directory swapped for a symlink since lstat must not
     * pull in what the symlink points to. */
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return os_error(errno, "list directory", dir);
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return oom();
    }
    int rc = 0;
    for (;;) {
        errno = 0;
        struct dirent *de = readdir(d);
        if (!de) {
            if (errno)
                rc = os_error(errno, "list directory", dir);
            break;
        }
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        if (H->cancelled(op)) {
            rc = H->error_set(RB_ECANCELED, RB_ERRCLASS_BACKEND, "snapshot cancelled");
            break;
        }
        char *path = rb_cfg_path_join(dir, de->d_name);
        if (!path) {
            rc = oom();
            break;
        }
        struct stat st;
        if (lstat(path, &st) == 0)
            rc = add_found(op, s, path, &st);
        else if (errno != ENOENT)
            rc = os_error(errno, "read", path);
        free(path);
        if (rc)
            break;
    }
    closedir(d);
    return rc;
}

/* The parent of a listed path is recorded (without its contents) so that a
 * rollback can recreate it with its mode and owner if it vanished. */
static int add_parent(cfg_set *s, const char *path)
{
    char *parent = rb_cfg_path_parent(path);
    if (!parent)
        return oom();
    struct stat st;
    int rc = 0;
    if (strcmp(parent, path) != 0 && lstat(parent, &st) == 0 && S_ISDIR(st.st_mode)) {
        cfg_entry *e = rb_cfg_set_add(s, parent, CFG_DIR);
        if (e)
            rb_cfg_entry_from_stat(e, &st);
        else
            rc = oom();
    }
    free(parent);
    return rc;
}

static int add_literal(rb_op *op, cfg_set *s, const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0) {
        if (errno != ENOENT && errno != ENOTDIR)
            return os_error(errno, "read", path);
        if (!rb_cfg_set_add(s, path, CFG_ABSENT))
            return oom();
        return add_parent(s, path);
    }
    int rc = add_found(op, s, path, &st);
    return rc ? rc : add_parent(s, path);
}

/* glob(3) reports unreadable directories through a callback without a user
 * pointer; the failing path is kept per thread. */
static _Thread_local char glob_failed_path[PATH_MAX];
static _Thread_local int glob_failed_errno;

static int glob_error(const char *path, int err)
{
    strncpy(glob_failed_path, path, sizeof glob_failed_path - 1);
    glob_failed_path[sizeof glob_failed_path - 1] = '\0';
    glob_failed_errno = err;
    return 1;
}

static int add_pattern(rb_op *op, cfg_set *s, const char *pattern)
{
    glob_t g;
    memset(&g, 0, sizeof g);
    glob_failed_path[0] = '\0';
    int grc = glob(pattern, GLOB_ERR, glob_error, &g);
    int rc = 0;
    if (grc == GLOB_NOSPACE)
        rc = oom();
    else if (grc == GLOB_ABORTED)
        rc = os_error(glob_failed_errno, "list directory",
                      glob_failed_path[0] ? glob_failed_path : pattern);
    else if (grc == GLOB_NOMATCH)
        rc = rb_cfg_set_add_pattern(s, pattern, 0);
    else {
        rc = rb_cfg_set_add_pattern(s, pattern, (int64_t)g.gl_pathc);
        for (size_t i = 0; rc == 0 && i < g.gl_pathc; i++) {
            struct stat st;
            if (lstat(g.gl_pathv[i], &st) != 0) {
                if (errno != ENOENT)
                    rc = os_error(errno, "read", g.gl_pathv[i]);
                continue;
            }
            rc = add_found(op, s, g.gl_pathv[i], &st);
            if (rc == 0)
                rc = add_parent(s, g.gl_pathv[i]);
        }
    }
    globfree(&g);
    return rc;
}

static int read_contents(rb_op *op, cfg_set *s)
{
    uint64_t total = 0, done = 0;
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i].kind == CFG_FILE)
            total++;
    for (size_t i = 0; i < s->n; i++) {
        cfg_entry *e = &s->v[i];
        if (H->cancelled(op))
            return H->error_set(RB_ECANCELED, RB_ERRCLASS_BACKEND, "snapshot cancelled");
        if (e->kind == CFG_FILE) {
            int rc = rb_cfg_read_into_blob(op, e);
            if (rc)
                return rc;
            H->progress(op, ++done, total, "files");
        } else if (e->kind == CFG_SYMLINK) {
            char buf[PATH_MAX];
            ssize_t n = readlink(e->path, buf, sizeof buf - 1);
            if (n < 0)
                return os_error(errno, "read symlink", e->path);
            buf[n] = '\0';
            e->target = strdup(buf);
            if (!e->target)
                return oom();
        }
    }
    return 0;
}

int rb_cfg_scan(rb_op *op, cfg_set *out)
{
    const rb_node *files = H->node_get(H->config(op), "config_files");
    size_t count = 1;
    if (H->node_type(files) == RB_NODE_ARRAY)
        count = H->node_count(files);
    else if (H->node_type(files) != RB_NODE_STRING)
        return H->error_set(RB_EINVAL, RB_ERRCLASS_CONFIG,
                            "config_files: expected a list of paths");
    if (count == 0)
        return H->error_set(RB_EINVAL, RB_ERRCLASS_CONFIG,
                            "config_files is empty: list the files to snapshot");
    int rc = rb_cfg_set_exclude_backup(op, out);
    if (rc)
        return rc;
    for (size_t i = 0; i < count; i++) {
        const rb_node *n = H->node_type(files) == RB_NODE_ARRAY ? H->node_at(files, i) : files;
        const char *given = H->node_string(n);
        if (!given || !*given)
            return H->error_set(RB_EINVAL, RB_ERRCLASS_CONFIG,
                                "config_files[%zu]: expected a non-empty path", i);
        char *path = rb_cfg_path_absolute(given);
        if (!path)
            return errno == ENOMEM ? oom() : os_error(errno, "resolve", given);
        rc = rb_cfg_path_is_pattern(path) ? add_pattern(op, out, path) : add_literal(op, out, path);
        free(path);
        if (rc)
            return rc;
    }
    rb_cfg_set_sort(out);
    return read_contents(op, out);
}
