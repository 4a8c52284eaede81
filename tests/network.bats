#!/usr/bin/env bats
# --network none|host|slirp4netns|pasta (bridge: bridge.bats), -p, --dns, --add-host, and the
# /dev/net/tun check. Traffic goes only to the host's loopback (through the backends'
# gateway, or to published ports) and stays inside namespaces the tests make.

load helpers

setup() {
  BIN_DIR=$(dirname "$NSBOX")
  NETPEER="$BIN_DIR/netpeer"
  HOST_PIDS=()
}

teardown() {
  local p
  for p in "${HOST_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -z "${BG_PID:-}" ] || kill -9 "$BG_PID" 2>/dev/null || true
}



# The pid of the child of $1 whose command name is $2 (empty when none).
child_named() {
  ps -o pid=,comm= --ppid "$1" 2>/dev/null | awk -v n="$2" '$2 == n { print $1; exit }'
}

# Live processes of ours named $1.
live_named() {
  ps -u "$(id -u)" -o stat=,comm= | awk -v n="$1" '$2 == n && $1 !~ /^Z/' | wc -l
}

need_backend() {
  command -v "$1" >/dev/null || skip "$1 is not installed"
  if ! is_root_mode && ! [ -r /dev/net/tun -a -w /dev/net/tun ]; then
    skip "/dev/net/tun is not usable by $(id -un) (tests/run.sh provides a 0666 node)"
  fi
}

@test "network: bad --network, -p, --dns and --add-host values: one line, 125, nothing made" {
  before=$(container_count)
  for args in "--network bogus" "--network bridge:../x" "--network bridge:-f" \
    "--network bridge:waytoolongbridgename" "--network slirp4netns:foo=1" "--network none:x" \
    "-p 80" "-p 0:80" "-p 70000:80" "-p 1.2.3:80:80" "-p 8080:80/sctp" "-p 8080-8090:80" \
    "--dns nope" "--add-host nocolon" "--add-host a:notanip" "--add-host bad/name:10.0.0.1"; do
    # shellcheck disable=SC2086 # split on purpose
    run nsbox run --rm $args busybox true
    [ "$status" -eq 125 ] || { echo "$args: status $status"; false; }
    assert_one_error_line
  done
  [ "$(container_count)" -eq "$before" ]
}

@test "network: -p needs a network to publish on" {
  run nsbox run --rm --network none -p 28080:80 busybox true
  [ "$status" -eq 125 ]
  assert_one_error_line
  [[ $output == *"--network none"* ]]
  run nsbox run --rm --network host -p 28080:80 busybox true
  [ "$status" -eq 125 ]
  assert_one_error_line
}

@test "network: --dns and --add-host reach /etc/resolv.conf and /etc/hosts" {
  run nsbox run --rm --network none --dns 192.0.2.53 --dns 2001:db8::53 \
    --add-host db.local:198.51.100.7 busybox sh -c 'grep nameserver /etc/resolv.conf; grep db.local /etc/hosts'
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = "nameserver 192.0.2.53" ]
  [ "${lines[1]}" = "nameserver 2001:db8::53" ]
  [ "${lines[2]}" = "$(printf '198.51.100.7\tdb.local')" ]
}

@test "network: --network host shares the host's /etc/hosts, plus the container's name" {
  run nsbox run --rm --network host --hostname hosty busybox cat /etc/hosts
  [ "$status" -eq 0 ]
  [[ $output == "$(cat /etc/hosts)"* ]]
  [[ $output == *"hosty"* ]]
}

@test "network: the default is slirp4netns rootless and bridge as root" {
  if is_root_mode; then
    [ -n "${NSBOX_TEST_NET_HELPER:-}" ] || skip "no nsbox-net staged (run through tests/run.sh)"
    command -v nft >/dev/null || skip "nft is not installed"
    run nsbox run --rm busybox sh -c 'ip addr show eth0'
    [ "$status" -eq 0 ]
    [[ $output == *"inet 10.88."* ]]
  else
    need_backend slirp4netns
    run nsbox run --rm busybox sh -c 'ip addr show tap0'
    [ "$status" -eq 0 ]
    [[ $output == *"inet 10.0.2.100/24"* ]]
  fi
}

