# Shared by every .bats file: the nsbox under test, the mode we run in, and small checks.
bats_require_minimum_version 1.5.0

# nsbox with the suite's store. In a subshell (`nsbox run ... &`, `run nsbox ...`) it execs,
# so that $! is nsbox itself and a signal sent to it reaches nsbox, not a wrapping bash.
nsbox() {
  if [ "$BASHPID" != "$$" ]; then
    exec "$NSBOX" ${NSBOX_TEST_ROOT:+--root "$NSBOX_TEST_ROOT"} "$@"
  fi
  "$NSBOX" ${NSBOX_TEST_ROOT:+--root "$NSBOX_TEST_ROOT"} "$@"
}

is_root_mode() { [ "$NSBOX_TEST_MODE" = root ]; }

# Whether the user we run as has a subordinate id range nsbox will use.
has_subids() {
  [ "$(id -u)" -ne 0 ] || return 1
  local me
  me=$(id -un)
  grep -qE "^($me|$(id -u)):" /etc/subuid 2>/dev/null &&
    grep -qE "^($me|$(id -u)):" /etc/subgid 2>/dev/null &&
    command -v newuidmap >/dev/null
}

# The data dir nsbox uses for this suite.
store_dir() {
  if is_root_mode; then echo "$NSBOX_TEST_ROOT"; else echo "$XDG_DATA_HOME/nsbox"; fi
}

# Asserts: the last `run` printed exactly one line on stderr-merged output, starting "nsbox: ".
assert_one_error_line() {
  [ "${#lines[@]}" -eq 1 ] || {
    echo "expected one line, got ${#lines[@]}: $output"
    return 1
  }
  [[ ${lines[0]} == "nsbox: "* ]] || {
    echo "expected 'nsbox: ...', got: ${lines[0]}"
    return 1
  }
}

# What nsbox keeps in its run dir (running state, --rm records), one entry a line.
run_dir_entries() {
  local d
  if is_root_mode; then
    d="$NSBOX_TEST_ROOT/run"
  elif [ -n "${XDG_RUNTIME_DIR:-}" ]; then
    d="$XDG_RUNTIME_DIR/nsbox"
  elif [ -d "/run/user/$(id -u)" ] && [ -O "/run/user/$(id -u)" ]; then
    d="/run/user/$(id -u)/nsbox"
  elif [ -d "/dev/shm/nsbox-run-$(id -u)" ]; then
    d="/dev/shm/nsbox-run-$(id -u)"
  else
    d="/tmp/nsbox-run-$(id -u)"
  fi
  ls -A "$d" 2>/dev/null
}

# Number of containers in the store (any state).
container_count() {
  local d
  d="$(store_dir)/containers"
  find "$d" -mindepth 1 -maxdepth 1 -not -name '.*' | wc -l
}

# Polls a condition (a command) until it holds, at most ~10 s; the wait ends as soon as it
# holds, so this is a bounded wait for an event, not a sleep that guesses a duration.
wait_for() {
  local i
  for ((i = 0; i < 200; i++)); do
    "$@" && return 0
    sleep 0.05
  done
  "$@"
}

# Starts `nsbox run ARGS...` in the background, whose command must print one line ("ready")
# once it is set up, and returns when that line came: BG_PID is nsbox's pid.
start_ready() {
  local fifo="$BATS_TEST_TMPDIR/ready.$RANDOM"
  mkfifo "$fifo"
  nsbox run "$@" >"$fifo" &
  BG_PID=$!
  read -r READY_LINE <"$fifo"
}

# Waits for the background nsbox started by start_ready; sets BG_STATUS.
wait_bg_status() {
  BG_STATUS=0
  wait "$BG_PID" || BG_STATUS=$?
}

# Leftovers of loads and imports: temporary layers, blobs, records and unpacked archives.
tmp_dirs() {
  local i="$(store_dir)/images"
  find "$i" "$i/by-id" "$i/layers" "$i/blobs" -mindepth 1 -maxdepth 1 -name '.tmp-*' | wc -l
}
has_tmp_dir() { [ "$(tmp_dirs)" -ge 1 ]; }

# Starts `nsbox image import FIFO NAME` in the background, feeds it part of the busybox
# tarball through fd 5 (kept open, so the import waits for more) and returns once the
# import's temporary dir exists: BG_PID is nsbox's pid. Close fd 5 to end the input.
start_stalled_import() {
  local fifo="$BATS_TEST_TMPDIR/in.$RANDOM"
  mkfifo "$fifo"
  nsbox image import "$fifo" "$1" 2>/dev/null &
  BG_PID=$!
  exec 5>"$fifo"
  head -c 100000 "$BUSYBOX_TAR" >&5
  wait_for has_tmp_dir
}

# Starts a host command in the background that prints one line ("ready") once it listens;
# its pid goes to HOST_PIDS, for the test's teardown to end.
start_host_ready() {
  local fifo="$BATS_TEST_TMPDIR/host.$RANDOM"
  mkfifo "$fifo"
  "$@" >"$fifo" &
  HOST_PIDS+=($!)
  read -r _ <"$fifo"
}

# Whether process $1 is alive (a zombie is not).
alive() {
  local st
  st=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
  [[ $st != Z* ]]
}

# The path of tool $1 in PATH or in the sbin dirs, which a user's PATH often lacks (nsbox
# looks there for mkfs.ext4 too); nothing, and status 1, when it is nowhere.
tool_path() { PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin" command -v "$1"; }
