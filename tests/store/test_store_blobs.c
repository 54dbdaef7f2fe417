#include <criterion/criterion.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "rb_error.h"
#include "rbtest.h"
#include "store_fixture.h"

#define CHUNK (4u * 1024u * 1024u)

static sf_store f;

static void setup(void)
{
    sf_open(&f);
}

static void teardown(void)
{
    sf_close(&f);
}

TestSuite(store_blobs, .init = setup, .fini = teardown);

Test(store_blobs, round_trip_sizes_through_put_writer_and_fd)
{
    const size_t sizes[] = {0, 1, 31, 32, 4096, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 17};
    const size_t n = sizeof sizes / sizeof *sizes;
    uint8_t *data[9];
    char put_ids[9][RB_BLOB_ID_SIZE];
    rb_store_txn *txn;
    cr_assert_eq(rb_store_txn_begin(f.store, &txn), 0);
    for (size_t i = 0; i < n; i++) {
        data[i] = malloc(sizes[i] + 1);
        sf_fill(data[i], sizes[i], i + 1);
        cr_assert_eq(rb_store_put(txn, data[i], sizes[i], put_ids[i]), 0, "%s", sf_msg());
        /* The same content through a writer in odd-sized pieces, and
         * through a file descriptor, gets the same id. */
        rb_store_writer *w;
        cr_assert_eq(rb_store_writer_open(txn, &w), 0);
        for (size_t off = 0; off < sizes[i]; off += 777777) {
            size_t len = sizes[i] - off < 777777 ? sizes[i] - off : 777777;
            cr_assert_eq(rb_store_writer_write(w, data[i] + off, len), 0);
        }
        char wid[RB_BLOB_ID_SIZE];
        cr_assert_eq(rb_store_writer_commit(w, wid), 0, "%s", sf_msg());
        cr_assert_str_eq(wid, put_ids[i], "size %zu", sizes[i]);
        char *path = rbt_fmt("%s/in.%zu", f.tmp, i);
        int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
        cr_assert_eq(write(fd, data[i], sizes[i]), (ssize_t)sizes[i]);
        lseek(fd, 0, SEEK_SET);
        char fid[RB_BLOB_ID_SIZE];
        cr_assert_eq(rb_store_put_fd(txn, fd, fid), 0, "%s", sf_msg());
        close(fd);
        free(path);
        cr_assert_str_eq(fid, put_ids[i]);
    }
    /* sha256 of nothing */
    cr_assert_str_eq(put_ids[0],
                     "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    cJSON *doc = cJSON_CreateObject();
    cr_assert_eq(rb_store_snapshot_commit(txn, "sizes", doc), 0, "%s", sf_msg());
    cJSON_Delete(doc);

    /* A fresh handle reads everything back from disk. */
    rb_store *s2;
    cr_assert_eq(rb_store_open(&s2, f.dir, 0), 0);
    for (size_t i = 0; i < n; i++) {
        sf_expect_blob(s2, put_ids[i], data[i], sizes[i]);
        char *path = rbt_fmt("%s/out.%zu", f.tmp, i);
        int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
        cr_assert_eq(rb_store_get_fd(s2, put_ids[i], fd), 0, "%s", sf_msg());
        close(fd);
        char *cmp = rbt_fmt("cmp -s %s/in.%zu %s", f.tmp, i, path);
        rbt_run r = rbt_sh("%s", cmp);
        cr_assert_eq(r.code, 0, "get_fd of %zu bytes differs", sizes[i]);
        rbt_run_free(&r);
        free(cmp);
        free(path);
        free(data[i]);
    }
    rb_store_close(s2);
}

Test(store_blobs, same_content_in_two_snapshots_is_stored_once)
{
    size_t len = 1 << 20;
    uint8_t *a = malloc(len);
    sf_fill(a, len, 7);
    const void *bufs[] = {a};
    char ids1[1][RB_BLOB_ID_SIZE], ids2[1][RB_BLOB_ID_SIZE];
    sf_snapshot(&f, "one", 1, bufs, &len, 1, ids1);
    rb_store_stats st1;
    cr_assert_eq(rb_store_stats_get(f.store, &st1), 0);
    sf_snapshot(&f, "two", 2, bufs, &len, 1, ids2);
    rb_store_stats st2;
    cr_assert_eq(rb_store_stats_get(f.store, &st2), 0);
    cr_assert_str_eq(ids1[0], ids2[0]);
    cr_assert_eq(st2.snapshots, 2);
    cr_assert_eq(st2.blobs, st1.blobs, "a second copy of the content was stored");
    cr_assert_eq(st2.stored_bytes, st1.stored_bytes);
    cr_assert_eq(st2.original_bytes, 2 * len);
    /* Random data does not compress: kept as is, not bigger. */
    cr_assert_leq(st2.stored_bytes, len + 4096);
    free(a);
}

Test(store_blobs, compressible_content_is_stored_compressed)
{
    size_t len = 2 << 20;
    char *a = malloc(len);
    for (size_t i = 0; i < len; i++)
        a[i] = "rollback host\n"[i % 14];
    const void *bufs[] = {a};
    sf_snapshot(&f, "text", 1, bufs, &len, 1, NULL);
    rb_store_stats st;
    cr_assert_eq(rb_store_stats_get(f.store, &st), 0);
    cr_assert_lt(st.stored_bytes, len / 50, "stored %llu bytes",
                 (unsigned long long)st.stored_bytes);
    cr_assert_eq(st.original_bytes, len);
    free(a);
}

typedef struct worker {
    rb_store_txn *txn;
    int seed;
    char ids[500][RB_BLOB_ID_SIZE];
    int rc;
} worker;

static void *put_many(void *arg)
{
    worker *w = arg;
    for (int i = 0; i < 500 && w->rc == 0; i++) {
        /* Half the blobs are shared between the threads. */
        char buf[3000];
        uint64_t seed = i % 2 ? (uint64_t)i : (uint64_t)(w->seed * 100000 + i);
        sf_fill(buf, sizeof buf - (size_t)(i % 100), seed);
        w->rc = rb_store_put(w->txn, buf, sizeof buf - (size_t)(i % 100), w->ids[i]);
    }
    return NULL;
}

Test(store_blobs, concurrent_writers_from_threads)
{
    rb_store_txn *txn;
    cr_assert_eq(rb_store_txn_begin(f.store, &txn), 0);
    worker w[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        memset(&w[i], 0, sizeof w[i]);
        w[i].txn = txn;
        w[i].seed = i + 1;
        pthread_create(&th[i], NULL, put_many, &w[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        cr_assert_eq(w[i].rc, 0, "thread %d: %s", i, sf_msg());
    }
    cJSON *doc = cJSON_CreateObject();
    cr_assert_eq(rb_store_snapshot_commit(txn, "threads", doc), 0, "%s", sf_msg());
    cJSON_Delete(doc);
    rb_store_stats st;
    cr_assert_eq(rb_store_stats_get(f.store, &st), 0);
    /* 4 x 250 distinct + 250 shared, plus the refs blob. */
    cr_assert_eq(st.blobs, 4 * 250 + 250 + 1, "%llu blobs", (unsigned long long)st.blobs);
    rb_store *s2;
    cr_assert_eq(rb_store_open(&s2, f.dir, 0), 0);
    for (int t = 0; t < 4; t++) {
        for (int i = 0; i < 500; i += 7) {
            char buf[3000];
            uint64_t seed = i % 2 ? (uint64_t)i : (uint64_t)(w[t].seed * 100000 + i);
            sf_fill(buf, sizeof buf - (size_t)(i % 100), seed);
            sf_expect_blob(s2, w[t].ids[i], buf, sizeof buf - (size_t)(i % 100));
        }
    }
    rb_store_close(s2);
}

static long max_rss_kib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

Test(store_blobs, large_stream_uses_bounded_memory)
{
    /* 256 MiB through a writer in 1 MiB pieces, then back through a
     * reader: neither may hold the stream in memory. */
    const size_t piece = 1 << 20, pieces = 256;
    uint8_t *buf = malloc(piece);
    long before = max_rss_kib();
    rb_store_txn *txn;
    cr_assert_eq(rb_store_txn_begin(f.store, &txn), 0);
    rb_store_writer *w;
    cr_assert_eq(rb_store_writer_open(txn, &w), 0);
    for (size_t i = 0; i < pieces; i++) {
        sf_fill(buf, piece, i);
        cr_assert_eq(rb_store_writer_write(w, buf, piece), 0, "%s", sf_msg());
    }
    char id[RB_BLOB_ID_SIZE];
    cr_assert_eq(rb_store_writer_commit(w, id), 0, "%s", sf_msg());
    cJSON *doc = cJSON_CreateObject();
    cr_assert_eq(rb_store_snapshot_commit(txn, "big", doc), 0, "%s", sf_msg());
    cJSON_Delete(doc);
    cr_assert_eq(rb_store_blob_size(f.store, id), (int64_t)(piece * pieces));
    rb_store_reader *r;
    cr_assert_eq(rb_store_reader_open(f.store, id, &r), 0);
    uint8_t *expect = malloc(piece);
    for (size_t i = 0; i < pieces; i++) {
        sf_fill(expect, piece, i);
        size_t got = 0;
        while (got < piece) {
            int64_t n = rb_store_reader_read(r, buf + got, piece - got);
            cr_assert_gt(n, 0, "read: %s", sf_msg());
            got += (size_t)n;
        }
        cr_assert_eq(memcmp(buf, expect, piece), 0, "piece %zu differs", i);
    }
    cr_assert_eq(rb_store_reader_read(r, buf, piece), 0, "%s", sf_msg());
    rb_store_reader_close(r);
    long grew_mib = (max_rss_kib() - before) / 1024;
    cr_assert_lt(grew_mib, 128, "a 256 MiB stream grew the process by %ld MiB", grew_mib);
    free(expect);
    free(buf);
}

Test(store_blobs, ref_of_an_unknown_blob_is_not_found)
{
    rb_store_txn *txn;
    cr_assert_eq(rb_store_txn_begin(f.store, &txn), 0);
    cr_assert_eq(
        rb_store_ref(txn, "0000000000000000000000000000000000000000000000000000000000000000"),
        RB_ENOTFOUND);
    cr_assert_eq(rb_store_ref(txn, "xyz"), RB_EINVAL);
    char buf[100];
    sf_fill(buf, sizeof buf, 3);
    char id[RB_BLOB_ID_SIZE];
    cr_assert_eq(rb_store_put(txn, buf, sizeof buf, id), 0);
    rb_store_txn_abort(txn);
    /* What an aborted transaction wrote is gone. */
    char *packs = rbt_fmt("%s/data/packs", f.dir);
    cr_assert_eq(sf_count_files(packs), 0);
    free(packs);
    cr_assert_eq(rb_store_blob_exists(f.store, id), 0);
}

Test(store_blobs, blobs_are_readable_before_their_snapshot_commits)
{
    rb_store_txn *txn;
    cr_assert_eq(rb_store_txn_begin(f.store, &txn), 0);
    char small[500], id[RB_BLOB_ID_SIZE];
    sf_fill(small, sizeof small, 77);
    cr_assert_eq(rb_store_put(txn, small, sizeof small, id), 0);
    /* Still in the transaction's write buffer, not in the pack file. */
    cr_assert_eq(rb_store_blob_exists(f.store, id), 1);
    sf_expect_blob(f.store, id, small, sizeof small);
    rb_store_txn_abort(txn);
    cr_assert_eq(rb_store_blob_exists(f.store, id), 0);
}

typedef struct feeder {
    int fd;
    size_t len;
} feeder;

static void *feed(void *arg)
{
    feeder *fe = arg;
    char *buf = malloc(fe->len);
    sf_fill(buf, fe->len, 99);
    size_t off = 0;
    while (off < fe->len) {
        ssize_t n = write(fe->fd, buf + off, fe->len - off);
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    close(fe->fd);
    free(buf);
    return NULL;
}

Test(store_blobs, put_fd_reads_a_pipe_to_its_end)
{
    const size_t lens[] = {1000, (9u << 20) + 5};
    for (int k = 0; k < 2; k++) {
        int p[2];
        cr_assert_eq(pipe(p), 0);
        feeder fe = {p[1], lens[k]};
        pthread_t th;
        pthread_create(&th, NULL, feed, &fe);
        rb_store_txn *txn;
        cr_assert_eq(rb_store_txn_begin(f.store, &txn), 0);
        char id[RB_BLOB_ID_SIZE];
        cr_assert_eq(rb_store_put_fd(txn, p[0], id), 0, "%s", sf_msg());
        pthread_join(th, NULL);
        close(p[0]);
        char *expect = malloc(lens[k]);
        sf_fill(expect, lens[k], 99);
        sf_expect_blob(f.store, id, expect, lens[k]);
        free(expect);
        rb_store_txn_abort(txn);
    }
}
