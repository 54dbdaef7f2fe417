/* Failures a user meets, each with a message that names the cause and a
 * live database left as it was; and passwords kept out of the store. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pg_fixture.h"

static pgt t;
static char *role;
/* A tmpfs mounted by a test, unmounted even when an assertion fails. */
static char *mounted;

static void setup(void)
{
    pgt_open(&t, 1);
    role = rbt_fmt("rbt_role_%d", (int)getpid());
}

static void teardown(void)
{
    if (mounted) {
        free(pgt_sql(&t, "postgres", "DROP DATABASE IF EXISTS %s_full WITH (FORCE)", t.db));
        free(pgt_sql(&t, "postgres", "DROP TABLESPACE IF EXISTS rbt_small_%d", (int)getpid()));
        rbt_run u = rbt_sh("umount '%s'", mounted);
        rbt_run_free(&u);
        free(mounted);
        mounted = NULL;
    }
    if (t.db) {
        pgt_drop_databases(&t);
        free(pgt_sql(&t, "postgres", "DROP ROLE IF EXISTS %s", role));
    }
    pgt_close(&t);
    free(role);
    role = NULL;
}

TestSuite(pg_errors, .init = setup, .fini = teardown, .timeout = 240);

/* A login role with a password that owns the test database. */
static void make_owner(const char *password, int createdb)
{
    free(pgt_sql(&t, "postgres",
                 "DO $$ BEGIN CREATE ROLE %s; EXCEPTION WHEN duplicate_object THEN NULL; END $$;\n"
                 "ALTER ROLE %s LOGIN %s PASSWORD '%s';\n"
                 "ALTER DATABASE %s OWNER TO %s;\n"
                 "GRANT pg_read_all_data TO %s;",
                 role, role, createdb ? "CREATEDB" : "NOCREATEDB", password, t.db, role, role));
}

static char *owner_uri(const char *password)
{
    return rbt_fmt("postgresql://%s:%s@127.0.0.1:%s/%s", role, password, t.port, t.db);
}

static cJSON *failing_snapshot(const char *config, int *code)
{
    char *file = rbt_fmt("%s/cfg.json", t.tmp);
    rbt_spit(file, config);
    cJSON *j = pgt_rbhost(&t, code, "create-snapshot --id s --type database --config @%s", file);
    free(file);
    cr_assert_neq(*code, 0, "create-snapshot should have failed");
    cr_assert_str_eq(pgt_str(j, "status", NULL), "failed");
    return j;
}

static void expect_error(cJSON *j, const char *needle)
{
    const char *e = pgt_str(j, "error", NULL);
    cr_assert_not_null(e);
    cr_assert_not_null(strstr(e, needle), "error message lacks '%s': %s", needle, e);
}

Test(pg_errors, bad_credentials_are_named)
{
    make_owner("Right-Pw-1", 1);
    char *uri = owner_uri("wrong-password");
    char *cfg = pgt_config(&t, uri, "");
    int code;
    cJSON *j = failing_snapshot(cfg, &code);
    expect_error(j, "refused the credentials of role");
    expect_error(j, role);
    cr_assert_null(strstr(pgt_str(j, "error", NULL), "wrong-password"),
                   "the message repeats the password");
    cJSON_Delete(j);
    free(cfg);
    free(uri);
}

Test(pg_errors, missing_database_and_unreachable_server_are_named)
{
    char *cfg = rbt_fmt("{\"database_name\": \"no_such_db_%d\", \"connection_string\": \"%s\"}",
                        (int)getpid(), t.cs);
    int code;
    cJSON *j = failing_snapshot(cfg, &code);
    expect_error(j, "does not exist");
    expect_error(j, "no_such_db_");
    cr_assert_eq(code, 4, "a missing database is 'not found' (exit 4), got %d", code);
    cJSON_Delete(j);
    free(cfg);

    char *dir = rbt_fmt("%s/nosock", t.tmp);
    mkdir(dir, 0700);
    char *cs = rbt_fmt("host=%s port=%s user=%s", dir, t.port, t.user);
    cfg = pgt_config(&t, cs, "");
    j = failing_snapshot(cfg, &code);
    expect_error(j, "cannot reach PostgreSQL server");
    cJSON_Delete(j);
    free(cfg);
    free(cs);
    free(dir);
}

