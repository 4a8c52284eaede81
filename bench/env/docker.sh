# shellcheck shell=bash
# Docker: Debian's dockerd (docker.io), started for the run with everything of its own in the
# scratch dir (data root, exec root, socket, config, pid file), no bridge and no iptables
# rules, its containers' cgroups below this script's own; stopped and removed afterwards,
# with the two run dirs containerd and dockerd make whatever they are told (/run/containerd
# for shim sockets, /run/docker for plugins) when they were not there before. Sourced by
# bench/run.sh; see the interface there.
ROOTDIR[docker]=/var/tmp BINDDIR[docker]=/data
DOCKER_D=$W/docker DOCKER_PID= DOCKER_CG= DOCKER_RUNDIRS=()

docker_cli() { docker -H "unix://$DOCKER_D/sock" "$@"; }

docker_setup() {
	((EUID == 0)) || { echo "needs root (dockerd)"; return 1; }
	command -v dockerd >/dev/null && command -v docker >/dev/null ||
		{ echo "dockerd is not installed (apt-get install docker.io)"; return 1; }
	local d
	for d in /run/containerd /run/docker; do [[ -e $d ]] || DOCKER_RUNDIRS+=("$d"); done
	# The containers' cgroups go below this process's own (the pids hierarchy's path).
	DOCKER_CG=$(awk -F: '$2 ~ /(^|,)pids(,|$)/ { print $3 }' /proc/self/cgroup)
	DOCKER_CG=${DOCKER_CG%/}/nsbox-bench-docker-$$
	mkdir -p "$DOCKER_D/data" "$DOCKER_D/exec"
	echo '{}' >"$DOCKER_D/daemon.json"
	dockerd --config-file "$DOCKER_D/daemon.json" --data-root "$DOCKER_D/data" \
		--exec-root "$DOCKER_D/exec" --pidfile "$DOCKER_D/pid" -H "unix://$DOCKER_D/sock" \
		--bridge=none --iptables=false --ip6tables=false --ip-forward=false --ip-masq=false \
		--userland-proxy=false --cgroup-parent "$DOCKER_CG" --storage-driver overlay2 \
		>"$DOCKER_D/dockerd.log" 2>&1 </dev/null &
	DOCKER_PID=$!
	local i
	for ((i = 0; i < 300; i++)); do # up to 30 s, checked every 0.1 s; usually ready in 1-2 s
		docker_cli version >/dev/null 2>&1 && break
		kill -0 "$DOCKER_PID" 2>/dev/null || { tail -n 3 "$DOCKER_D/dockerd.log"; return 1; }
		sleep 0.1
	done
	docker_cli version >/dev/null 2>&1 || { echo "dockerd did not answer in 30 s"; return 1; }
	docker_cli import "$IMAGE" debian:bench >/dev/null
}
docker_exec() {
	docker_cli run --rm --network none -v "$DATA/docker:/data" debian:bench sh -c "$1"
}
docker_start() { START="docker -H unix://$DOCKER_D/sock run --rm --network none debian:bench true"; }
docker_teardown() {
	local id d
	if [[ -n $DOCKER_PID ]] && kill -0 "$DOCKER_PID" 2>/dev/null; then
		for id in $(docker_cli ps -aq 2>/dev/null); do docker_cli rm -f "$id" >/dev/null 2>&1; done
		kill "$DOCKER_PID" # dockerd stops its containerd and waits for it
		wait "$DOCKER_PID" 2>/dev/null || true
	fi
	DOCKER_PID=
	# Mounts left by a daemon that was killed: its overlays and netns files.
	if [[ -d $DOCKER_D ]]; then
		grep -F " $DOCKER_D/" /proc/self/mountinfo | awk '{ print $5 }' | sort -r |
			while read -r d; do umount -l "$d"; done
		rm -rf "$DOCKER_D"
	fi
	if [[ -n $DOCKER_CG ]]; then
		for d in /sys/fs/cgroup/*"$DOCKER_CG"; do
			[[ -d $d ]] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
		done
	fi
	for d in "${DOCKER_RUNDIRS[@]}"; do rm -rf "$d"; done
	DOCKER_RUNDIRS=()
}
