#!/usr/bin/env bats
# nsbox-net, the setuid helper, driven directly. Every refusal is one line on stderr, a
# non-zero exit and no link changed; as root, the whole up/list/release cycle with a port
# published to the host. Rootless, against the setuid nsbox-net tests/run.sh stages
# (NSBOX_TEST_NET_HELPER) with a policy granting this user one lease on nsboxt0.

load helpers

CONF=/etc/nsbox/nsbox-net.conf

setup() {
  BIN_DIR=$(dirname "$NSBOX")
  PIDFD_EXEC="$BIN_DIR/pidfd-exec"
  IP=$(command -v ip || echo /usr/sbin/ip)
  PIDS=()
  HELPER=${NSBOX_TEST_NET_HELPER:-}
  if is_root_mode; then
    HELPER=${HELPER:-$BIN_DIR/nsbox-net}
  else
    [ -n "$HELPER" ] || skip "NSBOX_TEST_NET_HELPER is not set (tests/run.sh stages a setuid nsbox-net)"
    [ -u "$HELPER" ] && [ "$(stat -c %u "$HELPER")" = 0 ] ||
      skip "$HELPER is not setuid root"
  fi
  [ -x "$HELPER" ] || skip "$HELPER is not built (./build.sh build)"
  [ -x "$PIDFD_EXEC" ] || skip "$PIDFD_EXEC is not built (make tests)"
  LINKS_BEFORE=$(links)
}

teardown() {
  local p
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  [ -z "${HELPER:-}" ] || "$HELPER" release >/dev/null 2>&1 || true
}

links() { "$IP" -o link; }

in_own_netns() {
  local ns
  ns=$(readlink "/proc/$1/ns/net" 2>/dev/null) && [ "$ns" != "$(readlink /proc/self/ns/net)" ]
}

# Starts a "container": a sleep in a network namespace of its own (and, rootless, a user
# namespace of ours that owns it). Returns once it is in there: CTR is its pid.
start_ctr() {
  if is_root_mode; then
    unshare -n sleep 1000 </dev/null >/dev/null 2>&1 3>&- &
  else
    unshare -Urn sleep 1000 </dev/null >/dev/null 2>&1 3>&- &
  fi
  CTR=$!
  PIDS+=("$CTR")
  wait_for in_own_netns "$CTR"
}

# Runs a command in CTR's network namespace.
in_ctr() {
  if is_root_mode; then
    nsenter -t "$CTR" -n "$@"
  else
    nsenter -t "$CTR" -U -n --preserve-credentials "$@"
  fi
}

# `nsbox-net up` for process PID, the pidfd passed as fd 5: net_up PID ARGS...
net_up() {
  "$PIDFD_EXEC" "$1" 5 "$HELPER" up --pidfd 5 "${@:2}"
}

# Runs CMD... and asserts a refusal: exit status STATUS, exactly the line LINE on stderr,
# nothing on stdout, and `ip -o link` as it was when the test started.
# Usage: refused STATUS LINE CMD...
refused() {
  local want_status=$1 want=$2
  shift 2
  run --separate-stderr "$@"
  if [ "$status" -ne "$want_status" ] || [ "$stderr" != "$want" ] || [ -n "$output" ]; then
    echo "status: $status (want $want_status)"
    echo "stderr: $stderr"
    echo "want:   $want"
    echo "stdout: $output"
    return 1
  fi
  [ "$(links)" = "$LINKS_BEFORE" ] || {
    echo "links changed:"
    diff <(echo "$LINKS_BEFORE") <(links)
    return 1
  }
}

# The nearest ancestor of this shell that runs as root (not pid 1).
root_ancestor() {
  local p=$$
  while [ "$p" -gt 1 ]; do
    p=$(awk '/^PPid:/ { print $2 }' "/proc/$p/status") || return 1
    [ "$p" -gt 1 ] || return 1
    [ "$(awk '/^Uid:/ { print $2 }' "/proc/$p/status")" = 0 ] && echo "$p" && return 0
  done
  return 1
}

needs_policy() {
  is_root_mode && skip "root may use any bridge, without quota"
  grep -q "^$(id -un) veth nsboxt0 1\$" "$CONF" 2>/dev/null ||
    skip "$CONF does not give $(id -un) one lease on nsboxt0 (run through tests/run.sh)"
}

# Checks that `up` printed "HOSTIF IP/PREFIX GATEWAY"; sets HOSTIF, ADDR, PREFIX, GW.
parse_up_line() {
  [[ $1 =~ ^(nsbx[0-9a-f]{8})\ ([0-9.]+)/([0-9]+)\ ([0-9.]+)$ ]] || {
    echo "unexpected up output: $1"
    return 1
  }
  HOSTIF=${BASH_REMATCH[1]} ADDR=${BASH_REMATCH[2]} PREFIX=${BASH_REMATCH[3]}
  GW=${BASH_REMATCH[4]}
}

