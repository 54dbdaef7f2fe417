/* What goes wrong, said clearly, with the live database untouched:
 * credentials, a missing database or server, a missing privilege, a
 * session that holds a lock; and the password never stored. */
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

TestSuite(mysql_errors, .init = setup, .fini = teardown, .timeout = 120);

/* create-snapshot with a config; returns the response, *code the exit code. */
static cJSON *try_snapshot(const char *id, const char *config, int *code)
{
    char *path = rbt_fmt("%s/%s.json", t.tmp, id);
    rbt_spit(path, config);
    cJSON *j =
        myt_rbhost(&t, code, "create-snapshot --id %s --type database --config @%s", id, path);
    free(path);
    return j;
}

static char *config_with(const char *db, const char *cs, const char *method)
{
    return rbt_fmt("{\"database_name\":\"%s\",\"connection_string\":\"%s\"%s%s%s}", db, cs,
                   method ? ",\"method\":\"" : "", method ? method : "", method ? "\"" : "");
}

Test(mysql_errors, password_is_used_but_never_stored)
{
    unsetenv("MYSQL_PWD");
    char *cs = rbt_fmt("mysql://%s:%s@localhost/%s?socket=%s", t.user, t.password, t.db, t.socket);
    char *cfg = config_with(t.db, cs, "dump");
    cJSON *snap = myt_snapshot(&t, "p1", cfg);
    char *expected = rbt_fmt("mysql://%s@localhost/%s?socket=%s", t.user, t.db, t.socket);
    cr_assert_str_eq(myt_str(snap, "metadata", "connection_string", NULL), expected);
    cJSON_Delete(snap);
    rbt_run g = rbt_sh("grep -r -l -F -e '%s' '%s'", t.password, t.store);
    cr_assert_eq(g.code, 1, "the password is in the store: %s", g.out);
    rbt_run_free(&g);
    setenv("MYSQL_PWD", t.password, 1);
    free(expected);
    free(cfg);
    free(cs);
}

Test(mysql_errors, password_from_my_cnf)
{
    unsetenv("MYSQL_PWD");
    char *home = rbt_fmt("%s/home", t.tmp);
    char *cnf = rbt_fmt("%s/.my.cnf", home);
    rbt_run m = rbt_sh("mkdir -p '%s'", home);
    rbt_run_free(&m);
    char *text = rbt_fmt("[client]\npassword=%s\n", t.password);
    rbt_spit(cnf, text);
    const char *old_home = getenv("HOME");
    char *saved = old_home ? strdup(old_home) : NULL;
    setenv("HOME", home, 1);
    char *cfg = myt_config(&t, "dump", NULL);
    cJSON_Delete(myt_snapshot(&t, "cnf1", cfg));
    if (saved)
        setenv("HOME", saved, 1);
    setenv("MYSQL_PWD", t.password, 1);
    free(saved);
    free(cfg);
    free(text);
    free(cnf);
    free(home);
}

Test(mysql_errors, bad_credentials_are_named)
{
    char *cs =
        rbt_fmt("mysql://%s:not-the-password@localhost/%s?socket=%s", t.user, t.db, t.socket);
    char *cfg = config_with(t.db, cs, NULL);
    int code;
    cJSON *j = try_snapshot("bad1", cfg, &code);
    cr_assert_eq(code, 6);
    const char *err = myt_str(j, "error", NULL);
    cr_assert(strstr(err, "refused user 'rbtest'") || strstr(err, "refused user"), "%s", err);
    cr_assert_null(strstr(err, "not-the-password"), "%s", err);
    cJSON_Delete(j);
    free(cfg);
    free(cs);
}

Test(mysql_errors, missing_database_is_named)
{
    char *cs = myt_cs(&t);
    char *cfg = config_with("rbt_no_such_db", cs, NULL);
    int code;
    cJSON *j = try_snapshot("nodb", cfg, &code);
    cr_assert_eq(code, 4, "a missing database is 'not found'");
    cr_assert_str_eq(myt_str(j, "error_code", NULL), "notfound");
    cr_assert(strstr(myt_str(j, "error", NULL), "database 'rbt_no_such_db' does not exist"), "%s",
              myt_str(j, "error", NULL));
    cJSON_Delete(j);
    free(cfg);
    free(cs);
}

