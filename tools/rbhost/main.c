/* rbhost: snapshot what a change touches, roll it all back in one command. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"

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

static char *join_args(int argc, char **argv)
{
    size_t len = 1;
    for (int i = 0; i < argc; i++)
        len += strlen(argv[i]) + 1;
    char *s = malloc(len);
    if (!s)
        return NULL;
    s[0] = '\0';
    for (int i = 0; i < argc; i++) {
        strcat(s, argv[i]);
        if (i + 1 < argc)
            strcat(s, " ");
    }
    return s;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"store", required_argument, 0, 's'}, {"plugin-dir", required_argument, 0, 'p'},
        {"json", no_argument, 0, 'j'},        {"quiet", no_argument, 0, 'q'},
        {"verbose", no_argument, 0, 'v'},     {"help", no_argument, 0, 'h'},
        {"version", no_argument, 0, 'V'},     {0, 0, 0, 0}};
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
    cli.command_line = join_args(argc - optind, argv + optind);
    cli_for_signals = &cli;
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    int rc = cmd->run(&cli, argc - optind, argv + optind);
    if (rc == RB_EXIT_USAGE) {
        char message[160];
        snprintf(message, sizeof message, "wrong or missing options for %s; see rbhost %s --help",
                 cmd->name, cmd->name);
        usage_failed(&cli, message);
    }
    cli_for_signals = NULL;
    rb_ctx_free(cli.ctx);
    free(cli.command_line);
    free(dirs);
    return rc;
}
