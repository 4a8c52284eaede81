#!/bin/bash
# Builds test container images from plain directories, as an OCI layout, an OCI archive or a
# `docker save` tarball, so the image tests need no registry, no network and no python.
# Output is reproducible: the same dirs and options give the same digests on every run.
#
# Usage: mkimage.sh FORMAT OUT [OPTIONS] LAYER...
#   FORMAT   oci (OUT is a directory), oci-archive (OUT is a tar of that layout),
#            docker (OUT is a `docker save` tar)
#   LAYER    a directory, bottom layer first; --raw-layer FILE puts a prebuilt tar in its place
# Options (anywhere after OUT):
#   --name NAME[:TAG]     RepoTags (docker); ref.name annotation = TAG (oci), TAG defaults to latest
#   --ref-name REF        ref.name verbatim instead of TAG (podman save writes the full name)
#   --gzip                gzip -n the OCI layer blobs (docker save layers are always plain tars)
#   --keep-owner          keep the files' uid/gid instead of forcing 0:0
#   --raw-layer FILE      an uncompressed tar used as the next layer byte for byte
#   --entrypoint JSON     --cmd JSON   raw JSON, inserted verbatim
#   --env K=V  --label K=V  --expose PORT/PROTO   repeatable
#   --workdir DIR  --user USER  --stop-signal SIG  --created RFC3339  --arch ARCH  --os OS
#   --corrupt-layer N     change layer blob N (1-based) after its digest is recorded
#   --truncate BYTES      cut the archive to BYTES, or drop -BYTES from its end (archive formats;
#                         the last few KiB are tar padding that readers skip)
set -euo pipefail

# Byte order for --sort=name and the globs, whatever the caller's locale.
export LC_ALL=C

