/* The local backend end to end: what a snapshot records (and never
 * records), a rollback that writes the snapshot's state back with the next
 * serial and keeps Terraform's .backup, plan and verify by address. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "infra_fixture.h"

static ift t;

static void setup(void)
{
    ift_open(&t);
}

static void teardown(void)
{
    ift_close(&t);
}

TestSuite(infra_local, .init = setup, .fini = teardown);

static void snapshot(const char *id)
{
    int code;
    char *err = NULL;
    cJSON *res = ift_rbhost_json(t.store, &code, &err,
                                 "create-snapshot --id %s --type infrastructure --config "
                                 "'{\"backend\":\"local\",\"state_path\":\"%s\"}'",
                                 id, t.state);
    cr_assert_eq(code, 0, "create-snapshot exited %d: %s", code, err);
    cr_assert_str_eq(ift_str(res, "status", NULL), "success");
    cJSON_Delete(res);
    free(err);
}

/* What terraform apply leaves after changing the web instances' input,
 * removing subnet["b"] and adding web[2]: the same lineage, the serial one
 * up. */
static char *write_modified(int serial)
{
    ift_state s = ift_state_base();
    s.serial = serial;
    s.web_size = "large";
    s.web_count = 3;
    s.subnet_b = 0;
    char *doc = ift_tfstate(&s);
    rbt_spit(t.state, doc);
    return doc;
}

Test(infra_local, snapshot_records_identity_and_addresses_but_no_secret)
{
    ift_state base = ift_state_base();
    char *doc = ift_tfstate(&base);
    rbt_spit(t.state, doc);
    rbt_run r = rbt_rbhost(t.store,
                           "-v -v --json create-snapshot --id before --type infrastructure "
                           "--config '{\"backend\":\"local\",\"state_path\":\"%s\"}'",
                           t.state);
    cr_assert_eq(r.code, 0, "create-snapshot exited %d: %s", r.code, r.err);
    cJSON *res = rbt_json(r.out);
    cJSON *meta = ift_get(res, "metadata", NULL);
    cr_assert_str_eq(ift_str(meta, "backend", NULL), "local");
    cr_assert_str_eq(ift_str(meta, "lineage", NULL), IFT_LINEAGE);
    cr_assert_str_eq(ift_str(meta, "terraform_version", NULL), "1.9.8");
    cr_assert_eq(cJSON_GetNumberValue(ift_get(meta, "serial", NULL)), 5);
    cr_assert_eq(cJSON_GetNumberValue(ift_get(meta, "format_version", NULL)), 4);
    cr_assert_eq(cJSON_GetNumberValue(ift_get(meta, "resource_count", NULL)), 4);
    cr_assert_eq(cJSON_GetNumberValue(ift_get(meta, "instance_count", NULL)), 6);
    char *outputs = cJSON_PrintUnformatted(ift_get(meta, "outputs", NULL));
    cr_assert_str_eq(outputs, "[\"db_password\",\"web_count\"]");
    free(outputs);
    cJSON *resources = ift_get(meta, "resources", NULL);
    cr_assert_eq(cJSON_GetArraySize(resources), 6);
    const char *addresses[] = {"data.terraform_remote_state.shared",
                               "random_password.db",
                               "terraform_data.web[0]",
                               "terraform_data.web[1]",
                               "module.net.terraform_data.subnet[\"a\"]",
                               "module.net.terraform_data.subnet[\"b\"]"};
    for (size_t i = 0; i < sizeof addresses / sizeof addresses[0]; i++) {
        const char *hash = ift_str(resources, addresses[i], NULL);
        cr_assert_not_null(hash, "no hash recorded for %s", addresses[i]);
        cr_assert_eq(strlen(hash), 64);
    }
    /* The state file was resolved to an absolute path and not touched. */
    cr_assert_str_eq(ift_str(meta, "state_path", NULL), t.state);
    char *now = rbt_slurp(t.state);
    cr_assert_str_eq(now, doc);

    /* The secret is in a sensitive output and a sensitive attribute: not in
     * the response, the metadata file or the (debug) log. */
    cr_assert_null(strstr(r.out, IFT_SECRET));
    cr_assert_null(strstr(r.err, IFT_SECRET));
    char *path = rbt_fmt("%s/before_metadata.json", t.store);
    char *stored = rbt_slurp(path);
    cr_assert_not_null(stored, "no %s", path);
    cr_assert_null(strstr(stored, IFT_SECRET));
    cr_assert_null(strstr(stored, "Pa55w0rd"));
    free(stored);
    free(path);
    free(now);
    free(doc);
    cJSON_Delete(res);
    rbt_run_free(&r);
}

