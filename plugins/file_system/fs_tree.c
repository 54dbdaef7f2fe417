#include "fs_tree.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DIR_FLAGS (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)

void rb_fs_tree_init(rb_fs_tree *t, int base_fd)
{
    memset(t, 0, sizeof *t);
    t->base = base_fd;
}

static void pop_to(rb_fs_tree *t, size_t depth)
{
    while (t->depth > depth)
        close(t->fds[--t->depth]);
}

int rb_fs_tree_dir(rb_fs_tree *t, const char *rel)
{
    size_t len = strlen(rel);
    /* Keep the open directories that `rel` shares with the current path. */
    size_t keep = 0, pos = 0, pc = 0;
    while (keep < t->depth && pos < len) {
        size_t lr = strcspn(rel + pos, "/"), lc = strcspn(t->cur + pc, "/");
        if (lr != lc || memcmp(rel + pos, t->cur + pc, lr))
            break;
        keep++;
        pos += lr + (rel[pos + lr] == '/');
        pc += lc + (t->cur[pc + lc] == '/');
    }
    pop_to(t, keep);
    if (len + 1 > t->cur_cap) {
        char *nc = realloc(t->cur, len + 64);
        if (!nc)
            return -ENOMEM;
        t->cur = nc;
        t->cur_cap = len + 64;
    }
    while (pos < len) {
        size_t cl = strcspn(rel + pos, "/");
        char comp[256 + 1];
        if (cl == 0 || cl > 255)
            return -EINVAL;
        memcpy(comp, rel + pos, cl);
        comp[cl] = '\0';
        if (t->depth == t->cap) {
            size_t nc = t->cap ? t->cap * 2 : 16;
            int *nf = realloc(t->fds, nc * sizeof *nf);
            if (!nf)
                return -ENOMEM;
            t->fds = nf;
            t->cap = nc;
        }
        int top = t->depth ? t->fds[t->depth - 1] : t->base;
        int fd = openat(top, comp, DIR_FLAGS);
        if (fd < 0) {
            int err = errno;
            memcpy(t->cur, rel, pos ? pos - 1 : 0);
            t->cur_len = pos ? pos - 1 : 0;
            t->cur[t->cur_len] = '\0';
            return -err;
        }
        t->fds[t->depth++] = fd;
        pos += cl;
        if (rel[pos] == '/')
            pos++;
    }
    memcpy(t->cur, rel, len + 1);
    t->cur_len = len;
    return t->depth ? t->fds[t->depth - 1] : t->base;
}

void rb_fs_tree_close(rb_fs_tree *t)
{
    pop_to(t, 0);
    if (t->base >= 0)
        close(t->base);
    free(t->fds);
    free(t->cur);
    memset(t, 0, sizeof *t);
    t->base = -1;
}

int rb_fs_tree_mkdirs(int top, const char *rel)
{
    int cur = dup(top);
    if (cur < 0)
        return -errno;
    const char *p = rel;
    while (*p) {
        size_t cl = strcspn(p, "/");
        if (cl == 0) {
            p++;
            continue;
        }
        char comp[256];
        if (cl > 255) {
            close(cur);
            return -ENAMETOOLONG;
        }
        memcpy(comp, p, cl);
        comp[cl] = '\0';
        int fd = openat(cur, comp, DIR_FLAGS);
        if (fd < 0 && errno == ENOENT) {
            if (mkdirat(cur, comp, 0755) < 0 && errno != EEXIST) {
                int err = errno;
                close(cur);
                return -err;
            }
            fd = openat(cur, comp, DIR_FLAGS);
        }
        int err = errno;
        close(cur);
        if (fd < 0)
            return -err;
        cur = fd;
        p += cl;
    }
    return cur;
}

int rb_fs_tree_remove(int dir_fd, const char *name)
{
    if (unlinkat(dir_fd, name, 0) == 0)
        return 0;
    if (errno != EISDIR && errno != EPERM)
        return errno == ENOENT ? 0 : -errno;
    int fd = openat(dir_fd, name, DIR_FLAGS);
    if (fd < 0)
        return -errno;
    DIR *d = fdopendir(fd);
    if (!d) {
        int err = errno;
        close(fd);
        return -err;
    }
    int rc = 0;
    struct dirent *de;
    while (!rc && (de = readdir(d))) {
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            rc = rb_fs_tree_remove(dirfd(d), de->d_name);
    }
    closedir(d);
    if (!rc && unlinkat(dir_fd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
        rc = -errno;
    return rc;
}
