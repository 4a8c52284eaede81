#!/usr/bin/env bash
# The one entry point: ./build.sh [build|demo|test|bench|clean].
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
  "fuse2fs:fuse2fs" "attr:setfattr" "skopeo:skopeo" "podman:podman" "jq:jq" "hyperfine:hyperfine"
  "sysbench:sysbench" "gnuplot-nox:gnuplot" "iperf3:iperf3" "bubblewrap:bwrap" "crun:crun")
# The peers bench/run.sh compares with (docker.io's dockerd, LXC's lxc-execute, runc for
# podman on hybrid cgroups) and the debootstrap the Debian image is made with.
BENCH_PKGS=("docker.io:dockerd" "lxc:lxc-execute" "runc:runc" "debootstrap:/usr/sbin/debootstrap")

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
  # No package may start a service on this host (docker.io would start a system dockerd,
  # lxc its bridge): without a policy of the host's own, one that refuses every start is
  # in place for the install and removed after.
  local policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\n# build.sh: no service starts during its apt-get install\nexit 101\n' \
      >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && policy=1
  fi
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" </dev/null >/dev/null; then
    apt-get update -q </dev/null >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" </dev/null >/dev/null ||
      { [ -z "$policy" ] || rm -f /usr/sbin/policy-rc.d; die "apt-get install ${missing[*]} failed"; }
  fi
  [ -z "$policy" ] || rm -f /usr/sbin/policy-rc.d
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

# The Debian image with sysbench (images/debian), made once into the build cache (it needs
# Debian's archive) and linked as out/debian.tar for the tests and the benchmark.
build_debian_image() {
  rm -f "$OUT/debian.tar"
  images/debian/build.sh "$NSBOX_CACHE/images/debian.tar" || return 1
  ln -s "$NSBOX_CACHE/images/debian.tar" "$OUT/debian.tar"
}

demo() {
  build all
  build_image
  tests/demo.sh
}

run_tests() {
  build all tests
  build_image
  ensure_pkgs "${TEST_PKGS[@]}" "${BENCH_PKGS[@]}"
  build_debian_image || say "no Debian image (images/debian/build.sh failed): the benchmark tests will skip"
  tests/run.sh
}

# ./build.sh bench [bench/run.sh's options]: the benchmark report (bench/REPORT.md).
run_bench() {
  build all
  build_image
  ensure_pkgs "${TEST_PKGS[@]}" "${BENCH_PKGS[@]}"
  build_debian_image || die "images/debian/build.sh failed: the benchmark needs the Debian image"
  bench/run.sh --image "$OUT/debian.tar" "$@"
}

case ${1:-build} in
  build) build all ;;
  demo) demo ;;
  test) run_tests ;;
  bench) shift && run_bench "$@" ;;
  clean) rm -rf "$OUT" ;;
  *) die "usage: ./build.sh [build|demo|test|bench [--quick] [bench/run.sh options]|clean]" ;;
esac
