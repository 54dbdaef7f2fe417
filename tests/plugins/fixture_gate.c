/* A backend whose state is one small file, for the set and rollback
 * tests: it logs when each operation starts and ends (so a test can check
 * the order and parallelism), its restore can wait on a fifo (so a test
 * can kill rbhost at a known step), its snapshot can wait for another
 * target to start, and its restore can fail on demand.
 *
 * Config: path (the state file), log (events are appended here), gate (a
 * fifo: restore waits while it exists until a line is written to it),
 * ignore_cancel (wait on the gate without polling cancelled()), await (a
 * log line the snapshot waits for), fail_restore. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <rbhost/rbhost.h>

static const rb_host_api *host;

static const rb_config_key keys[] = {
    RB_CONFIG_KEY("path", RB_KEY_STRING, 1, NULL, "the file holding the state"),
    RB_CONFIG_KEY("log", RB_KEY_STRING, 0, NULL, "where events are appended"),
    RB_CONFIG_KEY("gate", RB_KEY_STRING, 0, NULL, "a fifo restore waits on while it exists"),
    RB_CONFIG_KEY("ignore_cancel", RB_KEY_BOOL, 0, "false", "wait on the gate regardless"),
    RB_CONFIG_KEY("await", RB_KEY_STRING, 0, NULL, "a log line the snapshot waits for"),
    RB_CONFIG_KEY("fail_restore", RB_KEY_BOOL, 0, "false", "restore fails"),
    RB_CONFIG_KEY_END,
};

static const char *cfg(rb_op *op, const char *key)
{
    return host->node_string(host->node_get(host->config(op), key));
}

static void log_event(rb_op *op, const char *event)
{
    const char *log = cfg(op, "log");
    if (!log)
        return;
    int fd = open(log, O_WRONLY | O_APPEND | O_CREAT, 0644);
    if (fd < 0)
        return;
    char line[512];
    int n = snprintf(line, sizeof line, "%s %s\n", event, host->op_target_name(op));
    if (n > 0 && write(fd, line, (size_t)n) < 0)
        host->log(RB_LOG_WARN, "cannot write %s", log);
    close(fd);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = calloc(1, 65536);
    size_t n = buf ? fread(buf, 1, 65535, f) : 0;
    (void)n;
    fclose(f);
    return buf;
}

static void pause_briefly(void)
{
    struct timespec ts = {0, 20 * 1000 * 1000};
    nanosleep(&ts, NULL);
}

static int gate_init(const rb_host_api *h, void **state)
{
    host = h;
    *state = NULL;
    return 0;
}

static void gate_fini(void *state)
{
    (void)state;
}

static int gate_snapshot(void *state, rb_op *op)
{
    (void)state;
    log_event(op, "snapshot-start");
    const char *await = cfg(op, "await");
    /* Waits (up to 2 minutes) for another target to log a line: proof that
     * the two run at the same time. */
    for (int i = 0; await && !(host->op_flags(op) & RB_OP_SAFETY) && i < 6000; i++) {
        char *log = slurp(cfg(op, "log"));
        int seen = log && strstr(log, await);
        free(log);
        if (seen)
            break;
        if (host->cancelled(op) || i == 5999)
            return host->error_set(RB_ETIMEOUT, RB_ERRCLASS_BACKEND, "'%s' never appeared", await);
        pause_briefly();
    }
    char *content = slurp(cfg(op, "path"));
    host->node_add_string(host->metadata(op), "content", content ? content : "");
    free(content);
    log_event(op, "snapshot-end");
    return 0;
}

/* Waits until a line is written to the fifo, polling cancelled() unless
 * told to ignore it. */
static int wait_gate(rb_op *op, const char *gate)
{
    int ignore = host->node_bool(host->node_get(host->config(op), "ignore_cancel"));
    int fd = open(gate, O_RDONLY | (ignore ? 0 : O_NONBLOCK));
    if (fd < 0)
        return host->error_set(RB_EIO, RB_ERRCLASS_BACKEND, "cannot open %s", gate);
    char c;
    for (;;) {
        if (!ignore) {
            if (host->cancelled(op)) {
                close(fd);
                return host->error_set(RB_ECANCELED, RB_ERRCLASS_BACKEND,
                                       "cancelled while waiting on %s", gate);
            }
            struct pollfd p = {fd, POLLIN, 0};
            if (poll(&p, 1, 50) <= 0 || !(p.revents & POLLIN))
                continue;
        }
        ssize_t n = read(fd, &c, 1);
        if (n > 0)
            break;
        if (n < 0 && errno != EAGAIN && errno != EINTR)
            break;
        if (n == 0 && !ignore)
            pause_briefly();
    }
    close(fd);
    return 0;
}

static int gate_restore(void *state, rb_op *op)
{
    (void)state;
    log_event(op, "restore-start");
    const char *gate = cfg(op, "gate");
    struct stat st;
    if (gate && stat(gate, &st) == 0) {
        log_event(op, "restore-wait");
        int rc = wait_gate(op, gate);
        if (rc)
            return rc;
    }
    if (host->node_bool(host->node_get(host->config(op), "fail_restore"))) {
        log_event(op, "restore-fail");
        return host->error_set(RB_EIO, RB_ERRCLASS_BACKEND, "restore failed as configured");
    }
    const char *content = host->node_string(host->node_get(host->metadata(op), "content"));
    FILE *f = fopen(cfg(op, "path"), "wb");
    if (!f || fputs(content ? content : "", f) < 0) {
        if (f)
            fclose(f);
        return host->error_set(RB_EIO, RB_ERRCLASS_BACKEND, "cannot write %s", cfg(op, "path"));
    }
    fclose(f);
    host->node_add_string(host->result(op), "method", "fixture_gate");
    log_event(op, "restore-end");
    return 0;
}

static int gate_verify(void *state, rb_op *op)
{
    (void)state;
    const char *want = host->node_string(host->node_get(host->metadata(op), "content"));
    char *have = slurp(cfg(op, "path"));
    int same = have && want && !strcmp(have, want);
    if (!same) {
        rb_node *d = host->node_add_array(host->result(op), "differences");
        host->node_add_string(d, NULL, "content differs");
    }
    free(have);
    return same ? 0 : RB_EDRIFT;
}

static const rollback_plugin d = {RB_PLUGIN_HEADER,
                                  "fixture_gate",
                                  "test fixture: a file, with gates and an event log",
                                  "0.0.1",
                                  0,
                                  keys,
                                  gate_init,
                                  gate_fini,
                                  gate_snapshot,
                                  gate_restore,
                                  gate_verify,
                                  NULL,
                                  NULL,
                                  NULL};
RB_PLUGIN_DEFINE(d)
