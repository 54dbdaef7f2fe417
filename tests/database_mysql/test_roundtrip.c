/* Snapshot, damage, roll back, compare: the schema as mysqldump prints it
 * and CHECKSUM TABLE of every table must be what they were, for both
 * methods; the safety snapshot must undo the rollback. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "my_fixture.h"

static myt t;

static void setup(void)
{
    myt_open(&t, 1);
}

static void teardown(void)
{
    myt_close(&t);
}

TestSuite(mysql_roundtrip, .init = setup, .fini = teardown, .timeout = 120);

/* Damages the database, checks that verify and the plan see it, rolls back
 * and checks the result equals `schema` and `sums`. Returns the record. */
static cJSON *damage_and_roll_back(const char *id, const char *schema, const char *sums)
{
    myt_source(&t, RBT_MY_DIR "/changes.sql");
    char *changed = myt_checksums(&t);
    cr_assert_str_neq(changed, sums);
    free(changed);

    int code;
    cJSON *v = myt_rbhost(&t, &code, "verify --id %s", id);
    cr_assert_eq(code, 1, "verify must report drift: %s", cJSON_PrintUnformatted(v));
    char *vtext = cJSON_PrintUnformatted(v);
    cr_assert(strstr(vtext, "\"table doomed\"") && strstr(vtext, "\"table added_later\"") &&
                  strstr(vtext, "auto_increment") && strstr(vtext, "procedure close_orders"),
              "drift report lacks a change: %s", vtext);
    free(vtext);
    cJSON_Delete(v);

    cJSON *plan = myt_rbhost(&t, &code, "execute-rollback --id %s --dry-run", id);
    cr_assert_eq(code, 0, "%s", cJSON_PrintUnformatted(plan));
    char *ptext = cJSON_PrintUnformatted(plan);
    cr_assert(strstr(ptext, "\"rows_then\":3") && strstr(ptext, "\"item\":\"table customer\""),
              "plan lacks the changed tables: %s", ptext);
    free(ptext);
    cJSON_Delete(plan);

    cJSON *rec = myt_rollback(&t, id, NULL, &code);
    cr_assert_eq(code, 0, "rollback failed: %s", cJSON_PrintUnformatted(rec));
    cr_assert_str_eq(myt_str(rec, "status", NULL), "completed");

    char *after = myt_schema_dump(&t);
    cr_assert_str_eq(after, schema, "schema differs after the rollback");
    free(after);
    char *sums_after = myt_checksums(&t);
    cr_assert_str_eq(sums_after, sums);
    free(sums_after);

    cJSON *v2 = myt_rbhost(&t, &code, "verify --id %s", id);
    cr_assert_eq(code, 0, "verify after rollback: %s", cJSON_PrintUnformatted(v2));
    cJSON_Delete(v2);
    return rec;
}

Test(mysql_roundtrip, clone_rollback_restores_schema_rows_and_counters)
{
    char *schema = myt_schema_dump(&t);
    char *sums = myt_checksums(&t);
    char *cfg = myt_config(&t, "clone", NULL);
    cJSON_Delete(myt_snapshot(&t, "c1", cfg));

    cJSON *rec = damage_and_roll_back("c1", schema, sums);
    cr_assert_str_eq(myt_str(rec, "execution_result", "method", NULL), "mysql_rename_swap");
    cr_assert(cJSON_IsTrue(myt_get(rec, "execution_result", "snapshot_reusable", NULL)));
    cJSON_Delete(rec);
    /* AUTO_INCREMENT came back too: the next order gets the id it would
     * have got at snapshot time. */
    myt_sql(&t, "INSERT INTO orders (customer_id, total) VALUES (100, 1)");
    char *id = myt_value(&t, "SELECT MAX(id) FROM orders");
    cr_assert_str_eq(id, "5004");
    free(id);

    /* The snapshot was copied again: a second rollback works the same. */
    cJSON *rec2 = damage_and_roll_back("c1", schema, sums);
    cJSON_Delete(rec2);
    free(schema);
    free(sums);
    free(cfg);
}

