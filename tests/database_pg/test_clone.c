/* Method clone: the snapshot is a copy of the database on the server, and
 * a rollback swaps names. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pg_fixture.h"

static pgt t;

static void setup(void)
{
    pgt_open(&t, 1);
}

static void teardown(void)
{
    pgt_close(&t);
}

TestSuite(pg_clone, .init = setup, .fini = teardown, .timeout = 240);

/* A psql holding a session on the test database; returns its pid. */
static int open_session(void)
{
    rbt_run bg = rbt_sh("'%s/psql' -X -h '%s' -p '%s' -U '%s' -d '%s' -c 'SELECT pg_sleep(600)' "
                        ">/dev/null 2>&1 & echo $!",
                        t.bindir, t.host, t.port, t.user, t.db);
    int pid = atoi(bg.out);
    rbt_run_free(&bg);
    cr_assert_gt(pid, 0);
    char *n = NULL;
    for (int i = 0; i < 100; i++) {
        free(n);
        n = pgt_sql(&t, "postgres",
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = '%s' AND query LIKE "
                    "'%%pg_sleep%%'",
                    t.db);
        if (!strcmp(n, "1"))
            break;
        usleep(50000);
    }
    cr_assert_str_eq(n, "1", "the background session never connected");
    free(n);
    return pid;
}

static void expect_exited(int pid)
{
    for (int i = 0; i < 100; i++) {
        rbt_run r = rbt_sh("kill -0 %d 2>/dev/null", pid);
        int alive = r.code == 0;
        rbt_run_free(&r);
        if (!alive)
            return;
        usleep(50000);
    }
    cr_assert_fail("the psql whose session was ended is still running");
}

static void expect_completed(cJSON *rec, int code)
{
    cr_assert_eq(code, 0, "execute-rollback exited %d: %s", code,
                 pgt_str(rec, "error", NULL) ? pgt_str(rec, "error", NULL) : "");
    cr_assert_str_eq(pgt_str(rec, "status", NULL), "completed");
}

Test(pg_clone, every_object_kind_comes_back_after_changes)
{
    char *schema = pgt_schema(&t, NULL), *rows = pgt_contents(&t, NULL);
    char *cfg = pgt_config(&t, NULL, "\"method\": \"clone\"");
    cJSON *snap = pgt_snapshot(&t, "before", cfg);
    cr_assert_str_eq(pgt_str(snap, "metadata", "method", NULL), "clone");
    cr_assert(pgt_db_exists(&t, pgt_str(snap, "metadata", "clone_database", NULL)));

    pgt_sql_file(&t, "changes.sql");
    char *changed = pgt_contents(&t, NULL);
    cr_assert_str_neq(changed, rows);
    int code;
    cJSON *v = pgt_rbhost(&t, &code, "verify --id before");
    cr_assert_eq(code, 1, "verify after the changes should report drift");
    cJSON_Delete(v);

    cJSON *rec = pgt_rollback(&t, "before", NULL, &code);
    expect_completed(rec, code);
    cr_assert_str_eq(pgt_str(rec, "execution_result", "method", NULL), "clone_swap");
    cr_assert(cJSON_IsNumber(pgt_get(rec, "execution_result", "critical_path_ms", NULL)));
    cr_assert(cJSON_IsNumber(pgt_get(rec, "execution_result", "reclone_ms", NULL)));

    char *schema2 = pgt_schema(&t, NULL), *rows2 = pgt_contents(&t, NULL);
    cr_assert_str_eq(schema2, schema, "the schema dump differs after the rollback");
    cr_assert_str_eq(rows2, rows, "table contents differ after the rollback");
    v = pgt_rbhost(&t, &code, "verify --id before");
    cr_assert_eq(code, 0, "verify after the rollback exited %d", code);
    cr_assert_str_eq(pgt_str(v, "status", NULL), "match");

    /* The snapshot was copied again: a second rollback works the same. */
    cr_assert(pgt_db_exists(&t, pgt_str(snap, "metadata", "clone_database", NULL)));
    pgt_sql_file(&t, "changes.sql");
    cJSON *rec2 = pgt_rollback(&t, "before", NULL, &code);
    expect_completed(rec2, code);
    char *rows3 = pgt_contents(&t, NULL);
    cr_assert_str_eq(rows3, rows);

    cJSON_Delete(rec2);
    cJSON_Delete(v);
    cJSON_Delete(rec);
    cJSON_Delete(snap);
    free(rows3);
    free(schema2);
    free(rows2);
    free(changed);
    free(cfg);
    free(schema);
    free(rows);
}

