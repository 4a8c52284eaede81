#!/usr/bin/env bash
# Start-up benchmark: how long a rootless container takes to start and finish `true`,
# nsbox next to the bare-namespace floor and other rootless runtimes, in ONE hyperfine run
# so that every row is measured under the same conditions. A measurement, never an
# assertion: it exits 0 whether or not the target is met. See bench/README.md.
set -euo pipefail

usage() {
	cat <<EOF
Usage: bench/startup.sh [--quick] [--runs N] [--warmup N] [--user NAME] [--dir DIR]
  --quick       smoke test: 20 runs, 3 warm-up runs
  --runs N      timed runs per command (default \$RUNS or 100)
  --warmup N    untimed runs per command first (default \$WARMUP or 10)
  --user NAME   unprivileged user to benchmark as when run as root (default nsbox-bench,
                created with useradd if missing); as a normal user, yourself
  --dir DIR     where the scratch dir (store, rootfs, bundles) goes (default /dev/shm
                when it is a tmpfs, else \$TMPDIR or /tmp); a disk dir measures the disk too
  --json FILE   also write hyperfine's results as JSON (bench/run.sh reads it): {rootless:
                [...], limits: [...], skipped: [...]}, times in seconds
EOF
}

RUNS=${RUNS:-100} WARMUP=${WARMUP:-10} BENCH_USER=nsbox-bench DIR= JSON=
while (($#)); do
	case $1 in
	--quick) RUNS=20 WARMUP=3 ;;
	--runs) RUNS=${2:?--runs needs a number} && shift ;;
	--warmup) WARMUP=${2:?--warmup needs a number} && shift ;;
	--user) BENCH_USER=${2:?--user needs a name} && shift ;;
	--dir) DIR=${2:?--dir needs a directory} && shift ;;
	--json) JSON=${2:?--json needs a file} && shift ;;
	-h | --help) usage && exit 0 ;;
	*) usage >&2 && exit 2 ;;
	esac
	shift
done
[[ $RUNS =~ ^[1-9][0-9]*$ && $WARMUP =~ ^[0-9]+$ ]] || { echo "startup.sh: --runs/--warmup need numbers" >&2; exit 2; }

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/lib.sh
source "$repo/bench/lib.sh"
[[ -x $repo/out/nsbox && -f $repo/out/busybox.tar ]] ||
	{ echo "startup.sh: build first: out/nsbox and out/busybox.tar are missing" >&2; exit 1; }

# As root, install what is missing from Debian's archive; as a user, only say what is missing.
bench_install_missing hyperfine=hyperfine jq=jq bwrap=bubblewrap crun=crun
for tool in hyperfine jq; do
	command -v "$tool" >/dev/null || { echo "startup.sh: $tool is required" >&2; exit 1; }
done

# The point is rootless start-up, so root never runs the containers: it drops to an
# unprivileged user (setpriv, clean environment) for everything the benchmark starts.
RUN_AS=() HIDE_V2=()
bench_ensure_user startup.sh

# Scratch on tmpfs by default: nsbox creates and deletes a dozen inodes per run, and on some
# disks that churn, not nsbox, sets the pace (ext4 without a journal skips every inode freed
# in the last 30 s, so 100 runs in a row slow each other down: 5 ms became 15 ms here).
# The floor and bwrap touch no disk at all; --dir puts the store on a disk on purpose.
bench_scratch startup.sh nsbox-bench
CTR_ID="nsbox-bench" # one fixed id, see the crun row
as_user() { "${RUN_AS[@]}" "$@"; }
in_bench() { "${HIDE_V2[@]}" "${RUN_AS[@]}" "$@"; }
# For bench/run.sh: hyperfine's results of both runs and the rows skipped, written on the
# way out whatever part was reached.
export_json() {
	printf '%s\n' "${skipped[@]}" | jq -R -s \
		--slurpfile hf <(cat "$W/hf.json" 2>/dev/null || echo '{"results": []}') \
		--slurpfile lim <(cat "$W/lim.json" 2>/dev/null || echo '{"results": []}') \
		'{rootless: $hf[0].results, limits: $lim[0].results, skipped: split("\n") | map(select(length > 0))}' >"$JSON"
}
skipped=()
cleanup() {
	set +e
	[[ -n $JSON ]] && export_json
	if [[ -x $W/nsbox ]]; then # containers left by an interrupted run, then the image
		as_user "$W/nsbox" --root "$W/store" ps -aq 2>/dev/null | while read -r id; do
			as_user "$W/nsbox" --root "$W/store" rm -f "$id" >/dev/null 2>&1
		done
		as_user "$W/nsbox" --root "$W/store" image rm busybox >/dev/null 2>&1
	fi
	for rt in crun runc; do # a container left by an interrupted run
		[[ -e $W/$rt/$CTR_ID ]] && in_bench $rt --root "$W/$rt" delete -f "$CTR_ID" >/dev/null 2>&1
	done
	chmod -R u+rwX "$W" 2>/dev/null # overlay leaves mode-0 work dirs behind
	rm -rf "$W"
	bench_remove_user
}
trap cleanup EXIT
trap 'exit 130' INT TERM
if ((EUID == 0)); then
	chown "$BENCH_USER": "$W"
	RUN_AS=(setpriv --reuid="$BENCH_USER" --regid="$BENCH_USER" --init-groups
		env -i HOME="$W" PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin LANG=C.UTF-8)
	# crun 1.8 refuses a cgroup v1/v2 hybrid host ("cgroups in hybrid mode not supported").
	# Bench-only workaround: every probe and the hyperfine run itself execute in a private
	# mount namespace where the v2 mount is gone, so all rows pay the same (zero) cost.
	if mountpoint -q /sys/fs/cgroup/unified && unshare -m umount /sys/fs/cgroup/unified; then
		HIDE_V2=(unshare -m --propagation private -- sh -c 'umount /sys/fs/cgroup/unified && exec "$@"' sh)
	fi
