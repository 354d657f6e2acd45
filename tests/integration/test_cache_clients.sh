#!/usr/bin/env bash
# test_cache_clients.sh - real clients read through lotad's node cache twice: the first
# read fills the cache, the second is served from it. awscli `s3 cp` of a 100 MiB object
# (parallel ranged GETs), boto3 download_file (parallel ranged GETs across extent
# boundaries), s3cmd get (HEAD, then GET), rclone copy (Go's own HTTP stack). Every file
# is compared by sha256 with the upload; the second read must move
# lota_bytes_served_total{source="cache"} by at least the object's size.
# lotad runs with --extent-size 16MiB --min-object-size 1MiB, so every object is several
# extents and no size is a multiple of the extent size.
# shellcheck source=lib.sh disable=SC2317 # (helpers run through check)
. "$(dirname "$0")/lib.sh"
[ "${LOTA_TEST_DIRECT:-0}" = 1 ] && it_skip "lotad-specific test (LOTA_TEST_DIRECT=1)"
it_require_rgw
it_require_boto3
it_require_cmd curl "$IT_AWS" s3cmd rclone
IT_LOTAD_ARGS=(--cache-dir "$IT_DIR/cache:2GiB" --extent-size 16MiB --min-object-size 1MiB)
it_setup

W=$IT_DIR/work
mkdir -p "$W/rc1" "$W/rc2"
B=lota-cacheclients
E=$S3_ENDPOINT
R=$RGW_ENDPOINT
MiB=$((1024 * 1024))
SERVED_CACHE='lota_bytes_served_total{source="cache"}'

mval() { it_metric "$1" || echo missing; }
wait_idle() { it_wait_metric 60 lota_cache_fills_in_progress 0; }
# served_check DESC OLD SIZE: bytes_served{source=cache} grew by >= SIZE since OLD.
served_check() {
	local now d
	now=$(mval "$SERVED_CACHE")
	case "$2 $now" in
	*missing*) d=missing ;;
	*) d=$((now - $2)) ;;
	esac
	check "$1: served from the cache (bytes_served{source=cache} +$d >= $3)" test "${d/missing/-1}" -ge "$3"
}
# only_hits XCS: an xc_list result with hits only ("N hit").
only_hits() { [ "$(wc -w <<<"$1")" -eq 2 ] && [ "$(awk '{ print $2 }' <<<"$1")" = hit ]; }
# xc_list DEBUG_LOG: the x-lota-cache values in a botocore debug log, sorted and counted.
xc_list() { grep -io "'x-lota-cache': '[a-z]*'" "$1" | sed "s/.*: '//; s/'//" | sort | uniq -c | tr -s ' \n' ' '; }

check_eq "create bucket" 200 "$(it_curl alice -s -o /dev/null -w '%{http_code}' -X PUT "$E/$B")"
declare -A SIZE=([aws]=$((100 * MiB)) [boto3]=$((40 * MiB + 7)) [s3cmd]=$((20 * MiB + 3))
	[rclone]=$((24 * MiB + 11)))
declare -A SHA
for k in aws boto3 s3cmd rclone; do
	it_random_file "$W/$k.src" "${SIZE[$k]}"
	SHA[$k]=$(it_sha256 "$W/$k.src")
	# uploaded at radosgw directly: the first read through lotad is cold
	it_curl alice -sf -o /dev/null -T "$W/$k.src" "$R/$B/$k.bin" || it_fail "upload $k.bin"
done

# --- awscli s3 cp, 100 MiB (multipart download: parallel 8 MiB ranged GETs)
for pass in 1 2; do
	wait_idle
	c0=$(mval "$SERVED_CACHE")
	rm -f "$W/aws.out"
	it_aws alice s3 cp --only-show-errors "s3://$B/aws.bin" "$W/aws.out" --debug 2>"$W/aws.dbg$pass"
	check_eq "awscli s3 cp 100 MiB, read $pass: bytes" "${SHA[aws]}" "$(it_sha256 "$W/aws.out" 2>/dev/null)"
	xcs=$(xc_list "$W/aws.dbg$pass")
	if [ "$pass" = 1 ]; then
		check_contains "awscli read 1: at least one miss (x-lota-cache:$xcs)" miss "$xcs"
	else
		served_check "awscli read 2" "$c0" "${SIZE[aws]}"
		check "awscli read 2: every GET and HEAD a hit (x-lota-cache:$xcs)" only_hits "$xcs"
	fi
done

# --- boto3 download_file: 5 MiB parallel ranged GETs of a 40 MiB object (16 MiB extents)
for pass in 1 2; do
	wait_idle
	c0=$(mval "$SERVED_CACHE")
	rm -f "$W/boto3.out"
	xcs=$(it_python "$IT_CLIENTS_DIR/cache_boto3.py" download "$B" boto3.bin "$W/boto3.out" \
		$((5 * MiB)) 6 2>"$W/boto3.err" | sort | uniq -c | tr -s ' \n' ' ')
	check_eq "boto3 download_file, read $pass: bytes" "${SHA[boto3]}" "$(it_sha256 "$W/boto3.out" 2>/dev/null)"
	check "boto3 read $pass: several ranged GETs (x-lota-cache:$xcs)" test "$(wc -w <<<"$xcs")" -ge 2
	if [ "$pass" = 2 ]; then
		served_check "boto3 read 2" "$c0" "${SIZE[boto3]}"
		check "boto3 read 2: every GET a hit (x-lota-cache:$xcs)" only_hits "$xcs"
	fi
done

# --- s3cmd get (a HEAD, which may pre-stage, then the GET)
for pass in 1 2; do
	wait_idle
	c0=$(mval "$SERVED_CACHE")
	it_s3cmd alice get --force "s3://$B/s3cmd.bin" "$W/s3cmd.out" >"$W/s3cmd.log" 2>&1
	check_eq "s3cmd get, read $pass: bytes" "${SHA[s3cmd]}" "$(it_sha256 "$W/s3cmd.out" 2>/dev/null)"
	[ "$pass" = 2 ] && served_check "s3cmd read 2" "$c0" "${SIZE[s3cmd]}"
done

# --- rclone copy (Go: its own HTTP client and signer)
for pass in 1 2; do
	wait_idle
	c0=$(mval "$SERVED_CACHE")
	it_rclone copy "alice:$B/rclone.bin" "$W/rc$pass" >"$W/rclone.log" 2>&1
	check_eq "rclone copy, read $pass: bytes" "${SHA[rclone]}" "$(it_sha256 "$W/rc$pass/rclone.bin" 2>/dev/null)"
	[ "$pass" = 2 ] && served_check "rclone read 2" "$c0" "${SIZE[rclone]}"
done

# --- curl --aws-sigv4 reads the object awscli cached
c0=$(mval "$SERVED_CACHE")
it_curl alice -s -o "$W/curl.out" "$E/$B/aws.bin"
check_eq "curl after awscli: bytes" "${SHA[aws]}" "$(it_sha256 "$W/curl.out")"
served_check "curl after awscli" "$c0" "${SIZE[aws]}"
it_finish
