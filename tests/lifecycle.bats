#!/usr/bin/env bats
# Detached containers and the commands around them: run -d, ps, logs, exec, stop, kill, wait,
# start, rm -f, inspect; names, id prefixes, concurrency, a killed monitor, wrong states.
load helpers

teardown() {
  local ids
  ids=$(nsbox ps -aq 2>/dev/null) || true
  [ -z "$ids" ] || nsbox rm -f $ids >/dev/null 2>&1 || true
}

# Runs a detached container with no network (the tests here are about its life, not its
# network); prints its id.
detach() {
  nsbox run -d --network none "$@"
}

# The container's log file in the store.
log_file() {
  echo "$(store_dir)/containers/$1/ctr.log"
}

# One field of `nsbox inspect NAME` (a "Key": value line of its pretty JSON), value only.
inspect_field() {
  nsbox inspect "$1" | sed -n "s/^ *\"$2\": \(.*\)$/\1/p" | head -1 | sed 's/,$//; s/^"//; s/"$//'
}

is_up() { nsbox ps | grep -q " $1 .*Up "; }
not_up() { ! is_up "$1"; }
log_has() { nsbox logs "$1" 2>&1 | grep -q "$2"; }

@test "run -d: prints the id and returns while the container runs; ps shows it Up" {
  id=$(detach --name lc-detach busybox sh -c 'echo started; sleep 1000')
  [[ $id =~ ^[0-9a-f]{64}$ ]]
  run nsbox ps
  [[ $output == *"${id:0:12}"*lc-detach*busybox*"Up "* ]]
  wait_for log_has lc-detach started
}

@test "run -d: stdout and stderr are logged apart, each line timestamped" {
  id=$(detach --name lc-log busybox sh -c 'echo out1; echo err1 >&2; echo out2; printf partial')
  [ "$(nsbox wait lc-log)" = 0 ]
  f=$(log_file "$id")
  ts='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{9}Z'
  grep -Eq "^$ts stdout F out1$" "$f"
  grep -Eq "^$ts stderr F err1$" "$f"
  grep -Eq "^$ts stdout P partial$" "$f"
  # nsbox logs puts each stream back where it came from.
  [ "$(nsbox logs lc-log 2>/dev/null)" = "$(printf 'out1\nout2\npartial')" ]
  [ "$(nsbox logs lc-log 2>&1 >/dev/null)" = err1 ]
  run nsbox logs -t lc-log
  [[ ${lines[0]} =~ ^$ts\ out1$ ]]
  detach --name lc-tail busybox sh -c 'for i in 1 2 3 4 5; do echo line$i; done' >/dev/null
  [ "$(nsbox wait lc-tail)" = 0 ]
  [ "$(nsbox logs --tail 2 lc-tail)" = "$(printf 'line4\nline5')" ]
}

@test "logs -f: sees new lines as they come and ends with the container" {
  # One fifo per step: a writer that is still closing one must not also end the next read.
  mkfifo "$BATS_TEST_TMPDIR/go1" "$BATS_TEST_TMPDIR/go2"
  detach --name lc-follow -v "$BATS_TEST_TMPDIR:/s" busybox \
    sh -c 'echo one; read x </s/go1; echo two; read x </s/go2; echo three' >/dev/null
  nsbox logs -f lc-follow >"$BATS_TEST_TMPDIR/out" 2>&1 &
  local follower=$!
  wait_for grep -qx one "$BATS_TEST_TMPDIR/out"
  run ! grep -q two "$BATS_TEST_TMPDIR/out"
  echo >"$BATS_TEST_TMPDIR/go1"
  wait_for grep -qx two "$BATS_TEST_TMPDIR/out"
  run ! grep -q three "$BATS_TEST_TMPDIR/out"
  alive "$follower"
  echo >"$BATS_TEST_TMPDIR/go2"
  # The container exits: logs -f prints the last line and ends by itself.
  wait "$follower"
  [ "$(cat "$BATS_TEST_TMPDIR/out")" = "$(printf 'one\ntwo\nthree')" ]
}

