#!/usr/bin/env bats
# Resource limits: --memory, --memory-swap, --cpus, --cpu-weight/--cpu-shares, --pids-limit
# (a cgroup of the container's own below ours, cgroup v1 or v2) and --ulimit. Where this host
# cannot give a user a cgroup (cgroup v1 rootless, or v2 without delegation), the tests check
# the one-line refusal instead; tests/vm.bats runs the limits rootless on cgroup v2.

load helpers

cgroup_v2() { [ "$(stat -f -c %T /sys/fs/cgroup)" = cgroup2fs ]; }

# Whether nsbox can make cgroups for us here: root, or a delegated (writable) v2 cgroup.
can_limit() {
  is_root_mode && return 0
  cgroup_v2 || return 1
  local own
  own=$(sed -n 's/^0:://p' /proc/self/cgroup)
  [ -w "/sys/fs/cgroup$own/cgroup.procs" ] && [ -w "/sys/fs/cgroup$own/cgroup.subtree_control" ]
}

need_limits() {
  can_limit || skip "no cgroup for this user here (cgroup v1 rootless, or v2 not delegated): the refusal is tested instead"
}

# The dirs below which nsbox makes containers' cgroups: ours, in each hierarchy it uses.
cgroup_parents() {
  if cgroup_v2; then
    local own
    own=$(sed -n 's/^0:://p' /proc/self/cgroup)
    echo "/sys/fs/cgroup${own%/nsbox-leaf}"
    return
  fi
  local c path
  for c in memory cpu cpuacct pids; do
    path=$(awk -F: -v c="$c" '{ n = split($2, a, ","); for (i = 1; i <= n; i++) if (a[i] == c) print $3 }' /proc/self/cgroup)
    [ -n "$path" ] && [ -d "/sys/fs/cgroup/$c" ] && echo "/sys/fs/cgroup/$c${path%/}"
  done
}

# Container cgroups (nsbox-ID) below ours, one a line.
nsbox_cgroups() {
  local p
  for p in $(cgroup_parents); do
    find "$p" -mindepth 1 -maxdepth 1 -type d -name 'nsbox-*' ! -name nsbox-leaf
  done
}

@test "limits: --memory 64m: a memory hog is killed, exit 137, and nsbox says it was out of memory" {
  need_limits
  run --separate-stderr nsbox run --rm --network none --memory 64m busybox sh -c \
    'x=$(head -c 300000000 /dev/zero | tr "\0" x); echo survived'
  [ "$status" -eq 137 ]
  [ "$output" = "" ]
  [ "$stderr" = "nsbox: container killed: out of memory (limit 64 MiB)" ]
  [ -z "$(nsbox_cgroups)" ]
}

@test "limits: a command that exits 137 without an OOM kill gets no out-of-memory message" {
  need_limits
  run --separate-stderr nsbox run --rm --network none --memory 64m busybox sh -c 'kill -9 $$'
  [ "$status" -eq 137 ]
  [ "$stderr" = "" ]
}

@test "limits: the limits show in the container's own /sys/fs/cgroup, read-only" {
  need_limits
  if cgroup_v2; then
    files="memory.max memory.swap.max pids.max cpu.max cpu.weight"
  else
    files="memory/memory.limit_in_bytes memory/memory.memsw.limit_in_bytes pids/pids.max cpu/cpu.cfs_quota_us cpu/cpu.cfs_period_us cpu/cpu.shares"
  fi
  run nsbox run --rm --network none --memory 64m --memory-swap 96m --pids-limit 50 --cpus 0.5 \
    --cpu-shares 512 busybox sh -c \
    "cd /sys/fs/cgroup && for f in $files; do [ -e \$f ] && echo \$f=\$(cat \$f); done; grep -c nsbox- /proc/self/cgroup; mkdir /sys/fs/cgroup/x 2>&1; true"
  [ "$status" -eq 0 ]
  if cgroup_v2; then
    [[ $output == *"memory.max=67108864"* ]]
    [[ $output == *"pids.max=50"* ]]
    [[ $output == *"cpu.max=50000 100000"* ]]
    [[ $output == *"cpu.weight=20"* ]] # crun's mapping of 512 shares
  else
    [[ $output == *"memory/memory.limit_in_bytes=67108864"* ]]
    [[ $output == *"pids/pids.max=50"* ]]
    [[ $output == *"cpu/cpu.cfs_quota_us=50000"* ]]
    [[ $output == *"cpu/cpu.cfs_period_us=100000"* ]]
    [[ $output == *"cpu/cpu.shares=512"* ]]
    if [ -e "$(cgroup_parents | grep /memory | head -1)/memory.memsw.limit_in_bytes" ]; then
      [[ $output == *"memory.memsw.limit_in_bytes=100663296"* ]]
    fi
  fi
  # The cgroup namespace: the container's cgroup is its root, so no path names nsbox-ID.
  [[ $output == *$'\n0\n'* ]]
  [[ $output == *"Read-only file system"* ]]
  [ -z "$(nsbox_cgroups)" ]
}

