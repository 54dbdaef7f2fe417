#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "git_backend.h"

int rb_git_refs_name(char *buf, size_t size, const char *snapshot_id, const char *name)
{
    int n = snprintf(buf, size, "refs/rbhost/%s/%s", snapshot_id, name);
    int valid = 0;
    if (n < 0 || (size_t)n >= size || git_reference_name_is_valid(&valid, buf) < 0 || !valid)
        return rb_git_host->error_set(RB_EINVAL, RB_ERRCLASS_GIT,
                                      "snapshot id %s cannot name a git ref (refs/rbhost/%s/): "
                                      "choose an id without \"..\" and not ending in \".lock\"",
                                      snapshot_id, snapshot_id);
    return 0;
}

int rb_git_refs_set(git_repository *repo, const char *snapshot_id, const char *name,
                    const git_oid *id)
{
    char ref[1024], msg[1024];
    int rc = rb_git_refs_name(ref, sizeof ref, snapshot_id, name);
    if (rc < 0)
        return rc;
    snprintf(msg, sizeof msg, "rbhost: snapshot %s", snapshot_id);
    git_reference *out = NULL;
    int err = git_reference_create(&out, repo, ref, id, 1, msg);
    git_reference_free(out);
    if (err < 0)
        return rb_git_fail(rb_git_code(err), "cannot create %s in %s", ref,
                           git_repository_workdir(repo));
    return 0;
}

int rb_git_refs_remove(git_repository *repo, const char *snapshot_id)
{
    char glob[1024];
    /* A glob is not a valid ref name: check the id with a real one. */
    int rc = rb_git_refs_name(glob, sizeof glob, snapshot_id, "head");
    if (rc < 0)
        return rc;
    snprintf(glob, sizeof glob, "refs/rbhost/%s/*", snapshot_id);
    git_reference_iterator *it = NULL;
    int err = git_reference_iterator_glob_new(&it, repo, glob);
    git_reference *ref = NULL;
    while (!err && !(err = git_reference_next(&ref, it))) {
        err = git_reference_delete(ref);
        git_reference_free(ref);
    }
    git_reference_iterator_free(it);
    if (err < 0 && err != GIT_ITEROVER)
        return rb_git_fail(rb_git_code(err), "cannot remove %s in %s", glob,
                           git_repository_workdir(repo));
    /* libgit2 leaves the emptied directories; they would only be clutter
     * (rmdir fails harmlessly while anything is left in them). */
    char dir[4096];
    snprintf(dir, sizeof dir, "%srefs/rbhost/%s", git_repository_commondir(repo), snapshot_id);
    rmdir(dir);
    snprintf(dir, sizeof dir, "%srefs/rbhost", git_repository_commondir(repo));
    rmdir(dir);
    return 0;
}
