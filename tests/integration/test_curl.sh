#!/usr/bin/env bash
# test_curl.sh - curl --aws-sigv4 (libcurl's signer) against the endpoint under test:
# PUT/GET/HEAD/DELETE, ranges, conditionals, percent-encoded awkward keys, virtual-hosted
# style through --connect-to, anonymous requests, and the authentication failures.
. "$(dirname "$0")/lib.sh"
it_require_rgw
it_setup

W=$IT_DIR/work
mkdir -p "$W"
B=lota-curl
E=$S3_ENDPOINT
VH=http://$B.$S3_VHOST_DOMAIN:$S3_PORT

# status PROFILE ARGS... : print the HTTP status (body to $W/body, headers to $W/hdr).
status() {
	local p=$1 vh=()
	shift
	if [ "$1" = --vhost ]; then
		vh=(--vhost "$2")
		shift 2
	fi
	rm -f "$W/body" "$W/hdr"
	: >"$W/body"
	if [ "$p" = anonymous ]; then
		timeout 120 curl -sS -o "$W/body" -D "$W/hdr" -w '%{http_code}' "$@"
	else
		it_curl "$p" "${vh[@]}" -o "$W/body" -D "$W/hdr" -w '%{http_code}' "$@"
	fi
}
body_code() { it_s3_code <"$W/body"; }
hdr() { tr -d '\r' <"$W/hdr" | sed -n "s/^$1: //Ip" | tail -n 1; }
# Percent-encode a key the way S3 clients do (every byte but unreserved and '/').
enc() { /usr/bin/python3 -c 'import sys,urllib.parse; print(urllib.parse.quote(sys.argv[1], safe="/~"))' "$1"; }

check_eq "create bucket -> 200" 200 "$(status alice -X PUT "$E/$B")"

it_random_file "$W/obj" $((9 * 1024 * 1024 + 17))
SHA=$(it_sha256 "$W/obj")
N=$(stat -c %s "$W/obj")
check_eq "PUT 9 MiB -> 200" 200 "$(status alice -T "$W/obj" "$E/$B/obj.bin")"
PUT_ETAG=$(hdr etag)
check_eq "GET -> 200" 200 "$(status alice "$E/$B/obj.bin")"
check_eq "GET bytes" "$SHA" "$(it_sha256 "$W/body")"
check_eq "GET ETag equals PUT's" "$PUT_ETAG" "$(hdr etag)"
check_eq "HEAD -> 200" 200 "$(status alice -I "$E/$B/obj.bin")"
check_eq "HEAD Content-Length" "$N" "$(hdr content-length)"

check_eq "Range 0-99 -> 206" 206 "$(status alice -r 0-99 "$E/$B/obj.bin")"
check_eq "Range 0-99 bytes" "$(head -c 100 "$W/obj" | sha256sum | cut -d' ' -f1)" "$(it_sha256 "$W/body")"
check_eq "Range 0-99 Content-Range" "bytes 0-99/$N" "$(hdr content-range)"
check_eq "suffix Range -> 206" 206 "$(status alice -H 'Range: bytes=-4096' "$E/$B/obj.bin")"
check_eq "suffix Range bytes" "$(tail -c 4096 "$W/obj" | sha256sum | cut -d' ' -f1)" "$(it_sha256 "$W/body")"
check_eq "Range past the end -> 416" 416 "$(status alice -r "$N-" "$E/$B/obj.bin")"
check_eq "Range past the end: InvalidRange" InvalidRange "$(body_code)"

check_eq "If-None-Match current -> 304" 304 "$(status alice -H "If-None-Match: $PUT_ETAG" "$E/$B/obj.bin")"
check_eq "304 has no body" 0 "$(stat -c %s "$W/body")"
check_eq "If-Match current -> 200" 200 "$(status alice -H "If-Match: $PUT_ETAG" "$E/$B/obj.bin")"
check_eq "If-Match current: bytes" "$SHA" "$(it_sha256 "$W/body")"
check_eq "If-Match other -> 412" 412 "$(status alice -H 'If-Match: "deadbeef"' "$E/$B/obj.bin")"
check_eq "If-Match other: PreconditionFailed" PreconditionFailed "$(body_code)"
check_eq "If-Unmodified-Since 2001 -> 412" 412 "$(status alice -H 'If-Unmodified-Since: Mon, 01 Jan 2001 00:00:00 GMT' "$E/$B/obj.bin")"
check_eq "If-Modified-Since 2001 -> 200" 200 "$(status alice -H 'If-Modified-Since: Mon, 01 Jan 2001 00:00:00 GMT' "$E/$B/obj.bin")"

