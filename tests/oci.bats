#!/usr/bin/env bats
# nsbox image load/save/inspect: OCI image layouts, oci-archives and docker save archives,
# built here from directories by helpers/mkimage.sh (nothing is downloaded): layers stacked
# with whiteouts, opaque dirs and hard links; the config honoured by run; layers shared and
# collected; corrupt, truncated and hostile images refused.
load helpers

MKIMAGE="$BATS_TEST_DIRNAME/helpers/mkimage.sh"
MKEVIL="$BATS_TEST_DIRNAME/helpers/mkevil.sh"

# Three layer dirs: busybox; a layer deleting /etc/gone (whiteout), making /opq opaque and
# adding /opq/new; a layer with /f1 and /f2, hard links of one file.
setup_file() {
  local l="$BATS_FILE_TMPDIR/layers"
  mkdir -p "$l/base" "$l/mid/etc" "$l/mid/opq" "$l/top" "$l/extra"
  tar -C "$l/base" -xf "$BUSYBOX_TAR"
  mkdir -p "$l/base/opq"
  echo gone >"$l/base/etc/gone"
  echo old >"$l/base/opq/old"
  touch "$l/mid/etc/.wh.gone" "$l/mid/opq/.wh..wh..opq"
  echo new >"$l/mid/opq/new"
  echo data >"$l/top/f1"
  ln "$l/top/f1" "$l/top/f2"
  echo extra >"$l/extra/extra"
  export LAYERS="$l"
}

mkimage() { "$MKIMAGE" "$@" >/dev/null; }

# Unpacked layers in the store, and stored layer blobs.
layer_count() { find "$(store_dir)/images/layers" -mindepth 1 -maxdepth 1 -type d -not -name '.*' | wc -l; }
blob_count() { find "$(store_dir)/images/blobs/sha256" -mindepth 1 -maxdepth 1 | wc -l; }

@test "oci: a three-layer OCI layout: whiteout, opaque dir and hard links" {
  mkimage oci "$BATS_TEST_TMPDIR/img" "$LAYERS/base" "$LAYERS/mid" "$LAYERS/top"
  run nsbox image load "$BATS_TEST_TMPDIR/img" three:v1
  [ "$status" -eq 0 ]
  [ "$output" = "Loaded image: three:v1" ]
  run nsbox run --rm three:v1 sh -c 'test -e /etc/gone && echo present || echo absent'
  [ "$output" = absent ]
  run nsbox run --rm three:v1 ls /opq
  [ "$output" = new ]
  run nsbox run --rm three:v1 stat -c '%h %i' /f1 /f2
  [ "${lines[0]}" = "${lines[1]}" ]
  [[ ${lines[0]} == "2 "* ]]
  nsbox image rm three:v1
}

@test "oci: a two-layer oci-archive with gzip layers, and one from stdin" {
  mkimage oci-archive "$BATS_TEST_TMPDIR/img.tar" --gzip "$LAYERS/base" "$LAYERS/top"
  run nsbox image load "$BATS_TEST_TMPDIR/img.tar" two
  [ "$status" -eq 0 ]
  run nsbox run --rm two cat /f2
  [ "$output" = data ]
  run nsbox image load - two-stdin <"$BATS_TEST_TMPDIR/img.tar"
  [ "$status" -eq 0 ]
  run nsbox run --rm two-stdin cat /f1
  [ "$output" = data ]
  nsbox image rm two two-stdin
}

@test "oci: a docker save archive is loaded under its RepoTags" {
  mkimage docker "$BATS_TEST_TMPDIR/d.tar" --name example.com:5000/ns/dock:v3 \
    "$LAYERS/base" "$LAYERS/mid"
  run nsbox image load "$BATS_TEST_TMPDIR/d.tar"
  [ "$status" -eq 0 ]
  [ "$output" = "Loaded image: example.com:5000/ns/dock:v3" ]
  run nsbox run --rm example.com:5000/ns/dock:v3 sh -c 'ls /opq; test -e /etc/gone || echo gone'
  [ "${lines[0]}" = new ]
  [ "${lines[1]}" = gone ]
  run nsbox image ls
  [[ $output == *"example.com:5000/ns/dock"*v3* ]]
  nsbox image rm example.com:5000/ns/dock:v3
}

