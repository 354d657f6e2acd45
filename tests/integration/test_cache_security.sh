#!/usr/bin/env bash
# test_cache_security.sh - a cached object is never handed to someone the upstream would
# refuse, and the cache is useless to someone who can read the disk.
#
# alice caches a private object (miss, then hit); then bob's signed GET, ranged GET and
# HEAD, bob's presigned URL, a wrong secret, an unknown key, an expired presigned URL,
# tampered presigned URLs and anonymous GET/HEAD all get 403, their bodies carry none of
# the object's bytes (a marker string spread through the object is grepped for), and
# lotad serves no cached byte meanwhile. At rest: with encryption (the default) neither
# the marker nor the object's name is found by `grep -r -a` over the cache dir; with
# --no-encrypt (the control that proves the grep works) the marker is found. The node
# secret is a 0600 file; a group-readable one is refused at start; another node secret
# makes the old extents unusable, yet GETs still return the right bytes (refetched).
# shellcheck source=lib.sh disable=SC2317 # (helpers run through check)
. "$(dirname "$0")/lib.sh"
[ "${LOTA_TEST_DIRECT:-0}" = 1 ] && it_skip "lotad-specific test (LOTA_TEST_DIRECT=1)"
it_require_rgw
it_require_cmd curl grep
C0=$IT_DIR/cache-enc
C1=$IT_DIR/cache-plain
COMMON=(--extent-size 8MiB --min-object-size 1MiB)
IT_LOTAD_ARGS=(--cache-dir "$C0:1GiB" "${COMMON[@]}")
it_setup

LOTA=${LOTA_BUILD_DIR:-$IT_LIB_DIR/../../build}/tools/lota
[ -x "$LOTA" ] || it_die "the lota tool is not built ($LOTA missing)"
W=$IT_DIR/work
mkdir -p "$W"
B=lota-cachesec
E=$S3_ENDPOINT
MiB=$((1024 * 1024))
RND=$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
MARK=LOTA-PRIVATE-MARKER-$RND
NAME=private/secret-object-name-$RND.bin
SERVED_CACHE='lota_bytes_served_total{source="cache"}'

# The object: 3 MiB + 5 of random bytes with the marker every 4 KiB, so any piece of it
# larger than 4 KiB contains the marker.
it_mkobj_marked "$W/obj" "$MARK" $((3 * MiB + 5))
SHA=$(it_sha256 "$W/obj")

# absent NEEDLE PATH...: no file under PATH holds NEEDLE (binary files too).
absent() { ! grep -r -q -a -F -- "$1" "${@:2}"; }
differ() { ! cmp -s "$1" "$2"; }
hdr() { tr -d '\r' <"$W/hdr" | sed -n "s/^$1: //Ip" | tail -n 1; }
# req PROFILE|anonymous ARGS...: status in ST, x-lota-cache in XC, body $W/body, head $W/hdr.
req() {
	local p=$1
	shift
	: >"$W/body"
	: >"$W/hdr"
	if [ "$p" = anonymous ]; then
		ST=$(timeout 60 curl -s -o "$W/body" -D "$W/hdr" -w '%{http_code}' "$@") || true
	else
		ST=$(it_curl "$p" -o "$W/body" -D "$W/hdr" -w '%{http_code}' "$@" 2>/dev/null) || true
	fi
	XC=$(hdr x-lota-cache)
}
# no_leak DESC: neither the body nor the head of the last response holds the marker.
no_leak() {
	check "$1: no object bytes in the response" absent "$MARK" "$W/body" "$W/hdr"
}
# denied DESC EXPECTED_CODE|- PROFILE|anonymous CURL_ARGS...
denied() {
	local d=$1 code=$2
	shift 2
	req "$@"
	check_eq "$d: 403" 403 "$ST"
	[ "$code" = - ] || check_eq "$d: $code" "$code" "$(it_s3_code <"$W/body")"
	no_leak "$d"
}
presign() { # KEY EXPIRES
	AWS_ACCESS_KEY_ID=$RGW_ALICE_ACCESS AWS_SECRET_ACCESS_KEY=$RGW_ALICE_SECRET \
		AWS_REGION=$RGW_REGION "$LOTA" presign --endpoint "$E" --bucket "$B" --key "$1" \
		--expires "$2"
}
# get_alice DESC EXPECTED_XC: alice's GET, bytes and x-lota-cache.
get_alice() {
	req alice "$E/$B/$NAME"
	check_eq "$1: status" 200 "$ST"
	check_eq "$1: bytes" "$SHA" "$(it_sha256 "$W/body")"
	[ "$2" = - ] || check_eq "$1: x-lota-cache" "$2" "$XC"
}
wait_idle() { it_wait_metric 30 lota_cache_fills_in_progress 0; }
extent_files() { find "$1" -path "$1/tmp" -prune -o -type f -name '[0-9a-f]*' ! -name node.secret -print | wc -l; }

