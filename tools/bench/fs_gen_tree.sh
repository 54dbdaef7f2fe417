#!/bin/bash
# Generates a tree of COUNT small files (default 200000) under DIR:
# 200 directories of COUNT/200 files, 100 B to 4 KiB of text each, the same
# on every run (fixed awk seed).
set -euo pipefail
dir=${1:?usage: fs_gen_tree.sh DIR [COUNT]}
count=${2:-200000}
per_dir=$((count / 200))
mkdir -p "$dir"
for d in $(seq -w 0 199); do mkdir -p "$dir/d$d"; done
awk -v dir="$dir" -v per="$per_dir" 'BEGIN {
    srand(42)
    line = "the quick brown fox jumps over the lazy dog 0123456789 ABCDEFGHIJ\n"
    for (d = 0; d < 200; d++) {
        for (i = 0; i < per; i++) {
            f = sprintf("%s/d%03d/f%06d.txt", dir, d, i)
            n = int(100 + rand() * 4000)
            s = sprintf("%d %d %f\n", d, i, rand())
            while (length(s) < n)
                s = s line
            printf "%s", substr(s, 1, n) > f
            close(f)
        }
    }
}'
