/* The command table and each command's --help. */
#include "commands.h"

const rb_command rb_commands[] = {
    {"create-snapshot", "record the current state of one target or a set", rb_cmd_create_snapshot,
     "usage: rbhost [global options] create-snapshot --id ID --type TYPE --config JSON|@FILE\n"
     "       rbhost [global options] create-snapshot --id ID --spec FILE|JSON\n"
     "\n"
     "Records the current state of a target (or of every target of a spec) in the\n"
     "store, under ID. The config is checked against the keys the backend declares\n"
     "(`rbhost plugins --keys`). A spec is {\"targets\": [{\"name\", \"type\", \"config\"}]};\n"
     "the snapshot exists only if every target succeeded.\n"
     "\n"
     "  --id ID          [A-Za-z0-9][A-Za-z0-9._-]{0,127}\n"
     "  --type TYPE      git_commit, configuration, file_system, database, container,\n"
     "                   infrastructure, or any installed backend\n"
     "  --config JSON    the target's config, inline or @FILE (@- for stdin)\n"
     "  --spec FILE      several targets: a file, @FILE, or inline JSON\n"},
    {"execute-rollback", "bring every target of a snapshot back, then verify",
     rb_cmd_execute_rollback,
     "usage: rbhost [global options] execute-rollback --id ID [--dry-run] [--validation "
     "JSON|@FILE]\n"
     "                                [--no-safety-snapshot] [--yes] [--force] [--to DIR]\n"
     "\n"
     "Takes a safety snapshot of the current state (pre-rollback-<rollback id>), restores\n"
     "every target of snapshot ID, runs each backend's verification and then the\n"
     "validation tests, and records the rollback in the history.\n"
     "\n"
     "  --dry-run             print what would change, change nothing\n"
     "  --validation JSON     {\"tests\": [...]}: file_exists {path}, git_commit\n"
     "                        {expected_commit, repo_path?}, service_status {services},\n"
     "                        health_check {url, expected_status?, timeout?, ca_file?},\n"
     "                        command {run, expect_exit?, timeout?}\n"
     "  --no-safety-snapshot  skip the safety snapshot (the rollback cannot be undone)\n"
     "  --yes, -y             do not ask for confirmation on a terminal\n"
     "  --force               let backends override refusals (e.g. a merge in progress)\n"
     "  --to DIR              restore into DIR instead of in place (backends that can)\n"
     "\n"
     "Exit status: 0 completed, 1 partial (restored but a check failed), 6 failed.\n"},
    {"verify", "does the live state still match a snapshot?", rb_cmd_verify,
     "usage: rbhost [global options] verify --id ID\n"
     "\n"
     "Compares the live state of every target with snapshot ID, changing nothing.\n"
     "Exit status: 0 the live state matches, 1 it has drifted (differences printed).\n"},
    {"delete-snapshot", "delete a snapshot and what only it uses", rb_cmd_delete_snapshot,
     "usage: rbhost [global options] delete-snapshot --id ID [--force]\n"
     "\n"
     "Removes what the backends kept outside the store for ID (git refs, database\n"
     "copies), then the snapshot, then blobs no other snapshot uses.\n"
     "  --force   delete the snapshot even if a backend could not clean up\n"},
    {"show-snapshot", "print a snapshot's metadata document", rb_cmd_show_snapshot,
     "usage: rbhost [global options] show-snapshot --id ID\n"},
    {"list-snapshots", "list the snapshots in the store", rb_cmd_list_snapshots,
     "usage: rbhost [global options] list-snapshots\n"},
    {"history", "list the rollbacks done, oldest first", rb_cmd_history,
     "usage: rbhost [global options] history\n"},
    {"status", "store and backends at a glance", rb_cmd_status,
     "usage: rbhost [global options] status\n"},
    {"plugins", "list the backends found and why any was refused", rb_cmd_plugins,
     "usage: rbhost [global options] plugins [--keys] [--load]\n"
     "\n"
     "  --keys   also list each backend's config keys\n"
     "  --load   load and initialise every backend (reports init failures)\n"},
    {"check", "re-hash every blob and check every snapshot's references", rb_cmd_check,
     "usage: rbhost [global options] check\n"
     "Exit status: 0 clean, 7 problems found (listed).\n"},
    {"export", "write one snapshot to a .tar.zst archive", rb_cmd_export,
     "usage: rbhost [global options] export --id ID -o FILE.tar.zst\n"},
    {"import", "add a snapshot from an archive made by export", rb_cmd_import,
     "usage: rbhost [global options] import FILE.tar.zst\n"
     "Refuses absolute paths, '..', links and an id that already exists.\n"},
    {"process", "seed protocol: one JSON request in, one JSON response out", rb_cmd_process,
     "usage: rbhost [global options] process [FILE|-]\n"
     "\n"
     "Reads {\"action\": ...} with action create_snapshot (snapshot_id, type, config),\n"
     "execute_rollback (snapshot_id, validation?, dry_run?), list_snapshots,\n"
     "get_rollback_history or status, and prints the response document.\n"},
    {0, 0, 0, 0},
};
