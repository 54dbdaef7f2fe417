/* The CLI under hostile conditions: a full disk, a read-only store, a
 * process killed half-way, concurrent writers, wrong input of every kind.
 * Each case checks the exit code of rbhost(1), the message, and that the
 * store stays consistent (`rbhost check`) with nothing half-done listed. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rbtest.h"

static char *tmp, *store, *file, *mnt;

static void setup(void)
{
    tmp = rbt_tmpdir();
    store = rbt_fmt("%s/store", tmp);
    file = rbt_fmt("%s/app.conf", tmp);
    rbt_spit(file, "port=80\n");
}

static void teardown(void)
{
    if (mnt) {
        umount2(mnt, MNT_DETACH);
        free(mnt);
        mnt = NULL;
    }
    rbt_rmtree(tmp);
    free(tmp);
    free(store);
    free(file);
}

TestSuite(robust, .init = setup, .fini = teardown);

#define HB(st, ...) rbt_rbhost(st, "--plugin-dir '" RBT_FIXTURE_PLUGIN_DIR "' " __VA_ARGS__)

/* A small tmpfs of its own, so a full or read-only file system is real
 * without touching the machine's. */
static char *mount_tmpfs(const char *size)
{
    if (geteuid() != 0)
        cr_skip_test("needs root to mount a tmpfs");
    mnt = rbt_fmt("%s/mnt", tmp);
    cr_assert_eq(mkdir(mnt, 0700), 0);
    char *opts = rbt_fmt("size=%s", size);
    cr_assert_eq(mount("tmpfs", mnt, "tmpfs", 0, opts), 0, "mount tmpfs on %s", mnt);
    free(opts);
    return rbt_fmt("%s/store", mnt);
}

static void expect(rbt_run r, int code, const char *message)
{
    cr_assert_eq(r.code, code, "exit %d, expected %d; stdout: %s stderr: %s", r.code, code, r.out,
                 r.err);
    cr_assert(strstr(r.err, message), "stderr lacks '%s': %s", message, r.err);
    rbt_run_free(&r);
}

static void expect_check_passes(const char *st)
{
    rbt_run r = rbt_rbhost(st, "check");
    cr_assert_eq(r.code, 0, "check: exit %d %s%s", r.code, r.out, r.err);
    rbt_run_free(&r);
}

/* The ids list-snapshots shows, comma-separated in store order. */
static char *listed_ids(const char *st)
{
    rbt_run r = rbt_rbhost(st, "--json list-snapshots");
    cr_assert_eq(r.code, 0, "%s", r.err);
    cJSON *doc = rbt_json(r.out);
    size_t len = 1;
    const cJSON *s;
    cJSON_ArrayForEach(s, cJSON_GetObjectItem(doc, "snapshots")) len +=
        strlen(cJSON_GetStringValue(cJSON_GetObjectItem(s, "id"))) + 1;
    char *ids = calloc(1, len);
    cJSON_ArrayForEach(s, cJSON_GetObjectItem(doc, "snapshots"))
    {
        if (ids[0])
            strcat(ids, ",");
        strcat(ids, cJSON_GetStringValue(cJSON_GetObjectItem(s, "id")));
    }
    cJSON_Delete(doc);
    rbt_run_free(&r);
    return ids;
}

static void expect_ids(const char *st, const char *ids)
{
    char *got = listed_ids(st);
    cr_assert_str_eq(got, ids);
    free(got);
}

static int count_ids(const char *ids)
{
    int n = ids[0] != '\0';
    for (const char *c = ids; *c; c++)
        n += *c == ',';
    return n;
}

static int has_id(const char *ids, const char *id)
{
    size_t len = strlen(id);
    for (const char *p = strstr(ids, id); p; p = strstr(p + 1, id))
        if ((p == ids || p[-1] == ',') && (p[len] == ',' || p[len] == '\0'))
            return 1;
    return 0;
}

