#!/usr/bin/env bats
# Terminals: run -it, run -dit with attach and its detach keys, exec -it, and -t without a
# terminal. A real terminal is needed to drive them: a tmux server of the test's own (its
# socket in the test's tmp dir, so each user and each test has its own), whose pane runs nsbox.
# shellcheck disable=SC2016 # what is typed is single-quoted on purpose: the pane's shell expands it
load helpers

setup() {
  TMUX_SOCK="$BATS_TEST_TMPDIR/tmux.sock"
  CONTAINERS=()
}

teardown() {
  if [ -S "$TMUX_SOCK" ]; then
    # What the pane showed, for a failing test's report.
    echo "--- pane:"
    tm capture-pane -p -J -S - -t t 2>/dev/null
    tm kill-server 2>/dev/null || true
  fi
  local c
  for c in "${CONTAINERS[@]}"; do nsbox rm -f "$c" >/dev/null 2>&1 || true; done
}

need_tmux() {
  command -v tmux >/dev/null || skip "tmux is not installed: no terminal to drive nsbox -t with"
}

# tmux talking to this test's server only; -f: our settings, not the user's ~/.tmux.conf.
tm() { tmux -S "$TMUX_SOCK" -f "$BATS_TEST_TMPDIR/tmux.conf" "$@"; }

# Starts the test's tmux server with one pane of COLS x ROWS running the shell lines given
# after them, with nsbox (a function for the suite's store) and the environment it needs.
# PANE_TTY is the pane's terminal as the host sees it; STTY_BEFORE its mode before nsbox ran.
start_pane() {
  local cols=$1 rows=$2 v script="$BATS_TEST_TMPDIR/pane.sh"
  shift 2
  # The pane stays after its command ends (for its output), and no status line takes a row.
  printf '%s\n' 'set -g remain-on-exit on' 'set -g status off' >"$BATS_TEST_TMPDIR/tmux.conf"
  {
    for v in NSBOX NSBOX_TEST_ROOT XDG_DATA_HOME XDG_RUNTIME_DIR HOME PATH; do
      [ -z "${!v+set}" ] || printf 'export %s=%q\n' "$v" "${!v}"
    done
    printf '%s\n' 'nsbox() { "$NSBOX" ${NSBOX_TEST_ROOT:+--root "$NSBOX_TEST_ROOT"} "$@"; }'
    printf 'T=%q\n' "$BATS_TEST_TMPDIR"
    printf '%s\n' 'stty -g >"$T/stty.before"'
    printf '%s\n' "$@"
  } >"$script"
  tm new-session -d -s t -x "$cols" -y "$rows" "bash --norc --noprofile $script"
  PANE_TTY=$(tm display -p -t t '#{pane_tty}')
  wait_for test -s "$BATS_TEST_TMPDIR/stty.before"
  STTY_BEFORE=$(cat "$BATS_TEST_TMPDIR/stty.before")
}

# Types into the pane: tmux key names (Enter, C-c) or text.
keys() { tm send-keys -t t "$@"; }

# Whether the pane shows a line that is TEXT (in its history, wrapped lines joined). Whole
# lines: the shell's banner, for one, holds numbers too.
pane_has() { tm capture-pane -p -J -S - -t t | grep -qxF -- "$1"; }

# The same for a line that matches the extended regex RE.
pane_matches() { tm capture-pane -p -J -S - -t t | grep -qxE -- "$1"; }

# Whether the pane's terminal is in raw mode: nsbox has taken it for its relay.
pane_raw() { stty -F "$PANE_TTY" -a | grep -q -- '-icanon'; }

# Whether the host's side of the pane's terminal has ROWS COLS (tmux resizes it lazily).
pane_size_is() { [ "$(stty -F "$PANE_TTY" size)" = "$1 $2" ]; }

# Resizes the pane to COLS x ROWS and waits until its terminal has that size.
resize_pane() {
  tm resize-window -t t -x "$1" -y "$2"
  wait_for pane_size_is "$2" "$1"
}

# Whether a process whose command line is exactly "sleep N" runs in the foreground process
# group of its terminal (where Ctrl-C lands). The host sees the container's processes too.
sleep_in_foreground() {
  local pid ids pgid tpgid
  pid=$(pgrep -f "^sleep $1\$") || return 1
  ids=$(ps -o pgid=,tpgid= -p "$pid") || return 1
  read -r pgid tpgid <<<"$ids"
  [ "$pgid" = "$tpgid" ]
}

sleep_gone() { ! pgrep -f "^sleep $1\$" >/dev/null; }

# The content of FILE once it has been written (the pane writes one short line).
written() { wait_for test -s "$1" && cat "$1"; }

