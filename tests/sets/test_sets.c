/* Sets: the spec checked before anything runs, parallel snapshots in
 * dependency order, coordinated rollback with retries, timeouts, revert or
 * continue, the plan, diff and the confirmation on a terminal. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sets_fixture.h"

static sft t;

static void setup(void)
{
    sft_open(&t);
}

static void teardown(void)
{
    sft_close(&t);
}

TestSuite(sets, .init = setup, .fini = teardown);

/* a, b and c (c depends on a and b), each state file holding "<name>1". */
static void make_abc(const char *c_extra, const char *b_config, const char *spec_extra)
{
    sft_set_state(&t, "a", "a1");
    sft_set_state(&t, "b", "b1");
    sft_set_state(&t, "c", "c1");
    char *a = sft_gate(&t, "a", "", "");
    char *b = sft_gate(&t, "b", b_config, "");
    char *c = sft_gate(&t, "c", "", c_extra);
    char *json = rbt_fmt("{\"targets\": [%s, %s, %s]%s}", a, b, c, spec_extra);
    char *spec = sft_spec(&t, "spec.json", json);
    rbt_run r = sft_rbhost(&t, "create-snapshot --id s --spec '%s'", spec);
    cr_assert_eq(r.code, 0, "create-snapshot: %s", r.err);
    rbt_run_free(&r);
    sft_set_state(&t, "a", "a2");
    sft_set_state(&t, "b", "b2");
    sft_set_state(&t, "c", "c2");
    free(a);
    free(b);
    free(c);
    free(json);
    free(spec);
}

static void expect_refused(const char *json, const char *needle)
{
    char *spec = sft_spec(&t, "bad.json", json);
    rbt_run r = sft_rbhost(&t, "create-snapshot --id bad --spec '%s'", spec);
    cr_expect_eq(r.code, 3, "exit %d for %s: %s", r.code, json, r.err);
    cr_expect(strstr(r.err, needle) != NULL, "'%s' not in: %s", needle, r.err);
    rbt_run_free(&r);
    r = sft_rbhost(&t, "show-snapshot --id bad");
    cr_expect_eq(r.code, 4, "a refused spec left a snapshot");
    rbt_run_free(&r);
    free(spec);
}

Test(sets, spec_is_checked_before_anything_runs)
{
    char *a = sft_gate(&t, "a", "", "");
    char *json;
    json = rbt_fmt("{\"targets\": [%s, %s]}", a, a);
    expect_refused(json, "target name 'a' is used twice");
    free(json);
    char *b = sft_gate(&t, "b", "", "\"depends_on\": [\"nope\"]");
    json = rbt_fmt("{\"targets\": [%s, %s]}", a, b);
    expect_refused(json, "target 'b' depends on 'nope'");
    free(json);
    free(b);
    char *x = sft_gate(&t, "x", "", "\"depends_on\": [\"y\"]");
    char *y = sft_gate(&t, "y", "", "\"depends_on\": [\"z\"]");
    char *z = sft_gate(&t, "z", "", "\"depends_on\": [\"x\"]");
    json = rbt_fmt("{\"targets\": [%s, %s, %s, %s]}", a, x, y, z);
    expect_refused(json, "depends_on forms a cycle: 'x' -> 'y' -> 'z' -> 'x'");
    free(json);
    b = sft_gate(&t, "b", "", "\"retries\": 3");
    json = rbt_fmt("{\"targets\": [%s, %s]}", a, b);
    expect_refused(json, "target 'b': unknown key 'retries'");
    free(json);
    free(b);
    b = sft_gate(&t, "b", "", "\"retry\": {\"max_attempts\": 0}");
    json = rbt_fmt("{\"targets\": [%s, %s]}", a, b);
    expect_refused(json, "target 'b': retry.max_attempts");
    free(json);
    free(b);
    json = rbt_fmt("{\"targets\": [%s], \"on_failure\": \"ignore\"}", a);
    expect_refused(json, "on_failure");
    free(json);
    cr_expect_eq(sft_event(&t, "snapshot-start a"), 0, "a target ran although the spec is bad");
    free(a);
    free(x);
    free(y);
    free(z);
}

