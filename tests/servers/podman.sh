#!/bin/bash
# podman.sh start|stop RUNDIR
#
# A Docker-API-compatible engine for the container suite: podman's API
# service on RUNDIR/podman.sock, with its own config, storage, locks and
# runtime state under RUNDIR, so it never reads or changes the machine's
# default podman state. Images come from a tiny busybox root file system
# (Debian's busybox-static) imported as localhost/rbtest:v1 and :v2; no
# registry is needed.
#
# The settings are the ones that work on a VM without systemd or a
# writable cgroup v2 tree: vfs storage, runc, cgroupfs, no container
# network, and ulimits no higher than the machine's hard limits.
#
# Writes RUNDIR/podman.env: RBT_PODMAN_SOCKET (the API socket) and the
# variables a test exports so the podman CLI sees the same engine
# (RBT_PODMAN_CONTAINERS_CONF, RBT_PODMAN_STORAGE_CONF, RBT_PODMAN_BIN).
set -euo pipefail

usage() {
    echo "usage: $0 start|stop RUNDIR" >&2
    exit 2
}

[ $# -eq 2 ] || usage
action=$1
rundir=$(mkdir -p "$2" && cd "$2" && pwd)
base="$rundir/podman"
sock="$rundir/podman.sock"
envfile="$rundir/podman.env"
pidfile="$base/service.pid"
log="$base/service.log"

podman_cli() {
    CONTAINERS_CONF="$base/containers.conf" CONTAINERS_STORAGE_CONF="$base/storage.conf" \
        CONTAINERS_REGISTRIES_CONF="$base/registries.conf" podman "$@"
}

write_config() {
    mkdir -p "$base/graph" "$base/run" "$base/tmp" "$base/volumes" "$base/cni"
    cat >"$base/storage.conf" <<EOF
[storage]
driver = "vfs"
runroot = "$base/run"
graphroot = "$base/graph"
EOF
    cat >"$base/containers.conf" <<EOF
[containers]
netns = "none"
default_ulimits = ["nofile=20000:20000", "nproc=4096:4096"]
log_driver = "k8s-file"
default_sysctls = []

[network]
network_backend = "cni"
network_config_dir = "$base/cni"

[engine]
cgroup_manager = "cgroupfs"
runtime = "runc"
events_logger = "file"
events_logfile_path = "$base/events.log"
tmp_dir = "$base/tmp"
volume_path = "$base/volumes"
lock_type = "file"
no_pivot_root = false
EOF
    # An empty registry list: nothing is ever pulled, only imported.
    cat >"$base/registries.conf" <<EOF
unqualified-search-registries = []
EOF
}

# One image per tag, from the same busybox binary; each carries a file
# naming its tag, so a test can tell which one a container runs.
import_image() {
    local tag=$1 root="$base/rootfs-$1"
    rm -rf "$root"
    mkdir -p "$root/bin" "$root/etc" "$root/tmp" "$root/proc" "$root/sys" "$root/dev"
    cp /bin/busybox "$root/bin/busybox"
    for applet in sh sleep cat echo env ls test true false kill ps id touch mkdir rm grep; do
        ln -s busybox "$root/bin/$applet"
    done
    echo "rbtest $tag" >"$root/etc/rbtest-release"
    echo "root:x:0:0:root:/:/bin/sh" >"$root/etc/passwd"
    echo "root:x:0:" >"$root/etc/group"
    tar -C "$root" -cf "$base/rootfs-$tag.tar" .
    # The shell is PID 1 and so ignores SIGTERM unless it traps it: without
    # the trap every stop would wait out the whole stop timeout.
    podman_cli import --quiet \
        --change "CMD [\"/bin/sh\", \"-c\", \"trap 'exit 0' TERM; while :; do sleep 1 & wait \$!; done\"]" \
        --change "ENV PATH=/bin" \
        "$base/rootfs-$tag.tar" "localhost/rbtest:$tag" >/dev/null
    rm -rf "$root" "$base/rootfs-$tag.tar"
}

# The socket appears once the service listens; podman's own remote client
# then confirms that it answers API calls.
wait_for_socket() {
    local i
    for i in $(seq 1 200); do
        if [ -S "$sock" ] && podman --remote --url "unix://$sock" version >/dev/null 2>&1; then
            return 0
        fi
        if ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
            echo "podman system service exited; its log ($log):" >&2
            cat "$log" >&2
            return 1
        fi
        sleep 0.1
    done
    echo "podman system service did not answer on $sock within 20 s; log: $log" >&2
    return 1
}

start() {
    stop
    if ! command -v podman >/dev/null || ! command -v runc >/dev/null; then
        echo "podman and runc are needed: apt-get install podman runc" >&2
        exit 1
    fi
    if [ ! -x /bin/busybox ]; then
        echo "/bin/busybox is missing: apt-get install busybox-static" >&2
        exit 1
    fi
    write_config
    import_image v1
    import_image v2
    CONTAINERS_CONF="$base/containers.conf" CONTAINERS_STORAGE_CONF="$base/storage.conf" \
        CONTAINERS_REGISTRIES_CONF="$base/registries.conf" \
        setsid podman system service --time=0 "unix://$sock" </dev/null >"$log" 2>&1 &
    echo $! >"$pidfile"
    wait_for_socket
    cat >"$envfile" <<EOF
export RBT_PODMAN_SOCKET='$sock'
export RBT_PODMAN_CONTAINERS_CONF='$base/containers.conf'
export RBT_PODMAN_STORAGE_CONF='$base/storage.conf'
export RBT_PODMAN_REGISTRIES_CONF='$base/registries.conf'
export RBT_PODMAN_BIN='$(command -v podman)'
EOF
}

# Containers keep running under conmon after the service exits, and each
# holds a shm mount under the storage: remove them through podman first,
# then whatever mounts remain, then the files.
stop() {
    if [ -f "$base/storage.conf" ]; then
        podman_cli rm --all --force --time 0 >/dev/null 2>&1 || true
    fi
    if [ -f "$pidfile" ]; then
        local pid
        pid=$(cat "$pidfile")
        if kill "$pid" 2>/dev/null; then
            for _ in $(seq 1 50); do
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.1
            done
            kill -9 "$pid" 2>/dev/null || true
        fi
    fi
    if [ -d "$base" ]; then
        awk -v b="$base/" 'index($2, b) == 1 { print $2 }' /proc/mounts | sort -r |
            while read -r m; do umount -l "$m" 2>/dev/null || true; done
    fi
    rm -rf "$base" "$sock" "$envfile"
}

case "$action" in
start) start ;;
stop) stop ;;
*) usage ;;
esac
