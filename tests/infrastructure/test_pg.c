/* The pg backend against a real PostgreSQL server (tests/servers/
 * postgres.sh): the schema, sequence, table and index made exactly as
 * Terraform's pg backend makes them (internal/backend/remote-state/pg/
 * backend.go), rows written as its Put writes them, and its advisory lock
 * held from a second connection as its Lock holds it. */
#include <criterion/criterion.h>
#include <libpq-fe.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "infra_fixture.h"
#include "pg_fixture.h"

static ift t;
static ipg pg;

static void pg_open(void)
{
    ipg_open(&pg);
    ift_open(&t);
}

static void pg_close(void)
{
    if (pg.opened)
        ift_close(&t);
    ipg_close(&pg);
}

TestSuite(infra_pg, .fini = pg_close, .timeout = 120);

static void snapshot(const char *extra_config)
{
    char *cs = ipg_conn_str(&pg);
    char *config = rbt_fmt("{\"backend\":\"pg\",\"conn_str\":\"%s\"%s}", cs, extra_config);
    char *path = rbt_fmt("%s/config.json", t.tmp);
    rbt_spit(path, config);
    rbt_run r =
        rbt_rbhost(t.store, "create-snapshot --id before --type infrastructure --config @%s", path);
    cr_assert_eq(r.code, 0, "create-snapshot exited %d: %s", r.code, r.err);
    rbt_run_free(&r);
    free(path);
    free(config);
    free(cs);
}

