#include "fs_xattr.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

/* Symlinks, fifos and devices cannot be opened for their attributes; their
 * directory fd plus the name through /proc reaches them without following
 * the last component and without a path from the top. */
static void proc_path(char *buf, size_t n, int dirfd, const char *name)
{
    snprintf(buf, n, "/proc/self/fd/%d/%s", dirfd, name);
}

static ssize_t do_list(int fd, const char *path, char *buf, size_t n)
{
    return fd >= 0 ? flistxattr(fd, buf, n) : llistxattr(path, buf, n);
}

static ssize_t do_get(int fd, const char *path, const char *key, void *buf, size_t n)
{
    return fd >= 0 ? fgetxattr(fd, key, buf, n) : lgetxattr(path, key, buf, n);
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

static uint32_t get32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int rb_fs_xattr_read(int fd, int dirfd, const char *name, rb_fs_arena *arena,
                     const unsigned char **out, uint32_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    char path[4200];
    if (fd < 0)
        proc_path(path, sizeof path, dirfd, name);
    char small[1024];
    char *list = small;
    ssize_t n = do_list(fd, path, list, sizeof small);
    if (n < 0 && errno == ERANGE) {
        n = do_list(fd, path, NULL, 0);
        list = n > 0 ? malloc((size_t)n) : NULL;
        if (n > 0 && !list)
            return -ENOMEM;
        if (list)
            n = do_list(fd, path, list, (size_t)n);
    }
    if (n < 0) {
        int e = errno;
        if (list != small)
            free(list);
        return e == ENOTSUP || e == ENODATA ? 0 : -e;
    }
    if (n == 0)
        return 0;
    size_t count = 0;
    for (ssize_t i = 0; i < n; i += (ssize_t)strlen(list + i) + 1)
        count++;
    const char **names = malloc(count * sizeof *names);
    void **vals = calloc(count, sizeof *vals);
    uint32_t *lens = malloc(count * sizeof *lens);
    int rc = 0;
    if (!names || !vals || !lens) {
        rc = -ENOMEM;
        goto done;
    }
    count = 0;
    for (ssize_t i = 0; i < n; i += (ssize_t)strlen(list + i) + 1)
        names[count++] = list + i;
    qsort(names, count, sizeof *names, cmp_names);
    size_t total = 0;
    for (size_t i = 0; i < count; i++) {
        ssize_t vl = do_get(fd, path, names[i], NULL, 0);
        for (int tries = 0; vl >= 0 && tries < 4; tries++) {
            vals[i] = malloc(vl ? (size_t)vl : 1);
            if (!vals[i]) {
                rc = -ENOMEM;
                goto done;
            }
            ssize_t got = do_get(fd, path, names[i], vals[i], (size_t)vl);
            if (got >= 0) {
                vl = got;
                break;
            }
            free(vals[i]);
            vals[i] = NULL;
            vl = errno == ERANGE ? do_get(fd, path, names[i], NULL, 0) : -1;
        }
        if (vl < 0 || !vals[i]) {
            /* Gone since the list was read: the set is the one without it. */
            if (errno == ENODATA) {
                lens[i] = UINT32_MAX;
                continue;
            }
            rc = -(errno ? errno : EIO);
            goto done;
        }
        lens[i] = (uint32_t)vl;
        total += 8 + strlen(names[i]) + (size_t)vl;
    }
    unsigned char *enc = rb_fs_arena_alloc(arena, total ? total : 1);
    if (!enc) {
        rc = -ENOMEM;
        goto done;
    }
    unsigned char *p = enc;
    for (size_t i = 0; i < count; i++) {
        if (lens[i] == UINT32_MAX)
            continue;
        uint32_t nl = (uint32_t)strlen(names[i]);
        put32(p, nl);
        memcpy(p + 4, names[i], nl);
        p += 4 + nl;
        put32(p, lens[i]);
        memcpy(p + 4, vals[i], lens[i]);
        p += 4 + lens[i];
    }
    if (total) {
        *out = enc;
        *out_len = (uint32_t)total;
    }
done:
    if (vals)
        for (size_t i = 0; i < count; i++)
            free(vals[i]);
    free(vals);
    free(lens);
    free(names);
    if (list != small)
        free(list);
    return rc;
}

static int do_set(int fd, const char *path, const char *key, const void *v, size_t n)
{
    return fd >= 0 ? fsetxattr(fd, key, v, n, 0) : lsetxattr(path, key, v, n, 0);
}

static int do_remove(int fd, const char *path, const char *key)
{
    return fd >= 0 ? fremovexattr(fd, key) : lremovexattr(path, key);
}

static int in_set(const unsigned char *set, uint32_t len, const char *key)
{
    size_t kl = strlen(key);
    for (uint32_t off = 0; off + 4 <= len;) {
        uint32_t nl = get32(set + off);
        if (nl == kl && !memcmp(set + off + 4, key, kl))
            return 1;
        off += 4 + nl;
        off += 4 + get32(set + off);
    }
    return 0;
}

int rb_fs_xattr_apply(int fd, int dirfd, const char *name, const unsigned char *set,
                      uint32_t set_len, const char **failed)
{
    static _Thread_local char failed_name[256];
    char path[4200];
    if (fd < 0)
        proc_path(path, sizeof path, dirfd, name);
    char list[65536];
    ssize_t n = do_list(fd, path, list, sizeof list);
    if (n < 0 && errno != ENOTSUP && errno != ENODATA) {
        *failed = "(list)";
        return -errno;
    }
    for (ssize_t i = 0; i < n; i += (ssize_t)strlen(list + i) + 1) {
        if (!in_set(set, set_len, list + i) && do_remove(fd, path, list + i) < 0 &&
            errno != ENODATA) {
            snprintf(failed_name, sizeof failed_name, "%s", list + i);
            *failed = failed_name;
            return -errno;
        }
    }
    for (uint32_t off = 0; off + 4 <= set_len;) {
        uint32_t nl = get32(set + off);
        snprintf(failed_name, sizeof failed_name, "%.*s", (int)nl, (const char *)set + off + 4);
        off += 4 + nl;
        uint32_t vl = get32(set + off);
        if (do_set(fd, path, failed_name, set + off + 4, vl) < 0) {
            *failed = failed_name;
            return -errno;
        }
        off += 4 + vl;
    }
    return 0;
}