# Whether a process is gone (and reaped, so its lease can be reclaimed).
gone() { ! kill -0 "$1" 2>/dev/null; }

kill_ctr() {
  kill -9 "$1"
  wait "$1" 2>/dev/null || true
  wait_for gone "$1"
}

@test "net-helper: unit tests of names, policy and lease lines, nft rules" {
  local bin="$BIN_DIR/net-unit-tests"
  [ -x "$bin" ] || skip "$bin is built by make tests"
  run "$bin"
  echo "$output"
  [ "$status" -eq 0 ]
  [[ ${lines[-1]} == *" passed, 0 failed" ]]
}

@test "net-helper: garbage on the command line is a usage error (exit 2, one line)" {
  refused 2 'nsbox-net: no command (see nsbox-net --help)' "$HELPER"
  refused 2 'nsbox-net: unknown command "frobnicate" (see nsbox-net --help)' "$HELPER" frobnicate
  refused 2 'nsbox-net: unknown option --bogus (see nsbox-net --help)' "$HELPER" --bogus
  refused 2 'nsbox-net: up: --pidfd FD is required' "$HELPER" up
  refused 2 'nsbox-net: up: --pidfd FD is required' "$HELPER" up --bridge nsboxt0
  refused 2 'nsbox-net: up: --pidfd needs an argument' "$HELPER" up --pidfd
  refused 2 'nsbox-net: up: --pidfd "x" is not a file descriptor number' "$HELPER" up --pidfd x
  refused 2 'nsbox-net: up: --pidfd "-1" is not a file descriptor number' "$HELPER" up --pidfd -1
  refused 2 'nsbox-net: up: unknown option --frob' "$HELPER" up --pidfd 0 --frob
  refused 2 'nsbox-net: up: unexpected argument "extra"' "$HELPER" up --pidfd 0 extra
  refused 2 'nsbox-net: release takes no arguments' "$HELPER" release now
  refused 2 'nsbox-net: list takes no arguments' "$HELPER" list all
}

@test "net-helper: bad --publish specs are refused" {
  local why='expected [HOSTIP:]HOSTPORT:CTRPORT[/tcp|/udp]'
  refused 2 "nsbox-net: up: --publish \"8080\": $why" "$HELPER" up --pidfd 0 --publish 8080
  refused 2 "nsbox-net: up: --publish \"1:2:3:4\": $why" "$HELPER" up --pidfd 0 --publish 1:2:3:4
  refused 2 'nsbox-net: up: --publish "0:80": port 0 is out of range (1-65535)' \
    "$HELPER" up --pidfd 0 --publish 0:80
  refused 2 'nsbox-net: up: --publish "8080:70000": port 70000 is out of range (1-65535)' \
    "$HELPER" up --pidfd 0 --publish 8080:70000
  refused 2 'nsbox-net: up: --publish "8080:http": "http" is not a port number' \
    "$HELPER" up --pidfd 0 --publish 8080:http
  refused 2 'nsbox-net: up: --publish "8080:80/sctp": unknown protocol "sctp" (tcp or udp)' \
    "$HELPER" up --pidfd 0 --publish 8080:80/sctp
  refused 2 'nsbox-net: up: --publish "300.1.1.1:8080:80": "300.1.1.1" is not an IPv4 address' \
    "$HELPER" up --pidfd 0 --publish 300.1.1.1:8080:80
  refused 2 'nsbox-net: up: --publish "8000-8010:80": IPv6 addresses and port ranges are not supported' \
    "$HELPER" up --pidfd 0 --publish 8000-8010:80
}

@test "net-helper: bad bridge names are refused" {
  start_ctr
  local n why='(1-15 of A-Z a-z 0-9 _ . -, not starting with - or .)'
  for n in ../x 0123456789abcdef 'a b' -f . .. .x '' 'x/y' 'eth0;x'; do
    refused 2 "nsbox-net: up: invalid bridge name \"$n\" $why" net_up "$CTR" --bridge "$n"
  done
  refused 2 "nsbox-net: up: invalid bridge name \"a?b\" $why" net_up "$CTR" --bridge $'a\nb'
}

@test "net-helper: --pidfd must be an open pidfd" {
  refused 1 'nsbox-net: fd 0 is not a pidfd' "$HELPER" up --pidfd 0 </dev/null
  refused 1 'nsbox-net: fd 9 is not open' "$HELPER" up --pidfd 9 9<&-
}

