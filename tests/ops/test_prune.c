/* prune keeps exactly what its rules say (restic's forget), the store
 * stays sound, and what it keeps still restores byte for byte. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ops_fixture.h"

static ops t;

static void setup(void)
{
    ops_open(&t);
}

static void teardown(void)
{
    ops_close(&t);
}

TestSuite(prune, .init = setup, .fini = teardown);

/* 2024-01-01 00:00 UTC, a Monday: ISO week 2024-W01 starts with it. */
#define JAN1 1704067200LL
#define H    3600LL
#define D    86400LL

/* Newest last: h and g share a week and a month, a and b a day. */
static const struct {
    const char *id;
    long long at;
} dated[] = {
    {"a", JAN1 + 10 * H},         /* Mon Jan 1, W01 */
    {"b", JAN1 + 12 * H},         /* Mon Jan 1, W01 */
    {"c", JAN1 + D + 9 * H},      /* Tue Jan 2, W01 */
    {"d", JAN1 + 6 * D + 18 * H}, /* Sun Jan 7, W01 */
    {"e", JAN1 + 7 * D + 8 * H},  /* Mon Jan 8, W02 */
    {"f", JAN1 + 19 * D + 8 * H}, /* Sat Jan 20, W03 */
    {"g", JAN1 + 40 * D + 8 * H}, /* Sat Feb 10, W06 */
    {"h", JAN1 + 41 * D + 8 * H}, /* Sun Feb 11, W06 */
};
#define NDATED (sizeof dated / sizeof dated[0])

static void make_dated(void)
{
    for (size_t i = 0; i < NDATED; i++) {
        ops_snapshot(&t, dated[i].id, 4);
        ops_set_created(&t, dated[i].id, dated[i].at);
    }
}

static void expect_prune(const char *args, const char *kept, const char *removed)
{
    int code;
    cJSON *r = ops_json(&t, &code, "prune --dry-run %s", args);
    cr_assert_eq(code, 0, "prune %s: exit %d", args, code);
    char *k = ops_ids(r, "kept"), *rm = ops_ids(r, "removed");
    cr_assert_str_eq(k, kept, "prune %s kept the wrong snapshots", args);
    cr_assert_str_eq(rm, removed, "prune %s removed the wrong snapshots", args);
    free(k);
    free(rm);
    cJSON_Delete(r);
}

Test(prune, each_rule_keeps_the_newest_of_its_periods)
{
    make_dated();
    expect_prune("--keep-last 2", "g h", "a b c d e f");
    /* The newest of each of the 4 most recent days with snapshots. */
    expect_prune("--keep-daily 4", "e f g h", "a b c d");
    /* b, not a: the newest snapshot of Jan 1. */
    expect_prune("--keep-daily 10", "b c d e f g h", "a");
    expect_prune("--keep-weekly 3", "e f h", "a b c d g");
    expect_prune("--keep-monthly 2", "f h", "a b c d e g");
    /* A snapshot kept by any rule is kept. */
    expect_prune("--keep-last 1 --keep-weekly 4 --keep-monthly 2", "d e f h", "a b c g");
}

Test(prune, reports_the_rules_that_kept_each_snapshot)
{
    make_dated();
    int code;
    cJSON *r =
        ops_json(&t, &code, "prune --dry-run --keep-last 1 --keep-weekly 2 --keep-monthly 2");
    cr_assert_eq(code, 0);
    const cJSON *e;
    int seen = 0;
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(r, "kept"))
    {
        const char *id = cJSON_GetStringValue(cJSON_GetObjectItem(e, "id"));
        char *why = cJSON_PrintUnformatted(cJSON_GetObjectItem(e, "kept_by"));
        if (!strcmp(id, "h")) {
            cr_assert_str_eq(why, "[\"last\",\"weekly\",\"monthly\"]");
            seen++;
        } else if (!strcmp(id, "f")) {
            cr_assert_str_eq(why, "[\"weekly\",\"monthly\"]");
            seen++;
        }
        free(why);
    }
    cr_assert_eq(seen, 2);
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(r, "kept")), 2);
    /* A dry run changes nothing. */
    cJSON *list = ops_json(&t, &code, "list-snapshots");
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(list, "snapshots")), (int)NDATED);
    cJSON_Delete(list);
    cJSON_Delete(r);
}

Test(prune, older_than_only_removes_older_snapshots)
{
    long long now = (long long)time(NULL);
    const char *ids[] = {"d30", "d20", "d10", "d2"};
    const int days[] = {30, 20, 10, 2};
    for (int i = 0; i < 4; i++) {
        ops_snapshot(&t, ids[i], 4);
        ops_set_created(&t, ids[i], now - days[i] * D);
    }
    expect_prune("--older-than 7", "d2", "d10 d20 d30");
    /* keep-last 3 keeps d10; older-than 15 spares d10 and d2 anyway. */
    expect_prune("--older-than 15 --keep-last 1", "d10 d2", "d20 d30");
    expect_prune("--older-than 25 --keep-last 3", "d10 d2 d20", "d30");
}

