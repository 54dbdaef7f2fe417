/* With the real terraform (or tofu) binary, where one is installed: the
 * state rbhost writes back is one that tool plans against without
 * complaint, and a lock that tool holds stops rbhost. Neither tool is
 * packaged in Debian 12, so elsewhere these tests are skipped; the other
 * suites cover the same ground with state documents and tables made the
 * way these tools make them. Only the built-in terraform_data resource is
 * used: nothing is downloaded. */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "infra_fixture.h"
#include "pg_fixture.h"

static ift t;
static ipg pg;
static char *tool;

static void teardown(void)
{
    if (t.tmp)
        ift_close(&t);
    ipg_close(&pg);
    free(tool);
    memset(&t, 0, sizeof t);
    tool = NULL;
}

TestSuite(infra_terraform, .fini = teardown, .timeout = 180);

static void find_tool(void)
{
    rbt_run r = rbt_sh("command -v terraform || command -v tofu");
    if (r.code != 0) {
        rbt_run_free(&r);
        cr_skip_test("neither terraform nor tofu is installed (Debian 12 packages neither)");
    }
    r.out[strcspn(r.out, "\n")] = '\0';
    tool = strdup(r.out);
    rbt_run_free(&r);
}

/* The tool's environment: no user CLI config, no version check over the
 * network, output meant for logs. */
#define TF_ENV "TF_CLI_CONFIG_FILE=/dev/null CHECKPOINT_DISABLE=1 TF_IN_AUTOMATION=1"

static char *tf_command(const char *args)
{
    return rbt_fmt(TF_ENV " '%s' %s", tool, args);
}

static rbt_run tf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static rbt_run tf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *args = NULL;
    cr_assert(vasprintf(&args, fmt, ap) >= 0);
    va_end(ap);
    char *cmd = tf_command(args);
    rbt_run r = rbt_sh("cd '%s' && %s", t.dir, cmd);
    free(cmd);
    free(args);
    return r;
}

static void tf_ok(const char *args)
{
    rbt_run r = tf("%s", args);
    cr_assert_eq(r.code, 0, "%s: exit %d\n%s%s", args, r.code, r.out, r.err);
    rbt_run_free(&r);
}

static void write_module(const char *backend_block)
{
    char *path = ift_path(&t, "main.tf");
    char *text = rbt_fmt("%s"
                         "variable \"tag\" {\n  type = string\n}\n"
                         "variable \"n\" {\n  type = number\n}\n"
                         "resource \"terraform_data\" \"web\" {\n"
                         "  count = var.n\n"
                         "  input = \"web-${count.index}-${var.tag}\"\n"
                         "}\n"
                         "output \"names\" {\n  value = terraform_data.web[*].output\n}\n",
                         backend_block);
    rbt_spit(path, text);
    free(text);
    free(path);
}

/* Snapshot at v1 (two instances), then apply v2 (three, other inputs). */
static void snapshot_then_change(const char *target_config)
{
    tf_ok("init -input=false -no-color");
    tf_ok("apply -auto-approve -input=false -no-color -var tag=v1 -var n=2");
    char *apply = tf_command("apply -auto-approve -input=false -no-color -var tag=v1 -var n=2");
    cJSON *config = rbt_json(target_config);
    cJSON_AddStringToObject(config, "working_dir", t.dir);
    cJSON_AddStringToObject(config, "apply_command", apply);
    char *text = cJSON_PrintUnformatted(config);
    char *path = rbt_fmt("%s/config.json", t.tmp);
    rbt_spit(path, text);
    rbt_run r =
        rbt_rbhost(t.store, "create-snapshot --id v1 --type infrastructure --config @%s", path);
    cr_assert_eq(r.code, 0, "create-snapshot exited %d: %s", r.code, r.err);
    rbt_run_free(&r);
    tf_ok("apply -auto-approve -input=false -no-color -var tag=v2 -var n=3");
    free(path);
    free(text);
    cJSON_Delete(config);
    free(apply);
}

/* `terraform console` holds the state lock for as long as its input is
 * open: here, for `seconds`. */
static void hold_lock_with_console(int seconds)
{
    char *console = tf_command("console");
    rbt_run r = rbt_sh("cd '%s' && (sleep %d | %s >/dev/null 2>&1) >/dev/null 2>&1 &", t.dir,
                       seconds, console);
    rbt_run_free(&r);
    free(console);
}

static int wait_for(int (*cond)(void), int seconds)
{
    for (int i = 0; i < seconds * 10; i++) {
        if (cond())
            return 1;
        struct timespec pause = {0, 100 * 1000000L};
        nanosleep(&pause, NULL);
    }
    return cond();
}

