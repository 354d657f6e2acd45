#!/usr/bin/env bash
# test_lotad_abuse.sh - hostile and broken clients against lotad: request-smuggling
# shapes and malformed heads (each a 400 S3 XML error and a closed connection, nothing
# forwarded), a slow client that never finishes its head (closed at header_timeout),
# clients that vanish mid-upload (the upstream never stores a truncated object) and
# mid-download (lotad keeps serving), and no file descriptor leaks after all of it.
. "$(dirname "$0")/lib.sh"
it_require_rgw
if [ "${LOTA_TEST_DIRECT:-}" = 1 ]; then
	it_skip "this test is about lotad itself"
fi
LOTA_TEST_LOTAD_ARGS="--header-timeout 2s --idle-timeout 3s ${LOTA_TEST_LOTAD_ARGS:-}"
it_setup

W=$IT_DIR/work
mkdir -p "$W"
B=lota-abuse
LOTA=${LOTA_BUILD_DIR:-$IT_LIB_DIR/../../build}/tools/lota
export AWS_ACCESS_KEY_ID=$RGW_ALICE_ACCESS AWS_SECRET_ACCESS_KEY=$RGW_ALICE_SECRET
presign() { "$LOTA" presign --endpoint "$S3_ENDPOINT" --bucket "$B" --key "$2" --method "$1"; }
fds() { ls "/proc/$IT_LOTAD_PID/fd" | wc -l; }

check "create bucket" it_curl alice -f -X PUT "$S3_ENDPOINT/$B"
it_random_file "$W/big" $((24 * 1048576))
check "PUT 24 MiB" it_curl alice -f -o /dev/null -T "$W/big" "$S3_ENDPOINT/$B/big"
# Warm up lotad's worker connections to the upstream so the fd baseline is stable.
for _ in 1 2 3 4; do it_curl alice -s -o /dev/null "$S3_ENDPOINT/$B/big"; done
fd0=$(fds)

# Backpressure: a client reading 24 MiB at 1 MiB/s must pause the upstream, not make
# lotad hold the object (its memory may grow by its fixed buffers, not by the object).
rss() { awk '/^VmRSS/ {print $2}' "/proc/$IT_LOTAD_PID/status"; }
rss0=$(rss)
it_curl alice -s -o /dev/null -w '%{size_download}' --limit-rate 1M --max-time 5 \
	"$S3_ENDPOINT/$B/big" >"$W/slow.size" &
slow=$!
peak=$rss0
# RSS is sampled for as long as the slow reader runs (its --max-time ends it).
while kill -0 "$slow" 2>/dev/null; do
	r=$(rss)
	[ "$r" -gt "$peak" ] && peak=$r
	sleep 0.1 # the sampling period
done
wait $slow 2>/dev/null
grow=$(((peak - rss0) / 1024))
got=$(cat "$W/slow.size")
check "the slow reader was really reading (${got:-0} bytes in 5 s)" test "${got:-0}" -gt 2000000
check "a slow reader does not make lotad buffer the object (RSS +${grow} MiB)" test "$grow" -lt 12

cat >"$W/abuse.py" <<'PY'
import select, socket, sys, time
port, get_url_path = int(sys.argv[1]), sys.argv[2]
put_url_paths = sys.argv[3:8]

def conn():
    s = socket.create_connection(("127.0.0.1", port))
    s.settimeout(15)
    return s

def exchange(data):
    s = conn()
    s.sendall(data)
    out = b""
    try:
        while True:
            d = s.recv(65536)
            if not d:
                break
            out += d
    except socket.timeout:
        out += b"<timeout>"
    s.close()
    return out.decode("latin-1")

def check(desc, ok, detail=""):
    print(("ok - " if ok else "not ok - ") + desc + ("" if ok else "  [" + detail[:200] + "]"))

