#!/usr/bin/env bats
# nsbox image export: an image's files, layers merged, as one squashfs, ext4 or erofs file,
# made without root by mksquashfs, mkfs.ext4 -d and mkfs.erofs and read back here with the
# same packages' readers (unsquashfs; debugfs; dump.erofs and fsck.erofs), never mounted.
# Checked: whiteouts and opaque dirs applied, file contents, owners as in the container (not
# the subordinate ids the store keeps them as), and that a failed export leaves nothing.
load helpers

MKIMAGE="$BATS_TEST_DIRNAME/helpers/mkimage.sh"


# Skips unless the writer and the readers of format $1 are installed.
need_tools() {
  local t pkg
  case $1 in
  squashfs) pkg=squashfs-tools t="mksquashfs unsquashfs" ;;
  ext4) pkg=e2fsprogs t="mkfs.ext4 debugfs" ;;
  erofs) pkg=erofs-utils t="mkfs.erofs dump.erofs fsck.erofs" ;;
  esac
  for t in $t; do
    tool_path "$t" >/dev/null || skip "$t is not installed (package $pkg)"
  done
  # The readers used below: unsquashfs -cat (4.5), fsck.erofs --extract (1.5).
  case $1 in
  squashfs) unsquashfs -help 2>&1 | grep -q -- -cat || skip "unsquashfs has no -cat (older than 4.5)" ;;
  erofs) fsck.erofs --help 2>&1 | grep -q -- --extract || skip "fsck.erofs has no --extract (older than 1.5)" ;;
  esac
}

# Layers: busybox plus /etc/gone, /opq/old and /keep/file; a layer deleting /etc/gone
# (whiteout) and making /opq opaque with /opq/new; a layer (a raw tar) with /srv/owned owned
# by 1000:1000.
setup_file() {
  local l="$BATS_FILE_TMPDIR/layers"
  mkdir -p "$l/base" "$l/mid/etc" "$l/mid/opq" "$l/top/srv"
  tar -C "$l/base" -xf "$BUSYBOX_TAR"
  mkdir -p "$l/base/opq" "$l/base/keep"
  echo gone >"$l/base/etc/gone"
  echo old >"$l/base/opq/old"
  echo kept >"$l/base/keep/file"
  touch "$l/mid/etc/.wh.gone" "$l/mid/opq/.wh..wh..opq"
  echo new >"$l/mid/opq/new"
  echo mine >"$l/top/srv/owned"
  tar --sort=name --numeric-owner --owner=1000 --group=1000 --mtime=@0 -C "$l/top" \
    -cf "$l/owned.tar" ./srv
  "$MKIMAGE" oci "$BATS_FILE_TMPDIR/img" "$l/base" "$l/mid" --raw-layer "$l/owned.tar" >/dev/null
  nsbox image load "$BATS_FILE_TMPDIR/img" layered >/dev/null 2>&1
}

teardown_file() {
  nsbox image rm layered >/dev/null 2>&1 || true
}

# A background export a failed test left: its worker and tool die with it.
teardown() {
  [ -z "${BG_PID:-}" ] || kill -KILL "$BG_PID" 2>/dev/null || true
}

# ---- reading an exported file: fs_ls FORMAT FILE DIR, fs_cat FORMAT FILE PATH,
# ---- fs_owner FORMAT FILE PATH (uid:gid)

# "UID/GID PATH" for each entry of squashfs file $1, its root called /R. The path is the
# first field starting /R: a device's size column is "MAJOR, MINOR", two fields.
sq_list() {
  unsquashfs -d /R -lln "$1" |
    awk '{ for (i = 3; i <= NF; i++) if (index($i, "/R") == 1) { print $2, $i; next } }'
}

fs_ls() {
  case $1 in
  squashfs)
    sq_list "$2" | awk -v d="/R${3%/}/" \
      'index($2, d) == 1 && substr($2, length(d) + 1) !~ /\// { print substr($2, length(d) + 1) }'
    ;;
  ext4)
    "$(tool_path debugfs)" -R "ls -p $3" "$2" 2>/dev/null |
      awk -F/ '$6 != "." && $6 != ".." && $6 != "lost+found" && $6 != "" { print $6 }'
    ;;
  erofs)
    dump.erofs --ls --path="$3" "$2" |
      awk 'on && $3 != "." && $3 != ".." { print $3 } /NID +TYPE +FILENAME/ { on = 1 }'
    ;;
  esac | sort
}

