#!/usr/bin/env bash
# test_upstream_pool.sh - one client cannot break other users' requests through lotad's
# upstream connection pool (one worker, so every request shares one pool).
#
# radosgw answers an anonymous "HEAD /bucket/x%00" with a 400, "Connection: Keep-Alive"
# and a 132-byte body, which a HEAD must not have. lotad reads no body for a HEAD, so
# unless that connection is closed the body waits on it and the next request sent on it,
# whoever sent it, reads those bytes as its answer. Checked, with radosgw's own behaviour
# first checked directly:
#   - 40 pairs of anonymous HEAD x%00 + alice's signed GET of her private object, with new
#     client connections and with kept-alive ones: every GET 200 with the right sha256;
#   - a HEAD answered 403 (bob's HEAD of alice's object) or 404 before alice's GETs;
#   - a client that drops a download half-way (the upstream transfer ends early) before
#     bob's GETs;
#   - requests of alice and bob in turn (a range, a DELETE, a PUT, a HEAD, GETs): each is
#     answered as its client sent it;
#   - the same through the cache path (the authorizing HEAD re-signed with alice's key
#     is the one answered 400 with a body).
. "$(dirname "$0")/lib.sh"
it_require_rgw
if [ "${LOTA_TEST_DIRECT:-}" = 1 ]; then
	it_skip "tests lotad's upstream connection pool (LOTA_TEST_DIRECT=1)"
fi
IT_LOTAD_ARGS=(--workers 1)
it_setup

W=$IT_DIR/work
mkdir -p "$W"
B=lota-pool
E=$S3_ENDPOINT
PAIRS=${LOTA_POOL_PAIRS:-40}

code() { it_curl "$@" -o /dev/null -w '%{http_code}'; }

check_eq "alice creates the bucket" 200 "$(code alice -X PUT "$RGW_ENDPOINT/$B")"
it_random_file "$W/alice.bin" $((300 * 1024 + 7))
it_random_file "$W/big.bin" $((24 * 1024 * 1024))
SHA=$(it_sha256 "$W/alice.bin")
check_eq "alice's private object" 200 "$(code alice -T "$W/alice.bin" "$RGW_ENDPOINT/$B/alice.bin")"
check_eq "alice's large object" 200 "$(code alice -T "$W/big.bin" "$RGW_ENDPOINT/$B/big.bin")"
check_eq "bob creates his bucket" 200 "$(code bob -X PUT "$RGW_ENDPOINT/$B-bob")"
it_random_file "$W/bob.bin" $((200 * 1024 + 3))
BOB_SHA=$(it_sha256 "$W/bob.bin")
check_eq "bob's object" 200 "$(code bob -T "$W/bob.bin" "$RGW_ENDPOINT/$B-bob/bob.bin")"
check_eq "alice's object is private (anonymous GET at radosgw)" 403 \
	"$(curl -s -o /dev/null -w '%{http_code}' "$RGW_ENDPOINT/$B/alice.bin")"

# radosgw's own answer to the HEAD, read off the socket: status, Content-Length, and the
# body bytes that follow the head on the kept-alive connection.
rgw_head_x00() {
	"$IT_PY" - "$RGW_PORT" "/$B/x%00" <<'EOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(b"HEAD %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % sys.argv[2].encode())
data = b""
while b"\r\n\r\n" not in data:
    d = s.recv(65536)
    if not d:
        break
    data += d
head, _, rest = data.partition(b"\r\n\r\n")
lines = head.decode("latin-1").split("\r\n")
status = lines[0].split(" ")[1]
hdrs = {l.split(":", 1)[0].strip().lower(): l.split(":", 1)[1].strip() for l in lines[1:]}
cl = int(hdrs.get("content-length", "0"))
s.settimeout(2)
try:
    while len(rest) < cl:
        d = s.recv(65536)
        if not d:
            break
        rest += d
except socket.timeout:
    pass
print(status, hdrs.get("connection", "-"), cl, len(rest))
EOF
}
read -r st conn cl got <<<"$(rgw_head_x00)"
check_eq "radosgw: anonymous HEAD x%00 -> 400" 400 "$st"
check_eq "radosgw: ... kept alive" Keep-Alive "$conn"
check "radosgw: ... announces a body (Content-Length $cl)" test "$cl" -gt 0
check_eq "radosgw: ... and sends it after the head" "$cl" "$got"

