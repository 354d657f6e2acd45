#!/usr/bin/env bash
# test_memory_bound.sh - lotad's memory after uploads that clients abort half-way.
#
# Rounds of ROUNDS x COUNT PUTs of 200 KB signed by alice, each cut off after 100 KB,
# PARALLEL at once, against a lotad capped at MAXCONN connections (more than that are
# refused). After each round the test waits until lotad reports no open connection, then
# polls lotad's RSS (/proc/PID/status) until it is back under start + SLACK MiB (within a
# deadline: lotad gives memory back once the load has dropped, not at once). During the
# rounds lotad's peak RSS (VmHWM) must stay under start + the bound lotad states at start
# (max_connections x its per-connection cap). Every round's figures are printed.
#
# RSS is meaningless under AddressSanitizer (its quarantine and shadow memory): the
# sanitizer build skips this test.
. "$(dirname "$0")/lib.sh"
it_require_rgw
if [ "${LOTA_TEST_DIRECT:-}" = 1 ]; then
	it_skip "measures lotad's memory (LOTA_TEST_DIRECT=1)"
fi
if [ "${LOTA_SANITIZE:-0}" = 1 ] || grep -q __asan_init "$(it_lotad_bin)" 2>/dev/null; then
	it_skip "RSS means nothing under AddressSanitizer (sanitizer build)"
fi
ROUNDS=${LOTA_MEM_ROUNDS:-5}
COUNT=${LOTA_MEM_COUNT:-1000}
PARALLEL=${LOTA_MEM_PARALLEL:-200}
MAXCONN=${LOTA_MEM_MAXCONN:-128}
SLACK=${LOTA_MEM_SLACK_MIB:-8}
IT_LOTAD_ARGS=(--workers 2 --max-connections "$MAXCONN")
it_setup

B=lota-mem
check_eq "alice creates the bucket" 200 \
	"$(it_curl alice -o /dev/null -w '%{http_code}' -X PUT "$RGW_ENDPOINT/$B")"

rss_kb() { awk '$1 == "VmRSS:" { print $2 }' "/proc/$IT_LOTAD_PID/status"; }
hwm_kb() { awk '$1 == "VmHWM:" { print $2 }' "/proc/$IT_LOTAD_PID/status"; }

# The bound lotad states at start: "... = N MiB (max_connections, client_buffer)".
BOUND_MIB=$(sed -n 's/.*memory for clients: .* = \([0-9]*\) MiB.*/\1/p' "$IT_DIR/lotad.log" | tail -n 1)
check "lotad states its memory bound for clients ($BOUND_MIB MiB)" test -n "$BOUND_MIB"
BOUND_MIB=${BOUND_MIB:-0}

START=$(rss_kb)
LIMIT=$((START + SLACK * 1024))
it_log "start: RSS $((START / 1024)) MiB; after each round it must return under $((LIMIT / 1024)) MiB"

# rss_settles SECS: poll until RSS <= LIMIT (at most SECS seconds).
rss_settles() {
	local deadline=$((SECONDS + $1))
	while :; do
		[ "$(rss_kb)" -le "$LIMIT" ] && return 0
		[ $SECONDS -ge "$deadline" ] && return 1
		sleep 0.1
	done
}

for ((r = 1; r <= ROUNDS; r++)); do
	out=$(it_python "$IT_CLIENTS_DIR/aborted_uploads.py" 127.0.0.1 "$S3_PORT" "$B" \
		"$COUNT" 204800 "$PARALLEL" 1 2>&1)
	rc=$?
	check "round $r: $COUNT uploads aborted by their clients ($out)" test "$rc" -eq 0
	check "round $r: lotad closes every connection" \
		it_wait_metric 30 lota_connections_open 0
	peak=$(hwm_kb)
	rss_settles 20
	settled=$?
	it_log "round $r: RSS $(($(rss_kb) / 1024)) MiB after the load, peak so far $((peak / 1024)) MiB"
	check_eq "round $r: RSS back under start + $SLACK MiB" 0 "$settled"
	check "round $r: peak RSS $((peak / 1024)) MiB under start + the stated bound" \
		test "$peak" -le $((START + BOUND_MIB * 1024))
done
check "lotad refused connections over max_connections" \
	grep -q "max_connections ($MAXCONN) reached" "$IT_DIR/lotad.log"
echo "after the rounds" >"$IT_DIR/after"
check_eq "alice can still upload" 200 \
	"$(it_curl alice -o /dev/null -w '%{http_code}' -T "$IT_DIR/after" "$S3_ENDPOINT/$B/after")"

it_finish
