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
cleanup() { rm -rf "$stage"; }
trap cleanup EXIT
mkdir -p "$stage/out"
cp out/nsbox out/nsbox-init out/busybox.tar out/unit-tests out/deny-userns "$stage/out/"
cp -r tests "$stage/tests"
[ -d bench ] && cp -r bench "$stage/bench"
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
      "${cmd[@]}")
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
