/* execute-rollback through a real backend (the SDK's hello example):
 * safety snapshot, restore, verify, validation tests, the record, dry run. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rbtest.h"

static char *tmp, *store, *file;

static void setup(void)
{
    tmp = rbt_tmpdir();
    store = rbt_fmt("%s/store", tmp);
    file = rbt_fmt("%s/app.conf", tmp);
    rbt_spit(file, "port=80\n");
    chmod(file, 0640);
}

static void teardown(void)
{
    rbt_rmtree(tmp);
    free(tmp);
    free(store);
    free(file);
}

TestSuite(rollback, .init = setup, .fini = teardown);

#define HB(...) rbt_rbhost(store, "--plugin-dir '" RBT_FIXTURE_PLUGIN_DIR "' " __VA_ARGS__)

static void snapshot(const char *id)
{
    rbt_run r = HB("create-snapshot --id %s --type hello --config '{\"path\":\"%s\"}'", id, file);
    cr_assert_eq(r.code, 0, "%s", r.err);
    rbt_run_free(&r);
}

static cJSON *rollback_json(int expect_code, const char *extra)
{
    rbt_run r = HB("--json execute-rollback --id s1 --yes %s", extra);
    cr_assert_eq(r.code, expect_code, "exit %d: %s%s", r.code, r.out, r.err);
    cJSON *doc = rbt_json(r.out);
    rbt_run_free(&r);
    return doc;
}

static const char *s(const cJSON *o, const char *k)
{
    return cJSON_GetStringValue(cJSON_GetObjectItem(o, k));
}

Test(rollback, restores_the_bytes_and_mode_and_records_it)
{
    snapshot("s1");
    rbt_spit(file, "port=8080\n");
    chmod(file, 0600);
    cJSON *rec = rollback_json(0, "");
    char *now = rbt_slurp(file);
    cr_assert_str_eq(now, "port=80\n");
    free(now);
    struct stat st;
    cr_assert_eq(stat(file, &st), 0);
    cr_assert_eq(st.st_mode & 07777, 0640);
    cr_assert_str_eq(s(rec, "status"), "completed");
    cr_assert_str_eq(s(rec, "snapshot_id"), "s1");
    cr_assert(strncmp(s(rec, "rollback_id"), "rollback_", 9) == 0);
    const cJSON *v = cJSON_GetObjectItem(rec, "verification_results");
    cr_assert_eq(cJSON_GetObjectItem(v, "passed")->valueint, 1);
    cr_assert_eq(cJSON_GetObjectItem(v, "total")->valueint, 1);
    cr_assert_str_eq(s(cJSON_GetObjectItem(rec, "execution_result"), "method"), "hello_restore");
    cr_assert(cJSON_IsNumber(cJSON_GetObjectItem(rec, "started_at")));
    cr_assert(cJSON_IsNumber(cJSON_GetObjectItem(rec, "completed_at")));
    cr_assert(cJSON_IsNumber(cJSON_GetObjectItem(rec, "duration")));

    rbt_run r = HB("--json history");
    cJSON *h = rbt_json(r.out);
    const cJSON *first = cJSON_GetArrayItem(cJSON_GetObjectItem(h, "history"), 0);
    cr_assert_str_eq(s(first, "rollback_id"), s(rec, "rollback_id"));
    cr_assert_str_eq(s(first, "status"), "completed");
    cJSON_Delete(h);
    rbt_run_free(&r);
    cJSON_Delete(rec);
}

Test(rollback, the_safety_snapshot_undoes_the_rollback)
{
    snapshot("s1");
    rbt_spit(file, "port=8080\n");
    cJSON *rec = rollback_json(0, "");
    const char *safety = s(rec, "safety_snapshot_id");
    cr_assert_not_null(safety);
    cr_assert(strncmp(safety, "pre-rollback-rollback_", 22) == 0, "%s", safety);
    rbt_run r = HB("execute-rollback --id %s --yes", safety);
    cr_assert_eq(r.code, 0, "%s%s", r.out, r.err);
    rbt_run_free(&r);
    char *now = rbt_slurp(file);
    cr_assert_str_eq(now, "port=8080\n");
    free(now);
    cJSON_Delete(rec);
}

Test(rollback, no_safety_snapshot_when_asked)
{
    snapshot("s1");
    cJSON *rec = rollback_json(0, "--no-safety-snapshot");
    cr_assert_null(cJSON_GetObjectItem(rec, "safety_snapshot_id"));
    rbt_run r = HB("--json list-snapshots");
    cJSON *l = rbt_json(r.out);
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(l, "snapshots")), 1);
    cJSON_Delete(l);
    rbt_run_free(&r);
    cJSON_Delete(rec);
}

Test(rollback, a_removed_file_comes_back_and_a_created_one_goes)
{
    snapshot("s1");
    unlink(file);
    cJSON *rec = rollback_json(0, "");
    cr_assert_eq(access(file, F_OK), 0);
    cJSON_Delete(rec);
    char *other = rbt_fmt("%s/new.conf", tmp);
    rbt_run r = HB("create-snapshot --id absent --type hello --config '{\"path\":\"%s\"}'", other);
    cr_assert_eq(r.code, 0, "%s", r.err);
    rbt_run_free(&r);
    rbt_spit(other, "created later\n");
    r = HB("execute-rollback --id absent --yes");
    cr_assert_eq(r.code, 0, "%s", r.err);
    rbt_run_free(&r);
    cr_assert_neq(access(other, F_OK), 0);
    free(other);
}

Test(rollback, dry_run_changes_nothing_and_says_what_would)
{
    snapshot("s1");
    rbt_spit(file, "port=9090\n");
    rbt_run r = HB("--json execute-rollback --id s1 --dry-run");
    cr_assert_eq(r.code, 0, "%s", r.err);
    cJSON *doc = rbt_json(r.out);
    cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(doc, "dry_run")));
    const cJSON *plan =
        cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "targets"), 0), "plan");
    const cJSON *change = cJSON_GetArrayItem(cJSON_GetObjectItem(plan, "changes"), 0);
    cr_assert_str_eq(s(change, "action"), "rewrite");
    cr_assert_str_eq(s(change, "item"), file);
    cJSON_Delete(doc);
    rbt_run_free(&r);
    char *now = rbt_slurp(file);
    cr_assert_str_eq(now, "port=9090\n");
    free(now);
    r = HB("--json history");
    cr_assert(strstr(r.out, "\"count\":\t0") || strstr(r.out, "\"count\": 0"), "%s", r.out);
    rbt_run_free(&r);
    r = HB("--json list-snapshots");
    doc = rbt_json(r.out);
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(doc, "snapshots")), 1,
                 "no safety snapshot");
    cJSON_Delete(doc);
    rbt_run_free(&r);
}

Test(rollback, verify_reports_drift_with_exit_1)
{
    snapshot("s1");
    rbt_run r = HB("verify --id s1");
    cr_assert_eq(r.code, 0, "%s%s", r.out, r.err);
    rbt_run_free(&r);
    rbt_spit(file, "port=1\n");
    r = HB("--json verify --id s1");
    cr_assert_eq(r.code, 1, "%s%s", r.out, r.err);
    cJSON *doc = rbt_json(r.out);
    cr_assert_str_eq(s(doc, "status"), "drift");
    cr_assert(strstr(r.out, "the content differs"), "%s", r.out);
    cJSON_Delete(doc);
    rbt_run_free(&r);
}

static char *write_validation(const char *json)
{
    char *path = rbt_fmt("%s/validation.json", tmp);
    rbt_spit(path, json);
    return path;
}

Test(rollback, validation_tests_pass_and_fail)
{
    snapshot("s1");
    char *missing = rbt_fmt("%s/never-there", tmp);
    char *v = rbt_fmt("{\"tests\": ["
                      "{\"type\": \"file_exists\", \"path\": \"%s\"},"
                      "{\"type\": \"command\", \"run\": \"grep -q port=80 %s\"},"
                      "{\"type\": \"command\", \"run\": \"exit 3\", \"expect_exit\": 3}]}",
                      file, file);
    char *vf = write_validation(v);
    char *arg = rbt_fmt("--validation @%s", vf);
    cJSON *rec = rollback_json(0, arg);
    const cJSON *ver = cJSON_GetObjectItem(rec, "verification_results");
    cr_assert_eq(cJSON_GetObjectItem(ver, "passed")->valueint, 4);
    cr_assert_eq(cJSON_GetObjectItem(ver, "total")->valueint, 4);
    cJSON_Delete(rec);
    free(v);
    free(vf);
    free(arg);

    v = rbt_fmt("{\"tests\": [{\"type\": \"file_exists\", \"path\": \"%s\"}]}", missing);
    vf = write_validation(v);
    arg = rbt_fmt("--validation @%s", vf);
    rec = rollback_json(1, arg);
    cr_assert_str_eq(s(rec, "status"), "partial");
    ver = cJSON_GetObjectItem(rec, "verification_results");
    cr_assert_str_eq(s(ver, "status"), "failed");
    const cJSON *last = cJSON_GetArrayItem(cJSON_GetObjectItem(ver, "results"), 1);
    cr_assert_str_eq(s(last, "test"), "file_exists");
    cr_assert(cJSON_IsFalse(cJSON_GetObjectItem(last, "passed")));
    cJSON_Delete(rec);
    free(v);
    free(vf);
    free(arg);
    free(missing);
}

Test(rollback, unknown_validation_tests_are_refused_before_anything_changes)
{
    snapshot("s1");
    rbt_spit(file, "changed\n");
    rbt_run r =
        HB("execute-rollback --id s1 --yes --validation '{\"tests\":[{\"type\":\"telepathy\"}]}'");
    cr_assert_eq(r.code, 3, "%s", r.err);
    cr_assert(strstr(r.err, "unknown test type 'telepathy'"), "%s", r.err);
    rbt_run_free(&r);
    r = HB(
        "execute-rollback --id s1 --yes --validation '{\"tests\":[{\"type\":\"file_exists\"}]}'");
    cr_assert_eq(r.code, 3, "%s", r.err);
    cr_assert(strstr(r.err, "needs 'path'"), "%s", r.err);
    rbt_run_free(&r);
    char *now = rbt_slurp(file);
    cr_assert_str_eq(now, "changed\n");
    free(now);
}

Test(rollback, git_commit_validation_reads_head)
{
    char *repo = rbt_fmt("%s/repo", tmp);
    rbt_run r = rbt_sh("git init -q '%s' && cd '%s' && echo a > a && git add a && "
                       "git -c user.name=t -c user.email=t@e commit -qm one && git rev-parse HEAD",
                       repo, repo);
    cr_assert_eq(r.code, 0, "%s", r.err);
    char head[64];
    snprintf(head, sizeof head, "%.40s", r.out);
    rbt_run_free(&r);
    snapshot("s1");
    char *arg = rbt_fmt("--validation '{\"tests\":[{\"type\":\"git_commit\",\"expected_commit\":"
                        "\"%.10s\",\"repo_path\":\"%s\"}]}'",
                        head, repo);
    cJSON *rec = rollback_json(0, arg);
    const cJSON *res = cJSON_GetArrayItem(
        cJSON_GetObjectItem(cJSON_GetObjectItem(rec, "verification_results"), "results"), 1);
    cr_assert_str_eq(s(res, "actual"), head);
    cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(res, "passed")));
    cJSON_Delete(rec);
    free(arg);
    arg = rbt_fmt("--validation '{\"tests\":[{\"type\":\"git_commit\",\"expected_commit\":"
                  "\"0000000000\",\"repo_path\":\"%s\"}]}'",
                  repo);
    rec = rollback_json(1, arg);
    cJSON_Delete(rec);
    free(arg);
    free(repo);
}

Test(rollback, service_status_and_health_check)
{
    snapshot("s1");
    char *www = rbt_fmt("%s/www", tmp);
    /* The server must not hold the pipe the test reads to its end. */
    rbt_run r = rbt_sh("mkdir -p '%s' && echo ok > '%s/health' && "
                       "(busybox httpd -f -p 127.0.0.1:18431 -h '%s' >/dev/null 2>&1 & echo $!) ",
                       www, www, www);
    cr_assert_eq(r.code, 0, "%s", r.err);
    int pid = atoi(r.out);
    rbt_run_free(&r);
    usleep(300000);
    cJSON *rec = rollback_json(
        0, "--validation '{\"tests\":[{\"type\":\"service_status\",\"services\":[\"busybox\"]},"
           "{\"type\":\"health_check\",\"url\":\"http://127.0.0.1:18431/"
           "health\",\"expected_status\":200}]}'");
    cJSON_Delete(rec);
    rec = rollback_json(
        1, "--validation "
           "'{\"tests\":[{\"type\":\"health_check\",\"url\":\"http://127.0.0.1:18431/missing\"},"
           "{\"type\":\"service_status\",\"services\":[\"no-such-daemon\"]}]}'");
    const cJSON *results =
        cJSON_GetObjectItem(cJSON_GetObjectItem(rec, "verification_results"), "results");
    cr_assert_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(results, 1), "actual")->valueint, 404);
    cr_assert_str_eq(
        s(cJSON_GetObjectItem(cJSON_GetArrayItem(results, 2), "services"), "no-such-daemon"),
        "inactive");
    cJSON_Delete(rec);
    kill(pid, SIGTERM);
    free(www);
}

