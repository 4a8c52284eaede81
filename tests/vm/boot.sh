#!/usr/bin/env bash
# Boots the minimal-host VM that tests/vm/prepare.sh made and waits for it to power off.
# Usage: tests/vm/boot.sh VMDIR OUTDIR
#        tests/vm/boot.sh --check OUTDIR    (only whether the VM can boot here: 0 or 77)
# OUTDIR gets console.log (ttyS0: the kernel and everything the VM printed), results.log (ttyS1:
# the test results only, see tests/vm/tests.sh) and qemu.log (qemu's own messages).
# Exits with qemu's status: 0 when the VM powered off, 124 when it had to be stopped after
# VM_TIMEOUT seconds (default 300); 77 when KVM cannot be used here, with the reason in
# OUTDIR/skip. By default it boots with KVM where KVM can run Debian's kernel, and under qemu's
# emulator (tcg) otherwise, saying why in OUTDIR/accel (slower, about 20 s for the whole run;
# the checks still hold, as the VM measures CPU shares in its own time). NSBOX_VM_ACCEL=kvm or
# =tcg forces one; with kvm forced and unusable, it exits 77.
set -euo pipefail

[ $# -eq 2 ] || { echo "usage: $0 VMDIR|--check OUTDIR" >&2; exit 2; }
vm=$1 out=$2
accel=${NSBOX_VM_ACCEL:-auto}
mkdir -p "$out"
rm -f "$out/skip" "$out/accel"

# Prints why KVM cannot boot Debian's kernel here, if it cannot.
kvm_unusable() {
  local mods
  if [ ! -e /dev/kvm ]; then
    echo "no /dev/kvm: this host has no KVM"
  elif [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
    echo "/dev/kvm is not readable and writable by $(id -un)"
  elif [ ! -d /sys/module/kvm_intel ] && [ ! -d /sys/module/kvm_amd ]; then
    # E.g. kvm_pvm (a nested hypervisor without hardware virtualisation) runs only guest
    # kernels built for it: Debian's hangs there before it prints a line.
    mods=$(find /sys/module -maxdepth 1 -name 'kvm*' -printf '%f\n' | sort | paste -sd' ')
    echo "/dev/kvm is not hardware KVM (no kvm_intel or kvm_amd; loaded: ${mods:-none}):" \
      "it cannot run Debian's kernel"
  else
    return 1
  fi
}

# Why the VM cannot boot here, if it cannot.
cannot_boot() {
  if ! command -v qemu-system-x86_64 >/dev/null; then
    echo "qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)"
  elif [ "$accel" = kvm ]; then
    kvm_unusable
  else
    return 1
  fi
}

if [ "$accel" = auto ]; then
  if why=$(kvm_unusable); then
    accel=tcg
    echo "tcg, emulated: $why" >"$out/accel"
  else
    accel=kvm
    echo kvm >"$out/accel"
  fi
else
  echo "$accel (NSBOX_VM_ACCEL)" >"$out/accel"
fi
if reason=$(cannot_boot); then
  echo "$reason" >"$out/skip"
  echo "vm: cannot boot: $reason" >&2
  exit 77
fi
[ "$vm" != --check ] || exit 0
: >"$out/console.log"
: >"$out/results.log"
: >"$out/qemu.log"

# No network (-nic none), no display, no disk; qboot instead of SeaBIOS (it only jumps to the
# kernel, faster). The default CPU model: `-cpu host` can trip over MSRs a nested host does
# not emulate (qemu aborts on "failed to set MSR 0x10a"). panic=-1 turns a panic (PID 1 died) into a reboot, and -no-reboot turns that into
# an exit; the timeout bounds everything else.
exec timeout -k 10 "${VM_TIMEOUT:-300}" qemu-system-x86_64 \
  -accel "$accel" -smp 2 -m 1024 \
  -nographic -nodefaults -no-user-config -monitor none -nic none -no-reboot \
  -bios qboot.rom -kernel "$vm/vmlinuz" -initrd "$vm/initramfs.gz" \
  -append "console=ttyS0 panic=-1 quiet" \
  -serial "file:$out/console.log" -serial "file:$out/results.log" \
  </dev/null >"$out/qemu.log" 2>&1
