#!/usr/bin/env bash
# The benchmark report: sysbench (cpu, memory, threads, fileio) on the host and in each
# container environment, all on the same Debian image, environments interleaved so that drift
# hits them alike; the process listing and network of each; start-up and network throughput
# from bench/startup.sh and bench/network.sh. Writes raw outputs and summary.json to a results
# dir, then the report (bench/report.sh: tables and PNG plots). A measurement, never an
# assertion: it exits 0 whatever the numbers are. See bench/README.md.
set -euo pipefail

usage() {
	cat <<EOF
Usage: bench/run.sh [--quick] [--only LIST] [--reps N] [--time S] [--results DIR]
                    [--report FILE] [--image TAR] [--dir DIR] [--user NAME] [--setup-only]
  --quick        a short session (about 3 minutes with every environment, under 2 with
                 --only nsbox,host): 1 s per workload, 64M fileio,
                 start-up and network in their quick modes; results in bench/results/DATE-quick
  --only LIST    environments, comma-separated: host, nsbox (all three nsbox rows), nsbox-rl,
                 nsbox-dir, nsbox-root, docker, lxc, podman (default: all)
  --reps N       repetitions of each workload in each environment (default 3)
  --time S       seconds per sysbench run (default 10; --quick 1)
  --results DIR  where raw outputs, summary.json and the plots go
                 (default bench/results/DATE, or DATE-quick)
  --report FILE  the report (default bench/REPORT.md; --quick: DIR/REPORT.md)
  --image TAR    the Debian image with sysbench (default: images/debian/build.sh's tarball in
                 the build cache, built when missing)
  --dir DIR      scratch dir on the disk to measure (default /var/tmp); removed afterwards
  --user NAME    the unprivileged user of the rootless rows when run as root (default
                 nsbox-bench: created for the run with a subordinate id range, removed after)
  --setup-only   set every environment up, list what each sees, tear down: no workloads
EOF
}

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
QUICK=0 ONLY=all REPS=3 TIME= RESULTS= REPORT= IMAGE= DIR=/var/tmp BENCH_USER=nsbox-bench SETUP_ONLY=0
while (($#)); do
	case $1 in
	--quick) QUICK=1 ;;
	--only) ONLY=${2:?--only needs a list} && shift ;;
	--reps) REPS=${2:?--reps needs a number} && shift ;;
	--time) TIME=${2:?--time needs seconds} && shift ;;
	--results) RESULTS=${2:?--results needs a directory} && shift ;;
	--report) REPORT=${2:?--report needs a file} && shift ;;
	--image) IMAGE=${2:?--image needs a tarball} && shift ;;
	--dir) DIR=${2:?--dir needs a directory} && shift ;;
	--user) BENCH_USER=${2:?--user needs a name} && shift ;;
	--setup-only) SETUP_ONLY=1 ;;
	-h | --help) usage && exit 0 ;;
	*) usage >&2 && exit 2 ;;
	esac
	shift
done
die() { echo "run.sh: $*" >&2; exit 1; }
[[ $REPS =~ ^[1-9][0-9]*$ ]] || die "--reps needs a number"
: "${TIME:=$((QUICK ? 1 : 10))}"
[[ $TIME =~ ^[1-9][0-9]*$ ]] || die "--time needs a number of seconds"
FILEIO_SIZE=$((QUICK ? 64 : 2048))M MEMORY_SIZE=10G
stamp=$(date +%F)
((QUICK)) && stamp+=-quick
: "${RESULTS:=$REPO/bench/results/$stamp}"
: "${REPORT:=$( ((QUICK)) && echo "$RESULTS/REPORT.md" || echo "$REPO/bench/REPORT.md")}"

# shellcheck source=bench/lib.sh
source "$REPO/bench/lib.sh"
[[ -x $REPO/out/nsbox ]] || die "build first (./build.sh): out/nsbox is missing"

