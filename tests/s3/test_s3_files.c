/* file_system snapshots in an S3 store: taken on one host, listed and
 * rolled back from another, copied to and from a local store. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "s3_fixture.h"

static s3t t;

static void setup(void)
{
    s3t_open(&t);
}

static void teardown(void)
{
    s3t_close(&t);
}

TestSuite(s3_files, .init = setup, .fini = teardown);

static void make_tree(const char *dir)
{
    rbt_run r = rbt_sh("mkdir -p '%s/etc/sub' && printf 'port = 80\\n' > '%s/etc/app.conf' && "
                       "head -c 5000000 /dev/urandom > '%s/etc/sub/blob.bin' && "
                       "seq 1 200000 > '%s/etc/sub/numbers.txt'",
                       dir, dir, dir, dir);
    cr_assert_eq(r.code, 0, "%s", r.err);
    rbt_run_free(&r);
}

static char *config_of(const char *dir)
{
    return rbt_fmt("{\"paths\": [\"%s/etc\"]}", dir);
}

Test(s3_files, snapshot_on_one_host_rolled_back_from_another)
{
    char *live = rbt_fmt("%s/live", t.tmp);
    make_tree(live);
    char *cfg = config_of(live);
    rbt_run r = s3t_rbhost(&t, "a", "",
                           "create-snapshot --id before --type file_system "
                           "--config '%s'",
                           cfg);
    cr_assert_eq(r.code, 0, "snapshot failed: %s %s", r.out, r.err);
    rbt_run_free(&r);

    /* The change the rollback must undo. */
    r = rbt_sh("printf 'port = 8080\\n' > '%s/etc/app.conf' && rm '%s/etc/sub/blob.bin' && "
               "cp -a '%s' '%s/original' 2>/dev/null; true",
               live, live, live, t.tmp);
    rbt_run_free(&r);

    /* Host b has never seen this store: everything comes from the bucket. */
    char *ids = s3t_ids(&t, "b");
    cr_assert_str_eq(ids, "before");
    free(ids);
    r = s3t_rbhost(&t, "b", "",
                   "--json execute-rollback --id before --yes "
                   "--no-safety-snapshot");
    cr_assert_eq(r.code, 0, "rollback failed: %s %s", r.out, r.err);
    rbt_run_free(&r);
    char *conf = rbt_fmt("%s/etc/app.conf", live);
    char *text = rbt_slurp(conf);
    cr_assert_str_eq(text, "port = 80\n");
    free(text);
    free(conf);
    r = rbt_sh("test -s '%s/etc/sub/blob.bin' && seq 1 200000 | cmp - '%s/etc/sub/numbers.txt'",
               live, live);
    cr_assert_eq(r.code, 0, "restored tree differs: %s", r.err);
    rbt_run_free(&r);

    /* verify and check read every pack through the bucket too. */
    r = s3t_rbhost(&t, "c", "", "verify --id before");
    cr_assert_eq(r.code, 0, "verify after rollback: %s %s", r.out, r.err);
    rbt_run_free(&r);
    r = s3t_rbhost(&t, "c", "", "check");
    cr_assert_eq(r.code, 0, "check: %s %s", r.out, r.err);
    rbt_run_free(&r);
    free(cfg);
    free(live);
}

Test(s3_files, delete_on_one_host_is_seen_by_another)
{
    char *live = rbt_fmt("%s/live", t.tmp);
    make_tree(live);
    char *cfg = config_of(live);
    for (int i = 1; i <= 2; i++) {
        rbt_run r = s3t_rbhost(&t, "a", "",
                               "create-snapshot --id s%d --type file_system "
                               "--config '%s'",
                               i, cfg);
        cr_assert_eq(r.code, 0, "snapshot s%d: %s", i, r.err);
        rbt_run_free(&r);
    }
    char *ids = s3t_ids(&t, "b");
    cr_assert_str_eq(ids, "s1,s2");
    free(ids);
    rbt_run r = s3t_rbhost(&t, "b", "", "delete-snapshot --id s1");
    cr_assert_eq(r.code, 0, "delete: %s %s", r.out, r.err);
    rbt_run_free(&r);
    ids = s3t_ids(&t, "a");
    cr_assert_str_eq(ids, "s2", "host a still lists a deleted snapshot: %s", ids);
    free(ids);
    r = s3t_rbhost(&t, "a", "", "check");
    cr_assert_eq(r.code, 0, "check after delete: %s %s", r.out, r.err);
    rbt_run_free(&r);
    free(cfg);
    free(live);
}