Test(rollback, a_set_of_targets_goes_back_together)
{
    char *other = rbt_fmt("%s/other.conf", tmp);
    rbt_spit(other, "b=1\n");
    char *spec = rbt_fmt("%s/spec.json", tmp);
    char *text =
        rbt_fmt("{\"targets\":[{\"name\":\"app\",\"type\":\"hello\",\"config\":{\"path\":\"%s\"}},"
                "{\"name\":\"other\",\"type\":\"hello\",\"config\":{\"path\":\"%s\"}}]}",
                file, other);
    rbt_spit(spec, text);
    rbt_run r = HB("--json create-snapshot --id set1 --spec @%s", spec);
    cr_assert_eq(r.code, 0, "%s", r.err);
    rbt_run_free(&r);
    rbt_spit(file, "x\n");
    rbt_spit(other, "y\n");
    r = HB("--json execute-rollback --id set1 --yes");
    cr_assert_eq(r.code, 0, "%s%s", r.out, r.err);
    rbt_run_free(&r);
    char *a = rbt_slurp(file), *b = rbt_slurp(other);
    cr_assert_str_eq(a, "port=80\n");
    cr_assert_str_eq(b, "b=1\n");
    free(a);
    free(b);
    free(text);
    free(spec);
    free(other);
}

Test(rollback, export_delete_import_round_trip)
{
    snapshot("s1");
    char *archive = rbt_fmt("%s/s1.tar.zst", tmp);
    rbt_run r = HB("export --id s1 -o '%s'", archive);
    cr_assert_eq(r.code, 0, "%s", r.err);
    rbt_run_free(&r);
    r = HB("delete-snapshot --id s1");
    cr_assert_eq(r.code, 0, "%s", r.err);
    rbt_run_free(&r);
    r = HB("--json import '%s'", archive);
    cr_assert_eq(r.code, 0, "%s", r.err);
    rbt_run_free(&r);
    r = HB("import '%s'", archive);
    cr_assert_eq(r.code, 3, "an existing snapshot must not be overwritten: %s", r.err);
    rbt_run_free(&r);
    rbt_spit(file, "changed\n");
    r = HB("execute-rollback --id s1 --yes");
    cr_assert_eq(r.code, 0, "%s", r.err);
    rbt_run_free(&r);
    char *now = rbt_slurp(file);
    cr_assert_str_eq(now, "port=80\n");
    free(now);
    free(archive);
}

