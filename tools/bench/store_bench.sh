#!/usr/bin/env bash
# Store throughput next to zstd itself on the same data and machine.
#
#   tools/bench/store_bench.sh [BUILD_DIR] [FILES] [MEAN_SIZE] [STREAM_MIB]
#
# Builds nothing: run `cmake --build BUILD_DIR --target store_bench` first
# (a build without -DRBHOST_SANITIZE=ON gives meaningful figures).
set -euo pipefail

build=${1:-build}
files=${2:-68000}
mean=${3:-13000}
stream=${4:-1024}
bench="$build/bin/store_bench"
[ -x "$bench" ] || { echo "no $bench: build the store_bench target first" >&2; exit 2; }
command -v zstd >/dev/null || { echo "zstd is needed for the reference figures" >&2; exit 2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cores=$(nproc)

echo "== rbhost store: $files files of ~$mean bytes, one $stream MiB stream, $cores cores"
"$bench" "$work/store" "$files" "$mean" "$stream" "$cores" | tee "$work/store.txt"

"$bench" --emit "$files" "$mean" > "$work/files.bin"
# Wall and CPU time: the machine may be shared, CPU seconds compare better.
TIMEFORMAT='%R %U %S'
{ time zstd -q -3 -T0 -c "$work/files.bin" > /dev/null; } 2> "$work/zstd.time"
read -r zstd_wall zstd_user zstd_sys < "$work/zstd.time"
zstd_cpu=$(echo "$zstd_user + $zstd_sys" | bc)
store_wall=$(sed -n 's/^put .*: \([0-9.]*\) s wall, \([0-9.]*\) s cpu.*/\1/p' "$work/store.txt")
store_cpu=$(sed -n 's/^put .*: \([0-9.]*\) s wall, \([0-9.]*\) s cpu.*/\2/p' "$work/store.txt")
echo "== zstd -3 -T0 on the same files as one stream: ${zstd_wall} s wall, ${zstd_cpu} s cpu"
echo "== store put / zstd: $(echo "scale=2; $store_wall / $zstd_wall" | bc) wall," \
  "$(echo "scale=2; $store_cpu / $zstd_cpu" | bc) cpu"
