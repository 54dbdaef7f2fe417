/* Bad input: a file the user may not read, a file that keeps changing
 * while it is read, config mistakes. Each fails with a message naming the
 * culprit and leaves no snapshot behind. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/inotify.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cfg_fixture.h"

static cft t;
static pid_t writer;

static void setup(void)
{
    cft_open(&t);
}

static void teardown(void)
{
    if (writer > 0) {
        kill(writer, SIGKILL);
        writer = 0;
    }
    cft_close(&t);
}

TestSuite(cfg_bad_input, .init = setup, .fini = teardown);

static void expect_no_snapshot(const char *id)
{
    char *meta = rbt_fmt("%s/%s_metadata.json", t.store, id);
    cr_assert(access(meta, F_OK) != 0, "a failed snapshot left %s", meta);
    free(meta);
}

Test(cfg_bad_input, unreadable_file_fails_naming_it)
{
    cft_require_root(&t, "needs root to run rbhost as nobody");
    rbt_run x = rbt_sh("setpriv --reuid=nobody --regid=nogroup --clear-groups test -x '%s'",
                       rbt_rbhost_bin());
    int nobody_can_run = x.code == 0;
    rbt_run_free(&x);
    if (!nobody_can_run) {
        cft_close(&t);
        cr_skip_test("user nobody cannot run %s (a parent directory is private)", rbt_rbhost_bin());
    }
    cft_write(&t, "app/ok.conf", "fine\n");
    cft_write(&t, "app/secret.conf", "root only\n");
    char *cfg = cft_config(&t, "[\"app\"]");
    char *cfg_file = rbt_fmt("%s/config.json", t.tmp);
    rbt_spit(cfg_file, cfg);
    rbt_run r = rbt_sh("chmod 0755 '%s' && chmod 0644 '%s' && chmod 0000 '%s/app/secret.conf' && "
                       "mkdir '%s' && chown nobody:nogroup '%s'",
                       t.tmp, cfg_file, t.dir, t.store, t.store);
    cr_assert_eq(r.code, 0, "%s", r.err);
    rbt_run_free(&r);

    r = rbt_sh("setpriv --reuid=nobody --regid=nogroup --clear-groups '%s' --store '%s' --json "
               "create-snapshot --id u --type configuration --config @'%s'",
               rbt_rbhost_bin(), t.store, cfg_file);
    cr_assert_eq(r.code, 6, "create-snapshot as nobody exited %d: %s%s", r.code, r.out, r.err);
    cJSON *j = rbt_json(r.out);
    cr_assert_str_eq(cft_str(j, "status", NULL), "failed");
    const char *err = cft_str(j, "error", NULL);
    char *secret = cft_path(&t, "app/secret.conf");
    cr_assert(err && strstr(err, secret), "the error does not name %s: %s", secret, err ? err : "");
    cr_assert(strstr(err, "permission denied"), "%s", err);
    cJSON_Delete(j);
    rbt_run_free(&r);
    expect_no_snapshot("u");
    free(secret);
    free(cfg);
    free(cfg_file);
}

Test(cfg_bad_input, file_that_keeps_changing_fails_naming_it)
{
    cft_write(&t, "busy.log.conf", "");
    char *busy = cft_path(&t, "busy.log.conf");
    rbt_run r = rbt_sh("head -c 8388608 /dev/urandom > '%s' && "
                       "{ sh -c 'while :; do echo x >> \"$0\"; done' '%s' >/dev/null 2>&1 & "
                       "echo $!; }",
                       busy, busy);
    cr_assert_eq(r.code, 0, "%s", r.err);
    writer = (pid_t)atoi(r.out);
    cr_assert_gt(writer, 0);
    rbt_run_free(&r);

    char *cfg = cft_config(&t, "[\"busy.log.conf\"]");
    char *cfg_file = rbt_fmt("%s/config.json", t.tmp);
    rbt_spit(cfg_file, cfg);
    int code;
    cJSON *j = cft_rbhost_json(
        &t, &code, "create-snapshot --id busy --type configuration --config @'%s'", cfg_file);
    cr_assert_eq(code, 6, "create-snapshot exited %d", code);
    const char *err = cft_str(j, "error", NULL);
    cr_assert(err && strstr(err, busy), "the error does not name %s: %s", busy, err ? err : "");
    cr_assert(strstr(err, "kept changing"), "%s", err);
    cJSON_Delete(j);
    expect_no_snapshot("busy");

    kill(writer, SIGKILL);
    waitpid(writer, NULL, 0);
    writer = 0;
    /* Once quiet, the same file is recorded as it is. */
    cJSON_Delete(cft_snapshot(&t, "quiet", "[\"busy.log.conf\"]"));
    free(busy);
    free(cfg);
    free(cfg_file);
}