Test(s3_files, copy_local_to_s3_and_back_deduplicates)
{
    char *live = rbt_fmt("%s/live", t.tmp);
    make_tree(live);
    char *cfg = config_of(live);
    char *local = rbt_fmt("%s/local-store", t.tmp);
    rbt_run r = rbt_rbhost(local, "create-snapshot --id one --type file_system --config '%s'", cfg);
    cr_assert_eq(r.code, 0, "%s", r.err);
    rbt_run_free(&r);
    r = rbt_sh("printf 'port = 81\\n' > '%s/etc/app.conf'", live);
    rbt_run_free(&r);
    r = rbt_rbhost(local, "create-snapshot --id two --type file_system --config '%s'", cfg);
    cr_assert_eq(r.code, 0, "%s", r.err);
    rbt_run_free(&r);

    r = s3t_rbhost(&t, "a", "", "--json copy --from '%s' --to '%s' --id one", local, t.url);
    cr_assert_eq(r.code, 0, "copy one: %s %s", r.out, r.err);
    cJSON *j = rbt_json(r.out);
    double first = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(j, "copied_blobs"));
    cr_assert_gt(first, 0);
    cJSON_Delete(j);
    rbt_run_free(&r);
    /* Only the changed file travels with the second snapshot. */
    r = s3t_rbhost(&t, "a", "", "--json copy --from '%s' --to '%s' --id two", local, t.url);
    cr_assert_eq(r.code, 0, "copy two: %s %s", r.out, r.err);
    j = rbt_json(r.out);
    double copied = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(j, "copied_blobs"));
    double reused = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(j, "reused_blobs"));
    cr_assert_lt(copied, first, "copied %g blobs again out of %g", copied, first);
    cr_assert_gt(reused, 0);
    cJSON_Delete(j);
    rbt_run_free(&r);
    r = s3t_rbhost(&t, "a", "", "copy --from '%s' --to '%s' --id two", local, t.url);
    cr_assert_eq(r.code, 3, "copying an existing id must fail: %d %s", r.code, r.err);
    cr_assert(strstr(r.err, "already exists"), "%s", r.err);
    rbt_run_free(&r);

    /* And back, from host b, into a fresh local store. */
    char *back = rbt_fmt("%s/back-store", t.tmp);
    r = s3t_rbhost(&t, "b", "", "copy --from '%s' --to '%s' --id one", t.url, back);
    cr_assert_eq(r.code, 0, "copy back: %s %s", r.out, r.err);
    rbt_run_free(&r);
    r = rbt_rbhost(back, "--json execute-rollback --id one --yes --no-safety-snapshot");
    cr_assert_eq(r.code, 0, "rollback from the copy: %s %s", r.out, r.err);
    rbt_run_free(&r);
    char *conf = rbt_fmt("%s/etc/app.conf", live);
    char *text = rbt_slurp(conf);
    cr_assert_str_eq(text, "port = 80\n");
    free(text);
    free(conf);
    r = rbt_rbhost(back, "check");
    cr_assert_eq(r.code, 0, "%s %s", r.out, r.err);
    rbt_run_free(&r);
    free(back);
    free(local);
    free(cfg);
    free(live);
}

Test(s3_files, wrong_credentials_are_a_clear_error)
{
    rbt_run r = rbt_sh("RBHOST_CACHE_DIR='%s/cache-x' RBHOST_S3_ACCESS_KEY='%s' "
                       "RBHOST_S3_SECRET_KEY=not-the-secret '%s' --store '%s' list-snapshots",
                       t.tmp, t.access_key, rbt_rbhost_bin(), t.url);
    cr_assert_neq(r.code, 0);
    cr_assert(strstr(r.err, "rejected the credentials"), "%s", r.err);
    cr_assert(strstr(r.err, "RBHOST_S3_SECRET_KEY"), "%s", r.err);
    cr_assert_null(strstr(r.err, "not-the-secret"), "the secret was printed: %s", r.err);
    rbt_run_free(&r);
    r = rbt_sh("RBHOST_CACHE_DIR='%s/cache-x' RBHOST_S3_ACCESS_KEY=NOSUCHKEY "
               "RBHOST_S3_SECRET_KEY=x '%s' --store '%s' list-snapshots",
               t.tmp, rbt_rbhost_bin(), t.url);
    cr_assert_neq(r.code, 0);
    cr_assert(strstr(r.err, "rejected the credentials"), "%s", r.err);
    cr_assert(strstr(r.err, "InvalidAccessKeyId"), "%s", r.err);
    rbt_run_free(&r);
    r = rbt_sh("env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY HOME='%s' "
               "RBHOST_CACHE_DIR='%s/cache-x' '%s' --store '%s' list-snapshots",
               t.tmp, t.tmp, rbt_rbhost_bin(), t.url);
    cr_assert_neq(r.code, 0);
    cr_assert(strstr(r.err, "no credentials"), "%s", r.err);
    rbt_run_free(&r);
    r = rbt_sh("RBHOST_CACHE_DIR='%s/cache-x' '%s' --store 's3://rbtest/x?access_key=AK' "
               "list-snapshots",
               t.tmp, rbt_rbhost_bin());
    cr_assert_eq(r.code, 3, "%d %s", r.code, r.err);
    cr_assert(strstr(r.err, "never read from the store location"), "%s", r.err);
    rbt_run_free(&r);
}
