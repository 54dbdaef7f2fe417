#include "store_fixture.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "rb_error.h"
#include "rbtest.h"

void sf_open(sf_store *f)
{
    f->tmp = rbt_tmpdir();
    f->dir = rbt_fmt("%s/store", f->tmp);
    int rc = rb_store_open(&f->store, f->dir, RB_STORE_CREATE);
    cr_assert_eq(rc, 0, "open %s: %s", f->dir, sf_msg());
}

void sf_close(sf_store *f)
{
    rb_store_close(f->store);
    rbt_rmtree(f->tmp);
    free(f->dir);
    free(f->tmp);
}

void sf_fill(void *buf, size_t len, uint64_t seed)
{
    uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
    uint8_t *p = buf;
    for (size_t i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p[i] = (uint8_t)x;
    }
}

void sf_snapshot(sf_store *f, const char *id, double created_at, const void *const *bufs,
                 const size_t *lens, size_t n, char (*ids_out)[RB_BLOB_ID_SIZE])
{
    rb_store_txn *txn;
    cr_assert_eq(rb_store_txn_begin(f->store, &txn), 0, "%s", sf_msg());
    for (size_t i = 0; i < n; i++) {
        char id_buf[RB_BLOB_ID_SIZE];
        cr_assert_eq(rb_store_put(txn, bufs[i], lens[i], id_buf), 0, "%s", sf_msg());
        if (ids_out)
            memcpy(ids_out[i], id_buf, RB_BLOB_ID_SIZE);
    }
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "id", id);
    cJSON_AddStringToObject(doc, "type", "file_system");
    cJSON_AddNumberToObject(doc, "created_at", created_at);
    cJSON_AddStringToObject(doc, "status", "completed");
    int rc = rb_store_snapshot_commit(txn, id, doc);
    cJSON_Delete(doc);
    cr_assert_eq(rc, 0, "commit %s: %s", id, sf_msg());
}

void sf_expect_blob(rb_store *s, const char *id, const void *expect, size_t len)
{
    rb_store_reader *r;
    cr_assert_eq(rb_store_reader_open(s, id, &r), 0, "open %s: %s", id, sf_msg());
    cr_assert_eq(rb_store_blob_size(s, id), (int64_t)len);
    size_t got = 0, cap = 1 << 20;
    uint8_t *buf = malloc(cap);
    for (;;) {
        int64_t n = rb_store_reader_read(r, buf, cap);
        cr_assert_geq(n, 0, "read %s: %s", id, sf_msg());
        if (n == 0)
            break;
        cr_assert_leq(got + (size_t)n, len, "blob %s is longer than expected", id);
        cr_assert_eq(memcmp(buf, (const uint8_t *)expect + got, (size_t)n), 0,
                     "blob %s differs at offset %zu", id, got);
        got += (size_t)n;
    }
    cr_assert_eq(got, len, "blob %s: %zu bytes, expected %zu", id, got, len);
    free(buf);
    rb_store_reader_close(r);
}

size_t sf_count_files(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char *p = rbt_fmt("%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(p, &st) == 0)
            n += S_ISDIR(st.st_mode) ? sf_count_files(p) : 1;
        free(p);
    }
    closedir(d);
    return n;
}

#ifdef __SANITIZE_ADDRESS__
/* A small quarantine keeps the memory-bound test meaningful under ASan. */
const char *__asan_default_options(void);
__attribute__((visibility("default"))) const char *__asan_default_options(void)
{
    return "quarantine_size_mb=16";
}
#endif

const char *sf_msg(void)
{
    return rb_error_last()->message;
}
