/* execute-rollback and verify */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"

static const char *s(const cJSON *o, const char *k)
{
    const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
    return v ? v : "";
}

static void print_plan_changes(FILE *out, const cJSON *plan, int limit)
{
    const cJSON *changes = cJSON_GetObjectItemCaseSensitive(plan, "changes");
    int shown = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, changes)
    {
        if (shown++ == limit) {
            fprintf(out, "        ... %d more\n", cJSON_GetArraySize(changes) - limit);
            break;
        }
        fprintf(out, "        %-8s %s\n", s(c, "action"), s(c, "item"));
    }
}

static const char *test_label(const cJSON *t, char *buf, size_t len)
{
    const char *what = *s(t, "path")              ? s(t, "path")
                       : *s(t, "expected_commit") ? s(t, "expected_commit")
                       : *s(t, "url")             ? s(t, "url")
                                                  : s(t, "run");
    snprintf(buf, len, "%s%s%s", s(t, "type"), *what ? " " : "", what);
    return buf;
}

/* The plan as a table: one line per step, in the order they would run,
 * then what each would change and the tests that follow. */
static void print_plan_table(FILE *out, const cJSON *r, int limit)
{
    const cJSON *safety = cJSON_GetObjectItemCaseSensitive(r, "safety_snapshot");
    fprintf(out, "rollback plan for snapshot %s (safety snapshot first: %s; on failure: %s)\n",
            s(r, "snapshot_id"), cJSON_IsTrue(safety) ? "yes" : "no",
            *s(r, "on_failure") ? s(r, "on_failure") : "revert");
    fprintf(out, "  %-4s %-20s %-16s %-8s %-8s %s\n", "STEP", "TARGET", "TYPE", "TIMEOUT",
            "ATTEMPTS", "WOULD CHANGE");
    const cJSON *t;
    cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(r, "targets"))
    {
        const cJSON *plan = cJSON_GetObjectItemCaseSensitive(t, "plan");
        const cJSON *timeout = cJSON_GetObjectItemCaseSensitive(t, "timeout");
        const cJSON *attempts = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(t, "retry"), "max_attempts");
        char tbuf[32] = "-";
        if (cJSON_IsNumber(timeout))
            snprintf(tbuf, sizeof tbuf, "%gs", timeout->valuedouble);
        const cJSON *changes = cJSON_GetObjectItemCaseSensitive(plan, "changes");
        char what[256];
        if (*s(t, "error"))
            snprintf(what, sizeof what, "ERROR: %s", s(t, "error"));
        else if (*s(plan, "summary"))
            snprintf(what, sizeof what, "%s", s(plan, "summary"));
        else
            snprintf(what, sizeof what, "%d change(s)", cJSON_GetArraySize(changes));
        fprintf(out, "  %-4d %-20s %-16s %-8s %-8d %s\n",
                cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(t, "step")) > 0
                    ? (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(t, "step"))
                    : 0,
                s(t, "name"), s(t, "type"), tbuf, cJSON_IsNumber(attempts) ? attempts->valueint : 1,
                what);
        print_plan_changes(out, plan, limit);
    }
    const cJSON *tests = cJSON_GetObjectItemCaseSensitive(r, "validation");
    if (cJSON_GetArraySize(tests) > 0) {
        fprintf(out, "  then each target is verified and these tests run:\n");
        char buf[512];
        cJSON_ArrayForEach(t, tests) fprintf(out, "    %s\n", test_label(t, buf, sizeof buf));
    } else {
        fprintf(out, "  then each target is verified against the snapshot\n");
    }
}

