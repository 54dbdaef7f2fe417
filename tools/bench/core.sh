#!/bin/bash
# Start-up costs of the host (targets: discovering and loading every
# installed backend under 10 ms; `rbhost status` under 30 ms). Each figure
# is a whole process, from exec to exit.
# Builds a Release tree, then times, over many runs each:
#   plugins          discovery from the registry cache (no backend loaded)
#   plugins --load   discovery plus dlopen and init of every backend
#   status           the store summary and the backend list
#   --version        the process alone, for reference
# Usage: tools/bench/core.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-200}
build=build/bench
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DRBHOST_TESTS=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" >/dev/null
rbhost=$build/bin/rbhost
work=$(mktemp -d /tmp/rbhost-bench-core.XXXXXX)
trap 'rm -rf "$work"' EXIT
export RBHOST_STORE=$work/store RBHOST_CACHE_DIR=$work/cache
echo hello > "$work/f"
"$rbhost" plugins >/dev/null                      # fills the cache
"$rbhost" create-snapshot --id warm --type configuration \
    --config "{\"config_files\": [\"$work/f\"]}" >/dev/null

# Mean wall time of a command over $runs runs, in milliseconds.
mean_ms() {
  local start end
  start=$(date +%s%N)
  for _ in $(seq "$runs"); do "$@" >/dev/null; done
  end=$(date +%s%N)
  awk -v s="$start" -v e="$end" -v n="$runs" 'BEGIN { printf "%.2f", (e - s) / 1e6 / n }'
}

printf '%-28s %10s %10s\n' step "mean ms" target
printf '%-28s %10s %10s\n' "rbhost --version" "$(mean_ms "$rbhost" --version)" -
printf '%-28s %10s %10s\n' "rbhost plugins" "$(mean_ms "$rbhost" plugins)" -
printf '%-28s %10s %10s\n' "rbhost plugins --load" "$(mean_ms "$rbhost" plugins --load)" 10
printf '%-28s %10s %10s\n' "rbhost status" "$(mean_ms "$rbhost" status)" 30
echo "($runs runs each; $(nproc) cores; backends: $("$rbhost" --json plugins | grep -cE '"status":[[:space:]]*"ok"' || true))"
