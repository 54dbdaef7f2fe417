/* Snapshot, change, roll back: git's own view of the repository and every
 * file on disk must be exactly what they were before the snapshot. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "git_fixture.h"

TestSuite(git_roundtrip, .init = gf_setup, .fini = gf_teardown, .timeout = 120);

typedef void (*change_fn)(const char *repo);

static void assert_verify(const char *id, int expected_exit)
{
    rbt_run r = rbt_rbhost(gf_store, "--json verify --id %s", id);
    cr_assert_eq(r.code, expected_exit, "verify %s: exit %d\n%s\n%s", id, r.code, r.out, r.err);
    rbt_run_free(&r);
}

/* Captures the view, snapshots with `extra` config, applies `change`,
 * rolls back and compares. */
static void roundtrip(const char *repo, const char *extra, change_fn change)
{
    char *view = gf_view(repo), *files = gf_files(repo);
    char *cfg = gf_config(repo, extra);
    cJSON_Delete(gf_snapshot("before-change", cfg));
    change(repo);
    char *changed = gf_view(repo), *changed_files = gf_files(repo);
    cr_assert(strcmp(changed, view) || strcmp(changed_files, files),
              "the change must be visible, else the test proves nothing");
    assert_verify("before-change", 1);
    rbt_run r = gf_rollback("before-change", NULL);
    gf_assert_completed(&r);
    rbt_run_free(&r);
    char *after = gf_view(repo), *after_files = gf_files(repo);
    cr_assert_str_eq(after, view);
    cr_assert_str_eq(after_files, files);
    assert_verify("before-change", 0);
    free(after);
    free(after_files);
    free(changed);
    free(changed_files);
    free(cfg);
    free(view);
    free(files);
}

static void add_three_commits_and_edit(const char *repo)
{
    gf_commit(repo, "src/main.c", "int main(void) { return 1; }\n", "second");
    gf_commit(repo, "src/new.c", "void f(void) {}\n", "third");
    free(gf_git(repo, "rm -q README"));
    free(gf_git(repo, "commit -q -m fourth"));
    gf_write(repo, "src/main.c", "edited, not committed\n");
    gf_write(repo, "scratch.txt", "untracked, made after the snapshot\n");
}

Test(git_roundtrip, commits_added_after_the_snapshot)
{
    char *repo = gf_repo("repo");
    gf_commit(repo, "src/main.c", "int main(void) { return 0; }\n", "main");
    roundtrip(repo, NULL, add_three_commits_and_edit);
    free(repo);
}

static void commit_everything_then_edit(const char *repo)
{
    free(gf_git(repo, "add -A"));
    free(gf_git(repo, "commit -q -m wip"));
    gf_write(repo, "b", "changed again after the snapshot\n");
    gf_write(repo, "later.txt", "new\n");
    gf_write(repo, "later-dir/x", "new\n");
    gf_sh(repo, "rm c && chmod -x script.sh");
}

Test(git_roundtrip, staged_unstaged_and_untracked_changes)
{
    char *repo = gf_repo("repo");
    gf_write(repo, "a", "a1\n");
    gf_write(repo, "b", "b1\n");
    gf_write(repo, "c", "c1\n");
    gf_write(repo, "d", "d1\n");
    gf_write(repo, "e", "e1\n");
    gf_write(repo, "script.sh", "#!/bin/sh\necho hi\n");
    gf_sh(repo, "ln -s a link");
    free(gf_git(repo, "add -A"));
    free(gf_git(repo, "commit -q -m files"));

    gf_write(repo, "a", "a2 staged\n");
    free(gf_git(repo, "add a"));
    gf_write(repo, "b", "b2 unstaged\n");
    gf_write(repo, "c", "c2 staged\n");
    free(gf_git(repo, "add c"));
    gf_write(repo, "c", "c3 staged then changed again\n");
    free(gf_git(repo, "rm -q d"));
    gf_sh(repo, "rm e && chmod +x script.sh && ln -sfn b link");
    gf_write(repo, "new.txt", "added to the index\n");
    free(gf_git(repo, "add new.txt"));
    gf_write(repo, "notes/todo.txt", "untracked in a directory\n");
    gf_write(repo, "u.txt", "untracked\n");

    roundtrip(repo, NULL, commit_everything_then_edit);
    free(repo);
}

