/* The loader: every way a backend can be refused, each with its class and
 * message, and none of them stopping the others. */
#include <criterion/criterion.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rbtest.h"

static char *tmp;

static void setup(void)
{
    tmp = rbt_tmpdir();
}

static void teardown(void)
{
    rbt_rmtree(tmp);
    free(tmp);
}

TestSuite(loader, .init = setup, .fini = teardown);

/* The entry of `plugins --json` whose path ends in /<file>. */
static const cJSON *entry_for(const cJSON *doc, const char *file)
{
    const cJSON *p;
    cJSON_ArrayForEach(p, cJSON_GetObjectItem(doc, "plugins"))
    {
        const char *path = cJSON_GetStringValue(cJSON_GetObjectItem(p, "path"));
        size_t n = strlen(path), m = strlen(file);
        if (n > m && path[n - m - 1] == '/' && !strcmp(path + n - m, file))
            return p;
    }
    return NULL;
}

static void expect_refused(const cJSON *doc, const char *file, const char *klass, const char *code,
                           const char *message_part)
{
    const cJSON *e = entry_for(doc, file);
    cr_assert_not_null(e, "%s not listed", file);
    cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(e, "status")), "failed", "%s", file);
    const cJSON *err = cJSON_GetObjectItem(e, "error");
    cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(err, "class")), klass, "%s", file);
    cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(err, "code")), code, "%s", file);
    const char *msg = cJSON_GetStringValue(cJSON_GetObjectItem(err, "message"));
    cr_assert(strstr(msg, message_part), "%s: message '%s' lacks '%s'", file, msg, message_part);
    char *full = rbt_fmt("%s/%s", rbt_fixture_plugin_dir(), file);
    cr_assert(strstr(msg, full), "%s: message '%s' does not name the path", file, msg);
    free(full);
}

Test(loader, every_refusal_has_its_class_and_message)
{
    rbt_run r =
        rbt_rbhost(tmp, "--plugin-dir '%s' --json plugins --load", rbt_fixture_plugin_dir());
    cr_assert_eq(r.code, 0, "%s", r.err);
    cJSON *doc = rbt_json(r.out);
    expect_refused(doc, "abi0.so", "plugin", "unsupported",
                   "built for plugin ABI 0, this host provides ABI 1");
    expect_refused(doc, "abi1024.so", "plugin", "unsupported",
                   "built for plugin ABI 1024, this host provides ABI 1");
    expect_refused(doc, "newversion.so", "plugin", "unsupported",
                   "invalid version 99 on rollback_plugin (this host accepts 1..1)");
    expect_refused(doc, "noentry.so", "plugin", "invalid",
                   "no entry symbol rbhost_plugin_entry: not an rbhost backend");
    expect_refused(doc, "notelf.so", "plugin", "invalid", "cannot load:");
    expect_refused(doc, "initfail.so", "plugin", "notfound",
                   "init of backend 'fixture_initfail' failed: fixture cannot start: widget "
                   "registry /nonexistent/widgets missing");
    char *a = rbt_fmt("%s/dup_a.so", rbt_fixture_plugin_dir());
    char *b = rbt_fmt("%s/dup_b.so", rbt_fixture_plugin_dir());
    char *dup = rbt_fmt("duplicate backend 'fixture_dup': %s is refused because %s already "
                        "provides it",
                        b, a);
    expect_refused(doc, "dup_b.so", "plugin", "exists", dup);
    const cJSON *ok = entry_for(doc, "dup_a.so");
    cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(ok, "status")), "ok");
    ok = entry_for(doc, "ok.so");
    cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(ok, "status")), "ok");
    free(a);
    free(b);
    free(dup);
    cJSON_Delete(doc);
    rbt_run_free(&r);
}

Test(loader, broken_backends_do_not_stop_the_others)
{
    char *file = rbt_fmt("%s/keep.txt", tmp);
    char *store = rbt_fmt("%s/store", tmp);
    rbt_spit(file, "kept\n");
    rbt_run r = rbt_rbhost(store,
                           "--plugin-dir '%s' create-snapshot --id s1 --type hello "
                           "--config '{\"path\":\"%s\"}'",
                           rbt_fixture_plugin_dir(), file);
    cr_assert_eq(r.code, 0, "%s", r.err);
    rbt_run_free(&r);
    r = rbt_rbhost(store,
                   "--plugin-dir '%s' create-snapshot --id s2 --type fixture_initfail "
                   "--config '{}'",
                   rbt_fixture_plugin_dir());
    /* The exit code follows the backend's own error code (not found). */
    cr_assert_eq(r.code, 4, "%d %s", r.code, r.err);
    cr_assert(strstr(r.err, "init of backend 'fixture_initfail' failed: fixture cannot start"),
              "%s", r.err);
    rbt_run_free(&r);
    r = rbt_rbhost(store,
                   "--plugin-dir '%s' create-snapshot --id s3 --type fixture_abi0 "
                   "--config '{}'",
                   rbt_fixture_plugin_dir());
    /* A descriptor of another ABI cannot even be trusted for its name. */
    cr_assert_eq(r.code, 4, "%d %s", r.code, r.err);
    cr_assert(strstr(r.err, "unknown type 'fixture_abi0'"), "%s", r.err);
    cr_assert(strstr(r.err, "file(s) there were refused, `rbhost plugins` says why"), "%s", r.err);
    rbt_run_free(&r);
    free(file);
    free(store);
}