fs_cat() {
  case $1 in
  squashfs) unsquashfs -cat "$2" "$3" ;;
  ext4) "$(tool_path debugfs)" -R "cat $3" "$2" 2>/dev/null ;;
  erofs)
    # fsck.erofs 1.5 has no cat: the whole tree, extracted once, owners as the caller's.
    [ -d "$2.x" ] || fsck.erofs --extract="$2.x" --no-preserve "$2" >/dev/null
    cat "$2.x$3"
    ;;
  esac
}

fs_owner() {
  case $1 in
  squashfs) sq_list "$2" | awk -v p="/R$3" '$2 == p { sub("/", ":", $1); print $1 }' ;;
  ext4) "$(tool_path debugfs)" -R "stat $3" "$2" 2>/dev/null | awk '/^User:/ { print $2 ":" $4 }' ;;
  erofs) dump.erofs --path="$3" "$2" | awk '/^Uid:/ { print $2 ":" $4 }' ;;
  esac
}

# Nothing of a failed export: neither FILE nor FILE.tmp-*, nor the store's work dir.
assert_nothing_left() {
  local dir=${1%/*} base=${1##*/}
  if [ -d "$dir" ]; then
    run ls -A "$dir"
    [[ $output != *"$base"* ]] || {
      echo "left behind in $dir: $output"
      return 1
    }
  fi
  [ "$(tmp_dirs)" -eq 0 ]
}

# What uid 1000 of an image is in the export: itself, unless rootless without a subordinate
# range, where the store keeps such files as root (the load said so).
owner_1000() {
  if is_root_mode || has_subids; then echo 1000:1000; else echo 0:0; fi
}

export_busybox() {
  need_tools "$1"
  local f="$BATS_TEST_TMPDIR/busybox.$1"
  run nsbox image export --format "$1" busybox "$f"
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  [ -f "$f" ]
  # The caller's own file, even when made by the root of a user namespace.
  [ "$(stat -c %u "$f")" = "$(id -u)" ]
  [ "$(tmp_dirs)" -eq 0 ]
  run fs_ls "$1" "$f" /
  [[ $'\n'$output$'\n' == *$'\n'bin$'\n'*$'\n'etc$'\n'* ]]
  run fs_ls "$1" "$f" /bin
  [ "${#lines[@]}" -eq "$(tar -tf "$BUSYBOX_TAR" | grep -c '^bin/.')" ]
  [ "$(fs_cat "$1" "$f" /bin/busybox | cmp - <(tar -xOf "$BUSYBOX_TAR" bin/busybox) && echo same)" = same ]
  [ "$(fs_cat "$1" "$f" /etc/passwd)" = "$(tar -xOf "$BUSYBOX_TAR" etc/passwd)" ]
  [ "$(fs_owner "$1" "$f" /bin/busybox)" = 0:0 ]
}

export_layered() {
  need_tools "$1"
  local f="$BATS_TEST_TMPDIR/layered.$1"
  run nsbox image export --format "$1" layered "$f"
  [ "$status" -eq 0 ]
  [ "$(tmp_dirs)" -eq 0 ]
  # The whiteout of the middle layer hides /etc/gone of the bottom one.
  run fs_ls "$1" "$f" /etc
  [[ $'\n'$output$'\n' == *$'\n'passwd$'\n'* ]]
  [[ $'\n'$output$'\n' != *$'\n'gone$'\n'* ]]
  # The opaque /opq shows the middle layer's content only.
  run fs_ls "$1" "$f" /opq
  [ "$output" = new ]
  [ "$(fs_cat "$1" "$f" /opq/new)" = new ]
  # The bottom layer's files and the top layer's are all there.
  [ "$(fs_cat "$1" "$f" /keep/file)" = kept ]
  [ "$(fs_cat "$1" "$f" /srv/owned)" = mine ]
  [ "$(fs_owner "$1" "$f" /bin/busybox)" = 0:0 ]
  [ "$(fs_owner "$1" "$f" /srv/owned)" = "$(owner_1000)" ]
  [ "$(fs_owner "$1" "$f" /srv)" = "$(owner_1000)" ]
}

@test "export: busybox as squashfs" {
  export_busybox squashfs
}

