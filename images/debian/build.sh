#!/usr/bin/env bash
# Builds a Debian bookworm minbase root filesystem with sysbench, as a plain tar shaped like
# what `docker export` writes, for `nsbox image import FILE debian:bookworm`. debootstrap, apt-get
# and tar all run in nsbox containers (slirp4netns for the network), so a normal user with a
# subordinate id range builds it without root, and the tarball holds the in-container ids.
# Usage: images/debian/build.sh [--force] OUTFILE.tar   (works as root and as a normal user)
#   NSBOX (default: out/nsbox of this checkout, else nsbox in PATH), DEBIAN_MIRROR,
#   DEBIAN_SECURITY_MIRROR, TMPDIR (the build needs about 300 MB there).
set -euo pipefail

say() { printf 'debian-image: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

SUITE=bookworm
PACKAGES=(sysbench procps iproute2)
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

force=0
args=()
for a in "$@"; do
  case $a in
    --force) force=1 ;;
    -*) die "unknown option $a (usage: $0 [--force] OUTFILE.tar)" ;;
    *) args+=("$a") ;;
  esac
done
[ ${#args[@]} -eq 1 ] || die "usage: $0 [--force] OUTFILE.tar"
mkdir -p "$(dirname "${args[0]}")"
OUT=$(cd "$(dirname "${args[0]}")" && pwd -P)/$(basename "${args[0]}")

# Reuse the tarball unless this script changed since. The archive moves on (point releases,
# security updates); --force builds afresh.
if [ $force -eq 0 ] && [ -f "$OUT" ] && [ "$OUT" -nt "$0" ]; then
  say "$OUT is up to date (--force rebuilds it)"
  exit 0
fi

# Debian packages needed on the host, with a command (or file) that proves each one. Rootless
# nsbox needs newuidmap for the subordinate range: debootstrap chowns files to system users.
PKGS=("debootstrap:/usr/sbin/debootstrap" "debian-archive-keyring:$KEYRING" "gpgv:gpgv"
  "slirp4netns:slirp4netns" "tar:tar")
[ "$(id -u)" -eq 0 ] || PKGS+=("uidmap:newuidmap")
have() { case $1 in /*) [ -e "$1" ] ;; *) command -v "$1" >/dev/null 2>&1 ;; esac; }
missing=()
for entry in "${PKGS[@]}"; do have "${entry#*:}" || missing+=("${entry%%:*}"); done
if [ ${#missing[@]} -gt 0 ]; then
  [ "$(id -u)" -eq 0 ] ||
    die "missing Debian packages: ${missing[*]} (as root: apt-get install ${missing[*]})"
  say "installing ${missing[*]}"
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" </dev/null >/dev/null
  then
    apt-get update -q </dev/null >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" </dev/null >/dev/null ||
      die "apt-get install ${missing[*]} failed"
  fi
fi

if [ -z "${NSBOX:-}" ]; then
  NSBOX=$(cd "$(dirname "$0")/../.." && pwd -P)/out/nsbox
  [ -x "$NSBOX" ] || NSBOX=$(command -v nsbox) ||
    die "no nsbox: run ./build.sh first, put nsbox in PATH or set NSBOX"
fi
[ -x "$NSBOX" ] || die "NSBOX=$NSBOX is not executable"

umask 022
WORK=$(mktemp -d "${TMPDIR:-/tmp}/nsbox-debian.XXXXXX")
# -v takes HOST:CTR, so the work dir's path must not hold a ':' (nor a ',', for good measure).
case $WORK in *[:,]*) rmdir "$WORK"; die "TMPDIR must not contain ':' or ',' ($WORK)" ;; esac
TOOLS=$WORK/tools   # the host's programs, read-only, around an empty root: debootstrap and tar
ROOTFS=$WORK/rootfs # the new system
LOG=$WORK/build.log
start=$(date +%s)

# Files of the new system belong to subordinate ids the user cannot remove on the host; a
# container (in the user namespace) removes them.
cleanup() {
  local rc=$?
  if [ $rc -ne 0 ] && [ -s "$LOG" ]; then
    say "failed; the last lines of the log:"
    tail -n 25 "$LOG" >&2
  fi
  if [ -d "$ROOTFS" ] && [ -x "$TOOLS/usr" ]; then
    "$NSBOX" run --rm --rootfs "$TOOLS" --network none -v "$WORK:/work" \
      rm -rf /work/rootfs </dev/null >/dev/null 2>&1 || true
  fi
  rm -rf "$WORK" "$OUT.tmp.$$" 2>/dev/null || say "could not remove $WORK"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# step MESSAGE CMD...: runs CMD with its output in the log, says what failed if it fails.
step() {
  local what=$1
  shift
  say "$what"
  printf '\n=== %s\n' "$what" >>"$LOG"
  "$@" </dev/null >>"$LOG" 2>&1 || die "$what: failed (exit $?)"
}

# The toolbox: an empty root with the host's /usr (and the merged-/usr links, or binds for an
# unmerged host) read-only, a few /etc files, and the new system on /target. `--rootfs /`
# would be simpler, but nsbox refuses the host's root as a rootfs. The mount points exist
# beforehand because the root is read-only.
mkdir -p "$TOOLS"/{usr,etc,dev,proc,sys,tmp,root,target} "$ROOTFS"
TOOL_ARGS=(--rootfs "$TOOLS" --read-only --tmpfs /tmp -v /usr:/usr:ro)
for d in bin sbin lib lib32 lib64 libx32; do
  if [ -L "/$d" ]; then
    ln -s "$(readlink "/$d")" "$TOOLS/$d"
  elif [ -d "/$d" ]; then
    mkdir "$TOOLS/$d"
    TOOL_ARGS+=(-v "/$d:/$d:ro")
  fi
done
for f in passwd group nsswitch.conf ld.so.cache; do
  if [ -f "/etc/$f" ]; then cp "/etc/$f" "$TOOLS/etc/"; fi
done
# alternatives: /usr/bin links through it; ssl: https mirrors; apt: debootstrap asks apt-config
# for the host's proxy auto-detection.
for d in alternatives ssl apt; do
  if [ -d "/etc/$d" ]; then
    mkdir "$TOOLS/etc/$d"
    TOOL_ARGS+=(-v "/etc/$d:/etc/$d:ro")
  fi
done
: >"$TOOLS/etc/hostname"
: >"$TOOLS/etc/hosts"
: >"$TOOLS/etc/resolv.conf"

# Without a subordinate range nsbox maps only uid 0, and dpkg cannot chown files to the system
# users (man, _apt, shadow ...); apt's sandbox user _apt has the group nogroup, 65534, hence a
# whole range of 65536. Say so before anything is downloaded.
if [ "$(id -u)" -ne 0 ]; then
  maps=$("$NSBOX" run --rm "${TOOL_ARGS[@]}" --network none \
    sh -c 'cat /proc/self/uid_map; echo; cat /proc/self/gid_map' </dev/null) ||
    die "nsbox cannot run a container here (its message is above)"
  read -r u g < <(awk 'BEGIN{n=0} NF==0{n++; next} {c[n]+=$3} END{print c[0]+0, c[1]+0}' <<<"$maps")
  if [ "$u" -lt 65536 ] || [ "$g" -lt 65536 ]; then
    die "nsbox maps only $u uids and $g gids for $(id -un): Debian's system users need a" \
      "subordinate range of 65536 in /etc/subuid and /etc/subgid (usermod --add-subuids" \
      "100000-165535 --add-subgids 100000-165535 $(id -un)) and newuidmap/newgidmap (uidmap)"
  fi
fi

# debootstrap in containers: uid 0 of the user namespace passes its root check and may chown
# and chroot. Device nodes cannot be made there (nor as root: MKNOD is dropped, so both ways
# give the same tree); container=lxc makes debootstrap skip its mknod test and take the
# failures of its own mknods (nsbox gives every container a /dev of its own anyway).
DEB_ARGS=(--cap-drop MKNOD -e container=lxc)
step "debootstrap $SUITE, first stage (download and unpack, $MIRROR)" \
  "$NSBOX" run --rm "${TOOL_ARGS[@]}" -v "$ROOTFS:/target" --network slirp4netns "${DEB_ARGS[@]}" \
  /usr/sbin/debootstrap --variant=minbase --foreign --keyring="$KEYRING" \
  "$SUITE" /target "$MIRROR"
step "debootstrap $SUITE, second stage (configure, in the new system)" \
  "$NSBOX" run --rm --rootfs "$ROOTFS" --network none "${DEB_ARGS[@]}" \
  /debootstrap/debootstrap --second-stage

# The suite's updates and security updates too, as in Debian's official container images.
rm -f "$ROOTFS/etc/apt/sources.list"
cat >"$ROOTFS/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $MIRROR
Suites: $SUITE $SUITE-updates
Components: main
Signed-By: $KEYRING

Types: deb
URIs: $SECURITY_MIRROR
Suites: $SUITE-security
Components: main
Signed-By: $KEYRING
EOF
step "apt-get upgrade and install ${PACKAGES[*]} (slirp4netns)" \
  "$NSBOX" run --rm --rootfs "$ROOTFS" --network slirp4netns -e DEBIAN_FRONTEND=noninteractive \
  sh -euc 'apt-get update -q
    apt-get -y -q -o Dpkg::Options::=--force-confold dist-upgrade
    apt-get -y -q --no-install-recommends install "$@"
    apt-get clean
    rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/cache/debconf/*-old \
      /var/lib/dpkg/*-old /var/log/bootstrap.log /var/log/apt/eipp.log.xz' sh "${PACKAGES[@]}"

# Empty, as in docker export: nsbox mounts its own over them. debootstrap copied the build
# container's ones in.
: >"$ROOTFS/etc/hostname"
: >"$ROOTFS/etc/hosts"
: >"$ROOTFS/etc/resolv.conf"

# tar in the user namespace, so the archive holds the container's ids, not the subordinate
# ones of the host (whose files the user could not even read all of). Sorted, numeric ids,
# top-level names without "./" as docker export writes them. A device node would not import
# rootless; none can be there (MKNOD was dropped), which is checked rather than assumed.
say "writing $OUT"
# shellcheck disable=SC2016 # expanded in the container
"$NSBOX" run --rm "${TOOL_ARGS[@]}" -v "$ROOTFS:/target:ro" --network none sh -c '
  cd /target
  node=$(find . -xdev \( -type b -o -type c \) -print -quit)
  [ -z "$node" ] || { echo "a device node in the tree: $node" >&2; exit 1; }
  exec tar --create --file=- --format=gnu --sort=name --numeric-owner -- *' \
  </dev/null >"$OUT.tmp.$$" 2>>"$LOG" || die "tar of the tree failed"
mv -f "$OUT.tmp.$$" "$OUT"
say "done in $(($(date +%s) - start)) s: $OUT, $(du -m "$OUT" | cut -f1) MB"
