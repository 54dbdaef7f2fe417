#include <criterion/criterion.h>
#include <fcntl.h>
#include <glob.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
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

TestSuite(store_maintenance, .init = setup, .fini = teardown);

typedef struct problems {
    size_t n;
    char kind[16][32];
    char object[16][160];
    char snapshot[16][160];
} problems;

static void collect(const rb_store_problem *p, void *ctx)
{
    problems *ps = ctx;
    if (ps->n < 16) {
        snprintf(ps->kind[ps->n], sizeof ps->kind[0], "%s", p->kind);
        snprintf(ps->object[ps->n], sizeof ps->object[0], "%s", p->object);
        snprintf(ps->snapshot[ps->n], sizeof ps->snapshot[0], "%s", p->snapshot ? p->snapshot : "");
    }
    ps->n++;
}

static void expect_clean(rb_store *s)
{
    problems ps = {0};
    int rc = rb_store_check(s, collect, &ps);
    cr_assert_eq(rc, 0, "check: %s; first problem: %s %s (%s)", sf_msg(), ps.kind[0], ps.object[0],
                 ps.snapshot[0]);
    cr_assert_eq(ps.n, 0);
}

/* The single pack file of the store; asserts there is exactly one. */
static char *only_pack(void)
{
    char *pattern = rbt_fmt("%s/data/packs/*.pack", f.dir);
    glob_t g;
    cr_assert_eq(glob(pattern, 0, NULL, &g), 0);
    cr_assert_eq(g.gl_pathc, 1);
    char *path = strdup(g.gl_pathv[0]);
    globfree(&g);
    free(pattern);
    return path;
}

Test(store_maintenance, check_passes_on_a_healthy_store)
{
    char a[1000], b[5000];
    sf_fill(a, sizeof a, 1);
    memset(b, 'b', sizeof b);
    const void *bufs[] = {a, b};
    size_t lens[] = {sizeof a, sizeof b};
    sf_snapshot(&f, "s1", 1, bufs, lens, 2, NULL);
    expect_clean(f.store);
}

Test(store_maintenance, corrupt_pack_byte_is_reported_with_its_snapshot)
{
    char a[1000];
    sf_fill(a, sizeof a, 1);
    const void *bufs[] = {a};
    size_t len = sizeof a;
    char ids[1][RB_BLOB_ID_SIZE];
    sf_snapshot(&f, "victim", 1, bufs, &len, 1, ids);
    /* The first record of the pack is the blob (random data, stored as is). */
    char *pack = only_pack();
    int fd = open(pack, O_RDWR);
    char c;
    cr_assert_eq(pread(fd, &c, 1, 100), 1);
    c ^= 0x55;
    cr_assert_eq(pwrite(fd, &c, 1, 100), 1);
    close(fd);
    free(pack);

    rb_store *s2;
    cr_assert_eq(rb_store_open(&s2, f.dir, 0), 0);
    problems ps = {0};
    cr_assert_eq(rb_store_check(s2, collect, &ps), RB_ECORRUPT);
    cr_assert_eq(ps.n, 1, "%zu problems, first %s %s", ps.n, ps.kind[0], ps.object[0]);
    cr_assert_str_eq(ps.kind[0], "corrupt_blob");
    cr_assert_str_eq(ps.object[0], ids[0]);
    cr_assert_str_eq(ps.snapshot[0], "victim");
    cr_assert(strstr(sf_msg(), "1 problem"), "%s", sf_msg());
    /* A reader refuses to hand out the damaged content. */
    rb_store_reader *r;
    cr_assert_eq(rb_store_reader_open(s2, ids[0], &r), 0);
    char buf[2000];
    cr_assert_eq(rb_store_reader_read(r, buf, sizeof buf), RB_ECORRUPT);
    rb_store_reader_close(r);
    rb_store_close(s2);
}

