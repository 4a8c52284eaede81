#!/usr/bin/env bats
# nsbox run --image-file FILE[:rw]: a squashfs or ext4 file (made by nsbox image export) as
# the root filesystem, through a loop device as root and through its FUSE driver rootless;
# the file unchanged under the overlay, changed with :rw; no loop device and no driver left.
load helpers

# FILE in FORMAT from the suite's busybox image.
export_image() {
  case $1 in
  squashfs) [ -n "$(tool_path mksquashfs)" ] || skip "mksquashfs is not installed (apt-get install squashfs-tools)" ;;
  ext4) [ -n "$(tool_path mkfs.ext4)" ] || skip "mkfs.ext4 is not installed (apt-get install e2fsprogs)" ;;
  esac
  nsbox image export --format "$1" busybox "$2"
}

# Skips unless this mode can mount image files: root (loop devices) or rootless with a usable
# /dev/fuse and the driver for fs.
need_mount() {
  is_root_mode && return 0
  [ -r /dev/fuse ] && [ -w /dev/fuse ] ||
    skip "/dev/fuse is not usable by $(id -un) (mode $(stat -c %a /dev/fuse 2>/dev/null))"
  command -v "$1" >/dev/null || skip "$1 is not installed (apt-get install $1)"
}

# Loop devices backed by FILE, and FUSE drivers serving it.
loops_of() {
  if is_root_mode; then losetup -j "$1" | grep -c .; else echo 0; fi
}
drivers_of() { ps -eo args= | grep -v grep | grep -cF -- "$1" || true; }

driver_for() { case $1 in squashfs) echo squashfuse ;; ext4) echo fuse2fs ;; esac; }

@test "image file: squashfs and ext4 run with an overlay on top; the file is unchanged" {
  local fmt f sum
  for fmt in squashfs ext4; do
    need_mount "$(driver_for $fmt)"
    f="$BATS_TEST_TMPDIR/bb.$fmt"
    export_image $fmt "$f"
    sum=$(sha256sum <"$f")
    run nsbox run --rm --image-file "$f" sh -c 'echo written >/new; cat /new; ls /bin/busybox'
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = written ]
    [ "${lines[1]}" = /bin/busybox ]
    [ "$(sha256sum <"$f")" = "$sum" ]
    [ "$(loops_of "$f")" -eq 0 ]
    [ "$(drivers_of "$f")" -eq 0 ]
  done
}

@test "image file: ext4 with :rw takes the writes itself" {
  need_mount fuse2fs
  local debugfs
  debugfs=$(tool_path debugfs)
  [ -n "$debugfs" ] || skip "debugfs is not installed (apt-get install e2fsprogs)"
  local f="$BATS_TEST_TMPDIR/rw.ext4"
  export_image ext4 "$f"
  run nsbox run --rm --image-file "$f:rw" sh -c 'echo kept >/kept; rm /bin/true'
  [ "$status" -eq 0 ]
  run "$debugfs" -R 'cat /kept' "$f"
  [[ $output == *kept* ]]
  run "$debugfs" -R 'stat /bin/true' "$f"
  [[ $output == *"not found"* ]]
  run nsbox run --rm --image-file "$f" cat /kept
  [ "$output" = kept ]
  [ "$(loops_of "$f")" -eq 0 ]
  [ "$(drivers_of "$f")" -eq 0 ]
}

@test "image file: a detached container keeps its image mounted until it ends" {
  need_mount squashfuse
  local f="$BATS_TEST_TMPDIR/d.squashfs"
  export_image squashfs "$f"
  id=$(nsbox run -d --image-file "$f" sleep 1000)
  run nsbox exec "$id" test -x /bin/busybox
  [ "$status" -eq 0 ]
  # The driver runs beside the container, not in it.
  run nsbox exec "$id" ps -o args
  [[ $output != *squashfuse* ]]
  nsbox rm -f "$id" >/dev/null
  [ "$(loops_of "$f")" -eq 0 ]
  [ "$(drivers_of "$f")" -eq 0 ]
}

@test "image file: :rw on squashfs, and a file that is no image, are one clear line" {
  local f="$BATS_TEST_TMPDIR/ro.squashfs"
  export_image squashfs "$f"
  local before
  before=$(container_count)
  run nsbox run --rm --image-file "$f:rw" true
  [ "$status" -eq 125 ]
  assert_one_error_line
  [[ $output == *"only ext4 image files take :rw"* ]]
  head -c 100000 /dev/zero >"$BATS_TEST_TMPDIR/zeros"
  run nsbox run --rm --image-file "$BATS_TEST_TMPDIR/zeros" true
  [ "$status" -eq 125 ]
  assert_one_error_line
  [[ $output == *"not a squashfs, ext4 or erofs image"* ]]
  run nsbox run --rm --image-file "$BATS_TEST_TMPDIR/missing" true
  [ "$status" -eq 125 ]
  assert_one_error_line
  [ "$(container_count)" -eq "$before" ]
}

@test "image file: rootless without the FUSE driver is one line naming it" {
  is_root_mode && skip "root mounts image files through loop devices"
  local f="$BATS_TEST_TMPDIR/nodrv.squashfs"
  export_image squashfs "$f"
  local before
  before=$(container_count)
  # A PATH with everything but squashfuse.
  mkdir "$BATS_TEST_TMPDIR/bin"
  for t in slirp4netns pasta newuidmap newgidmap; do
    p=$(command -v $t) && ln -s "$p" "$BATS_TEST_TMPDIR/bin/$t"
  done
  run env PATH="$BATS_TEST_TMPDIR/bin" "$NSBOX" run --rm --network none --image-file "$f" true
  [ "$status" -eq 125 ]
  assert_one_error_line
  [[ $output == *"squashfuse not found"* ]]
  [ "$(container_count)" -eq "$before" ]
}

@test "image file: rootless with a /dev/fuse it cannot open is one clear line" {
  is_root_mode && skip "root mounts image files through loop devices"
  [ -n "${NSBOX_TEST_FUSE0600:-}" ] || skip "no 0600 fuse node staged (run through tests/run.sh)"
  command -v squashfuse >/dev/null || skip "squashfuse is not installed (apt-get install squashfuse)"
  local f="$BATS_TEST_TMPDIR/nofuse.squashfs"
  export_image squashfs "$f"
  mkdir -m 700 "$BATS_TEST_TMPDIR/rt"
  run env XDG_RUNTIME_DIR="$BATS_TEST_TMPDIR/rt" unshare -Urm \
    sh -c 'mount --bind "$0" /dev/fuse && exec "$@"' "$NSBOX_TEST_FUSE0600" \
    "$NSBOX" run --rm --network none --image-file "$f" true
  [ "$status" -eq 125 ]
  assert_one_error_line
  [[ $output == *"/dev/fuse"* ]]
}