# The environments, in report order, and what --only's words select.
ALL_ENVS=(host nsbox-rl nsbox-dir nsbox-root docker lxc podman)
declare -A WANT=()
for w in ${ONLY//,/ }; do
	case $w in
	all) for e in "${ALL_ENVS[@]}"; do WANT[$e]=1; done ;;
	nsbox) WANT[nsbox-rl]=1 WANT[nsbox-dir]=1 WANT[nsbox-root]=1 ;;
	host | nsbox-rl | nsbox-dir | nsbox-root | docker | lxc | podman) WANT[$w]=1 ;;
	*) die "--only: unknown environment '$w' (host, nsbox, nsbox-rl, nsbox-dir, nsbox-root, docker, lxc, podman)" ;;
	esac
done

bench_install_missing sysbench=sysbench jq=jq hyperfine=hyperfine gnuplot=gnuplot-nox \
	ip=iproute2 setpriv=util-linux
for tool in sysbench jq hyperfine gnuplot; do
	command -v "$tool" >/dev/null || die "$tool is required (apt-get install ${tool/gnuplot/gnuplot-nox})"
done

# The image: every environment runs this one tarball's tree.
if [[ -z $IMAGE ]]; then
	IMAGE=${NSBOX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/nsbox-build}/images/debian.tar
	NSBOX=$REPO/out/nsbox "$REPO/images/debian/build.sh" "$IMAGE" >&2 ||
		die "no Debian image: images/debian/build.sh failed (it needs Debian's archive)"
fi
[[ -f $IMAGE ]] || die "--image $IMAGE: no such file"
IMAGE=$(realpath "$IMAGE")

# The environment modules: bench/env/NAME.sh, each defining for its environment E (with
# '-' as '_' in function names):
#   E_setup     make it ready (import the image, start a daemon); on failure, or when it
#               cannot run here, print the reason on stdout and return non-zero: the row is
#               skipped with that reason
#   E_exec SH   run `sh -c SH` in a new container of E (from the image, --network none or its
#               equivalent, the host dir DATA/E bind-mounted on /data); sysbench's output
#               on stdout
#   E_start     set START to the command line hyperfine runs to start and end `true` in E
#               (split on spaces, no shell) or leave it empty
#   E_teardown  remove everything E_setup made; runs even when E_setup failed
# and the variables ROOTDIR[E] and BINDDIR[E]: where fileio works inside, on the container's
# own writable root and on the bind-mounted host dir. They may use: W (scratch on disk),
# IMAGE, DATA (W/data), BENCH_USER, as_user CMD... (runs CMD as the bench user when root),
# NSBOX (a private copy of out/nsbox), USTORE (the bench user's nsbox store with the image
# as debian:bench), ROOTFS (the image extracted in the bench user's namespace: the floor's
# root and nsbox-dir's), REPO, log MSG.

log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }
fn() { echo "${1//-/_}"; }

# As root, the rootless rows run as the bench user with a subordinate id range (debootstrap's
# tree has files of system users); a user and range made for the run go with it.
RUN_AS=()
as_user() { "${RUN_AS[@]}" "$@"; }
bench_ensure_user run.sh --subids

