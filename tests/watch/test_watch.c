/* rbhost watch against a real nginx: a deployment breaks /health, the
 * watch rolls the site back once, a post_rollback hook reloads nginx. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rbtest.h"
#include "site.h"

static site web;

static void setup(void)
{
    site_start(&web);
}

static void teardown(void)
{
    receiver_stop(web.dir);
    site_stop(&web);
}

TestSuite(watch, .init = setup, .fini = teardown);

static const char *str(const cJSON *o, const char *k)
{
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
}

/* The site as one file_system target, with a hook that reloads nginx and
 * leaves a mark that it ran. */
static void snapshot_site(const char *id)
{
    char *spec = rbt_fmt("{\"targets\": [{\"name\": \"site\", \"type\": \"file_system\", "
                         "\"config\": {\"paths\": [\"%s\"]}}],"
                         " \"hooks\": {\"post_rollback\": {\"run\": \"nginx -p %s -c %s/nginx.conf "
                         "-s reload && echo reloaded $RBHOST_SNAPSHOT_ID >> %s/hook.log\", "
                         "\"timeout\": 30}}}",
                         web.root, web.dir, web.dir, web.dir);
    char *path = rbt_fmt("%s/spec.json", web.dir);
    rbt_spit(path, spec);
    rbt_run r = rbt_rbhost(web.store, "create-snapshot --id %s --spec '%s'", id, path);
    cr_assert_eq(r.code, 0, "%s", r.err);
    rbt_run_free(&r);
    free(spec);
    free(path);
}

static int history_count(void)
{
    rbt_run r = rbt_rbhost(web.store, "--json history");
    cr_assert_eq(r.code, 0, "%s", r.err);
    cJSON *h = rbt_json(r.out);
    const cJSON *list = cJSON_IsArray(h) ? h : cJSON_GetObjectItem(h, "history");
    int n = cJSON_GetArraySize(list);
    cJSON_Delete(h);
    rbt_run_free(&r);
    return n;
}

Test(watch, rolls_a_broken_deployment_back_once)
{
    snapshot_site("web-v1");
    site_break(&web);
    cr_assert_eq(site_status(&web, "/health"), 404);
    rbt_run r = rbt_rbhost(web.store,
                           "--json watch --id web-v1 --interval 0.2 --failures 3 --check "
                           "'[{\"type\": \"health_check\", \"url\": \"%s/health\"}]'",
                           web.url);
    cr_assert_eq(r.code, 0, "exit %d: %s%s", r.code, r.out, r.err);
    cJSON *doc = rbt_json(r.out);
    cr_expect_str_eq(str(doc, "status"), "rolled_back");
    cr_expect_eq(cJSON_GetObjectItem(doc, "rounds")->valueint, 3, "three failed rounds");
    const cJSON *rec = cJSON_GetObjectItem(doc, "rollback");
    cr_expect_str_eq(str(rec, "status"), "completed");
    cr_expect(strstr(str(cJSON_GetObjectItem(doc, "incident"), "reason"), "3 rounds in a row"));
    /* A line per round on stderr, the JSON alone on stdout. */
    cr_expect(strstr(r.err, "round 1: 1 of 1 checks failed"), "%s", r.err);
    cr_expect(strstr(r.err, "round 3:"), "%s", r.err);
    cJSON_Delete(doc);
    rbt_run_free(&r);

    cr_expect_eq(site_status(&web, "/health"), 200, "/health answers again");
    char *index = rbt_fmt("%s/index.html", web.root), *hook = rbt_fmt("%s/hook.log", web.dir);
    char *content = rbt_slurp(index), *marks = rbt_slurp(hook);
    cr_expect_str_eq(content, "v1\n");
    cr_expect_str_eq(marks ? marks : "", "reloaded web-v1\n", "the hook ran once");
    cr_expect_eq(history_count(), 1, "exactly one rollback in the history");
    free(index);
    free(hook);
    free(content);
    free(marks);
}

