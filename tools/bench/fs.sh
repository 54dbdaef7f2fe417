#!/bin/bash
# Benchmark of the file_system backend against the tools users would pick
# instead, on the same trees, in one run (issue 3):
#   trees: a copy of /usr/share and a generated tree of 200k small files
#   steps: first snapshot; unchanged re-snapshot; re-snapshot after changing
#          600 files, adding 100, deleting 100; rollback in place to the first
#          snapshot; restore into an empty directory
#   peers: restic, borg (zstd,3), tar | zstd -3 -T0, rsync -a --delete
# Prints each step's wall time, peak RSS and store size, then the ratios
# against the targets of issue 3.
#
# Usage: tools/bench/fs.sh [BUILD_DIR]     (an optimised build of rbhost and the
#                                          file_system backend, see docs/performance-fs.md)
# Environment: FS_BENCH_DIR (scratch, default /var/tmp/rbfs-bench),
#              FS_BENCH_TREES ("share gen", or one of them),
#              FS_BENCH_KEEP=1 keeps the scratch directory (it holds several
#              copies of each tree; deleting them is left to the end).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../../build-release}
rbhost=$build/bin/rbhost
[ -x "$rbhost" ] || { echo "no rbhost at $rbhost: build an optimised tree first" >&2; exit 2; }
for tool in restic borg rsync zstd /usr/bin/time; do
    command -v "$tool" > /dev/null || { echo "missing $tool (tools/dev/deps.sh installs it)" >&2; exit 2; }
done
scratch=${FS_BENCH_DIR:-/var/tmp/rbfs-bench}
trees=${FS_BENCH_TREES:-share gen}
rm -rf "$scratch"
mkdir -p "$scratch"
[ "${FS_BENCH_KEEP:-0}" = 1 ] || trap 'rm -rf "$scratch"' EXIT
results=$scratch/results.tsv
: > "$results"
export RESTIC_PASSWORD=bench RESTIC_CACHE_DIR=$scratch/restic-cache
export BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes BORG_RELOCATED_REPO_ACCESS_IS_OK=yes
export BORG_BASE_DIR=$scratch/borg-base

# measure TREE STEP TOOL SIZE_PATH -- command...: wall time and peak RSS.
measure() {
    local tree=$1 step=$2 tool=$3 sizepath=$4
    shift 5
    local out=$scratch/time.out
    if ! /usr/bin/time -o "$out" -f '%e %M' "$@" > "$scratch/cmd.log" 2>&1; then
        echo "FAILED: $tool $step on $tree: $*" >&2
        tail -20 "$scratch/cmd.log" >&2
        exit 1
    fi
    local size=-
    [ "$sizepath" = - ] || size=$(du -sb "$sizepath" | cut -f1)
    read -r secs kb < "$out"
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$tree" "$step" "$tool" "$secs" "$kb" "$size" >> "$results"
    printf '  %-10s %-22s %8.2f s %8d KB RSS  store %s\n' "$tool" "$step" "$secs" "$kb" "$size" >&2
}

same_tree() {
    local changes
    changes=$(rsync -a --delete -n -i "$1/" "$2/" | wc -l)
    [ "$changes" = 0 ] || { echo "$3: tree differs from the first snapshot ($changes entries)" >&2; exit 1; }
}

bench_tree() {
    local name=$1 src=$2
    local w=$scratch/$name
    local tree=$w/tree mirror=$w/mirror
    mkdir -p "$w"
    echo "== $name: preparing" >&2
    if [ "$src" = gen ]; then
        "$here/fs_gen_tree.sh" "$tree" 200000
    else
        cp -a "$src" "$tree"
    fi
    cp -a "$tree" "$mirror"
    local entries
    entries=$(find "$tree" | wc -l)
    echo "== $name: $(du -sh "$tree" | cut -f1), $entries entries" >&2
    printf '%s\tentries\t-\t%s\t-\t%s\n' "$name" "$entries" "$(du -sb "$tree" | cut -f1)" >> "$results"
    local store=$w/rbhost-store repo=$w/restic-repo borgrepo=$w/borg-repo
    local cfg="{\"paths\": [\"$tree\"]}"
    restic init --repo "$repo" > /dev/null
    borg init --encryption none "$borgrepo"
    sync

    echo "== $name: first snapshot" >&2
    measure "$name" first rbhost "$store" -- "$rbhost" --store "$store" create-snapshot --id first --type file_system --config "$cfg"
    measure "$name" first tar+zstd "$w/tree.tar.zst" -- sh -c "tar -C '$w' -cf - tree | zstd -3 -T0 -q -o '$w/tree.tar.zst'"
    measure "$name" first restic "$repo" -- restic --repo "$repo" backup --quiet "$tree"
    measure "$name" first borg "$borgrepo" -- borg create --compression zstd,3 "$borgrepo::first" "$tree"

    echo "== $name: unchanged re-snapshot" >&2
    measure "$name" unchanged rbhost "$store" -- "$rbhost" --store "$store" create-snapshot --id unchanged --type file_system --config "$cfg"
    measure "$name" unchanged restic "$repo" -- restic --repo "$repo" backup --quiet "$tree"
    measure "$name" unchanged borg "$borgrepo" -- borg create --compression zstd,3 "$borgrepo::unchanged" "$tree"

    echo "== $name: re-snapshot after 600 changed, 100 added, 100 deleted" >&2
    "$here/fs_mutate.sh" "$tree"
    measure "$name" changed rbhost "$store" -- "$rbhost" --store "$store" create-snapshot --id changed --type file_system --config "$cfg"
    measure "$name" changed restic "$repo" -- restic --repo "$repo" backup --quiet "$tree"
    measure "$name" changed borg "$borgrepo" -- borg create --compression zstd,3 "$borgrepo::changed" "$tree"

    echo "== $name: rollback in place to the first snapshot" >&2
    measure "$name" rollback rsync - -- rsync -a --delete "$mirror/" "$tree/"
    same_tree "$mirror" "$tree" "rsync rollback"
    "$here/fs_mutate.sh" "$tree"
    measure "$name" rollback rbhost - -- "$rbhost" --store "$store" execute-rollback --id first --yes --no-safety-snapshot
    same_tree "$mirror" "$tree" "rbhost rollback"
    "$here/fs_mutate.sh" "$tree"
    measure "$name" rollback+safety rbhost - -- "$rbhost" --store "$store" execute-rollback --id first --yes
    same_tree "$mirror" "$tree" "rbhost rollback with safety snapshot"

    echo "== $name: restore into an empty directory" >&2
    local r=$w/restore
    mkdir -p "$r/rbhost" "$r/tar" "$r/restic" "$r/borg"
    measure "$name" restore rbhost - -- "$rbhost" --store "$store" execute-rollback --id first --yes --no-safety-snapshot --to "$r/rbhost"
    same_tree "$mirror" "$r/rbhost$tree" "rbhost restore --to"
    measure "$name" restore tar+zstd - -- sh -c "zstd -d -T0 -q -c '$w/tree.tar.zst' | tar -C '$r/tar' -xf -"
    measure "$name" restore restic - -- restic --repo "$repo" restore --quiet latest --target "$r/restic"
    measure "$name" restore borg - -- sh -c "cd '$r/borg' && borg extract '$borgrepo::first'"
}

for t in $trees; do
    case $t in
    share) bench_tree share /usr/share ;;
    gen) bench_tree gen gen ;;
    *) echo "unknown tree $t" >&2; exit 2 ;;
    esac
done
"$here/fs_report.sh" "$results"
