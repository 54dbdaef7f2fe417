#!/bin/bash
# Benchmark of the S3 store engine against restic's s3 backend, on the same
# RADOS Gateway in one run (issue 10):
#   tree:  /usr/share (read in place; both tools only read it)
#   steps: first snapshot into an empty bucket prefix; unchanged re-snapshot
#   peer:  restic (s3 backend, same endpoint, same credentials)
# Prints each step's wall time, then the ratios against the targets
# (rbhost at least 3x faster on the first snapshot, 10x on the re-snapshot).
#
# Usage: tools/bench/s3.sh [BUILD_DIR]   (an optimised build of rbhost with
#                                        the file_system backend)
# Environment: S3_BENCH_DIR (scratch, default /var/tmp/rbs3-bench),
#              S3_BENCH_TREE (default /usr/share).
# Starts its own single-node Ceph with tests/servers/ceph.sh and stops it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../../build-release}
rbhost=$build/bin/rbhost
[ -x "$rbhost" ] || { echo "no rbhost at $rbhost: build an optimised tree first" >&2; exit 2; }
for tool in restic /usr/bin/time radosgw; do
    command -v "$tool" > /dev/null || { echo "missing $tool (tools/dev/deps.sh bench installs it)" >&2; exit 2; }
done
scratch=${S3_BENCH_DIR:-/var/tmp/rbs3-bench}
tree=${S3_BENCH_TREE:-/usr/share}
rm -rf "$scratch"
mkdir -p "$scratch"
ceph=$here/../../tests/servers/ceph.sh
cleanup() {
    bash "$ceph" stop "$scratch/ceph" || true
    rm -rf "$scratch"
}
trap cleanup EXIT
# Room in the memory-backed OSD for two full copies of the tree.
RBT_CEPH_MEMSTORE_BYTES=$((6 * 1024 * 1024 * 1024)) bash "$ceph" start "$scratch/ceph"
# shellcheck disable=SC1091
source "$scratch/ceph/ceph.env"

export RBHOST_S3_ACCESS_KEY=$RBT_S3_ACCESS_KEY RBHOST_S3_SECRET_KEY=$RBT_S3_SECRET_KEY
export AWS_ACCESS_KEY_ID=$RBT_S3_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$RBT_S3_SECRET_KEY
export RESTIC_PASSWORD=bench RESTIC_CACHE_DIR=$scratch/restic-cache
export RBHOST_CACHE_DIR=$scratch/rbhost-cache
store="s3://bench/rbhost?endpoint=$RBT_S3_ENDPOINT&region=$RBT_S3_REGION"
repo="s3:$RBT_S3_ENDPOINT/bench/restic"
config="{\"paths\": [\"$tree\"]}"
results=$scratch/results.tsv
: > "$results"

measure() {
    local step=$1 tool=$2
    shift 2
    local out=$scratch/time.out
    if ! /usr/bin/time -o "$out" -f '%e %M' "$@" > "$scratch/cmd.log" 2>&1; then
        echo "FAILED: $tool $step: $*" >&2
        tail -20 "$scratch/cmd.log" >&2
        exit 1
    fi
    read -r secs kb < "$out"
    printf '%s\t%s\t%s\t%s\n' "$step" "$tool" "$secs" "$kb" >> "$results"
    printf '  %-8s %-20s %8.2f s %8d KB RSS\n' "$tool" "$step" "$secs" "$kb" >&2
}

files=$(find "$tree" -type f | wc -l)
bytes=$(du -sb "$tree" | cut -f1)
echo "tree $tree: $files files, $bytes bytes; endpoint $RBT_S3_ENDPOINT" >&2
# Both start from a cold page cache of the tree as far as possible: one
# read beforehand so that neither pays for the disk alone.
tar cf - "$tree" 2>/dev/null | cat > /dev/null

restic -r "$repo" init > /dev/null
measure first restic restic -r "$repo" backup -q "$tree"
measure unchanged restic restic -r "$repo" backup -q "$tree"

measure first rbhost "$rbhost" --store "$store" create-snapshot --id first --type file_system \
    --config "$config"
measure unchanged rbhost "$rbhost" --store "$store" create-snapshot --id again \
    --type file_system --config "$config"

echo >&2
printf '%-10s %10s %10s %8s %8s\n' step rbhost restic ratio target
for step in first unchanged; do
    r=$(awk -F'\t' -v s="$step" '$1 == s && $2 == "rbhost" {print $3}' "$results")
    p=$(awk -F'\t' -v s="$step" '$1 == s && $2 == "restic" {print $3}' "$results")
    target=3
    [ "$step" = unchanged ] && target=10
    awk -v s="$step" -v r="$r" -v p="$p" -v t="$target" 'BEGIN {
        if (r < 0.01) r = 0.01
        printf "%-10s %9.2fs %9.2fs %7.1fx %7dx\n", s, r, p, p / r, t }'
done
