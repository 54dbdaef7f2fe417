#include "my_fixture.h"

#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void connect_test(myt *t, const char *db)
{
    t->c = mysql_init(NULL);
    cr_assert_not_null(t->c);
    cr_assert_not_null(mysql_real_connect(t->c, NULL, t->user, t->password, db, 0, t->socket,
                                          CLIENT_MULTI_STATEMENTS),
                       "connecting to the test server: %s", mysql_error(t->c));
    cr_assert_eq(mysql_set_character_set(t->c, "utf8mb4"), 0);
}

void myt_open(myt *t, int with_schema)
{
    memset(t, 0, sizeof *t);
    t->socket = rbt_server_env("RBT_MYSQL_SOCKET");
    t->user = rbt_server_env("RBT_MYSQL_USER");
    t->password = getenv("RBT_MYSQL_PASSWORD") ? getenv("RBT_MYSQL_PASSWORD") : "";
    setenv("MYSQL_PWD", t->password, 1);
    t->tmp = rbt_tmpdir();
    t->store = rbt_fmt("%s/store", t->tmp);
    snprintf(t->db, sizeof t->db, "rbt_%ld_%d", (long)getpid(), rand() % 100000);
    connect_test(t, NULL);
    myt_sql(t,
            "DROP DATABASE IF EXISTS `%s`; CREATE DATABASE `%s` CHARACTER SET utf8mb4 "
            "COLLATE utf8mb4_unicode_ci",
            t->db, t->db);
    cr_assert_eq(mysql_select_db(t->c, t->db), 0);
    t->hidden_before = myt_hidden_schemas(t);
    if (with_schema)
        myt_source(t, RBT_MY_DIR "/schema.sql");
}

void myt_close(myt *t)
{
    if (t->store) {
        rbt_run r = rbt_rbhost(t->store, "--json list-snapshots");
        cJSON *list = cJSON_Parse(r.out);
        cJSON *snaps = cJSON_IsArray(list) ? list : cJSON_GetObjectItem(list, "snapshots");
        cJSON *s;
        cJSON_ArrayForEach(s, snaps)
        {
            cJSON *id = cJSON_GetObjectItem(s, "id");
            if (!cJSON_IsString(id))
                id = cJSON_GetObjectItem(s, "snapshot_id");
            if (cJSON_IsString(id)) {
                rbt_run d = rbt_rbhost(t->store, "delete-snapshot --id '%s'", id->valuestring);
                rbt_run_free(&d);
            }
        }
        cJSON_Delete(list);
        rbt_run_free(&r);
    }
    if (t->c) {
        char sql[128];
        snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS `%s`", t->db);
        mysql_query(t->c, sql);
        mysql_close(t->c);
    }
    rbt_rmtree(t->tmp);
    free(t->hidden_before);
    free(t->tmp);
    free(t->store);
    mysql_library_end();
}

char *myt_cs(const myt *t)
{
    return rbt_fmt("mysql://%s@localhost/%s?socket=%s", t->user, t->db, t->socket);
}

char *myt_config(const myt *t, const char *method, const char *extra_json)
{
    char *cs = myt_cs(t);
    char *cfg = rbt_fmt("{\"database_name\":\"%s\",\"connection_string\":\"%s\"%s%s%s%s%s}", t->db,
                        cs, method ? ",\"method\":\"" : "", method ? method : "",
                        method ? "\"" : "", extra_json ? "," : "", extra_json ? extra_json : "");
    free(cs);
    return cfg;
}

static void run_sql(myt *t, const char *sql)
{
    cr_assert_eq(mysql_query(t->c, sql), 0, "%s: %s", sql, mysql_error(t->c));
    do {
        MYSQL_RES *r = mysql_store_result(t->c);
        mysql_free_result(r);
    } while (mysql_next_result(t->c) == 0);
    cr_assert_eq(mysql_errno(t->c), 0, "%s: %s", sql, mysql_error(t->c));
}

void myt_sql(myt *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *sql = NULL;
    cr_assert(vasprintf(&sql, fmt, ap) >= 0);
    va_end(ap);
    run_sql(t, sql);
    free(sql);
}

char *myt_value(myt *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *sql = NULL;
    cr_assert(vasprintf(&sql, fmt, ap) >= 0);
    va_end(ap);
    cr_assert_eq(mysql_query(t->c, sql), 0, "%s: %s", sql, mysql_error(t->c));
    MYSQL_RES *r = mysql_store_result(t->c);
    cr_assert_not_null(r, "%s: no result", sql);
    MYSQL_ROW row = mysql_fetch_row(r);
    char *v = strdup(row && row[0] ? row[0] : "NULL");
    mysql_free_result(r);
    free(sql);
    return v;
}

