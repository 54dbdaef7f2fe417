#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rb_error.h"
#include "rbtest.h"
#include "store_fixture.h"

static sf_store f;

static void setup(void)
{
    sf_open(&f);
}

static void teardown(void)
{
    sf_close(&f);
}

TestSuite(store_snapshots, .init = setup, .fini = teardown);

static void snap(const char *id, double at)
{
    char data[64];
    snprintf(data, sizeof data, "content of %s", id);
    const void *bufs[] = {data};
    size_t len = strlen(data);
    sf_snapshot(&f, id, at, bufs, &len, 1, NULL);
}

Test(store_snapshots, commit_writes_seed_metadata_file_with_store_object)
{
    snap("snap-1", 1729123456);
    char *path = rbt_fmt("%s/snap-1_metadata.json", f.dir);
    char *text = rbt_slurp(path);
    cr_assert_not_null(text, "%s missing", path);
    cJSON *doc = rbt_json(text);
    cr_assert_str_eq(cJSON_GetObjectItem(doc, "id")->valuestring, "snap-1");
    cr_assert_eq(cJSON_GetObjectItem(doc, "created_at")->valuedouble, 1729123456);
    cJSON *st = cJSON_GetObjectItem(doc, "store");
    cr_assert(cJSON_IsObject(st));
    cr_assert_eq(strlen(cJSON_GetObjectItem(st, "refs")->valuestring), 64);
    cr_assert_eq(cJSON_GetObjectItem(st, "blobs")->valuedouble, 1);
    cr_assert_eq(cJSON_GetObjectItem(st, "original_bytes")->valuedouble,
                 strlen("content of snap-1"));
    cJSON_Delete(doc);
    free(text);
    free(path);

    cJSON *read;
    cr_assert_eq(rb_store_snapshot_read(f.store, "snap-1", &read), 0);
    cr_assert_str_eq(cJSON_GetObjectItem(read, "status")->valuestring, "completed");
    cJSON_Delete(read);
    cr_assert_eq(rb_store_snapshot_read(f.store, "nope", &read), RB_ENOTFOUND);
    cr_assert(strstr(sf_msg(), "'nope'"), "%s", sf_msg());
}

Test(store_snapshots, existing_snapshot_is_never_overwritten)
{
    snap("same", 1);
    rb_store_txn *txn;
    cr_assert_eq(rb_store_txn_begin(f.store, &txn), 0);
    char id[RB_BLOB_ID_SIZE];
    cr_assert_eq(rb_store_put(txn, "other", 5, id), 0);
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddNumberToObject(doc, "created_at", 99);
    cr_assert_eq(rb_store_snapshot_commit(txn, "same", doc), RB_EEXISTS);
    cr_assert(strstr(sf_msg(), "'same' already exists"), "%s", sf_msg());
    cJSON_Delete(doc);
    cJSON *read;
    cr_assert_eq(rb_store_snapshot_read(f.store, "same", &read), 0);
    cr_assert_eq(cJSON_GetObjectItem(read, "created_at")->valuedouble, 1);
    cJSON_Delete(read);
}

Test(store_snapshots, list_is_sorted_by_created_at_then_id)
{
    snap("c", 30);
    snap("b", 10);
    snap("a", 30);
    snap("z", 5);
    char **ids;
    size_t n;
    cr_assert_eq(rb_store_snapshot_list(f.store, &ids, &n), 0);
    cr_assert_eq(n, 4);
    cr_assert_str_eq(ids[0], "z");
    cr_assert_str_eq(ids[1], "b");
    cr_assert_str_eq(ids[2], "a");
    cr_assert_str_eq(ids[3], "c");
    rb_store_free_list(ids, n);
    cr_assert_eq(rb_store_snapshot_delete(f.store, "b"), 0);
    cr_assert_eq(rb_store_snapshot_delete(f.store, "b"), RB_ENOTFOUND);
    cr_assert_eq(rb_store_snapshot_list(f.store, &ids, &n), 0);
    cr_assert_eq(n, 3);
    rb_store_free_list(ids, n);
}