@test "export: busybox as ext4" {
  export_busybox ext4
  local f="$BATS_TEST_TMPDIR/busybox.ext4" stats bs free
  # Room to write in (64 MiB, sparse), 4 KiB blocks, the root dir the container's root's.
  stats=$("$(tool_path debugfs)" -R stats "$f" 2>/dev/null)
  bs=$(awk '/^Block size:/ { print $3 }' <<<"$stats")
  free=$(awk '/^Free blocks:/ { print $3 }' <<<"$stats")
  [ "$bs" -eq 4096 ]
  [ $((free * bs)) -ge $((60 << 20)) ]
  [ "$(fs_owner ext4 "$f" /)" = 0:0 ]
  [ "$(du -k "$f" | cut -f1)" -lt 20000 ]
}

@test "export: busybox as erofs" {
  export_busybox erofs
}

@test "export: layers merged into squashfs: whiteouts, opaque dirs, owners" {
  export_layered squashfs
}

@test "export: layers merged into ext4: whiteouts, opaque dirs, owners" {
  export_layered ext4
}

@test "export: layers merged into erofs: whiteouts, opaque dirs, owners" {
  export_layered erofs
}

@test "export: a one-layer image is exported as run sees it, without overlay's markers" {
  need_tools squashfs
  local d="$BATS_TEST_TMPDIR/one"
  mkdir -p "$d/opq"
  tar -C "$d" -xf "$BUSYBOX_TAR"
  touch "$d/.wh.ghost" "$d/opq/.wh..wh..opq"
  echo x >"$d/opq/x"
  "$MKIMAGE" oci "$BATS_TEST_TMPDIR/img" "$d" >/dev/null
  nsbox image load "$BATS_TEST_TMPDIR/img" onelayer >/dev/null
  run nsbox image export onelayer "$BATS_TEST_TMPDIR/one.sqfs"
  [ "$status" -eq 0 ]
  [ "$(tmp_dirs)" -eq 0 ]
  nsbox image rm onelayer >/dev/null
  # The lone layer keeps the whiteout as a 0/0 device: overlay hides it, a plain copy would not.
  run fs_ls squashfs "$BATS_TEST_TMPDIR/one.sqfs" /
  [[ $'\n'$output$'\n' == *$'\n'bin$'\n'* ]]
  [[ $'\n'$output$'\n' != *$'\n'ghost$'\n'* ]]
  # Nor is the opaque mark (an overlay.opaque xattr) of /opq copied: busybox has no xattrs.
  run fs_ls squashfs "$BATS_TEST_TMPDIR/one.sqfs" /opq
  [ "$output" = x ]
  run unsquashfs -s "$BATS_TEST_TMPDIR/one.sqfs"
  [[ $output == *"Number of xattr ids 0"* ]]
}

@test "export: the default format is squashfs, and --format may follow the operands" {
  need_tools squashfs
  need_tools erofs
  nsbox image export busybox "$BATS_TEST_TMPDIR/a"
  [ "$(head -c 4 "$BATS_TEST_TMPDIR/a")" = hsqs ]
  nsbox image export busybox "$BATS_TEST_TMPDIR/b" --format=erofs
  [ "$(od -An -tx1 -j1024 -N4 "$BATS_TEST_TMPDIR/b" | tr -d ' ')" = e2e1f5e0 ]
  [ "$(tmp_dirs)" -eq 0 ]
}

@test "export: a missing image: one line, 125, no file" {
  run nsbox image export no-such-image "$BATS_TEST_TMPDIR/x.sqfs"
  [ "$status" -eq 125 ]
  assert_one_error_line
  [[ $output == *"image not found: no-such-image"* ]]
  assert_nothing_left "$BATS_TEST_TMPDIR/x.sqfs"
}

@test "export: an unwritable destination: 125, nothing left" {
  need_tools squashfs
  run nsbox image export busybox "$BATS_TEST_TMPDIR/no/such/dir/x.sqfs"
  [ "$status" -eq 125 ]
  assert_one_error_line
  [[ $output == *"No such file or directory"* ]]
  [ ! -e "$BATS_TEST_TMPDIR/no" ]
  [ "$(tmp_dirs)" -eq 0 ]
  if [ "$(id -u)" -ne 0 ]; then
    # The root of the user namespace could write here; the export is the caller's, it may not.
    mkdir "$BATS_TEST_TMPDIR/ro"
    chmod 0555 "$BATS_TEST_TMPDIR/ro"
    run nsbox image export busybox "$BATS_TEST_TMPDIR/ro/x.sqfs"
    [ "$status" -eq 125 ]
    assert_one_error_line
    [[ $output == *"Permission denied"* ]]
    [ -z "$(ls -A "$BATS_TEST_TMPDIR/ro")" ]
    [ "$(tmp_dirs)" -eq 0 ]
  fi
}

