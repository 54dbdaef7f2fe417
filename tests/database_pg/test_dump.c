/* Method dump: a consistent pg_dump in the store, restored into a new
 * database that is swapped in, or in place. */
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

TestSuite(pg_dump, .init = setup, .fini = teardown, .timeout = 240);

static void expect_completed(cJSON *rec, int code)
{
    cr_assert_eq(code, 0, "execute-rollback exited %d: %s", code,
                 pgt_str(rec, "error", NULL) ? pgt_str(rec, "error", NULL) : "");
    cr_assert_str_eq(pgt_str(rec, "status", NULL), "completed");
}

static void roundtrip(const char *extra, const char *method, const char *flags)
{
    char *schema = pgt_schema(&t, NULL), *rows = pgt_contents(&t, NULL);
    char *cfg = pgt_config(&t, NULL, extra);
    cJSON *snap = pgt_snapshot(&t, "before", cfg);
    cr_assert_str_eq(pgt_str(snap, "metadata", "method", NULL), "dump");
    pgt_sql_file(&t, "changes.sql");
    int code;
    cJSON *rec = pgt_rollback(&t, "before", flags, &code);
    expect_completed(rec, code);
    cr_assert_str_eq(pgt_str(rec, "execution_result", "method", NULL), method);
    char *schema2 = pgt_schema(&t, NULL), *rows2 = pgt_contents(&t, NULL);
    cr_assert_str_eq(schema2, schema, "the schema dump differs after the rollback");
    cr_assert_str_eq(rows2, rows, "table contents differ after the rollback");
    cJSON *v = pgt_rbhost(&t, &code, "verify --id before");
    cr_assert_eq(code, 0, "verify after the rollback exited %d", code);
    cJSON_Delete(v);
    cJSON_Delete(rec);
    cJSON_Delete(snap);
    free(schema2);
    free(rows2);
    free(cfg);
    free(schema);
    free(rows);
}

Test(pg_dump, every_object_kind_comes_back_through_a_new_database)
{
    roundtrip("\"method\": \"dump\"", "dump_restore_swap", NULL);
}

Test(pg_dump, in_place_restores_the_listed_schemas_in_one_transaction)
{
    roundtrip("\"method\": \"dump\", \"schemas\": [\"app\", \"public\"], \"in_place\": true",
              "dump_restore_in_place", "--no-safety-snapshot");
}

Test(pg_dump, in_place_keeps_a_dump_of_what_it_replaced_as_the_safety_snapshot)
{
    char *cfg = pgt_config(&t, NULL,
                           "\"method\": \"dump\", \"schemas\": [\"app\", \"public\"], "
                           "\"in_place\": true");
    cJSON_Delete(pgt_snapshot(&t, "before", cfg));
    pgt_sql_file(&t, "changes.sql");
    char *changed_schema = pgt_schema(&t, NULL), *changed_rows = pgt_contents(&t, NULL);
    int code;
    cJSON *rec = pgt_rollback(&t, "before", NULL, &code);
    expect_completed(rec, code);
    const char *safety = pgt_str(rec, "safety_snapshot_id", NULL);
    cr_assert_not_null(safety);
    char *safety_id = strdup(safety);
    /* Undoing the rollback brings the changed schemas back, from the dump
     * the restore wrote into the safety snapshot. */
    cJSON *undo = pgt_rollback(&t, safety_id, "--no-safety-snapshot", &code);
    expect_completed(undo, code);
    char *schema = pgt_schema(&t, NULL), *rows = pgt_contents(&t, NULL);
    cr_assert_str_eq(schema, changed_schema, "the safety snapshot did not bring the schema back");
    cr_assert_str_eq(rows, changed_rows, "the safety snapshot did not bring the rows back");
    rbt_run r = rbt_rbhost(t.store, "check");
    cr_assert_eq(r.code, 0, "%s%s", r.out, r.err);
    rbt_run_free(&r);
    cJSON_Delete(undo);
    cJSON_Delete(rec);
    free(safety_id);
    free(schema);
    free(rows);
    free(changed_schema);
    free(changed_rows);
    free(cfg);
}

