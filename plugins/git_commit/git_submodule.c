#include <stdio.h>
#include <string.h>

#include "git_backend.h"
#include "git_head.h"

static int record_one(git_submodule *sm, rb_node *array)
{
    const rb_host_api *h = rb_git_host;
    rb_node *o = h->node_add_object(array, NULL);
    if (!o || !h->node_add_string(o, "name", git_submodule_name(sm)) ||
        !h->node_add_string(o, "path", git_submodule_path(sm)))
        return RB_ENOMEM;
    git_repository *sub = NULL;
    rb_git_head head;
    memset(&head, 0, sizeof head);
    /* Not checked out (never initialised): nothing to record or restore. */
    if (git_submodule_open(&sub, sm) < 0 || rb_git_head_read(sub, &head) < 0 || head.unborn) {
        rb_git_head_clear(&head);
        git_repository_free(sub);
        git_error_clear();
        return h->node_add_null(o, "commit") ? 0 : RB_ENOMEM;
    }
    char hex[GIT_OID_HEXSZ + 1];
    git_oid_tostr(hex, sizeof hex, &head.commit);
    int ok = h->node_add_string(o, "commit", hex) &&
             (head.branch ? h->node_add_string(o, "branch", head.branch) != NULL
                          : h->node_add_null(o, "branch") != NULL);
    rb_git_head_clear(&head);
    git_repository_free(sub);
    return ok ? 0 : RB_ENOMEM;
}

/* The submodules are the index's gitlink entries. (git_submodule_foreach
 * of libgit2 1.5 leaks its regular-expression match data.) */
int rb_git_submodules_record(git_repository *repo, rb_node *array)
{
    git_index *index = NULL;
    int err = git_repository_index(&index, repo);
    size_t n = index ? git_index_entrycount(index) : 0;
    int rc = 0;
    for (size_t i = 0; !err && !rc && i < n; i++) {
        const git_index_entry *e = git_index_get_byindex(index, i);
        if (e->mode != GIT_FILEMODE_COMMIT || git_index_entry_stage(e) != 0)
            continue;
        git_submodule *sm = NULL;
        /* A gitlink without a .gitmodules entry is no submodule git can
         * update either: nothing to put back. */
        if (git_submodule_lookup(&sm, repo, e->path) < 0) {
            git_error_clear();
            continue;
        }
        rc = record_one(sm, array);
        git_submodule_free(sm);
    }
    git_index_free(index);
    if (rc)
        return rc;
    if (err < 0)
        return rb_git_fail(rb_git_code(err), "cannot list the submodules of %s",
                           git_repository_workdir(repo));
    return 0;
}

/* One recorded submodule, opened, with its live HEAD. */
typedef struct sub_entry {
    const char *path;
    const char *branch;
    git_oid commit;
    git_submodule *sm;
    git_repository *repo;
    rb_git_head head;
    int at_recorded; /* live HEAD already equals the recorded one */
} sub_entry;

static void sub_close(sub_entry *e)
{
    rb_git_head_clear(&e->head);
    git_repository_free(e->repo);
    git_submodule_free(e->sm);
    e->repo = NULL;
    e->sm = NULL;
}

static int same_branch(const char *a, const char *b)
{
    return (!a && !b) || (a && b && !strcmp(a, b));
}

/* 1: e is filled and opened; 0: nothing was recorded for it; < 0: the
 * submodule cannot be opened (git error left in git_error_last). */
static int sub_open(git_repository *repo, const rb_node *rec, sub_entry *e)
{
    const rb_host_api *h = rb_git_host;
    memset(e, 0, sizeof *e);
    e->path = h->node_string(h->node_get(rec, "path"));
    const char *hex = h->node_string(h->node_get(rec, "commit"));
    e->branch = h->node_string(h->node_get(rec, "branch"));
    if (!e->path || !hex || git_oid_fromstr(&e->commit, hex) < 0)
        return 0;
    int err = git_submodule_lookup(&e->sm, repo, e->path);
    if (!err)
        err = git_submodule_open(&e->repo, e->sm);
    if (!err)
        err = rb_git_head_read(e->repo, &e->head);
    if (err < 0) {
        sub_close(e);
        return err;
    }
    e->at_recorded = !e->head.unborn && git_oid_equal(&e->head.commit, &e->commit) &&
                     same_branch(e->head.branch, e->branch);
    return 1;
}

static int sub_check_one(git_repository *repo, const char *repo_path, sub_entry *e,
                         unsigned int op_flags)
{
    const rb_host_api *h = rb_git_host;
    int force = (op_flags & RB_OP_FORCE) != 0;
    char hex[GIT_OID_HEXSZ + 1];
    git_oid_tostr(hex, sizeof hex, &e->commit);
    git_commit *c = NULL;
    int err = git_commit_lookup(&c, e->repo, &e->commit);
    git_commit_free(c);
    if (err < 0) {
        if (force)
            return 0;
        return h->error_set(RB_ENOTFOUND, RB_ERRCLASS_GIT,
                            "submodule %s of %s does not have the recorded commit %s (fetch it "
                            "in the submodule, or pass --force to leave the submodule as it "
                            "is); nothing was changed",
                            e->path, repo_path, hex);
    }
    unsigned int status = 0;
    err = git_submodule_status(&status, repo, e->path, GIT_SUBMODULE_IGNORE_UNTRACKED);
    if (err < 0)
        return rb_git_fail(rb_git_code(err), "cannot read the status of submodule %s of %s",
                           e->path, repo_path);
    if (!force &&
        (status & (GIT_SUBMODULE_STATUS_WD_INDEX_MODIFIED | GIT_SUBMODULE_STATUS_WD_WD_MODIFIED)))
        return h->error_set(RB_ECONFLICT, RB_ERRCLASS_GIT,
                            "submodule %s of %s has uncommitted changes that going back to %s "
                            "would discard: commit or stash them in the submodule, or pass "
                            "--force; nothing was changed",
                            e->path, repo_path, hex);
    return 0;
}