static void snapshot_of(const char *st, const char *id, const char *path)
{
    rbt_run r =
        HB(st, "create-snapshot --id %s --type hello --config '{\"path\":\"%s\"}'", id, path);
    cr_assert_eq(r.code, 0, "%s: %s", id, r.err);
    rbt_run_free(&r);
}

static void random_file(const char *path, long bytes)
{
    rbt_run r = rbt_sh("head -c %ld /dev/urandom > '%s'", bytes, path);
    cr_assert_eq(r.code, 0, "%s", r.err);
    rbt_run_free(&r);
}

static int same_file(const char *a, const char *b)
{
    rbt_run r = rbt_sh("cmp -s '%s' '%s'", a, b);
    int same = r.code == 0;
    rbt_run_free(&r);
    return same;
}

Test(robust, a_full_disk_fails_cleanly_and_keeps_earlier_snapshots)
{
    char *st = mount_tmpfs("2m");
    char *big[8], *copy = rbt_fmt("%s/big0.orig", tmp);
    int taken = 0, failed = 0;
    /* Random content does not compress: five of these fill 2 MiB. */
    for (int i = 0; i < 8 && !failed; i++) {
        big[i] = rbt_fmt("%s/big%d", tmp, i);
        random_file(big[i], 400000);
        rbt_run r =
            HB(st, "create-snapshot --id d%d --type hello --config '{\"path\":\"%s\"}'", i, big[i]);
        if (r.code == 0) {
            taken++;
        } else {
            failed = 1;
            cr_assert_eq(r.code, 6, "exit %d: %s", r.code, r.err);
            cr_assert(strstr(r.err, "no space left on device"), "%s", r.err);
            cr_assert(strstr(r.err, st), "the message names the store: %s", r.err);
        }
        rbt_run_free(&r);
    }
    cr_assert(failed, "2 MiB never filled up");
    cr_assert_geq(taken, 2);
    char *ids = listed_ids(st);
    char *want = rbt_fmt("d0");
    for (int i = 1; i < taken; i++) {
        char *longer = rbt_fmt("%s,d%d", want, i);
        free(want);
        want = longer;
    }
    cr_assert_str_eq(ids, want, "only the complete snapshots are listed");
    free(ids);
    free(want);
    expect_check_passes(st);

    /* The safety snapshot of a new, large state does not fit: the rollback
     * must refuse before it changes the file. */
    rbt_run r = rbt_sh("cp '%s' '%s'", big[0], copy);
    rbt_run_free(&r);
    random_file(big[0], 400000);
    char *changed = rbt_fmt("%s/big0.changed", tmp);
    r = rbt_sh("cp '%s' '%s'", big[0], changed);
    rbt_run_free(&r);
    r = HB(st, "--json execute-rollback --id d0 --yes");
    cr_assert_eq(r.code, 6, "exit %d: %s", r.code, r.err);
    cJSON *doc = rbt_json(r.out);
    cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(doc, "status")), "failed");
    cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(doc, "error_code")), "nospace");
    cr_assert(strstr(r.err, "nothing was changed"), "%s", r.err);
    cJSON_Delete(doc);
    rbt_run_free(&r);
    cr_assert(same_file(big[0], changed), "the live file was touched");
    expect_check_passes(st);

    /* Without a safety snapshot nothing new is stored: the earlier
     * snapshot still brings its bytes back. */
    r = HB(st, "execute-rollback --id d0 --yes --no-safety-snapshot");
    cr_assert_eq(r.code, 0, "%s%s", r.out, r.err);
    rbt_run_free(&r);
    cr_assert(same_file(big[0], copy));
    expect_check_passes(st);
    for (int i = 0; i < taken + 1; i++)
        free(big[i]);
    free(copy);
    free(changed);
    free(st);
}

