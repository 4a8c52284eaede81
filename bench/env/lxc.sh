# shellcheck shell=bash
# LXC: Debian's lxc (5.0) as root through lxc-execute, the application-container front end
# (its init.lxc as pid 1, then `sh -c`), on the image extracted as a plain directory. Every
# bit of state of its own stays in the scratch dir: a private lxcpath (-P, not
# /var/lib/lxc, so no container of the host's is seen or touched and nothing is registered),
# the config written here and passed with -f (so /etc/lxc/default.conf, with its veth on
# lxcbr0, is never read), its log. Outside it LXC makes only cgroups, put below this
# script's own cgroup in one dir per run, and lock dirs under /run/lxc/lock; teardown removes
# both. No network (lxc.net.0.type = empty: a namespace with lo only, no host interface).
# Sourced by bench/run.sh; see the interface there.
ROOTDIR[lxc]=/var/tmp BINDDIR[lxc]=/data
# The lxcpath is set by lxc_setup: a teardown without it has nothing to remove.
LXC_P="" LXC_NAME=nsbox-bench LXC_CG=nsbox-bench-lxc-$$ LXC_RUNTOP=""

lxc_run() { lxc-execute -P "$LXC_P" -n "$LXC_NAME" -f "$LXC_P/config" -- "$@"; }

# Our cgroup dir in every hierarchy (v1 ones and the unified one of a hybrid host). Its
# monitor and payload children are fixed names, and lxc-execute refuses to start when they
# exist: a run that was killed leaves them, so they go (with any process left in them)
# before each run, and the whole dir at teardown.
lxc_cgroups() { # all | leftovers
	local d p i
	local -a top cgs left
	mapfile -t top < <(find /sys/fs/cgroup -type d -name "$LXC_CG" -prune 2>/dev/null)
	cgs=()
	for d in "${top[@]}"; do
		# A container whose lxc-execute was killed may still run: it goes with its processes.
		while read -r p; do
			kill -9 "$p" 2>/dev/null || true
		done < <(cat "$d"/payload/cgroup.procs "$d"/payload/*/cgroup.procs 2>/dev/null)
		if [[ $1 == all ]]; then cgs+=("$d"); else cgs+=("$d/payload" "$d/monitor"); fi
	done
	for ((i = 0; i < 20; i++)); do # the killed take a moment to leave their cgroups
		left=()
		for d in "${cgs[@]}"; do
			[[ ! -d $d ]] || find "$d" -depth -type d -exec rmdir {} + 2>/dev/null || left+=("$d")
		done
		((${#left[@]})) || return 0
		cgs=("${left[@]}")
		sleep 0.1
	done
	echo "lxc: could not remove the cgroups ${cgs[*]}" >&2
}

lxc_setup() {
	if ((EUID != 0)); then
		echo "needs root (unprivileged LXC needs subordinate ids and a delegated cgroup)"
		return 1
	fi
	command -v lxc-execute >/dev/null || { echo "no lxc-execute (apt-get install lxc)"; return 1; }
	LXC_P=$W/lxc
	# The first of /run/lxc/lock/$LXC_P's dirs not there yet: teardown removes up to it.
	local d=/run/lxc/lock$LXC_P
	while [[ ! -e ${d%/*} ]]; do d=${d%/*}; done
	[[ -e $d ]] || LXC_RUNTOP=$d
	mkdir -p "$LXC_P/rootfs"
	tar -xpf "$IMAGE" -C "$LXC_P/rootfs" --numeric-owner || { echo "tar -x $IMAGE failed"; return 1; }
	# proc and sys as Docker has them (proc mostly writable, sys read-only); autodev's /dev;
	# no console pty (stdio is passed through); no AppArmor profile, which would be loaded
	# into the kernel where the host has AppArmor. cgroup.relative: below our own cgroup, not
	# at each hierarchy's root, where LXC goes by default and leaves its lxc.pivot for good;
	# at exit lxc-execute moves itself to the pivot to remove the others. The log at INFO:
	# a payload that fails (no init.lxc, no /bin/sh) shows there only as "Child <pid> ended
	# on error", and its 25 lines a run cost no measurable time.
	cat >"$LXC_P/config" <<-EOF
		lxc.uts.name = $LXC_NAME
		lxc.environment = PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
		lxc.rootfs.path = dir:$LXC_P/rootfs
		lxc.net.0.type = empty
		lxc.mount.auto = proc:mixed sys:ro
		lxc.mount.entry = $DATA/lxc data none bind,create=dir 0 0
		lxc.autodev = 1
		lxc.console.path = none
		lxc.apparmor.profile = unconfined
		lxc.cgroup.relative = 1
		lxc.cgroup.dir.monitor = $LXC_CG/monitor
		lxc.cgroup.dir.container = $LXC_CG/payload
		lxc.cgroup.dir.monitor.pivot = $LXC_CG/pivot
		lxc.log.file = $LXC_P/lxc.log
		lxc.log.level = INFO
	EOF
	local rc=0
	lxc_run /bin/true </dev/null || rc=$?
	((rc)) || return 0
	# The reason is the last 3 lines: the exit status and LXC's last 2 messages (but its notes
	# on the fds it closes), without their prefix of name, time and source line.
	echo "lxc-execute /bin/true failed (exit $rc):"
	grep -v 'Inherited fd' "$LXC_P/lxc.log" | tail -n 2 | sed -E 's/^.* - [^ ]+:[0-9]+ - //'
	return 1
}
lxc_exec() {
	lxc_cgroups leftovers
	lxc_run sh -c "$1"
}
lxc_start() { START="lxc-execute -P $LXC_P -n $LXC_NAME -f $LXC_P/config -- /bin/true"; }
lxc_teardown() {
	local d
	[[ -n $LXC_P ]] || return 0
	lxc_cgroups all
	if [[ -d $LXC_P ]]; then
		# Nothing should be mounted there on the host (LXC mounts in the container's own
		# namespace), but rm -rf must never descend into a mount.
		awk -v p="$LXC_P/" 'index($5, p) == 1 { print $5 }' /proc/self/mountinfo | sort -r |
			while read -r d; do umount -l "$d"; done
		rm -rf "$LXC_P"
	fi
	# The lock dirs: ours, then the parents this run made, while nobody else uses them.
	if [[ -n $LXC_RUNTOP ]]; then
		d=/run/lxc/lock$LXC_P
		rm -rf "$d"
		while [[ $d != "$LXC_RUNTOP" && $d == "$LXC_RUNTOP"/* ]]; do
			d=${d%/*}
			rmdir "$d" 2>/dev/null || break
		done
	fi
	LXC_P="" LXC_RUNTOP=""
}
