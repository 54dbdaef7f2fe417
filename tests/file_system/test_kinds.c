/* Every kind of entry is recorded and comes back exactly: content, mode,
 * owner, mtime with nanoseconds, symlinks, hard links, fifos, device nodes,
 * xattrs, ACLs and sparse files, in place and into another directory. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs_fixture.h"

static fst t;

static void setup(void)
{
    fst_open(&t);
}

static void teardown(void)
{
    fst_close(&t);
}

TestSuite(fs_kinds, .init = setup, .fini = teardown);

/* A tree with one of everything. Device nodes and other owners need root. */
static void make_tree(const char *d)
{
    if (geteuid() != 0)
        cr_skip_test("needs root for device nodes and chown");
    fst_sh("cd '%s' && mkdir -p etc/app srv/data 'with space' && "
           "printf 'listen 80\\n' > etc/app/main.conf && "
           "head -c 300000 /dev/urandom > srv/data/blob.bin && "
           "printf 'x' > 'with space/a file' && : > empty && "
           "ln -s app/main.conf etc/current && ln -s /nonexistent/target dangling && "
           "ln etc/app/main.conf srv/hardlink.conf && "
           "mkfifo srv/queue && mknod srv/null c 1 3 && "
           "truncate -s 64M sparse.img && printf 'head' | dd of=sparse.img conv=notrunc "
           "status=none && printf 'tail' | dd of=sparse.img bs=1M seek=40 conv=notrunc "
           "status=none && "
           "setfattr -n user.purpose -v config etc/app/main.conf && "
           "setfattr -n user.bin -v 0x00ff10 srv/data/blob.bin && "
           "setfacl -m u:nobody:r-x,g:nogroup:r srv/data && "
           "setfacl -d -m u:nobody:rwx srv/data && "
           "mkdir acl && setfacl -d -m u:nobody:rwx acl && printf plain > acl/plain && "
           "setfacl -b acl/plain && "
           "chown nobody:nogroup 'with space/a file' && chmod 4750 srv/data/blob.bin && "
           "chmod 0700 etc && "
           "touch -h -d '2021-03-04 05:06:07.123456789' etc/current && "
           "touch -d '2020-01-02 03:04:05.987654321' etc/app/main.conf etc/app",
           d);
}

/* Changes of every kind, made after the snapshot. */
static void change_tree(const char *d)
{
    fst_sh("cd '%s' && printf 'listen 8080\\n' > etc/app/main.conf && "
           "printf 'new' > etc/app/added.conf && mkdir -p newdir/sub && "
           "printf 'n' > newdir/sub/f && rm 'with space/a file' && "
           "chmod 0644 srv/data/blob.bin && chown nobody srv/data/blob.bin && "
           "setfattr -x user.purpose etc/app/main.conf && "
           "setfattr -n user.added -v 1 empty && setfacl -b srv/data && "
           "rm etc/current && ln -s /etc/passwd etc/current && "
           "rm srv/hardlink.conf && printf 'copy' > srv/hardlink.conf && "
           "rm srv/queue && printf 'not a fifo' > srv/queue && "
           "rm -r 'with space' && printf 'file now' > 'with space' && "
           "rm empty && mkdir empty && printf 'inside' > empty/x && "
           "rm sparse.img && rm acl/plain && touch -d '2000-01-01' etc/app",
           d);
}

Test(fs_kinds, every_kind_is_recorded)
{
    make_tree(t.tree);
    char *cfg = fst_config(&t);
    cJSON *resp;
    cJSON *m = fst_snapshot(&t, "kinds", cfg, &resp);
    cr_assert_str_eq(fst_str(m, "method", NULL), "filesystem_backup");
    cr_assert_str_eq(fst_str(cJSON_GetArrayItem(fst_get(m, "paths", NULL), 0), NULL), t.tree);
    /* main.conf, blob.bin, "a file", empty, sparse.img, acl/plain; hardlink.conf
     * is a link */
    cr_assert_eq(fst_num(m, "counts", "files", NULL), 6);
    cr_assert_eq(fst_num(m, "counts", "hardlinks", NULL), 1);
    cr_assert_eq(fst_num(m, "counts", "symlinks", NULL), 2);
    cr_assert_eq(fst_num(m, "counts", "fifos", NULL), 1);
    cr_assert_eq(fst_num(m, "counts", "devices", NULL), 1);
    cr_assert_eq(fst_num(m, "counts", "sparse_files", NULL), 1);
    /* tree, etc, etc/app, srv, srv/data, "with space", acl */
    cr_assert_eq(fst_num(m, "counts", "directories", NULL), 7);
    /* Only the sparse file's data extents are read, not its 64 MiB. */
    cr_assert_lt(fst_num(m, "bytes", "read", NULL), 400000);
    cJSON_Delete(resp);
    free(cfg);
}

