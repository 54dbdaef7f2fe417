#!/usr/bin/env bash
# MySQL/MariaDB: rbhost's database backend against the tools a user would
# pick instead, on the same 4M-row table, in one run.
#
#   tools/bench/db_mysql.sh [--rows N] [--rbhost PATH] [--keep DIR]
#
# Builds a table of N rows (default 4000000, about 370 MB with its
# secondary index), then times
#   mysqldump --single-transaction   vs  rbhost create-snapshot (method dump)
#   mysql < dump                     vs  rbhost execute-rollback (method clone):
#                                        the critical path (the RENAME TABLE swap
#                                        with views and triggers) and, apart, the
#                                        copy made again afterwards
#                                    vs  rbhost execute-rollback (method dump):
#                                        the load into the shadow schema plus the
#                                        swap, and the whole command
# and prints the ratios against the targets of the database issue: clone
# rollback at least 100x faster than mysql < dump, dump rollback at least 3x
# faster than it, dump snapshot no slower than mysqldump. Uses the server
# named by RBT_MYSQL_SOCKET/USER/PASSWORD, or starts one with
# tests/servers/mariadb.sh. Build rbhost without sanitizers for this
# (cmake -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRBHOST_TESTS=OFF).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
rows=4000000
rbhost=${RBHOST:-$root/build/bin/rbhost}
keep=

while [ $# -gt 0 ]; do
    case $1 in
    --rows) rows=$2; shift 2 ;;
    --rbhost) rbhost=$2; shift 2 ;;
    --keep) keep=$2; shift 2 ;;
    -h | --help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
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
db=rbbench

sql() {
    mariadb --no-defaults --socket="$RBT_MYSQL_SOCKET" -u "$RBT_MYSQL_USER" "$@"
}

cleanup() {
    if [ -n "${RBT_MYSQL_SOCKET:-}" ]; then
        for d in $(sql -N -e "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = '$db' OR SCHEMA_NAME LIKE '\\_rbhost\\_%bench%'" 2>/dev/null); do
            sql -e "DROP DATABASE IF EXISTS \`$d\`" 2>/dev/null || true
        done
    fi
    [ -n "$started" ] && "$root/tests/servers/mariadb.sh" stop "$work/server" || true
    [ -n "$keep" ] || rm -rf "$work"
}
trap cleanup EXIT

if [ -z "${RBT_MYSQL_SOCKET:-}" ]; then
    echo "starting a MariaDB server in $work/server" >&2
    "$root/tests/servers/mariadb.sh" start "$work/server"
    started=1
    # shellcheck disable=SC1091
    . "$work/server/mariadb.env"
fi
# The password travels in the environment only, for every client here.
export MYSQL_PWD=${RBT_MYSQL_PASSWORD:-}
store=$work/store
rm -rf "$store"
cs="mysql://$RBT_MYSQL_USER@localhost/$db?socket=$RBT_MYSQL_SOCKET"

now() { date +%s.%N; }
elapsed() { echo "$2 - $1" | bc; }
ratio() { echo "scale=1; $1 / $2" | bc; }
json_num() { grep -o "\"$1\":[[:space:]]*[0-9.e+-]*" | head -n1 | sed 's/.*:[[:space:]]*//'; }
config() { printf '{"database_name":"%s","connection_string":"%s","method":"%s"}' "$db" "$cs" "$1"; }

echo "building $db: $rows rows" >&2
sql -e "DROP DATABASE IF EXISTS $db; CREATE DATABASE $db"
sql "$db" -e "
CREATE TABLE accounts (
  aid INT NOT NULL PRIMARY KEY,
  bid INT NOT NULL,
  abalance INT NOT NULL,
  filler CHAR(60) NOT NULL,
  KEY idx_bid (bid)
) ENGINE=InnoDB DEFAULT CHARSET=latin1;
INSERT INTO accounts SELECT seq, seq DIV 100000, 0, RPAD(seq, 60, 'x') FROM seq_1_to_$rows;
CREATE TABLE branches (bid INT PRIMARY KEY, bbalance INT NOT NULL) ENGINE=InnoDB;
INSERT INTO branches SELECT seq, 0 FROM seq_0_to_$((rows / 100000));
CREATE VIEW branch_totals AS SELECT bid, SUM(abalance) AS total FROM accounts GROUP BY bid;
CREATE TRIGGER accounts_bu BEFORE UPDATE ON accounts FOR EACH ROW SET NEW.abalance = NEW.abalance;
ANALYZE TABLE accounts;"
size_mb=$(sql -N -e "SELECT ROUND(SUM(DATA_LENGTH + INDEX_LENGTH) / 1048576) FROM information_schema.TABLES WHERE TABLE_SCHEMA = '$db'")

damage() { sql "$db" -e "UPDATE accounts SET abalance = abalance + 1 WHERE aid % 1000 = 0; DELETE FROM branches WHERE bid = 1"; }

