#!/usr/bin/env bash
# Rollback of a git checkout: `rbhost execute-rollback` against what a user
# would type instead, `git reset --hard <commit> && git clean -fd`, on the
# same repository, alternating, so both see the same caches and load.
#
#   tools/bench/git.sh [--files N] [--rounds N] [--rbhost PATH] [--keep DIR]
#
# The repository has N files (default 50000) in directories of 100; after
# the snapshot, 3 commits are added and 5 files changed without committing,
# plus one untracked file. Each round puts that state back, then times one
# rollback. Prints the median of each variant and its ratio to git.
# Build rbhost without sanitizers for this (e.g. -DCMAKE_BUILD_TYPE=Release).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
files=50000
rounds=7
rbhost=${RBHOST:-$root/build/bin/rbhost}
keep=

while [ $# -gt 0 ]; do
    case $1 in
    --files) files=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --rbhost) rbhost=$2; shift 2 ;;
    --keep) keep=$2; shift 2 ;;
    -h | --help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
    esac
done
[ -x "$rbhost" ] || { echo "no rbhost at $rbhost: build it or pass --rbhost PATH" >&2; exit 2; }
rbhost=$(cd "$(dirname "$rbhost")" && pwd)/$(basename "$rbhost")

if [ -n "$keep" ]; then
    work=$keep
    mkdir -p "$work"
else
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
fi
repo=$work/repo
store=$work/store
mkdir -p "$work/home"
export HOME=$work/home GIT_CONFIG_NOSYSTEM=1
export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.org
export GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.org

# Prints "<wall ms> <cpu ms>" of a command (cpu: user + system, children
# included), its output discarded.
measure() {
    local TIMEFORMAT='%R %U %S' t
    t=$({ time "$@" >/dev/null 2>&1; } 2>&1)
    awk -v t="$t" 'BEGIN { split(t, a, " "); printf "%d %d\n", a[1] * 1000, (a[2] + a[3]) * 1000 }'
}

echo "generating $files files in $repo" >&2
rm -rf "$repo" "$store"
git init -q -b main "$repo"
cd "$repo"
dirs=$(((files + 99) / 100))
n=0
for ((d = 0; d < dirs && n < files; d++)); do
    mkdir -p "src/d$d"
    for ((f = 0; f < 100 && n < files; f++, n++)); do
        printf 'file %d of directory %d\nsome content to make it a real file\n' "$f" "$d" >"src/d$d/f$f.txt"
    done
done
git add -A
git commit -q -m base
base=$(git rev-parse HEAD)
"$rbhost" --store "$store" create-snapshot --id bench --type git_commit \
    --config "{\"repo_path\":\"$repo\"}" >/dev/null

for i in 1 2 3; do
    echo "commit $i" >>"src/d$i/f1.txt"
    echo "added by commit $i" >"src/d$i/new$i.txt"
    git add -A
    git commit -q -m "after the snapshot $i"
done
tip=$(git rev-parse HEAD)

# The state every rollback starts from: 3 commits ahead, 5 files changed,
# one untracked file.
changed_state() {
    git reset -q --hard "$tip"
    git clean -fdq
    for i in 1 2 3 4 5; do echo "uncommitted $i" >>"src/d$((10 + i))/f10.txt"; done
    echo scratch >untracked.txt
    git status --porcelain >/dev/null
}

check_restored() {
    if [ "$(git rev-parse HEAD)" != "$base" ] || [ -n "$(git status --porcelain)" ]; then
        echo "$1 did not restore the snapshot" >&2
        exit 1
    fi
}

git_rollback() { git reset -q --hard "$base" && git clean -fdq; }

time_git() {
    changed_state
    measure git_rollback
    check_restored git
}

time_rbhost() {
    changed_state
    measure "$rbhost" --store "$store" execute-rollback --id bench --yes "$@"
    check_restored rbhost
}

# median of column $1
median() { awk -v c="$1" '{ print $c }' | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

: >"$work/git.ms"
: >"$work/full.ms"
: >"$work/nosafety.ms"
: >"$work/verify.ms"
for ((r = 1; r <= rounds; r++)); do
    time_git >>"$work/git.ms"
    time_rbhost >>"$work/full.ms"
    time_rbhost --no-safety-snapshot >>"$work/nosafety.ms"
    # One scan of the restored checkout: what each of the three steps of a
    # rollback costs at least.
    measure "$rbhost" --store "$store" verify --id bench >>"$work/verify.ms"
    echo "round $r/$rounds done" >&2
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
gw=$(median 1 <"$work/git.ms")
gc=$(median 2 <"$work/git.ms")
printf '\ngit rollback benchmark: %d files, 3 commits added, 5 files changed, 1 untracked; median of %d rounds\n' \
    "$files" "$rounds"
printf '%-64s %8s %6s %8s %6s\n' "command" "wall ms" "ratio" "cpu ms" "ratio"
row() {
    local w c
    w=$(median 1 <"$2")
    c=$(median 2 <"$2")
    printf '%-64s %8d %6s %8d %6s\n' "$1" "$w" "$(ratio "$w" "$gw")" "$c" "$(ratio "$c" "$gc")"
}
row "git reset --hard <commit> && git clean -fd" "$work/git.ms"
row "rbhost execute-rollback (safety snapshot, restore, verify)" "$work/full.ms"
row "rbhost execute-rollback --no-safety-snapshot (restore, verify)" "$work/nosafety.ms"
row "rbhost verify (alone, on the restored checkout)" "$work/verify.ms"
