/* The S3 client lives in rbhost-s3.so: commands on a local store never
 * load libcurl, an S3 store loads the module, and a missing module is a
 * clear error naming where it was looked for. */
#include <criterion/criterion.h>
#include <libgen.h>
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

TestSuite(s3_module, .init = setup, .fini = teardown);

/* <build>/bin/rbhost -> <build> */
static char *build_root(void)
{
    char *bin = strdup(rbt_rbhost_bin());
    char *root = strdup(dirname(dirname(bin)));
    free(bin);
    return root;
}

/* What `ldd` says `path` loads, with its dependencies' dependencies. */
static char *ldd(const char *path)
{
    rbt_run r = rbt_sh("ldd '%s'", path);
    cr_assert_eq(r.code, 0, "ldd %s: %s", path, r.err);
    char *out = strdup(r.out);
    rbt_run_free(&r);
    return out;
}

Test(s3_module, librbhost_and_rbhost_do_not_link_libcurl)
{
    char *root = build_root();
    char *lib = rbt_fmt("%s/lib/librbhost.so", root);
    char *module = rbt_fmt("%s/lib/rbhost/rbhost-s3.so", root);
    char *deps = ldd(lib);
    cr_assert(strstr(deps, "libcrypto"), "ldd of %s lists no libraries: %s", lib, deps);
    cr_assert_null(strstr(deps, "libcurl"), "%s loads libcurl:\n%s", lib, deps);
    free(deps);
    deps = ldd(rbt_rbhost_bin());
    cr_assert_null(strstr(deps, "libcurl"), "%s loads libcurl:\n%s", rbt_rbhost_bin(), deps);
    free(deps);
    deps = ldd(module);
    cr_assert(strstr(deps, "libcurl"), "%s does not link libcurl:\n%s", module, deps);
    free(deps);
    free(module);
    free(lib);
    free(root);
}

/* The shared objects a command maps, as the dynamic loader reports them. */
static char *loaded_by(const char *env_and_command)
{
    rbt_run r = rbt_sh("LD_DEBUG=files %s 2>&1 >/dev/null | grep 'file=' || true", env_and_command);
    char *out = strdup(r.out);
    rbt_run_free(&r);
    return out;
}

Test(s3_module, only_an_s3_store_loads_the_s3_module_and_libcurl)
{
    char *local = rbt_fmt("%s/local", t.tmp);
    rbt_run r = rbt_rbhost(local, "list-snapshots");
    cr_assert_eq(r.code, 0, "%s", r.err);
    rbt_run_free(&r);
    char *cmd = rbt_fmt("'%s' --store '%s' list-snapshots", rbt_rbhost_bin(), local);
    char *files = loaded_by(cmd);
    cr_assert(strstr(files, "librbhost"), "LD_DEBUG shows no library: %s", files);
    cr_assert_null(strstr(files, "rbhost-s3.so"), "a local store loaded the S3 module:\n%s", files);
    cr_assert_null(strstr(files, "libcurl"), "a local store loaded libcurl:\n%s", files);
    free(files);
    free(cmd);
    free(local);

    cmd = rbt_fmt("RBHOST_CACHE_DIR='%s/cache-a' RBHOST_S3_ACCESS_KEY='%s' "
                  "RBHOST_S3_SECRET_KEY='%s' '%s' --store '%s' list-snapshots",
                  t.tmp, t.access_key, t.secret_key, rbt_rbhost_bin(), t.url);
    files = loaded_by(cmd);
    cr_assert(strstr(files, "rbhost-s3.so"), "an S3 store did not load the module:\n%s", files);
    cr_assert(strstr(files, "libcurl"), "an S3 store did not load libcurl:\n%s", files);
    free(files);
    free(cmd);
}

Test(s3_module, a_missing_module_is_a_clear_error_naming_its_path)
{
    /* An installed layout without rbhost-s3.so: the binary and librbhost
     * only, found through the binary's $ORIGIN/../lib run path. */
    char *root = build_root();
    char *prefix = rbt_fmt("%s/prefix", t.tmp);
    rbt_run r = rbt_sh("mkdir -p '%s/bin' '%s/lib/rbhost' && cp '%s' '%s/bin/' && "
                       "cp -a '%s'/lib/librbhost.so* '%s/lib/'",
                       prefix, prefix, rbt_rbhost_bin(), prefix, root, prefix);
    cr_assert_eq(r.code, 0, "%s", r.err);
    rbt_run_free(&r);
    char *expected = rbt_fmt("%s/lib/rbhost/rbhost-s3.so", prefix);

    r = rbt_sh("RBHOST_CACHE_DIR='%s/cache' RBHOST_S3_ACCESS_KEY='%s' RBHOST_S3_SECRET_KEY='%s' "
               "'%s/bin/rbhost' --store '%s' list-snapshots",
               t.tmp, t.access_key, t.secret_key, prefix, t.url);
    cr_assert_eq(r.code, 6, "%d %s", r.code, r.err);
    cr_assert(strstr(r.err, expected), "the message does not name %s: %s", expected, r.err);
    cr_assert(strstr(r.err, t.plain), "the message does not name the store: %s", r.err);
    cr_assert(strstr(r.err, "S3 client module"), "%s", r.err);
    rbt_run_free(&r);

    /* Local stores do not need it. */
    r = rbt_sh("'%s/bin/rbhost' --store '%s/local' list-snapshots", prefix, t.tmp);
    cr_assert_eq(r.code, 0, "%d %s", r.code, r.err);
    rbt_run_free(&r);
    free(expected);
    free(prefix);
    free(root);
}
