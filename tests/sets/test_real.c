/* A set of real targets: a git checkout, a configuration file, a data
 * directory and a PostgreSQL database (the test server of
 * tests/servers/postgres.sh). Everything changed, rolled back together,
 * and compared with the snapshot; then a rollback whose database step
 * fails, with the others put back as they were before it. */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pg_fixture.h"
#include "sets_fixture.h"

static pgt pg;
static char *repo, *conf, *data, *events_log, *fifo, *role;

static char *git_out(const char *args)
{
    rbt_run r = rbt_sh("git -C '%s' %s", repo, args);
    cr_assert_eq(r.code, 0, "git %s: %s", args, r.err);
    char *out = strdup(r.out);
    rbt_run_free(&r);
    return out;
}

static void setup(void)
{
    pgt_open(&pg, 1);
    repo = rbt_fmt("%s/repo", pg.tmp);
    conf = rbt_fmt("%s/app.conf", pg.tmp);
    data = rbt_fmt("%s/data", pg.tmp);
    events_log = rbt_fmt("%s/events.log", pg.tmp);
    fifo = rbt_fmt("%s/gate", pg.tmp);
    role = rbt_fmt("rbt_set_%d", (int)getpid());
    rbt_run r = rbt_sh("git init -q '%s' && cd '%s' && git config user.email t@example.com && "
                       "git config user.name t && echo one > app.txt && git add app.txt && "
                       "git commit -qm one && mkdir -p '%s' && echo 'port = 80' > '%s' && "
                       "printf 'first' > '%s/a.bin' && printf 'second' > '%s/b.bin'",
                       repo, repo, data, conf, data, data);
    cr_assert_eq(r.code, 0, "%s", r.err);
    rbt_run_free(&r);
    /* The password is not recorded in the snapshot (secrets never are):
     * every rbhost run gets it from the environment, like a libpq user. */
    setenv("PGPASSWORD", "set-pw", 1);
    free(pgt_sql(&pg, "postgres",
                 "DROP ROLE IF EXISTS %s; CREATE ROLE %s LOGIN SUPERUSER "
                 "PASSWORD 'set-pw'",
                 role, role));
}

static void teardown(void)
{
    free(pgt_sql(&pg, "postgres", "DROP ROLE IF EXISTS %s", role));
    pgt_close(&pg);
    free(repo);
    free(conf);
    free(data);
    free(events_log);
    free(fifo);
    free(role);
}

TestSuite(real, .init = setup, .fini = teardown, .timeout = 300);

