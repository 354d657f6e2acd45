#!/usr/bin/env bash
# test_testground.sh - the test ground itself (rgw.sh): two clusters side by side on
# their own ports, each serving its own users, start refusing a used directory, and stop
# leaving no process and no directory behind.
. "$(dirname "$0")/lib.sh"
it_require_rgw

D1=$IT_DIR/c1
D2=$IT_DIR/c2
"$IT_LIB_DIR/rgw.sh" start "$D1" >"$IT_DIR/c1.out" 2>&1 &
p1=$!
"$IT_LIB_DIR/rgw.sh" start "$D2" >"$IT_DIR/c2.out" 2>&1 &
p2=$!
wait $p1
r1=$?
wait $p2
r2=$?
check_eq "cluster 1 starts" 0 "$r1"
check_eq "cluster 2 starts (at the same time)" 0 "$r2"
[ "$r1" -eq 0 ] || sed 's/^/#   /' "$IT_DIR/c1.out"
[ "$r2" -eq 0 ] || sed 's/^/#   /' "$IT_DIR/c2.out"
port1=$(sed -n 's/^RGW_PORT=//p' "$D1/rgw.env" 2>/dev/null)
port2=$(sed -n 's/^RGW_PORT=//p' "$D2/rgw.env" 2>/dev/null)
pids=$(sed -n 's/^RGW_PIDS="\(.*\)"/\1/p' "$D1/rgw.env" "$D2/rgw.env" 2>/dev/null)
for f in "$D1" "$D2"; do
	ms=$(sed -n 's/^RGW_START_MS=//p' "$f/rgw.env" 2>/dev/null)
	it_log "$(basename "$f") started in ${ms:-?} ms on port $(sed -n 's/^RGW_PORT=//p' "$f/rgw.env" 2>/dev/null)"
done
check "the clusters use different ports ($port1, $port2)" test -n "$port1" -a -n "$port2" -a "$port1" != "$port2"
check_eq "6 daemon PIDs recorded" 6 "$(wc -w <<<"$pids")"

. "$D1/rgw.env"
if [ -n "$port1" ] && [ -n "$port2" ]; then
	sign=(--aws-sigv4 "aws:amz:$RGW_REGION:s3" --user "$RGW_ALICE_ACCESS:$RGW_ALICE_SECRET" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD")
	code=$(curl -sS -o /dev/null -w '%{http_code}' "${sign[@]}" -X PUT "http://127.0.0.1:$port1/only-in-one")
	check_eq "alice creates a bucket in cluster 1" 200 "$code"
	code=$(curl -sS -o /dev/null -w '%{http_code}' "${sign[@]}" "http://127.0.0.1:$port1/only-in-one")
	check_eq "cluster 1 has it" 200 "$code"
	code=$(curl -sS -o /dev/null -w '%{http_code}' "${sign[@]}" "http://127.0.0.1:$port2/only-in-one")
	check_eq "cluster 2 does not (404)" 404 "$code"
	code=$(curl -sS -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port1/only-in-one")
	check_eq "anonymous listing of alice's bucket -> 403" 403 "$code"
fi

out=$("$IT_LIB_DIR/rgw.sh" start "$D1" 2>&1)
rc=$?
check "start refuses a directory in use (exit $rc)" test "$rc" -ne 0
check_contains "start says why" "not empty" "$out"
check "the first cluster survived the refused start" curl -sf -o /dev/null "http://127.0.0.1:$port1/"

check "stop cluster 1" "$IT_LIB_DIR/rgw.sh" stop "$D1"
check "stop cluster 2" "$IT_LIB_DIR/rgw.sh" stop "$D2"
check "both directories are gone" test ! -e "$D1" -a ! -e "$D2"
alive=
for p in $pids; do
	if [ -r "/proc/$p/cmdline" ] && tr '\0' ' ' <"/proc/$p/cmdline" | grep -qF "$IT_DIR/"; then
		alive="$alive $p"
	fi
done
check_eq "no daemon left running" "" "$alive"
check "stop of a missing directory is a no-op" "$IT_LIB_DIR/rgw.sh" stop "$IT_DIR/never"
mkdir -p "$IT_DIR/foreign"
touch "$IT_DIR/foreign/precious"
"$IT_LIB_DIR/rgw.sh" stop "$IT_DIR/foreign" >/dev/null 2>&1
check "stop does not remove a directory it did not create" test -e "$IT_DIR/foreign/precious"
it_finish
