/* The rbhost commands, one function each. */
#ifndef RB_COMMANDS_H
#define RB_COMMANDS_H

#include "cli.h"

int rb_cmd_create_snapshot(rb_cli *cli, int argc, char **argv);
int rb_cmd_delete_snapshot(rb_cli *cli, int argc, char **argv);
int rb_cmd_show_snapshot(rb_cli *cli, int argc, char **argv);
int rb_cmd_execute_rollback(rb_cli *cli, int argc, char **argv);
int rb_cmd_verify(rb_cli *cli, int argc, char **argv);
int rb_cmd_diff(rb_cli *cli, int argc, char **argv);
int rb_cmd_list_snapshots(rb_cli *cli, int argc, char **argv);
int rb_cmd_history(rb_cli *cli, int argc, char **argv);
int rb_cmd_status(rb_cli *cli, int argc, char **argv);
int rb_cmd_plugins(rb_cli *cli, int argc, char **argv);
int rb_cmd_check(rb_cli *cli, int argc, char **argv);
int rb_cmd_export(rb_cli *cli, int argc, char **argv);
int rb_cmd_import(rb_cli *cli, int argc, char **argv);
int rb_cmd_copy(rb_cli *cli, int argc, char **argv);
int rb_cmd_process(rb_cli *cli, int argc, char **argv);
int rb_cmd_prune(rb_cli *cli, int argc, char **argv);
int rb_cmd_gc(rb_cli *cli, int argc, char **argv);
int rb_cmd_audit(rb_cli *cli, int argc, char **argv);
int rb_cmd_watch(rb_cli *cli, int argc, char **argv);
int rb_cmd_metrics(rb_cli *cli, int argc, char **argv);

/* Parses a command that takes no options but --help; returns -1 to go on,
 * or the exit code. */
int rb_cli_no_options(int argc, char **argv, const char *name);

#endif
