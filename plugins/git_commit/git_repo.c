#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "git_backend.h"

int rb_git_repo_open(const char *path, git_repository **out)
{
    const rb_host_api *h = rb_git_host;
    struct stat st;
    if (stat(path, &st) < 0)
        return h->error_set(errno == ENOENT ? RB_ENOTFOUND : RB_EIO, RB_ERRCLASS_GIT,
                            "repository path %s: %s", path, strerror(errno));
    /* No search upwards: a repo_path inside some other checkout must not
     * silently snapshot (and later reset) that other repository. */
    int err = git_repository_open_ext(out, path, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL);
    if (err == GIT_ENOTFOUND)
        return h->error_set(RB_ENOTFOUND, RB_ERRCLASS_GIT,
                            "%s is not a git repository (repo_path must be the top of a "
                            "working tree, where .git is)",
                            path);
    if (err < 0)
        return rb_git_fail(rb_git_code(err), "cannot open the git repository at %s", path);
    if (git_repository_is_bare(*out)) {
        git_repository_free(*out);
        *out = NULL;
        return h->error_set(RB_EUNSUPPORTED, RB_ERRCLASS_GIT,
                            "%s is a bare repository: it has no working tree to snapshot or "
                            "restore",
                            path);
    }
    return 0;
}

static pthread_mutex_t kept_mu = PTHREAD_MUTEX_INITIALIZER;
static char *kept_path;
static git_repository *kept_repo;

void rb_git_repo_keep(const char *path, git_repository *repo)
{
    char *copy = strdup(path);
    pthread_mutex_lock(&kept_mu);
    git_repository *old = kept_repo;
    free(kept_path);
    kept_path = copy;
    kept_repo = copy ? repo : NULL;
    pthread_mutex_unlock(&kept_mu);
    git_repository_free(old);
    if (!copy)
        git_repository_free(repo);
}

int rb_git_repo_reuse(const char *path, git_repository **out)
{
    pthread_mutex_lock(&kept_mu);
    git_repository *repo = kept_path && !strcmp(kept_path, path) ? kept_repo : NULL;
    if (repo) {
        kept_repo = NULL;
        free(kept_path);
        kept_path = NULL;
    }
    pthread_mutex_unlock(&kept_mu);
    if (!repo)
        return rb_git_repo_open(path, out);
    *out = repo;
    return 0;
}

void rb_git_repo_drop_kept(void)
{
    pthread_mutex_lock(&kept_mu);
    git_repository *old = kept_repo;
    kept_repo = NULL;
    free(kept_path);
    kept_path = NULL;
    pthread_mutex_unlock(&kept_mu);
    git_repository_free(old);
}

int rb_git_repo_check_lock(git_repository *repo, const char *path)
{
    char lock[4096];
    snprintf(lock, sizeof lock, "%sindex.lock", git_repository_path(repo));
    struct stat st;
    if (lstat(lock, &st) == 0)
        return rb_git_host->error_set(RB_ELOCKED, RB_ERRCLASS_GIT,
                                      "the index of %s is locked: %s exists (another git "
                                      "process is running; if none is, remove that file)",
                                      path, lock);
    return 0;
}

const char *rb_git_repo_state_name(int state)
{
    switch (state) {
    case GIT_REPOSITORY_STATE_MERGE:
        return "merge";
    case GIT_REPOSITORY_STATE_REVERT:
    case GIT_REPOSITORY_STATE_REVERT_SEQUENCE:
        return "revert";
    case GIT_REPOSITORY_STATE_CHERRYPICK:
    case GIT_REPOSITORY_STATE_CHERRYPICK_SEQUENCE:
        return "cherry-pick";
    case GIT_REPOSITORY_STATE_BISECT:
        return "bisect";
    case GIT_REPOSITORY_STATE_REBASE:
    case GIT_REPOSITORY_STATE_REBASE_INTERACTIVE:
    case GIT_REPOSITORY_STATE_REBASE_MERGE:
    case GIT_REPOSITORY_STATE_APPLY_MAILBOX_OR_REBASE:
        return "rebase";
    case GIT_REPOSITORY_STATE_APPLY_MAILBOX:
        return "am";
    default:
        return "git operation";
    }
}

int rb_git_repo_check_idle(git_repository *repo, const char *path, unsigned int op_flags)
{
    int state = git_repository_state(repo);
    if (state == GIT_REPOSITORY_STATE_NONE)
        return 0;
    const char *name = rb_git_repo_state_name(state);
    if (op_flags & RB_OP_FORCE) {
        rb_git_host->log(RB_LOG_WARN, "a %s is in progress in %s; --force: it is abandoned", name,
                         path);
        return 0;
    }
    char hint[64];
    if (state == GIT_REPOSITORY_STATE_BISECT)
        snprintf(hint, sizeof hint, "git bisect reset");
    else
        snprintf(hint, sizeof hint, "git %s --continue or --abort", name);
    return rb_git_host->error_set(RB_ECONFLICT, RB_ERRCLASS_GIT,
                                  "refusing to restore %s: a %s is in progress; nothing was "
                                  "changed. Finish it first (%s), or pass --force to abandon it",
                                  path, name, hint);
}
