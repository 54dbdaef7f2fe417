#include "rbtest.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

char *rbt_fmt(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *out = NULL;
    if (vasprintf(&out, fmt, ap) < 0)
        out = NULL;
    va_end(ap);
    cr_assert_not_null(out);
    return out;
}

char *rbt_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    char *tmpl = rbt_fmt("%s/rbt-XXXXXX", base && *base ? base : "/tmp");
    cr_assert_not_null(mkdtemp(tmpl), "mkdtemp: %s", strerror(errno));
    return tmpl;
}

void rbt_rmtree(const char *path)
{
    if (path) {
        rbt_run r = rbt_sh("chmod -R u+rwX '%s' 2>/dev/null; rm -rf '%s'", path, path);
        rbt_run_free(&r);
    }
}

static void append(char **buf, size_t *len, const char *data, size_t n)
{
    char *nb = realloc(*buf, *len + n + 1);
    cr_assert_not_null(nb);
    memcpy(nb + *len, data, n);
    *len += n;
    nb[*len] = '\0';
    *buf = nb;
}

static rbt_run run_argv(char *const argv[])
{
    int out_pipe[2], err_pipe[2];
    cr_assert(pipe2(out_pipe, O_CLOEXEC) == 0 && pipe2(err_pipe, O_CLOEXEC) == 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, out_pipe[1], 1);
    posix_spawn_file_actions_adddup2(&fa, err_pipe[1], 2);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    pid_t pid;
    int rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    cr_assert_eq(rc, 0, "spawn %s: %s", argv[0], strerror(rc));
    close(out_pipe[1]);
    close(err_pipe[1]);
    rbt_run r = {0, NULL, NULL};
    size_t out_len = 0, err_len = 0;
    append(&r.out, &out_len, "", 0);
    append(&r.err, &err_len, "", 0);
    struct pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
    int open_fds = 2;
    while (open_fds > 0) {
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        for (int i = 0; i < 2; i++) {
            if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            char buf[65536];
            ssize_t n = read(fds[i].fd, buf, sizeof buf);
            if (n > 0) {
                if (i == 0)
                    append(&r.out, &out_len, buf, (size_t)n);
                else
                    append(&r.err, &err_len, buf, (size_t)n);
            } else if (n == 0 || errno != EINTR) {
                close(fds[i].fd);
                fds[i].fd = -1;
                open_fds--;
            }
        }
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return r;
}

rbt_run rbt_sh(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *cmd = NULL;
    cr_assert(vasprintf(&cmd, fmt, ap) >= 0);
    va_end(ap);
    char *argv[] = {"/bin/sh", "-c", cmd, NULL};
    rbt_run r = run_argv(argv);
    free(cmd);
    return r;
}

rbt_run rbt_rbhost(const char *store, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *args = NULL;
    cr_assert(vasprintf(&args, fmt, ap) >= 0);
    va_end(ap);
    /* The backend cache goes to a test-owned place, never the machine's. */
    rbt_run r = rbt_sh("RBHOST_CACHE_DIR=\"${RBHOST_CACHE_DIR:-${TMPDIR:-/tmp}/rbt-plugin-cache}\" "
                       "'%s' --store '%s' %s",
                       rbt_rbhost_bin(), store, args);
    free(args);
    return r;
}

void rbt_run_free(rbt_run *r)
{
    free(r->out);
    free(r->err);
    r->out = r->err = NULL;
}

const char *rbt_rbhost_bin(void)
{
    return RBT_RBHOST_BIN;
}

const char *rbt_fixture_plugin_dir(void)
{
    return RBT_FIXTURE_PLUGIN_DIR;
}

cJSON *rbt_json(const char *text)
{
    cJSON *j = cJSON_Parse(text);
    cr_assert_not_null(j, "not JSON: %s", text);
    return j;
}

char *rbt_slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t len = 0;
    char chunk[65536];
    size_t n;
    append(&buf, &len, "", 0);
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        append(&buf, &len, chunk, n);
    fclose(f);
    return buf;
}

void rbt_spit(const char *path, const char *content)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "open %s: %s", path, strerror(errno));
    cr_assert_eq(fwrite(content, 1, strlen(content), f), strlen(content));
    cr_assert_eq(fclose(f), 0);
}

const char *rbt_server_env(const char *name)
{
    const char *v = getenv(name);
    if (v && *v)
        return v;
    const char *req = getenv("RBT_REQUIRE_SERVERS");
    if (req && !strcmp(req, "1"))
        cr_assert_fail(
            "%s is not set: the test servers were not started (tools/dev/test.sh starts them)",
            name);
    cr_skip_test("%s is not set: start the test servers with tools/dev/test.sh", name);
    return NULL;
}
