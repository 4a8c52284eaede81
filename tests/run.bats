#!/usr/bin/env bats
# nsbox run: the container's processes, namespaces, identity, filesystem and exit codes.
load helpers

@test "run: hello from busybox" {
  run nsbox run --rm busybox echo hello
  [ "$status" -eq 0 ]
  [ "$output" = hello ]
}

@test "run: PID 1 is nsbox-init from a memfd and the command is PID 2" {
  run nsbox run --rm busybox sh -c 'echo $$; readlink /proc/1/exe; cat /proc/1/comm'
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = 2 ]
  [[ ${lines[1]} == "/memfd:nsbox-init"* ]]
}

@test "run: --no-init makes the command PID 1" {
  run nsbox run --rm --no-init busybox sh -c 'echo $$'
  [ "$status" -eq 0 ]
  [ "$output" = 1 ]
}

@test "run: the init cannot be written through /proc/1/exe" {
  run nsbox run --rm busybox sh -c 'echo x > /proc/1/exe && echo WROTE'
  [ "$status" -ne 0 ]
  [[ $output != *WROTE* ]]
}

@test "run: only the container's processes are visible" {
  run nsbox run --rm busybox sh -c 'ps -o pid= > /tmp/ps; cat /tmp/ps | wc -l; sort -n /tmp/ps | tail -1; ps -o comm='
  [ "$status" -eq 0 ]
  # init, sh and ps: nothing of the host, and pids numbered from 1 in their own namespace.
  [ "${lines[0]}" -eq 3 ]
  [ "${lines[1]}" -le 3 ]
  [[ $output != *bats* ]]
}

@test "run: orphaned children are reaped, none stays a zombie" {
  # Twenty grandchildren are orphaned and exit; the init must reap them while the command
  # still runs. The poll ends as soon as no zombie is left.
  run nsbox run --rm busybox sh -c '
    for i in $(seq 20); do sh -c "true &"; done
    for i in $(seq 200); do
      z=$(grep -l "^State:.*Z" /proc/[0-9]*/status 2>/dev/null | wc -l)
      [ "$z" -eq 0 ] && break
      usleep 50000
    done
    echo zombies=$z'
  [ "$status" -eq 0 ]
  [ "$output" = zombies=0 ]
}

@test "run: a child spawning 100 background sleeps exits without leaving any" {
  run timeout 20 "$NSBOX" ${NSBOX_TEST_ROOT:+--root "$NSBOX_TEST_ROOT"} run --rm busybox \
    sh -c 'for i in $(seq 100); do sleep 1000 & done; exit 7'
  [ "$status" -eq 7 ]
}

# Sends SIG to nsbox run, whose command traps it and exits with CODE.
signal_reaches_command() {
  start_ready --rm busybox sh -c "trap 'exit $2' $1; echo ready; sleep 1000 & wait"
  [ "$READY_LINE" = ready ]
  kill -"$1" "$BG_PID"
  wait_bg_status
  [ "$BG_STATUS" -eq "$2" ]
}

@test "run: TERM to nsbox run reaches the command, which exits with its own code" {
  signal_reaches_command TERM 42
}

@test "run: INT (Ctrl-C) to nsbox run reaches the command" {
  signal_reaches_command INT 33
}

@test "run: HUP, USR1 and USR2 reach the command too" {
  signal_reaches_command HUP 31
  signal_reaches_command USR1 32
  signal_reaches_command USR2 34
}

@test "run: exit codes 0 and 1 and 42 pass through" {
  run nsbox run --rm busybox true
  [ "$status" -eq 0 ]
  run nsbox run --rm busybox false
  [ "$status" -eq 1 ]
  run nsbox run --rm busybox sh -c 'exit 42'
  [ "$status" -eq 42 ]
}

@test "run: a command killed by SIGKILL gives 137, by SIGTERM 143" {
  run nsbox run --rm busybox sh -c 'kill -KILL $$'
  [ "$status" -eq 137 ]
  run nsbox run --rm busybox sh -c 'kill -TERM $$'
  [ "$status" -eq 143 ]
}