Test(sets, independent_targets_run_in_parallel_and_dependents_after)
{
    /* a waits until b has started: it succeeds only if both run at once. */
    sft_set_state(&t, "a", "a1");
    char *a = sft_gate(&t, "a", "\"await\": \"snapshot-start b\"", "");
    char *b = sft_gate(&t, "b", "", "");
    char *c = sft_gate(&t, "c", "", "\"depends_on\": [\"a\", \"b\"]");
    char *json = rbt_fmt("{\"targets\": [%s, %s, %s]}", a, b, c);
    char *spec = sft_spec(&t, "spec.json", json);
    int code;
    cJSON *j = sft_json(&t, &code, "create-snapshot --id s --spec '%s' --jobs 2", spec);
    cr_assert_eq(code, 0, "%s", sft_str(j, "error"));
    cJSON_Delete(j);
    int c_start = sft_event(&t, "snapshot-start c");
    cr_assert(c_start > sft_event(&t, "snapshot-end a"));
    cr_assert(c_start > sft_event(&t, "snapshot-end b"));
    cr_assert(sft_event(&t, "snapshot-end a") > sft_event(&t, "snapshot-start b"));
    /* One document, the policy kept for the rollback. */
    j = sft_json(&t, &code, "show-snapshot --id s");
    cJSON *targets = cJSON_GetObjectItemCaseSensitive(j, "targets");
    cr_assert_eq(cJSON_GetArraySize(targets), 3);
    cJSON *deps = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(targets, 2), "depends_on");
    cr_assert_eq(cJSON_GetArraySize(deps), 2);
    cJSON_Delete(j);
    free(a);
    free(b);
    free(c);
    free(json);
    free(spec);
}

Test(sets, a_failed_target_leaves_no_snapshot_and_is_named)
{
    char *a = sft_gate(&t, "a", "", "");
    char *json = rbt_fmt("{\"targets\": [%s, {\"name\": \"files\", \"type\": \"file_system\", "
                         "\"config\": {\"paths\": [\"%s/missing\"]}}]}",
                         a, t.dir);
    char *spec = sft_spec(&t, "spec.json", json);
    rbt_run r = sft_rbhost(&t, "create-snapshot --id s --spec '%s'", spec);
    cr_assert_neq(r.code, 0);
    cr_assert(strstr(r.err, "'files'") != NULL, "the error does not name the target: %s", r.err);
    rbt_run_free(&r);
    r = sft_rbhost(&t, "show-snapshot --id s");
    cr_assert_eq(r.code, 4);
    rbt_run_free(&r);
    free(a);
    free(json);
    free(spec);
}

Test(sets, rollback_restores_dependents_first)
{
    make_abc("\"depends_on\": [\"a\", \"b\"]", "", "");
    int code;
    cJSON *j = sft_json(&t, &code, "execute-rollback --id s --yes");
    cr_assert_eq(code, 0, "%s", sft_str(j, "error"));
    cr_assert_str_eq(sft_str(j, "status"), "completed");
    cJSON *order = cJSON_GetObjectItemCaseSensitive(j, "order");
    cr_assert_str_eq(cJSON_GetArrayItem(order, 0)->valuestring, "c");
    cr_assert(sft_event(&t, "restore-end c") < sft_event(&t, "restore-start b"));
    cr_assert(sft_event(&t, "restore-end b") < sft_event(&t, "restore-start a"));
    char *s = sft_state(&t, "a");
    cr_assert_str_eq(s, "a1");
    free(s);
    s = sft_state(&t, "c");
    cr_assert_str_eq(s, "c1");
    free(s);
    cJSON_Delete(j);
}

static cJSON *detail_of(const cJSON *rec, const char *action, const char *target)
{
    cJSON *d;
    cJSON_ArrayForEach(d, cJSON_GetObjectItemCaseSensitive(rec, "technical_details"))
    {
        if (!strcmp(sft_str(d, "action"), action) && !strcmp(sft_str(d, "target"), target))
            return d;
    }
    return NULL;
}

