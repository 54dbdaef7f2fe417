/* rbhost metrics against a real store: snapshots of two backends (the
 * SDK's hello example and file_system), rollbacks that completed, were
 * partial and failed, all made through the CLI. The exposition format is
 * checked line by line and every value against what the store reports
 * through list-snapshots, show-snapshot, history and status. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "rbtest.h"

static char *tmp, *store;

#define HB(...) rbt_rbhost(store, "--plugin-dir '%s' " __VA_ARGS__)

static void ok(rbt_run r, int code)
{
    cr_assert_eq(r.code, code, "exit %d, expected %d: %s%s", r.code, code, r.out, r.err);
    rbt_run_free(&r);
}

static void hello_snapshot(const char *id, const char *path)
{
    ok(HB("create-snapshot --id %s --type hello --config '{\"path\":\"%s\"}'",
          rbt_fixture_plugin_dir(), id, path),
       0);
}

/* Two hello snapshots, one file_system snapshot, and rollbacks: completed
 * (with a safety snapshot, a set of one hello target), partial (a
 * validation test fails), failed (the restored path became a directory). */
static void setup(void)
{
    tmp = rbt_tmpdir();
    store = rbt_fmt("%s/store", tmp);
    char *app = rbt_fmt("%s/app.conf", tmp), *other = rbt_fmt("%s/other.conf", tmp);
    char *tree = rbt_fmt("%s/tree", tmp), *v = rbt_fmt("%s/validation.json", tmp);
    rbt_spit(app, "port=80\n");
    rbt_spit(other, "user=www\n");
    ok(rbt_sh("mkdir -p '%s/sub' && echo hi > '%s/sub/a' && head -c 100000 /dev/urandom > "
              "'%s/b'",
              tree, tree, tree),
       0);
    hello_snapshot("h1", app);
    hello_snapshot("h2", other);
    ok(rbt_rbhost(store,
                  "create-snapshot --id f1 --type file_system --config '{\"paths\":[\"%s\"]}'",
                  tree),
       0);
    rbt_spit(app, "port=8080\n");
    ok(HB("execute-rollback --id h1 --yes", rbt_fixture_plugin_dir()), 0);
    char *tests = rbt_fmt("{\"tests\":[{\"type\":\"file_exists\",\"path\":\"%s/absent\"}]}", tmp);
    rbt_spit(v, tests);
    ok(HB("execute-rollback --id h1 --yes --no-safety-snapshot --validation @%s",
          rbt_fixture_plugin_dir(), v),
       1);
    ok(rbt_sh("rm '%s' && mkdir -p '%s/x'", other, other), 0);
    ok(HB("execute-rollback --id h2 --yes --no-safety-snapshot", rbt_fixture_plugin_dir()), 6);
    free(app);
    free(other);
    free(tree);
    free(v);
    free(tests);
}

static void teardown(void)
{
    rbt_rmtree(tmp);
    free(tmp);
    free(store);
}

TestSuite(metrics, .init = setup, .fini = teardown);

static char *metrics_text(void)
{
    rbt_run r = HB("metrics", rbt_fixture_plugin_dir());
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_assert_str_eq(r.err, "");
    free(r.err);
    return r.out;
}