Test(rollback, process_speaks_the_seed_protocol)
{
    char *req = rbt_fmt("{\"action\":\"create_snapshot\",\"snapshot_id\":\"p1\",\"type\":\"hello\","
                        "\"config\":{\"path\":\"%s\"}}",
                        file);
    rbt_run r = HB("process - <<'EOF'\n%s\nEOF", req);
    cr_assert_eq(r.code, 0, "%s", r.err);
    cJSON *doc = rbt_json(r.out);
    cr_assert_str_eq(s(doc, "status"), "success");
    cr_assert_str_eq(s(doc, "snapshot_id"), "p1");
    cr_assert_str_eq(s(doc, "type"), "hello");
    cr_assert(
        cJSON_IsNumber(cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "metadata"), "created_at")));
    cJSON_Delete(doc);
    rbt_run_free(&r);
    free(req);
    rbt_spit(file, "changed\n");
    r = HB("process - <<'EOF'\n{\"action\":\"execute_rollback\",\"snapshot_id\":\"p1\"}\nEOF");
    cr_assert_eq(r.code, 0, "%s", r.err);
    doc = rbt_json(r.out);
    cr_assert_str_eq(s(doc, "status"), "completed");
    cJSON_Delete(doc);
    rbt_run_free(&r);
    const char *actions[] = {"list_snapshots", "get_rollback_history", "status"};
    for (int i = 0; i < 3; i++) {
        r = HB("process - <<'EOF'\n{\"action\":\"%s\"}\nEOF", actions[i]);
        cr_assert_eq(r.code, 0, "%s: %s", actions[i], r.err);
        doc = rbt_json(r.out);
        cr_assert_str_eq(s(doc, "status"), "success");
        cJSON_Delete(doc);
        rbt_run_free(&r);
    }
    r = HB("process - <<'EOF'\n{\"action\":\"teleport\"}\nEOF");
    cr_assert_eq(r.code, 3);
    doc = rbt_json(r.out);
    cr_assert_str_eq(s(doc, "status"), "failed");
    cr_assert(strstr(s(doc, "error"), "unknown action 'teleport'"));
    cJSON_Delete(doc);
    rbt_run_free(&r);
    r = HB("process - <<'EOF'\n{\"action\": \nEOF");
    cr_assert_eq(r.code, 3);
    doc = rbt_json(r.out);
    cr_assert_str_eq(s(doc, "status"), "failed");
    cJSON_Delete(doc);
    rbt_run_free(&r);
}

