#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "rb_error.h"
#include "rbtest.h"
#include "store_fixture.h"

/* A full disk: the store sits on a 4 MiB tmpfs. */

static char *tmp, *mnt;

static void setup(void)
{
    tmp = rbt_tmpdir();
    mnt = rbt_fmt("%s/small", tmp);
    rbt_run r = rbt_sh("mkdir -p %s", mnt);
    rbt_run_free(&r);
    if (mount("tmpfs", mnt, "tmpfs", 0, "size=4m,mode=0700") < 0) {
        rbt_rmtree(tmp);
        free(mnt);
        free(tmp);
        tmp = mnt = NULL;
        cr_skip_test("cannot mount a small tmpfs here (needs root): full-disk test skipped");
    }
}

static void teardown(void)
{
    if (!mnt)
        return;
    umount2(mnt, MNT_DETACH);
    rbt_rmtree(tmp);
    free(mnt);
    free(tmp);
}

TestSuite(store_nospace, .init = setup, .fini = teardown);

Test(store_nospace, full_disk_fails_cleanly_and_leaves_the_store_consistent)
{
    char *dir = rbt_fmt("%s/store", mnt);
    rb_store *s;
    cr_assert_eq(rb_store_open(&s, dir, RB_STORE_CREATE), 0, "%s", sf_msg());
    const void *small[] = {"fits"};
    size_t len = 4;
    rb_store_txn *txn;
    cr_assert_eq(rb_store_txn_begin(s, &txn), 0);
    char fits[RB_BLOB_ID_SIZE], id[RB_BLOB_ID_SIZE];
    cr_assert_eq(rb_store_put(txn, small[0], len, fits), 0);
    cJSON *doc = cJSON_CreateObject();
    cr_assert_eq(rb_store_snapshot_commit(txn, "before", doc), 0, "%s", sf_msg());
    cJSON_Delete(doc);

    size_t big = 6u << 20;
    char *data = malloc(big);
    sf_fill(data, big, 1);
    cr_assert_eq(rb_store_txn_begin(s, &txn), 0);
    int rc = 0;
    for (size_t off = 0; rc == 0 && off < big; off += 1 << 20)
        rc = rb_store_put(txn, data + off, 1 << 20, id);
    if (rc == 0) {
        doc = cJSON_CreateObject();
        rc = rb_store_snapshot_commit(txn, "toobig", doc);
        cJSON_Delete(doc);
    } else {
        rb_store_txn_abort(txn);
    }
    cr_assert_eq(rc, RB_ENOSPC, "rc %d: %s", rc, sf_msg());
    cr_assert(strstr(sf_msg(), "no space left on device"), "%s", sf_msg());
    cr_assert(strstr(sf_msg(), dir), "%s", sf_msg());

    /* The same through one stream, whose chunks are stored by worker
     * threads: their error reaches the caller with its message. */
    cr_assert_eq(rb_store_txn_begin(s, &txn), 0);
    rb_store_writer *w;
    cr_assert_eq(rb_store_writer_open(txn, &w), 0);
    rc = 0;
    for (int round = 0; rc == 0 && round < 3; round++)
        rc = rb_store_writer_write(w, data, big);
    if (rc == 0)
        rc = rb_store_writer_commit(w, id);
    else
        rb_store_writer_abort(w);
    cr_assert_eq(rc, RB_ENOSPC, "rc %d: %s", rc, sf_msg());
    cr_assert(strstr(sf_msg(), "no space left on device"), "%s", sf_msg());
    rb_store_txn_abort(txn);

    cJSON *got;
    cr_assert_eq(rb_store_snapshot_read(s, "toobig", &got), RB_ENOTFOUND);
    cr_assert_eq(rb_store_check(s, NULL, NULL), 0, "%s", sf_msg());
    sf_expect_blob(s, fits, "fits", 4);
    /* The failed snapshot's packs are gone: the space is usable again. */
    cr_assert_eq(rb_store_txn_begin(s, &txn), 0);
    cr_assert_eq(rb_store_put(txn, data, 1 << 20, id), 0, "%s", sf_msg());
    doc = cJSON_CreateObject();
    cr_assert_eq(rb_store_snapshot_commit(txn, "after", doc), 0, "%s", sf_msg());
    cJSON_Delete(doc);
    rb_store_close(s);
    free(data);
    free(dir);
}
