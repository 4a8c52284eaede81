#!/usr/bin/env bash
# Builds a minimal busybox root filesystem as a plain tar, shaped like what `docker export`
# writes, from the host's static busybox (Debian's busybox-static). The test image for nsbox.
# Usage: images/busybox/build.sh OUTFILE.tar   (works as root and as a normal user)
set -euo pipefail

say() { printf 'busybox-image: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

[ $# -eq 1 ] || die "usage: $0 OUTFILE.tar"
mkdir -p "$(dirname "$1")"
OUT=$(cd "$(dirname "$1")" && pwd -P)/$(basename "$1")
BB=/bin/busybox
[ -x "$BB" ] || die "$BB not found (install busybox-static)"
# Debian's other busybox package also installs /bin/busybox, dynamically linked: it would not
# run in an image without a libc. A dynamic ELF names its loader (ld-linux/ld-musl) near the top.
if head -c 4096 "$BB" | grep -q -a '/ld-'; then
  die "$BB is dynamically linked (install busybox-static instead of busybox)"
fi

# Reuse the tarball unless busybox or this script changed since. busybox's ctime, not its
# mtime: dpkg keeps the packaged (possibly old) mtime on upgrade, but the ctime is the install.
if [ -f "$OUT" ] && [ "$OUT" -nt "$0" ] &&
  [ "$(stat -c %Y "$OUT")" -gt "$(stat -c %Z "$BB")" ]; then
  exit 0
fi

umask 022
STAGE=$(mktemp -d "${TMPDIR:-/tmp}/nsbox-busybox.XXXXXX")
trap 'rm -rf "$STAGE" "$OUT.tmp.$$"' EXIT

cd "$STAGE"
mkdir -p bin sbin usr/bin usr/sbin etc proc sys dev tmp root home var run
chmod 1777 tmp
chmod 0700 root
cp "$BB" bin/busybox
chmod 0755 bin/busybox

# One relative symlink per applet, at the path busybox itself gives it, so that the image also
# reads correctly when unpacked on the host. linuxrc (at /) is for initrds and is left out.
while read -r applet; do
  case $applet in
    */*) ;;
    *) continue ;;
  esac
  [ "$applet" = bin/busybox ] && continue
  case $applet in
    bin/*) ln -s busybox "$applet" ;;
    *) up=${applet//[^\/]/} # one "/" per directory level below the root
       ln -s "${up//\//../}bin/busybox" "$applet" ;;
  esac
done < <("$BB" --list-full | sort -u)

cat >etc/passwd <<'EOF'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
cat >etc/group <<'EOF'
root:x:0:
tty:x:5:
nogroup:x:65534:
EOF
# Empty, as in docker export: the runtime mounts its own over them, and their presence in the
# image spares a copy-up of /etc in every container.
: >etc/hostname
: >etc/hosts
: >etc/resolv.conf
version=$("$BB" 2>/dev/null | sed -n '1s/^BusyBox v\([^ ]*\).*/\1/p')
cat >etc/os-release <<EOF
NAME="nsbox busybox"
ID=busybox
VERSION_ID=${version:-unknown}
PRETTY_NAME="nsbox test image (BusyBox ${version:-unknown})"
EOF

# Deterministic: sorted, owned by root whoever runs this, and every timestamp set to busybox's
# packaged mtime (or SOURCE_DATE_EPOCH), so the same busybox always gives the same bytes.
# Top-level names without "./", as docker export writes them.
mtime=${SOURCE_DATE_EPOCH:-$(stat -c %Y "$BB")}
names=()
for n in *; do names+=("$n"); done
tar --create --file="$OUT.tmp.$$" --format=gnu --sort=name --numeric-owner --owner=0 \
  --group=0 --mtime="@$mtime" -- "${names[@]}"
mv -f "$OUT.tmp.$$" "$OUT"
