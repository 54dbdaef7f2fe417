/* The configuration backend: configuration files and directories, recorded
 * with their content (in the store), mode and owner, and rolled back all
 * together or not at all. */
#include <stdlib.h>
#include <string.h>

#include "cfg.h"

const rb_host_api *rb_cfg_host;

#define H rb_cfg_host

static const rb_config_key cfg_keys[] = {
    RB_CONFIG_KEY("config_files", RB_KEY_STRING_LIST, 1, NULL,
                  "files and directories to record; glob patterns allowed; a listed file that "
                  "does not exist is recorded as absent and removed by a rollback"),
    RB_CONFIG_KEY("backup_location", RB_KEY_STRING, 0, NULL,
                  "also keep a plain, readable copy of the recorded files in "
                  "<backup_location>/<snapshot id>/; rollbacks use the store, not this copy"),
    RB_CONFIG_KEY_END,
};

static int cfg_init(const rb_host_api *host, void **state)
{
    rb_cfg_host = host;
    *state = NULL;
    return 0;
}

static void cfg_fini(void *state)
{
    (void)state;
}

static int rb_cfg_snapshot(void *state, rb_op *op)
{
    (void)state;
    cfg_set s;
    memset(&s, 0, sizeof s);
    int rc = rb_cfg_scan(op, &s);
    if (rc == 0)
        rc = rb_cfg_record_write(op, &s);
    char *copy = NULL;
    if (rc == 0)
        rc = rb_cfg_copy_write(op, &s, &copy);
    if (rc == 0 && copy && !H->node_add_string(H->metadata(op), "backup_copy", copy)) {
        rb_cfg_copy_remove(copy);
        rc = H->error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
    }
    free(copy);
    rb_cfg_set_free(&s);
    return rc;
}

/* Reads the record and compares it with the live files. */
static int load_plan(rb_op *op, cfg_set *rec, cfg_plan *plan)
{
    memset(rec, 0, sizeof *rec);
    memset(plan, 0, sizeof *plan);
    int rc = rb_cfg_record_read(op, rec);
    if (rc == 0)
        rc = rb_cfg_set_exclude_backup(op, rec);
    return rc ? rc : rb_cfg_diff(op, rec, plan);
}

static int rb_cfg_restore(void *state, rb_op *op)
{
    (void)state;
    if (H->op_restore_to(op))
        return H->error_set(RB_EUNSUPPORTED, RB_ERRCLASS_CONFIG,
                            "configuration files are restored in place only; drop --to");
    cfg_set rec;
    cfg_plan plan;
    int rc = load_plan(op, &rec, &plan);
    char msg[4096] = "";
    if (rc == 0) {
        rc = rb_cfg_apply(op, &plan, msg, sizeof msg);
        int rrc = rb_cfg_report_restore(op, &plan, rc, msg);
        if (rc == 0)
            rc = rrc;
    }
    rb_cfg_plan_free(&plan);
    rb_cfg_set_free(&rec);
    return rc;
}

static int rb_cfg_verify(void *state, rb_op *op)
{
    (void)state;
    cfg_set rec;
    cfg_plan plan;
    int rc = load_plan(op, &rec, &plan);
    if (rc == 0)
        rc = rb_cfg_report_verify(op, &plan);
    rb_cfg_plan_free(&plan);
    rb_cfg_set_free(&rec);
    return rc;
}

static int rb_cfg_plan(void *state, rb_op *op)
{
    (void)state;
    cfg_set rec;
    cfg_plan plan;
    int rc = load_plan(op, &rec, &plan);
    if (rc == 0)
        rc = rb_cfg_report_plan(op, &plan);
    rb_cfg_plan_free(&plan);
    rb_cfg_set_free(&rec);
    return rc;
}

/* Removes the backup_location copy; only a directory named after this
 * snapshot, as the snapshot created it, is ever removed. */
static int rb_cfg_destroy(void *state, rb_op *op)
{
    (void)state;
    const char *copy = H->node_string(H->node_get(H->metadata(op), "backup_copy"));
    const char *id = H->op_snapshot_id(op);
    if (!copy || !id)
        return 0;
    const char *slash = strrchr(copy, '/');
    if (copy[0] != '/' || !slash || strcmp(slash + 1, id) != 0)
        return H->error_set(RB_ECORRUPT, RB_ERRCLASS_STORE,
                            "snapshot %s records backup copy %s, which is not named after it; "
                            "left in place",
                            id, copy);
    return rb_cfg_copy_remove(copy);
}

static const rollback_plugin configuration_plugin = {
    RB_PLUGIN_HEADER,
    "configuration",
    "configuration files and directories: content, mode and owner, rolled back all or nothing",
    "1.0.0",
    0,
    cfg_keys,
    cfg_init,
    cfg_fini,
    rb_cfg_snapshot,
    rb_cfg_restore,
    rb_cfg_verify,
    rb_cfg_plan,
    NULL,
    rb_cfg_destroy,
};

RB_PLUGIN_DEFINE(configuration_plugin)
