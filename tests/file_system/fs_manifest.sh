#!/bin/sh
# Prints a manifest of the tree at $1, computed without rbhost: type, mode,
# owner, mtime (ns), symlink targets, sizes, link groups, device numbers,
# SHA-256 of every file, every extended attribute and ACL. Two trees are
# equal for a user when their manifests are.
set -e
cd "$1"
export LC_ALL=C
find . -printf '%y %m %U:%G %T@ %p|%l\n' | sort
find . -type f -printf '%s %n %p\n' | sort
find . \( -type b -o -type c \) -exec stat -c '%t:%T %n' {} + | sort
find . -type f -links +1 -printf '%i %p\n' | sort |
    awk '{g[$1] = g[$1] " " $2} END {for (k in g) print "linked" g[k]}' | sort
find . -type f -print0 | sort -z | xargs -0 -r sha256sum
getfattr -R -P -d -m - -e hex . 2>/dev/null |
    awk '/^# file:/ {f = $3; next} /=/ {print f " " $0}' | sort
getfacl -R -P -p . 2>/dev/null |
    awk '/^# file:/ {f = $3; next} /^[a-z]/ {print f " " $0}' | sort
