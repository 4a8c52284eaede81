#!/usr/bin/env bash
# Memory of the process that holds a detached container: the monitor of `nsbox run -d`
# (nsbox itself, forked) next to podman's conmon holding a runc container. Idle RSS and PSS
# (/proc/PID/smaps_rollup) once the container sleeps. A measurement, never an assertion: it
# exits 0 whatever the numbers. See bench/README.md.
set -euo pipefail

usage() {
	cat <<EOF
Usage: bench/monitor.sh [--user NAME] [--count N]
  --user NAME   unprivileged user for the rootless rows when run as root (default
                nsbox-bench, created with useradd if missing); as a normal user, yourself
  --count N     detached containers per row, to average over (default 5)
As root it also measures conmon (Debian's conmon and runc, installed when missing).
EOF
}

BENCH_USER=nsbox-bench COUNT=5 DIR=
while (($#)); do
	case $1 in
	--user) BENCH_USER=${2:?--user needs a name} && shift ;;
	--count) COUNT=${2:?--count needs a number} && shift ;;
	-h | --help) usage && exit 0 ;;
	*) usage >&2 && exit 2 ;;
	esac
	shift
done
[[ $COUNT =~ ^[1-9][0-9]*$ ]] || { echo "monitor.sh: --count needs a number" >&2; exit 2; }

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/lib.sh
source "$repo/bench/lib.sh"
[[ -x $repo/out/nsbox && -f $repo/out/busybox.tar ]] ||
	{ echo "monitor.sh: build first: out/nsbox and out/busybox.tar are missing" >&2; exit 1; }
((EUID == 0)) && bench_install_missing conmon=conmon runc=runc jq=jq
bench_ensure_user monitor.sh
bench_scratch monitor.sh nsbox-monitor
chmod 755 "$W"
RUN_AS=()
((EUID == 0)) && RUN_AS=(setpriv --reuid="$BENCH_USER" --regid="$BENCH_USER" --init-groups
	--reset-env env HOME="$W/home" PATH=/usr/bin:/bin XDG_RUNTIME_DIR=)
as_user() { "${RUN_AS[@]}" "$@"; }
mkdir -p "$W/home" "$W/bin"
cp "$repo/out/nsbox" "$repo/out/busybox.tar" "$W/bin/"
((EUID == 0)) && chown -R "$BENCH_USER" "$W/home"
chmod -R a+rX "$W/bin"

USER_STORE="$W/home/store"
ROOT_STORE="$W/root-store"
CONMON_PIDS=()
cleanup() {
	local ids
	ids=$(as_user "$W/bin/nsbox" --root "$USER_STORE" ps -aq 2>/dev/null) || true
	[[ -z $ids ]] || as_user "$W/bin/nsbox" --root "$USER_STORE" rm -f $ids >/dev/null 2>&1 || true
	if ((EUID == 0)); then
		ids=$("$W/bin/nsbox" --root "$ROOT_STORE" ps -aq 2>/dev/null) || true
		[[ -z $ids ]] || "$W/bin/nsbox" --root "$ROOT_STORE" rm -f $ids >/dev/null 2>&1 || true
		local i
		for i in $(seq "$COUNT"); do
			runc --root "$W/runc" kill "bench-$i" KILL >/dev/null 2>&1 || true
		done
		for i in "${CONMON_PIDS[@]}"; do
			while kill -0 "$i" 2>/dev/null; do sleep 0.05; done
		done
		for i in $(seq "$COUNT"); do
			runc --root "$W/runc" delete -f "bench-$i" >/dev/null 2>&1 || true
		done
	fi
	rm -rf "$W"
}
trap cleanup EXIT

# "RSS PSS" in KiB of pid.
mem_of() {
	awk '/^Rss:/ {r=$2} /^Pss:/ {p=$2} END {print r, p}' "/proc/$1/smaps_rollup"
}

# Prints "label median-RSS median-PSS" over the pids given.
report() {
	local label=$1 pid rss=() pss=() r p
	shift
	for pid in "$@"; do
		read -r r p < <(mem_of "$pid")
		rss+=("$r") pss+=("$p")
	done
	printf '%-34s %8s KiB %8s KiB  (%d processes)\n' "$label" \
		"$(printf '%s\n' "${rss[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')" \
		"$(printf '%s\n' "${pss[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')" "$#"
}

# Starts COUNT detached nsbox containers with run_as ARGS...; prints their monitors' pids.
nsbox_monitors() {
	local store=$1 i id
	shift
	"$@" "$W/bin/nsbox" --root "$store" image import "$W/bin/busybox.tar" busybox >/dev/null
	for i in $(seq "$COUNT"); do
		id=$("$@" "$W/bin/nsbox" --root "$store" run -d --network none busybox sleep 1000)
		"$@" "$W/bin/nsbox" --root "$store" inspect "$id" |
			sed -n 's/^ *"MonitorPid": \([0-9]*\).*/\1/p'
	done
}

echo "idle memory of the process holding a detached container (median of $COUNT):"
printf '%-34s %12s %12s\n' "" "RSS" "PSS"
mapfile -t pids < <(nsbox_monitors "$USER_STORE" as_user)
report "nsbox monitor, rootless" "${pids[@]}"
nsbox_rss=$(mem_of "${pids[0]}" | cut -d' ' -f1)
if ((EUID == 0)); then
	mapfile -t pids < <(nsbox_monitors "$ROOT_STORE" env)
	report "nsbox monitor, root" "${pids[@]}"
	if command -v conmon >/dev/null && command -v runc >/dev/null && command -v jq >/dev/null; then
		mkdir -p "$W/bundle/rootfs" "$W/exits" "$W/sock" "$W/runc"
		tar -xf "$W/bin/busybox.tar" -C "$W/bundle/rootfs"
		(cd "$W/bundle" && runc spec)
		jq '.process.terminal = false | .process.args = ["sleep", "1000"]' \
			"$W/bundle/config.json" >"$W/bundle/config.new" && mv "$W/bundle/config.new" "$W/bundle/config.json"
		pids=()
		mkfifo "$W/sync"
		for i in $(seq "$COUNT"); do
			# As podman does: conmon says on _OCI_SYNCPIPE when the container is created.
			exec 9<>"$W/sync"
			_OCI_SYNCPIPE=9 conmon --cid "bench-$i" --cuuid "bench-$i" --name "bench-$i" \
				--runtime "$(command -v runc)" --bundle "$W/bundle" --pidfile "$W/pid-$i" \
				--conmon-pidfile "$W/conmon-$i" --log-path "$W/ctr-$i.log" --exit-dir "$W/exits" \
				--socket-dir-path "$W/sock" --runtime-arg "--root=$W/runc" --log-level error
			read -r -u 9 _
			exec 9>&-
			runc --root "$W/runc" start "bench-$i"
			pids+=("$(cat "$W/conmon-$i")")
		done
		CONMON_PIDS=("${pids[@]}")
		report "conmon $(conmon --version | sed -n '1s/conmon version //p') + runc, root" "${pids[@]}"
		conmon_rss=$(mem_of "${pids[0]}" | cut -d' ' -f1)
		awk -v n="$nsbox_rss" -v c="$conmon_rss" 'BEGIN {printf "nsbox/conmon RSS: %.2f\n", n / c}'
	else
		echo "conmon: not measured (conmon, runc or jq missing)"
	fi
else
	echo "conmon: measured only as root (it needs runc and a root bundle here)"
fi
