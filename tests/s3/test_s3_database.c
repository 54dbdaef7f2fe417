/* A PostgreSQL database snapshotted into an S3 store and rolled back from
 * another host. */
#include <criterion/criterion.h>
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

TestSuite(s3_database, .init = setup, .fini = teardown);

static char *psql(const char *db, char *sql)
{
    rbt_run r = rbt_sh("'%s/psql' -X -q -At -v ON_ERROR_STOP=1 -h '%s' -p '%s' -U '%s' -d '%s' "
                       "-c \"%s\"",
                       rbt_server_env("RBT_PG_BINDIR"), rbt_server_env("RBT_PG_HOST"),
                       rbt_server_env("RBT_PG_PORT"), rbt_server_env("RBT_PG_USER"), db, sql);
    cr_assert_eq(r.code, 0, "psql %s: %s", sql, r.err);
    free(r.err);
    free(sql);
    return r.out;
}

Test(s3_database, postgres_snapshot_in_s3_rolled_back)
{
    rbt_server_env("RBT_PG_HOST");
    char *db = rbt_fmt("rbs3_%s", strrchr(t.plain, '/') + 1);
    free(psql("postgres", rbt_fmt("CREATE DATABASE %s", db)));
    free(psql(db, strdup("CREATE TABLE orders (id int PRIMARY KEY, item text); INSERT INTO orders "
                         "SELECT g, 'item ' || g FROM generate_series(1, 5000) g")));
    char *cfg = rbt_fmt("{\"database_name\": \"%s\", \"connection_string\": \"host=%s port=%s "
                        "user=%s\"}",
                        db, rbt_server_env("RBT_PG_HOST"), rbt_server_env("RBT_PG_PORT"),
                        rbt_server_env("RBT_PG_USER"));
    char *cfgfile = rbt_fmt("%s/db.json", t.tmp);
    rbt_spit(cfgfile, cfg);
    rbt_run r =
        s3t_rbhost(&t, "a", "", "create-snapshot --id db1 --type database --config @%s", cfgfile);
    cr_assert_eq(r.code, 0, "snapshot: %s %s", r.out, r.err);
    rbt_run_free(&r);

    free(psql(db, strdup("DELETE FROM orders WHERE id > 100; UPDATE orders SET item = 'gone'")));
    r = s3t_rbhost(&t, "b", "", "execute-rollback --id db1 --yes --no-safety-snapshot");
    cr_assert_eq(r.code, 0, "rollback: %s %s", r.out, r.err);
    rbt_run_free(&r);
    char *count = psql(db, strdup("SELECT count(*) || ':' || max(item) FROM orders WHERE "
                                  "item LIKE 'item %'"));
    cr_assert_str_eq(count, "5000:item 999\n");
    free(count);
    free(psql("postgres", rbt_fmt("DROP DATABASE IF EXISTS %s WITH (FORCE)", db)));
    free(cfgfile);
    free(cfg);
    free(db);
}