@test "terminal: run -it gives a shell a terminal that follows resizes, Ctrl-C and job control" {
  need_tmux
  CONTAINERS+=(term-it)
  local t=$BATS_TEST_TMPDIR n1=$((100000 + RANDOM)) n2=$((200000 + RANDOM))
  start_pane 80 24 'nsbox run -it --rm --name term-it busybox sh' 'st=$?' \
    'stty -g >"$T/stty.after"' 'echo "$st" >"$T/status"'
  wait_for pane_raw
  # Computed inside: the shell ran the line, this is not the echo of what was typed.
  keys 'echo $((6*7)); stty size' Enter
  wait_for pane_has 42
  wait_for pane_has '24 80'

  resize_pane 120 40
  keys 'stty size' Enter
  wait_for pane_has '40 120'

  # Ctrl-C goes through the container's pty to its foreground process, not to the shell.
  keys "sleep $n1" Enter
  wait_for sleep_in_foreground "$n1"
  keys C-c
  wait_for sleep_gone "$n1"
  keys 'echo int1=$? alive=$((7*8))' Enter
  wait_for pane_has 'int1=130 alive=56'

  # Job control: the pty is the shell's controlling terminal.
  keys "sleep $n2 &" Enter
  keys jobs Enter
  wait_for pane_matches '\[1\]\+ +Running +sleep '"$n2"
  keys fg Enter
  wait_for sleep_in_foreground "$n2"
  keys C-c
  wait_for sleep_gone "$n2"
  keys 'echo int2=$?' Enter
  wait_for pane_has 'int2=130'

  keys 'exit 3' Enter
  [ "$(written "$t/status")" = 3 ]
  # The terminal was raw while nsbox ran (checked above) and is as it was before afterwards.
  [ -s "$t/stty.after" ]
  [ "$(cat "$t/stty.after")" = "$STTY_BEFORE" ]
}

@test "terminal: run -dit, then attach follows resizes, ctrl-p ctrl-q detaches, attach again" {
  need_tmux
  CONTAINERS+=(term-att)
  local t=$BATS_TEST_TMPDIR
  run nsbox run -dit --name term-att busybox sh
  [ "$status" -eq 0 ]
  mkfifo "$t/again"
  start_pane 80 24 'nsbox attach term-att; echo $? >"$T/attach1"' 'read -r _ <"$T/again"' \
    'nsbox attach term-att; echo $? >"$T/attach2"'
  wait_for pane_raw
  # The detached container's pty takes the size of the terminal that attaches.
  keys 'v=$((5*5)); echo v=$v; stty size' Enter
  wait_for pane_has v=25
  wait_for pane_has '24 80'
  resize_pane 120 40
  keys 'stty size' Enter
  wait_for pane_has '40 120'

  keys C-p C-q
  [ "$(written "$t/attach1")" = 0 ]
  [ "$(stty -F "$PANE_TTY" -g)" = "$STTY_BEFORE" ]
  run nsbox ps
  [[ $output == *term-att*Up* ]]

  # The same shell, with its variable, is there on the next attach.
  echo go >"$t/again"
  wait_for pane_raw
  keys 'echo again=$v; exit 4' Enter
  wait_for pane_has again=25
  [ "$(written "$t/attach2")" = 4 ]
  run nsbox wait term-att
  [ "$output" = 4 ]
}

@test "terminal: exec -it gives the process a pty of the container's devpts that follows resizes" {
  need_tmux
  CONTAINERS+=(term-exec)
  local t=$BATS_TEST_TMPDIR
  run nsbox run -d --name term-exec busybox sleep 1000
  [ "$status" -eq 0 ]
  start_pane 80 24 'nsbox exec -it term-exec sh; st=$?' 'stty -g >"$T/stty.after"' \
    'echo "$st" >"$T/status"'
  wait_for pane_raw
  keys 'tty; echo $((3*4)); stty size' Enter
  wait_for pane_has 12
  wait_for pane_has '24 80'
  pane_matches '/dev/pts/[0-9]+'
  resize_pane 100 30
  keys 'stty size' Enter
  wait_for pane_has '30 100'
  # The pty lives on the container's devpts, not on the host's.
  keys '[ "$(stat -L -c %d /proc/self/fd/0)" = "$(stat -c %d /dev/pts)" ] && echo own=$((2+2))' Enter
  wait_for pane_has own=4
  keys 'exit 2' Enter
  [ "$(written "$t/status")" = 2 ]
  [ "$(cat "$t/stty.after")" = "$STTY_BEFORE" ]
}

@test "terminal: -t without a terminal on stdin fails with one line and 125" {
  CONTAINERS+=(term-notty term-notty-exec)
  local before
  before=$(container_count)
  run nsbox run -t --name term-notty busybox true </dev/null
  [ "$status" -eq 125 ]
  assert_one_error_line
  [[ $output == "nsbox: -t: "* ]]
  [ "$(container_count)" -eq "$before" ]
  run nsbox run -d --name term-notty-exec busybox sleep 1000
  [ "$status" -eq 0 ]
  run nsbox exec -t term-notty-exec true </dev/null
  [ "$status" -eq 125 ]
  assert_one_error_line
  [[ $output == "nsbox: -t: "* ]]
  # The container was left alone.
  run nsbox ps
  [[ $output == *term-notty-exec*Up* ]]
}

@test "terminal: with -u the pty belongs to that user, as a login's does" {
  is_root_mode || has_subids || skip "uid 1000 is not mapped without a subordinate range"
  command -v script >/dev/null || skip "script (util-linux) is not installed"
  # script gives nsbox a terminal of its own; the owner of the container's pty is printed.
  run script -qec "\"$NSBOX\" ${NSBOX_TEST_ROOT:+--root \"$NSBOX_TEST_ROOT\"} run --rm -t --network none -u 1000 busybox sh -c 'stat -c owner=%u \$(tty)'" /dev/null </dev/null
  [ "$status" -eq 0 ]
  [[ $output == *owner=1000* ]]
}
