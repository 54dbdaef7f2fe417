#!/usr/bin/env bash
# Starts or stops a throw-away PostgreSQL 15 server for the test suites.
#
#   tests/servers/postgres.sh start RUNDIR   -> writes RUNDIR/postgres.env
#   tests/servers/postgres.sh stop  RUNDIR
#
# The server runs as an unprivileged user (Debian's "postgres" when started
# as root, else the caller) from a data directory under RUNDIR, listening on
# a unix socket in RUNDIR and on 127.0.0.1 at a free port. Durability is
# switched off: the data is disposable and tests should not wait on fsync.
#
# Authentication: the superuser role "postgres" is trusted (no password) on
# the socket and on loopback; every other role must give its password
# (scram-sha-256), so suites can test bad credentials with roles they create.
set -euo pipefail

action=${1:-}
rundir=${2:-}
if [[ -z $action || -z $rundir ]]; then
    echo "usage: $0 start|stop RUNDIR" >&2
    exit 2
fi

bindir=${RBT_PG_BINDIR:-}
if [[ -z $bindir ]]; then
    for d in /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin; do
        if [[ -x $d/pg_ctl ]]; then
            bindir=$d
            break
        fi
    done
fi
if [[ -z $bindir || ! -x $bindir/pg_ctl ]]; then
    echo "postgres.sh: no PostgreSQL server binaries found (apt-get install postgresql-15)" >&2
    exit 1
fi

mkdir -p "$rundir"
rundir=$(cd "$rundir" && pwd)
# RUNDIR may sit where the server's user cannot reach (a 0700 temp dir, a
# home directory); then the server lives in a directory of its own under
# /tmp, and RUNDIR/postgres.dir remembers where.
pointer=$rundir/postgres.dir

if [[ $(id -u) -eq 0 ]]; then
    runas=(runuser -u postgres --)
    owner=postgres
else
    runas=()
    owner=$(id -un)
fi

pgdir_for_start() {
    chmod o+x "$rundir" 2>/dev/null || true
    local d=$rundir/postgres
    if "${runas[@]}" test -x "$rundir" 2>/dev/null && [[ ${#d} -lt 80 ]]; then
        mkdir -p "$d"
    else
        d=$(mktemp -d /tmp/rbhost-pg.XXXXXX)
    fi
    chown "$owner" "$d"
    chmod 0700 "$d"
    echo "$d" >"$pointer"
    echo "$d"
}

free_port() {
    local p
    for _ in $(seq 1 50); do
        p=$((20000 + RANDOM % 20000))
        # Without ss (no iproute2), a port in use shows as a failed start,
        # which is retried below.
        if ! command -v ss >/dev/null || ! ss -Htln "sport = :$p" | grep -q .; then
            echo "$p"
            return 0
        fi
    done
    return 1
}

stop_server() {
    [[ -f $pointer ]] || return 0
    local d
    d=$(cat "$pointer")
    if [[ -f $d/data/postmaster.pid ]]; then
        "${runas[@]}" "$bindir/pg_ctl" -D "$d/data" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
    fi
    # A server whose pg_ctl stop failed must not outlive the run.
    if [[ -f $d/data/postmaster.pid ]]; then
        local pid
        pid=$(head -n1 "$d/data/postmaster.pid")
        if [[ $pid =~ ^[0-9]+$ ]]; then
            kill -9 "$pid" 2>/dev/null || true
        fi
    fi
    rm -rf "$d"
    rm -f "$pointer" "$rundir/postgres.env"
}

start_server() {
    stop_server
    local d
    d=$(pgdir_for_start)
    local data=$d/data sock=$d/sock log=$d/server.log
    "${runas[@]}" mkdir -p "$sock"
    "${runas[@]}" "$bindir/initdb" -D "$data" -U postgres --auth-local=trust --auth-host=trust \
        -E UTF8 --locale=C.UTF-8 --no-sync >"$d/initdb.log" 2>&1 || {
        cat "$d/initdb.log" >&2
        return 1
    }
    "${runas[@]}" tee "$data/pg_hba.conf" >/dev/null <<'EOF'
local   all   postgres                 trust
host    all   postgres   127.0.0.1/32  trust
local   all   all                      scram-sha-256
host    all   all        127.0.0.1/32  scram-sha-256
EOF
    local port tries=0
    while :; do
        port=$(free_port)
        "${runas[@]}" tee -a "$data/postgresql.conf" >/dev/null <<EOF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$sock'
unix_socket_permissions = 0777
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 100
shared_buffers = 128MB
max_wal_size = 2GB
password_encryption = scram-sha-256
log_min_messages = warning
EOF
        if "${runas[@]}" "$bindir/pg_ctl" -D "$data" -l "$log" -w -t 50 start >/dev/null; then
            break
        fi
        tries=$((tries + 1))
        if [[ $tries -ge 3 ]] || ! grep -q "could not bind\|already in use" "$log"; then
            cat "$log" >&2
            return 1
        fi
    done
    chmod 0755 "$d"
    cat >"$rundir/postgres.env" <<EOF
export RBT_PG_HOST=$sock
export RBT_PG_PORT=$port
export RBT_PG_USER=postgres
export RBT_PG_BINDIR=$bindir
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