static void touch_ignored_files(const char *repo)
{
    gf_write(repo, "app.log", "new log\n");
    gf_write(repo, "build/out.o", "new object\n");
    gf_write(repo, "README", "tracked change\n");
}

Test(git_roundtrip, ignored_files_are_left_alone_by_default)
{
    char *repo = gf_repo("repo");
    gf_commit(repo, ".gitignore", "*.log\nbuild/\n", "ignore");
    gf_write(repo, "app.log", "old log\n");
    gf_write(repo, "build/out.o", "old object\n");
    char *view = gf_view(repo);
    char *cfg = gf_config(repo, NULL);
    cJSON_Delete(gf_snapshot("s", cfg));
    touch_ignored_files(repo);
    rbt_run r = gf_rollback("s", NULL);
    gf_assert_completed(&r);
    rbt_run_free(&r);
    char *after = gf_view(repo);
    cr_assert_str_eq(after, view);
    char *log = rbt_fmt("%s/app.log", repo), *obj = rbt_fmt("%s/build/out.o", repo);
    char *log_now = rbt_slurp(log), *obj_now = rbt_slurp(obj);
    cr_assert_str_eq(log_now, "new log\n", "ignored files are not part of the default snapshot");
    cr_assert_str_eq(obj_now, "new object\n");
    free(log_now);
    free(obj_now);
    free(log);
    free(obj);
    free(after);
    free(cfg);
    free(view);
    free(repo);
}

static void touch_and_add_ignored_files(const char *repo)
{
    touch_ignored_files(repo);
    gf_write(repo, "build/extra.o", "created after the snapshot\n");
    gf_write(repo, "debug.log", "created after the snapshot\n");
}

Test(git_roundtrip, ignored_files_come_back_with_include_ignored)
{
    char *repo = gf_repo("repo");
    gf_commit(repo, ".gitignore", "*.log\nbuild/\n", "ignore");
    gf_write(repo, "app.log", "old log\n");
    gf_write(repo, "build/out.o", "old object\n");
    roundtrip(repo, "\"include_ignored\":true", touch_and_add_ignored_files);
    free(repo);
}

static void back_to_main_and_commit(const char *repo)
{
    gf_write(repo, "README", "discarded\n");
    free(gf_git(repo, "checkout -q -f main"));
    gf_commit(repo, "more", "more\n", "on main after the snapshot");
}

Test(git_roundtrip, detached_head)
{
    char *repo = gf_repo("repo");
    gf_commit(repo, "f", "1\n", "one");
    gf_commit(repo, "f", "2\n", "two");
    free(gf_git(repo, "checkout -q --detach HEAD~1"));
    gf_write(repo, "f", "edited on a detached HEAD\n");
    roundtrip(repo, NULL, back_to_main_and_commit);
    free(repo);
}

static void move_branch_and_switch(const char *repo)
{
    free(gf_git(repo, "reset -q --hard HEAD~2"));
    gf_commit(repo, "f", "rewritten history\n", "rewrite 1");
    gf_commit(repo, "g", "rewritten history\n", "rewrite 2");
    free(gf_git(repo, "checkout -q -b feature"));
    gf_commit(repo, "h", "feature work\n", "feature");
}

Test(git_roundtrip, branch_moved_and_commits_added)
{
    char *repo = gf_repo("repo");
    gf_commit(repo, "f", "1\n", "one");
    gf_commit(repo, "f", "2\n", "two");
    gf_commit(repo, "f", "3\n", "three");
    roundtrip(repo, NULL, move_branch_and_switch);
    /* The work done after the snapshot stays reachable: the safety
     * snapshot's refs hold it. */
    char *feature = gf_git(repo, "rev-parse feature");
    char *kept = gf_git(repo, "for-each-ref --format='%%(objectname) %%(refname)' refs/rbhost/");
    cr_assert(strstr(kept, strtok(feature, "\n")), "feature tip %s not kept in %s", feature, kept);
    free(kept);
    free(feature);
    free(repo);
}

