/* diff: what changed in each target since a snapshot */
#include <getopt.h>
#include <stdio.h>

#include "cli.h"
#include "commands.h"

static const char *s(const cJSON *o, const char *k)
{
    const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
    return v ? v : "";
}

static void print_item(const cJSON *d)
{
    if (cJSON_IsString(d)) {
        printf("    %s\n", d->valuestring);
        return;
    }
    char *text = cJSON_PrintUnformatted(d);
    printf("    %s\n", text ? text : "");
    cJSON_free(text);
}

static void print_diff(const cJSON *r)
{
    printf("snapshot %s: %s\n", s(r, "snapshot_id"), s(r, "status"));
    const cJSON *t;
    cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(r, "targets"))
    {
        printf("  %s (%s): %s\n", s(t, "name"), s(t, "type"), s(t, "status"));
        if (*s(t, "error"))
            printf("    error: %s\n", s(t, "error"));
        int shown = 0;
        const cJSON *d;
        cJSON_ArrayForEach(d, cJSON_GetObjectItemCaseSensitive(t, "differences"))
        {
            if (shown++ == 50) {
                printf("    ...\n");
                break;
            }
            print_item(d);
        }
        const cJSON *plan = cJSON_GetObjectItemCaseSensitive(t, "rollback_would");
        if (*s(plan, "summary"))
            printf("    a rollback would: %s\n", s(plan, "summary"));
    }
}

int rb_cmd_diff(rb_cli *cli, int argc, char **argv)
{
    return rb_cli_run_with_id(cli, argc, argv, "diff", rb_snapshot_diff, print_diff);
}
