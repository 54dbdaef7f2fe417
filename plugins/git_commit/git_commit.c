/* The git_commit backend: records a checkout (HEAD, branch, index, working
 * tree, untracked files, submodule commits) as objects and refs inside the
 * repository itself, and puts it back with one checkout. */
#include <pthread.h>

#include "git_backend.h"

const rb_host_api *rb_git_host;

static const rb_config_key git_keys[] = {
    RB_CONFIG_KEY("repo_path", RB_KEY_STRING, 1, NULL,
                  "the top of the git working tree (where .git is)"),
    RB_CONFIG_KEY("branch", RB_KEY_STRING, 0, NULL,
                  "the branch to record and restore; default: the one checked out"),
    RB_CONFIG_KEY("include_untracked", RB_KEY_BOOL, 0, "true",
                  "save untracked files, and remove those created later on restore"),
    RB_CONFIG_KEY("include_ignored", RB_KEY_BOOL, 0, "false",
                  "also save ignored files, and remove those created later on restore"),
    RB_CONFIG_KEY_END,
};

/* libgit2's initialisation (TLS, threads) takes milliseconds: it runs at
 * the first operation, not when the backend is loaded, so that listing or
 * loading backends stays cheap. */
static pthread_once_t libgit2_once = PTHREAD_ONCE_INIT;
static int libgit2_ready;

static void libgit2_start(void)
{
    libgit2_ready = git_libgit2_init() >= 0;
}

static int git_init(const rb_host_api *host, void **state)
{
    rb_git_host = host;
    *state = NULL;
    return 0;
}

static void git_fini(void *state)
{
    (void)state;
    rb_git_repo_drop_kept();
    if (libgit2_ready)
        git_libgit2_shutdown();
}

#define RB_GIT_LAZY(fn)                                                                            \
    static int lazy_##fn(void *state, rb_op *op)                                                   \
    {                                                                                              \
        pthread_once(&libgit2_once, libgit2_start);                                                \
        if (!libgit2_ready)                                                                        \
            return rb_git_fail(RB_ERROR, "libgit2 failed to initialise");                          \
        return fn(state, op);                                                                      \
    }
RB_GIT_LAZY(rb_git_snapshot)
RB_GIT_LAZY(rb_git_restore)
RB_GIT_LAZY(rb_git_verify)
RB_GIT_LAZY(rb_git_plan)
RB_GIT_LAZY(rb_git_destroy)

static const rollback_plugin git_commit_backend = {
    RB_PLUGIN_HEADER,
    "git_commit",
    "a git checkout: HEAD, branch, index, working tree, untracked files, submodules",
    "1.0.0",
    0,
    git_keys,
    git_init,
    git_fini,
    lazy_rb_git_snapshot,
    lazy_rb_git_restore,
    lazy_rb_git_verify,
    lazy_rb_git_plan,
    NULL,
    lazy_rb_git_destroy,
};

RB_PLUGIN_DEFINE(git_commit_backend)
