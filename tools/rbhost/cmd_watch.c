/* watch: roll back by itself when the service stays unhealthy. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"

static void print_watch(const cJSON *r)
{
    const char *status = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "status"));
    const cJSON *rounds = cJSON_GetObjectItemCaseSensitive(r, "rounds");
    printf("watch of snapshot %s: %s after %d rounds\n",
           cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "snapshot_id")),
           status ? status : "?", cJSON_IsNumber(rounds) ? rounds->valueint : 0);
    const cJSON *inc = cJSON_GetObjectItemCaseSensitive(r, "incident");
    if (inc)
        printf("  incident: %s\n",
               cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(inc, "reason")));
    const cJSON *rec = cJSON_GetObjectItemCaseSensitive(r, "rollback");
    if (rec)
        printf("  rollback %s: %s\n",
               cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rec, "rollback_id")),
               cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rec, "status")));
}

/* A positive number, or -1 with the option named on stderr. */
static double positive(const char *arg, const char *name, int whole)
{
    char *end = NULL;
    double v = strtod(arg, &end);
    if (!end || *end || end == arg || v <= 0 || (whole && v != (double)(long)v)) {
        fprintf(stderr, "rbhost: watch: %s needs a positive %s, not '%s'\n", name,
                whole ? "whole number" : "number of seconds", arg);
        return -1;
    }
    return v;
}

int rb_cmd_watch(rb_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {{"id", required_argument, 0, 'i'},
                                         {"check", required_argument, 0, 'c'},
                                         {"interval", required_argument, 0, 'I'},
                                         {"failures", required_argument, 0, 'F'},
                                         {"window", required_argument, 0, 'W'},
                                         {"max-rollback-attempts", required_argument, 0, 'M'},
                                         {"hooks", required_argument, 0, 'H'},
                                         {"notify", required_argument, 0, 'N'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const rb_command *self = rb_cli_find("watch");
    const char *id = NULL, *check = NULL, *hooks = NULL, *notify = NULL;
    rb_watch_options o = {0};
    double v = 0;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'i':
            id = optarg;
            break;
        case 'c':
            check = optarg;
            break;
        case 'H':
            hooks = optarg;
            break;
        case 'N':
            notify = optarg;
            break;
        case 'I':
        case 'W':
            if ((v = positive(optarg, c == 'I' ? "--interval" : "--window", 0)) < 0)
                return rb_cli_usage(self, 1);
            *(c == 'I' ? &o.interval : &o.window) = v;
            break;
        case 'F':
        case 'M':
            if ((v = positive(optarg, c == 'F' ? "--failures" : "--max-rollback-attempts", 1)) < 0)
                return rb_cli_usage(self, 1);
            *(c == 'F' ? &o.failures : &o.max_rollback_attempts) = (int)v;
            break;
        case 'h':
            return rb_cli_usage(self, 0);
        default:
            return rb_cli_usage(self, 1);
        }
    }
    if (optind < argc || !id || !check) {
        fprintf(stderr, "rbhost: watch needs --id and --check\n");
        return rb_cli_usage(self, 1);
    }
    cJSON *cdoc = NULL, *hdoc = NULL, *ndoc = NULL, *response = NULL;
    int rc = rb_cli_json_arg(check, "--check", &cdoc);
    if (rc == 0 && hooks)
        rc = rb_cli_json_arg(hooks, "--hooks", &hdoc);
    if (rc == 0 && notify)
        rc = rb_cli_json_arg(notify, "--notify", &ndoc);
    o.check = cdoc;
    o.hooks = hdoc;
    o.notify = ndoc;
    rb_ctx *ctx = rc ? NULL : rb_cli_ctx(cli);
    if (rc == 0)
        rc = ctx ? rb_watch_run(ctx, id, &o, &response) : rb_error_last()->code;
    cJSON_Delete(cdoc);
    cJSON_Delete(hdoc);
    cJSON_Delete(ndoc);
    return rb_cli_finish(cli, rc, response, print_watch);
}