static void print_rollback(const cJSON *r)
{
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "dry_run"))) {
        print_plan_table(stdout, r, 20);
        printf("dry run: nothing was changed\n");
        return;
    }
    printf("rollback %s of snapshot %s: %s\n", s(r, "rollback_id"), s(r, "snapshot_id"),
           s(r, "status"));
    if (*s(r, "safety_snapshot_id"))
        printf("  safety snapshot: %s (roll back to it to undo this rollback)\n",
               s(r, "safety_snapshot_id"));
    const cJSON *d;
    cJSON_ArrayForEach(d, cJSON_GetObjectItemCaseSensitive(r, "technical_details"))
    {
        const cJSON *res = cJSON_GetObjectItemCaseSensitive(d, "result");
        const cJSON *attempts = cJSON_GetObjectItemCaseSensitive(d, "attempt_count");
        char tries[32] = "";
        if (cJSON_IsNumber(attempts) && attempts->valueint > 1)
            snprintf(tries, sizeof tries, " (%d attempts)", attempts->valueint);
        printf("  %-22s %-16s %s%s%s%s\n", s(d, "action"), s(d, "target"), s(res, "status"), tries,
               *s(res, "error") ? ": " : "", s(res, "error"));
    }
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(r, "reverted");
    if (cJSON_GetArraySize(list) > 0) {
        printf("  put back as before the rollback:");
        const cJSON *n;
        cJSON_ArrayForEach(n, list) printf(" %s", n->valuestring);
        putchar('\n');
    }
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(r, "verification_results");
    const cJSON *res;
    cJSON_ArrayForEach(res, cJSON_GetObjectItemCaseSensitive(v, "results"))
    {
        printf("  check %-16s %-16s %s\n", s(res, "test"), s(res, "target"),
               cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(res, "passed")) ? "passed" : "FAILED");
    }
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(v, "passed");
    const cJSON *tt = cJSON_GetObjectItemCaseSensitive(v, "total");
    if (cJSON_IsNumber(p) && cJSON_IsNumber(tt) && tt->valueint > 0)
        printf("  verification: %d of %d passed\n", p->valueint, tt->valueint);
    if (*s(v, "note"))
        printf("  (%s)\n", s(v, "note"));
    if (*s(r, "warning"))
        printf("  warning: %s\n", s(r, "warning"));
}

/* Shows the plan on the terminal and asks. */
static int confirm(const cJSON *plan, void *arg)
{
    (void)arg;
    print_plan_table(stderr, plan, 5);
    fprintf(stderr, "Roll back to snapshot %s? This changes the live system. [y/N] ",
            s(plan, "snapshot_id"));
    fflush(stderr);
    char line[16];
    if (!fgets(line, sizeof line, stdin))
        return 0;
    return line[0] == 'y' || line[0] == 'Y';
}