int rb_git_submodules_check(git_repository *repo, const char *repo_path, const rb_node *recorded,
                            unsigned int op_flags)
{
    const rb_host_api *h = rb_git_host;
    size_t n = h->node_count(recorded);
    for (size_t i = 0; i < n; i++) {
        sub_entry e;
        int rc = sub_open(repo, h->node_at(recorded, i), &e);
        if (rc < 0 && !(op_flags & RB_OP_FORCE))
            return rb_git_fail(RB_ENOTFOUND,
                               "submodule %s of %s cannot be opened to put it back (run git "
                               "submodule update --init, or pass --force to leave it); nothing "
                               "was changed",
                               e.path, repo_path);
        git_error_clear();
        if (rc <= 0)
            continue;
        rc = e.at_recorded ? 0 : sub_check_one(repo, repo_path, &e, op_flags);
        sub_close(&e);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int sub_move(sub_entry *e)
{
    git_commit *c = NULL;
    git_checkout_options co;
    git_checkout_options_init(&co, GIT_CHECKOUT_OPTIONS_VERSION);
    co.checkout_strategy = GIT_CHECKOUT_FORCE;
    int err = git_commit_lookup(&c, e->repo, &e->commit);
    if (!err)
        err = git_checkout_tree(e->repo, (const git_object *)c, &co);
    git_commit_free(c);
    if (err < 0)
        return err;
    if (!e->branch)
        return git_repository_set_head_detached(e->repo, &e->commit);
    char ref[1024];
    snprintf(ref, sizeof ref, "refs/heads/%s", e->branch);
    git_reference *out = NULL;
    err = git_reference_create(&out, e->repo, ref, &e->commit, 1, "rbhost: rollback");
    git_reference_free(out);
    return err < 0 ? err : git_repository_set_head(e->repo, ref);
}

int rb_git_submodules_restore(git_repository *repo, const char *repo_path, const rb_node *recorded,
                              rb_node *result)
{
    const rb_host_api *h = rb_git_host;
    size_t n = h->node_count(recorded);
    rb_node *list = n ? h->node_add_array(result, "submodules") : NULL;
    for (size_t i = 0; i < n; i++) {
        sub_entry e;
        int rc = sub_open(repo, h->node_at(recorded, i), &e);
        git_error_clear();
        if (rc <= 0)
            continue;
        const char *status = "unchanged";
        if (!e.at_recorded) {
            git_commit *c = NULL;
            int have = git_commit_lookup(&c, e.repo, &e.commit) == 0;
            git_commit_free(c);
            status = "left as it was (recorded commit missing)";
            if (have) {
                int err = sub_move(&e);
                if (err < 0) {
                    rc = rb_git_fail(rb_git_code(err),
                                     "the files of %s were restored, but submodule %s could "
                                     "not be put back",
                                     repo_path, e.path);
                    sub_close(&e);
                    return rc;
                }
                status = "restored";
            } else {
                h->log(RB_LOG_WARN, "submodule %s of %s lacks its recorded commit: left as it is",
                       e.path, repo_path);
            }
        }
        rb_node *o = list ? h->node_add_object(list, NULL) : NULL;
        char hex[GIT_OID_HEXSZ + 1];
        git_oid_tostr(hex, sizeof hex, &e.commit);
        if (o) {
            h->node_add_string(o, "path", e.path);
            h->node_add_string(o, "commit", hex);
            h->node_add_string(o, "status", status);
        }
        sub_close(&e);
    }
    return 0;
}

size_t rb_git_submodules_compare(git_repository *repo, const rb_node *recorded,
                                 rb_node *differences)
{
    const rb_host_api *h = rb_git_host;
    size_t n = h->node_count(recorded), found = 0;
    for (size_t i = 0; i < n; i++) {
        sub_entry e;
        int rc = sub_open(repo, h->node_at(recorded, i), &e);
        git_error_clear();
        if (rc == 0 || (rc > 0 && e.at_recorded)) {
            if (rc > 0)
                sub_close(&e);
            continue;
        }
        found++;
        char want[GIT_OID_HEXSZ + 1], have[GIT_OID_HEXSZ + 1] = "not checked out";
        git_oid_tostr(want, sizeof want, &e.commit);
        if (rc > 0 && !e.head.unborn)
            git_oid_tostr(have, sizeof have, &e.head.commit);
        rb_node *o = h->node_add_object(differences, NULL);
        if (o) {
            h->node_add_string(o, "item", "submodule");
            h->node_add_string(o, "path", e.path);
            h->node_add_string(o, "expected", want);
            h->node_add_string(o, "actual", have);
        }
        if (rc > 0)
            sub_close(&e);
    }
    return found;
}