Test(infra_local, rollback_writes_snapshot_with_next_serial_and_keeps_backup)
{
    ift_state base = ift_state_base();
    char *snap_doc = ift_tfstate(&base);
    rbt_spit(t.state, snap_doc);
    cr_assert_eq(chmod(t.state, 0640), 0);
    snapshot("before");
    char *modified = write_modified(6);

    int code;
    char *err = NULL;
    cJSON *rec = ift_rbhost_json(t.store, &code, &err, "execute-rollback --id before --yes");
    cr_assert_eq(code, 0, "execute-rollback exited %d: %s", code, err);
    cr_assert_str_eq(ift_str(rec, "status", NULL), "completed");
    cJSON *exec = ift_get(rec, "execution_result", NULL);
    cr_assert_str_eq(ift_str(exec, "method", NULL), "terraform_state_write");
    cr_assert_eq(cJSON_GetNumberValue(ift_get(exec, "previous_serial", NULL)), 6);
    cr_assert_eq(cJSON_GetNumberValue(ift_get(exec, "serial", NULL)), 7);
    char *backup = rbt_fmt("%s.backup", t.state);
    cr_assert_str_eq(ift_str(exec, "backup_path", NULL), backup);
    cr_assert_str_eq(ift_str(rec, "verification_results", "status", NULL), "success");

    /* The snapshot's bytes, with only the serial changed: current + 1. */
    char *expected = ift_with_serial(snap_doc, 7);
    char *now = rbt_slurp(t.state);
    cr_assert_str_eq(now, expected);
    /* Terraform's .backup holds the state that was replaced. */
    char *kept = rbt_slurp(backup);
    cr_assert_not_null(kept, "no %s", backup);
    cr_assert_str_eq(kept, modified);
    /* Mode kept; the lock info file gone; no temporary file left. */
    struct stat st;
    cr_assert_eq(stat(t.state, &st), 0);
    cr_assert_eq(st.st_mode & 07777, 0640);
    char *info = ift_path(&t, ".terraform.tfstate.lock.info");
    cr_assert_neq(access(info, F_OK), 0, "%s was left behind", info);
    rbt_run ls = rbt_sh("ls -A '%s' | wc -l", t.dir);
    cr_assert_eq(atoi(ls.out), 2, "unexpected files in %s", t.dir);
    rbt_run_free(&ls);
    cr_assert_null(strstr(err, IFT_SECRET));

    /* Rolling back again changes nothing: the state already is the
     * snapshot's, so the serial is not bumped a second time. */
    cJSON_Delete(rec);
    free(err);
    rec = ift_rbhost_json(t.store, &code, &err, "execute-rollback --id before --yes");
    cr_assert_eq(code, 0, "second execute-rollback exited %d: %s", code, err);
    cr_assert(cJSON_IsFalse(ift_get(rec, "execution_result", "changed", NULL)));
    free(now);
    now = rbt_slurp(t.state);
    cr_assert_str_eq(now, expected);

    free(info);
    free(kept);
    free(now);
    free(expected);
    free(backup);
    free(modified);
    free(snap_doc);
    free(err);
    cJSON_Delete(rec);
}

Test(infra_local, dry_run_lists_changes_by_address_and_changes_nothing)
{
    ift_state base = ift_state_base();
    char *snap_doc = ift_tfstate(&base);
    rbt_spit(t.state, snap_doc);
    snapshot("before");
    char *modified = write_modified(6);

    int code;
    cJSON *res = ift_rbhost_json(t.store, &code, NULL, "execute-rollback --id before --dry-run");
    cr_assert_eq(code, 0);
    cJSON *target = cJSON_GetArrayItem(ift_get(res, "targets", NULL), 0);
    cJSON *changes = ift_get(target, "plan", "changes", NULL);
    cr_assert_eq(cJSON_GetArraySize(changes), 4, "changes: %s", cJSON_PrintUnformatted(changes));
    cr_assert(ift_has(changes, "action", "change", "item", "terraform_data.web[0]"));
    cr_assert(ift_has(changes, "action", "change", "item", "terraform_data.web[1]"));
    cr_assert(ift_has(changes, "action", "add", "item", "module.net.terraform_data.subnet[\"b\"]"));
    cr_assert(ift_has(changes, "action", "remove", "item", "terraform_data.web[2]"));
    cr_assert(cJSON_IsTrue(ift_get(target, "plan", "lineage_matches", NULL)));
    cr_assert_eq(cJSON_GetNumberValue(ift_get(target, "plan", "new_serial", NULL)), 7);

    char *now = rbt_slurp(t.state);
    cr_assert_str_eq(now, modified);
    char *backup = rbt_fmt("%s.backup", t.state);
    cr_assert_neq(access(backup, F_OK), 0);
    free(backup);
    free(now);
    free(modified);
    free(snap_doc);
    cJSON_Delete(res);
}

