#!/bin/bash
# Sets everything up on a fresh Debian 12 machine (as root) and runs every
# test suite under AddressSanitizer and UndefinedBehaviorSanitizer, with
# the real servers the suites need (PostgreSQL, MariaDB, podman's Docker
# API service) started here and stopped at the end.
#   tools/dev/test.sh [ctest arguments...]
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD

tools/dev/deps.sh test

build=${RBHOST_BUILD_DIR:-$root/build/test}
cmake -S . -B "$build" -DRBHOST_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
cmake --build "$build" -j"$(nproc)"

run=$(mktemp -d /tmp/rbhost-test.XXXXXX)
chmod 755 "$run"
started=()
stop_servers() {
  for s in "${started[@]}"; do
    bash "$root/tests/servers/$s.sh" stop "$run/$s" >/dev/null 2>&1 || true
  done
  rm -rf "$run"
}
trap stop_servers EXIT

for script in tests/servers/*.sh; do
  [ -e "$script" ] || continue
  name=$(basename "$script" .sh)
  mkdir -p "$run/$name"
  chmod 755 "$run/$name"
  echo "== starting $name"
  bash "$script" start "$run/$name"
  started+=("$name")
  # shellcheck disable=SC1090
  source "$run/$name/$name.env"
done

export RBT_REQUIRE_SERVERS=1
export RBHOST_CACHE_DIR="$run/plugin-cache"
export TMPDIR="$run"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:strict_string_checks=1:detect_stack_use_after_return=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
ctest --test-dir "$build" --output-on-failure -j2 "$@"