Test(store_maintenance, corrupt_chunk_of_a_large_blob_fails_the_reader)
{
    size_t len = (4u << 20) + 1000;
    char *a = malloc(len);
    sf_fill(a, len, 9);
    const void *bufs[] = {a};
    char ids[1][RB_BLOB_ID_SIZE];
    sf_snapshot(&f, "large", 1, bufs, &len, 1, ids);
    char *pack = only_pack();
    int fd = open(pack, O_RDWR);
    char c;
    cr_assert_eq(pread(fd, &c, 1, 4096), 1);
    c ^= 1;
    cr_assert_eq(pwrite(fd, &c, 1, 4096), 1);
    close(fd);
    free(pack);
    int out = open("/dev/null", O_WRONLY);
    cr_assert_eq(rb_store_get_fd(f.store, ids[0], out), RB_ECORRUPT);
    close(out);
    problems ps = {0};
    cr_assert_eq(rb_store_check(f.store, collect, &ps), RB_ECORRUPT);
    cr_assert_str_eq(ps.kind[0], "corrupt_blob");
    cr_assert_str_eq(ps.snapshot[0], "large");
    free(a);
}

Test(store_maintenance, missing_index_and_bad_metadata_are_reported)
{
    const void *bufs[] = {"hello"};
    size_t len = 5;
    char ids[1][RB_BLOB_ID_SIZE];
    sf_snapshot(&f, "lost", 1, bufs, &len, 1, ids);
    rbt_run r = rbt_sh("rm %s/data/packs/*.idx", f.dir);
    cr_assert_eq(r.code, 0);
    rbt_run_free(&r);
    char *bad = rbt_fmt("%s/broken_metadata.json", f.dir);
    rbt_spit(bad, "{not json");
    free(bad);
    rb_store *s2;
    cr_assert_eq(rb_store_open(&s2, f.dir, 0), 0);
    problems ps = {0};
    cr_assert_eq(rb_store_check(s2, collect, &ps), RB_ECORRUPT);
    bool saw_meta = false, saw_missing = false;
    for (size_t i = 0; i < ps.n; i++) {
        if (!strcmp(ps.kind[i], "bad_metadata") && !strcmp(ps.object[i], "broken"))
            saw_meta = true;
        if (!strcmp(ps.kind[i], "missing_blob") && !strcmp(ps.snapshot[i], "lost"))
            saw_missing = true;
    }
    cr_assert(saw_meta, "bad metadata not reported");
    cr_assert(saw_missing, "missing blob not reported");
    rb_store_close(s2);
}

Test(store_maintenance, gc_removes_only_unreferenced_blobs)
{
    char a[3000], b[3000], c[3000];
    sf_fill(a, sizeof a, 1);
    sf_fill(b, sizeof b, 2);
    sf_fill(c, sizeof c, 3);
    const void *s1[] = {a, b}, *s2[] = {b, c};
    size_t lens[] = {3000, 3000};
    char id1[2][RB_BLOB_ID_SIZE], id2[2][RB_BLOB_ID_SIZE];
    sf_snapshot(&f, "old", 1, s1, lens, 2, id1);
    sf_snapshot(&f, "new", 2, s2, lens, 2, id2);
    /* A pack left by a process that died before indexing it. */
    char *orphan = rbt_fmt("%s/data/packs/0123456789abcdef0123456789abcdef.pack", f.dir);
    rbt_spit(orphan, "garbage");
    uint64_t blobs, bytes;
    cr_assert_eq(rb_store_gc(f.store, &blobs, &bytes), 0, "%s", sf_msg());
    cr_assert_eq(blobs, 0, "gc removed %llu blobs still in use", (unsigned long long)blobs);
    cr_assert_eq(access(orphan, F_OK), -1, "orphan pack kept");

    cr_assert_eq(rb_store_snapshot_delete(f.store, "old"), 0);
    cr_assert_eq(rb_store_gc(f.store, &blobs, &bytes), 0, "%s", sf_msg());
    /* a and the refs blob of "old" */
    cr_assert_eq(blobs, 2, "freed %llu", (unsigned long long)blobs);
    cr_assert_gt(bytes, 0);
    cr_assert_eq(rb_store_blob_exists(f.store, id1[0]), 0);
    sf_expect_blob(f.store, id2[0], b, sizeof b);
    sf_expect_blob(f.store, id2[1], c, sizeof c);
    expect_clean(f.store);
    rb_store *s2h;
    cr_assert_eq(rb_store_open(&s2h, f.dir, 0), 0);
    cr_assert_eq(rb_store_blob_exists(s2h, id1[0]), 0);
    sf_expect_blob(s2h, id2[0], b, sizeof b);
    expect_clean(s2h);
    rb_store_close(s2h);
    free(orphan);
}

