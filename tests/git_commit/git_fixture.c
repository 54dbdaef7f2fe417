#include "git_fixture.h"

#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *gf_root;
char *gf_store;

void gf_setup(void)
{
    gf_root = rbt_tmpdir();
    gf_store = rbt_fmt("%s/store", gf_root);
    char *home = rbt_fmt("%s/home", gf_root);
    rbt_run r = rbt_sh("mkdir -p '%s'", home);
    cr_assert_eq(r.code, 0);
    rbt_run_free(&r);
    /* A fresh machine has no identity or global config for git. */
    setenv("HOME", home, 1);
    setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
    setenv("GIT_AUTHOR_NAME", "Rb Test", 1);
    setenv("GIT_AUTHOR_EMAIL", "rbtest@example.org", 1);
    setenv("GIT_COMMITTER_NAME", "Rb Test", 1);
    setenv("GIT_COMMITTER_EMAIL", "rbtest@example.org", 1);
    unsetenv("GIT_DIR");
    unsetenv("GIT_WORK_TREE");
    unsetenv("GIT_INDEX_FILE");
    free(home);
}

void gf_teardown(void)
{
    rbt_rmtree(gf_root);
    free(gf_root);
    free(gf_store);
}

static char *vfmt(const char *fmt, va_list ap)
{
    char *s = NULL;
    cr_assert(vasprintf(&s, fmt, ap) >= 0);
    return s;
}

char *gf_git(const char *repo, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *args = vfmt(fmt, ap);
    va_end(ap);
    rbt_run r = rbt_sh("git -C '%s' %s", repo, args);
    cr_assert_eq(r.code, 0, "git %s in %s failed (%d): %s%s", args, repo, r.code, r.out, r.err);
    free(args);
    free(r.err);
    return r.out;
}

void gf_sh(const char *repo, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *cmd = vfmt(fmt, ap);
    va_end(ap);
    rbt_run r = rbt_sh("cd '%s' && %s", repo, cmd);
    cr_assert_eq(r.code, 0, "%s in %s failed (%d): %s%s", cmd, repo, r.code, r.out, r.err);
    free(cmd);
    rbt_run_free(&r);
}

char *gf_repo(const char *name)
{
    char *repo = rbt_fmt("%s/%s", gf_root, name);
    rbt_run r = rbt_sh("git init -q -b main '%s'", repo);
    cr_assert_eq(r.code, 0, "git init: %s", r.err);
    rbt_run_free(&r);
    gf_commit(repo, "README", "first\n", "first");
    return repo;
}

void gf_write(const char *repo, const char *path, const char *content)
{
    char *full = rbt_fmt("%s/%s", repo, path);
    rbt_run r = rbt_sh("mkdir -p \"$(dirname '%s')\"", full);
    cr_assert_eq(r.code, 0);
    rbt_run_free(&r);
    rbt_spit(full, content);
    free(full);
}

void gf_commit(const char *repo, const char *path, const char *content, const char *message)
{
    gf_write(repo, path, content);
    free(gf_git(repo, "add -- '%s'", path));
    free(gf_git(repo, "commit -q -m '%s'", message));
}

static void append_cmd(char **view, const char *repo, const char *label, const char *cmd)
{
    rbt_run r = rbt_sh("git -C '%s' %s", repo, cmd);
    char *next = rbt_fmt("%s== %s (exit %d)\n%s", *view, label, r.code, r.out);
    free(*view);
    *view = next;
    rbt_run_free(&r);
}

char *gf_view(const char *repo)
{
    char *view = rbt_fmt("%s", "");
    append_cmd(&view, repo, "HEAD", "rev-parse HEAD");
    append_cmd(&view, repo, "symbolic-ref", "symbolic-ref -q HEAD");
    append_cmd(&view, repo, "status", "status --porcelain=v2 --untracked-files=all --ignored");
    append_cmd(&view, repo, "diff", "diff");
    append_cmd(&view, repo, "diff --cached", "diff --cached");
    return view;
}

char *gf_files(const char *repo)
{
    rbt_run r = rbt_sh("cd '%s' && find . -path ./.git -prune -o \\( -type f -o -type l \\) "
                       "-print0 | sort -z | xargs -0 -r stat -c '%%a %%s %%N' && "
                       "find . -path ./.git -prune -o -type f -print0 | sort -z | "
                       "xargs -0 -r sha1sum",
                       repo);
    cr_assert_eq(r.code, 0, "listing %s: %s", repo, r.err);
    free(r.err);
    return r.out;
}

char *gf_config(const char *repo, const char *extra)
{
    return rbt_fmt("{\"repo_path\":\"%s\"%s%s}", repo, extra ? "," : "", extra ? extra : "");
}

cJSON *gf_snapshot(const char *id, const char *config)
{
    rbt_run r = rbt_rbhost(
        gf_store, "--json create-snapshot --id %s --type git_commit --config '%s'", id, config);
    cr_assert_eq(r.code, 0, "create-snapshot %s: exit %d\n%s\n%s", id, r.code, r.out, r.err);
    cJSON *j = rbt_json(r.out);
    cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(j, "status")), "success", "%s",
                     r.out);
    rbt_run_free(&r);
    return j;
}

rbt_run gf_rollback(const char *id, const char *extra)
{
    return rbt_rbhost(gf_store, "--json execute-rollback --id %s --yes %s", id, extra ? extra : "");
}

void gf_assert_completed(const rbt_run *r)
{
    cr_assert_eq(r->code, 0, "execute-rollback: exit %d\n%s\n%s", r->code, r->out, r->err);
    cJSON *j = rbt_json(r->out);
    cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(j, "status")), "completed", "%s",
                     r->out);
    cJSON_Delete(j);
}
