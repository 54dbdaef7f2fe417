#!/bin/bash
# Sets everything up on a fresh Debian 12 machine (as root), builds and
# installs rbhost, then runs its main job on a sample application it makes
# itself — no server needed: a git checkout, its configuration files and its
# data directory are snapshotted together, a bad deployment changes all
# three, and one command rolls all of it back, verified.
#   tools/dev/demo.sh [PREFIX]        (default prefix: /usr/local)
set -euo pipefail
cd "$(dirname "$0")/../.."
prefix=${1:-/usr/local}

tools/dev/deps.sh build
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DRBHOST_TESTS=OFF >/dev/null
cmake --build build/release -j"$(nproc)" >/dev/null
cmake --install build/release --prefix "$prefix" >/dev/null
rbhost=$prefix/bin/rbhost
echo "== installed $("$rbhost" --version) in $prefix"

demo=$(mktemp -d /tmp/rbhost-demo.XXXXXX)
export RBHOST_STORE=$demo/store
app=$demo/app
step() { printf '\n== %s\n' "$*"; }
git_() { git -C "$app/src" -c user.name=demo -c user.email=demo@example.invalid "$@"; }

step "a sample application: code in git, configuration, data"
mkdir -p "$app/src" "$app/etc" "$app/data/uploads"
git init -q -b main "$app/src"
echo 'print("v1")' > "$app/src/app.py"
git_ add app.py && git_ commit -qm "release 1.0"
printf 'PORT=8080\nDEBUG=false\n' > "$app/etc/app.env"
printf 'workers = 4\n' > "$app/etc/app.toml"
for i in $(seq 1 200); do head -c 4096 /dev/urandom > "$app/data/uploads/file$i.bin"; done
ls -R "$app" | head -12

step "rbhost create-snapshot: the three layers as one snapshot"
cat > "$demo/spec.json" <<JSON
{"targets": [
  {"name": "code",   "type": "git_commit",    "config": {"repo_path": "$app/src"}},
  {"name": "config", "type": "configuration", "config": {"config_files": ["$app/etc/app.env", "$app/etc/app.toml"]}},
  {"name": "data",   "type": "file_system",   "config": {"paths": ["$app/data"]}}
]}
JSON
"$rbhost" create-snapshot --id before-release-2 --spec "@$demo/spec.json"

step "a bad release: new code, changed config, data damaged"
echo 'print("v2 with a bug")' > "$app/src/app.py"
git_ commit -qam "release 2.0"
printf 'PORT=9999\nDEBUG=true\n' > "$app/etc/app.env"
rm -f "$app/data/uploads/file1"*.bin
echo corrupted > "$app/data/uploads/file2.bin"

step "rbhost verify: what drifted since the snapshot (exit 1 = drift)"
"$rbhost" verify --id before-release-2 || echo "(exit $?)"

step "rbhost execute-rollback --dry-run: what a rollback would change"
"$rbhost" execute-rollback --id before-release-2 --dry-run

step "rbhost execute-rollback: everything back, verified"
"$rbhost" execute-rollback --id before-release-2 --yes \
  --validation "{\"tests\": [{\"type\": \"file_exists\", \"path\": \"$app/etc/app.env\"}]}"

step "the application is as it was"
git_ log --oneline -1
cat "$app/etc/app.env"
ls "$app/data/uploads" | wc -l
"$rbhost" verify --id before-release-2

step "rbhost history and list-snapshots"
"$rbhost" history
"$rbhost" list-snapshots
echo
echo "demo files are in $demo (store: $RBHOST_STORE)"
