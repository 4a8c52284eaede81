# A private apt, sourced by deps/build-deps.sh (source packages) and tests/vm/prepare.sh (the
# VM's kernel package). The caller sets APTDIR (a dir of its own) and SUITE, then calls
# `setup_apt deb-src` or `setup_apt deb` and runs apt-get/apt-cache with "${APT_OPTS[@]}".
# shellcheck shell=bash

# apt-get with its own sources, lists and cache under $APTDIR, so that it needs neither root nor
# deb-src lines in the system's configuration, and leaves the system's state alone. The system's
# apt.conf.d is still read, for proxies and the like.
APT_OPTS=()
setup_apt() {
  mkdir -p "$APTDIR/lists/partial" "$APTDIR/cache/archives/partial"
  write_sources "$1" >"$APTDIR/sources.list"
  APT_OPTS=(
    -o "Dir::Etc::SourceList=$APTDIR/sources.list"
    -o "Dir::Etc::SourceParts=/nonexistent"
    -o "Dir::State::Lists=$APTDIR/lists"
    -o "Dir::Cache=$APTDIR/cache"
    -o "Dir::Cache::pkgcache=" -o "Dir::Cache::srcpkgcache="
    # Private dirs need no lock. (Below: as root, apt must not drop to the _apt user, who may
    # not be able to enter a root-owned cache under $HOME; as a user it never drops.)
    -o "Debug::NoLocking=1"
    -o "Acquire::Languages=none"
    -q
  )
  [ "$(id -u)" -ne 0 ] || APT_OPTS+=(-o "APT::Sandbox::User=root")
}

# Lines of type $1 (deb or deb-src) for $SUITE on the Debian mirrors the system already uses (its
# debian.sources, or a one-line sources.list), else on deb.debian.org. Only URIs that look like
# Debian mirrors: on another distribution's host the bookworm suites would not exist there. No
# security mirror is invented when the system has its own: it may be an offline mirror without
# one.
write_sources() {
  local type=$1 keyring=/usr/share/keyrings/debian-archive-keyring.gpg opt="" uris uri
  [ -r "$keyring" ] && opt="[signed-by=$keyring] "
  uris=$(
    {
      sed -n 's/^URIs:[[:space:]]*//p' /etc/apt/sources.list.d/debian.sources
      sed -n 's/^deb\(-src\)\?[[:space:]]\+\(\[[^]]*\][[:space:]]\+\)\?\([^[:space:]]\+\).*/\3/p' \
        /etc/apt/sources.list
    } 2>/dev/null | tr ' ' '\n' | grep -E '^(https?|file)://' | grep -i debian |
      sed 's:/*$::' | sort -u
  ) || true
  [ -n "$uris" ] || uris=$'http://deb.debian.org/debian\nhttp://deb.debian.org/debian-security'
  while read -r uri; do
    case $uri in
      *-security) echo "$type ${opt}$uri $SUITE-security main" ;;
      *) echo "$type ${opt}$uri $SUITE main"
         echo "$type ${opt}$uri $SUITE-updates main" ;;
    esac
  done <<<"$uris"
}