@test "limits: --pids-limit 50 contains a fork bomb and the host stays responsive" {
  need_limits
  local dir="$BATS_TEST_TMPDIR/bomb"
  mkdir -p "$dir"
  mkfifo "$dir/contained" "$dir/host"
  chmod -R a+rwx "$dir"
  # The host answers through a second fifo once the container says the bomb is contained:
  # a fork and exec on the host while the bomb runs.
  (read -r line <"$dir/contained" && /bin/echo "host: $line" >"$dir/host") &
  local helper=$!
  if cgroup_v2; then
    events=/sys/fs/cgroup/pids.events current=/sys/fs/cgroup/pids.current
  else
    events=/sys/fs/cgroup/pids/pids.events current=/sys/fs/cgroup/pids/pids.current
  fi
  # Once the bomb runs the shell can fork nothing more either: only builtins from there on.
  run nsbox run --rm --network none --pids-limit 50 -v "$dir:/x" busybox sh -c "
    bomb() { bomb | bomb & }
    ( bomb ) 2>/dev/null &
    refused=0
    # Until the kernel has refused a fork: the bomb has hit the limit.
    while [ \"\$refused\" -eq 0 ]; do read -r _ refused <$events; done
    read -r current <$current
    echo \"current=\$current\"
    echo contained >/x/contained
    read -r answer </x/host
    echo \"\$answer\""
  wait "$helper"
  [ "$status" -eq 0 ]
  [[ ${lines[0]} =~ ^current=([0-9]+)$ ]]
  [ "${BASH_REMATCH[1]}" -le 50 ]
  [ "${lines[1]}" = "host: contained" ]
  [ -z "$(nsbox_cgroups)" ]
}

@test "limits: --cpus 0.5 gives a busy loop about half a CPU (from the cgroup's counters)" {
  need_limits
  # usage / (periods x period): CPU time per period in which the cgroup ran, over at least
  # 20 periods (2 s of CPU time at most) of two busy processes, so the quota binds.
  if cgroup_v2; then
    script='
      usage() { sed -n "s/^usage_usec //p" /sys/fs/cgroup/cpu.stat; }
      periods() { sed -n "s/^nr_periods //p" /sys/fs/cgroup/cpu.stat; }
      scale=100000'
  else
    script='
      usage() { echo $(($(cat /sys/fs/cgroup/cpuacct/cpuacct.usage) / 1000)); }
      periods() { sed -n "s/^nr_periods //p" /sys/fs/cgroup/cpu/cpu.stat; }
      scale=100000'
  fi
  run nsbox run --rm --network none --cpus 0.5 busybox sh -c "$script
    ( while :; do :; done ) &
    p0=\$(periods) u0=\$(usage)
    until [ \$((\$(periods) - p0)) -ge 20 ]; do :; done
    p1=\$(periods) u1=\$(usage)
    kill \$!
    echo \$(( (u1 - u0) * 100 / ((p1 - p0) * scale) ))"
  [ "$status" -eq 0 ]
  echo "percent of one CPU: ${lines[-1]}"
  [ "${lines[-1]}" -ge 30 ]
  [ "${lines[-1]}" -le 70 ]
}

@test "limits: without limits no cgroup is made" {
  need_limits
  run nsbox run --rm --network none busybox sh -c 'cat /proc/self/cgroup'
  [ "$status" -eq 0 ]
  [[ $output != *nsbox-* ]]
  [ -z "$(nsbox_cgroups)" ]
}

@test "limits: the cgroup of an nsbox killed with SIGKILL is reclaimed by the next run" {
  need_limits
  start_ready --rm --network none --memory 64m busybox sh -c 'echo ready; exec sleep 1000'
  local left
  left=$(nsbox_cgroups)
  [ -n "$left" ]
  kill -KILL "$BG_PID"
  wait_bg_status
  [ "$BG_STATUS" -eq 137 ]
  # Its container dies with it (PDEATHSIG, asynchronously); its cgroup stays for the next
  # nsbox to remove.
  cgroup_empty() {
    local d
    for d in $left; do [ -z "$(cat "$d/cgroup.procs")" ] || return 1; done
  }
  wait_for cgroup_empty
  for d in $left; do [ -d "$d" ]; done
  run nsbox run --rm --network none busybox true
  [ "$status" -eq 0 ]
  [ -z "$(nsbox_cgroups)" ]
  nsbox ps -a >/dev/null # finishes what --rm promised, as after any killed nsbox run
  [ -z "$(run_dir_entries)" ]
}

@test "limits: rootless where the kernel gives no cgroup: one line, exit 125, nothing left" {
  can_limit && skip "this user can have cgroups here (the limits are tested above)"
  for opt in "--memory 64m" "--pids-limit 10" "--cpus 0.5" "--cpu-shares 512"; do
    before=$(container_count)
    run nsbox run --rm --network none $opt busybox true
    [ "$status" -eq 125 ]
    assert_one_error_line
    if cgroup_v2; then
      [[ $output == *"is not delegated to you"* ]]
    else
      [[ $output == *"cgroup v1 only root can make one"* ]]
    fi
    [ "$(container_count)" -eq "$before" ]
    [ -z "$(run_dir_entries)" ]
  done
}

@test "limits: bad limit values are one line and exit 125" {
  for args in "--memory 1k" "--memory lots" "--memory-swap 64m" "--memory 64m --memory-swap 32m" \
    "--cpus 0" "--cpus 100000" "--cpus x" "--cpu-weight 0" "--cpu-weight 10001" \
    "--cpu-shares 1" "--pids-limit many" "--pids-limit -2" "--ulimit nofile" \
    "--ulimit nofile=2:1" "--ulimit bogus=1" "--ulimit nofile=x"; do
    run nsbox run --rm --network none $args busybox true
    echo "$args: $output"
    [ "$status" -eq 125 ]
    assert_one_error_line
    # The line is about the value, not an option nsbox does not know.
    [[ $output != *"unknown option"* ]]
    [[ $output == "nsbox: --"* ]]
  done
}

@test "limits: --ulimit sets soft and hard limits; raising the hard one above ours needs root" {
  run nsbox run --rm --network none --ulimit nofile=100:200 --ulimit core=0 busybox sh -c \
    'ulimit -n; ulimit -Hn; ulimit -c'
  [ "$status" -eq 0 ]
  [ "${lines[*]}" = "100 200 0" ]
  local hard
  hard=$(ulimit -Hn)
  [ "$hard" != unlimited ] || skip "our hard nofile limit is unlimited"
  [ $((hard + 1)) -le "$(cat /proc/sys/fs/nr_open)" ] || skip "our hard nofile limit is the kernel's maximum"
  run nsbox run --rm --network none --ulimit nofile=100:$((hard + 1)) busybox sh -c 'ulimit -Hn'
  # CAP_SYS_RESOURCE (bit 24), which root in a sandbox may lack too.
  local eff
  eff=$(sed -n 's/^CapEff:\t//p' /proc/self/status)
  if is_root_mode && (((0x$eff >> 24) & 1)); then
    [ "$status" -eq 0 ]
    [ "$output" = $((hard + 1)) ]
  else
    [ "$status" -eq 125 ]
    assert_one_error_line
    [[ $output == *"needs privilege on the host"* ]]
  fi
}
