/* The snapshot's metadata. Content never goes here: a file is named by its
 * SHA-256, which is also the id of the blob holding its bytes (blob ids are
 * the SHA-256 of the content, host.h).
 *
 *   {"method": "configuration_files",
 *    "files": {"/etc/app/.env": {"type": "file", "sha256": "...", "size": 120,
 *                                "mode": "0600", "uid": 0, "gid": 0},
 *              "/etc/app/link": {"type": "symlink", "target": "...", "uid": 0, "gid": 0},
 *              "/etc/app/new.conf": {"absent": true}},
 *    "directories": {"/etc/app/conf.d": {"mode": "0755", "uid": 0, "gid": 0,
 *                                        "contents": true}},
 *    "patterns": [{"pattern": "/etc/app/[a-z]*.conf", "matched": 2}],
 *    "file_count": 2, "bytes": 120}                                         */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"

#define H rb_cfg_host

char *rb_cfg_mode_string(mode_t mode, char buf[8])
{
    snprintf(buf, 8, "%04o", (unsigned)(mode & 07777));
    return buf;
}

static int oom(void)
{
    return H->error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "configuration: out of memory");
}

static int add_owner(rb_node *o, const cfg_entry *e, int with_mode)
{
    char mode[8];
    if (with_mode && !H->node_add_string(o, "mode", rb_cfg_mode_string(e->mode, mode)))
        return oom();
    if (!H->node_add_int(o, "uid", (int64_t)e->uid) || !H->node_add_int(o, "gid", (int64_t)e->gid))
        return oom();
    return 0;
}

static int write_entry(rb_node *files, rb_node *dirs, const cfg_entry *e)
{
    rb_node *o = H->node_add_object(e->kind == CFG_DIR ? dirs : files, e->path);
    if (!o)
        return oom();
    switch (e->kind) {
    case CFG_ABSENT:
        return H->node_add_bool(o, "absent", 1) ? 0 : oom();
    case CFG_FILE:
        if (!H->node_add_string(o, "type", "file") || !H->node_add_string(o, "sha256", e->sha256) ||
            !H->node_add_int(o, "size", e->size))
            return oom();
        return add_owner(o, e, 1);
    case CFG_SYMLINK:
        if (!H->node_add_string(o, "type", "symlink") ||
            !H->node_add_string(o, "target", e->target))
            return oom();
        return add_owner(o, e, 0);
    case CFG_DIR:
        if (!H->node_add_bool(o, "contents", e->contents))
            return oom();
        return add_owner(o, e, 1);
    }
    return 0;
}

int rb_cfg_record_write(rb_op *op, const cfg_set *s)
{
    rb_node *md = H->metadata(op);
    rb_node *files, *dirs, *patterns;
    if (!H->node_add_string(md, "method", "configuration_files") ||
        !(files = H->node_add_object(md, "files")) ||
        !(dirs = H->node_add_object(md, "directories")) ||
        !(patterns = H->node_add_array(md, "patterns")))
        return oom();
    int64_t count = 0, bytes = 0;
    for (size_t i = 0; i < s->n; i++) {
        int rc = write_entry(files, dirs, &s->v[i]);
        if (rc)
            return rc;
        if (s->v[i].kind == CFG_FILE) {
            count++;
            bytes += s->v[i].size;
        }
    }
    for (size_t i = 0; i < s->npatterns; i++) {
        rb_node *p = H->node_add_object(patterns, NULL);
        if (!p || !H->node_add_string(p, "pattern", s->patterns[i].pattern) ||
            !H->node_add_int(p, "matched", s->patterns[i].matched))
            return oom();
    }
    if (!H->node_add_int(md, "file_count", count) || !H->node_add_int(md, "bytes", bytes))
        return oom();
    return 0;
}

static int corrupt(rb_op *op, const char *path, const char *what)
{
    return H->error_set(RB_ECORRUPT, RB_ERRCLASS_STORE,
                        "snapshot %s: the record of %s is damaged (%s)", H->op_snapshot_id(op),
                        path, what);
}

static int is_sha256(const char *s)
{
    if (!s || strlen(s) != RB_BLOB_ID_LEN)
        return 0;
    return strspn(s, "0123456789abcdef") == RB_BLOB_ID_LEN;
}