check_eq "create bucket" 200 "$(it_curl alice -s -o /dev/null -w '%{http_code}' -X PUT "$E/$B")"
check_eq "alice uploads a private object through lotad" 200 \
	"$(it_curl alice -s -o /dev/null -w '%{http_code}' -T "$W/obj" "$E/$B/$NAME")"
get_alice "alice: cold GET" miss
wait_idle
get_alice "alice: second GET" hit
check "the object is in the cache dir ($(extent_files "$C0") extent files)" \
	test "$(extent_files "$C0")" -ge 1

# --- everyone else is refused, and gets none of the cached bytes
served0=$(it_metric "$SERVED_CACHE")
denied "bob's signed GET" AccessDenied bob "$E/$B/$NAME"
denied "bob's signed ranged GET" AccessDenied bob -H "Range: bytes=0-99999" "$E/$B/$NAME"
denied "bob's signed HEAD" - bob -I "$E/$B/$NAME"
denied "bob's GET with Cache-Control: no-cache" AccessDenied bob -H "Cache-Control: no-cache" "$E/$B/$NAME"
denied "bob's HEAD with Range: bytes=0-0" - bob -I -H "Range: bytes=0-0" "$E/$B/$NAME"
denied "alice's key with a wrong secret" SignatureDoesNotMatch wrongsecret "$E/$B/$NAME"
denied "an unknown access key" InvalidAccessKeyId unknown "$E/$B/$NAME"
denied "anonymous GET" AccessDenied anonymous "$E/$B/$NAME"
denied "anonymous ranged GET" AccessDenied anonymous -H "Range: bytes=100-200" "$E/$B/$NAME"
denied "anonymous HEAD" - anonymous -I "$E/$B/$NAME"
BOBURL=$(AWS_ACCESS_KEY_ID=$RGW_BOB_ACCESS AWS_SECRET_ACCESS_KEY=$RGW_BOB_SECRET \
	AWS_REGION=$RGW_REGION "$LOTA" presign --endpoint "$E" --bucket "$B" --key "$NAME")
denied "bob's presigned URL" AccessDenied anonymous "$BOBURL"

URL=$(presign "$NAME" 1h)
check "lota presign made a URL" test -n "$URL"
# the last character of the signature changed
last=${URL: -1}
[ "$last" = 0 ] && swap=1 || swap=0
denied "a presigned URL with a changed signature" SignatureDoesNotMatch anonymous "${URL%?}$swap"
denied "a presigned URL with a longer X-Amz-Expires" SignatureDoesNotMatch anonymous \
	"${URL/X-Amz-Expires=3600/X-Amz-Expires=7200}"
denied "a presigned URL with an added query parameter" SignatureDoesNotMatch anonymous \
	"$URL&x-id=GetObject"
# another key's URL with this key's path: make a URL for a sibling name, swap the name
OTHER=$(presign "${NAME%.bin}.other" 1h)
denied "a presigned URL of another key" SignatureDoesNotMatch anonymous \
	"${OTHER/${NAME%.bin}.other/$NAME}"
EXPIRED=$(presign "$NAME" 1s)
# The clock passing the expiry is this check's input: poll the clock (against a deadline)
# until it is a whole second past X-Amz-Date + X-Amz-Expires (lotad counts whole seconds);
# a request made to find out would be served, and move bytes_served{source=cache}.
url_param() { sed -n "s/.*[?&]$1=\([^&]*\).*/\1/p" <<<"$2"; }
d=$(url_param X-Amz-Date "$EXPIRED")
expiry=$(($(date -u -d "${d:0:4}-${d:4:2}-${d:6:2} ${d:9:2}:${d:11:2}:${d:13:2}" +%s) + \
	$(url_param X-Amz-Expires "$EXPIRED")))
