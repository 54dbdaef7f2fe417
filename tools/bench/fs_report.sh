#!/bin/bash
# Prints the table and the ratios against issue 3's targets from the
# results file fs.sh writes (tree, step, tool, seconds, peak RSS KB, bytes).
set -euo pipefail
results=${1:?usage: fs_report.sh RESULTS.tsv}
awk -F'\t' '
function v(tree, step, tool, col) { return val[tree, step, tool, col] }
function ratio(label, target, num, den,   r, ok) {
    if (num == "" || den == "" || den == 0) { printf "| %s | %s | n/a | |\n", label, target; return }
    r = num / den
    ok = (r >= target_min) ? "met" : "NOT met"
    printf "| %s | >= %s | %.2f | %s |\n", label, target, r, ok
}
{
    if ($2 == "entries") { entries[$1] = $4; bytes[$1] = $6; if (!seen[$1]++) order[++n] = $1; next }
    val[$1, $2, $3, "s"] = $4; val[$1, $2, $3, "kb"] = $5; val[$1, $2, $3, "size"] = $6
    rows[$1] = rows[$1] sprintf("| %s | %s | %.2f | %.0f | %s |\n", $2, $3, $4, $5 / 1024,
        $6 == "-" ? "" : sprintf("%.0f", $6 / 1048576))
}
END {
    for (i = 1; i <= n; i++) {
        t = order[i]
        printf "\n### %s: %d entries, %.0f MB\n\n", t, entries[t], bytes[t] / 1048576
        print "| step | tool | wall s | peak RSS MB | store MB |"
        print "|---|---|---:|---:|---:|"
        printf "%s", rows[t]
        printf "\n| target (%s) | wanted | measured | |\n|---|---|---:|---|\n", t
        target_min = 1; ratio("first snapshot: tar+zstd time / rbhost time", 1, v(t, "first", "tar+zstd", "s"), v(t, "first", "rbhost", "s"))
        target_min = 1; ratio("store: restic repo / rbhost store", 1, v(t, "first", "restic", "size"), v(t, "first", "rbhost", "size"))
        target_min = 10; ratio("unchanged: restic / rbhost", 10, v(t, "unchanged", "restic", "s"), v(t, "unchanged", "rbhost", "s"))
        target_min = 7; ratio("changed: restic / rbhost", 7, v(t, "changed", "restic", "s"), v(t, "changed", "rbhost", "s"))
        target_min = 2; ratio("rollback in place: rsync / rbhost", 2, v(t, "rollback", "rsync", "s"), v(t, "rollback", "rbhost", "s"))
        target_min = 20; ratio("rollback in place: restic restore / rbhost", 20, v(t, "restore", "restic", "s"), v(t, "rollback", "rbhost", "s"))
        target_min = 1; ratio("restore into empty: tar+zstd / rbhost", 1, v(t, "restore", "tar+zstd", "s"), v(t, "restore", "rbhost", "s"))
        split("first unchanged changed restore", steps, " ")
        for (k = 1; k <= 4; k++) {
            target_min = 2
            ratio("peak RSS, " steps[k] ": restic / rbhost", 2, v(t, steps[k], "restic", "kb"), v(t, steps[k], "rbhost", "kb"))
        }
        target_min = 2; ratio("peak RSS, rollback: restic restore / rbhost", 2, v(t, "restore", "restic", "kb"), v(t, "rollback", "rbhost", "kb"))
    }
}' "$results"
