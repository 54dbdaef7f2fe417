/* A rollback refuses a database that was dropped and created again since
 * the snapshot (another lineage under the same name), before anything
 * changes; --force goes on. The databases rbhost's own rollbacks swap in
 * are of the lineage: a second rollback, and undoing one, go ahead. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

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

TestSuite(pg_identity, .init = setup, .fini = teardown, .timeout = 240);

/* The ids of the snapshots in the store, one a line. */
static char *snapshot_ids(void)
{
    int code = 0;
    cJSON *doc = pgt_rbhost(&t, &code, "list-snapshots");
    cr_assert_eq(code, 0);
    char *ids = strdup("");
    const cJSON *list = cJSON_IsArray(doc) ? doc : pgt_get(doc, "snapshots", NULL);
    const cJSON *s;
    cJSON_ArrayForEach(s, list)
    {
        char *more = rbt_fmt("%s%s\n", ids, pgt_str(s, "id", NULL));
        free(ids);
        ids = more;
    }
    cJSON_Delete(doc);
    return ids;
}

/* Every database of the server, to see that no copy was made. */
static char *databases(void)
{
    return pgt_sql(&t, "postgres",
                   "SELECT string_agg(datname, ' ' ORDER BY datname) FROM "
                   "pg_database");
}

Test(pg_identity, recreated_database_refused_then_forced)
{
    char *rows = pgt_contents(&t, NULL);
    char *cfg = pgt_config(&t, NULL, "\"method\": \"clone\"");
    cJSON_Delete(pgt_snapshot(&t, "before", cfg));
    free(pgt_sql(&t, "postgres", "DROP DATABASE %s WITH (FORCE)", t.db));
    free(pgt_sql(&t, "postgres", "CREATE DATABASE %s", t.db));
    free(pgt_sql(&t, NULL, "CREATE TABLE other_app (id int); INSERT INTO other_app VALUES (7)"));
    char *other = pgt_contents(&t, NULL), *ids = snapshot_ids(), *dbs = databases();

    int code = 0;
    cJSON *rec = pgt_rollback(&t, "before", NULL, &code);
    const char *err = pgt_str(rec, "error", NULL);
    cr_assert_eq(code, 6, "refused with exit 6: %s", err ? err : "");
    cr_assert(err && strstr(err, t.db), "the message names the database: %s", err);
    cr_assert(strstr(err, "dropped and created again"), "and says what differs: %s", err);
    cr_assert(strstr(err, "nothing was changed"), "%s", err);
    cJSON_Delete(rec);
    char *other2 = pgt_contents(&t, NULL), *ids2 = snapshot_ids(), *dbs2 = databases();
    cr_assert_str_eq(other2, other, "the live database is untouched");
    cr_assert_str_eq(ids2, ids, "no safety snapshot was taken");
    cr_assert_str_eq(dbs2, dbs, "no database was created or renamed");

    rec = pgt_rollback(&t, "before", "--force", &code);
    cr_assert_eq(code, 0, "--force rolls back: %s", pgt_str(rec, "error", NULL));
    cr_assert_str_eq(pgt_str(rec, "status", NULL), "completed");
    cJSON_Delete(rec);
    char *back = pgt_contents(&t, NULL);
    cr_assert_str_eq(back, rows, "the snapshot's rows are back");
    free(back);
    free(other2);
    free(ids2);
    free(dbs2);
    free(other);
    free(ids);
    free(dbs);
    free(cfg);
    free(rows);
}

static void second_rollback(const char *method)
{
    char *rows = pgt_contents(&t, NULL);
    char *extra = rbt_fmt("\"method\": \"%s\"", method);
    char *cfg = pgt_config(&t, NULL, extra);
    cJSON_Delete(pgt_snapshot(&t, "before", cfg));
    int code = 0;
    for (int round = 0; round < 2; round++) {
        pgt_sql_file(&t, "changes.sql");
        cJSON *rec = pgt_rollback(&t, "before", NULL, &code);
        cr_assert_eq(code, 0, "rollback %d (%s): %s", round + 1, method,
                     pgt_str(rec, "error", NULL));
        cJSON_Delete(rec);
        char *now = pgt_contents(&t, NULL);
        cr_assert_str_eq(now, rows, "rollback %d restores the rows", round + 1);
        free(now);
    }
    /* Undoing the last rollback: the safety snapshot expects the database
     * that rollback swapped in. */
    cJSON *rec = pgt_rollback(&t, "before", NULL, &code);
    cr_assert_eq(code, 0);
    char *undo = strdup(pgt_str(rec, "safety_snapshot_id", NULL));
    cJSON_Delete(rec);
    rec = pgt_rollback(&t, undo, NULL, &code);
    cr_assert_eq(code, 0, "undo (%s): %s", method, pgt_str(rec, "error", NULL));
    cJSON_Delete(rec);
    free(undo);
    free(cfg);
    free(extra);
    free(rows);
}

Test(pg_identity, second_rollback_after_first_clone)
{
    second_rollback("clone");
}

Test(pg_identity, second_rollback_after_first_dump)
{
    second_rollback("dump");
}
