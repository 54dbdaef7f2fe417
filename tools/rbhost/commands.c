/* The command table and each command's --help. */
#include "commands.h"

const rb_command rb_commands[] = {
    {"create-snapshot", "record the current state of one target or a set", rb_cmd_create_snapshot,
     "usage: rbhost [global options] create-snapshot --id ID --type TYPE --config JSON|@FILE\n"
     "       rbhost [global options] create-snapshot --id ID --spec FILE|JSON [--jobs N]\n"
     "\n"
     "Records the current state of a target (or of every target of a spec) in the\n"
     "store, under ID. The config is checked against the keys the backend declares\n"
     "(`rbhost plugins --keys`). A spec is\n"
     "  {\"targets\": [{\"name\", \"type\", \"config\", \"depends_on\": [names],\n"
     "                \"timeout\": seconds, \"retry\": {\"max_attempts\",\n"
     "                \"backoff_multiplier\", \"initial_delay\"}}],\n"
     "   \"on_failure\": \"revert\"|\"continue\"}\n"
     "and is checked whole before anything runs. Targets that do not depend on each\n"
     "other are snapshotted in parallel; the snapshot exists only if every target\n"
     "succeeded (the error names the one that failed).\n"
     "\n"
     "  --id ID          [A-Za-z0-9][A-Za-z0-9._-]{0,127}\n"
     "  --type TYPE      git_commit, configuration, file_system, database, container,\n"
     "                   infrastructure, or any installed backend\n"
     "  --config JSON    the target's config, inline or @FILE (@- for stdin)\n"
     "  --spec FILE      several targets: a file, @FILE, or inline JSON\n"
     "  --jobs N         targets snapshotted at a time (default: the number of cores)\n"},
    {"execute-rollback", "bring every target of a snapshot back, then verify",
     rb_cmd_execute_rollback,
     "usage: rbhost [global options] execute-rollback --id ID [--dry-run | --execute]\n"
     "                 [--validation JSON|@FILE] [--no-safety-snapshot] [--yes] [--force]\n"
     "                 [--to DIR] [--on-failure revert|continue]\n"
     "                 [--hooks JSON|@FILE] [--notify JSON|@FILE]\n"
     "       rbhost [global options] execute-rollback --resume [--id ID] [--revert] [--yes]\n"
     "\n"
     "Takes a safety snapshot of the current state (pre-rollback-<rollback id>), restores\n"
     "every target of snapshot ID, runs each backend's verification and then the\n"
     "validation tests, and records the rollback in the history. A target is restored\n"
     "before the targets it depends on; each step has the target's timeout and retries.\n"
     "Progress is journaled in the store: while a rollback is pending (interrupted),\n"
     "other commands that change state are refused.\n"
     "\n"
     "  --dry-run             print the plan (order, what each backend would change,\n"
     "                        the tests that would run), change nothing\n"
     "  --execute, --no-dry-run  act even when rbhost.conf sets dry_run_default\n"
     "  --validation JSON     {\"tests\": [...]}: file_exists {path}, git_commit\n"
     "                        {expected_commit, repo_path?}, service_status {services},\n"
     "                        health_check {url, expected_status?, timeout?, ca_file?},\n"
     "                        command {run, expect_exit?, timeout?}\n"
     "  --no-safety-snapshot  skip the safety snapshot (the rollback cannot be undone)\n"
     "  --yes, -y             do not ask for confirmation on a terminal\n"
     "  --force               let backends override refusals (e.g. a merge in progress,\n"
     "                        a target that is not the one recorded)\n"
     "  --to DIR              restore into DIR instead of in place (backends that can)\n"
     "  --on-failure MODE     when a step still fails: revert (default; put back what\n"
     "                        was restored, status failed) or continue (status partial)\n"
     "  --resume              finish the pending rollback (of snapshot ID, or rollback\n"
     "                        ID, or the only one)\n"
     "  --revert              with --resume: put back what it restored instead\n"
     "  --hooks JSON          {\"pre_rollback\": [{\"run\", \"timeout\"}], \"post_rollback\",\n"
     "                        \"on_failure\"}: per hook name, instead of the snapshot's;\n"
     "                        a failing pre_rollback vetoes (nothing changes, exit 6)\n"
     "  --notify JSON         [{\"type\": \"webhook\", \"url\", \"headers\"?}, {\"type\":\n"
     "                        \"command\", \"run\"}]: told when the rollback starts, after\n"
     "                        each step and at the end; replaces the snapshot's\n"
     "\n"
     "Exit status: 0 completed, 1 partial (restored but a check failed), 6 failed,\n"
     "8 interrupted (the rollback stays pending: --resume).\n"},
    {"verify", "does the live state still match a snapshot?", rb_cmd_verify,
     "usage: rbhost [global options] verify --id ID\n"
     "\n"
     "Compares the live state of every target with snapshot ID, changing nothing.\n"
     "Exit status: 0 the live state matches, 1 it has drifted (differences printed).\n"},
    {"diff", "what changed in each target since a snapshot", rb_cmd_diff,
     "usage: rbhost [global options] diff --id ID\n"
     "\n"
     "For every target of snapshot ID, in dependency order: whether it changed since\n"
     "the snapshot, the differences its backend finds, and what a rollback would\n"
     "change back. Changes nothing.\n"
     "Exit status: 0 nothing changed, 1 something changed.\n"},
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
    {"copy", "copy one snapshot to another store (local or S3)", rb_cmd_copy,
     "usage: rbhost [global options] copy --from STORE --to STORE --id ID\n"
     "\n"
     "Copies snapshot ID and every blob it uses from one store to another. A store\n"
     "is a directory or s3://BUCKET/PREFIX?endpoint=URL&region=R (credentials from\n"
     "RBHOST_S3_ACCESS_KEY/RBHOST_S3_SECRET_KEY, AWS_ACCESS_KEY_ID/\n"
     "AWS_SECRET_ACCESS_KEY or ~/.aws/credentials). Blobs the destination holds are\n"
     "not sent again; every blob is checked against its hash on the way. The\n"
     "destination is created if needed; an existing ID there is refused.\n"},
    {"process", "seed protocol: one JSON request in, one JSON response out", rb_cmd_process,
     "usage: rbhost [global options] process [FILE|-]\n"
     "\n"
     "Reads {\"action\": ...} with action create_snapshot (snapshot_id, type, config),\n"
     "execute_rollback (snapshot_id, validation?, dry_run?), list_snapshots,\n"
     "get_rollback_history or status, and prints the response document.\n"},
    {"prune", "remove snapshots a retention policy does not keep, then unused blobs", rb_cmd_prune,
     "usage: rbhost [global options] prune [--keep-last N] [--keep-daily N] [--keep-weekly N]\n"
     "                                     [--keep-monthly N] [--older-than DAYS] [--dry-run]\n"
     "\n"
     "Keeps every snapshot any rule keeps (restic's forget): the N newest (last), the\n"
     "newest of each of the N most recent days, ISO weeks or months that have\n"
     "snapshots (local time). With --older-than, only snapshots older than DAYS are\n"
     "removed. Safety snapshots (pre-rollback-*) are judged as a group of their own;\n"
     "the safety snapshot of the latest rollback is always kept. Then removes the\n"
     "blobs no snapshot uses. Without any rule, the [retention] section of\n"
     "rbhost.conf gives them (max_operations as --keep-last, retention_days as\n"
     "--older-than); with none at all, prune refuses.\n"
     "\n"
     "  --dry-run, -n   list what would be kept and removed, change nothing\n"
     "\n"
     "Exit status: 0 done, 1 some snapshot could not be removed (listed), 5 the store\n"
     "is in use (a snapshot is being taken).\n"},
    {"gc", "remove blobs no snapshot uses", rb_cmd_gc,
     "usage: rbhost [global options] gc\n"
     "\n"
     "Removes blobs no snapshot uses and rewrites mostly-dead packs. Refuses (exit 5)\n"
     "while a snapshot is being taken.\n"},
    {"audit", "show or verify the log of state-changing commands", rb_cmd_audit,
     "usage: rbhost [global options] audit [--last N]\n"
     "       rbhost [global options] audit verify\n"
     "\n"
     "Every command that changes state appends one line to the store's audit log:\n"
     "time, user, uid, host, the command line (secrets removed), the ids it touched\n"
     "and its result. Each line carries the SHA-256 of the line before it.\n"
     "\n"
     "  --last N   only the N newest entries\n"
     "  verify     check the chain: exit 0 intact, 7 naming the first line that was\n"
     "             edited, inserted or removed\n"},
    {"watch", "check a service after a change; roll back by itself when it stays unhealthy",
     rb_cmd_watch,
     "usage: rbhost [global options] watch --id ID --check JSON|@FILE [--interval S]\n"
     "                     [--failures N] [--window S] [--max-rollback-attempts N]\n"
     "                     [--hooks JSON|@FILE] [--notify JSON|@FILE]\n"
     "\n"
     "Runs the checks every interval. When N rounds in a row fail, or a rule's\n"
     "threshold is crossed over the window, rolls back snapshot ID once (verified\n"
     "with the same checks) and exits with execute-rollback's status.\n"
     "\n"
     "  --check JSON     [...] or {\"checks\": [...], \"interval\", \"failures\", \"window\",\n"
     "                   \"max_rollback_attempts\", \"hooks\", \"notify\"}; checks are the\n"
     "                   validation tests (health_check, service_status, command, ...)\n"
     "                   and the rules latency {url, p95_ms, timeout?} and error_rate\n"
     "                   {url, threshold, timeout?} (an answer >= 400 or none is an error)\n"
     "  --interval S     seconds between rounds (default 10)\n"
     "  --failures N     failed rounds in a row that trigger; also the samples a rule\n"
     "                   needs before it is judged (default 3)\n"
     "  --window S       seconds of samples the rules judge (default 300)\n"
     "  --max-rollback-attempts N  retry a rollback that changed nothing (default 1)\n"
     "  --hooks, --notify  hooks and notifications for the rollback\n"
     "\n"
     "SIGTERM or SIGINT stops a watch: exit 0 when no incident happened.\n"
     "Exit status: 0 stopped or rolled back, 1 partial, 6 rollback failed, 8 interrupted\n"
     "during the rollback; 2-4 for bad options, checks or a missing snapshot.\n"},
    {"metrics", "print the store, rollbacks and watches as Prometheus metrics", rb_cmd_metrics,
     "usage: rbhost [global options] metrics [--textfile DIR]\n"
     "\n"
     "Prints the Prometheus text exposition format on stdout: snapshots and bytes per\n"
     "backend, store size and dedup ratio, rollbacks by status, last rollback duration,\n"
     "verification pass rate and the state of each watch.\n"
     "\n"
     "  --textfile DIR   write DIR/rbhost.prom atomically instead (node_exporter's\n"
     "                   textfile collector)\n"},
    {0, 0, 0, 0},
};

/* A command that changes the store or the live system belongs here: each
 * run of it is recorded in the audit log (tools/rbhost/main.c). */
const char *const rb_audited_commands[] = {
    "create-snapshot",
    "execute-rollback",
    "delete-snapshot",
    "import",
    "process",
    "prune",
    "gc",
    "watch",
    NULL,
};
