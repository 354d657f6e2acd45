#!/usr/bin/env bash
# usage: bench/region.sh [SIZE_MIB [ROUNDS]]
#
# region.sh - cross-region reads (issue 12): one lotad in front of two regions
# (tests/integration/regionground.sh: two single-node Ceph clusters, the remote one in a
# network namespace behind a veth shaped with tc tbf, LOTA_REGION_RATE, default 300mbit).
# One object of SIZE_MIB (default 1024) in a bucket of each region, read through lotad
# with curl --aws-sigv4 (alice's key):
#
#   cold remote   the remote object's first read (a miss filled over the slow link)
#   warm remote   its later reads, from lotad's cache (each still authorized by the
#                 remote region: one HEAD over the slow link per read)
#   warm local    the local object's later reads, from lotad's cache
#
# Warm reads are the median of ROUNDS (default 3) reads each, interleaved remote/local;
# the HEAD times (median of 5) show what the authorization of each hit costs per region.
# Targets: warm remote >= 0.9x warm local; warm remote >= 5x cold remote.
# Prints the figures, the ratios and the targets. Exits non-zero only on a malfunction (a
# server that does not start, an error status, wrong bytes, a warm read that is not a
# hit), never on a missed target. Needs root and a built tree in build/ (or
# LOTA_BUILD_DIR). LOTA_BENCH_LOTAD_ARGS adds flags to lotad (e.g. --no-encrypt).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/.." && pwd)
build=${LOTA_BUILD_DIR:-$src/build}
lotad=$build/daemon/lotad
SIZE_MIB=${1:-1024}
ROUNDS=${2:-3}
MiB=$((1 << 20))

die() {
	echo "region.sh: $*" >&2
	exit 1
}
[ "$(id -u)" -eq 0 ] || die "needs root (network namespace, veth, tc)"
[ -x "$lotad" ] || die "$lotad is not built"
[[ "$SIZE_MIB" =~ ^[0-9]+$ && "$SIZE_MIB" -ge 1 ]] || die "SIZE_MIB must be a number"

