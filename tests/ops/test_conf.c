/* rbhost.conf: the store and the defaults come from it, a flag or the
 * environment wins, and a broken file stops rbhost naming file, line and
 * key. */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ops_fixture.h"

static ops t;
static char *xdg, *conf;

static void setup(void)
{
    ops_open(&t);
    xdg = rbt_fmt("%s/xdg", t.tmp);
    conf = rbt_fmt("%s/rbhost/rbhost.conf", xdg);
    ops_sh("mkdir -p '%s/rbhost'", xdg);
}

static void teardown(void)
{
    free(conf);
    free(xdg);
    ops_close(&t);
}

TestSuite(conf, .init = setup, .fini = teardown);

/* rbhost without --store, with only this test's config files in sight. */
static rbt_run run(const char *env, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static rbt_run run(const char *env, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *args = NULL;
    cr_assert(vasprintf(&args, fmt, ap) >= 0);
    va_end(ap);
    rbt_run r = rbt_sh("env -u RBHOST_STORE -u RBHOST_CONFIG -u RBHOST_PLUGIN_PATH "
                       "HOME='%s' XDG_CONFIG_HOME='%s' "
                       "RBHOST_CACHE_DIR=\"${RBHOST_CACHE_DIR:-/tmp/rbt-plugin-cache}\" %s "
                       "'%s' %s",
                       t.tmp, xdg, env, rbt_rbhost_bin(), args);
    free(args);
    return r;
}

static void snapshot_via_conf(const char *env, const char *id)
{
    ops_sh("mkdir -p '%s/data/%s' && echo %s > '%s/data/%s/f'", t.tmp, id, id, t.tmp, id);
    rbt_run r = run(env,
                    "create-snapshot --id %s --type file_system --config '{\"paths\": "
                    "[\"%s/data/%s\"]}'",
                    id, t.tmp, id);
    cr_assert_eq(r.code, 0, "%s", r.err);
    rbt_run_free(&r);
}

/* Whether <tmp>/<store>/<id>_metadata.json exists. */
static int exists(const char *store, const char *id)
{
    char *p = rbt_fmt("%s/%s/%s_metadata.json", t.tmp, store, id);
    struct stat st;
    int ok = stat(p, &st) == 0;
    free(p);
    return ok;
}

Test(conf, store_from_the_file_and_what_beats_it)
{
    rbt_spit(conf, "# where snapshots go\n"
                   "store = ~/from-conf\n");
    snapshot_via_conf("", "a");
    cr_assert(exists("from-conf", "a"), "the config file's store (with ~ expanded) was not used");
    /* The environment beats the file, a flag beats both. */
    char *env = rbt_fmt("RBHOST_STORE='%s/from-env'", t.tmp);
    snapshot_via_conf(env, "b");
    cr_assert(exists("from-env", "b"));
    free(env);
    ops_sh("mkdir -p '%s/data/c' && echo c > '%s/data/c/f'", t.tmp, t.tmp);
    rbt_run r = run("RBHOST_STORE=/nonexistent/env",
                    "--store '%s/from-flag' create-snapshot --id c --type file_system --config "
                    "'{\"paths\": [\"%s/data/c\"]}'",
                    t.tmp, t.tmp);
    cr_assert_eq(r.code, 0, "%s", r.err);
    rbt_run_free(&r);
    cr_assert(exists("from-flag", "c"));
    /* An explicit file is read last and wins over the user's. */
    char *extra = rbt_fmt("%s/extra.conf", t.tmp);
    char *extra_text = rbt_fmt("store = %s/from-extra\n", t.tmp);
    rbt_spit(extra, extra_text);
    env = rbt_fmt("RBHOST_CONFIG='%s'", extra);
    snapshot_via_conf(env, "d");
    cr_assert(exists("from-extra", "d"));
    free(env);
    ops_sh("mkdir -p '%s/data/e' && echo e > '%s/data/e/f'", t.tmp, t.tmp);
    r = run("",
            "--config-file '%s' create-snapshot --id e --type file_system --config "
            "'{\"paths\": [\"%s/data/e\"]}'",
            extra, t.tmp);
    cr_assert_eq(r.code, 0, "%s", r.err);
    rbt_run_free(&r);
    cr_assert(exists("from-extra", "e"));
    free(extra_text);
    free(extra);
}

Test(conf, retention_defaults_drive_prune)
{
    char *text = rbt_fmt("store = %s\n"
                         "\n"
                         "[retention]\n"
                         "max_operations = 1\n",
                         t.store);
    rbt_spit(conf, text);
    free(text);
    snapshot_via_conf("", "old");
    ops_set_created(&t, "old", 1704067200LL);
    snapshot_via_conf("", "new");
    rbt_run r = run("", "--json prune --dry-run");
    cr_assert_eq(r.code, 0, "%s", r.err);
    cJSON *doc = rbt_json(r.out);
    char *kept = ops_ids(doc, "kept"), *removed = ops_ids(doc, "removed");
    cr_assert_str_eq(kept, "new");
    cr_assert_str_eq(removed, "old");
    free(kept);
    free(removed);
    cJSON_Delete(doc);
    rbt_run_free(&r);
    /* A rule on the command line replaces the file's. */
    r = run("", "--json prune --dry-run --keep-last 2");
    cr_assert_eq(r.code, 0, "%s", r.err);
    doc = rbt_json(r.out);
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(doc, "removed")), 0);
    cJSON_Delete(doc);
    rbt_run_free(&r);
}

