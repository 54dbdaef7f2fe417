/* Faults a user meets at the edges: an empty backend directory, a backend
 * gone or a recorded config outdated since the snapshot, a rollback that
 * restores only part of a set, validation tests that print or look for a
 * long process name, and the message that explains each failure. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rbtest.h"

static char *tmp, *store, *plugins, *file;

static void setup(void)
{
    tmp = rbt_tmpdir();
    store = rbt_fmt("%s/store", tmp);
    plugins = rbt_fmt("%s/plugins", tmp);
    file = rbt_fmt("%s/app.conf", tmp);
    rbt_spit(file, "port=80\n");
    /* Private copies, so a test can take one away. */
    rbt_run r = rbt_sh("mkdir -p '%s' && cp '%s/hello.so' '%s/ok.so' '%s'", plugins,
                       rbt_fixture_plugin_dir(), rbt_fixture_plugin_dir(), plugins);
    cr_assert_eq(r.code, 0, "%s", r.err);
    rbt_run_free(&r);
}

static void teardown(void)
{
    rbt_rmtree(tmp);
    free(tmp);
    free(store);
    free(plugins);
    free(file);
}

TestSuite(review, .init = setup, .fini = teardown);

#define RB(...) rbt_rbhost(store, "--plugin-dir '%s' " __VA_ARGS__)

/* A set of hello (first) and fixture_ok (second), then hello.so removed. */
static void set_without_hello(void)
{
    rbt_run r = RB("create-snapshot --id s1 --spec '{\"targets\":[{\"name\":\"conf\",\"type\":"
                   "\"hello\",\"config\":{\"path\":\"%s\"}},{\"name\":\"other\",\"type\":"
                   "\"fixture_ok\",\"config\":{}}]}'",
                   plugins, file);
    cr_assert_eq(r.code, 0, "%s", r.err);
    rbt_run_free(&r);
    char *so = rbt_fmt("%s/hello.so", plugins);
    cr_assert_eq(remove(so), 0);
    free(so);
}

Test(review, an_empty_plugin_directory_is_no_error)
{
    char *empty = rbt_fmt("%s/empty", tmp);
    rbt_run r = rbt_sh("mkdir -p '%s'", empty);
    rbt_run_free(&r);
    r = rbt_rbhost(store, "--plugin-dir '%s' --json plugins", empty);
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_assert_str_empty(r.err);
    cJSON *doc = rbt_json(r.out);
    cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(doc, "status")), "success");
    cJSON_Delete(doc);
    rbt_run_free(&r);
    free(empty);
}

Test(review, verify_names_the_target_whose_backend_is_gone)
{
    set_without_hello();
    rbt_run r = RB("--json verify --id s1", plugins);
    cr_assert_eq(r.code, 4, "exit %d: %s%s", r.code, r.out, r.err);
    /* The later target verified fine; the error must still be the first one's. */
    cr_assert(strstr(r.err, "unknown type 'hello'"), "stderr: %s", r.err);
    cJSON *doc = rbt_json(r.out);
    cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(doc, "status")), "error");
    cJSON_Delete(doc);
    rbt_run_free(&r);
}

Test(review, rollback_of_a_set_with_a_missing_backend_changes_nothing)
{
    set_without_hello();
    rbt_spit(file, "port=8080\n");
    rbt_run r = RB("--json execute-rollback --id s1 --yes", plugins);
    cr_assert_eq(r.code, 4, "exit %d: %s%s", r.code, r.out, r.err);
    cr_assert(strstr(r.err, "cannot roll back target 'conf'"), "stderr: %s", r.err);
    cJSON *doc = rbt_json(r.out);
    cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(doc, "status")), "failed");
    cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(doc, "error_code")), "notfound");
    cJSON_Delete(doc);
    rbt_run_free(&r);
    char *content = rbt_slurp(file);
    cr_assert_str_eq(content, "port=8080\n");
    free(content);
    r = RB("--json list-snapshots", plugins);
    doc = rbt_json(r.out);
    cr_assert_eq(cJSON_GetObjectItem(doc, "count")->valueint, 1, "%s", r.out);
    cJSON_Delete(doc);
    rbt_run_free(&r);
}

/* Two hello targets; the first one's restore cannot write its temporary
 * file, so the second (restored first) is back and the first is not. */
