/* Rollbacks that succeed: the seed 002 example (an .env file and a config
 * directory), absent files, glob patterns, mode and owner. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfg_fixture.h"

static cft t;

static void setup(void)
{
    cft_open(&t);
}

static void teardown(void)
{
    cft_close(&t);
}

TestSuite(cfg_rollback, .init = setup, .fini = teardown);

static void expect_completed(cJSON *rec, int code)
{
    cr_assert_eq(code, 0, "execute-rollback exited %d: %s", code,
                 cft_str(rec, "error", NULL) ? cft_str(rec, "error", NULL) : "");
    cr_assert_str_eq(cft_str(rec, "status", NULL), "completed");
    cr_assert_str_eq(cft_str(rec, "execution_result", "status", NULL), "success");
    cr_assert_str_eq(cft_str(rec, "execution_result", "method", NULL), "configuration_restore");
}

Test(cfg_rollback, env_file_and_config_directory_come_back_exactly)
{
    cft_write(&t, "app/.env", "DB_HOST=db1\nDB_PASSWORD=s3cret\n");
    cft_write(&t, "app/config/app.yml", "workers: 4\n");
    cft_write(&t, "app/config/db.yml", "pool: 10\n");
    cft_write(&t, "app/config/features/flags.yml", "new_ui: false\n");
    cJSON *snap = cft_snapshot(&t, "before-deploy", "[\"app/.env\", \"app/config\"]");
    cJSON_Delete(snap);

    /* The deployment: edits, a deletion, new files and a new directory. */
    cft_write(&t, "app/.env", "DB_HOST=db2\nDB_PASSWORD=other\nFEATURE_X=1\n");
    cft_write(&t, "app/config/app.yml", "workers: 16\n");
    char *db = cft_path(&t, "app/config/db.yml");
    cr_assert_eq(unlink(db), 0);
    free(db);
    cft_write(&t, "app/config/cache.yml", "ttl: 60\n");
    cft_write(&t, "app/config/integrations/bus.yml", "enabled: true\n");
    cft_write(&t, "app/config/features/flags.yml", "new_ui: true\n");
    cft_write(&t, "app/unrelated.txt", "not listed\n");

    int code;
    cJSON *rec = cft_rollback(&t, "before-deploy", &code);
    expect_completed(rec, code);
    cJSON *exec = cft_get(rec, "execution_result", NULL);
    cr_assert_eq(cJSON_GetNumberValue(cft_get(exec, "files_restored", NULL)), 4);
    cr_assert_eq(cJSON_GetNumberValue(cft_get(exec, "files_removed", NULL)), 2);
    cJSON_Delete(rec);

    cft_expect(&t, "app/.env", "DB_HOST=db1\nDB_PASSWORD=s3cret\n");
    cft_expect(&t, "app/config/app.yml", "workers: 4\n");
    cft_expect(&t, "app/config/db.yml", "pool: 10\n");
    cft_expect(&t, "app/config/features/flags.yml", "new_ui: false\n");
    cft_expect_absent(&t, "app/config/cache.yml");
    cft_expect_absent(&t, "app/config/integrations");
    /* Not listed, so not touched. */
    cft_expect(&t, "app/unrelated.txt", "not listed\n");
    /* Nothing left behind: no temporary or kept names. */
    cr_assert_eq(cft_count_entries(&t, "app/config"), 3);
    cr_assert_eq(cft_count_entries(&t, "app"), 3);

    rbt_run v = rbt_rbhost(t.store, "verify --id before-deploy");
    cr_assert_eq(v.code, 0, "verify after rollback exited %d: %s%s", v.code, v.out, v.err);
    rbt_run_free(&v);
}

Test(cfg_rollback, file_absent_at_snapshot_is_removed_by_rollback)
{
    cft_write(&t, "etc/main.conf", "a=1\n");
    cJSON *snap = cft_snapshot(&t, "s1", "[\"etc/main.conf\", \"etc/override.conf\"]");
    char *over = cft_path(&t, "etc/override.conf");
    cJSON *entry = cft_get(snap, "metadata", "files", over, NULL);
    cr_assert_not_null(entry, "the absent file is not recorded");
    cr_assert(cJSON_IsTrue(cft_get(entry, "absent", NULL)));
    cJSON_Delete(snap);

    cft_write(&t, "etc/override.conf", "a=2\n");
    int code;
    cJSON *rec = cft_rollback(&t, "s1", &code);
    expect_completed(rec, code);
    cr_assert_eq(cJSON_GetNumberValue(cft_get(rec, "execution_result", "files_removed", NULL)), 1);
    cr_assert_eq(cJSON_GetNumberValue(cft_get(rec, "execution_result", "files_unchanged", NULL)),
                 1);
    cJSON_Delete(rec);
    cft_expect_absent(&t, "etc/override.conf");
    cft_expect(&t, "etc/main.conf", "a=1\n");
    free(over);
}

