#!/usr/bin/env bats
# The benchmark report (bench/run.sh): that a quick session runs end to end and writes a
# report and a summary with numbers in them, and that setting every environment up and
# tearing it down leaves the host as it was. Never how fast anything is.

load helpers

setup() {
  is_root_mode || skip "bench/run.sh runs once, from the root suite (it drops to a user of its own)"
  [ -n "${NSBOX_TEST_DEBIAN:-}" ] && [ -f "$NSBOX_TEST_DEBIAN" ] ||
    skip "no Debian image (./build.sh test makes out/debian.tar with images/debian/build.sh)"
  BENCH=$BATS_TEST_DIRNAME/../bench/run.sh
}

@test "bench: a quick run of nsbox and the host writes the report, plots and a summary with numbers" {
  local r=$BATS_TEST_TMPDIR/results
  run "$BENCH" --quick --only nsbox,host --image "$NSBOX_TEST_DEBIAN" --results "$r" \
    --report "$r/REPORT.md"
  [ "$status" -eq 0 ] || { echo "$output"; return 1; }
  # Every workload has a median for the host and each nsbox row, from three repetitions.
  local e wl
  for e in host nsbox-rl nsbox-dir nsbox-root; do
    for wl in cpu memory threads fileio-root fileio-bind; do
      jq -e --arg e "$e" --arg w "$wl" '.results | map(select(.env == $e and .workload == $w)) | first
        | (.median | type == "number" and . > 0) and (.values | length == 3)' "$r/summary.json" ||
        { echo "no median for $wl in $e"; jq . "$r/summary.json"; return 1; }
    done
  done
  jq -e '.results | map(select(.workload == "fileio-rm" and .env == "nsbox-rl")) | first | .median > 0' \
    "$r/summary.json"
  # The paired ratio to the host exists for the container rows.
  jq -e '.results | map(select(.env == "nsbox-rl" and .workload == "cpu")) | first | .paired > 0' "$r/summary.json"
  # Start-up (one hyperfine run with the floor) and the two folded-in scripts.
  jq -e '[.startup.environments[] | select(.command == "floor" or .command == "nsbox-rl") | .median > 0]
    | length == 2 and all' "$r/summary.json"
  jq -e '.startup.rootless.rootless | map(select(.command == "nsbox")) | first | .median > 0' "$r/summary.json"
  jq -e '.network.backends | to_entries | map(.value.nsbox | length) | add > 0' "$r/summary.json"
  # The report: tables with numbers for each workload, the plots it links, what each sees.
  grep -E '^\| cpu \| [0-9.]+ events/s \| [0-9.]+ events/s \(' "$r/REPORT.md"
  grep -E '^\| fileio-bind \| [0-9.]+ ops/s' "$r/REPORT.md"
  grep -E '^\| nsbox rootless \| [0-9.]+ ms \|' "$r/REPORT.md"
  local png
  for png in sysbench startup network; do
    grep -F "($(basename "$r")/$png.png)" "$r/REPORT.md" || grep -F "(./$png.png)" "$r/REPORT.md"
    [ "$(head -c 8 "$r/$png.png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ]
  done
  grep -F '<summary>nsbox rootless</summary>' "$r/REPORT.md"
  grep -E '^\$ ip route' "$r/raw/nsbox-rl/info.txt"
  # The container's own listing: nsbox-init as PID 1, nothing of the host.
  grep -E '^root +1 +0 .*nsbox-init' "$r/raw/nsbox-rl/info.txt"
  ! grep -q process_api "$r/raw/nsbox-rl/info.txt"
  # Raw outputs of every run are kept.
  [ "$(ls "$r"/raw/host/cpu.*.txt | wc -l)" -eq 3 ]
}

# What a benchmark could leave on the host: users and id ranges, daemons, mounts, links,
# cgroups, run and state dirs, lock files, forwarding. Listed before and after.
host_state() {
  echo "== users"
  cut -d: -f1 /etc/passwd | sort
  cut -d: -f1 /etc/group | sort
  sort /etc/subuid /etc/subgid
  echo "== mounts"
  awk '{ print $5, $9 }' /proc/self/mountinfo | sort
  echo "== links"
  ip -o link | awk -F': ' '{ print $2 }' | sort
  echo "== cgroups"
  find /sys/fs/cgroup -mindepth 1 -maxdepth 4 -type d 2>/dev/null | sort
  echo "== dirs"
  ls -a /run /var/run /dev/shm /var/lib /tmp /var/tmp /etc 2>/dev/null
  echo "== sysctl"
  cat /proc/sys/net/ipv4/ip_forward
  echo "== services"
  ls -a /usr/sbin/policy-rc.d /etc/docker /etc/lxc /var/lib/docker /var/lib/lxc /var/lib/containerd 2>&1 | sort
}
# Processes that are not the kernel's and were not there before: by pid, leaving out this
# test's own (ps and awk, the bats shells that run them).
new_processes() {
  ps -e -o pid=,ppid=,args= | awk -v before=" $1 " '
    $2 != 2 && $1 != 2 && index(before, " " $1 " ") == 0 && $3 != "ps" && $3 != "awk" &&
    $0 !~ /bats-exec-test/ { print }'
}

@test "bench: setting every environment up and tearing it down leaves the host as it was" {
  command -v dockerd >/dev/null || skip "docker.io is not installed (./build.sh test installs it)"
  command -v lxc-execute >/dev/null || skip "lxc is not installed (./build.sh test installs it)"
  local before pids r=$BATS_TEST_TMPDIR/results
  before=$(host_state)
  pids=$(ps -e -o pid= | tr '\n' ' ')
  run "$BENCH" --quick --setup-only --image "$NSBOX_TEST_DEBIAN" --results "$r" --report "$r/REPORT.md"
  [ "$status" -eq 0 ] || { echo "$output"; return 1; }
  # Each environment was really set up and ran a container: its listing is there.
  local e
  for e in host nsbox-rl nsbox-dir nsbox-root docker lxc; do
    grep -E '^\$ ip route' "$r/raw/$e/info.txt" || { echo "no listing from $e: $output"; return 1; }
  done
  grep -E '^root +1 +0 .*(docker|sh -c)' "$r/raw/docker/info.txt"
  # podman runs where rootless podman can; else the report names why it is missing.
  [ -f "$r/raw/podman/info.txt" ] || jq -e '.skipped | map(select(.env == "podman")) | first | .why | length > 0' \
    "$r/summary.json"
  diff <(echo "$before") <(host_state)
  local left
  left=$(new_processes "$pids")
  [ -z "$left" ] || { echo "processes left: $left"; return 1; }
}
