#!/usr/bin/env bash
# usage: bench/tls.sh [SIZE_MIB [SECONDS [ROUNDS]]]
#
# tls.sh - lotad's hit throughput over TLS (--tls-listen) against the same hits over its
# plain listener, in one run: one cached object of SIZE_MIB (default 64) read by wrk at
# c=1 and c=8, SECONDS (default 5) per listener, ROUNDS (default 3) interleaved rounds;
# prints the medians in MiB/s and the ratio TLS / plain. No target: the figure says what
# terminating TLS in lotad costs a warm read (AES-GCM in user space, no sendfile).
#
# Starts its own radosgw and lotad (scripts/stack.sh) with --endpoint-name localhost, a
# node CA in the stack's temp dir and a cache dir; both URLs are presigned for
# localhost (lotad verifies and re-signs with alice's key, an upstream HEAD per hit). Before
# measuring, the object is read once through each listener with curl (TLS verified with
# the node CA's bundle) and compared by sha256, and the second read must be a hit.
# LOTA_BENCH_LOTAD_ARGS adds flags to lotad (e.g. --no-encrypt, --tcp-congestion reno).
# Exits non-zero only on a malfunction, never on a figure.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/.." && pwd)
build=${LOTA_BUILD_DIR:-$src/build}
lota=$build/tools/lota
lotad=$build/daemon/lotad
size_mib=${1:-64}
secs=${2:-5}
rounds=${3:-3}
MiB=$((1 << 20))

die() {
	echo "tls.sh: $*" >&2
	exit 1
}
[ -x "$lotad" ] || die "no $lotad: build first"
command -v wrk >/dev/null || die "wrk is missing"

# shellcheck disable=SC1091
. "$src/scripts/stack.sh"
read -r TLS_PORT _ <<<"$(rgw__free_ports)"
tmpca=$(mktemp -d /tmp/lota-tlsbench.XXXXXX)
trap 'stack__cleanup; rm -rf "$tmpca"' EXIT
# shellcheck disable=SC2086
RGW_MEMSTORE_BYTES=$((size_mib * MiB + 512 * MiB)) stack_start "$lotad" --log-level warn \
	--endpoint-name localhost --tls-listen "127.0.0.1:$TLS_PORT" --ca-dir "$tmpca/ca" \
	--cache-dir "$tmpca/cache:$((size_mib + 64))MiB" --min-object-size 1 \
	${LOTA_BENCH_LOTAD_ARGS:-}
work=$STACK_DIR
BUNDLE=$tmpca/ca/bundle.pem
export AWS_ACCESS_KEY_ID=$RGW_ALICE_ACCESS AWS_SECRET_ACCESS_KEY=$RGW_ALICE_SECRET
export AWS_REGION=us-east-1
presign() { # ENDPOINT_URL METHOD
	"$lota" presign --endpoint "$1" --method "$2" --bucket bench --key obj --expires 2h
}
metric() {
	curl -sf "http://127.0.0.1:$LOTAD_ADMIN_PORT/metrics" |
		awk -v n="$1" '$1 == n {print $2; exit}'
}

/usr/bin/python3 - "$RGW_ENDPOINT" <<'PY'
import sys, boto3
boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1").create_bucket(Bucket="bench")
PY
head -c $((size_mib * MiB)) /dev/urandom >"$work/obj"
want=$(sha256sum <"$work/obj" | cut -d' ' -f1)
curl -sf -o /dev/null -X PUT -T "$work/obj" "$(presign "$RGW_ENDPOINT" PUT)" ||
	die "upload to radosgw failed"
PLAIN=$(presign "http://localhost:$LOTAD_PORT" GET)
TLS=$(presign "https://localhost:$TLS_PORT" GET)

# warm the cache, and check both listeners' bytes and labels
curl -sf -o "$work/got" "$PLAIN" || die "plain GET failed"
for _ in $(seq 300); do
	[ "$(metric lota_cache_fills_in_progress)" = 0 ] && break
	sleep 0.1
done
for which in plain tls; do
	url=$PLAIN
	[ $which = tls ] && url=$TLS
	curl -sf --cacert "$BUNDLE" -D "$work/h" -o "$work/got" "$url" || die "$which GET failed"
	[ "$(sha256sum <"$work/got" | cut -d' ' -f1)" = "$want" ] || die "$which: wrong bytes"
	grep -qi '^x-lota-cache: hit' "$work/h" || die "$which: the read is not a hit"
done

cat >"$work/summary.lua" <<'EOL'
done = function(summary, latency, requests)
	io.write(string.format("BENCH %d %d %d %d\n", summary.bytes, summary.duration,
		summary.requests, summary.errors.status + summary.errors.read))
end
EOL
# wrk_mibs URL CONNS: MiB/s of one run
wrk_mibs() {
	local t=$(($2 < 2 ? 1 : 2))
	wrk -t "$t" -c "$2" -d "${secs}s" --timeout 60s -s "$work/summary.lua" "$1" >"$work/wrk.out" 2>&1 ||
		{ cat "$work/wrk.out" >&2; die "wrk failed"; }
	awk '/^BENCH / {if ($5 > 0) exit 1; printf "%.0f\n", $2 / 1048576 / ($3 / 1e6)}' "$work/wrk.out" ||
		{ cat "$work/wrk.out" >&2; die "wrk saw errors"; }
}
median() { sort -g | awk '{v[NR] = $1} END {if (NR % 2) print v[(NR + 1) / 2];
	else printf "%.0f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

echo "# commit $(git -C "$src" rev-parse --short HEAD 2>/dev/null || echo unknown), nproc $(nproc), load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%Y-%m-%dT%H:%MZ)"
echo "# lotad hit throughput, one ${size_mib} MiB object, plain vs TLS (${LOTA_BENCH_LOTAD_ARGS:-default flags}); $rounds rounds of ${secs} s, medians"
printf '%-6s %12s %12s %10s\n' conns plain_MiB/s tls_MiB/s tls/plain
for c in 1 8; do
	: >"$work/p" && : >"$work/t"
	for _ in $(seq "$rounds"); do
		wrk_mibs "$PLAIN" $c >>"$work/p"
		wrk_mibs "$TLS" $c >>"$work/t"
	done
	p=$(median <"$work/p") t=$(median <"$work/t")
	printf '%-6s %12s %12s %10s\n' $c "$p" "$t" "$(awk -v a="$t" -v b="$p" 'BEGIN {printf "%.2f", (b > 0) ? a / b : 0}')"
done
kill -0 "$LOTAD_PID" || die "lotad died"
