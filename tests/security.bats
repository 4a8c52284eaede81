#!/usr/bin/env bats
# Confinement: capabilities (--cap-add, --cap-drop, -u), no_new_privs, masked and read-only
# paths of /proc and /sys, the container's own session, and escape attempts that must fail.
# The seccomp filter has its own file (seccomp.bats).

load helpers

PROBE="$BATS_TEST_DIRNAME/../out/sysprobe"

# podman's default set: CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID SETUID SETPCAP
# NET_BIND_SERVICE SYS_CHROOT SETFCAP.
DEFAULT_CAPS=00000000800405fb

caps_of() { # prints "Inh Prm Eff Bnd Amb" of the container's command
  nsbox run --rm --network none "$@" busybox sh -c \
    'for k in CapInh CapPrm CapEff CapBnd CapAmb; do sed -n "s/^$k:\t//p" /proc/self/status; done' |
    tr '\n' ' ' | sed 's/ $//'
}

# Whether container uid 1000 is mapped: root, or a user with a subordinate range.
uid1000_mapped() { is_root_mode || has_subids; }

@test "security: root in the container gets the default capability set, no inheritable or ambient" {
  run caps_of
  [ "$status" -eq 0 ]
  [ "$output" = "0000000000000000 $DEFAULT_CAPS $DEFAULT_CAPS $DEFAULT_CAPS 0000000000000000" ]
}

@test "security: --cap-drop and --cap-add change the sets; ALL means every capability" {
  run caps_of --cap-drop ALL
  [ "$output" = "0000000000000000 0000000000000000 0000000000000000 0000000000000000 0000000000000000" ]
  # CHOWN is bit 0, NET_ADMIN bit 12.
  run caps_of --cap-drop CHOWN --cap-add net_admin
  [ "$output" = "0000000000000000 00000000800415fa 00000000800415fa 00000000800415fa 0000000000000000" ]
  run caps_of --cap-drop ALL --cap-add CAP_KILL,SETUID
  [ "$output" = "0000000000000000 00000000000000a0 00000000000000a0 00000000000000a0 0000000000000000" ]
  # ALL: every capability nsbox has itself: as root its bounding set (root in a sandbox may
  # lack some), in a new user namespace every one the kernel knows.
  local all want
  if is_root_mode; then
    all=$(sed -n 's/^CapBnd:\t//p' /proc/self/status)
  else
    all=$(printf '%016x' $(((1 << ($(cat /proc/sys/kernel/cap_last_cap) + 1)) - 1)))
  fi
  want=$(printf '%016x' $((0x$all & ~(1 << 21)))) # without SYS_ADMIN
  run caps_of --cap-add ALL --cap-drop SYS_ADMIN
  [ "$output" = "0000000000000000 $want $want $want 0000000000000000" ]
}

@test "security: capabilities act: NET_ADMIN is needed to change the container's own network" {
  run nsbox run --rm --network none busybox ip link set lo down
  [ "$status" -ne 0 ]
  [[ $output == *"ermission denied"* || $output == *"not permitted"* ]]
  run nsbox run --rm --network none --cap-add NET_ADMIN busybox ip link set lo down
  [ "$status" -eq 0 ]
}

@test "security: a user other than root gets no capabilities unless added, then as ambient ones" {
  uid1000_mapped || skip "container uid 1000 is not mapped without a subordinate range"
  run caps_of -u 1000
  [ "$output" = "0000000000000000 0000000000000000 0000000000000000 $DEFAULT_CAPS 0000000000000000" ]
  # NET_BIND_SERVICE is bit 10: it survives exec as an ambient capability.
  run caps_of -u 1000:1000 --cap-add NET_BIND_SERVICE
  [ "$output" = "0000000000000400 0000000000000400 0000000000000400 $DEFAULT_CAPS 0000000000000400" ]
}

@test "security: an unknown capability is one line and exit 125" {
  run nsbox run --rm --network none --cap-add CAP_BOGUS busybox true
  [ "$status" -eq 125 ]
  assert_one_error_line
  [[ $output == *"CAP_BOGUS"*"not a capability"* ]]
  run nsbox run --rm --network none --security-opt apparmor=x busybox true
  [ "$status" -eq 125 ]
  assert_one_error_line
}

@test "security: no_new_privs is on by default and off with no-new-privileges=false" {
  run nsbox run --rm --network none busybox sed -n 's/^NoNewPrivs:\t//p' /proc/self/status
  [ "$output" = 1 ]
  run nsbox run --rm --network none --security-opt no-new-privileges=false busybox \
    sed -n 's/^NoNewPrivs:\t//p' /proc/self/status
  [ "$output" = 0 ]
  run nsbox run --rm --network none --security-opt no-new-privileges busybox \
    sed -n 's/^NoNewPrivs:\t//p' /proc/self/status
  [ "$output" = 1 ]
}