/* The first bytes of the file are rewritten in place right after rbhost
 * starts reading it (after its first read, seen through inotify): a read
 * that went on would record the old start with the rest, a file that never
 * existed. The snapshot must hold the file as it is afterwards. */
Test(cfg_bad_input, file_rewritten_during_the_read_is_read_again)
{
    cft_write(&t, "big.conf", "");
    char *big = cft_path(&t, "big.conf");
    rbt_run r = rbt_sh("head -c 33554432 /dev/urandom > '%s'", big);
    cr_assert_eq(r.code, 0, "%s", r.err);
    rbt_run_free(&r);
    int ready[2];
    cr_assert_eq(pipe(ready), 0);
    writer = fork();
    cr_assert_geq(writer, 0);
    if (writer == 0) {
        int in = inotify_init1(IN_CLOEXEC);
        if (in < 0 || inotify_add_watch(in, big, IN_ACCESS) < 0)
            _exit(1);
        if (write(ready[1], "r", 1) != 1)
            _exit(1);
        char ev[4096];
        if (read(in, ev, sizeof ev) <= 0)
            _exit(1);
        int fd = open(big, O_WRONLY);
        _exit(fd >= 0 && pwrite(fd, "REWRITTEN", 9, 0) == 9 ? 0 : 1);
    }
    close(ready[1]);
    char c;
    cr_assert_eq(read(ready[0], &c, 1), 1, "the writer did not start");
    close(ready[0]);

    cJSON *snap = cft_snapshot(&t, "reread", "[\"big.conf\"]");
    int status = 0;
    cr_assert_eq(waitpid(writer, &status, 0), writer);
    writer = 0;
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the writer failed");
    r = rbt_sh("sha256sum '%s' | cut -c1-64", big);
    r.out[strcspn(r.out, "\n")] = '\0';
    cr_assert_str_eq(cft_str(snap, "metadata", "files", big, "sha256", NULL), r.out,
                     "the snapshot holds a torn read, not the file");
    rbt_run_free(&r);
    cJSON_Delete(snap);
    free(big);
}

Test(cfg_bad_input, misspelt_key_is_refused_naming_it)
{
    char *cfg_file = rbt_fmt("%s/config.json", t.tmp);
    rbt_spit(cfg_file, "{\"config_file\": [\"/etc/hostname\"]}");
    int code;
    cJSON *j = cft_rbhost_json(
        &t, &code, "create-snapshot --id k --type configuration --config @'%s'", cfg_file);
    cr_assert_eq(code, 3, "exit %d", code);
    const char *err = cft_str(j, "error", NULL);
    cr_assert(err && strstr(err, "config_file"), "%s", err ? err : "");
    cJSON_Delete(j);
    expect_no_snapshot("k");
    free(cfg_file);
}

Test(cfg_bad_input, empty_file_list_is_refused)
{
    char *cfg_file = rbt_fmt("%s/config.json", t.tmp);
    rbt_spit(cfg_file, "{\"config_files\": []}");
    int code;
    cJSON *j = cft_rbhost_json(
        &t, &code, "create-snapshot --id e --type configuration --config @'%s'", cfg_file);
    cr_assert_neq(code, 0);
    const char *err = cft_str(j, "error", NULL);
    cr_assert(err && strstr(err, "config_files"), "%s", err ? err : "");
    cJSON_Delete(j);
    expect_no_snapshot("e");
    free(cfg_file);
}

Test(cfg_bad_input, relative_paths_are_recorded_absolute)
{
    cft_write(&t, "rel.conf", "r=1\n");
    rbt_run r = rbt_sh("cd '%s' && '%s' --store '%s' --json create-snapshot --id rel --type "
                       "configuration --config '{\"config_files\": [\"./sub/../rel.conf\"]}'",
                       t.dir, rbt_rbhost_bin(), t.store);
    cr_assert_eq(r.code, 0, "%s%s", r.out, r.err);
    cJSON *j = rbt_json(r.out);
    char *abs = cft_path(&t, "rel.conf");
    cr_assert_not_null(cft_get(j, "metadata", "files", abs, NULL), "%s", r.out);
    cJSON_Delete(j);
    rbt_run_free(&r);

    /* A rollback run from elsewhere finds the file. */
    cft_write(&t, "rel.conf", "r=2\n");
    int code;
    cJSON_Delete(cft_rollback(&t, "rel", &code));
    cr_assert_eq(code, 0);
    cft_expect(&t, "rel.conf", "r=1\n");
    free(abs);
}
