/* Every file or none: when one file cannot be replaced, the files already
 * replaced are put back and the rollback is recorded as failed. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "cfg_fixture.h"

static cft t;
static char *mnt;

static void setup(void)
{
    cft_open(&t);
}

static void teardown(void)
{
    if (mnt) {
        umount2(mnt, MNT_DETACH);
        free(mnt);
        mnt = NULL;
    }
    cft_close(&t);
}

TestSuite(cfg_atomic, .init = setup, .fini = teardown);

static void sh_ok(const char *cmd)
{
    rbt_run r = rbt_sh("cd '%s' && %s", t.dir, cmd);
    cr_assert_eq(r.code, 0, "%s: %s", cmd, r.err);
    rbt_run_free(&r);
}

/* The record says failed, nothing was restored, and the message names the
 * file that could not be written. */
static void expect_failed(cJSON *rec, int code, const char *names)
{
    cr_assert_eq(code, 6, "execute-rollback exited %d, expected 6", code);
    cr_assert_str_eq(cft_str(rec, "status", NULL), "failed");
    cr_assert_str_eq(cft_str(rec, "execution_result", "status", NULL), "failed");
    const char *err = cft_str(rec, "error", NULL);
    cr_assert_not_null(err);
    cr_assert(strstr(err, names), "the error does not name %s: %s", names, err);
    cr_assert(strstr(err, "nothing was changed"), "the error does not say so: %s", err);
}

Test(cfg_atomic, file_that_cannot_be_replaced_undoes_those_already_replaced)
{
    cft_require_root(&t, "chattr +i needs root");
    cft_write(&t, "etc/a.conf", "a1\n");
    cft_write(&t, "etc/m.conf", "m1\n");
    cft_write(&t, "etc/z.conf", "z1\n");
    cJSON_Delete(cft_snapshot(&t, "s", "[\"etc\"]"));
    cft_write(&t, "etc/a.conf", "a2\n");
    cft_write(&t, "etc/m.conf", "m2\n");
    cft_write(&t, "etc/new.conf", "n2\n");
    cft_write(&t, "etc/newdir/x.conf", "x2\n");
    cft_write(&t, "etc/z.conf", "z2\n");
    /* z.conf sorts last: a.conf and m.conf are already in place when it
     * fails, new.conf and newdir already removed. */
    sh_ok("chattr +i etc/z.conf");
    struct stat a_before = cft_stat(&t, "etc/a.conf");

    int code;
    cJSON *rec = cft_rollback(&t, "s", &code);
    expect_failed(rec, code, "z.conf");
    cJSON_Delete(rec);
    cft_expect(&t, "etc/a.conf", "a2\n");
    cft_expect(&t, "etc/m.conf", "m2\n");
    cft_expect(&t, "etc/new.conf", "n2\n");
    cft_expect(&t, "etc/newdir/x.conf", "x2\n");
    cft_expect(&t, "etc/z.conf", "z2\n");
    /* The very same file, not a copy of it. */
    cr_assert_eq(cft_stat(&t, "etc/a.conf").st_ino, a_before.st_ino);
    cr_assert_eq(cft_count_entries(&t, "etc"), 5, "temporary files were left behind");

    sh_ok("chattr -i etc/z.conf");
    rec = cft_rollback(&t, "s", &code);
    cr_assert_eq(code, 0, "%s", cft_str(rec, "error", NULL));
    cJSON_Delete(rec);
    cft_expect(&t, "etc/a.conf", "a1\n");
    cft_expect(&t, "etc/z.conf", "z1\n");
    cft_expect_absent(&t, "etc/new.conf");
    cft_expect_absent(&t, "etc/newdir");
    cr_assert_eq(cft_count_entries(&t, "etc"), 3, "kept originals were left behind");
}