Test(store_snapshots, update_keeps_the_store_object)
{
    snap("u", 1);
    cJSON *doc;
    cr_assert_eq(rb_store_snapshot_read(f.store, "u", &doc), 0);
    char *refs =
        strdup(cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "store"), "refs")->valuestring);
    cJSON_Delete(doc);
    doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "status", "rolled_back");
    cr_assert_eq(rb_store_snapshot_update(f.store, "u", doc), 0, "%s", sf_msg());
    cJSON_Delete(doc);
    cr_assert_eq(rb_store_snapshot_read(f.store, "u", &doc), 0);
    cr_assert_str_eq(cJSON_GetObjectItem(doc, "status")->valuestring, "rolled_back");
    cr_assert_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "store"), "refs")->valuestring,
                     refs);
    cJSON_Delete(doc);
    free(refs);
    doc = cJSON_CreateObject();
    cr_assert_eq(rb_store_snapshot_update(f.store, "missing", doc), RB_ENOTFOUND);
    cJSON_Delete(doc);
}

Test(store_snapshots, bad_ids_are_refused_before_any_file_is_touched)
{
    char too_long[130];
    memset(too_long, 'a', 129);
    too_long[129] = '\0';
    const char *bad[] = {"", "../x", "a/b", ".hidden", "-x", "a b", "x\n", "é", too_long};
    size_t before = sf_count_files(f.tmp);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        cr_assert_eq(rb_store_id_validate(bad[i], "snapshot id"), RB_EINVAL, "'%s'", bad[i]);
        cr_assert(strncmp(sf_msg(), "invalid snapshot id '", 21) == 0, "%s", sf_msg());
        rb_store_txn *txn;
        cr_assert_eq(rb_store_txn_begin(f.store, &txn), 0);
        char id[RB_BLOB_ID_SIZE];
        cr_assert_eq(rb_store_put(txn, "data", 4, id), 0);
        cJSON *doc = cJSON_CreateObject();
        cr_assert_eq(rb_store_snapshot_commit(txn, bad[i], doc), RB_EINVAL);
        cJSON_Delete(doc);
        cr_assert_eq(rb_store_record_write(f.store, bad[i], doc), RB_EINVAL);
        cr_assert(strncmp(sf_msg(), "invalid rollback id '", 21) == 0, "%s", sf_msg());
        cr_assert_eq(rb_store_snapshot_delete(f.store, bad[i]), RB_EINVAL);
    }
    cr_assert_eq(sf_count_files(f.tmp), before);
    const char *good[] = {"a", "A.b_c-9", "0"};
    for (size_t i = 0; i < 3; i++)
        cr_assert_eq(rb_store_id_validate(good[i], "snapshot id"), 0, "'%s'", good[i]);
    char max[129];
    memset(max, 'x', 128);
    max[128] = '\0';
    cr_assert_eq(rb_store_id_validate(max, "snapshot id"), 0);
}

static void expect_modes(const char *dir)
{
    struct stat st;
    cr_assert_eq(lstat(dir, &st), 0);
    cr_assert_eq(st.st_mode & 07777, 0700, "%s has mode %o", dir, st.st_mode & 07777);
    char *cmd = rbt_fmt(
        "find %s -mindepth 1 \\( -type d ! -perm 0700 \\) -o \\( -type f ! -perm 0600 \\)", dir);
    rbt_run r = rbt_sh("%s", cmd);
    cr_assert_eq(r.code, 0);
    cr_assert_str_eq(r.out, "", "wrong modes: %s", r.out);
    rbt_run_free(&r);
    free(cmd);
}

Test(store_snapshots, directories_0700_files_0600_whatever_the_umask)
{
    mode_t old = umask(0);
    char *dir = rbt_fmt("%s/loose", f.tmp);
    rb_store *s;
    cr_assert_eq(rb_store_open(&s, dir, RB_STORE_CREATE), 0);
    rb_store *keep = f.store;
    char *keep_dir = f.dir;
    f.store = s;
    f.dir = dir;
    snap("perm", 1);
    cJSON *rec = cJSON_CreateObject();
    cr_assert_eq(rb_store_record_write(s, "rb-1", rec), 0);
    cJSON_Delete(rec);
    cr_assert_eq(rb_store_lock(s, RB_STORE_LOCK_SHARED, "test", 0), 0);
    expect_modes(dir);
    rb_store_unlock(s);
    umask(old);
    rb_store_close(s);
    f.store = keep;
    f.dir = keep_dir;
    free(dir);
}

