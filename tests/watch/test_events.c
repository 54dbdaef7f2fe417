/* Hooks and notifications of a rollback: a vetoing pre_rollback hook,
 * webhook events received in order by a real HTTP endpoint. */
#include <criterion/criterion.h>
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

TestSuite(events, .init = setup, .fini = teardown);

static const char *str(const cJSON *o, const char *k)
{
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
}

Test(events, a_failing_pre_rollback_hook_vetoes_and_changes_nothing)
{
    rbt_run r = rbt_rbhost(
        web.store,
        "create-snapshot --id v1 --spec '{\"targets\": [{\"name\": \"site\", \"type\": "
        "\"file_system\", \"config\": {\"paths\": [\"%s\"]}}], \"hooks\": {\"pre_rollback\": "
        "{\"run\": \"echo change freeze until monday for $RBHOST_SNAPSHOT_ID; exit 3\"}}}'",
        web.root);
    cr_assert_eq(r.code, 0, "%s", r.err);
    rbt_run_free(&r);
    site_break(&web);
    r = rbt_rbhost(web.store, "--json execute-rollback --id v1 --yes");
    cr_assert_eq(r.code, 6, "exit %d: %s%s", r.code, r.out, r.err);
    cJSON *rec = rbt_json(r.out);
    cr_expect_str_eq(str(rec, "status"), "vetoed");
    const cJSON *hook = cJSON_GetArrayItem(cJSON_GetObjectItem(rec, "technical_details"), 0);
    const cJSON *res = cJSON_GetObjectItem(hook, "result");
    cr_expect_eq(cJSON_GetObjectItem(res, "exit_code")->valueint, 3);
    cr_expect(strstr(str(res, "output_tail"), "change freeze until monday for v1"));
    cr_expect(strstr(r.err, "change freeze"), "hook output on stderr: %s", r.err);
    cr_expect_null(cJSON_GetObjectItem(rec, "safety_snapshot_id"));
    cJSON_Delete(rec);
    rbt_run_free(&r);
    char *index = rbt_fmt("%s/index.html", web.root);
    char *content = rbt_slurp(index);
    cr_expect_str_eq(content, "v2\n", "the live files are unchanged");
    cr_expect_eq(site_status(&web, "/health"), 404);
    r = rbt_rbhost(web.store, "--json history");
    cJSON *h = rbt_json(r.out);
    const cJSON *list = cJSON_GetObjectItem(h, "history");
    cr_expect_eq(cJSON_GetArraySize(list), 1);
    cr_expect_str_eq(str(cJSON_GetArrayItem(list, 0), "status"), "vetoed");
    cJSON_Delete(h);
    rbt_run_free(&r);
    free(index);
    free(content);
}

Test(events, webhooks_receive_every_step_in_order)
{
    char *events = rbt_fmt("%s/events.log", web.dir);
    int port = receiver_start(web.dir, events);
    char *other = rbt_fmt("%s/other", web.dir);
    rbt_run r = rbt_sh("mkdir -p '%s' && echo a > '%s/a'", other, other);
    rbt_run_free(&r);
    r = rbt_rbhost(
        web.store,
        "create-snapshot --id v1 --spec '{\"targets\": ["
        "{\"name\": \"site\", \"type\": \"file_system\", \"config\": {\"paths\": [\"%s\"]}},"
        "{\"name\": \"other\", \"type\": \"file_system\", \"config\": {\"paths\": [\"%s\"]}}],"
        " \"notify\": [{\"type\": \"webhook\", \"url\": \"http://127.0.0.1:%d/hook\","
        " \"headers\": {\"X-Team\": \"web\"}}]}'",
        web.root, other, port);
    cr_assert_eq(r.code, 0, "%s", r.err);
    rbt_run_free(&r);
    char *created = rbt_slurp(events);
    cr_expect(created && strstr(created, "\"event\":\"snapshot.created\""), "%s", created);
    free(created);
    rbt_spit(events, "");
    site_break(&web);
    /* A second endpoint that does not answer is logged, never fatal. */
    r = rbt_rbhost(web.store,
                   "--json execute-rollback --id v1 --yes --notify '[{\"type\": \"webhook\", "
                   "\"url\": \"http://127.0.0.1:%d/hook\"}, {\"type\": \"webhook\", \"url\": "
                   "\"http://127.0.0.1:1/nobody\"}]'",
                   port);
    cr_assert_eq(r.code, 0, "exit %d: %s%s", r.code, r.out, r.err);
    cr_expect(strstr(r.err, "notification to http://127.0.0.1:1/nobody not delivered"), "%s",
              r.err);
    rbt_run_free(&r);
    char *log = rbt_slurp(events);
    cr_assert(log, "no event received");
    const char *want[] = {"rollback.started", "rollback.step", "rollback.step",
                          "rollback.completed"};
    char *save = NULL;
    size_t n = 0;
    for (char *line = strtok_r(log, "\n", &save); line; line = strtok_r(NULL, "\n", &save), n++) {
        cJSON *e = rbt_json(line);
        if (n < 4)
            cr_expect_str_eq(str(e, "event"), want[n], "event %zu", n);
        cr_expect_str_eq(str(e, "snapshot_id"), "v1");
        cr_expect(str(e, "rollback_id") && !strncmp(str(e, "rollback_id"), "rollback_", 9));
        if (n == 1 || n == 2)
            cr_expect_str_eq(str(cJSON_GetObjectItem(e, "step"), "target"),
                             n == 1 ? "other" : "site", "targets go back in reverse order");
        cJSON_Delete(e);
    }
    cr_expect_eq(n, 4, "%zu events", n);
    cr_expect_eq(site_status(&web, "/health"), 200);
    free(log);
    free(events);
    free(other);
}
