#!/usr/bin/env bats
# --network bridge through nsbox-net: containers on a bridge talk to each other and to the
# host, reach an "outside" host (a namespace the test makes) through NAT, publish ports, and
# leave nothing behind. As root on nsbox0; rootless against the setuid nsbox-net that
# tests/run.sh stages, on the bridge its policy allows (nsboxt0, one interface).

load helpers

setup() {
  BIN_DIR=$(dirname "$NSBOX")
  NETPEER="$BIN_DIR/netpeer"
  IP=$(command -v ip || echo /usr/sbin/ip)
  HOST_PIDS=()
  BG_PIDS=()
  [ -n "${NSBOX_TEST_NET_HELPER:-}" ] || skip "no nsbox-net staged (run through tests/run.sh)"
  [ -x /usr/sbin/nft ] || [ -x /sbin/nft ] || skip "nft is not installed"
  if ! is_root_mode; then
    [ -u "$NSBOX_TEST_NET_HELPER" ] || skip "nsbox-net is not setuid root here"
    grep -q "^$(id -un) veth nsboxt0" /etc/nsbox/nsbox-net.conf 2>/dev/null ||
      skip "/etc/nsbox/nsbox-net.conf gives $(id -un) no interface (run through tests/run.sh)"
  fi
}

teardown() {
  local p
  for p in "${BG_PIDS[@]}" "${HOST_PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  for p in "${BG_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  [ -z "${OUT_PID:-}" ] || kill -9 "$OUT_PID" 2>/dev/null || true
  "$NSBOX_TEST_NET_HELPER" release >/dev/null 2>&1 || true
}


# Starts a container on the bridge that serves netpeer tcp-peer on port 7000 and returns once
# it listens: CTR_ADDR is its address, and its nsbox is in BG_PIDS.
start_server_ctr() {
  start_ready --rm --network "$1" -v "$BIN_DIR:/t:ro" "${@:2}" busybox sh -c \
    'exec /t/netpeer tcp-peer 7000 "$(ip -4 -o addr show eth0 | awk "{ split(\$4, p, \"/\"); print p[1] }")"'
  CTR_ADDR=$READY_LINE
  BG_PIDS+=("$BG_PID")
}

# Reads one line from a TCP server (bash's /dev/tcp; no client tool needed on the host).
tcp_line() {
  local line
  exec 8<>"/dev/tcp/$1/$2" || return 1
  read -r -t 10 line <&8
  exec 8<&-
  echo "$line"
}


links() { "$IP" -o link show | awk -F': ' '{ print $2 }' | sed 's/@.*//' | sort; }

@test "bridge: two containers ping each other and talk over TCP; the host reaches them" {
  is_root_mode || skip "nsbox0 is root's; the rootless test uses nsboxt0"
  start_server_ctr bridge
  [[ $CTR_ADDR =~ ^10\.88\.[0-9]+\.[0-9]+$ ]]
  # busybox's ping opens a raw socket only (no ICMP datagram sockets): it needs NET_RAW,
  # which containers do not get by default.
  run nsbox run --rm --network bridge --cap-add NET_RAW busybox sh -c \
    "ping -c 1 -W 5 $CTR_ADDR >/dev/null && echo pinged; nc $CTR_ADDR 7000 </dev/null; ip -4 -o addr show eth0"
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = pinged ]
  # The server saw the other container's own address: no NAT on the bridge.
  [[ ${lines[2]} == *"inet ${lines[1]}/16"* ]]
  wait "${BG_PIDS[0]}" # the server container exits 0

  # Host to container, and container to host (a server on the bridge's own address).
  start_server_ctr bridge
  [ "$(tcp_line "$CTR_ADDR" 7000)" = 10.88.0.1 ]
  start_host_ready "$NETPEER" tcp-peer 10.88.0.1:7001
  run nsbox run --rm --network bridge busybox sh -c 'nc 10.88.0.1 7001 </dev/null; ip -4 -o addr show eth0'
  [ "$status" -eq 0 ]
  [[ ${lines[1]} == *"inet ${lines[0]}/16"* ]]
}

