#!/usr/bin/env bats
# Identity: user namespaces, id mappings in both rootless modes, -u, and the one-line
# diagnosis when the kernel refuses user namespaces.
load helpers


@test "userns: uid_map and gid_map follow the mode" {
  run nsbox run --rm busybox sh -c 'cat /proc/self/uid_map; echo --; cat /proc/self/gid_map'
  [ "$status" -eq 0 ]
  uid=$(id -u)
  gid=$(id -g)
  norm=$(sed 's/  */ /g; s/^ //' <<<"$output")
  if is_root_mode; then
    # Root runs without a user namespace, as docker does.
    [ "$norm" = "$(printf '0 0 4294967295\n--\n0 0 4294967295')" ]
  elif has_subids; then
    me=$(id -un)
    read -r _ ustart ucount < <(grep -E "^($me|$uid):" /etc/subuid | head -1 | tr : ' ')
    read -r _ gstart gcount < <(grep -E "^($me|$uid):" /etc/subgid | head -1 | tr : ' ')
    [ "$norm" = "$(printf '0 %s 1\n1 %s %s\n--\n0 %s 1\n1 %s %s' "$uid" "$ustart" "$ucount" "$gid" "$gstart" "$gcount")" ]
  else
    [ "$norm" = "$(printf '0 %s 1\n--\n0 %s 1' "$uid" "$gid")" ]
  fi
}

@test "userns: the container's root is the invoking user on the host" {
  is_root_mode && skip "root mode runs without a user namespace"
  run nsbox run --rm -v "$BATS_TEST_TMPDIR:/out" busybox sh -c 'id -u; touch /out/made-inside'
  [ "$status" -eq 0 ]
  [ "$output" = 0 ]
  [ "$(stat -c %u "$BATS_TEST_TMPDIR/made-inside")" = "$(id -u)" ]
}

@test "userns: setgroups is denied without a subordinate range" {
  is_root_mode && skip "root mode runs without a user namespace"
  has_subids && skip "this user has a subordinate range (setgroups allowed)"
  run nsbox run --rm busybox cat /proc/self/setgroups
  [ "$status" -eq 0 ]
  [ "$output" = deny ]
}

@test "userns: -u UID:GID runs as that user where it is mapped" {
  if ! is_root_mode && ! has_subids; then
    run nsbox run --rm -u 1000:1000 busybox id -u
    [ "$status" -eq 125 ]
    assert_one_error_line
    [[ $output == *"not mapped"* ]]
    return
  fi
  run nsbox run --rm -u 1000:1000 busybox sh -c 'id -u; id -g; echo $HOME'
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = 1000 ]
  [ "${lines[1]}" = 1000 ]
  [ "${lines[2]}" = / ]
}

@test "userns: -u NAME looks the user up in the container's /etc/passwd" {
  if ! is_root_mode && ! has_subids; then
    skip "without a subordinate range only root is mapped (covered by the test above)"
  fi
  run nsbox run --rm -u nobody busybox sh -c 'id -u; id -g'
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = 65534 ]
  [ "${lines[1]}" = 65534 ]
  run nsbox run --rm -u no-such-user busybox id
  [ "$status" -eq 125 ]
  assert_one_error_line
}

@test "userns: the working directory is checked as the target user" {
  if ! is_root_mode && ! has_subids; then
    skip "without a subordinate range only root is mapped"
  fi
  run nsbox run --rm -u 1000 -w /root busybox pwd
  [ "$status" -eq 125 ]
  assert_one_error_line
}

# A real refusal (a seccomp filter denies CLONE_NEWUSER, as hardened kernels and sandboxes
# do) read together with the sysctl that explains it. The sysctl is shown as 0 through a bind
# mount in a private mount namespace, so the host's own setting is never touched.
@test "userns: a kernel that forbids user namespaces gets a one-line diagnosis" {
  [ "$(id -u)" -eq 0 ] || skip "needs root for the private mount namespace"
  deny="$BATS_TEST_DIRNAME/../out/deny-userns"
  [ -x "$deny" ] || skip "$deny is built by ./build.sh test"
  user=$(awk -F: '$3 >= 1000 && $3 < 60000 { print $1; exit }' /etc/passwd)
  [ -n "$user" ] || skip "no unprivileged user on this machine"
  # A home the user can reach (the test's own tmpdir sits below a root-only dir).
  d=$(mktemp -d /tmp/nsbox-diag.XXXXXX)
  chown "$user" "$d"
  chmod 700 "$d"
  echo 0 >"$BATS_TEST_TMPDIR/zero"
  run unshare -m sh -c 'mount --bind "$1" /proc/sys/user/max_user_namespaces &&
    exec setpriv --reuid="$2" --regid="$2" --clear-groups env -i HOME="$3" XDG_DATA_HOME="$3" \
      XDG_RUNTIME_DIR="$3" PATH=/usr/bin:/bin "$4" "$5" run --rm --network none --rootfs / true' \
    sh "$BATS_TEST_TMPDIR/zero" "$user" "$d" "$deny" "$NSBOX"
  [ "$status" -eq 125 ]
  assert_one_error_line
  [[ $output == *"user.max_user_namespaces=0"* ]]
  [[ $output == *"sysctl -w user.max_user_namespaces="* ]]
  # The same refusal with the knob at its usual value: the plain reason, still one line.
  run unshare -m sh -c 'exec setpriv --reuid="$1" --regid="$1" --clear-groups env -i \
      HOME="$2" XDG_DATA_HOME="$2" XDG_RUNTIME_DIR="$2" PATH=/usr/bin:/bin "$3" "$4" \
      run --rm --network none --rootfs / true' sh "$user" "$d" "$deny" "$NSBOX"
  [ "$status" -eq 125 ]
  assert_one_error_line
  [[ $output == *"user namespace"*"Operation not permitted"* ]]
  rm -rf "$d"
}
