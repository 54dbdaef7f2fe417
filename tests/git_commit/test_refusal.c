/* Refusals and errors: each names the repository, and nothing changes. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "git_fixture.h"

TestSuite(git_refusal, .init = gf_setup, .fini = gf_teardown, .timeout = 120);

/* The error message of a failed --json command, whatever its shape. */
static void assert_failed_with(const rbt_run *r, const char *part1, const char *part2)
{
    cr_assert_neq(r->code, 0, "expected a failure:\n%s\n%s", r->out, r->err);
    char *all = rbt_fmt("%s\n%s", r->out, r->err);
    cr_assert(strstr(all, part1), "message lacks \"%s\":\n%s", part1, all);
    cr_assert(!part2 || strstr(all, part2), "message lacks \"%s\":\n%s", part2, all);
    free(all);
}

static rbt_run try_snapshot(const char *id, const char *config)
{
    return rbt_rbhost(gf_store, "--json create-snapshot --id %s --type git_commit --config '%s'",
                      id, config);
}

Test(git_refusal, merge_in_progress_refused_then_forced)
{
    char *repo = gf_repo("repo");
    gf_commit(repo, "f", "base\n", "base");
    char *view = gf_view(repo), *files = gf_files(repo);
    char *cfg = gf_config(repo, NULL);
    cJSON_Delete(gf_snapshot("s", cfg));

    free(gf_git(repo, "checkout -q -b other"));
    gf_commit(repo, "g", "other side\n", "other");
    free(gf_git(repo, "checkout -q main"));
    gf_commit(repo, "h", "main side\n", "main side");
    free(gf_git(repo, "merge -q --no-ff --no-commit other"));
    char *merging = gf_view(repo), *merging_files = gf_files(repo);

    rbt_run r = gf_rollback("s", NULL);
    assert_failed_with(&r, "merge", repo);
    rbt_run_free(&r);
    char *still = gf_view(repo), *still_files = gf_files(repo);
    cr_assert_str_eq(still, merging, "a refused rollback changes nothing");
    cr_assert_str_eq(still_files, merging_files);
    char *merge_head = rbt_fmt("%s/.git/MERGE_HEAD", repo);
    char *mh = rbt_slurp(merge_head);
    cr_assert_not_null(mh, "the merge is still in progress");
    free(mh);

    r = gf_rollback("s", "--force");
    gf_assert_completed(&r);
    rbt_run_free(&r);
    char *after = gf_view(repo), *after_files = gf_files(repo);
    cr_assert_str_eq(after, view);
    cr_assert_str_eq(after_files, files);
    cr_assert_null(rbt_slurp(merge_head), "--force abandons the merge");
    free(after);
    free(after_files);
    free(merge_head);
    free(still);
    free(still_files);
    free(merging);
    free(merging_files);
    free(cfg);
    free(view);
    free(files);
    free(repo);
}

Test(git_refusal, not_a_repository)
{
    char *dir = rbt_fmt("%s/plain", gf_root);
    gf_sh(gf_root, "mkdir plain");
    char *cfg = gf_config(dir, NULL);
    rbt_run r = try_snapshot("s", cfg);
    assert_failed_with(&r, "is not a git repository", dir);
    rbt_run_free(&r);
    free(cfg);
    free(dir);
}

Test(git_refusal, missing_path)
{
    char *dir = rbt_fmt("%s/nowhere", gf_root);
    char *cfg = gf_config(dir, NULL);
    rbt_run r = try_snapshot("s", cfg);
    assert_failed_with(&r, dir, "No such file");
    rbt_run_free(&r);
    free(cfg);
    free(dir);
}

Test(git_refusal, bare_repository)
{
    char *dir = rbt_fmt("%s/bare.git", gf_root);
    gf_sh(gf_root, "git init -q --bare bare.git");
    char *cfg = gf_config(dir, NULL);
    rbt_run r = try_snapshot("s", cfg);
    assert_failed_with(&r, "bare repository", dir);
    rbt_run_free(&r);
    free(cfg);
    free(dir);
}

Test(git_refusal, no_commit_yet)
{
    char *dir = rbt_fmt("%s/empty", gf_root);
    gf_sh(gf_root, "git init -q -b main empty");
    char *cfg = gf_config(dir, NULL);
    rbt_run r = try_snapshot("s", cfg);
    assert_failed_with(&r, "no commit", dir);
    rbt_run_free(&r);
    free(cfg);
    free(dir);
}

