/* Turns a list of changes into what the host shows: the plan of a dry run,
 * the differences of a verify, the execution_result of a restore. */
#include <stdio.h>
#include <string.h>

#include "cfg.h"

#define H rb_cfg_host

static int oom(void)
{
    return H->error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "configuration: out of memory");
}

static const char *kind_name(cfg_kind k)
{
    switch (k) {
    case CFG_FILE:
        return "file";
    case CFG_SYMLINK:
        return "symlink";
    case CFG_DIR:
        return "directory";
    case CFG_ABSENT:
        return "absent";
    }
    return "unknown";
}

static const char *live_kind(const cfg_change *c)
{
    if (!c->live_exists)
        return "absent";
    if (S_ISREG(c->live.st_mode))
        return "file";
    if (S_ISLNK(c->live.st_mode))
        return "symlink";
    if (S_ISDIR(c->live.st_mode))
        return "directory";
    return "special file";
}

/* Bytes written for a create or rewrite, bytes dropped for a removal. */
static int64_t change_bytes(const cfg_change *c)
{
    if (c->action == CFG_REMOVE)
        return S_ISREG(c->live.st_mode) ? (int64_t)c->live.st_size : 0;
    if (c->action != CFG_CREATE && c->action != CFG_REWRITE)
        return 0;
    if (c->rec->kind == CFG_SYMLINK)
        return (int64_t)strlen(c->rec->target);
    return c->rec->size;
}

static int is_dir_change(const cfg_change *c)
{
    return c->rec && c->rec->kind == CFG_DIR;
}

int rb_cfg_report_plan(rb_op *op, const cfg_plan *p)
{
    rb_node *res = H->result(op);
    rb_node *changes = H->node_add_array(res, "changes");
    if (!changes)
        return oom();
    int64_t counts[CFG_CONFLICT + 1] = {0};
    int64_t bytes = 0;
    for (size_t i = 0; i < p->n; i++) {
        const cfg_change *c = &p->v[i];
        rb_node *o = H->node_add_object(changes, NULL);
        int64_t b = change_bytes(c);
        if (!o || !H->node_add_string(o, "action", rb_cfg_action_name(c->action)) ||
            !H->node_add_string(o, "item", c->path) ||
            !H->node_add_string(o, "type", c->rec ? kind_name(c->rec->kind) : live_kind(c)) ||
            !H->node_add_int(o, "bytes", b))
            return oom();
        if (c->action == CFG_REMOVE && !c->rec && !H->node_add_bool(o, "created_after_snapshot", 1))
            return oom();
        counts[c->action]++;
        bytes += b;
    }
    char summary[256];
    snprintf(summary, sizeof summary,
             "%lld to rewrite, %lld to create, %lld to remove, %lld with mode or owner to "
             "reset, %lld directories to create, %zu unchanged; %lld bytes to write or drop",
             (long long)counts[CFG_REWRITE], (long long)counts[CFG_CREATE],
             (long long)counts[CFG_REMOVE], (long long)counts[CFG_ATTRS],
             (long long)counts[CFG_MKDIR], p->unchanged, (long long)bytes);
    if (!H->node_add_string(res, "summary", summary) ||
        !H->node_add_int(res, "rewrite", counts[CFG_REWRITE]) ||
        !H->node_add_int(res, "create", counts[CFG_CREATE]) ||
        !H->node_add_int(res, "remove", counts[CFG_REMOVE]) ||
        !H->node_add_int(res, "attributes", counts[CFG_ATTRS]) ||
        !H->node_add_int(res, "mkdir", counts[CFG_MKDIR]) ||
        !H->node_add_int(res, "unchanged", (int64_t)p->unchanged) ||
        !H->node_add_int(res, "bytes", bytes))
        return oom();
    if (counts[CFG_CONFLICT])
        return H->error_set(RB_ECONFLICT, RB_ERRCLASS_FILESYSTEM,
                            "%lld recorded directories are something else now; a rollback "
                            "would refuse to run (see the plan's conflict entries)",
                            (long long)counts[CFG_CONFLICT]);
    return 0;
}

static rb_node *add_difference(rb_node *list, const char *path, const char *what)
{
    rb_node *o = H->node_add_object(list, NULL);
    if (!o || !H->node_add_string(o, "path", path) || !H->node_add_string(o, "difference", what))
        return NULL;
    return o;
}

static int add_expected_actual(rb_node *o, const char *expected, const char *actual)
{
    return H->node_add_string(o, "expected", expected) && H->node_add_string(o, "actual", actual);
}