Test(robust, a_read_only_store_is_refused_with_its_path)
{
    char *st = mount_tmpfs("4m");
    snapshot_of(st, "r1", file);
    cr_assert_eq(mount(NULL, mnt, NULL, MS_REMOUNT | MS_RDONLY, NULL), 0);
    rbt_run r =
        HB(st, "--json create-snapshot --id r2 --type hello --config '{\"path\":\"%s\"}'", file);
    cr_assert_eq(r.code, 6, "exit %d: %s", r.code, r.err);
    cr_assert(strstr(r.err, st) && strstr(r.err, "Read-only file system"), "%s", r.err);
    cJSON *doc = rbt_json(r.out);
    cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(doc, "status")), "failed");
    cJSON_Delete(doc);
    rbt_run_free(&r);
    char *fresh = rbt_fmt("%s/fresh", mnt);
    expect(HB(fresh, "create-snapshot --id r2 --type hello --config '{\"path\":\"%s\"}'", file), 6,
           "cannot create directory");
    free(fresh);
    /* Reading needs no write: a store on read-only media is listed,
     * checked and compared with the live state. */
    expect_ids(st, "r1");
    expect_check_passes(st);
    r = HB(st, "verify --id r1");
    cr_assert_eq(r.code, 0, "exit %d: %s", r.code, r.err);
    rbt_run_free(&r);
    cr_assert_eq(mount(NULL, mnt, NULL, MS_REMOUNT, NULL), 0);
    expect_ids(st, "r1");
    expect_check_passes(st);
    free(st);
}

Test(robust, a_store_path_that_is_a_file_is_refused_and_left_alone)
{
    char *notdir = rbt_fmt("%s/plain-file", tmp);
    rbt_spit(notdir, "mine\n");
    expect(HB(notdir, "create-snapshot --id a --type hello --config '{\"path\":\"%s\"}'", file), 3,
           "is not a directory");
    rbt_run r = rbt_rbhost(notdir, "--json list-snapshots");
    cr_assert_eq(r.code, 3);
    cJSON *doc = rbt_json(r.out);
    cr_assert(strstr(cJSON_GetStringValue(cJSON_GetObjectItem(doc, "error")), notdir));
    cJSON_Delete(doc);
    rbt_run_free(&r);
    char *left = rbt_slurp(notdir);
    cr_assert_str_eq(left, "mine\n");
    free(left);
    free(notdir);
}

Test(robust, reading_a_store_that_does_not_exist_is_empty_and_creates_nothing)
{
    const char *cmds[] = {"list-snapshots", "history"};
    const char *keys[] = {"snapshots", "history"};
    for (size_t i = 0; i < 2; i++) {
        rbt_run r = rbt_rbhost(store, "--json %s", cmds[i]);
        cr_assert_eq(r.code, 0, "%s: %s", cmds[i], r.err);
        cJSON *doc = rbt_json(r.out);
        cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(doc, keys[i])), 0);
        cr_assert_eq(cJSON_GetObjectItem(doc, "count")->valueint, 0);
        cJSON_Delete(doc);
        rbt_run_free(&r);
    }
    cr_assert_neq(access(store, F_OK), 0, "a read created the store");
}

/* The snapshot's source is a FIFO fed 8 MB and then held open, so rbhost is
 * certainly inside the backend's snapshot, with blob data already written,
 * when it is killed. */
