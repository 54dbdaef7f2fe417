/* The infrastructure backend: Terraform and OpenTofu state, in a local
 * terraform.tfstate file or in the pg backend's PostgreSQL table. */
#include "infra.h"

const rb_host_api *rb_infra_host;

static const rb_config_key infra_keys[] = {
    RB_CONFIG_KEY("backend", RB_KEY_STRING, 1, NULL,
                  "where the state lives: local (a terraform.tfstate file) or pg (the "
                  "PostgreSQL state backend of Terraform and OpenTofu)"),
    RB_CONFIG_KEY("state_path", RB_KEY_STRING, 0, NULL,
                  "local: the state file, e.g. /srv/iac/terraform.tfstate"),
    /* Not a secret key: rollback and verify need the connection string the
     * host recorded, and the host records every config string with its
     * password removed, so the password comes from PGPASSWORD or ~/.pgpass
     * by then. */
    RB_CONFIG_KEY("conn_str", RB_KEY_STRING, 0, NULL,
                  "pg: the backend block's conn_str (libpq keywords or postgres:// URI); the "
                  "password is never recorded: give it through PGPASSWORD or ~/.pgpass"),
    RB_CONFIG_KEY("schema_name", RB_KEY_STRING, 0, "\"terraform_remote_state\"",
                  "pg: the backend block's schema_name"),
    RB_CONFIG_KEY("workspace", RB_KEY_STRING, 0, "\"default\"",
                  "pg: the workspace (its row's name in <schema_name>.states)"),
    RB_CONFIG_KEY("working_dir", RB_KEY_STRING, 0, NULL,
                  "where apply_command runs; default: the state file's directory (local) or "
                  "rbhost's current directory (pg)"),
    RB_CONFIG_KEY("apply_command", RB_KEY_STRING, 0, NULL,
                  "run with sh -c after the state is restored, e.g. "
                  "tofu apply -auto-approve -input=false; a failure makes the rollback partial"),
    RB_CONFIG_KEY("timeout", RB_KEY_INT, 0, "1800",
                  "seconds apply_command may run before it is stopped"),
    RB_CONFIG_KEY_END,
};

static int infra_init(const rb_host_api *host, void **state)
{
    rb_infra_host = host;
    *state = NULL;
    return 0;
}

static void infra_fini(void *state)
{
    (void)state;
}

static int infra_snapshot(void *state, rb_op *op)
{
    (void)state;
    return rb_infra_snapshot(op);
}

static int infra_restore(void *state, rb_op *op)
{
    (void)state;
    return rb_infra_restore(op);
}

static int infra_verify(void *state, rb_op *op)
{
    (void)state;
    return rb_infra_verify(op);
}

static int infra_plan(void *state, rb_op *op)
{
    (void)state;
    return rb_infra_plan(op);
}

static const rollback_plugin infrastructure_backend = {
    RB_PLUGIN_HEADER,
    "infrastructure",
    "Terraform and OpenTofu state (local file or pg backend), restored with a fresh serial",
    "1.0.0",
    0,
    infra_keys,
    infra_init,
    infra_fini,
    infra_snapshot,
    infra_restore,
    infra_verify,
    infra_plan,
    NULL,
    NULL,
};

RB_PLUGIN_DEFINE(infrastructure_backend)
