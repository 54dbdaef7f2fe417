/* list-snapshots, history, status, plugins */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "commands.h"

static const char *s(const cJSON *o, const char *k)
{
    const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
    return v ? v : "";
}

static double n(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static void when(char *buf, size_t len, double t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (t <= 0 || !localtime_r(&tt, &tm) || !strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm))
        snprintf(buf, len, "-");
}

int rb_cli_no_options(int argc, char **argv, const char *name)
{
    static const struct option opts[] = {{"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1)
        return rb_cli_usage(rb_cli_find(name), c != 'h');
    if (optind < argc) {
        fprintf(stderr, "rbhost: %s: unexpected argument '%s'\n", name, argv[optind]);
        return rb_cli_usage(rb_cli_find(name), 1);
    }
    return -1;
}

static void print_list(const cJSON *r)
{
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(r, "snapshots");
    if (cJSON_GetArraySize(list) == 0) {
        printf("no snapshots\n");
        return;
    }
    printf("%-40s %-14s %-19s %-8s %s\n", "ID", "TYPE", "CREATED", "STATUS", "SIZE");
    const cJSON *e;
    cJSON_ArrayForEach(e, list)
    {
        char t[32];
        when(t, sizeof t, n(e, "created_at"));
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(e, "store");
        printf("%-40s %-14s %-19s %-8s %.0f\n", s(e, "id"), s(e, "type"), t, s(e, "status"),
               n(st, "original_bytes"));
    }
}

int rb_cmd_list_snapshots(rb_cli *cli, int argc, char **argv)
{
    int rc = rb_cli_no_options(argc, argv, "list-snapshots");
    if (rc >= 0)
        return rc;
    cJSON *response = NULL;
    rb_ctx *ctx = rb_cli_ctx(cli);
    rc = ctx ? rb_snapshot_list(ctx, &response) : rb_error_last()->code;
    return rb_cli_finish(cli, rc, response, print_list);
}

static void print_history(const cJSON *r)
{
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(r, "history");
    if (cJSON_GetArraySize(list) == 0) {
        printf("no rollbacks\n");
        return;
    }
    printf("%-32s %-32s %-19s %-10s %s\n", "ROLLBACK", "SNAPSHOT", "STARTED", "STATUS", "DURATION");
    const cJSON *e;
    cJSON_ArrayForEach(e, list)
    {
        char t[32];
        when(t, sizeof t, n(e, "started_at"));
        printf("%-32s %-32s %-19s %-10s %.2fs\n", s(e, "rollback_id"), s(e, "snapshot_id"), t,
               s(e, "status"), n(e, "duration"));
    }
}

int rb_cmd_history(rb_cli *cli, int argc, char **argv)
{
    int rc = rb_cli_no_options(argc, argv, "history");
    if (rc >= 0)
        return rc;
    cJSON *response = NULL;
    rb_ctx *ctx = rb_cli_ctx(cli);
    rc = ctx ? rb_history_list(ctx, &response) : rb_error_last()->code;
    return rb_cli_finish(cli, rc, response, print_history);
}

static void print_backend(const cJSON *p, int keys)
{
    if (!strcmp(s(p, "status"), "ok")) {
        printf("  %-16s %-8s %s\n", s(p, "name"), s(p, "version"), s(p, "description"));
        printf("  %-16s %s\n", "", s(p, "path"));
    } else {
        const cJSON *err = cJSON_GetObjectItemCaseSensitive(p, "error");
        printf("  %-16s FAILED   %s\n", *s(p, "name") ? s(p, "name") : "?", s(p, "path"));
        printf("  %-16s %s error: %s\n", "", s(err, "class"), s(err, "message"));
    }
    if (!keys)
        return;
    const cJSON *k;
    cJSON_ArrayForEach(k, cJSON_GetObjectItemCaseSensitive(p, "config_keys"))
    {
        const cJSON *def = cJSON_GetObjectItemCaseSensitive(k, "default");
        char *dt = def ? cJSON_PrintUnformatted(def) : NULL;
        printf("      %-20s %-12s %s%s%s%s%s\n", s(k, "name"), s(k, "type"),
               cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(k, "required")) ? "(required) " : "",
               s(k, "description"), dt ? " [default " : "", dt ? dt : "", dt ? "]" : "");
        cJSON_free(dt);
    }
}

static void print_plugins_impl(const cJSON *r, int keys)
{
    printf("search path:\n");
    const cJSON *d;
    cJSON_ArrayForEach(d, cJSON_GetObjectItemCaseSensitive(r, "search_path"))
        printf("  %s\n", d->valuestring);
    printf("backends:\n");
    cJSON_ArrayForEach(d, cJSON_GetObjectItemCaseSensitive(r, "plugins")) print_backend(d, keys);
}

static void print_plugins(const cJSON *r)
{
    print_plugins_impl(r, 0);
}

static void print_plugins_keys(const cJSON *r)
{
    print_plugins_impl(r, 1);
}

int rb_cmd_plugins(rb_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {{"load", no_argument, 0, 'l'},
                                         {"keys", no_argument, 0, 'k'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    int load = 0, keys = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'l')
            load = 1;
        else if (c == 'k')
            keys = 1;
        else
            return rb_cli_usage(rb_cli_find("plugins"), c != 'h');
    }
    if (optind < argc)
        return rb_cli_usage(rb_cli_find("plugins"), 1);
    cJSON *response = NULL;
    rb_ctx *ctx = rb_cli_ctx(cli);
    int rc = ctx ? rb_plugins_list(ctx, load, &response) : rb_error_last()->code;
    return rb_cli_finish(cli, rc, response, keys ? print_plugins_keys : print_plugins);
}

static void print_status(const cJSON *r)
{
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(r, "store");
    printf("rbhost %s (plugin ABI %s)\n", s(r, "version"), s(r, "abi"));
    printf("store: %s%s\n", s(st, "location"),
           cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(st, "exists")) ? ""
                                                                        : " (not created yet)");
    printf("  %.0f snapshots, %.0f rollbacks, %.0f blobs, %.0f bytes stored for %.0f bytes of "
           "content\n",
           n(st, "snapshots"), n(st, "rollbacks"), n(st, "blobs"), n(st, "stored_bytes"),
           n(st, "original_bytes"));
    const cJSON *p;
    cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(r, "pending_rollbacks"))
        printf("PENDING: rollback %s to snapshot %s was interrupted (%s); "
               "`rbhost execute-rollback --resume` finishes it, `--resume --revert` undoes it\n",
               s(p, "rollback_id"), s(p, "snapshot_id"), s(p, "phase"));
    printf("backends:\n");
    const cJSON *b;
    cJSON_ArrayForEach(b, cJSON_GetObjectItemCaseSensitive(r, "backends")) print_backend(b, 0);
}

int rb_cmd_status(rb_cli *cli, int argc, char **argv)
{
    int rc = rb_cli_no_options(argc, argv, "status");
    if (rc >= 0)
        return rc;
    cJSON *response = NULL;
    rb_ctx *ctx = rb_cli_ctx(cli);
    rc = ctx ? rb_status_get(ctx, &response) : rb_error_last()->code;
    return rb_cli_finish(cli, rc, response, print_status);
}