Test(robust, killed_while_snapshotting_leaves_no_half_snapshot)
{
    snapshot_of(store, "before", file);
    char *fifo = rbt_fmt("%s/fifo", tmp);
    cr_assert_eq(mkfifo(fifo, 0600), 0);
    rbt_run r = rbt_sh("sleep 30 > '%s' & hold=$!; head -c 8000000 /dev/urandom > '%s' & "
                       "'%s' --store '%s' --plugin-dir '%s' create-snapshot --id half --type hello "
                       "--config '{\"path\":\"%s\"}' >/dev/null 2>&1 & p=$!; "
                       "for i in $(seq 200); do "
                       "find '%s/data' -name '*.pack' -size +1M | grep -q . && break; sleep 0.05; "
                       "done; echo \"waited=$i\"; kill -9 $p; wait $p; echo \"rbhost=$?\"; "
                       "kill $hold; wait",
                       fifo, fifo, rbt_rbhost_bin(), store, RBT_FIXTURE_PLUGIN_DIR, fifo, store);
    cr_assert(strstr(r.out, "rbhost=137"), "rbhost was not killed mid-way: %s %s", r.out, r.err);
    cr_assert_null(strstr(r.out, "waited=200"), "no blob data was written: %s", r.out);
    rbt_run_free(&r);
    expect_ids(store, "before");
    expect_check_passes(store);
    /* The id is free again and the store takes new snapshots. */
    char *again = rbt_fmt("%s/again", tmp);
    random_file(again, 3000000);
    snapshot_of(store, "half", again);
    r = HB(store, "verify --id half");
    cr_assert_eq(r.code, 0, "%s%s", r.out, r.err);
    rbt_run_free(&r);
    expect_check_passes(store);
    free(again);
    free(fifo);
}

/* SIGTERM asks for a clean stop: exit 8, nothing half-made listed. The
 * FIFO's writer closes after the signal so the backend's read returns. */
Test(robust, sigterm_while_snapshotting_stops_cleanly_with_exit_8)
{
    char *fifo = rbt_fmt("%s/fifo", tmp);
    cr_assert_eq(mkfifo(fifo, 0600), 0);
    rbt_run r =
        rbt_sh("sleep 30 > '%s' & hold=$!; head -c 8000000 /dev/urandom > '%s' & "
               "'%s' --store '%s' --plugin-dir '%s' create-snapshot --id t --type hello "
               "--config '{\"path\":\"%s\"}' >/dev/null 2>'%s/term.err' & p=$!; "
               "for i in $(seq 200); do "
               "find '%s/data' -name '*.pack' -size +1M | grep -q . && break; sleep 0.05; "
               "done; kill -TERM $p; sleep 0.2; kill $hold; wait $p; echo \"rbhost=$?\"; "
               "wait",
               fifo, fifo, rbt_rbhost_bin(), store, RBT_FIXTURE_PLUGIN_DIR, fifo, tmp, store);
    cr_assert(strstr(r.out, "rbhost=8"), "%s %s", r.out, r.err);
    rbt_run_free(&r);
    char *errpath = rbt_fmt("%s/term.err", tmp);
    char *err = rbt_slurp(errpath);
    cr_assert(strstr(err, "interrupted"), "%s", err);
    free(err);
    free(errpath);
    expect_ids(store, "");
    expect_check_passes(store);
    free(fifo);
}

/* Killed after the restore, during the validation tests: the file is whole,
 * the store is consistent, and the safety snapshot still undoes it. */
Test(robust, killed_during_a_rollback_leaves_the_store_consistent_and_undoable)
{
    snapshot_of(store, "s1", file);
    rbt_spit(file, "port=8080\n");
    char *pidfile = rbt_fmt("%s/validation.pid", tmp);
    rbt_run r =
        rbt_sh("'%s' --store '%s' --plugin-dir '%s' execute-rollback --id s1 --yes --validation "
               "'{\"tests\":[{\"type\":\"command\",\"run\":\"echo $$ > %s; exec sleep 30\"}]}' "
               ">/dev/null 2>&1 & p=$!; "
               "for i in $(seq 200); do [ -s '%s' ] && break; sleep 0.05; done; "
               "kill -9 $p; wait $p; echo \"rbhost=$?\"; kill $(cat '%s')",
               rbt_rbhost_bin(), store, RBT_FIXTURE_PLUGIN_DIR, pidfile, pidfile, pidfile);
    cr_assert(strstr(r.out, "rbhost=137"), "%s %s", r.out, r.err);
    rbt_run_free(&r);
    char *now = rbt_slurp(file);
    cr_assert_str_eq(now, "port=80\n", "restored before the kill, and whole");
    free(now);
    expect_check_passes(store);
    char *ids = listed_ids(store);
    cr_assert(count_ids(ids) == 2 && has_id(ids, "s1"), "%s", ids);
    char *pre = strstr(ids, "pre-rollback-rollback_");
    cr_assert_not_null(pre, "no safety snapshot: %s", ids);
    char *safety = strndup(pre, strcspn(pre, ","));
    free(ids);
    /* The killed process's lock is gone with it; its journal says the
     * rollback is pending, and reverting it puts the file back. */
    r = HB(store, "execute-rollback --resume --revert --yes%s", "");
    cr_assert_eq(r.code, 0, "%s%s", r.out, r.err);
    rbt_run_free(&r);
    now = rbt_slurp(file);
    cr_assert_str_eq(now, "port=8080\n");
    free(now);
    expect_check_passes(store);
    free(safety);
    free(pidfile);
}

