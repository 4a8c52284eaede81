#!/usr/bin/env bats
# Seccomp: the default profile refuses with EPERM what reaches past the container and lets
# ordinary work run, unknown calls (clone3 above all) get ENOSYS, i386 and x32 calls are
# filtered too; seccomp=unconfined loads nothing; Docker/OCI JSON profiles are honoured and a
# bad one is refused before anything exists. The calls are made by out/sysprobe (see
# tests/helpers/sysprobe.c), bound into the container read-only.
load helpers

setup() {
  PROBE="$BATS_TEST_DIRNAME/../out/sysprobe"
  [ -x "$PROBE" ] || skip "$PROBE is built by ./build.sh test"
}

# Calls the default profile refuses whatever the container holds by default; the i386 and
# x32 ones have a test of their own.
DANGEROUS=(keyctl add_key request_key kexec_load kexec_file_load open_by_handle_at bpf
  perf_event_open userfaultfd mount umount2 pivot_root fsopen fsconfig fsmount fspick move_mount
  open_tree mount_setattr setns unshare-user clone-user personality init_module finit_module
  delete_module swapon swapoff reboot settimeofday clock_settime acct quotactl syslog sethostname
  socket-vsock io_uring_setup)
if [ "$(uname -m)" = x86_64 ]; then
  DANGEROUS+=(iopl ioperm socket-vsock-hibit)
fi

# Of those, the ones whose arguments the kernel rejects before it asks for any privilege: a
# container without the filter gets that rejection, not EPERM, as root or not.
BEFORE_PRIVILEGE=(keyctl add_key request_key perf_event_open userfaultfd mount umount2 fsconfig
  open_tree mount_setattr setns personality swapon settimeofday clock_settime quotactl
  socket-vsock)

# The others: the kernel itself refuses them to a container (no capability of the initial
# namespace) and to a user, so only root on the host shows they are not refused there.
NEED_PRIVILEGE=(kexec_load kexec_file_load open_by_handle_at bpf pivot_root fsopen fsmount
  fspick move_mount init_module finit_module delete_module swapoff reboot acct syslog sethostname
  io_uring_setup)

# sysprobe PROBES... in a container; options for nsbox run come before "--".
probe_in() {
  local opts=()
  while [ "$1" != -- ]; do
    opts+=("$1")
    shift
  done
  shift
  nsbox run --rm "${opts[@]}" -v "$PROBE:/sysprobe:ro" busybox /sysprobe "$@"
}

# The answer to probe $1 in sysprobe's output $2.
answer() { awk -v n="$1" '$1 == n { print $2 }' <<<"$2"; }

