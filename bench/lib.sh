# Shared by the bench scripts (sourced): the unprivileged user the rootless rows run as, and a
# scratch dir. Both take the script's name for their messages.

# As root: BENCH_USER, never root. The default nsbox-bench is created when missing (a system
# user with no home and no login) and, with --subids, given a subordinate id range of 65536
# when it has none; bench_remove_user undoes exactly what was done, so the host keeps no
# user or range of a benchmark. As anyone else: that user, as it is.
BENCH_MADE_USER=0 BENCH_MADE_RANGE=
bench_ensure_user() {
	local script=$1 subids=${2:-} start
	if ((EUID == 0)); then
		if ! id -u "$BENCH_USER" >/dev/null 2>&1; then
			[[ $BENCH_USER == nsbox-bench ]] || { echo "$script: no user $BENCH_USER" >&2; exit 1; }
			useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin \
				"$BENCH_USER"
			BENCH_MADE_USER=1
		fi
		(($(id -u "$BENCH_USER") != 0)) || { echo "$script: --user must not be root" >&2; exit 1; }
		if [[ $subids == --subids ]] && ! grep -qs "^$BENCH_USER:" /etc/subuid; then
			# Above every range given out so far, in both files.
			start=$(cat /etc/subuid /etc/subgid 2>/dev/null | awk -F: '
				$3 > 0 && $2 + $3 > m { m = $2 + $3 } END { print (m > 100000 ? m : 100000) }')
			BENCH_MADE_RANGE=$start-$((start + 65535))
			usermod --add-subuids "$BENCH_MADE_RANGE" --add-subgids "$BENCH_MADE_RANGE" "$BENCH_USER"
		fi
	else
		BENCH_USER=$(id -un)
	fi
}
bench_remove_user() {
	((EUID == 0)) || return 0
	if ((BENCH_MADE_USER)); then
		userdel "$BENCH_USER" 2>/dev/null || echo "could not remove user $BENCH_USER" >&2
		sed -i "/^$BENCH_USER:/d" /etc/subuid /etc/subgid
	elif [[ -n $BENCH_MADE_RANGE ]]; then
		usermod --del-subuids "$BENCH_MADE_RANGE" --del-subgids "$BENCH_MADE_RANGE" "$BENCH_USER"
	fi
	BENCH_MADE_USER=0 BENCH_MADE_RANGE=
}

# Sets W to a new scratch dir named PREFIX.XXXXXX below DIR, by default on tmpfs (/dev/shm)
# when there is one, else TMPDIR or /tmp.
bench_scratch() {
	local script=$1 prefix=$2
	if [[ -z $DIR ]]; then
		DIR=${TMPDIR:-/tmp}
		[[ $(stat -f -c %T /dev/shm 2>/dev/null) == tmpfs && -w /dev/shm ]] && DIR=/dev/shm
	fi
	W=$(mktemp -d "$DIR/$prefix.XXXXXX")
	[[ $W != *[[:space:]]* ]] || { echo "$script: temp path has spaces: $W" >&2; exit 1; }
}

# Installs the Debian packages of the missing tools, as root; as anyone else, only names them.
# Arguments: TOOL=PACKAGE...
bench_install_missing() {
	local pair missing=()
	for pair in "$@"; do command -v "${pair%%=*}" >/dev/null || missing+=("${pair#*=}"); done
	((${#missing[@]})) || return 0
	if ((EUID == 0)); then
		echo "installing: ${missing[*]}"
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			--no-install-recommends "${missing[@]}"; } >/dev/null || echo "warning: apt-get failed" >&2
	else
		echo "missing (run as root to install, or apt-get install): ${missing[*]}"
	fi
}
