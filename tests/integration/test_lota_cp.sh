#!/usr/bin/env bash
# test_lota_cp.sh - the `lota` tool's object commands (on liblota's client) against
# radosgw directly and through lotad: cp round trips, byte-exact, of 0 B, 1 B, 5 MiB and
# 100 MiB (1 GiB with LOTA_TEST_BIG=1), parts in parallel both ways; stdin and stdout; a
# wrong secret, a missing key and a missing bucket each named by their S3 error, exit
# status 1, and no file (nor temp file) left by a failed download; usage errors exit 2;
# a multipart upload refused half-way (bucket quota) leaves no unfinished upload on
# radosgw (ListMultipartUploads); 1,200 keys up and down with --recursive, listed over
# pages by ls, removed by rm --recursive (DeleteObjects); lota bench put and get, briefly.
. "$(dirname "$0")/lib.sh"
it_require_rgw
build=${LOTA_BUILD_DIR:?run under CTest (LOTA_BUILD_DIR)}
lota=$build/tools/lota
[ -x "$lota" ] || it_die "lota is not built ($lota)"
# 1 GiB twice (direct and through lotad) needs more than radosgw's default RAM store
[ "${LOTA_TEST_BIG:-}" = 1 ] && export RGW_MEMSTORE_BYTES=${RGW_MEMSTORE_BYTES:-$((6 << 30))}
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
[ "${LOTA_TEST_BIG:-}" = 1 ] && sizes+=($((1024 * 1024 * 1024)))
for s in "${sizes[@]}"; do
	it_random_file "$W/src-$s" "$s"
done