Test(store_snapshots, open_without_create_needs_the_store)
{
    rb_store *s;
    char *dir = rbt_fmt("%s/absent", f.tmp);
    cr_assert_eq(rb_store_open(&s, dir, 0), RB_ENOTFOUND);
    cr_assert(strstr(sf_msg(), dir), "%s", sf_msg());
    free(dir);
}

Test(store_snapshots, rollback_records_round_trip_sorted_by_started_at)
{
    const char *ids[] = {"rb-b", "rb-a", "rb-c"};
    const double at[] = {20, 20, 10};
    for (int i = 0; i < 3; i++) {
        cJSON *rec = cJSON_CreateObject();
        cJSON_AddStringToObject(rec, "rollback_id", ids[i]);
        cJSON_AddStringToObject(rec, "status", "completed");
        cJSON_AddNumberToObject(rec, "started_at", at[i]);
        cr_assert_eq(rb_store_record_write(f.store, ids[i], rec), 0, "%s", sf_msg());
        cJSON_Delete(rec);
    }
    char **list;
    size_t n;
    cr_assert_eq(rb_store_record_list(f.store, &list, &n), 0);
    cr_assert_eq(n, 3);
    cr_assert_str_eq(list[0], "rb-c");
    cr_assert_str_eq(list[1], "rb-a");
    cr_assert_str_eq(list[2], "rb-b");
    rb_store_free_list(list, n);
    cJSON *rec;
    cr_assert_eq(rb_store_record_read(f.store, "rb-a", &rec), 0);
    cr_assert_str_eq(cJSON_GetObjectItem(rec, "status")->valuestring, "completed");
    cJSON_Delete(rec);
    cr_assert_eq(rb_store_record_read(f.store, "rb-x", &rec), RB_ENOTFOUND);
    rb_store_stats st;
    cr_assert_eq(rb_store_stats_get(f.store, &st), 0);
    cr_assert_eq(st.records, 3);
}

Test(store_snapshots, incremental_snapshot_refs_blobs_of_an_earlier_one)
{
    size_t big = 9u << 20;
    uint8_t *data = malloc(big);
    sf_fill(data, big, 42);
    const void *bufs[] = {data, "small"};
    size_t lens[] = {big, 5};
    char ids[2][RB_BLOB_ID_SIZE];
    sf_snapshot(&f, "full", 1, bufs, lens, 2, ids);

    rb_store *s2;
    cr_assert_eq(rb_store_open(&s2, f.dir, 0), 0);
    rb_store_txn *txn;
    cr_assert_eq(rb_store_txn_begin(s2, &txn), 0);
    cr_assert_eq(rb_store_ref(txn, ids[0]), 0, "%s", sf_msg());
    cr_assert_eq(rb_store_ref(txn, ids[1]), 0, "%s", sf_msg());
    cJSON *doc = cJSON_CreateObject();
    cr_assert_eq(rb_store_snapshot_commit(txn, "incr", doc), 0, "%s", sf_msg());
    /* big: 3 chunks + list; small: 1. */
    cr_assert_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "store"), "blobs")->valuedouble, 5);
    cJSON_Delete(doc);
    cJSON *a, *b;
    cr_assert_eq(rb_store_snapshot_read(s2, "full", &a), 0);
    cr_assert_eq(rb_store_snapshot_read(s2, "incr", &b), 0);
    cr_assert_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(a, "store"), "refs")->valuestring,
                     cJSON_GetObjectItem(cJSON_GetObjectItem(b, "store"), "refs")->valuestring);
    cJSON_Delete(a);
    cJSON_Delete(b);
    sf_expect_blob(s2, ids[0], data, big);
    rb_store_close(s2);
    free(data);
}

Test(store_snapshots, default_location)
{
    char *loc = rb_store_default_location();
    cr_assert_not_null(loc);
    if (geteuid() != 0) {
        free(loc);
        cr_skip_test("the root and non-root defaults are checked when run as root");
    }
    cr_assert_str_eq(loc, "/var/lib/rbhost");
    free(loc);
    /* The same as an ordinary user, with and without XDG_STATE_HOME. */
    int p[2];
    cr_assert_eq(pipe(p), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        close(p[0]);
        if (setuid(65534) < 0)
            _exit(1);
        setenv("HOME", "/home/someone", 1);
        setenv("XDG_STATE_HOME", "/xdg/state", 1);
        char *a = rb_store_default_location();
        unsetenv("XDG_STATE_HOME");
        char *b = rb_store_default_location();
        dprintf(p[1], "%s\n%s\n", a ? a : "(null)", b ? b : "(null)");
        _exit(0);
    }
    close(p[1]);
    char out[256] = "";
    ssize_t n = read(p[0], out, sizeof out - 1);
    close(p[0]);
    waitpid(pid, NULL, 0);
    cr_assert_gt(n, 0);
    out[n] = '\0';
    cr_assert_str_eq(out, "/xdg/state/rbhost\n/home/someone/.local/state/rbhost\n");
}