Test(fs_kinds, rollback_in_place_restores_every_kind_exactly)
{
    make_tree(t.tree);
    char *before = fst_manifest(t.tree);
    char *cfg = fst_config(&t);
    cJSON *resp;
    fst_snapshot(&t, "kinds", cfg, &resp);
    cJSON_Delete(resp);

    change_tree(t.tree);
    char *changed = fst_manifest(t.tree);
    cr_assert_str_neq(changed, before);

    int code;
    cJSON *rec = fst_rollback(&t, "kinds", NULL, &code);
    cr_assert_eq(code, 0, "rollback exited %d: %s", code, cJSON_PrintUnformatted(rec));
    cr_assert_str_eq(fst_str(rec, "status", NULL), "completed");
    cr_assert_str_eq(fst_str(rec, "execution_result", "tree", NULL), "snapshot");
    cJSON_Delete(rec);
    fst_expect_manifest(t.tree, before, "after rollback");

    /* The sparse file came back with its holes: 64 MiB long, a few blocks. */
    char *img = rbt_fmt("%s/sparse.img", t.tree);
    struct stat st;
    cr_assert_eq(stat(img, &st), 0);
    cr_assert_eq(st.st_size, 64 << 20);
    cr_assert_lt(st.st_blocks * 512, 1 << 20, "sparse.img uses %lld bytes on disk",
                 (long long)st.st_blocks * 512);
    free(img);

    /* No temporary names left anywhere. */
    rbt_run r = rbt_sh("find '%s' -name '.rbfs-*' | wc -l", t.tree);
    cr_assert_eq(atoi(r.out), 0, "temporaries left: %s", r.out);
    rbt_run_free(&r);

    /* The rollback's safety snapshot holds the changed tree: rolling back
     * to it brings the changes back. */
    cJSON *hist = fst_rbhost_json(&t, &code, "list-snapshots");
    cr_assert_eq(code, 0);
    const char *safety = NULL;
    cJSON *it;
    cJSON *arr = cJSON_IsArray(hist) ? hist : fst_get(hist, "snapshots", NULL);
    cJSON_ArrayForEach(it, arr)
    {
        const char *id = fst_str(it, "id", NULL);
        if (id && !strncmp(id, "pre-rollback-", 13))
            safety = id;
    }
    cr_assert_not_null(safety, "no safety snapshot listed");
    rec = fst_rollback(&t, safety, "--no-safety-snapshot", &code);
    cr_assert_eq(code, 0, "rollback to the safety snapshot exited %d", code);
    cJSON_Delete(rec);
    fst_expect_manifest(t.tree, changed, "after undoing the rollback");
    cJSON_Delete(hist);
    free(changed);
    free(before);
    free(cfg);
}