Test(sets, failed_step_reverts_what_was_restored)
{
    /* Order c, b, a: b fails twice (its retries), c is put back. */
    make_abc("\"depends_on\": [\"b\"]", "\"fail_restore\": true", ", \"on_failure\": \"revert\"");
    int code;
    cJSON *j = sft_json(&t, &code, "execute-rollback --id s --yes");
    cr_assert_eq(code, 6, "exit %d: %s", code, sft_str(j, "error"));
    cr_assert_str_eq(sft_str(j, "status"), "failed");
    cr_assert(strstr(sft_str(j, "error"), "'b'") != NULL, "%s", sft_str(j, "error"));
    cJSON *reverted = cJSON_GetObjectItemCaseSensitive(j, "reverted");
    cr_assert_eq(cJSON_GetArraySize(reverted), 1);
    cr_assert_str_eq(cJSON_GetArrayItem(reverted, 0)->valuestring, "c");
    char *s = sft_state(&t, "c");
    cr_assert_str_eq(s, "c2", "c was not put back as it was before the rollback");
    free(s);
    s = sft_state(&t, "a");
    cr_assert_str_eq(s, "a2", "a was touched after b failed");
    free(s);
    cJSON *d = detail_of(j, "revert", "c");
    cr_assert_not_null(d);
    cr_assert_str_eq(sft_str(cJSON_GetObjectItemCaseSensitive(d, "result"), "status"), "success");
    cJSON_Delete(j);
    cr_assert_eq(sft_pending(&t), 0);
}

Test(sets, retries_follow_the_policy_and_continue_goes_on)
{
    make_abc("", "", "");
    /* b: 3 attempts, 0.05 s then 0.1 s apart. */
    char *b = sft_gate(&t, "b", "\"fail_restore\": true",
                       "\"retry\": {\"max_attempts\": 3, \"initial_delay\": 0.05, "
                       "\"backoff_multiplier\": 2}");
    char *a = sft_gate(&t, "a", "", "");
    char *c = sft_gate(&t, "c", "", "");
    char *json = rbt_fmt("{\"targets\": [%s, %s, %s]}", a, b, c);
    char *spec = sft_spec(&t, "spec2.json", json);
    rbt_run r = sft_rbhost(&t, "create-snapshot --id s2 --spec '%s'", spec);
    cr_assert_eq(r.code, 0, "%s", r.err);
    rbt_run_free(&r);
    sft_set_state(&t, "a", "a3");
    sft_set_state(&t, "c", "c3");
    int code;
    cJSON *j = sft_json(&t, &code, "execute-rollback --id s2 --yes --on-failure continue");
    cr_assert_eq(code, 1, "exit %d: %s", code, sft_str(j, "error"));
    cr_assert_str_eq(sft_str(j, "status"), "partial");
    cJSON *d = detail_of(j, "rollback_execution", "b");
    cr_assert_not_null(d);
    cJSON *attempts = cJSON_GetObjectItemCaseSensitive(d, "attempts");
    cr_assert_eq(cJSON_GetArraySize(attempts), 3);
    double t1 = cJSON_GetNumberValue(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(attempts, 0), "completed_at"));
    double t2 = cJSON_GetNumberValue(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(attempts, 1), "started_at"));
    cr_assert(t2 >= t1 + 0.04, "no backoff between attempts (%f then %f)", t1, t2);
    char *s = sft_state(&t, "a");
    cr_assert_str_eq(s, "a2", "continue did not restore the targets after the failed one");
    free(s);
    s = sft_state(&t, "c");
    cr_assert_str_eq(s, "c2");
    free(s);
    cJSON_Delete(j);
    free(a);
    free(b);
    free(c);
    free(json);
    free(spec);
}

Test(sets, a_step_timeout_cancels_the_backend)
{
    char *fifo = rbt_fmt("%s/gate", t.dir);
    char *cfg = rbt_fmt("\"gate\": \"%s\"", fifo);
    make_abc("\"depends_on\": [\"b\"]", cfg, "");
    cr_assert_eq(mkfifo(fifo, 0600), 0);
    /* b waits on its gate, polling cancelled(): the 1 s timeout stops it. */
    char *spec = rbt_fmt("%s/spec.json", t.dir);
    char *text = rbt_slurp(spec);
    cJSON *doc = rbt_json(text);
    cJSON *b = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(doc, "targets"), 1);
    cJSON_AddNumberToObject(b, "timeout", 1);
    char *out = cJSON_Print(doc);
    free(spec);
    spec = sft_spec(&t, "spec3.json", out);
    rbt_run r = sft_rbhost(&t, "create-snapshot --id s3 --spec '%s'", spec);
    cr_assert_eq(r.code, 0, "%s", r.err);
    rbt_run_free(&r);
    int code;
    cJSON *j = sft_json(&t, &code, "execute-rollback --id s3 --yes");
    cr_assert_eq(code, 6, "exit %d: %s", code, sft_str(j, "error"));
    cr_assert(strstr(sft_str(j, "error"), "timeout") != NULL, "%s", sft_str(j, "error"));
    cr_assert_str_eq(sft_str(j, "status"), "failed");
    char *s = sft_state(&t, "c");
    cr_assert_str_eq(s, "c2");
    free(s);
    cJSON_Delete(j);
    cJSON_Delete(doc);
    free(text);
    free(out);
    free(spec);
    free(cfg);
    free(fifo);
}