/* Killed while taking the safety snapshot: nothing was restored and no
 * partial safety snapshot is listed. */
Test(robust, killed_during_the_safety_snapshot_changes_nothing)
{
    char *fifo = rbt_fmt("%s/live", tmp);
    snapshot_of(store, "s1", fifo);
    cr_assert_eq(mkfifo(fifo, 0600), 0);
    rbt_run r = rbt_sh("sleep 30 > '%s' & hold=$!; head -c 8000000 /dev/urandom > '%s' & "
                       "'%s' --store '%s' --plugin-dir '%s' execute-rollback --id s1 --yes "
                       ">/dev/null 2>&1 & p=$!; "
                       "for i in $(seq 200); do "
                       "find '%s/data' -name '*.pack' -size +1M | grep -q . && break; sleep 0.05; "
                       "done; echo \"waited=$i\"; kill -9 $p; wait $p; echo \"rbhost=$?\"; "
                       "kill $hold; wait",
                       fifo, fifo, rbt_rbhost_bin(), store, RBT_FIXTURE_PLUGIN_DIR, store);
    cr_assert(strstr(r.out, "rbhost=137"), "%s %s", r.out, r.err);
    cr_assert_null(strstr(r.out, "waited=200"), "%s", r.out);
    rbt_run_free(&r);
    struct stat st;
    cr_assert_eq(lstat(fifo, &st), 0);
    cr_assert(S_ISFIFO(st.st_mode), "the live state was changed");
    expect_ids(store, "s1");
    r = rbt_rbhost(store, "--json history");
    cJSON *doc = rbt_json(r.out);
    cr_assert_eq(cJSON_GetObjectItem(doc, "count")->valueint, 0);
    cJSON_Delete(doc);
    rbt_run_free(&r);
    expect_check_passes(store);
    free(fifo);
}

Test(robust, concurrent_snapshots_into_one_store_all_land_or_are_refused)
{
    char *big = rbt_fmt("%s/big", tmp);
    random_file(big, 4000000);
    rbt_run r =
        rbt_sh("for j in 1 2 3 4; do "
               "( '%s' --store '%s' --plugin-dir '%s' create-snapshot --id c$j --type hello "
               "--config '{\"path\":\"%s\"}' >/dev/null 2>'%s/c'$j.err; "
               "echo \"c$j=$?\" ) & done; wait",
               rbt_rbhost_bin(), store, RBT_FIXTURE_PLUGIN_DIR, big, tmp);
    int ok = 0;
    char want[64] = "";
    for (int j = 1; j <= 4; j++) {
        char tag[16];
        snprintf(tag, sizeof tag, "c%d=0", j);
        if (strstr(r.out, tag)) {
            ok++;
            snprintf(want + strlen(want), sizeof want - strlen(want), "%sc%d", want[0] ? "," : "",
                     j);
            continue;
        }
        snprintf(tag, sizeof tag, "c%d=5", j);
        cr_assert(strstr(r.out, tag), "c%d neither succeeded nor was refused: %s", j, r.out);
        char *errpath = rbt_fmt("%s/c%d.err", tmp, j);
        char *err = rbt_slurp(errpath);
        cr_assert(strstr(err, "locked") || strstr(err, "busy"), "%s", err);
        free(err);
        free(errpath);
    }
    rbt_run_free(&r);
    cr_assert_geq(ok, 1);
    char *ids = listed_ids(store);
    cr_assert_eq(count_ids(ids), ok, "listed %s, succeeded %s", ids, want);
    free(ids);
    for (int j = 1; j <= 4; j++) {
        char tag[8];
        snprintf(tag, sizeof tag, "c%d", j);
        if (!strstr(want, tag))
            continue;
        r = HB(store, "verify --id c%d", j);
        cr_assert_eq(r.code, 0, "c%d: %s%s", j, r.out, r.err);
        rbt_run_free(&r);
    }
    expect_check_passes(store);
    free(big);
}