@test "exec: same PID namespace, hostname and root; the exit code of CMD" {
  detach --name lc-exec --hostname exechost busybox sh -c 'echo marker > /m; echo ready; sleep 1000' >/dev/null
  wait_for log_has lc-exec ready
  run nsbox exec lc-exec sh -c 'ps -o pid,args; hostname; cat /m; readlink /proc/1/exe'
  [ "$status" -eq 0 ]
  [[ $output == *"sleep 1000"* ]]
  [[ $output == *exechost* ]]
  [[ $output == *marker* ]]
  [[ $output == *"/memfd:nsbox-init"* ]]
  # The container's pids start at 1: the exec'd shell is a small number, not a host pid.
  pid=$(nsbox exec lc-exec sh -c 'echo $$')
  [ "$pid" -lt 100 ]
  run nsbox exec lc-exec sh -c 'exit 42'
  [ "$status" -eq 42 ]
  run -127 nsbox exec lc-exec nosuchcommand
  assert_one_error_line
}

@test "exec: -e, -u, -w; the container's env otherwise" {
  detach --name lc-exenv -e FROMRUN=r busybox sleep 1000 >/dev/null
  run nsbox exec -e FOO=bar -w /tmp lc-exenv sh -c 'echo $FOO $FROMRUN; pwd; id -u'
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = "bar r" ]
  [ "${lines[1]}" = /tmp ]
  [ "${lines[2]}" = 0 ]
  if is_root_mode || has_subids; then
    run nsbox exec -u 1000 lc-exenv id -u
    [ "$output" = 1000 ]
  fi
}

@test "exec: the container's capabilities, no_new_privs and seccomp filter" {
  detach --name lc-exconf --cap-drop ALL --cap-add NET_BIND_SERVICE busybox \
    sh -c 'grep -E "^(CapBnd|CapEff|NoNewPrivs|Seccomp):" /proc/self/status; sleep 1000' >/dev/null
  wait_for log_has lc-exconf Seccomp
  inside=$(nsbox logs lc-exconf)
  run nsbox exec lc-exconf grep -E '^(CapBnd|CapEff|NoNewPrivs|Seccomp):' /proc/self/status
  [ "$status" -eq 0 ]
  [ "$output" = "$inside" ]
  [[ $output == *"CapBnd:"*"0000000000000400"* ]]
  [[ $output == *"NoNewPrivs:"*1* ]]
  [[ $output == *"Seccomp:"*2* ]]
  # The filter is there: new user namespaces are refused, which they are not without it.
  run nsbox exec lc-exconf unshare -U true
  [ "$status" -ne 0 ]
  [[ $output == *"Operation not permitted"* ]]
}

@test "exec: joins the container's cgroup" {
  is_root_mode || skip "limits need cgroup v2 delegation rootless (this host has v1)"
  detach --name lc-excg -m 64m busybox sleep 1000 >/dev/null
  run nsbox exec lc-excg sh -c '
    for f in /sys/fs/cgroup/cgroup.procs /sys/fs/cgroup/memory/cgroup.procs; do
      [ -e "$f" ] && grep -qx $$ "$f" && echo in-cgroup; done'
  [ "$status" -eq 0 ]
  [ "$output" = in-cgroup ]
}

@test "stop: a command that traps TERM exits with its own code" {
  detach --name lc-trap busybox sh -c 'trap "exit 7" TERM; echo ready; sleep 1000 & wait' >/dev/null
  wait_for log_has lc-trap ready
  run nsbox stop lc-trap
  [ "$status" -eq 0 ]
  [ "$output" = lc-trap ]
  # stop returns once the exit is recorded.
  run nsbox ps -a
  [[ $output == *lc-trap*"Exited (7)"* ]]
  [ "$(nsbox wait lc-trap)" = 7 ]
}

@test "stop: a command that ignores TERM is killed after -t; --stop-signal" {
  detach --name lc-ignore busybox sh -c 'trap "" TERM; echo ready; while :; do sleep 1; done' >/dev/null
  wait_for log_has lc-ignore ready
  run nsbox stop -t 1 lc-ignore
  [ "$status" -eq 0 ]
  [ "$(nsbox wait lc-ignore)" = 137 ]
  detach --name lc-stopsig --stop-signal USR1 busybox \
    sh -c 'trap "exit 9" USR1; echo ready; sleep 1000 & wait' >/dev/null
  wait_for log_has lc-stopsig ready
  nsbox stop lc-stopsig
  [ "$(nsbox wait lc-stopsig)" = 9 ]
}