@test "net-helper: pid 1 is refused" {
  refused 1 'nsbox-net: refusing pid 1' net_up 1
}

@test "net-helper: a process in the host's network namespace is refused" {
  sleep 1000 </dev/null >/dev/null 2>&1 3>&- &
  PIDS+=($!)
  refused 1 "nsbox-net: process $! is not in a network namespace of its own" net_up "$!"
}

@test "net-helper: another user's process is refused" {
  is_root_mode && skip "root may name any process"
  local p
  p=$(root_ancestor) || skip "no ancestor of this test runs as root"
  refused 1 "nsbox-net: process $p belongs to another user (uid 0)" net_up "$p"
}

@test "net-helper: a bridge the policy does not grant is refused" {
  needs_policy
  start_ctr
  refused 1 "nsbox-net: user $(id -un) may not use bridge nsboxt9 (see $CONF)" \
    net_up "$CTR" --bridge nsboxt9
  refused 1 "nsbox-net: user $(id -un) may not use bridge nsbox0 (see $CONF)" net_up "$CTR"
}

@test "net-helper: ports below ip_unprivileged_port_start are root's" {
  needs_policy
  local start
  start=$(cat /proc/sys/net/ipv4/ip_unprivileged_port_start)
  [ "$start" -gt 80 ] || skip "ip_unprivileged_port_start is $start here"
  start_ctr
  refused 1 "nsbox-net: port 80/tcp is below net.ipv4.ip_unprivileged_port_start ($start): only root may publish it" \
    net_up "$CTR" --bridge nsboxt0 --publish 80:80
}

@test "net-helper: a published port the caller does not hold is refused" {
  needs_policy
  start_ctr
  refused 1 "nsbox-net: port 28480/tcp: a caller other than root must hold the published ports itself (--port-fds)" \
    net_up "$CTR" --bridge nsboxt0 --publish 28480:80
  refused 1 "nsbox-net: port 28480/tcp: fd 0 is not a socket" \
    net_up "$CTR" --bridge nsboxt0 --publish 28480:80 --port-fds 0
}

@test "net-helper: one lease per quota; release reclaims it once its owner is gone" {
  needs_policy
  local had_bridge=false
  "$IP" link show nsboxt0 >/dev/null 2>&1 && had_bridge=true
  local links0=$LINKS_BEFORE

  start_ctr
  local first=$CTR
  run --separate-stderr net_up "$first" --bridge nsboxt0
  [ "$status" -eq 0 ]
  [ -z "$stderr" ]
  parse_up_line "$output"
  # The container has eth0 with that address and a default route through the gateway.
  run in_ctr "$IP" -o -4 addr show dev eth0
  [[ $output == *" inet $ADDR/$PREFIX "* ]]
  run in_ctr "$IP" route show default
  [[ $output == "default via $GW dev eth0"* ]]
  "$IP" -o link show "$HOSTIF" | grep -q " master nsboxt0 "
  run "$HELPER" list
  [ "$status" -eq 0 ]
  [ "$output" = "nsboxt0 $ADDR $(id -u) $first $HOSTIF" ]

  # A second container is over the quota of one, and nothing of it is made.
  LINKS_BEFORE=$(links)
  start_ctr
  refused 1 "nsbox-net: user $(id -un) already holds 1 of the 1 leases allowed on bridge nsboxt0" \
    net_up "$CTR" --bridge nsboxt0

  # The first one ends: release takes its lease, its veth and the bridge made for it.
  kill_ctr "$first"
  run --separate-stderr "$HELPER" release
  [ "$status" -eq 0 ]
  [ -z "$output$stderr" ]
  run "$HELPER" list
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  run ! "$IP" link show "$HOSTIF" 2>/dev/null
  if ! $had_bridge; then run ! "$IP" link show nsboxt0 2>/dev/null; fi
  [ "$(links)" = "$links0" ]
}

# Fetches /hello.txt over HTTP from HOST:PORT with bash's /dev/tcp.
fetch() {
  timeout 5 bash -c 'exec 7<>"/dev/tcp/$1/$2" && printf "GET /hello.txt HTTP/1.0\r\n\r\n" >&7 &&
    cat <&7' _ "$1" "$2" | tail -n 1
}

serves() { [ "$(fetch "$1" "$2")" = "hello from $CTR" ]; }

# The host's first global IPv4 address outside nsbox's bridges, if any.
host_addr() {
  "$IP" -o -4 addr show scope global | awk '$2 !~ /^nsb/ { split($4, a, "/"); print a[1]; exit }'
}

listening() { [ -n "$(ss -Htln "sport = :$1")" ]; }