Test(rollback, passwords_never_reach_the_metadata)
{
    /* The config redaction acts on any URL with a password in it. */
    rbt_run r = HB("create-snapshot --id pw --type fixture_ok --config "
                   "'{\"value\":\"postgresql://app:hunter2@db.example/prod?sslmode=require\"}'");
    cr_assert_eq(r.code, 0, "%s", r.err);
    rbt_run_free(&r);
    r = rbt_sh("grep -r hunter2 '%s'", store);
    cr_assert_neq(r.code, 0, "the password was written: %s", r.out);
    rbt_run_free(&r);
    r = HB("--json show-snapshot --id pw");
    cr_assert(strstr(r.out, "postgresql://app@db.example/prod"), "%s", r.out);
    rbt_run_free(&r);
}

Test(rollback, health_check_over_https_verifies_the_certificate)
{
    snapshot("s1");
    rbt_run r = rbt_sh("cd '%s' && openssl req -x509 -newkey rsa:2048 -nodes -keyout key.pem "
                       "-out cert.pem -days 1 -subj /CN=127.0.0.1 -addext "
                       "subjectAltName=IP:127.0.0.1 2>/dev/null && "
                       "(openssl s_server -accept 127.0.0.1:18443 -cert cert.pem -key key.pem "
                       "-www -quiet >/dev/null 2>&1 & echo $!)",
                       tmp);
    cr_assert_eq(r.code, 0, "%s", r.err);
    int pid = atoi(r.out);
    rbt_run_free(&r);
    usleep(500000);
    char *arg = rbt_fmt("--validation '{\"tests\":[{\"type\":\"health_check\",\"url\":"
                        "\"https://127.0.0.1:18443/\",\"ca_file\":\"%s/cert.pem\"}]}'",
                        tmp);
    cJSON *rec = rollback_json(0, arg);
    cJSON_Delete(rec);
    free(arg);
    /* Without the CA the certificate is not trusted: the check fails. */
    rec = rollback_json(1, "--validation '{\"tests\":[{\"type\":\"health_check\",\"url\":"
                           "\"https://127.0.0.1:18443/\"}]}'");
    const cJSON *res = cJSON_GetArrayItem(
        cJSON_GetObjectItem(cJSON_GetObjectItem(rec, "verification_results"), "results"), 1);
    cr_assert(cJSON_IsFalse(cJSON_GetObjectItem(res, "passed")));
    cr_assert_not_null(s(res, "error"));
    cJSON_Delete(rec);
    kill(pid, SIGTERM);
}