@test "kill -s: the signal reaches the command; kill alone is KILL" {
  detach --name lc-kill busybox sh -c 'trap "echo got-usr1" USR1; echo ready; while :; do sleep 1 & wait; done' >/dev/null
  wait_for log_has lc-kill ready
  run nsbox kill -s USR1 lc-kill
  [ "$status" -eq 0 ]
  wait_for log_has lc-kill got-usr1
  is_up lc-kill
  run nsbox kill -s SIGNOPE lc-kill
  [ "$status" -eq 125 ]
  assert_one_error_line
  nsbox kill lc-kill
  [ "$(nsbox wait lc-kill)" = 137 ]
}

@test "wait: prints the exit code, at once for an exited container; --rm too" {
  mkfifo "$BATS_TEST_TMPDIR/go"
  detach --name lc-wait -v "$BATS_TEST_TMPDIR:/s" busybox sh -c 'read x </s/go; exit 5' >/dev/null
  nsbox wait lc-wait >"$BATS_TEST_TMPDIR/code" &
  local waiter=$!
  echo >"$BATS_TEST_TMPDIR/go"
  wait "$waiter"
  [ "$(cat "$BATS_TEST_TMPDIR/code")" = 5 ]
  [ "$(nsbox wait lc-wait)" = 5 ]
  # A --rm container is gone once it exits; its monitor still tells the waiter.
  detach --rm --name lc-waitrm -v "$BATS_TEST_TMPDIR:/s" busybox sh -c 'read x </s/go; exit 6' >/dev/null
  nsbox wait lc-waitrm >"$BATS_TEST_TMPDIR/code" &
  waiter=$!
  wait_for is_up lc-waitrm
  echo >"$BATS_TEST_TMPDIR/go"
  wait "$waiter"
  [ "$(cat "$BATS_TEST_TMPDIR/code")" = 6 ]
  run nsbox ps -a
  [[ $output != *lc-waitrm* ]]
}

@test "rm -f: a running detached container and its monitor go, nothing is left" {
  before=$(container_count)
  id=$(detach --name lc-rmf busybox sleep 1000)
  monitor=$(inspect_field lc-rmf MonitorPid)
  [ "$monitor" -gt 0 ]
  run nsbox rm -f lc-rmf
  [ "$status" -eq 0 ]
  run ! alive "$monitor"
  [ "$(container_count)" -eq "$before" ]
  [ -z "$(run_dir_entries)" ]
}

@test "start: an exited container runs again with its writable layer kept" {
  detach --name lc-restart busybox sh -c 'echo x >> /count; wc -l < /count' >/dev/null
  [ "$(nsbox wait lc-restart)" = 0 ]
  run nsbox start lc-restart
  [ "$status" -eq 0 ]
  [ "$output" = lc-restart ]
  [ "$(nsbox wait lc-restart)" = 0 ]
  run nsbox logs lc-restart
  [ "${lines[0]}" = 1 ]
  [ "${lines[1]}" = 2 ]
  # start -a: in the foreground, its output here and its exit code returned.
  run nsbox start -a lc-restart
  [ "$status" -eq 0 ]
  [ "$output" = 3 ]
}

@test "start: of two concurrent starts exactly one runs the container" {
  mkfifo "$BATS_TEST_TMPDIR/go"
  detach --name lc-race -v "$BATS_TEST_TMPDIR:/s" busybox sh -c 'echo run; read x </s/go' >/dev/null
  echo >"$BATS_TEST_TMPDIR/go"
  nsbox wait lc-race >/dev/null
  local ok=0 a b
  nsbox start lc-race >/dev/null 2>&1 &
  a=$!
  nsbox start lc-race >/dev/null 2>&1 &
  b=$!
  wait "$a" && ok=$((ok + 1))
  wait "$b" && ok=$((ok + 1))
  [ "$ok" -eq 1 ]
  echo >"$BATS_TEST_TMPDIR/go"
  [ "$(nsbox wait lc-race)" = 0 ]
  # Two runs in all: the first and the one start that won.
  [ "$(nsbox logs lc-race | grep -c '^run$')" -eq 2 ]
}