Test(watch, a_healthy_service_is_left_alone_until_sigterm)
{
    snapshot_site("web-v1");
    char *check = rbt_fmt("%s/check.json", web.dir);
    char *doc_text = rbt_fmt("{\"checks\": [{\"type\": \"health_check\", \"url\": \"%s/health\"},"
                             " {\"type\": \"latency\", \"url\": \"%s/\", \"p95_ms\": 5000},"
                             " {\"type\": \"error_rate\", \"url\": \"%s/\", \"threshold\": 0.5}],"
                             " \"interval\": 0.2, \"failures\": 2, \"window\": 10}",
                             web.url, web.url, web.url);
    rbt_spit(check, doc_text);
    /* The watch runs in the background; the test waits until it has run a
     * few rounds (its state file says so), then stops it as systemd would. */
    rbt_run r = rbt_sh(
        "cd '%s' || exit 1; (sh -c 'echo $$ > watch.pid; exec \"$0\" --store \"$1\" --json watch "
        "--id "
        "web-v1 --check \"@$2\"' '%s' '%s' '%s' > watch.out 2> watch.err; echo $? > watch.rc) "
        ">/dev/null 2>&1 &"
        " for i in $(seq 300); do grep -q '\"rounds\":[3-9]' '%s/watch/web-v1.json' 2>/dev/null "
        "&& break; sleep 0.1; done; kill -TERM $(cat watch.pid);"
        " for i in $(seq 300); do [ -s watch.rc ] && break; sleep 0.1; done; cat watch.rc",
        web.dir, rbt_rbhost_bin(), web.store, check, web.store);
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_expect_eq(atoi(r.out), 0, "a watch stopped without an incident exits 0 (got %s)", r.out);
    rbt_run_free(&r);
    char *out_path = rbt_fmt("%s/watch.out", web.dir), *err_path = rbt_fmt("%s/watch.err", web.dir);
    char *out = rbt_slurp(out_path), *err = rbt_slurp(err_path);
    cJSON *doc = rbt_json(out);
    cr_expect_str_eq(str(doc, "status"), "stopped");
    cr_expect_null(cJSON_GetObjectItem(doc, "incident"));
    cr_expect_geq(cJSON_GetObjectItem(doc, "rounds")->valueint, 3);
    cr_expect(strstr(err, "healthy"), "%s", err);
    cr_expect_eq(history_count(), 0, "no rollback");
    char *index = rbt_fmt("%s/index.html", web.root);
    char *content = rbt_slurp(index);
    cr_expect_str_eq(content, "v1\n");
    cJSON_Delete(doc);
    free(out);
    free(err);
    free(out_path);
    free(err_path);
    free(index);
    free(content);
    free(check);
    free(doc_text);
}

Test(watch, a_slow_service_crosses_the_latency_rule)
{
    snapshot_site("web-v1");
    site_break(&web);
    char *events = rbt_fmt("%s/events.log", web.dir);
    int port = receiver_start(web.dir, events);
    /* /health is broken too, but three rounds are needed for that: the
     * latency rule, judged from the second sample, is what triggers. */
    rbt_run r =
        rbt_rbhost(web.store,
                   "--json watch --id web-v1 --interval 0.2 --failures 2 --window 5 --check "
                   "'{\"checks\": [{\"type\": \"latency\", \"url\": \"http://127.0.0.1:%d/slow\", "
                   "\"p95_ms\": 100}]}'",
                   port);
    cr_assert_eq(r.code, 0, "exit %d: %s%s", r.code, r.out, r.err);
    cJSON *doc = rbt_json(r.out);
    cr_expect_str_eq(str(doc, "status"), "rolled_back");
    cr_expect_eq(cJSON_GetObjectItem(doc, "rounds")->valueint, 2);
    const char *reason = str(cJSON_GetObjectItem(doc, "incident"), "reason");
    cr_expect(strstr(reason, "latency of") && strstr(reason, "> 100 ms"), "%s", reason);
    cr_expect_eq(site_status(&web, "/health"), 200);
    cr_expect_eq(history_count(), 1);
    cJSON_Delete(doc);
    rbt_run_free(&r);
    free(events);
}

Test(watch, refuses_bad_checks_before_watching)
{
    snapshot_site("web-v1");
    rbt_run r = rbt_rbhost(web.store,
                           "--json watch --id web-v1 --check "
                           "'[{\"type\": \"latency\", \"url\": \"%s\"}]'",
                           web.url);
    cr_expect_eq(r.code, 3, "%s", r.err);
    cr_expect(strstr(r.err, "needs 'p95_ms'"), "%s", r.err);
    rbt_run_free(&r);
    r = rbt_rbhost(web.store, "watch --id web-v1 --check '[{\"type\": \"ping\"}]'");
    cr_expect_eq(r.code, 3, "%s", r.err);
    cr_expect(strstr(r.err, "unknown test type 'ping'"), "%s", r.err);
    rbt_run_free(&r);
    r = rbt_rbhost(web.store,
                   "watch --id nope --check '[{\"type\": \"command\", \"run\": \"true\"}]'");
    cr_expect_eq(r.code, 4, "%s", r.err);
    rbt_run_free(&r);
    r = rbt_rbhost(web.store, "watch --id web-v1 --failures 0 --check '[]'");
    cr_expect_eq(r.code, 2, "%s", r.err);
    rbt_run_free(&r);
    cr_expect_eq(history_count(), 0);
}