Test(fs_kinds, restore_to_another_directory)
{
    make_tree(t.tree);
    char *before = fst_manifest(t.tree);
    char *cfg = fst_config(&t);
    cJSON *resp;
    fst_snapshot(&t, "kinds", cfg, &resp);
    cJSON_Delete(resp);
    change_tree(t.tree);
    char *changed = fst_manifest(t.tree);

    char *to = rbt_fmt("%s/elsewhere", t.tmp);
    int code;
    char *args = rbt_fmt("--no-safety-snapshot --to '%s'", to);
    cJSON *rec = fst_rollback(&t, "kinds", args, &code);
    free(args);
    cr_assert_eq(code, 0, "restore --to exited %d: %s", code, cJSON_PrintUnformatted(rec));
    cJSON_Delete(rec);
    char *copy = rbt_fmt("%s%s", to, t.tree);
    fst_expect_manifest(copy, before, "restored with --to");
    /* The live tree was left alone. */
    fst_expect_manifest(t.tree, changed, "live tree after restore --to");

    /* restore_to in the config does the same. */
    char *to2 = rbt_fmt("%s/second", t.tmp);
    char *cfg2 = rbt_fmt("{\"paths\": [\"%s\"], \"restore_to\": \"%s\"}", t.tree, to2);
    fst_snapshot(&t, "kinds2", cfg2, &resp);
    cJSON_Delete(resp);
    rec = fst_rollback(&t, "kinds2", "--no-safety-snapshot", &code);
    cr_assert_eq(code, 0, "restore_to exited %d: %s", code, cJSON_PrintUnformatted(rec));
    cJSON_Delete(rec);
    char *copy2 = rbt_fmt("%s%s", to2, t.tree);
    fst_expect_manifest(copy2, changed, "restored with restore_to");
    free(copy2);
    free(cfg2);
    free(to2);
    free(copy);
    free(to);
    free(changed);
    free(before);
    free(cfg);
}

Test(fs_kinds, several_paths_and_a_single_file)
{
    fst_sh("cd '%s' && mkdir a b && printf 1 > a/x && printf 2 > b/y && printf 3 > lone", t.tree);
    char *a = rbt_fmt("%s/a", t.tree), *lone = rbt_fmt("%s/lone", t.tree);
    char *before = fst_manifest(t.tree);
    char *cfg = rbt_fmt("{\"paths\": [\"%s\", \"%s\"]}", a, lone);
    cJSON *resp;
    cJSON *m = fst_snapshot(&t, "multi", cfg, &resp);
    cr_assert_eq(fst_num(m, "counts", "files", NULL), 2);
    cJSON_Delete(resp);
    fst_sh("cd '%s' && printf changed > a/x && printf 9 > a/new && rm lone && printf 4 > b/y",
           t.tree);
    int code;
    cJSON *rec = fst_rollback(&t, "multi", "--no-safety-snapshot", &code);
    cr_assert_eq(code, 0);
    cJSON_Delete(rec);
    rbt_run r =
        rbt_sh("cat '%s/a/x' '%s/lone' '%s/b/y'; ls '%s/a'", t.tree, t.tree, t.tree, t.tree);
    /* b is not recorded, so its change stays. */
    cr_assert_str_eq(r.out, "134x\n");
    rbt_run_free(&r);
    free(before);
    free(cfg);
    free(a);
    free(lone);
}

/* Many files with several names each: every name comes back as a link to
 * the same inode, however many such files the tree holds. */
Test(fs_kinds, hundreds_of_hard_linked_files_round_trip, .timeout = 120)
{
    fst_sh("cd '%s' && mkdir a b && for i in $(seq 600); do echo $i > a/f$i && "
           "ln a/f$i b/g$i; done",
           t.tree);
    char *before = fst_manifest(t.tree);
    char *cfg = fst_config(&t);
    cJSON *resp;
    cJSON *meta = fst_snapshot(&t, "links", cfg, &resp);
    cr_assert_eq(fst_num(meta, "counts", "hardlinks", NULL), 600);
    cJSON_Delete(resp);
    fst_sh("cd '%s' && rm b/g1 && echo changed > a/f2 && rm a/f3 && ln b/g4 b/extra", t.tree);
    int code;
    cJSON *rec = fst_rollback(&t, "links", NULL, &code);
    cr_assert_eq(code, 0, "rollback exited %d", code);
    cJSON_Delete(rec);
    fst_expect_manifest(t.tree, before, "after rollback");
    rbt_run r = rbt_sh("stat -c %%i '%s/a/f7' '%s/b/g7' | uniq | wc -l", t.tree, t.tree);
    cr_assert_eq(atoi(r.out), 1, "a/f7 and b/g7 are one inode again");
    rbt_run_free(&r);
    free(before);
    free(cfg);
}
