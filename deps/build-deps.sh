#!/usr/bin/env bash
# Builds the static musl libraries nsbox links (zlib, zstd, libarchive, libcap, libseccomp) from
# Debian bookworm's source packages into "$NSBOX_CACHE/prefix", and prints that prefix as the only
# line on stdout. Everything else goes to stderr or to "$NSBOX_CACHE/log/".
#
# Usage (from build.sh): prefix=$(NSBOX_CACHE=... deps/build-deps.sh)
# NSBOX_DEPS_REFRESH=1 re-reads the archive and rebuilds any library Debian has updated since.
set -euo pipefail

say() { printf 'build-deps: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

[ -n "${NSBOX_CACHE:-}" ] || die "NSBOX_CACHE is not set"
mkdir -p "$NSBOX_CACHE" || die "cannot create $NSBOX_CACHE"
CACHE=$(cd "$NSBOX_CACHE" && pwd -P)
PREFIX=$CACHE/prefix
KHDR=$CACHE/kheaders
STAMPS=$CACHE/stamps
LOGS=$CACHE/log
APTDIR=$CACHE/apt
SRCDIR=$CACHE/src
BUILDDIR=$CACHE/build

# Pinned so that every machine builds the same library versions, whatever its own release.
SUITE=bookworm
JOBS=$(nproc 2>/dev/null || echo 2)

# musl-gcc only knows musl's own headers; sections let the final link drop unused code.
CC=musl-gcc
OPTFLAGS="-Os -ffunction-sections -fdata-sections"
# Keeps configure scripts from picking up the host's glibc .pc files.
export PKG_CONFIG_LIBDIR=$PREFIX/lib/pkgconfig PKG_CONFIG_PATH=
export LC_ALL=C

# Source packages in build order (libarchive needs zlib and zstd installed first), and the
# library each one leaves in $PREFIX/lib.
PKGS=(zlib libzstd libarchive libcap2 libseccomp)
declare -A PRODUCT=([zlib]=libz.a [libzstd]=libzstd.a [libarchive]=libarchive.a
  [libcap2]=libcap.a [libseccomp]=libseccomp.a)

# --- the per-library recipes; each runs inside the unpacked source tree with errexit on --------

build_zlib() {
  CC=$CC CFLAGS=$OPTFLAGS ./configure --static --prefix="$PREFIX"
  make -j"$JOBS" libz.a
  make install
}

build_libzstd() {
  # Legacy (pre-1.0 frame) decoders, the dictionary builder and deprecated APIs are never used
  # by libarchive; leaving them out shrinks the library by about a third. CFLAGS goes through
  # the environment so that the Makefile still appends its own flags.
  local vars=(CC="$CC" PREFIX="$PREFIX" ZSTD_LEGACY_SUPPORT=0 ZSTD_LIB_DICTBUILDER=0
    ZSTD_LIB_DEPRECATED=0)
  CFLAGS=$OPTFLAGS make -C lib -j"$JOBS" "${vars[@]}" libzstd.a
  # Same variables again: the object dir name hashes them, a mismatch would rebuild.
  CFLAGS=$OPTFLAGS make -C lib "${vars[@]}" install-static install-includes
}

build_libarchive() {
  # Only zlib and zstd: everything else libarchive can use would drag in another library.
  # --disable-maintainer-mode matters: Debian's patches touch Makefile.am and configure.ac, and
  # without it make would try to rerun automake, which the build host does not need otherwise.
  CC=$CC CFLAGS=$OPTFLAGS CPPFLAGS="-I$PREFIX/include" LDFLAGS="-L$PREFIX/lib" \
    ./configure --prefix="$PREFIX" --disable-shared --enable-static \
    --disable-maintainer-mode --disable-dependency-tracking --disable-rpath \
    --disable-bsdtar --disable-bsdcat --disable-bsdcpio --disable-acl --disable-xattr \
    --with-zlib --with-zstd --without-bz2lib --without-lzma --without-lz4 --without-lzo2 \
    --without-libb2 --without-xml2 --without-expat --without-openssl --without-nettle \
    --without-mbedtls --without-cng --without-iconv
  # Check that configure really found both, since it silently drops what it cannot find.
  grep -q '^#define HAVE_ZLIB_H 1' config.h || { echo "configure did not find zlib"; return 1; }
  grep -q '^#define HAVE_ZSTD_H 1' config.h || { echo "configure did not find zstd"; return 1; }
  make -j"$JOBS" libarchive.la
  make install-libLTLIBRARIES install-includeHEADERS
}

build_libcap2() {
  # CFLAGS on the command line overrides the Makefile's "+= -fPIC" (a static library does not
  # need it). BUILD_CC builds the host-side name generator. No Go, no PAM, no libpsx.
  make -C libcap -j"$JOBS" CC="$CC" BUILD_CC=gcc CFLAGS="$OPTFLAGS -isystem $KHDR" \
    SHARED=no PTHREADS=no GOLANG=no PAM_CAP=no USE_GPERF=yes prefix="$PREFIX" lib=lib \
    install-static-cap
}

build_libseccomp() {
  # Needs the kernel's uapi headers (linux/audit.h, linux/seccomp.h), hence the -isystem.
  CC=$CC CFLAGS="$OPTFLAGS -isystem $KHDR" \
    ./configure --prefix="$PREFIX" --disable-shared --enable-static --disable-python \
    --disable-dependency-tracking
  # Only the library and its header: the tools and tests are not needed.
  make -C include
  make -C src -j"$JOBS" libseccomp.la
  make -C include install
  make -C src install-libLTLIBRARIES
}

# --- cache --------------------------------------------------------------------------------------

# A library is rebuilt when its source version or its recipe (the function body above plus the
# shared flags) changes; `declare -f` ignores comments, so editing prose costs nothing.
recipe_hash() {
  { declare -f "build_$1"; echo "$CC $OPTFLAGS $SUITE"; } | sha256sum | cut -c1-16
}

# True when the stamp for $1 was written by the current recipe and its library is still there.
is_built() {
  local stamp
  [ -f "$PREFIX/lib/${PRODUCT[$1]}" ] && [ -r "$STAMPS/$1" ] || return 1
  read -r _ stamp <"$STAMPS/$1" && [ "$stamp" = "$(recipe_hash "$1")" ]
}

# musl-gcc does not search /usr/include, so the few kernel uapi dirs the libraries (and nsbox)
# need are exposed through a private dir passed with -isystem.
make_kheaders() {
  local multiarch
  multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)
  mkdir -p "$KHDR"
  ln -sfn /usr/include/linux "$KHDR/linux"
  ln -sfn "/usr/include/$multiarch/asm" "$KHDR/asm"
  ln -sfn /usr/include/asm-generic "$KHDR/asm-generic"
  if [ ! -e "$KHDR/linux/seccomp.h" ] || [ ! -e "$KHDR/asm/unistd.h" ]; then
    die "kernel headers not found under /usr/include (install linux-libc-dev)"
  fi
}

