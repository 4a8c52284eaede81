#!/usr/bin/env bats
# The minimal-host VM: Debian bookworm's kernel booted under qemu with KVM, from an initramfs
# holding only busybox, nsbox, the busybox image and tests/vm/tests.sh (see tests/vm/). Inside,
# cgroup2 with every controller, a subtree delegated to an unprivileged user, and the limit
# tests run rootless there; plus plain runs as root and as that user: the static binary on a
# bare host with another kernel. The VM boots once (setup_file); each test reports one of its
# cases. Runs in the root suite only. Where KVM cannot run Debian's kernel (no /dev/kvm, or a
# KVM without hardware virtualisation such as kvm_pvm) qemu emulates, and the first line says
# so; skipped, with the reason, only where qemu itself is missing.
load helpers

# bats 1.8 cannot skip from setup_file: a reason to skip goes to VM_SKIP, which setup reads.
setup_file() {
  export VM_SKIP=""
  if ! is_root_mode; then
    VM_SKIP="the VM tests run in the root suite"
    return 0
  fi
  local vm out=$BATS_FILE_TMPDIR/vm status=0 t0 t1
  # Whether the VM can boot here (tests/vm/boot.sh says why not), before any download.
  if ! "$BATS_TEST_DIRNAME/vm/boot.sh" --check "$out" 2>/dev/null; then
    VM_SKIP=$(cat "$out/skip")
    return 0
  fi
  # tests/run.sh prepares the VM from the checkout before the suites (NSBOX_TEST_VM); run by
  # hand, this file prepares it itself.
  if [ -n "${NSBOX_TEST_VM:-}" ]; then
    vm=$NSBOX_TEST_VM
  else
    vm=$("$BATS_TEST_DIRNAME/vm/prepare.sh")
  fi
  if [ ! -f "$vm/initramfs.gz" ] || [ ! -e "$vm/vmlinuz" ]; then
    echo "# no VM in '$vm': tests/vm/prepare.sh failed (see the output above)" >&3
    return 1
  fi
  t0=$(date +%s.%N)
  "$BATS_TEST_DIRNAME/vm/boot.sh" "$vm" "$out" || status=$?
  t1=$(date +%s.%N)
  # The serial console ends its lines with CR LF.
  tr -d '\r' <"$out/console.log" >"$out/console.txt"
  tr -d '\r' <"$out/results.log" >"$out/results.txt"
  VM_KERNEL=$(cat "$vm/kernel-version")
  echo "# vm: kernel $VM_KERNEL ($(cat "$out/accel")), qemu status $status," \
    "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s from start to power-off" >&3
  export VM_OUT=$out VM_STATUS=$status VM_KERNEL
}

setup() {
  [ -z "$VM_SKIP" ] || skip "$VM_SKIP"
}

# The last lines of the VM's console, for a failure's report.
console_tail() {
  echo "--- qemu:"
  cat "$VM_OUT/qemu.log"
  echo "--- the VM's console, last 40 lines:"
  tail -n 40 "$VM_OUT/console.txt"
}

# Asserts that case $1 of tests/vm/tests.sh passed in the VM; on failure prints what it
# reported and the kernel's messages meanwhile.
vm_case() {
  local name=$1 line
  line=$(grep -E "^(not )?ok [0-9]+ $name - " "$VM_OUT/results.txt") || {
    echo "no result for case $name: the VM ended before it"
    console_tail
    return 1
  }
  # Its own lines: the result and the "# ..." lines after it.
  awk -v n="$name" '$0 ~ "^(not )?ok [0-9]+ " n " - " { p = 1; print; next }
    p && /^# / { print; next } { p = 0 }' "$VM_OUT/results.txt"
  [[ $line == ok* ]] && return 0
  # What else the console got meanwhile: the kernel's messages (an OOM kill, a panic...).
  echo "--- the VM's console during $name, less the lines above:"
  awk -v n="$name" 'index($0, "--- vm-test " n ":") == 1 { p = 1; next }
    p && (/^--- vm-test / || /^vm: /) { p = 0 }
    p && !/^(# |ok |not ok )/' "$VM_OUT/console.txt"
  return 1
}

@test "vm: Debian's kernel boots from an initramfs of busybox and nsbox, runs the cases, powers off" {
  grep -qx "vm: begin" "$VM_OUT/results.txt" || {
    console_tail
    false
  }
  grep -q "^vm: kernel $VM_KERNEL, 2 cpus" "$VM_OUT/results.txt"
  [ "$VM_KERNEL" != "$(uname -r)" ]
  grep -q "^vm: modules loaded: .*overlay" "$VM_OUT/results.txt"
  grep -q "^vm: end: " "$VM_OUT/results.txt" || {
    console_tail
    false
  }
  [ "$VM_STATUS" -eq 0 ] || {
    echo "qemu exited with status $VM_STATUS (124: stopped by the timeout)"
    console_tail
    false
  }
}

@test "vm: nsbox run as root on the bare host" {
  vm_case root-plain
}

@test "vm: nsbox run rootless, as a user without a subordinate id range" {
  vm_case rootless-plain
}

@test "vm: --memory, --pids-limit, --cpus show in the container's own read-only /sys/fs/cgroup" {
  vm_case limits-visible
}

@test "vm: a memory hog under --memory 64m exits 137 with 'container killed: out of memory'" {
  vm_case memory-limit
}

@test "vm: a busy loop under --cpus 0.5 gets about half a CPU (cpu.stat over uptime)" {
  vm_case cpus-limit
}

@test "vm: a fork bomb under --pids-limit 50 is contained and the host stays responsive" {
  vm_case pids-limit
}

@test "vm: no cgroup is left below the delegated one after a container with limits" {
  vm_case cgroup-cleanup
}

@test "vm: a limit without a delegated cgroup is one 'nsbox:' line and exit 125" {
  vm_case no-delegation
}
