/* A target's config: which backend holds the state and where, and what to
 * run after a rollback. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "infra.h"

static const char *config_string(const rb_node *cfg, const char *key)
{
    const char *s = rb_infra_host->node_string(rb_infra_host->node_get(cfg, key));
    return s && *s ? s : NULL;
}

static int key_belongs_to(const char *key, const char *backend)
{
    return rb_infra_host->error_set(RB_EINVAL, RB_ERRCLASS_CONFIG,
                                    "config key %s belongs to backend \"%s\"; remove it or set "
                                    "\"backend\": \"%s\"",
                                    key, backend, backend);
}

int rb_infra_no_state(rb_op *op, const char *where)
{
    if (rb_infra_host->op_flags(op) & RB_OP_SAFETY)
        return rb_infra_host->error_set(RB_ENOTFOUND, RB_ERRCLASS_INFRA,
                                        "there is no Terraform state in %s to keep a safety copy "
                                        "of; to write the snapshot's state there, roll back with "
                                        "--no-safety-snapshot",
                                        where);
    return rb_infra_host->error_set(RB_ENOTFOUND, RB_ERRCLASS_INFRA,
                                    "there is no Terraform state in %s yet: check the config "
                                    "(terraform init and apply create it)",
                                    where);
}

static int read_state_path(rb_op *op, int from_metadata, const char *configured, rb_infra_target *t)
{
    const rb_host_api *h = rb_infra_host;
    const rb_node *recorded_in = NULL;
    if (from_metadata)
        recorded_in = h->metadata(op);
    else if (configured[0] != '/' && (h->op_flags(op) & RB_OP_SAFETY))
        /* The safety snapshot of a rollback runs wherever rbhost was started:
         * a relative path means what it meant for the snapshots taken with
         * this same config. */
        recorded_in = h->previous_metadata(op);
    const char *recorded =
        recorded_in ? h->node_string(h->node_get(recorded_in, "state_path")) : NULL;
    if (recorded) {
        t->state_path = strdup(recorded);
    } else {
        /* Resolved once, at snapshot time: a relative path or a symlink
         * must name the same file when the rollback runs elsewhere. */
        char resolved[PATH_MAX];
        if (!realpath(configured, resolved)) {
            int err = errno;
            if (err == ENOENT) {
                char where[PATH_MAX + 16];
                snprintf(where, sizeof where, "state file %s", configured);
                return rb_infra_no_state(op, where);
            }
            return h->error_set(RB_EIO, RB_ERRCLASS_OS, "cannot resolve %s: %s", configured,
                                strerror(err));
        }
        t->state_path = strdup(resolved);
    }
    if (!t->state_path)
        return h->error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
    return 0;
}

int rb_infra_target_read(rb_op *op, int from_metadata, rb_infra_target *t)
{
    const rb_node *cfg = rb_infra_host->config(op);
    memset(t, 0, sizeof *t);
    t->backend = config_string(cfg, "backend");
    const char *state_path = config_string(cfg, "state_path");
    t->conn_str = config_string(cfg, "conn_str");
    t->schema_name = config_string(cfg, "schema_name");
    t->workspace = config_string(cfg, "workspace");
    t->working_dir = config_string(cfg, "working_dir");
    t->apply_command = config_string(cfg, "apply_command");
    const rb_node *timeout = rb_infra_host->node_get(cfg, "timeout");
    t->timeout = rb_infra_host->node_type(timeout) == RB_NODE_NUMBER
                     ? rb_infra_host->node_int(timeout)
                     : 1800;
    if (t->timeout <= 0 || t->timeout > 31536000)
        return rb_infra_host->error_set(RB_EINVAL, RB_ERRCLASS_CONFIG,
                                        "timeout must be between 1 and 31536000 seconds (a "
                                        "year), not %lld",
                                        (long long)t->timeout);
    if (!t->schema_name)
        t->schema_name = "terraform_remote_state";
    if (!t->workspace)
        t->workspace = "default";

    if (t->backend && !strcmp(t->backend, "local")) {
        t->kind = RB_INFRA_LOCAL;
        if (t->conn_str)
            return key_belongs_to("conn_str", "pg");
        if (!state_path)
            return rb_infra_host->error_set(RB_EINVAL, RB_ERRCLASS_CONFIG,
                                            "backend \"local\" needs state_path (the "
                                            "terraform.tfstate file)");
        return read_state_path(op, from_metadata, state_path, t);
    }
    if (t->backend && !strcmp(t->backend, "pg")) {
        t->kind = RB_INFRA_PG;
        if (state_path)
            return key_belongs_to("state_path", "local");
        if (!t->conn_str)
            return rb_infra_host->error_set(RB_EINVAL, RB_ERRCLASS_CONFIG,
                                            "backend \"pg\" needs conn_str (as in the "
                                            "backend \"pg\" block)");
        return 0;
    }
    return rb_infra_host->error_set(RB_EINVAL, RB_ERRCLASS_CONFIG,
                                    "backend must be \"local\" or \"pg\", not \"%s\"",
                                    t->backend ? t->backend : "");
}

void rb_infra_target_free(rb_infra_target *t)
{
    free(t->state_path);
    t->state_path = NULL;
}

void rb_infra_target_name(const rb_infra_target *t, char *out, size_t size)
{
    if (t->kind == RB_INFRA_LOCAL)
        snprintf(out, size, "state file %s", t->state_path ? t->state_path : "?");
    else
        snprintf(out, size, "workspace \"%s\" in %s.states", t->workspace, t->schema_name);
}

int rb_infra_target_describe(const rb_infra_target *t, rb_node *obj)
{
    const rb_host_api *h = rb_infra_host;
    if (!h->node_add_string(obj, "backend", t->backend))
        return RB_ENOMEM;
    if (t->kind == RB_INFRA_LOCAL)
        return h->node_add_string(obj, "state_path", t->state_path) ? 0 : RB_ENOMEM;
    if (!h->node_add_string(obj, "schema_name", t->schema_name) ||
        !h->node_add_string(obj, "workspace", t->workspace))
        return RB_ENOMEM;
    return rb_infra_pg_describe(t->conn_str, obj);
}

const rb_infra_backend *rb_infra_backend_for(const rb_infra_target *t)
{
    return t->kind == RB_INFRA_PG ? &rb_infra_backend_pg : &rb_infra_backend_local;
}
