#!/usr/bin/env bash
# test_lotad_proxy_smoke.sh - lotad as a plain streaming proxy (no cache): bodies
# byte-exact both ways (Expect: 100-continue upload, ranged and virtual-hosted reads),
# upstream errors relayed verbatim, local authentication failures, malformed HTTP and
# pipelining on a raw socket, a client killed mid-download, SIGHUP with a bad
# credentials file, an unreachable upstream (503), --help and usage errors.
. "$(dirname "$0")/lib.sh"
[ "${LOTA_TEST_DIRECT:-0}" = 1 ] && it_skip "lotad-specific test (LOTA_TEST_DIRECT=1)"
it_require_rgw
it_require_cmd curl "$IT_PY"
it_setup

W=$IT_DIR/work
mkdir -p "$W"
B=lota-smoke
E=$S3_ENDPOINT
BIN=$(it_lotad_bin)

# --- usage
check "lotad --help exits 0 and lists --upstream" bash -c "'$BIN' --help | grep -- --upstream >/dev/null"
"$BIN" --no-such-flag >/dev/null 2>&1
check_eq "an unknown flag exits 2" 2 "$?"
out=$("$BIN" --upstream ftp://x 2>&1)
check_contains "a bad upstream URL is refused with the key name" '"upstream"' "$out"
# The workers share their port through SO_REUSEPORT; a second lotad on it must not join
# them (it would take half of the first one's connections without a word).
read -r ADM2 _ _ <<<"$(it_free_ports)"
out=$(timeout 20 "$BIN" --listen "127.0.0.1:$S3_PORT" --upstream "http://127.0.0.1:$RGW_PORT" \
	--credentials "$IT_CREDENTIALS" --admin-listen "127.0.0.1:$ADM2" 2>&1)
rc=$?
check "a second lotad on a port lotad listens on exits non-zero (got $rc)" test "$rc" -ne 0 -a "$rc" -ne 124
check_contains "... naming the address in use" "cannot listen on 127.0.0.1:$S3_PORT: Address already in use" "$out"
check "... and the first lotad still answers" it_lotad_healthy

# --- bytes through lotad
check "create bucket" it_curl alice -f -X PUT "$E/$B"
it_random_file "$W/obj.bin" $((8 * 1024 * 1024 + 13))
SHA=$(it_sha256 "$W/obj.bin")
check "PUT 8 MiB (Expect: 100-continue)" it_curl alice -f -o /dev/null -T "$W/obj.bin" "$E/$B/dir/obj.bin"
it_curl alice -f -o "$W/get.bin" "$E/$B/dir/obj.bin"
check_eq "GET returns the same bytes" "$SHA" "$(it_sha256 "$W/get.bin")"
it_curl alice -f -o "$W/range.bin" -D "$W/range.hdr" -H "Range: bytes=100-4195" "$E/$B/dir/obj.bin"
dd if="$W/obj.bin" of="$W/range.want" bs=1 skip=100 count=4096 status=none
check_eq "range GET bytes" "$(it_sha256 "$W/range.want")" "$(it_sha256 "$W/range.bin")"
check_contains "range GET is 206 with Content-Range" "Content-Range: bytes 100-4195/8388621" \
	"$(tr -d '\r' <"$W/range.hdr")"
it_curl alice --vhost "$B" -f -o "$W/vhost.bin" "http://$B.$S3_VHOST_DOMAIN:$S3_PORT/dir/obj.bin"
check_eq "virtual-hosted GET returns the same bytes" "$SHA" "$(it_sha256 "$W/vhost.bin")"
head=$(it_curl alice -f -I "$E/$B/dir/obj.bin" | tr -d '\r')
check_contains "HEAD relays Content-Length" "Content-Length: 8388621" "$head"
check_contains "HEAD relays the ETag" "ETag: " "$head"

# --- errors: the upstream's relayed verbatim, lotad's own in S3 XML
code=$(it_curl alice -o "$W/err.xml" -w '%{http_code}' "$E/$B/no-such-key")
check_eq "missing key is 404" 404 "$code"
check_eq "missing key is NoSuchKey" NoSuchKey "$(it_s3_code <"$W/err.xml")"
code=$(it_curl wrongsecret -o "$W/err.xml" -w '%{http_code}' "$E/$B/dir/obj.bin")
check_eq "wrong secret is 403" 403 "$code"
check_eq "wrong secret is SignatureDoesNotMatch" SignatureDoesNotMatch "$(it_s3_code <"$W/err.xml")"

# --- raw HTTP: malformed requests, pipelining
cat >"$W/raw.py" <<'PY'
import socket, sys
port = int(sys.argv[1]); bucket = sys.argv[2]
def raw(data):
    s = socket.create_connection(("127.0.0.1", port)); s.settimeout(20); s.sendall(data)
    out = b""
    while True:
        d = s.recv(65536)
        if not d: break
        out += d
    s.close(); return out.decode("latin-1")
def check(desc, ok):
    print(("ok - " if ok else "not ok - ") + desc)
r = raw(b"GET /x HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n")
check("duplicate Content-Length is 400 with an S3 XML error", r.startswith("HTTP/1.1 400") and "<Code>" in r)
r = raw(b"NOT HTTP\r\n\r\n")
check("garbage is 400", r.startswith("HTTP/1.1 400"))
r = raw(b"GET /x HTTP/1.1\r\nHost: a\r\nX: " + b"a" * 40000 + b"\r\n\r\n")
check("an oversized head is 400 RequestHeaderSectionTooLarge", r.startswith("HTTP/1.1 400") and "RequestHeaderSectionTooLarge" in r)
r = raw(("GET /%s/k1 HTTP/1.1\r\nHost: x\r\n\r\nHEAD /%s HTTP/1.1\r\nHost: x\r\n\r\n"
         "GET /%s/k2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % (bucket, bucket, bucket)).encode())
check("three pipelined requests get three responses", r.count("HTTP/1.1 ") == 3)
PY
it_run_checks "raw HTTP" it_python "$W/raw.py" "$S3_PORT" "$B"

# --- a client killed mid-download leaves lotad healthy
it_random_file "$W/big.bin" $((64 * 1024 * 1024))
check "PUT 64 MiB" it_curl alice -f -o /dev/null -T "$W/big.bin" "$E/$B/big.bin"
it_curl alice --limit-rate 2M -o /dev/null -m 2 "$E/$B/big.bin" 2>/dev/null
check "lotad is healthy after a killed download" it_lotad_healthy
it_curl alice -f -o "$W/big.get" "$E/$B/big.bin"
check_eq "GET 64 MiB after the kill" "$(it_sha256 "$W/big.bin")" "$(it_sha256 "$W/big.get")"
metrics=$(curl -sf -m 5 "http://127.0.0.1:$IT_LOTAD_ADMIN_PORT/metrics")
check_contains "metrics count PUTs" 'lota_requests_total{op="put_object",status="200"}' "$metrics"
check_contains "metrics have open connections" 'lota_connections_open' "$metrics"

# --- SIGHUP with a broken credentials file keeps the old keys
cp "$IT_CREDENTIALS" "$W/creds.good"
printf '[broken]\naws_access_key_id = X\n' >"$IT_CREDENTIALS"
kill -HUP "$IT_LOTAD_PID"
it_wait_for 10 grep -q "credentials not reloaded" "$IT_DIR/lotad.log"
check "a bad credentials file is logged on SIGHUP" grep -q "credentials not reloaded" "$IT_DIR/lotad.log"
check "alice still verified after the failed reload" it_curl alice -f -o /dev/null "$E/$B/dir/obj.bin"
cp "$W/creds.good" "$IT_CREDENTIALS"
kill -HUP "$IT_LOTAD_PID"
it_wait_for 10 grep -q "credentials reloaded" "$IT_DIR/lotad.log"
check "a good credentials file is reloaded on SIGHUP" grep -q "credentials reloaded" "$IT_DIR/lotad.log"

# --- an unreachable upstream: 503 ServiceUnavailable in S3 XML
read -r P1 P2 _ <<<"$(it_free_ports)"
"$BIN" --listen "127.0.0.1:$P1" --upstream "http://127.0.0.1:$P2" --upstream-retries 1 \
	--workers 1 >"$IT_DIR/lotad-down.log" 2>&1 </dev/null &
DOWN_PID=$!
it_wait_for 10 curl -s -o /dev/null "http://127.0.0.1:$P1/"
code=$(curl -s -o "$W/down.xml" -w '%{http_code}' "http://127.0.0.1:$P1/$B/x")
check_eq "unreachable upstream is 503" 503 "$code"
check_eq "unreachable upstream is ServiceUnavailable" ServiceUnavailable "$(it_s3_code <"$W/down.xml")"
kill -TERM "$DOWN_PID"
wait "$DOWN_PID"
check_eq "SIGTERM exits 0" 0 "$?"

for k in dir/obj.bin big.bin; do it_curl alice -s -o /dev/null -X DELETE "$E/$B/$k"; done
check "delete bucket" it_curl alice -f -X DELETE "$E/$B"
it_finish
