#!/usr/bin/env bash
# test_client_stream.sh - lota_client_put_stream through `lota cp - s3://...`: an upload
# from a pipe without a temp file (TMPDIR points nowhere), against the endpoint under
# test (lotad, or radosgw with LOTA_TEST_DIRECT=1), checked on radosgw itself.
#
# - a 100 MiB pipe goes up as a multipart upload of 16 MiB parts in parallel: byte-exact
#   back, an ETag of 7 parts; a 1 MiB pipe is one PUT (an ETag without a part count); an
#   empty pipe an empty object.
# - a pipe cut mid-way (the producer goes silent after 40 MiB, lota gets SIGTERM once
#   radosgw lists its upload): exit 1, the upload aborted (ListMultipartUploads on
#   radosgw empty), no object; the same with SIGINT.
# - refused before any part (a missing bucket: NoSuchBucket; bob in alice's bucket:
#   AccessDenied) and after parts went up (a bucket quota hit half-way): exit 1 naming
#   the S3 error, and no unfinished upload left.
# shellcheck source=lib.sh disable=SC2317 # (helpers run through check)
. "$(dirname "$0")/lib.sh"
it_require_rgw
build=${LOTA_BUILD_DIR:-$IT_LIB_DIR/../../build}
lota=$build/tools/lota
[ -x "$lota" ] || it_die "lota is not built ($lota)"
it_setup

W=$IT_DIR/work
mkdir -p "$W"
B=lota-stream
export AWS_SHARED_CREDENTIALS_FILE=$IT_DIR/clients/aws-credentials
export AWS_CONFIG_FILE=$IT_DIR/clients/aws-config
# L PROFILE ARGS... : lota as PROFILE against the endpoint under test, no temp dir usable
L() {
	local p=$1
	shift
	TMPDIR=/nonexistent/lota-no-temp timeout 120 "$lota" "$@" --endpoint-url "$S3_ENDPOINT" \
		--profile "$p" --multipart-part-size 16MiB --multipart-threshold 16MiB --concurrency 4
}
# uploads BUCKET: the unfinished multipart uploads radosgw lists for BUCKET
uploads() {
	it_curl alice -s "$RGW_ENDPOINT/$1?uploads=" | grep -o '<UploadId>' | wc -l
}
etag_of() {
	it_curl alice -sI "$RGW_ENDPOINT/$B/$1" | tr -d '\r' | sed -n 's/^[Ee][Tt][Aa][Gg]: //p'
}
check "create bucket $B" it_aws alice s3api create-bucket --bucket "$B"

MiB=$((1024 * 1024))
it_random_file "$W/big" $((100 * MiB))
cat "$W/big" | L alice cp --quiet - "s3://$B/big" 2>"$W/err"
check_eq "a 100 MiB pipe goes up (exit 0)" "0 " "$? $(cat "$W/err")"
L alice cp --quiet "s3://$B/big" "$W/big.back"
check_eq "... byte-exact" "$(it_sha256 "$W/big")" "$(it_sha256 "$W/big.back")"
e=$(etag_of big)
check "... as 7 parts of 16 MiB ($e)" grep -qE '^"[0-9a-f]{32}-7"$' <<<"$e"
check_eq "... nothing unfinished on radosgw" 0 "$(uploads "$B")"

head -c "$MiB" "$W/big" | L alice cp --quiet - "s3://$B/small"
check_eq "a 1 MiB pipe goes up" 0 $?
e=$(etag_of small)
check_eq "... in one PUT (plain MD5 ETag)" "\"$(head -c "$MiB" "$W/big" | md5sum | cut -d' ' -f1)\"" "$e"
: | L alice cp --quiet - "s3://$B/empty"
check_eq "an empty pipe goes up" 0 $?
check_eq "... as an empty object" 0 "$(L alice cp "s3://$B/empty" - | wc -c)"

# cut_pipe SIGNAL KEY: a producer that sends 40 MiB then goes silent; SIGNAL to lota
# once radosgw lists the upload. Prints lota's exit status.
cut_pipe() {
	local sig=$1 key=$2 fifo=$W/fifo-$2 prod lp st
	mkfifo "$fifo"
	{
		head -c $((40 * MiB)) "$W/big"
		sleep 120
	} >"$fifo" &
	prod=$!
	# lota itself in the background, so that the signal reaches it
	TMPDIR=/nonexistent/lota-no-temp "$lota" cp --quiet - "s3://$B/$key" --endpoint-url \
		"$S3_ENDPOINT" --profile alice --multipart-part-size 16MiB --concurrency 4 \
		<"$fifo" 2>"$W/err-$key" &
	lp=$!
	listed() { [ "$(uploads "$B")" -ge 1 ]; }
	it_wait_for 30 listed || echo "# no upload listed" >&2
	kill "-$sig" "$lp"
	wait "$lp"
	st=$?
	pkill -P "$prod" sleep 2>/dev/null
	kill "$prod" 2>/dev/null
	wait "$prod" 2>/dev/null
	echo "$st"
}
for sig in TERM INT; do
	st=$(cut_pipe "$sig" "cut-$sig")
	check_eq "a pipe cut mid-way, SIG$sig: lota exits 1" 1 "$st"
	check_contains "... saying the upload was aborted" "aborted" "$(cat "$W/err-cut-$sig")"
	check_eq "... no unfinished upload left on radosgw" 0 "$(uploads "$B")"
	check_fails_with "... and no object" 404 it_curl alice -sf -o /dev/null "$RGW_ENDPOINT/$B/cut-$sig"
done

# refused up front, and half-way. Lfrom FILE BYTES PROFILE DEST: BYTES of FILE piped to lota
Lfrom() { head -c "$2" "$1" | L "$3" cp --quiet - "$4"; }
check_fails_with "a missing bucket: NoSuchBucket" NoSuchBucket \
	Lfrom "$W/big" $((40 * MiB)) alice "s3://no-such-bucket-$$/k"
check "bucket for bob's attempt" it_aws alice s3api create-bucket --bucket "$B-2"
check_fails_with "bob in alice's bucket: AccessDenied" AccessDenied \
	Lfrom "$W/big" $((40 * MiB)) bob "s3://$B-2/k"
check_eq "... no unfinished upload left" 0 "$(uploads "$B-2")"
Q=lota-stream-quota
check "bucket with a quota" it_aws alice s3api create-bucket --bucket "$Q"
check "quota of 40 MiB on $Q" timeout 60 radosgw-admin -c "$RGW_DIR/ceph.conf" quota set \
	--quota-scope=bucket --bucket="$Q" --max-size=$((40 * MiB))
check "quota enabled on $Q" timeout 60 radosgw-admin -c "$RGW_DIR/ceph.conf" quota enable \
	--quota-scope=bucket --bucket="$Q"
check_fails_with "a quota hit half-way: QuotaExceeded" QuotaExceeded \
	Lfrom "$W/big" $((100 * MiB)) alice "s3://$Q/k"
check_eq "... no unfinished upload left" 0 "$(uploads "$Q")"

it_finish
