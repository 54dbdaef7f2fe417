/* rbhost: snapshot what a change touches, roll it all back in one command. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "rb_audit.h"
#include "rb_conf.h"

static rb_cli *cli_for_signals;

/* The first interrupt asks the running operation to stop cleanly; a
 * second one ends the process at once. */
static void on_signal(int sig)
{
    static volatile sig_atomic_t seen;
    if (seen++ || !cli_for_signals || !cli_for_signals->ctx) {
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    rb_ctx_cancel(cli_for_signals->ctx);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: rbhost [--store DIR] [--plugin-dir DIR]... [--json] [-q|-v] COMMAND ...\n"
               "\n"
               "Snapshots the state a change touches and rolls it back, verified.\n"
               "\n"
               "commands:\n");
    for (const rb_command *c = rb_commands; c->name; c++)
        fprintf(f, "  %-18s %s\n", c->name, c->summary);
    fprintf(f, "\n"
               "global options:\n"
               "  --store DIR        the snapshot store (default $RBHOST_STORE, then\n"
               "                     /var/lib/rbhost for root, ~/.local/state/rbhost otherwise)\n"
               "  --plugin-dir DIR   search DIR for backends first (repeatable); then\n"
               "                     $RBHOST_PLUGIN_PATH, then the installed backends\n"
               "  --config-file FILE read FILE after /etc/rbhost/rbhost.conf and\n"
               "                     ~/.config/rbhost/rbhost.conf (default $RBHOST_CONFIG)\n"
               "  --json             print exactly one JSON document on stdout\n"
               "  -q, --quiet        only errors on stderr\n"
               "  -v, --verbose      more on stderr (twice: debug)\n"
               "  --version          print the version\n"
               "\n"
               "`rbhost COMMAND --help` describes a command; rbhost(1) the exit codes.\n");
}

/* --json promises one document on stdout, also for a usage error that is
 * otherwise explained only on stderr. */
static int usage_failed(const rb_cli *cli, const char *message)
{
    if (cli->json) {
        cJSON *doc = cJSON_CreateObject();
        cJSON_AddStringToObject(doc, "status", "failed");
        cJSON_AddStringToObject(doc, "error", message);
        cJSON_AddStringToObject(doc, "error_class", "invalid");
        cJSON_AddStringToObject(doc, "error_code", "usage");
        char *text = cJSON_Print(doc);
        if (text)
            printf("%s\n", text);
        free(text);
        cJSON_Delete(doc);
    }
    return RB_EXIT_USAGE;
}

/* Settings from rbhost.conf where neither a flag nor the environment gave
 * one: flag > environment > config file > built-in default. */
static void apply_conf(rb_cli *cli, const rb_conf *conf, char **conf_dirs)
{
    const char *env = getenv("RBHOST_STORE");
    if (!cli->store && !(env && *env))
        cli->store = rb_conf_get_string(conf, "store");
    env = getenv("RBHOST_PLUGIN_PATH");
    const char *list = rb_conf_get_string(conf, "plugin_dirs");
    if (cli->plugin_dir_count == 0 && !(env && *env) && list && (*conf_dirs = strdup(list))) {
        size_t n = 1;
        for (const char *p = list; *p; p++)
            n += *p == ':';
        const char **dirs = realloc(cli->plugin_dirs, (n + 1) * sizeof *dirs);
        if (dirs) {
            cli->plugin_dirs = dirs;
            char *save = NULL;
            for (char *tok = strtok_r(*conf_dirs, ":", &save); tok;
                 tok = strtok_r(NULL, ":", &save))
                dirs[cli->plugin_dir_count++] = tok;
        }
    }
    rb_conf_get_bool(conf, "confirmation_required", &cli->confirmation_required);
    rb_conf_get_bool(conf, "dry_run_default", &cli->dry_run_default);
}

/* A state-changing command, run for real (not asked for its --help). */
static int audited(const rb_command *cmd, int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
            return 0;
    for (const char *const *name = rb_audited_commands; *name; name++)
        if (!strcmp(*name, cmd->name))
            return 1;
    return 0;
}

static char **copy_args(int argc, char **argv)
{
    char **copy = calloc((size_t)argc + 1, sizeof *copy);
    for (int i = 0; copy && i < argc; i++) {
        if (!(copy[i] = strdup(argv[i]))) {
            while (i-- > 0)
                free(copy[i]);
            free(copy);
            return NULL;
        }
    }
    return copy;
}

