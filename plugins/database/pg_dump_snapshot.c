/* Method dump: a logical dump of one consistent state, streamed into the
 * store, with the checksums of that same state. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pg_db.h"

/* Copies pg_dump's output into the store (and the backup file) on its own
 * thread, while the main thread checksums the same snapshot. The host's
 * error message is per thread, so this one only keeps codes. */
typedef struct dump_pump {
    const rb_host_api *host;
    int fd;
    int backup_fd;
    rb_blob_writer *writer;
    uint64_t bytes;
    int rc;
    int backup_errno;
} dump_pump;

static void *pump_run(void *arg)
{
    dump_pump *p = arg;
    size_t cap = 1 << 20;
    char *buf = malloc(cap);
    if (!buf) {
        p->rc = RB_ENOMEM;
        return NULL;
    }
    for (;;) {
        ssize_t n = read(p->fd, buf, cap);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n < 0)
                p->rc = RB_EIO;
            break;
        }
        if (!p->rc) {
            int rc = p->host->blob_write(p->writer, buf, (size_t)n);
            if (rc)
                p->rc = rc;
        }
        for (ssize_t off = 0; p->backup_fd >= 0 && !p->backup_errno && off < n;) {
            ssize_t w = write(p->backup_fd, buf + off, (size_t)(n - off));
            if (w < 0 && errno != EINTR)
                p->backup_errno = errno;
            off += w > 0 ? w : 0;
        }
        p->bytes += (uint64_t)n;
    }
    free(buf);
    return NULL;
}

static int dump_argv(pg_target *t, int major, const char *snap, char **argv, size_t max)
{
    const rb_host_api *h = t->host;
    const rb_node *cfg = h->config(t->op);
    size_t n = 0;
    char *ci = pg_conninfo_for(t, t->live);
    char buf[4096];
    argv[n++] = pg_tool_path(major, "pg_dump");
    argv[n++] = strdup("--format=custom");
    /* The store compresses with zstd, faster than pg_dump's zlib; a
     * compressed archive would only be stored as is. */
    argv[n++] = strdup("--compress=0");
    snprintf(buf, sizeof buf, "--snapshot=%s", snap);
    argv[n++] = strdup(buf);
    snprintf(buf, sizeof buf, "--dbname=%s", ci ? ci : "");
    argv[n++] = ci ? strdup(buf) : NULL;
    free(ci);
    const char *lists[2] = {"schemas", "tables"};
    const char *flags[2] = {"--schema=", "--table="};
    for (int k = 0; k < 2; k++) {
        const rb_node *l = h->node_get(cfg, lists[k]);
        for (size_t i = 0; i < h->node_count(l) && n + 1 < max; i++) {
            snprintf(buf, sizeof buf, "%s%s", flags[k], h->node_string(h->node_at(l, i)));
            argv[n++] = strdup(buf);
        }
    }
    argv[n] = NULL;
    for (size_t i = 0; i < n; i++)
        if (!argv[i])
            return h->error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
    return 0;
}

static int open_backup(pg_target *t, const char *path, char *tmp, size_t tmplen)
{
    snprintf(tmp, tmplen, "%s.partial-XXXXXX", path);
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0)
        return t->host->error_set(RB_EIO, RB_ERRCLASS_FILESYSTEM,
                                  "cannot create backup_file %s: %s", path, strerror(errno));
    return fd;
}

/* One snapshot-isolated transaction exports its snapshot: pg_dump reads
 * the database as of that instant while this connection checksums it as
 * of the same instant, on two cores at once. */