@test "oci: the config's entrypoint, cmd, env, workdir and user are honoured" {
  mkimage oci "$BATS_TEST_TMPDIR/img" --entrypoint '["/bin/sh","-c"]' \
    --cmd '["echo default-cmd"]' --env 'GREETING=hello world' --env PATH=/bin:/usr/bin \
    --workdir /srv/app --user 1000:1000 "$LAYERS/base"
  nsbox image load "$BATS_TEST_TMPDIR/img" cfg >/dev/null
  if ! is_root_mode && ! has_subids; then
    # Without a subordinate range uid 1000 has no mapping: one clear line, before anything.
    run nsbox run --rm cfg
    [ "$status" -eq 125 ]
    assert_one_error_line
    [[ $output == *"1000:1000 is not mapped"* ]]
    run nsbox run --rm -u 0 cfg 'echo "$GREETING"; pwd'
    [ "${lines[0]}" = "hello world" ]
    [ "${lines[1]}" = /srv/app ]
    nsbox image rm cfg
    return
  fi
  run nsbox run --rm cfg
  [ "$status" -eq 0 ]
  [ "$output" = default-cmd ]
  # Arguments replace Cmd and go to the entrypoint.
  run nsbox run --rm cfg 'echo "$GREETING"; pwd; id -u; id -g; echo "$PATH"'
  [ "${lines[0]}" = "hello world" ]
  [ "${lines[1]}" = /srv/app ]
  [ "${lines[2]}" = 1000 ]
  [ "${lines[3]}" = 1000 ]
  [ "${lines[4]}" = /bin:/usr/bin ]
  # The command line wins over the image.
  run nsbox run --rm -e GREETING=bye -w /tmp -u 0 cfg 'echo "$GREETING"; pwd; id -u'
  [ "${lines[0]}" = bye ]
  [ "${lines[1]}" = /tmp ]
  [ "${lines[2]}" = 0 ]
  # --entrypoint replaces the entrypoint and drops Cmd; "" clears it.
  run nsbox run --rm -u 0 --entrypoint /bin/echo cfg one two
  [ "$output" = "one two" ]
  run nsbox run --rm -u 0 --entrypoint "" cfg /bin/echo three
  [ "$output" = three ]
  nsbox image rm cfg
}

@test "oci: an image without a command needs one on the command line" {
  mkimage oci "$BATS_TEST_TMPDIR/img" --entrypoint '[]' --cmd '[]' "$LAYERS/base"
  nsbox image load "$BATS_TEST_TMPDIR/img" nocmd >/dev/null
  run nsbox run --rm nocmd
  [ "$status" -eq 125 ]
  assert_one_error_line
  [[ $output == *"no command"* ]]
  run nsbox run --rm nocmd echo given
  [ "$output" = given ]
  nsbox image rm nocmd
}

@test "oci: StopSignal is what nsbox stop sends" {
  mkimage oci "$BATS_TEST_TMPDIR/img" --stop-signal SIGUSR1 "$LAYERS/base"
  nsbox image load "$BATS_TEST_TMPDIR/img" stopsig >/dev/null
  # The command exits 42 on USR1 only; TERM would end it with 143.
  id=$(nsbox run -d --no-init stopsig sh -c 'trap "exit 42" USR1; echo up; while :; do sleep 1; done')
  wait_for sh -c "'$NSBOX' ${NSBOX_TEST_ROOT:+--root '$NSBOX_TEST_ROOT'} logs $id | grep -q up"
  run nsbox inspect "$id"
  [[ $output == *'"StopSignal": "USR1"'* || $output == *'"StopSignal": "SIGUSR1"'* ]]
  nsbox stop -t 20 "$id"
  run nsbox wait "$id"
  [ "$output" = 42 ]
  nsbox rm "$id" >/dev/null
  nsbox image rm stopsig
}

