#!/bin/bash
# The change the benchmark rolls back: in the tree at DIR, appends to 600
# regular files, deletes 100 others and adds 100 new ones. The files are
# picked by a fixed stride over the sorted list, so every run changes the
# same files.
set -euo pipefail
dir=${1:?usage: fs_mutate.sh DIR}
cd "$dir"
export LC_ALL=C
list=$(mktemp)
trap 'rm -f "$list"' EXIT
find . -type f -size +0 -writable -print0 | sort -z | tr '\0' '\n' | grep -v '^$' > "$list" || true
n=$(wc -l < "$list")
stride=$((n / 800))
[ "$stride" -ge 1 ] || stride=1
awk -v s="$stride" 'NR % s == 0 && c < 600 { print; c++ }' "$list" | while IFS= read -r f; do
    printf 'changed by the benchmark\n' >> "$f"
done
awk -v s="$stride" 'NR % s == 1 && c < 100 { print; c++ }' "$list" | tr '\n' '\0' |
    xargs -0 -r rm -f
awk -v s="$stride" 'NR % s == 2 && c < 100 { print; c++ }' "$list" | while IFS= read -r f; do
    printf 'added by the benchmark\n' > "$f.added"
done