H = "Host: 127.0.0.1\r\n"
shapes = {
    "CL.TE (Content-Length and Transfer-Encoding)":
        "POST /b/k HTTP/1.1\r\n" + H + "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "TE.CL (Transfer-Encoding then Content-Length)":
        "POST /b/k HTTP/1.1\r\n" + H + "Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n",
    "space before the colon of Transfer-Encoding":
        "POST /b/k HTTP/1.1\r\n" + H + "Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n",
    "Transfer-Encoding: xchunked":
        "POST /b/k HTTP/1.1\r\n" + H + "Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n",
    "Transfer-Encoding: chunked, gzip":
        "POST /b/k HTTP/1.1\r\n" + H + "Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n",
    "two Transfer-Encoding headers":
        "POST /b/k HTTP/1.1\r\n" + H + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "Content-Length: 1,1":
        "PUT /b/k HTTP/1.1\r\n" + H + "Content-Length: 1,1\r\n\r\nx",
    "Content-Length: +5":
        "PUT /b/k HTTP/1.1\r\n" + H + "Content-Length: +5\r\n\r\nxxxxx",
    "duplicate Content-Length":
        "PUT /b/k HTTP/1.1\r\n" + H + "Content-Length: 5\r\nContent-Length: 5\r\n\r\nxxxxx",
    "obs-fold":
        "GET /b/k HTTP/1.1\r\n" + H + "X-A: a\r\n b\r\n\r\n",
    "bare CR in a header":
        "GET /b/k HTTP/1.1\r\n" + H + "X-A: a\rb\r\n\r\n",
    "NUL in a header value":
        "GET /b/k HTTP/1.1\r\n" + H + "X-A: a\x00b\r\n\r\n",
    "LF-only line endings":
        "GET /b/k HTTP/1.1\n" + "Host: 127.0.0.1\n\n",
    "bad chunk size":
        "PUT /b/k HTTP/1.1\r\n" + H + "Transfer-Encoding: chunked\r\n\r\nzz\r\nxx\r\n0\r\n\r\n",
    "HTTP/1.1 without Host":
        "GET /b/k HTTP/1.1\r\n\r\n",
    "two Host headers":
        "GET /b/k HTTP/1.1\r\n" + H + H + "\r\n",
    "HTTP/2.0 request line":
        "GET /b/k HTTP/2.0\r\n" + H + "\r\n",
    "too many headers":
        "GET /b/k HTTP/1.1\r\n" + H + "".join("X-%d: v\r\n" % i for i in range(300)) + "\r\n",
}
for name, req in shapes.items():
    # A smuggled second request rides behind each shape: it must never be answered.
    smuggled = "GET /smuggled HTTP/1.1\r\n" + H + "\r\n"
    r = exchange((req + smuggled).encode("latin-1"))
    # 400, or 501 for a transfer coding lotad does not implement, 505 for a version
    status = r[9:12]
    ok = (status in ("400", "501", "505") and "<Error><Code>" in r
          and r.count("HTTP/1.1 ") == 1 and "Unknown" not in r.split("\r\n")[0])
    check(name + ": refused (%s) with an S3 error, then close" % status, ok, r)

# A head that never ends is cut off at header_timeout (2 s here), with nothing forwarded.
# The trickle (a byte every 0.2 s, far inside idle_timeout) is the test's input: only the
# deadline on the whole head can end it. lotad then answers 400 RequestTimeout and closes;
# that answer is waited for (at most 30 s), not timed.
s = conn()
s.sendall(b"GET /b/k HTTP/1.1\r\nHost: x\r\nX-Slow: ")
t0 = time.monotonic()
answer = b""
closed = False
try:
    while not closed and time.monotonic() - t0 < 30:
        if not answer:
            s.sendall(b"a")
        if select.select([s], [], [], 0.2)[0]:  # lotad's answer, or the trickle's pace
            d = s.recv(65536)
            answer += d
            closed = not d
except (BrokenPipeError, ConnectionResetError):
    closed = True