Test(mysql_errors, unreachable_server_is_named)
{
    char *cs = rbt_fmt("mysql://%s@localhost/%s?socket=%s/nothing-here.sock", t.user, t.db, t.tmp);
    char *cfg = config_with(t.db, cs, NULL);
    int code;
    cJSON *j = try_snapshot("down", cfg, &code);
    cr_assert_eq(code, 6);
    cr_assert(strstr(myt_str(j, "error", NULL), "cannot reach the MySQL server at socket"), "%s",
              myt_str(j, "error", NULL));
    cJSON_Delete(j);
    free(cfg);
    free(cs);
}

Test(mysql_errors, missing_privilege_names_it_and_dump_still_works)
{
    myt_sql(&t,
            "DROP USER IF EXISTS 'rbt_reader'@'localhost'; "
            "CREATE USER 'rbt_reader'@'localhost' IDENTIFIED BY 'reader-pw'; "
            "GRANT SELECT, LOCK TABLES, SHOW VIEW, TRIGGER ON `%s`.* TO "
            "'rbt_reader'@'localhost'; GRANT SELECT ON mysql.proc TO 'rbt_reader'@'localhost'",
            t.db);
    char *cs = rbt_fmt("mysql://rbt_reader:reader-pw@localhost/%s?socket=%s", t.db, t.socket);
    char *clone = config_with(t.db, cs, "clone");
    int code;
    cJSON *j = try_snapshot("ro1", clone, &code);
    cr_assert_eq(code, 6);
    const char *err = myt_str(j, "error", NULL);
    cr_assert(strstr(err, "lacks the privilege") && strstr(err, "dump"), "%s", err);
    cJSON_Delete(j);

    /* Without a method the engine falls back to the dump by itself. */
    char *any = config_with(t.db, cs, NULL);
    cJSON *ok = myt_snapshot(&t, "ro2", any);
    cr_assert_str_eq(myt_str(ok, "metadata", "method", NULL), "dump");
    cJSON_Delete(ok);
    myt_sql(&t, "DROP USER 'rbt_reader'@'localhost'");
    free(any);
    free(clone);
    free(cs);
}

Test(mysql_errors, an_open_transaction_blocks_the_swap_and_live_stays_as_is, .timeout = 180)
{
    char *cfg = myt_config(&t, "clone", NULL);
    cJSON_Delete(myt_snapshot(&t, "lk", cfg));
    myt_source(&t, RBT_MY_DIR "/changes.sql");
    char *before = myt_checksums(&t);
    char *schema = myt_schema_dump(&t);
    char *hidden = myt_hidden_schemas(&t);

    MYSQL *other = mysql_init(NULL);
    cr_assert_not_null(mysql_real_connect(other, NULL, t.user, t.password, t.db, 0, t.socket, 0));
    cr_assert_eq(mysql_query(other, "START TRANSACTION"), 0);
    cr_assert_eq(mysql_query(other, "SELECT COUNT(*) FROM customer"), 0);
    mysql_free_result(mysql_store_result(other));
    unsigned long other_id = mysql_thread_id(other);

    int code;
    cJSON *rec = myt_rollback(&t, "lk", NULL, &code);
    /* End the blocking transaction before any assertion can stop the test
     * with the lock still held. */
    mysql_query(other, "COMMIT");
    mysql_close(other);
    cr_assert_neq(code, 0, "%s", cJSON_PrintUnformatted(rec));
    cr_assert_str_eq(myt_str(rec, "status", NULL), "failed");
    char *text = cJSON_PrintUnformatted(rec);
    char *session = rbt_fmt("session %lu", other_id);
    cr_assert(strstr(text, "another session holds a lock") && strstr(text, session),
              "the message must name the blocking session: %s", text);
    free(session);
    free(text);
    cJSON_Delete(rec);

    char *after = myt_checksums(&t);
    char *schema_after = myt_schema_dump(&t);
    char *hidden_after = myt_hidden_schemas(&t);
    cr_assert_str_eq(after, before, "the live rows changed");
    cr_assert_str_eq(schema_after, schema, "the live schema changed");
    cr_assert_str_eq(hidden_after, hidden, "a half-made schema stayed behind");

    /* Once the session is gone, the same rollback goes through. */
    cJSON *rec2 = myt_rollback(&t, "lk", NULL, &code);
    cr_assert_eq(code, 0, "%s", cJSON_PrintUnformatted(rec2));
    cJSON_Delete(rec2);
    free(before);
    free(after);
    free(schema);
    free(schema_after);
    free(hidden);
    free(hidden_after);
    free(cfg);
}
