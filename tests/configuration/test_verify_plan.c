/* verify and --dry-run report the differences without changing anything;
 * metadata never holds file contents. */
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

TestSuite(cfg_verify, .init = setup, .fini = teardown);

static cJSON *find_difference(cJSON *diffs, const char *rel, const char *what)
{
    char *p = cft_path(&t, rel);
    const cJSON *d;
    cJSON *found = NULL;
    cJSON_ArrayForEach(d, diffs)
    {
        if (!strcmp(cft_str(d, "path", NULL), p) && !strcmp(cft_str(d, "difference", NULL), what))
            found = (cJSON *)d;
    }
    free(p);
    return found;
}

Test(cfg_verify, match_then_drift_with_each_difference_listed)
{
    cft_write(&t, "etc/a.conf", "a\n");
    cft_write(&t, "etc/b.conf", "b\n");
    cft_write(&t, "etc/c.conf", "c\n");
    cJSON_Delete(cft_snapshot(&t, "v", "[\"etc\", \"etc.local\"]"));

    int code;
    cJSON *j = cft_rbhost_json(&t, &code, "verify --id v");
    cr_assert_eq(code, 0, "verify right after the snapshot exited %d", code);
    cr_assert_str_eq(cft_str(j, "status", NULL), "match");
    cJSON_Delete(j);

    /* Same size, other bytes: only the hash can tell. */
    cft_write(&t, "etc/a.conf", "A\n");
    rbt_run r = rbt_sh("chmod 0600 '%s/etc/b.conf' && rm '%s/etc/c.conf'", t.dir, t.dir);
    rbt_run_free(&r);
    cft_write(&t, "etc/d.conf", "d\n");
    cft_write(&t, "etc.local", "x\n");

    j = cft_rbhost_json(&t, &code, "verify --id v");
    cr_assert_eq(code, 1, "verify with drift exited %d", code);
    cr_assert_str_eq(cft_str(j, "status", NULL), "drift");
    cJSON *target = cJSON_GetArrayItem(cft_get(j, "targets", NULL), 0);
    cr_assert_str_eq(cft_str(target, "status", NULL), "drift");
    cJSON *diffs = cft_get(target, "result", "differences", NULL);
    cr_assert_eq(cJSON_GetArraySize(diffs), 5, "%s", cJSON_Print(diffs));
    cJSON *content = find_difference(diffs, "etc/a.conf", "content");
    cr_assert_not_null(content);
    rbt_run h = rbt_sh("sha256sum '%s/etc/a.conf' | cut -c1-64", t.dir);
    h.out[strcspn(h.out, "\n")] = '\0';
    cr_assert_str_eq(cft_str(content, "actual_sha256", NULL), h.out);
    rbt_run_free(&h);
    cJSON *mode = find_difference(diffs, "etc/b.conf", "mode");
    cr_assert_not_null(mode);
    cr_assert_str_eq(cft_str(mode, "actual", NULL), "0600");
    cr_assert_not_null(find_difference(diffs, "etc/c.conf", "missing"));
    cr_assert_not_null(find_difference(diffs, "etc/d.conf", "extra"));
    cr_assert_not_null(find_difference(diffs, "etc.local", "present"));
    cJSON_Delete(j);
}

Test(cfg_verify, owner_change_is_drift)
{
    cft_require_root(&t, "changing owners needs root");
    cft_write(&t, "x.conf", "x\n");
    cJSON_Delete(cft_snapshot(&t, "o", "[\"x.conf\"]"));
    rbt_run r = rbt_sh("chown nobody '%s/x.conf'", t.dir);
    rbt_run_free(&r);
    int code;
    cJSON *j = cft_rbhost_json(&t, &code, "verify --id o");
    cr_assert_eq(code, 1);
    cJSON *diffs =
        cft_get(cJSON_GetArrayItem(cft_get(j, "targets", NULL), 0), "result", "differences", NULL);
    cr_assert_not_null(find_difference(diffs, "x.conf", "owner"));
    cJSON_Delete(j);
}

