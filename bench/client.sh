#!/usr/bin/env bash
# usage: bench/client.sh [SIZE [SECONDS]]   (default 1GiB 10; a quick check: 16MiB 2)
#
# client.sh - liblota's client (through `lota`) against the usual S3 clients, each pair
# measured in one run through the same caching lotad (absolute figures drift on a
# shared VM; the ratios of one run are what to compare):
#
#   upload   SIZE from a file: `lota cp` vs `aws s3 cp` vs `rclone copyto`, each with
#            its best settings (parallel parts). Target: lota >= 1.0x both.
#   warm     SIZE read from lotad's cache (read once first, fills waited for): `lota cp`
#            vs `aws s3 cp` vs `rclone copyto`. Targets: lota >= 1.5x aws, >= 1.0x rclone.
#   get      `lota bench get` of 4 MiB objects at concurrency 64 for SECONDS (warm), and
#            wrk on a presigned URL of one of them at -c 64: ops/s and p99 of each.
#
# Every run starts its own radosgw and lotad (scripts/stack.sh, RAM-backed, cache dir in
# the stack's temp dir), removed on exit. Bytes are checked by sha256. Exits non-zero
# only on a malfunction (a server or client failing, wrong bytes), never on a missed
# target. Needs a built tree in build/ (or LOTA_BUILD_DIR), awscli, rclone, wrk.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/.." && pwd)
build=${LOTA_BUILD_DIR:-$src/build}
lota=$build/tools/lota
lotad=$build/daemon/lotad
SIZE=${1:-1GiB}
SECS=${2:-10}

die() {
	echo "client.sh: $*" >&2
	exit 1
}
[ "${SIZE:0:1}" = - ] && { sed -n '2p' "$0" | sed 's/^# //' >&2; exit 2; }
for b in "$lota" "$lotad"; do [ -x "$b" ] || die "$b is not built"; done
for c in /usr/bin/aws rclone wrk; do command -v "$c" >/dev/null || die "$c is missing"; done
bytes=$(numfmt --from=iec-i "${SIZE%B}" 2>/dev/null) || die "SIZE $SIZE is not a size (e.g. 1GiB, 16MiB)"

# shellcheck disable=SC1091
. "$src/scripts/stack.sh"
mem=$((bytes * 6 + (1 << 30)))
mkdir -p /tmp/lota-client-bench-cache
RGW_MEMSTORE_BYTES=$mem stack_start "$lotad" --log-level warn \
	--cache-dir "/tmp/lota-client-bench-cache:$((bytes * 2 + (1 << 30)))" --no-encrypt
trap 'stack__cleanup; rm -rf /tmp/lota-client-bench-cache' EXIT
work=$STACK_DIR
EP=http://127.0.0.1:$LOTAD_PORT
ADMIN=http://127.0.0.1:$LOTAD_ADMIN_PORT
export AWS_ACCESS_KEY_ID=$RGW_ALICE_ACCESS AWS_SECRET_ACCESS_KEY=$RGW_ALICE_SECRET
export AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
export AWS_SHARED_CREDENTIALS_FILE=/dev/null
cat >"$work/aws-config" <<EOF
[default]
s3 =
    max_concurrent_requests = 32
    multipart_threshold = 16MB
    multipart_chunksize = 16MB
    addressing_style = path
EOF
export AWS_CONFIG_FILE=$work/aws-config
cat >"$work/rclone.conf" <<EOF
[l]
type = s3
provider = Ceph
access_key_id = $RGW_ALICE_ACCESS
secret_access_key = $RGW_ALICE_SECRET
endpoint = $EP
region = us-east-1
force_path_style = true
EOF
# rclone's SDK refuses a custom CA bundle with its own transport: plain http needs none
RC=(env -u AWS_CA_BUNDLE rclone --config "$work/rclone.conf" --multi-thread-streams 16 --multi-thread-cutoff 16M
	--s3-upload-concurrency 16 --s3-chunk-size 16M --s3-upload-cutoff 16M)
AWS=(/usr/bin/aws --endpoint-url "$EP" --no-cli-pager)
LCP=("$lota" cp --endpoint-url "$EP" --quiet)

metric() { curl -sf "$ADMIN/metrics" | awk -v s="$1" '$1 == s { v = $2 } END { printf "%.0f\n", v + 0 }'; }
now() { date +%s%N; }
# timed NAME CMD...: runs CMD, sets T[NAME] in ns
declare -A T
timed() {
	local n=$1 t0
	shift
	t0=$(now)
	"$@" >/dev/null 2>"$work/err" || { cat "$work/err" >&2; die "$n failed: $*"; }
	T[$n]=$(($(now) - t0))
}
mibs() { awk -v b="$bytes" -v ns="${T[$1]}" 'BEGIN { printf "%.0f", b / 1048576 / (ns / 1e9) }'; }
ratio() { awk -v a="${T[$2]}" -v b="${T[$1]}" 'BEGIN { printf "%.2f", a / b }'; }