@test "security: masked paths read as empty (the real null device) and masked dirs are empty" {
  local checked=0 p
  for p in /proc/kcore /proc/keys /proc/timer_list /proc/sched_debug /proc/latency_stats; do
    [ -e "$p" ] || continue
    run nsbox run --rm --network none busybox sh -c "stat -c %t:%T $p; wc -c < $p"
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = 1:3 ]
    [ "${lines[1]}" = 0 ]
    checked=$((checked + 1))
  done
  for p in /proc/acpi /proc/scsi /sys/firmware /sys/devices/virtual/powercap; do
    [ -e "$p" ] || continue
    run nsbox run --rm --network none busybox sh -c "ls -A $p | wc -l; touch $p/x"
    [ "${lines[0]}" = 0 ]
    [[ ${lines[1]} == *"Read-only file system"* ]]
    checked=$((checked + 1))
  done
  echo "checked $checked paths"
  [ "$checked" -ge 3 ]
}

@test "security: /proc/sys and the other read-only paths cannot be written" {
  run nsbox run --rm --network none busybox sh -c '
    echo nsbox > /proc/sys/kernel/domainname; echo "rc=$?"
    echo 1 > /proc/sys/vm/drop_caches; echo "rc=$?"
    for p in /proc/sysrq-trigger /proc/irq /proc/bus /proc/fs; do
      [ -e $p ] && grep -q " $p " /proc/mounts && echo "$p $(grep " $p " /proc/mounts | cut -d" " -f4 | cut -d, -f1)"
    done
    true'
  [ "$status" -eq 0 ]
  [[ ${lines[0]} == *"Read-only file system"* ]]
  [ "${lines[1]}" = rc=1 ]
  [[ ${lines[2]} == *"Read-only file system"* ]]
  [ "${lines[3]}" = rc=1 ]
  [[ $output == *"/proc/irq ro"* || ! -e /proc/irq ]]
  [[ $output == *"/proc/bus ro"* || ! -e /proc/bus ]]
  [ "$(cat /proc/sys/kernel/domainname)" != nsbox ]
}

@test "security: an image's own /dev/null is never what masks are made from" {
  # A root whose /dev/null is a symlink to a file of its own: nsbox's /dev (a tmpfs) covers
  # it, and masks use the checked character device, not whatever /dev/null resolved to.
  r="$BATS_TEST_TMPDIR/rootfs"
  mkdir -p "$r"
  tar -xf "$BUSYBOX_TAR" -C "$r" 2>/dev/null || true
  mkdir -p "$r/dev"
  echo secret >"$r/planted"
  ln -sf /planted "$r/dev/null"
  run nsbox run --rm --network none --rootfs "$r" sh -c 'stat -c %F:%t:%T /proc/keys /dev/null; cat /proc/keys'
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = "character special file:1:3" ]
  [ "${lines[1]}" = "character special file:1:3" ]
  [ "${#lines[@]}" -eq 2 ]
  [ "$(cat "$r/planted")" = secret ]
}

@test "security: escapes fail: a new proc mount, mknod of a disk, the host's processes" {
  local host_pid=$$
  run nsbox run --rm --network none busybox sh -c "
    mkdir /p; mount -t proc proc /p 2>&1; echo \"mount=\$?\"
    mknod /sda b 8 0 2>&1; echo \"mknod=\$?\"
    ls /proc | grep -c '^[0-9]'
    kill -0 $host_pid 2>&1; echo \"kill=\$?\""
  [ "$status" -eq 0 ]
  [[ $output == *"mount=1"* || $output == *"mount=255"* ]]
  [[ $output == *"mknod=1"* ]]
  [[ $output == *"Operation not permitted"* ]]
  [[ $output == *"kill=1"* ]]
  # Only the container's processes: the init, sh, ls and grep at most.
  local n
  n=$(grep -E '^[0-9]+$' <<<"$output" | head -1)
  [ "$n" -le 4 ]
  # Not even with SYS_PTRACE can the container attach to a host process: it cannot name one.
  run nsbox run --rm --network none --cap-add SYS_PTRACE -e SYSPROBE_PID=$host_pid \
    -v "$PROBE:/sysprobe:ro" busybox /sysprobe ptrace-attach
  [ "$output" = "ptrace-attach ESRCH" ]
}

@test "security: the command runs in a session of its own (no TIOCSTI into the caller's terminal)" {
  # Field 6 of stat: the session. The container's PID 1 called setsid, so it leads session 1.
  run nsbox run --rm --network none busybox sh -c 'cut -d" " -f6 /proc/self/stat; cut -d" " -f6 /proc/1/stat'
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = 1 ]
  [ "${lines[1]}" = 1 ]
}

@test "security: TIOCSTI on the caller's terminal is refused inside, with or without seccomp" {
  command -v script >/dev/null || skip "script (util-linux) is needed for a terminal"
  # On a terminal of its own (script's pty) the probe may push input on the host; in the
  # container the same terminal is not its controlling one any more.
  run script -qec "$PROBE tiocsti" /dev/null
  [[ $output == *"tiocsti ok"* ]]
  for opt in "" "--security-opt seccomp=unconfined"; do
    run script -qec "$NSBOX ${NSBOX_TEST_ROOT:+--root $NSBOX_TEST_ROOT} run --rm --network none $opt -v $PROBE:/sysprobe:ro busybox /sysprobe tiocsti" /dev/null
    echo "$opt: $output"
    [[ $output == *"tiocsti EPERM"* ]]
  done
}
