/* Bad input on the command line: each gets a clear error, its exit code,
 * and leaves the store as it was. */
#include <criterion/criterion.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rbtest.h"

static char *tmp, *store, *file;

static void setup(void)
{
    tmp = rbt_tmpdir();
    store = rbt_fmt("%s/store", tmp);
    file = rbt_fmt("%s/app.conf", tmp);
    rbt_spit(file, "port=80\n");
}

static void teardown(void)
{
    rbt_rmtree(tmp);
    free(tmp);
    free(store);
    free(file);
}

TestSuite(cli, .init = setup, .fini = teardown);

static rbt_run hb(const char *fmt_args)
{
    return rbt_rbhost(store, "--plugin-dir '%s' %s", rbt_fixture_plugin_dir(), fmt_args);
}

static int snapshot_count(void)
{
    rbt_run r = rbt_rbhost(store, "--json list-snapshots");
    cr_assert_eq(r.code, 0, "%s", r.err);
    cJSON *doc = rbt_json(r.out);
    int n = cJSON_GetArraySize(cJSON_GetObjectItem(doc, "snapshots"));
    cJSON_Delete(doc);
    rbt_run_free(&r);
    return n;
}

static void expect(rbt_run r, int code, const char *message)
{
    cr_assert_eq(r.code, code, "exit %d, expected %d; stderr: %s", r.code, code, r.err);
    cr_assert(strstr(r.err, message), "stderr lacks '%s': %s", message, r.err);
    rbt_run_free(&r);
}

Test(cli, malformed_json_config)
{
    expect(hb("create-snapshot --id a --type hello --config '{\"path\": '"), 3,
           "--config: malformed JSON at byte");
    cr_assert_eq(snapshot_count(), 0);
}

Test(cli, unknown_type)
{
    expect(hb("create-snapshot --id a --type nosuch --config '{}'"), 4,
           "unknown type 'nosuch': no backend provides it");
    struct stat st;
    cr_assert_neq(stat(store, &st), 0, "a store was created for an unknown type");
}

Test(cli, unknown_and_missing_config_keys)
{
    char *args = rbt_fmt(
        "create-snapshot --id a --type hello --config '{\"path\":\"%s\",\"colour\":1}'", file);
    expect(hb(args), 3, "unknown config key 'colour' for type 'hello' (known keys: path)");
    free(args);
    expect(hb("create-snapshot --id a --type hello --config '{}'"), 3,
           "missing required config key 'path' for type 'hello'");
    expect(hb("create-snapshot --id a --type hello --config '{\"path\": 5}'"), 3,
           "config key 'path' for type 'hello' must be of type string, not a number");
    cr_assert_eq(snapshot_count(), 0);
}

Test(cli, bad_ids_are_refused_before_any_file_is_touched)
{
    const char *bad[] = {"../etc", "a/b", ".hidden", "", "x y", "-dash"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *args = rbt_fmt("create-snapshot --id '%s' --type hello --config '{\"path\":\"%s\"}'",
                             bad[i], file);
        rbt_run r = hb(args);
        cr_assert(r.code == 3 || r.code == 2, "id '%s': exit %d %s", bad[i], r.code, r.err);
        if (r.code == 3)
            cr_assert(strstr(r.err, "invalid snapshot id"), "%s", r.err);
        rbt_run_free(&r);
        free(args);
    }
    struct stat st;
    cr_assert_neq(stat(store, &st), 0, "the store was created for a refused id");
    char *long_id = malloc(130);
    memset(long_id, 'a', 129);
    long_id[129] = '\0';
    char *args = rbt_fmt("execute-rollback --id %s --yes", long_id);
    expect(hb(args), 3, "invalid snapshot id");
    free(args);
    free(long_id);
}