static char *half_restorable_set(void)
{
    char *second = rbt_fmt("%s/second.conf", tmp);
    rbt_spit(second, "second=1\n");
    rbt_run r = RB("create-snapshot --id s1 --spec '{\"targets\":[{\"name\":\"first\",\"type\":"
                   "\"hello\",\"config\":{\"path\":\"%s\"}},{\"name\":\"second\",\"type\":"
                   "\"hello\",\"config\":{\"path\":\"%s\"}}]}'",
                   plugins, file, second);
    cr_assert_eq(r.code, 0, "%s", r.err);
    rbt_run_free(&r);
    rbt_spit(file, "port=8080\n");
    rbt_spit(second, "second=2\n");
    r = rbt_sh("mkdir '%s.hello-tmp'", file);
    cr_assert_eq(r.code, 0, "%s", r.err);
    rbt_run_free(&r);
    return second;
}

Test(review, a_rollback_that_restored_some_targets_is_partial_and_exits_1)
{
    char *second = half_restorable_set();
    /* The default reverts what was restored; "continue" keeps it. */
    rbt_run r = RB("--json execute-rollback --id s1 --yes --on-failure continue", plugins);
    cr_assert_eq(r.code, 1, "exit %d: %s%s", r.code, r.out, r.err);
    cr_assert(strstr(r.err, "is partial, only some targets were restored"), "%s", r.err);
    cr_assert(strstr(r.err, "restore of target 'first'"), "%s", r.err);
    cJSON *rec = rbt_json(r.out);
    rbt_run_free(&r);
    cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(rec, "status")), "partial");
    cr_assert(strstr(cJSON_GetStringValue(cJSON_GetObjectItem(rec, "warning")),
                     "the safety snapshot holds"));
    /* Seed 001's record fields, all there on this path too. */
    static const char *const fields[] = {"rollback_id",         "snapshot_id",      "status",
                                         "started_at",          "completed_at",     "duration",
                                         "technical_details",   "execution_result", "error",
                                         "verification_results"};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        cr_assert_not_null(cJSON_GetObjectItem(rec, fields[i]), "no %s", fields[i]);
    cJSON_Delete(rec);
    char *content = rbt_slurp(second);
    cr_assert_str_eq(content, "second=1\n");
    free(content);
    content = rbt_slurp(file);
    cr_assert_str_eq(content, "port=8080\n");
    free(content);
    free(second);
}

Test(review, without_a_safety_snapshot_the_warning_does_not_promise_one)
{
    char *second = half_restorable_set();
    rbt_run r = RB("--json execute-rollback --id s1 --yes --no-safety-snapshot", plugins);
    cr_assert_eq(r.code, 1, "exit %d: %s%s", r.code, r.out, r.err);
    cJSON *rec = rbt_json(r.out);
    rbt_run_free(&r);
    cr_assert_null(cJSON_GetObjectItem(rec, "safety_snapshot_id"));
    const char *warning = cJSON_GetStringValue(cJSON_GetObjectItem(rec, "warning"));
    cr_assert_not_null(warning);
    cr_assert_null(strstr(warning, "safety snapshot holds"), "%s", warning);
    cr_assert(strstr(warning, "no safety snapshot was taken"), "%s", warning);
    cJSON_Delete(rec);
    free(second);
}

static cJSON *rollback_with_tests(const char *validation)
{
    rbt_run r = RB("create-snapshot --id v1 --type fixture_ok --config '{}'", plugins);
    cr_assert_eq(r.code, 0, "%s", r.err);
    rbt_run_free(&r);
    r = RB("--json execute-rollback --id v1 --yes --validation '%s'", plugins, validation);
    cr_assert_eq(r.code, 0, "exit %d: %s%s", r.code, r.out, r.err);
    cJSON *rec = rbt_json(r.out);
    rbt_run_free(&r);
    return rec;
}

Test(review, a_test_command_printing_keeps_json_output_one_document)
{
    cJSON *rec = rollback_with_tests(
        "{\"tests\":[{\"type\":\"command\",\"run\":\"echo printed by the command\"}]}");
    cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(rec, "status")), "completed");
    cJSON_Delete(rec);
}

Test(review, a_service_with_a_long_name_is_found_running)
{
    if (access("/run/systemd/system", F_OK) == 0)
        cr_skip_test("under systemd, service_status asks systemctl");
    /* Longer than the 15 characters the kernel keeps of a process name. */
    char *bin = rbt_fmt("%s/rbt-review-long-service", tmp);
    rbt_run r = rbt_sh("cp /bin/sleep '%s' && { '%s' 30 >/dev/null 2>&1 & echo $!; }", bin, bin);
    cr_assert_eq(r.code, 0, "%s", r.err);
    int pid = atoi(r.out);
    rbt_run_free(&r);
    cr_assert_gt(pid, 0);
    cJSON *rec = rollback_with_tests("{\"tests\":[{\"type\":\"service_status\",\"services\":["
                                     "\"rbt-review-long-service\"]}]}");
    kill(pid, SIGTERM);
    cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(rec, "status")), "completed");
    cJSON_Delete(rec);
    free(bin);
}

