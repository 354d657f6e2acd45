#!/usr/bin/env bash
# test_awschunked.sh - aws-chunked uploads (STREAMING-AWS4-HMAC-SHA256-PAYLOAD) from an
# independent client: signed for lotad's own name, lotad verifies every chunk signature
# and re-signs the chain for the upstream (radosgw verifies it again); a tampered chunk
# is refused with 403 SignatureDoesNotMatch and nothing is stored; a body cut before the
# final chunk stores nothing. Runs against radosgw directly too (LOTA_TEST_DIRECT=1),
# which checks the client itself.
. "$(dirname "$0")/lib.sh"
it_require_rgw
it_setup

W=$IT_DIR/work
mkdir -p "$W"
B=lota-chunked
up() { "$IT_PY" "$IT_CLIENTS_DIR/awschunked.py" "$S3_ENDPOINT" "$B" "$@" \
	"$RGW_ALICE_ACCESS" "$RGW_ALICE_SECRET"; }

# settled: before "nothing stored" is asserted, the upload that failed must be over. The
# client saw its answer (or the close), so radosgw itself is done with it; lotad aborts its
# upstream transfer before it answers, and is done once it has counted the PUT and closed
# the client's connection (there is no lotad to ask with LOTA_TEST_DIRECT=1).
puts_before() { [ "${LOTA_TEST_DIRECT:-}" = 1 ] || it_requests_done put_object; }
# shellcheck disable=SC2317 # (runs through check)
settled() {
	[ "${LOTA_TEST_DIRECT:-}" = 1 ] && return 0
	it_wait_requests_done 30 put_object $(($1 + 1)) &&
		it_wait_metric 30 lota_connections_open 0
}

check "create bucket" it_curl alice -f -X PUT "$S3_ENDPOINT/$B"
# (radosgw answers 400 to an aws-chunked upload of an empty object, so sizes start at 1)
for size in 1 65536 $((3 * 1048576 + 12345)); do
	it_random_file "$W/in-$size" "$size"
	out=$(up "dir/chunked $size+" "$W/in-$size" --chunk 65536)
	check_eq "aws-chunked PUT of $size bytes -> 200" 200 "$(echo "$out" | head -n1)"
	: >"$W/out"
	it_curl alice -f -o "$W/out" "$S3_ENDPOINT/$B/dir/chunked%20$size%2B" >/dev/null
	check_eq "GET returns the $size bytes" "$(it_sha256 "$W/in-$size")" "$(it_sha256 "$W/out")"
done
it_random_file "$W/big" $((1048576 + 7))
out=$(up big-odd-chunks "$W/big" --chunk 100000)
check_eq "aws-chunked PUT with 100000-byte chunks -> 200" 200 "$(echo "$out" | head -n1)"

n0=$(puts_before)
out=$(up tampered "$W/big" --chunk 65536 --tamper 3)
check_eq "a tampered chunk is refused with 403" 403 "$(echo "$out" | head -n1)"
check_contains "a tampered chunk is SignatureDoesNotMatch" SignatureDoesNotMatch "$out"
check "the tampered upload is over" settled "$n0"
code=$(it_curl alice -s -o /dev/null -w '%{http_code}' -I "$S3_ENDPOINT/$B/tampered")
check_eq "nothing stored for the tampered upload" 404 "$code"

n0=$(puts_before)
out=$(up truncated "$W/big" --chunk 65536 --truncate)
check "a truncated chunk stream is not a success" test "$(echo "$out" | head -n1)" != 200
check "the truncated upload is over" settled "$n0"
code=$(it_curl alice -s -o /dev/null -w '%{http_code}' -I "$S3_ENDPOINT/$B/truncated")
check_eq "nothing stored for the truncated upload" 404 "$code"

for k in "dir/chunked 1+" "dir/chunked 65536+" "dir/chunked $((3 * 1048576 + 12345))+" big-odd-chunks; do
	it_curl alice -s -o /dev/null -X DELETE "$S3_ENDPOINT/$B/$(/usr/bin/python3 -c 'import sys,urllib.parse;print(urllib.parse.quote(sys.argv[1]))' "$k")"
done
check "delete bucket" it_curl alice -f -X DELETE "$S3_ENDPOINT/$B"
it_finish
