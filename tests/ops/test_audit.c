/* The audit log: one line per state-changing command with the right
 * result, secrets left out, and a chain that shows an edited, inserted or
 * removed line. */
#include <criterion/criterion.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ops_fixture.h"

static ops t;

static void setup(void)
{
    ops_open(&t);
}

static void teardown(void)
{
    ops_close(&t);
}

TestSuite(audit, .init = setup, .fini = teardown);

static cJSON *entries(void)
{
    int code;
    cJSON *r = ops_json(&t, &code, "audit");
    cr_assert_eq(code, 0);
    cJSON *e = cJSON_DetachItemFromObject(r, "entries");
    cJSON_Delete(r);
    cr_assert(cJSON_IsArray(e));
    return e;
}

static const cJSON *result_of(const cJSON *e)
{
    return cJSON_GetObjectItem(e, "result");
}

static void expect_entry(const cJSON *e, const char *command_start, int exit_code, const char *id)
{
    const char *cmd = cJSON_GetStringValue(cJSON_GetObjectItem(e, "command"));
    cr_assert(cmd && !strncmp(cmd, command_start, strlen(command_start)),
              "command '%s', expected it to start with '%s'", cmd, command_start);
    cr_assert_eq(cJSON_GetNumberValue(cJSON_GetObjectItem(result_of(e), "exit_code")), exit_code,
                 "%s", cmd);
    cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(result_of(e), "status")),
                     exit_code == 0   ? "success"
                     : exit_code == 1 ? "partial"
                                      : "failed");
    if (id) {
        int found = 0;
        const cJSON *i;
        cJSON_ArrayForEach(i, cJSON_GetObjectItem(e, "ids")) found |= !strcmp(i->valuestring, id);
        cr_assert(found, "%s: id %s not recorded", cmd, id);
    }
}

Test(audit, records_each_state_changing_command)
{
    ops_snapshot(&t, "one", 4);
    ops_snapshot(&t, "two", 4);
    /* Refused: the line says so, with the error; the password never
     * reaches the log. */
    rbt_run r = rbt_rbhost(t.store,
                           "create-snapshot --id three --type file_system --config "
                           "'{\"paths\": [\"%s/data\"], \"password\": \"hunter2\", \"url\": "
                           "\"postgres://u:s3cret@db/x\"}'",
                           t.tmp);
    cr_assert_eq(r.code, 3, "%s", r.err);
    rbt_run_free(&r);
    char *archive = rbt_fmt("%s/one.tar.zst", t.tmp);
    r = rbt_rbhost(t.store, "export --id one -o '%s'", archive);
    cr_assert_eq(r.code, 0, "%s", r.err);
    rbt_run_free(&r);
    r = rbt_rbhost(t.store, "delete-snapshot --id one");
    cr_assert_eq(r.code, 0, "%s", r.err);
    rbt_run_free(&r);
    r = rbt_rbhost(t.store, "import '%s'", archive);
    cr_assert_eq(r.code, 0, "%s", r.err);
    rbt_run_free(&r);
    r = rbt_rbhost(t.store, "delete-snapshot --id nosuch");
    cr_assert_eq(r.code, 4, "%s", r.err);
    rbt_run_free(&r);
    r = rbt_rbhost(t.store, "prune --keep-last 1");
    cr_assert_eq(r.code, 0, "%s", r.err);
    rbt_run_free(&r);
    /* Reading commands leave no line. */
    r = rbt_rbhost(t.store, "list-snapshots");
    rbt_run_free(&r);
    r = rbt_rbhost(t.store, "create-snapshot --help");
    rbt_run_free(&r);

    cJSON *log = entries();
    cr_assert_eq(cJSON_GetArraySize(log), 7, "7 state-changing commands ran");
    expect_entry(cJSON_GetArrayItem(log, 0), "rbhost create-snapshot --id one", 0, "one");
    expect_entry(cJSON_GetArrayItem(log, 1), "rbhost create-snapshot --id two", 0, "two");
    const cJSON *refused = cJSON_GetArrayItem(log, 2);
    expect_entry(refused, "rbhost create-snapshot --id three", 3, "three");
    const char *err = cJSON_GetStringValue(cJSON_GetObjectItem(result_of(refused), "error"));
    cr_assert(err && strstr(err, "unknown config key"), "error: %s", err);
    expect_entry(cJSON_GetArrayItem(log, 3), "rbhost delete-snapshot --id one", 0, "one");
    expect_entry(cJSON_GetArrayItem(log, 4), "rbhost import", 0, "one");
    expect_entry(cJSON_GetArrayItem(log, 5), "rbhost delete-snapshot --id nosuch", 4, "nosuch");
    /* prune names what it removed: "one" is the older of the two left. */
    const cJSON *prune = cJSON_GetArrayItem(log, 6);
    expect_entry(prune, "rbhost prune --keep-last 1", 0, NULL);
    char *ids = cJSON_PrintUnformatted(cJSON_GetObjectItem(prune, "ids"));
    cr_assert(strstr(ids, "\"one\"") || strstr(ids, "\"two\""), "prune ids %s", ids);
    free(ids);

    const cJSON *first = cJSON_GetArrayItem(log, 0);
    struct passwd *pw = getpwuid(getuid());
    cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(first, "user")), pw->pw_name);
    cr_assert_eq(cJSON_GetNumberValue(cJSON_GetObjectItem(first, "uid")), (double)getuid());
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(first, "host")), host);
    const char *when = cJSON_GetStringValue(cJSON_GetObjectItem(first, "time"));
    cr_assert(when && strlen(when) == 20 && when[10] == 'T' && when[19] == 'Z', "time %s", when);
    cJSON_Delete(log);

    char *path = rbt_fmt("%s/audit.log", t.store);
    char *text = rbt_slurp(path);
    cr_assert_not_null(text);
    cr_assert_null(strstr(text, "hunter2"), "a password reached the audit log");
    cr_assert_null(strstr(text, "s3cret"), "a password in a URL reached the audit log");
    cr_assert(strstr(text, "<redacted>"));
    free(text);
    free(path);
    free(archive);
}