static int advisory_locks(void)
{
    PGresult *r =
        ipg_run(pg.admin, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'", 0, NULL);
    int n = atoi(PQgetvalue(r, 0, 0));
    PQclear(r);
    return n;
}

Test(infra_pg, rollback_rewrites_the_workspace_row_with_the_next_serial)
{
    pg_open();
    ipg_terraform_layout(&pg, "terraform_remote_state");
    ift_state base = ift_state_base();
    char *snap_doc = ift_tfstate(&base);
    ipg_put_state(&pg, "terraform_remote_state", "default", snap_doc);
    snapshot("");
    char *id_before = NULL;
    free(ipg_get_state(&pg, "terraform_remote_state", "default", &id_before));

    ift_state s = ift_state_base();
    s.serial = 6;
    s.web_size = "large";
    s.subnet_b = 0;
    char *modified = ift_tfstate(&s);
    ipg_put_state(&pg, "terraform_remote_state", "default", modified);

    int code;
    char *err = NULL;
    cJSON *rec = ift_rbhost_json(t.store, &code, &err, "execute-rollback --id before --yes");
    cr_assert_eq(code, 0, "execute-rollback exited %d: %s", code, err);
    cr_assert_str_eq(ift_str(rec, "status", NULL), "completed");
    cJSON *exec = ift_get(rec, "execution_result", NULL);
    cr_assert_str_eq(ift_str(exec, "table", NULL), "terraform_remote_state.states");
    cr_assert_str_eq(ift_str(exec, "workspace", NULL), "default");
    cr_assert_eq(cJSON_GetNumberValue(ift_get(exec, "previous_serial", NULL)), 6);
    cr_assert_eq(cJSON_GetNumberValue(ift_get(exec, "serial", NULL)), 7);
    cr_assert_str_eq(ift_str(rec, "verification_results", "status", NULL), "success");

    char *id_after = NULL;
    char *now = ipg_get_state(&pg, "terraform_remote_state", "default", &id_after);
    char *expected = ift_with_serial(snap_doc, 7);
    cr_assert_str_eq(now, expected);
    cr_assert_str_eq(id_after, id_before, "the row was replaced instead of updated");
    cr_assert_eq(advisory_locks(), 0, "rbhost left an advisory lock behind");
    cr_assert_null(strstr(err, IFT_SECRET));

    rbt_run v = rbt_rbhost(t.store, "verify --id before");
    cr_assert_eq(v.code, 0, "verify exited %d: %s", v.code, v.err);
    rbt_run_free(&v);
    free(expected);
    free(now);
    free(id_after);
    free(id_before);
    free(modified);
    free(snap_doc);
    free(err);
    cJSON_Delete(rec);
}

Test(infra_pg, workspace_locked_by_another_session_is_refused_with_its_pid)
{
    pg_open();
    ipg_terraform_layout(&pg, "terraform_remote_state");
    ift_state base = ift_state_base();
    char *snap_doc = ift_tfstate(&base);
    ipg_put_state(&pg, "terraform_remote_state", "default", snap_doc);
    snapshot("");
    ift_state s = ift_state_base();
    s.serial = 6;
    s.web_count = 3;
    char *modified = ift_tfstate(&s);
    ipg_put_state(&pg, "terraform_remote_state", "default", modified);

    /* A terraform apply in progress: its Lock() statement, from a session
     * of its own, which then drops the creation lock. */
    PGconn *holder = ipg_connect(pg.dbname);
    PGresult *r =
        ipg_run(holder,
                "SELECT states.id, pg_try_advisory_lock(states.id), pg_try_advisory_lock(-1) "
                "FROM terraform_remote_state.states WHERE states.name = 'default'",
                0, NULL);
    cr_assert_str_eq(PQgetvalue(r, 0, 1), "t");
    PQclear(r);
    ipg_exec(holder, "SELECT pg_advisory_unlock(-1)");
    char *pid = rbt_fmt("pid %d", PQbackendPID(holder));

    int code;
    char *err = NULL;
    cJSON *rec = ift_rbhost_json(t.store, &code, &err,
                                 "execute-rollback --id before --yes --no-safety-snapshot");
    cr_assert_eq(code, 5, "execute-rollback exited %d: %s", code, err);
    const char *msg = ift_error(rec);
    cr_assert_not_null(strstr(msg, "workspace \"default\""), "error: %s", msg);
    cr_assert_not_null(strstr(msg, pid), "holder not named: %s", msg);
    char *now = ipg_get_state(&pg, "terraform_remote_state", "default", NULL);
    cr_assert_str_eq(now, modified, "a refused rollback changed the row");
    free(now);
    cJSON_Delete(rec);
    free(err);

    /* Workspace creation in progress (Terraform's creation lock, -1). */
    PQclear(ipg_run(holder, "SELECT pg_advisory_unlock_all()", 0, NULL));
    ipg_exec(holder, "SELECT pg_advisory_lock(-1)");
    rec = ift_rbhost_json(t.store, &code, &err,
                          "execute-rollback --id before --yes --no-safety-snapshot");
    cr_assert_eq(code, 5, "execute-rollback exited %d: %s", code, err);
    cr_assert_not_null(strstr(ift_error(rec), "being created"), "error: %s", ift_error(rec));
    cJSON_Delete(rec);
    free(err);

    /* The same in OpenTofu, whose creation lock is minus the 32-bit FNV-1
     * hash of the schema name, a NUL and the table name. */
    PQclear(ipg_run(holder, "SELECT pg_advisory_unlock_all()", 0, NULL));
    const char tofu_input[] = "terraform_remote_state\0states";
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < sizeof tofu_input - 1; i++) {
        h *= 16777619u;
        h ^= (unsigned char)tofu_input[i];
    }
    char *tofu_lock = rbt_fmt("SELECT pg_advisory_lock(%lld)", -(long long)h);
    ipg_exec(holder, tofu_lock);
    free(tofu_lock);
    rec = ift_rbhost_json(t.store, &code, &err,
                          "execute-rollback --id before --yes --no-safety-snapshot");
    cr_assert_eq(code, 5, "execute-rollback exited %d: %s", code, err);
    cr_assert_not_null(strstr(ift_error(rec), "being created"), "error: %s", ift_error(rec));
    cJSON_Delete(rec);
    free(err);
    now = ipg_get_state(&pg, "terraform_remote_state", "default", NULL);
    cr_assert_str_eq(now, modified, "a refused rollback changed the row");
    free(now);

    /* The apply ends: the lock goes, the rollback goes through. */
    PQfinish(holder);
    rbt_run ok = rbt_rbhost(t.store, "execute-rollback --id before --yes");
    cr_assert_eq(ok.code, 0, "execute-rollback exited %d: %s", ok.code, ok.err);
    rbt_run_free(&ok);
    now = ipg_get_state(&pg, "terraform_remote_state", "default", NULL);
    char *expected = ift_with_serial(snap_doc, 7);
    cr_assert_str_eq(now, expected);
    free(expected);
    free(now);
    free(pid);
    free(modified);
    free(snap_doc);
}