static int read_owner(rb_op *op, const rb_node *o, cfg_entry *e, int with_mode)
{
    if (H->node_type(H->node_get(o, "uid")) != RB_NODE_NUMBER ||
        H->node_type(H->node_get(o, "gid")) != RB_NODE_NUMBER)
        return corrupt(op, e->path, "no owner");
    e->uid = (uid_t)H->node_int(H->node_get(o, "uid"));
    e->gid = (gid_t)H->node_int(H->node_get(o, "gid"));
    if (!with_mode)
        return 0;
    const char *mode = H->node_string(H->node_get(o, "mode"));
    char *end = NULL;
    unsigned long m = mode ? strtoul(mode, &end, 8) : 0;
    if (!mode || !*mode || *end || m > 07777)
        return corrupt(op, e->path, "no valid mode");
    e->mode = (mode_t)m;
    return 0;
}

static int read_file(rb_op *op, const rb_node *o, cfg_set *out)
{
    const char *path = H->node_key(o);
    if (!path || path[0] != '/')
        return corrupt(op, path ? path : "a file", "not an absolute path");
    if (H->node_bool(H->node_get(o, "absent")))
        return rb_cfg_set_add(out, path, CFG_ABSENT) ? 0 : oom();
    const char *type = H->node_string(H->node_get(o, "type"));
    if (type && !strcmp(type, "file")) {
        const char *sha = H->node_string(H->node_get(o, "sha256"));
        if (!is_sha256(sha))
            return corrupt(op, path, "no SHA-256");
        cfg_entry *e = rb_cfg_set_add(out, path, CFG_FILE);
        if (!e)
            return oom();
        memcpy(e->sha256, sha, RB_BLOB_ID_SIZE);
        e->size = H->node_int(H->node_get(o, "size"));
        return read_owner(op, o, e, 1);
    }
    if (type && !strcmp(type, "symlink")) {
        const char *target = H->node_string(H->node_get(o, "target"));
        if (!target)
            return corrupt(op, path, "no symlink target");
        cfg_entry *e = rb_cfg_set_add(out, path, CFG_SYMLINK);
        if (!e || !(e->target = strdup(target)))
            return oom();
        return read_owner(op, o, e, 0);
    }
    return corrupt(op, path, "unknown type");
}

int rb_cfg_record_read(rb_op *op, cfg_set *out)
{
    const rb_node *md = H->metadata(op);
    const rb_node *files = H->node_get(md, "files");
    const rb_node *dirs = H->node_get(md, "directories");
    const rb_node *patterns = H->node_get(md, "patterns");
    if (H->node_type(files) != RB_NODE_OBJECT)
        return H->error_set(RB_ECORRUPT, RB_ERRCLASS_STORE,
                            "snapshot %s has no configuration file list", H->op_snapshot_id(op));
    for (size_t i = 0; i < H->node_count(files); i++) {
        int rc = read_file(op, H->node_at(files, i), out);
        if (rc)
            return rc;
    }
    for (size_t i = 0; i < H->node_count(dirs); i++) {
        const rb_node *o = H->node_at(dirs, i);
        const char *path = H->node_key(o);
        if (!path || path[0] != '/')
            return corrupt(op, path ? path : "a directory", "not an absolute path");
        cfg_entry *e = rb_cfg_set_add(out, path, CFG_DIR);
        if (!e)
            return oom();
        e->contents = H->node_bool(H->node_get(o, "contents"));
        int rc = read_owner(op, o, e, 1);
        if (rc)
            return rc;
    }
    for (size_t i = 0; i < H->node_count(patterns); i++) {
        const rb_node *p = H->node_at(patterns, i);
        const char *pattern = H->node_string(H->node_get(p, "pattern"));
        if (!pattern || pattern[0] != '/')
            return corrupt(op, "a pattern", "not an absolute pattern");
        int rc = rb_cfg_set_add_pattern(out, pattern, H->node_int(H->node_get(p, "matched")));
        if (rc)
            return rc;
    }
    rb_cfg_set_sort(out);
    return 0;
}
