/* Store micro-benchmark: the figures behind tools/bench/store_bench.sh.
 *
 *   store_bench DIR [FILES [MEAN_SIZE [STREAM_MIB [THREADS]]]]
 *   store_bench --emit [FILES [MEAN_SIZE]]   the same files as one stream
 *
 * Stores FILES buffers of about MEAN_SIZE bytes (text-like, compressible)
 * from THREADS threads as one snapshot, re-snapshots them with ref only,
 * stores one STREAM_MIB stream through a writer, reads everything back,
 * runs check and prints one line per phase. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "rb_error.h"
#include "rb_store.h"

typedef struct job {
    rb_store_txn *txn;
    size_t first, count, mean;
    char (*ids)[RB_BLOB_ID_SIZE];
    int rc;
    uint64_t bytes;
} job;

static double cpu(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *const words[] = {"config",   "value",     "server", "true",     "false",
                                    "listen",   "    ",      "\n",     "port",     "=",
                                    "{",        "}",         "path",   "/var/lib", "rollback",
                                    "snapshot", "# comment", "0x1f",   "user",     ";"};

#define CORPUS (32u << 20)
static char *corpus;

/* Text-like corpus that zstd -3 compresses about 3x. */
static void make_corpus(void)
{
    corpus = malloc(CORPUS + 64);
    uint64_t x = 88172645463325252ull;
    size_t i = 0;
    while (i < CORPUS) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        char tmp[24];
        const char *w = words[(x >> 8) % 20];
        if ((x & 7) == 0) {
            snprintf(tmp, sizeof tmp, "%u", (unsigned)(x >> 40));
            w = tmp;
        }
        size_t wl = strlen(w);
        memcpy(corpus + i, w, wl);
        i += wl;
    }
}

/* File n: a unique header, then a slice of the corpus. */
static size_t make_file(char *buf, size_t mean, size_t n)
{
    uint64_t x = (n + 1) * 0x9E3779B97F4A7C15ull;
    x ^= x >> 29;
    size_t len = mean / 2 + (size_t)(x % mean);
    int h = snprintf(buf, 64, "file %zu\n", n);
    size_t off = (size_t)((x >> 17) % (CORPUS - len));
    memcpy(buf + h, corpus + off, len - (size_t)h);
    return len;
}

static void *put_files(void *arg)
{
    job *j = arg;
    char *buf = malloc(2 * j->mean + 32);
    for (size_t i = j->first; i < j->first + j->count && j->rc == 0; i++) {
        size_t len = make_file(buf, j->mean, i);
        j->bytes += len;
        j->rc = rb_store_put(j->txn, buf, len, j->ids[i]);
    }
    free(buf);
    return NULL;
}

static int fail(const char *what)
{
    fprintf(stderr, "store_bench: %s: %s\n", what, rb_error_last()->message);
    return 1;
}