Test(pg_errors, clone_without_createdb_names_the_privilege_and_suggests_dump)
{
    make_owner("Plain-Pw-1", 0);
    char *uri = owner_uri("Plain-Pw-1");
    char *cfg = pgt_config(&t, uri, "\"method\": \"clone\"");
    int code;
    cJSON *j = failing_snapshot(cfg, &code);
    expect_error(j, "CREATEDB");
    expect_error(j, "\"method\": \"dump\"");
    cJSON_Delete(j);
    free(cfg);
    /* Without a method, such a role gets a dump. */
    cfg = pgt_config(&t, uri, "");
    cJSON *ok = pgt_snapshot(&t, "auto", cfg);
    cr_assert_str_eq(pgt_str(ok, "metadata", "method", NULL), "dump");
    cJSON_Delete(ok);
    free(cfg);
    free(uri);
}

Test(pg_errors, password_stays_out_of_the_store_and_comes_from_pgpassfile)
{
    const char *pw = "Secret-Pw-42";
    make_owner(pw, 1);
    char *uri = owner_uri(pw);
    char *cfg = pgt_config(&t, uri, "\"method\": \"clone\"");
    cJSON *snap = pgt_snapshot(&t, "pw", cfg);
    char *printed = cJSON_PrintUnformatted(snap);
    cr_assert_null(strstr(printed, pw), "the response shows the password");
    rbt_run grep = rbt_sh("grep -rl '%s' '%s'", pw, t.store);
    cr_assert_str_eq(grep.out, "", "the password is in the store: %s", grep.out);
    rbt_run_free(&grep);
    const char *kept = pgt_str(snap, "metadata", "connection_string", NULL);
    cr_assert_not_null(kept);
    cr_assert_not_null(strstr(kept, role), "the connection string lost its user: %s", kept);

    /* The rollback reads the recorded (password-less) connection string:
     * the password must come from PGPASSFILE. */
    pgt_sql_file(&t, "changes.sql");
    int code;
    cJSON *fail = pgt_rollback(&t, "pw", NULL, &code);
    cr_assert_neq(code, 0, "a rollback without any password should fail");
    const char *e = pgt_str(fail, "error", NULL);
    cr_assert(e && strstr(e, "PGPASSFILE"), "message does not say where passwords come from: %s",
              e ? e : "(none)");
    char *orders = pgt_sql(&t, NULL, "SELECT count(*) FROM app.orders");
    cr_assert_str_eq(orders, "930", "a failed rollback changed the live database");
    free(orders);

    char *passfile = rbt_fmt("%s/pgpass", t.tmp);
    char *line = rbt_fmt("127.0.0.1:%s:*:%s:%s\n", t.port, role, pw);
    rbt_spit(passfile, line);
    chmod(passfile, 0600);
    setenv("PGPASSFILE", passfile, 1);
    cJSON *rec = pgt_rollback(&t, "pw", NULL, &code);
    unsetenv("PGPASSFILE");
    cr_assert_eq(code, 0, "rollback with PGPASSFILE exited %d: %s", code,
                 pgt_str(rec, "error", NULL) ? pgt_str(rec, "error", NULL) : "");
    orders = pgt_sql(&t, NULL, "SELECT count(*) FROM app.orders");
    cr_assert_str_eq(orders, "1000");
    grep = rbt_sh("grep -rl '%s' '%s'", pw, t.store);
    cr_assert_str_eq(grep.out, "", "the password is in the store: %s", grep.out);
    rbt_run_free(&grep);

    free(orders);
    free(line);
    free(passfile);
    cJSON_Delete(rec);
    cJSON_Delete(fail);
    cJSON_Delete(snap);
    free(printed);
    free(cfg);
    free(uri);
}

