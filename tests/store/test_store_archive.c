#include <archive.h>
#include <archive_entry.h>
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
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

TestSuite(store_archive, .init = setup, .fini = teardown);

typedef struct entry {
    const char *name;
    unsigned type; /* AE_IFREG, AE_IFLNK, AE_IFCHR, AE_IFDIR; 0 = hard link */
    const char *data;
    const char *link;
} entry;

static void write_archive(const char *path, const entry *entries, size_t n)
{
    struct archive *a = archive_write_new();
    archive_write_add_filter_zstd(a);
    archive_write_set_format_pax_restricted(a);
    cr_assert_eq(archive_write_open_filename(a, path), ARCHIVE_OK);
    for (size_t i = 0; i < n; i++) {
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, entries[i].name);
        archive_entry_set_perm(e, 0600);
        size_t len = entries[i].data ? strlen(entries[i].data) : 0;
        if (entries[i].type == 0) {
            archive_entry_set_filetype(e, AE_IFREG);
            archive_entry_set_hardlink(e, entries[i].link);
        } else {
            archive_entry_set_filetype(e, entries[i].type);
            if (entries[i].type == AE_IFLNK)
                archive_entry_set_symlink(e, entries[i].link);
            if (entries[i].type == AE_IFCHR)
                archive_entry_set_rdev(e, makedev(1, 3));
            if (entries[i].type == AE_IFREG)
                archive_entry_set_size(e, (la_int64_t)len);
        }
        cr_assert_eq(archive_write_header(a, e), ARCHIVE_OK, "%s", archive_error_string(a));
        if (len)
            archive_write_data(a, entries[i].data, len);
        archive_entry_free(e);
    }
    archive_write_close(a);
    archive_write_free(a);
}

static char *sha_hex(const char *data)
{
    rb_store *s;
    char *dir = rbt_fmt("%s/scratch", f.tmp);
    cr_assert_eq(rb_store_open(&s, dir, RB_STORE_CREATE), 0);
    rb_store_txn *txn;
    cr_assert_eq(rb_store_txn_begin(s, &txn), 0);
    char *id = malloc(RB_BLOB_ID_SIZE);
    cr_assert_eq(rb_store_put(txn, data, strlen(data), id), 0);
    rb_store_txn_abort(txn);
    rb_store_close(s);
    rbt_rmtree(dir);
    free(dir);
    return id;
}