Test(git_roundtrip, branch_option_records_a_branch_not_checked_out)
{
    char *repo = gf_repo("repo");
    gf_commit(repo, "f", "main\n", "main");
    char *main_tip = gf_git(repo, "rev-parse main");
    free(gf_git(repo, "checkout -q -b feature"));
    gf_commit(repo, "f", "feature\n", "feature");
    gf_write(repo, "f", "uncommitted on feature\n");
    char *cfg = gf_config(repo, "\"branch\":\"main\"");
    cJSON *snap = gf_snapshot("s", cfg);
    cJSON *meta = cJSON_GetObjectItem(snap, "metadata");
    cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(meta, "branch")), "main");
    char *tip = strtok(main_tip, "\n");
    cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(meta, "commit_hash")), tip);
    /* The live feature edits are kept in the snapshot's refs. */
    char *saved = gf_git(repo, "show refs/rbhost/s/worktree:f");
    cr_assert_str_eq(saved, "uncommitted on feature\n");

    free(gf_git(repo, "checkout -q -f main"));
    gf_commit(repo, "f", "later\n", "later on main");
    rbt_run r = gf_rollback("s", NULL);
    gf_assert_completed(&r);
    rbt_run_free(&r);
    char *head = gf_git(repo, "rev-parse HEAD"), *sym = gf_git(repo, "symbolic-ref HEAD");
    cr_assert_str_eq(strtok(head, "\n"), tip);
    cr_assert_str_eq(sym, "refs/heads/main\n");
    char *status = gf_git(repo, "status --porcelain=v2 --untracked-files=all");
    cr_assert_str_eq(status, "", "main is checked out clean: %s", status);
    free(status);
    free(sym);
    free(head);
    free(saved);
    cJSON_Delete(snap);
    free(cfg);
    free(main_tip);
    free(repo);
}

static void move_submodule(const char *repo)
{
    char *sub = rbt_fmt("%s/sub", repo);
    free(gf_git(sub, "checkout -q main"));
    gf_commit(sub, "lib.c", "v3\n", "lib v3");
    free(gf_git(repo, "add sub"));
    free(gf_git(repo, "commit -q -m 'submodule moved'"));
    free(sub);
}

Test(git_roundtrip, submodule_back_at_its_recorded_commit)
{
    char *lib = gf_repo("lib");
    gf_commit(lib, "lib.c", "v1\n", "lib v1");
    gf_commit(lib, "lib.c", "v2\n", "lib v2");
    char *repo = gf_repo("repo");
    free(gf_git(repo, "-c protocol.file.allow=always submodule --quiet add '%s' sub", lib));
    free(gf_git(repo, "commit -q -m 'add submodule'"));
    char *sub = rbt_fmt("%s/sub", repo);
    free(gf_git(sub, "checkout -q --detach HEAD~1"));
    char *sub_head = gf_git(sub, "rev-parse HEAD");
    char *substatus = gf_git(repo, "submodule status");
    roundtrip(repo, NULL, move_submodule);
    char *sub_after = gf_git(sub, "rev-parse HEAD");
    char *substatus_after = gf_git(repo, "submodule status");
    cr_assert_str_eq(sub_after, sub_head);
    cr_assert_str_eq(substatus_after, substatus);
    free(substatus_after);
    free(sub_after);
    free(substatus);
    free(sub_head);
    free(sub);
    free(repo);
    free(lib);
}

static void edit_unicode_paths(const char *repo)
{
    free(gf_git(repo, "add -A"));
    free(gf_git(repo, "commit -q -m 'commit them'"));
    gf_write(repo, "dir with space/ünïcødé file.txt", "changed later\n");
    gf_write(repo, "nöw später.txt", "untracked, made later\n");
}

Test(git_roundtrip, spaces_and_non_ascii_in_paths)
{
    char *repo = gf_repo("repo with space ü");
    gf_commit(repo, "dir with space/ünïcødé file.txt", "one\n", "unicode");
    gf_commit(repo, "日本語.txt", "two\n", "cjk");
    gf_write(repo, "dir with space/ünïcødé file.txt", "staged\n");
    free(gf_git(repo, "add -A"));
    gf_write(repo, "日本語.txt", "unstaged\n");
    gf_write(repo, "névé/ütf 8.txt", "untracked\n");
    roundtrip(repo, NULL, edit_unicode_paths);
    free(repo);
}