static cJSON *json_of(const char *args)
{
    rbt_run r = HB("--json %s", rbt_fixture_plugin_dir(), args);
    cr_assert_eq(r.code, 0, "%s: %s", args, r.err);
    cJSON *doc = rbt_json(r.out);
    rbt_run_free(&r);
    return doc;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

/* The value of the sample `name{labels}` exactly as written, or fails. */
static double value_of(const char *text, const char *series)
{
    char *needle = rbt_fmt("\n%s ", series);
    const char *at = strstr(text, needle);
    cr_assert_not_null(at, "no sample %s in:\n%s", series, text);
    double v = strtod(at + strlen(needle), NULL);
    free(needle);
    return v;
}

Test(metrics, every_sample_is_declared_named_and_escaped_by_the_rules)
{
    char *text = metrics_text();
    regex_t name_re, sample_re;
    cr_assert_eq(regcomp(&name_re, "^rbhost_[a-z_]+$", REG_EXTENDED | REG_NOSUB), 0);
    /* Label values: anything but ", \ and newline, or those escaped. */
    cr_assert_eq(regcomp(&sample_re,
                         "^(rbhost_[a-z_]+)(\\{[a-z_]+=\"([^\"\\\\]|\\\\[\\\\\"n])*\""
                         "(,[a-z_]+=\"([^\"\\\\]|\\\\[\\\\\"n])*\")*\\})? "
                         "-?[0-9]+(\\.[0-9]+)?(e[-+][0-9]+)?$",
                         REG_EXTENDED),
                 0);
    char declared[64][96], types[64][16];
    size_t families = 0, samples = 0;
    char *copy = strdup(text), *save = NULL;
    cr_assert_eq(text[strlen(text) - 1], '\n', "the text ends with a newline");
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char name[96], rest[256];
        if (sscanf(line, "# HELP %95s %255[^\n]", name, rest) == 2) {
            cr_assert_eq(regexec(&name_re, name, 0, NULL, 0), 0, "bad name: %s", line);
            for (size_t i = 0; i < families; i++)
                cr_assert_str_neq(declared[i], name, "%s declared twice", name);
            cr_assert_lt(families, 64);
            snprintf(declared[families], sizeof declared[0], "%s", name);
            types[families][0] = '\0';
            families++;
            continue;
        }
        if (sscanf(line, "# TYPE %95s %255s", name, rest) == 2) {
            cr_assert_gt(families, 0);
            cr_assert_str_eq(declared[families - 1], name, "TYPE without its HELP: %s", line);
            cr_assert(!strcmp(rest, "gauge") || !strcmp(rest, "counter"), "%s", line);
            snprintf(types[families - 1], sizeof types[0], "%.15s", rest);
            continue;
        }
        cr_assert_neq(line[0], '#', "unexpected comment: %s", line);
        regmatch_t m[2];
        cr_assert_eq(regexec(&sample_re, line, 2, m, 0), 0, "malformed sample: %s", line);
        snprintf(name, sizeof name, "%.*s", (int)(m[1].rm_eo - m[1].rm_so), line);
        cr_assert_gt(families, 0, "sample before any HELP: %s", line);
        cr_assert_str_eq(declared[families - 1], name, "sample outside its family: %s", line);
        cr_assert_neq(types[families - 1][0], '\0', "sample before TYPE: %s", line);
        if (!strcmp(types[families - 1], "counter"))
            cr_assert(ends_with(name, "_total"), "counter without _total: %s", name);
        else
            cr_assert(!ends_with(name, "_total"), "gauge named like a counter: %s", name);
        if (strstr(name, "bytes"))
            cr_assert(ends_with(name, "_bytes"), "bytes not in the _bytes unit: %s", name);
        if (strstr(name, "seconds"))
            cr_assert(ends_with(name, "_seconds"), "seconds not as _seconds: %s", name);
        samples++;
    }
    cr_assert_geq(samples, 10);
    free(copy);
    regfree(&name_re);
    regfree(&sample_re);
    free(text);
}

Test(metrics, values_are_what_the_store_holds)
{
    char *text = metrics_text();

    /* Snapshots by backend: the one type of a snapshot's targets. */
    cJSON *list = json_of("list-snapshots");
    int hello = 0, fs = 0, total = 0;
    const cJSON *s;
    cJSON_ArrayForEach(s, cJSON_GetObjectItem(list, "snapshots"))
    {
        const char *id = cJSON_GetStringValue(cJSON_GetObjectItem(s, "id"));
        char *args = rbt_fmt("show-snapshot --id %s", id);
        cJSON *doc = json_of(args);
        free(args);
        const char *type = cJSON_GetStringValue(cJSON_GetObjectItem(doc, "type"));
        const cJSON *targets = cJSON_GetObjectItem(doc, "targets");
        if (cJSON_GetArraySize(targets) == 1)
            type =
                cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(targets, 0), "type"));
        hello += !strcmp(type, "hello");
        fs += !strcmp(type, "file_system");
        total++;
        cJSON_Delete(doc);
    }
    cJSON_Delete(list);
    /* h1, h2, f1 and the safety snapshot of the first rollback. */
    cr_assert_eq(total, 4);
    cr_assert_eq(hello, 3);
    cr_assert_eq(fs, 1);
    cr_assert_eq(value_of(text, "rbhost_snapshots{backend=\"hello\"}"), 3);
    cr_assert_eq(value_of(text, "rbhost_snapshots{backend=\"file_system\"}"), 1);
    cr_assert_null(strstr(text, "backend=\"set\""), "%s", text);

    /* Rollbacks by status, from the history. */
    cJSON *hist = json_of("history");
    int completed = 0, partial = 0, failed = 0, passed = 0, checks = 0;
    double last_start = -1, last_duration = 0;
    const cJSON *h;
    cJSON_ArrayForEach(h, cJSON_GetObjectItem(hist, "history"))
    {
        const char *st = cJSON_GetStringValue(cJSON_GetObjectItem(h, "status"));
        completed += !strcmp(st, "completed");
        partial += !strcmp(st, "partial");
        failed += !strcmp(st, "failed");
        const cJSON *ver = cJSON_GetObjectItem(h, "verification_results");
        passed += cJSON_GetObjectItem(ver, "passed")->valueint;
        checks += cJSON_GetObjectItem(ver, "total")->valueint;
        double started = cJSON_GetNumberValue(cJSON_GetObjectItem(h, "started_at"));
        if (started >= last_start) {
            last_start = started;
            last_duration = cJSON_GetNumberValue(cJSON_GetObjectItem(h, "duration"));
        }
    }
    cJSON_Delete(hist);
    cr_assert_eq(completed, 1);
    cr_assert_eq(partial, 1);
    cr_assert_eq(failed, 1);
    cr_assert_eq(value_of(text, "rbhost_rollbacks_total{status=\"completed\"}"), 1);
    cr_assert_eq(value_of(text, "rbhost_rollbacks_total{status=\"partial\"}"), 1);
    cr_assert_eq(value_of(text, "rbhost_rollbacks_total{status=\"failed\"}"), 1);
    cr_assert_eq(value_of(text, "rbhost_rollbacks_total{status=\"vetoed\"}"), 0);
    cr_assert_eq(value_of(text, "rbhost_verification_checks_total{result=\"passed\"}"), passed);
    cr_assert_eq(value_of(text, "rbhost_verification_checks_total{result=\"failed\"}"),
                 checks - passed);
    cr_assert_gt(checks - passed, 0, "the partial rollback failed a check");
    cr_assert_float_eq(value_of(text, "rbhost_verification_pass_ratio"), (double)passed / checks,
                       1e-5);
    cr_assert_eq(value_of(text, "rbhost_last_rollback_timestamp_seconds"), last_start);
    cr_assert_float_eq(value_of(text, "rbhost_last_rollback_duration_seconds"), last_duration,
                       1e-4);

    /* The store, from status. */
    cJSON *status = json_of("status");
    const cJSON *st = cJSON_GetObjectItem(status, "store");
    double stored = cJSON_GetObjectItem(st, "stored_bytes")->valuedouble;
    double original = cJSON_GetObjectItem(st, "original_bytes")->valuedouble;
    cr_assert_gt(original, 100000, "the file_system snapshot holds the 100 kB file");
    cr_assert_eq(value_of(text, "rbhost_store_size_bytes"), stored);
    cr_assert_eq(value_of(text, "rbhost_store_original_bytes"), original);
    cr_assert_eq(value_of(text, "rbhost_store_blobs"),
                 cJSON_GetObjectItem(st, "blobs")->valuedouble);
    cr_assert_float_eq(value_of(text, "rbhost_store_dedup_ratio"), original / stored, 1e-4);
    cJSON_Delete(status);

    /* No watch ever ran against this store. */
    cr_assert_null(strstr(text, "rbhost_watch_"), "%s", text);
    free(text);
}