fi

# Inputs, all made by the bench user: a private copy of the binary (a rebuild during the
# run cannot swap it), a private store with the image, and the same rootfs extracted.
cp -p "$repo/out/nsbox" "$W/nsbox" && chmod 755 "$W/nsbox"
as_user mkdir "$W/rootfs" "$W/bundle" "$W/crun" "$W/runc"
as_user tar -xf "$repo/out/busybox.tar" -C "$W/rootfs"
as_user "$W/nsbox" --root "$W/store" image import "$repo/out/busybox.tar" busybox >/dev/null

names=() cmds=()
# add NAME CMD: keep the row if one run succeeds where hyperfine will run it, else say why.
add() {
	# shellcheck disable=SC2086 # split like hyperfine -N splits it
	if in_bench $2 >/dev/null 2>"$W/probe.err"; then
		names+=("$1") cmds+=("$2")
	else
		skipped+=("$1: does not run: $(head -c 200 "$W/probe.err" | tr '\n' ' ')")
	fi
}
# The floor: the namespaces nsbox creates (user, mount, pid, uts, ipc, net and cgroup,
# hence -C), a fresh /proc and a chroot, with no runtime at all.
add floor "unshare -UrmpfiunC --mount-proc --root=$W/rootfs /bin/true"
add nsbox "$W/nsbox --root $W/store run --rm --network none busybox true"
if command -v bwrap >/dev/null; then
	add bwrap "bwrap --unshare-all --bind $W/rootfs / --proc /proc --dev /dev /bin/true"
else skipped+=("bwrap: not installed"); fi
# OCI runtimes share one bundle: the runtime's own rootless spec, changed only where needed:
# /bin/true, no terminal, an absolute rootfs, a cgroup namespace like the others, and the
# single uid/gid mapping the other rows use (without it crun asks newuidmap for a range).
oci=$(command -v crun || command -v runc || true)
if [[ -n $oci ]]; then
	uid=$(as_user id -u) gid=$(as_user id -g)
	(cd "$W/bundle" && as_user "$oci" spec --rootless)
	jq --arg r "$W/rootfs" --argjson u "$uid" --argjson g "$gid" '
		.process.args = ["/bin/true"] | .process.terminal = false | .root.path = $r
		| .linux.namespaces += [{type: "cgroup"}]
		| .linux.uidMappings = [{containerID: 0, hostID: $u, size: 1}]
		| .linux.gidMappings = [{containerID: 0, hostID: $g, size: 1}]' \
		"$W/bundle/config.json" | as_user tee "$W/bundle/config.new" >/dev/null
	as_user mv "$W/bundle/config.new" "$W/bundle/config.json"
fi
# One fixed container id is enough: `crun run` and `runc run` delete the container when it
# exits, and hyperfine runs one at a time. No cgroup manager for crun: rootless v1 cannot
# delegate, and nsbox and the others create no cgroup either (runc skips it by itself).
if ! command -v crun >/dev/null; then
	skipped+=("crun: not installed")
elif ((EUID != 0)) && mountpoint -q /sys/fs/cgroup/unified; then
	skipped+=("crun: refuses hybrid cgroups; run as root so the v2 mount can be hidden")
else
	add crun "crun --cgroup-manager=disabled --root $W/crun run --bundle $W/bundle $CTR_ID"
fi
if command -v runc >/dev/null; then
	add runc "runc --root $W/runc run --bundle $W/bundle $CTR_ID"
else skipped+=("runc: not installed (optional)"); fi
# podman needs its own image store, runtime dir and config, and leaves a rootless pause
# process behind; it measured ~60x the floor, so it is only mentioned.
if command -v podman >/dev/null; then
	skipped+=("podman: not benchmarked here (own store, lingering pause process; ~60x floor)")
else skipped+=("podman: not installed (optional)"); fi