Test(robust, config_and_validation_files_that_are_missing_or_malformed)
{
    expect(HB(store, "create-snapshot --id a --type hello --config @%s/nosuch.json", tmp), 4,
           "nosuch.json");
    snapshot_of(store, "s1", file);
    rbt_spit(file, "port=8080\n");
    expect(HB(store, "execute-rollback --id s1 --yes --validation '{\"tests\": ['"), 3,
           "--validation: malformed JSON at byte");
    expect(HB(store, "execute-rollback --id s1 --yes --validation @%s/none.json", tmp), 4,
           "none.json");
    char *bad = rbt_fmt("%s/bad.json", tmp);
    rbt_spit(bad, "{\"tests\": [{\"type\": \"command\", \"run\": }]}");
    expect(HB(store, "execute-rollback --id s1 --yes --validation @%s", bad), 3, bad);
    free(bad);
    char *now = rbt_slurp(file);
    cr_assert_str_eq(now, "port=8080\n", "a refused rollback changed the file");
    free(now);
    expect_ids(store, "s1");
    rbt_run r = rbt_rbhost(store, "--json history");
    cJSON *doc = rbt_json(r.out);
    cr_assert_eq(cJSON_GetObjectItem(doc, "count")->valueint, 0);
    cJSON_Delete(doc);
    rbt_run_free(&r);
    expect_check_passes(store);
}

Test(robust, process_refuses_fields_of_the_wrong_type)
{
    snapshot_of(store, "s1", file);
    rbt_spit(file, "port=8080\n");
    struct {
        const char *request, *message;
    } cases[] = {
        {"{\"action\":\"create_snapshot\",\"snapshot_id\":5,\"type\":\"hello\",\"config\":{}}",
         "needs 'snapshot_id'"},
        {"{\"action\":\"create_snapshot\",\"snapshot_id\":\"p\",\"type\":[\"hello\"],"
         "\"config\":{}}",
         "needs 'type'"},
        {"{\"action\":\"create_snapshot\",\"snapshot_id\":\"p\",\"type\":\"hello\","
         "\"config\":\"x\"}",
         "must be a JSON object"},
        {"{\"action\":\"create_snapshot\",\"snapshot_id\":\"p\",\"type\":\"hello\","
         "\"config\":{\"path\":7}}",
         "'path' for type 'hello' must be of type string"},
        {"{\"action\":\"execute_rollback\",\"snapshot_id\":\"s1\",\"dry_run\":\"yes\"}",
         "'dry_run' must be true or false"},
        {"{\"action\":\"execute_rollback\",\"snapshot_id\":\"s1\",\"no_safety_snapshot\":1}",
         "'no_safety_snapshot' must be true or false"},
        {"{\"action\":\"execute_rollback\",\"snapshot_id\":\"s1\",\"restore_to\":5}",
         "'restore_to' must be a directory path"},
        {"{\"action\":\"execute_rollback\",\"snapshot_id\":\"s1\",\"validation\":\"x\"}",
         "validation: expected"},
        {"{\"action\":7}", "missing \"action\""},
        {"[1]", "expected a JSON object"},
        {"{\"action\":\"list_snapshots\",\"extra\":1}", "unknown key 'extra'"},
    };
    char *req = rbt_fmt("%s/request.json", tmp);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rbt_spit(req, cases[i].request);
        rbt_run r = HB(store, "process '%s'", req);
        cr_assert_eq(r.code, 3, "%s: exit %d %s", cases[i].request, r.code, r.err);
        cJSON *doc = rbt_json(r.out);
        const char *err = cJSON_GetStringValue(cJSON_GetObjectItem(doc, "error"));
        cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(doc, "status")), "failed");
        cr_assert(err && strstr(err, cases[i].message), "%s: %s", cases[i].request, r.out);
        cJSON_Delete(doc);
        rbt_run_free(&r);
    }
    free(req);
    char *now = rbt_slurp(file);
    cr_assert_str_eq(now, "port=8080\n", "a refused request rolled back");
    free(now);
    expect_ids(store, "s1");
    expect_check_passes(store);
}

