#!/usr/bin/env bash
# Runs the whole bats suite against the real out/nsbox: as root, then (when we are root) as
# an unprivileged user with a subordinate id range and as one without, which this script
# creates. Ends with the line "N passed, N failed, N skipped"; exits non-zero on a failure.
set -uo pipefail
cd "$(dirname "$0")/.."
TOP=$PWD

SUB_USER=nsbox-test-sub
NOSUB_USER=nsbox-test-nosub
SUB_RANGE_START=3000000
SUB_RANGE_SIZE=65536

passed=0 failed=0 skipped=0

# A copy of what the suites need, readable by the test users (the checkout may live under a
# private home such as /root).
stage=$(mktemp -d /tmp/nsbox-tests.XXXXXX)
chmod 755 "$stage"
made_etc_nsbox=""
cleanup() {
  umount -l "$stage/netfix" 2>/dev/null
  rm -rf "$stage"
  [ -z "$made_etc_nsbox" ] || rmdir /etc/nsbox 2>/dev/null
}
trap cleanup EXIT
mkdir -p "$stage/out"
cp out/nsbox out/nsbox-init out/nsbox-net out/busybox.tar out/unit-tests out/deny-userns \
  out/pidfd-exec out/netpeer out/net-unit-tests out/sysprobe "$stage/out/"
cp -r tests "$stage/tests"
[ -d bench ] && cp -r bench "$stage/bench"
# The Debian image of the benchmark tests (made by ./build.sh test), read where it is.
[ -f out/debian.tar ] && NSBOX_TEST_DEBIAN=$(realpath out/debian.tar) && export NSBOX_TEST_DEBIAN
# Fixtures only root can make: a tarball holding a device node.
if [ "$(id -u)" -eq 0 ]; then
  mkdir -p "$stage/tests/fixtures" "$stage/devroot/bin"
  cp out/busybox.tar "$stage/tests/fixtures/"
  tar -xf out/busybox.tar -C "$stage/devroot"
  mknod "$stage/devroot/mydev" c 1 3
  tar -cf "$stage/tests/fixtures/devnode.tar" -C "$stage/devroot" .
  rm -rf "$stage/devroot" "$stage/tests/fixtures/busybox.tar"
fi
chmod -R a+rX "$stage"

# The minimal-host VM that tests/vm.bats boots in the root suite, where it can boot (else the
# tests say why they skip): its kernel (downloaded once into the build cache) and an initramfs
# with this nsbox, made here from the checkout.
if [ "$(id -u)" -eq 0 ] && tests/vm/boot.sh --check "$stage/vm" 2>/dev/null; then
  NSBOX_TEST_VM=$(tests/vm/prepare.sh) || NSBOX_TEST_VM="(tests/vm/prepare.sh failed)"
  export NSBOX_TEST_VM
fi

# Networking and device fixtures (root only). nsbox-net beside nsbox, setuid root as an administrator
# would install it. A tmpfs (device nodes allowed) holds /dev/net/tun nodes of mode 0666,
# which the rootless suites see in a private mount namespace instead of the host's (often
# 0600 without udev; the host's node is never changed), and of mode 0600 for the test of
# that case; and the nsbox-net policy, bound over /etc/nsbox there.
NETFIX_ARGS=()
if [ "$(id -u)" -eq 0 ]; then
  chown root:root "$stage/out/nsbox-net"
  chmod 4755 "$stage/out/nsbox-net"
  mkdir -p "$stage/netfix"
  mount -t tmpfs -o mode=755,size=1m nsbox-netfix "$stage/netfix"
  mkdir -p "$stage/netfix/etc-nsbox"
  printf '%s\n' "# written by tests/run.sh for the rootless suites" \
    "$SUB_USER veth nsboxt0 1" "$NOSUB_USER veth nsboxt0 1" \
    >"$stage/netfix/etc-nsbox/nsbox-net.conf"
  if [ -c /dev/net/tun ]; then
    mknod -m 0666 "$stage/netfix/tun" c 10 200
    mknod -m 0600 "$stage/netfix/tun0600" c 10 200
    chmod 0666 "$stage/netfix/tun"
  fi
  # The same for /dev/fuse (rootless image files): 0666 as distributions ship it.
  if [ -c /dev/fuse ]; then
    mknod -m 0666 "$stage/netfix/fuse" c 10 229
    mknod -m 0600 "$stage/netfix/fuse0600" c 10 229
    chmod 0666 "$stage/netfix/fuse"
  fi
  if [ ! -d /etc/nsbox ]; then
    mkdir /etc/nsbox && made_etc_nsbox=1
  fi
  NETFIX_ARGS=(env NSBOX_TEST_NET_HELPER="$stage/out/nsbox-net")
  [ -c "$stage/netfix/tun0600" ] && NETFIX_ARGS+=(NSBOX_TEST_TUN0600="$stage/netfix/tun0600")
  [ -c "$stage/netfix/fuse0600" ] && NETFIX_ARGS+=(NSBOX_TEST_FUSE0600="$stage/netfix/fuse0600")
