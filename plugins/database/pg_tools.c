/* Running PostgreSQL's client tools (pg_dump, pg_restore, psql). The
 * password reaches them in PGPASSWORD, in their environment only: a command
 * line is visible to every user of the machine. */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pg_db.h"

extern char **environ;

static char *join(const char *dir, const char *tool)
{
    size_t n = strlen(dir) + strlen(tool) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", dir, tool);
    return p;
}

/* A pg_dump older than the server refuses to run; Debian installs each
 * major version's tools side by side, so the matching one is preferred. */
char *pg_tool_path(int server_major, const char *tool)
{
    const char *dir = getenv("RBHOST_PG_BINDIR");
    if (dir && *dir)
        return join(dir, tool);
    for (int v = server_major; v < server_major + 8; v++) {
        char d[64];
        snprintf(d, sizeof d, "/usr/lib/postgresql/%d/bin", v);
        char *p = join(d, tool);
        if (p && access(p, X_OK) == 0)
            return p;
        free(p);
    }
    return strdup(tool);
}

static char **child_env(const pg_target *t, char **pw_entry)
{
    size_t n = 0;
    while (environ[n])
        n++;
    char **env = calloc(n + 2, sizeof *env);
    if (!env)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "PGPASSWORD=", 11) || !t->password)
            env[k++] = environ[i];
    *pw_entry = NULL;
    if (t->password) {
        size_t len = strlen(t->password) + 12;
        *pw_entry = malloc(len);
        if (!*pw_entry) {
            free(env);
            return NULL;
        }
        snprintf(*pw_entry, len, "PGPASSWORD=%s", t->password);
        env[k++] = *pw_entry;
    }
    env[k] = NULL;
    return env;
}

int pg_spawn(pg_target *t, char *const argv[], int in_fd, int out_fd, pg_child *child)
{
    const rb_host_api *h = t->host;
    const char *scratch = h->op_scratch_dir ? h->op_scratch_dir(t->op) : NULL;
    child->pid = -1;
    child->errpath = join(scratch && *scratch ? scratch : "/tmp", "pgtool-XXXXXX");
    if (!child->errpath)
        return h->error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
    int errfd = mkostemp(child->errpath, O_CLOEXEC);
    if (errfd < 0) {
        int e = errno;
        free(child->errpath);
        child->errpath = NULL;
        return h->error_set(RB_EIO, RB_ERRCLASS_OS, "cannot create a file for %s's messages: %s",
                            argv[0], strerror(e));
    }
    char *pw = NULL;
    char **env = child_env(t, &pw);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    if (in_fd >= 0)
        posix_spawn_file_actions_adddup2(&fa, in_fd, 0);
    else
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    if (out_fd >= 0)
        posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
    else
        posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, errfd, 2);
    int rc = env ? posix_spawnp(&child->pid, argv[0], &fa, NULL, argv, env) : ENOMEM;
    posix_spawn_file_actions_destroy(&fa);
    close(errfd);
    if (pw) {
        memset(pw, 0, strlen(pw));
        free(pw);
    }
    free(env);
    if (rc) {
        child->pid = -1;
        unlink(child->errpath);
        free(child->errpath);
        child->errpath = NULL;
        return h->error_set(RB_ENOTFOUND, RB_ERRCLASS_DATABASE,
                            "cannot run %s: %s (install postgresql-client, or set "
                            "RBHOST_PG_BINDIR to the directory holding it)",
                            argv[0], strerror(rc));
    }
    return 0;
}

int pg_child_wait(pg_target *t, pg_child *child, const char *what)
{
    int status = 0;
    if (child->pid > 0)
        while (waitpid(child->pid, &status, 0) < 0 && errno == EINTR)
            ;
    char msg[2048] = "";
    if (child->errpath) {
        FILE *f = fopen(child->errpath, "r");
        if (f) {
            size_t n = fread(msg, 1, sizeof msg - 1, f);
            msg[n] = '\0';
            fclose(f);
        }
        unlink(child->errpath);
        free(child->errpath);
        child->errpath = NULL;
    }
    child->pid = -1;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    size_t len = strlen(msg);
    while (len && (msg[len - 1] == '\n' || msg[len - 1] == ' '))
        msg[--len] = '\0';
    for (char *p = msg; *p; p++)
        if (*p == '\n')
            *p = ' ';
    int code = strstr(msg, "No space left on device") || strstr(msg, "could not extend file")
                   ? RB_ENOSPC
                   : RB_ERROR;
    if (WIFSIGNALED(status))
        return t->host->error_set(code, RB_ERRCLASS_DATABASE, "%s was killed by signal %d: %s",
                                  what, WTERMSIG(status), msg);
    return t->host->error_set(code, RB_ERRCLASS_DATABASE, "%s failed (exit %d): %s", what,
                              WEXITSTATUS(status), msg);
}

int pg_run_capture(pg_target *t, char *const argv[], char **out)
{
    const rb_host_api *h = t->host;
    *out = NULL;
    int fds[2];
    if (pipe2(fds, O_CLOEXEC))
        return h->error_set(RB_EIO, RB_ERRCLASS_OS, "cannot create a pipe: %s", strerror(errno));
    pg_child child = {-1, NULL};
    int rc = pg_spawn(t, argv, -1, fds[1], &child);
    close(fds[1]);
    char *buf = NULL;
    size_t len = 0, cap = 0;
    while (!rc) {
        if (cap - len < 65536) {
            char *p = realloc(buf, cap = cap * 2 + 65536);
            if (!p) {
                rc = h->error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
                break;
            }
            buf = p;
        }
        ssize_t got = read(fds[0], buf + len, cap - len - 1);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        len += (size_t)got;
    }
    close(fds[0]);
    if (child.pid > 0) {
        int wrc = pg_child_wait(t, &child, argv[0]);
        rc = rc ? rc : wrc;
    }
    if (rc) {
        free(buf);
        return rc;
    }
    if (!buf && !(buf = malloc(1)))
        return h->error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
    buf[len] = '\0';
    *out = buf;
    return 0;
}
