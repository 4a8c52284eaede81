#!/usr/bin/env bash
# The one entry point: ./build.sh [build|demo|test|clean].
# Builds the static musl binaries out/nsbox and out/nsbox-init, with libseccomp, libcap,
# libarchive, zlib and zstd built from Debian's source packages into a cache dir.
set -euo pipefail
cd "$(dirname "$0")"
TOP=$PWD
OUT=$TOP/out
: "${NSBOX_CACHE:=${XDG_CACHE_HOME:-$HOME/.cache}/nsbox-build}"
export NSBOX_CACHE

say() { printf 'build.sh: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

# Debian packages the build needs on the host, with a command (or file) that proves each one.
BUILD_PKGS=(
  "musl-tools:musl-gcc"
  "make:make"
  "gcc:gcc"
  "dpkg-dev:dpkg-source"
  "linux-libc-dev:/usr/include/linux/sched.h"
  "gperf:gperf"
  "xz-utils:xz"
  "bzip2:bzip2"
  "patch:patch"
  "ca-certificates:/etc/ssl/certs"
)
IMAGE_PKGS=("busybox-static:/bin/busybox")
TEST_PKGS=("bats:bats" "tmux:tmux" "uidmap:newuidmap" "util-linux:unshare" "file:file" "procps:ps" "zstd:zstd"
  "slirp4netns:slirp4netns" "passt:pasta" "nftables:/usr/sbin/nft" "iproute2:ip"
  "qemu-system-x86:qemu-system-x86_64" "cpio:cpio"
  "squashfs-tools:mksquashfs" "erofs-utils:mkfs.erofs" "e2fsprogs:debugfs" "squashfuse:squashfuse"
  "fuse2fs:fuse2fs" "attr:setfattr" "skopeo:skopeo" "podman:podman")

have() { case $1 in /*) [ -e "$1" ] ;; *) command -v "$1" >/dev/null 2>&1 ;; esac; }

# Installs what is missing when root; otherwise names the packages and stops.
ensure_pkgs() {
  local missing=() entry
  for entry in "$@"; do have "${entry#*:}" || missing+=("${entry%%:*}"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    die "missing Debian packages: ${missing[*]} (as root: apt-get install ${missing[*]})"
  fi
  say "installing ${missing[*]}"
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" </dev/null >/dev/null; then
    apt-get update -q </dev/null >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" </dev/null >/dev/null ||
      die "apt-get install ${missing[*]} failed"
  fi
}

build() {
  ensure_pkgs "${BUILD_PKGS[@]}"
  local prefix
  prefix=$(deps/build-deps.sh)
  make -s -j"$(nproc)" DEPS="$prefix" KHDR="$NSBOX_CACHE/kheaders" OUT="$OUT" "$@"
}

build_image() {
  ensure_pkgs "${IMAGE_PKGS[@]}"
  images/busybox/build.sh "$OUT/busybox.tar"
}

demo() {
  build all
  build_image
  tests/demo.sh
}

run_tests() {
  build all tests
  build_image
  ensure_pkgs "${TEST_PKGS[@]}"
  tests/run.sh
}

case ${1:-build} in
  build) build all ;;
  demo) demo ;;
  test) run_tests ;;
  clean) rm -rf "$OUT" ;;
  *) die "usage: ./build.sh [build|demo|test|clean]" ;;
esac