# --- private apt --------------------------------------------------------------------------------

# setup_apt and APT_OPTS: apt-get with its own sources, lists and cache under $APTDIR.
# shellcheck source=deps/apt.sh
. "$(dirname "$0")/apt.sh"

apt_update() {
  say "reading the Debian source index ($SUITE)"
  apt-get "${APT_OPTS[@]}" update >"$LOGS/apt-update.log" 2>&1 </dev/null ||
    fail_with_log "apt-get update failed" "$LOGS/apt-update.log"
}

# Newest version of source package $1 across bookworm, -updates and -security. Not left to
# `apt-get source`, which takes the first index's version rather than the highest.
latest_version() {
  local v best=""
  for v in $(apt-cache "${APT_OPTS[@]}" showsrc --only-source "$1" 2>/dev/null |
    sed -n 's/^Version: //p'); do
    if [ -z "$best" ] || dpkg --compare-versions "$v" gt "$best"; then best=$v; fi
  done
  [ -n "$best" ] || die "source package $1 not found in the $SUITE index"
  echo "$best"
}

# --- building -----------------------------------------------------------------------------------

fail_with_log() {
  say "$1; last lines of $2:"
  tail -n 40 "$2" >&2 || true
  die "$1 (full log: $2)"
}

# Downloads, unpacks (with Debian's patches) and builds source package $1 at version $2.
build_pkg() {
  local pkg=$1 ver=$2 log=$LOGS/$1.log dl=$SRCDIR/$1 dsc tree rc
  say "building $pkg $ver"
  rm -rf "${dl:?}" "${BUILDDIR:?}/$pkg"
  mkdir -p "$dl" "$BUILDDIR"
  (cd "$dl" && apt-get "${APT_OPTS[@]}" --download-only source "$pkg=$ver") \
    >"$log" 2>&1 </dev/null || fail_with_log "downloading $pkg $ver failed" "$log"
  dsc=$(ls "$dl"/*.dsc)
  tree=$BUILDDIR/$pkg
  # apt-get already checked every file's hash against the signed index, so dpkg-source's own
  # signature check (which needs keyrings a user may not have) adds nothing.
  dpkg-source --no-check -x "$dsc" "$tree" >>"$log" 2>&1 ||
    fail_with_log "unpacking $pkg $ver failed" "$log"
  # errexit is ignored inside a function called from a condition, so run the recipe as a plain
  # command in a subshell with errexit switched back on, and collect its status afterwards.
  set +e
  (set -e; cd "$tree"; "build_$pkg") >>"$log" 2>&1 </dev/null
  rc=$?
  set -e
  [ "$rc" -eq 0 ] || fail_with_log "building $pkg $ver failed" "$log"
  [ -f "$PREFIX/lib/${PRODUCT[$pkg]}" ] ||
    fail_with_log "building $pkg left no $PREFIX/lib/${PRODUCT[$pkg]}" "$log"
  mkdir -p "$STAMPS"
  echo "$ver $(recipe_hash "$pkg")" >"$STAMPS/$pkg"
  rm -rf "$tree" "$dl"
}

main() {
  local pkg todo=() ver
  mkdir -p "$LOGS"
  # Two builds sharing a cache (e.g. parallel test runs) must not interleave.
  exec 9>"$CACHE/.lock"
  flock 9

  make_kheaders
  for pkg in "${PKGS[@]}"; do
    if [ -n "${NSBOX_DEPS_REFRESH:-}" ] || ! is_built "$pkg"; then todo+=("$pkg"); fi
  done
  if [ ${#todo[@]} -gt 0 ]; then
    command -v "$CC" >/dev/null || die "$CC not found (install musl-tools)"
    setup_apt deb-src
    apt_update
    for pkg in "${todo[@]}"; do
      ver=$(latest_version "$pkg")
      if [ -r "$STAMPS/$pkg" ] && [ "$(cat "$STAMPS/$pkg")" = "$ver $(recipe_hash "$pkg")" ] &&
        [ -f "$PREFIX/lib/${PRODUCT[$pkg]}" ]; then
        continue
      fi
      build_pkg "$pkg" "$ver"
    done
  fi
  echo "$PREFIX"
}

main "$@"
