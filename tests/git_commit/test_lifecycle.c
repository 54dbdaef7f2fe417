/* What the snapshot leaves in the repository, verify, dry-run and delete. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "git_fixture.h"

TestSuite(git_lifecycle, .init = gf_setup, .fini = gf_teardown, .timeout = 120);

static char *make_dirty_repo(void)
{
    char *repo = gf_repo("repo");
    gf_commit(repo, "tracked.txt", "v1\n", "tracked");
    gf_write(repo, "tracked.txt", "staged\n");
    free(gf_git(repo, "add tracked.txt"));
    gf_write(repo, "tracked.txt", "unstaged\n");
    gf_write(repo, "untracked.txt", "untracked\n");
    return repo;
}

Test(git_lifecycle, dirty_snapshot_keeps_refs_and_delete_removes_them)
{
    char *repo = make_dirty_repo();
    char *head = gf_git(repo, "rev-parse HEAD");
    char *cfg = gf_config(repo, NULL);
    cJSON *snap = gf_snapshot("keep", cfg);
    cJSON *meta = cJSON_GetObjectItem(snap, "metadata");
    cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(meta, "method")), "git_commit");
    cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(meta, "commit_hash")),
                     strtok(head, "\n"));
    cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(meta, "branch")), "main");
    cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(meta, "dirty")));

    char *refs = gf_git(repo, "for-each-ref --format='%%(refname)' refs/rbhost/keep/");
    cr_assert_str_eq(refs, "refs/rbhost/keep/head\nrefs/rbhost/keep/index\n"
                           "refs/rbhost/keep/untracked\nrefs/rbhost/keep/worktree\n");
    /* The saved commits hold exactly what git shows as staged, unstaged
     * and untracked. */
    char *idx = gf_git(repo, "show refs/rbhost/keep/index:tracked.txt");
    char *wt = gf_git(repo, "show refs/rbhost/keep/worktree:tracked.txt");
    char *ut = gf_git(repo, "show refs/rbhost/keep/untracked:untracked.txt");
    cr_assert_str_eq(idx, "staged\n");
    cr_assert_str_eq(wt, "unstaged\n");
    cr_assert_str_eq(ut, "untracked\n");
    /* Kept by gc. */
    free(gf_git(repo, "gc -q --prune=now"));
    free(gf_git(repo, "cat-file -e refs/rbhost/keep/worktree"));

    rbt_run r = rbt_rbhost(gf_store, "--json delete-snapshot --id keep");
    cr_assert_eq(r.code, 0, "delete-snapshot: %s %s", r.out, r.err);
    rbt_run_free(&r);
    char *left = gf_git(repo, "for-each-ref refs/rbhost/");
    cr_assert_str_eq(left, "");
    free(left);
    free(idx);
    free(wt);
    free(ut);
    free(refs);
    cJSON_Delete(snap);
    free(cfg);
    free(head);
    free(repo);
}

Test(git_lifecycle, clean_snapshot_records_only_head)
{
    char *repo = gf_repo("repo");
    char *cfg = gf_config(repo, NULL);
    cJSON *snap = gf_snapshot("clean", cfg);
    cJSON *meta = cJSON_GetObjectItem(snap, "metadata");
    cr_assert(cJSON_IsFalse(cJSON_GetObjectItem(meta, "dirty")));
    cr_assert(cJSON_IsFalse(cJSON_GetObjectItem(meta, "detached")));
    char *refs = gf_git(repo, "for-each-ref --format='%%(refname)' refs/rbhost/");
    cr_assert_str_eq(refs, "refs/rbhost/clean/head\n");
    free(refs);
    cJSON_Delete(snap);
    free(cfg);
    free(repo);
}