static rbt_run rb(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static rbt_run rb(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *args = NULL;
    cr_assert(vasprintf(&args, fmt, ap) >= 0);
    va_end(ap);
    rbt_run r = rbt_rbhost(pg.store, "--plugin-dir '%s' %s", rbt_fixture_plugin_dir(), args);
    free(args);
    return r;
}

/* db <- gate <- cfg <- repo, files: restored in the order repo, files,
 * cfg, gate, db. The database is reached as `role` over TCP. */
static void snapshot_set(void)
{
    char *cs = rbt_fmt("host=127.0.0.1 port=%s user=%s", pg.port, role);
    char *db = pgt_config(&pg, cs, "");
    char *spec = rbt_fmt(
        "{\"targets\": ["
        "{\"name\": \"db\", \"type\": \"database\", \"config\": %s, \"retry\": {\"max_attempts\": "
        "2, \"initial_delay\": 0.1}},"
        "{\"name\": \"gate\", \"type\": \"fixture_gate\", \"config\": {\"path\": "
        "\"%s/gate.state\", "
        "\"log\": \"%s\", \"gate\": \"%s\"}, \"depends_on\": [\"db\"]},"
        "{\"name\": \"cfg\", \"type\": \"configuration\", \"config\": {\"config_files\": "
        "[\"%s\"]}, \"depends_on\": [\"db\"]},"
        "{\"name\": \"files\", \"type\": \"file_system\", \"config\": {\"paths\": [\"%s\"]}},"
        "{\"name\": \"repo\", \"type\": \"git_commit\", \"config\": {\"repo_path\": \"%s\"}, "
        "\"depends_on\": [\"db\", \"cfg\"], \"timeout\": 120}"
        "]}",
        db, pg.tmp, events_log, fifo, conf, data, repo);
    char *path = rbt_fmt("%s/spec.json", pg.tmp);
    rbt_spit(path, spec);
    rbt_run r = rb("create-snapshot --id set1 --spec '%s'", path);
    cr_assert_eq(r.code, 0, "create-snapshot: %s", r.err);
    rbt_run_free(&r);
    free(cs);
    free(db);
    free(spec);
    free(path);
}

typedef struct state {
    char *head, *status, *conf, *a, *b, *rows;
} state;

static state capture(void)
{
    state s;
    s.head = git_out("rev-parse HEAD");
    s.status = git_out("status --porcelain");
    s.conf = rbt_slurp(conf);
    char *p = rbt_fmt("%s/a.bin", data);
    s.a = rbt_slurp(p);
    free(p);
    p = rbt_fmt("%s/b.bin", data);
    s.b = rbt_slurp(p);
    free(p);
    s.rows = pgt_contents(&pg, NULL);
    if (!s.a)
        s.a = strdup("(missing)");
    if (!s.b)
        s.b = strdup("(missing)");
    return s;
}

static void state_free(state *s)
{
    free(s->head);
    free(s->status);
    free(s->conf);
    free(s->a);
    free(s->b);
    free(s->rows);
}

static void expect_same(const state *want, const state *have, const char *when)
{
    cr_expect_str_eq(have->head, want->head, "git HEAD %s", when);
    cr_expect_str_eq(have->status, want->status, "git status %s", when);
    cr_expect_str_eq(have->conf, want->conf, "config file %s", when);
    cr_expect_str_eq(have->a, want->a, "data file a %s", when);
    cr_expect_str_eq(have->b, want->b, "data file b %s", when);
    cr_expect_str_eq(have->rows, want->rows, "database rows %s", when);
}

static void change_everything(void)
{
    rbt_run r = rbt_sh("cd '%s' && echo two > app.txt && git commit -qam two && echo wip > "
                       "new.txt && echo 'port = 8080' > '%s' && printf 'changed' > '%s/a.bin' "
                       "&& rm '%s/b.bin' && printf 'new' > '%s/c.bin'",
                       repo, conf, data, data, data);
    cr_assert_eq(r.code, 0, "%s", r.err);
    rbt_run_free(&r);
    pgt_sql_file(&pg, "changes.sql");
}

Test(real, a_set_of_real_targets_rolls_back_together)
{
    state before = capture();
    snapshot_set();
    change_everything();
    state changed = capture();
    cr_assert_str_neq(changed.rows, before.rows, "changes.sql changed no row");
    rbt_run r = rb("diff --id set1");
    cr_assert_eq(r.code, 1, "diff saw no change: %s %s", r.out, r.err);
    rbt_run_free(&r);
    r = rb("--json execute-rollback --id set1 --yes");
    cr_assert_eq(r.code, 0, "rollback: %s %s", r.out, r.err);
    cJSON *j = rbt_json(r.out);
    cr_assert_str_eq(sft_str(j, "status"), "completed");
    cJSON_Delete(j);
    rbt_run_free(&r);
    state after = capture();
    expect_same(&before, &after, "after the rollback");
    r = rb("diff --id set1");
    cr_expect_eq(r.code, 0, "diff after the rollback: %s %s", r.out, r.err);
    rbt_run_free(&r);
    state_free(&before);
    state_free(&changed);
    state_free(&after);
}

Test(real, a_database_step_that_fails_reverts_the_others)
{
    snapshot_set();
    change_everything();
    state changed = capture();
    cr_assert_eq(mkfifo(fifo, 0600), 0);
    char *pidfile = rbt_fmt("%s/pid", pg.tmp);
    char *out = rbt_fmt("%s/rollback.json", pg.tmp);
    rbt_run r = rbt_sh("(RBHOST_CACHE_DIR=\"${RBHOST_CACHE_DIR:-/tmp}\" '%s' --store '%s' "
                       "--plugin-dir '%s' --json execute-rollback --id set1 --yes > '%s' "
                       "2>/dev/null; echo $? > '%s.code') >/dev/null 2>&1 &",
                       rbt_rbhost_bin(), pg.store, rbt_fixture_plugin_dir(), out, out);
    rbt_run_free(&r);
    /* repo, files and cfg are restored; the gate holds the rollback while
     * the database becomes unreachable for this target's role. */
    sft t = {.log = events_log};
    sft_wait_event(&t, "restore-wait gate");
    free(pgt_sql(&pg, "postgres", "ALTER ROLE %s NOLOGIN", role));
    /* The gate opens once: reverting the gate target must not wait. */
    r = rbt_sh("echo go > '%s'; rm -f '%s'; while [ ! -s '%s.code' ]; do sleep 0.1; done", fifo,
               fifo, out);
    rbt_run_free(&r);
    free(pgt_sql(&pg, "postgres", "ALTER ROLE %s LOGIN", role));
    char *code = rbt_fmt("%s.code", out);
    char *code_text = rbt_slurp(code);
    char *doc = rbt_slurp(out);
    cr_assert_eq(atoi(code_text), 6, "exit %s: %s", code_text, doc);
    char *json_start = strchr(doc, '{');
    cJSON *j = rbt_json(json_start);
    cr_assert_str_eq(sft_str(j, "status"), "failed");
    cr_assert(strstr(sft_str(j, "error"), "'db'"), "%s", sft_str(j, "error"));
    cJSON *reverted = cJSON_GetObjectItemCaseSensitive(j, "reverted");
    cr_assert_eq(cJSON_GetArraySize(reverted), 4, "reverted: %s", doc);
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "revert_failed")), 0);
    state after = capture();
    expect_same(&changed, &after, "after the failed rollback was reverted");
    cJSON_Delete(j);
    rbt_run r2 = rb("--json status");
    cJSON *st = rbt_json(r2.out);
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(st, "pending_rollbacks")), 0);
    cJSON_Delete(st);
    rbt_run_free(&r2);
    state_free(&changed);
    state_free(&after);
    free(pidfile);
    free(out);
    free(code);
    free(code_text);
    free(doc);
}
