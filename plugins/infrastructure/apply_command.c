/* Running apply_command after a restore: `sh -c` in working_dir, stdin from
 * /dev/null, stdout and stderr into the log line by line as they come, in a
 * process group of its own so that a timeout or an interruption stops
 * everything it started (terraform and its providers). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "infra.h"

extern char **environ;

#define LINE_MAX_BYTES 4096
/* Lines repeated at error level when the command fails: the log shows
 * the whole output only with -v. */
#define TAIL_LINES      20
#define TAIL_LINE_BYTES 512
/* How long a process group gets between SIGTERM and SIGKILL. */
#define KILL_GRACE_MS 10000
/* How long output is still read after the shell exited, from children it
 * left running with the pipe open. */
#define DRAIN_MS 2000

typedef struct lines {
    char buf[LINE_MAX_BYTES + 1];
    size_t len;
    char tail[TAIL_LINES][TAIL_LINE_BYTES];
    size_t count; /* lines seen */
} lines;

static void flush_line(lines *l)
{
    l->buf[l->len] = '\0';
    rb_infra_host->log(RB_LOG_INFO, "apply_command: %s", l->buf);
    char *slot = l->tail[l->count % TAIL_LINES];
    size_t n = l->len < TAIL_LINE_BYTES - 1 ? l->len : TAIL_LINE_BYTES - 1;
    memcpy(slot, l->buf, n);
    slot[n] = '\0';
    l->count++;
    l->len = 0;
}

static void repeat_tail(const lines *l)
{
    size_t first = l->count > TAIL_LINES ? l->count - TAIL_LINES : 0;
    if (first)
        rb_infra_host->log(RB_LOG_ERROR, "apply_command: (%zu earlier lines: rbhost -v shows them)",
                           first);
    for (size_t i = first; i < l->count; i++)
        rb_infra_host->log(RB_LOG_ERROR, "apply_command: %s", l->tail[i % TAIL_LINES]);
}

static void feed(lines *l, const char *data, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (data[i] == '\n') {
            if (l->len && l->buf[l->len - 1] == '\r')
                l->len--;
            flush_line(l);
        } else {
            l->buf[l->len++] = data[i];
            if (l->len == LINE_MAX_BYTES)
                flush_line(l);
        }
    }
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* 0, or the errno of a failed start (a missing working_dir among them). */
static int spawn(const rb_infra_target *t, const char *dir, int out_fd, pid_t *pid)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
    posix_spawn_file_actions_adddup2(&fa, out_fd, 2);
    if (dir)
        posix_spawn_file_actions_addchdir_np(&fa, dir);
    /* A signal the host ignores or blocks must not be ignored or blocked
     * in terraform. */
    sigset_t defaults, empty;
    sigemptyset(&empty);
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGPIPE);
    sigaddset(&defaults, SIGINT);
    sigaddset(&defaults, SIGTERM);
    sigaddset(&defaults, SIGHUP);
    sigaddset(&defaults, SIGCHLD);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setsigmask(&attr, &empty);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF |
                                        POSIX_SPAWN_SETSIGMASK);
    char *argv[] = {"sh", "-c", (char *)t->apply_command, NULL};
    int err = posix_spawn(pid, "/bin/sh", &fa, &attr, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    return err;
}

/* Reads output until the pipe closes, the shell has exited and DRAIN_MS
 * passed, or the deadline or a cancel comes; sets *why to "timed_out" or
 * "cancelled" then, after stopping the process group. */
static void supervise(rb_op *op, pid_t pid, int fd, int64_t deadline, lines *l, int *status,
                      const char **why)
{
    int exited = 0, open_pipe = 1;
    int64_t exited_at = 0, killed_at = 0;
    while (open_pipe || !exited) {
        if (!exited) {
            pid_t w = waitpid(pid, status, WNOHANG);
            if (w == pid) {
                exited = 1;
                exited_at = now_ms();
            }
        }
        if (exited && open_pipe && now_ms() - exited_at > DRAIN_MS)
            break;
        if (!*why && !exited && (now_ms() >= deadline || rb_infra_host->cancelled(op))) {
            *why = now_ms() >= deadline ? "timed_out" : "cancelled";
            kill(-pid, SIGTERM);
            killed_at = now_ms();
        }
        if (killed_at && !exited && now_ms() - killed_at > KILL_GRACE_MS)
            kill(-pid, SIGKILL);
        if (!open_pipe) {
            struct timespec pause = {0, 50 * 1000000L};
            nanosleep(&pause, NULL);
            continue;
        }
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 100) <= 0)
            continue;
        char chunk[8192];
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n > 0)
            feed(l, chunk, (size_t)n);
        else if (n == 0 || errno != EINTR)
            open_pipe = 0;
    }
    if (l->len)
        flush_line(l);
}