Test(review, a_target_without_a_name_is_refused_before_anything_changes)
{
    rbt_run r = RB("create-snapshot --id s1 --spec '{\"targets\":[{\"name\":\"conf\",\"type\":"
                   "\"hello\",\"config\":{\"path\":\"%s\"}}]}'",
                   plugins, file);
    cr_assert_eq(r.code, 0, "%s", r.err);
    rbt_run_free(&r);
    char *meta = rbt_fmt("%s/s1_metadata.json", store);
    char *text = rbt_slurp(meta);
    cJSON *doc = rbt_json(text);
    free(text);
    cJSON_DeleteItemFromObject(cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "targets"), 0), "name");
    text = cJSON_Print(doc);
    rbt_spit(meta, text);
    cJSON_free(text);
    cJSON_Delete(doc);
    free(meta);
    rbt_spit(file, "port=8080\n");
    r = RB("execute-rollback --id s1 --yes", plugins);
    cr_assert_eq(r.code, 7, "exit %d: %s%s", r.code, r.out, r.err);
    cr_assert(strstr(r.err, "snapshot s1 has a target without name or type"), "%s", r.err);
    rbt_run_free(&r);
    text = rbt_slurp(file);
    cr_assert_str_eq(text, "port=8080\n");
    free(text);
    r = RB("--json list-snapshots", plugins);
    doc = rbt_json(r.out);
    cr_assert_eq(cJSON_GetObjectItem(doc, "count")->valueint, 1, "a safety snapshot was left: %s",
                 r.out);
    cJSON_Delete(doc);
    rbt_run_free(&r);
}

/* Gives target `index` of snapshot s1 a config key its backend does not
 * know, as a recorded config looks after the backend dropped that key. */
static void retire_config_key(int index)
{
    char *meta = rbt_fmt("%s/s1_metadata.json", store);
    char *text = rbt_slurp(meta);
    cJSON *doc = rbt_json(text);
    free(text);
    cJSON_AddNumberToObject(
        cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "targets"), index),
                            "config"),
        "retired_key", 1);
    text = cJSON_Print(doc);
    rbt_spit(meta, text);
    cJSON_free(text);
    cJSON_Delete(doc);
    free(meta);
}

Test(review, a_dry_run_keeps_the_message_of_the_target_that_failed)
{
    char *second = rbt_fmt("%s/second.conf", tmp);
    rbt_spit(second, "second=1\n");
    rbt_run r = RB("create-snapshot --id s1 --spec '{\"targets\":[{\"name\":\"first\",\"type\":"
                   "\"hello\",\"config\":{\"path\":\"%s\"}},{\"name\":\"second\",\"type\":"
                   "\"hello\",\"config\":{\"path\":\"%s\"}}]}'",
                   plugins, file, second);
    cr_assert_eq(r.code, 0, "%s", r.err);
    rbt_run_free(&r);
    /* A recorded config the backend no longer accepts fails the plan of
     * "second", which runs before "first" (last-listed first). */
    retire_config_key(1);
    r = RB("--json execute-rollback --id s1 --dry-run", plugins);
    cr_assert_eq(r.code, 3, "exit %d: %s%s", r.code, r.out, r.err);
    cr_assert(strstr(r.err, "target 'second': the recorded config no longer fits its backend"),
              "stderr: %s", r.err);
    rbt_run_free(&r);
    free(second);
}

Test(review, a_recorded_config_that_no_longer_fits_changes_nothing)
{
    char *second = half_restorable_set();
    /* No trap this time: the first target is refused for its config. */
    rbt_run r = rbt_sh("rmdir '%s.hello-tmp'", file);
    rbt_run_free(&r);
    retire_config_key(0);
    r = RB("--json execute-rollback --id s1 --yes --no-safety-snapshot", plugins);
    cr_assert_eq(r.code, 3, "exit %d: %s%s", r.code, r.out, r.err);
    cr_assert(strstr(r.err, "target 'first': the recorded config no longer fits its backend"), "%s",
              r.err);
    rbt_run_free(&r);
    /* "second" comes back first in a rollback: it must not have. */
    char *text = rbt_slurp(second);
    cr_assert_str_eq(text, "second=2\n");
    free(text);
    r = RB("--json history", plugins);
    cJSON *doc = rbt_json(r.out);
    rbt_run_free(&r);
    cr_assert_eq(cJSON_GetObjectItem(doc, "count")->valueint, 0);
    cJSON_Delete(doc);
    free(second);
}