@test "oci: image inspect shows the config, ls the name, tag, id, age and size" {
  mkimage oci "$BATS_TEST_TMPDIR/img" --entrypoint '["/bin/sh"]' --cmd '["-c","true"]' \
    --env A=1 --workdir /w --user 7 --expose 80/tcp --expose 53/udp --stop-signal SIGINT \
    --label org.example.k=v --label other=x --created 2023-05-06T07:08:09Z "$LAYERS/base"
  nsbox image load "$BATS_TEST_TMPDIR/img" insp:1 >/dev/null
  run nsbox image inspect insp:1
  [ "$status" -eq 0 ]
  [[ $output == *'"RepoTags": ['*'"insp:1"'* ]]
  [[ $output == *'"Entrypoint": ['*'"/bin/sh"'* ]]
  [[ $output == *'"Cmd": ['*'"-c",'*'"true"'* ]]
  [[ $output == *'"A=1"'* ]]
  [[ $output == *'"WorkingDir": "/w"'* ]]
  [[ $output == *'"User": "7"'* ]]
  [[ $output == *'"80/tcp": {}'* && $output == *'"53/udp": {}'* ]]
  [[ $output == *'"StopSignal": "SIGINT"'* ]]
  [[ $output == *'"org.example.k": "v"'* && $output == *'"other": "x"'* ]]
  [[ $output == *'"Created": "2023-05-06T07:08:09Z"'* ]]
  id=$(nsbox image inspect insp:1 | sed -n 's/.*"Id": "\([0-9a-f]*\)".*/\1/p')
  [ ${#id} -eq 64 ]
  run nsbox image ls
  line=$(grep '^insp ' <<<"$output")
  [[ $line =~ ^insp\ +1\ +${id:0:12}\ +[0-9]+\ years?\ ago\ +[0-9.]+MB$ ]]
  # An id prefix names the image too.
  run nsbox image inspect "${id:0:12}"
  [[ $output == *"\"Id\": \"$id\""* ]]
  nsbox image rm insp:1
}

@test "oci: two images with a common base store it once; rm keeps what the other uses" {
  local before
  before=$(layer_count)
  mkimage oci "$BATS_TEST_TMPDIR/a" "$LAYERS/base" "$LAYERS/top"
  mkimage oci "$BATS_TEST_TMPDIR/b" "$LAYERS/base" "$LAYERS/extra"
  nsbox image load "$BATS_TEST_TMPDIR/a" share-a >/dev/null
  [ "$(layer_count)" -eq $((before + 2)) ]
  nsbox image load "$BATS_TEST_TMPDIR/b" share-b >/dev/null
  [ "$(layer_count)" -eq $((before + 3)) ]
  nsbox image rm share-a
  [ "$(layer_count)" -eq $((before + 2)) ]
  run nsbox run --rm share-b cat /extra
  [ "$output" = extra ]
  nsbox image rm share-b
  [ "$(layer_count)" -eq "$before" ]
  [ "$(tmp_dirs)" -eq 0 ]
}

@test "oci: a layer whose digest does not match is refused, and nothing is kept" {
  local layers blobs
  layers=$(layer_count)
  blobs=$(blob_count)
  mkimage oci "$BATS_TEST_TMPDIR/img" --corrupt-layer 2 "$LAYERS/base" "$LAYERS/top"
  run nsbox image load "$BATS_TEST_TMPDIR/img" corrupt
  [ "$status" -eq 125 ]
  assert_one_error_line
  [[ $output == *"does not match its digest"* ]]
  run nsbox image ls
  [[ $output != *corrupt* ]]
  [ "$(layer_count)" -eq "$layers" ]
  [ "$(blob_count)" -eq "$blobs" ]
  [ "$(tmp_dirs)" -eq 0 ]
}

@test "oci: a corrupt layer of a docker archive is refused by its diff_id" {
  mkimage docker "$BATS_TEST_TMPDIR/d.tar" --name corrupt-d --corrupt-layer 1 "$LAYERS/top"
  run nsbox image load "$BATS_TEST_TMPDIR/d.tar"
  [ "$status" -eq 125 ]
  assert_one_error_line
  [[ $output == *"diff_id"* ]]
  run nsbox image ls
  [[ $output != *corrupt-d* ]]
}

@test "oci: a truncated archive is refused" {
  local full
  mkimage oci-archive "$BATS_TEST_TMPDIR/full.tar" "$LAYERS/base" "$LAYERS/top"
  full=$(stat -c %s "$BATS_TEST_TMPDIR/full.tar")
  mkimage oci-archive "$BATS_TEST_TMPDIR/cut.tar" --truncate $((full / 2)) "$LAYERS/base" "$LAYERS/top"
  run nsbox image load "$BATS_TEST_TMPDIR/cut.tar" cut
  [ "$status" -eq 125 ]
  assert_one_error_line
  run nsbox image ls
  [[ $output != *cut* ]]
  [ "$(tmp_dirs)" -eq 0 ]
}

@test "oci: layers with ../ names, absolute names, or writes through a symlink are refused" {
  local kind
  for kind in dotdot dotdot-mid abs symlink-out hardlink-out; do
    "$MKEVIL" "$BATS_TEST_TMPDIR/$kind.tar" "$kind"
    mkimage oci "$BATS_TEST_TMPDIR/$kind" "$LAYERS/base" --raw-layer "$BATS_TEST_TMPDIR/$kind.tar"
    run nsbox image load "$BATS_TEST_TMPDIR/$kind" "evil-$kind"
    echo "$kind: $output"
    [ "$status" -eq 125 ]
    assert_one_error_line
    [ ! -e "$BATS_TEST_TMPDIR/escaped" ]
    [ ! -e "$BATS_TEST_TMPDIR/$kind/escaped" ]
    [ ! -e /tmp/escaped ] || [ "$(stat -c %U /tmp/escaped)" != "$(id -un)" ]
    run nsbox image ls
    [[ $output != *evil-* ]]
  done
  [ "$(tmp_dirs)" -eq 0 ]
}

@test "oci: overlay xattrs carried in a layer are not applied" {
  is_root_mode || skip "setting trusted.* xattrs in a test layer needs root"
  command -v setfattr >/dev/null || skip "setfattr is not installed (apt-get install attr)"
  mkdir -p "$BATS_TEST_TMPDIR/x/d"
  echo hidden >"$BATS_TEST_TMPDIR/x/d/f"
  setfattr -n trusted.overlay.opaque -v y "$BATS_TEST_TMPDIR/x/d"
  tar --xattrs --xattrs-include='trusted.*' -C "$BATS_TEST_TMPDIR/x" -cf "$BATS_TEST_TMPDIR/x.tar" .
  mkdir -p "$BATS_TEST_TMPDIR/lower/d"
  echo lower >"$BATS_TEST_TMPDIR/lower/d/low"
  mkimage oci "$BATS_TEST_TMPDIR/img" "$LAYERS/base" "$BATS_TEST_TMPDIR/lower" \
    --raw-layer "$BATS_TEST_TMPDIR/x.tar"
  nsbox image load "$BATS_TEST_TMPDIR/img" xattr-test >/dev/null
  run nsbox run --rm xattr-test ls /d
  [ "${lines[0]}" = f ]
  [ "${lines[1]}" = low ]
  nsbox image rm xattr-test
}

@test "oci: image rm refuses an image a container uses" {
  mkimage oci "$BATS_TEST_TMPDIR/img" "$LAYERS/base"
  nsbox image load "$BATS_TEST_TMPDIR/img" used >/dev/null
  id=$(nsbox run -d used sleep 1000)
  run nsbox image rm used
  [ "$status" -eq 125 ]
  assert_one_error_line
  [[ $output == *"in use by container"* ]]
  nsbox rm -f "$id" >/dev/null
  run nsbox image rm used
  [ "$status" -eq 0 ]
}

@test "oci: concurrent loads of one image end consistent" {
  local before i
  before=$(layer_count)
  mkimage oci-archive "$BATS_TEST_TMPDIR/img.tar" "$LAYERS/base" "$LAYERS/mid" "$LAYERS/top"
  pids=()
  for i in 1 2 3 4; do
    nsbox image load "$BATS_TEST_TMPDIR/img.tar" "conc:$i" >"$BATS_TEST_TMPDIR/out.$i" 2>&1 &
    pids+=($!)
  done
  for i in 0 1 2 3; do wait "${pids[$i]}"; done
  [ "$(layer_count)" -eq $((before + 3)) ]
  for i in 1 2 3 4; do
    run nsbox run --rm "conc:$i" sh -c 'cat /f1; ls /opq'
    [ "${lines[0]}" = data ]
    [ "${lines[1]}" = new ]
  done
  nsbox image rm conc:1 conc:2 conc:3 conc:4
  [ "$(layer_count)" -eq "$before" ]
  [ "$(tmp_dirs)" -eq 0 ]
}

@test "oci: an image of 150 layers runs (lowerdirs beyond one page of mount options)" {
  local args=() i
  for i in $(seq 1 149); do
    mkdir -p "$BATS_TEST_TMPDIR/l/$i"
    echo "$i" >"$BATS_TEST_TMPDIR/l/$i/layer-$i"
    args+=("$BATS_TEST_TMPDIR/l/$i")
  done
  mkimage oci "$BATS_TEST_TMPDIR/img" "$LAYERS/base" "${args[@]}"
  nsbox image load "$BATS_TEST_TMPDIR/img" many >/dev/null
  run nsbox run --rm many sh -c 'cat /layer-1 /layer-149; ls / | grep -c "^layer-"'
  [ "${lines[0]}" = 1 ]
  [ "${lines[1]}" = 149 ]
  [ "${lines[2]}" = 149 ]
  nsbox image rm many
}

@test "oci: a layout naming its image only by a tag needs a name" {
  mkimage oci "$BATS_TEST_TMPDIR/img" --ref-name latest "$LAYERS/base"
  run nsbox image load "$BATS_TEST_TMPDIR/img"
  [ "$status" -eq 125 ]
  assert_one_error_line
  [[ $output == *'only its tag: "latest"'* ]]
  mkimage oci "$BATS_TEST_TMPDIR/named" --ref-name example.org/named:2 "$LAYERS/base"
  run nsbox image load "$BATS_TEST_TMPDIR/named"
  [ "$output" = "Loaded image: example.org/named:2" ]
  nsbox image rm example.org/named:2
}

@test "oci: save writes an oci-archive nsbox loads back with the same id" {
  mkimage oci "$BATS_TEST_TMPDIR/img" --cmd '["echo","saved"]' "$LAYERS/base" "$LAYERS/top"
  nsbox image load "$BATS_TEST_TMPDIR/img" tosave:1 >/dev/null
  id=$(nsbox image inspect tosave:1 | sed -n 's/.*"Id": "\([0-9a-f]*\)".*/\1/p')
  run nsbox image save tosave:1 "$BATS_TEST_TMPDIR/saved.tar"
  [ "$status" -eq 0 ]
  tar -tf "$BATS_TEST_TMPDIR/saved.tar" | grep -qx oci-layout
  tar -tf "$BATS_TEST_TMPDIR/saved.tar" | grep -qx index.json
  nsbox image rm tosave:1
  run nsbox image load "$BATS_TEST_TMPDIR/saved.tar"
  [ "$output" = "Loaded image: tosave:1" ]
  run nsbox image inspect tosave:1
  [[ $output == *"\"Id\": \"$id\""* ]]
  run nsbox run --rm tosave:1
  [ "$output" = saved ]
  nsbox image rm tosave:1
}

@test "oci: skopeo inspects and podman loads what image save writes" {
  command -v skopeo >/dev/null || skip "skopeo is not installed (apt-get install skopeo)"
  mkimage oci "$BATS_TEST_TMPDIR/img" --env K=V "$LAYERS/base" "$LAYERS/top"
  nsbox image load "$BATS_TEST_TMPDIR/img" peer:1 >/dev/null
  nsbox image save peer:1 "$BATS_TEST_TMPDIR/peer.tar"
  nsbox image rm peer:1
  run skopeo inspect "oci-archive:$BATS_TEST_TMPDIR/peer.tar"
  [ "$status" -eq 0 ]
  [[ $output == *'"K=V"'* ]]
  # skopeo copy checks every blob against its digest.
  run skopeo copy "oci-archive:$BATS_TEST_TMPDIR/peer.tar" "dir:$BATS_TEST_TMPDIR/copied"
  [ "$status" -eq 0 ]
  is_root_mode || skip "podman load is tested as root only (rootless podman needs its own setup)"
  command -v podman >/dev/null || skip "podman is not installed (apt-get install podman)"
  local pstore="$BATS_TEST_TMPDIR/podman"
  run podman --root "$pstore/root" --runroot "$pstore/run" --storage-driver vfs load \
    -i "$BATS_TEST_TMPDIR/peer.tar"
  [ "$status" -eq 0 ]
  [[ $output == *"Loaded image: localhost/peer:1"* ]]
  podman --root "$pstore/root" --runroot "$pstore/run" --storage-driver vfs rmi -a >/dev/null
}

@test "oci: progress goes to a terminal, never to a pipe" {
  command -v script >/dev/null || skip "script is not installed (apt-get install bsdutils)"
  mkimage oci "$BATS_TEST_TMPDIR/img" "$LAYERS/base" "$LAYERS/top"
  run nsbox image load "$BATS_TEST_TMPDIR/img" quiet
  [ "$output" = "Loaded image: quiet:latest" ]
  nsbox image rm quiet
  run script -qec "$NSBOX ${NSBOX_TEST_ROOT:+--root $NSBOX_TEST_ROOT} image load $BATS_TEST_TMPDIR/img loud" /dev/null
  [ "$status" -eq 0 ]
  [[ $output == *"layer 1/2"*MB* ]]
  [[ $output == *"layer 2/2"*MB* ]]
  nsbox image rm loud
}

@test "oci: -P publishes the ports the image exposes, on free host ports" {
  mkimage oci "$BATS_TEST_TMPDIR/img" --expose 80/tcp --expose 53/udp "$LAYERS/base"
  nsbox image load "$BATS_TEST_TMPDIR/img" exposer >/dev/null
  id=$(nsbox run -d -P exposer sleep 1000)
  run nsbox ps
  [[ $output =~ :([1-9][0-9]*)-\>80/tcp ]]
  [[ $output =~ :([1-9][0-9]*)-\>53/udp ]]
  nsbox rm -f "$id" >/dev/null
  # A port given with -p is not published twice.
  id=$(nsbox run -d -P -p 127.0.0.1:18080:80 exposer sleep 1000)
  run nsbox ps
  [[ $output == *"127.0.0.1:18080->80/tcp"* ]]
  [ "$(grep -o -- '->80/tcp' <<<"$output" | wc -l)" -eq 1 ]
  nsbox rm -f "$id" >/dev/null
  nsbox image rm exposer
}