mkdir -p "$DIR" && DIR=$(realpath "$DIR")
bench_scratch run.sh nsbox-report
DATA=$W/data ROOTFS=$W/rootfs USTORE=$W/store-user
declare -A ROOTDIR=() BINDDIR=()
START=
for f in "$REPO"/bench/env/*.sh; do
	# shellcheck source=/dev/null
	source "$f"
done
READY=() SKIPPED=()
declare -A WHY=()

cleanup() {
	local rc=$? e
	set +e
	trap - EXIT INT TERM
	for e in "${ALL_ENVS[@]}"; do
		[[ -n ${SET_UP[$e]:-} ]] && { "$(fn "$e")_teardown" || log "$e: teardown failed"; }
	done
	# The tree and the store hold files of the bench user's subordinate ids: removed from
	# inside its user namespace.
	if [[ -d $ROOTFS ]]; then
		as_user "$NSBOX" --root "$USTORE" run --rm --network none -v "$W:/w" debian:bench rm -rf /w/rootfs 2>/dev/null
	fi
	[[ -d $USTORE ]] && as_user "$NSBOX" --root "$USTORE" image rm debian:bench >/dev/null 2>&1
	chmod -R u+rwX "$W" 2>/dev/null
	rm -rf "$W" || log "could not remove $W"
	bench_remove_user
	exit "$rc"
}
declare -A SET_UP=()
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if ((EUID == 0)); then
	chown "$BENCH_USER": "$W"
	chmod 755 "$W"
	RUN_AS=(setpriv --reuid="$BENCH_USER" --regid="$BENCH_USER" --init-groups
		env -i HOME="$W/home" PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin LANG=C.UTF-8
		XDG_RUNTIME_DIR="$W/run")
fi
as_user mkdir -p "$W/home" "$W/run" "$DATA"
chmod 700 "$W/run"
cp -p "$REPO/out/nsbox" "$W/nsbox" && chmod 755 "$W/nsbox" # a rebuild cannot swap it mid-run
NSBOX=$W/nsbox

# The image for the rootless rows and the floor, in the bench user's store and as a tree.
log "image: $IMAGE into the bench user's store"
# A copy the bench user can read (the cache is often below root's home).
IMAGE_ID="$(basename "$IMAGE") $(sha256sum "$IMAGE" | cut -c1-12)"
cp "$IMAGE" "$W/image.tar" && chmod 644 "$W/image.tar" && IMAGE=$W/image.tar
as_user "$NSBOX" --root "$USTORE" image import "$IMAGE" debian:bench >/dev/null ||
	die "nsbox image import $IMAGE failed (as $BENCH_USER)"
as_user mkdir "$ROOTFS"
as_user "$NSBOX" --root "$USTORE" run --rm --network none -v "$IMAGE:/image.tar:ro" -v "$ROOTFS:/out" \
	debian:bench tar -xpf /image.tar -C /out --numeric-owner || die "extracting $IMAGE failed"

mkdir -p "$RESULTS/raw"
RESULTS=$(realpath "$RESULTS")
rm -f "$RESULTS"/raw/*/*.txt "$RESULTS/results.tsv" "$RESULTS/summary.json"

# Set up each environment; one that cannot run here becomes a skipped row with its reason.
for e in "${ALL_ENVS[@]}"; do
	[[ -n ${WANT[$e]:-} ]] || continue
	log "$e: setting up"
	SET_UP[$e]=1
	mkdir -p "$DATA/$e"
	# Not in a subshell: a daemon it starts stays this shell's child, to be waited for.
	if "$(fn "$e")_setup" >"$W/setup-$e.log" 2>&1 </dev/null; then
		READY+=("$e")
	else
		WHY[$e]=$(tail -n 3 "$W/setup-$e.log" | tr '\n' ' ' | sed 's/ *$//')
		SKIPPED+=("$e")
		log "$e: skipped: ${WHY[$e]}"
	fi
done
((${#READY[@]})) || die "no environment could be set up"

# What each one sees: its processes and its network, as the seeds ask.
for e in "${READY[@]}"; do
	mkdir -p "$RESULTS/raw/$e"
	"$(fn "$e")_exec" 'for c in "ps -ef" "ip addr" "ip route"; do echo "\$ $c"; $c 2>&1; echo; done' \
		>"$RESULTS/raw/$e/info.txt" 2>&1 || true
done

# The workloads: sysbench as the seeds run it, scaled to a 2-core machine. fileio prepares,
# runs and cleans up in one container, only `run` is measured.
workload_script() { # WORKLOAD ENV
	local sb="sysbench --time=$TIME"
	case $1 in
	cpu) echo "$sb --threads=2 cpu --cpu-max-prime=20000 run" ;;
	memory) echo "$sb --threads=2 memory --memory-total-size=$MEMORY_SIZE run" ;;
	threads) echo "$sb --threads=2 threads --thread-locks=10 run" ;;
	fileio-root | fileio-bind | fileio-rm)
		local d=${ROOTDIR[$2]}
		[[ $1 == fileio-bind ]] && d=${BINDDIR[$2]}
		local f="sysbench fileio --file-total-size=$FILEIO_SIZE"
		echo "mkdir -p $d/fio && cd $d/fio && $f prepare >/dev/null && $f --time=$TIME --file-test-mode=rndrw run; rc=\$?; $f cleanup >/dev/null; cd / && rm -rf $d/fio; exit \$rc"
		;;
	esac
}
# The figure of merit of each: higher is better for all.
parse() { # WORKLOAD FILE: prints VALUE UNIT
	case $1 in
	cpu) awk '/events per second:/ { print $4, "events/s" }' "$2" ;;
	memory) sed -n 's/.*MiB transferred (\([0-9.]*\) MiB\/sec).*/\1 MiB\/s/p' "$2" ;;
	threads) awk '/total time:/ { t = $3 + 0 } /total number of events:/ { n = $5 }
		END { if (t > 0 && n != "") printf "%.1f events/s\n", n / t }' "$2" ;;
	fileio-*) awk '/reads\/s:/ { r = $2 } /writes\/s:/ { w = $2 }
		END { if (r != "") printf "%.2f ops/s\n", r + w }' "$2" ;;
	esac
}
# fileio-rm: fileio-root in a container run with --rm, only where that differs (E_exec_rm).
WORKLOADS=(cpu memory threads fileio-root fileio-bind fileio-rm)
exec_fn() { # WORKLOAD ENV: the function that runs it, or nothing
	if [[ $1 == fileio-rm ]]; then
		declare -F "$(fn "$2")_exec_rm" || true
	else echo "$(fn "$2")_exec"; fi
}

