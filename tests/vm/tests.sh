#!/bin/sh
# shellcheck disable=SC2016 # the containers' scripts are single-quoted on purpose
# The minimal-host VM's test cases (busybox sh), run by the VM's init as root. cgroup2 is
# mounted with every controller enabled; below a root-owned "user" cgroup (as systemd's
# user.slice, with pids and memory caps as a safety net should a limit not hold), each rootless
# case gets a cgroup delegated to the user "tester" (uid 1000, no /etc/subuid range) the way
# systemd's Delegate=yes does it: the dir, cgroup.procs, cgroup.subtree_control and
# cgroup.threads belong to the user, and the case's shell is moved into it.
#
# Each case runs as a process of its own ("tests.sh case NAME"), under a timeout, prints what it
# saw and exits non-zero when an expectation fails. Results go to ttyS1 as TAP-like lines
#   ok N NAME - description        /  not ok N NAME - description
#   # what the case printed
# framed by "vm: begin" and "vm: end"; the console (ttyS0) gets the same plus the kernel's
# messages, each case after a "--- vm-test NAME" marker.
set -u
CG=/sys/fs/cgroup
USER_CG=$CG/user
TESTER=tester
TESTER_UID=1000
RES=/dev/ttyS1
CASE_TIMEOUT=90

# --- helpers for the cases ----------------------------------------------------------------------

fail() {
  echo "FAIL: $*"
  exit 1
}

# The user's store needs the image once; the first rootless case imports it.
need_image() {
  nsbox image ls | grep -q '^busybox ' && return 0
  nsbox image import /busybox.tar busybox >/dev/null || fail "nsbox image import failed"
}

# The cgroup this process is in, as a path under /sys/fs/cgroup.
own_cgroup() { echo "$CG$(sed -n 's/^0:://p' /proc/self/cgroup)"; }

# Fails the case unless the exit status $2 is $1.
expect_status() {
  [ "$2" -eq "$1" ] || fail "exit status $2, expected $1"
}

# The limits cgroup $1 has, as "file value" pairs.
limits_of() {
  for f in memory.max pids.max cpu.max; do
    [ -e "$1/$f" ] && echo "$f $(cat "$1/$f")"
  done | tr '\n' ' '
}

# Whether cgroup $1 has a memory, pids or cpu limit.
has_limit() {
  limits_of "$1" | grep -qvE '^(memory.max max |pids.max max |cpu.max max [0-9]+ )*$'
}

# --- the cases ----------------------------------------------------------------------------------