@test "export: an unknown format or no FILE is a usage error" {
  run nsbox image export --format zip busybox "$BATS_TEST_TMPDIR/x.zip"
  [ "$status" -eq 125 ]
  assert_one_error_line
  [[ $output == *'unknown format "zip"'* ]]
  [ ! -e "$BATS_TEST_TMPDIR/x.zip" ]
  run nsbox image export busybox
  [ "$status" -eq 125 ]
  assert_one_error_line
  [[ $output == *"usage: nsbox image export"* ]]
}

@test "export: a missing tool is named with its package, and nothing is left" {
  local t d
  for t in mksquashfs mkfs.erofs; do
    for d in /usr/local/sbin /usr/sbin /sbin; do
      [ ! -x "$d/$t" ] || skip "$d/$t is found whatever PATH says"
    done
  done
  mkdir "$BATS_TEST_TMPDIR/empty"
  run env PATH="$BATS_TEST_TMPDIR/empty" "$NSBOX" ${NSBOX_TEST_ROOT:+--root "$NSBOX_TEST_ROOT"} \
    image export busybox "$BATS_TEST_TMPDIR/x.sqfs"
  [ "$status" -eq 125 ]
  [ "$output" = "nsbox: mksquashfs not found (install squashfs-tools)" ]
  assert_nothing_left "$BATS_TEST_TMPDIR/x.sqfs"
  run env PATH="$BATS_TEST_TMPDIR/empty" "$NSBOX" ${NSBOX_TEST_ROOT:+--root "$NSBOX_TEST_ROOT"} \
    image export --format erofs busybox "$BATS_TEST_TMPDIR/x.erofs"
  [ "$status" -eq 125 ]
  [ "$output" = "nsbox: mkfs.erofs not found (install erofs-utils)" ]
  assert_nothing_left "$BATS_TEST_TMPDIR/x.erofs"
}

@test "export: a failing tool: its last line in the one error, nothing left" {
  local bin="$BATS_TEST_TMPDIR/bin"
  mkdir "$bin"
  # Writes part of the output and fails, as a full disk would make it.
  cat >"$bin/mksquashfs" <<'EOF'
#!/bin/sh
echo "on stdout: not shown"
echo partial >"$2"
echo "first line" >&2
echo "FATAL ERROR: no space left" >&2
exit 1
EOF
  chmod 755 "$bin/mksquashfs"
  PATH="$bin:$PATH" run nsbox image export busybox "$BATS_TEST_TMPDIR/x.sqfs"
  [ "$status" -eq 125 ]
  assert_one_error_line
  [[ $output == *"export busybox as squashfs: mksquashfs failed (exit status 1): FATAL ERROR: no space left" ]]
  assert_nothing_left "$BATS_TEST_TMPDIR/x.sqfs"
}

@test "export: an interrupted export stops the tool and leaves nothing" {
  local bin="$BATS_TEST_TMPDIR/bin"
  mkdir "$bin"
  cat >"$bin/mksquashfs" <<EOF
#!/bin/sh
echo partial >"\$2"
echo \$\$ >"$BATS_TEST_TMPDIR/tool.pid.tmp"
mv "$BATS_TEST_TMPDIR/tool.pid.tmp" "$BATS_TEST_TMPDIR/tool.pid"
exec sleep 1000
EOF
  chmod 755 "$bin/mksquashfs"
  PATH="$bin:$PATH" nsbox image export busybox "$BATS_TEST_TMPDIR/x.sqfs" 2>/dev/null 3>&- &
  BG_PID=$!
  wait_for test -s "$BATS_TEST_TMPDIR/tool.pid"
  [ -e "$BATS_TEST_TMPDIR/x.sqfs.tmp-$BG_PID" ]
  kill -TERM "$BG_PID"
  wait_bg_status
  BG_PID=""
  [ "$BG_STATUS" -eq 143 ]
  local tool_pid
  tool_pid=$(cat "$BATS_TEST_TMPDIR/tool.pid")
  wait_for eval "! alive $tool_pid"
  rm "$BATS_TEST_TMPDIR/tool.pid"
  assert_nothing_left "$BATS_TEST_TMPDIR/x.sqfs"
}