Test(cfg_atomic, directory_that_cannot_be_written_changes_nothing)
{
    cft_require_root(&t, "chattr +i needs root");
    cft_write(&t, "a/app.conf", "app1\n");
    cft_write(&t, "b/db.conf", "db1\n");
    cJSON_Delete(cft_snapshot(&t, "s", "[\"a/app.conf\", \"b/db.conf\"]"));
    cft_write(&t, "a/app.conf", "app2\n");
    cft_write(&t, "b/db.conf", "db2\n");
    sh_ok("chattr +i b");

    int code;
    cJSON *rec = cft_rollback(&t, "s", &code);
    expect_failed(rec, code, "db.conf");
    cJSON_Delete(rec);
    cft_expect(&t, "a/app.conf", "app2\n");
    cft_expect(&t, "b/db.conf", "db2\n");
    cr_assert_eq(cft_count_entries(&t, "a"), 1, "a staged file was left behind");
}

Test(cfg_atomic, disk_full_while_staging_leaves_files_as_they_were)
{
    cft_require_root(&t, "mounting a tmpfs needs root");
    mnt = cft_path(&t, "small");
    cr_assert_eq(mkdir(mnt, 0755), 0);
    cr_assert_eq(mount("tmpfs", mnt, "tmpfs", 0, "size=256k"), 0, "mount tmpfs on %s: %s", mnt,
                 strerror(errno));
    /* 160 KiB recorded; the rollback has to write it again. */
    sh_ok("printf 'listen 80\\n' > small/a.conf && head -c 163840 /dev/urandom | base64 > "
          "small/big.conf && echo 'x=1' > small/z.conf");
    cJSON_Delete(cft_snapshot(&t, "s", "[\"small\"]"));

    sh_ok("printf 'listen 81\\n' > small/a.conf && echo small > small/big.conf && "
          "echo 'x=2' > small/z.conf");
    /* Fill what is left of the file system. */
    rbt_run r = rbt_sh("dd if=/dev/zero of='%s/fill' bs=4k 2>/dev/null", mnt);
    rbt_run_free(&r);

    int code;
    cJSON *rec = cft_rollback(&t, "s", &code);
    cr_assert_eq(code, 6, "execute-rollback exited %d, expected 6", code);
    cr_assert_str_eq(cft_str(rec, "status", NULL), "failed");
    const char *err = cft_str(rec, "error", NULL);
    cr_assert(err && strstr(err, "No space left on device"), "error: %s", err ? err : "");
    cr_assert(strstr(err, "nothing was changed"), "error: %s", err);
    cJSON_Delete(rec);
    cft_expect(&t, "small/a.conf", "listen 81\n");
    cft_expect(&t, "small/big.conf", "small\n");
    cft_expect(&t, "small/z.conf", "x=2\n");
    cr_assert_eq(cft_count_entries(&t, "small"), 4, "temporary files were left behind");

    /* With room again, the same snapshot goes back in full. */
    char *fill = rbt_fmt("%s/fill", mnt);
    cr_assert_eq(unlink(fill), 0);
    free(fill);
    rec = cft_rollback(&t, "s", &code);
    cr_assert_eq(code, 0, "%s", cft_str(rec, "error", NULL));
    cJSON_Delete(rec);
    cft_expect(&t, "small/a.conf", "listen 80\n");
    cft_expect(&t, "small/z.conf", "x=1\n");
}

Test(cfg_atomic, directory_replaced_by_a_file_refuses_before_any_change)
{
    cft_write(&t, "conf/a.conf", "a1\n");
    cft_write(&t, "conf/sub/b.conf", "b1\n");
    cJSON_Delete(cft_snapshot(&t, "s", "[\"conf\"]"));
    cft_write(&t, "conf/a.conf", "a2\n");
    sh_ok("rm -r conf/sub && echo 'not a directory' > conf/sub");

    int code;
    cJSON *rec = cft_rollback(&t, "s", &code);
    cr_assert_eq(code, 6, "execute-rollback exited %d, expected 6", code);
    /* Refused by the pre-flight every rollback starts with: the backend's
     * plan finds the conflict before anything is touched. */
    const char *err = cft_str(rec, "error", NULL);
    cr_assert(err && strstr(err, "nothing was changed") && strstr(err, "something else now"), "%s",
              err ? err : "");
    cJSON_Delete(rec);
    cft_expect(&t, "conf/a.conf", "a2\n");
    cft_expect(&t, "conf/sub", "not a directory\n");
}