Test(git_refusal, unknown_branch)
{
    char *repo = gf_repo("repo");
    char *cfg = gf_config(repo, "\"branch\":\"no-such-branch\"");
    rbt_run r = try_snapshot("s", cfg);
    assert_failed_with(&r, "no branch no-such-branch", repo);
    rbt_run_free(&r);
    free(cfg);
    free(repo);
}

Test(git_refusal, recorded_commit_missing)
{
    char *repo = gf_repo("repo");
    gf_commit(repo, "f", "doomed\n", "doomed");
    char *doomed = gf_git(repo, "rev-parse HEAD");
    char *cfg = gf_config(repo, NULL);
    cJSON_Delete(gf_snapshot("s", cfg));
    /* What a shallow fetch or an aggressive prune leaves behind. */
    free(gf_git(repo, "update-ref -d refs/rbhost/s/head"));
    free(gf_git(repo, "reset -q --hard HEAD~1"));
    free(gf_git(repo, "reflog expire --expire=now --all"));
    free(gf_git(repo, "gc -q --prune=now"));
    char *view = gf_view(repo), *files = gf_files(repo);
    rbt_run r = gf_rollback("s", "--no-safety-snapshot");
    assert_failed_with(&r, "no longer exists", repo);
    cr_assert(strstr(r.out, strtok(doomed, "\n")) || strstr(r.err, doomed), "names the commit");
    rbt_run_free(&r);
    char *after = gf_view(repo), *after_files = gf_files(repo);
    cr_assert_str_eq(after, view);
    cr_assert_str_eq(after_files, files);
    free(after);
    free(after_files);
    free(view);
    free(files);
    free(cfg);
    free(doomed);
    free(repo);
}

Test(git_refusal, locked_index)
{
    char *repo = gf_repo("repo");
    char *cfg = gf_config(repo, NULL);
    cJSON_Delete(gf_snapshot("s", cfg));
    gf_commit(repo, "f", "after\n", "after");
    gf_sh(repo, "touch .git/index.lock");
    char *view = gf_view(repo), *files = gf_files(repo);

    rbt_run r = gf_rollback("s", "--no-safety-snapshot");
    assert_failed_with(&r, "index.lock", repo);
    rbt_run_free(&r);
    r = try_snapshot("s2", cfg);
    assert_failed_with(&r, "locked", repo);
    rbt_run_free(&r);
    char *after = gf_view(repo), *after_files = gf_files(repo);
    cr_assert_str_eq(after, view);
    cr_assert_str_eq(after_files, files);

    gf_sh(repo, "rm .git/index.lock");
    r = gf_rollback("s", NULL);
    gf_assert_completed(&r);
    rbt_run_free(&r);
    free(after);
    free(after_files);
    free(view);
    free(files);
    free(cfg);
    free(repo);
}

Test(git_refusal, submodule_with_uncommitted_changes)
{
    char *lib = gf_repo("lib");
    gf_commit(lib, "lib.c", "v1\n", "lib v1");
    gf_commit(lib, "lib.c", "v2\n", "lib v2");
    char *repo = gf_repo("repo");
    free(gf_git(repo, "-c protocol.file.allow=always submodule --quiet add '%s' sub", lib));
    free(gf_git(repo, "commit -q -m 'add submodule'"));
    char *sub = rbt_fmt("%s/sub", repo);
    free(gf_git(sub, "checkout -q --detach HEAD~1"));
    char *recorded = gf_git(sub, "rev-parse HEAD");
    char *cfg = gf_config(repo, NULL);
    cJSON_Delete(gf_snapshot("s", cfg));

    free(gf_git(sub, "checkout -q main"));
    gf_write(sub, "lib.c", "work in progress inside the submodule\n");
    char *view = gf_view(repo), *files = gf_files(repo);
    rbt_run r = gf_rollback("s", NULL);
    assert_failed_with(&r, "uncommitted changes", "sub");
    rbt_run_free(&r);
    char *still = gf_view(repo), *still_files = gf_files(repo);
    cr_assert_str_eq(still, view, "a refused rollback changes nothing");
    cr_assert_str_eq(still_files, files);

    r = gf_rollback("s", "--force");
    gf_assert_completed(&r);
    rbt_run_free(&r);
    char *now = gf_git(sub, "rev-parse HEAD");
    cr_assert_str_eq(now, recorded);
    free(now);
    free(still);
    free(still_files);
    free(view);
    free(files);
    free(cfg);
    free(recorded);
    free(sub);
    free(repo);
    free(lib);
}