int rb_cmd_execute_rollback(rb_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {{"id", required_argument, 0, 'i'},
                                         {"dry-run", no_argument, 0, 'n'},
                                         {"execute", no_argument, 0, 'x'},
                                         {"no-dry-run", no_argument, 0, 'x'},
                                         {"validation", required_argument, 0, 'V'},
                                         {"no-safety-snapshot", no_argument, 0, 'S'},
                                         {"yes", no_argument, 0, 'y'},
                                         {"force", no_argument, 0, 'f'},
                                         {"to", required_argument, 0, 't'},
                                         {"on-failure", required_argument, 0, 'o'},
                                         {"resume", no_argument, 0, 'r'},
                                         {"revert", no_argument, 0, 'R'},
                                         {"hooks", required_argument, 0, 'H'},
                                         {"notify", required_argument, 0, 'N'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *id = NULL, *validation = NULL, *hooks = NULL, *notify = NULL;
    rb_rollback_options o = {0};
    int yes = 0, execute = 0, dry = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "hy", opts, NULL)) != -1) {
        switch (c) {
        case 'i':
            id = optarg;
            break;
        case 'n':
            dry = 1;
            break;
        case 'x':
            execute = 1;
            break;
        case 'V':
            validation = optarg;
            break;
        case 'S':
            o.flags |= RB_ROLLBACK_NO_SAFETY;
            break;
        case 'y':
            yes = 1;
            break;
        case 'f':
            o.flags |= RB_ROLLBACK_FORCE;
            break;
        case 't':
            o.restore_to = optarg;
            break;
        case 'o':
            if (!strcmp(optarg, "revert"))
                o.on_failure = RB_ROLLBACK_ON_FAILURE_REVERT;
            else if (!strcmp(optarg, "continue"))
                o.on_failure = RB_ROLLBACK_ON_FAILURE_CONTINUE;
            else {
                fprintf(stderr, "rbhost: --on-failure takes revert or continue, not '%s'\n",
                        optarg);
                return rb_cli_usage(rb_cli_find("execute-rollback"), 1);
            }
            break;
        case 'r':
            o.flags |= RB_ROLLBACK_RESUME;
            break;
        case 'R':
            o.flags |= RB_ROLLBACK_REVERT;
            break;
        case 'H':
            hooks = optarg;
            break;
        case 'N':
            notify = optarg;
            break;
        case 'h':
            return rb_cli_usage(rb_cli_find("execute-rollback"), 0);
        default:
            return rb_cli_usage(rb_cli_find("execute-rollback"), 1);
        }
    }
    int resume = (o.flags & RB_ROLLBACK_RESUME) != 0;
    const char *problem = NULL;
    if (optind < argc)
        problem = "unexpected argument";
    else if (!id && !resume)
        problem = "execute-rollback needs --id (or --resume)";
    else if (dry && execute)
        problem = "--dry-run and --execute contradict each other";
    else if ((o.flags & RB_ROLLBACK_REVERT) && !resume)
        problem = "--revert goes with --resume";
    else if (resume && (dry || validation || hooks || notify || o.restore_to || o.on_failure ||
                        (o.flags & (RB_ROLLBACK_NO_SAFETY | RB_ROLLBACK_FORCE))))
        problem = "--resume continues the rollback as it was started: it takes only --id, "
                  "--revert and --yes";
    if (problem) {
        fprintf(stderr, "rbhost: %s\n", problem);
        return rb_cli_usage(rb_cli_find("execute-rollback"), 1);
    }
    /* rbhost.conf's dry_run_default makes a plan the default; --execute
     * (or --no-dry-run) acts. Resuming always acts: it finishes what was
     * started. */
    if (dry || (cli->dry_run_default && !execute && !resume))
        o.flags |= RB_ROLLBACK_DRY_RUN;
    cJSON *vdoc = NULL, *response = NULL;
    int rc = validation ? rb_cli_json_arg(validation, "--validation", &vdoc) : 0;
    o.validation = vdoc;
    cJSON *hdoc = NULL, *ndoc = NULL;
    if (rc == 0 && hooks)
        rc = rb_cli_json_arg(hooks, "--hooks", &hdoc);
    if (rc == 0 && notify)
        rc = rb_cli_json_arg(notify, "--notify", &ndoc);
    o.hooks = hdoc;
    o.notify = ndoc;
    /* A person at a terminal sees the plan and confirms; scripts (no
     * terminal), --yes and confirmation_required = false do not. */
    if (!yes && cli->confirmation_required && !(o.flags & RB_ROLLBACK_DRY_RUN) && !resume &&
        isatty(0) && !cli->json)
        o.confirm = confirm;
    rb_ctx *ctx = rc ? NULL : rb_cli_ctx(cli);
    if (rc == 0)
        rc = ctx ? rb_rollback_execute(ctx, id, &o, &response) : rb_error_last()->code;
    cJSON_Delete(vdoc);
    cJSON_Delete(hdoc);
    cJSON_Delete(ndoc);
    if (o.confirm && rc == RB_ECANCELED && !response) {
        fprintf(stderr, "rbhost: rollback cancelled, nothing was changed\n");
        return RB_EXIT_INTERRUPTED;
    }
    if (response &&
        cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(response, "step_still_running"))) {
        /* A backend still runs on a thread: freeing the context would pull
         * its code and data from under it. The journal keeps the rollback
         * pending for --resume. */
        int code = rb_cli_finish(cli, rc, response, print_rollback);
        fflush(NULL);
        _exit(code);
    }
    return rb_cli_finish(cli, rc, response, print_rollback);
}

static void print_verify(const cJSON *r)
{
    printf("snapshot %s: %s\n", s(r, "snapshot_id"), s(r, "status"));
    const cJSON *t;
    cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(r, "targets"))
    {
        printf("  %s (%s): %s\n", s(t, "name"), s(t, "type"), s(t, "status"));
        if (*s(t, "error"))
            printf("    error: %s\n", s(t, "error"));
        const cJSON *result = cJSON_GetObjectItemCaseSensitive(t, "result");
        const cJSON *d;
        int shown = 0;
        cJSON_ArrayForEach(d, cJSON_GetObjectItemCaseSensitive(result, "differences"))
        {
            if (shown++ == 50)
                break;
            if (cJSON_IsString(d))
                printf("    %s\n", d->valuestring);
            else {
                char *text = cJSON_PrintUnformatted(d);
                printf("    %s\n", text ? text : "");
                cJSON_free(text);
            }
        }
    }
}

int rb_cmd_verify(rb_cli *cli, int argc, char **argv)
{
    return rb_cli_run_with_id(cli, argc, argv, "verify", rb_snapshot_verify, print_verify);
}