Test(cli, missing_snapshot)
{
    char *args =
        rbt_fmt("create-snapshot --id one --type hello --config '{\"path\":\"%s\"}'", file);
    rbt_run r = hb(args);
    cr_assert_eq(r.code, 0, "%s", r.err);
    rbt_run_free(&r);
    free(args);
    expect(hb("execute-rollback --id nosuch --yes"), 4, "nosuch");
    expect(hb("verify --id nosuch"), 4, "nosuch");
    expect(hb("delete-snapshot --id nosuch"), 4, "nosuch");
}

Test(cli, duplicate_id_is_refused_and_the_first_kept)
{
    char *args =
        rbt_fmt("create-snapshot --id one --type hello --config '{\"path\":\"%s\"}'", file);
    rbt_run r = hb(args);
    cr_assert_eq(r.code, 0, "%s", r.err);
    rbt_run_free(&r);
    expect(hb(args), 3, "snapshot 'one' already exists");
    free(args);
    cr_assert_eq(snapshot_count(), 1);
}

Test(cli, usage_errors_and_help)
{
    expect(rbt_rbhost(store, "frobnicate"), 2, "unknown command 'frobnicate'");
    expect(rbt_rbhost(store, "create-snapshot --type hello"), 2, "needs --id");
    expect(rbt_rbhost(store, "verify"), 2, "needs --id");
    const char *cmds[] = {"create-snapshot", "execute-rollback", "verify", "delete-snapshot",
                          "list-snapshots",  "history",          "status", "plugins",
                          "check",           "export",           "import", "process",
                          "show-snapshot"};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        rbt_run r = rbt_rbhost(store, "%s --help", cmds[i]);
        cr_assert_eq(r.code, 0, "%s --help: %d", cmds[i], r.code);
        cr_assert(strstr(r.out, "usage: rbhost"), "%s --help: %s", cmds[i], r.out);
        rbt_run_free(&r);
    }
    rbt_run r = rbt_rbhost(store, "--help");
    cr_assert_eq(r.code, 0);
    cr_assert(strstr(r.out, "execute-rollback"));
    rbt_run_free(&r);
}

Test(cli, json_failure_is_one_document_on_stdout)
{
    rbt_run r = hb("--json create-snapshot --id a --type nosuch --config '{}'");
    cr_assert_eq(r.code, 4);
    cJSON *doc = rbt_json(r.out);
    cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(doc, "status")), "failed");
    cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(doc, "error_class")), "plugin");
    cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(doc, "error_code")), "notfound");
    cr_assert(strstr(cJSON_GetStringValue(cJSON_GetObjectItem(doc, "error")), "unknown type"));
    cJSON_Delete(doc);
    rbt_run_free(&r);
}

Test(cli, a_locked_store_names_the_holder)
{
    char *args =
        rbt_fmt("create-snapshot --id one --type hello --config '{\"path\":\"%s\"}'", file);
    rbt_run r = hb(args);
    cr_assert_eq(r.code, 0, "%s", r.err);
    rbt_run_free(&r);
    free(args);
    /* A rollback holds the store while its validation command sleeps. */
    char *marker = rbt_fmt("%s/started", tmp);
    r = rbt_sh("RBHOST_CACHE_DIR=%s/cache '%s' --store '%s' --plugin-dir '%s' execute-rollback "
               "--id one --yes --validation '{\"tests\":[{\"type\":\"command\",\"run\":\"touch "
               "%s; sleep 4\"}]}' >/dev/null 2>&1 & "
               "for i in $(seq 100); do [ -e %s ] && break; sleep 0.1; done; "
               "'%s' --store '%s' --plugin-dir '%s' create-snapshot --id two --type hello "
               "--config '{\"path\":\"%s\"}'; echo \"exit=$?\"; wait",
               tmp, rbt_rbhost_bin(), store, rbt_fixture_plugin_dir(), marker, marker,
               rbt_rbhost_bin(), store, rbt_fixture_plugin_dir(), file);
    cr_assert(strstr(r.out, "exit=5"), "%s %s", r.out, r.err);
    cr_assert(strstr(r.err, "is locked by pid"), "%s", r.err);
    cr_assert(strstr(r.err, "execute-rollback --id one"), "%s", r.err);
    rbt_run_free(&r);
    free(marker);
    cr_assert_eq(snapshot_count(), 2, "the rollback's safety snapshot and the original");
}

