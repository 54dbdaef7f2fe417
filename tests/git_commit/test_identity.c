/* A rollback refuses a repository that is not the one snapshotted (another
 * project at the same path), before anything changes; --force goes on; a
 * fresh clone of the same project is the same repository. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "git_fixture.h"

TestSuite(git_identity, .init = gf_setup, .fini = gf_teardown, .timeout = 120);

static char *snapshot_ids(void)
{
    rbt_run r = rbt_rbhost(gf_store, "--json list-snapshots");
    cr_assert_eq(r.code, 0, "list-snapshots: %s", r.err);
    char *ids = strdup("");
    cJSON *doc = rbt_json(r.out), *s;
    cJSON *list = cJSON_IsArray(doc) ? doc : cJSON_GetObjectItemCaseSensitive(doc, "snapshots");
    cJSON_ArrayForEach(s, list)
    {
        char *more =
            rbt_fmt("%s%s\n", ids, cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(s, "id")));
        free(ids);
        ids = more;
    }
    cJSON_Delete(doc);
    rbt_run_free(&r);
    return ids;
}

/* Moves the snapshotted repository away and puts another project, with a
 * history of its own, at its path. */
static char *replace_with_other_project(const char *repo)
{
    char *old = rbt_fmt("%s/old", gf_root);
    gf_sh(gf_root, "mv '%s' '%s' && git init -q -b main '%s'", repo, old, repo);
    gf_commit(repo, "OTHER", "another project\n", "another project");
    return old;
}

Test(git_identity, another_repository_refused_nothing_changed)
{
    char *repo = gf_repo("repo");
    gf_commit(repo, "f", "one\n", "one");
    char *cfg = gf_config(repo, NULL);
    cJSON_Delete(gf_snapshot("s", cfg));
    char *old = replace_with_other_project(repo);
    gf_write(repo, "work", "uncommitted\n");
    char *view = gf_view(repo), *files = gf_files(repo), *ids = snapshot_ids();

    rbt_run r = gf_rollback("s", NULL);
    cr_assert_eq(r.code, 6, "refused with exit 6:\n%s\n%s", r.out, r.err);
    cr_assert(strstr(r.err, repo), "the message names the repository:\n%s", r.err);
    cr_assert(strstr(r.err, "another repository"), "and says what differs:\n%s", r.err);
    cr_assert(strstr(r.err, "nothing was changed"), "%s", r.err);
    cJSON *doc = rbt_json(r.out);
    cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(doc, "error_code")),
                     "conflict", "%s", r.out);
    cJSON_Delete(doc);
    rbt_run_free(&r);

    char *view2 = gf_view(repo), *files2 = gf_files(repo), *ids2 = snapshot_ids();
    cr_assert_str_eq(view2, view, "HEAD, index and status are untouched");
    cr_assert_str_eq(files2, files, "the files are untouched");
    cr_assert_str_eq(ids2, ids, "no safety snapshot was taken");
    r = rbt_rbhost(gf_store, "--json execute-rollback --resume");
    cr_assert_neq(r.code, 0, "no rollback is pending:\n%s", r.out);
    rbt_run_free(&r);
    free(view2);
    free(files2);
    free(ids2);
    free(view);
    free(files);
    free(ids);
    free(old);
    free(cfg);
    free(repo);
}

Test(git_identity, force_goes_past_the_refusal)
{
    char *repo = gf_repo("repo");
    char *cfg = gf_config(repo, NULL);
    cJSON_Delete(gf_snapshot("s", cfg));
    char *old = replace_with_other_project(repo);

    /* The other project does not have the snapshot's commit: with --force
     * the rollback takes its safety snapshot and the restore is what
     * fails, saying why. */
    rbt_run r = gf_rollback("s", "--force");
    cr_assert_neq(r.code, 0, "%s\n%s", r.out, r.err);
    cr_assert(!strstr(r.err, "refusing"), "--force skips the refusal:\n%s", r.err);
    cr_assert(strstr(r.err, "no longer exists"), "the restore ran:\n%s", r.err);
    cr_assert(strstr(r.err, "going on because of --force"), "%s", r.err);
    rbt_run_free(&r);
    char *ids = snapshot_ids();
    cr_assert(strstr(ids, "pre-rollback-"), "a safety snapshot was taken:\n%s", ids);
    free(ids);
    free(old);
    free(cfg);
    free(repo);
}

Test(git_identity, fresh_clone_of_same_project_allowed)
{
    char *repo = gf_repo("repo");
    gf_commit(repo, "f", "one\n", "one");
    char *head = gf_git(repo, "rev-parse HEAD");
    char *cfg = gf_config(repo, NULL);
    cJSON_Delete(gf_snapshot("s", cfg));
    gf_commit(repo, "f", "two\n", "two");
    char *old = rbt_fmt("%s/old", gf_root);
    gf_sh(gf_root, "mv '%s' '%s' && git clone -q '%s' '%s'", repo, old, old, repo);

    rbt_run r = gf_rollback("s", NULL);
    gf_assert_completed(&r);
    rbt_run_free(&r);
    char *now = gf_git(repo, "rev-parse HEAD");
    cr_assert_str_eq(now, head, "the clone is back at the snapshot's commit");
    char *f = rbt_fmt("%s/f", repo), *content = rbt_slurp(f);
    cr_assert_str_eq(content, "one\n");
    free(content);
    free(f);
    free(now);
    free(old);
    free(cfg);
    free(head);
    free(repo);
}

Test(git_identity, shallow_clone_of_same_project_allowed)
{
    char *repo = gf_repo("repo");
    gf_commit(repo, "f", "one\n", "one");
    gf_commit(repo, "f", "two\n", "two");
    char *head = gf_git(repo, "rev-parse HEAD");
    char *cfg = gf_config(repo, NULL);
    cJSON_Delete(gf_snapshot("s", cfg));
    char *old = rbt_fmt("%s/old", gf_root);
    gf_sh(gf_root, "mv '%s' '%s' && git clone -q --depth 1 'file://%s' '%s'", repo, old, old, repo);
    gf_write(repo, "f", "changed\n");

    rbt_run r = gf_rollback("s", NULL);
    gf_assert_completed(&r);
    rbt_run_free(&r);
    char *now = gf_git(repo, "rev-parse HEAD");
    cr_assert_str_eq(now, head);
    char *f = rbt_fmt("%s/f", repo), *content = rbt_slurp(f);
    cr_assert_str_eq(content, "two\n", "a clone without the root commit is still the project");
    free(content);
    free(f);
    free(now);
    free(old);
    free(cfg);
    free(head);
    free(repo);
}