dt = time.monotonic() - t0
check("a slow head is closed by lotad (after %.1f s)" % dt, closed, answer.decode("latin-1"))
check("a slow head is answered 400 RequestTimeout",
      answer.startswith(b"HTTP/1.1 400 ") and b"<Code>RequestTimeout</Code>" in answer,
      answer.decode("latin-1"))
s.close()

# An idle keep-alive connection is closed after idle_timeout (3 s here).
s = conn()
s.settimeout(10)
t0 = time.time()
try:
    closed = s.recv(1) == b""
except ConnectionResetError:
    closed = True
except socket.timeout:
    closed = False
check("an idle connection is closed after idle_timeout (%.1f s)" % (time.time() - t0), closed)
s.close()

# Clients that vanish mid-upload: 8 MiB of a declared 20 MiB, then gone.
for i in range(5):
    s = conn()
    head = ("PUT %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Length: %d\r\n\r\n"
            % (put_url_paths[i], port, 20 << 20))
    s.sendall(head.encode())
    chunk = b"z" * 65536
    for _ in range(128):
        s.sendall(chunk)
    s.close()
print("# 5 uploads abandoned")

# Clients that vanish mid-download: read 1 MiB of 24 MiB, then gone (some with RST).
for i in range(10):
    s = conn()
    s.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" % (get_url_path, port)).encode())
    got = 0
    while got < (1 << 20):
        d = s.recv(65536)
        if not d:
            break
        got += len(d)
    if i % 2:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    s.close()
check("10 downloads abandoned after 1 MiB each", True)
PY
get_path=$(presign GET big) get_path=/${get_path#http://*/}
put_paths=()
for i in 0 1 2 3 4; do
	p=$(presign PUT "partial$i")
	put_paths+=("/${p#http://*/}")
done
gets0=$(it_requests_done get_object)
it_run_checks "abuse" it_python "$W/abuse.py" "$S3_PORT" "$get_path" "${put_paths[@]}"

# Before "stored nothing": lotad is done with every connection of the abuse. Each was
# accepted (a download read 1 MiB from lotad; an upload's 8 MiB is more than the socket
# buffers hold unread), and lotad ends a connection's upstream transfer before it closes
# it, so no transfer is left that could still complete an upload. (The request counters
# would do too, see below.)
check "lotad has closed every connection of the abuse" \
	it_wait_metric 30 lota_connections_open 0
# Every request whose client went away is counted, whichever side noticed first.
check "the 10 abandoned downloads are counted" \
	it_wait_requests_done 30 get_object $((gets0 + 10))
for i in 0 1 2 3 4; do
	code=$(it_curl alice -s -o /dev/null -w '%{http_code}' -I "$S3_ENDPOINT/$B/partial$i")
	check_eq "abandoned upload $i stored nothing" 404 "$code"
done
check "lotad is healthy after the abuse" it_lotad_healthy
: >"$W/back"
it_curl alice -s -o "$W/back" "$S3_ENDPOINT/$B/big"
check_eq "a full GET after the abuse returns the right bytes" "$(it_sha256 "$W/big")" "$(it_sha256 "$W/back")"
# lotad closes the last client connection when it sees curl go: wait for that, then for
# the descriptor count to come back (a leak never does).
it_wait_metric 30 lota_connections_open 0
# shellcheck disable=SC2317 # (runs through it_wait_for)
fds_back() { [ "$(fds)" -le $((fd0 + 2)) ]; }
it_wait_for 30 fds_back
fd1=$(fds)
check "no file descriptor leak (before $fd0, after $fd1)" test "$fd1" -le $((fd0 + 2))
metrics=$(curl -s "http://127.0.0.1:$IT_LOTAD_ADMIN_PORT/metrics")
check_contains "aborted requests are counted" 'status="4xx"' "$metrics"
check_eq "no connection is left open" "lota_connections_open 0" "$(echo "$metrics" | grep '^lota_connections_open ')"
it_curl alice -s -o /dev/null -X DELETE "$S3_ENDPOINT/$B/big"
check "delete bucket" it_curl alice -f -X DELETE "$S3_ENDPOINT/$B"
it_finish
