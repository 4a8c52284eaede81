#!/bin/bash
# Writes hostile, uncompressed layer tarballs for the refusal tests. GNU tar will not create
# names that climb out of the archive, so the ustar headers are written here byte by byte.
#
# Usage: mkevil.sh OUT.tar KIND [TARGET]
#   dotdot        ok, ../escaped
#   dotdot-mid    ok, sub/, sub/../../escaped   (only a check of every component catches it)
#   abs           ok, /escaped
#   symlink-out   ok, link -> TARGET (default /tmp), link/escaped
#   hardlink-out  ok, link hard-linked to TARGET (default ../outside)
# Each archive starts with a harmless file "ok", so a runtime that refuses only when it meets
# the bad entry must also clean up what it already wrote.
set -euo pipefail

# Byte counts, not characters, for the field widths.
export LC_ALL=C

PROG=${0##*/}
die() {
	printf '%s: %s\n' "$PROG" "$*" >&2
	exit 2
}

# VALUE padded with NULs to WIDTH bytes: every ustar field is fixed-width.
field() {
	((${#1} <= $2)) || die "'$1' does not fit in $2 bytes"
	printf '%s' "$1"
	head -c $(($2 - ${#1})) /dev/zero
}

# Appends one 512-byte ustar header to file $1: NAME TYPEFLAG SIZE LINKNAME MODE.
# The checksum is the byte sum of the header with its own field read as spaces.
put_header() {
	local out=$1 name=$2 type=$3 size=$4 link=$5 mode=$6 hdr sum=0 b
	hdr=$(mktemp "${TMPDIR:-/tmp}/mkevil.XXXXXX")
	{
		field "$name" 100
		field "$(printf %07o "$((8#$mode))")" 8 # octal text, like every number here
		field 0000000 8 # uid
		field 0000000 8 # gid
		field "$(printf %011o "$size")" 12
		field 00000000000 12 # mtime
		printf '        '    # checksum, spaces while summing
		printf '%s' "$type"
		field "$link" 100
		field ustar 6
		printf 00
		field root 32
		field root 32
		field "" 8 # devmajor
		field "" 8 # devminor
		field "" 155 # prefix
		field "" 12
	} >"$hdr"
	for b in $(od -An -v -tu1 "$hdr"); do sum=$((sum + b)); done
	printf '%06o\0 ' "$sum" | dd of="$hdr" bs=1 seek=148 conv=notrunc status=none
	cat "$hdr" >>"$out"
	rm -f "$hdr"
}

# A regular file entry with CONTENT, its data padded to the next 512-byte block.
put_file() {
	local out=$1 name=$2 content=$3
	put_header "$out" "$name" 0 "${#content}" "" 644
	printf '%s' "$content" >>"$out"
	head -c $(((512 - ${#content} % 512) % 512)) /dev/zero >>"$out"
}

# Two zero blocks end a tar archive.
put_end() {
	head -c 1024 /dev/zero >>"$1"
}

main() {
	(($# >= 2)) || die "usage: $PROG OUT.tar KIND [TARGET]"
	local out=$1 kind=$2 target=${3:-} tmp expect
	tmp=$(mktemp "${TMPDIR:-/tmp}/mkevil.XXXXXX")
	# shellcheck disable=SC2064 # expanded now: $tmp is local and gone when the trap runs
	trap "rm -f '$tmp'" EXIT
	put_file "$tmp" ok $'ok\n'
	case $kind in
	dotdot)
		put_file "$tmp" ../escaped $'escaped\n'
		expect=$'ok\n../escaped'
		;;
	dotdot-mid)
		put_header "$tmp" sub/ 5 0 "" 755
		put_file "$tmp" sub/../../escaped $'escaped\n'
		expect=$'ok\nsub/\nsub/../../escaped'
		;;
	abs)
		put_file "$tmp" /escaped $'escaped\n'
		expect=$'ok\n/escaped'
		;;
	symlink-out)
		put_header "$tmp" link 2 0 "${target:-/tmp}" 777
		put_file "$tmp" link/escaped $'escaped\n'
		expect=$'ok\nlink\nlink/escaped'
		;;
	hardlink-out)
		put_header "$tmp" link 1 0 "${target:-../outside}" 644
		expect=$'ok\nlink'
		;;
	*) die "unknown kind $kind" ;;
	esac
	put_end "$tmp"
	# GNU tar must read the names back unchanged (-P keeps it from stripping them), or the
	# test would be checking a harmless archive.
	[[ $(tar -tPf "$tmp") == "$expect" ]] || die "tar does not read $kind back as written"
	mv -f "$tmp" "$out"
}

main "$@"
