/* What a rollback of a local state refuses to do: write over a state of
 * another lineage (unless --force), or write while someone else holds
 * Terraform's lock on it. A refusal changes nothing. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "infra_fixture.h"

static ift t;

static void setup(void)
{
    ift_open(&t);
}

static void teardown(void)
{
    ift_close(&t);
}

TestSuite(infra_local_refusal, .init = setup, .fini = teardown);

static char *snapshot_base(void)
{
    ift_state base = ift_state_base();
    char *doc = ift_tfstate(&base);
    rbt_spit(t.state, doc);
    rbt_run r = rbt_rbhost(t.store,
                           "create-snapshot --id before --type infrastructure --config "
                           "'{\"backend\":\"local\",\"state_path\":\"%s\"}'",
                           t.state);
    cr_assert_eq(r.code, 0, "create-snapshot exited %d: %s", r.code, r.err);
    rbt_run_free(&r);
    return doc;
}

static void expect_untouched(const char *doc)
{
    char *now = rbt_slurp(t.state);
    cr_assert_str_eq(now, doc, "the state file was changed by a refused rollback");
    free(now);
    char *backup = rbt_fmt("%s.backup", t.state);
    cr_assert_neq(access(backup, F_OK), 0, "a refused rollback wrote %s", backup);
    free(backup);
}

Test(infra_local_refusal, other_lineage_is_refused_then_accepted_with_force)
{
    char *snap_doc = snapshot_base();
    /* The state was created anew (terraform state rm + import, or another
     * root module's state copied here): another lineage. */
    ift_state other = ift_state_base();
    other.lineage = IFT_OTHER_LINEAGE;
    other.serial = 2;
    other.web_count = 1;
    char *other_doc = ift_tfstate(&other);
    rbt_spit(t.state, other_doc);

    int code;
    char *err = NULL;
    cJSON *rec = ift_rbhost_json(t.store, &code, &err, "execute-rollback --id before --yes");
    cr_assert_eq(code, 6, "execute-rollback exited %d: %s", code, err);
    cr_assert_str_eq(ift_str(rec, "status", NULL), "failed");
    const char *msg = ift_error(rec);
    cr_assert_not_null(strstr(msg, IFT_OTHER_LINEAGE), "error: %s", msg);
    cr_assert_not_null(strstr(msg, IFT_LINEAGE), "error: %s", msg);
    cr_assert_not_null(strstr(msg, "--force"), "error: %s", msg);
    cr_assert_str_eq(ift_str(rec, "error_code", NULL), "conflict");
    expect_untouched(other_doc);
    cJSON_Delete(rec);
    free(err);

    rec = ift_rbhost_json(t.store, &code, &err, "execute-rollback --id before --yes --force");
    cr_assert_eq(code, 0, "execute-rollback --force exited %d: %s", code, err);
    cr_assert(cJSON_IsTrue(ift_get(rec, "execution_result", "lineage_forced", NULL)));
    char *expected = ift_with_serial(snap_doc, 3);
    char *now = rbt_slurp(t.state);
    cr_assert_str_eq(now, expected);
    char *backup = rbt_fmt("%s.backup", t.state);
    char *kept = rbt_slurp(backup);
    cr_assert_str_eq(kept, other_doc);
    free(kept);
    free(backup);
    free(now);
    free(expected);
    free(err);
    free(other_doc);
    free(snap_doc);
    cJSON_Delete(rec);
}

static const char someone_elses_lock[] =
    "{\"ID\":\"8e4b3c1a-77d2-5f90-0c3b-2a9e6d4f1b07\",\"Operation\":\"OperationTypeApply\","
    "\"Info\":\"\",\"Who\":\"alice@build-7\",\"Version\":\"1.9.8\","
    "\"Created\":\"2026-11-22T01:02:03.456789Z\",\"Path\":\"terraform.tfstate\"}";

static void expect_holder_named(const char *msg)
{
    cr_assert_not_null(msg);
    cr_assert_not_null(strstr(msg, "alice@build-7"), "holder not named: %s", msg);
    cr_assert_not_null(strstr(msg, "8e4b3c1a-77d2-5f90-0c3b-2a9e6d4f1b07"), "lock ID not named: %s",
                       msg);
    cr_assert_not_null(strstr(msg, "2026-11-22T01:02:03.456789Z"), "time not named: %s", msg);
}

Test(infra_local_refusal, lock_info_of_someone_else_is_refused_and_left_alone)
{
    char *snap_doc = snapshot_base();
    ift_state s = ift_state_base();
    s.serial = 6;
    s.web_size = "large";
    char *modified = ift_tfstate(&s);
    rbt_spit(t.state, modified);
    char *info = ift_path(&t, ".terraform.tfstate.lock.info");
    rbt_spit(info, someone_elses_lock);

    int code;
    char *err = NULL;
    cJSON *rec = ift_rbhost_json(t.store, &code, &err, "execute-rollback --id before --yes");
    cr_assert_eq(code, 5, "execute-rollback exited %d: %s", code, err);
    cr_assert_str_eq(ift_str(rec, "status", NULL), "failed");
    expect_holder_named(ift_error(rec));
    cr_assert_not_null(strstr(ift_error(rec), info));
    expect_untouched(modified);
    char *still = rbt_slurp(info);
    cr_assert_str_eq(still, someone_elses_lock, "the other holder's lock info was changed");
    free(still);
    cJSON_Delete(rec);
    free(err);

    /* Once the holder is gone, the same rollback goes through. */
    cr_assert_eq(unlink(info), 0);
    rec = ift_rbhost_json(t.store, &code, &err, "execute-rollback --id before --yes");
    cr_assert_eq(code, 0, "execute-rollback exited %d: %s", code, err);
    char *expected = ift_with_serial(snap_doc, 7);
    char *now = rbt_slurp(t.state);
    cr_assert_str_eq(now, expected);
    free(now);
    free(expected);
    free(err);
    free(info);
    free(modified);
    free(snap_doc);
    cJSON_Delete(rec);
}

