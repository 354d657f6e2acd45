#!/usr/bin/env bash
# test_cache_foreign_keys.sh - reads signed with keys lotad does not hold are cached, and
# authorized by the upstream every time (docs/architecture.md §3.4, second form).
#
# lotad holds alice's key only (a credentials file without bob). bob's programs are
# "redirected": they sign for radosgw's own endpoint and their connections go to lotad
# (curl --connect-to; boto3 with its connect redirected, as the shim or eBPF would), so
# lotad forwards bob's own signed request with an added If-None-Match of its copy:
#   - bob's private object read with curl --aws-sigv4 and boto3 (header form) and a
#     presigned URL: the first read a miss, the second a hit (x-lota-cache, metrics,
#     radosgw's 304), bytes exact by sha256; ranges across extents and suffixes, HEAD;
#     through a --redirect name too, path-style and virtual-hosted (radosgw's
#     rgw_dns_name), and a name not listed is not the upstream's;
#   - without --fill-credentials a 100-byte range stores nothing (no whole extent in it);
#   - attacks on the cached object: alice (no grant), an unknown key, bob's key with a
#     wrong secret, an expired presigned URL, alice's presigned URL, anonymous GET and
#     HEAD: 403, no byte of the object (a marker string every 4 KiB is grepped for), no
#     byte served from the cache meanwhile;
#   - an overwrite made at radosgw directly is seen on the next read;
#   - lotad restarted: the first read of an object cached before is a hit (its copy is
#     known again from the store), with radosgw's 304;
#   - with --fill-credentials operator (a third user bob granted read): a 100-byte range of
#     a cold 3-extent object fills its whole extent, a full read fills the others, each
#     once; a denied read of a cold object fills nothing.
# shellcheck source=lib.sh disable=SC2317 # (helpers run through check)
. "$(dirname "$0")/lib.sh"
[ "${LOTA_TEST_DIRECT:-0}" = 1 ] && it_skip "lotad-specific test (LOTA_TEST_DIRECT=1)"
it_require_rgw
it_require_cmd curl grep
C=$IT_DIR/cache
COMMON=(--cache-dir "$C:1GiB" --extent-size 1MiB --min-object-size 1MiB)
IT_LOTAD_ARGS=("${COMMON[@]}")
it_setup

W=$IT_DIR/work
mkdir -p "$W"
MiB=$((1024 * 1024))
UP=http://127.0.0.1:$RGW_PORT
# another name of radosgw (its rgw_dns_name): a redirect name for lotad
RNAME=localhost
B=lota-foreign
RND=$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
MARK=LOTA-FOREIGN-MARKER-$RND
SERVED_CACHE='lota_bytes_served_total{source="cache"}'
FILLED=lota_fill_bytes_total

# lotad with alice's key only (and, for --fill-credentials, the operator's).
it_creds_file "$W/creds-alice" alice
chmod 600 "$W/creds-alice"
it_creds_with_operator "$W/creds-alice" "$W/creds-alice-operator"
IT_LOTAD_CREDENTIALS=$W/creds-alice
IT_LOTAD_ARGS=("${COMMON[@]}" --redirect "$RNAME:$RGW_PORT" --upstream-virtual-hosted)
lotad_restart