endpoints=("direct=$RGW_ENDPOINT")
[ "${LOTA_TEST_DIRECT:-}" = 1 ] || endpoints+=("lotad=$S3_ENDPOINT")
for pair in "${endpoints[@]}"; do
	name=${pair%%=*} ep=${pair#*=}
	for s in "${sizes[@]}"; do
		# 8 MiB parts down, 20 MiB parts up above 16 MiB: both split for 100 MiB
		check "$name: cp up $s bytes" L "$ep" alice cp --quiet "$W/src-$s" "s3://$B/$name/obj-$s" \
			--multipart-threshold 16MiB --multipart-part-size 20MiB
		check "$name: cp down $s bytes" L "$ep" alice cp --quiet "s3://$B/$name/obj-$s" "$W/down-$name-$s" \
			--part-size 8MiB --concurrency 8
		check_eq "$name: $s bytes round trip byte-exact" "$(it_sha256 "$W/src-$s")" "$(it_sha256 "$W/down-$name-$s" 2>/dev/null)"
	done
	big=$((100 * 1024 * 1024))
	etag=$(it_curl alice -sI "$ep/$B/$name/obj-$big" | tr -d '\r' | sed -n 's/^[Ee][Tt][Aa][Gg]: //p')
	check "$name: 100 MiB went up in 5 parts ($etag)" grep -qE '^"[0-9a-f]{32}-5"$' <<<"$etag"
	# stdin / stdout
	head -c 3000000 "$W/src-$big" | L "$ep" alice cp --quiet - "s3://$B/$name/stdin" >/dev/null 2>"$W/err"
	check_eq "$name: stdin up, stdout down" "$(head -c 3000000 "$W/src-$big" | sha256sum | cut -d' ' -f1)" \
		"$(L "$ep" alice cp "s3://$B/$name/stdin" - --part-size 1MiB | sha256sum | cut -d' ' -f1)"
	# a destination that is not a regular file is written in order, never replaced:
	# a FIFO, and (root) a character device of the test's own like /dev/null
	mkfifo "$W/fifo-$name"
	sha256sum <"$W/fifo-$name" | cut -d' ' -f1 >"$W/fifo-$name.sha" &
	fifo_reader=$!
	check "$name: cp down into a FIFO" L "$ep" alice cp --quiet "s3://$B/$name/obj-$big" "$W/fifo-$name" --part-size 8MiB
	wait "$fifo_reader"
	check_eq "$name: the FIFO's reader got every byte in order" "$(it_sha256 "$W/src-$big")" "$(cat "$W/fifo-$name.sha")"
	check "$name: the FIFO is still a FIFO" test -p "$W/fifo-$name"
	if [ "$(id -u)" = 0 ]; then
		mknod -m 666 "$W/null-$name" c 1 3
		check "$name: cp down into a null device" L "$ep" alice cp --quiet "s3://$B/$name/obj-1" "$W/null-$name"
		check "$name: the device is still a character device" test -c "$W/null-$name"
	fi
	# a new file gets 0666 less the umask, as cp and aws s3 cp give it
	(umask 027 && L "$ep" alice cp --quiet "s3://$B/$name/obj-1" "$W/umask-$name")
	check_eq "$name: a downloaded file's mode follows the umask" 640 "$(stat -c %a "$W/umask-$name")"
	# errors, and nothing left behind by a failed download
	mkdir -p "$W/empty-$name"
	check_fails_with "$name: wrong secret -> SignatureDoesNotMatch" SignatureDoesNotMatch \
		L "$ep" wrongsecret cp "s3://$B/$name/obj-1" "$W/empty-$name/x"
	check_fails_with "$name: missing key -> NoSuchKey" NoSuchKey \
		L "$ep" alice cp "s3://$B/$name/nope" "$W/empty-$name/x"
	check_fails_with "$name: missing bucket -> NoSuchBucket" NoSuchBucket \
		L "$ep" alice cp "s3://no-such-bucket-$$/k" "$W/empty-$name/x"
	check_fails_with "$name: bob reads alice's object -> AccessDenied" AccessDenied \
		L "$ep" bob cp "s3://$B/$name/obj-1" "$W/empty-$name/x"
	check_eq "$name: failed downloads left no file, no temp file" "" "$(ls -A "$W/empty-$name")"
	L "$ep" alice cp "s3://$B/$name/nope" "$W/empty-$name/x" >/dev/null 2>&1
	check_eq "$name: exit status 1 for a failed copy" 1 $?
	L "$ep" alice cp "s3://$B/$name/nope" >/dev/null 2>&1
	check_eq "$name: exit status 2 for a usage error" 2 $?
done

# A multipart upload refused half-way is aborted: radosgw keeps no unfinished upload.
QB=lota-client-quota
check "create bucket $QB" it_aws alice s3api create-bucket --bucket "$QB"
check "quota of 1 MiB on $QB" timeout 60 radosgw-admin -c "$RGW_DIR/ceph.conf" quota set \
	--quota-scope=bucket --bucket="$QB" --max-size=1048576
check "quota enabled on $QB" timeout 60 radosgw-admin -c "$RGW_DIR/ceph.conf" quota enable \
	--quota-scope=bucket --bucket="$QB"
for pair in "${endpoints[@]}"; do
	name=${pair%%=*} ep=${pair#*=}
	check_fails_with "$name: multipart put over the quota fails with QuotaExceeded" QuotaExceeded \
		L "$ep" alice cp "$W/src-$((100 * 1024 * 1024))" "s3://$QB/$name-big" \
		--multipart-threshold 5MiB --multipart-part-size 5MiB --concurrency 4
	uploads=$(it_curl alice "$RGW_ENDPOINT/$QB?uploads=")
	check_contains "$name: ListMultipartUploads answers" "ListMultipartUploadsResult" "$uploads"
	check_eq "$name: no unfinished upload left on radosgw" "" "$(grep -o '<UploadId>[^<]*' <<<"$uploads")"
done

EP=$S3_ENDPOINT # the endpoint under test: lotad (radosgw with LOTA_TEST_DIRECT=1)
# 1,200 keys over pages of 1,000
mkdir -p "$W/many"
for i in $(seq -w 1 1200); do printf '%s' "$i" >"$W/many/k$i"; done
check "upload 1,200 small objects (--recursive)" L "$EP" alice cp --quiet --recursive "$W/many" "s3://$B/many"
check_eq "ls --recursive lists 1,200 keys over two pages" 1200 "$(L "$EP" alice ls --recursive "s3://$B/many/" | wc -l)"
check_eq "ls shows a folder as PRE" "PRE many/" "$(L "$EP" alice ls "s3://$B/" | grep -o 'PRE many/')"
check_eq "common flags before the command (lota --endpoint-url URL ls ...)" 1200 \
	"$(timeout 60 "$lota" --endpoint-url "$EP" --profile alice ls --recursive "s3://$B/many/" | wc -l)"
check "download them all (--recursive)" L "$EP" alice cp --quiet --recursive "s3://$B/many/" "$W/many-down"
check_eq "every one of them byte-exact" "" "$(diff -r "$W/many" "$W/many-down" 2>&1)"
check "rm --recursive (DeleteObjects)" L "$EP" alice rm --recursive "s3://$B/many/"
check_eq "nothing left under many/" 0 "$(L "$EP" alice ls --recursive "s3://$B/many/" | wc -l)"

# lota bench, briefly: it runs, and reports what it measured
for op in put get; do
	out=$(L "$EP" alice bench "$op" "s3://$B/bench" --objects 4 --size 64KiB --concurrency 4 --duration 1s 2>&1)
	check_eq "bench $op exits 0" 0 $?
	check "bench $op reports ops/s and p50/p99: $(tail -n 1 <<<"$out")" \
		grep -qE '^ops [1-9][0-9]*  errors 0  ops/s [0-9.]+  throughput [0-9.]+ MiB/s  latency p50 [0-9.]+ ms  p99 [0-9.]+ ms$' <<<"$out"
done
it_finish
