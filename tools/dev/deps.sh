#!/bin/bash
# Installs, from Debian 12's packages, everything rbhost needs to build, to
# run its tests against real servers, and to run the benchmarks.
# Usage: tools/dev/deps.sh [build|test|bench]   (each includes the ones before)
set -euo pipefail
level=${1:-test}

build=(build-essential cmake pkg-config git ca-certificates
       libgit2-dev libarchive-dev libzstd-dev libpq-dev libmariadb-dev libcjson-dev
       libcurl4-openssl-dev libssl-dev libcriterion-dev zstd)
# Real servers and tools the suites drive: PostgreSQL 15, MariaDB 10.11,
# podman's Docker-API service with runc, busybox for container images and
# a tiny HTTP server, acl/attr for file metadata, e2fsprogs for chattr,
# openssl for a TLS endpoint, util-linux for setpriv/runuser.
# nginx: the site tests/watch deploys, breaks and has `rbhost watch` roll
# back (run by the test itself on loopback; the package's service is not used).
test=(postgresql postgresql-client mariadb-server mariadb-client podman runc
      busybox-static uidmap acl attr e2fsprogs openssl util-linux procps
      binutils file tar nginx
      # A single-node Ceph (monitor, memstore OSD, RADOS Gateway): the S3
      # endpoint of tests/s3 and tools/bench/s3.sh (tests/servers/ceph.sh).
      ceph-mon ceph-osd radosgw ceph-common)
# The peers the benchmarks compare against.
bench=(restic borgbackup rsync time hyperfine)

pkgs=("${build[@]}")
[ "$level" = build ] || pkgs+=("${test[@]}")
[ "$level" = bench ] && pkgs+=("${bench[@]}")

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  # Package scripts must not start the servers: the tests start their own.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
