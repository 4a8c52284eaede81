#!/usr/bin/env bash
# Prepares the minimal-host VM that tests/vm.bats boots: Debian bookworm's kernel (the package
# linux-image-amd64 depends on) with the few modules it needs, and an initramfs holding only the
# host's static busybox, nsbox, the busybox image, the VM's init and its test script.
# Prints the dir that holds `vmlinuz`, `initramfs.gz` and `kernel-version` as its only stdout line.
#
# Usage: tests/vm/prepare.sh     (as build.sh: NSBOX_CACHE, default ~/.cache/nsbox-build)
#   NSBOX, BUSYBOX_TAR: what goes in (default out/nsbox, out/busybox.tar of this checkout)
#   NSBOX_VM_REFRESH=1: look for a newer kernel in the archive even when one is cached
# The kernel is downloaded once, through a private apt configuration (deps/apt.sh) so that
# the system's apt state is left alone, and kept in $NSBOX_CACHE/vm/kernel; later runs need no
# network. The initramfs is made anew every time: it holds the nsbox under test.
set -euo pipefail

say() { printf 'vm-prepare: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
: "${NSBOX_CACHE:=${XDG_CACHE_HOME:-$HOME/.cache}/nsbox-build}"
NSBOX=${NSBOX:-$TOP/out/nsbox}
BUSYBOX_TAR=${BUSYBOX_TAR:-$TOP/out/busybox.tar}
BB=/bin/busybox
VMDIR=$NSBOX_CACHE/vm
KDIR=$VMDIR/kernel
APTDIR=$VMDIR/apt
SUITE=bookworm
# Modules the tests need that Debian builds as modules (everything else they use, user and
# cgroup namespaces, cgroup2 and its controllers, devtmpfs, the 8250 serial console, is built
# in: see boot/config-* in the package). Dependencies are added from each module's modinfo.
MODULES=(overlay)

[ "$(dpkg --print-architecture 2>/dev/null)" = amd64 ] ||
  die "the VM boots Debian's amd64 kernel; this host is not amd64"
[ -x "$NSBOX" ] || die "$NSBOX is missing (./build.sh build)"
[ -f "$BUSYBOX_TAR" ] || die "$BUSYBOX_TAR is missing (images/busybox/build.sh $BUSYBOX_TAR)"
# A dynamic busybox (package busybox) names its loader near the top; the VM has no libc.
if [ ! -x "$BB" ] || head -c 4096 "$BB" | grep -q -a '/ld-'; then
  die "$BB is not a static busybox (install busybox-static)"
fi
command -v cpio >/dev/null || die "cpio is not installed (apt-get install cpio)"
mkdir -p "$VMDIR"
# Two runs sharing the cache (parallel test runs) must not interleave.
exec 9>"$VMDIR/.lock"
flock 9

# --- the kernel ---------------------------------------------------------------------------------

# A module's dependencies, from the "depends=" field of its .modinfo section.
ko_depends() { tr '\0' '\n' <"$1" | sed -n 's/^depends=//p' | tr ',' ' '; }

# Downloads the kernel package and keeps vmlinuz, its config and MODULES (with what they
# depend on, in load order) in $KDIR/VERSION, then points $KDIR/current at it.
fetch_kernel() {
  # shellcheck source=deps/apt.sh
  . "$TOP/deps/apt.sh"
  setup_apt deb
  say "reading the Debian package index ($SUITE)"
  apt-get "${APT_OPTS[@]}" update >"$VMDIR/apt-update.log" 2>&1 </dev/null ||
    die "apt-get update failed: see $VMDIR/apt-update.log"
  local pkg kver dl tree order=() todo pending mod path dep
  pkg=$(apt-cache "${APT_OPTS[@]}" depends linux-image-amd64 2>/dev/null |
    sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' | head -n 1)
  [ -n "$pkg" ] || die "linux-image-amd64 names no kernel package in the $SUITE index"
  kver=${pkg#linux-image-}
  if [ -s "$KDIR/$kver/stamp" ] && [ "$(cat "$KDIR/$kver/stamp")" = "${MODULES[*]}" ]; then
    ln -sfn "$kver" "$KDIR/current"
    return 0
  fi
  say "downloading $pkg"
  dl=$(mktemp -d "$VMDIR/dl.XXXXXX")
  # shellcheck disable=SC2064 # expand now: dl is local
  trap "rm -rf '$dl'" EXIT
  (cd "$dl" && apt-get "${APT_OPTS[@]}" download "$pkg") >"$VMDIR/download.log" 2>&1 </dev/null ||
    die "apt-get download $pkg failed: see $VMDIR/download.log"
  tree=$dl/tree
  mkdir -p "$tree"
  dpkg-deb -x "$dl"/*.deb "$tree"
  # Depth first, so that a module's dependencies come before it in the load order.
  todo=("${MODULES[@]}")
  while [ ${#todo[@]} -gt 0 ]; do
    mod=${todo[0]}
    path=$(find "$tree/lib/modules/$kver/kernel" -name "$mod.ko" -o -name "${mod//_/-}.ko" |
      head -n 1)
    [ -n "$path" ] || die "module $mod is not in $pkg"
    pending=()
    for dep in $(ko_depends "$path"); do
      [[ " ${order[*]} " == *" $dep "* ]] || pending+=("$dep")
    done
    if [ ${#pending[@]} -gt 0 ]; then
      todo=("${pending[@]}" "${todo[@]}")
      continue
    fi
    todo=("${todo[@]:1}")
    [[ " ${order[*]} " == *" $mod "* ]] && continue
    order+=("$mod")
    mkdir -p "$dl/out/modules"
    cp "$path" "$dl/out/modules/$mod.ko"
  done
  cp "$tree/boot/vmlinuz-$kver" "$dl/out/vmlinuz"
  cp "$tree/boot/config-$kver" "$dl/out/config"
  printf '%s\n' "${order[@]}" >"$dl/out/modules.load"
  echo "${MODULES[*]}" >"$dl/out/stamp"
  rm -rf "${KDIR:?}/$kver"
  mkdir -p "$KDIR"
  mv "$dl/out" "$KDIR/$kver"
  ln -sfn "$kver" "$KDIR/current"
  rm -rf "$dl"
  trap - EXIT
}

if [ -n "${NSBOX_VM_REFRESH:-}" ] || [ ! -s "$KDIR/current/stamp" ] ||
  [ "$(cat "$KDIR/current/stamp")" != "${MODULES[*]}" ]; then
  fetch_kernel
fi
KVER=$(basename "$(readlink "$KDIR/current")")

# --- the initramfs ------------------------------------------------------------------------------

stage=$(mktemp -d "${TMPDIR:-/tmp}/nsbox-vm.XXXXXX")
trap 'rm -rf "$stage" "$VMDIR/initramfs.gz.tmp"' EXIT
umask 022
mkdir -p "$stage"/{bin,dev,proc,sys,newroot,lib/modules}
cp "$BB" "$stage/bin/busybox"
cp "$NSBOX" "$stage/bin/nsbox"
cp "$BUSYBOX_TAR" "$stage/busybox.tar"
cp "$HERE/init" "$stage/init"
cp "$HERE/tests.sh" "$stage/tests.sh"
chmod 0755 "$stage/bin/busybox" "$stage/bin/nsbox" "$stage/init" "$stage/tests.sh"
cp "$KDIR/current/modules/"*.ko "$KDIR/current/modules.load" "$stage/lib/modules/"
echo "$KVER" >"$stage/kernel-version"
# Owned by root whoever builds it; gzip -1: the kernel unpacks it faster than it would read an
# uncompressed one in, and its size hardly matters.
(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort |
  cpio --quiet -o -H newc -R 0:0 --reproducible) | gzip -1 >"$VMDIR/initramfs.gz.tmp"
mv "$VMDIR/initramfs.gz.tmp" "$VMDIR/initramfs.gz"
ln -sfn "kernel/current/vmlinuz" "$VMDIR/vmlinuz"
echo "$KVER" >"$VMDIR/kernel-version"
echo "$VMDIR"