Test(pg_clone, rollback_ends_an_open_session)
{
    char *cfg = pgt_config(&t, NULL, "\"method\": \"clone\"");
    cJSON_Delete(pgt_snapshot(&t, "s", cfg));
    pgt_sql_file(&t, "changes.sql");
    int pid = open_session();
    int code;
    cJSON *rec = pgt_rollback(&t, "s", NULL, &code);
    expect_completed(rec, code);
    cr_assert_geq(
        cJSON_GetNumberValue(pgt_get(rec, "execution_result", "sessions_terminated", NULL)), 1);
    expect_exited(pid);
    char *doomed = pgt_sql(&t, NULL, "SELECT count(*) FROM public.doomed");
    cr_assert_str_eq(doomed, "50");
    free(doomed);
    cJSON_Delete(rec);
    free(cfg);
}

Test(pg_clone, safety_snapshot_undoes_the_rollback_and_delete_drops_copies)
{
    char *cfg = pgt_config(&t, NULL, "\"method\": \"clone\"");
    cJSON *snap = pgt_snapshot(&t, "s", cfg);
    pgt_sql_file(&t, "changes.sql");
    char *changed = pgt_contents(&t, NULL), *changed_schema = pgt_schema(&t, NULL);
    int code;
    cJSON *rec = pgt_rollback(&t, "s", NULL, &code);
    expect_completed(rec, code);
    const char *safety = pgt_str(rec, "safety_snapshot_id", NULL);
    cr_assert_not_null(safety);
    const char *kept = pgt_str(rec, "execution_result", "safety_database", NULL);
    cr_assert_not_null(kept);
    cr_assert(pgt_db_exists(&t, kept));

    cJSON *back = pgt_rollback(&t, safety, "--no-safety-snapshot", &code);
    expect_completed(back, code);
    char *now = pgt_contents(&t, NULL), *now_schema = pgt_schema(&t, NULL);
    cr_assert_str_eq(now, changed, "rolling back the rollback did not restore the changes");
    cr_assert_str_eq(now_schema, changed_schema);
    /* Without a safety snapshot the replaced database is not kept. */
    cr_assert(cJSON_IsTrue(pgt_get(back, "execution_result", "replaced_database_dropped", NULL)));

    const char *copy = pgt_str(snap, "metadata", "clone_database", NULL);
    cJSON *del = pgt_rbhost(&t, &code, "delete-snapshot --id s");
    cr_assert_eq(code, 0, "delete-snapshot exited %d", code);
    cr_assert_not(pgt_db_exists(&t, copy), "delete-snapshot left database %s", copy);

    cJSON_Delete(del);
    cJSON_Delete(back);
    cJSON_Delete(rec);
    cJSON_Delete(snap);
    free(now);
    free(now_schema);
    free(changed);
    free(changed_schema);
    free(cfg);
}