PROG=${0##*/}
die() {
	printf '%s: %s\n' "$PROG" "$*" >&2
	exit 2
}

# ---- JSON -----------------------------------------------------------------------------------

# A JSON string literal for $1. Env values and labels come from tests that probe quoting, so
# every control character is escaped, not just the common ones.
json_str() {
	local s=$1 code ch
	s=${s//\\/\\\\}
	s=${s//\"/\\\"}
	s=${s//$'\n'/\\n}
	s=${s//$'\t'/\\t}
	s=${s//$'\r'/\\r}
	for ((code = 1; code < 32; code++)); do
		printf -v ch %b "\\0$(printf %03o "$code")"
		[[ $s == *"$ch"* ]] || continue
		s=${s//"$ch"/$(printf '\\u%04x' "$code")}
	done
	printf '"%s"' "$s"
}

# A JSON array of strings from the arguments.
json_str_array() {
	local out="" v
	for v in "$@"; do out+="${out:+,}$(json_str "$v")"; done
	printf '[%s]' "$out"
}

# ---- blobs ----------------------------------------------------------------------------------

# sha256 hex of a file.
sha256_of() {
	local sum
	sum=$(sha256sum "$1")
	printf '%s' "${sum%% *}"
}

# Moves file $1 into the blob store $2/blobs/sha256 under its own digest and prints
# "sha256:HEX SIZE", the two halves of a descriptor.
blob_put() {
	local file=$1 layout=$2 hex size
	hex=$(sha256_of "$file")
	size=$(stat -c %s "$file")
	mkdir -p "$layout/blobs/sha256"
	mv -f "$file" "$layout/blobs/sha256/$hex"
	printf 'sha256:%s %s' "$hex" "$size"
}

# Writes the string $1 to a blob and prints its descriptor halves like blob_put.
blob_put_string() {
	printf '%s' "$1" >"$WORK/json.tmp"
	blob_put "$WORK/json.tmp" "$2"
}

# ---- layers ---------------------------------------------------------------------------------

# Tars directory $1 to file $2. Sorted names and a zero mtime make the digest depend only on
# the content; owners are forced to 0:0 unless the test is about ownership.
layer_from_dir() {
	local dir=$1 out=$2
	local -a own=(--owner=0 --group=0)
	[[ -d $dir ]] || die "layer $dir is not a directory"
	((KEEP_OWNER)) && own=()
	tar --sort=name --numeric-owner --mtime=@0 "${own[@]}" -C "$dir" -cf "$out" .
}

# Builds every layer into $WORK/layer.N.tar (uncompressed) and fills DIFF_IDS.
build_layers() {
	local i spec
	DIFF_IDS=()
	for ((i = 0; i < ${#LAYERS[@]}; i++)); do
		spec=${LAYERS[i]}
		case $spec in
		dir:*) layer_from_dir "${spec#dir:}" "$WORK/layer.$i.tar" ;;
		raw:*)
			[[ -f ${spec#raw:} ]] || die "raw layer ${spec#raw:} is not a file"
			cp "${spec#raw:}" "$WORK/layer.$i.tar"
			;;
		esac
		DIFF_IDS+=("sha256:$(sha256_of "$WORK/layer.$i.tar")")
	done
}

# ---- image config ---------------------------------------------------------------------------

# Maps the kernel's machine name to the Go/OCI architecture name, so the image matches the
# host unless --arch says otherwise.
host_arch() {
	local m
	m=$(uname -m)
	case $m in
	x86_64) echo amd64 ;;
	aarch64) echo arm64 ;;
	armv7l | armv6l) echo arm ;;
	i?86) echo 386 ;;
	*) echo "$m" ;;
	esac
}

# The "config" object: only the keys a caller asked for, so a test of a default sees the key
# missing, as in an image built without that Dockerfile instruction.
runtime_config_json() {
	local -a fields=()
	local kv obj
	[[ -n ${ENTRYPOINT+x} ]] && fields+=("\"Entrypoint\":$ENTRYPOINT")
	[[ -n ${CMD+x} ]] && fields+=("\"Cmd\":$CMD")
	((${#ENVS[@]})) && fields+=("\"Env\":$(json_str_array "${ENVS[@]}")")
	[[ -n ${WORKDIR+x} ]] && fields+=("\"WorkingDir\":$(json_str "$WORKDIR")")
	[[ -n ${USER_SPEC+x} ]] && fields+=("\"User\":$(json_str "$USER_SPEC")")
	if ((${#EXPOSES[@]})); then
		obj=""
		for kv in "${EXPOSES[@]}"; do obj+="${obj:+,}$(json_str "$kv"):{}"; done
		fields+=("\"ExposedPorts\":{$obj}")
	fi
	[[ -n ${STOP_SIGNAL+x} ]] && fields+=("\"StopSignal\":$(json_str "$STOP_SIGNAL")")
	if ((${#LABELS[@]})); then
		obj=""
		for kv in "${LABELS[@]}"; do
			[[ $kv == *=* ]] || die "--label $kv: expected KEY=VALUE"
			obj+="${obj:+,}$(json_str "${kv%%=*}"):$(json_str "${kv#*=}")"
		done
		fields+=("\"Labels\":{$obj}")
	fi
	local IFS=,
	printf '{%s}' "${fields[*]}"
}

# The whole image config. docker save and OCI share this document, so one writer serves both.
image_config_json() {
	local i hist="" created
	created=$(json_str "$CREATED")
	for ((i = 0; i < ${#LAYERS[@]}; i++)); do
		hist+="${hist:+,}{\"created\":$created,\"created_by\":$(json_str "$PROG: layer $((i + 1)) (${LAYERS[i]%%:*})")}"
	done
	printf '{"architecture":%s,"os":%s,"created":%s,"config":%s,"rootfs":{"type":"layers","diff_ids":%s},"history":[%s]}' \
		"$(json_str "$ARCH")" "$(json_str "$OS")" "$created" "$(runtime_config_json)" \
		"$(json_str_array "${DIFF_IDS[@]}")" "$hist"
}

# ---- names ----------------------------------------------------------------------------------

# Splits --name into REPO and TAG. The tag is what follows the last colon unless that colon
# belongs to a registry port (localhost:5000/app has no tag).
split_name() {
	REPO=$NAME TAG=latest
	local last=${NAME##*:}
	if [[ $NAME == *:* && $last != */* ]]; then
		REPO=${NAME%:*} TAG=$last
	fi
}

# ---- corruption -----------------------------------------------------------------------------

# The 512-byte block number where tar file $1's end-of-archive marker starts, from GNU tar's
# own walk of the headers (-R), or nothing if tar finds none.
nuls_block() {
	local line re='^block ([0-9]+): \*\* Block of NULs \*\*'
	while IFS= read -r line; do
		if [[ $line =~ $re ]]; then
			printf '%s' "${BASH_REMATCH[1]}"
			return 0
		fi
	done < <(tar -tRf "$1" 2>/dev/null || true)
}

# Changes one byte of a layer blob without changing its size or making it unreadable, so the
# digest check is the only thing that can catch it (a size or gzip CRC check must not get
# there first and hide a missing digest check).
corrupt_blob() {
	local f=$1 off byte end size
	size=$(stat -c %s "$f")
	if [[ $(head -c 2 "$f" | od -An -tx1 | tr -d ' \n') == 1f8b ]]; then
		# gzip's MTIME field (bytes 4-7): gzip -n leaves it 0, and no CRC covers it.
		off=4
	else
		# The tar record padding after the two end-of-archive blocks: readers stop before it.
		end=$(nuls_block "$f")
		if [[ -n $end ]] && (((end + 2) * 512 < size)); then
			off=$((size - 1))
		else
			# No padding to spare (a raw layer, say): append, and the size changes too.
			echo "$PROG: warning: layer $CORRUPT has no padding to corrupt, appending a byte" >&2
			printf 'X' >>"$f"
			return
		fi
	fi
	byte=$(od -An -tu1 -j "$off" -N1 "$f" | tr -d ' ')
	printf %b "\\0$(printf %03o $((byte ^ 0xff)))" | dd of="$f" bs=1 seek="$off" conv=notrunc status=none
}

# ---- format writers -------------------------------------------------------------------------

# Writes an OCI image layout into directory $1; LAYER_BLOBS gets the layer blob paths, in order.
write_oci_layout() {
	local layout=$1 i desc digest size mtype layers="" cfg manifest annotations="" ref
	mkdir -p "$layout/blobs/sha256"
	mtype=application/vnd.oci.image.layer.v1.tar
	((GZIP)) && mtype+=+gzip
	LAYER_BLOBS=()
	for ((i = 0; i < ${#LAYERS[@]}; i++)); do
		# gzip -n: no name or timestamp in the header, or the digest would change per run.
		((GZIP)) && gzip -n -9 "$WORK/layer.$i.tar" && mv "$WORK/layer.$i.tar.gz" "$WORK/layer.$i.tar"
		desc=$(blob_put "$WORK/layer.$i.tar" "$layout")
		digest=${desc% *} size=${desc#* }
		LAYER_BLOBS+=("$layout/blobs/sha256/${digest#sha256:}")
		layers+="${layers:+,}{\"mediaType\":\"$mtype\",\"digest\":\"$digest\",\"size\":$size}"
	done
	desc=$(blob_put_string "$(image_config_json)" "$layout")
	cfg="{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"${desc% *}\",\"size\":${desc#* }}"
	manifest="{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"config\":$cfg,\"layers\":[$layers]}"
	desc=$(blob_put_string "$manifest" "$layout")
	# The tools disagree on ref.name: skopeo stores whatever follows oci:DIR: (users write the
	# tag), umoci's --image DIR:TAG wants the tag, podman save writes the full name. The tag,
	# plus the full name under containerd's key as docker save does, satisfies all three:
	# podman load reads that key first and would otherwise call the image localhost/TAG.
	ref=${REF_NAME:-${NAME:+$TAG}}
	if [[ -n $NAME || -n $ref ]]; then
		annotations=""
		[[ -n $NAME ]] && annotations+="\"io.containerd.image.name\":$(json_str "$REPO:$TAG")"
		[[ -n $ref ]] && annotations+="${annotations:+,}\"org.opencontainers.image.ref.name\":$(json_str "$ref")"
		annotations=",\"annotations\":{$annotations}"
	fi
	printf '{"imageLayoutVersion":"1.0.0"}' >"$layout/oci-layout"
	printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":%s%s}]}' \
		"${desc% *}" "${desc#* }" "$annotations" >"$layout/index.json"
}

# Writes the files of a `docker save` tarball into directory $1. Layer directories are named
# by chain ID, as docker's are by a parent-dependent ID, so two identical layers at different
# depths do not collide.
write_docker_dir() {
	local dir=$1 i chain="" diff hex cfghex layers="" tags=null
	LAYER_BLOBS=()
	for ((i = 0; i < ${#LAYERS[@]}; i++)); do
		diff=${DIFF_IDS[i]}
		if [[ -z $chain ]]; then
			chain=$diff
		else
			chain=sha256:$(printf '%s %s' "$chain" "$diff" | sha256sum | cut -d' ' -f1)
		fi
		hex=${chain#sha256:}
		mkdir -p "$dir/$hex"
		mv "$WORK/layer.$i.tar" "$dir/$hex/layer.tar"
		printf '1.0' >"$dir/$hex/VERSION"
		LAYER_BLOBS+=("$dir/$hex/layer.tar")
		layers+="${layers:+,}\"$hex/layer.tar\""
	done
	image_config_json >"$WORK/config.json"
	cfghex=$(sha256_of "$WORK/config.json")
	mv "$WORK/config.json" "$dir/$cfghex.json"
	if [[ -n $NAME ]]; then
		tags="[$(json_str "$REPO:$TAG")]"
		# The pre-manifest.json index that old `docker load` reads: repo -> tag -> top layer.
		printf '{%s:{%s:"%s"}}' "$(json_str "$REPO")" "$(json_str "$TAG")" "${chain#sha256:}" \
			>"$dir/repositories"
	fi
	printf '[{"Config":"%s.json","RepoTags":%s,"Layers":[%s]}]' "$cfghex" "$tags" "$layers" \
		>"$dir/manifest.json"
}

# Tars the contents of directory $1 into file $2 with the same reproducibility settings as the
# layers, top-level names without a ./ prefix as docker save and skopeo write them.
archive_dir() {
	local dir=$1 out=$2
	(cd "$dir" && shopt -s nullglob && top=(*) &&
		tar --sort=name --numeric-owner --owner=0 --group=0 --mtime=@0 -cf "$out.tmp" "${top[@]}")
	mv -f "$out.tmp" "$out"
}

# Cuts an archive to $2 bytes, or drops -$2 bytes from its end. Both archive formats end in up
# to 10 KiB of tar record padding that readers skip: a cut meant to break one must go deeper.
truncate_file() {
	local f=$1 n=$2 size
	size=$(stat -c %s "$f")
	((n < 0)) && n=$((size + n))
	((n >= 0 && n <= size)) || die "--truncate $2: the archive has only $size bytes"
	truncate -s "$n" "$f"
}

# ---- main -----------------------------------------------------------------------------------

# Prints the header comment from "Usage:" on, so the help cannot drift from it.
usage() {
	local line on=0
	while IFS= read -r line; do
		[[ $line == "# Usage:"* ]] && on=1
		((on)) || continue
		[[ $line == "#"* ]] || break
		line=${line#\#}
		printf "%s\n" "${line# }" >&2
	done <"$0"
	exit 2
}

parse_args() {
	(($# >= 2)) || usage
	FORMAT=$1 OUT=$2
	shift 2
	case $FORMAT in oci | oci-archive | docker) ;; *) die "unknown format $FORMAT" ;; esac
	NAME="" REF_NAME="" GZIP=0 KEEP_OWNER=0 CORRUPT=0 TRUNCATE=""
	CREATED=2024-01-01T00:00:00Z ARCH=$(host_arch) OS=linux
	LAYERS=() ENVS=() EXPOSES=() LABELS=()
	unset ENTRYPOINT CMD WORKDIR USER_SPEC STOP_SIGNAL
	while (($#)); do
		case $1 in
		--gzip) GZIP=1 ;;
		--keep-owner) KEEP_OWNER=1 ;;
		--name | --ref-name | --raw-layer | --entrypoint | --cmd | --env | --workdir | --user | --expose | \
			--stop-signal | --label | --created | --arch | --os | --corrupt-layer | --truncate)
			(($# >= 2)) || die "$1 needs a value"
			case $1 in
			--name) NAME=$2 ;;
			--ref-name) REF_NAME=$2 ;;
			--raw-layer) LAYERS+=("raw:$2") ;;
			--entrypoint) ENTRYPOINT=$2 ;;
			--cmd) CMD=$2 ;;
			--env) ENVS+=("$2") ;;
			--workdir) WORKDIR=$2 ;;
			--user) USER_SPEC=$2 ;;
			--expose) EXPOSES+=("$2") ;;
			--stop-signal) STOP_SIGNAL=$2 ;;
			--label) LABELS+=("$2") ;;
			--created) CREATED=$2 ;;
			--arch) ARCH=$2 ;;
			--os) OS=$2 ;;
			--corrupt-layer) CORRUPT=$2 ;;
			--truncate) TRUNCATE=$2 ;;
			esac
			shift
			;;
		-h | --help) usage ;;
		--) shift && for d in "$@"; do LAYERS+=("dir:$d"); done && break ;;
		-*) die "unknown option $1" ;;
		*) LAYERS+=("dir:$1") ;;
		esac
		shift
	done
	[[ $CORRUPT =~ ^[0-9]+$ ]] || die "--corrupt-layer $CORRUPT: not a layer number"
	((CORRUPT <= ${#LAYERS[@]})) || die "--corrupt-layer $CORRUPT: there are only ${#LAYERS[@]} layers"
	[[ -z $TRUNCATE || $TRUNCATE =~ ^-?[0-9]+$ ]] || die "--truncate $TRUNCATE: not a number"
	[[ -n $TRUNCATE && $FORMAT == oci ]] && die "--truncate needs an archive format"
	# Real docker save never compresses layers; refusing beats a silently plain layer.
	((GZIP)) && [[ $FORMAT == docker ]] && die "--gzip applies to the oci formats only"
	# Checked before the work, and the layout moved in whole at the end: no half-written OUT.
	if [[ $FORMAT == oci && -e $OUT ]]; then
		[[ -d $OUT && -z $(ls -A "$OUT") ]] || die "$OUT exists and is not an empty directory"
	fi
	[[ -n $NAME ]] && split_name
	return 0
}

main() {
	parse_args "$@"
	WORK=$(mktemp -d "${TMPDIR:-/tmp}/mkimage.XXXXXX")
	trap 'rm -rf "$WORK"' EXIT
	build_layers
	mkdir "$WORK/out"
	case $FORMAT in
	oci | oci-archive) write_oci_layout "$WORK/out" ;;
	docker) write_docker_dir "$WORK/out" ;;
	esac
	# After the manifest, so the recorded digest is the one of the good blob.
	((CORRUPT)) && corrupt_blob "${LAYER_BLOBS[CORRUPT - 1]}"
	case $FORMAT in
	oci)
		[[ -e $OUT ]] && rmdir "$OUT"
		mv "$WORK/out" "$OUT"
		;;
	*)
		archive_dir "$WORK/out" "$WORK/archive.tar"
		[[ -n $TRUNCATE ]] && truncate_file "$WORK/archive.tar" "$TRUNCATE"
		mv -f "$WORK/archive.tar" "$OUT"
		;;
	esac
}

main "$@"