@test "net-helper: as root: up, a published port reachable from the host, list, release" {
  is_root_mode || skip "the full cycle on a bridge of its own is a root test"
  command -v nft >/dev/null || [ -x /usr/sbin/nft ] || skip "nft is not installed"
  local nft port=18480
  nft=$(command -v nft || echo /usr/sbin/nft)
  "$IP" link show nsboxt1 >/dev/null 2>&1 && skip "a bridge nsboxt1 exists already"
  listening "$port" && skip "port $port is in use on this host"

  start_ctr
  run --separate-stderr net_up "$CTR" --bridge nsboxt1 --publish "$port:80"
  [ "$status" -eq 0 ]
  [ -z "$stderr" ]
  parse_up_line "$output"
  [[ $GW == 10.89.*.1 ]]
  "$IP" -o link show "$HOSTIF" | grep -q " master nsboxt1 "
  run "$HELPER" list
  [[ $output == *"nsboxt1 $ADDR 0 $CTR $HOSTIF 0.0.0.0:$port:80/tcp"* ]]
  run "$nft" list tables
  [[ $output == *"table ip nsbox"* ]]
  run "$nft" list table ip nsbox
  [[ $output == *"tcp dport $port dnat to $ADDR:80"* ]]

  # The same container once more: it has its eth0 already.
  local links0=$LINKS_BEFORE
  LINKS_BEFORE=$(links)
  refused 1 "nsbox-net: process $CTR already has an eth0" net_up "$CTR" --bridge nsboxt1

  # A web server in the container, reached through the published port.
  local www="$BATS_TEST_TMPDIR/www"
  mkdir -p "$www"
  echo "hello from $CTR" >"$www/hello.txt"
  nsenter -t "$CTR" -n busybox httpd -f -p 80 -h "$www" </dev/null >/dev/null 2>&1 3>&- &
  PIDS+=($!)
  wait_for serves "$ADDR" 80
  wait_for serves 127.0.0.1 "$port"
  local addr
  addr=$(host_addr)
  if [ -n "$addr" ]; then
    wait_for serves "$addr" "$port"
  fi

  kill_ctr "$CTR"
  run --separate-stderr "$HELPER" release
  [ "$status" -eq 0 ]
  [ -z "$output$stderr" ]
  run ! "$IP" link show "$HOSTIF" 2>/dev/null
  run ! "$IP" link show nsboxt1 2>/dev/null
  run "$HELPER" list
  [[ $output != *"$HOSTIF"* ]]
  if [ -z "$output" ]; then
    run "$nft" list tables
    [[ $output != *"table ip nsbox"* ]]
  fi
  [ "$(links)" = "$links0" ]
}

@test "net-helper: as root: a port in use on the host or published already is refused" {
  is_root_mode || skip "publishing on a bridge of its own is a root test"
  command -v nft >/dev/null || [ -x /usr/sbin/nft ] || skip "nft is not installed"
  local busy=18481 taken=18482
  "$IP" link show nsboxt1 >/dev/null 2>&1 && skip "a bridge nsboxt1 exists already"
  listening "$busy" && skip "port $busy is in use on this host"
  listening "$taken" && skip "port $taken is in use on this host"

  busybox nc -l -p "$busy" </dev/null >/dev/null 2>&1 3>&- &
  PIDS+=($!)
  wait_for listening "$busy"
  start_ctr
  refused 1 "nsbox-net: port $busy/tcp is already in use on the host" \
    net_up "$CTR" --bridge nsboxt1 --publish "$busy:80"
  refused 1 "nsbox-net: port $taken/udp is already in use on the host" \
    net_up "$CTR" --bridge nsboxt1 --publish "$taken:53/udp" --publish "127.0.0.1:$taken:54/udp"

  local links0=$LINKS_BEFORE
  run --separate-stderr net_up "$CTR" --bridge nsboxt1 --publish "$taken:80"
  [ "$status" -eq 0 ]
  parse_up_line "$output"
  local first=$CTR
  LINKS_BEFORE=$(links)
  start_ctr
  refused 1 "nsbox-net: port $taken/tcp is already in use on the host" \
    net_up "$CTR" --bridge nsboxt1 --publish "127.0.0.1:$taken:8080"
  # The other protocol, or another port, is fine.
  run --separate-stderr net_up "$CTR" --bridge nsboxt1 --publish "$taken:80/udp"
  [ "$status" -eq 0 ]
  kill_ctr "$first"
  kill_ctr "$CTR"
  run "$HELPER" release
  [ "$status" -eq 0 ]
  run ! "$IP" link show nsboxt1 2>/dev/null
  [ "$(links)" = "$links0" ]
}
