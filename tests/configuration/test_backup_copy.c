/* backup_location: a plain, private copy of the recorded files beside the
 * store, removed with the snapshot and never mistaken for a new file. */
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

TestSuite(cfg_backup_copy, .init = setup, .fini = teardown);

Test(cfg_backup_copy, copy_mirrors_the_files_and_goes_with_the_snapshot)
{
    cft_write(&t, "app/.env", "TOKEN=1\n");
    cft_write(&t, "app/config/app.yml", "w: 2\n");
    char *env = cft_path(&t, "app/.env");
    char *conf = cft_path(&t, "app/config");
    char *copies = rbt_fmt("%s/copies", t.tmp);
    char *cfg = rbt_fmt("{\"config_files\": [\"%s\", \"%s\"], \"backup_location\": \"%s\"}", env,
                        conf, copies);
    cJSON *snap = cft_snapshot_config(&t, "c1", cfg);
    char *copy_dir = rbt_fmt("%s/c1", copies);
    cr_assert_str_eq(cft_str(snap, "metadata", "backup_copy", NULL), copy_dir);
    cJSON_Delete(snap);

    char *env_copy = rbt_fmt("%s%s", copy_dir, env);
    char *got = rbt_slurp(env_copy);
    cr_assert_not_null(got, "%s was not written", env_copy);
    cr_assert_str_eq(got, "TOKEN=1\n");
    free(got);
    struct stat st;
    cr_assert_eq(stat(env_copy, &st), 0);
    cr_assert_eq(st.st_mode & 07777, 0600);
    char *yml_copy = rbt_fmt("%s%s/app.yml", copy_dir, conf);
    got = rbt_slurp(yml_copy);
    cr_assert_str_eq(got ? got : "", "w: 2\n");
    free(got);

    rbt_run r = rbt_rbhost(t.store, "delete-snapshot --id c1");
    cr_assert_eq(r.code, 0, "%s%s", r.out, r.err);
    rbt_run_free(&r);
    cr_assert(access(copy_dir, F_OK) != 0, "%s outlived its snapshot", copy_dir);
    free(env);
    free(conf);
    free(copies);
    free(cfg);
    free(copy_dir);
    free(env_copy);
    free(yml_copy);
}

Test(cfg_backup_copy, copy_inside_a_listed_directory_is_left_alone)
{
    cft_write(&t, "etc/app.conf", "a=1\n");
    char *etc = cft_path(&t, "etc");
    char *cfg =
        rbt_fmt("{\"config_files\": [\"%s\"], \"backup_location\": \"%s/.copies\"}", etc, etc);
    cJSON_Delete(cft_snapshot_config(&t, "c2", cfg));
    cft_write(&t, "etc/app.conf", "a=2\n");

    int code;
    cJSON *rec = cft_rollback(&t, "c2", &code);
    cr_assert_eq(code, 0, "%s", cft_str(rec, "error", NULL));
    cJSON_Delete(rec);
    cft_expect(&t, "etc/app.conf", "a=1\n");
    /* Written after the scan, yet not removed as new by the rollback. */
    char *copy = rbt_fmt("%s/.copies/c2%s/app.conf", etc, etc);
    char *got = rbt_slurp(copy);
    cr_assert_str_eq(got ? got : "(missing)", "a=1\n", "%s", copy);
    free(got);
    free(copy);
    free(etc);
    free(cfg);
}