# --- 1. anonymous HEAD x%00, then alice's GET, each on a new client connection
get_alice() { # N: alice's GET through lotad; prints "status sha"
	local c
	c=$(it_curl alice -o "$W/got.$1" -w '%{http_code}' "$E/$B/alice.bin") || c=err
	echo "$c $(it_sha256 "$W/got.$1" 2>/dev/null)"
	rm -f "$W/got.$1"
}
bad=0 heads=
for ((i = 1; i <= PAIRS; i++)); do
	heads+=" $(curl -s -o /dev/null -w '%{http_code}' -I "$E/$B/x%00")"
	[ "$(get_alice "$i")" = "200 $SHA" ] || bad=$((bad + 1))
done
check_eq "$PAIRS anonymous HEAD x%00 through lotad -> 400 (as radosgw)" \
	"$(printf ' 400%.0s' $(seq "$PAIRS"))" "$heads"
check_eq "$PAIRS alice GETs after them: all 200 with her bytes" "0 bad" "$bad bad"

# --- 2. the same with kept-alive client connections: one curl, both users, --next
args=()
for ((i = 1; i <= PAIRS; i++)); do
	[ "$i" -gt 1 ] && args+=(--next)
	args+=(-s -o /dev/null -w 'head %{http_code}\n' -I "$E/$B/x%00" --next)
	it_keys alice
	args+=(-s -o "$W/ka.$i" -w 'get %{http_code}\n' --aws-sigv4 "aws:amz:$RGW_REGION:s3"
		--user "$IT_AK:$IT_SK" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "$E/$B/alice.bin")
done
out=$(timeout 300 curl "${args[@]}" 2>&1)
check_eq "kept-alive: $PAIRS HEADs -> 400" "$PAIRS" "$(grep -c '^head 400$' <<<"$out")"
check_eq "kept-alive: $PAIRS GETs -> 200" "$PAIRS" "$(grep -c '^get 200$' <<<"$out")"
bad=0
for ((i = 1; i <= PAIRS; i++)); do
	[ "$(it_sha256 "$W/ka.$i" 2>/dev/null)" = "$SHA" ] || bad=$((bad + 1))
	rm -f "$W/ka.$i"
done
check_eq "kept-alive: every GET has alice's bytes" "0 bad" "$bad bad"

# --- 3. HEADs answered 403 and 404 (no body from radosgw), then alice's GETs
bad=0 heads=
for ((i = 1; i <= 10; i++)); do
	heads+=" $(code bob -I "$E/$B/alice.bin")"
	[ "$(get_alice "d$i")" = "200 $SHA" ] || bad=$((bad + 1))
	heads+=" $(code alice -I "$E/$B/missing-$i")"
	[ "$(get_alice "m$i")" = "200 $SHA" ] || bad=$((bad + 1))
done
check_eq "bob's HEAD of alice's object -> 403, alice's HEAD of a missing key -> 404" \
	"$(printf ' 403 404%.0s' $(seq 10))" "$heads"
check_eq "20 alice GETs after them: all 200 with her bytes" "0 bad" "$bad bad"

# --- 4. a client that drops a download half-way, then another user's GETs
BIG_SHA=$(it_sha256 "$W/big.bin")
bad=0
for ((i = 1; i <= 5; i++)); do
	# curl stops when head has read 100 KB: lotad's upstream transfer ends early
	it_curl alice "$E/$B/big.bin" 2>/dev/null | head -c 100000 >/dev/null
	c=$(it_curl bob -o "$W/bob.got" -w '%{http_code}' "$E/$B-bob/bob.bin")
	[ "$c $(it_sha256 "$W/bob.got")" = "200 $BOB_SHA" ] || bad=$((bad + 1))
	c=$(it_curl bob -o "$W/bob.got" -w '%{http_code}' "$E/$B-bob/bob.bin")
	[ "$c $(it_sha256 "$W/bob.got")" = "200 $BOB_SHA" ] || bad=$((bad + 1))