if ((!SETUP_ONLY)); then
	n=${#READY[@]}
	for ((rep = 1; rep <= REPS; rep++)); do
		for wl in "${WORKLOADS[@]}"; do
			# Each repetition starts the round one environment further on.
			for ((k = 0; k < n; k++)); do
				e=${READY[$(((k + rep - 1) % n))]}
				raw=$RESULTS/raw/$e/$wl.$rep.txt
				run=$(exec_fn "$wl" "$e")
				[[ -n $run ]] || continue
				log "rep $rep/$REPS: $wl in $e"
				if "$run" "$(workload_script "$wl" "$e")" >"$raw" 2>&1 &&
					read -r value unit < <(parse "$wl" "$raw") && [[ -n $value ]]; then
					printf '%s\t%s\t%s\t%s\t%s\n' "$rep" "$e" "$wl" "$value" "$unit" >>"$RESULTS/results.tsv"
				else
					log "$e: $wl failed (raw/$e/$wl.$rep.txt)"
				fi
			done
		done
	done
fi

# Start-up of every environment ready here, in one hyperfine run as root: the rootless rows
# through setpriv like the floor, so they pay the same exec.
if ((!SETUP_ONLY)); then
	hf=()
	rootless_floor="unshare -UrmpfiunC --mount-proc --root=$ROOTFS /bin/true"
	((EUID == 0)) && rootless_floor="${RUN_AS[*]} $rootless_floor"
	hf+=(-n floor "$rootless_floor")
	for e in "${READY[@]}"; do
		START=
		"$(fn "$e")_start"
		[[ -n $START ]] && hf+=(-n "$e" "$START")
	done
	runs=$((QUICK ? 5 : 50)) warm=$((QUICK ? 1 : 5))
	log "start-up: hyperfine, $runs runs per environment"
	hyperfine -N --style basic --warmup "$warm" --runs "$runs" --export-json "$RESULTS/startup-envs.json" \
		"${hf[@]}" >"$RESULTS/raw/startup-envs.txt" 2>&1 || log "start-up: hyperfine failed (raw/startup-envs.txt)"
fi

# The tear-down comes before the two scripts below so that they find the machine as it was.
for e in "${ALL_ENVS[@]}"; do
	if [[ -n ${SET_UP[$e]:-} ]]; then
		log "$e: tearing down"
		"$(fn "$e")_teardown" || log "$e: teardown failed"
		unset "SET_UP[$e]"
	fi
done

if ((!SETUP_ONLY)) && [[ -n ${WANT[nsbox-rl]:-} ]]; then
	q=()
	((QUICK)) && q=(--quick)
	log "start-up: bench/startup.sh ${q[*]}"
	"$REPO/bench/startup.sh" "${q[@]}" --user "$BENCH_USER" --json "$RESULTS/startup.json" \
		>"$RESULTS/raw/startup.txt" 2>&1 || log "bench/startup.sh failed (raw/startup.txt)"
	log "network: bench/network.sh ${q[*]}"
	# --quick with 1 s runs: the quick session stays under 3 minutes with every environment.
	"$REPO/bench/network.sh" "${q[@]}" ${q:+--time 1} --user "$BENCH_USER" --json "$RESULTS/network.json" \
		>"$RESULTS/raw/network.txt" 2>&1 || log "bench/network.sh failed (raw/network.txt)"
fi

# The summary: every value, then per environment and workload the median, min and max, and
# the median over the host's (ratio), and the median of the ratios to the host in the same
# repetition (paired: drift between repetitions cancels out).
{
	for e in "${SKIPPED[@]}"; do printf '%s\t%s\n' "$e" "${WHY[$e]}"; done
} >"$W/skipped.tsv"
jq -n --rawfile res <(cat "$RESULTS/results.tsv" 2>/dev/null || true) \
	--rawfile skipped "$W/skipped.tsv" \
	--arg date "$(date -u +%FT%TZ)" --argjson quick "$QUICK" --argjson reps "$REPS" --argjson time "$TIME" \
	--arg fileio "$FILEIO_SIZE" --arg memory "$MEMORY_SIZE" --arg kernel "$(uname -r)" \
	--arg cpu "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)" --argjson cpus "$(nproc)" \
	--arg os "$(. /etc/os-release && echo "$PRETTY_NAME")" \
	--arg scratch "$(findmnt -n -o FSTYPE,SOURCE -T "$DIR" | tail -n1 | tr -s ' ')" \
	--arg nsbox "$("$REPO/out/nsbox" version 2>&1 | head -1)" --arg sysbench "$(sysbench --version)" \
	--arg image "$IMAGE_ID" \
	--argjson ready "$(printf '%s\n' "${READY[@]}" | jq -R . | jq -s .)" \
	--slurpfile su <(cat "$RESULTS/startup-envs.json" 2>/dev/null || echo '{"results": []}') \
	--slurpfile sr <(cat "$RESULTS/startup.json" 2>/dev/null || echo null) \
	--slurpfile net <(cat "$RESULTS/network.json" 2>/dev/null || echo null) '
	def median: sort | if length % 2 == 1 then .[length / 2 | floor]
		else (.[length / 2 - 1] + .[length / 2]) / 2 end;
	($res | split("\n") | map(select(length > 0) | split("\t")
		| {rep: (.[0] | tonumber), env: .[1], workload: .[2], value: (.[3] | tonumber), unit: .[4]})) as $rows
	| ($rows | group_by([.workload, .env]) | map({workload: .[0].workload, env: .[0].env, unit: .[0].unit,
		values: map(.value), median: (map(.value) | median), min: (map(.value) | min), max: (map(.value) | max)})) as $stats
	| {date: $date, quick: ($quick == 1), reps: $reps, seconds: $time,
	   machine: {cpu: $cpu, cpus: $cpus, os: $os, kernel: $kernel, scratch: $scratch},
	   versions: {nsbox: $nsbox, sysbench: $sysbench, image: $image},
	   sizes: {fileio: $fileio, memory: $memory},
	   environments: $ready,
	   skipped: ($skipped | split("\n") | map(select(length > 0) | split("\t") | {env: .[0], why: .[1]})),
	   results: ($stats | map(. as $s | . + {
		ratio: (($stats | map(select(.workload == $s.workload and .env == "host")) | first | .median) as $h
			| if $h and $h > 0 then $s.median / $h else null end),
		paired: ([$rows[] | select(.workload == $s.workload and .env == $s.env) | . as $r
			| $rows[] | select(.workload == $r.workload and .env == "host" and .rep == $r.rep and .value > 0)
			| $r.value / .value] | if length > 0 then median else null end)})),
	   startup: {environments: $su[0].results, rootless: $sr[0]},
	   network: $net[0]}' >"$RESULTS/summary.json"

log "report: $REPORT"
"$REPO/bench/report.sh" "$RESULTS" "$REPORT"
log "done: $RESULTS"
