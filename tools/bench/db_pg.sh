#!/usr/bin/env bash
# PostgreSQL: rbhost's database backend against the tools a user would
# pick instead, on the same pgbench database, in one run.
#
#   tools/bench/db_pg.sh [--scale N] [--rbhost PATH] [--keep DIR]
#
# Builds `pgbench -i -s N` (default 40, about 600 MB), then times
#   pg_dump -Fc                      vs  rbhost create-snapshot (method dump)
#   pg_restore -j2 into a new db     vs  rbhost execute-rollback (method clone):
#                                        the critical path (sessions ended, names
#                                        swapped) and, apart, the whole command
# and prints the ratios against the targets of the database issue: clone
# rollback at least 100x faster than pg_restore -j2, dump snapshot no slower
# than pg_dump -Fc. Uses the server named by RBT_PG_HOST/PORT/USER/BINDIR, or
# starts one with tests/servers/postgres.sh. Build rbhost without sanitizers
# for this (cmake -DCMAKE_BUILD_TYPE=Release -DRBHOST_TESTS=OFF).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
scale=40
rbhost=${RBHOST:-$root/build/bin/rbhost}
keep=

while [ $# -gt 0 ]; do
    case $1 in
    --scale) scale=$2; shift 2 ;;
    --rbhost) rbhost=$2; shift 2 ;;
    --keep) keep=$2; shift 2 ;;
    -h | --help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
    esac
done
[ -x "$rbhost" ] || { echo "no rbhost at $rbhost: build it or pass --rbhost PATH" >&2; exit 2; }

if [ -n "$keep" ]; then
    work=$keep
    mkdir -p "$work"
else
    work=$(mktemp -d)
fi
chmod 755 "$work"
started=
cleanup() {
    if [ -n "${PGHOST:-}" ]; then
        for d in $(psql -d postgres -Atc "SELECT datname FROM pg_database WHERE datname LIKE 'rbbench%' OR datname LIKE 'rb\_%\_rbbench%'" 2>/dev/null); do
            psql -q -d postgres -c "DROP DATABASE IF EXISTS \"$d\" WITH (FORCE)" 2>/dev/null || true
        done
    fi
    if [ -n "$started" ]; then
        "$root/tests/servers/postgres.sh" stop "$work/server" || true
    fi
    [ -n "$keep" ] || rm -rf "$work"
}
trap cleanup EXIT

if [ -z "${RBT_PG_HOST:-}" ]; then
    echo "starting a PostgreSQL server in $work/server" >&2
    "$root/tests/servers/postgres.sh" start "$work/server"
    started=1
    # shellcheck disable=SC1091
    . "$work/server/postgres.env"
fi
export PGHOST=$RBT_PG_HOST PGPORT=${RBT_PG_PORT:?} PGUSER=${RBT_PG_USER:?}
export PATH=$RBT_PG_BINDIR:$PATH
store=$work/store
db=rbbench
cs="host=$PGHOST port=$PGPORT user=$PGUSER"

now_ms() { echo $(($(date +%s%N) / 1000000)); }
ms_since() { echo $(($(now_ms) - $1)); }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b <= 0) b = 0.001; printf "%.1f", a / b }'; }
json_num() { python3 -c "import json,sys; d=json.load(sys.stdin); print(int(round(float($1))))"; }

echo "pgbench -i -s $scale" >&2
psql -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)"
psql -q -d postgres -c "CREATE DATABASE $db"
pgbench -i -q -s "$scale" "$db" >/dev/null 2>&1
psql -q -d "$db" -c "VACUUM ANALYZE" -c "CHECKPOINT"
size=$(psql -d "$db" -Atc "SELECT pg_size_pretty(pg_database_size(current_database()))")

echo "pg_dump -Fc" >&2
t=$(now_ms)
pg_dump -Fc -f "$work/bench.dump" "$db"
pg_dump_ms=$(ms_since "$t")

echo "pg_restore -j2" >&2
psql -q -d postgres -c "CREATE DATABASE ${db}_restored"
t=$(now_ms)
pg_restore -j2 -d "${db}_restored" "$work/bench.dump"
pg_restore_ms=$(ms_since "$t")
psql -q -d postgres -c "DROP DATABASE ${db}_restored"

echo "rbhost create-snapshot, method dump" >&2
t=$(now_ms)
"$rbhost" --store "$store" --json create-snapshot --id bench-dump --type database \
    --config "{\"database_name\": \"$db\", \"connection_string\": \"$cs\", \"method\": \"dump\"}" \
    >"$work/dump.json"
rb_dump_ms=$(ms_since "$t")

echo "rbhost create-snapshot, method clone" >&2
t=$(now_ms)
"$rbhost" --store "$store" --json create-snapshot --id bench-clone --type database \
    --config "{\"database_name\": \"$db\", \"connection_string\": \"$cs\", \"method\": \"clone\"}" \
    >"$work/clone.json"
rb_clone_snap_ms=$(ms_since "$t")

# The change to undo: a pgbench run and a dropped table.
pgbench -c 2 -t 2000 "$db" >/dev/null 2>&1
psql -q -d "$db" -c "DROP TABLE pgbench_history"

echo "rbhost execute-rollback, method clone" >&2
t=$(now_ms)
"$rbhost" --store "$store" --json execute-rollback --id bench-clone --yes --no-safety-snapshot \
    >"$work/rollback.json"
rb_rollback_ms=$(ms_since "$t")
critical_ms=$(json_num 'd["execution_result"]["critical_path_ms"]' <"$work/rollback.json")
reclone_ms=$(json_num 'd["execution_result"]["reclone_ms"]' <"$work/rollback.json")
status=$(python3 -c "import json,sys; print(json.load(sys.stdin)['status'])" <"$work/rollback.json")

printf '\nPostgreSQL 15, pgbench scale %s (%s), %s\n' "$scale" "$size" "$(nproc) cores"
printf '%-44s %10s\n' "step" "ms"
printf '%-44s %10d\n' "pg_dump -Fc" "$pg_dump_ms"
printf '%-44s %10d\n' "rbhost snapshot, method dump" "$rb_dump_ms"
printf '%-44s %10d\n' "pg_restore -j2 (new database)" "$pg_restore_ms"
printf '%-44s %10d\n' "rbhost snapshot, method clone" "$rb_clone_snap_ms"
printf '%-44s %10d\n' "rbhost clone rollback: critical path" "$critical_ms"
printf '%-44s %10d\n' "rbhost clone rollback: copy for reuse" "$reclone_ms"
printf '%-44s %10d\n' "rbhost clone rollback: whole command" "$rb_rollback_ms"
printf '\n'
printf 'clone rollback vs pg_restore -j2: %sx faster (target >= 100x), rollback %s\n' \
    "$(ratio "$pg_restore_ms" "$critical_ms")" "$status"
printf 'dump snapshot vs pg_dump -Fc:     %sx the time (target <= 1.0x)\n' \
    "$(ratio "$rb_dump_ms" "$pg_dump_ms")"