Test(git_lifecycle, verify_reports_what_drifted)
{
    char *repo = make_dirty_repo();
    char *cfg = gf_config(repo, NULL);
    cJSON_Delete(gf_snapshot("v", cfg));
    rbt_run r = rbt_rbhost(gf_store, "--json verify --id v");
    cr_assert_eq(r.code, 0, "unchanged: %s %s", r.out, r.err);
    rbt_run_free(&r);

    gf_write(repo, "tracked.txt", "drifted\n");
    r = rbt_rbhost(gf_store, "--json verify --id v");
    cr_assert_eq(r.code, 1, "drift: %s %s", r.out, r.err);
    cr_assert(strstr(r.out, "worktree") && strstr(r.out, "tracked.txt"), "%s", r.out);
    cr_assert_null(strstr(r.out, "\"index\""), "the index did not drift: %s", r.out);
    rbt_run_free(&r);

    gf_write(repo, "tracked.txt", "unstaged\n");
    gf_write(repo, "extra.txt", "new\n");
    r = rbt_rbhost(gf_store, "--json verify --id v");
    cr_assert_eq(r.code, 1, "untracked drift: %s %s", r.out, r.err);
    cr_assert(strstr(r.out, "untracked") && strstr(r.out, "extra.txt"), "%s", r.out);
    rbt_run_free(&r);
    free(cfg);
    free(repo);
}

Test(git_lifecycle, dry_run_plans_without_changing_anything)
{
    char *repo = gf_repo("repo");
    char *from = gf_git(repo, "rev-parse HEAD");
    char *cfg = gf_config(repo, NULL);
    cJSON_Delete(gf_snapshot("p", cfg));
    gf_commit(repo, "added.txt", "new\n", "after");
    char *to = gf_git(repo, "rev-parse HEAD");
    gf_write(repo, "README", "edited\n");
    char *view = gf_view(repo), *files = gf_files(repo);

    rbt_run r = rbt_rbhost(gf_store, "--json execute-rollback --id p --dry-run");
    cr_assert_eq(r.code, 0, "dry-run: %s %s", r.out, r.err);
    cJSON *j = rbt_json(r.out);
    cJSON *plan =
        cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "targets"), 0), "plan");
    cr_assert_not_null(plan, "%s", r.out);
    cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(plan, "commit_from")),
                     strtok(to, "\n"));
    cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(plan, "commit_to")),
                     strtok(from, "\n"));
    cr_assert_eq(cJSON_GetNumberValue(cJSON_GetObjectItem(plan, "files_changed")), 2, "%s", r.out);
    cr_assert(strstr(r.out, "added.txt") && strstr(r.out, "README"), "%s", r.out);
    cJSON_Delete(j);
    rbt_run_free(&r);

    char *after = gf_view(repo), *after_files = gf_files(repo);
    cr_assert_str_eq(after, view);
    cr_assert_str_eq(after_files, files);
    free(after);
    free(after_files);
    free(view);
    free(files);
    free(cfg);
    free(to);
    free(from);
    free(repo);
}

Test(git_lifecycle, seed_git_commit_validation_after_rollback)
{
    char *repo = gf_repo("repo");
    char *head = gf_git(repo, "rev-parse HEAD");
    char *cfg = gf_config(repo, NULL);
    cJSON_Delete(gf_snapshot("v", cfg));
    gf_commit(repo, "later", "later\n", "later");
    char short_id[8];
    snprintf(short_id, sizeof short_id, "%.7s", head);
    char *ok = rbt_fmt("--validation '{\"tests\":[{\"type\":\"git_commit\",\"expected_commit\":"
                       "\"%s\",\"repo_path\":\"%s\"}]}'",
                       short_id, repo);
    rbt_run r = gf_rollback("v", ok);
    gf_assert_completed(&r);
    rbt_run_free(&r);

    gf_commit(repo, "later", "again\n", "again");
    char *wrong = rbt_fmt("--validation '{\"tests\":[{\"type\":\"git_commit\",\"expected_commit\":"
                          "\"0000000\",\"repo_path\":\"%s\"}]}'",
                          repo);
    r = gf_rollback("v", wrong);
    cr_assert_neq(r.code, 0, "a failed validation is no completed rollback: %s", r.out);
    cJSON *j = rbt_json(r.out);
    cr_assert_str_neq(cJSON_GetStringValue(cJSON_GetObjectItem(j, "status")), "completed");
    cJSON_Delete(j);
    rbt_run_free(&r);
    free(wrong);
    free(ok);
    free(cfg);
    free(head);
    free(repo);
}