# mkobj PATH SIZE: random bytes with the marker every 4 KiB.
mkobj() { it_mkobj_marked "$1" "$MARK" "$2"; }
hdr() { tr -d '\r' <"$W/hdr" | sed -n "s/^$1: //Ip" | tail -n 1; }
# sig PROFILE: curl's --aws-sigv4 arguments for PROFILE.
sig() {
	it_keys "$1"
	SIG=(--aws-sigv4 "aws:amz:$RGW_REGION:s3" --user "$IT_AK:$IT_SK"
		-H "x-amz-content-sha256: UNSIGNED-PAYLOAD")
}
# direct PROFILE CURL_ARGS...: straight to radosgw (the test's own set-up, around lotad).
direct() {
	sig "$1"
	timeout 60 curl -sS "${SIG[@]}" "${@:2}"
}
# req PROFILE|anonymous CURL_ARGS... (URLs of radosgw's endpoint, connected to lotad):
# status in ST, x-lota-cache in XC, body $W/body, head $W/hdr.
req() {
	local p=$1 a=()
	shift
	: >"$W/body"
	: >"$W/hdr"
	[ "$p" = anonymous ] || {
		sig "$p"
		a=("${SIG[@]}")
	}
	ST=$(timeout 60 curl -s "${a[@]}" --connect-to "127.0.0.1:$RGW_PORT:127.0.0.1:$IT_LOTAD_PORT" \
		--connect-to "$RNAME:$RGW_PORT:127.0.0.1:$IT_LOTAD_PORT" \
		--connect-to "$B.$RNAME:$RGW_PORT:127.0.0.1:$IT_LOTAD_PORT" \
		-o "$W/body" -D "$W/hdr" -w '%{http_code}' "$@") || true
	XC=$(hdr x-lota-cache)
}
# boto PROFILE ARGS...: clients/foreign_boto3.py as PROFILE, redirected to lotad.
boto() {
	it_keys "$1"
	AWS_ACCESS_KEY_ID=$IT_AK AWS_SECRET_ACCESS_KEY=$IT_SK \
		it_python "$IT_CLIENTS_DIR/foreign_boto3.py" "$UP" "127.0.0.1:$IT_LOTAD_PORT" "${@:2}"
}
presign() { # PROFILE KEY EXPIRES
	it_keys "$1"
	AWS_ACCESS_KEY_ID=$IT_AK AWS_SECRET_ACCESS_KEY=$IT_SK \
		it_python "$IT_CLIENTS_DIR/foreign_boto3.py" "$UP" - presign "$B" "$2" "$3"
}
absent() { ! grep -q -a -F -- "$1" "${@:2}"; }
# get DESC PROFILE EXPECTED_STATUS EXPECTED_XC FILE CURL_ARGS...: a read and its bytes.
get() {
	local d=$1 p=$2 st=$3 xc=$4 f=$5
	shift 5
	req "$p" "$@"
	check_eq "$d: status" "$st" "$ST"
	check_eq "$d: x-lota-cache" "$xc" "$XC"
	check_eq "$d: bytes" "$(it_sha256 "$f")" "$(it_sha256 "$W/body")"
}
# part FILE FIRST LAST: bytes FIRST..LAST of FILE into $W/part.
part() { tail -c +$(($2 + 1)) "$1" | head -c $(($3 - $2 + 1)) >"$W/part"; }
denied() { # DESC PROFILE|anonymous CURL_ARGS...
	local d=$1
	shift
	req "$@"
	check_eq "$d: 403" 403 "$ST"
	check "$d: not from the cache (x-lota-cache: $XC)" test "$XC" != hit
	check "$d: no object bytes in the response" absent "$MARK" "$W/body" "$W/hdr"
}
wait_idle() { it_wait_metric 30 lota_cache_fills_in_progress 0; }

O1=$W/o1 O2=$W/o2 O3=$W/o3 O4=$W/o4 NEW=$W/o1-new
mkobj "$O1" $((3 * MiB + 4321))
mkobj "$O2" $((2 * MiB + 7))
mkobj "$O3" $((3 * MiB))
mkobj "$O4" $((3 * MiB))
mkobj "$NEW" $((3 * MiB + 99))
check_eq "bob creates a private bucket at radosgw" 200 \
	"$(direct bob -o /dev/null -w '%{http_code}' -X PUT "$UP/$B")"
for o in o1 o2; do
	check_eq "bob uploads $o at radosgw" 200 \
		"$(direct bob -o /dev/null -w '%{http_code}' -T "$W/$o" "$UP/$B/$o")"
done
ETAG1=$(direct bob -I "$UP/$B/o1" | tr -d '\r' | sed -n 's/^ETag: //Ip')

# --- the new flags refuse bad values with the key and the reason
out=$("$(it_lotad_bin)" --upstream "$UP" --redirect "a/b" 2>&1)
check_eq "--redirect a/b: exit status 2" 2 "$?"
check_contains "--redirect a/b: the key and the reason" 'config key "redirect": "a/b" is not HOST[:PORT]' "$out"
out=$("$(it_lotad_bin)" --upstream "$UP" --credentials "$W/creds-alice" --fill-credentials bob 2>&1)
check_eq "--fill-credentials of a profile not in the file: exit status 2" 2 "$?"
check_contains "--fill-credentials bob: the key and the reason" \
	'config key "fill_credentials": no profile "bob" in the credentials file' "$out"

# --- bob's reads: a miss, then hits authorized by radosgw's 304
get "curl: bob's first GET" bob 200 miss "$O1" "$UP/$B/o1"
wait_idle
nm0=$(it_metric0 'lota_cache_foreign_reads_total{answer="not_modified"}')
served0=$(it_metric "$SERVED_CACHE")
get "curl: bob's second GET" bob 200 hit "$O1" "$UP/$B/o1"
check_eq "the hit was radosgw's 304" $((nm0 + 1)) \
	"$(it_metric0 'lota_cache_foreign_reads_total{answer="not_modified"}')"
