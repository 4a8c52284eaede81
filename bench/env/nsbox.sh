# shellcheck shell=bash
# nsbox three ways: rootless on an overlay of the image (nsbox-rl), rootless on the image
# extracted as a plain directory (nsbox-dir, --rootfs), and as root (nsbox-root, its own
# store). --network none everywhere: the workloads need no network and every peer gets the
# same. Sourced by bench/run.sh; see the interface there.
#
# The workloads run in containers that are removed afterwards rather than with --rm: with
# --rm nsbox (as podman) mounts the overlay volatile, which makes fsync a no-op, and the
# fileio rows would compare page cache with disk. The fileio-rm workload (E_exec_rm) measures
# that case on its own.
ROOTDIR[nsbox-rl]=/var/tmp BINDDIR[nsbox-rl]=/data
ROOTDIR[nsbox-dir]=/var/tmp BINDDIR[nsbox-dir]=/data
ROOTDIR[nsbox-root]=/var/tmp BINDDIR[nsbox-root]=/data
NSBOX_SEQ=0

# nsbox_kept AS STORE RUN-ARGS...: runs a named container of STORE through AS (as_user or
# command), removes it, returns its status.
nsbox_kept() {
	local as=$1 store=$2 rc=0 name=bench-$$-$((NSBOX_SEQ += 1))
	shift 2
	"$as" "$NSBOX" --root "$store" run --name "$name" "$@" || rc=$?
	"$as" "$NSBOX" --root "$store" rm -f "$name" >/dev/null 2>&1 || true
	return "$rc"
}

# The bench user's store and ROOTFS are run.sh's: they also serve the floor.
nsbox_rl_setup() { chown "$BENCH_USER": "$DATA/nsbox-rl" 2>/dev/null || [[ -O $DATA/nsbox-rl ]]; }
nsbox_rl_exec() {
	nsbox_kept as_user "$USTORE" --network none -v "$DATA/nsbox-rl:/data" \
		debian:bench sh -c "$1"
}
nsbox_rl_exec_rm() {
	as_user "$NSBOX" --root "$USTORE" run --rm --network none -v "$DATA/nsbox-rl:/data" \
		debian:bench sh -c "$1"
}
nsbox_rl_start() { START="${RUN_AS[*]} $NSBOX --root $USTORE run --rm --network none debian:bench true"; }
nsbox_rl_teardown() { :; }

nsbox_dir_setup() { chown "$BENCH_USER": "$DATA/nsbox-dir" 2>/dev/null || [[ -O $DATA/nsbox-dir ]]; }
nsbox_dir_exec() {
	nsbox_kept as_user "$USTORE" --network none -v "$DATA/nsbox-dir:/data" \
		--rootfs "$ROOTFS" sh -c "$1"
}
nsbox_dir_start() { START="${RUN_AS[*]} $NSBOX --root $USTORE run --rm --network none --rootfs $ROOTFS true"; }
nsbox_dir_teardown() { :; }

nsbox_root_setup() {
	((EUID == 0)) || { echo "needs root"; return 1; }
	"$NSBOX" --root "$W/store-root" image import "$IMAGE" debian:bench >/dev/null
}
nsbox_root_exec() {
	nsbox_kept command "$W/store-root" --network none -v "$DATA/nsbox-root:/data" \
		debian:bench sh -c "$1"
}
nsbox_root_start() { START="$NSBOX --root $W/store-root run --rm --network none debian:bench true"; }
nsbox_root_teardown() {
	[[ -d $W/store-root ]] || return 0
	"$NSBOX" --root "$W/store-root" image rm debian:bench >/dev/null && rm -rf "$W/store-root"
}
