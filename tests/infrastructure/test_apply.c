/* apply_command after a restore: it runs in working_dir once the restored
 * state is on disk, its output reaches the log line by line, its exit
 * status goes into the record, and a failure (or a timeout) is reported as
 * a rollback whose state was restored but whose follow-up failed. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

TestSuite(infra_apply, .init = setup, .fini = teardown);

/* Snapshot with apply_command (JSON-escaped by the caller), then let
 * "terraform" move the state on to serial 6. Returns the snapshot's
 * document. */
static char *prepare(const char *apply_json, int timeout)
{
    ift_state base = ift_state_base();
    char *doc = ift_tfstate(&base);
    rbt_spit(t.state, doc);
    char *workdir = ift_path(&t, "work");
    rbt_run mk = rbt_sh("mkdir -p '%s'", workdir);
    rbt_run_free(&mk);
    char *config = rbt_fmt("{\"backend\":\"local\",\"state_path\":\"%s\",\"working_dir\":\"%s\","
                           "\"apply_command\":%s,\"timeout\":%d}",
                           t.state, workdir, apply_json, timeout);
    char *config_path = rbt_fmt("%s/config.json", t.tmp);
    rbt_spit(config_path, config);
    rbt_run r = rbt_rbhost(
        t.store, "create-snapshot --id before --type infrastructure --config @%s", config_path);
    cr_assert_eq(r.code, 0, "create-snapshot exited %d: %s", r.code, r.err);
    rbt_run_free(&r);
    ift_state s = ift_state_base();
    s.serial = 6;
    s.web_count = 1;
    char *modified = ift_tfstate(&s);
    rbt_spit(t.state, modified);
    free(modified);
    free(config_path);
    free(config);
    free(workdir);
    return doc;
}

static void expect_state_restored(const char *snap_doc)
{
    char *expected = ift_with_serial(snap_doc, 7);
    char *now = rbt_slurp(t.state);
    cr_assert_str_eq(now, expected);
    free(now);
    free(expected);
}

Test(infra_apply, command_runs_in_working_dir_after_the_state_is_back)
{
    /* What the command sees proves when and where it ran. */
    char *snap_doc = prepare("\"pwd > ran-in; grep -c '\\\"serial\\\": 7,' ../terraform.tfstate "
                             "> saw-serial; echo 'Apply complete! Resources: 0 added'; "
                             "echo 'second line' >&2\"",
                             60);
    int code;
    char *err = NULL;
    cJSON *rec = ift_rbhost_json(t.store, &code, &err, "-v execute-rollback --id before --yes");
    cr_assert_eq(code, 0, "execute-rollback exited %d: %s", code, err);
    cr_assert_str_eq(ift_str(rec, "status", NULL), "completed");
    cJSON *exec = ift_get(rec, "execution_result", NULL);
    cr_assert_str_eq(ift_str(exec, "apply_status", NULL), "succeeded");
    cr_assert_eq(cJSON_GetNumberValue(ift_get(exec, "apply_exit_status", NULL)), 0);
    cr_assert(cJSON_IsNumber(ift_get(exec, "apply_duration_ms", NULL)));
    cr_assert_not_null(strstr(err, "apply_command: Apply complete! Resources: 0 added"),
                       "stderr: %s", err);
    cr_assert_not_null(strstr(err, "apply_command: second line"), "stderr: %s", err);

    char *workdir = ift_path(&t, "work");
    char *ran_in_path = ift_path(&t, "work/ran-in");
    char *ran_in = rbt_slurp(ran_in_path);
    char *expected_dir = rbt_fmt("%s\n", workdir);
    cr_assert_str_eq(ran_in, expected_dir);
    char *saw_path = ift_path(&t, "work/saw-serial");
    char *saw = rbt_slurp(saw_path);
    cr_assert_str_eq(saw, "1\n", "apply_command ran before the restored state was written");
    expect_state_restored(snap_doc);
    free(saw);
    free(saw_path);
    free(expected_dir);
    free(ran_in);
    free(ran_in_path);
    free(workdir);
    free(err);
    free(snap_doc);
    cJSON_Delete(rec);
}

Test(infra_apply, failing_command_is_recorded_and_the_rollback_not_completed)
{
    char *snap_doc = prepare("\"echo 'Error: creating instance: quota exceeded'; exit 3\"", 60);
    int code;
    char *err = NULL;
    cJSON *rec = ift_rbhost_json(t.store, &code, &err, "execute-rollback --id before --yes");
    /* Restored but not applied: the rollback is partial (exit 1). */
    cr_assert_eq(code, 1, "a failed apply_command gave exit %d", code);
    cr_assert_str_eq(ift_str(rec, "status", NULL), "partial");
    cJSON *exec = ift_get(rec, "execution_result", NULL);
    /* The backend's own verdict: state restored, follow-up failed. */
    cr_assert_str_eq(ift_str(exec, "status", NULL), "partial");
    cr_assert_str_eq(ift_str(exec, "apply_status", NULL), "failed");
    cr_assert_eq(cJSON_GetNumberValue(ift_get(exec, "apply_exit_status", NULL)), 3);
    cr_assert_eq(cJSON_GetNumberValue(ift_get(exec, "serial", NULL)), 7);
    const char *msg = ift_error(rec);
    cr_assert_not_null(strstr(msg, "the state was restored"), "error: %s", msg);
    cr_assert_not_null(strstr(msg, "exit status 3"), "error: %s", msg);
    cr_assert_not_null(strstr(err, "apply_command: Error: creating instance: quota exceeded"),
                       "stderr: %s", err);
    /* The state stays restored: the record says so rather than undoing it. */
    expect_state_restored(snap_doc);
    free(err);
    free(snap_doc);
    cJSON_Delete(rec);
}

Test(infra_apply, command_past_its_timeout_is_stopped)
{
    char *snap_doc = prepare("\"echo started; sleep 60; echo never\"", 1);
    time_t start = time(NULL);
    int code;
    char *err = NULL;
    cJSON *rec = ift_rbhost_json(t.store, &code, &err, "execute-rollback --id before --yes");
    time_t took = time(NULL) - start;
    cr_assert_neq(code, 0);
    cr_assert_lt(took, 20, "the timeout did not stop apply_command (took %lds)", (long)took);
    cJSON *exec = ift_get(rec, "execution_result", NULL);
    cr_assert_str_eq(ift_str(exec, "status", NULL), "partial");
    cr_assert_str_eq(ift_str(exec, "apply_status", NULL), "timed_out");
    cr_assert_not_null(strstr(err, "apply_command: started"), "stderr: %s", err);
    cr_assert_null(strstr(err, "apply_command: never"), "stderr: %s", err);
    cr_assert_str_eq(ift_str(rec, "error_code", NULL), "timeout");
    expect_state_restored(snap_doc);
    free(err);
    free(snap_doc);
    cJSON_Delete(rec);
}