void myt_source(const myt *t, const char *file)
{
    rbt_run r = rbt_sh("mariadb --no-defaults --socket='%s' -u '%s' '%s' < '%s'", t->socket,
                       t->user, t->db, file);
    cr_assert_eq(r.code, 0, "loading %s: %s", file, r.err);
    rbt_run_free(&r);
}

char *myt_schema_dump(const myt *t)
{
    rbt_run r = rbt_sh("mysqldump --no-defaults --socket='%s' -u '%s' --no-data --skip-dump-date "
                       "--routines --triggers '%s'",
                       t->socket, t->user, t->db);
    cr_assert_eq(r.code, 0, "mysqldump: %s", r.err);
    char *out = r.out;
    r.out = NULL;
    rbt_run_free(&r);
    return out;
}

char *myt_checksums(myt *t)
{
    char *sql = rbt_fmt("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = "
                        "'%s' AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME",
                        t->db);
    cr_assert_eq(mysql_query(t->c, sql), 0, "%s", mysql_error(t->c));
    free(sql);
    MYSQL_RES *names = mysql_store_result(t->c);
    char *out = strdup("");
    MYSQL_ROW row;
    while ((row = mysql_fetch_row(names))) {
        char *q = rbt_fmt("CHECKSUM TABLE `%s`", row[0]);
        cr_assert_eq(mysql_query(t->c, q), 0, "%s: %s", q, mysql_error(t->c));
        free(q);
        MYSQL_RES *cr = mysql_store_result(t->c);
        MYSQL_ROW crow = mysql_fetch_row(cr);
        char *sum = strdup(crow && crow[1] ? crow[1] : "NULL");
        mysql_free_result(cr);
        char *rows = myt_value(t, "SELECT COUNT(*) FROM `%s`", row[0]);
        char *next = rbt_fmt("%s%s %s %s\n", out, row[0], sum, rows);
        free(out);
        free(sum);
        free(rows);
        out = next;
    }
    mysql_free_result(names);
    return out;
}

char *myt_hidden_schemas(myt *t)
{
    cr_assert_eq(mysql_query(t->c, "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE "
                                   "SCHEMA_NAME LIKE '\\_rbhost\\_%' ORDER BY 1"),
                 0);
    MYSQL_RES *r = mysql_store_result(t->c);
    char *out = strdup("");
    MYSQL_ROW row;
    while ((row = mysql_fetch_row(r))) {
        char *line = rbt_fmt("%s\n", row[0]);
        int old = t->hidden_before && strstr(t->hidden_before, line);
        free(line);
        if (old)
            continue;
        char *next = rbt_fmt("%s%s\n", out, row[0]);
        free(out);
        out = next;
    }
    mysql_free_result(r);
    return out;
}

cJSON *myt_rbhost(const myt *t, int *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *args = NULL;
    cr_assert(vasprintf(&args, fmt, ap) >= 0);
    va_end(ap);
    rbt_run r = rbt_rbhost(t->store, "--json %s", args);
    free(args);
    cJSON *j = cJSON_Parse(r.out);
    cr_assert_not_null(j, "rbhost printed no JSON (exit %d): %s\n%s", r.code, r.out, r.err);
    if (code)
        *code = r.code;
    rbt_run_free(&r);
    return j;
}

cJSON *myt_snapshot(const myt *t, const char *id, const char *config)
{
    char *path = rbt_fmt("%s/config-%s.json", t->tmp, id);
    rbt_spit(path, config);
    int code;
    cJSON *j =
        myt_rbhost(t, &code, "create-snapshot --id '%s' --type database --config '@%s'", id, path);
    free(path);
    cr_assert_eq(code, 0, "create-snapshot %s failed: %s", id, cJSON_PrintUnformatted(j));
    cr_assert_str_eq(myt_str(j, "status", NULL), "success");
    return j;
}

cJSON *myt_rollback(const myt *t, const char *id, const char *flags, int *code)
{
    return myt_rbhost(t, code, "execute-rollback --id '%s' --yes %s", id, flags ? flags : "");
}

cJSON *myt_get(const cJSON *j, ...)
{
    va_list ap;
    va_start(ap, j);
    const char *key;
    cJSON *cur = (cJSON *)j;
    while (cur && (key = va_arg(ap, const char *)))
        cur = cJSON_GetObjectItemCaseSensitive(cur, key);
    va_end(ap);
    return cur;
}

const char *myt_str(const cJSON *j, ...)
{
    va_list ap;
    va_start(ap, j);
    const char *key;
    cJSON *cur = (cJSON *)j;
    while (cur && (key = va_arg(ap, const char *)))
        cur = cJSON_GetObjectItemCaseSensitive(cur, key);
    va_end(ap);
    return cJSON_IsString(cur) ? cur->valuestring : NULL;
}
