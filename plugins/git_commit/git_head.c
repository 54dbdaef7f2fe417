#include "git_head.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static int read_branch_name(git_reference *head, rb_git_head *out)
{
    const char *target = git_reference_symbolic_target(head);
    if (!target)
        return 0;
    if (!strncmp(target, "refs/heads/", 11))
        target += 11;
    out->branch = strdup(target);
    return out->branch ? 0 : GIT_ERROR;
}

int rb_git_head_read(git_repository *repo, rb_git_head *out)
{
    memset(out, 0, sizeof *out);
    git_reference *head = NULL;
    /* HEAD itself, unresolved: it tells the branch even when that branch
     * has no commit yet. */
    int err = git_reference_lookup(&head, repo, "HEAD");
    if (err < 0)
        return err;
    if (git_reference_type(head) == GIT_REFERENCE_DIRECT) {
        git_oid_cpy(&out->commit, git_reference_target(head));
        out->detached = 1;
        git_reference_free(head);
        return 0;
    }
    err = read_branch_name(head, out);
    git_reference *resolved = NULL;
    if (!err)
        err = git_reference_resolve(&resolved, head);
    git_reference_free(head);
    if (err == GIT_ENOTFOUND) {
        out->unborn = 1;
        return 0;
    }
    if (err < 0) {
        rb_git_head_clear(out);
        return err;
    }
    git_oid_cpy(&out->commit, git_reference_target(resolved));
    git_reference_free(resolved);
    return 0;
}

void rb_git_head_clear(rb_git_head *head)
{
    free(head->branch);
    head->branch = NULL;
}

int rb_git_commit_matches(const git_oid *actual, const char *expected)
{
    size_t len = expected ? strlen(expected) : 0;
    if (len < 4 || len > GIT_OID_HEXSZ)
        return -1;
    char hex[GIT_OID_HEXSZ + 1];
    git_oid_tostr(hex, sizeof hex, actual);
    for (size_t i = 0; i < len; i++) {
        if (!isxdigit((unsigned char)expected[i]))
            return -1;
        if (tolower((unsigned char)expected[i]) != hex[i])
            return 0;
    }
    return 1;
}