@test "run: a command that is not found gives 127 and one line" {
  run -127 nsbox run --rm busybox no-such-command
  assert_one_error_line
  [[ $output == *no-such-command* ]]
  run -127 nsbox run --rm --no-init busybox no-such-command
  assert_one_error_line
}

@test "run: a command that is not executable gives 126" {
  run nsbox run --rm busybox /etc/passwd
  [ "$status" -eq 126 ]
  assert_one_error_line
  run nsbox run --rm --no-init busybox /etc/passwd
  [ "$status" -eq 126 ]
}

@test "run: a missing image gives 125 and one line, and creates nothing" {
  before=$(container_count)
  run nsbox run --rm no-such-image true
  [ "$status" -eq 125 ]
  assert_one_error_line
  [[ $output == *no-such-image* ]]
  [ "$(container_count)" -eq "$before" ]
}

@test "run: a bad option gives 125 and one line" {
  run nsbox run --bogus busybox true
  [ "$status" -eq 125 ]
  assert_one_error_line
  run nsbox run --network bogus busybox true
  [ "$status" -eq 125 ]
  assert_one_error_line
  run nsbox bogus-command
  [ "$status" -eq 125 ]
  assert_one_error_line
}

@test "run: hostname defaults to the short id and --hostname sets it" {
  run nsbox run --rm busybox sh -c 'hostname; cat /etc/hostname'
  [ "$status" -eq 0 ]
  [[ ${lines[0]} =~ ^[0-9a-f]{12}$ ]]
  [ "${lines[1]}" = "${lines[0]}" ]
  [ "${lines[0]}" != "$(hostname)" ]
  run nsbox run --rm --hostname box1 busybox sh -c 'hostname; grep box1 /etc/hosts; echo $HOSTNAME'
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = box1 ]
  [[ ${lines[1]} == *box1* ]]
  [ "${lines[2]}" = box1 ]
}

@test "run: the environment is built, not inherited" {
  export NSBOX_TEST_SECRET=leak
  run nsbox run --rm -e FOO=bar -e NSBOX_TEST_SECRET2 busybox env
  [ "$status" -eq 0 ]
  [[ $output != *leak* ]]
  [[ $output == *"FOO=bar"* ]]
  [[ $output == *"container=nsbox"* ]]
  [[ $output == *"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"* ]]
  [[ $output == *"HOME=/root"* ]]
  [[ $output == *"TERM="* ]]
  [[ $output == *"HOSTNAME="* ]]
}

@test "run: -e KEY passes the host's value, --env-file reads KEY=VAL lines" {
  export NSBOX_TEST_PASS=fromhost
  printf '# comment\nA=1\n\nB=two words\n' >"$BATS_TEST_TMPDIR/env"
  run nsbox run --rm -e NSBOX_TEST_PASS --env-file "$BATS_TEST_TMPDIR/env" -e A=override \
    busybox env
  [ "$status" -eq 0 ]
  [[ $output == *"NSBOX_TEST_PASS=fromhost"* ]]
  [[ $output == *"A=override"* ]]
  [[ $output == *"B=two words"* ]]
}

@test "run: no fd of nsbox reaches the container, only 0 1 2" {
  exec 7</dev/null 9>/dev/null
  # ls lists its own fds: 0 1 2 and the directory it reads (3); the init holds its signalfd.
  run nsbox run --rm busybox ls /proc/self/fd
  exec 7<&- 9>&-
  echo "$output"
  [ "$status" -eq 0 ]
  [ "$(echo $output)" = "0 1 2 3" ]
  run nsbox run --rm --no-init busybox ls /proc/self/fd
  [ "$(echo $output)" = "0 1 2 3" ]
}

