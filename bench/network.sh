#!/usr/bin/env bash
# Network benchmark: TCP throughput from inside a container to the host (iperf3 -c in the
# container, iperf3 -s on the host), for each nsbox network backend next to its floor, the
# same backend driven by hand on a bare namespace. Floor and nsbox runs alternate so both
# see the same conditions. A measurement, never an assertion: it exits 0 whether or not the
# target is met. See bench/README.md.
set -euo pipefail

usage() {
	cat <<EOF
Usage: bench/network.sh [--quick] [--runs N] [--time S] [--user NAME] [--dir DIR]
  --quick       smoke test: 1 run of 2 s per row
  --runs N      iperf3 runs per row, the median is reported (default \$RUNS or 3)
  --time S      seconds per iperf3 run (iperf3 -t, default \$TIME or 5)
  --user NAME   unprivileged user for the rootless rows when run as root (default
                nsbox-bench, created with useradd if missing); as a normal user, yourself
  --dir DIR     where the scratch dir (rootfs, stores, logs) goes (default /dev/shm when
                it is a tmpfs, else \$TMPDIR or /tmp)
  --json FILE   also write the summary as JSON (bench/run.sh reads it): per backend, each
                row's runs in bit/s
EOF
}

RUNS=${RUNS:-3} TIME=${TIME:-5} BENCH_USER=nsbox-bench DIR= JSON=
while (($#)); do
	case $1 in
	--quick) RUNS=1 TIME=2 ;;
	--runs) RUNS=${2:?--runs needs a number} && shift ;;
	--time) TIME=${2:?--time needs a number of seconds} && shift ;;
	--user) BENCH_USER=${2:?--user needs a name} && shift ;;
	--dir) DIR=${2:?--dir needs a directory} && shift ;;
	--json) JSON=${2:?--json needs a file} && shift ;;
	-h | --help) usage && exit 0 ;;
	*) usage >&2 && exit 2 ;;
	esac
	shift
done
[[ $RUNS =~ ^[1-9][0-9]*$ && $TIME =~ ^[1-9][0-9]*$ ]] || { echo "network.sh: --runs/--time need numbers" >&2; exit 2; }

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/lib.sh
source "$repo/bench/lib.sh"
[[ -x $repo/out/nsbox && -f $repo/out/busybox.tar ]] ||
	{ echo "network.sh: build first: out/nsbox and out/busybox.tar are missing" >&2; exit 1; }

# As root, install what is missing from Debian's archive; as a user, only say what is missing.
bench_install_missing iperf3=iperf3 jq=jq slirp4netns=slirp4netns pasta=passt ip=iproute2 nsenter=util-linux
for tool in iperf3 jq ip nsenter; do
	command -v "$tool" >/dev/null || { echo "network.sh: $tool is required" >&2; exit 1; }
done

# The rootless rows never run as root: root drops to an unprivileged user (setpriv, clean
# environment) for them. The bridge row and its floor need root and run as root.
bench_ensure_user network.sh

# Scratch on tmpfs by default, like startup.sh: nothing here should wait for a disk.
bench_scratch network.sh nsbox-netbench

PIDS=()            # everything started in the background, ended by pid
VETH=nsbench$$     # the host end of the veth floor's pair (at most 15 characters)
VETH_HOST=198.18.0.1 VETH_NS=198.18.0.2 # RFC 2544's benchmarking range, on that pair alone
BRIDGE=nsbox0      # nsbox's default bridge
bridge_before=0
ip link show "$BRIDGE" >/dev/null 2>&1 && bridge_before=1
forward_before=$(cat /proc/sys/net/ipv4/ip_forward)
RUN_AS=(env XDG_DATA_HOME="$W/data" XDG_RUNTIME_DIR="$W/run") WITH_TUN=()
as_user() { "${RUN_AS[@]}" "$@"; }

