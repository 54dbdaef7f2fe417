/* Path handling. Paths are made absolute at snapshot time because a
 * rollback may run from another working directory; they are normalised
 * lexically (never through realpath) so a symlink in config_files stays the
 * path the user named. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfg.h"

static char *normalise(const char *path)
{
    size_t len = strlen(path);
    char *out = malloc(len + 2);
    if (!out)
        return NULL;
    size_t o = 0;
    const char *p = path;
    while (*p) {
        while (*p == '/')
            p++;
        const char *end = strchrnul(p, '/');
        size_t n = (size_t)(end - p);
        int dot = n == 1 && p[0] == '.';
        if (n == 2 && p[0] == '.' && p[1] == '.') {
            while (o > 0 && out[o - 1] != '/')
                o--;
            if (o > 0)
                o--;
        } else if (n > 0 && !dot) {
            out[o++] = '/';
            memcpy(out + o, p, n);
            o += n;
        }
        p = end;
    }
    if (o == 0)
        out[o++] = '/';
    out[o] = '\0';
    return out;
}

char *rb_cfg_path_absolute(const char *path)
{
    if (path[0] == '/')
        return normalise(path);
    char *cwd = getcwd(NULL, 0);
    if (!cwd)
        return NULL;
    char *joined = rb_cfg_path_join(cwd, path);
    free(cwd);
    if (!joined)
        return NULL;
    char *out = normalise(joined);
    free(joined);
    return out;
}

int rb_cfg_path_is_pattern(const char *path)
{
    return strpbrk(path, "*?[") != NULL;
}

char *rb_cfg_path_join(const char *dir, const char *name)
{
    char *out = NULL;
    const char *sep = dir[0] && dir[strlen(dir) - 1] == '/' ? "" : "/";
    if (asprintf(&out, "%s%s%s", dir, sep, name) < 0)
        return NULL;
    return out;
}

char *rb_cfg_path_parent(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash || slash == path)
        return strdup("/");
    return strndup(path, (size_t)(slash - path));
}

char *rb_cfg_path_sibling(const char *path, const char *tag, unsigned n)
{
    const char *slash = strrchr(path, '/');
    const char *name = slash ? slash + 1 : path;
    int dir_len = slash ? (int)(slash - path) : 0;
    char *out = NULL;
    /* The name is cut so the result stays within NAME_MAX. */
    if (asprintf(&out, "%.*s/.%.180s.rbhost-%s-%ld-%u", dir_len, path, name, tag, (long)getpid(),
                 n) < 0)
        return NULL;
    return out;
}

int rb_cfg_path_is_below(const char *path, const char *dir)
{
    size_t n = strlen(dir);
    if (n == 1 && dir[0] == '/')
        return path[0] == '/' && path[1] != '\0';
    return strncmp(path, dir, n) == 0 && path[n] == '/';
}

int rb_cfg_errno_code(int err)
{
    switch (err) {
    case ENOENT:
    case ENOTDIR:
        return RB_ENOTFOUND;
    case EACCES:
    case EPERM:
    case EROFS:
        return RB_EPERM;
    case ENOSPC:
    case EDQUOT:
        return RB_ENOSPC;
    case ENOMEM:
        return RB_ENOMEM;
    default:
        return RB_EIO;
    }
}