static char *copy_hello(const char *dir)
{
    char *dst = rbt_fmt("%s/hello.so", dir);
    rbt_run r =
        rbt_sh("mkdir -p '%s' && cp '%s/hello.so' '%s'", dir, rbt_fixture_plugin_dir(), dst);
    cr_assert_eq(r.code, 0);
    rbt_run_free(&r);
    return dst;
}

Test(loader, writable_or_foreign_files_are_refused)
{
    char *dir = rbt_fmt("%s/p", tmp);
    char *so = copy_hello(dir);
    cr_assert_eq(chmod(so, 0666), 0);
    rbt_run r = rbt_rbhost(tmp, "--plugin-dir '%s' --json plugins", dir);
    cJSON *doc = rbt_json(r.out);
    const cJSON *e = entry_for(doc, "hello.so");
    const char *msg =
        cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(e, "error"), "message"));
    cr_assert(msg && strstr(msg, "writable by group or others (mode 0666); refusing to load it"),
              "%s", r.out);
    cJSON_Delete(doc);
    rbt_run_free(&r);
    cr_assert_eq(chmod(so, 0644), 0);
    cr_assert_eq(chown(so, 65534, 65534), 0);
    r = rbt_rbhost(tmp, "--plugin-dir '%s' --json plugins", dir);
    doc = rbt_json(r.out);
    e = entry_for(doc, "hello.so");
    msg = cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(e, "error"), "message"));
    cr_assert(msg && strstr(msg, "owned by uid 65534, neither root nor the current user"), "%s",
              r.out);
    cJSON_Delete(doc);
    rbt_run_free(&r);
    free(so);
    free(dir);
}

Test(loader, plugin_dir_comes_before_the_environment)
{
    char *first = rbt_fmt("%s/first", tmp), *second = rbt_fmt("%s/second", tmp);
    char *a = copy_hello(first), *b = copy_hello(second);
    rbt_run r = rbt_sh("RBHOST_PLUGIN_PATH='/nonexistent:%s' '%s' --store '%s' --plugin-dir '%s' "
                       "--json plugins",
                       second, rbt_rbhost_bin(), tmp, first);
    cr_assert_eq(r.code, 0, "%s", r.err);
    cJSON *doc = rbt_json(r.out);
    const cJSON *p;
    int ok_first = 0, dup_second = 0;
    cJSON_ArrayForEach(p, cJSON_GetObjectItem(doc, "plugins"))
    {
        const char *path = cJSON_GetStringValue(cJSON_GetObjectItem(p, "path"));
        const char *status = cJSON_GetStringValue(cJSON_GetObjectItem(p, "status"));
        if (!strcmp(path, a))
            ok_first = !strcmp(status, "ok");
        if (!strcmp(path, b)) {
            const char *msg = cJSON_GetStringValue(
                cJSON_GetObjectItem(cJSON_GetObjectItem(p, "error"), "message"));
            dup_second =
                strstr(msg, a) && strstr(msg, b) && strstr(msg, "duplicate backend 'hello'");
        }
    }
    cr_assert(ok_first && dup_second, "%s", r.out);
    const cJSON *dirs = cJSON_GetObjectItem(doc, "search_path");
    cr_assert_str_eq(cJSON_GetArrayItem(dirs, 0)->valuestring, first);
    cr_assert_str_eq(cJSON_GetArrayItem(dirs, 1)->valuestring, "/nonexistent");
    cr_assert_str_eq(cJSON_GetArrayItem(dirs, 2)->valuestring, second);
    cJSON_Delete(doc);
    rbt_run_free(&r);
    free(first);
    free(second);
    free(a);
    free(b);
}

