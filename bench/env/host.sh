# shellcheck shell=bash
# The host itself, the reference row: sysbench and the tools from the host's own packages,
# fileio in a scratch dir on the same disk as the containers' roots. Sourced by bench/run.sh;
# see the interface there.
ROOTDIR[host]=$W/host-root BINDDIR[host]=$DATA/host

host_setup() {
	mkdir -p "${ROOTDIR[host]}"
	command -v sysbench >/dev/null || { echo "sysbench is not installed"; return 1; }
}
host_exec() { sh -c "$1"; }
host_start() { START=; } # nothing to start: the floor row is the reference
host_teardown() { rm -rf "${ROOTDIR[host]}"; }