fi

# Runs one suite as `who` (empty: ourselves) and folds its TAP output into the totals.
run_suite() {
  local mode=$1 who=$2 out
  echo "=== suite: $mode${who:+ (user $who)}"
  local cmd=(env -C "$stage" NSBOX_TEST_MODE="$mode" bats --tap tests)
  if [ -n "$who" ]; then
    local home
    home=$(getent passwd "$who" | cut -d: -f6)
    # A clean login-like environment: no variables of ours leak into the user's run.
    cmd=(setpriv --reuid="$who" --regid="$who" --init-groups --reset-env
      env HOME="$home" USER="$who" LOGNAME="$who" PATH=/usr/local/bin:/usr/bin:/bin
      "${NETFIX_ARGS[@]}" "${cmd[@]}")
    if [ -d "$stage/netfix" ]; then
      # The fixtures above, in a mount namespace of this suite's own.
      local binds="mount --bind $stage/netfix/etc-nsbox /etc/nsbox"
      [ -c "$stage/netfix/tun" ] && binds+=" && mount --bind $stage/netfix/tun /dev/net/tun"
      [ -c "$stage/netfix/fuse" ] && binds+=" && mount --bind $stage/netfix/fuse /dev/fuse"
      cmd=(unshare -m --propagation private sh -c "$binds && exec \"\$@\"" sh "${cmd[@]}")
    fi
  elif [ ${#NETFIX_ARGS[@]} -gt 0 ]; then
    cmd=("${NETFIX_ARGS[@]}" "${cmd[@]}")
  fi
  out=$("${cmd[@]}" 2>&1 </dev/null)
  printf '%s\n' "$out"
  local p f s
  p=$(grep -cE '^ok ' <<<"$out" || true)
  s=$(grep -cE '^ok .*# skip' <<<"$out" || true)
  f=$(grep -cE '^not ok ' <<<"$out" || true)
  passed=$((passed + p - s))
  skipped=$((skipped + s))
  failed=$((failed + f))
  if [ "$p" -eq 0 ] && [ "$f" -eq 0 ]; then
    echo "suite $mode ran no test"
    failed=$((failed + 1))
  fi
}

ensure_user() {
  local user=$1
  if ! getent passwd "$user" >/dev/null; then
    useradd --create-home --shell /bin/bash "$user" || return 1
  fi
  # A fresh store every run: leftovers of an earlier run must not decide this one.
  local home
  home=$(getent passwd "$user" | cut -d: -f6)
  rm -rf "$home/.local/share/nsbox" "/tmp/nsbox-run-$(id -u "$user")" \
    "/dev/shm/nsbox-run-$(id -u "$user")"
}

# /etc/subuid and /etc/subgid: one range for SUB_USER, none for NOSUB_USER.
ensure_subids() {
  local f
  for f in /etc/subuid /etc/subgid; do
    touch "$f"
    sed -i "/^$NOSUB_USER:/d" "$f"
    grep -q "^$SUB_USER:" "$f" || echo "$SUB_USER:$SUB_RANGE_START:$SUB_RANGE_SIZE" >>"$f"
  done
}

if [ "$(id -u)" -eq 0 ]; then
  run_suite root ""
  if ensure_user "$SUB_USER" && ensure_user "$NOSUB_USER"; then
    ensure_subids
    run_suite rootless-subuid "$SUB_USER"
    run_suite rootless-nosubuid "$NOSUB_USER"
  else
    echo "could not create the test users: the rootless suites did not run"
    failed=$((failed + 1))
  fi
else
  echo "not root: running the rootless suite as $(id -un) only; the root suite and the"
  echo "suites as created users need root (CI runs them)"
  run_suite rootless-self ""
fi

# The test users' runtime dirs (their running state; empty by now) go too.
if [ "$(id -u)" -eq 0 ]; then
  for u in "$SUB_USER" "$NOSUB_USER"; do
    uid=$(id -u "$u" 2>/dev/null) || continue
    rm -rf "/dev/shm/nsbox-run-$uid" "/tmp/nsbox-run-$uid"
  done
fi

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
