#!/usr/bin/env bash
# ./build.sh demo: imports the busybox image into the invoking user's store (so that
# `out/nsbox run busybox ...` works right after) and runs a container; when the invoker is root,
# it also shows a rootless run as an unprivileged user.
set -euo pipefail
cd "$(dirname "$0")/.."
NSBOX=$PWD/out/nsbox
TAR=$PWD/out/busybox.tar

demo_as_me() {
  "$NSBOX" image import "$TAR" busybox >/dev/null
  echo "+ nsbox run --rm busybox sh -c 'echo hello; ps; id; hostname; cat /proc/self/uid_map'"
  "$NSBOX" run --rm busybox sh -c 'echo hello; ps; id; hostname; cat /proc/self/uid_map'
}

if [ "$(id -u)" -ne 0 ]; then
  echo "== rootless, as $(id -un)"
  demo_as_me
  echo
  echo "Now try: out/nsbox run busybox sh -c 'echo hello; ps'"
  exit 0
fi

# A web server in a container, published on the host's port 18080 and fetched from the host.
demo_web() {
  local www pid i
  www=$(mktemp -d /tmp/nsbox-demo-www.XXXXXX)
  echo "hello from a container's web server" >"$www/index.html"
  chmod -R a+rX "$www"
  echo "+ nsbox run --rm -p 18080:80 -v $www:/www:ro busybox httpd -f -p 80 -h /www &"
  "$NSBOX" run --rm -p 18080:80 -v "$www:/www:ro" busybox httpd -f -p 80 -h /www &
  pid=$!
  echo "+ busybox wget -qO- http://127.0.0.1:18080/"
  for i in $(seq 50); do
    busybox wget -qO- http://127.0.0.1:18080/ 2>/dev/null && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -rf "$www"
}

echo "== as root (no user namespace, as docker runs; bridge network)"
demo_as_me
demo_web

# The rootless run: an unprivileged user of this machine, or one made for the demo.
user=${NSBOX_DEMO_USER:-nsbox-demo}
if ! id "$user" >/dev/null 2>&1; then
  useradd --create-home --shell /bin/bash "$user"
fi
stage=$(mktemp -d /tmp/nsbox-demo.XXXXXX)
trap 'rm -rf "$stage"' EXIT
cp "$NSBOX" "$TAR" "$stage/"
chmod 755 "$stage"
chmod 644 "$stage/busybox.tar"
echo
echo "== rootless, as $user (uid $(id -u "$user"))"
setpriv --reuid="$user" --regid="$user" --init-groups --reset-env \
  env HOME="$(getent passwd "$user" | cut -d: -f6)" PATH=/usr/bin:/bin \
  sh -c 'cd "$1" && ./nsbox image import busybox.tar busybox >/dev/null &&
    echo "+ nsbox run --rm busybox sh -c '"'"'echo hello; ps; id; cat /proc/self/uid_map'"'"'" &&
    ./nsbox run --rm busybox sh -c "echo hello; ps; id; cat /proc/self/uid_map" &&
    ./nsbox image rm busybox >/dev/null' sh "$stage"
echo
echo "Now try: out/nsbox run busybox sh -c 'echo hello; ps'"
