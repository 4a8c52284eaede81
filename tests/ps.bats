#!/usr/bin/env bats
# nsbox ps and nsbox rm.
load helpers

@test "ps: lists a running container, ps -a an exited one, -q only ids" {
  start_ready --name ps-running busybox sh -c 'echo ready; sleep 1000 & wait'
  run nsbox ps
  [ "$status" -eq 0 ]
  [[ ${lines[0]} == "CONTAINER ID"* ]]
  [[ $output == *ps-running*busybox*Up* ]]
  run nsbox ps -q
  [[ ${lines[0]} =~ ^[0-9a-f]{12}$ ]]
  run nsbox rm ps-running
  [ "$status" -eq 125 ]
  assert_one_error_line
  kill -TERM "$BG_PID"
  wait_bg_status
  run nsbox ps
  [[ $output != *ps-running* ]]
  run nsbox ps -a
  [[ $output == *ps-running*Exited\ \(143\)* ]]
  run nsbox rm ps-running
  [ "$status" -eq 0 ]
}

@test "ps: a container whose nsbox was SIGKILLed is not reported as running" {
  start_ready --name ps-killed busybox sh -c 'echo ready; sleep 1000 & wait'
  kill -KILL "$BG_PID"
  wait_bg_status
  # The container dies with its nsbox (parent-death signal); ps must not say "Up".
  wait_for sh -c "! '$NSBOX' ${NSBOX_TEST_ROOT:+--root '$NSBOX_TEST_ROOT'} ps | grep -q ps-killed"
  run nsbox ps -a
  [[ $output == *ps-killed* ]]
  [[ $output != *ps-killed*Up* ]]
  run nsbox rm ps-killed
  [ "$status" -eq 0 ]
}

@test "rm -f removes a running container" {
  start_ready --name rm-force busybox sh -c 'echo ready; sleep 1000 & wait'
  run nsbox rm -f rm-force
  echo "$output"
  [ "$status" -eq 0 ]
  wait_bg_status
  [ "$BG_STATUS" -eq 137 ]
  run nsbox ps -a
  [[ $output != *rm-force* ]]
}

@test "rm: files written by other users inside are removed too" {
  if ! is_root_mode && ! has_subids; then
    skip "without a subordinate range every file inside belongs to the user anyway"
  fi
  nsbox run --name rm-subuid busybox sh -c 'mkdir -p /d/e && echo x > /d/e/f && chown -R 1000:1000 /d && chmod 500 /d/e'
  run nsbox rm rm-subuid
  [ "$status" -eq 0 ]
  [ "$(container_count)" -eq 0 ] || [ ! -e "$(store_dir)/containers/.names/rm-subuid" ]
}

@test "ps: a --rm container whose nsbox was SIGKILLed is removed by the next ps" {
  before=$(container_count)
  start_ready --rm --name rm-killed busybox sh -c 'echo ready; sleep 1000 & wait'
  kill -KILL "$BG_PID"
  wait_bg_status
  # The container dies with its nsbox (parent-death signal); ps then finishes the --rm.
  wait_for sh -c "! '$NSBOX' ${NSBOX_TEST_ROOT:+--root '$NSBOX_TEST_ROOT'} ps -a | grep -q rm-killed"
  [ "$(container_count)" -eq "$before" ]
  [ -z "$(run_dir_entries)" ]
  [ ! -e "$(store_dir)/containers/.names/rm-killed" ]
}

@test "ps: PORTS shows the published ports; --format json lists the same containers" {
  command -v slirp4netns >/dev/null || skip "slirp4netns is not installed"
  if ! is_root_mode && ! [ -r /dev/net/tun -a -w /dev/net/tun ]; then
    skip "/dev/net/tun is not usable by $(id -un) (tests/run.sh provides a 0666 node)"
  fi
  port=$((20000 + RANDOM % 10000))
  id=$(nsbox run -d --name ps-ports --network slirp4netns -p "127.0.0.1:$port:80" busybox sleep 1000)
  run nsbox ps
  [[ $output == *ps-ports*"127.0.0.1:$port->80/tcp"* ]]
  run nsbox ps --format json
  [ "$status" -eq 0 ]
  [[ $output == "["* ]]
  [[ $output == *"\"Id\": \"$id\""* ]]
  [[ $output == *'"State": "running"'* ]]
  [[ $output == *"\"host_port\": $port"* ]]
  run nsbox ps --format yaml
  [ "$status" -eq 125 ]
  assert_one_error_line
  nsbox rm -f ps-ports
}