Test(mysql_roundtrip, dump_rollback_restores_schema_rows_and_counters)
{
    char *schema = myt_schema_dump(&t);
    char *sums = myt_checksums(&t);
    char *cfg = myt_config(&t, "dump", NULL);
    cJSON *snap = myt_snapshot(&t, "d1", cfg);
    cr_assert_str_eq(myt_str(snap, "metadata", "method", NULL), "dump");
    cJSON_Delete(snap);
    char *hidden = myt_hidden_schemas(&t);
    cr_assert_str_eq(hidden, "", "a dump keeps nothing on the server");
    free(hidden);

    cJSON *rec = damage_and_roll_back("d1", schema, sums);
    cr_assert_str_eq(myt_str(rec, "execution_result", "method", NULL), "mysql_load_and_swap");
    cJSON_Delete(rec);
    free(schema);
    free(sums);
    free(cfg);
}

Test(mysql_roundtrip, backup_file_loads_with_the_mysql_client)
{
    char *schema = myt_schema_dump(&t);
    char *sums = myt_checksums(&t);
    const char *methods[] = {"clone", "dump"};
    for (int i = 0; i < 2; i++) {
        char *file = rbt_fmt("%s/backup-%s.sql", t.tmp, methods[i]);
        char *extra = rbt_fmt("\"backup_file\":\"%s\"", file);
        char *cfg = myt_config(&t, methods[i], extra);
        char *id = rbt_fmt("b%d", i);
        cJSON_Delete(myt_snapshot(&t, id, cfg));
        /* Into an emptied database, with nothing but the mysql client. */
        myt_sql(&t,
                "DROP DATABASE `%s`; CREATE DATABASE `%s` CHARACTER SET utf8mb4 COLLATE "
                "utf8mb4_unicode_ci; USE `%s`",
                t.db, t.db, t.db);
        myt_source(&t, file);
        char *after = myt_schema_dump(&t);
        cr_assert_str_eq(after, schema, "schema from backup_file (%s) differs", methods[i]);
        char *sums_after = myt_checksums(&t);
        cr_assert_str_eq(sums_after, sums, "rows from backup_file (%s) differ", methods[i]);
        free(after);
        free(sums_after);
        free(file);
        free(extra);
        free(cfg);
        free(id);
    }
    free(schema);
    free(sums);
}

Test(mysql_roundtrip, safety_snapshot_undoes_the_rollback)
{
    char *cfg = myt_config(&t, "clone", NULL);
    cJSON_Delete(myt_snapshot(&t, "s1", cfg));
    myt_source(&t, RBT_MY_DIR "/changes.sql");
    char *damaged_schema = myt_schema_dump(&t);
    char *damaged_sums = myt_checksums(&t);

    int code;
    cJSON *rec = myt_rollback(&t, "s1", NULL, &code);
    cr_assert_eq(code, 0, "%s", cJSON_PrintUnformatted(rec));
    const char *safety = myt_str(rec, "safety_snapshot_id", NULL);
    cr_assert_not_null(safety);
    char *safety_id = strdup(safety);
    cJSON_Delete(rec);

    cJSON *undo = myt_rollback(&t, safety_id, "--no-safety-snapshot", &code);
    cr_assert_eq(code, 0, "%s", cJSON_PrintUnformatted(undo));
    cJSON_Delete(undo);
    char *schema = myt_schema_dump(&t);
    char *sums = myt_checksums(&t);
    cr_assert_str_eq(schema, damaged_schema);
    cr_assert_str_eq(sums, damaged_sums);

    /* Deleting the snapshots drops their hidden schemas. */
    cJSON_Delete(myt_rbhost(&t, &code, "delete-snapshot --id %s", safety_id));
    cr_assert_eq(code, 0);
    cJSON_Delete(myt_rbhost(&t, &code, "delete-snapshot --id s1"));
    cr_assert_eq(code, 0);
    char *hidden = myt_hidden_schemas(&t);
    cr_assert_str_eq(hidden, "");
    free(hidden);
    free(safety_id);
    free(schema);
    free(sums);
    free(damaged_schema);
    free(damaged_sums);
    free(cfg);
}

Test(mysql_roundtrip, no_safety_snapshot_drops_the_replaced_tables)
{
    char *cfg = myt_config(&t, "dump", NULL);
    cJSON_Delete(myt_snapshot(&t, "n1", cfg));
    myt_source(&t, RBT_MY_DIR "/changes.sql");
    int code;
    cJSON *rec = myt_rollback(&t, "n1", "--no-safety-snapshot", &code);
    cr_assert_eq(code, 0, "%s", cJSON_PrintUnformatted(rec));
    cJSON_Delete(rec);
    char *hidden = myt_hidden_schemas(&t);
    cr_assert_str_eq(hidden, "", "nothing may stay behind on the server");
    free(hidden);
    free(cfg);
}

