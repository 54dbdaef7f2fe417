/* An S3 store under failure and concurrency: radosgw killed in the middle
 * of an upload, two hosts snapshotting into one prefix at once. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

TestSuite(s3_faults, .init = setup, .fini = teardown);

Test(s3_faults, radosgw_killed_during_upload_leaves_no_half_snapshot)
{
    char *live = rbt_fmt("%s/live", t.tmp);
    /* Incompressible and large enough for several multipart packs. */
    rbt_run r = rbt_sh("mkdir -p '%s' && for i in 1 2 3 4; do head -c 60000000 /dev/urandom > "
                       "'%s'/f$i; done",
                       live, live);
    cr_assert_eq(r.code, 0, "%s", r.err);
    rbt_run_free(&r);
    char *cfg = rbt_fmt("{\"paths\": [\"%s\"]}", live);
    char *rcfile = rbt_fmt("%s/rc", t.tmp);
    /* The snapshot runs in the background; radosgw goes down as soon as
     * its first pack exists, long before the last one can be up. */
    r = rbt_sh("(RBHOST_CACHE_DIR='%s/cache-a' RBHOST_S3_ACCESS_KEY='%s' RBHOST_S3_SECRET_KEY='%s' "
               "RBHOST_S3_RETRIES=2 '%s' --store '%s' create-snapshot --id big --type file_system "
               "--config '%s' >'%s/out' 2>'%s/err'; echo $? > '%s') >/dev/null 2>&1 &",
               t.tmp, t.access_key, t.secret_key, rbt_rbhost_bin(), t.url, cfg, t.tmp, t.tmp,
               rcfile);
    rbt_run_free(&r);
    r = rbt_sh("for i in $(seq 1 600); do ls '%s'/cache-a/s3/*/data/packs/*.pack >/dev/null "
               "2>&1 && exit 0; [ -e '%s' ] && exit 1; sleep 0.05; done; exit 1",
               t.tmp, rcfile);
    cr_assert_eq(r.code, 0, "the snapshot never started writing a pack");
    rbt_run_free(&r);
    s3t_ceph("kill-rgw");
    r = rbt_sh("for i in $(seq 1 1200); do [ -s '%s' ] && exit 0; sleep 0.1; done; exit 1", rcfile);
    cr_assert_eq(r.code, 0, "rbhost did not give up while radosgw was down");
    rbt_run_free(&r);
    char *code = rbt_slurp(rcfile);
    char *err = rbt_fmt("%s/err", t.tmp);
    char *errtext = rbt_slurp(err);
    s3t_ceph("restart-rgw");
    cr_assert_str_neq(code, "0\n", "the snapshot succeeded with radosgw down");
    cr_assert(strstr(errtext, "failed after") || strstr(errtext, "cannot"), "%s", errtext);

    /* No trace of it from another host, and the same id can be taken. */
    char *ids = s3t_ids(&t, "b");
    cr_assert_str_eq(ids, "", "a half snapshot is visible: %s", ids);
    free(ids);
    r = s3t_rbhost(&t, "a", "", "create-snapshot --id big --type file_system --config '%s'", cfg);
    cr_assert_eq(r.code, 0, "the next snapshot failed: %s %s", r.out, r.err);
    rbt_run_free(&r);
    ids = s3t_ids(&t, "b");
    cr_assert_str_eq(ids, "big");
    free(ids);
    r = rbt_sh("cp '%s/f3' '%s/f3.orig' && head -c 1000 /dev/urandom > '%s/f3'", live, t.tmp, live);
    rbt_run_free(&r);
    r = s3t_rbhost(&t, "b", "", "execute-rollback --id big --yes --no-safety-snapshot");
    cr_assert_eq(r.code, 0, "rollback: %s %s", r.out, r.err);
    rbt_run_free(&r);
    r = rbt_sh("cmp '%s/f3' '%s/f3.orig'", live, t.tmp);
    cr_assert_eq(r.code, 0, "f3 was not restored: %s %s", r.out, r.err);
    rbt_run_free(&r);
    free(errtext);
    free(err);
    free(code);
    free(rcfile);
    free(cfg);
    free(live);
}