case_root_plain() {
  nsbox image import /busybox.tar busybox >/dev/null || fail "image import as root failed"
  out=$(nsbox run --rm --network none busybox sh -c 'echo hello from root; id -u' 2>&1)
  st=$?
  echo "$out"
  expect_status 0 "$st"
  [ "$out" = "hello from root
0" ] || fail "unexpected output"
}

case_rootless_plain() {
  nsbox image import /busybox.tar busybox >/dev/null || fail "image import as $(id -un) failed"
  out=$(nsbox run --rm --network none busybox sh -c 'echo hello; id -u; cat /proc/self/uid_map' 2>&1)
  st=$?
  echo "$out"
  expect_status 0 "$st"
  # shellcheck disable=SC2086 # split into words on purpose
  set -- $out
  [ "$1 $2" = "hello 0" ] || fail "expected 'hello' and uid 0 in the container"
  # No subordinate range: only the user, as root, is mapped.
  [ "$3 $4 $5" = "0 $TESTER_UID 1" ] ||
    fail "expected the uid map '0 $TESTER_UID 1'"
  [ $# -eq 5 ] || fail "expected one uid map line"
  [ -z "$(nsbox ps -aq)" ] || fail "--rm left a container: $(nsbox ps -a)"
}

case_limits_visible() {
  need_image
  out=$(nsbox run --rm --network none --memory 64m --pids-limit 50 --cpus 0.5 busybox sh -c '
    cat /proc/self/cgroup
    echo "memory.max=$(cat /sys/fs/cgroup/memory.max)"
    echo "pids.max=$(cat /sys/fs/cgroup/pids.max)"
    echo "cpu.max=$(cat /sys/fs/cgroup/cpu.max)"
    if echo 100 2>/dev/null >/sys/fs/cgroup/pids.max; then echo "pids.max writable"; fi
    if mkdir /sys/fs/cgroup/sub 2>/dev/null; then echo "cgroup dir writable"; fi
  ' 2>&1)
  st=$?
  echo "$out"
  expect_status 0 "$st"
  [ "$out" = "0::/
memory.max=67108864
pids.max=50
cpu.max=50000 100000" ] || fail "expected the container's own cgroup at /, read-only, with the limits"
}

case_memory_limit() {
  need_image
  nsbox run --rm --network none --memory 64m busybox sh -c '
    cat /sys/fs/cgroup/memory.max
    x=$(head -c 200000000 /dev/zero | tr "\0" x)
    echo survived' >/tmp/mem.out 2>/tmp/mem.err
  st=$?
  echo "stdout:"
  cat /tmp/mem.out
  echo "stderr:"
  cat /tmp/mem.err
  expect_status 137 "$st"
  [ "$(head -n 1 /tmp/mem.out)" = 67108864 ] || fail "memory.max is not 67108864 inside"
  grep -q survived /tmp/mem.out && fail "the hog survived"
  grep -qF 'container killed: out of memory (limit 64 MiB)' /tmp/mem.err ||
    fail "stderr lacks 'container killed: out of memory (limit 64 MiB)'"
  return 0
}

# A busy loop, and the share of a CPU it gets: the cgroup's cpu.stat usage_usec over the time
# /proc/uptime says passed, both read inside the container. The VM has two vCPUs, so without
# the limit the loop gets a whole one (1.0).
case_cpus_limit() {
  need_image
  out=$(nsbox run --rm --network none --cpus 0.5 busybox sh -c '
    usage() { sed -n "s/^usage_usec //p" /sys/fs/cgroup/cpu.stat; }
    echo "cpu.max=$(cat /sys/fs/cgroup/cpu.max)"
    while :; do :; done &
    u0=$(usage); read -r t0 _ </proc/uptime
    sleep 3
    u1=$(usage); read -r t1 _ </proc/uptime
    kill $!
    echo "$u0 $u1 $t0 $t1" | awk "{ printf \"share=%.2f\n\", (\$2 - \$1) / 1e6 / (\$4 - \$3) }"
  ' 2>&1)
  st=$?
  echo "$out"
  expect_status 0 "$st"
  echo "$out" | grep -qx 'cpu.max=50000 100000' || fail "cpu.max is not '50000 100000' inside"
  share=$(echo "$out" | sed -n 's/^share=//p')
  [ -n "$share" ] || fail "no measurement"
  awk -v s="$share" 'BEGIN { exit !(s >= 0.25 && s <= 0.75) }' ||
    fail "the busy loop got $share of a CPU, expected about 0.5 (0.25..0.75)"
}

# A fork bomb under --pids-limit 50: the container's shell waits (builtins only: it cannot
# fork either) until the pids controller has refused a fork, reports how many tasks the cgroup
# holds, and exits; the init then ends the bomb. The VM must still fork afterwards.
case_pids_limit() {
  need_image
  nsbox run --rm --network none --pids-limit 50 busybox sh -c '
    read -r max </sys/fs/cgroup/pids.max
    echo "pids.max=$max"
    bomb() { bomb | bomb & }
    bomb
    while read -r _ n </sys/fs/cgroup/pids.events && [ "$n" = 0 ]; do :; done
    read -r cur </sys/fs/cgroup/pids.current
    echo "contained: forks refused $n, pids.current=$cur"
  ' >/tmp/pids.out 2>/tmp/pids.err
  st=$?
  cat /tmp/pids.out
  echo "stderr: $(wc -l </tmp/pids.err) lines, $(grep -c "can't fork" /tmp/pids.err) of them \"can't fork\""
  grep -v "can't fork" /tmp/pids.err | head -n 5
  expect_status 0 "$st"
  grep -qx 'pids.max=50' /tmp/pids.out || fail "pids.max is not 50 inside"
  cur=$(sed -n 's/.*pids.current=//p' /tmp/pids.out)
  [ -n "$cur" ] || fail "the bomb was not seen to be refused a fork"
  [ "$cur" -le 50 ] || fail "the container held $cur tasks, more than 50"
  # The host is responsive: a fork and a new container both work.
  [ "$(sh -c 'echo responsive')" = responsive ] || fail "the VM cannot fork after the bomb"
  [ "$(nsbox run --rm --network none busybox echo after)" = after ] ||
    fail "no container runs after the bomb"
}

# While a container with limits runs (it waits on a fifo), its cgroup is found below the
# delegated one by its memory.max; once it has ended, that cgroup must be gone, and what is
# new below the delegated cgroup can only be an empty leaf without limits (where nsbox may
# have moved itself, as a process may not sit in a cgroup whose controllers it enables).
case_cgroup_cleanup() {
  need_image
  deleg=$(own_cgroup)
  before=$(find "$deleg" -mindepth 1 -type d | sort)
  rm -f /tmp/cc.in /tmp/cc.out
  mkfifo /tmp/cc.in /tmp/cc.out
  nsbox run --rm --network none --memory 64m --pids-limit 50 busybox \
    sh -c 'echo ready; read -r _' </tmp/cc.in >/tmp/cc.out 2>/tmp/cc.err &
  pid=$!
  exec 3>/tmp/cc.in 4</tmp/cc.out
  read -r line <&4
  [ "$line" = ready ] || {
    cat /tmp/cc.err
    fail "the container did not start"
  }
  ctr=$(find "$deleg" -mindepth 2 -name memory.max -exec grep -lx 67108864 {} + | head -n 1)
  ctr=${ctr%/memory.max}
  echo "container's cgroup: ${ctr:-none found}"
  echo go >&3
  exec 3>&- 4<&-
  wait "$pid"
  st=$?
  cat /tmp/cc.err
  expect_status 0 "$st"
  [ -n "$ctr" ] || fail "no cgroup with memory.max 67108864 below $deleg while the container ran"
  [ -d "$ctr" ] && fail "$ctr is left after the container ended"
  after=$(find "$deleg" -mindepth 1 -type d | sort)
  for d in $after; do
    echo "$before" | grep -qx "$d" && continue
    echo "new since the run: $d ($(limits_of "$d"))"
    [ -z "$(find "$d" -mindepth 1 -type d)" ] || fail "$d has cgroups below it"
    has_limit "$d" && fail "$d has a limit"
  done
  return 0
}

# The user's cgroup belongs to root: a limit cannot be set, which is nsbox's own error (125,
# one line), and nothing is created.
case_no_delegation() {
  need_image
  before=$(find "$USER_CG" -type d | sort)
  out=$(nsbox run --rm --network none --memory 64m busybox true 2>&1)
  st=$?
  echo "$out"
  expect_status 125 "$st"
  [ "$(echo "$out" | wc -l)" -eq 1 ] || fail "expected one line"
  case $out in
    "nsbox: "*unknown\ option*) fail "nsbox does not know the option" ;;
    # Whatever the wording, it must say what is missing: a cgroup (delegated) to the user.
    "nsbox: "*[Cc]group*) ;;
    *) fail "expected 'nsbox: ...' about the cgroup" ;;
  esac
  [ "$(find "$USER_CG" -type d | sort)" = "$before" ] || fail "a cgroup was created"
  [ -z "$(nsbox ps -aq)" ] || fail "a container was left: $(nsbox ps -a)"
}

if [ "${1:-}" = case ]; then
  "case_$(echo "$2" | tr - _)"
  exit $?
fi

# --- the runner (root) --------------------------------------------------------------------------

# A line to the console and to the results port.
emit() {
  echo "$*"
  [ -c "$RES" ] && echo "$*" >"$RES"
}

setup_host() {
  cat >/etc/passwd <<EOF
root:x:0:0:root:/root:/bin/sh
$TESTER:x:$TESTER_UID:$TESTER_UID:nsbox tester:/home/$TESTER:/bin/sh
EOF
  cat >/etc/group <<EOF
root:x:0:
$TESTER:x:$TESTER_UID:
EOF
  mkdir -p "/home/$TESTER"
  chown "$TESTER_UID:$TESTER_UID" "/home/$TESTER"
  [ -c "$RES" ] && stty -F "$RES" raw -echo
  # Every controller, in the root and in the user cgroup, as systemd enables them.
  read -r ctrls <"$CG/cgroup.controllers"
  for c in $ctrls; do echo "+$c" >"$CG/cgroup.subtree_control"; done
  mkdir "$USER_CG"
  for c in $ctrls; do echo "+$c" >"$USER_CG/cgroup.subtree_control"; done
  echo 1000 >"$USER_CG/pids.max"
  echo 768M >"$USER_CG/memory.max"
}

# The cgroup of case $1: below the root for root's cases; below the user cgroup for the
# tester's, delegated to the tester unless $2 is "nodeleg".
make_case_cgroup() {
  case $2 in
    root) d=$CG/$1 ;;
    *) d=$USER_CG/$1 ;;
  esac
  mkdir "$d"
  [ "$2" = deleg ] && chown "$TESTER_UID:$TESTER_UID" "$d" "$d/cgroup.procs" \
    "$d/cgroup.subtree_control" "$d/cgroup.threads"
  echo "$d"
}