@test "seccomp: the default profile refuses keyctl, kexec, bpf, mount, a nested user namespace ... with EPERM" {
  run probe_in -- "${DANGEROUS[@]}"
  echo "$output"
  [ "$status" -eq 0 ]
  local p bad=()
  for p in "${DANGEROUS[@]}"; do
    [ "$(answer "$p" "$output")" = EPERM ] || bad+=("$p=$(answer "$p" "$output")")
  done
  [ ${#bad[@]} -eq 0 ] || {
    echo "not EPERM: ${bad[*]}"
    false
  }
}

@test "seccomp: without the filter the kernel answers those calls otherwise: the EPERM is the filter's" {
  run probe_in --security-opt seccomp=unconfined -- "${BEFORE_PRIVILEGE[@]}" socket-vsock-hibit
  echo "$output"
  [ "$status" -eq 0 ]
  local p bad=()
  for p in "${BEFORE_PRIVILEGE[@]}"; do
    [ "$(answer "$p" "$output")" != EPERM ] || bad+=("$p")
  done
  [ ${#bad[@]} -eq 0 ] || {
    echo "EPERM without the filter: ${bad[*]}"
    false
  }
}

@test "seccomp: a nested user namespace works without the filter where the host allows one" {
  host=$("$PROBE" unshare-user clone-user)
  [ "$(answer unshare-user "$host")" = ok ] ||
    skip "this host refuses $(id -un) a user namespace itself ($host)"
  run probe_in --security-opt seccomp=unconfined -- unshare-user clone-user
  echo "$output"
  [ "$(answer unshare-user "$output")" = ok ]
  [ "$(answer clone-user "$output")" = ok ]
  run probe_in -- unshare-user clone-user unshare-ipc
  [ "$(answer unshare-user "$output")" = EPERM ]
  [ "$(answer clone-user "$output")" = EPERM ]
}

@test "seccomp: as root on the host, the calls a container's kernel refuses anyway are not refused" {
  is_root_mode || skip "needs real root on the host: as a user the kernel refuses these calls itself"
  run "$PROBE" "${NEED_PRIVILEGE[@]}"
  echo "$output"
  [ "$status" -eq 0 ]
  # A locked-down kernel (secure boot) or one with io_uring or modules switched off may
  # refuse even root: those calls prove nothing here and are named, not failed.
  local p unproven=()
  for p in "${NEED_PRIVILEGE[@]}"; do
    if [ "$(answer "$p" "$output")" = EPERM ]; then
      case $p in
      kexec_load | kexec_file_load | init_module | finit_module | delete_module | io_uring_setup | bpf)
        unproven+=("$p")
        ;;
      *)
        echo "root on the host gets EPERM for $p"
        false
        ;;
      esac
    fi
  done
  [ ${#unproven[@]} -eq 0 ] || echo "# refused to root by this kernel itself: ${unproven[*]}" >&3
}

@test "seccomp: seccomp=unconfined loads no filter, the default loads one" {
  run nsbox run --rm busybox grep '^Seccomp:' /proc/self/status
  [ "$status" -eq 0 ]
  [[ $output == *"Seccomp:"*2 ]]
  run nsbox run --rm --security-opt seccomp=unconfined busybox grep '^Seccomp:' /proc/self/status
  [ "$status" -eq 0 ]
  [[ $output == *"Seccomp:"*0 ]]
}

@test "seccomp: clone3 gives ENOSYS, so libc falls back to clone: threads and fork work" {
  run probe_in -- clone3 thread fork getpid
  echo "$output"
  [ "$(answer clone3 "$output")" = ENOSYS ]
  [ "$(answer thread "$output")" = ok ]
  [ "$(answer fork "$output")" = ok ]
  [ "$(answer getpid "$output")" = ok ]
  # Without the filter the kernel has clone3, and refuses these arguments otherwise.
  run probe_in --security-opt seccomp=unconfined -- clone3
  [ "$(answer clone3 "$output")" != ENOSYS ]
}

@test "seccomp: the harmless personalities pass (query, PER_LINUX32), the rest get EPERM" {
  run probe_in -- personality-query personality-linux32 personality socket-unix
  echo "$output"
  [ "$(answer personality-query "$output")" = ok ]
  [ "$(answer personality-linux32 "$output")" = ok ]
  [ "$(answer personality "$output")" = EPERM ]
  [ "$(answer socket-unix "$output")" = ok ]
}

@test "seccomp: i386 (int 0x80) and x32 calls of an x86_64 program are filtered too" {
  [ "$(uname -m)" = x86_64 ] || skip "the i386 and x32 probes exist on x86_64 only"
  host=$("$PROBE" i386-getpid x32-getpid)
  [ "$(answer i386-getpid "$host")" = ok ] ||
    skip "this kernel runs no i386 code (ia32 emulation off: $host)"
  run probe_in -- i386-getpid i386-keyctl i386-unshare-user x32-getpid x32-keyctl
  echo "$output"
  [ "$(answer i386-getpid "$output")" = ok ]
  [ "$(answer i386-keyctl "$output")" = EPERM ]
  [ "$(answer i386-unshare-user "$output")" = EPERM ]
  [ "$(answer x32-keyctl "$output")" = EPERM ]
  # An x32 call the profile allows gets the kernel's answer (ENOSYS where x32 is off).
  [ "$(answer x32-getpid "$output")" = "$(answer x32-getpid "$host")" ]
  run probe_in --security-opt seccomp=unconfined -- i386-keyctl x32-keyctl
  echo "$output"
  [ "$(answer i386-keyctl "$output")" != EPERM ]
  [ "$(answer x32-keyctl "$output")" != EPERM ]
}

@test "seccomp: an ordinary workload runs under the default profile" {
  run nsbox run --rm busybox sh -c '
    seq 1 2000 | sort -rn | head -1
    mkdir -p /tmp/w/d && echo payload > /tmp/w/d/f && ln -s f /tmp/w/d/l
    tar -czf /tmp/w.tgz -C /tmp w && rm -r /tmp/w && tar -xzf /tmp/w.tgz -C /tmp && cat /tmp/w/d/l
    echo ls=$(ls -R / 2>/dev/null | wc -l) $(ls -R / 2>&1 >/dev/null | grep -ci -e "not permitted" -e "not implemented")
    sleep 0.01 & wait $!; echo bg=$?
    date +%Y > /dev/null && id -u'
  echo "$output"
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = 2000 ]
  [ "${lines[1]}" = payload ]
  # Many entries, and no refusal of seccomp's kind among ls's complaints (rootless, some of
  # /proc is unreadable: "Permission denied").
  [[ ${lines[2]} =~ ^ls=([0-9]+)\ 0$ ]]
  [ "${BASH_REMATCH[1]}" -gt 1000 ]
  [ "${lines[3]}" = bg=0 ]
  [ "${lines[4]}" = 0 ]
}

@test "seccomp: with --cap-add SYS_ADMIN the default profile lets mount through" {
  run probe_in -- mount
  [ "$(answer mount "$output")" = EPERM ]
  run probe_in --cap-add SYS_ADMIN -- mount
  [ "$(answer mount "$output")" = ENOENT ]
  run nsbox run --rm --cap-add SYS_ADMIN busybox sh -c 'mount -t tmpfs none /tmp && grep -c " /tmp tmpfs " /proc/mounts'
  echo "$output"
  [ "$status" -eq 0 ]
  [ "$output" = 1 ]
}

@test "seccomp: a JSON profile refusing mkdir with errnoRet 1 is honoured" {
  f="$BATS_TEST_TMPDIR/no-mkdir.json"
  cat >"$f" <<'EOF'
{
  "defaultAction": "SCMP_ACT_ALLOW",
  "syscalls": [
    {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1,
     "comment": "no new directories"}
  ]
}
EOF
  run nsbox run --rm --security-opt "seccomp=$f" busybox mkdir /x
  echo "$output"
  [ "$status" -ne 0 ]
  [[ $output == *"Operation not permitted"* ]]
  run nsbox run --rm busybox mkdir /x
  [ "$status" -eq 0 ]
  # Allowing everything else: the calls the default profile refuses go through.
  run probe_in --security-opt "seccomp=$f" -- keyctl personality
  [ "$(answer keyctl "$output")" != EPERM ]
  [ "$(answer personality "$output")" = ok ]
}

@test "seccomp: a JSON profile with defaultAction ERRNO and a short allow-list" {
  f="$BATS_TEST_TMPDIR/short.json"
  # What nsbox does after loading the filter, nsbox-init and sysprobe need, and no more.
  cat >"$f" <<'EOF'
{
  "defaultAction": "SCMP_ACT_ERRNO",
  "defaultErrnoRet": 13,
  "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
  "syscalls": [
    {"names": ["arch_prctl", "brk", "chdir", "clone", "close", "close_range", "execve",
               "execveat", "exit", "exit_group", "fcntl", "fork", "getpgrp", "getpid", "gettid",
               "ioctl", "kill", "mmap", "munmap", "pipe", "pipe2", "prctl", "read",
               "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "set_tid_address", "setpgid",
               "signalfd4", "vfork", "wait4", "write", "writev"],
     "action": "SCMP_ACT_ALLOW"},
    {"name": "keyctl", "action": "SCMP_ACT_ERRNO", "errno": "ENOKEY"}
  ]
}
EOF
  run probe_in --security-opt "seccomp=$f" -- getpid fork socket-unix mount keyctl
  echo "$output"
  [ "$status" -eq 0 ]
  [ "$(answer getpid "$output")" = ok ]
  [ "$(answer fork "$output")" = ok ]
  [ "$(answer socket-unix "$output")" = EACCES ]
  [ "$(answer mount "$output")" = EACCES ]
  [ "$(answer keyctl "$output")" = ENOKEY ]
}

@test "seccomp: includes.caps: a rule that applies only with CAP_SYS_ADMIN" {
  f="$BATS_TEST_TMPDIR/caps.json"
  cat >"$f" <<'EOF'
{
  "defaultAction": "SCMP_ACT_ALLOW",
  "archMap": [
    {"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
    {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]},
    {"architecture": "SCMP_ARCH_RISCV64", "subArchitectures": null}
  ],
  "syscalls": [
    {"names": ["mkdir", "mkdirat", "no_such_call_is_skipped"], "action": "SCMP_ACT_ERRNO",
     "includes": {"caps": ["CAP_SYS_ADMIN"]}, "excludes": {}}
  ]
}
EOF
  run nsbox run --rm --security-opt "seccomp=$f" busybox mkdir /x
  [ "$status" -eq 0 ]
  run nsbox run --rm --cap-add SYS_ADMIN --security-opt "seccomp=$f" busybox mkdir /x
  [ "$status" -ne 0 ]
  [[ $output == *"Operation not permitted"* ]]
}

@test "seccomp: a bad profile gives 125 and one line, and leaves no container behind" {
  d="$BATS_TEST_TMPDIR"
  printf '{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [}' >"$d/notjson.json"
  printf '{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": "mkdir", "action": "SCMP_ACT_ERRNO"}]}' >"$d/type.json"
  printf '{"defaultAction": "SCMP_ACT_MAYBE"}' >"$d/action.json"
  printf '{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_Z80"]}' >"$d/arch.json"
  printf '{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["kill"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 1, "value": 0, "op": "SCMP_CMP_ABOUT"}]}]}' >"$d/op.json"
  printf '{"defaultAction": "SCMP_ACT_ALLOW", "sycsalls": []}' >"$d/key.json"
  before=$(container_count)
  local f
  for f in notjson type action arch op key; do
    run nsbox run --rm --name "sc-bad-$f" --security-opt "seccomp=$d/$f.json" busybox true
    echo "$f: $output"
    [ "$status" -eq 125 ]
    assert_one_error_line
    [[ $output == "nsbox: seccomp profile "*"/$f.json: "* ]]
  done
  run nsbox run --rm --name sc-bad-missing --security-opt "seccomp=$d/missing.json" busybox true
  [ "$status" -eq 125 ]
  assert_one_error_line
  [[ $output == *"missing.json"*"No such file or directory" ]]
  [ "$(container_count)" -eq "$before" ]
  [ -z "$(run_dir_entries)" ]
  run nsbox ps -a
  [[ $output != *sc-bad-* ]]
}
