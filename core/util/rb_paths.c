#include "rb_paths.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int rb_paths_under_prefix(const char *reldir, char *buf, size_t len)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return -1;
    exe[n] = '\0';
    for (int up = 0; up < 2; up++) {
        char *slash = strrchr(exe, '/');
        if (!slash)
            return -1;
        *slash = '\0';
    }
    int w = snprintf(buf, len, "%s/%s", exe[0] ? exe : "", reldir);
    return w < 0 || (size_t)w >= len ? -1 : 0;
}