/* A running terraform: the fcntl write lock on the state file (as its
 * statemgr.Filesystem takes it) plus its lock info file. */
static int hold_like_terraform(const char *info)
{
    int fd = open(t.state, O_RDWR);
    cr_assert_geq(fd, 0);
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    cr_assert_eq(fcntl(fd, F_SETLK, &fl), 0);
    rbt_spit(info, someone_elses_lock);
    return fd;
}

Test(infra_local_refusal, running_terraform_lock_is_refused_before_and_during_restore)
{
    char *snap_doc = snapshot_base();
    ift_state s = ift_state_base();
    s.serial = 6;
    s.subnet_b = 0;
    char *modified = ift_tfstate(&s);
    rbt_spit(t.state, modified);
    char *info = ift_path(&t, ".terraform.tfstate.lock.info");
    int fd = hold_like_terraform(info);

    /* The safety snapshot cannot read a state terraform is writing. */
    int code;
    char *err = NULL;
    cJSON *rec = ift_rbhost_json(t.store, &code, &err, "execute-rollback --id before --yes");
    cr_assert_eq(code, 5, "execute-rollback exited %d: %s", code, err);
    expect_holder_named(ift_error(rec));
    cJSON_Delete(rec);
    free(err);
    /* Without it, restore itself refuses. */
    rec = ift_rbhost_json(t.store, &code, &err,
                          "execute-rollback --id before --yes --no-safety-snapshot");
    cr_assert_eq(code, 5, "execute-rollback exited %d: %s", code, err);
    expect_holder_named(ift_error(rec));
    cr_assert_not_null(strstr(ift_error(rec), "wait for that run to finish"));
    expect_untouched(modified);
    cJSON_Delete(rec);
    free(err);

    /* terraform finishes: removes its lock info, then unlocks. */
    cr_assert_eq(unlink(info), 0);
    cr_assert_eq(close(fd), 0);
    rbt_run r = rbt_rbhost(t.store, "execute-rollback --id before --yes");
    cr_assert_eq(r.code, 0, "execute-rollback exited %d: %s", r.code, r.err);
    rbt_run_free(&r);
    char *expected = ift_with_serial(snap_doc, 7);
    char *now = rbt_slurp(t.state);
    cr_assert_str_eq(now, expected);
    free(now);
    free(expected);
    free(info);
    free(modified);
    free(snap_doc);
}

Test(infra_local_refusal, unreadable_state_is_replaced_only_with_force)
{
    char *snap_doc = snapshot_base();
    /* What an interrupted writer leaves: the first part of a state. */
    char *broken = strndup(snap_doc, 300);
    rbt_spit(t.state, broken);

    /* No safety copy can be made of it, and rbhost says how to go on. */
    rbt_run r = rbt_rbhost(t.store, "execute-rollback --id before --yes");
    cr_assert_eq(r.code, 6, "execute-rollback exited %d: %s", r.code, r.err);
    cr_assert_not_null(strstr(r.err, "--force --no-safety-snapshot"), "stderr: %s", r.err);
    expect_untouched(broken);
    rbt_run_free(&r);

    r = rbt_rbhost(t.store, "execute-rollback --id before --yes --no-safety-snapshot");
    cr_assert_eq(r.code, 6, "execute-rollback exited %d: %s", r.code, r.err);
    cr_assert_not_null(strstr(r.err, "cannot be read as a Terraform state"), "stderr: %s", r.err);
    cr_assert_not_null(strstr(r.err, "--force"), "stderr: %s", r.err);
    cr_assert_null(strstr(r.err, IFT_SECRET));
    expect_untouched(broken);
    rbt_run_free(&r);

    r = rbt_rbhost(t.store, "execute-rollback --id before --yes --no-safety-snapshot --force");
    cr_assert_eq(r.code, 0, "execute-rollback --force exited %d: %s", r.code, r.err);
    rbt_run_free(&r);
    /* The current serial is unknown: one above the snapshot's. */
    char *expected = ift_with_serial(snap_doc, 6);
    char *now = rbt_slurp(t.state);
    cr_assert_str_eq(now, expected);
    char *backup = rbt_fmt("%s.backup", t.state);
    char *kept = rbt_slurp(backup);
    cr_assert_str_eq(kept, broken);
    free(kept);
    free(backup);
    free(now);
    free(expected);
    free(broken);
    free(snap_doc);
}