Test(metrics, textfile_is_written_whole_world_readable_and_alone)
{
    char *text = metrics_text();
    char *dir = rbt_fmt("%s/textfile", tmp);
    ok(rbt_sh("mkdir '%s'", dir), 0);
    /* A restrictive umask must not hide the file from node_exporter. */
    ok(rbt_sh("umask 077; RBHOST_CACHE_DIR=\"${RBHOST_CACHE_DIR:-/tmp/rbt-plugin-cache}\" '%s' "
              "--store '%s' --plugin-dir '%s' metrics --textfile '%s'",
              rbt_rbhost_bin(), store, rbt_fixture_plugin_dir(), dir),
       0);
    char *path = rbt_fmt("%s/rbhost.prom", dir);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(st.st_mode & 07777, 0644, "mode %o", st.st_mode & 07777);
    char *written = rbt_slurp(path);
    cr_assert_str_eq(written, text);
    DIR *d = opendir(dir);
    struct dirent *e;
    int entries = 0;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            cr_assert_str_eq(e->d_name, "rbhost.prom", "left behind: %s", e->d_name);
            entries++;
        }
    closedir(d);
    cr_assert_eq(entries, 1);

    /* Written again over the first; --json names the file and carries the text. */
    rbt_run r = HB("--json metrics --textfile '%s'", rbt_fixture_plugin_dir(), dir);
    cr_assert_eq(r.code, 0, "%s", r.err);
    cJSON *doc = rbt_json(r.out);
    cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(doc, "textfile")), path);
    cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(doc, "metrics")), text);
    cJSON_Delete(doc);
    rbt_run_free(&r);

    r = HB("metrics --textfile '%s/absent'", rbt_fixture_plugin_dir(), tmp);
    cr_assert_eq(r.code, 4, "%s", r.err);
    cr_assert(strstr(r.err, "cannot write the textfile in"), "%s", r.err);
    rbt_run_free(&r);
    free(written);
    free(path);
    free(dir);
    free(text);
}

Test(metrics, usage_errors_exit_2)
{
    rbt_run r = rbt_rbhost(store, "metrics --bogus");
    cr_assert_eq(r.code, 2, "%s", r.err);
    rbt_run_free(&r);
    r = rbt_rbhost(store, "metrics extra");
    cr_assert_eq(r.code, 2, "%s", r.err);
    rbt_run_free(&r);
}