@test "run: /dev holds the usual devices, a private devpts, shm and mqueue" {
  run nsbox run --rm busybox sh -c '
    ls /dev | tr "\n" " "; echo
    echo x > /dev/null && echo null-ok
    head -c 4 /dev/zero | wc -c
    head -c 8 /dev/urandom | wc -c
    readlink /dev/ptmx; readlink /dev/fd
    grep -E " /dev/(pts|shm|mqueue) " /proc/mounts | cut -d" " -f2,3 | tr "\n" " "'
  [ "$status" -eq 0 ]
  for d in null zero full random urandom tty ptmx pts shm mqueue fd stdin stdout stderr; do
    [[ " ${lines[0]} " == *" $d "* ]] || { echo "missing /dev/$d"; false; }
  done
  [ "${lines[1]}" = null-ok ]
  [ "${lines[2]}" = 4 ]
  [ "${lines[3]}" = 8 ]
  [ "${lines[4]}" = pts/ptmx ]
  [ "${lines[5]}" = /proc/self/fd ]
  [[ ${lines[6]} == *"/dev/pts devpts"* ]]
  [[ ${lines[6]} == *"/dev/shm tmpfs"* ]]
  [[ ${lines[6]} == *"/dev/mqueue mqueue"* ]]
}

@test "run: /proc is the container's, /sys is read-only" {
  run nsbox run --rm busybox sh -c 'grep -E " /(proc|sys) " /proc/mounts | cut -d" " -f2-4; touch /sys/x 2>&1 || echo sys-ro'
  [ "$status" -eq 0 ]
  [[ $output == *"/proc proc rw"* ]]
  [[ $output == *"/sys sysfs ro"* ]]
  [[ $output == *sys-ro* ]]
}

@test "run: --read-only makes the root read-only" {
  run nsbox run --rm --read-only busybox sh -c 'touch /x 2>/dev/null && echo wrote || echo refused; echo ok > /dev/shm/x && cat /dev/shm/x'
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = refused ]
  [ "${lines[1]}" = ok ]
  run nsbox run --rm busybox sh -c 'touch /x && echo wrote'
  [ "$output" = wrote ]
}

@test "run: -w sets the working directory (created when missing)" {
  run nsbox run --rm -w /tmp busybox pwd
  [ "$status" -eq 0 ]
  [ "$output" = /tmp ]
  run nsbox run --rm -w /new/dir busybox pwd
  [ "$status" -eq 0 ]
  [ "$output" = /new/dir ]
}

@test "run: --entrypoint replaces the command's first word" {
  run nsbox run --rm --entrypoint /bin/echo busybox a b
  [ "$status" -eq 0 ]
  [ "$output" = "a b" ]
}

@test "run: the network namespace has only lo, up; --network host shares the host's" {
  run nsbox run --rm --network none busybox sh -c 'ls /sys/class/net | tr "\n" " "; echo; ip link show lo | head -1'
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = "lo " ]
  [[ ${lines[1]} == *UP* ]]
  host_ifs=$(ls /sys/class/net | wc -l)
  run nsbox run --rm --network host busybox sh -c 'ls /sys/class/net | wc -l'
  [ "$status" -eq 0 ]
  [ "$output" -eq "$host_ifs" ]
}

@test "run: -v binds a host directory read-write, and :ro read-only" {
  d="$BATS_TEST_TMPDIR/vol"
  mkdir -p "$d"
  echo fromhost >"$d/in"
  chmod 777 "$d"
  run nsbox run --rm -v "$d:/data" busybox sh -c 'cat /data/in; echo fromctr > /data/out'
  [ "$status" -eq 0 ]
  [ "$output" = fromhost ]
  [ "$(cat "$d/out")" = fromctr ]
  run nsbox run --rm -v "$d:/data:ro" busybox sh -c 'cat /data/in; { echo x > /data/out2; } 2>/dev/null || echo refused'
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = fromhost ]
  [ "${lines[1]}" = refused ]
  [ ! -e "$d/out2" ]
}

@test "run: -v with a missing host path fails with 125 before anything runs" {
  before=$(container_count)
  run nsbox run --rm -v /no/such/path:/data busybox true
  [ "$status" -eq 125 ]
  assert_one_error_line
  [ "$(container_count)" -eq "$before" ]
}