echo "mysqldump" >&2
t0=$(now)
mysqldump --no-defaults --socket="$RBT_MYSQL_SOCKET" -u "$RBT_MYSQL_USER" --single-transaction \
    --routines --triggers "$db" >"$work/dump.sql"
t1=$(now)
mysqldump_s=$(elapsed "$t0" "$t1")
dump_mb=$(($(stat -c %s "$work/dump.sql") / 1048576))

echo "mysql < dump" >&2
damage
t0=$(now)
sql "$db" <"$work/dump.sql"
t1=$(now)
mysql_restore_s=$(elapsed "$t0" "$t1")
rm -f "$work/dump.sql"

echo "rbhost clone snapshot" >&2
t0=$(now)
"$rbhost" --store "$store" --json create-snapshot --id bench-clone --type database \
    --config "$(config clone)" >"$work/clone-snap.json"
t1=$(now)
clone_snap_s=$(elapsed "$t0" "$t1")

echo "rbhost clone rollback" >&2
damage
t0=$(now)
"$rbhost" --store "$store" --json execute-rollback --id bench-clone --yes \
    --no-safety-snapshot >"$work/clone-rb.json"
t1=$(now)
clone_cmd_s=$(elapsed "$t0" "$t1")
clone_swap_s=$(json_num swap_seconds <"$work/clone-rb.json")
clone_recopy_s=$(json_num recopy_seconds <"$work/clone-rb.json")
grep -q '"status":[[:space:]]*"completed"' "$work/clone-rb.json" ||
    { echo "clone rollback did not complete:" >&2; cat "$work/clone-rb.json" >&2; exit 1; }
"$rbhost" --store "$store" delete-snapshot --id bench-clone >/dev/null

echo "rbhost dump snapshot" >&2
t0=$(now)
"$rbhost" --store "$store" --json create-snapshot --id bench-dump --type database \
    --config "$(config dump)" >"$work/dump-snap.json"
t1=$(now)
dump_snap_s=$(elapsed "$t0" "$t1")
store_mb=$(($(du -sk "$store" | cut -f1) / 1024))

echo "rbhost dump rollback" >&2
damage
t0=$(now)
"$rbhost" --store "$store" --json execute-rollback --id bench-dump --yes \
    --no-safety-snapshot >"$work/dump-rb.json"
t1=$(now)
dump_cmd_s=$(elapsed "$t0" "$t1")
grep -q '"status":[[:space:]]*"completed"' "$work/dump-rb.json" ||
    { echo "dump rollback did not complete:" >&2; cat "$work/dump-rb.json" >&2; exit 1; }
dump_load_s=$(json_num load_seconds <"$work/dump-rb.json")
dump_swap_s=$(json_num swap_seconds <"$work/dump-rb.json")
dump_restore_s=$(echo "$dump_load_s + $dump_swap_s" | bc)

verdict() { if [ "$(echo "$1 >= $2" | bc)" = 1 ]; then echo met; else echo MISSED; fi; }
clone_ratio=$(ratio "$mysql_restore_s" "$clone_swap_s")
dump_ratio=$(ratio "$mysql_restore_s" "$dump_restore_s")
snap_ratio=$(ratio "$mysqldump_s" "$dump_snap_s")

cat <<EOF
MariaDB $(sql -N -e "SELECT VERSION()"), $rows rows, ${size_mb} MB of table data and indexes,
$(nproc) cores; mysqldump file ${dump_mb} MB, rbhost store ${store_mb} MB.

step                                   seconds
mysqldump --single-transaction         $(printf '%8.3f' "$mysqldump_s")
mysql < dump                           $(printf '%8.3f' "$mysql_restore_s")
rbhost clone snapshot                  $(printf '%8.3f' "$clone_snap_s")
rbhost clone rollback: swap            $(printf '%8.3f' "$clone_swap_s")
rbhost clone rollback: copy again      $(printf '%8.3f' "$clone_recopy_s")
rbhost clone rollback: whole command   $(printf '%8.3f' "$clone_cmd_s")
rbhost dump snapshot                   $(printf '%8.3f' "$dump_snap_s")
rbhost dump rollback: load + swap      $(printf '%8.3f' "$dump_restore_s")
rbhost dump rollback: whole command    $(printf '%8.3f' "$dump_cmd_s")

target                                             ratio    goal   verdict
clone rollback vs mysql < dump (swap)          $(printf '%8sx' "$clone_ratio")   >=100x  $(verdict "$clone_ratio" 100)
dump rollback vs mysql < dump (load + swap)    $(printf '%8sx' "$dump_ratio")   >=3x    $(verdict "$dump_ratio" 3)
dump snapshot vs mysqldump                     $(printf '%8sx' "$snap_ratio")   >=1x    $(verdict "$snap_ratio" 1)
EOF