# --- virtual-hosted style
check_eq "vhost: GET -> 200" 200 "$(status alice --vhost "$B" "$VH/obj.bin")"
check_eq "vhost: GET bytes" "$SHA" "$(it_sha256 "$W/body")"
check_eq "vhost: Range -> 206" 206 "$(status alice --vhost "$B" -r 1000-1999 "$VH/obj.bin")"
check_eq "vhost: Range bytes" "$(tail -c +1001 "$W/obj" | head -c 1000 | sha256sum | cut -d' ' -f1)" "$(it_sha256 "$W/body")"
echo "vhost body" >"$W/vh"
check_eq "vhost: PUT -> 200" 200 "$(status alice --vhost "$B" -T "$W/vh" "$VH/vh.txt")"
check_eq "vhost: list -> 200" 200 "$(status alice --vhost "$B" "$VH/?list-type=2&prefix=vh")"
check_contains "vhost: list shows the key" "<Key>vh.txt</Key>" "$(cat "$W/body")"

# --- awkward keys, percent-encoded by us, signed by curl
i=0
for k in "sp ace" "plus+" "pct%2F%" "ünï/日本/🙂" "dbl//slash" "eq=amp&q?h#" "tilde~star*"; do
	i=$((i + 1))
	it_random_file "$W/k$i" $((100 + i))
	u="$E/$B/keys/$(enc "$k")"
	check_eq "PUT key '$k' -> 200" 200 "$(status alice -T "$W/k$i" "$u")"
	check_eq "GET key '$k' -> 200" 200 "$(status alice "$u")"
	check_eq "bytes of key '$k'" "$(it_sha256 "$W/k$i")" "$(it_sha256 "$W/body")"
	check_eq "vhost: GET key '$k' -> 200" 200 "$(status alice --vhost "$B" "$VH/keys/$(enc "$k")")"
	check_eq "vhost: bytes of key '$k'" "$(it_sha256 "$W/k$i")" "$(it_sha256 "$W/body")"
done

# --- authentication and authorization failures
check_eq "wrong secret -> 403" 403 "$(status wrongsecret "$E/$B/obj.bin")"
check_eq "wrong secret: SignatureDoesNotMatch" SignatureDoesNotMatch "$(body_code)"
check_eq "vhost: wrong secret -> 403" 403 "$(status wrongsecret --vhost "$B" "$VH/obj.bin")"
check_eq "vhost: wrong secret: SignatureDoesNotMatch" SignatureDoesNotMatch "$(body_code)"
check_eq "wrong secret on PUT -> 403" 403 "$(status wrongsecret -T "$W/vh" "$E/$B/evil")"
check_eq "unknown key -> 403" 403 "$(status unknown "$E/$B/obj.bin")"
check_eq "unknown key: InvalidAccessKeyId" InvalidAccessKeyId "$(body_code)"
check_eq "bob GET alice's object -> 403" 403 "$(status bob "$E/$B/obj.bin")"
check_eq "bob GET alice's object: AccessDenied" AccessDenied "$(body_code)"
check_eq "bob ranged GET alice's object -> 403" 403 "$(status bob -r 0-0 "$E/$B/obj.bin")"
check_eq "bob HEAD alice's object -> 403" 403 "$(status bob -I "$E/$B/obj.bin")"
check_eq "bob DELETE alice's object -> 403" 403 "$(status bob -X DELETE "$E/$B/obj.bin")"
check_eq "anonymous GET of a private object -> 403" 403 "$(status anonymous "$E/$B/obj.bin")"
check_eq "anonymous GET: AccessDenied" AccessDenied "$(body_code)"
check_eq "tampered signature -> 403" 403 "$(status anonymous -H "x-amz-date: $(date -u +%Y%m%dT%H%M%SZ)" \
	-H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' \
	-H "Authorization: AWS4-HMAC-SHA256 Credential=$RGW_ALICE_ACCESS/$(date -u +%Y%m%d)/$RGW_REGION/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=$(printf '0%.0s' {1..64})" \
	"$E/$B/obj.bin")"
check_eq "tampered signature: SignatureDoesNotMatch" SignatureDoesNotMatch "$(body_code)"
check_eq "object unchanged after bob's DELETE" 200 "$(status alice -I "$E/$B/obj.bin")"

# --- delete
check_eq "DELETE -> 204" 204 "$(status alice -X DELETE "$E/$B/obj.bin")"
check_eq "GET after DELETE -> 404" 404 "$(status alice "$E/$B/obj.bin")"
check_eq "GET after DELETE: NoSuchKey" NoSuchKey "$(body_code)"
check_eq "HEAD after DELETE -> 404" 404 "$(status alice -I "$E/$B/obj.bin")"
check_eq "GET in a missing bucket -> 404" 404 "$(status alice "$E/lota-no-such-bucket/x")"
check_eq "missing bucket: NoSuchBucket" NoSuchBucket "$(body_code)"
it_finish