@test "inspect: config, state, pid, mounts, network and exit code" {
  id=$(detach --name lc-inspect --hostname inh -v "$BATS_TEST_TMPDIR:/data:ro" -e K=V busybox sleep 1000)
  run nsbox inspect lc-inspect
  [ "$status" -eq 0 ]
  [[ $output == "["* ]]
  [ "$(inspect_field lc-inspect Id)" = "$id" ]
  [ "$(inspect_field lc-inspect Name)" = lc-inspect ]
  [ "$(inspect_field lc-inspect Status)" = running ]
  [ "$(inspect_field lc-inspect Running)" = true ]
  pid=$(inspect_field lc-inspect Pid)
  [ "$pid" -gt 1 ]
  [ "$(cat /proc/"$pid"/comm)" = "memfd:nsbox-ini" ] || [[ $(readlink /proc/"$pid"/exe) == *nsbox-init* ]]
  [ "$(inspect_field lc-inspect Hostname)" = inh ]
  [[ $output == *'"K=V"'* ]]
  [[ $output == *"\"Destination\": \"/data\""* ]]
  [[ $output == *"\"Source\": \"$BATS_TEST_TMPDIR\""* ]]
  [[ $output == *'"NetworkSettings"'* ]]
  nsbox kill lc-inspect
  nsbox wait lc-inspect >/dev/null
  [ "$(inspect_field lc-inspect Status)" = exited ]
  [ "$(inspect_field lc-inspect ExitCode)" = 137 ]
  [ "$(inspect_field lc-inspect Pid)" = 0 ]
}

@test "names are unique; a unique id prefix works wherever a name does" {
  id=$(detach --name lc-name busybox sleep 1000)
  run nsbox run -d --network none --name lc-name busybox true
  [ "$status" -eq 125 ]
  assert_one_error_line
  [[ $output == *lc-name*"in use"* ]]
  run nsbox exec "${id:0:7}" echo via-prefix
  [ "$output" = via-prefix ]
  [ "$(inspect_field "${id:0:5}" Name)" = lc-name ]
  run nsbox stop -t 0 "${id:0:9}"
  [ "$status" -eq 0 ]
}

@test "30 containers started in parallel with distinct names are all listed" {
  local pids=() i
  for i in $(seq 30); do
    nsbox run -d --network none --name "lc-par-$i" busybox true >/dev/null &
    pids+=($!)
  done
  for i in "${pids[@]}"; do
    wait "$i"
  done
  run nsbox ps -a
  for i in $(seq 30); do
    [[ $output == *" lc-par-$i "* ]]
  done
  [ "$(grep -c ' lc-par-' <<<"$output")" -eq 30 ]
}

@test "ps: a container whose monitor was SIGKILLed is not reported as running" {
  detach --name lc-monkill busybox sleep 1000 >/dev/null
  monitor=$(inspect_field lc-monkill MonitorPid)
  pid=$(inspect_field lc-monkill Pid)
  kill -KILL "$monitor"
  # The container dies with its monitor (parent-death signal); ps must not say Up.
  wait_for not_up lc-monkill
  run ! alive "$pid"
  run nsbox ps -a
  [[ $output == *lc-monkill*Exited* ]]
  run nsbox rm lc-monkill
  [ "$status" -eq 0 ]
  [ -z "$(run_dir_entries)" ]
}

@test "each command on a missing container: one line, 125" {
  local c
  for c in logs stop kill wait start attach inspect rm; do
    run nsbox $c lc-missing
    [ "$status" -eq 125 ] || { echo "$c: $status"; false; }
    assert_one_error_line
  done
  run nsbox exec lc-missing true
  [ "$status" -eq 125 ]
  assert_one_error_line
}

@test "each command on a container in the wrong state: one line, 125" {
  detach --name lc-exited busybox true >/dev/null
  nsbox wait lc-exited >/dev/null
  local c
  for c in stop kill attach "exec lc-exited true"; do
    [[ $c == exec* ]] && run nsbox $c || run nsbox $c lc-exited
    [ "$status" -eq 125 ] || { echo "$c: $status"; false; }
    assert_one_error_line
    [[ $output == *"not running"* ]]
  done
  detach --name lc-up busybox sleep 1000 >/dev/null
  run nsbox start lc-up
  [ "$status" -eq 125 ]
  assert_one_error_line
  [[ $output == *"already running"* ]]
  run nsbox rm lc-up
  [ "$status" -eq 125 ]
  assert_one_error_line
}