static int report_attrs(rb_node *list, const cfg_change *c)
{
    char want[40], have[40];
    if (c->diff & CFG_DIFF_MODE) {
        rb_node *o = add_difference(list, c->path, "mode");
        char m1[8], m2[8];
        if (!o || !add_expected_actual(o, rb_cfg_mode_string(c->rec->mode, m1),
                                       rb_cfg_mode_string(c->live.st_mode, m2)))
            return oom();
    }
    if (c->diff & CFG_DIFF_OWNER) {
        rb_node *o = add_difference(list, c->path, "owner");
        snprintf(want, sizeof want, "%ld:%ld", (long)c->rec->uid, (long)c->rec->gid);
        snprintf(have, sizeof have, "%ld:%ld", (long)c->live.st_uid, (long)c->live.st_gid);
        if (!o || !add_expected_actual(o, want, have))
            return oom();
    }
    return 0;
}

static int report_difference(rb_node *list, const cfg_change *c)
{
    rb_node *o;
    switch (c->action) {
    case CFG_CREATE:
    case CFG_MKDIR:
        o = add_difference(list, c->path, "missing");
        return o && add_expected_actual(o, kind_name(c->rec->kind), "absent") ? 0 : oom();
    case CFG_REMOVE:
        o = add_difference(list, c->path, c->rec ? "present" : "extra");
        return o && add_expected_actual(o, "absent", live_kind(c)) ? 0 : oom();
    case CFG_REWRITE:
    case CFG_CONFLICT:
        if (c->diff & CFG_DIFF_TYPE) {
            o = add_difference(list, c->path, "type");
            return o && add_expected_actual(o, kind_name(c->rec->kind), live_kind(c)) ? 0 : oom();
        }
        o = add_difference(list, c->path, c->rec->kind == CFG_SYMLINK ? "target" : "content");
        if (!o)
            return oom();
        if (c->rec->kind == CFG_FILE &&
            (!H->node_add_string(o, "expected_sha256", c->rec->sha256) ||
             (c->live_sha256[0] && !H->node_add_string(o, "actual_sha256", c->live_sha256)) ||
             !H->node_add_int(o, "expected_size", c->rec->size) ||
             !H->node_add_int(o, "actual_size", (int64_t)c->live.st_size)))
            return oom();
        return report_attrs(list, c);
    case CFG_ATTRS:
        return report_attrs(list, c);
    }
    return 0;
}

int rb_cfg_report_verify(rb_op *op, const cfg_plan *p)
{
    rb_node *list = H->node_add_array(H->result(op), "differences");
    if (!list)
        return oom();
    for (size_t i = 0; i < p->n; i++) {
        int rc = report_difference(list, &p->v[i]);
        if (rc)
            return rc;
    }
    if (!H->node_add_int(H->result(op), "unchanged", (int64_t)p->unchanged))
        return oom();
    if (p->n == 0)
        return 0;
    return H->error_set(
        RB_EDRIFT, RB_ERRCLASS_VERIFY, "%zu path%s differ%s from snapshot %s, first %s", p->n,
        p->n == 1 ? "" : "s", p->n == 1 ? "s" : "", H->op_snapshot_id(op), p->v[0].path);
}

int rb_cfg_report_restore(rb_op *op, const cfg_plan *p, int rc, const char *msg)
{
    rb_node *res = H->result(op);
    rb_node *files;
    if (!H->node_add_string(res, "status", rc ? "failed" : "success") ||
        !H->node_add_string(res, "method", "configuration_restore") ||
        !(files = H->node_add_array(res, "files")))
        return oom();
    int64_t restored = 0, removed = 0, dirs = 0;
    for (size_t i = 0; rc == 0 && i < p->n; i++) {
        const cfg_change *c = &p->v[i];
        rb_node *o = H->node_add_object(files, NULL);
        if (!o || !H->node_add_string(o, "path", c->path) ||
            !H->node_add_string(o, "action", rb_cfg_action_name(c->action)))
            return oom();
        if (is_dir_change(c))
            dirs++;
        else if (c->action == CFG_REMOVE)
            removed++;
        else
            restored++;
    }
    if (!H->node_add_int(res, "files_restored", restored) ||
        !H->node_add_int(res, "files_removed", removed) ||
        !H->node_add_int(res, "files_unchanged", (int64_t)p->unchanged) ||
        !H->node_add_int(res, "directories_restored", dirs))
        return oom();
    if (rc && !H->node_add_string(res, "error", msg))
        return oom();
    return 0;
}
