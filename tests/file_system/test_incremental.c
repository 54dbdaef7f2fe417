/* A re-snapshot reads only the files whose size, mtime, ctime or inode
 * changed, and a snapshot made that way restores as well as a full one. */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "fs_fixture.h"

static fst t;

static void setup(void)
{
    fst_open(&t);
    fst_sh("cd '%s' && mkdir -p a/b c && for i in 1 2 3 4 5 6 7 8 9 10; do "
           "head -c 5000 /dev/urandom > a/b/f$i; printf $i > c/g$i; done",
           t.tree);
}

static void teardown(void)
{
    fst_close(&t);
}

TestSuite(fs_incremental, .init = setup, .fini = teardown);

Test(fs_incremental, unchanged_files_are_not_read_again)
{
    char *cfg = fst_config(&t);
    cJSON *r1, *r2, *r3;
    cJSON *m1 = fst_snapshot(&t, "s1", cfg, &r1);
    cr_assert_eq(fst_num(m1, "counts", "files_read", NULL), 20);
    /* ten 5000-byte files, "1" to "9" and "10" */
    cr_assert_eq(fst_num(m1, "bytes", "read", NULL), 50011);

    cJSON *m2 = fst_snapshot(&t, "s2", cfg, &r2);
    cr_assert_eq(fst_num(m2, "counts", "files_read", NULL), 0);
    cr_assert_eq(fst_num(m2, "counts", "files_unchanged", NULL), 20);
    cr_assert_eq(fst_num(m2, "bytes", "read", NULL), 0);
    /* An unchanged tree gives the same index. */
    cr_assert_str_eq(fst_str(m1, "index", NULL), fst_str(m2, "index", NULL));

    /* Same size, new content and mtime; a touch (ctime only changes with
     * chmod); a new file. Only those three are read. */
    fst_sh("cd '%s' && head -c 5000 /dev/urandom > a/b/f3 && chmod 600 c/g1 && "
           "printf new > c/new",
           t.tree);
    cJSON *m3 = fst_snapshot(&t, "s3", cfg, &r3);
    cr_assert_eq(fst_num(m3, "counts", "files_read", NULL), 3);
    cr_assert_eq(fst_num(m3, "bytes", "read", NULL), 5000 + 1 + 3);
    cr_assert_eq(fst_num(m3, "counts", "files_unchanged", NULL), 18);
    cJSON_Delete(r1);
    cJSON_Delete(r2);
    cJSON_Delete(r3);
    free(cfg);
}

Test(fs_incremental, an_incremental_snapshot_restores_exactly)
{
    char *cfg = fst_config(&t);
    cJSON *r;
    fst_snapshot(&t, "s1", cfg, &r);
    cJSON_Delete(r);
    fst_sh("cd '%s' && printf changed > c/g2 && rm a/b/f9", t.tree);
    char *second = fst_manifest(t.tree);
    cJSON *m = fst_snapshot(&t, "s2", cfg, &r);
    cr_assert_eq(fst_num(m, "counts", "files_read", NULL), 1);
    cJSON_Delete(r);
    fst_sh("cd '%s' && rm -r a && printf x > c/g3", t.tree);
    int code;
    cJSON *rec = fst_rollback(&t, "s2", "--no-safety-snapshot", &code);
    cr_assert_eq(code, 0);
    cJSON_Delete(rec);
    fst_expect_manifest(t.tree, second, "after rollback to the incremental snapshot");
    free(second);
    free(cfg);
}

Test(fs_incremental, excluded_entries_are_neither_recorded_nor_touched)
{
    fst_sh("cd '%s' && mkdir -p cache/x && printf log > app.log && printf c > cache/x/y", t.tree);
    char *cfg = rbt_fmt("{\"paths\": [\"%s\"], \"exclude\": [\"*.log\", \"cache/*\"]}", t.tree);
    cJSON *r;
    cJSON *m = fst_snapshot(&t, "ex", cfg, &r);
    cr_assert_eq(fst_num(m, "counts", "files", NULL), 20);
    /* tree, a, a/b, c, cache (its contents are excluded, not itself) */
    cr_assert_eq(fst_num(m, "counts", "directories", NULL), 5);
    cJSON_Delete(r);
    fst_sh("cd '%s' && printf more >> app.log && printf new > other.log && printf z > cache/z && "
           "printf changed > c/g1",
           t.tree);
    int code;
    cJSON *rec = fst_rollback(&t, "ex", "--no-safety-snapshot", &code);
    cr_assert_eq(code, 0);
    cJSON_Delete(rec);
    rbt_run out = rbt_sh("cd '%s' && cat app.log other.log cache/z cache/x/y c/g1", t.tree);
    cr_assert_str_eq(out.out, "logmorenewzc1");
    rbt_run_free(&out);
    free(cfg);
}