Test(infra_local, verify_reports_each_drifted_address_then_matches_after_rollback)
{
    ift_state base = ift_state_base();
    char *snap_doc = ift_tfstate(&base);
    rbt_spit(t.state, snap_doc);
    snapshot("before");

    /* Only the serial differs: that is no drift. */
    char *bumped = ift_with_serial(snap_doc, 9);
    rbt_spit(t.state, bumped);
    rbt_run v = rbt_rbhost(t.store, "verify --id before");
    cr_assert_eq(v.code, 0, "verify with only the serial changed exited %d: %s", v.code, v.err);
    rbt_run_free(&v);
    /* Nor is the same state written with other formatting. */
    cJSON *parsed = rbt_json(bumped);
    char *compact = cJSON_PrintUnformatted(parsed);
    cr_assert_neq(strlen(compact), strlen(bumped));
    rbt_spit(t.state, compact);
    v = rbt_rbhost(t.store, "verify --id before");
    cr_assert_eq(v.code, 0, "verify of the compactly written state exited %d: %s", v.code, v.err);
    rbt_run_free(&v);
    free(compact);
    cJSON_Delete(parsed);

    char *modified = write_modified(10);
    int code;
    cJSON *res = ift_rbhost_json(t.store, &code, NULL, "verify --id before");
    cr_assert_eq(code, 1);
    cr_assert_str_eq(ift_str(res, "status", NULL), "drift");
    cJSON *diffs = ift_get(cJSON_GetArrayItem(ift_get(res, "targets", NULL), 0), "result",
                           "differences", NULL);
    cr_assert_eq(cJSON_GetArraySize(diffs), 4, "differences: %s", cJSON_PrintUnformatted(diffs));
    cr_assert(ift_has(diffs, "item", "terraform_data.web[0]", "difference", "attributes differ"));
    cr_assert(ift_has(diffs, "item", "terraform_data.web[1]", "difference", "attributes differ"));
    cr_assert(ift_has(diffs, "item", "module.net.terraform_data.subnet[\"b\"]", "difference",
                      "missing from the live state"));
    cr_assert(ift_has(diffs, "item", "terraform_data.web[2]", "difference", "not in the snapshot"));
    cJSON_Delete(res);

    rbt_run rb = rbt_rbhost(t.store, "execute-rollback --id before --yes");
    cr_assert_eq(rb.code, 0, "execute-rollback exited %d: %s", rb.code, rb.err);
    rbt_run_free(&rb);
    v = rbt_rbhost(t.store, "verify --id before");
    cr_assert_eq(v.code, 0, "verify after rollback exited %d: %s", v.code, v.err);
    rbt_run_free(&v);
    free(modified);
    free(bumped);
    free(snap_doc);
}

Test(infra_local, deleted_state_file_is_written_back_as_recorded)
{
    ift_state base = ift_state_base();
    char *snap_doc = ift_tfstate(&base);
    rbt_spit(t.state, snap_doc);
    snapshot("before");
    cr_assert_eq(unlink(t.state), 0);

    /* There is no state to keep a safety copy of: the safety snapshot
     * refuses, naming the file, and nothing changes... */
    rbt_run r = rbt_rbhost(t.store, "execute-rollback --id before --yes");
    cr_assert_eq(r.code, 4, "execute-rollback exited %d: %s", r.code, r.err);
    cr_assert_not_null(strstr(r.err, t.state), "stderr: %s", r.err);
    cr_assert_not_null(strstr(r.err, "--no-safety-snapshot"), "stderr: %s", r.err);
    cr_assert_neq(access(t.state, F_OK), 0);
    rbt_run_free(&r);
    /* ...and without one the state is written back as recorded. */
    int code;
    char *err = NULL;
    cJSON *rec = ift_rbhost_json(t.store, &code, &err,
                                 "execute-rollback --id before --yes --no-safety-snapshot");
    cr_assert_eq(code, 0, "execute-rollback exited %d: %s", code, err);
    cr_assert(cJSON_IsNull(ift_get(rec, "execution_result", "previous_serial", NULL)));
    char *now = rbt_slurp(t.state);
    cr_assert_str_eq(now, snap_doc);
    char *backup = rbt_fmt("%s.backup", t.state);
    cr_assert_neq(access(backup, F_OK), 0, "a backup of nothing was written");
    free(backup);
    free(now);
    free(err);
    free(snap_doc);
    cJSON_Delete(rec);
}

Test(infra_local, bad_config_is_refused_with_the_key_named)
{
    rbt_run r = rbt_rbhost(t.store,
                           "create-snapshot --id x --type infrastructure --config "
                           "'{\"backend\":\"s3\",\"state_path\":\"%s\"}'",
                           t.state);
    cr_assert_neq(r.code, 0);
    cr_assert_not_null(strstr(r.err, "backend must be \"local\" or \"pg\""), "stderr: %s", r.err);
    rbt_run_free(&r);
    r = rbt_rbhost(t.store, "create-snapshot --id x --type infrastructure --config "
                            "'{\"backend\":\"local\"}'");
    cr_assert_neq(r.code, 0);
    cr_assert_not_null(strstr(r.err, "state_path"), "stderr: %s", r.err);
    rbt_run_free(&r);
    r = rbt_rbhost(t.store,
                   "create-snapshot --id x --type infrastructure --config "
                   "'{\"backend\":\"local\",\"state_path\":\"%s\"}'",
                   t.state);
    cr_assert_eq(r.code, 4, "a missing state file: exit %d: %s", r.code, r.err);
    cr_assert_not_null(strstr(r.err, t.state), "stderr: %s", r.err);
    rbt_run_free(&r);
}
