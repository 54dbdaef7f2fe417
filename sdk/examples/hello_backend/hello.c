/* hello: a complete rbhost backend in one file, built only against the
 * installed SDK. It snapshots one file (content and mode), writes it back
 * on rollback, and compares it on verify.
 *
 * Everything it needs from the host comes through the table passed to
 * init(): no host symbol is linked, no JSON library is used. */
#define _POSIX_C_SOURCE 200809L /* O_CLOEXEC, fchmod under a strict -std=c17 */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rbhost/rbhost.h>

static const rb_host_api *host;

static const rb_config_key hello_keys[] = {
    RB_CONFIG_KEY("path", RB_KEY_STRING, 1, NULL, "the file to keep"),
    RB_CONFIG_KEY_END,
};

static int hello_init(const rb_host_api *h, void **state)
{
    /* Refuse a host older than the table this backend was built with. */
    if (h->version < 1)
        return h->error_set(RB_EUNSUPPORTED, RB_ERRCLASS_PLUGIN, "host API too old");
    host = h;
    *state = NULL;
    return 0;
}

static void hello_fini(void *state)
{
    (void)state;
}

static const char *config_path(rb_op *op)
{
    return host->node_string(host->node_get(host->config(op), "path"));
}

static int hello_snapshot(void *state, rb_op *op)
{
    (void)state;
    const char *path = config_path(op);
    rb_node *meta = host->metadata(op);
    host->node_add_string(meta, "path", path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
        /* A missing file is a state too: the rollback removes the file. */
        host->node_add_bool(meta, "exists", 0);
        return 0;
    }
    if (fd < 0)
        return host->error_set(RB_EIO, RB_ERRCLASS_FILESYSTEM, "cannot read %s: %s", path,
                               strerror(errno));
    struct stat st;
    char id[RB_BLOB_ID_SIZE];
    int rc = fstat(fd, &st) < 0 ? host->error_set(RB_EIO, RB_ERRCLASS_FILESYSTEM,
                                                  "cannot stat %s: %s", path, strerror(errno))
                                : host->blob_put_fd(op, fd, id);
    close(fd);
    if (rc)
        return rc;
    host->node_add_bool(meta, "exists", 1);
    host->node_add_string(meta, "blob", id);
    host->node_add_int(meta, "mode", (int64_t)(st.st_mode & 07777));
    host->node_add_int(meta, "size", (int64_t)st.st_size);
    return 0;
}

/* Compares the live file with the stored blob byte by byte, so the
 * backend needs no hash library of its own. */
static int same_content(rb_op *op, const char *path, const char *id, int64_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    struct stat st;
    if (fstat(fd, &st) < 0 || st.st_size != size) {
        close(fd);
        return 0;
    }
    rb_blob_reader *r;
    if (host->blob_reader_open(op, id, &r) < 0) {
        close(fd);
        return 0;
    }
    char a[65536], b[65536];
    int same = 1;
    for (;;) {
        int64_t n = host->blob_read(r, a, sizeof a);
        if (n <= 0) {
            same = n == 0 && read(fd, b, 1) == 0;
            break;
        }
        if (read(fd, b, (size_t)n) != n || memcmp(a, b, (size_t)n)) {
            same = 0;
            break;
        }
    }
    host->blob_reader_close(r);
    close(fd);
    return same;
}

static int hello_restore(void *state, rb_op *op)
{
    (void)state;
    const rb_node *meta = host->metadata(op);
    const char *path = host->node_string(host->node_get(meta, "path"));
    rb_node *result = host->result(op);
    host->node_add_string(result, "method", "hello_restore");
    if (!host->node_bool(host->node_get(meta, "exists"))) {
        if (unlink(path) < 0 && errno != ENOENT)
            return host->error_set(RB_EIO, RB_ERRCLASS_FILESYSTEM, "cannot remove %s: %s", path,
                                   strerror(errno));
        host->node_add_string(result, "action", "removed");
        return 0;
    }
    /* Written beside the target and renamed over it: a reader sees the old
     * file or the new one, never half of one. */
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.hello-tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return host->error_set(RB_EIO, RB_ERRCLASS_FILESYSTEM, "cannot write %s: %s", tmp,
                               strerror(errno));
    const char *id = host->node_string(host->node_get(meta, "blob"));
    int rc = host->blob_get_fd(op, id, fd);
    if (rc == 0 &&
        (fchmod(fd, (mode_t)host->node_int(host->node_get(meta, "mode"))) < 0 || fsync(fd) < 0))
        rc = host->error_set(RB_EIO, RB_ERRCLASS_FILESYSTEM, "cannot write %s: %s", tmp,
                             strerror(errno));
    close(fd);
    if (rc == 0 && rename(tmp, path) < 0)
        rc = host->error_set(RB_EIO, RB_ERRCLASS_FILESYSTEM, "cannot replace %s: %s", path,
                             strerror(errno));
    if (rc)
        unlink(tmp);
    else
        host->node_add_string(result, "action", "written");
    return rc;
}

static int hello_verify(void *state, rb_op *op)
{
    (void)state;
    const rb_node *meta = host->metadata(op);
    const char *path = host->node_string(host->node_get(meta, "path"));
    int exists = host->node_bool(host->node_get(meta, "exists"));
    struct stat st;
    int live = stat(path, &st) == 0;
    const char *diff = NULL;
    if (exists != live)
        diff = exists ? "the file is missing" : "the file exists but did not";
    else if (exists &&
             (int64_t)(st.st_mode & 07777) != host->node_int(host->node_get(meta, "mode")))
        diff = "the mode differs";
    else if (exists && !same_content(op, path, host->node_string(host->node_get(meta, "blob")),
                                     host->node_int(host->node_get(meta, "size"))))
        diff = "the content differs";
    if (!diff)
        return 0;
    rb_node *list = host->node_add_array(host->result(op), "differences");
    char line[4200];
    snprintf(line, sizeof line, "%s: %s", path, diff);
    host->node_add_string(list, NULL, line);
    return RB_EDRIFT;
}

static int hello_plan(void *state, rb_op *op)
{
    int rc = hello_verify(state, op);
    if (rc != 0 && rc != RB_EDRIFT)
        return rc;
    const rb_node *meta = host->metadata(op);
    rb_node *result = host->result(op);
    host->node_add_string(result, "summary",
                          rc ? "1 file would be rewritten" : "nothing to change");
    rb_node *changes = host->node_add_array(result, "changes");
    if (rc) {
        rb_node *c = host->node_add_object(changes, NULL);
        host->node_add_string(
            c, "action", host->node_bool(host->node_get(meta, "exists")) ? "rewrite" : "remove");
        host->node_add_string(c, "item", host->node_string(host->node_get(meta, "path")));
    }
    return 0;
}

static const rollback_plugin hello_backend = {
    RB_PLUGIN_HEADER,
    "hello",
    "one file: snapshot, write back, compare (the SDK example)",
    "1.0.0",
    0,
    hello_keys,
    hello_init,
    hello_fini,
    hello_snapshot,
    hello_restore,
    hello_verify,
    hello_plan,
    NULL,
    NULL,
};

RB_PLUGIN_DEFINE(hello_backend)
