/* copy */
#include <getopt.h>
#include <stdio.h>

#include "cli.h"
#include "commands.h"

static void print_copy(const cJSON *r)
{
    const cJSON *copied = cJSON_GetObjectItemCaseSensitive(r, "copied_blobs");
    const cJSON *reused = cJSON_GetObjectItemCaseSensitive(r, "reused_blobs");
    const cJSON *bytes = cJSON_GetObjectItemCaseSensitive(r, "copied_bytes");
    printf("copied snapshot %s from %s to %s: %.0f blob(s) sent (%.0f bytes stored), %.0f "
           "already there\n",
           cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "snapshot_id")),
           cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "from")),
           cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "to")),
           cJSON_GetNumberValue(copied), cJSON_GetNumberValue(bytes), cJSON_GetNumberValue(reused));
}

int rb_cmd_copy(rb_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {{"from", required_argument, 0, 'f'},
                                         {"to", required_argument, 0, 't'},
                                         {"id", required_argument, 0, 'i'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *from = NULL, *to = NULL, *id = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'f')
            from = optarg;
        else if (c == 't')
            to = optarg;
        else if (c == 'i')
            id = optarg;
        else
            return rb_cli_usage(rb_cli_find("copy"), c != 'h');
    }
    if (optind < argc || !from || !to || !id) {
        fprintf(stderr, "rbhost: copy needs --from STORE, --to STORE and --id ID\n");
        return rb_cli_usage(rb_cli_find("copy"), 1);
    }
    cJSON *response = NULL;
    rb_ctx *ctx = rb_cli_ctx(cli);
    int rc = ctx ? rb_snapshot_copy(ctx, from, to, id, &response) : rb_error_last()->code;
    return rb_cli_finish(cli, rc, response, print_copy);
}