n=0
failed=0
# run_case NAME WHO(root|tester) CGROUP(root|deleg|nodeleg) DESCRIPTION
run_case() {
  name=$1 who=$2 desc=$4 out=/tmp/case-$1.out
  n=$((n + 1))
  echo "--- vm-test $name: $desc"
  cg=$(make_case_cgroup "$name" "$3")
  read -r t0 _ </proc/uptime
  # The case's process moves itself (as root) into its cgroup before it becomes the tester, who
  # may not move a process out of a cgroup it does not own. busybox's timeout execs the command
  # (its watcher stays out here) and su execs the shell, so the case is alone in its cgroup.
  if [ "$who" = root ]; then
    set -- sh /tests.sh case "$name"
  else
    set -- su -s /bin/sh "$who" -c "exec sh /tests.sh case $name"
  fi
  timeout "$CASE_TIMEOUT" sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' sh "$cg" "$@" \
    >"$out" 2>&1 </dev/null
  st=$?
  read -r t1 _ </proc/uptime
  [ "$st" -gt 1 ] && echo "FAIL: the case ended with status $st (killed after ${CASE_TIMEOUT}s?)" >>"$out"
  # Whatever the case started must have ended with it (nsbox waits for its container); what is
  # left is reported and killed, so that it cannot disturb the next cases.
  if grep -q '^populated 1' "$cg/cgroup.events"; then
    echo "FAIL: processes left in $cg: $(find "$cg" -name cgroup.procs -exec cat {} + | tr '\n' ' ')" >>"$out"
    echo 1 >"$cg/cgroup.kill"
    st=1
  fi
  # Nor may a cgroup with a limit, or with cgroups below it, be left below the case's: only a
  # leaf nsbox may have moved itself (and its caller) into.
  find "$cg" -mindepth 1 -type d >/tmp/case-dirs
  while read -r d; do
    if [ -n "$(find "$d" -mindepth 1 -type d)" ] || has_limit "$d"; then
      echo "FAIL: cgroup left: $d ($(limits_of "$d"))" >>"$out"
      st=1
    fi
  done </tmp/case-dirs
  echo "took $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') s" >>"$out"
  if [ "$st" -eq 0 ]; then
    emit "ok $n $name - $desc"
  else
    emit "not ok $n $name - $desc"
    failed=$((failed + 1))
  fi
  while IFS= read -r line; do emit "# $line"; done <"$out"
}

setup_host
emit "vm: begin"
emit "vm: kernel $(uname -r), $(nproc) cpus, cgroup controllers: $(cat "$CG/cgroup.controllers")"
emit "vm: modules loaded: $(cut -d' ' -f1 /proc/modules | tr '\n' ' ')"
run_case root-plain root root "nsbox run as root"
run_case rootless-plain "$TESTER" deleg "nsbox run as a user without a subordinate id range"
run_case limits-visible "$TESTER" deleg "limits shown in the container's own read-only /sys/fs/cgroup"
run_case memory-limit "$TESTER" deleg "a memory hog under --memory 64m exits 137 with the message"
run_case cpus-limit "$TESTER" deleg "a busy loop under --cpus 0.5 gets about half a CPU"
run_case cgroup-cleanup "$TESTER" deleg "no cgroup is left after a container with limits"
run_case no-delegation "$TESTER" nodeleg "a limit without a delegated cgroup is refused (125)"
run_case pids-limit "$TESTER" deleg "a fork bomb under --pids-limit 50 is contained"
read -r up _ </proc/uptime
emit "vm: end: $n cases, $failed failed, uptime $up s"