Test(pg_dump, backup_file_is_readable_by_pg_restore)
{
    char *file = rbt_fmt("%s/shop.dump", t.tmp);
    char *extra = rbt_fmt("\"method\": \"dump\", \"backup_file\": \"%s\"", file);
    char *cfg = pgt_config(&t, NULL, extra);
    cJSON_Delete(pgt_snapshot(&t, "b", cfg));
    char *copy = rbt_fmt("%s_copy", t.db);
    free(pgt_sql(&t, "postgres", "CREATE DATABASE %s", copy));
    rbt_run r = rbt_sh("'%s/pg_restore' -h '%s' -p '%s' -U '%s' -d '%s' --exit-on-error '%s'",
                       t.bindir, t.host, t.port, t.user, copy, file);
    cr_assert_eq(r.code, 0, "pg_restore of backup_file failed: %s", r.err);
    rbt_run_free(&r);
    char *a = pgt_contents(&t, NULL), *b = pgt_contents(&t, copy);
    cr_assert_str_eq(a, b);
    free(pgt_sql(&t, "postgres", "DROP DATABASE %s", copy));
    free(a);
    free(b);
    free(copy);
    free(cfg);
    free(extra);
    free(file);
}

Test(pg_dump, snapshot_during_writes_is_one_committed_state)
{
    free(pgt_sql(&t, NULL,
                 "CREATE TABLE public.ledger (id serial PRIMARY KEY, v int);\n"
                 "CREATE TABLE public.tally (n int);\n"
                 "INSERT INTO public.tally VALUES (0);"));
    /* Each transaction adds a row and counts it: a consistent state has as
     * many rows as the tally says. */
    rbt_run bg = rbt_sh(
        "'%s/psql' -X -h '%s' -p '%s' -U '%s' -d '%s' -c \"DO \\$\\$ BEGIN FOR i IN 1..5000000 "
        "LOOP INSERT INTO public.ledger (v) VALUES (i); UPDATE public.tally SET n = n + 1; "
        "COMMIT; END LOOP; END \\$\\$\" >/dev/null 2>&1 & echo $!",
        t.bindir, t.host, t.port, t.user, t.db);
    int pid = atoi(bg.out);
    cr_assert_gt(pid, 0);
    char *n = NULL;
    for (int i = 0; i < 200; i++) {
        free(n);
        n = pgt_sql(&t, NULL, "SELECT n FROM public.tally");
        if (atoi(n) > 500)
            break;
        usleep(20000);
    }
    cr_assert_gt(atoi(n), 500, "the writer did not start");
    char *cfg = pgt_config(&t, NULL, "\"method\": \"dump\"");
    cJSON *snap = pgt_snapshot(&t, "mid", cfg);
    char *after = pgt_sql(&t, NULL, "SELECT n FROM public.tally");

    /* The checksums recorded at snapshot time describe the same instant as
     * the dump: the restored ledger has the row count they recorded. */
    int recorded = -1;
    const cJSON *rel;
    cJSON_ArrayForEach(rel, pgt_get(snap, "metadata", "relations", NULL))
    {
        if (!strcmp(pgt_str(rel, "name", NULL), "public.ledger"))
            recorded = (int)cJSON_GetNumberValue(pgt_get(rel, "rows", NULL));
    }
    /* The rollback ends the writer's session itself. */
    int code;
    cJSON *rec = pgt_rollback(&t, "mid", "--no-safety-snapshot", &code);
    expect_completed(rec, code);
    rbt_run w = rbt_sh("while kill -0 %d 2>/dev/null; do sleep 0.1; done", pid);
    rbt_run_free(&w);
    char *rows = pgt_sql(&t, NULL, "SELECT count(*) FROM public.ledger");
    char *tally = pgt_sql(&t, NULL, "SELECT n FROM public.tally");
    cr_assert_str_eq(rows, tally, "the snapshot is not one committed state");
    cr_assert_eq(atoi(rows), recorded);
    cr_assert_gt(atoi(rows), 500);
    cr_assert_lt(atoi(rows), atoi(after), "the writer was not running during the snapshot");

    free(rows);
    free(tally);
    free(after);
    free(n);
    free(cfg);
    cJSON_Delete(rec);
    cJSON_Delete(snap);
    rbt_run_free(&bg);
}