Test(store_archive, export_import_round_trip)
{
    size_t big = (9u << 20) + 3;
    char *data = malloc(big);
    sf_fill(data, big, 5);
    const void *bufs[] = {data, "", "x", "compressible compressible compressible compressible"};
    size_t lens[] = {big, 0, 1, 51};
    char ids[4][RB_BLOB_ID_SIZE];
    sf_snapshot(&f, "orig", 1729123456, bufs, lens, 4, ids);
    char *arch = rbt_fmt("%s/orig.tar.zst", f.tmp);
    cr_assert_eq(rb_store_export(f.store, "orig", arch), 0, "%s", sf_msg());
    struct stat st;
    cr_assert_eq(stat(arch, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600);
    rbt_run r = rbt_sh("tar --zstd -tf %s | sort", arch);
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_assert(strstr(r.out, "metadata.json\n"), "%s", r.out);
    cr_assert(strstr(r.out, ids[0]), "%s", r.out);
    rbt_run_free(&r);

    char *dir2 = rbt_fmt("%s/second", f.tmp);
    rb_store *s2;
    cr_assert_eq(rb_store_open(&s2, dir2, RB_STORE_CREATE), 0);
    char *got = NULL;
    cr_assert_eq(rb_store_import(s2, arch, &got), 0, "%s", sf_msg());
    cr_assert_str_eq(got, "orig");
    free(got);
    cJSON *a, *b;
    cr_assert_eq(rb_store_snapshot_read(f.store, "orig", &a), 0);
    cr_assert_eq(rb_store_snapshot_read(s2, "orig", &b), 0);
    cr_assert(cJSON_Compare(a, b, 1), "imported document differs");
    cJSON_Delete(a);
    cJSON_Delete(b);
    for (int i = 0; i < 4; i++)
        sf_expect_blob(s2, ids[i], bufs[i], lens[i]);
    cr_assert_eq(rb_store_check(s2, NULL, NULL), 0, "%s", sf_msg());

    /* Never over an existing snapshot, and nothing left behind. */
    char *packs = rbt_fmt("%s/data/packs", dir2);
    size_t before = sf_count_files(packs);
    cr_assert_eq(rb_store_import(s2, arch, &got), RB_EEXISTS);
    cr_assert(strstr(sf_msg(), "'orig' already exists"), "%s", sf_msg());
    cr_assert_eq(sf_count_files(packs), before);
    free(packs);
    rb_store_close(s2);
    free(dir2);
    free(arch);
    free(data);
}

static void expect_refused(const entry *entries, size_t n, int code, const char *needle)
{
    char *arch = rbt_fmt("%s/hostile.tar.zst", f.tmp);
    write_archive(arch, entries, n);
    char *packs = rbt_fmt("%s/data/packs", f.dir);
    size_t before = sf_count_files(f.tmp);
    char *got = NULL;
    int rc = rb_store_import(f.store, arch, &got);
    cr_assert_eq(rc, code, "import returned %d: %s", rc, sf_msg());
    cr_assert(strstr(sf_msg(), needle), "message: %s", sf_msg());
    cr_assert_null(got);
    cr_assert_eq(sf_count_files(packs), 0, "the refused import left packs");
    cr_assert_eq(sf_count_files(f.tmp), before, "the refused import left files");
    char **ids;
    size_t count;
    cr_assert_eq(rb_store_snapshot_list(f.store, &ids, &count), 0);
    cr_assert_eq(count, 0);
    rb_store_free_list(ids, count);
    unlink(arch);
    free(packs);
    free(arch);
}

#define META "{\"id\":\"hostile\",\"store\":{\"refs\":\"00\"}}"

Test(store_archive, refuses_absolute_paths)
{
    char *target = rbt_fmt("%s/abs-target", f.tmp);
    entry e[] = {{"metadata.json", AE_IFREG, META, NULL}, {target, AE_IFREG, "x", NULL}};
    expect_refused(e, 2, RB_EINVAL, "has an absolute path");
    cr_assert_eq(access(target, F_OK), -1);
    free(target);
}

Test(store_archive, refuses_dotdot_traversal)
{
    entry e[] = {{"metadata.json", AE_IFREG, META, NULL},
                 {"blobs/../../escaped", AE_IFREG, "x", NULL}};
    expect_refused(e, 2, RB_EINVAL, "contains '..'");
    char *p = rbt_fmt("%s/escaped", f.tmp);
    cr_assert_eq(access(p, F_OK), -1);
    free(p);
}

Test(store_archive, refuses_links_and_devices)
{
    char *hex = sha_hex("x");
    char *name = rbt_fmt("blobs/%s", hex);
    entry sym[] = {{"metadata.json", AE_IFREG, META, NULL}, {name, AE_IFLNK, NULL, "/etc/passwd"}};
    expect_refused(sym, 2, RB_EINVAL, "is a symbolic link");
    entry hard[] = {{"metadata.json", AE_IFREG, META, NULL}, {name, 0, NULL, "metadata.json"}};
    expect_refused(hard, 2, RB_EINVAL, "is a hard link");
    entry dev[] = {{"metadata.json", AE_IFREG, META, NULL}, {name, AE_IFCHR, NULL, NULL}};
    expect_refused(dev, 2, RB_EINVAL, "is a device");
    free(name);
    free(hex);
}

Test(store_archive, refuses_unknown_entries_and_bad_ids)
{
    entry unknown[] = {{"metadata.json", AE_IFREG, META, NULL},
                       {"notes.txt", AE_IFREG, "hi", NULL}};
    expect_refused(unknown, 2, RB_EINVAL, "'notes.txt' is unknown");
    entry badid[] = {
        {"metadata.json", AE_IFREG, "{\"id\":\"../evil\",\"store\":{\"refs\":\"00\"}}", NULL}};
    expect_refused(badid, 1, RB_EINVAL, "invalid snapshot id '../evil'");
    entry nometa[] = {{"blobs/", AE_IFDIR, NULL, NULL}};
    expect_refused(nometa, 1, RB_EINVAL, "no metadata.json");
}

Test(store_archive, refuses_a_blob_that_does_not_match_its_id)
{
    char *hex = sha_hex("the real content");
    char *name = rbt_fmt("blobs/%s", hex);
    entry e[] = {{"metadata.json", AE_IFREG, META, NULL},
                 {name, AE_IFREG, "tampered content", NULL}};
    expect_refused(e, 2, RB_ECORRUPT, "does not match its content");
    free(name);
    free(hex);
}

Test(store_archive, refuses_an_archive_missing_a_blob)
{
    const void *bufs[] = {"one", "two"};
    size_t lens[] = {3, 3};
    char ids[2][RB_BLOB_ID_SIZE];
    sf_snapshot(&f, "pair", 1, bufs, lens, 2, ids);
    cJSON *doc;
    cr_assert_eq(rb_store_snapshot_read(f.store, "pair", &doc), 0);
    cr_assert_eq(rb_store_snapshot_delete(f.store, "pair"), 0);
    cr_assert_eq(rb_store_gc(f.store, NULL, NULL), 0, "%s", sf_msg());
    char *text = cJSON_Print(doc);
    cJSON_Delete(doc);
    char *name = rbt_fmt("blobs/%s", ids[0]);
    entry e[] = {{"metadata.json", AE_IFREG, text, NULL}, {name, AE_IFREG, "one", NULL}};
    expect_refused(e, 2, RB_ECORRUPT, "does not hold exactly the blobs");
    free(name);
    free(text);
}

Test(store_archive, export_of_unknown_snapshot_is_not_found)
{
    char *arch = rbt_fmt("%s/none.tar.zst", f.tmp);
    cr_assert_eq(rb_store_export(f.store, "none", arch), RB_ENOTFOUND);
    cr_assert_eq(access(arch, F_OK), -1);
    free(arch);
}