Test(infra_pg, named_workspace_in_own_schema_and_the_password_never_recorded)
{
    pg_open();
    const char *schema = "iac state";
    ipg_terraform_layout(&pg, schema);
    const char *password = "pg-pw-" IFT_SECRET;
    char *sql = rbt_fmt("CREATE ROLE %s LOGIN PASSWORD '%s'", pg.role, password);
    ipg_exec(pg.admin, sql);
    free(sql);
    sql = rbt_fmt("GRANT USAGE ON SCHEMA \"iac state\" TO %s; "
                  "GRANT SELECT, INSERT, UPDATE ON \"iac state\".states TO %s; "
                  "GRANT USAGE ON SEQUENCE public.global_states_id_seq TO %s",
                  pg.role, pg.role, pg.role);
    ipg_exec(pg.db, sql);
    free(sql);

    ift_state staging = ift_state_base();
    char *snap_doc = ift_tfstate(&staging);
    ift_state prod = ift_state_base();
    prod.lineage = IFT_OTHER_LINEAGE;
    prod.serial = 40;
    char *prod_doc = ift_tfstate(&prod);
    ipg_put_state(&pg, schema, "staging", snap_doc);
    ipg_put_state(&pg, schema, "default", prod_doc);

    char *config =
        rbt_fmt("{\"backend\":\"pg\",\"conn_str\":\"postgresql://%s:%s@/%s?host=%s&port=%s\","
                "\"schema_name\":\"%s\",\"workspace\":\"staging\"}",
                pg.role, password, pg.dbname, getenv("RBT_PG_HOST"), getenv("RBT_PG_PORT"), schema);
    char *path = rbt_fmt("%s/config.json", t.tmp);
    rbt_spit(path, config);
    rbt_run r = rbt_rbhost(t.store,
                           "-v --json create-snapshot --id before --type infrastructure "
                           "--config @%s",
                           path);
    cr_assert_eq(r.code, 0, "create-snapshot exited %d: %s", r.code, r.err);
    cr_assert_null(strstr(r.out, "pg-pw-"), "the password is in the response");
    cr_assert_null(strstr(r.err, "pg-pw-"), "the password is in the log");
    cJSON *res = rbt_json(r.out);
    cr_assert_str_eq(ift_str(res, "metadata", "schema_name", NULL), schema);
    cr_assert_str_eq(ift_str(res, "metadata", "workspace", NULL), "staging");
    cr_assert_str_eq(ift_str(res, "metadata", "database", NULL), pg.dbname);
    cJSON_Delete(res);
    rbt_run_free(&r);
    char *meta_path = rbt_fmt("%s/before_metadata.json", t.store);
    char *meta = rbt_slurp(meta_path);
    cr_assert_not_null(meta);
    cr_assert_null(strstr(meta, "pg-pw-"), "the password was recorded: %s", meta);
    cr_assert_null(strstr(meta, IFT_SECRET));

    ift_state s = ift_state_base();
    s.serial = 6;
    s.web_size = "large";
    char *modified = ift_tfstate(&s);
    ipg_put_state(&pg, schema, "staging", modified);

    /* The recorded conn_str has no password: it comes from the
     * environment, as for terraform itself. */
    setenv("PGPASSWORD", password, 1);
    r = rbt_rbhost(t.store, "execute-rollback --id before --yes");
    unsetenv("PGPASSWORD");
    cr_assert_eq(r.code, 0, "execute-rollback exited %d: %s", r.code, r.err);
    cr_assert_null(strstr(r.err, "pg-pw-"));
    rbt_run_free(&r);
    char *now = ipg_get_state(&pg, schema, "staging", NULL);
    char *expected = ift_with_serial(snap_doc, 7);
    cr_assert_str_eq(now, expected);
    char *other = ipg_get_state(&pg, schema, "default", NULL);
    cr_assert_str_eq(other, prod_doc, "another workspace's row was touched");

    free(other);
    free(expected);
    free(now);
    free(modified);
    free(meta);
    free(meta_path);
    free(path);
    free(config);
    free(prod_doc);
    free(snap_doc);
}

Test(infra_pg, database_without_the_backend_table_is_named)
{
    pg_open();
    char *cs = ipg_conn_str(&pg);
    rbt_run r = rbt_rbhost(t.store,
                           "create-snapshot --id before --type infrastructure --config "
                           "'{\"backend\":\"pg\",\"conn_str\":\"%s\"}'",
                           cs);
    cr_assert_eq(r.code, 4, "create-snapshot exited %d: %s", r.code, r.err);
    cr_assert_not_null(strstr(r.err, "terraform_remote_state.states"), "stderr: %s", r.err);
    cr_assert_not_null(strstr(r.err, "init"), "stderr: %s", r.err);
    rbt_run_free(&r);
    free(cs);
}