# Only a running job of this shell is signalled: the pid of one that ended may have been
# given to another process since.
running_job() { [[ " $(jobs -pr | tr '\n' ' ') " == *" $1 "* ]]; }
forget_pid() { # drops a pid from PIDS once its process is waited for
	local i
	for i in "${!PIDS[@]}"; do [[ ${PIDS[i]} == "$1" ]] && unset 'PIDS[i]'; done
	return 0
}
stop_pid() { # ends one process this script started (if it still runs), and forgets it
	[[ -n $1 ]] || return 0
	running_job "$1" && kill "$1" 2>/dev/null
	wait "$1" 2>/dev/null || true # its status is that of the signal
	forget_pid "$1"
}
cleanup() {
	set +e
	local pid id
	for pid in "${PIDS[@]}"; do running_job "$pid" && kill "$pid"; done # all at once,
	for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null; done               # then wait
	if [[ -x $W/nsbox ]]; then # containers left by an interrupted run
		as_user "$W/nsbox" ps -aq 2>/dev/null | while read -r id; do
			as_user "$W/nsbox" rm -f "$id" >/dev/null 2>&1
		done
		if ((EUID == 0)); then
			"$W/nsbox" --root "$W/store" ps -aq 2>/dev/null | while read -r id; do
				"$W/nsbox" --root "$W/store" rm -f "$id" >/dev/null 2>&1
			done
		fi
	fi
	# The veth pair goes with its namespace; this is for a kill between the two steps.
	ip link show "$VETH" >/dev/null 2>&1 && ip link del "$VETH"
	# nsbox-net removes a bridge with its last lease and leaves ip_forward on, by design (as
	# docker does). A bridge that appeared during this run and is still there is reclaimed
	# the helper's own way; ip_forward goes back to 0 if it was 0 and no lease is left.
	if [[ $EUID == 0 && -x $W/nsbox-net ]]; then
		if ((!bridge_before)) && ip link show "$BRIDGE" >/dev/null 2>&1; then
			"$W/nsbox-net" release
			ip link show "$BRIDGE" >/dev/null 2>&1 &&
				echo "note: bridge $BRIDGE (made during this run) is left: nsbox-net lists leases on it"
		fi
		if [[ $forward_before == 0 && $(cat /proc/sys/net/ipv4/ip_forward) == 1 ]]; then
			if [[ -z $("$W/nsbox-net" list 2>/dev/null) ]]; then
				echo 0 >/proc/sys/net/ipv4/ip_forward && echo "net.ipv4.ip_forward: back to 0 (nsbox-net had set it)"
			else echo "note: net.ipv4.ip_forward stays 1 (it was 0): nsbox-net has leases"; fi
		fi
	fi
	chmod -R u+rwX "$W" 2>/dev/null
	rm -rf "$W"
	bench_remove_user
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if ((EUID == 0)); then
	chown "$BENCH_USER": "$W"
	RUN_AS=(setpriv --reuid="$BENCH_USER" --regid="$BENCH_USER" --init-groups
		env -i HOME="$W" PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin LANG=C.UTF-8
		XDG_DATA_HOME="$W/data" XDG_RUNTIME_DIR="$W/run")
	# The host's /dev/net/tun is often root's alone (0600, no udev), and slirp4netns and pasta
	# open it as the user. It is never changed: each rootless command runs in a private mount
	# namespace of its own where a 0666 node, on a tmpfs that exists only there, is bound
	# over it. Nothing is left mounted on the host.
	if [[ -c /dev/net/tun ]]; then
		mkdir "$W/tun"
		# shellcheck disable=SC2016 # $0 and $@ are the inner shell's
		WITH_TUN=(unshare -m --propagation private -- sh -c '
			mount -t tmpfs -o size=4k,mode=0755 nsbox-bench-tun "$0" &&
			mknod -m 0666 "$0/tun" c 10 200 && chmod 0666 "$0/tun" &&
			mount --bind "$0/tun" /dev/net/tun && exec "$@"' "$W/tun")
	fi
fi

# Commands are given as arrays, never shell functions, so that timeout can run them and $! of
# one started in the background is the process itself (every wrapper execs).
USER_TUN=("${WITH_TUN[@]}" "${RUN_AS[@]}") # a rootless command that may open /dev/net/tun

# Inputs: a private copy of the binaries (a rebuild during the run cannot swap them), and a
# root filesystem with iperf3: out/busybox.tar plus /usr/bin/iperf3, every library ldd
# names and the dynamic loader, each at its host path. The busybox tree has no /lib or
# /lib64, so these become real directories; where the tree has its own symlinks (a merged
# /usr), the copy follows them, but only as long as they stay inside the tree.
cp -p "$repo/out/nsbox" "$W/nsbox" && chmod 755 "$W/nsbox"
[[ -x $repo/out/nsbox-net ]] && cp -p "$repo/out/nsbox-net" "$W/nsbox-net" && chmod 755 "$W/nsbox-net"
as_user mkdir "$W/rootfs" "$W/data" "$W/res"
as_user mkdir -m 700 "$W/run"
as_user tar -xf "$repo/out/busybox.tar" -C "$W/rootfs"
iperf3_bin=$(command -v iperf3)
for f in "$iperf3_bin" $(ldd "$iperf3_bin" | grep -o '/[^ ]*'); do
	dest=$(realpath -m "$W/rootfs$f")
	[[ $dest == "$W/rootfs/"* ]] || { echo "network.sh: $f leaves the rootfs: $dest" >&2; exit 1; }
	as_user install -D -m 755 "$f" "$dest"
done
as_user mkdir -p -m 1777 "$W/rootfs/tmp" # iperf3's send buffer is a file in /tmp
chmod -R a+rX "$W/rootfs"

# One port for every server, free on every address of the host.
PORT=5201
while [[ -n $(ss -Htan "sport = :$PORT" 2>/dev/null) ]]; do PORT=$((PORT + 1)); done

NSBOX_RL=("$W/nsbox" run --rm --rootfs "$W/rootfs")              # rootless, as the user
NSBOX_ROOT=("$W/nsbox" --root "$W/store" run --rm --rootfs "$W/rootfs") # as root
IPERF=(iperf3 -p "$PORT" -t "$TIME" -J)
TO=(timeout -k 5 $((TIME + 30))) # a client that cannot connect must not hang the run

declare -A vals=() # KEY -> " bps bps ..."
notes=()

# start_server ADDR: an iperf3 server on ADDR:PORT, in PIDS; waits until it listens.
start_server() {
	iperf3 -s -B "$1" -p "$PORT" >"$W/server-$1.log" 2>&1 &
	PIDS+=($!) SERVER=$!
	local i
	for ((i = 0; i < 50; i++)); do
		[[ -n $(ss -Hltn "src $1:$PORT" 2>/dev/null) ]] && return 0
		kill -0 "$SERVER" 2>/dev/null || break
		sleep 0.1
	done
	notes+=("server on $1:$PORT did not start: $(head -c 200 "$W/server-$1.log" | tr '\n' ' ')")
	stop_pid "$SERVER"
	return 1
}

# measure KEY LABEL N CMD...: one iperf3 client run; its received rate goes to vals[KEY].
measure() {
	local key=$1 label=$2 n=$3 out bps why client rc=0
	shift 3
	out=$W/res/$key.$n
	# In the background, so that a signal to this script is handled at once (the cleanup
	# ends the client too: timeout passes the signal on).
	"${TO[@]}" "$@" >"$out.json" 2>"$out.err" &
	client=$!
	PIDS+=("$client")
	wait "$client" || rc=$?
	forget_pid "$client"
	bps=$(jq -r '.end.sum_received.bits_per_second // empty' "$out.json" 2>/dev/null || true)
	if [[ -n $bps ]]; then
		vals[$key]+=" $bps"
		printf '%-12s %-6s run %d/%d: %6.2f Gbit/s\n' "$label" "${key#*.}" "$n" "$RUNS" \
			"$(awk -v b="$bps" 'BEGIN { print b / 1e9 }')"
	else
		why=$(jq -r '.error // empty' "$out.json" 2>/dev/null || true)
		[[ -n $why ]] || why="exit $rc: $(head -c 300 "$out.err" | tr '\n' ' ')"
		printf '%-12s %-6s run %d/%d: failed: %s\n' "$label" "${key#*.}" "$n" "$RUNS" "${why:-no output}"
		notes+=("$label ${key#*.} run $n failed: ${why:-no output}")
	fi
}

# start_ns CMD...: a sleeping process, in PIDS and NS, in fresh namespaces (CMD: an unshare
# command); returns once they exist.
start_ns() {
	"$@" sleep infinity &
	NS=$!
	PIDS+=("$NS")
	local i
	for ((i = 0; i < 50; i++)); do
		[[ $(readlink "/proc/$NS/ns/net" 2>/dev/null) != "$(readlink /proc/$$/ns/net)" ]] &&
			[[ $(cat "/proc/$NS/comm" 2>/dev/null) == sleep ]] && return 0
		sleep 0.05
	done
	return 1
}

# wait_route CMD...: CMD (an nsenter prefix) sees a default route within 10 s; prints it.
wait_route() {
	local i gw
	for ((i = 0; i < 100; i++)); do
		gw=$("$@" ip -4 route show default 2>/dev/null | awk '$1 == "default" { print $3; exit }')
		[[ -n $gw ]] && { echo "$gw"; return 0; }
		sleep 0.1
	done
	return 1
}

# probe NAME CMD...: whether a container of this mode runs here, with its default gateway
# in GW (empty: none); when it does not run, a note says why.
probe() {
	local name=$1
	shift
	local rc=0
	GW=
	"${TO[@]}" "$@" ip -4 route >"$W/probe.out" 2>"$W/probe.err" || rc=$?
	if ((rc == 0)); then
		GW=$(awk '$1 == "default" { print $3; exit }' "$W/probe.out")
		return 0
	fi
	notes+=("$name nsbox: skipped: its probe (nsbox run ... ip -4 route) exits $rc: $(head -c 300 "$W/probe.err" | tr '\n' ' ')")
	return 1
}

uname -r | sed 's/^/kernel: /'
echo "user: $BENCH_USER (uid $(as_user id -u))$( ((EUID == 0)) && echo ", dropped from root for the rootless rows")"
echo "nsbox: $("$W/nsbox" version 2>&1 | head -1), out/nsbox built $(date -r "$W/nsbox" '+%F %T'),\
 sha256 $(sha256sum "$W/nsbox" | cut -c1-12)"
pasta_version=$(dpkg-query -W -f='${Version}' passt 2>/dev/null || true)
echo "$(iperf3 --version | head -1); $(slirp4netns --version 2>/dev/null | head -1 || echo 'no slirp4netns');\
 pasta ${pasta_version:-$(command -v pasta >/dev/null && echo '(version unknown)' || echo 'not installed')}"
echo "scratch: $W ($(findmnt -n -o FSTYPE,SOURCE -T "$W" | tail -n1 | tr -s ' ' | sed 's/ / on /'))"
echo "$(nproc) CPUs; per row $RUNS run(s) of iperf3 -t $TIME, container -> host, median reported;\
 floor and nsbox runs alternate"
((${#WITH_TUN[@]})) && echo "tun: rootless rows see a 0666 /dev/net/tun in a private mount namespace (the host's is $(stat -c %a /dev/net/tun))"
echo

tun_ok=1
if ((EUID != 0)) && ! [[ -r /dev/net/tun && -w /dev/net/tun ]]; then
	tun_ok=0
	notes+=("slirp4netns, pasta: /dev/net/tun is not usable by $BENCH_USER; run as root (binds a 0666 node privately) or chmod 0666 /dev/net/tun")
elif ((EUID == 0)) && ((!${#WITH_TUN[@]})); then
	tun_ok=0
	notes+=("slirp4netns, pasta: this host has no /dev/net/tun (modprobe tun)")
fi

# --- slirp4netns: 10.0.2.2 is the host's loopback (allow_host_loopback) -------------------
if ((tun_ok)) && command -v slirp4netns >/dev/null && start_server 127.0.0.1; then
	floor=0 NS='' BACKEND=''
	if start_ns "${RUN_AS[@]}" unshare -Urn; then
		# The options nsbox gives it (rootless), so that the ratio is nsbox's cost alone.
		"${USER_TUN[@]}" slirp4netns --configure --mtu=65520 --enable-seccomp "$NS" tap0 \
			>"$W/slirp4netns.log" 2>&1 &
		PIDS+=($!) BACKEND=$!
		ENTER=("${RUN_AS[@]}" nsenter -t "$NS" -U -n --preserve-credentials)
		if wait_route "${ENTER[@]}" >/dev/null; then floor=1; else
			notes+=("slirp4netns floor: no route: $(head -c 300 "$W/slirp4netns.log" | tr '\n' ' ')")
		fi
	else notes+=("slirp4netns floor: unshare -Urn failed"); fi
	MODE=slirp4netns:allow_host_loopback=true
	nsbox=0
	probe slirp4netns "${USER_TUN[@]}" "${NSBOX_RL[@]}" --network "$MODE" && nsbox=1
	for ((i = 1; i <= RUNS; i++)); do
		((floor)) && measure slirp4netns.floor slirp4netns "$i" "${ENTER[@]}" "${IPERF[@]}" -c 10.0.2.2
		((nsbox)) && measure slirp4netns.nsbox slirp4netns "$i" "${USER_TUN[@]}" "${NSBOX_RL[@]}" --network "$MODE" \
			"${IPERF[@]}" -c 10.0.2.2
	done
	stop_pid "$BACKEND"
	stop_pid "$NS"
	stop_pid "$SERVER"
elif ((tun_ok)); then
	command -v slirp4netns >/dev/null || notes+=("slirp4netns: not installed (Debian package slirp4netns)")
fi

# --- pasta: the host's default gateway, seen in the namespace, maps to the host's loopback --
if ((tun_ok)) && command -v pasta >/dev/null && start_server 127.0.0.1; then
	floor=0 gw_floor='' NS='' BACKEND=''
	# The flags nsbox gives it, less what only nsbox needs (an fd as --netns, a pid pipe):
	# no port forwarding either way, so neither side scans for ports to forward.
	PASTA=(pasta --config-net --foreground --quiet -t none -u none -T none -U none)
	if start_ns "${RUN_AS[@]}" unshare -Urn; then
		"${USER_TUN[@]}" "${PASTA[@]}" --netns "/proc/$NS/ns/net" --userns "/proc/$NS/ns/user" \
			>"$W/pasta.log" 2>&1 &
		PIDS+=($!) BACKEND=$!
		ENTER=("${RUN_AS[@]}" nsenter -t "$NS" -U -n --preserve-credentials)
		if gw_floor=$(wait_route "${ENTER[@]}"); then floor=1; else
			notes+=("pasta floor: no default route (pasta copies the host's): $(grep -v syslog \
				"$W/pasta.log" | head -c 300 | tr '\n' ' ')")
		fi
	else notes+=("pasta floor: unshare -Urn failed"); fi
	MODE=pasta:allow_host_loopback=true
	nsbox=0
	if probe pasta "${USER_TUN[@]}" "${NSBOX_RL[@]}" --network "$MODE"; then
		gw_nsbox=$GW
		if [[ -n $gw_nsbox ]]; then nsbox=1; else
			notes+=("pasta nsbox: no default route in the container (the host has none?)"); fi
	fi
	for ((i = 1; i <= RUNS; i++)); do
		((floor)) && measure pasta.floor pasta "$i" "${ENTER[@]}" "${IPERF[@]}" -c "$gw_floor"
		((nsbox)) && measure pasta.nsbox pasta "$i" "${USER_TUN[@]}" "${NSBOX_RL[@]}" --network "$MODE" \
			"${IPERF[@]}" -c "$gw_nsbox"
	done
	stop_pid "$BACKEND"
	stop_pid "$NS"
	stop_pid "$SERVER"
elif ((tun_ok)); then
	command -v pasta >/dev/null || notes+=("pasta: not installed (Debian package passt)")
fi

# --- bridge (root): the floor is a bare veth pair; nsbox's container talks to the bridge --
if ((EUID != 0)); then
	notes+=("bridge: skipped: its floor and nsbox's bridge mode are measured as root")
else
	floor=0 NS='' FLOOR_SERVER='' BRIDGE_SERVER='' HOLDER=''
	if ip -4 addr show | grep -q " $VETH_HOST/"; then
		notes+=("bridge floor: $VETH_HOST is already an address of this host")
	elif start_ns unshare -n; then
		if ip link add "$VETH" type veth peer name eth0 netns "$NS" &&
			ip addr add "$VETH_HOST/30" dev "$VETH" && ip link set "$VETH" up &&
			nsenter -t "$NS" -n sh -c "ip addr add $VETH_NS/30 dev eth0 && ip link set eth0 up &&
				ip link set lo up && ip route add default via $VETH_HOST" &&
			start_server "$VETH_HOST"; then
			floor=1 FLOOR_SERVER=$SERVER
		else notes+=("bridge floor: could not set up the veth pair"); fi
	else notes+=("bridge floor: unshare -n failed"); fi
	nsbox=0 gw=
	if [[ ! -x $W/nsbox-net ]]; then
		notes+=("bridge nsbox: skipped: out/nsbox-net is missing (build it; bridge mode needs it)")
	elif probe bridge "${NSBOX_ROOT[@]}" --network bridge; then
		gw=$GW
		# nsbox-net removes the bridge with its last container, and the host's server can
		# only listen on the gateway while the bridge is there: an idle container holds it
		# for the whole row (its veth on the bridge carries nothing).
		if [[ -z $gw ]]; then
			notes+=("bridge nsbox: skipped: the container has no default route")
		else
			"${NSBOX_ROOT[@]}" --network bridge sleep 1000000 >"$W/holder.log" 2>&1 &
			PIDS+=($!) HOLDER=$!
			for ((i = 0; i < 100; i++)); do
				[[ -n $(ip -4 -o addr show to "$gw/32") ]] && break
				kill -0 "$HOLDER" 2>/dev/null || break
				sleep 0.1
			done
			if [[ -z $(ip -4 -o addr show to "$gw/32") ]]; then
				notes+=("bridge nsbox: skipped: the gateway $gw did not appear on the host:\
 $(head -c 300 "$W/holder.log" | tr '\n' ' ')")
			elif start_server "$gw"; then
				nsbox=1 BRIDGE_SERVER=$SERVER
			else
				notes+=("bridge nsbox: skipped: no server on the gateway $gw")
			fi
		fi
	fi
	for ((i = 1; i <= RUNS; i++)); do
		((floor)) && measure bridge.floor bridge "$i" nsenter -t "$NS" -n "${IPERF[@]}" -c "$VETH_HOST"
		((nsbox)) && measure bridge.nsbox bridge "$i" "${NSBOX_ROOT[@]}" --network bridge "${IPERF[@]}" -c "$gw"
	done
	stop_pid "$BRIDGE_SERVER"
	stop_pid "$HOLDER" # nsbox run passes SIGTERM on to the container; --rm removes it
	stop_pid "$FLOOR_SERVER"
	stop_pid "$NS" # the veth pair goes with the namespace
fi

# The summary: each row's median (robust to the odd stalled run) with its range, and the
# nsbox median over the floor's.
stats() { # "BPS BPS ...": "MEDIAN MIN MAX" in Gbit/s, or nothing
	tr ' ' '\n' <<<"$1" | sed '/^$/d' | sort -g | awk '{ v[NR] = $1 / 1e9 }
	END { if (NR) printf "%.2f %.2f %.2f\n", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2,
		v[1], v[NR] }'
}
results=()
echo
printf '%-12s %-21s %-21s %s\n' backend "floor Gbit/s" "nsbox Gbit/s" "nsbox/floor"
for b in slirp4netns pasta bridge; do
	read -r fm flo fhi < <(stats "${vals[$b.floor]:-}") || true
	read -r nm nlo nhi < <(stats "${vals[$b.nsbox]:-}") || true
	f=- n=- r=-
	[[ -n $fm ]] && f="$fm ($flo-$fhi)"
	[[ -n $nm ]] && n="$nm ($nlo-$nhi)"
	if [[ -n $fm && -n $nm ]]; then
		r=$(awk -v f="$fm" -v n="$nm" 'BEGIN { printf "%.2f", (f > 0 ? n / f : 0) }')
		# Whether the two rows' runs overlap: then the gap is within this host's noise.
		results+=("$b $r$(awk -v r="$r" -v a="$flo" -v b="$fhi" -v c="$nlo" -v d="$nhi" 'BEGIN {
			printf "x, %s 0.95%s", (r >= 0.95 ? "meets" : "below"), (c <= b && a <= d ? " (runs overlap)" : "") }')")
	fi
	printf '%-12s %-21s %-21s %s\n' "$b" "$f" "$n" "$r"
done
for s in "${notes[@]}"; do echo "note: $s"; done
echo
echo "each cell: the median of $RUNS run(s) of $TIME s (lowest-highest run); nsbox/floor: of the medians"
echo "target: nsbox >= 0.95x its floor for every backend"
((${#results[@]})) || results=("no backend has both rows")
echo "result: $(printf '%s; ' "${results[@]}" | sed 's/; $//')"

# For bench/run.sh: every run's bits per second, per backend and row (empty when not run).
if [[ -n $JSON ]]; then
	for b in slirp4netns pasta bridge; do
		for row in floor nsbox; do
			printf '%s\t%s\t%s\n' "$b" "$row" "${vals[$b.$row]:-}"
		done
	done | jq -R -s --argjson runs "$RUNS" --argjson time "$TIME" '
		{runs: $runs, seconds: $time, unit: "bit/s",
		 backends: (split("\n") | map(select(length > 0) | split("\t")
			| {backend: .[0], row: .[1], values: (.[2] | split(" ") | map(select(length > 0) | tonumber))})
			| group_by(.backend) | map({key: .[0].backend, value: (map({key: .row, value: .values}) | from_entries)})
			| from_entries)}' >"$JSON"
fi
