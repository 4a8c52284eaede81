#!/usr/bin/env bash
# Writes the benchmark report from a results dir of bench/run.sh: REPORT.md with tables of
# medians, ranges and ratios, and PNG plots (gnuplot) next to summary.json. Only reads the
# results, so a report can be remade, or restyled, without measuring again.
# Usage: bench/report.sh RESULTS_DIR REPORT.md
set -euo pipefail
R=$(realpath "${1:?usage: bench/report.sh RESULTS_DIR REPORT.md}")
OUTMD=${2:?usage: bench/report.sh RESULTS_DIR REPORT.md}
S=$R/summary.json
[[ -f $S ]] || { echo "report.sh: no $S" >&2; exit 1; }
command -v gnuplot >/dev/null || { echo "report.sh: gnuplot is required (apt-get install gnuplot-nox)" >&2; exit 1; }
mkdir -p "$(dirname "$OUTMD")"
# Links from the report to the plots and raw files, relative to where the report is.
REL=$(realpath --relative-to="$(dirname "$(realpath "$OUTMD")")" "$R")

# Names as the report spells them, in report order.
ENVS=(host nsbox-rl nsbox-dir nsbox-root docker lxc podman)
declare -A LABEL=([host]="host" [nsbox-rl]="nsbox rootless" [nsbox-dir]="nsbox rootless --rootfs"
	[nsbox-root]="nsbox root" [docker]="Docker" [lxc]="LXC" [podman]="podman rootless"
	[floor]="floor (unshare)")
declare -A WHAT=([cpu]="cpu: --cpu-max-prime=20000 --threads=2"
	[memory]="memory: --memory-total-size=SIZE --threads=2"
	[threads]="threads: --thread-locks=10 --threads=2"
	[fileio-root]="fileio rndrw in the container's own root"
	[fileio-bind]="fileio rndrw on a bind-mounted host dir"
	[fileio-rm]="fileio rndrw in the root of a --rm container")
WORKLOADS=(cpu memory threads fileio-root fileio-bind fileio-rm)
mapfile -t READY < <(jq -r '.environments[]' "$S")
present=()
for e in "${ENVS[@]}"; do [[ " ${READY[*]} " == *" $e "* ]] && present+=("$e"); done

q() { jq -r "$@" "$S"; }
fmt() { awk -v v="$1" -v d="${2:-1}" 'BEGIN { if (v == "" || v == "null") print "-"; else printf "%.*f\n", d, v }'; }

