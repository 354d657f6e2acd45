#!/usr/bin/env bash
# test_client.sh - liblota's S3 client (lota/client.h) through the examples that use it,
# against radosgw directly and through lotad (with a node cache): ranges of a 100 MiB
# object read in parallel parts, byte-exact; a wrong secret, a missing key and a missing
# bucket each giving their S3 error; the threaded data loader (reused buffers), the C++
# example and the locality-aware one reading what was written; pre-stage through lotad,
# then hits, and `lota cluster` showing them. (The `lota` tool's round trips are
# test_lota_cp.sh.)
. "$(dirname "$0")/lib.sh"
it_require_rgw
build=${LOTA_BUILD_DIR:?run under CTest (LOTA_BUILD_DIR)}
lota=$build/tools/lota
ex=$build/examples
[ -x "$lota" ] || it_die "lota is not built ($lota)"
IT_LOTAD_ARGS=(--cache-dir "$IT_DIR/cache:2GiB" --no-encrypt)
mkdir -p "$IT_DIR/cache"
it_setup

W=$IT_DIR/work
mkdir -p "$W"
B=lota-client
export AWS_SHARED_CREDENTIALS_FILE=$IT_DIR/clients/aws-credentials
export AWS_CONFIG_FILE=$IT_DIR/clients/aws-config
# L ENDPOINT PROFILE ARGS... : the lota tool against ENDPOINT as PROFILE
L() {
	local ep=$1 p=$2
	shift 2
	timeout 300 "$lota" "$@" --endpoint-url "$ep" --profile "$p"
}

check "create bucket $B" it_aws alice s3api create-bucket --bucket "$B"

sizes=(0 1 $((5 * 1024 * 1024)) $((100 * 1024 * 1024)))
for s in "${sizes[@]}"; do
	it_random_file "$W/src-$s" "$s"
	check "upload $s bytes" L "$RGW_ENDPOINT" alice cp --quiet "$W/src-$s" "s3://$B/direct/obj-$s"
done
big=$((100 * 1024 * 1024))
endpoints=("direct=$RGW_ENDPOINT")
[ "${LOTA_TEST_DIRECT:-}" = 1 ] || endpoints+=("lotad=$S3_ENDPOINT")
for pair in "${endpoints[@]}"; do
	name=${pair%%=*} ep=${pair#*=}
	# ranges (the example reads a range with lota_client_get_buffer)
	for r in "0 1" "5 100" "9000000 12000000" "$((big - 10)) 10" "$((big - 10)) 1000"; do
		set -- $r
		want=$(tail -c +$(($1 + 1)) "$W/src-$big" | head -c "$2" | sha256sum | cut -d' ' -f1)
		got=$(LOTA_ENDPOINT=$ep AWS_PROFILE=alice "$ex/example_get_range" "$B" "direct/obj-$big" "$1" "$2" | sha256sum | cut -d' ' -f1)
		check_eq "$name: range offset $1 length $2" "$want" "$got"
	done
	G() { LOTA_ENDPOINT=$ep AWS_PROFILE=$1 "$ex/example_get_range" "${@:2}"; }
	check_fails_with "$name: wrong secret -> SignatureDoesNotMatch" SignatureDoesNotMatch G wrongsecret "$B" direct/obj-1
	check_fails_with "$name: missing key -> NoSuchKey" NoSuchKey G alice "$B" direct/nope
	check_fails_with "$name: missing bucket -> NoSuchBucket" NoSuchBucket G alice "no-such-bucket-$$" k
	check_fails_with "$name: bob reads alice's object -> 403" 403 G bob "$B" direct/obj-1
done

EP=$S3_ENDPOINT # the endpoint under test: lotad (radosgw with LOTA_TEST_DIRECT=1)
# The examples read what was written.
shards=()
for s in 1 $((5 * 1024 * 1024)) $((100 * 1024 * 1024)); do shards+=("direct/obj-$s"); done
fnv() { /usr/bin/python3 -c '
import sys
h = 1469598103934665603
for b in open(sys.argv[1], "rb").read():
    h = ((h ^ b) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
print("%016x" % h)' "$1"; }
want=$(for s in 1 $((5 * 1024 * 1024)) $((100 * 1024 * 1024)); do echo "direct/obj-$s $s $(fnv "$W/src-$s")"; done | sort)
got=$(LOTA_ENDPOINT=$EP AWS_PROFILE=alice "$ex/example_loader" -t 3 "$B" "${shards[@]}" "${shards[@]}" | sort -u)
check_eq "example_loader: 3 threads, reused buffers, every shard right" "$want" "$got"
got=$(LOTA_ENDPOINT=$EP AWS_PROFILE=alice "$ex/example_loader_cpp" "$B" "${shards[@]}" | sort)
check_eq "example_loader_cpp reads the same bytes" "$want" "$got"
out=$(LOTA_ENDPOINT=$EP AWS_PROFILE=alice "$ex/example_locality" "$B" direct/obj-)
check_eq "example_locality reads every object (no cluster: all remote)" \
	"$(printf 'remote direct/obj-%s %s\n' 0 0 1 1 5242880 5242880 104857600 104857600 | sort)" "$(sort <<<"$out")"

# Pre-stage through lotad, then hits.
if [ "${LOTA_TEST_DIRECT:-}" != 1 ]; then
	for i in 1 2; do
		check "upload pre/obj-$i" L "$EP" alice cp --quiet "$W/src-$((5 * 1024 * 1024))" "s3://$B/pre/obj-$i"
	done
	fills0=$(it_metric0 lota_fill_bytes_total)
	out=$(L "$EP" alice prestage "s3://$B/pre/")
	check_eq "prestage pre/ names 2 objects" "prestage: 2 objects under s3://$B/pre/" "$out"
	check "both objects filled in the background" it_wait_metric_ge 30 lota_fill_bytes_total $((fills0 + 2 * 5 * 1024 * 1024))
	check "no fill in progress" it_wait_metric 30 lota_cache_fills_in_progress 0
	for i in 1 2; do
		hdr=$(it_curl alice -s -D - -o "$W/pre-$i" "$EP/$B/pre/obj-$i" | tr -d '\r')
		check_contains "pre/obj-$i is a hit after prestage" "x-lota-cache: hit" "$hdr"
	done
	# members from /cluster when the node has one; the hit rate from /metrics in any case
	out=$("$lota" cluster --admin-url "http://127.0.0.1:$IT_LOTAD_ADMIN_PORT" 2>&1)
	check_eq "lota cluster exits 0" 0 $?
	check "lota cluster shows the node's hits and hit rate: $(tail -n 1 <<<"$out")" \
		grep -qE '^node: hits [1-9][0-9]*, misses [0-9]+, hit rate [0-9.]+%, cache ' <<<"$out"
fi
it_finish