Test(rollback, a_backend_keeping_the_safety_snapshot_stores_blobs_in_it)
{
    rbt_run r = HB("create-snapshot --id k1 --type fixture_keeps --config '{}'");
    cr_assert_eq(r.code, 0, "%s", r.err);
    rbt_run_free(&r);
    cJSON *rec = NULL;
    r = HB("--json execute-rollback --id k1 --yes");
    cr_assert_eq(r.code, 0, "%s%s", r.out, r.err);
    rec = rbt_json(r.out);
    rbt_run_free(&r);
    char *safety = strdup(s(rec, "safety_snapshot_id"));
    cJSON_Delete(rec);
    r = HB("--json show-snapshot --id %s", safety);
    cJSON *doc = rbt_json(r.out);
    rbt_run_free(&r);
    const cJSON *t = cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "targets"), 0);
    cr_assert_str_eq(s(t, "status"), "created");
    cr_assert_not_null(s(cJSON_GetObjectItem(t, "metadata"), "kept_blob"));
    const cJSON *st = cJSON_GetObjectItem(doc, "store");
    cr_assert_eq(cJSON_GetObjectItem(st, "blobs")->valueint >= 1, 1,
                 "the kept blob is not referenced");
    cJSON_Delete(doc);
    /* Deleting the original collects garbage: the kept blob must survive. */
    r = HB("delete-snapshot --id k1");
    cr_assert_eq(r.code, 0, "%s", r.err);
    rbt_run_free(&r);
    r = HB("check");
    cr_assert_eq(r.code, 0, "%s%s", r.out, r.err);
    rbt_run_free(&r);
    r = HB("execute-rollback --id %s --yes --no-safety-snapshot", safety);
    cr_assert_eq(r.code, 0, "%s%s", r.out, r.err);
    rbt_run_free(&r);
    free(safety);
}

Test(rollback, an_incomplete_safety_snapshot_is_refused)
{
    rbt_run r = HB("create-snapshot --id k2 --type fixture_keeps --config '{\"value\":\"fail\"}'");
    cr_assert_eq(r.code, 0, "%s", r.err);
    rbt_run_free(&r);
    r = HB("--json execute-rollback --id k2 --yes");
    cr_assert_eq(r.code, 6, "%s%s", r.out, r.err);
    cJSON *rec = rbt_json(r.out);
    rbt_run_free(&r);
    cr_assert_str_eq(s(rec, "status"), "failed");
    char *safety = strdup(s(rec, "safety_snapshot_id"));
    cJSON_Delete(rec);
    r = HB("execute-rollback --id %s --yes", safety);
    cr_assert_eq(r.code, 6, "%s%s", r.out, r.err);
    cr_assert(strstr(r.err, "its target 'fixture_keeps' is failed, not complete"), "%s", r.err);
    rbt_run_free(&r);
    free(safety);
}