# --- Plots ------------------------------------------------------------------------------
rm -f "$R"/*.png "$R"/*.dat
# sysbench.png: per workload, each environment's median over the host's (1.0 = host), with
# the lowest and highest repetition as error bars.
dat=$R/sysbench.dat
{
	# No header line: with the histogram's error bars it would shift the bars by one.
	# fileio-rm is left out: the host has no such row, and it is 20 times the others.
	for wl in "${WORKLOADS[@]}"; do
		[[ $wl == fileio-rm ]] && continue
		[[ $(q --arg w "$wl" '[.results[] | select(.workload == $w)] | length') -gt 0 ]] || continue
		printf '%s' "$wl"
		for e in "${present[@]}"; do
			q --arg w "$wl" --arg e "$e" '
				(.results | map(select(.workload == $w and .env == "host")) | first | .median) as $h
				| (.results | map(select(.workload == $w and .env == $e)) | first) as $r
				| if $r and $h and $h > 0 then "\t\($r.median / $h)\t\($r.min / $h)\t\($r.max / $h)"
				  else "\t-\t-\t-" end' | tr -d '\n'
		done
		echo
	done
} >"$dat"
plot_sysbench() {
	local i cols=() n=${#present[@]}
	for ((i = 0; i < n; i++)); do
		cols+=("'$dat' using $((2 + 3 * i)):$((3 + 3 * i)):$((4 + 3 * i)):xtic(1) title '${LABEL[${present[i]}]}'")
	done
	gnuplot <<EOF
set terminal pngcairo size 1100,520 font "sans,10"
set output '$R/sysbench.png'
set title "sysbench, median relative to the host (1.0 = host; bars: lowest and highest repetition)"
set style data histogram
set style histogram errorbars gap 2 lw 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set datafile missing '-'
set datafile separator '\t'
set key outside right top vertical
set yrange [0:*]
set grid ytics
set ylabel "relative to host"
set arrow from graph 0, first 1 to graph 1, first 1 nohead dt 2 lc rgb "black"
plot $(IFS=,; echo "${cols[*]}")
EOF
}
# Only with a host row to relate to and at least one number.
if [[ " ${present[*]} " == *" host "* ]] && grep -q $'\t[0-9]' "$dat"; then plot_sysbench; fi

# startup.png: median start-up of each environment, ms, log scale.
sdat=$R/startup.dat
q '.startup.environments // [] | .[] | "\(.command)\t\(.median * 1000)\t\(.min * 1000)\t\(.max * 1000)"' >"$sdat"
if [[ -s $sdat ]]; then
	while IFS=$'\t' read -r name rest; do printf '"%s"\t%s\n' "${LABEL[$name]:-$name}" "$rest"; done <"$sdat" >"$sdat.l"
	gnuplot <<EOF
set terminal pngcairo size 900,420 font "sans,10"
set output '$R/startup.png'
set title "Start-up: run \`true\` in a new container and wait for it (median; bars: min and max)"
set datafile separator '\t'
set style fill solid 0.8 border -1
set boxwidth 0.6
set logscale y
set grid ytics
set ylabel "ms (log scale)"
set xtics rotate by -20
unset key
plot '$sdat.l' using 0:2:xtic(1) with boxes lc rgb "#4477aa", '' using 0:2:3:4 with yerrorbars lc rgb "black" pt -1
EOF
	mv "$sdat.l" "$sdat"
fi

# network.png: throughput of each nsbox backend and its floor.
ndat=$R/network.dat
q '.network // {} | .backends // {} | to_entries[] | .key as $b
	| [$b] + ([.value.floor, .value.nsbox] | map(if . and length > 0 then (sort | .[length / 2 | floor] / 1e9) else "-" end))
	| @tsv' >"$ndat"
if [[ -s $ndat ]]; then
	gnuplot <<EOF
set terminal pngcairo size 700,400 font "sans,10"
set output '$R/network.png'
set title "TCP container -> host (iperf3), Gbit/s, median"
set datafile separator '\t'
set datafile missing '-'
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set grid ytics
set yrange [0:*]
set ylabel "Gbit/s"
plot '$ndat' using 2:xtic(1) title 'floor (same backend by hand)', '' using 3 title 'nsbox'
EOF
fi

# --- The report --------------------------------------------------------------------------
{
	mode=$(q 'if .quick then "quick mode (a smoke run: short workloads, numbers are rough)" else "full mode" end')
	cat <<EOF
# nsbox benchmark report

$(q '"Measured \(.date) by `bench/run.sh`, \(.reps) repetitions of \(.seconds) s per workload, environments interleaved."') This is a $mode; \`./build.sh bench\` measures again.

| | |
|---|---|
$(q '"| machine | \(.machine.cpu), \(.machine.cpus) CPUs, \(.machine.os), kernel \(.machine.kernel) |",
"| disk under the roots | \(.machine.scratch) |",
"| nsbox | \(.versions.nsbox) |",
"| sysbench | \(.versions.sysbench), inside the image \(.versions.image) (images/debian) |",
"| sizes | fileio --file-total-size=\(.sizes.fileio), memory --memory-total-size=\(.sizes.memory) |"')

Every environment runs the same Debian 12 tree with sysbench: the image imported into nsbox's,
Docker's and podman's stores, extracted as a plain directory for \`nsbox run --rootfs\` and LXC.
Containers have no network (\`--network none\`, \`lxc.net.0.type = empty\`). Each number is the
median of the repetitions; "vs host" is the median of the ratios to the host in the same
repetition, so drift between repetitions cancels out. Higher is better in every sysbench row.

## sysbench

$([[ -f $R/sysbench.png ]] && echo "![sysbench relative to the host]($REL/sysbench.png)")

| workload | $(for e in "${present[@]}"; do printf '%s | ' "${LABEL[$e]}"; done)
|---|$(for e in "${present[@]}"; do printf -- '---|'; done)
EOF
	for wl in "${WORKLOADS[@]}"; do
		[[ $(q --arg w "$wl" '[.results[] | select(.workload == $w)] | length') -gt 0 ]] || continue
		printf '| %s |' "$wl"
		for e in "${present[@]}"; do
			q --arg w "$wl" --arg e "$e" '.results | map(select(.workload == $w and .env == $e)) | first
				| if . then " \(.median) \(.unit | sub("/s$"; "/s"))" + (if .env != "host" and .paired then " (\(.paired * 1000 | round / 1000)x)" else "" end) + " |" else " - |" end' | tr -d '\n'
		done
		echo
	done
	echo
	echo "Each workload in detail: the median, the lowest and highest repetition, the ratio of"
	echo "medians and the paired ratio (both to the host)."
	for wl in "${WORKLOADS[@]}"; do
		[[ $(q --arg w "$wl" '[.results[] | select(.workload == $w)] | length') -gt 0 ]] || continue
		echo
		echo "### ${WHAT[$wl]/SIZE/$(q .sizes.memory)}"
		echo
		echo "| environment | median | min - max | median / host | paired vs host |"
		echo "|---|---|---|---|---|"
		for e in "${present[@]}"; do
			q --arg w "$wl" --arg e "$e" --arg l "${LABEL[$e]}" '.results | map(select(.workload == $w and .env == $e)) | first
				| select(.)
				| "| \($l) | \(.median) \(.unit) | \(.min) - \(.max) | \(if .ratio then (.ratio * 1000 | round / 1000 | tostring) + "x" else "-" end) | \(if .paired and .env != "host" then (.paired * 1000 | round / 1000 | tostring) + "x" else "-" end) |"'
		done
	done
	echo
	q '.skipped[] | "Not measured: \(.env): \(.why)."'
	echo

	cat <<EOF
## Start-up

Time to start a container running \`true\` in the Debian image and wait for it to end, in one
hyperfine run for all environments (rootless rows are started through \`setpriv\` from root,
the floor too). The floor is \`unshare -UrmpfiunC --mount-proc --root=ROOTFS /bin/true\`: the
namespaces nsbox makes and a chroot, without a runtime.

EOF
	if [[ -s $sdat ]]; then
		echo "![start-up]($REL/startup.png)"
		echo
		echo "| environment | median | mean ± σ | min - max | vs floor |"
		echo "|---|---|---|---|---|"
		# Seconds to milliseconds with two decimals, in one awk for the whole table.
		q '(.startup.environments | map(select(.command == "floor")) | first | .median) as $f
			| .startup.environments[] | [.command, .median, .mean, .stddev, .min, .max, (if $f then .median / $f else 0 end)] | @tsv' |
			while IFS=$'\t' read -r name rest; do printf '%s\t%s\n' "${LABEL[$name]:-$name}" "$rest"; done |
			awk -F'\t' '{ printf "| %s | %.2f ms | %.2f ± %.2f ms | %.2f - %.2f ms | %.2fx |\n",
				$1, $2 * 1e3, $3 * 1e3, $4 * 1e3, $5 * 1e3, $6 * 1e3, $7 }'
	else
		echo "Not measured in this run."
	fi
	if [[ $(q '.startup.rootless != null') == true ]]; then
		cat <<EOF

\`bench/startup.sh\`, the rootless runtimes on the busybox image (scratch on tmpfs; the
bench user's rows all rootless, see bench/README.md):

| runtime | median | vs floor |
|---|---|---|
EOF
		q '(.startup.rootless.rootless | map(select(.command == "floor")) | first | .median) as $f
			| .startup.rootless.rootless[] | "| \(.command) | \(.median * 1e5 | round / 100) ms | \(if $f then (.median / $f * 100 | round / 100 | tostring) + "x" else "-" end) |"'
		q '.startup.rootless.skipped[] | "\nNot measured: \(.)"'
		q '.startup.rootless.limits as $l | if ($l | length) == 2 then
			"\nAs root, `--memory 256m --pids-limit 100` (a cgroup of its own): \($l[1].median * 1e5 | round / 100) ms against \($l[0].median * 1e5 | round / 100) ms without, \($l[1].median / $l[0].median * 100 | round / 100)x." else empty end'
	fi
	echo
	echo "## Network"
	echo
	if [[ -s $ndat ]]; then
		cat <<EOF
\`bench/network.sh\`: TCP throughput from a container to an iperf3 server on the host, for each
nsbox network backend next to its floor (the same backend driven by hand on a bare namespace).
$(q '"\(.network.runs) run(s) of \(.network.seconds) s per row."')

![network]($REL/network.png)

| backend | floor Gbit/s | nsbox Gbit/s | nsbox / floor |
|---|---|---|---|
EOF
		while IFS=$'\t' read -r b f n; do
			printf '| %s | %s | %s | %s |\n' "$b" "$(fmt "$f" 2)" "$(fmt "$n" 2)" \
				"$(awk -v f="$f" -v n="$n" 'BEGIN { if (f + 0 > 0 && n != "-") printf "%.2fx", n / f; else print "-" }')"
		done <"$ndat"
	else
		echo "Not measured in this run."
	fi
	echo
	cat <<EOF
## What each environment sees

The process listing and the network of each, from inside (\`ps -ef\`, \`ip addr\`, \`ip route\`).
EOF
	for e in "${present[@]}"; do
		[[ -f $R/raw/$e/info.txt ]] || continue
		echo
		echo "<details><summary>${LABEL[$e]}</summary>"
		echo
		echo '```'
		# The host's listing is long and says nothing new past its first lines.
		if [[ $e == host ]]; then
			awk '/^\$ ps -ef/ { p = 1; n = 0 } /^\$ ip/ { p = 0 } p && ++n > 16 { if (n == 17) print "... (" "the host'"'"'s other processes)"; next } { print }' "$R/raw/$e/info.txt"
		else
			cat "$R/raw/$e/info.txt"
		fi
		echo '```'
		echo
		echo "</details>"
	done
	echo
	echo "Raw outputs of every run: [$REL/raw/]($REL/raw/); all numbers: [$REL/summary.json]($REL/summary.json)."
} >"$OUTMD.tmp"
mv "$OUTMD.tmp" "$OUTMD"