Test(robust, ids_of_128_characters_are_kept_and_129_refused)
{
    char id[131];
    memset(id, 'a', 129);
    id[129] = '\0';
    expect(HB(store, "create-snapshot --id %s --type hello --config '{\"path\":\"%s\"}'", id, file),
           3, "longer than 128 characters");
    cr_assert_neq(access(store, F_OK), 0, "a refused id touched the store");
    id[128] = '\0';
    snapshot_of(store, id, file);
    char *meta = rbt_fmt("%s/%s_metadata.json", store, id);
    cr_assert_eq(access(meta, F_OK), 0);
    free(meta);
    rbt_spit(file, "port=1\n");
    rbt_run r = HB(store, "execute-rollback --id %s --yes", id);
    cr_assert_eq(r.code, 0, "%s%s", r.out, r.err);
    rbt_run_free(&r);
    char *now = rbt_slurp(file);
    cr_assert_str_eq(now, "port=80\n");
    free(now);
    expect_check_passes(store);
}

Test(robust, export_to_an_unwritable_path_names_it_and_leaves_nothing)
{
    snapshot_of(store, "s1", file);
    char *out = rbt_fmt("%s/no/such/dir/s1.tar.zst", tmp);
    expect(rbt_rbhost(store, "export --id s1 -o '%s'", out), 6, out);
    free(out);
    expect(rbt_rbhost(store, "export --id nope -o '%s/n.tar.zst'", tmp), 4, "nope");
    rbt_run r = rbt_sh("ls '%s' | grep -c tar", tmp);
    cr_assert_str_eq(r.out, "0\n", "an archive or its temporary file was left behind");
    rbt_run_free(&r);
    expect_ids(store, "s1");
}

