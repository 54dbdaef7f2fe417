#!/usr/bin/env bash
# Starts or stops a throw-away single-node Ceph cluster with an S3 endpoint
# (the RADOS Gateway) for the test suites and the S3 benchmark.
#
#   tests/servers/ceph.sh start RUNDIR   -> writes RUNDIR/ceph.env
#   tests/servers/ceph.sh stop  RUNDIR
#   tests/servers/ceph.sh restart-rgw RUNDIR   (kill -9 radosgw, start it again)
#
# One monitor (msgr v2 only), one memstore OSD, radosgw with the beast
# frontend, everything on 127.0.0.1 at free ports, authentication "none"
# and pools of size 1. The data lives in memory and is lost at stop.
# RBT_CEPH_MEMSTORE_BYTES sizes the OSD (default 4 GiB, allocated lazily).
set -euo pipefail

action=${1:-}
rundir=${2:-}
if [[ -z $action || -z $rundir ]]; then
    echo "usage: $0 start|stop|restart-rgw RUNDIR" >&2
    exit 2
fi
for b in ceph-mon ceph-osd radosgw radosgw-admin ceph monmaptool; do
    if ! command -v "$b" >/dev/null; then
        echo "ceph.sh: $b not found (apt-get install ceph-mon ceph-osd radosgw ceph-common)" >&2
        exit 1
    fi
done

mkdir -p "$rundir"
rundir=$(cd "$rundir" && pwd)
d=$rundir/ceph
conf=$d/ceph.conf
deadline_s=${RBT_CEPH_START_TIMEOUT:-90}

free_port() {
    local p
    for _ in $(seq 1 50); do
        p=$((20000 + RANDOM % 20000))
        if ! command -v ss >/dev/null || ! ss -Htln "sport = :$p" | grep -q .; then
            echo "$p"
            return 0
        fi
    done
    return 1
}

fail() {
    echo "ceph.sh: $*" >&2
    for f in "$d"/log/*.log; do
        [[ -f $f ]] || continue
        echo "--- last lines of $f" >&2
        tail -n 15 "$f" >&2
    done
    stop_cluster
    exit 1
}

# Waits until "$@" succeeds or the start deadline passes.
wait_for() {
    local what=$1
    shift
    local end=$((SECONDS + deadline_s))
    until "$@" >/dev/null 2>&1; do
        if ((SECONDS >= end)); then
            fail "timed out after ${deadline_s}s waiting for $what"
        fi
        sleep 0.5
    done
}

kill_pidfile() {
    local f=$1 pid
    [[ -f $f ]] || return 0
    pid=$(cat "$f" 2>/dev/null || true)
    if [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null; then
        kill -9 "$pid" 2>/dev/null || true
        for _ in $(seq 1 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
    fi
    rm -f "$f"
}

stop_cluster() {
    [[ -d $d ]] || return 0
    kill_pidfile "$d/run/rgw.pid"
    kill_pidfile "$d/run/osd.pid"
    kill_pidfile "$d/run/mon.pid"
    rm -rf "$d"
    rm -f "$rundir/ceph.env"
}

start_rgw() {
    local port
    port=$(cat "$d/rgw.port")
    radosgw -c "$conf" -n client.rgw --pid-file "$d/run/rgw.pid" \
        >>"$d/log/rgw.out" 2>&1 &
    wait_for "radosgw on 127.0.0.1:$port" curl -sf -o /dev/null "http://127.0.0.1:$port/"
}

start_cluster() {
    stop_cluster
    mkdir -p "$d"/{mon,osd,run,log,rgw}
    local monport rgwport fsid
    monport=$(free_port)
    rgwport=$(free_port)
    echo "$rgwport" >"$d/rgw.port"
    fsid=$(cat /proc/sys/kernel/random/uuid)
    cat >"$conf" <<EOF
[global]
fsid = $fsid
mon host = v2:127.0.0.1:$monport
auth cluster required = none
auth service required = none
auth client required = none
ms bind msgr1 = false
ms bind msgr2 = true
run dir = $d/run
admin socket = $d/run/\$name.asok
log file = $d/log/\$name.log
keyring = $d/keyring
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
mon max pg per osd = 1000
osd crush chooseleaf type = 0
[mon.a]
mon data = $d/mon
[osd.0]
osd data = $d/osd
osd objectstore = memstore
memstore device bytes = ${RBT_CEPH_MEMSTORE_BYTES:-4294967296}
osd max object size = 134217728
[client.rgw]
rgw frontends = beast endpoint=127.0.0.1:$rgwport
rgw data = $d/rgw
ms mon client mode = crc
auth client required = none
rgw thread pool size = 64
EOF
    : >"$d/keyring"
    monmaptool --create --addv a "[v2:127.0.0.1:$monport]" --fsid "$fsid" "$d/monmap" \
        >"$d/log/setup.out" 2>&1 || fail "monmaptool failed"
    ceph-mon -c "$conf" -i a --mkfs --monmap "$d/monmap" >>"$d/log/setup.out" 2>&1 ||
        fail "ceph-mon --mkfs failed"
    ceph-mon -c "$conf" -i a --pid-file "$d/run/mon.pid" >>"$d/log/setup.out" 2>&1 ||
        fail "ceph-mon did not start"
    wait_for "the monitor" timeout 5 ceph -c "$conf" mon stat
    local id
    id=$(timeout 30 ceph -c "$conf" osd create 2>>"$d/log/setup.out") || fail "ceph osd create failed"
    [[ $id == 0 ]] || fail "unexpected osd id '$id'"
    ceph-osd -c "$conf" -i 0 --mkfs >>"$d/log/setup.out" 2>&1 || fail "ceph-osd --mkfs failed"
    ceph-osd -c "$conf" -i 0 --pid-file "$d/run/osd.pid" >>"$d/log/setup.out" 2>&1 ||
        fail "ceph-osd did not start"
    wait_for "the OSD to come up" bash -c \
        "timeout 5 ceph -c '$conf' osd dump 2>/dev/null | grep -q '^osd.0 up'"
    start_rgw
    local access secret
    access=RB$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n' | tr a-f A-F)
    secret=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
    radosgw-admin -c "$conf" -n client.rgw user create --uid rbtest --display-name rbtest \
        --access-key "$access" --secret-key "$secret" >>"$d/log/setup.out" 2>&1 ||
        fail "radosgw-admin user create failed"
    cat >"$rundir/ceph.env" <<EOF
export RBT_S3_ENDPOINT=http://127.0.0.1:$rgwport
export RBT_S3_REGION=default
export RBT_S3_ACCESS_KEY=$access
export RBT_S3_SECRET_KEY=$secret
export RBT_CEPH_CONF=$conf
export RBT_CEPH_SCRIPT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/ceph.sh
export RBT_CEPH_RUNDIR=$rundir
EOF
}

case $action in
start) start_cluster ;;
stop) stop_cluster ;;
restart-rgw)
    [[ -f $conf ]] || {
        echo "ceph.sh: no cluster in $rundir" >&2
        exit 1
    }
    kill_pidfile "$d/run/rgw.pid"
    start_rgw
    ;;
kill-rgw)
    kill_pidfile "$d/run/rgw.pid"
    ;;
*)
    echo "usage: $0 start|stop|restart-rgw|kill-rgw RUNDIR" >&2
    exit 2
    ;;
esac