Test(pg_errors, session_that_will_not_end_leaves_live_untouched)
{
    /* A non-superuser may not end a superuser's session. */
    make_owner("Owner-Pw-1", 1);
    char *passfile = rbt_fmt("%s/pgpass", t.tmp);
    char *line = rbt_fmt("127.0.0.1:%s:*:%s:Owner-Pw-1\n", t.port, role);
    rbt_spit(passfile, line);
    chmod(passfile, 0600);
    setenv("PGPASSFILE", passfile, 1);
    char *cs = rbt_fmt("postgresql://%s@127.0.0.1:%s/%s", role, t.port, t.db);
    char *cfg = pgt_config(&t, cs, "\"method\": \"clone\"");
    cJSON_Delete(pgt_snapshot(&t, "s", cfg));
    pgt_sql_file(&t, "changes.sql");
    char *before = pgt_contents(&t, NULL);

    rbt_run bg = rbt_sh("'%s/psql' -X -h '%s' -p '%s' -U '%s' -d '%s' -c 'SELECT pg_sleep(600)' "
                        ">/dev/null 2>&1 & echo $!",
                        t.bindir, t.host, t.port, t.user, t.db);
    char *n = NULL;
    for (int i = 0; i < 100; i++) {
        free(n);
        n = pgt_sql(&t, "postgres",
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = '%s' AND query LIKE "
                    "'%%pg_sleep(600)%%'",
                    t.db);
        if (!strcmp(n, "1"))
            break;
        usleep(50000);
    }
    cr_assert_str_eq(n, "1");
    int code;
    cJSON *rec = pgt_rollback(&t, "s", NULL, &code);
    unsetenv("PGPASSFILE");
    cr_assert_eq(code, 6, "execute-rollback exited %d", code);
    cr_assert_str_eq(pgt_str(rec, "status", NULL), "failed");
    char *text = cJSON_PrintUnformatted(rec);
    cr_assert_not_null(strstr(text, "cannot end session"), "no clear message: %s", text);
    cr_assert_not_null(strstr(text, "untouched"), "the message does not say live is untouched");
    char *after = pgt_contents(&t, NULL);
    cr_assert_str_eq(after, before, "the failed rollback changed the live database");
    char *allow =
        pgt_sql(&t, "postgres", "SELECT datallowconn FROM pg_database WHERE datname = '%s'", t.db);
    cr_assert_str_eq(allow, "t", "the live database was left closed to connections");
    free(pgt_sql(&t, "postgres",
                 "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '%s' "
                 "AND query LIKE '%%pg_sleep(600)%%' AND pid <> pg_backend_pid()",
                 t.db));
    free(allow);
    free(after);
    free(text);
    free(n);
    free(before);
    cJSON_Delete(rec);
    rbt_run_free(&bg);
    free(cfg);
    free(cs);
    free(line);
    free(passfile);
}

Test(pg_errors, full_disk_on_the_server_fails_the_snapshot_cleanly)
{
    if (geteuid() != 0)
        cr_skip_test("needs root to mount a small file system for a tablespace");
    char *dir = rbt_fmt("%s/small", t.tmp);
    mkdir(dir, 0755);
    chmod(t.tmp, 0755);
    rbt_run m = rbt_sh("mount -t tmpfs -o size=16m tmpfs '%s' && chown postgres '%s'", dir, dir);
    if (m.code != 0) {
        rbt_run_free(&m);
        cr_skip_test("cannot mount a tmpfs here");
    }
    rbt_run_free(&m);
    mounted = strdup(dir);
    char *ts = rbt_fmt("rbt_small_%d", (int)getpid());
    char *db = rbt_fmt("%s_full", t.db);
    free(pgt_sql(&t, "postgres", "CREATE TABLESPACE %s LOCATION '%s'", ts, dir));
    free(pgt_sql(&t, "postgres", "CREATE DATABASE %s TABLESPACE %s", db, ts));
    free(pgt_sql(&t, db,
                 "CREATE TABLE big AS SELECT i, md5(i::text) AS m FROM generate_series(1, "
                 "90000) i;\nCHECKPOINT;"));
    char *cfg = rbt_fmt("{\"database_name\": \"%s\", \"connection_string\": \"%s\", "
                        "\"method\": \"clone\"}",
                        db, t.cs);
    int code;
    cJSON *j = failing_snapshot(cfg, &code);
    expect_error(j, "ran out of disk space");
    char *n = pgt_sql(&t, db, "SELECT count(*) FROM big");
    cr_assert_str_eq(n, "90000");
    char *copies = pgt_sql(&t, "postgres",
                           "SELECT count(*) FROM pg_database WHERE datname LIKE 'rb\\_%%%s%%'", db);
    cr_assert_str_eq(copies, "0", "a failed copy was left behind");
    char *allow =
        pgt_sql(&t, "postgres", "SELECT datallowconn FROM pg_database WHERE datname = '%s'", db);
    cr_assert_str_eq(allow, "t");
    free(allow);
    free(copies);
    free(n);
    cJSON_Delete(j);
    free(cfg);
    free(db);
    free(ts);
    free(dir);
}

Test(pg_errors, clone_by_a_role_that_does_not_own_the_database_is_refused)
{
    make_owner("Other-Pw-1", 1);
    free(pgt_sql(&t, "postgres", "ALTER DATABASE %s OWNER TO %s", t.db, t.user));
    char *uri = owner_uri("Other-Pw-1");
    char *cfg = pgt_config(&t, uri, "\"method\": \"clone\"");
    int code;
    cJSON *j = failing_snapshot(cfg, &code);
    expect_error(j, "only its owner or a superuser");
    expect_error(j, "\"method\": \"dump\"");
    cJSON_Delete(j);
    free(cfg);
    cfg = pgt_config(&t, uri, "");
    cJSON *ok = pgt_snapshot(&t, "auto", cfg);
    cr_assert_str_eq(pgt_str(ok, "metadata", "method", NULL), "dump");
    cJSON_Delete(ok);
    free(cfg);
    free(uri);
}