Test(cli, a_corrupt_blob_is_found_by_check)
{
    char *big = rbt_fmt("%s/big", tmp);
    rbt_run r = rbt_sh("head -c 300000 /dev/urandom > '%s'", big);
    rbt_run_free(&r);
    char *args = rbt_fmt("create-snapshot --id one --type hello --config '{\"path\":\"%s\"}'", big);
    r = hb(args);
    cr_assert_eq(r.code, 0, "%s", r.err);
    rbt_run_free(&r);
    free(args);
    r = rbt_rbhost(store, "check");
    cr_assert_eq(r.code, 0, "%s%s", r.out, r.err);
    rbt_run_free(&r);
    /* Flip one byte in the middle of the largest file the store holds. */
    r = rbt_sh("f=$(find '%s' -type f -printf '%%s %%p\\n' | sort -n | tail -1 | cut -d' ' -f2-); "
               "size=$(stat -c %%s \"$f\"); off=$((size / 2)); "
               "b=$(dd if=\"$f\" bs=1 skip=$off count=1 2>/dev/null | od -An -tu1 | tr -d ' '); "
               "printf \"$(printf '\\\\%%03o' $(( (b + 1) %% 256 )))\" | "
               "dd of=\"$f\" bs=1 seek=$off conv=notrunc 2>/dev/null",
               store);
    cr_assert_eq(r.code, 0, "%s", r.err);
    rbt_run_free(&r);
    r = rbt_rbhost(store, "--json check");
    cr_assert_eq(r.code, 7, "%s%s", r.out, r.err);
    cJSON *doc = rbt_json(r.out);
    const cJSON *p = cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "problems"), 0);
    cr_assert_not_null(p, "%s", r.out);
    cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(p, "snapshot")), "one", "%s", r.out);
    cJSON_Delete(doc);
    rbt_run_free(&r);
    r = hb("execute-rollback --id one --yes");
    cr_assert_neq(r.code, 0, "a rollback from a corrupt blob must not succeed");
    rbt_run_free(&r);
    free(big);
}

Test(cli, hostile_archives_are_refused)
{
    char *dir = rbt_fmt("%s/evil", tmp);
    rbt_run r =
        rbt_sh("mkdir -p '%s/x' && cd '%s/x' && echo pwned > ../escape && "
               "tar -cPf '%s/dotdot.tar' ../escape && zstd -q '%s/dotdot.tar' -o "
               "'%s/dotdot.tar.zst' && "
               "tar -cPf '%s/abs.tar' '%s/escape' && zstd -q '%s/abs.tar' -o '%s/abs.tar.zst' && "
               "ln -s /etc/passwd '%s/link' && tar -C '%s' -cf '%s/link.tar' link && "
               "zstd -q '%s/link.tar' -o '%s/link.tar.zst'",
               dir, dir, dir, dir, dir, dir, dir, dir, dir, dir, dir, dir, dir, dir);
    cr_assert_eq(r.code, 0, "%s", r.err);
    rbt_run_free(&r);
    const char *names[] = {"dotdot", "abs", "link"};
    for (size_t i = 0; i < 3; i++) {
        r = rbt_rbhost(store, "import '%s/%s.tar.zst'", dir, names[i]);
        cr_assert_eq(r.code, 3, "%s: exit %d %s", names[i], r.code, r.err);
        rbt_run_free(&r);
    }
    cr_assert_eq(snapshot_count(), 0);
    r = rbt_rbhost(store, "check");
    cr_assert_eq(r.code, 0, "%s%s", r.out, r.err);
    rbt_run_free(&r);
    free(dir);
}