Test(prune, refuses_without_any_rule)
{
    ops_snapshot(&t, "only", 4);
    rbt_run r = rbt_rbhost(t.store, "prune");
    cr_assert_eq(r.code, 3, "exit %d: %s", r.code, r.err);
    cr_assert(strstr(r.err, "no retention rule given"), "%s", r.err);
    rbt_run_free(&r);
    r = rbt_rbhost(t.store, "prune --keep-last x");
    cr_assert_eq(r.code, 2, "exit %d: %s", r.code, r.err);
    cr_assert(strstr(r.err, "--keep-last needs a whole number"), "%s", r.err);
    rbt_run_free(&r);
    int code;
    cJSON *list = ops_json(&t, &code, "list-snapshots");
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(list, "snapshots")), 1);
    cJSON_Delete(list);
}

Test(prune, removes_blobs_and_kept_snapshots_restore_exactly)
{
    /* 256 KiB of random bytes each: stored as they are, so the removed
     * ones' bytes can be looked for in the store's files. */
    const char *ids[] = {"old1", "old2", "new1", "new2"};
    for (int i = 0; i < 4; i++) {
        ops_snapshot(&t, ids[i], 256);
        ops_set_created(&t, ids[i], JAN1 + i * D);
    }
    unsigned char head[4][64];
    for (int i = 0; i < 4; i++)
        ops_blob_head(&t, ids[i], head[i]);
    for (int i = 0; i < 4; i++)
        cr_assert(ops_tree_contains(t.store, head[i], 64), "%s not in the store", ids[i]);
    char *before = rbt_fmt("%s/before", t.tmp);
    ops_sh("cp -a '%s/data' '%s'", t.tmp, before);

    int code;
    cJSON *r = ops_json(&t, &code, "prune --keep-last 2");
    cr_assert_eq(code, 0);
    char *removed = ops_ids(r, "removed");
    cr_assert_str_eq(removed, "old1 old2");
    free(removed);
    cr_assert_geq(cJSON_GetNumberValue(cJSON_GetObjectItem(r, "freed_bytes")), 2 * 256 * 1024.0);
    cJSON_Delete(r);

    rbt_run chk = rbt_rbhost(t.store, "check");
    cr_assert_eq(chk.code, 0, "check after prune: %s%s", chk.out, chk.err);
    rbt_run_free(&chk);
    cr_assert_not(ops_tree_contains(t.store, head[0], 64), "old1's bytes are still stored");
    cr_assert_not(ops_tree_contains(t.store, head[1], 64), "old2's bytes are still stored");

    /* The kept ones come back byte for byte. */
    for (int i = 2; i < 4; i++) {
        ops_sh("head -c 1000 /dev/zero > '%s/data/%s/blob' && echo new > '%s/data/%s/extra'", t.tmp,
               ids[i], t.tmp, ids[i]);
        rbt_run rb = rbt_rbhost(t.store, "execute-rollback --id %s --yes", ids[i]);
        cr_assert_eq(rb.code, 0, "rollback to %s: %s", ids[i], rb.err);
        rbt_run_free(&rb);
        ops_sh("diff -r '%s/data/%s' '%s/%s'", t.tmp, ids[i], before, ids[i]);
    }
    free(before);
}

Test(prune, safety_snapshots_are_a_group_and_the_latest_is_kept)
{
    ops_snapshot(&t, "base", 4);
    for (int i = 0; i < 2; i++) {
        ops_sh("echo change%d > '%s/data/base/blob'", i, t.tmp);
        rbt_run rb = rbt_rbhost(t.store, "execute-rollback --id base --yes");
        cr_assert_eq(rb.code, 0, "rollback: %s", rb.err);
        rbt_run_free(&rb);
    }
    ops_snapshot(&t, "later", 4);
    int code;
    cJSON *list = ops_json(&t, &code, "list-snapshots");
    const cJSON *e;
    char *safety[2] = {NULL, NULL};
    int n = 0;
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(list, "snapshots"))
    {
        const char *id = cJSON_GetStringValue(cJSON_GetObjectItem(e, "id"));
        if (!strncmp(id, "pre-rollback-", 13)) {
            cr_assert_lt(n, 2);
            safety[n++] = strdup(id);
        }
    }
    cr_assert_eq(n, 2, "expected two safety snapshots");
    cJSON_Delete(list);
    /* Everything dated in the past, the second safety snapshot first in
     * time, so that only the rule about the latest rollback keeps it. */
    ops_set_created(&t, "base", JAN1);
    ops_set_created(&t, safety[0], JAN1 + 2 * D);
    ops_set_created(&t, safety[1], JAN1 + D);
    ops_set_created(&t, "later", JAN1 + 3 * D);

    /* keep-last 1 keeps the newest of each group. */
    char *kept_expect = rbt_fmt("later %s %s", safety[0], safety[1]);
    cJSON *r = ops_json(&t, &code, "prune --dry-run --keep-last 1");
    char *kept = ops_ids(r, "kept");
    cr_assert_str_eq(kept, kept_expect);
    free(kept);
    cJSON_Delete(r);
    free(kept_expect);

    r = ops_json(&t, &code, "prune --older-than 0");
    cr_assert_eq(code, 0);
    kept = ops_ids(r, "kept");
    cr_assert_str_eq(kept, safety[1], "only the latest rollback's safety snapshot stays");
    free(kept);
    char *why = cJSON_PrintUnformatted(
        cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(r, "kept"), 0), "kept_by"));
    cr_assert_str_eq(why, "[\"latest-rollback-safety\"]");
    free(why);
    cJSON_Delete(r);
    rbt_run chk = rbt_rbhost(t.store, "check");
    cr_assert_eq(chk.code, 0, "%s%s", chk.out, chk.err);
    rbt_run_free(&chk);
    free(safety[0]);
    free(safety[1]);
}

