/* --dry-run lists what a rollback would change without changing it, and
 * verify tells a matching tree (exit 0) from a drifted one (exit 1). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "fs_fixture.h"

static fst t;

static void setup(void)
{
    fst_open(&t);
    fst_sh("cd '%s' && mkdir -p d/e && printf 1 > d/one && printf 22 > d/e/two && "
           "printf 333 > three && printf 4444 > four",
           t.tree);
}

static void teardown(void)
{
    fst_close(&t);
}

TestSuite(fs_plan_verify, .init = setup, .fini = teardown);

static cJSON *find_change(cJSON *changes, const char *action, const char *suffix)
{
    cJSON *c;
    cJSON_ArrayForEach(c, changes)
    {
        const char *a = fst_str(c, "action", NULL), *item = fst_str(c, "item", NULL);
        size_t n = item ? strlen(item) : 0, k = strlen(suffix);
        if (a && !strcmp(a, action) && n >= k && !strcmp(item + n - k, suffix))
            return c;
    }
    return NULL;
}

Test(fs_plan_verify, dry_run_lists_changes_and_changes_nothing)
{
    char *cfg = fst_config(&t);
    cJSON *r;
    fst_snapshot(&t, "p", cfg, &r);
    cJSON_Delete(r);
    /* two files rewritten, one created (deleted now), one removed (new). */
    fst_sh("cd '%s' && printf 1111 > d/one && printf 55 > d/e/two && rm three && "
           "printf 666666 > d/new && chmod 600 four",
           t.tree);
    char *changed = fst_manifest(t.tree);
    int code;
    cJSON *out = fst_rollback(&t, "p", "--dry-run", &code);
    cr_assert_eq(code, 0, "dry run exited %d", code);
    cr_assert(cJSON_IsTrue(fst_get(out, "dry_run", NULL)));
    cJSON *plan = fst_get(cJSON_GetArrayItem(fst_get(out, "targets", NULL), 0), "plan", NULL);
    cr_assert_not_null(plan, "no plan in %s", cJSON_PrintUnformatted(out));
    cr_assert_eq(fst_num(plan, "counts", "rewrite", NULL), 2);
    cr_assert_eq(fst_num(plan, "counts", "create", NULL), 1);
    cr_assert_eq(fst_num(plan, "counts", "remove", NULL), 1);
    cr_assert_eq(fst_num(plan, "bytes", "rewrite", NULL), 1 + 2);
    cr_assert_eq(fst_num(plan, "bytes", "create", NULL), 3);
    cr_assert_eq(fst_num(plan, "bytes", "remove", NULL), 6);
    cJSON *changes = fst_get(plan, "changes", NULL);
    cr_assert_not_null(find_change(changes, "rewrite", "/tree/d/one"));
    cr_assert_not_null(find_change(changes, "rewrite", "/tree/d/e/two"));
    cr_assert_not_null(find_change(changes, "create", "/tree/three"));
    cr_assert_not_null(find_change(changes, "remove", "/tree/d/new"));
    cJSON *meta = find_change(changes, "rewrite", "/tree/four");
    cr_assert_not_null(meta, "chmod not listed");
    cr_assert_str_eq(fst_str(meta, "reason", NULL), "mode");
    cr_assert(cJSON_IsFalse(fst_get(plan, "truncated", NULL)));
    cJSON_Delete(out);
    fst_expect_manifest(t.tree, changed, "after --dry-run");
    free(changed);
    free(cfg);
}

Test(fs_plan_verify, verify_exit_codes)
{
    char *cfg = fst_config(&t);
    cJSON *r;
    fst_snapshot(&t, "v", cfg, &r);
    cJSON_Delete(r);
    int code;
    cJSON *v = fst_rbhost_json(&t, &code, "verify --id v");
    cr_assert_eq(code, 0, "verify of an unchanged tree exited %d: %s", code,
                 cJSON_PrintUnformatted(v));
    cr_assert_str_eq(fst_str(v, "status", NULL), "match");
    cJSON_Delete(v);

    /* The size stays the same: only hashing shows the content changed. */
    fst_sh("cd '%s' && printf 9 > d/one", t.tree);
    v = fst_rbhost_json(&t, &code, "verify --id v");
    cr_assert_eq(code, 1, "verify of a changed tree exited %d", code);
    cr_assert_str_eq(fst_str(v, "status", NULL), "drift");
    char *text = cJSON_PrintUnformatted(v);
    cr_assert(strstr(text, "/tree/d/one"), "the drifted file is not named: %s", text);
    cr_assert(strstr(text, "content"), "the content difference is not named: %s", text);
    cJSON_free(text);
    cJSON_Delete(v);

    cJSON *rec = fst_rollback(&t, "v", "--no-safety-snapshot", &code);
    cr_assert_eq(code, 0);
    cJSON_Delete(rec);
    v = fst_rbhost_json(&t, &code, "verify --id v");
    cr_assert_eq(code, 0, "verify after rollback exited %d: %s", code, cJSON_PrintUnformatted(v));
    cJSON_Delete(v);

    /* Only the mtime changes: metadata drift, content equal. */
    fst_sh("touch -d 2010-01-01 '%s/four'", t.tree);
    v = fst_rbhost_json(&t, &code, "verify --id v");
    cr_assert_eq(code, 1);
    text = cJSON_PrintUnformatted(v);
    cr_assert(strstr(text, "mtime") && !strstr(text, "content"), "%s", text);
    cJSON_free(text);
    cJSON_Delete(v);
    free(cfg);
}
