/* metrics: Prometheus text on stdout, or a file for node_exporter. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "rb_fs.h"

int rb_cmd_metrics(rb_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"textfile", required_argument, 0, 't'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    const rb_command *self = rb_cli_find("metrics");
    const char *dir = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 't')
            dir = optarg;
        else if (c == 'h')
            return rb_cli_usage(self, 0);
        else
            return rb_cli_usage(self, 1);
    }
    if (optind < argc)
        return rb_cli_usage(self, 1);
    char *text = NULL, *path = NULL;
    rb_ctx *ctx = rb_cli_ctx(cli);
    int rc = ctx ? rb_metrics_render(ctx, &text) : rb_error_last()->code;
    if (rc == 0 && dir) {
        path = rb_fs_join(dir, "rbhost.prom");
        /* node_exporter runs as its own user: the file is world-readable,
         * and it holds no secrets. Written to a temporary name (no .prom
         * suffix, so the collector skips it) and renamed. */
        rc = path ? rb_fs_write_atomic(path, text, strlen(text), 0644)
                  : rb_error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
        if (rc)
            rb_error_prefix("metrics: cannot write the textfile in %s", dir);
    }
    cJSON *response = NULL;
    if (rc == 0 && cli->json) {
        response = cJSON_CreateObject();
        cJSON_AddStringToObject(response, "status", "success");
        if (path)
            cJSON_AddStringToObject(response, "textfile", path);
        cJSON_AddStringToObject(response, "metrics", text);
    } else if (rc == 0 && !dir) {
        fputs(text, stdout);
    }
    free(text);
    free(path);
    return rb_cli_finish(cli, rc, response, NULL);
}