static void directory_back_to_file(const char *repo)
{
    gf_sh(repo, "rm -rf a");
    free(gf_git(repo, "checkout -- a"));
    gf_commit(repo, "other", "x\n", "other");
}

Test(git_roundtrip, file_turned_into_a_directory)
{
    char *repo = gf_repo("repo");
    gf_commit(repo, "a", "a file\n", "a");
    gf_sh(repo, "rm a && mkdir a && echo inside > a/x");
    roundtrip(repo, NULL, directory_back_to_file);
    free(repo);
}

static void directory_replaced_by_file(const char *repo)
{
    free(gf_git(repo, "rm -q -r d"));
    gf_write(repo, "d", "now a file\n");
    free(gf_git(repo, "add d"));
    free(gf_git(repo, "commit -q -m 'd is a file'"));
}

Test(git_roundtrip, committed_directory_turned_into_a_file)
{
    char *repo = gf_repo("repo");
    gf_write(repo, "d/one", "1\n");
    gf_write(repo, "d/two", "2\n");
    free(gf_git(repo, "add -A"));
    free(gf_git(repo, "commit -q -m d"));
    roundtrip(repo, NULL, directory_replaced_by_file);
    free(repo);
}

Test(git_roundtrip, untracked_files_left_alone_without_include_untracked)
{
    char *repo = gf_repo("repo");
    gf_write(repo, "notes.txt", "untracked at snapshot time\n");
    char *cfg = gf_config(repo, "\"include_untracked\":false");
    cJSON_Delete(gf_snapshot("s", cfg));
    gf_write(repo, "notes.txt", "edited later\n");
    gf_write(repo, "later.txt", "created later\n");
    gf_commit(repo, "README", "changed\n", "later");
    rbt_run r = gf_rollback("s", NULL);
    gf_assert_completed(&r);
    rbt_run_free(&r);
    char *readme = rbt_fmt("%s/README", repo), *notes = rbt_fmt("%s/notes.txt", repo),
         *later = rbt_fmt("%s/later.txt", repo);
    char *a = rbt_slurp(readme), *b = rbt_slurp(notes), *c = rbt_slurp(later);
    cr_assert_str_eq(a, "first\n", "tracked files are restored");
    cr_assert_str_eq(b, "edited later\n", "untracked files are not part of this snapshot");
    cr_assert_str_eq(c, "created later\n");
    free(a);
    free(b);
    free(c);
    free(readme);
    free(notes);
    free(later);
    free(cfg);
    free(repo);
}

Test(git_roundtrip, nested_repository_is_neither_saved_nor_removed)
{
    char *repo = gf_repo("repo");
    char *cfg = gf_config(repo, NULL);
    cJSON_Delete(gf_snapshot("s", cfg));
    gf_sh(repo, "git init -q -b main nested && echo keep > nested/file");
    gf_commit(repo, "README", "changed\n", "later");
    rbt_run r = gf_rollback("s", NULL);
    gf_assert_completed(&r);
    rbt_run_free(&r);
    char *kept = rbt_fmt("%s/nested/file", repo);
    char *content = rbt_slurp(kept);
    cr_assert_str_eq(content, "keep\n", "a nested repository is never deleted");
    free(content);
    free(kept);
    free(cfg);
    free(repo);
}

static void directory_replaced_by_symlink(const char *repo)
{
    gf_sh(repo, "rm -rf d && ln -s ../elsewhere d");
}

Test(git_roundtrip, directory_replaced_by_a_symlink)
{
    char *repo = gf_repo("repo");
    gf_commit(repo, "d/f", "tracked\n", "d");
    gf_write(gf_root, "elsewhere/outside.txt", "not part of the checkout\n");
    roundtrip(repo, NULL, directory_replaced_by_symlink);
    char *outside = rbt_fmt("%s/elsewhere/outside.txt", gf_root);
    char *content = rbt_slurp(outside);
    cr_assert_str_eq(content, "not part of the checkout\n",
                     "what the link pointed to is untouched");
    free(content);
    free(outside);
    free(repo);
}