static void rollback_then_plan_is_clean(void)
{
    int code;
    char *err = NULL;
    cJSON *rec = ift_rbhost_json(t.store, &code, &err, "execute-rollback --id v1 --yes");
    cr_assert_eq(code, 0, "execute-rollback exited %d: %s", code, err);
    cr_assert_str_eq(ift_str(rec, "status", NULL), "completed");
    cr_assert_str_eq(ift_str(rec, "execution_result", "apply_status", NULL), "succeeded");
    cJSON_Delete(rec);
    free(err);
    /* The tool reads the restored state without complaint and finds
     * nothing to do for the old configuration. */
    rbt_run plan = tf("plan -input=false -no-color -detailed-exitcode -var tag=v1 -var n=2");
    cr_assert_eq(plan.code, 0, "plan after the rollback: exit %d\n%s%s", plan.code, plan.out,
                 plan.err);
    rbt_run_free(&plan);
    rbt_run list = tf("state list");
    cr_assert_eq(list.code, 0);
    cr_assert_str_eq(list.out, "terraform_data.web[0]\nterraform_data.web[1]\n");
    rbt_run_free(&list);
}

static char *lock_info_path;

static int lock_info_present(void)
{
    return access(lock_info_path, F_OK) == 0;
}

static int lock_info_gone(void)
{
    return !lock_info_present();
}

Test(infra_terraform, local_state_rolled_back_under_terraforms_own_lock_convention)
{
    find_tool();
    ift_open(&t);
    write_module("");
    char *config = rbt_fmt("{\"backend\":\"local\",\"state_path\":\"%s\"}", t.state);
    snapshot_then_change(config);
    free(config);

    lock_info_path = ift_path(&t, ".terraform.tfstate.lock.info");
    hold_lock_with_console(5);
    cr_assert(wait_for(lock_info_present, 20), "the console never took the lock");
    char *info_text = rbt_slurp(lock_info_path);
    cJSON *info = rbt_json(info_text);
    char *before = rbt_slurp(t.state);
    int code;
    char *err = NULL;
    cJSON *rec = ift_rbhost_json(t.store, &code, &err,
                                 "execute-rollback --id v1 --yes --no-safety-snapshot");
    cr_assert_eq(code, 5, "execute-rollback exited %d: %s", code, err);
    const char *msg = ift_error(rec);
    cr_assert_not_null(strstr(msg, ift_str(info, "ID", NULL)), "lock ID not named: %s", msg);
    cr_assert_not_null(strstr(msg, ift_str(info, "Who", NULL)), "holder not named: %s", msg);
    char *after = rbt_slurp(t.state);
    cr_assert_str_eq(after, before, "a refused rollback changed the state");
    cr_assert(wait_for(lock_info_gone, 30), "the console never let go of the lock");

    rollback_then_plan_is_clean();
    char *backup = rbt_fmt("%s.backup", t.state);
    char *kept = rbt_slurp(backup);
    cr_assert_not_null(kept);
    cr_assert_not_null(strstr(kept, "web-2-v2"), "the backup is not the replaced state");
    free(kept);
    free(backup);
    free(after);
    free(before);
    free(err);
    cJSON_Delete(rec);
    cJSON_Delete(info);
    free(info_text);
    free(lock_info_path);
}

static int advisory_lock_held(void)
{
    PGresult *r = ipg_run(
        pg.admin, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted", 0, NULL);
    int n = atoi(PQgetvalue(r, 0, 0));
    PQclear(r);
    return n > 0;
}

static int advisory_lock_free(void)
{
    return !advisory_lock_held();
}

Test(infra_terraform, pg_state_made_by_terraform_rolled_back_under_its_advisory_lock)
{
    find_tool();
    ipg_open(&pg);
    ift_open(&t);
    /* terraform init lays the schema out itself here. */
    char *backend =
        rbt_fmt("terraform {\n  backend \"pg\" {\n    conn_str = "
                "\"postgres://%s@localhost/%s?host=%s&port=%s&sslmode=disable\"\n  }\n}\n",
                getenv("RBT_PG_USER"), pg.dbname, getenv("RBT_PG_HOST"), getenv("RBT_PG_PORT"));
    write_module(backend);
    free(backend);
    char *cs = ipg_conn_str(&pg);
    char *config = rbt_fmt("{\"backend\":\"pg\",\"conn_str\":\"%s\"}", cs);
    snapshot_then_change(config);
    free(config);
    free(cs);

    hold_lock_with_console(5);
    cr_assert(wait_for(advisory_lock_held, 20), "the console never took the lock");
    char *before = ipg_get_state(&pg, "terraform_remote_state", "default", NULL);
    int code;
    char *err = NULL;
    cJSON *rec = ift_rbhost_json(t.store, &code, &err,
                                 "execute-rollback --id v1 --yes --no-safety-snapshot");
    cr_assert_eq(code, 5, "execute-rollback exited %d: %s", code, err);
    const char *msg = ift_error(rec);
    cr_assert_not_null(strstr(msg, "is locked: advisory lock"), "error: %s", msg);
    char *after = ipg_get_state(&pg, "terraform_remote_state", "default", NULL);
    cr_assert_str_eq(after, before, "a refused rollback changed the row");
    cr_assert(wait_for(advisory_lock_free, 30), "the console never let go of the lock");

    rollback_then_plan_is_clean();
    free(after);
    free(before);
    free(err);
    cJSON_Delete(rec);
}