uname -r | sed 's/^/kernel: /'
echo "user: $BENCH_USER (uid $(as_user id -u))$( ((EUID == 0)) && echo ", dropped from root")"
# nsbox maps a subordinate range too when the user has one (exec of setuid newuidmap and
# newgidmap, a few ms); the other rows always map the user alone. Say which case this is.
if grep -qsE "^($BENCH_USER|$(as_user id -u)):" /etc/subuid && command -v newuidmap >/dev/null; then
	echo "ids: nsbox maps $BENCH_USER's /etc/subuid range via newuidmap; the other rows map the user alone"
else echo "ids: every row maps the user alone (no /etc/subuid range)"; fi
# out/ is rebuilt by others: name the exact binary measured (built when, which bytes).
echo "nsbox: $("$W/nsbox" version 2>&1 | head -1), out/nsbox built $(date -r "$W/nsbox" '+%F %T'),\
 sha256 $(sha256sum "$W/nsbox" | cut -c1-12)"
echo "scratch: $W ($(findmnt -n -o FSTYPE,SOURCE -T "$W" | tail -n1 | tr -s ' ' | sed 's/ / on /'))"
echo "$(hyperfine --version), $(nproc) CPUs, $RUNS runs + $WARMUP warm-up per command"
((${#HIDE_V2[@]})) && echo "note: all rows run in a private mount namespace without /sys/fs/cgroup/unified"
hf=()
for i in "${!names[@]}"; do hf+=(-n "${names[i]}" "${cmds[i]}"); done
echo
in_bench hyperfine -N --style basic --warmup "$WARMUP" --runs "$RUNS" --export-json "$W/hf.json" "${hf[@]}"

# The summary: medians (robust to the odd slow run) and each row against the floor's.
echo
echo 'command     median        mean ± stddev vs floor' # spelled out: ± is 2 bytes
jq -r '.results[] | [.command, .median, .mean, .stddev] | @tsv' "$W/hf.json" |
	awk -F'\t' '{ n[NR] = $1; md[NR] = $2 * 1e3; mn[NR] = $3 * 1e3; sd[NR] = $4 * 1e3
		if ($1 == "floor") floor = md[NR] }
	END { for (i = 1; i <= NR; i++)
		printf "%-7s %7.2f ms %9.2f ± %5.2f ms %8s\n", n[i], md[i], mn[i], sd[i],
			floor ? sprintf("%.2fx", md[i] / floor) : "-" }'
for s in "${skipped[@]}"; do echo "skipped: $s"; done
echo
echo "target: nsbox <= 1.5x floor (and faster than bwrap)"
read -r nsbox floor bwrap < <(jq -r '[.results[] | {key: .command, value: .median}] | from_entries
	| "\(.nsbox // 0) \(.floor // 0) \(.bwrap // 0)"' "$W/hf.json")
awk -v n="$nsbox" -v f="$floor" -v b="$bwrap" 'BEGIN {
	if (!n || !f) { print "result: no nsbox or floor row"; exit }
	printf "result: nsbox %.2fx floor, %s 1.5x%s\n", n / f, n <= 1.5 * f ? "within" : "over",
		b ? (n < b ? ", faster than bwrap" : ", slower than bwrap") : "" }'

# Limits: the same start-up with `--memory 256m --pids-limit 100` next to the plain run, to
# show what a cgroup of its own costs (made, entered, read for OOM kills and removed per
# run). Rootless limits need a delegated cgroup v2 subtree; on a cgroup v1 host only root
# can have them, so this part runs as root, with a store of root's own.
echo
if ((EUID != 0)); then
	echo "limits: skipped (needs root here: cgroup v1 gives normal users no cgroups)"
	exit 0
fi
"$W/nsbox" --root "$W/rootstore" image import "$repo/out/busybox.tar" busybox >/dev/null
lim_plain="$W/nsbox --root $W/rootstore run --rm --network none busybox true"
lim_limits="$W/nsbox --root $W/rootstore run --rm --network none --memory 256m --pids-limit 100 busybox true"
if ! $lim_limits 2>"$W/probe.err"; then
	echo "limits: skipped: $(head -c 200 "$W/probe.err")"
	exit 0
fi
echo "limits, as root (cgroup $(stat -f -c %T /sys/fs/cgroup | sed 's/cgroup2fs/v2/; s/tmpfs/v1/')):"
hyperfine -N --style basic --warmup "$WARMUP" --runs "$RUNS" --export-json "$W/lim.json" \
	-n plain "$lim_plain" -n limits "$lim_limits"
jq -r '.results[] | [.command, .median] | @tsv' "$W/lim.json" |
	awk -F'\t' '{ md[$1] = $2 * 1e3 }
	END { printf "result: plain %.2f ms, --memory 256m --pids-limit 100 %.2f ms: %.2fx plain\n",
		md["plain"], md["limits"], md["limits"] / md["plain"] }'