Test(s3_faults, two_hosts_snapshot_into_one_prefix_at_once)
{
    char *a = rbt_fmt("%s/live-a", t.tmp), *b = rbt_fmt("%s/live-b", t.tmp);
    rbt_run r = rbt_sh("mkdir -p '%s' '%s' && head -c 20000000 /dev/urandom > '%s/data' && "
                       "head -c 20000000 /dev/urandom > '%s/data' && echo A > '%s/who' && "
                       "echo B > '%s/who'",
                       a, b, a, b, a, b);
    cr_assert_eq(r.code, 0, "%s", r.err);
    rbt_run_free(&r);
    r = rbt_sh("for h in a b; do (RBHOST_CACHE_DIR='%s/cache-'$h RBHOST_S3_ACCESS_KEY='%s' "
               "RBHOST_S3_SECRET_KEY='%s' '%s' --store '%s' create-snapshot --id snap-$h --type "
               "file_system --config '{\"paths\": [\"%s/live-'$h'\"]}' >'%s/out-'$h 2>&1; "
               "echo $? > '%s/rc-'$h) & done; wait",
               t.tmp, t.access_key, t.secret_key, rbt_rbhost_bin(), t.url, t.tmp, t.tmp, t.tmp);
    rbt_run_free(&r);
    for (int i = 0; i < 2; i++) {
        const char *h = i ? "b" : "a";
        char *rcp = rbt_fmt("%s/rc-%s", t.tmp, h), *outp = rbt_fmt("%s/out-%s", t.tmp, h);
        char *rc = rbt_slurp(rcp), *out = rbt_slurp(outp);
        cr_assert_str_eq(rc, "0\n", "host %s: %s", h, out);
        free(rc);
        free(out);
        free(rcp);
        free(outp);
    }
    char *ids = s3t_ids(&t, "c");
    cr_assert_str_eq(ids, "snap-a,snap-b");
    free(ids);
    r = s3t_rbhost(&t, "c", "", "check");
    cr_assert_eq(r.code, 0, "check: %s %s", r.out, r.err);
    rbt_run_free(&r);
    r = rbt_sh("echo changed > '%s/who' && echo changed > '%s/who'", a, b);
    rbt_run_free(&r);
    for (int i = 0; i < 2; i++) {
        r = s3t_rbhost(&t, "c", "", "execute-rollback --id snap-%s --yes --no-safety-snapshot",
                       i ? "b" : "a");
        cr_assert_eq(r.code, 0, "rollback: %s %s", r.out, r.err);
        rbt_run_free(&r);
    }
    char *wa = rbt_fmt("%s/who", a), *wb = rbt_fmt("%s/who", b);
    char *ta = rbt_slurp(wa), *tb = rbt_slurp(wb);
    cr_assert_str_eq(ta, "A\n");
    cr_assert_str_eq(tb, "B\n");
    free(ta);
    free(tb);
    free(wa);
    free(wb);
    free(a);
    free(b);
}

Test(s3_faults, an_exclusive_command_is_refused_while_a_host_holds_the_store)
{
    /* A shared note left by a live snapshot on another host. */
    char *live = rbt_fmt("%s/live", t.tmp);
    rbt_run r = rbt_sh("mkdir -p '%s' && echo x > '%s/x'", live, live);
    rbt_run_free(&r);
    r = s3t_rbhost(&t, "a", "",
                   "create-snapshot --id s --type file_system --config "
                   "'{\"paths\": [\"%s\"]}'",
                   live);
    cr_assert_eq(r.code, 0, "%s", r.err);
    rbt_run_free(&r);
    char *note = rbt_fmt("{\"owner\":\"otherhost-1-00\",\"host\":\"otherhost\",\"pid\":4242,"
                         "\"command\":\"rbhost create-snapshot\",\"mode\":\"shared\","
                         "\"expires\":%ld}",
                         (long)time(NULL) + 600);
    char *notefile = rbt_fmt("%s/note.json", t.tmp);
    rbt_spit(notefile, note);
    /* Written with curl: rbhost has no command that leaves a lock behind. */
    char *plain_key = strchr(t.plain + 5, '/') + 1;
    r = rbt_sh("sha=$(sha256sum '%s' | cut -d' ' -f1); curl -sf --aws-sigv4 aws:amz:default:s3 "
               "--user '%s:%s' -H \"x-amz-content-sha256: $sha\" -H \"x-amz-meta-rb-sha256: "
               "$sha\" -T '%s' '%s/rbtest/%s/lock/shared/otherhost-1-00.json'",
               notefile, t.access_key, t.secret_key, notefile, t.endpoint, plain_key);
    cr_assert_eq(r.code, 0, "curl: %s", r.err);
    rbt_run_free(&r);
    r = s3t_rbhost(&t, "b", "", "delete-snapshot --id s");
    cr_assert_eq(r.code, 5, "%d %s", r.code, r.err);
    cr_assert(strstr(r.err, "pid 4242 on otherhost"), "%s", r.err);
    rbt_run_free(&r);
    char *ids = s3t_ids(&t, "b");
    cr_assert_str_eq(ids, "s");
    free(ids);
    free(notefile);
    free(note);
    free(live);
}