Test(pg_clone, dry_run_lists_changed_tables_with_row_counts)
{
    char *cfg = pgt_config(&t, NULL, "\"method\": \"clone\"");
    cJSON_Delete(pgt_snapshot(&t, "s", cfg));
    pgt_sql_file(&t, "changes.sql");
    int code;
    cJSON *plan = pgt_rbhost(&t, &code, "execute-rollback --id s --dry-run");
    cr_assert_eq(code, 0, "dry run exited %d", code);
    cJSON *changes =
        pgt_get(cJSON_GetArrayItem(pgt_get(plan, "targets", NULL), 0), "plan", "changes", NULL);
    cr_assert(cJSON_IsArray(changes));
    int orders = 0, doomed = 0, customers = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, changes)
    {
        const char *item = pgt_str(c, "item", NULL);
        if (!item)
            continue;
        if (!strcmp(item, "app.orders")) {
            orders = 1;
            cr_assert_eq(cJSON_GetNumberValue(pgt_get(c, "rows_then", NULL)), 1000);
            cr_assert_eq(cJSON_GetNumberValue(pgt_get(c, "rows_now", NULL)), 930);
        }
        if (!strcmp(item, "public.doomed")) {
            doomed = 1;
            cr_assert_eq(cJSON_GetNumberValue(pgt_get(c, "rows_then", NULL)), 50);
        }
        customers |= strstr(item, "customers") && !strcmp(pgt_str(c, "kind", NULL), "schema");
    }
    cr_assert(orders && doomed && customers, "plan misses a change: %s",
              cJSON_PrintUnformatted(changes));
    /* A dry run changes nothing. */
    char *n = pgt_sql(&t, NULL, "SELECT count(*) FROM app.orders");
    cr_assert_str_eq(n, "930");
    free(n);
    cJSON_Delete(plan);
    free(cfg);
}

Test(pg_clone, long_snapshot_id_gets_a_short_unique_copy_name_and_backup_file)
{
    /* Two ids that share their first 100 characters must not share a copy:
     * PostgreSQL would cut both names to the same 63 bytes. */
    char id_a[120], id_b[120];
    memset(id_a, 'x', 110);
    id_a[110] = '\0';
    memcpy(id_b, id_a, sizeof id_a);
    id_a[109] = 'a';
    id_b[109] = 'b';
    char *file = rbt_fmt("%s/clone.dump", t.tmp);
    char *extra = rbt_fmt("\"method\": \"clone\", \"backup_file\": \"%s\"", file);
    char *cfg = pgt_config(&t, NULL, extra);
    cJSON *a = pgt_snapshot(&t, id_a, cfg);
    cJSON *b = pgt_snapshot(&t, id_b, cfg);
    const char *ca = pgt_str(a, "metadata", "clone_database", NULL);
    const char *cb = pgt_str(b, "metadata", "clone_database", NULL);
    cr_assert_leq(strlen(ca), 63);
    cr_assert_str_neq(ca, cb);
    cr_assert(pgt_db_exists(&t, ca) && pgt_db_exists(&t, cb));

    rbt_run r = rbt_sh("'%s/pg_restore' --list '%s'", t.bindir, file);
    cr_assert_eq(r.code, 0, "pg_restore cannot read backup_file: %s", r.err);
    cr_assert_not_null(strstr(r.out, "TABLE DATA app orders"));
    rbt_run_free(&r);

    pgt_sql_file(&t, "changes.sql");
    int code;
    cJSON *rec = pgt_rollback(&t, id_a, "--no-safety-snapshot", &code);
    expect_completed(rec, code);
    char *n = pgt_sql(&t, NULL, "SELECT count(*) FROM public.doomed");
    cr_assert_str_eq(n, "50");
    free(n);
    cJSON_Delete(rec);
    cJSON_Delete(a);
    cJSON_Delete(b);
    free(cfg);
    free(extra);
    free(file);
}

Test(pg_clone, snapshot_waits_for_a_session_then_ends_it_and_says_so)
{
    int pid = open_session();
    char *cfg = pgt_config(&t, NULL, "\"method\": \"clone\"");
    cJSON *snap = pgt_snapshot(&t, "busy", cfg);
    cr_assert_eq(cJSON_GetNumberValue(pgt_get(snap, "metadata", "sessions_terminated", NULL)), 1);
    /* It was given time to leave by itself first. */
    cr_assert_geq(cJSON_GetNumberValue(pgt_get(snap, "metadata", "blocked_ms", NULL)), 4000);
    expect_exited(pid);
    char *allow =
        pgt_sql(&t, "postgres", "SELECT datallowconn FROM pg_database WHERE datname = '%s'", t.db);
    cr_assert_str_eq(allow, "t");
    free(allow);
    cJSON_Delete(snap);
    free(cfg);
}
