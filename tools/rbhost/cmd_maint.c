/* prune, gc, audit: keeping the store to a policy and showing who changed
 * what. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "commands.h"
#include "rb_audit.h"
#include "rb_prune.h"

static const char *s(const cJSON *o, const char *k)
{
    const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
    return v ? v : "";
}

static double num(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static int count_arg(const char *arg, const char *flag, long *out)
{
    char *end;
    errno = 0;
    long n = strtol(arg, &end, 10);
    if (!*arg || *end || errno || n < 0 || n > 1000000000L) {
        fprintf(stderr, "rbhost: %s needs a whole number of 0 or more, not '%s'\n", flag, arg);
        return -1;
    }
    *out = n;
    return 0;
}

static void print_snapshot_line(const char *what, const cJSON *e)
{
    char when[32] = "?";
    time_t t = (time_t)num(e, "created_at");
    struct tm tm;
    if (localtime_r(&t, &tm))
        strftime(when, sizeof when, "%Y-%m-%d %H:%M", &tm);
    printf("%-13s %s  %-8s %s", what, when, s(e, "kind"), s(e, "id"));
    const cJSON *by = cJSON_GetObjectItemCaseSensitive(e, "kept_by");
    const cJSON *r;
    int first = 1;
    cJSON_ArrayForEach(r, by)
    {
        printf("%s%s", first ? "  (" : ", ", r->valuestring);
        first = 0;
    }
    if (!first)
        putchar(')');
    if (*s(e, "error"))
        printf(": %s", s(e, "error"));
    putchar('\n');
}

static void print_prune(const cJSON *r)
{
    int dry = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "dry_run"));
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(r, "kept"))
        print_snapshot_line("keep", e);
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(r, "removed"))
        print_snapshot_line(dry ? "would remove" : "removed", e);
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(r, "failed"))
        print_snapshot_line("not removed", e);
    printf("%d kept, %d %s", cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r, "kept")),
           cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r, "removed")),
           dry ? "would be removed (dry run)" : "removed");
    if (!dry)
        printf(", %.0f bytes freed (%.0f blobs)", num(r, "freed_bytes"), num(r, "freed_blobs"));
    putchar('\n');
}

int rb_cmd_prune(rb_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {{"keep-last", required_argument, 0, 'l'},
                                         {"keep-daily", required_argument, 0, 'd'},
                                         {"keep-weekly", required_argument, 0, 'w'},
                                         {"keep-monthly", required_argument, 0, 'm'},
                                         {"older-than", required_argument, 0, 'o'},
                                         {"dry-run", no_argument, 0, 'n'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    rb_prune_options o = {.older_than_days = -1};
    int c;
    long v;
    optind = 1;
    while ((c = getopt_long(argc, argv, "hn", opts, NULL)) != -1) {
        const char *flag = NULL;
        switch (c) {
        case 'l':
            flag = "--keep-last";
            break;
        case 'd':
            flag = "--keep-daily";
            break;
        case 'w':
            flag = "--keep-weekly";
            break;
        case 'm':
            flag = "--keep-monthly";
            break;
        case 'o':
            flag = "--older-than";
            break;
        case 'n':
            o.dry_run = 1;
            continue;
        default:
            return rb_cli_usage(rb_cli_find("prune"), c != 'h');
        }
        if (count_arg(optarg, flag, &v) < 0)
            return rb_cli_usage(rb_cli_find("prune"), 1);
        if (c == 'l')
            o.keep_last = (int)v;
        else if (c == 'd')
            o.keep_daily = (int)v;
        else if (c == 'w')
            o.keep_weekly = (int)v;
        else if (c == 'm')
            o.keep_monthly = (int)v;
        else
            o.older_than_days = v;
    }
    if (optind < argc) {
        fprintf(stderr, "rbhost: prune: unexpected argument '%s'\n", argv[optind]);
        return rb_cli_usage(rb_cli_find("prune"), 1);
    }
    cJSON *response = NULL;
    rb_ctx *ctx = rb_cli_ctx(cli);
    int rc = ctx ? rb_prune_run(ctx, &o, &response) : rb_error_last()->code;
    return rb_cli_finish(cli, rc, response, print_prune);
}

static void print_gc(const cJSON *r)
{
    printf("%.0f unused blobs removed, %.0f bytes freed\n", num(r, "freed_blobs"),
           num(r, "freed_bytes"));
}

int rb_cmd_gc(rb_cli *cli, int argc, char **argv)
{
    int rc = rb_cli_no_options(argc, argv, "gc");
    if (rc >= 0)
        return rc;
    cJSON *response = NULL;
    rb_ctx *ctx = rb_cli_ctx(cli);
    rc = ctx ? rb_gc_run(ctx, &response) : rb_error_last()->code;
    return rb_cli_finish(cli, rc, response, print_gc);
}

static void print_audit(const cJSON *r)
{
    const cJSON *entries = cJSON_GetObjectItemCaseSensitive(r, "entries");
    if (cJSON_GetArraySize(entries) == 0) {
        printf("the audit log is empty\n");
        return;
    }
    const cJSON *e;
    cJSON_ArrayForEach(e, entries)
    {
        if (*s(e, "unparsable")) {
            printf("line %.0f: %s\n", num(e, "line"), s(e, "unparsable"));
            continue;
        }
        const cJSON *res = cJSON_GetObjectItemCaseSensitive(e, "result");
        printf("%5.0f %s %s@%s %-7s %3.0f  %s\n", num(e, "seq"), s(e, "time"), s(e, "user"),
               s(e, "host"), s(res, "status"), num(res, "exit_code"), s(e, "command"));
        if (*s(res, "error"))
            printf("      error: %s\n", s(res, "error"));
    }
}

static void print_verify(const cJSON *r)
{
    if (!strcmp(s(r, "status"), "intact"))
        printf("audit log intact: %.0f line(s), head %s\n", num(r, "lines"), s(r, "head"));
}

int rb_cmd_audit(rb_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"last", required_argument, 0, 'l'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    long last = 0;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'l' && count_arg(optarg, "--last", &last) == 0)
            continue;
        return rb_cli_usage(rb_cli_find("audit"), c != 'h');
    }
    int verify = 0;
    if (optind < argc && !strcmp(argv[optind], "verify")) {
        verify = 1;
        optind++;
    }
    if (optind < argc || (verify && last)) {
        fprintf(stderr, "rbhost: audit: unexpected argument '%s'\n",
                optind < argc ? argv[optind] : "--last");
        return rb_cli_usage(rb_cli_find("audit"), 1);
    }
    cJSON *response = NULL;
    rb_ctx *ctx = rb_cli_ctx(cli);
    int rc = !ctx     ? rb_error_last()->code
             : verify ? rb_audit_verify(ctx, &response)
                      : rb_audit_list(ctx, last, &response);
    return rb_cli_finish(cli, rc, response, verify ? print_verify : print_audit);
}