Test(cfg_verify, dry_run_lists_the_changes_and_changes_nothing)
{
    cft_write(&t, "app/.env", "K=1\n");
    cft_write(&t, "app/conf/keep.yml", "same\n");
    cft_write(&t, "app/conf/edit.yml", "old\n");
    cft_write(&t, "app/conf/gone.yml", "was here\n");
    cJSON_Delete(cft_snapshot(&t, "p", "[\"app/.env\", \"app/conf\"]"));
    cft_write(&t, "app/.env", "K=2 and longer\n");
    cft_write(&t, "app/conf/edit.yml", "new\n");
    char *gone = cft_path(&t, "app/conf/gone.yml");
    cr_assert_eq(unlink(gone), 0);
    free(gone);
    cft_write(&t, "app/conf/added.yml", "added!\n");
    rbt_run before =
        rbt_sh("cd '%s' && find . -exec stat -c '%%n %%s %%Y %%i %%a' {} + | sort", t.dir);

    int code;
    cJSON *j = cft_rbhost_json(&t, &code, "execute-rollback --id p --dry-run");
    cr_assert_eq(code, 0, "dry run exited %d", code);
    cr_assert(cJSON_IsTrue(cft_get(j, "dry_run", NULL)));
    cJSON *plan = cft_get(cJSON_GetArrayItem(cft_get(j, "targets", NULL), 0), "plan", NULL);
    cJSON *changes = cft_get(plan, "changes", NULL);
    cr_assert_eq(cJSON_GetArraySize(changes), 4, "%s", cJSON_Print(changes));
    struct {
        const char *rel, *action;
        double bytes;
    } want[] = {{"app/.env", "rewrite", 4},
                {"app/conf/edit.yml", "rewrite", 4},
                {"app/conf/gone.yml", "create", 9},
                {"app/conf/added.yml", "remove", 7}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        char *p = cft_path(&t, want[i].rel);
        cJSON *c = cft_find(changes, "item", p);
        cr_assert_not_null(c, "%s is not in the plan", p);
        cr_assert_str_eq(cft_str(c, "action", NULL), want[i].action, "%s", p);
        cr_assert_eq(cJSON_GetNumberValue(cft_get(c, "bytes", NULL)), want[i].bytes, "%s", p);
        free(p);
    }
    cr_assert_eq(cJSON_GetNumberValue(cft_get(plan, "unchanged", NULL)), 1);
    cJSON_Delete(j);

    rbt_run after =
        rbt_sh("cd '%s' && find . -exec stat -c '%%n %%s %%Y %%i %%a' {} + | sort", t.dir);
    cr_assert_str_eq(after.out, before.out, "the dry run changed files");
    rbt_run_free(&before);
    rbt_run_free(&after);
    cft_expect(&t, "app/.env", "K=2 and longer\n");
}

Test(cfg_verify, metadata_never_holds_file_contents)
{
    const char *marker = "MARKER-7f3a9c-do-not-store-in-metadata";
    char *content = rbt_fmt("PASSWORD=%s\n", marker);
    cft_write(&t, "app/.env", content);
    cft_write(&t, "app/conf/db.yml", content);
    cJSON *snap = cft_snapshot(&t, "secret", "[\"app/.env\", \"app/conf\"]");
    char *printed = cJSON_PrintUnformatted(snap);
    cr_assert_null(strstr(printed, marker), "create-snapshot printed a file's content");
    /* The content is there by hash: SHA-256 of "PASSWORD=<marker>\n". */
    char *env = cft_path(&t, "app/.env");
    const char *sha = cft_str(snap, "metadata", "files", env, "sha256", NULL);
    cr_assert_not_null(sha);
    rbt_run h = rbt_sh("sha256sum '%s' | cut -c1-64", env);
    h.out[strcspn(h.out, "\n")] = '\0';
    cr_assert_str_eq(sha, h.out);
    rbt_run_free(&h);
    cJSON_Delete(snap);
    free(printed);
    free(env);

    /* A rollback adds a safety snapshot and a record: none holds it either. */
    cft_write(&t, "app/.env", "PASSWORD=changed\n");
    int code;
    cJSON_Delete(cft_rollback(&t, "secret", &code));
    cr_assert_eq(code, 0);
    rbt_run g = rbt_sh("ls '%s'", t.store);
    cr_assert(strstr(g.out, "secret_metadata.json"), "no metadata file in the store: %s", g.out);
    rbt_run_free(&g);
    g = rbt_sh("grep -rl --include='*.json' -e '%s' '%s'", marker, t.store);
    cr_assert_str_eq(g.out, "", "file contents found in %s", g.out);
    rbt_run_free(&g);
    free(content);
}