@test "slirp4netns: tap0 at 10.0.2.100, route via 10.0.2.2, DNS 10.0.2.3, its name in /etc/hosts" {
  need_backend slirp4netns
  run nsbox run --rm --network slirp4netns --hostname web busybox sh -c \
    'ip addr show tap0; ip route; cat /etc/resolv.conf; grep web /etc/hosts; cat /sys/class/net/tap0/mtu'
  [ "$status" -eq 0 ]
  [[ $output == *"inet 10.0.2.100/24"* ]]
  [[ $output == *"default via 10.0.2.2 dev tap0"* ]]
  [[ $output == *"nameserver 10.0.2.3"* ]]
  [[ $output == *"$(printf '10.0.2.100\tweb')"* ]]
  [ "${lines[-1]}" = 65520 ]
}

@test "slirp4netns: the host's loopback is reachable through 10.0.2.2 only with allow_host_loopback=true" {
  need_backend slirp4netns
  start_host_ready "$NETPEER" tcp-peer 127.0.0.1:28090
  run nsbox run --rm --network slirp4netns busybox sh -c 'nc -w 3 10.0.2.2 28090 </dev/null'
  [ "$status" -ne 0 ] || [ -z "$output" ]
  alive "${HOST_PIDS[0]}" # nothing reached it
  run nsbox run --rm --network slirp4netns:allow_host_loopback=true busybox sh -c \
    'nc -w 3 10.0.2.2 28090 </dev/null; grep host.containers.internal /etc/hosts'
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = 127.0.0.1 ] # the host saw a loopback client
  [[ ${lines[1]} == "10.0.2.2"* ]]
}

@test "slirp4netns: -p publishes a TCP port that the host reaches on 127.0.0.1" {
  need_backend slirp4netns
  start_ready --rm --network slirp4netns -p 127.0.0.1:28080:8080 -v "$BIN_DIR:/t:ro" busybox \
    /t/netpeer tcp-peer 8080
  exec 8<>/dev/tcp/127.0.0.1/28080
  read -r peer <&8
  exec 8<&-
  wait_bg_status
  [ "$BG_STATUS" -eq 0 ]
  [[ $peer =~ ^10\.0\.2\.[0-9]+$ ]] # slirp4netns connects from its side of the tap
}

@test "slirp4netns: -p 18080:80 publishes a busybox httpd that the host fetches" {
  need_backend slirp4netns
  [ -x /bin/busybox ] || skip "no busybox on the host to fetch with"
  mkdir -p "$BATS_TEST_TMPDIR/www"
  echo "served from a container" >"$BATS_TEST_TMPDIR/www/index.html"
  chmod -R a+rX "$BATS_TEST_TMPDIR/www"
  start_ready --rm --network slirp4netns -p 18080:80 -v "$BATS_TEST_TMPDIR/www:/www:ro" busybox \
    sh -c 'httpd -p 80 -h /www && echo ready && exec sleep 1000'
  run /bin/busybox wget -qO- http://127.0.0.1:18080/
  [ "$status" -eq 0 ]
  [ "$output" = "served from a container" ]
  kill -TERM "$BG_PID"
  wait_bg_status
}

@test "slirp4netns: -p HOSTPORT:CTRPORT/udp publishes a UDP port" {
  need_backend slirp4netns
  # Without allow_host_loopback, libslirp drops the replies to a loopback client (podman
  # issue 4586); nsbox says so.
  run nsbox run --rm --network slirp4netns -p 28053:53/udp busybox true
  [ "$status" -eq 0 ]
  [[ ${lines[0]} == "nsbox: -p 28053/udp: "*"allow_host_loopback=true" ]]
  start_ready --rm --network slirp4netns:allow_host_loopback=true -p 28053:53/udp -v "$BIN_DIR:/t:ro" busybox \
    /t/netpeer udp-echo 53
  exec 8<>/dev/udp/127.0.0.1/28053
  printf ping >&8
  reply=$(timeout 10 dd bs=512 count=1 status=none <&8)
  exec 8<&-
  wait_bg_status
  [ "$BG_STATUS" -eq 0 ]
  [[ $reply =~ ^echo\ 10\.0\.2\.[0-9]+\ ping$ ]]
}

@test "slirp4netns: a published port in use on the host is one line, 125, and nothing is left" {
  need_backend slirp4netns
  start_host_ready "$NETPEER" tcp-peer 127.0.0.1:28081
  before=$(container_count)
  run_before=$(run_dir_entries)
  slirps=$(live_named slirp4netns)
  run nsbox run --rm --network slirp4netns -p 28081:80 busybox true
  [ "$status" -eq 125 ]
  assert_one_error_line
  [[ $output == *"port 28081/tcp is already in use on the host"* ]]
  [ "$(container_count)" -eq "$before" ]
  [ "$(run_dir_entries)" = "$run_before" ]
  [ "$(live_named slirp4netns)" -eq "$slirps" ]
  # Taken by another container's slirp4netns: the same.
  start_ready --rm --network slirp4netns -p 28082:80 busybox sh -c 'echo ready; sleep 1000'
  run nsbox run --rm --network slirp4netns -p 28082:80 busybox true
  [ "$status" -eq 125 ]
  assert_one_error_line
  kill -TERM "$BG_PID"
  wait_bg_status
}

