/* Bad input: a path that does not exist, a file the user cannot read. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs_fixture.h"

static fst t;

static void setup(void)
{
    fst_open(&t);
}

static void teardown(void)
{
    rbt_run r = rbt_sh("[ -f '%s/writer.pid' ] && kill $(cat '%s/writer.pid')", t.tmp, t.tmp);
    rbt_run_free(&r);
    fst_close(&t);
}

TestSuite(fs_errors, .init = setup, .fini = teardown);

Test(fs_errors, missing_path_is_an_error_naming_it)
{
    char *cfg = rbt_fmt("{\"paths\": [\"%s\", \"%s/nope\"]}", t.tree, t.tmp);
    char *file = rbt_fmt("%s/cfg.json", t.tmp);
    rbt_spit(file, cfg);
    int code;
    cJSON *j = fst_rbhost_json(&t, &code,
                               "create-snapshot --id m --type file_system --config @'%s'", file);
    cr_assert_neq(code, 0);
    cr_assert_str_eq(fst_str(j, "status", NULL), "failed");
    const char *err = fst_str(j, "error", NULL);
    cr_assert(err && strstr(err, "/nope") && strstr(err, "does not exist"), "%s", err);
    cJSON_Delete(j);
    char *meta = rbt_fmt("%s/m_metadata.json", t.store);
    cr_assert_neq(access(meta, F_OK), 0, "a failed snapshot left metadata");
    free(meta);
    free(file);
    free(cfg);
}

Test(fs_errors, unreadable_file_is_an_error_naming_it_and_no_snapshot)
{
    if (geteuid() != 0)
        cr_skip_test("needs root to run rbhost as another user");
    /* Root reads everything, so the snapshot runs as nobody, over a tree
     * and a store nobody owns, with one file nobody may not read. */
    fst_sh("chmod 755 '%s' && mkdir '%s/store' && chown nobody '%s/store' && "
           "cd '%s' && printf ok > ok && printf secret > locked && chmod 000 locked && "
           "chown -R nobody .",
           t.tmp, t.tmp, t.tmp, t.tree);
    char *store = rbt_fmt("%s/store", t.tmp);
    rbt_run r = rbt_sh("cd / && runuser -u nobody -- '%s' --store '%s' --json create-snapshot "
                       "--id locked --type file_system --config '{\"paths\": [\"%s\"]}'",
                       rbt_rbhost_bin(), store, t.tree);
    cr_assert_neq(r.code, 0, "snapshot of an unreadable file succeeded: %s", r.out);
    cr_assert(strstr(r.out, "/tree/locked") && strstr(r.out, "ermission denied"),
              "the error does not name the file: %s %s", r.out, r.err);
    rbt_run_free(&r);
    char *meta = rbt_fmt("%s/locked_metadata.json", store);
    cr_assert_neq(access(meta, F_OK), 0, "a failed snapshot left metadata");
    free(meta);
    free(store);
}

Test(fs_errors, file_that_keeps_changing_is_retried_then_reported)
{
    /* A large file appended to all the time: every read of it sees the size
     * and mtime move, so the retries run out. */
    fst_sh("head -c 40000000 /dev/urandom > '%s/growing' && printf ok > '%s/calm'", t.tree, t.tree);
    fst_sh(
        "(while :; do echo x >> '%s/growing'; done) > /dev/null 2>&1 & echo $! > '%s/writer.pid'",
        t.tree, t.tmp);
    char *cfg = fst_config(&t);
    char *file = rbt_fmt("%s/cfg.json", t.tmp);
    rbt_spit(file, cfg);
    int code;
    cJSON *j = fst_rbhost_json(&t, &code,
                               "create-snapshot --id busy --type file_system --config @'%s'", file);
    cr_assert_neq(code, 0, "a snapshot of a file being written succeeded");
    const char *err = fst_str(j, "error", NULL);
    cr_assert(err && strstr(err, "/tree/growing") && strstr(err, "changed while being read"), "%s",
              err);
    cJSON_Delete(j);
    free(file);
    free(cfg);
}
