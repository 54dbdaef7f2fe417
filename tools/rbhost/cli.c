#include "cli.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rb_error.h"

rb_ctx *rb_cli_ctx(rb_cli *cli)
{
    if (cli->ctx)
        return cli->ctx;
    rb_ctx_options o = {
        .store = cli->store,
        .plugin_dirs = cli->plugin_dirs,
        .plugin_dir_count = cli->plugin_dir_count,
        .verbosity = cli->verbosity,
        .progress = cli->verbosity >= 0,
        .command = cli->command_line,
    };
    if (rb_ctx_new(&cli->ctx, &o) < 0)
        return NULL;
    return cli->ctx;
}

static char *read_stream(FILE *f)
{
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap);
    size_t n;
    while (buf && (n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (len + 1 == cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                return NULL;
            }
            buf = nb;
            cap *= 2;
        }
    }
    if (buf)
        buf[len] = '\0';
    return buf;
}

int rb_cli_json_arg(const char *arg, const char *what, cJSON **out)
{
    char *text = NULL;
    const char *src = arg;
    if (arg[0] == '@') {
        FILE *f = strcmp(arg + 1, "-") ? fopen(arg + 1, "rb") : stdin;
        if (!f)
            return rb_error_os("%s: cannot read %s", what, arg + 1);
        text = read_stream(f);
        if (f != stdin)
            fclose(f);
        if (!text)
            return rb_error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory");
        src = text;
    }
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithOpts(src, &end, 1);
    if (!j) {
        size_t off = end ? (size_t)(end - src) : 0;
        int rc = rb_error_set(RB_EINVAL, RB_ERRCLASS_INVALID, "%s: malformed JSON at byte %zu%s%s",
                              what, off, arg[0] == '@' ? " of " : "", arg[0] == '@' ? arg + 1 : "");
        free(text);
        return rc;
    }
    free(text);
    *out = j;
    return 0;
}

int rb_cli_exit_code(int rc)
{
    switch (rc) {
    case 0:
        return RB_EXIT_OK;
    case RB_EDRIFT:
        return RB_EXIT_DRIFT;
    case RB_EINVAL:
    case RB_EEXISTS:
        return RB_EXIT_INVALID;
    case RB_ENOTFOUND:
        return RB_EXIT_NOTFOUND;
    case RB_ELOCKED:
        return RB_EXIT_LOCKED;
    case RB_ECORRUPT:
        return RB_EXIT_CORRUPT;
    case RB_ECANCELED:
        return RB_EXIT_INTERRUPTED;
    default:
        return RB_EXIT_FAILED;
    }
}

int rb_cli_finish(rb_cli *cli, int rc, cJSON *response, void (*human)(const cJSON *response))
{
    const rb_error_info *err = rb_error_last();
    if (rc && err->message[0])
        fprintf(stderr, "rbhost: %s%s\n", rc == RB_EDRIFT ? "" : "error: ", err->message);
    if (cli->json) {
        cJSON *doc = response ? response : rc ? rb_error_response() : cJSON_CreateObject();
        char *text = cJSON_Print(doc);
        if (text) {
            fputs(text, stdout);
            fputc('\n', stdout);
        }
        free(text);
        if (doc != response)
            cJSON_Delete(doc);
    } else if (response && human) {
        human(response);
    }
    /* The audit log names the ids a state-changing command touched. */
    if (cli->audited && response) {
        cJSON_Delete(cli->outcome);
        cli->outcome = response;
    } else {
        cJSON_Delete(response);
    }
    if (fflush(stdout) != 0 && rc == 0) {
        perror("rbhost: stdout");
        return RB_EXIT_FAILED;
    }
    return rb_cli_exit_code(rc);
}

int rb_cli_usage(const rb_command *cmd, int error)
{
    FILE *f = error ? stderr : stdout;
    fprintf(f, "%s", cmd->usage);
    return error ? RB_EXIT_USAGE : RB_EXIT_OK;
}

const rb_command *rb_cli_find(const char *name)
{
    for (const rb_command *c = rb_commands; c->name; c++)
        if (!strcmp(c->name, name))
            return c;
    return NULL;
}

int rb_cli_run_with_id(rb_cli *cli, int argc, char **argv, const char *name,
                       int (*op)(rb_ctx *ctx, const char *id, cJSON **response),
                       void (*human)(const cJSON *response))
{
    static const struct option opts[] = {
        {"id", required_argument, 0, 'i'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    const char *id = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'i')
            id = optarg;
        else
            return rb_cli_usage(rb_cli_find(name), c != 'h');
    }
    if (optind < argc || !id) {
        fprintf(stderr, "rbhost: %s needs --id\n", name);
        return rb_cli_usage(rb_cli_find(name), 1);
    }
    cJSON *response = NULL;
    rb_ctx *ctx = rb_cli_ctx(cli);
    int rc = ctx ? op(ctx, id, &response) : rb_error_last()->code;
    return rb_cli_finish(cli, rc, response, human);
}