done
check_eq "10 bob GETs after 5 dropped downloads: all 200 with his bytes" "0 bad" "$bad bad"
c=$(it_curl alice -o "$W/big.got" -w '%{http_code}' "$E/$B/big.bin")
check_eq "alice's large object whole afterwards" "200 $BIG_SHA" "$c $(it_sha256 "$W/big.got")"

# --- 5. requests of two users in turn on the worker's pooled connections: no method,
# body, header or range of one request carries over into the next (a DELETE or PUT that
# stuck would turn bob's GET into one of his object)
bad=0
it_random_file "$W/put.bin" 4099
for ((i = 1; i <= 5; i++)); do
	c=$(it_curl alice -o "$W/r.got" -w '%{http_code}' -r 100-199 "$E/$B/alice.bin")
	[ "$c $(wc -c <"$W/r.got")" = "206 100" ] || bad=$((bad + 1))
	c=$(it_curl bob -o "$W/bob.got" -w '%{http_code}' "$E/$B-bob/bob.bin")
	[ "$c $(it_sha256 "$W/bob.got")" = "200 $BOB_SHA" ] || bad=$((bad + 1))
	[ "$(code alice -X DELETE "$E/$B/missing-$i")" = 204 ] || bad=$((bad + 1))
	c=$(it_curl bob -o "$W/bob.got" -w '%{http_code}' "$E/$B-bob/bob.bin")
	[ "$c $(it_sha256 "$W/bob.got")" = "200 $BOB_SHA" ] || bad=$((bad + 1))
	[ "$(code alice -T "$W/put.bin" "$E/$B/put-$i")" = 200 ] || bad=$((bad + 1))
	c=$(it_curl bob -o "$W/bob.got" -w '%{http_code}' "$E/$B-bob/bob.bin")
	[ "$c $(it_sha256 "$W/bob.got")" = "200 $BOB_SHA" ] || bad=$((bad + 1))
	[ "$(code bob -I "$E/$B-bob/bob.bin")" = 200 ] || bad=$((bad + 1))
	[ "$(get_alice "h$i")" = "200 $SHA" ] || bad=$((bad + 1))
done
check_eq "40 requests of alice and bob in turn (range, DELETE, PUT, HEAD, GET): each as sent" \
	"0 bad" "$bad bad"
check_eq "bob's object is still his (at radosgw)" "200 $BOB_SHA" \
	"$(it_curl bob -o "$W/bob.got" -w '%{http_code}' "$RGW_ENDPOINT/$B-bob/bob.bin") $(it_sha256 "$W/bob.got")"

# --- 6. the cache path: lotad's own authorizing HEAD (re-signed with alice's key) is the
# one answered 400 with a body
IT_LOTAD_ARGS=(--workers 1 --cache-dir "$IT_DIR/cache:1GiB" --min-object-size 1)
lotad_restart
bad=0 heads=
for ((i = 1; i <= PAIRS / 2; i++)); do
	heads+=" $(code alice -I "$E/$B/x%00")"
	[ "$(get_alice "c$i")" = "200 $SHA" ] || bad=$((bad + 1))
	heads+=" $(curl -s -o /dev/null -w '%{http_code}' -I "$E/$B/x%00")"
	[ "$(get_alice "a$i")" = "200 $SHA" ] || bad=$((bad + 1))
done
check_eq "cache on: alice's and anonymous HEAD x%00 -> 400" \
	"$(printf ' 400%.0s' $(seq "$PAIRS"))" "$heads"
check_eq "cache on: $PAIRS alice GETs after them: all 200 with her bytes" "0 bad" "$bad bad"
check "cache on: alice's object came from the cache too" \
	test "$(it_metric lota_cache_hits_total)" -gt 0

it_finish
