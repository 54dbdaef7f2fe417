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

static void print_plan_changes(const cJSON *plan)
{
    const char *summary = s(plan, "summary");
    if (*summary)
        printf("    %s\n", summary);
    const cJSON *changes = cJSON_GetObjectItemCaseSensitive(plan, "changes");
    int shown = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, changes)
    {
        if (shown++ == 20) {
            printf("    ... %d more\n", cJSON_GetArraySize(changes) - 20);
            break;
        }
        printf("    %-8s %s\n", s(c, "action"), s(c, "item"));
    }
}

static void print_rollback(const cJSON *r)
{
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "dry_run"))) {
        printf("dry run: rolling back to %s would change:\n", s(r, "snapshot_id"));
        const cJSON *t;
        cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(r, "targets"))
        {
            printf("  %s (%s)\n", s(t, "name"), s(t, "type"));
            if (*s(t, "error"))
                printf("    error: %s\n", s(t, "error"));
            print_plan_changes(cJSON_GetObjectItemCaseSensitive(t, "plan"));
        }
        const cJSON *tests = cJSON_GetObjectItemCaseSensitive(r, "validation");
        if (cJSON_GetArraySize(tests) > 0) {
            printf("  then these tests would run:\n");
            cJSON_ArrayForEach(t, tests) printf("    %s\n", s(t, "type"));
        }
        printf("nothing was changed\n");
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
        printf("  %-22s %-16s %s%s%s\n", s(d, "action"), s(d, "target"), s(res, "status"),
               *s(res, "error") ? ": " : "", s(res, "error"));
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
    if (cJSON_IsNumber(p) && cJSON_IsNumber(tt))
        printf("  verification: %d of %d passed\n", p->valueint, tt->valueint);
    if (*s(v, "note"))
        printf("  (%s)\n", s(v, "note"));
    if (*s(r, "warning"))
        printf("  warning: %s\n", s(r, "warning"));
}

static int confirm(const char *id)
{
    fprintf(stderr, "Roll back to snapshot %s? This changes the live system. [y/N] ", id);
    char line[16];
    if (!fgets(line, sizeof line, stdin))
        return 0;
    return line[0] == 'y' || line[0] == 'Y';
}

int rb_cmd_execute_rollback(rb_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {{"id", required_argument, 0, 'i'},
                                         {"dry-run", no_argument, 0, 'n'},
                                         {"validation", required_argument, 0, 'V'},
                                         {"no-safety-snapshot", no_argument, 0, 'S'},
                                         {"yes", no_argument, 0, 'y'},
                                         {"force", no_argument, 0, 'f'},
                                         {"to", required_argument, 0, 't'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *id = NULL, *validation = NULL;
    rb_rollback_options o = {0};
    int yes = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "hy", opts, NULL)) != -1) {
        switch (c) {
        case 'i':
            id = optarg;
            break;
        case 'n':
            o.flags |= RB_ROLLBACK_DRY_RUN;
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
        case 'h':
            return rb_cli_usage(rb_cli_find("execute-rollback"), 0);
        default:
            return rb_cli_usage(rb_cli_find("execute-rollback"), 1);
        }
    }
    if (optind < argc || !id) {
        fprintf(stderr, "rbhost: execute-rollback needs --id\n");
        return rb_cli_usage(rb_cli_find("execute-rollback"), 1);
    }
    cJSON *vdoc = NULL, *response = NULL;
    int rc = validation ? rb_cli_json_arg(validation, "--validation", &vdoc) : 0;
    o.validation = vdoc;
    /* A person at a terminal confirms; scripts (no terminal) and --yes do not. */
    if (rc == 0 && !yes && !(o.flags & RB_ROLLBACK_DRY_RUN) && isatty(0) && !cli->json &&
        !confirm(id)) {
        cJSON_Delete(vdoc);
        fprintf(stderr, "rbhost: rollback cancelled, nothing was changed\n");
        return RB_EXIT_INTERRUPTED;
    }
    rb_ctx *ctx = rc ? NULL : rb_cli_ctx(cli);
    if (rc == 0)
        rc = ctx ? rb_rollback_execute(ctx, id, &o, &response) : rb_error_last()->code;
    cJSON_Delete(vdoc);
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
    static const struct option opts[] = {
        {"id", required_argument, 0, 'i'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    const char *id = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'i')
            id = optarg;
        else if (c == 'h')
            return rb_cli_usage(rb_cli_find("verify"), 0);
        else
            return rb_cli_usage(rb_cli_find("verify"), 1);
    }
    if (optind < argc || !id) {
        fprintf(stderr, "rbhost: verify needs --id\n");
        return rb_cli_usage(rb_cli_find("verify"), 1);
    }
    cJSON *response = NULL;
    rb_ctx *ctx = rb_cli_ctx(cli);
    int rc = ctx ? rb_snapshot_verify(ctx, id, &response) : rb_error_last()->code;
    return rb_cli_finish(cli, rc, response, print_verify);
}
