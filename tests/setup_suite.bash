# Once per suite run: a private store, and the busybox image imported into it.
setup_suite() {
  local top
  top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  export NSBOX="${NSBOX:-$top/out/nsbox}"
  export NSBOX_INIT="${NSBOX_INIT:-$top/out/nsbox-init}"
  export BUSYBOX_TAR="${BUSYBOX_TAR:-$top/out/busybox.tar}"
  if [ -z "${NSBOX_TEST_MODE:-}" ]; then
    if [ "$(id -u)" -eq 0 ]; then NSBOX_TEST_MODE=root; else NSBOX_TEST_MODE=rootless-self; fi
  fi
  export NSBOX_TEST_MODE
  # Rootless runs keep their store in XDG_DATA_HOME (exercising that lookup); root's goes
  # through --root, so no test touches /var/lib/nsbox.
  export NSBOX_TEST_DATA="$BATS_SUITE_TMPDIR/data"
  mkdir -p "$NSBOX_TEST_DATA"
  if [ "$NSBOX_TEST_MODE" = root ]; then
    export NSBOX_TEST_ROOT="$NSBOX_TEST_DATA/root"
  else
    export XDG_DATA_HOME="$NSBOX_TEST_DATA/xdg"
    unset NSBOX_TEST_ROOT
  fi
  "$NSBOX" ${NSBOX_TEST_ROOT:+--root "$NSBOX_TEST_ROOT"} image import "$BUSYBOX_TAR" busybox >/dev/null
}

teardown_suite() {
  # Files owned by subordinate ids can only go through nsbox itself.
  local ids
  ids=$("$NSBOX" ${NSBOX_TEST_ROOT:+--root "$NSBOX_TEST_ROOT"} ps -aq 2>/dev/null)
  [ -n "$ids" ] && "$NSBOX" ${NSBOX_TEST_ROOT:+--root "$NSBOX_TEST_ROOT"} rm -f $ids >/dev/null
  "$NSBOX" ${NSBOX_TEST_ROOT:+--root "$NSBOX_TEST_ROOT"} image rm busybox >/dev/null 2>&1
  rm -rf "$NSBOX_TEST_DATA" 2>/dev/null || true
}
