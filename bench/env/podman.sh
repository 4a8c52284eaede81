# shellcheck shell=bash
# Podman, rootless: Debian's podman 4.3.1 run as the bench user (as the invoking user when
# run.sh is not root) with everything of its own below W/podman: its storage (--root and
# --runroot), a storage.conf and a containers.conf of its own (CONTAINERS_STORAGE_CONF,
# CONTAINERS_CONF: the host's and the user's are not read), and its own HOME,
# XDG_RUNTIME_DIR and TMPDIR (also when run.sh is not root and RUN_AS sets none), so that
# neither the host's nor the user's podman state is read or touched. Events go to a file (no
# journald), cgroups are managed by cgroupfs (no systemd), no network. Sourced by
# bench/run.sh; see the interface there.
#
# The runtime is runc (/usr/sbin/runc): on this host's cgroup v1 hybrid layout (cgroup2 only
# on /sys/fs/cgroup/unified) crun 1.8 refuses to start containers.
# Cgroups: none, but not through --cgroups=disabled (containers.conf's cgroups = "disabled"):
# for it podman gives the runtime crun's option --cgroup-manager=disabled, which runc lacks,
# so podman refuses runc ("runc is not compatible with NoCgroups"; listing runc in
# runtime_supports_nocgroup only moves the error into runc). There is no need: rootless on
# cgroup v1, podman puts no cgroup path and no resources in the container's spec, and runc,
# rootless, can create no cgroup in the root-owned v1 hierarchies, so the containers stay in
# the caller's cgroups and none are made.
# The storage driver is overlay, native (no mount_program, so no fuse-overlayfs): the kernel
# mounts overlayfs in a user namespace since 5.11, so the container's writable root is an
# overlay on the image like the other rows', with no FUSE daemon in the file I/O that
# fileio-root measures. --rm makes podman mount it volatile (no syncs reach the disk), as
# nsbox does for --rm: the fileio-rm workload.
#
# What rootless podman leaves behind, which podman_teardown removes: the storage, whose files
# belong to the bench user's subordinate ids, and the pause process (catatonit) that keeps
# the user namespace alive, both by `podman system reset` (from inside that namespace; the
# pause process also by the pid in pause.pid, should the reset not end it); the shm lock
# file /dev/shm/libpod_rootless_lock_UID, removed when this run made it (the user's own
# podman would share it); and, briefly after a container ends, the `podman container
# cleanup` that conmon starts, waited for (ended by pid after 10 s).
ROOTDIR[podman]=/var/tmp BINDDIR[podman]=/data
# Set by podman_setup: RUN_AS (and so the bench user's uid) is not known yet when this file
# is sourced.
PODMAN_D= PODMAN=() PODMAN_LOCK=