Test(store_maintenance, gc_waits_for_no_snapshot_in_progress)
{
    rb_store_txn *txn;
    cr_assert_eq(rb_store_txn_begin(f.store, &txn), 0);
    char id[RB_BLOB_ID_SIZE];
    cr_assert_eq(rb_store_put(txn, "pending", 7, id), 0);
    rb_store *other;
    cr_assert_eq(rb_store_open(&other, f.dir, 0), 0);
    cr_assert_eq(rb_store_gc(other, NULL, NULL), RB_ELOCKED);
    cr_assert(strstr(sf_msg(), "snapshot is being taken"), "%s", sf_msg());
    cJSON *doc = cJSON_CreateObject();
    cr_assert_eq(rb_store_snapshot_commit(txn, "during", doc), 0, "%s", sf_msg());
    cJSON_Delete(doc);
    cr_assert_eq(rb_store_gc(other, NULL, NULL), 0, "%s", sf_msg());
    sf_expect_blob(other, id, "pending", 7);
    rb_store_close(other);
}

static void die(const char *what)
{
    fprintf(stderr, "writer: %s: %s\n", what, sf_msg());
    _exit(1);
}

static void commit_forever(const char *dir, unsigned first)
{
    rb_store *s;
    if (rb_store_open(&s, dir, 0) < 0)
        die("open");
    char *buf = malloc(1 << 20);
    for (unsigned i = first;; i++) {
        rb_store_txn *txn;
        if (rb_store_txn_begin(s, &txn) < 0)
            die("begin");
        for (unsigned k = 0; k < 40; k++) {
            sf_fill(buf, 200000, i * 100 + k);
            char id[RB_BLOB_ID_SIZE];
            if (rb_store_put(txn, buf, 200000, id) < 0)
                die("put");
        }
        char name[32];
        snprintf(name, sizeof name, "s%u", i);
        cJSON *doc = cJSON_CreateObject();
        cJSON_AddNumberToObject(doc, "created_at", i);
        if (rb_store_snapshot_commit(txn, name, doc) < 0)
            die("commit");
        cJSON_Delete(doc);
    }
}

Test(store_maintenance, killed_writer_leaves_no_partial_snapshot)
{
    for (int round = 0; round < 4; round++) {
        pid_t pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0)
            commit_forever(f.dir, (unsigned)round * 10000);
        struct timespec ts = {0, 150000000 + round * 70000000};
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        int status;
        waitpid(pid, &status, 0);
        cr_assert(WIFSIGNALED(status), "the writer failed before it was killed");
        /* Every visible snapshot is complete. */
        rb_store *s;
        cr_assert_eq(rb_store_open(&s, f.dir, 0), 0);
        expect_clean(s);
        char **ids;
        size_t n;
        cr_assert_eq(rb_store_snapshot_list(s, &ids, &n), 0);
        for (size_t i = 0; i < n; i++) {
            cJSON *doc;
            cr_assert_eq(rb_store_snapshot_read(s, ids[i], &doc), 0);
            cr_assert_eq(
                cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "store"), "blobs")->valuedouble, 40);
            cJSON_Delete(doc);
        }
        rb_store_free_list(ids, n);
        cr_assert_eq(rb_store_gc(s, NULL, NULL), 0, "%s", sf_msg());
        expect_clean(s);
        rb_store_close(s);
        /* Nothing but indexed packs remain after gc. */
        rbt_run r = rbt_sh("cd %s/data/packs && for p in *.pack; do [ -e \"$p\" ] || continue; "
                           "[ -e \"${p%%.pack}.idx\" ] || echo \"$p\"; done; ls -a | grep tmp",
                           f.dir);
        cr_assert_str_eq(r.out, "", "left after gc: %s", r.out);
        rbt_run_free(&r);
    }
}

