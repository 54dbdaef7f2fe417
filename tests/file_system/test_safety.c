/* A rollback never writes outside the recorded tree, whatever symlinks were
 * planted in it, and a disk that fills during a rollback leaves the tree
 * as it was (and says so). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs_fixture.h"

static fst t;

static void setup(void)
{
    fst_open(&t);
}

static void teardown(void)
{
    rbt_run r = rbt_sh("umount '%s/small' 2>/dev/null", t.tmp);
    rbt_run_free(&r);
    fst_close(&t);
}

TestSuite(fs_safety, .init = setup, .fini = teardown);

Test(fs_safety, planted_symlinks_are_replaced_never_followed)
{
    char *outside = rbt_fmt("%s/outside", t.tmp);
    fst_sh("mkdir -p '%s/keep' && printf secret > '%s/secret' && printf k > '%s/keep/k' && "
           "touch -d 2001-01-01 '%s/secret' '%s/keep/k' '%s/keep' '%s'",
           outside, outside, outside, outside, outside, outside, outside);
    fst_sh("cd '%s' && mkdir -p conf/deep www && printf a > conf/a.conf && "
           "printf d > conf/deep/d.conf && printf index > www/index.html && "
           "printf s > settings.ini",
           t.tree);
    char *before = fst_manifest(t.tree);
    char *outside_before = fst_manifest(outside);
    char *cfg = fst_config(&t);
    cJSON *r;
    fst_snapshot(&t, "clean", cfg, &r);
    cJSON_Delete(r);

    /* A directory becomes a symlink to a directory outside; a file becomes
     * a symlink to a file outside; a nested directory too. */
    fst_sh("cd '%s' && rm -r conf && ln -s '%s' conf && rm settings.ini && "
           "ln -s '%s/secret' settings.ini && rm -r www && ln -s '%s/keep' www",
           t.tree, outside, outside, outside);
    int code;
    cJSON *rec = fst_rollback(&t, "clean", NULL, &code);
    cr_assert_eq(code, 0, "rollback exited %d: %s", code, cJSON_PrintUnformatted(rec));
    cJSON_Delete(rec);
    fst_expect_manifest(outside, outside_before, "outside the tree");
    fst_expect_manifest(t.tree, before, "after rollback");
    free(outside_before);
    free(before);
    free(cfg);
    free(outside);
}

Test(fs_safety, disk_full_during_rollback_leaves_the_tree_as_it_was)
{
    char *small = rbt_fmt("%s/small", t.tmp);
    fst_sh("mkdir '%s'", small);
    rbt_run m = rbt_sh("mount -t tmpfs -o size=4m tmpfs '%s'", small);
    if (m.code != 0) {
        rbt_run_free(&m);
        free(small);
        cr_skip_test("cannot mount a tmpfs here (needs root): %s", m.err);
    }
    rbt_run_free(&m);
    char *tree = rbt_fmt("%s/tree", small);
    fst_sh("mkdir -p '%s/d' && head -c 1500000 /dev/urandom > '%s/big' && "
           "printf one > '%s/d/one' && printf two > '%s/two'",
           tree, tree, tree, tree);
    char *snap = fst_manifest(tree);
    char *cfg = rbt_fmt("{\"paths\": [\"%s\"]}", tree);
    cJSON *r;
    fst_snapshot(&t, "small", cfg, &r);
    cJSON_Delete(r);

    /* big is rewritten and the disk is then filled, so the snapshot's big
     * cannot be staged next to the live one. */
    fst_sh("cd '%s' && head -c 1500000 /dev/urandom > big && printf ONE > d/one && "
           "rm two && printf added > added && "
           "(head -c 10000000 /dev/zero > fill 2>/dev/null || true)",
           tree);
    char *changed = fst_manifest(tree);
    int code;
    cJSON *rec = fst_rollback(&t, "small", "--no-safety-snapshot", &code);
    cr_assert_neq(code, 0, "a rollback that cannot fit succeeded");
    const char *err = fst_str(rec, "error", NULL);
    char *text = cJSON_PrintUnformatted(rec);
    cr_assert(strstr(text, "no space") || strstr(text, "No space"),
              "no mention of the full disk: %s", text);
    cr_assert(strstr(text, "as it was"), "the record does not say the tree is unchanged: %s", text);
    cJSON_free(text);
    (void)err;
    cJSON_Delete(rec);
    fst_expect_manifest(tree, changed, "after the failed rollback");

    /* With room again, the same rollback completes. */
    fst_sh("rm '%s/fill'", tree);
    rec = fst_rollback(&t, "small", "--no-safety-snapshot", &code);
    cr_assert_eq(code, 0, "rollback with room exited %d", code);
    cJSON_Delete(rec);
    char *after = fst_manifest(tree);
    cr_assert_str_eq(after, snap);
    free(after);
    free(changed);
    free(snap);
    free(cfg);
    free(tree);
    free(small);
}