# (one second more: lotad's time(2) reads a coarse clock that may lag date's by a tick)
past_expiry() { [ "$(date +%s)" -gt $((expiry + 1)) ]; }
check "the clock passed the expiry of the 1 s URL" it_wait_for 60 past_expiry
denied "an expired presigned URL" AccessDenied anonymous "$EXPIRED"
denied "an expired presigned URL with a Range" AccessDenied anonymous -H "Range: bytes=0-10" "$EXPIRED"
served1=$(it_metric "$SERVED_CACHE")
check_eq "no cached byte was served to any refused request (bytes_served{source=cache})" \
	"$served0" "$served1"

req anonymous "$URL"
check_eq "alice's valid presigned URL: status" 200 "$ST"
check_eq "alice's valid presigned URL: bytes" "$SHA" "$(it_sha256 "$W/body")"
check_eq "alice's valid presigned URL: served from the cache" hit "$XC"
get_alice "alice after the refusals" hit

# --- at rest
wait_idle
check "encrypted cache: grep -r -a finds no marker" \
	absent "$MARK" "$C0"
check "encrypted cache: grep -r -a finds not the object's name" \
	absent "secret-object-name-$RND" "$C0"
check "encrypted cache: grep -r -a finds not the bucket's name" \
	absent "$B" "$C0"
check_eq "node.secret in the first cache dir is mode 0600" 600 "$(stat -c %a "$C0/node.secret" 2>&1)"
check_eq "node.secret is 32 bytes" 32 "$(stat -c %s "$C0/node.secret" 2>&1)"
check_eq "nothing in the cache dir is accessible to others" "" \
	"$(find "$C0" -perm /o=rwx -printf '%m %p\n' 2>&1 | head -n 5)"

# --- a group-readable node secret is refused at start (lotad must not run)
install -m 0640 /dev/null "$W/bad.secret"
head -c 32 /dev/urandom >"$W/bad.secret"
read -r P1 _ <<<"$(it_free_ports)"
timeout 20 "$(it_lotad_bin)" --listen "127.0.0.1:$P1" --upstream "$RGW_ENDPOINT" \
	--credentials "$IT_CREDENTIALS" --cache-dir "$IT_DIR/cache-bad:1GiB" \
	--node-secret-file "$W/bad.secret" >"$W/bad.log" 2>&1 </dev/null
rc=$?
check "a group-readable node secret is refused at start (status $rc)" test "$rc" -ne 0 -a "$rc" -ne 124
check_contains "the refusal names the secret file" "bad.secret" "$(cat "$W/bad.log")"

# --- control: the same object in a plaintext cache; the grep must find it there
IT_LOTAD_ARGS=(--cache-dir "$C1:1GiB" --no-encrypt "${COMMON[@]}")
lotad_restart
get_alice "--no-encrypt: cold GET" miss
wait_idle
get_alice "--no-encrypt: second GET" hit
check "--no-encrypt (control): grep -r -a finds the marker in the cache dir" \
	grep -r -q -a -F -- "$MARK" "$C1"
served0=$(it_metric "$SERVED_CACHE")
denied "--no-encrypt: bob's signed GET" AccessDenied bob "$E/$B/$NAME"
denied "--no-encrypt: anonymous GET" AccessDenied anonymous "$E/$B/$NAME"
check_eq "--no-encrypt: no cached byte served to the refused requests" "$served0" \
	"$(it_metric "$SERVED_CACHE")"

# --- another node secret: the old extents are unusable, the bytes still right
n0=$(extent_files "$C0")
IT_LOTAD_ARGS=(--cache-dir "$C0:1GiB" --node-secret-file "$W/other.secret" "${COMMON[@]}")
lotad_restart
check_eq "a new --node-secret-file is created 0600" 600 "$(stat -c %a "$W/other.secret" 2>&1)"
check "the new secret differs from the old one" differ "$W/other.secret" "$C0/node.secret"
get_alice "other node secret: GET" -
check "other node secret: the old extent is not served (x-lota-cache $XC, $n0 old files)" test "$XC" != hit
wait_idle
get_alice "other node secret: second GET (refetched, cached again)" hit
check "other node secret: still no marker in the cache dir" \
	absent "$MARK" "$C0"
it_finish
