/* Running hooks: /bin/sh -c in a process group of its own, the event in
 * RBHOST_* variables, output to stderr (stdout is rbhost's JSON) with its
 * tail kept for the record, killed with its group when it times out. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rb_error.h"
#include "rb_events.h"
#include "rb_log.h"
#include "rb_progress.h"

extern char **environ;

#define TAIL 2048

/* environ without our variables, then RBHOST_EVENT and RBHOST_<FIELD>. */
static char **hook_env(const rb_events *ev, const char *event)
{
    size_t n = 0;
    while (environ[n])
        n++;
    char **env = calloc(n + (size_t)cJSON_GetArraySize(ev->fields) + 2, sizeof *env);
    if (!env)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "RBHOST_EVENT=", 13))
            env[k++] = strdup(environ[i]);
    char buf[4096];
    snprintf(buf, sizeof buf, "RBHOST_EVENT=%s", event);
    env[k++] = strdup(buf);
    const cJSON *f;
    cJSON_ArrayForEach(f, ev->fields)
    {
        int len = snprintf(buf, sizeof buf, "RBHOST_");
        for (const char *c = f->string; *c && len < 100; c++)
            buf[len++] = (char)toupper((unsigned char)*c);
        snprintf(buf + len, sizeof buf - (size_t)len, "=%s", f->valuestring);
        env[k++] = strdup(buf);
    }
    return env;
}

static void env_free(char **env)
{
    for (size_t i = 0; env && env[i]; i++)
        free(env[i]);
    free(env);
}

static void keep_tail(char *tail, size_t *len, const char *data, size_t n)
{
    if (n >= TAIL) {
        memcpy(tail, data + n - TAIL + 1, TAIL - 1);
        *len = TAIL - 1;
    } else {
        if (*len + n >= TAIL) {
            size_t drop = *len + n - (TAIL - 1);
            memmove(tail, tail + drop, *len - drop);
            *len -= drop;
        }
        memcpy(tail + *len, data, n);
        *len += n;
    }
    tail[*len] = '\0';
}

/* Runs one command; returns its exit status (128+signal; 124 when it
 * timed out, as timeout(1) does), or -1 when it could not start. */
static int run_one(char **env, const char *cmd, double timeout, char *tail, size_t *tail_len)
{
    int pipefd[2];
    if (pipe(pipefd) < 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0) {
        close(pipefd[0]);
        close(pipefd[1]);
        return -1;
    }
    if (pid == 0) {
        setpgid(0, 0);
        dup2(pipefd[1], 1);
        dup2(pipefd[1], 2);
        close(pipefd[0]);
        close(pipefd[1]);
        int null = open("/dev/null", 0);
        if (null >= 0)
            dup2(null, 0);
        char *argv[] = {"/bin/sh", "-c", (char *)cmd, NULL};
        execve("/bin/sh", argv, env);
        _exit(127);
    }
    setpgid(pid, pid);
    close(pipefd[1]);
    double deadline = rb_monotonic() + timeout;
    int status = 0, exited = 0, timed_out = 0, open_pipe = 1;
    char buf[4096];
    /* Reads until the hook exits; what a daemon it started keeps writing
     * to the pipe afterwards is not waited for. */
    while (!exited) {
        struct pollfd p = {pipefd[0], POLLIN, 0};
        if (open_pipe && poll(&p, 1, 50) > 0) {
            ssize_t r = read(pipefd[0], buf, sizeof buf);
            if (r > 0) {
                if (fwrite(buf, 1, (size_t)r, stderr) != (size_t)r)
                    clearerr(stderr);
                keep_tail(tail, tail_len, buf, (size_t)r);
            } else if (r == 0 || errno != EINTR) {
                open_pipe = 0;
            }
        } else if (!open_pipe) {
            usleep(20000);
        }
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid)
            exited = 1;
        else if (rb_monotonic() > deadline) {
            kill(-pid, SIGKILL);
            waitpid(pid, &status, 0);
            exited = timed_out = 1;
        }
    }
    struct pollfd p = {pipefd[0], POLLIN, 0};
    ssize_t r;
    while (open_pipe && poll(&p, 1, 0) > 0 && (r = read(pipefd[0], buf, sizeof buf)) > 0) {
        if (fwrite(buf, 1, (size_t)r, stderr) != (size_t)r)
            clearerr(stderr);
        keep_tail(tail, tail_len, buf, (size_t)r);
    }
    close(pipefd[0]);
    if (timed_out)
        return 124;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int rb_hooks_run(rb_events *ev, const char *event, cJSON *details)
{
    const cJSON *list = ev ? cJSON_GetObjectItemCaseSensitive(ev->hooks, event) : NULL;
    if (!cJSON_GetArraySize(list))
        return 0;
    char **env = hook_env(ev, event);
    if (!env) {
        rb_log(RB_LOG_ERROR, "hook %s: out of memory", event);
        return 1;
    }
    int failed = 0;
    const cJSON *h;
    cJSON_ArrayForEach(h, list)
    {
        const char *cmd = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(h, "run"));
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(h, "timeout");
        double timeout = cJSON_IsNumber(t) ? t->valuedouble : 60;
        char tail[TAIL] = "";
        size_t tail_len = 0;
        rb_log(RB_LOG_INFO, "hook %s: %s", event, cmd);
        double t0 = rb_monotonic();
        int code = run_one(env, cmd, timeout, tail, &tail_len);
        cJSON *d = cJSON_CreateObject();
        cJSON_AddStringToObject(d, "action", "hook");
        cJSON_AddStringToObject(d, "hook", event);
        cJSON_AddStringToObject(d, "run", cmd);
        cJSON *res = cJSON_AddObjectToObject(d, "result");
        cJSON_AddStringToObject(res, "status", code == 0 ? "success" : "failed");
        cJSON_AddNumberToObject(res, "exit_code", code);
        if (code == 124)
            cJSON_AddStringToObject(res, "error", "timed out; its process group was killed");
        else if (code < 0)
            cJSON_AddStringToObject(res, "error", strerror(errno));
        cJSON_AddStringToObject(res, "output_tail", tail);
        cJSON_AddNumberToObject(d, "duration", rb_monotonic() - t0);
        if (details)
            cJSON_AddItemToArray(details, d);
        else
            cJSON_Delete(d);
        if (code != 0) {
            rb_log(RB_LOG_WARN, "hook %s failed (exit %d): %s", event, code, cmd);
            failed = code < 0 ? 127 : code;
            break;
        }
    }
    env_free(env);
    return failed;
}