@test "bridge: a container reaches an outside host through NAT, with the host's address as source" {
  is_root_mode || skip "needs root to build the outside namespace"
  # The outside host: a namespace behind a veth pair, 198.51.100.0/24 (TEST-NET-2).
  unshare -n sleep 1000 &
  OUT_PID=$!
  wait_for eval '[ "$(readlink /proc/$OUT_PID/ns/net)" != "$(readlink /proc/self/ns/net)" ]'
  "$IP" link add nsbt-out0 type veth peer name nsbt-out1
  "$IP" link set nsbt-out1 netns "$OUT_PID"
  "$IP" addr add 198.51.100.1/24 dev nsbt-out0
  "$IP" link set nsbt-out0 up
  nsenter -t "$OUT_PID" -n "$IP" addr add 198.51.100.2/24 dev nsbt-out1
  nsenter -t "$OUT_PID" -n "$IP" link set nsbt-out1 up
  start_host_ready nsenter -t "$OUT_PID" -n "$NETPEER" tcp-peer 198.51.100.2:7002
  run nsbox run --rm --network bridge busybox sh -c 'nc 198.51.100.2 7002 </dev/null'
  [ "$status" -eq 0 ]
  [ "$output" = 198.51.100.1 ] # masqueraded: the outside saw the host, not 10.88.x.y
  kill -9 "$OUT_PID"
  wait "$OUT_PID" 2>/dev/null || true
  OUT_PID=
  wait_for eval '! "$IP" link show nsbt-out0 2>/dev/null'
}

@test "bridge: -p publishes a port on the host's loopback; a port in use is refused cleanly" {
  is_root_mode || skip "the rootless bridge test is below"
  start_ready --rm --network bridge -p 28085:7000 -v "$BIN_DIR:/t:ro" busybox /t/netpeer tcp-peer 7000
  BG_PIDS+=("$BG_PID")
  peer=$(tcp_line 127.0.0.1 28085)
  [[ $peer =~ ^(127\.0\.0\.1|10\.88\.0\.1)$ ]]
  wait_bg_status
  [ "$BG_STATUS" -eq 0 ]

  start_host_ready "$NETPEER" tcp-peer 127.0.0.1:28086
  links_before=$(links)
  run nsbox run --rm --network bridge -p 28086:80 busybox true
  [ "$status" -eq 125 ]
  assert_one_error_line
  [[ $output == *"port 28086/tcp is already in use"* ]]
  [ "$(links)" = "$links_before" ]
}

@test "bridge: nothing is left when the containers end, also after nsbox is killed" {
  is_root_mode || skip "nsbox0 is root's; the rootless test uses nsboxt0"
  start_ready --rm --network bridge -p 28087:7000 busybox sh -c 'echo ready; exec sleep 1000'
  BG_PIDS+=("$BG_PID")
  "$IP" link show nsbox0 >/dev/null
  nft list table ip nsbox >/dev/null
  [ "$("$NSBOX_TEST_NET_HELPER" list | wc -l)" -eq 1 ]
  ctr=$(ps -o pid= --ppid "$BG_PID" | head -1 | tr -d ' ')
  [ -n "$ctr" ]
  kill -KILL "$BG_PID"
  wait_bg_status
  # The container dies with nsbox; the next nsbox-net run reclaims its lease.
  wait_for eval '! alive '"$ctr"
  wait_for eval '"$NSBOX_TEST_NET_HELPER" release && [ -z "$("$NSBOX_TEST_NET_HELPER" list)" ]'
  run ! "$IP" link show nsbox0 2>/dev/null
  run ! nft list table ip nsbox 2>/dev/null
  [ -z "$(links | grep '^nsbx')" ]
  nsbox ps -a >/dev/null
}

@test "bridge (rootless): setuid nsbox-net gives a container a veth on an allowed bridge, within quota" {
  is_root_mode && skip "the root tests above use nsbox0"
  links_before=$(links)
  run nsbox run --rm --network bridge busybox true
  [ "$status" -eq 125 ]
  assert_one_error_line
  [[ $output == *"nsbox0"* ]] # not in the policy for this user
  [ "$(links)" = "$links_before" ]

  start_server_ctr bridge:nsboxt0
  [[ $CTR_ADDR =~ ^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$ ]]
  run tcp_line "$CTR_ADDR" 7000
  [ "$status" -eq 0 ]
  [ -n "$output" ] # the host reached it
  wait "${BG_PIDS[0]}" # the server container exits 0

  # A published port: nsbox holds it while the container runs (nsbox-net checks that).
  start_server_ctr bridge:nsboxt0 -p 28088:7000
  run tcp_line 127.0.0.1 28088
  [ "$status" -eq 0 ]
  [ -n "$output" ]
  wait "${BG_PIDS[1]}"

  start_ready --rm --network bridge:nsboxt0 busybox sh -c 'echo ready; exec sleep 1000'
  BG_PIDS+=("$BG_PID")
  links_during=$(links)
  run nsbox run --rm --network bridge:nsboxt0 busybox true # a second one: over the quota of 1
  [ "$status" -eq 125 ]
  assert_one_error_line
  [ "$(links)" = "$links_during" ]
  kill -TERM "$BG_PID"
  wait_bg_status
  wait_for eval '! "$IP" link show nsboxt0 2>/dev/null'
  [ "$(links)" = "$links_before" ]
}
