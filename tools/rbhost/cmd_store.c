/* check, export, import, process */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "commands.h"

static const char *s(const cJSON *o, const char *k)
{
    const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
    return v ? v : "";
}

static void print_check(const cJSON *r)
{
    const cJSON *problems = cJSON_GetObjectItemCaseSensitive(r, "problems");
    if (cJSON_GetArraySize(problems) == 0) {
        printf("store %s: no problems found\n", s(r, "store"));
        return;
    }
    printf("store %s: %d problem(s)\n", s(r, "store"), cJSON_GetArraySize(problems));
    const cJSON *p;
    cJSON_ArrayForEach(p, problems)
    {
        printf("  %-14s %s", s(p, "kind"), s(p, "object"));
        if (*s(p, "snapshot"))
            printf(" (snapshot %s)", s(p, "snapshot"));
        if (*s(p, "detail"))
            printf(": %s", s(p, "detail"));
        putchar('\n');
    }
}

int rb_cmd_check(rb_cli *cli, int argc, char **argv)
{
    int rc = rb_cli_no_options(argc, argv, "check");
    if (rc >= 0)
        return rc;
    cJSON *response = NULL;
    rb_ctx *ctx = rb_cli_ctx(cli);
    rc = ctx ? rb_store_check_run(ctx, &response) : rb_error_last()->code;
    return rb_cli_finish(cli, rc, response, print_check);
}

static void print_archive(const cJSON *r)
{
    printf("snapshot %s <-> %s\n", s(r, "snapshot_id"), s(r, "archive"));
}

int rb_cmd_export(rb_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {{"id", required_argument, 0, 'i'},
                                         {"output", required_argument, 0, 'o'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *id = NULL, *out = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "ho:", opts, NULL)) != -1) {
        if (c == 'i')
            id = optarg;
        else if (c == 'o')
            out = optarg;
        else
            return rb_cli_usage(rb_cli_find("export"), c != 'h');
    }
    if (optind < argc || !id || !out) {
        fprintf(stderr, "rbhost: export needs --id and -o FILE\n");
        return rb_cli_usage(rb_cli_find("export"), 1);
    }
    cJSON *response = NULL;
    rb_ctx *ctx = rb_cli_ctx(cli);
    int rc = ctx ? rb_snapshot_export(ctx, id, out, &response) : rb_error_last()->code;
    return rb_cli_finish(cli, rc, response, print_archive);
}

int rb_cmd_import(rb_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {{"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1)
        return rb_cli_usage(rb_cli_find("import"), c != 'h');
    if (optind != argc - 1) {
        fprintf(stderr, "rbhost: import needs one archive\n");
        return rb_cli_usage(rb_cli_find("import"), 1);
    }
    cJSON *response = NULL;
    rb_ctx *ctx = rb_cli_ctx(cli);
    int rc = ctx ? rb_snapshot_import(ctx, argv[optind], &response) : rb_error_last()->code;
    return rb_cli_finish(cli, rc, response, print_archive);
}

static void print_json(const cJSON *r)
{
    char *text = cJSON_Print(r);
    if (text)
        puts(text);
    cJSON_free(text);
}

int rb_cmd_process(rb_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {{"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1)
        return rb_cli_usage(rb_cli_find("process"), c != 'h');
    if (argc - optind > 1)
        return rb_cli_usage(rb_cli_find("process"), 1);
    const char *src = optind < argc ? argv[optind] : "-";
    char arg[4096];
    snprintf(arg, sizeof arg, "@%s", src);
    cJSON *req = NULL, *response = NULL;
    int rc = rb_cli_json_arg(arg, "request", &req);
    rb_ctx *ctx = rc ? NULL : rb_cli_ctx(cli);
    if (rc == 0)
        rc = ctx ? rb_process_request(ctx, req, &response) : rb_error_last()->code;
    cJSON_Delete(req);
    /* The protocol always answers with a document, failures included. */
    if (rc && !response)
        response = rb_error_response();
    return rb_cli_finish(cli, rc, response, print_json);
}