Test(robust, truncated_and_foreign_archives_are_refused)
{
    char *big = rbt_fmt("%s/big", tmp);
    random_file(big, 200000);
    snapshot_of(store, "s1", big);
    char *good = rbt_fmt("%s/s1.tar.zst", tmp);
    rbt_run r = rbt_rbhost(store, "export --id s1 -o '%s'", good);
    cr_assert_eq(r.code, 0, "%s", r.err);
    rbt_run_free(&r);
    r = HB(store, "delete-snapshot --id s1");
    cr_assert_eq(r.code, 0, "%s", r.err);
    rbt_run_free(&r);
    r = rbt_sh("cd '%s' && s=$(stat -c %%s s1.tar.zst) && head -c $((s - 40)) s1.tar.zst > "
               "tail.tar.zst && head -c $((s / 2)) s1.tar.zst > half.tar.zst && "
               "echo 'not an archive' > text.tar.zst && tar -cf plain.tar big && "
               "gzip -c plain.tar > other.tar.gz.tar.zst",
               tmp);
    cr_assert_eq(r.code, 0, "%s", r.err);
    rbt_run_free(&r);
    const char *names[] = {"tail.tar.zst", "half.tar.zst", "text.tar.zst", "plain.tar",
                           "other.tar.gz.tar.zst"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        r = rbt_rbhost(store, "--json import '%s/%s'", tmp, names[i]);
        cr_assert_eq(r.code, 3, "%s: exit %d %s", names[i], r.code, r.err);
        cr_assert(strstr(r.err, names[i]), "%s: the message names the archive: %s", names[i],
                  r.err);
        cJSON *doc = rbt_json(r.out);
        cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(doc, "status")), "failed");
        cJSON_Delete(doc);
        rbt_run_free(&r);
        expect_ids(store, "");
        expect_check_passes(store);
    }
    /* The refusals left nothing that stops the whole archive. */
    r = rbt_rbhost(store, "import '%s'", good);
    cr_assert_eq(r.code, 0, "%s", r.err);
    rbt_run_free(&r);
    expect_ids(store, "s1");
    r = HB(store, "verify --id s1");
    cr_assert_eq(r.code, 0, "%s%s", r.out, r.err);
    rbt_run_free(&r);
    expect_check_passes(store);
    free(good);
    free(big);
}

/* --json promises exactly one document on stdout, also when a command fails,
 * usage errors included. */
Test(robust, every_failure_prints_exactly_one_json_document)
{
    snapshot_of(store, "s1", file);
    struct {
        const char *args;
        int code;
    } cases[] = {
        {"create-snapshot --id ../x --type hello --config '{}'", 3},
        {"create-snapshot --id a --type nosuch --config '{}'", 4},
        {"create-snapshot --id s1 --type hello --config '{\"path\":\"/x\"}'", 3},
        {"execute-rollback --id nope --yes", 4},
        {"execute-rollback --id nope --dry-run", 4},
        {"verify --id nope", 4},
        {"delete-snapshot --id nope", 4},
        {"show-snapshot --id nope", 4},
        {"export --id nope -o /tmp/never.tar.zst", 4},
        {"process /nonexistent/request.json", 4},
        {"verify", 2},
        {"frobnicate", 2},
        {"list-snapshots --bogus", 2},
        {"--bogus-global", 2},
        {"", 2},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rbt_run r = HB(store, "--json %s", cases[i].args);
        cr_assert_eq(r.code, cases[i].code, "%s: exit %d %s", cases[i].args, r.code, r.err);
        const char *end = NULL;
        cJSON *doc = cJSON_ParseWithOpts(r.out, &end, 0);
        cr_assert_not_null(doc, "%s: stdout is not JSON: '%s'", cases[i].args, r.out);
        cr_assert_eq(strspn(end, " \t\r\n"), strlen(end), "%s: more after the document: %s",
                     cases[i].args, end);
        cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(doc, "status")), "failed");
        cr_assert(cJSON_IsString(cJSON_GetObjectItem(doc, "error")), "%s", r.out);
        cJSON_Delete(doc);
        rbt_run_free(&r);
    }
    rbt_run r = rbt_rbhost(store, "--json frobnicate");
    cJSON *doc = rbt_json(r.out);
    cr_assert(strstr(cJSON_GetStringValue(cJSON_GetObjectItem(doc, "error")), "'frobnicate'"), "%s",
              r.out);
    cJSON_Delete(doc);
    rbt_run_free(&r);
    expect_ids(store, "s1");
    expect_check_passes(store);
}

Test(robust, importing_a_missing_archive_is_not_found_and_creates_no_store)
{
    char *missing = rbt_fmt("%s/no-such.tar.zst", tmp);
    expect(HB(store, "import '%s'", missing), 4, missing);
    struct stat st;
    cr_assert_neq(stat(store, &st), 0, "a store was created for a missing archive");
    free(missing);
}