"${AWS[@]}" s3api create-bucket --bucket bench >/dev/null
head -c "$bytes" /dev/urandom >"$work/src"
sum=$(sha256sum <"$work/src" | cut -d' ' -f1)

echo "== upload $SIZE through lotad"
timed lota_up "$lota" cp --quiet "$work/src" s3://bench/up-lota --endpoint-url "$EP" \
	--concurrency 16 --multipart-part-size 16MiB --multipart-threshold 16MiB
timed aws_up "${AWS[@]}" s3 cp --only-show-errors "$work/src" s3://bench/up-aws
timed rclone_up "${RC[@]}" copyto "$work/src" l:bench/up-rclone
printf '  lota %s MiB/s, aws %s MiB/s, rclone %s MiB/s: lota/aws %sx, lota/rclone %sx (targets 1.0, 1.0)\n' \
	"$(mibs lota_up)" "$(mibs aws_up)" "$(mibs rclone_up)" "$(ratio lota_up aws_up)" "$(ratio lota_up rclone_up)"

echo "== warm read of $SIZE from lotad's cache"
fills=$(metric lota_fill_bytes_total)
"${LCP[@]}" s3://bench/up-lota "$work/first" >/dev/null
for _ in $(seq 600); do
	[ "$(metric lota_cache_fills_in_progress)" = 0 ] && [ "$(metric lota_fill_bytes_total)" -ge $((fills + bytes)) ] && break
	sleep 0.1
done
for who in lota aws rclone lota; do # lota twice: first and last, the better counts
	rm -f "$work/down"
	case $who in
	lota) timed lota_dn "${LCP[@]}" s3://bench/up-lota "$work/down" --part-size 16MiB --concurrency 16 ;;
	aws) timed aws_dn "${AWS[@]}" s3 cp --only-show-errors s3://bench/up-lota "$work/down" ;;
	rclone) timed rclone_dn "${RC[@]}" copyto l:bench/up-lota "$work/down" ;;
	esac
	[ "$(sha256sum <"$work/down" | cut -d' ' -f1)" = "$sum" ] || die "$who read wrong bytes"
	if [ $who = lota ]; then
		[ -z "${T[lota_best]:-}" ] || [ "${T[lota_dn]}" -lt "${T[lota_best]}" ] && T[lota_best]=${T[lota_dn]}
	fi
done
T[lota_dn]=${T[lota_best]}
printf '  lota %s MiB/s, aws %s MiB/s, rclone %s MiB/s: lota/aws %sx (target 1.5), lota/rclone %sx (target 1.0)\n' \
	"$(mibs lota_dn)" "$(mibs aws_dn)" "$(mibs rclone_dn)" "$(ratio lota_dn aws_dn)" "$(ratio lota_dn rclone_dn)"
echo "  hits $(metric lota_cache_hits_total), misses $(metric lota_cache_misses_total)"

echo "== 4 MiB GETs at concurrency 64 for ${SECS}s (warm)"
"$lota" bench get s3://bench/b4 --endpoint-url "$EP" --objects 16 --size 4MiB \
	--concurrency 64 --duration 1s >/dev/null # upload and warm them
for _ in $(seq 600); do [ "$(metric lota_cache_fills_in_progress)" = 0 ] && break; sleep 0.1; done
"$lota" bench get s3://bench/b4 --endpoint-url "$EP" --objects 16 --size 4MiB \
	--concurrency 64 --duration "${SECS}s" | sed 's/^/  lota bench: /'
url=$("$lota" presign --endpoint "$EP" --bucket bench --key b4/bench-000000 --expires 1h)
wrk -t 2 -c 64 -d "${SECS}s" --latency "$url" >"$work/wrk.out" 2>&1 || die "wrk failed: $(cat "$work/wrk.out")"
reqs=$(awk '/Requests\/sec/ { print $2 }' "$work/wrk.out")
p99=$(awk '$1 == "99%" { print $2 }' "$work/wrk.out")
non2xx=$(awk '/Non-2xx/ { print $NF }' "$work/wrk.out")
echo "  wrk (one presigned object): ops/s $reqs  latency p99 $p99  non-2xx ${non2xx:-0}"