Test(sets, dry_run_prints_the_whole_plan)
{
    make_abc("\"depends_on\": [\"a\", \"b\"], \"timeout\": 30", "", "");
    int code;
    cJSON *j =
        sft_json(&t, &code,
                 "execute-rollback --id s --dry-run --validation "
                 "'{\"tests\": [{\"type\": \"file_exists\", \"path\": \"/etc/hostname\"}]}'");
    cr_assert_eq(code, 0, "%s", sft_str(j, "error"));
    cJSON *targets = cJSON_GetObjectItemCaseSensitive(j, "targets");
    cr_assert_eq(cJSON_GetArraySize(targets), 3);
    cr_assert_str_eq(sft_str(cJSON_GetArrayItem(targets, 0), "name"), "c");
    cr_assert_eq(cJSON_GetNumberValue(
                     cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(targets, 0), "timeout")),
                 30);
    cr_assert_not_null(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(targets, 0), "plan"));
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "validation")), 1);
    cJSON_Delete(j);
    rbt_run r = sft_rbhost(&t, "execute-rollback --id s --dry-run");
    cr_assert_eq(r.code, 0);
    cr_assert(strstr(r.out, "STEP") && strstr(r.out, "nothing was changed"), "%s", r.out);
    rbt_run_free(&r);
    char *s = sft_state(&t, "a");
    cr_assert_str_eq(s, "a2");
    free(s);
}

Test(sets, diff_reports_changed_targets_and_changes_nothing)
{
    make_abc("", "", "");
    sft_set_state(&t, "a", "a1");
    sft_set_state(&t, "b", "b1");
    int code;
    cJSON *j = sft_json(&t, &code, "diff --id s");
    cr_assert_eq(code, 1);
    cr_assert_eq(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(j, "changed_targets")), 1);
    cJSON *targets = cJSON_GetObjectItemCaseSensitive(j, "targets");
    cJSON *e;
    cJSON_ArrayForEach(e, targets)
    {
        cr_assert_str_eq(sft_str(e, "status"),
                         strcmp(sft_str(e, "name"), "c") ? "unchanged" : "changed");
    }
    cJSON_Delete(j);
    char *s = sft_state(&t, "c");
    cr_assert_str_eq(s, "c2");
    free(s);
    sft_set_state(&t, "c", "c1");
    j = sft_json(&t, &code, "diff --id s");
    cr_assert_eq(code, 0);
    cJSON_Delete(j);
}

Test(sets, a_terminal_is_shown_the_plan_and_asked)
{
    make_abc("", "", "");
    /* script(1) gives rbhost a pseudo-terminal for stdin. */
    rbt_run r = rbt_sh("cd '%s' && printf 'n\\n' | RBHOST_CACHE_DIR=\"${RBHOST_CACHE_DIR:-/tmp}\" "
                       "script -qec \"'%s' --store '%s' --plugin-dir '%s' execute-rollback --id "
                       "s\" /dev/null",
                       t.dir, rbt_rbhost_bin(), t.store, rbt_fixture_plugin_dir());
    cr_assert(strstr(r.out, "STEP") && strstr(r.out, "[y/N]"), "no plan or question: %s %s", r.out,
              r.err);
    cr_assert(strstr(r.out, "cancelled, nothing was changed"), "%s", r.out);
    rbt_run_free(&r);
    char *s = sft_state(&t, "a");
    cr_assert_str_eq(s, "a2", "answering n changed the live state");
    free(s);
    r = rbt_sh("cd '%s' && printf 'y\\n' | RBHOST_CACHE_DIR=\"${RBHOST_CACHE_DIR:-/tmp}\" "
               "script -qec \"'%s' --store '%s' --plugin-dir '%s' execute-rollback --id s\" "
               "/dev/null",
               t.dir, rbt_rbhost_bin(), t.store, rbt_fixture_plugin_dir());
    cr_assert(strstr(r.out, "completed"), "%s %s", r.out, r.err);
    rbt_run_free(&r);
    s = sft_state(&t, "a");
    cr_assert_str_eq(s, "a1");
    free(s);
}