Test(cfg_rollback, glob_patterns_restore_matches_and_drop_new_ones)
{
    cft_write(&t, "conf.d/10-base.conf", "base\n");
    cft_write(&t, "conf.d/20-site.conf", "site\n");
    cft_write(&t, "conf.d/notes.txt", "notes\n");
    cft_write(&t, "plugins/README", "none yet\n");
    cJSON *snap = cft_snapshot(&t, "g1", "[\"conf.d/*.conf\", \"plugins/*.ini\"]");
    cJSON *patterns = cft_get(snap, "metadata", "patterns", NULL);
    cr_assert_eq(cJSON_GetArraySize(patterns), 2);
    char *none = cft_path(&t, "plugins/*.ini");
    cJSON *p = cft_find(patterns, "pattern", none);
    cr_assert_not_null(p, "the pattern that matched nothing is not recorded");
    cr_assert_eq(cJSON_GetNumberValue(cft_get(p, "matched", NULL)), 0);
    free(none);
    char *base = cft_path(&t, "conf.d/10-base.conf");
    cr_assert_not_null(cft_get(snap, "metadata", "files", base, NULL));
    free(base);
    char *notes = cft_path(&t, "conf.d/notes.txt");
    cr_assert_null(cft_get(snap, "metadata", "files", notes, NULL));
    free(notes);
    cJSON_Delete(snap);

    cft_write(&t, "conf.d/10-base.conf", "changed\n");
    cft_write(&t, "conf.d/30-new.conf", "new\n");
    cft_write(&t, "conf.d/notes.txt", "more notes\n");
    cft_write(&t, "plugins/extra.ini", "[x]\n");
    int code;
    cJSON *rec = cft_rollback(&t, "g1", &code);
    expect_completed(rec, code);
    cJSON_Delete(rec);
    cft_expect(&t, "conf.d/10-base.conf", "base\n");
    cft_expect(&t, "conf.d/20-site.conf", "site\n");
    cft_expect_absent(&t, "conf.d/30-new.conf");
    cft_expect_absent(&t, "plugins/extra.ini");
    /* Files the patterns never matched are not the snapshot's business. */
    cft_expect(&t, "conf.d/notes.txt", "more notes\n");
    cft_expect(&t, "plugins/README", "none yet\n");
}

Test(cfg_rollback, mode_and_owner_come_back)
{
    cft_require_root(&t, "changing owners needs root");
    cft_write(&t, "srv/secret.conf", "token=abc\n");
    cft_write(&t, "srv/public.conf", "port=80\n");
    rbt_run r = rbt_sh("cd '%s/srv' && chown nobody:nogroup secret.conf && chmod 0640 "
                       "secret.conf && chown nobody:nogroup public.conf && chmod 2755 public.conf",
                       t.dir);
    cr_assert_eq(r.code, 0, "%s", r.err);
    rbt_run_free(&r);
    struct stat want = cft_stat(&t, "srv/secret.conf");
    cJSON_Delete(cft_snapshot(&t, "m1", "[\"srv\"]"));

    /* secret.conf: owner and mode only; public.conf: content too. */
    r = rbt_sh("cd '%s/srv' && chown root:root secret.conf public.conf && chmod 0666 "
               "secret.conf public.conf && echo port=8080 > public.conf",
               t.dir);
    cr_assert_eq(r.code, 0, "%s", r.err);
    rbt_run_free(&r);
    struct stat moved = cft_stat(&t, "srv/secret.conf");

    int code;
    cJSON *rec = cft_rollback(&t, "m1", &code);
    expect_completed(rec, code);
    cJSON_Delete(rec);
    struct stat s = cft_stat(&t, "srv/secret.conf");
    cr_assert_eq(s.st_uid, want.st_uid);
    cr_assert_eq(s.st_gid, want.st_gid);
    cr_assert_eq(s.st_mode & 07777, 0640);
    /* Only the attributes differed: changed in place, same inode. */
    cr_assert_eq(s.st_ino, moved.st_ino);
    cft_expect(&t, "srv/secret.conf", "token=abc\n");
    struct stat p = cft_stat(&t, "srv/public.conf");
    cr_assert_eq(p.st_uid, want.st_uid);
    cr_assert_eq(p.st_gid, want.st_gid);
    cr_assert_eq(p.st_mode & 07777, 02755, "mode %o", (unsigned)(p.st_mode & 07777));
    cft_expect(&t, "srv/public.conf", "port=80\n");
}

Test(cfg_rollback, vanished_directory_is_recreated_with_its_mode)
{
    cft_write(&t, "app/conf/a.conf", "a\n");
    cft_write(&t, "app/conf/sub/b.conf", "b\n");
    rbt_run r = rbt_sh("chmod 0750 '%s/app/conf/sub'", t.dir);
    rbt_run_free(&r);
    cJSON_Delete(cft_snapshot(&t, "d1", "[\"app/conf\"]"));
    r = rbt_sh("rm -rf '%s/app/conf'", t.dir);
    rbt_run_free(&r);

    int code;
    cJSON *rec = cft_rollback(&t, "d1", &code);
    expect_completed(rec, code);
    cJSON_Delete(rec);
    cft_expect(&t, "app/conf/a.conf", "a\n");
    cft_expect(&t, "app/conf/sub/b.conf", "b\n");
    cr_assert_eq(cft_stat(&t, "app/conf/sub").st_mode & 07777, 0750);
}

Test(cfg_rollback, symlink_is_restored_as_a_symlink)
{
    cft_write(&t, "sites/available/a.conf", "server a\n");
    cft_write(&t, "sites/available/b.conf", "server b\n");
    char *link = cft_path(&t, "sites/enabled/site.conf");
    rbt_run r =
        rbt_sh("mkdir -p \"$(dirname '%s')\" && ln -s ../available/a.conf '%s'", link, link);
    cr_assert_eq(r.code, 0, "%s", r.err);
    rbt_run_free(&r);
    cJSON_Delete(cft_snapshot(&t, "l1", "[\"sites/enabled\"]"));
    r = rbt_sh("ln -sfn ../available/b.conf '%s'", link);
    rbt_run_free(&r);

    int code;
    cJSON *rec = cft_rollback(&t, "l1", &code);
    expect_completed(rec, code);
    cJSON_Delete(rec);
    char target[256];
    ssize_t n = readlink(link, target, sizeof target - 1);
    cr_assert_gt(n, 0);
    target[n] = '\0';
    cr_assert_str_eq(target, "../available/a.conf");
    /* The file it points to was not listed and is untouched. */
    cft_expect(&t, "sites/available/b.conf", "server b\n");
    free(link);
}