static char *log_path(void)
{
    return rbt_fmt("%s/audit.log", t.store);
}

/* Lines of the log, each with its newline. */
static int split(char *text, char **lines, int max)
{
    int n = 0;
    for (char *p = text; *p && n < max;) {
        char *nl = strchr(p, '\n');
        cr_assert_not_null(nl, "the log does not end with a newline");
        lines[n++] = rbt_fmt("%.*s", (int)(nl - p + 1), p);
        p = nl + 1;
    }
    return n;
}

static void write_lines(char **lines, int n)
{
    char *all = rbt_fmt("%s", "");
    for (int i = 0; i < n; i++) {
        char *next = rbt_fmt("%s%s", all, lines[i]);
        free(all);
        all = next;
    }
    char *path = log_path();
    rbt_spit(path, all);
    free(path);
    free(all);
}

static void expect_verify(int code, const char *message)
{
    rbt_run r = rbt_rbhost(t.store, "audit verify");
    cr_assert_eq(r.code, code, "audit verify exit %d: %s%s", r.code, r.out, r.err);
    const char *where = code == 0 ? r.out : r.err;
    cr_assert(strstr(where, message), "expected '%s' in: %s", message, where);
    rbt_run_free(&r);
}

Test(audit, verify_finds_edited_inserted_and_removed_lines)
{
    for (int i = 0; i < 4; i++) {
        char id[8];
        snprintf(id, sizeof id, "s%d", i);
        ops_snapshot(&t, id, 4);
    }
    expect_verify(0, "audit log intact: 4 line(s)");
    char *path = log_path();
    char *orig = rbt_slurp(path);
    char *lines[8];
    int n = split(orig, lines, 8);
    cr_assert_eq(n, 4);

    /* Edited: line 2 says another snapshot was made. */
    char *edited = strdup(lines[1]);
    char *at = strstr(edited, "--id s1");
    cr_assert_not_null(at);
    at[6] = '9';
    char *copy[8];
    memcpy(copy, lines, sizeof lines);
    copy[1] = edited;
    write_lines(copy, 4);
    expect_verify(7, "line 2 was edited");

    /* Inserted: a copy of line 1 after line 2. */
    char *ins[5] = {lines[0], lines[1], lines[0], lines[2], lines[3]};
    write_lines(ins, 5);
    expect_verify(7, "line 3 holds entry 1 again");

    /* Removed: line 2. */
    char *rem[3] = {lines[0], lines[2], lines[3]};
    write_lines(rem, 3);
    expect_verify(7, "line 2 holds entry 3: 1 line(s) before it were removed");

    /* The first line removed. */
    write_lines(lines + 1, 3);
    expect_verify(7, "line 1 holds entry 2");

    /* Back as it was: intact, and appending goes on. */
    write_lines(lines, 4);
    expect_verify(0, "intact");
    ops_snapshot(&t, "s4", 4);
    expect_verify(0, "audit log intact: 5 line(s)");

    free(edited);
    for (int i = 0; i < n; i++)
        free(lines[i]);
    free(orig);
    free(path);
}

Test(audit, last_n_and_empty_log)
{
    int code;
    cJSON *r = ops_json(&t, &code, "audit verify");
    cr_assert_eq(code, 0);
    cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(r, "status")), "intact");
    cJSON_Delete(r);
    ops_snapshot(&t, "x", 4);
    ops_snapshot(&t, "y", 4);
    r = ops_json(&t, &code, "audit --last 1");
    cr_assert_eq(code, 0);
    cJSON *list = cJSON_GetObjectItem(r, "entries");
    cr_assert_eq(cJSON_GetArraySize(list), 1);
    expect_entry(cJSON_GetArrayItem(list, 0), "rbhost create-snapshot --id y", 0, "y");
    cr_assert_eq(cJSON_GetNumberValue(cJSON_GetObjectItem(cJSON_GetArrayItem(list, 0), "seq")), 2);
    cJSON_Delete(r);
}

/* The note a lock holder leaves, shown to whoever is refused, is the
 * command line too: it must not carry a password either. */
Test(audit, a_lock_holders_command_line_carries_no_password)
{
    ops_snapshot(&t, "one", 4);
    char *marker = rbt_fmt("%s/started", t.tmp);
    rbt_run r =
        rbt_sh("'%s' --store '%s' execute-rollback --id one --yes --validation "
               "'{\"tests\":[{\"type\":\"command\",\"run\":\"touch %s; sleep 3\"},"
               "{\"type\":\"health_check\",\"url\":\"http://watcher:s3cret@127.0.0.1:9/\"}]}' "
               ">/dev/null 2>&1 & "
               "for i in $(seq 100); do [ -e '%s' ] && break; sleep 0.1; done; "
               "'%s' --store '%s' create-snapshot --id two --type file_system "
               "--config '{\"paths\":[\"%s/data\"]}'; echo \"exit=$?\"; wait",
               rbt_rbhost_bin(), t.store, marker, marker, rbt_rbhost_bin(), t.store, t.tmp);
    cr_assert(strstr(r.out, "exit=5"), "%s %s", r.out, r.err);
    cr_assert(strstr(r.err, "execute-rollback --id one"), "%s", r.err);
    cr_assert(strstr(r.err, "watcher@127.0.0.1"), "%s", r.err);
    cr_assert_null(strstr(r.err, "s3cret"), "%s", r.err);
    rbt_run_free(&r);
    free(marker);
}
