/* rbhost killed with SIGKILL during a rollback, at known points (a
 * fixture target whose restore waits on a fifo), then --resume: the live
 * state is consistent, the record says what happened and the journal is
 * gone. While the rollback is pending, commands that change state are
 * refused and the others say so. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sets_fixture.h"

static sft t;
static char *fifo;

static void setup(void)
{
    sft_open(&t);
    fifo = rbt_fmt("%s/gate", t.dir);
}

static void teardown(void)
{
    sft_close(&t);
    free(fifo);
}

TestSuite(resume, .init = setup, .fini = teardown);

/* Targets a, b, c restored in the order c, b, a; `gated` waits on the
 * fifo during its restore. */
static void make_set(const char *gated, const char *gate_extra)
{
    char *json = strdup("{\"targets\": [");
    const char *names[] = {"a", "b", "c"};
    for (int i = 0; i < 3; i++) {
        char *state = rbt_fmt("%s1", names[i]);
        sft_set_state(&t, names[i], state);
        free(state);
        char *cfg =
            strcmp(names[i], gated) ? strdup("") : rbt_fmt("\"gate\": \"%s\"%s", fifo, gate_extra);
        char *deps = i ? rbt_fmt("\"depends_on\": [\"%s\"]", names[i - 1]) : strdup("");
        char *target = sft_gate(&t, names[i], cfg, deps);
        char *next = rbt_fmt("%s%s%s", json, i ? ", " : "", target);
        free(json);
        json = next;
        free(cfg);
        free(deps);
        free(target);
    }
    char *full = rbt_fmt("%s]}", json);
    char *spec = sft_spec(&t, "spec.json", full);
    rbt_run r = sft_rbhost(&t, "create-snapshot --id s --spec '%s'", spec);
    cr_assert_eq(r.code, 0, "%s", r.err);
    rbt_run_free(&r);
    for (int i = 0; i < 3; i++) {
        char *state = rbt_fmt("%s2", names[i]);
        sft_set_state(&t, names[i], state);
        free(state);
    }
    free(json);
    free(full);
    free(spec);
}

/* Starts the rollback in the background and kills it with SIGKILL once
 * `event` is logged; the gate is then removed, so a resumed restore does
 * not wait. */
static void rollback_killed_at(const char *event)
{
    cr_assert_eq(mkfifo(fifo, 0600), 0);
    char *pidfile = rbt_fmt("%s/pid", t.dir);
    rbt_run r = rbt_sh("RBHOST_CACHE_DIR=\"${RBHOST_CACHE_DIR:-/tmp}\" '%s' --store '%s' "
                       "--plugin-dir '%s' execute-rollback --id s --yes >/dev/null 2>&1 & "
                       "echo $! > '%s'",
                       rbt_rbhost_bin(), t.store, rbt_fixture_plugin_dir(), pidfile);
    rbt_run_free(&r);
    sft_wait_event(&t, event);
    char *pid = rbt_slurp(pidfile);
    r = rbt_sh("kill -KILL %s; while kill -0 %s 2>/dev/null; do sleep 0.05; done", pid, pid);
    rbt_run_free(&r);
    unlink(fifo);
    free(pid);
    free(pidfile);
}

static void expect_states(const char *a, const char *b, const char *c)
{
    const char *want[] = {a, b, c}, *names[] = {"a", "b", "c"};
    for (int i = 0; i < 3; i++) {
        char *s = sft_state(&t, names[i]);
        cr_expect_str_eq(s, want[i], "target %s", names[i]);
        free(s);
    }
}

static void expect_pending_refusals(void)
{
    cr_assert_eq(sft_pending(&t), 1);
    rbt_run r = sft_rbhost(&t, "execute-rollback --id s --yes");
    cr_expect_eq(r.code, 5, "a second rollback was not refused: %s", r.err);
    cr_expect(strstr(r.err, "--resume"), "%s", r.err);
    rbt_run_free(&r);
    r = sft_rbhost(&t, "delete-snapshot --id s");
    cr_expect_eq(r.code, 5, "delete was not refused: %s", r.err);
    rbt_run_free(&r);
    char *spec = rbt_fmt("%s/spec.json", t.dir);
    r = sft_rbhost(&t, "create-snapshot --id other --spec '%s'", spec);
    cr_expect_eq(r.code, 5, "create-snapshot was not refused: %s", r.err);
    rbt_run_free(&r);
    free(spec);
    r = sft_rbhost(&t, "list-snapshots");
    cr_expect_eq(r.code, 0);
    cr_expect(strstr(r.err, "pending"), "list does not say a rollback is pending: %s", r.err);
    rbt_run_free(&r);
}