Test(loader, a_replaced_file_is_probed_again_not_taken_from_the_cache)
{
    char *dir = rbt_fmt("%s/p", tmp);
    char *cache = rbt_fmt("%s/cache", tmp);
    char *so = copy_hello(dir);
    rbt_run r = rbt_sh("RBHOST_CACHE_DIR='%s' '%s' --store '%s' --plugin-dir '%s' --json plugins",
                       cache, rbt_rbhost_bin(), tmp, dir);
    cr_assert(strstr(r.out, "\"ok\""), "%s", r.out);
    rbt_run_free(&r);
    char *cached = rbt_fmt("%s/plugins.json", cache);
    char *text = rbt_slurp(cached);
    cr_assert(text && strstr(text, "\"hello\""), "the cache was not written");
    free(text);
    r = rbt_sh("cp '%s/abi0.so' '%s.new' && mv '%s.new' '%s'", rbt_fixture_plugin_dir(), so, so,
               so);
    cr_assert_eq(r.code, 0);
    rbt_run_free(&r);
    r = rbt_sh("RBHOST_CACHE_DIR='%s' '%s' --store '%s' --plugin-dir '%s' --json plugins", cache,
               rbt_rbhost_bin(), tmp, dir);
    cr_assert(strstr(r.out, "built for plugin ABI 0"), "%s", r.out);
    rbt_run_free(&r);
    free(cached);
    free(so);
    free(dir);
    free(cache);
}

Test(loader, a_backend_that_crashes_in_snapshot_leaves_no_snapshot)
{
    char *store = rbt_fmt("%s/store", tmp);
    rbt_run r = rbt_rbhost(store,
                           "--plugin-dir '%s' create-snapshot --id crashed --type "
                           "fixture_crash --config '{}'",
                           rbt_fixture_plugin_dir());
    cr_assert_neq(r.code, 0);
    rbt_run_free(&r);
    r = rbt_rbhost(store, "--json list-snapshots");
    cr_assert_eq(r.code, 0, "%s", r.err);
    cJSON *doc = rbt_json(r.out);
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(doc, "snapshots")), 0, "%s", r.out);
    cJSON_Delete(doc);
    rbt_run_free(&r);
    r = rbt_rbhost(store, "check");
    cr_assert_eq(r.code, 0, "%s%s", r.out, r.err);
    rbt_run_free(&r);
    /* The id is free again: nothing half-made holds it. */
    char *file = rbt_fmt("%s/f", tmp);
    rbt_spit(file, "x");
    r = rbt_rbhost(store,
                   "--plugin-dir '%s' create-snapshot --id crashed --type hello --config "
                   "'{\"path\":\"%s\"}'",
                   rbt_fixture_plugin_dir(), file);
    cr_assert_eq(r.code, 0, "%s", r.err);
    rbt_run_free(&r);
    free(file);
    free(store);
}

Test(loader, every_built_backend_exports_only_its_entry_symbol)
{
    rbt_run r =
        rbt_sh("cd \"$(dirname '%s')/../lib\"* 2>/dev/null; "
               "for so in $(find \"$(dirname '%s')/..\" -path '*/rbhost/plugins/*.so'); do "
               "  syms=$(nm -D --defined-only \"$so\" | awk '{print $3}' | grep -v '^$' "
               "         | sort -u | tr '\\n' ' '); "
               "  [ \"$syms\" = 'rbhost_plugin_entry ' ] || { echo \"$so: $syms\"; exit 1; }; "
               "  n=$((n+1)); "
               "done; echo \"checked ${n:-0}\"",
               rbt_rbhost_bin(), rbt_rbhost_bin());
    cr_assert_eq(r.code, 0, "%s%s", r.out, r.err);
    cr_assert(strncmp(r.out, "checked 0", 9) != 0, "no backend found to check");
    rbt_run_free(&r);
}

Test(loader, listing_does_not_load_backends_once_cached)
{
    char *dir = rbt_fmt("%s/p", tmp);
    char *cache = rbt_fmt("%s/cache", tmp);
    char *so = copy_hello(dir);
    for (int run = 0; run < 2; run++) {
        rbt_run r = rbt_sh("RBHOST_CACHE_DIR='%s' LD_DEBUG=files '%s' --store '%s' --plugin-dir "
                           "'%s' plugins 2>&1 >/dev/null | grep -c 'file=%s .*generating link map'",
                           cache, rbt_rbhost_bin(), tmp, dir, so);
        /* The first listing probes the backend once; the second finds it in
         * the cache and does not load it. */
        cr_assert_str_eq(r.out, run == 0 ? "1\n" : "0\n", "run %d: %s", run, r.out);
        rbt_run_free(&r);
    }
    free(so);
    free(dir);
    free(cache);
}