static void expect_refused(const char *content, int line, const char *message)
{
    rbt_spit(conf, content);
    rbt_run r = run("", "--store '%s' list-snapshots", t.store);
    cr_assert_eq(r.code, 3, "exit %d for a bad file: %s", r.code, r.err);
    char *where = rbt_fmt("%s:%d: ", conf, line);
    cr_assert(strstr(r.err, where), "no '%s' in: %s", where, r.err);
    cr_assert(strstr(r.err, message), "no '%s' in: %s", message, r.err);
    free(where);
    rbt_run_free(&r);
}

Test(conf, a_broken_file_is_refused_naming_file_line_and_key)
{
    expect_refused("store = /x\nstroe = /y\n", 2, "unknown key 'stroe'");
    expect_refused("[retention]\nkeep_dialy = 3\n", 2, "unknown key 'retention.keep_dialy'");
    expect_refused("\n[retension]\n", 2, "unknown section '[retension]'");
    expect_refused("confirmation_required = yes please\n", 1,
                   "'confirmation_required' must be true or false");
    expect_refused("[retention]\nretention_days = -4\n", 2,
                   "'retention.retention_days' must be a whole number");
    expect_refused("store /x\n", 1, "expected 'key = value'");
    expect_refused("[s3]\naddressing_style = sideways\n", 2,
                   "'s3.addressing_style' cannot be 'sideways'");
    /* Even a command that would not use the key stops: a typo never
     * changes behaviour silently. --json still prints one document. */
    rbt_spit(conf, "dry_run_defualt = true\n");
    rbt_run r = run("", "--json --store '%s' list-snapshots", t.store);
    cr_assert_eq(r.code, 3);
    cJSON *doc = rbt_json(r.out);
    cr_assert(strstr(cJSON_GetStringValue(cJSON_GetObjectItem(doc, "error")),
                     "unknown key 'dry_run_defualt'"));
    cJSON_Delete(doc);
    rbt_run_free(&r);
    /* A file asked for by name must exist. */
    rbt_spit(conf, "");
    r = run("", "--config-file '%s/missing.conf' --store '%s' list-snapshots", t.tmp, t.store);
    cr_assert_eq(r.code, 4, "%s", r.err);
    cr_assert(strstr(r.err, "missing.conf not found"), "%s", r.err);
    rbt_run_free(&r);
}

Test(conf, every_documented_key_is_accepted)
{
    char *text = rbt_fmt("store = \"%s\"\n"
                         "plugin_dirs = %s/plugins:~/more   # two\n"
                         "confirmation_required = false\n"
                         "dry_run_default = false\n"
                         "; retention\n"
                         "[retention]   ; prune's defaults\n"
                         "retention_days = 90\n"
                         "max_operations = 10000\n"
                         "keep_last = 5\n"
                         "keep_daily = 7\n"
                         "keep_weekly = 4\n"
                         "keep_monthly = 12\n"
                         "[s3]\n"
                         "endpoint = https://s3.example.net\n"
                         "region = eu-west-1\n"
                         "addressing_style = path\n"
                         "bucket = snapshots\n"
                         "prefix = host1/\n"
                         "ca_file = ~/ca.pem\n",
                         t.store, t.tmp);
    rbt_spit(conf, text);
    free(text);
    rbt_run r = run("", "list-snapshots");
    cr_assert_eq(r.code, 0, "%s", r.err);
    rbt_run_free(&r);
}