# shellcheck source=../tests/integration/regionground.sh
. "$src/tests/integration/regionground.sh"
DIR=$(mktemp -d "${TMPDIR:-/tmp}/lota-bench-region.XXXXXX")
LOTAD_PID=
cleanup() {
	if [ -n "$LOTAD_PID" ]; then
		kill -TERM "$LOTAD_PID" 2>/dev/null || true
		wait "$LOTAD_PID" 2>/dev/null || true
	fi
	rg_down
	rm -rf "$DIR"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

RG_RATE=${LOTA_REGION_RATE:-300mbit}
# each cluster holds one object (and an overwrite's worth of slack)
RGW_MEMSTORE_BYTES=$(((SIZE_MIB * 3 + 512) * MiB)) rg_up "$DIR" || die "the regions did not start"
. "$RG_LOCAL_DIR/rgw.env"
AK=$RGW_ALICE_ACCESS SK=$RGW_ALICE_SECRET

cat >"$DIR/creds" <<EOF
[alice]
aws_access_key_id = $AK
aws_secret_access_key = $SK
EOF
read -r PORT ADMIN _ <<<"$(rgw__free_ports)"
# shellcheck disable=SC2086 # LOTA_BENCH_LOTAD_ARGS is a list of words
"$lotad" --listen "127.0.0.1:$PORT" --admin-listen "127.0.0.1:$ADMIN" --upstream "$RG_LOCAL_EP" \
	--credentials "$DIR/creds" --region lota-local --region-upstream "lota-remote=$RG_REMOTE_EP" \
	--cache-dir "$DIR/cache:$(((SIZE_MIB * 2 + 256)))MiB" ${LOTA_BENCH_LOTAD_ARGS:-} \
	>"$DIR/lotad.log" 2>&1 </dev/null &
LOTAD_PID=$!
for _ in $(seq 100); do
	curl -sf -m 1 -o /dev/null "http://127.0.0.1:$ADMIN/healthz" && break
	kill -0 "$LOTAD_PID" 2>/dev/null || {
		cat "$DIR/lotad.log" >&2
		die "lotad exited"
	}
	sleep 0.1
done

# s3 EP REGION ARGS...: curl signed as alice for the endpoint EP
s3() {
	local ep=$1 region=$2
	shift 2
	curl -sS --fail-with-body --aws-sigv4 "aws:amz:$region:s3" --user "$AK:$SK" \
		-H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "$@"
}
CB='<CreateBucketConfiguration><LocationConstraint>%s</LocationConstraint></CreateBucketConfiguration>'
head -c $((SIZE_MIB * MiB)) /dev/urandom >"$DIR/obj"
SHA=$(sha256sum "$DIR/obj" | cut -d' ' -f1)
for r in local remote; do
	ep=$RG_LOCAL_EP
	[ $r = remote ] && ep=$RG_REMOTE_EP
	# shellcheck disable=SC2059
	s3 "$ep" "lota-$r" -X PUT --data "$(printf "$CB" "lota-$r")" "$ep/bench-$r" >/dev/null ||
		die "create bucket in lota-$r"
	s3 "$ep" "lota-$r" -T "$DIR/obj" "$ep/bench-$r/obj" >/dev/null || die "upload to lota-$r"
done

# read R: one GET of region R's object through lotad; prints "seconds label"; checks
# the bytes
read_once() {
	local t
	t=$(s3 "http://127.0.0.1:$PORT" lota-local -o "$DIR/got" -D "$DIR/hdr" \
		-w '%{time_total}' "http://127.0.0.1:$PORT/bench-$1/obj") || die "read of $1 failed"
	[ "$(sha256sum "$DIR/got" | cut -d' ' -f1)" = "$SHA" ] || die "wrong bytes from $1"
	rm -f "$DIR/got"
	echo "$t $(tr -d '\r' <"$DIR/hdr" | sed -n 's/^x-lota-cache: //Ip')"
}
# warm R: read until the read is a hit (the fills are published in the background)
warm() {
	local out
	for _ in $(seq 60); do
		out=$(read_once "$1")
		[ "${out#* }" = hit ] && return 0
		sleep 0.5
	done
	die "$1 object never became a hit"
}
median() { sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }

cold=$(read_once remote)
cold_s=${cold%% *}
warm remote
warm local
: >"$DIR/wr"
: >"$DIR/wl"
for _ in $(seq "$ROUNDS"); do
	o=$(read_once remote)
	[ "${o#* }" = hit ] || die "a warm remote read was not a hit: $o"
	echo "${o%% *}" >>"$DIR/wr"
	o=$(read_once local)
	[ "${o#* }" = hit ] || die "a warm local read was not a hit: $o"
	echo "${o%% *}" >>"$DIR/wl"
done
# the authorization every hit pays: a HEAD through lotad (answered by the home region)
head_once() {
	s3 "http://127.0.0.1:$PORT" lota-local -I -o /dev/null -w '%{time_total}\n' \
		"http://127.0.0.1:$PORT/bench-$1/obj" || die "HEAD of $1 failed"
}
: >"$DIR/hr"
: >"$DIR/hl"
for _ in $(seq 5); do
	head_once remote >>"$DIR/hr"
	head_once local >>"$DIR/hl"
done
hr=$(median <"$DIR/hr")
hl=$(median <"$DIR/hl")
wr=$(median <"$DIR/wr")
wl=$(median <"$DIR/wl")
awk -v n="$SIZE_MIB" -v c="$cold_s" -v r="$wr" -v l="$wl" -v rate="$RG_RATE" \
	-v hr="$hr" -v hl="$hl" 'BEGIN {
	printf "object %d MiB, remote link %s\n", n, rate
	printf "cold remote  %8.3f s  %8.1f MiB/s\n", c, n / c
	printf "warm remote  %8.3f s  %8.1f MiB/s  (median of reads)\n", r, n / r
	printf "warm local   %8.3f s  %8.1f MiB/s  (median of reads)\n", l, n / l
	printf "HEAD remote  %8.4f s, HEAD local %.4f s  (median of 5: the authorization of a hit)\n", hr, hl
	printf "warm remote / warm local  %.2fx  (target >= 0.9x)\n", l / r
	printf "warm remote / cold remote %.2fx  (target >= 5x)\n", c / r
}'
curl -s "http://127.0.0.1:$ADMIN/metrics" | grep '^lota_region_' || true
