/* create-snapshot, delete-snapshot, show-snapshot */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"

static void print_created(const cJSON *r)
{
    const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "snapshot_id"));
    const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "type"));
    printf("snapshot %s created (%s)\n", id ? id : "?", type ? type : "?");
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(r, "store");
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(st, "blobs");
    const cJSON *sb = cJSON_GetObjectItemCaseSensitive(st, "stored_bytes");
    const cJSON *ob = cJSON_GetObjectItemCaseSensitive(st, "original_bytes");
    if (cJSON_IsNumber(n))
        printf("  %.0f blobs, %.0f bytes of content, %.0f bytes newly stored\n", n->valuedouble,
               cJSON_IsNumber(ob) ? ob->valuedouble : 0, cJSON_IsNumber(sb) ? sb->valuedouble : 0);
}

int rb_cmd_create_snapshot(rb_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {{"id", required_argument, 0, 'i'},
                                         {"type", required_argument, 0, 't'},
                                         {"config", required_argument, 0, 'c'},
                                         {"spec", required_argument, 0, 's'},
                                         {"jobs", required_argument, 0, 'j'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *id = NULL, *type = NULL, *config = NULL, *spec = NULL;
    int c, jobs = 0;
    char *end;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'i':
            id = optarg;
            break;
        case 't':
            type = optarg;
            break;
        case 'c':
            config = optarg;
            break;
        case 's':
            spec = optarg;
            break;
        case 'j':
            jobs = (int)strtol(optarg, &end, 10);
            if (*end || jobs < 1 || jobs > 1024) {
                fprintf(stderr, "rbhost: --jobs takes a number from 1 to 1024, not '%s'\n", optarg);
                return rb_cli_usage(rb_cli_find("create-snapshot"), 1);
            }
            break;
        case 'h':
            return rb_cli_usage(rb_cli_find("create-snapshot"), 0);
        default:
            return rb_cli_usage(rb_cli_find("create-snapshot"), 1);
        }
    }
    if (optind < argc || !id || (spec && (type || config)) || (!spec && (!type || !config)) ||
        (jobs && !spec)) {
        fprintf(stderr, "rbhost: create-snapshot needs --id and either --type with --config, or "
                        "--spec\n");
        return rb_cli_usage(rb_cli_find("create-snapshot"), 1);
    }
    cJSON *doc = NULL, *response = NULL;
    /* --spec takes a file name as it is (DESIGN's "--spec FILE"), as well
     * as @FILE and inline JSON. */
    char spec_arg[4096];
    if (spec && spec[0] != '@' && spec[0] != '{') {
        snprintf(spec_arg, sizeof spec_arg, "@%s", spec);
        spec = spec_arg;
    }
    int rc = rb_cli_json_arg(spec ? spec : config, spec ? "--spec" : "--config", &doc);
    rb_ctx *ctx = rc ? NULL : rb_cli_ctx(cli);
    if (rc == 0 && !ctx)
        rc = rb_error_last()->code;
    if (rc == 0)
        rc = spec ? rb_snapshot_create_set_jobs(ctx, id, doc, jobs, &response)
                  : rb_snapshot_create(ctx, id, type, doc, &response);
    cJSON_Delete(doc);
    if (rc && cli->json && !response)
        response = rb_error_response();
    return rb_cli_finish(cli, rc, response, print_created);
}

static void print_deleted(const cJSON *r)
{
    printf("snapshot %s deleted",
           cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "snapshot_id")));
    const cJSON *fb = cJSON_GetObjectItemCaseSensitive(r, "freed_bytes");
    if (cJSON_IsNumber(fb))
        printf(" (%.0f bytes freed)", fb->valuedouble);
    putchar('\n');
}

/* Options: --id ID [--force]; shared by delete-snapshot and show-snapshot.
 * Returns -1 to go on, or the exit code. */
static int id_command(int argc, char **argv, const char *name, int *force, const char **id)
{
    static const struct option opts[] = {{"id", required_argument, 0, 'i'},
                                         {"force", no_argument, 0, 'f'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    int c;
    optind = 1;
    *id = NULL;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'i')
            *id = optarg;
        else if (c == 'f' && force)
            *force = 1;
        else if (c == 'h')
            return rb_cli_usage(rb_cli_find(name), 0);
        else
            return rb_cli_usage(rb_cli_find(name), 1);
    }
    if (optind < argc || !*id) {
        fprintf(stderr, "rbhost: %s needs --id\n", name);
        return rb_cli_usage(rb_cli_find(name), 1);
    }
    return -1;
}

int rb_cmd_delete_snapshot(rb_cli *cli, int argc, char **argv)
{
    int force = 0;
    const char *id;
    int rc = id_command(argc, argv, "delete-snapshot", &force, &id);
    if (rc >= 0)
        return rc;
    cJSON *response = NULL;
    rb_ctx *ctx = rb_cli_ctx(cli);
    rc = ctx ? rb_snapshot_delete(ctx, id, force, &response) : rb_error_last()->code;
    return rb_cli_finish(cli, rc, response, print_deleted);
}

static void print_doc(const cJSON *r)
{
    char *text = cJSON_Print(r);
    if (text)
        puts(text);
    cJSON_free(text);
}

int rb_cmd_show_snapshot(rb_cli *cli, int argc, char **argv)
{
    const char *id;
    int rc = id_command(argc, argv, "show-snapshot", NULL, &id);
    if (rc >= 0)
        return rc;
    cJSON *response = NULL;
    rb_ctx *ctx = rb_cli_ctx(cli);
    rc = ctx ? rb_snapshot_show(ctx, id, &response) : rb_error_last()->code;
    return rb_cli_finish(cli, rc, response, print_doc);
}