static cJSON *resume(const char *flags, int want_code)
{
    int code;
    cJSON *j = sft_json(&t, &code, "execute-rollback --resume %s", flags);
    cr_assert_eq(code, want_code, "resume exited %d: %s", code, sft_str(j, "error"));
    cr_assert_eq(sft_pending(&t), 0, "the journal is still there");
    rbt_run r = sft_rbhost(&t, "check");
    cr_expect_eq(r.code, 0, "check after resume: %s %s", r.out, r.err);
    rbt_run_free(&r);
    return j;
}

Test(resume, killed_in_the_first_step_then_finished)
{
    make_set("c", "");
    rollback_killed_at("restore-wait c");
    expect_states("a2", "b2", "c2");
    expect_pending_refusals();
    cJSON *j = resume("--id s", 0);
    cr_assert_str_eq(sft_str(j, "status"), "completed");
    cr_assert_not_null(cJSON_GetObjectItemCaseSensitive(j, "resumed"));
    expect_states("a1", "b1", "c1");
    cJSON_Delete(j);
}

Test(resume, killed_between_steps_then_finished)
{
    make_set("b", "");
    rollback_killed_at("restore-wait b");
    expect_states("a2", "b2", "c1");
    cJSON *j = resume("", 0);
    cr_assert_str_eq(sft_str(j, "status"), "completed");
    expect_states("a1", "b1", "c1");
    /* The history has the one rollback, complete. */
    int code;
    cJSON *h = sft_json(&t, &code, "history");
    cr_assert_eq(code, 0);
    cJSON_Delete(h);
    cJSON_Delete(j);
}

Test(resume, killed_in_the_last_step_then_reverted)
{
    make_set("a", "");
    rollback_killed_at("restore-wait a");
    expect_states("a2", "b1", "c1");
    cJSON *j = resume("--revert", 0);
    cr_assert_str_eq(sft_str(j, "status"), "failed");
    cJSON *reverted = cJSON_GetObjectItemCaseSensitive(j, "reverted");
    cr_assert_eq(cJSON_GetArraySize(reverted), 3, "b, c and the interrupted a are reverted");
    expect_states("a2", "b2", "c2");
    cJSON_Delete(j);
}

Test(resume, a_backend_ignoring_its_timeout_leaves_the_rollback_pending)
{
    /* b waits on its gate without polling cancelled(): after its 1 s
     * timeout and the grace period rbhost ends, the rollback pending. */
    make_set("b", ", \"ignore_cancel\": true");
    char *spec = rbt_fmt("%s/spec.json", t.dir);
    char *text = rbt_slurp(spec);
    cJSON *doc = rbt_json(text);
    cJSON_AddNumberToObject(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(doc, "targets"), 1),
                            "timeout", 1);
    char *out = cJSON_Print(doc);
    rbt_spit(spec, out);
    rbt_run r = sft_rbhost(&t, "create-snapshot --id s4 --spec '%s'", spec);
    cr_assert_eq(r.code, 0, "%s", r.err);
    rbt_run_free(&r);
    sft_set_state(&t, "a", "a3");
    sft_set_state(&t, "b", "b3");
    sft_set_state(&t, "c", "c3");
    cr_assert_eq(mkfifo(fifo, 0600), 0);
    int code;
    cJSON *j = sft_json(&t, &code, "execute-rollback --id s4 --yes");
    cr_assert_eq(code, 8, "exit %d: %s", code, sft_str(j, "error"));
    cr_assert(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "step_still_running")));
    cJSON_Delete(j);
    unlink(fifo);
    cr_assert_eq(sft_pending(&t), 1);
    expect_states("a3", "b3", "c2");
    j = resume("--id s4", 0);
    cr_assert_str_eq(sft_str(j, "status"), "completed");
    expect_states("a2", "b2", "c2");
    cJSON_Delete(j);
    cJSON_Delete(doc);
    free(text);
    free(out);
    free(spec);
}

Test(resume, nothing_to_resume_is_said)
{
    make_set("a", "");
    int code;
    cJSON *j = sft_json(&t, &code, "execute-rollback --resume");
    cr_assert_eq(code, 4, "exit %d", code);
    cr_assert(strstr(sft_str(j, "error"), "nothing to resume"), "%s", sft_str(j, "error"));
    cJSON_Delete(j);
}