@test "slirp4netns: it ends with its container, and when nsbox is killed" {
  need_backend slirp4netns
  start_ready --rm --network slirp4netns busybox sh -c 'echo ready; exec sleep 1000'
  slirp=$(child_named "$BG_PID" slirp4netns)
  [ -n "$slirp" ]
  alive "$slirp"
  kill -TERM "$BG_PID" # forwarded: the container ends, nsbox reaps slirp4netns and returns
  wait_bg_status
  [ "$BG_STATUS" -eq 143 ]
  run ! alive "$slirp"

  start_ready --rm --network slirp4netns busybox sh -c 'echo ready; exec sleep 1000'
  slirp=$(child_named "$BG_PID" slirp4netns)
  [ -n "$slirp" ]
  kill -KILL "$BG_PID"
  wait_bg_status
  wait_for eval '! alive '"$slirp"
  nsbox ps -a >/dev/null # finishes the removal of the --rm container
}

@test "pasta: the container gets the host's address and a published TCP port works" {
  need_backend pasta
  dev=$(ip route show default | awk '{ for (i = 1; i < NF; i++) if ($i == "dev") { print $(i + 1); exit } }')
  [ -n "$dev" ] || skip "the host has no default route for pasta to copy"
  host_addr=$(ip -4 -o addr show dev "$dev" | awk '{ print $4; exit }')
  run nsbox run --rm --network pasta busybox ip -4 -o addr
  [ "$status" -eq 0 ]
  [[ $output == *"inet $host_addr"* ]]

  start_ready --rm --network pasta -p 28083:8080 -v "$BIN_DIR:/t:ro" busybox /t/netpeer tcp-peer 8080
  exec 8<>/dev/tcp/127.0.0.1/28083
  read -r peer <&8
  exec 8<&-
  wait_bg_status
  [ "$BG_STATUS" -eq 0 ]
  [ -n "$peer" ]
}

@test "pasta: a port in use is one line and 125; pasta ends when nsbox is killed" {
  need_backend pasta
  start_host_ready "$NETPEER" tcp-peer 127.0.0.1:28084
  run nsbox run --rm --network pasta -p 28084:80 busybox true
  [ "$status" -eq 125 ]
  assert_one_error_line

  start_ready --rm --network pasta busybox sh -c 'echo ready; exec sleep 1000'
  watcher=$(child_named "$BG_PID" "$(basename "$NSBOX")")
  [ -n "$watcher" ]
  pasta=$(ps -o pid= --ppid "$watcher" | tr -d ' ')
  [ -n "$pasta" ]
  alive "$pasta"
  kill -KILL "$BG_PID"
  wait_bg_status
  wait_for eval '! alive '"$pasta"
  run ! alive "$watcher"
  nsbox ps -a >/dev/null
}

@test "tun: a /dev/net/tun the user cannot open is one clear line; the default falls back to none" {
  is_root_mode && skip "root opens /dev/net/tun whatever its mode"
  [ -n "${NSBOX_TEST_TUN0600:-}" ] || skip "no 0600 tun node staged (run through tests/run.sh)"
  command -v slirp4netns >/dev/null || skip "slirp4netns is not installed"
  # The harness's 0600 node over /dev/net/tun, in a mount namespace of this test's own (root
  # of a user namespace: nsbox is rootless there, with a runtime dir of this test's).
  mkdir -m 700 "$BATS_TEST_TMPDIR/rt"
  wrap=(env XDG_RUNTIME_DIR="$BATS_TEST_TMPDIR/rt" unshare -Urm
    sh -c 'mount --bind "$0" /dev/net/tun && exec "$@"' "$NSBOX_TEST_TUN0600")
  run "${wrap[@]}" "$NSBOX" run --rm --network slirp4netns busybox true
  [ "$status" -eq 125 ]
  assert_one_error_line
  [[ $output == *"mode 0600"*"chmod 0666 /dev/net/tun"* ]]
  run "${wrap[@]}" "$NSBOX" run --rm busybox sh -c 'ls /sys/class/net'
  [ "$status" -eq 0 ]
  [[ ${lines[0]} == "nsbox: no network (as with --network none): "*"chmod 0666 /dev/net/tun"* ]]
  [ "${lines[1]}" = lo ]
}