static void record_audit(rb_cli *cli, int argc, char **argv, int exit_code)
{
    char error[1024] = "";
    if (exit_code == RB_EXIT_USAGE)
        snprintf(error, sizeof error, "wrong or missing options");
    else if (exit_code != RB_EXIT_OK)
        snprintf(error, sizeof error, "%s", rb_error_last()->message);
    rb_audit_event ev = {argc, argv, exit_code, error, cli->outcome};
    rb_ctx *ctx = rb_cli_ctx(cli);
    if (!ctx || rb_audit_record(ctx, &ev) < 0)
        fprintf(stderr, "rbhost: warning: %s\n", rb_error_last()->message);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"store", required_argument, 0, 's'},
                                         {"plugin-dir", required_argument, 0, 'p'},
                                         {"json", no_argument, 0, 'j'},
                                         {"quiet", no_argument, 0, 'q'},
                                         {"verbose", no_argument, 0, 'v'},
                                         {"help", no_argument, 0, 'h'},
                                         {"version", no_argument, 0, 'V'},
                                         {"config-file", required_argument, 0, 'c'},
                                         {0, 0, 0, 0}};
    const char *config_file = getenv("RBHOST_CONFIG");
    rb_cli cli = {.confirmation_required = 1};
    const char **dirs = calloc((size_t)argc + 1, sizeof *dirs);
    if (!dirs)
        return RB_EXIT_FAILED;
    cli.plugin_dirs = dirs;
    int c;
    /* "+": stop at the command name; its options are its own. */
    while ((c = getopt_long(argc, argv, "+qvh", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            cli.store = optarg;
            break;
        case 'p':
            dirs[cli.plugin_dir_count++] = optarg;
            break;
        case 'c':
            config_file = optarg;
            break;
        case 'j':
            cli.json = 1;
            break;
        case 'q':
            cli.verbosity = -1;
            break;
        case 'v':
            cli.verbosity = cli.verbosity < 0 ? 1 : cli.verbosity + 1;
            break;
        case 'h':
            usage(stdout);
            free(dirs);
            return RB_EXIT_OK;
        case 'V':
            printf("rbhost %s (plugin ABI %d.%d)\n", RB_VERSION, RB_ABI_MAJOR, RB_ABI_MINOR);
            free(dirs);
            return RB_EXIT_OK;
        default:
            usage(stderr);
            free(dirs);
            return usage_failed(&cli, "unknown or incomplete global option; see rbhost --help");
        }
    }
    if (optind >= argc) {
        usage(stderr);
        free(dirs);
        return usage_failed(&cli, "no command given; see rbhost --help");
    }
    const rb_command *cmd = rb_cli_find(argv[optind]);
    if (!cmd) {
        fprintf(stderr, "rbhost: unknown command '%s'\n\n", argv[optind]);
        usage(stderr);
        free(dirs);
        char message[160];
        snprintf(message, sizeof message, "unknown command '%.100s'; see rbhost --help",
                 argv[optind]);
        return usage_failed(&cli, message);
    }
    /* rbhost.conf: read before anything else, so that a broken file stops
     * every command instead of some of them quietly ignoring it. */
    rb_conf *conf = NULL;
    char *conf_dirs = NULL;
    int conf_rc = rb_conf_load(&conf, config_file && *config_file ? config_file : NULL);
    if (conf_rc) {
        free(dirs);
        return rb_cli_finish(&cli, conf_rc, NULL, NULL);
    }
    rb_conf_set_active(conf);
    apply_conf(&cli, conf, &conf_dirs);
    cli.audited = audited(cmd, argc - optind, argv + optind);
    /* The lock note names the command; it must not carry a password. */
    cli.command_line = rb_audit_command_line(argc - optind, argv + optind);
    cli_for_signals = &cli;
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    /* getopt_long reorders a command's arguments: the audit log records
     * them as given. */
    int cmd_argc = argc - optind;
    char **cmd_argv = argv + optind;
    char **given = cli.audited ? copy_args(cmd_argc, cmd_argv) : NULL;
    int rc = cmd->run(&cli, argc - optind, argv + optind);
    if (rc == RB_EXIT_USAGE) {
        char message[160];
        snprintf(message, sizeof message, "wrong or missing options for %s; see rbhost %s --help",
                 cmd->name, cmd->name);
        usage_failed(&cli, message);
    }
    cli_for_signals = NULL;
    if (cli.audited)
        record_audit(&cli, cmd_argc, given ? given : cmd_argv, rc);
    for (int i = 0; given && i < cmd_argc; i++)
        free(given[i]);
    free(given);
    cJSON_Delete(cli.outcome);
    rb_ctx_free(cli.ctx);
    free(cli.command_line);
    free(cli.plugin_dirs); /* `dirs`, or what apply_conf made of it */
    free(conf_dirs);
    rb_conf_free(conf);
    return rc;
}
