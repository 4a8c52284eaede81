# Shared by the bench scripts (sourced): the unprivileged user the rootless rows run as, and a
# scratch dir. Both take the script's name for their messages.

# As root: BENCH_USER, created when it is the default nsbox-bench (a system user with no home
# and no login that only ever runs benchmarks; kept for the next run, `userdel nsbox-bench`
# removes it), and never root. As anyone else: that user.
bench_ensure_user() {
	local script=$1
	if ((EUID == 0)); then
		if ! id -u "$BENCH_USER" >/dev/null 2>&1; then
			[[ $BENCH_USER == nsbox-bench ]] || { echo "$script: no user $BENCH_USER" >&2; exit 1; }
			useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin \
				"$BENCH_USER"
			echo "created user $BENCH_USER"
		fi
		(($(id -u "$BENCH_USER") != 0)) || { echo "$script: --user must not be root" >&2; exit 1; }
	else
		BENCH_USER=$(id -un)
	fi
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
