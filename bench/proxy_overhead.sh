#!/usr/bin/env bash
# proxy_overhead.sh - lotad as a pure proxy (no cache) against radosgw direct, in one run.
#
# Starts a radosgw test cluster and lotad in front of it, uploads a 1 MiB and a 64 MiB
# object, then drives wrk (a real HTTP load generator) with presigned URLs made by the
# `lota` tool, first straight at radosgw and then at lotad (which verifies each signature
# locally and re-signs the request for radosgw):
#   GET 1 MiB   at c=1 and c=8
#   GET 64 MiB  at c=1 and c=4
#   PUT 64 MiB  at c=1 and c=2   (presigned PUT, UNSIGNED-PAYLOAD, body from a Lua script)
# and prints requests/s, MiB/s and the ratio lotad/direct for each. Absolute figures
# drift on a shared VM; the ratios of one run are what to compare (target >= 0.9).
# A third side, a socat relay to radosgw (read + write of 256 KiB, no logic, URLs signed
# for the relay's address), measures in the same run what one more loopback hop costs by
# itself: the floor of any proxy on this machine, printed as relay/direct.
#
#   bench/proxy_overhead.sh [SECONDS_PER_RUN]       (default 8)
# Needs a built tree in build/ (or LOTA_BUILD_DIR) and the packages of scripts/deps.sh.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/.." && pwd)
build=${LOTA_BUILD_DIR:-$src/build}
secs=${1:-8}
lota=$build/tools/lota
lotad=$build/daemon/lotad
for b in "$lota" "$lotad"; do [ -x "$b" ] || { echo "build first: $b missing" >&2; exit 1; }; done
command -v wrk >/dev/null || { echo "wrk missing: run scripts/deps.sh" >&2; exit 1; }

. "$src/scripts/stack.sh"
# A large RAM-backed store: the PUT runs overwrite gigabytes.
RGW_MEMSTORE_BYTES=$((8 << 30)) stack_start "$lotad" --log-level warn ${LOTA_BENCH_LOTAD_ARGS:-}
export AWS_ACCESS_KEY_ID=$RGW_ALICE_ACCESS AWS_SECRET_ACCESS_KEY=$RGW_ALICE_SECRET AWS_REGION=us-east-1
lport=$LOTAD_PORT aport=$LOTAD_ADMIN_PORT work=$STACK_DIR

direct=${RGW_ENDPOINT#http://}
command -v socat >/dev/null || { echo "socat missing: run scripts/deps.sh" >&2; exit 1; }
read -r relay_port _ <<<"$(rgw__free_ports)"
socat -b 262144 "TCP-LISTEN:$relay_port,bind=127.0.0.1,reuseaddr,fork,nodelay" "TCP:$direct,nodelay" \
	>"$work/socat.log" 2>&1 </dev/null &
relay_pid=$!
relay_stop() {
	pkill -P "$relay_pid" 2>/dev/null || true
	if kill "$relay_pid" 2>/dev/null; then wait "$relay_pid" 2>/dev/null || true; fi
}
trap 'relay_stop; stack__cleanup' EXIT
relay_up=0
for _ in $(seq 100); do
	[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$relay_port/")" != 000 ] &&
		relay_up=1 && break
	sleep 0.1
done
[ "$relay_up" = 1 ] || { cat "$work/socat.log" >&2; echo "socat relay did not start" >&2; exit 1; }
put() { # host bucket key file
	curl -sf -o /dev/null -X PUT -T "$4" "$("$lota" presign --endpoint "http://$1" --method PUT --bucket "$2" --key "$3")"
}
make_bucket() {
	/usr/bin/python3 - "$RGW_ENDPOINT" <<'PY'
import sys, boto3
s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1")
try:
    s3.create_bucket(Bucket="bench")
except s3.exceptions.BucketAlreadyOwnedByYou:
    pass
PY
}
make_bucket
head -c $((1 << 20)) /dev/urandom >"$work/1m"
head -c $((64 << 20)) /dev/urandom >"$work/64m"
put "$direct" bench obj-1m "$work/1m"
put "$direct" bench obj-64m "$work/64m"

cat >"$work/put.lua" <<EOL
local f = io.open("$work/64m", "rb")
wrk.method = "PUT"
wrk.body = f:read("*a")
f:close()
EOL

run() { # label host method key conc size_bytes -> prints rps and MiB/s
	local host=$1 method=$2 key=$3 conc=$4 size=$5 url extra=() out rps
	url=$("$lota" presign --endpoint "http://$host" --method "$method" --bucket bench --key "$key" --expires 1h)
	[ "$method" = PUT ] && extra=(-s "$work/put.lua")
	out=$(wrk -t "$(( conc < 2 ? 1 : 2 ))" -c "$conc" -d "${secs}s" --timeout 30s "${extra[@]}" "$url" 2>&1)
	if echo "$out" | grep -q 'Non-2xx'; then
		echo "$out" >&2
		echo "error: non-2xx responses for $method $host $key" >&2
		exit 1
	fi
	rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
	awk -v r="$rps" -v s="$size" 'BEGIN {printf "%.1f %.1f", r, r * s / 1048576}'
}

fmt='%-22s %12s %12s %12s %12s %8s %12s %12s\n'
# shellcheck disable=SC2059 # one format for the header and the rows
printf "$fmt" case direct_req/s direct_MiB/s lotad_req/s lotad_MiB/s ratio relay_MiB/s relay/direct
for spec in "GET obj-1m 1 1048576" "GET obj-1m 8 1048576" "GET obj-64m 1 67108864" \
	"GET obj-64m 4 67108864" "PUT put-64m 1 67108864" "PUT put-64m 2 67108864"; do
	read -r m k c s <<<"$spec"
	read -r drps dmib <<<"$(run "$direct" "$m" "$k" "$c" "$s")"
	read -r lrps lmib <<<"$(run "127.0.0.1:$lport" "$m" "$k" "$c" "$s")"
	read -r rrps rmib <<<"$(run "127.0.0.1:$relay_port" "$m" "$k" "$c" "$s")"
	ratio=$(awk -v a="$lrps" -v b="$drps" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}')
	rratio=$(awk -v a="$rrps" -v b="$drps" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}')
	# shellcheck disable=SC2059
	printf "$fmt" "$m ${s} c=$c" "$drps" "$dmib" "$lrps" "$lmib" "${ratio}x" "$rmib" "${rratio}x"
done
curl -s "http://127.0.0.1:$aport/metrics" | grep -E '^lota_(requests_total|upstream_errors_total)' | head -20 >"$work/metrics.txt" || true
echo "lotad metrics after the run:"; sed 's/^/  /' "$work/metrics.txt"