int rb_infra_apply_run(rb_op *op, const rb_infra_target *t, rb_node *result)
{
    const rb_host_api *h = rb_infra_host;
    char *dir = NULL;
    if (t->working_dir) {
        dir = strdup(t->working_dir);
    } else if (t->kind == RB_INFRA_LOCAL) {
        /* By default terraform runs where its state is: the root module. */
        dir = strdup(t->state_path);
        char *slash = dir ? strrchr(dir, '/') : NULL;
        if (slash)
            *(slash == dir ? slash + 1 : slash) = '\0';
    }
    if ((t->working_dir || t->kind == RB_INFRA_LOCAL) && !dir)
        return h->error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
    int pipe_fds[2];
    if (pipe2(pipe_fds, O_CLOEXEC) < 0) {
        free(dir);
        return h->error_set(RB_EIO, RB_ERRCLASS_OS, "cannot create a pipe: %s", strerror(errno));
    }
    h->log(RB_LOG_INFO, "running apply_command in %s (timeout %llds)",
           dir ? dir : "the current directory", (long long)t->timeout);
    int64_t started = now_ms();
    pid_t pid;
    int err = spawn(t, dir, pipe_fds[1], &pid);
    close(pipe_fds[1]);
    int rc = 0;
    if (err) {
        h->node_add_string(result, "status", "partial");
        rc = h->error_set(RB_EIO, RB_ERRCLASS_OS,
                          "the state was restored, but apply_command could not be started in "
                          "%s: %s",
                          dir ? dir : "the current directory", strerror(err));
    }
    int status = 0;
    const char *why = NULL;
    lines *l = calloc(1, sizeof *l);
    if (rc == 0 && !l) {
        /* Without a line buffer the command still must not run unwatched. */
        kill(-pid, SIGKILL);
        waitpid(pid, &status, 0);
        rc = h->error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
    }
    if (rc == 0)
        supervise(op, pid, pipe_fds[0], started + t->timeout * 1000, l, &status, &why);
    close(pipe_fds[0]);
    int64_t duration = now_ms() - started;
    if (rc < 0) {
        free(l);
        free(dir);
        h->node_add_string(result, "apply_status", "failed");
        return rc;
    }
    int exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    const char *outcome = why ? why : exit_status == 0 ? "succeeded" : "failed";
    if (!h->node_add_string(result, "apply_status", outcome) ||
        !h->node_add_int(result, "apply_exit_status", exit_status) ||
        !h->node_add_int(result, "apply_duration_ms", duration)) {
        free(l);
        free(dir);
        return RB_ENOMEM;
    }
    if (exit_status == 0 && !why) {
        h->log(RB_LOG_INFO, "apply_command succeeded after %lld ms", (long long)duration);
        free(l);
        free(dir);
        return 0;
    }
    repeat_tail(l);
    free(l);
    h->log(RB_LOG_ERROR, "apply_command %s (exit status %d) after %lld ms", outcome, exit_status,
           (long long)duration);
    h->node_add_string(result, "status", "partial");
    if (why && !strcmp(why, "timed_out"))
        rc = h->error_set(RB_ETIMEOUT, RB_ERRCLASS_INFRA,
                          "the state was restored, but apply_command did not finish within %llds "
                          "and was stopped: the infrastructure may not match the state; run it "
                          "again in %s",
                          (long long)t->timeout, dir ? dir : "the working directory");
    else if (why)
        rc = h->error_set(RB_ECANCELED, RB_ERRCLASS_INFRA,
                          "the state was restored, but apply_command was interrupted: the "
                          "infrastructure may not match the state; run it again in %s",
                          dir ? dir : "the working directory");
    else
        rc = h->error_set(RB_ERROR, RB_ERRCLASS_INFRA,
                          "the state was restored, but apply_command failed with exit status %d: "
                          "the infrastructure may not match the state; see its output above, "
                          "fix the cause and run it again in %s",
                          exit_status, dir ? dir : "the working directory");
    free(dir);
    return rc;
}