@test "run: a volume target behind a symlink stays inside the container's root" {
  # An image (here: the container's own writable layer via --rootfs) may plant /escape -> /
  # pointing at the host's root; the mount must land inside the container's root anyway.
  r="$BATS_TEST_TMPDIR/rootfs"
  mkdir -p "$r"
  tar -xf "$BUSYBOX_TAR" -C "$r" 2>/dev/null || true
  target="$BATS_TEST_TMPDIR/host-side"
  ln -s "$target" "$r/escape"
  mkdir -p "$BATS_TEST_TMPDIR/vol"
  run nsbox run --rm --rootfs "$r" -v "$BATS_TEST_TMPDIR/vol:/escape/inside" busybox \
    sh -c 'test -d /escape/inside && echo mounted'
  [ ! -e "$target" ]
  [ ! -e "$target/inside" ]
}

@test "run: --tmpfs mounts a tmpfs" {
  run nsbox run --rm --tmpfs /scratch busybox sh -c 'grep " /scratch " /proc/mounts | cut -d" " -f3; echo x > /scratch/f && cat /scratch/f'
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = tmpfs ]
  [ "${lines[1]}" = x ]
}

@test "run: the overlay leaves the image unchanged" {
  run nsbox run --rm busybox sh -c 'echo changed > /etc/motd-test; rm /bin/vi; echo done'
  [ "$status" -eq 0 ]
  run nsbox run --rm busybox sh -c 'test -e /etc/motd-test && echo leaked; test -e /bin/vi && echo vi-present'
  [ "$output" = vi-present ]
}

@test "run: a removed and recreated directory hides the image's contents (opaque dir)" {
  run nsbox run --rm busybox sh -c 'rm -rf /usr/bin && mkdir /usr/bin && ls -A /usr/bin | wc -l'
  [ "$status" -eq 0 ]
  [ "$output" -eq 0 ]
}

@test "run: --rm leaves nothing behind" {
  before=$(container_count)
  run nsbox run --rm --name rmtest busybox sh -c 'echo x > /file'
  [ "$status" -eq 0 ]
  [ "$(container_count)" -eq "$before" ]
  run nsbox ps -a
  [[ $output != *rmtest* ]]
  [ ! -e "$(store_dir)/containers/.names/rmtest" ]
  # Nothing half-removed, and no running state left in the run dir either.
  [ -z "$(find "$(store_dir)/containers" -mindepth 1 -maxdepth 1 -name '.removing-*')" ]
  [ -z "$(run_dir_entries)" ]
}

@test "run: without --rm the container stays until nsbox rm, and its name is unique" {
  run nsbox run --name keepme busybox sh -c 'echo kept > /file; exit 3'
  [ "$status" -eq 3 ]
  run nsbox ps -a
  [[ $output == *keepme* ]]
  [[ $output == *"Exited (3)"* ]]
  run nsbox run --name keepme busybox true
  [ "$status" -eq 125 ]
  assert_one_error_line
  [[ $output == *keepme* ]]
  run nsbox ps
  [[ $output != *keepme* ]]
  run nsbox rm keepme
  [ "$status" -eq 0 ]
  run nsbox ps -a
  [[ $output != *keepme* ]]
  run nsbox rm keepme
  [ "$status" -eq 125 ]
}

@test "run: --rootfs runs a plain directory" {
  r="$BATS_TEST_TMPDIR/rootfs"
  mkdir -p "$r"
  tar -xf "$BUSYBOX_TAR" -C "$r" 2>/dev/null || true
  echo marker >"$r/marker"
  run nsbox run --rm --rootfs "$r" cat /marker
  [ "$status" -eq 0 ]
  [ "$output" = marker ]
}

@test "run: a hostile /etc/passwd (a FIFO) neither hangs nor breaks the run" {
  r="$BATS_TEST_TMPDIR/rootfs"
  mkdir -p "$r"
  tar -xf "$BUSYBOX_TAR" -C "$r" 2>/dev/null || true
  rm -f "$r/etc/passwd"
  mkfifo "$r/etc/passwd"
  run timeout 20 "$NSBOX" ${NSBOX_TEST_ROOT:+--root "$NSBOX_TEST_ROOT"} run --rm --rootfs "$r" \
    /bin/echo survived
  [ "$status" -eq 0 ]
  [ "$output" = survived ]
}
