#!/usr/bin/env bash
# Starts or stops a throw-away MariaDB server for the test suites.
#
#   tests/servers/mariadb.sh start RUNDIR   -> writes RUNDIR/mariadb.env
#   tests/servers/mariadb.sh stop  RUNDIR
#
# The server runs as an unprivileged user (Debian's "mysql" when started as
# root, else the caller) from a data directory under RUNDIR, on a unix socket
# only (--skip-networking). It reads no option file (--no-defaults), so a
# system MariaDB, its /run/mysqld socket and /etc/mysql are never touched.
# Durability is relaxed: the data is disposable.
#
# The suites connect as "rbtest" (all privileges, with a password, so the
# password handling is exercised); root authenticates through unix_socket.
set -euo pipefail

action=${1:-}
rundir=${2:-}
if [[ -z $action || -z $rundir ]]; then
    echo "usage: $0 start|stop RUNDIR" >&2
    exit 2
fi
for tool in mariadbd mariadb-install-db mariadb-admin mariadb; do
    if ! command -v "$tool" >/dev/null 2>&1 && [[ ! -x /usr/sbin/$tool ]]; then
        echo "mariadb.sh: $tool not found (apt-get install mariadb-server mariadb-client)" >&2
        exit 1
    fi
done
mariadbd=$(command -v mariadbd || echo /usr/sbin/mariadbd)

mkdir -p "$rundir"
rundir=$(cd "$rundir" && pwd)
# RUNDIR may sit where the server's user cannot reach, or be too deep for a
# socket path (108 bytes); then the server lives in a directory of its own
# under /tmp, and RUNDIR/mariadb.dir remembers where.
pointer=$rundir/mariadb.dir
test_user=rbtest
test_password=rbtest-pw

if [[ $(id -u) -eq 0 ]]; then
    runas=(runuser -u mysql --)
    owner=mysql
else
    runas=()
    owner=$(id -un)
fi

dir_for_start() {
    chmod o+x "$rundir" 2>/dev/null || true
    local d=$rundir/mariadb
    if "${runas[@]}" test -x "$rundir" 2>/dev/null && [[ ${#d} -lt 80 ]]; then
        mkdir -p "$d"
    else
        d=$(mktemp -d /tmp/rbhost-my.XXXXXX)
    fi
    chown "$owner" "$d"
    chmod 0755 "$d"
    echo "$d" >"$pointer"
    echo "$d"
}

stop_server() {
    [[ -f $pointer ]] || return 0
    local d pid=
    d=$(cat "$pointer")
    [[ -f $d/mariadbd.pid ]] && pid=$(head -n1 "$d/mariadbd.pid")
    if [[ $pid =~ ^[0-9]+$ ]] && kill "$pid" 2>/dev/null; then
        for _ in $(seq 1 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        # A server that ignored the shutdown request must not outlive the run.
        kill -9 "$pid" 2>/dev/null || true
    fi
    rm -rf "$d"
    rm -f "$pointer" "$rundir/mariadb.env"
}

client() {
    mariadb --no-defaults --socket="$1" -u root "${@:2}"
}

start_server() {
    stop_server
    local d
    d=$(dir_for_start)
    local data=$d/data sock=$d/mysql.sock log=$d/server.log
    "${runas[@]}" mkdir -p "$data" "$d/tmp"
    if ! "${runas[@]}" mariadb-install-db --no-defaults --datadir="$data" \
        --auth-root-authentication-method=socket --skip-test-db >"$d/install.log" 2>&1; then
        cat "$d/install.log" >&2
        return 1
    fi
    local user_opt=()
    [[ $(id -u) -eq 0 ]] && user_opt=(--user=mysql)
    "${runas[@]}" "$mariadbd" --no-defaults "${user_opt[@]}" --datadir="$data" \
        --socket="$sock" --pid-file="$d/mariadbd.pid" --skip-networking --tmpdir="$d/tmp" \
        --log-error="$log" --innodb-buffer-pool-size=1G --innodb-log-file-size=512M \
        --innodb-flush-log-at-trx-commit=2 --skip-log-bin --local-infile=1 \
        --character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci \
        --max-connections=100 </dev/null >/dev/null 2>&1 &
    local ok=
    for _ in $(seq 1 300); do
        if [[ -S $sock ]] && mariadb-admin --no-defaults --socket="$sock" -u root ping \
            >/dev/null 2>&1; then
            ok=1
            break
        fi
        sleep 0.1
    done
    if [[ -z $ok ]]; then
        echo "mariadb.sh: the server did not answer on $sock" >&2
        cat "$log" >&2 || true
        return 1
    fi
    client "$sock" -e "CREATE USER '$test_user'@'localhost' IDENTIFIED BY '$test_password';
        GRANT ALL PRIVILEGES ON *.* TO '$test_user'@'localhost' WITH GRANT OPTION;"
    cat >"$rundir/mariadb.env" <<EOF
export RBT_MYSQL_SOCKET=$sock
export RBT_MYSQL_USER=$test_user
export RBT_MYSQL_PASSWORD=$test_password
EOF
}

case $action in
start) start_server ;;
stop) stop_server ;;
*)
    echo "usage: $0 start|stop RUNDIR" >&2
    exit 2
    ;;
esac