int pg_snapshot_dump(pg_target *t, rb_node *meta, const pg_role *role, const char *backup)
{
    const rb_host_api *h = t->host;
    PGconn *c = NULL;
    int rc = pg_connect(t, t->live, &c);
    if (rc)
        return rc;
    PGresult *r = NULL;
    rc = pg_exec(t, c, "starting a snapshot transaction",
                 "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    if (!rc)
        r = pg_query(t, c, "exporting a snapshot", "SELECT pg_export_snapshot()", 0, NULL);
    if (!r) {
        PQfinish(c);
        return rc ? rc : RB_EIO;
    }
    char snap[128];
    snprintf(snap, sizeof snap, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);

    char *argv[80] = {NULL};
    char tmp[4200] = "";
    dump_pump pump = {h, -1, -1, NULL, 0, 0, 0};
    int fds[2] = {-1, -1};
    pg_child child = {-1, NULL};
    pthread_t th;
    int started = 0;
    double t0 = pg_now_ms();
    rc = dump_argv(t, role->server_major, snap, argv, 80);
    if (!rc && backup) {
        pump.backup_fd = open_backup(t, backup, tmp, sizeof tmp);
        rc = pump.backup_fd < 0 ? pump.backup_fd : 0;
    }
    if (!rc)
        rc = h->blob_writer_open(t->op, &pump.writer);
    if (!rc && pipe2(fds, O_CLOEXEC))
        rc = h->error_set(RB_EIO, RB_ERRCLASS_OS, "cannot create a pipe: %s", strerror(errno));
    if (!rc)
        rc = pg_spawn(t, argv, -1, fds[1], &child);
    if (fds[1] >= 0)
        close(fds[1]);
    pump.fd = fds[0];
    if (!rc) {
        if (pthread_create(&th, NULL, pump_run, &pump))
            rc = h->error_set(RB_ERROR, RB_ERRCLASS_OS, "cannot start a thread");
        else
            started = 1;
    }
    if (!rc)
        rc = pg_meta_state(t, c, t->live, snap, meta);
    if (!started && fds[0] >= 0)
        close(fds[0]);
    if (started) {
        if (rc)
            kill(child.pid, SIGTERM);
        pthread_join(th, NULL);
        close(fds[0]);
    }
    if (child.pid > 0) {
        char what[300];
        snprintf(what, sizeof what, "pg_dump of database %s", t->live);
        int wrc = pg_child_wait(t, &child, what);
        rc = rc ? rc : wrc;
    }
    pg_exec(t, c, "ending the snapshot transaction", "COMMIT");
    PQfinish(c);
    double t1 = pg_now_ms();
    if (!rc && pump.rc)
        rc = h->error_set(pump.rc, RB_ERRCLASS_STORE, "storing the dump of database %s failed",
                          t->live);
    if (!rc && pump.backup_errno)
        rc = h->error_set(pump.backup_errno == ENOSPC ? RB_ENOSPC : RB_EIO, RB_ERRCLASS_FILESYSTEM,
                          "writing backup_file %s: %s", backup, strerror(pump.backup_errno));
    char id[RB_BLOB_ID_SIZE];
    if (pump.writer) {
        if (rc)
            h->blob_writer_abort(pump.writer);
        else
            rc = h->blob_writer_commit(pump.writer, id);
    }
    if (pump.backup_fd >= 0) {
        if (!rc && fsync(pump.backup_fd))
            rc = h->error_set(RB_EIO, RB_ERRCLASS_FILESYSTEM, "writing backup_file %s: %s", backup,
                              strerror(errno));
        close(pump.backup_fd);
        if (!rc && rename(tmp, backup))
            rc = h->error_set(RB_EIO, RB_ERRCLASS_FILESYSTEM, "cannot write backup_file %s: %s",
                              backup, strerror(errno));
        if (rc)
            unlink(tmp);
    }
    for (size_t i = 0; i < sizeof argv / sizeof argv[0]; i++)
        free(argv[i]);
    if (rc)
        return rc;
    if (!h->node_add_string(meta, "dump_blob", id) ||
        !h->node_add_string(meta, "dump_format", "pg_dump custom") ||
        !h->node_add_int(meta, "dump_bytes", (int64_t)pump.bytes) ||
        !h->node_add_number(meta, "dump_ms", t1 - t0) ||
        (backup && !h->node_add_string(meta, "backup_file", backup)))
        return RB_ENOMEM;
    return 0;
}
