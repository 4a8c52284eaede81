#!/usr/bin/env bats
# nsbox image import/ls/rm: rootfs tarballs in all three compressions, from a file or stdin,
# and the refusals that keep a hostile tarball from writing outside the image.
load helpers

# The image dirs of the store, finished or half-made.
image_dirs() { find "$(store_dir)/images/by-id" -mindepth 1 -maxdepth 1 | wc -l; }

@test "image: import a plain tar, list it, run it, remove it" {
  run nsbox image import "$BUSYBOX_TAR" plain-test
  [ "$status" -eq 0 ]
  [[ $output =~ ^[0-9a-f]{64}$ ]]
  run nsbox image ls
  [[ $output == *plain-test*latest* ]]
  run nsbox run --rm plain-test echo ran
  [ "$output" = ran ]
  run nsbox image rm plain-test
  [ "$status" -eq 0 ]
  run nsbox image ls
  [[ $output != *plain-test* ]]
}

@test "image: import gzip from stdin" {
  gzip -c "$BUSYBOX_TAR" >"$BATS_TEST_TMPDIR/bb.tar.gz"
  run nsbox image import - gz-test <"$BATS_TEST_TMPDIR/bb.tar.gz"
  [ "$status" -eq 0 ]
  run nsbox run --rm gz-test:latest echo ran
  [ "$output" = ran ]
  nsbox image rm gz-test
}

@test "image: import zstd" {
  command -v zstd >/dev/null || skip "zstd is not installed (apt-get install zstd)"
  zstd -q -c "$BUSYBOX_TAR" >"$BATS_TEST_TMPDIR/bb.tar.zst"
  run nsbox image import "$BATS_TEST_TMPDIR/bb.tar.zst" zst-test:v1
  [ "$status" -eq 0 ]
  run nsbox run --rm zst-test:v1 echo ran
  [ "$output" = ran ]
  nsbox image rm zst-test:v1
}

@test "image: files keep their owners inside the container" {
  run nsbox run --rm busybox stat -c '%u:%g %a' /bin/busybox /tmp
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = "0:0 755" ]
  [ "${lines[1]}" = "0:0 1777" ]
}

@test "image: an entry with .. is refused and nothing is left" {
  mkdir -p "$BATS_TEST_TMPDIR/a"
  echo x >"$BATS_TEST_TMPDIR/a/f"
  (cd "$BATS_TEST_TMPDIR/a" && tar -cPf ../evil.tar ../a/f)
  before=$(image_dirs)
  run nsbox image import "$BATS_TEST_TMPDIR/evil.tar" evil
  [ "$status" -eq 125 ]
  assert_one_error_line
  [[ $output == *"outside the image"* ]]
  [ "$(image_dirs)" -eq "$before" ]
  run nsbox image ls
  [[ $output != *evil* ]]
}

@test "image: an absolute entry is refused" {
  mkdir -p "$BATS_TEST_TMPDIR/abs"
  echo x >"$BATS_TEST_TMPDIR/abs/f"
  tar -cPf "$BATS_TEST_TMPDIR/abs.tar" "$BATS_TEST_TMPDIR/abs/f"
  before=$(image_dirs)
  run nsbox image import "$BATS_TEST_TMPDIR/abs.tar" evil
  [ "$status" -eq 125 ]
  assert_one_error_line
  [ "$(image_dirs)" -eq "$before" ]
}

@test "image: writing through a symlink in the archive is refused, the target untouched" {
  t="$BATS_TEST_TMPDIR/target"
  mkdir -p "$t" "$BATS_TEST_TMPDIR/d1" "$BATS_TEST_TMPDIR/d2/link"
  ln -s "$t" "$BATS_TEST_TMPDIR/d1/link"
  echo evil >"$BATS_TEST_TMPDIR/d2/link/evil"
  tar -cf "$BATS_TEST_TMPDIR/sym.tar" -C "$BATS_TEST_TMPDIR/d1" link -C "$BATS_TEST_TMPDIR/d2" link/evil
  before=$(image_dirs)
  run nsbox image import "$BATS_TEST_TMPDIR/sym.tar" evil
  [ "$status" -eq 125 ]
  assert_one_error_line
  [ ! -e "$t/evil" ]
  [ "$(image_dirs)" -eq "$before" ]
}

@test "image: a truncated tarball is refused and nothing is left" {
  head -c 300000 "$BUSYBOX_TAR" >"$BATS_TEST_TMPDIR/trunc.tar"
  before=$(image_dirs)
  run nsbox image import "$BATS_TEST_TMPDIR/trunc.tar" trunc
  [ "$status" -eq 125 ]
  assert_one_error_line
  [ "$(image_dirs)" -eq "$before" ]
  run nsbox image ls
  [[ $output != *trunc* ]]
}

@test "image: something that is not a tarball is refused" {
  echo "not a tar" >"$BATS_TEST_TMPDIR/x.tar"
  run nsbox image import "$BATS_TEST_TMPDIR/x.tar" junk
  [ "$status" -eq 125 ]
  assert_one_error_line
  run nsbox image import /no/such/file junk
  [ "$status" -eq 125 ]
  assert_one_error_line
}

@test "image: device nodes are skipped with a count where they cannot be created" {
  fixture="$BATS_TEST_DIRNAME/fixtures/devnode.tar"
  [ -f "$fixture" ] || skip "fixture $fixture is made by tests/run.sh as root"
  run nsbox image import "$fixture" devtest
  [ "$status" -eq 0 ]
  if is_root_mode; then
    run nsbox run --rm devtest stat -c %t:%T /mydev
    [ "$output" = "1:3" ]
  else
    [[ $output == *"skipped 1 device"* ]]
    run nsbox run --rm devtest sh -c 'test -e /mydev && echo present || echo absent'
    [ "$output" = absent ]
  fi
  nsbox image rm devtest
}

@test "image: an interrupted import leaves no image behind" {
  start_stalled_import interrupted
  kill -TERM "$BG_PID"
  wait_bg_status
  exec 5>&-
  [ "$BG_STATUS" -ne 0 ]
  [ "$(tmp_dirs)" -eq 0 ]
  run nsbox image ls
  [[ $output != *interrupted* ]]
}

@test "image: an import killed outright is cleaned up by the next one" {
  start_stalled_import killed
  kill -KILL "$BG_PID"
  wait_bg_status
  exec 5>&-
  run nsbox image import "$BUSYBOX_TAR" after-kill
  [ "$status" -eq 0 ]
  [ "$(tmp_dirs)" -eq 0 ]
  run nsbox image ls
  [[ $output != *killed* ]]
  nsbox image rm after-kill
}

@test "image: rm refuses an image a container uses" {
  nsbox image import "$BUSYBOX_TAR" inuse >/dev/null
  nsbox run --name inuse-ctr inuse true
  run nsbox image rm inuse
  [ "$status" -eq 125 ]
  assert_one_error_line
  [[ $output == *inuse-ctr* || $output == *"in use"* ]]
  nsbox rm inuse-ctr
  run nsbox image rm inuse
  [ "$status" -eq 0 ]
}

@test "image: bad names and a missing image give 125 and one line" {
  run nsbox image import "$BUSYBOX_TAR" '../bad'
  [ "$status" -eq 125 ]
  assert_one_error_line
  run nsbox image rm no-such-image
  [ "$status" -eq 125 ]
  assert_one_error_line
}
