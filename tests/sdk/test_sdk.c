/* A third party's view: install rbhost into a prefix, build the example
 * backend from what was installed (CMake package and pkg-config), and use
 * it with the installed rbhost. */
#include <criterion/criterion.h>
#include <string.h>

#include "rbtest.h"

static char *tmp, *prefix;

static void setup(void)
{
    tmp = rbt_tmpdir();
    prefix = rbt_fmt("%s/prefix", tmp);
    rbt_run r = rbt_sh("cmake --install '%s' --prefix '%s' >/dev/null", RBT_BUILD_DIR, prefix);
    cr_assert_eq(r.code, 0, "install failed: %s", r.err);
    rbt_run_free(&r);
}

static void teardown(void)
{
    rbt_rmtree(tmp);
    free(tmp);
    free(prefix);
}

TestSuite(sdk, .init = setup, .fini = teardown, .timeout = 300);

static void run_backend(const char *plugin_dir)
{
    char *store = rbt_fmt("%s/store", tmp);
    char *file = rbt_fmt("%s/motd", tmp);
    rbt_spit(file, "welcome\n");
    rbt_run r = rbt_sh("'%s/bin/rbhost' --store '%s' --plugin-dir '%s' create-snapshot --id s "
                       "--type hello --config '{\"path\":\"%s\"}' && "
                       "echo vandalised > '%s' && "
                       "{ '%s/bin/rbhost' --store '%s' --plugin-dir '%s' verify --id s; "
                       "  test $? -eq 1; } && "
                       "'%s/bin/rbhost' --store '%s' --plugin-dir '%s' execute-rollback --id s "
                       "--yes && "
                       "'%s/bin/rbhost' --store '%s' --plugin-dir '%s' verify --id s",
                       prefix, store, plugin_dir, file, file, prefix, store, plugin_dir, prefix,
                       store, plugin_dir, prefix, store, plugin_dir);
    cr_assert_eq(r.code, 0, "%s%s", r.out, r.err);
    rbt_run_free(&r);
    char *now = rbt_slurp(file);
    cr_assert_str_eq(now, "welcome\n");
    free(now);
    free(file);
    free(store);
}

Test(sdk, example_builds_with_the_installed_cmake_package)
{
    rbt_run r = rbt_sh("cd '%s' && cmake -S '%s/share/rbhost/examples/hello_backend' -B hb "
                       "-DCMAKE_PREFIX_PATH='%s' >/dev/null && cmake --build hb >/dev/null",
                       tmp, prefix, prefix);
    cr_assert_eq(r.code, 0, "%s%s", r.out, r.err);
    rbt_run_free(&r);
    /* Nothing of the build tree may leak into the third party's build. */
    r = rbt_sh("grep -rl '%s' '%s/hb/CMakeCache.txt' '%s/hb/CMakeFiles' 2>/dev/null | head -1",
               RBT_SOURCE_DIR, tmp, tmp);
    cr_assert_str_eq(r.out, "", "the example's build refers to the source tree: %s", r.out);
    rbt_run_free(&r);
    char *dir = rbt_fmt("%s/hb", tmp);
    run_backend(dir);
    free(dir);
}

Test(sdk, example_builds_with_pkg_config)
{
    rbt_run r = rbt_sh("cp -r '%s/share/rbhost/examples/hello_backend' '%s/pc' && "
                       "PKG_CONFIG_PATH=$(dirname $(find '%s' -name rbhost-plugin.pc)) "
                       "make -C '%s/pc' >/dev/null",
                       prefix, tmp, prefix, tmp);
    cr_assert_eq(r.code, 0, "%s%s", r.out, r.err);
    rbt_run_free(&r);
    r = rbt_sh("nm -D --defined-only '%s/pc/hello.so' | awk '{print $3}'", tmp);
    cr_assert_str_eq(r.out, "rbhost_plugin_entry\n");
    rbt_run_free(&r);
    char *dir = rbt_fmt("%s/pc", tmp);
    run_backend(dir);
    free(dir);
}

Test(sdk, installed_backends_are_found_without_flags)
{
    rbt_run r = rbt_sh("'%s/bin/rbhost' --store '%s/s' --json status", prefix, tmp);
    cr_assert_eq(r.code, 0, "%s", r.err);
    cJSON *doc = rbt_json(r.out);
    const cJSON *types = cJSON_GetObjectItem(doc, "supported_types");
    int found = 0;
    const cJSON *t;
    cJSON_ArrayForEach(t, types) found +=
        !strcmp(t->valuestring, "file_system") || !strcmp(t->valuestring, "git_commit");
    cr_assert_eq(found, 2, "%s", r.out);
    cJSON_Delete(doc);
    rbt_run_free(&r);
}