/* prune and snapshots at the same time: each either runs or is refused as
 * locked; nothing a finished snapshot uses is ever collected. */
Test(prune, concurrent_snapshots_stay_whole, .timeout = 300)
{
    ops_snapshot(&t, "seed", 4);
    char *script = rbt_fmt("%s/snapshots.sh", t.tmp);
    char *body = rbt_fmt(
        "for i in 1 2 3 4 5 6; do\n"
        "  mkdir -p \"%s/data/c$i\" && head -c 4194304 /dev/urandom > \"%s/data/c$i/blob\"\n"
        "  RBHOST_CACHE_DIR=\"${RBHOST_CACHE_DIR:-/tmp/rbt-plugin-cache}\" '%s' --store '%s' "
        "create-snapshot --id c$i --type file_system --config \"{\\\"paths\\\": "
        "[\\\"%s/data/c$i\\\"]}\" >/dev/null 2>>'%s/snap.err'\n"
        "  echo \"c$i $?\" >> '%s/codes'\n"
        "done\n"
        "touch '%s/done'\n",
        t.tmp, t.tmp, rbt_rbhost_bin(), t.store, t.tmp, t.tmp, t.tmp, t.tmp);
    rbt_spit(script, body);
    free(body);
    ops_sh("sh '%s' >/dev/null 2>&1 &", script);
    free(script);
    char *done = rbt_fmt("%s/done", t.tmp);
    int prunes = 0;
    for (;;) {
        int finished = access(done, F_OK) == 0;
        rbt_run r = rbt_rbhost(t.store, "prune --keep-last 2");
        cr_assert(r.code == 0 || r.code == 5, "prune exit %d: %s", r.code, r.err);
        if (r.code == 5)
            cr_assert(strstr(r.err, "locked") || strstr(r.err, "busy"), "%s", r.err);
        prunes++;
        rbt_run_free(&r);
        if (finished)
            break;
    }
    free(done);
    char *codes_path = rbt_fmt("%s/codes", t.tmp);
    char *codes = rbt_slurp(codes_path);
    free(codes_path);
    cr_assert_not_null(codes);
    /* Each snapshot either succeeded or was refused because prune held the
     * store. */
    const char *last_ok = NULL;
    char ok_id[16] = "";
    for (char *line = strtok(codes, "\n"); line; line = strtok(NULL, "\n")) {
        char id[16];
        int code;
        cr_assert_eq(sscanf(line, "%15s %d", id, &code), 2);
        cr_assert(code == 0 || code == 5, "snapshot %s exit %d", id, code);
        if (code == 0) {
            snprintf(ok_id, sizeof ok_id, "%s", id);
            last_ok = ok_id;
        }
    }
    rbt_run chk = rbt_rbhost(t.store, "check");
    cr_assert_eq(chk.code, 0, "check after %d prunes: %s%s", prunes, chk.out, chk.err);
    rbt_run_free(&chk);
    if (last_ok) {
        /* The newest successful snapshot survives keep-last 2 and restores. */
        char *copy = rbt_fmt("%s/copy", t.tmp);
        ops_sh("cp -a '%s/data/%s' '%s'", t.tmp, last_ok, copy);
        ops_sh("echo broken > '%s/data/%s/blob'", t.tmp, last_ok);
        rbt_run rb = rbt_rbhost(t.store, "execute-rollback --id %s --yes", last_ok);
        cr_assert_eq(rb.code, 0, "rollback to %s: %s", last_ok, rb.err);
        rbt_run_free(&rb);
        ops_sh("cmp '%s/data/%s/blob' '%s/blob'", t.tmp, last_ok, copy);
        free(copy);
    }
    free(codes);
}