Test(mysql_roundtrip, tables_narrow_the_scope)
{
    char *bad = myt_config(&t, "clone", "\"tables\":[\"customer\",\"audit\"]");
    char *path = rbt_fmt("%s/bad.json", t.tmp);
    rbt_spit(path, bad);
    int code;
    cJSON *refused =
        myt_rbhost(&t, &code, "create-snapshot --id t0 --type database --config @%s", path);
    cr_assert_eq(code, 6, "%s", cJSON_PrintUnformatted(refused));
    cr_assert(strstr(myt_str(refused, "error", NULL), "fk_orders_customer links table orders"),
              "%s", myt_str(refused, "error", NULL));
    cJSON_Delete(refused);
    free(path);
    free(bad);

    char *cfg =
        myt_config(&t, "clone", "\"tables\":[\"customer\",\"orders\",\"order_line\",\"audit\"]");
    cJSON_Delete(myt_snapshot(&t, "t1", cfg));
    myt_sql(&t, "UPDATE customer SET balance = 0; INSERT INTO doomed VALUES ('z', 26)");
    cJSON *rec = myt_rollback(&t, "t1", NULL, &code);
    cr_assert_eq(code, 0, "%s", cJSON_PrintUnformatted(rec));
    cJSON_Delete(rec);
    char *balance = myt_value(&t, "SELECT SUM(balance) FROM customer");
    cr_assert_str_eq(balance, "7.25");
    /* A table outside the scope keeps its new row. */
    char *doomed = myt_value(&t, "SELECT COUNT(*) FROM doomed");
    cr_assert_str_eq(doomed, "3");
    free(balance);
    free(doomed);
    free(cfg);
}

Test(mysql_roundtrip, large_table_is_dumped_and_loaded_in_two_key_ranges, .timeout = 240)
{
    /* Over 32 MB with an integer primary key: read and loaded as two key
     * ranges on two connections. */
    myt_sql(&t, "CREATE TABLE big (id BIGINT NOT NULL PRIMARY KEY, grp INT NOT NULL, "
                "pad CHAR(100) NOT NULL, note VARCHAR(20) NULL, KEY idx_grp (grp)) "
                "ENGINE=InnoDB DEFAULT CHARSET=latin1; "
                "INSERT INTO big SELECT seq * 3, seq %% 97, RPAD(seq, 100, 'p'), "
                "IF(seq %% 5 = 0, NULL, 'n\\tx') FROM seq_1_to_350000; ANALYZE TABLE big");
    char *schema = myt_schema_dump(&t);
    char *sums = myt_checksums(&t);
    char *cfg = myt_config(&t, "dump", NULL);
    cJSON *snap = myt_snapshot(&t, "big1", cfg);
    cJSON *tables = myt_get(snap, "metadata", "tables", NULL);
    cJSON *tb;
    int seen = 0;
    cJSON_ArrayForEach(tb, tables)
    {
        if (!strcmp(cJSON_GetObjectItem(tb, "name")->valuestring, "big")) {
            cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(tb, "blobs")), 2);
            cr_assert_eq(cJSON_GetObjectItem(tb, "rows")->valuedouble, 350000);
            seen = 1;
        }
    }
    cr_assert(seen);
    cJSON_Delete(snap);

    myt_sql(&t, "DELETE FROM big WHERE id %% 7 = 0; UPDATE big SET grp = 0 WHERE id < 3000; "
                "INSERT INTO big VALUES (1, 1, 'new', NULL), (2000000, 2, 'new', 'x')");
    int code;
    cJSON *rec = myt_rollback(&t, "big1", "--no-safety-snapshot", &code);
    cr_assert_eq(code, 0, "%s", cJSON_PrintUnformatted(rec));
    cJSON_Delete(rec);
    char *after = myt_schema_dump(&t);
    char *sums_after = myt_checksums(&t);
    cr_assert_str_eq(after, schema);
    cr_assert_str_eq(sums_after, sums);
    free(after);
    free(sums_after);
    free(schema);
    free(sums);
    free(cfg);
}