Test(store_maintenance, gc_drops_dead_records_from_a_mostly_live_pack)
{
    size_t big = 200000;
    char *l = malloc(big), s[1000];
    sf_fill(l, big, 11);
    sf_fill(s, sizeof s, 12);
    const void *bufs[] = {l, s};
    size_t lens[] = {big, sizeof s};
    char ids[2][RB_BLOB_ID_SIZE];
    sf_snapshot(&f, "both", 1, bufs, lens, 2, ids);
    char *pack = only_pack();
    rb_store_txn *txn;
    cr_assert_eq(rb_store_txn_begin(f.store, &txn), 0);
    cr_assert_eq(rb_store_ref(txn, ids[0]), 0);
    cJSON *doc = cJSON_CreateObject();
    cr_assert_eq(rb_store_snapshot_commit(txn, "big-only", doc), 0, "%s", sf_msg());
    cJSON_Delete(doc);
    cr_assert_eq(rb_store_snapshot_delete(f.store, "both"), 0);
    uint64_t blobs;
    cr_assert_eq(rb_store_gc(f.store, &blobs, NULL), 0, "%s", sf_msg());
    /* the small blob and the refs blob of "both" */
    cr_assert_eq(blobs, 2, "freed %llu", (unsigned long long)blobs);
    cr_assert_eq(access(pack, F_OK), 0, "a mostly live pack was rewritten");
    cr_assert_eq(rb_store_blob_exists(f.store, ids[1]), 0);
    sf_expect_blob(f.store, ids[0], l, big);
    expect_clean(f.store);
    rb_store *s2;
    cr_assert_eq(rb_store_open(&s2, f.dir, 0), 0);
    cr_assert_eq(rb_store_blob_exists(s2, ids[1]), 0);
    sf_expect_blob(s2, ids[0], l, big);
    rb_store_close(s2);
    free(pack);
    free(l);
}

Test(store_maintenance, more_packs_than_the_process_may_open_and_gc_merges_them)
{
    /* Every snapshot below writes its own pack; the process may hold far
     * fewer descriptors than that. */
    struct rlimit rl = {150, 150};
    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
    char ids[200][RB_BLOB_ID_SIZE];
    for (int i = 0; i < 200; i++) {
        char data[64], name[16];
        snprintf(data, sizeof data, "blob number %d", i);
        snprintf(name, sizeof name, "p%d", i);
        const void *bufs[] = {data};
        size_t len = strlen(data);
        sf_snapshot(&f, name, i, bufs, &len, 1, &ids[i]);
    }
    rb_store *s2;
    cr_assert_eq(rb_store_open(&s2, f.dir, 0), 0);
    expect_clean(s2);
    for (int i = 0; i < 200; i++) {
        char data[64];
        snprintf(data, sizeof data, "blob number %d", i);
        sf_expect_blob(s2, ids[i], data, strlen(data));
    }
    /* gc merges the small packs: one pack, everything still there. */
    uint64_t freed;
    cr_assert_eq(rb_store_gc(s2, &freed, NULL), 0, "%s", sf_msg());
    cr_assert_eq(freed, 0);
    free(only_pack());
    rb_store_close(s2);
    cr_assert_eq(rb_store_open(&s2, f.dir, 0), 0);
    expect_clean(s2);
    for (int i = 0; i < 200; i++) {
        char data[64];
        snprintf(data, sizeof data, "blob number %d", i);
        sf_expect_blob(s2, ids[i], data, strlen(data));
    }
    rb_store_close(s2);
}

Test(store_maintenance, a_handle_opened_before_gc_cannot_reference_what_gc_removed)
{
    const void *bufs[] = {"soon gone"};
    size_t len = 9;
    char ids[1][RB_BLOB_ID_SIZE];
    sf_snapshot(&f, "doomed", 1, bufs, &len, 1, ids);
    rb_store *early;
    cr_assert_eq(rb_store_open(&early, f.dir, 0), 0);
    cr_assert_eq(rb_store_blob_exists(early, ids[0]), 1);
    sleep(2);
    cr_assert_eq(rb_store_snapshot_delete(f.store, "doomed"), 0);
    cr_assert_eq(rb_store_gc(f.store, NULL, NULL), 0, "%s", sf_msg());
    rb_store_txn *txn;
    cr_assert_eq(rb_store_txn_begin(early, &txn), 0);
    cr_assert_eq(rb_store_ref(txn, ids[0]), RB_ENOTFOUND);
    rb_store_txn_abort(txn);
    rb_store_close(early);
}
