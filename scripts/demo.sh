#!/usr/bin/env bash
# The demo: installs what is needed, builds lota, starts a local S3 upstream (a
# single-node Ceph radosgw on 127.0.0.1) and lotad in front of it, then uses real S3
# clients through lotad: awscli uploads a large object (multipart), reads it straight
# from radosgw and then twice through lotad: a cold read (lotad fills its node cache
# from radosgw while streaming) and a warm read (served from the local disk, still
# authorized by radosgw), with their throughput; boto3 does a range read; every byte is
# checked with sha256. Everything runs in a temp dir and is removed at the end.
#
#   scripts/demo.sh [SIZE_MIB]        (default 256)
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
size_mib=${1:-256}
cd "$src"
bash scripts/deps.sh
echo "== building (build/)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)" >/dev/null

. scripts/stack.sh
echo "== starting radosgw (the upstream object store) and lotad in front of it"
cache_root=$(mktemp -d /tmp/lota-demo-cache.XXXXXX)
stack_start build/daemon/lotad --endpoint-name localhost --log-level warn \
	--cache-dir "$cache_root/nvme0:4GiB"
trap 'stack__cleanup; rm -rf "$cache_root"' EXIT
lport=$LOTAD_PORT aport=$LOTAD_ADMIN_PORT work=$STACK_DIR
echo "== lotad on 127.0.0.1:$lport in front of $RGW_ENDPOINT, node cache in $cache_root/nvme0 (4 GiB, encrypted)"

export AWS_ACCESS_KEY_ID=$RGW_ALICE_ACCESS AWS_SECRET_ACCESS_KEY=$RGW_ALICE_SECRET
export AWS_DEFAULT_REGION=us-east-1 AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
aws() { /usr/bin/aws --endpoint-url "http://127.0.0.1:$lport" "$@"; }
now_ms() { date +%s%3N; }
rate() { awk -v b="$1" -v ms="$2" 'BEGIN {printf "%.0f MiB/s (%.2f s)", b / 1048576 / (ms / 1000), ms / 1000}'; }

head -c $((size_mib << 20)) /dev/urandom >"$work/object"
want=$(sha256sum <"$work/object" | cut -d' ' -f1)
aws s3 mb s3://demo >/dev/null
t0=$(now_ms)
aws s3 cp --only-show-errors "$work/object" s3://demo/weights.bin
t1=$(now_ms)
echo "== upload  ${size_mib} MiB through lotad (awscli, multipart): $(rate $((size_mib << 20)) $((t1 - t0)))"
rm -f "$work/back"
t0=$(now_ms)
/usr/bin/aws --endpoint-url "$RGW_ENDPOINT" s3 cp --only-show-errors s3://demo/weights.bin "$work/back"
t1=$(now_ms)
echo "== direct read ${size_mib} MiB from radosgw, for comparison: $(rate $((size_mib << 20)) $((t1 - t0)))"
# The cold read fills lotad's cache (encrypted at rest) while it streams; the warm read
# comes from the local disk after radosgw has authorized it (one HEAD).
for read in cold warm; do
	rm -f "$work/back"
	t0=$(now_ms)
	aws s3 cp --only-show-errors s3://demo/weights.bin "$work/back"
	t1=$(now_ms)
	got=$(sha256sum <"$work/back" | cut -d' ' -f1)
	[ "$got" = "$want" ] || { echo "sha256 mismatch on the $read read" >&2; exit 1; }
	echo "== $read read ${size_mib} MiB through lotad (awscli): $(rate $((size_mib << 20)) $((t1 - t0))), sha256 ok"
	if [ "$read" = cold ]; then
		# awscli reads in parallel 8 MiB ranges; let the background fills of the last
		# extents finish so that the warm read is all from the disk
		for _ in $(seq 600); do
			curl -s "http://127.0.0.1:$aport/metrics" | grep -q '^lota_cache_fills_in_progress 0' && break
			sleep 0.1
		done
	fi
done
echo "== x-lota-cache of a HEAD now: $(curl -s -I --aws-sigv4 "aws:amz:us-east-1:s3" \
	--user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" \
	"http://127.0.0.1:$lport/demo/weights.bin" | tr -d '\r' | sed -n 's/^x-lota-cache: //Ip')"
/usr/bin/python3 - "http://127.0.0.1:$lport" "$work/object" <<'PY'
import sys, boto3
s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1")
data = open(sys.argv[2], "rb").read(1 << 20)
r = s3.get_object(Bucket="demo", Key="weights.bin", Range="bytes=1000-1099")
body = r["Body"].read()
assert body == data[1000:1100], "range bytes differ"
print("== boto3 range read bytes=1000-1099 through lotad:", r["ResponseMetadata"]["HTTPStatusCode"],
      r["ContentRange"], "bytes ok")
PY
echo "== lotad metrics (excerpt)"
curl -s "http://127.0.0.1:$aport/metrics" | grep -E '^lota_(requests_total|cache_(hits|misses)_total|bytes_served_total|fill_bytes_total|cache_bytes)' | sed 's/^/   /' | head -20