check_eq "the hit's bytes came from the cache" $((served0 + 3 * MiB + 4321)) \
	"$(it_metric "$SERVED_CACHE")"
check_eq "the hit has the object's ETag" "$ETAG1" "$(hdr ETag)"
check_eq "the hit has the object's Content-Type" binary/octet-stream "$(hdr Content-Type)"
part "$O1" 1000000 2500000
get "curl: a range across extents" bob 206 hit "$W/part" -H "Range: bytes=1000000-2500000" \
	"$UP/$B/o1"
check_eq "its Content-Range" "bytes 1000000-2500000/$((3 * MiB + 4321))" "$(hdr Content-Range)"
tail -c 5000 "$O1" >"$W/part"
get "curl: a suffix range" bob 206 hit "$W/part" -H "Range: bytes=-5000" "$UP/$B/o1"
req bob -I "$UP/$B/o1"
check_eq "curl: HEAD: 200" 200 "$ST"
check_eq "curl: HEAD: hit" hit "$XC"
check_eq "curl: HEAD: Content-Length" $((3 * MiB + 4321)) "$(hdr Content-Length)"
get "curl: through the --redirect name" bob 200 hit "$O1" "http://$RNAME:$RGW_PORT/$B/o1"
get "curl: virtual-hosted on the --redirect name" bob 200 hit "$O1" "http://$B.$RNAME:$RGW_PORT/o1"
req bob --connect-to "s3.other.test:$RGW_PORT:127.0.0.1:$IT_LOTAD_PORT" \
	"http://s3.other.test:$RGW_PORT/$B/o1"
check_eq "a name not listed is lotad's own: bob's key is unknown there" \
	403:InvalidAccessKeyId "$ST:$(it_s3_code <"$W/body")"

out=$(boto bob get "$B" o2 "$W/b2") || true
check_eq "boto3: bob's first get_object" "200 miss" "$out"
check_eq "boto3: bytes" "$(it_sha256 "$O2")" "$(it_sha256 "$W/b2")"
wait_idle
out=$(boto bob get "$B" o2 "$W/b2") || true
check_eq "boto3: bob's second get_object" "200 hit" "$out"
check_eq "boto3: bytes" "$(it_sha256 "$O2")" "$(it_sha256 "$W/b2")"
out=$(boto bob get "$B" o2 "$W/b2" "bytes=100-1048675") || true
part "$O2" 100 1048675
check_eq "boto3: a ranged get_object across extents" "206 hit" "$out"
check_eq "boto3: range bytes" "$(it_sha256 "$W/part")" "$(it_sha256 "$W/b2")"
out=$(boto bob head "$B" o2) || true
check_eq "boto3: head_object" "200 hit $((2 * MiB + 7))" "$(cut -d' ' -f1-3 <<<"$out")"

URL=$(presign bob o1 600)
check "boto3 made bob a presigned URL for radosgw" test -n "$URL"
get "presigned: bob's URL" anonymous 200 hit "$O1" "$URL"
part "$O1" $((2 * MiB)) $((3 * MiB + 100))
get "presigned: with a Range" anonymous 206 hit "$W/part" -H "Range: bytes=$((2 * MiB))-$((3 * MiB + 100))" "$URL"

# --- without --fill-credentials a range that holds no whole extent stores nothing
check_eq "bob uploads o3 at radosgw" 200 \
	"$(direct bob -o /dev/null -w '%{http_code}' -T "$O3" "$UP/$B/o3")"
wait_idle
filled0=$(it_metric "$FILLED")
part "$O3" 1500000 1500099
get "no fill credential: 100 bytes of a cold object" bob 206 miss "$W/part" \
	-H "Range: bytes=1500000-1500099" "$UP/$B/o3"
get "no fill credential: the same 100 bytes again" bob 206 miss "$W/part" \
	-H "Range: bytes=1500000-1500099" "$UP/$B/o3"
check_eq "no fill credential: nothing stored" "$filled0" "$(it_metric "$FILLED")"

