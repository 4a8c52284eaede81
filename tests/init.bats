#!/usr/bin/env bats
# Drives the standalone nsbox-init binary, as PID 1 of a new pid namespace ("pid1") and as a
# subreaper that is not PID 1 ("sub"), through what the usual init test suites check.
# Each behaviour is one function run once per mode. Signals are synchronised through FIFOs,
# never by sleeping; the only poll is the bounded wait for an orphan's asynchronous reap.

bats_require_minimum_version 1.5.0

setup_file() {
	export NSBOX_INIT="${NSBOX_INIT:-$BATS_TEST_DIRNAME/../out/nsbox-init}"
	[ -x "$NSBOX_INIT" ] || {
		echo "# $NSBOX_INIT is missing: make out/nsbox-init" >&3
		return 1
	}
}

setup() {
	T=$BATS_TEST_TMPDIR
	: >"$T/launched"
}

# Kills whatever a failed test left running, by pid and only our own background jobs.
teardown() {
	local p
	while read -r p; do
		[ "$(ppid_of "$p")" = "$BASHPID" ] && kill_tree "$p"
	done <"$T/launched"
	return 0
}

ppid_of() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
	stat=${stat##*) }
	set -- $stat
	echo "$2"
}

kill_tree() {
	local c
	kill -STOP "$1" 2>/dev/null || return 0
	for c in $(cat /proc/"$1"/task/*/children 2>/dev/null); do
		kill_tree "$c"
	done
	kill -KILL "$1" 2>/dev/null || true
}

# Sets L to the command prefix of MODE.
launcher() {
	case $1 in
	sub) L=() ;;
	pid1)
		if [ "$(id -u)" = 0 ]; then
			L=(unshare --pid --fork --mount-proc --kill-child)
		else
			L=(unshare --user --map-root-user --pid --fork --mount-proc --kill-child)
		fi
		;;
	esac
}

need_mode() {
	launcher "$1"
	[ "$1" = sub ] && return 0
	"${L[@]}" true 2>/dev/null || skip "cannot make a pid namespace as $(id -un) here"
}

# init_run MODE [INIT ARGS...]: runs the init in the foreground, stdin off any terminal.
# EXPECT=-N makes run check for status N (and keeps bats quiet about an expected 127).
init_run() {
	local mode=$1
	shift
	need_mode "$mode"
	run ${EXPECT:-} --separate-stderr timeout -k 2 30 "${L[@]}" "$NSBOX_INIT" "$@" </dev/null 3>&-
}

# start_bg MODE [INIT ARGS...]: starts the init in the background with default signal
# dispositions (bash would give a background job SIGINT/SIGQUIT ignored), waits for
# $READY lines (default 1) on the FIFO $T/ready, which the test keeps open on fd 4, and
# sets BG (the job) and INIT_PID (the init's pid as seen from here). The job writes the
# init's exit status to the FIFO $T/done (fd 5), so that waiting for it can be bounded.
start_bg() {
	local mode=$1 i line
	shift
	need_mode "$mode"
	mkfifo "$T/ready" "$T/done"
	exec 4<>"$T/ready" 5<>"$T/done"
	(
		exec 3>&- 4>&- 5>&- </dev/null
		st=0 # not $? alone: errexit would end the subshell first
		"${L[@]}" env --default-signal "$NSBOX_INIT" "$@" || st=$?
		echo "$st" >"$T/done"
	) &
	BG=$!
	echo "$BG" >>"$T/launched"
	for ((i = 0; i < ${READY:-1}; i++)); do
		read -r -t 20 -u 4 line || fail "the command never became ready"
	done
	INIT_PID=$(child_of "$BG")
	[ "$mode" = sub ] || INIT_PID=$(child_of "$INIT_PID")
}

# The children file has no trailing newline, so read "fails" at EOF after filling c.
child_of() {
	local c
	read -r c _ <"/proc/$1/task/$1/children" || [ -n "$c" ]
	echo "$c"
}

fail() {
	echo "$*" >&2
	return 1
}

# wait_bg: sets status to the background init's exit status; a hung init fails the test.
wait_bg() {
	read -r -t 20 -u 5 status || fail "the init did not exit"
	wait "$BG"
	rm "$T/ready" "$T/done"
}

t_exit_codes() {
	local c
	for c in 0 1 42 255; do
		init_run "$1" sh -c "exit $c"
		[ "$status" -eq "$c" ] || fail "exit $c came back as $status"
	done
	init_run "$1" sh -c 'kill -TERM $$'
	[ "$status" -eq 143 ]
	init_run "$1" sh -c 'kill -USR1 $$'
	[ "$status" -eq 138 ]
	init_run "$1" sh -c 'kill -KILL $$'
	[ "$status" -eq 137 ]
}
@test "exit status and 128+signal pass through (pid1)" { t_exit_codes pid1; }
@test "exit status and 128+signal pass through (sub)" { t_exit_codes sub; }

t_forward() {
	local sig code=10
	for sig in HUP INT QUIT USR1 USR2 TERM WINCH ALRM CONT; do
		code=$((code + 1))
		start_bg "$1" sh -c 'trap "exit $2" "$1"; echo ready >"$0"; sleep 1000 & wait' \
			"$T/ready" "$sig" "$code"
		kill -s "$sig" "$INIT_PID"
		wait_bg
		[ "$status" -eq "$code" ] || fail "SIG$sig: status $status, want $code"
	done
}
@test "signals are forwarded to the command (pid1)" { t_forward pid1; }
@test "signals are forwarded to the command (sub)" { t_forward sub; }

t_group() {
	cat >"$T/g.sh" <<'EOF'
F=$1
( trap 'echo sub-got-term >"$F"; exit 0' TERM
  echo ready >"$F"
  sleep 1000 & wait ) &
s=$!
trap 'wait $s; exit 7' TERM
echo ready >"$F"
sleep 1000 & wait
EOF
	READY=2 start_bg "$1" -g sh "$T/g.sh" "$T/ready"
	kill -TERM "$INIT_PID"
	read -r -t 20 -u 4 line || fail "the background job did not get SIGTERM"
	[ "$line" = sub-got-term ]
	wait_bg
	[ "$status" -eq 7 ]
}
@test "-g forwards to the whole process group (pid1)" { t_group pid1; }
@test "-g forwards to the whole process group (sub)" { t_group sub; }

# The command itself watches its orphan: it must be re-parented to the init ($PPID of the
# command), and once killed it must be reaped; a zombie the init does not reap stays.
t_orphans() {
	cat >"$T/o.sh" <<'EOF'
( sleep 1000 >/dev/null 2>&1 & echo $! >"$1/orphan" )
read p <"$1/orphan"
pp=$(awk '/^PPid:/ { print $2 }' "/proc/$p/status")
[ "$pp" = "$PPID" ] || { echo "orphan $p went to $pp, not to the init $PPID"; kill $p; exit 98; }
kill "$p"
i=0
while [ -e "/proc/$p" ] && [ $i -lt 1000 ]; do sleep 0.01; i=$((i + 1)); done
[ -e "/proc/$p" ] && { echo "orphan $p left: $(cat /proc/$p/stat)"; exit 99; }
exit 0
EOF
	init_run "$1" sh "$T/o.sh" "$T"
	echo "$output"
	[ "$status" -eq 0 ]
}
@test "orphans are reaped while the command runs (pid1)" { t_orphans pid1; }
@test "orphans are reaped while the command runs (sub)" { t_orphans sub; }

t_leftovers() {
	local p comm
	need_mode "$1"
	# The sleeps must not hold run's output pipe, or a failure would hang instead.
	run timeout -k 2 10 "${L[@]}" "$NSBOX_INIT" sh -c 'i=0; while [ $i -lt 100 ]; do
		sleep 1000 >/dev/null 2>&1 & echo $! >>"$0/bg"; i=$((i + 1)); done; exit 5' \
		"$T" </dev/null 3>&-
	[ "$status" -eq 5 ]
	[ "$(wc -l <"$T/bg")" -eq 100 ]
	# In a pid namespace the pids are not ours to look up, and the kernel empties it anyway.
	[ "$1" = sub ] || return 0
	local left=()
	for p in $(cat "$T/bg"); do
		comm=$(cat "/proc/$p/comm" 2>/dev/null) || continue
		[ "$comm" != sleep ] || left+=("$p")
	done
	[ "${#left[@]}" -eq 0 ] && return 0
	kill -KILL "${left[@]}" 2>/dev/null
	fail "${#left[@]} sleeps outlived the init"
}
@test "processes left by the command are killed and reaped (pid1)" { t_leftovers pid1; }
@test "processes left by the command are killed and reaped (sub)" { t_leftovers sub; }

# sig_run ENV-ARGS... [--init]: SigBlk and SigIgn of a command started through env with
# ENV-ARGS in the current mode, under the init with --init.
sig_run() {
	local args=("$@") init=()
	if [ "${args[-1]}" = --init ]; then
		unset 'args[-1]'
		init=("$NSBOX_INIT")
	fi
	run timeout -k 2 30 "${L[@]}" env "${args[@]}" "${init[@]}" \
		grep -E '^Sig(Blk|Ign):' /proc/self/status </dev/null 3>&-
	[ "$status" -eq 0 ]
}

# The child must see the mask and SIG_IGN set the init was given, not the init's own.
t_sigmask() {
	local base
	need_mode "$1"
	sig_run --block-signal=USR1 --ignore-signal=USR2,CHLD
	base=$output
	[[ $base == *"SigBlk:	0000000000000200"* ]] || fail "env did not block USR1: $base"
	sig_run --block-signal=USR1 --ignore-signal=USR2,CHLD --init
	[ "$output" = "$base" ] || fail "child got '$output', want '$base'"

	sig_run --default-signal
	base=$output
	sig_run --default-signal --init
	[ "$output" = "$base" ] || fail "child got '$output', want '$base'"

	# An ignored SIGCHLD must not make the kernel reap the command behind our back.
	run timeout -k 2 30 "${L[@]}" env --ignore-signal=CHLD "$NSBOX_INIT" sh -c 'exit 42' \
		</dev/null 3>&-
	[ "$status" -eq 42 ]
}
@test "the child gets the inherited signal mask and ignored signals (pid1)" { t_sigmask pid1; }
@test "the child gets the inherited signal mask and ignored signals (sub)" { t_sigmask sub; }

t_options() {
	init_run "$1" sh -c 'echo "$0|$1|$2"' -g -w -p
	[ "$status" -eq 0 ]
	[ "$output" = "-g|-w|-p" ]
	init_run "$1" -- sh -c 'exit 3'
	[ "$status" -eq 3 ]
	init_run "$1" -g -s sh -c 'exit 4'
	[ "$status" -eq 4 ]
	init_run "$1" -x true
	[ "$status" -eq 125 ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ $stderr == "nsbox-init: "*"-x"* ]]
	init_run "$1"
	[ "$status" -eq 125 ]
	[[ $stderr == "nsbox-init: "* ]]
	init_run "$1" -w
	[ "$status" -eq 125 ]
	init_run "$1" -h
	[ "$status" -eq 0 ]
	[[ $output == Usage:* ]]
}
@test "option parsing stops at the command (pid1)" { t_options pid1; }
@test "option parsing stops at the command (sub)" { t_options sub; }

t_exec_fail() {
	printf '#!/bin/sh\nexit 0\n' >"$T/noexec"
	chmod 644 "$T/noexec"
	EXPECT=-127 init_run "$1" "$T/missing"
	[ "$stderr" = "nsbox-init: exec $T/missing: No such file or directory" ]
	EXPECT=-127 init_run "$1" no-such-command-in-path-$$
	[ "${#stderr_lines[@]}" -eq 1 ]
	init_run "$1" "$T/noexec"
	[ "$status" -eq 126 ]
	[ "$stderr" = "nsbox-init: exec $T/noexec: Permission denied" ]
	init_run "$1" "$T"
	[ "$status" -eq 126 ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	# Found in PATH but not executable; and not found although a PATH directory is
	# unsearchable (execvp says EACCES there; only an unprivileged user can see it).
	PATH=$T:$PATH init_run "$1" noexec
	[ "$status" -eq 126 ]
	mkdir -m 000 "$T/locked"
	PATH=$T/locked:$PATH EXPECT=-127 init_run "$1" no-such-command-in-path-$$
	EXPECT=-127 init_run "$1" -p nsbox "$T/missing"
	[ "$stderr" = "nsbox: exec $T/missing: No such file or directory" ]
}
@test "exec failures give 127/126 and one line (pid1)" { t_exec_fail pid1; }
@test "exec failures give 127/126 and one line (sub)" { t_exec_fail sub; }

t_cwd() {
	local want
	mkdir -p "$T/start/sub"
	want=$(cd "$T/start" && pwd -P)
	cd "$T/start"
	start_bg "$1" sh -c 'pwd -P >"$0.pwd"; echo ready >"$0"; exec sleep 1000' "$T/ready"
	[ "$(readlink "/proc/$INIT_PID/cwd")" = / ]
	kill -TERM "$INIT_PID"
	wait_bg
	[ "$status" -eq 143 ]
	[ "$(cat "$T/ready.pwd")" = "$want" ]

	init_run "$1" -w sub sh -c 'pwd -P'
	[ "$output" = "$want/sub" ]
	init_run "$1" -w "$T" sh -c 'pwd -P'
	[ "$output" = "$(cd "$T" && pwd -P)" ]
	init_run "$1" -gsw"$T" sh -c 'pwd -P'
	[ "$output" = "$(cd "$T" && pwd -P)" ]
	init_run "$1" -w "$T/nowhere" true
	[ "$status" -eq 125 ]
	[ "$stderr" = "nsbox-init: chdir $T/nowhere: No such file or directory" ]
}
@test "the init leaves its cwd, the command keeps it or gets -w (pid1)" { t_cwd pid1; }
@test "the init leaves its cwd, the command keeps it or gets -w (sub)" { t_cwd sub; }

# On a terminal the command must own the foreground: its pgrp is its pid and the tty's.
t_tty() {
	local cmd line f
	need_mode "$1"
	command -v script >/dev/null || skip "script(1) from bsdutils is not installed"
	cmd=$(printf '%q ' "${L[@]}" "$NSBOX_INIT" sh -c 'cat /proc/$$/stat')
	run timeout -k 2 30 env SHELL=/bin/sh script -qec "$cmd" /dev/null </dev/null
	[ "$status" -eq 0 ]
	line=${output//$'\r'/}
	f=(${line%% (*} ${line##*) }) # pid state ppid pgrp session tty_nr tpgid
	[ "${f[3]}" = "${f[0]}" ] || fail "pgrp ${f[3]} is not the command's pid ${f[0]}"
	[ "${f[6]}" = "${f[3]}" ] || fail "foreground pgrp ${f[6]} is not the command's ${f[3]}"
}
@test "on a tty the command is the foreground process group (pid1)" { t_tty pid1; }
@test "on a tty the command is the foreground process group (sub)" { t_tty sub; }

# Budgets, not speed: 32 KiB on disk and 100 KiB resident while idle.
t_footprint() {
	local rss size
	start_bg "$1" sh -c 'echo ready >"$0"; exec sleep 1000' "$T/ready"
	rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$INIT_PID/status")
	size=$(stat -c %s "$NSBOX_INIT")
	echo "# $1: idle VmRSS ${rss} kB, binary $size bytes" >&3
	kill -TERM "$INIT_PID"
	wait_bg
	[ "$size" -le 32768 ]
	[ "$rss" -le 100 ]
}
@test "idle RSS and binary size stay small (pid1)" { t_footprint pid1; }
@test "idle RSS and binary size stay small (sub)" { t_footprint sub; }
