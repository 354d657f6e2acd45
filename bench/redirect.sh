#!/usr/bin/env bash
# redirect.sh - the cost of the LD_PRELOAD shim, per request and per connect, in one run.
#
# Starts a radosgw test cluster and lotad in front of it, stores a small public object,
# and times tests/integration/clients/preload_client.c doing N anonymous HEADs of it
#   keep-alive: N HEADs on one kept-alive connection (one connect)
#   connects:   N connections with one HEAD each
# two ways that end at the same lotad: "plain" asks lotad's address itself, without the
# shim; "shim" asks radosgw's address with LD_PRELOAD=liblota-preload.so and
# LOTA_REDIRECT naming it, so the shim's resolver and connect() send it to lotad. The
# difference is the shim alone. Each case runs ROUNDS times, alternating, and the median
# is printed in microseconds per HEAD with the ratio shim/plain (target for keep-alive:
# <= 1.05; the redirect itself costs per connect only). Absolute figures drift on a
# shared VM; compare the ratios of one run.
#
# Then the warm read of one SIZE_MIB object (alice's key, presigned; read once first so
# that it is cached, and checked byte-exact and a hit through each way) by curl, ROUNDS
# times per way, alternating: through the endpoint change (lotad's own address), the
# shim (radosgw's address, LD_PRELOAD) and, as root, the eBPF redirect (radosgw's
# address, curl in a cgroup lotad redirects); medians in MiB/s and the ratio to the
# endpoint change (target >= 0.95). Not root: the eBPF row says so and is skipped.
# Last, bench/tls.sh with the same size: the TLS hit vs the plain hit (reported, no
# target), LOTA_BENCH_TLS_SECONDS (default 5) per run; LOTA_BENCH_NO_TLS=1 skips it.
#
#   bench/redirect.sh [N] [ROUNDS] [SIZE_MIB]   (default 20000 HEADs, 3 rounds, 1024 MiB)
# Needs a built tree in build/ (or LOTA_BUILD_DIR) and the packages of scripts/deps.sh.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/.." && pwd)
build=${LOTA_BUILD_DIR:-$src/build}
n=${1:-20000}
rounds=${2:-3}
size_mib=${3:-1024}
MiB=$((1 << 20))
lotad=$build/daemon/lotad
shim=$build/preload/liblota-preload.so
for b in "$lotad" "$shim"; do [ -e "$b" ] || { echo "build first: $b missing" >&2; exit 1; }; done

. "$src/scripts/stack.sh"
# eBPF (root): lotad redirects the connects of the processes in a cgroup of this run.
cg='' ebpf=()
cg2=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
if [ "$(id -u)" -eq 0 ] && [ -n "$cg2" ] && grep -q lota_connect4 "$lotad"; then
	cg=$cg2/lota-bench-redirect-$$
	mkdir "$cg"
	ebpf=(--redirect-ebpf --redirect-cgroup "$cg")
fi
cachedir=$(mktemp -d /tmp/lota-redirectbench.XXXXXX)
cleanup() {
	stack__cleanup
	STACK_DIR='' LOTAD_PID=''
	[ -n "$cg" ] && [ -d "$cg" ] && rmdir "$cg"
	rm -rf "$cachedir"
}
# shellcheck disable=SC2086
RGW_MEMSTORE_BYTES=$((size_mib * MiB + 512 * MiB)) stack_start "$lotad" --log-level warn \
	--cache-dir "$cachedir:$((size_mib + 64))MiB" --min-object-size 1 "${ebpf[@]}" \
	${LOTA_BENCH_LOTAD_ARGS:-}
trap cleanup EXIT
work=$STACK_DIR
pc=$work/preload_client
"${CC:-cc}" -std=c11 -D_GNU_SOURCE -O2 -pthread -o "$pc" \
	"$src/tests/integration/clients/preload_client.c"

/usr/bin/python3 - "$RGW_ENDPOINT" "$RGW_ALICE_ACCESS" "$RGW_ALICE_SECRET" <<'PY'
import sys, boto3
s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1",
                  aws_access_key_id=sys.argv[2], aws_secret_access_key=sys.argv[3])