Test(store_snapshots, an_open_handle_sees_what_another_process_commits)
{
    snap("first", 1);
    /* Past the directory timestamp's granularity, so that only a change
     * can make the handle look again. */
    sleep(2);
    rb_store_stats st;
    cr_assert_eq(rb_store_stats_get(f.store, &st), 0);
    cr_assert_eq(rb_store_blob_exists(
                     f.store, "0000000000000000000000000000000000000000000000000000000000000000"),
                 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        rb_store *s;
        rb_store_txn *txn;
        char id[RB_BLOB_ID_SIZE];
        cJSON *doc = cJSON_CreateObject();
        _exit(rb_store_open(&s, f.dir, 0) < 0 || rb_store_txn_begin(s, &txn) < 0 ||
              rb_store_put(txn, "from the other process", 22, id) < 0 ||
              rb_store_snapshot_commit(txn, "other", doc) < 0);
    }
    int status;
    waitpid(pid, &status, 0);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    rb_store *probe;
    rb_store_txn *txn;
    char id[RB_BLOB_ID_SIZE];
    cr_assert_eq(rb_store_open(&probe, f.dir, 0), 0);
    cr_assert_eq(rb_store_txn_begin(probe, &txn), 0);
    cr_assert_eq(rb_store_put(txn, "from the other process", 22, id), 0);
    rb_store_txn_abort(txn);
    rb_store_close(probe);
    cr_assert_eq(rb_store_blob_exists(f.store, id), 1, "the new blob is not seen");
    sf_expect_blob(f.store, id, "from the other process", 22);
}

static int memcmp_32(const void *a, const void *b)
{
    return memcmp(a, b, 32);
}

Test(store_snapshots, refs_of_a_large_snapshot_are_sorted_and_complete)
{
    enum { N = 6000 };
    rb_store_txn *txn;
    cr_assert_eq(rb_store_txn_begin(f.store, &txn), 0);
    for (int i = 0; i < N; i++) {
        char data[32], id[RB_BLOB_ID_SIZE];
        snprintf(data, sizeof data, "small blob %d", i);
        cr_assert_eq(rb_store_put(txn, data, strlen(data), id), 0);
    }
    cJSON *doc = cJSON_CreateObject();
    cr_assert_eq(rb_store_snapshot_commit(txn, "many", doc), 0, "%s", sf_msg());
    const char *refs = cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "store"), "refs")->valuestring;
    cr_assert_eq(rb_store_blob_size(f.store, refs), N * 32);
    rb_store_reader *r;
    cr_assert_eq(rb_store_reader_open(f.store, refs, &r), 0);
    uint8_t *ids = malloc(N * 32);
    size_t got = 0;
    int64_t n;
    while ((n = rb_store_reader_read(r, ids + got, N * 32 - got)) > 0)
        got += (size_t)n;
    cr_assert_eq(n, 0);
    cr_assert_eq(got, N * 32);
    rb_store_reader_close(r);
    for (int i = 1; i < N; i++)
        cr_assert_lt(memcmp(ids + 32 * (i - 1), ids + 32 * i, 32), 0, "refs out of order at %d", i);
    for (int i = 0; i < N; i += 97) {
        char data[32], id[RB_BLOB_ID_SIZE];
        snprintf(data, sizeof data, "small blob %d", i);
        cr_assert_eq(rb_store_txn_begin(f.store, &txn), 0);
        cr_assert_eq(rb_store_put(txn, data, strlen(data), id), 0);
        rb_store_txn_abort(txn);
        uint8_t raw[32];
        for (int k = 0; k < 32; k++)
            sscanf(id + 2 * k, "%2hhx", &raw[k]);
        cr_assert(bsearch(raw, ids, N, 32, memcmp_32), "blob %d missing from refs", i);
    }
    free(ids);
    cJSON_Delete(doc);
}