int main(int argc, char **argv)
{
    make_corpus();
    if (argc >= 2 && strcmp(argv[1], "--emit") == 0) {
        /* The same files as one stream, for comparing with zstd itself. */
        size_t files = argc > 2 ? strtoul(argv[2], NULL, 10) : 68000;
        size_t mean = argc > 3 ? strtoul(argv[3], NULL, 10) : 13000;
        char *buf = malloc(2 * mean + 64);
        for (size_t i = 0; i < files; i++)
            fwrite(buf, 1, make_file(buf, mean, i), stdout);
        free(buf);
        free(corpus);
        return 0;
    }
    if (argc < 2) {
        fprintf(stderr, "usage: store_bench DIR [FILES [MEAN_SIZE [STREAM_MIB [THREADS]]]]\n");
        return 2;
    }
    size_t files = argc > 2 ? strtoul(argv[2], NULL, 10) : 68000;
    size_t mean = argc > 3 ? strtoul(argv[3], NULL, 10) : 13000;
    size_t stream_mib = argc > 4 ? strtoul(argv[4], NULL, 10) : 1024;
    size_t nthreads = argc > 5 ? strtoul(argv[5], NULL, 10) : 2;
    if (nthreads < 1 || nthreads > 64)
        nthreads = 2;
    rb_store *s;
    if (rb_store_open(&s, argv[1], RB_STORE_CREATE) < 0)
        return fail("open");
    char(*ids)[RB_BLOB_ID_SIZE] = calloc(files ? files : 1, RB_BLOB_ID_SIZE);

    double t0 = now(), c0 = cpu(), t1, c1;
    rb_store_txn *txn;
    if (rb_store_txn_begin(s, &txn) < 0)
        return fail("begin");
    job jobs[64];
    pthread_t th[64];
    uint64_t bytes = 0;
    for (size_t t = 0; t < nthreads; t++) {
        jobs[t] = (job){txn,
                        files * t / nthreads,
                        files * (t + 1) / nthreads - files * t / nthreads,
                        mean,
                        ids,
                        0,
                        0};
        pthread_create(&th[t], NULL, put_files, &jobs[t]);
    }
    for (size_t t = 0; t < nthreads; t++) {
        pthread_join(th[t], NULL);
        if (jobs[t].rc < 0)
            return fail("put");
        bytes += jobs[t].bytes;
    }
    cJSON *doc = cJSON_CreateObject();
    if (rb_store_snapshot_commit(txn, "bench-full", doc) < 0)
        return fail("commit");
    cJSON_Delete(doc);
    t1 = now();
    c1 = cpu();
    printf("put %zu files (%.1f MiB) from %zu threads + commit: %.3f s wall, %.3f s cpu (%.0f "
           "MiB/s)\n",
           files, (double)bytes / 1048576, nthreads, t1 - t0, c1 - c0,
           (double)bytes / 1048576 / (t1 - t0));

    rb_store *s2;
    if (rb_store_open(&s2, argv[1], 0) < 0)
        return fail("reopen");
    t0 = now();
    c0 = cpu();
    if (rb_store_txn_begin(s2, &txn) < 0)
        return fail("begin");
    double c_begin = cpu();
    for (size_t i = 0; i < files; i++)
        if (rb_store_ref(txn, ids[i]) < 0)
            return fail("ref");
    double c_refs = cpu();
    doc = cJSON_CreateObject();
    if (rb_store_snapshot_commit(txn, "bench-incr", doc) < 0)
        return fail("commit");
    cJSON_Delete(doc);
    t1 = now();
    c1 = cpu();
    printf("ref %zu blobs + commit (fresh handle): %.3f s wall, %.3f s cpu: index load %.3f, "
           "refs %.3f, commit %.3f\n",
           files, t1 - t0, c1 - c0, c_begin - c0, c_refs - c_begin, c1 - c_refs);

    t0 = now();
    c0 = cpu();
    char *buf = malloc((1 << 20) + 16384);
    for (size_t i = 0; i < files; i++) {
        rb_store_reader *r;
        if (rb_store_reader_open(s2, ids[i], &r) < 0)
            return fail("reader");
        int64_t n;
        while ((n = rb_store_reader_read(r, buf, 1 << 20)) > 0)
            ;
        rb_store_reader_close(r);
        if (n < 0)
            return fail("read");
    }
    t1 = now();
    c1 = cpu();
    printf("read back %zu files (verified): %.3f s wall, %.3f s cpu\n", files, t1 - t0, c1 - c0);

    if (stream_mib > 0) {
        t0 = now();
        c0 = cpu();
        c0 = cpu();
        if (rb_store_txn_begin(s2, &txn) < 0)
            return fail("begin");
        rb_store_writer *w;
        if (rb_store_writer_open(txn, &w) < 0)
            return fail("writer");
        for (size_t m = 0; m < stream_mib; m++) {
            size_t off = 0;
            while (off < (1u << 20))
                off += make_file(buf + off, 4096, m * 1000 + off);
            if (rb_store_writer_write(w, buf, 1 << 20) < 0)
                return fail("write");
        }
        char id[RB_BLOB_ID_SIZE];
        if (rb_store_writer_commit(w, id) < 0)
            return fail("writer commit");
        doc = cJSON_CreateObject();
        if (rb_store_snapshot_commit(txn, "bench-stream", doc) < 0)
            return fail("commit");
        cJSON_Delete(doc);
        t1 = now();
        c1 = cpu();
        printf("stream %zu MiB through one writer + commit: %.3f s wall, %.3f s cpu (%.0f MiB/s)\n",
               stream_mib, t1 - t0, c1 - c0, (double)stream_mib / (t1 - t0));
        t0 = now();
        c0 = cpu();
        c0 = cpu();
        rb_store_reader *r;
        if (rb_store_reader_open(s2, id, &r) < 0)
            return fail("reader");
        int64_t n;
        while ((n = rb_store_reader_read(r, buf, 1 << 20)) > 0)
            ;
        rb_store_reader_close(r);
        if (n < 0)
            return fail("read");
        t1 = now();
        c1 = cpu();
        printf("read back the stream (verified): %.3f s wall, %.3f s cpu (%.0f MiB/s)\n", t1 - t0,
               c1 - c0, (double)stream_mib / (t1 - t0));
    }
    free(buf);

    t0 = now();
    c0 = cpu();
    if (rb_store_check(s2, NULL, NULL) < 0)
        return fail("check");
    t1 = now();
    c1 = cpu();
    printf("check: %.3f s wall, %.3f s cpu\n", t1 - t0, c1 - c0);
    rb_store_stats st;
    rb_store_stats_get(s2, &st);
    printf("store: %llu blobs, %.1f MiB stored, %.1f MiB original\n", (unsigned long long)st.blobs,
           (double)st.stored_bytes / 1048576, (double)st.original_bytes / 1048576);
    rb_store_close(s2);
    rb_store_close(s);
    free(ids);
    free(corpus);
    return 0;
}