s3.create_bucket(Bucket="bench")
s3.put_object(Bucket="bench", Key="pub", Body=b"x" * 100, ACL="public-read")
PY
rgw_port=${RGW_ENDPOINT##*:}

requests() { # all requests lotad has ended
	curl -sf -m 5 "http://127.0.0.1:$LOTAD_ADMIN_PORT/metrics" |
		awk '$1 ~ /^lota_request_duration_seconds_count/ { s += $2 } END { print s + 0 }'
}
run() { # way mode -> elapsed ns of N HEADs
	local way=$1 mode=$2 out
	if [ "$way" = plain ]; then
		out=$("$pc" "--$mode" "$n" 127.0.0.1 "$LOTAD_PORT" /bench/pub /dev/null)
	else
		out=$(LD_PRELOAD=$shim LOTA_REDIRECT=127.0.0.1:$rgw_port \
			LOTA_ENDPOINT=127.0.0.1:$LOTAD_PORT \
			"$pc" "--$mode" "$n" 127.0.0.1 "$rgw_port" /bench/pub /dev/null)
	fi
	echo "${out#elapsed_ns=}"
}
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# The shim's HEADs must reach lotad, or this measures radosgw: count them once.
before=$(requests)
run shim heads >/dev/null
deadline=$((SECONDS + 10))
until [ "$(requests)" -ge $((before + n)) ]; do
	if [ $SECONDS -ge $deadline ]; then
		echo "error: the shim's HEADs did not reach lotad ($(requests) - $before < $n)" >&2
		exit 1
	fi
	sleep 0.1
done

printf '%-12s %8s %14s %14s %8s\n' case N plain_us/HEAD shim_us/HEAD ratio
for mode in heads connects; do
	: >"$work/plain" && : >"$work/shim"
	for ((r = 0; r < rounds; r++)); do
		run plain $mode >>"$work/plain"
		run shim $mode >>"$work/shim"
	done
	p=$(median <"$work/plain") s=$(median <"$work/shim")
	label=keep-alive
	[ $mode = connects ] && label=connects
	awk -v l="$label" -v n="$n" -v p="$p" -v s="$s" 'BEGIN {
		printf "%-12s %8d %14.2f %14.2f %7.3fx\n", l, n, p / n / 1000, s / n / 1000,
		       (p > 0 ? s / p : 0) }'
done

# ---- the warm read through each way vs the endpoint change
lota=$build/tools/lota
presign() { # ENDPOINT_URL
	AWS_ACCESS_KEY_ID=$RGW_ALICE_ACCESS AWS_SECRET_ACCESS_KEY=$RGW_ALICE_SECRET \
		"$lota" presign --endpoint "$1" --bucket bench --key big --expires 2h
}
metric() {
	curl -sf -m 5 "http://127.0.0.1:$LOTAD_ADMIN_PORT/metrics" | awk -v n="$1" '$1 == n { print $2; exit }'
}
head -c $((size_mib * MiB)) /dev/urandom >"$work/big"
want=$(sha256sum <"$work/big" | cut -d' ' -f1)
curl -sf -o /dev/null -X PUT -T "$work/big" \
	"$(AWS_ACCESS_KEY_ID=$RGW_ALICE_ACCESS AWS_SECRET_ACCESS_KEY=$RGW_ALICE_SECRET \
		"$lota" presign --endpoint "$RGW_ENDPOINT" --method PUT --bucket bench --key big)"
rm -f "$work/big"
EP_URL=$(presign "http://127.0.0.1:$LOTAD_PORT")
UP_URL=$(presign "$RGW_ENDPOINT")
# read WAY [CURL_ARGS...]: curl's bytes/s for one whole read through WAY
read_via() {
	local way=$1
	shift
	case $way in
	endpoint) curl -sf "$@" "$EP_URL" ;;
	shim) LD_PRELOAD=$shim LOTA_REDIRECT=127.0.0.1:$rgw_port LOTA_ENDPOINT=127.0.0.1:$LOTAD_PORT \
		curl -sf "$@" "$UP_URL" ;;
	ebpf) (echo "$BASHPID" >"$cg/cgroup.procs" && exec curl -sf "$@" "$UP_URL") ;;
	esac
}
ways="endpoint shim"
[ -n "$cg" ] && ways="endpoint shim ebpf"
read_via endpoint -o /dev/null
deadline=$((SECONDS + 600))
until [ "$(metric lota_cache_fills_in_progress)" = 0 ]; do
	[ $SECONDS -lt $deadline ] || { echo "error: the fill did not end" >&2; exit 1; }
	sleep 0.1
done
for way in $ways; do
	read_via "$way" -D "$work/h" -o "$work/got"
	[ "$(sha256sum <"$work/got" | cut -d' ' -f1)" = "$want" ] ||
		{ echo "error: $way: wrong bytes" >&2; exit 1; }
	grep -qi '^x-lota-cache: hit' "$work/h" || { echo "error: $way: not a hit" >&2; exit 1; }
done
rm -f "$work/got"
echo
echo "# warm read of one ${size_mib} MiB object by curl, $rounds rounds, medians"
printf '%-12s %12s %14s\n' way MiB/s vs_endpoint
for way in $ways; do : >"$work/r.$way"; done
for ((r = 0; r < rounds; r++)); do
	for way in $ways; do
		read_via "$way" -o /dev/null -w '%{speed_download}\n' >>"$work/r.$way"
	done
done
base=$(median <"$work/r.endpoint")
for way in $ways; do
	v=$(median <"$work/r.$way")
	awk -v w="$way" -v v="$v" -v b="$base" 'BEGIN {
		printf "%-12s %12.0f %13.3fx\n", w, v / 1048576, (b > 0 ? v / b : 0) }'
done
[ -n "$cg" ] || echo "ebpf         skipped: not root (or no cgroup v2, or lotad without eBPF)"
kill -0 "$LOTAD_PID" || { echo "error: lotad died" >&2; exit 1; }

# ---- the TLS hit vs the plain hit (its own stack: this one is stopped first)
cleanup
trap - EXIT
if [ "${LOTA_BENCH_NO_TLS:-0}" != 1 ]; then
	echo
	"$here/tls.sh" "$size_mib" "${LOTA_BENCH_TLS_SECONDS:-5}" "$rounds"
fi