# --- attacks on the cached object: none gets a byte of it
served0=$(it_metric "$SERVED_CACHE")
denied "alice (no grant)" alice "$UP/$B/o1"
denied "alice (no grant), ranged" alice -H "Range: bytes=0-99999" "$UP/$B/o1"
denied "alice (no grant), HEAD" alice -I "$UP/$B/o1"
denied "an unknown key" unknown "$UP/$B/o1"
it_keys bob
BOBWRONG=(--aws-sigv4 "aws:amz:$RGW_REGION:s3" --user "$IT_AK:$IT_WRONG_SECRET"
	-H "x-amz-content-sha256: UNSIGNED-PAYLOAD")
denied "bob's key with a wrong secret" anonymous "${BOBWRONG[@]}" "$UP/$B/o1"
denied "alice's key with a wrong secret" wrongsecret "$UP/$B/o1"
denied "anonymous GET" anonymous "$UP/$B/o1"
denied "anonymous HEAD" anonymous -I "$UP/$B/o1"
denied "alice's presigned URL" anonymous "$(presign alice o1 600)"
EXPIRED=$(presign bob o1 1)
# The URL's expiry is this check's input: wait (against a deadline) until radosgw itself
# refuses it, then try it through lotad.
deadline=$((SECONDS + 15))
until [ "$(curl -s -o /dev/null -w '%{http_code}' "$EXPIRED")" = 403 ] || [ $SECONDS -ge $deadline ]; do
	sleep 0.2
done
denied "bob's expired presigned URL" anonymous "$EXPIRED"
check_eq "no byte served from the cache during the attacks" "$served0" "$(it_metric "$SERVED_CACHE")"

# --- an overwrite made around lotad is seen on the next read
check_eq "bob overwrites o1 at radosgw directly" 200 \
	"$(direct bob -o /dev/null -w '%{http_code}' -T "$NEW" "$UP/$B/o1")"
get "after the overwrite: the new bytes" bob 200 miss "$NEW" "$UP/$B/o1"
wait_idle
get "after the overwrite: the new bytes, from the cache" bob 200 hit "$NEW" "$UP/$B/o1"

# --- lotad restarted: what it remembers of the objects is rebuilt from the store, so the
# first read after the restart asks with If-None-Match and is a hit
lotad_restart
get "lotad restarted: bob's first GET is a hit" bob 200 hit "$NEW" "$UP/$B/o1"
check_eq "lotad restarted: the hit was radosgw's 304" 1 \
	"$(it_metric0 'lota_cache_foreign_reads_total{answer="not_modified"}')"
part "$O2" 100 1048675
get "lotad restarted: a range of o2 is a hit" bob 206 hit "$W/part" \
	-H "Range: bytes=100-1048675" "$UP/$B/o2"

# --- --fill-credentials: the operator's key fills whole extents once radosgw said yes
it_operator_create
for o in o3 o4; do
	rc=$(it_put_granted bob "$B" "$o" "$W/$o") || true
	check_eq "bob uploads $o at radosgw, readable by operator" ok "$rc"
done
IT_LOTAD_CREDENTIALS=$W/creds-alice-operator
IT_LOTAD_ARGS=("${COMMON[@]}" --fill-credentials operator)
lotad_restart
check_eq "fill credential: nothing filled yet" 0 "$(it_metric "$FILLED")"
part "$O3" 1500000 1500099
get "fill credential: 100 bytes of a cold 3-extent object" bob 206 miss "$W/part" \
	-H "Range: bytes=1500000-1500099" "$UP/$B/o3"
check "fill credential: its whole extent is filled ($MiB bytes)" \
	it_wait_metric 30 "$FILLED" "$MiB"
wait_idle
part "$O3" "$MiB" $((2 * MiB - 1))
get "fill credential: that extent is a hit" bob 206 hit "$W/part" \
	-H "Range: bytes=$MiB-$((2 * MiB - 1))" "$UP/$B/o3"
get "fill credential: the whole object (two extents missing)" bob 200 miss "$O3" "$UP/$B/o3"
check "fill credential: every extent filled once ($((3 * MiB)) bytes)" \
	it_wait_metric 30 "$FILLED" $((3 * MiB))
wait_idle
get "fill credential: the whole object again" bob 200 hit "$O3" "$UP/$B/o3"
check_eq "fill credential: three fills started" 3 \
	"$(it_metric 'lota_cache_fills_total{result="started"}')"
done0=$(it_requests_done get_object)
denied "fill credential: alice (no grant) reads a cold object" alice "$UP/$B/o4"
it_wait_requests_done 30 get_object $((done0 + 1))
check_eq "fill credential: a denied read fills nothing" $((3 * MiB)) "$(it_metric "$FILLED")"
get "fill credential: bob reads o4" bob 200 miss "$O4" "$UP/$B/o4"
it_finish