podman_setup() {
	command -v podman >/dev/null ||
		{ echo "podman is not installed (apt-get install podman)"; return 1; }
	[[ -x /usr/sbin/runc ]] || { echo "runc is not installed (apt-get install runc)"; return 1; }
	local uid out
	uid=$(as_user id -u)
	((uid != 0)) || { echo "rootless podman needs an unprivileged user"; return 1; }
	PODMAN_D=$W/podman
	PODMAN_LOCK=/dev/shm/libpod_rootless_lock_$uid
	[[ ! -e $PODMAN_LOCK ]] || PODMAN_LOCK= # not this run's to remove
	# Every podman command: `env` words, so that START carries them without a shell.
	# --root/--runroot: rootless podman takes graphroot and runroot from no storage.conf.
	# --log-level=error: this host's / is a private mount, which rootless podman warns about
	# on every command; these containers mount nothing that needs shared propagation.
	PODMAN=(env HOME="$PODMAN_D/home" XDG_RUNTIME_DIR="$PODMAN_D/run" TMPDIR="$PODMAN_D/tmp"
		CONTAINERS_CONF="$PODMAN_D/containers.conf" CONTAINERS_STORAGE_CONF="$PODMAN_D/storage.conf"
		podman --root "$PODMAN_D/storage" --runroot "$PODMAN_D/runroot" --log-level=error)
	if ((EUID == 0)); then
		chown "$BENCH_USER": "$DATA/podman" # the container's root is the bench user
	fi
	as_user mkdir -p "$PODMAN_D/home" "$PODMAN_D/run" "$PODMAN_D/tmp"
	as_user chmod 700 "$PODMAN_D/run"
	# Overlay with no options: no mount_program, whatever /etc/containers/storage.conf says.
	as_user tee "$PODMAN_D/storage.conf" >/dev/null <<-EOF
		[storage]
		driver = "overlay"
	EOF
	# tmp_dir holds pause.pid, the exit files and the event log; image_copy_tmp_dir the
	# import's copy of the tarball (else /var/tmp).
	as_user tee "$PODMAN_D/containers.conf" >/dev/null <<-EOF
		[containers]
		netns = "none"
		log_driver = "k8s-file"

		[engine]
		cgroup_manager = "cgroupfs"
		events_logger = "file"
		runtime = "runc"
		tmp_dir = "$PODMAN_D/run/libpod/tmp"
		image_copy_tmp_dir = "$PODMAN_D/tmp"

		[engine.runtimes]
		runc = ["/usr/sbin/runc"]
	EOF
	out=$(as_user "${PODMAN[@]}" info --format \
		'{{.Store.GraphDriverName}} {{.Host.OCIRuntime.Name}} {{.Store.GraphRoot}}' 2>&1) ||
		{ echo "podman info failed: $(tail -n 1 <<<"$out")"; return 1; }
	[[ $out == "overlay runc $PODMAN_D/storage" ]] ||
		{ echo "podman uses '$out', not overlay and runc in $PODMAN_D/storage"; return 1; }
	# On stdin: the tarball may be where only the caller can read it (root's cache).
	out=$(as_user "${PODMAN[@]}" import - debian:bench <"$IMAGE" 2>&1) ||
		{ echo "podman import failed: $(tail -n 1 <<<"$out")"; return 1; }
	# A first container: a runtime that cannot run here skips the row with its reason.
	out=$(as_user "${PODMAN[@]}" run --rm --network none debian:bench true 2>&1) ||
		{ echo "podman run failed: $(tail -n 1 <<<"$out")"; return 1; }
}
# As for nsbox (bench/env/nsbox.sh): the workloads run in a container removed afterwards, so
# that its overlay is not volatile; fileio-rm measures --rm.
PODMAN_SEQ=0
podman_exec() {
	local rc=0 name=bench-$$-$((PODMAN_SEQ += 1))
	as_user "${PODMAN[@]}" run --name "$name" --network none -v "$DATA/podman:/data" debian:bench \
		sh -c "$1" || rc=$?
	as_user "${PODMAN[@]}" rm -f "$name" >/dev/null 2>&1 || true
	return "$rc"
}
podman_exec_rm() {
	as_user "${PODMAN[@]}" run --rm --network none -v "$DATA/podman:/data" debian:bench sh -c "$1"
}
podman_start() { START="${RUN_AS[*]} ${PODMAN[*]} run --rm --network none debian:bench true"; }

# The pids of the processes with an argument in PODMAN_D: conmon, and the `podman container
# cleanup` it starts when a container ends (not hyperfine, whose one argument is START).
podman_pids() {
	local f a args
	for f in /proc/[0-9]*/cmdline; do
		mapfile -d '' args 2>/dev/null <"$f" || continue
		for a in "${args[@]}"; do
			[[ $a == "$PODMAN_D/"* ]] && { f=${f%/cmdline}; echo "${f#/proc/}"; break; }
		done
	done
	return 0
}
podman_teardown() {
	[[ -n $PODMAN_D && -d $PODMAN_D ]] || return 0
	local uid pid p i
	uid=$(as_user id -u)
	# The pause process's pid, read first: the reset removes tmp_dir, which holds pause.pid.
	pid=$(cat "$PODMAN_D/run/libpod/tmp/pause.pid" 2>/dev/null) || pid=
	if [[ -f $PODMAN_D/containers.conf ]]; then
		# Containers an interrupted run left, the cleanups of those that ended (up to 10 s,
		# then ended by pid), then the storage: its files belong to the subordinate ids, so
		# they go from inside the user namespace, where the reset also unmounts the bind
		# mount the overlay driver keeps on storage/overlay (a plain `podman unshare rm -rf`
		# fails on it: busy).
		as_user "${PODMAN[@]}" rm -af -t 0 >/dev/null 2>&1
		for ((i = 0; i < 100; i++)); do
			[[ -z $(podman_pids) ]] && break
			sleep 0.1
		done
		for p in $(podman_pids); do kill -KILL "$p" 2>/dev/null; done
		as_user "${PODMAN[@]}" system reset -f >/dev/null # it says that storage.conf stays
	fi
	# The reset ends the pause process too; when it did not (it failed, or was not run), by
	# its pid, and only if it is the bench user's (a stale pid must not end another process).
	if [[ $pid =~ ^[0-9]+$ && $(stat -c %u "/proc/$pid" 2>/dev/null) == "$uid" ]]; then
		kill "$pid" 2>/dev/null
		for ((i = 0; i < 100; i++)); do # up to 5 s; it exits in a few ms, then init reaps it
			[[ $(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null) =~ ^[^Z]$ ]] || break
			sleep 0.05
		done
	fi
	[[ -z $PODMAN_LOCK ]] || rm -f "$PODMAN_LOCK"
	as_user rm -rf "$PODMAN_D"
	PODMAN_D= PODMAN=() PODMAN_LOCK=
}
