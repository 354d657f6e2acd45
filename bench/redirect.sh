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
#   bench/redirect.sh [N] [ROUNDS]        (default 20000 HEADs, 3 rounds)
# Needs a built tree in build/ (or LOTA_BUILD_DIR) and the packages of scripts/deps.sh.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/.." && pwd)
build=${LOTA_BUILD_DIR:-$src/build}
n=${1:-20000}
rounds=${2:-3}
lotad=$build/daemon/lotad
shim=$build/preload/liblota-preload.so
for b in "$lotad" "$shim"; do [ -e "$b" ] || { echo "build first: $b missing" >&2; exit 1; }; done

. "$src/scripts/stack.sh"
stack_start "$lotad" --log-level warn ${LOTA_BENCH_LOTAD_ARGS:-}
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
