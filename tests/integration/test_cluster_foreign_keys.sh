#!/usr/bin/env bash
# test_cluster_foreign_keys.sh - reads signed for the upstream's own name (keys lotad does
# not hold, and one it holds), through a cluster of two lotads on 127.0.0.1
# (docs/architecture.md §9.4: with a key lotad does not hold they are cached by the node
# that took them; with one it holds, across the cluster; authorized by the upstream every
# time, on every node).
#
# Both nodes hold alice's key only; bob's programs sign for radosgw's own endpoint and
# connect to a node (curl --connect-to, as the shim or eBPF would redirect them).
#   - bob's private 3-extent object read through a: a miss, then a hit that radosgw
#     authorized (its 304), bytes exact; then through b: b's own miss and hit. Nothing of
#     it crosses the peer port (no peer bytes on either node), and each node filled the
#     object from the upstream once (radosgw's log: two 200s of bob's GET, the others 304).
#   - attacks on the copies both nodes now hold: alice (a key both nodes hold, no grant),
#     anonymous, bob's key with a wrong secret, an unknown key: 403 on each node, no byte
#     of the object, nothing served from the cache meanwhile.
#   - a range across extents through b is a hit, byte-exact; an overwrite made at radosgw
#     is seen by the next read on each node.
#   - a with --fill-credentials (the operator's key, which bob granted read): bob's reads
#     there are still stored by the node that took them (a miss, then a hit).
#   - alice's redirected reads (her key, which both nodes hold, signed for radosgw's own
#     name: verified here, then read through the cluster as a request signed for lotad's
#     name is): radosgw sends each extent once, to its owner; later reads through either
#     node are hit or peer, every byte from the cluster's stores; bob and anonymous get
#     403 for her cached object, no byte of it.
# shellcheck source=lib.sh disable=SC2317 # (helpers run through check)
. "$(dirname "$0")/lib.sh"
[ "${LOTA_TEST_DIRECT:-0}" = 1 ] && it_skip "lotad-specific test (LOTA_TEST_DIRECT=1)"
it_require_rgw
it_require_cmd curl

MiB=$((1024 * 1024))
SECRET=$IT_DIR/cluster.secret
head -c 32 /dev/urandom >"$SECRET"
chmod 600 "$SECRET"
W=$IT_DIR/work
mkdir -p "$W"
B=lota-cfk
RND=$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
MARK=LOTA-CLUSTER-FOREIGN-$RND
SERVED_CACHE='lota_bytes_served_total{source="cache"}'
SERVED_PEER='lota_bytes_served_total{source="peer"}'

read -r PA PB LB <<<"$(it_free_ports)"
read -r AB _ _ <<<"$(it_free_ports)"
CL=(--peer "a=127.0.0.1:$PA" --peer "b=127.0.0.1:$PB" --cluster-secret-file "$SECRET"
	--peer-timeout 2s --extent-size 1MiB --min-object-size 1MiB --workers 2)
IT_LOTAD_ARGS=(--node-id a --peer-listen "127.0.0.1:$PA" --cache-dir "$IT_DIR/cache-a:1GiB"
	"${CL[@]}")
it_setup
UP=http://127.0.0.1:$RGW_PORT

# Both nodes with alice's key only: bob's is foreign to them.
it_creds_file "$W/creds-alice" alice
IT_LOTAD_CREDENTIALS=$W/creds-alice
lotad_restart

declare -A LPORT=([a]=$IT_LOTAD_PORT [b]=$LB)
declare -A APORT=([a]=$IT_LOTAD_ADMIN_PORT [b]=$AB)
BPID=
"$(it_lotad_bin)" --listen "127.0.0.1:$LB" --upstream "$UP" --credentials "$W/creds-alice" \
	--admin-listen "127.0.0.1:$AB" --endpoint-name localhost --node-id b \
	--peer-listen "127.0.0.1:$PB" --cache-dir "$IT_DIR/cache-b:1GiB" "${CL[@]}" \
	>>"$IT_DIR/lotad-b.log" 2>&1 </dev/null &
BPID=$!
stop_b() {
	[ -n "$BPID" ] || return 0
	kill -TERM "$BPID" 2>/dev/null
	wait "$BPID" 2>/dev/null
	return 0
}
it_at_exit stop_b
it_wait_for 20 curl -sf -m 2 -o /dev/null "http://127.0.0.1:$AB/healthz" ||
	it_die "lotad b did not start (see $IT_DIR/lotad-b.log)"

metric() { # NODE SERIES: its value (0 when not printed yet)
	curl -sf -m 5 "http://127.0.0.1:${APORT[$1]}/metrics" |
		awk -v s="$2" '$1 == s { v = $2 } END { printf "%.0f\n", v }'
}
both_up() {
	local n
	for n in a b; do
		curl -sf -m 5 "http://127.0.0.1:${APORT[$n]}/cluster" | /usr/bin/python3 -c '
import json, sys
d = json.load(sys.stdin)
sys.exit(0 if all(m["state"] == "up" for m in d["members"]) and len(d["members"]) == 2 else 1)' ||
			return 1
	done
}
check "a and b see each other up" it_wait_for 20 both_up

hdr() { tr -d '\r' <"$W/hdr" | sed -n "s/^$1: //Ip" | tail -n 1; }
sig() { # PROFILE: curl's --aws-sigv4 arguments in SIG
	it_keys "$1"
	SIG=(--aws-sigv4 "aws:amz:$RGW_REGION:s3" --user "$IT_AK:$IT_SK"
		-H "x-amz-content-sha256: UNSIGNED-PAYLOAD")
}
direct() { # PROFILE CURL_ARGS...: straight to radosgw
	sig "$1"
	timeout 60 curl -sS "${SIG[@]}" "${@:2}"
}
# req NODE PROFILE|anonymous|wrong|unknown CURL_ARGS...: a request for radosgw's endpoint
# connected to NODE; status in ST, x-lota-cache in XC, body $W/body, head $W/hdr.
req() {
	local n=$1 p=$2 a=()
	shift 2
	: >"$W/body"
	: >"$W/hdr"
	case $p in
	anonymous) ;;
	wrong) a=(--aws-sigv4 "aws:amz:$RGW_REGION:s3" --user "$RGW_BOB_ACCESS:$IT_WRONG_SECRET"
		-H "x-amz-content-sha256: UNSIGNED-PAYLOAD") ;;
	unknown) a=(--aws-sigv4 "aws:amz:$RGW_REGION:s3" --user "$IT_UNKNOWN_ACCESS:$IT_UNKNOWN_SECRET"
		-H "x-amz-content-sha256: UNSIGNED-PAYLOAD") ;;
	*)
		sig "$p"
		a=("${SIG[@]}")
		;;
	esac
	ST=$(timeout 60 curl -s "${a[@]}" --connect-to "127.0.0.1:$RGW_PORT:127.0.0.1:${LPORT[$n]}" \
		-o "$W/body" -D "$W/hdr" -w '%{http_code}' "$@") || true
	XC=$(hdr x-lota-cache)
}
get() { # DESC NODE PROFILE STATUS XC FILE CURL_ARGS...
	local d=$1 n=$2 p=$3 st=$4 xc=$5 f=$6
	shift 6
	req "$n" "$p" "$@"
	check_eq "$d: status" "$st" "$ST"
	check_eq "$d: x-lota-cache" "$xc" "$XC"
	check_eq "$d: bytes" "$(it_sha256 "$f")" "$(it_sha256 "$W/body")"
}
idle() { # NODE: its fills done
	local i
	for ((i = 0; i < 300; i++)); do
		[ "$(metric "$1" lota_cache_fills_in_progress)" = 0 ] && return 0
		sleep 0.1
	done
	return 1
}
# bob_gets STATUS: how many GETs of bob's object radosgw answered with STATUS so far.
bob_gets() {
	awk -v p="\"GET /$B/o1 " -v s="$1" '/ beast: / && index($0, p) {
		n = split($0, q, "\""); split(q[3], r, " "); if (r[1] == s) c++ } END { print c + 0 }' \
		"$RGW_DIR/log/client.rgw.a.log" 2>/dev/null || echo 0
}
bob_gets_ge() { [ "$(bob_gets "$1")" -ge "$2" ]; } # STATUS N (radosgw logs a moment after)

O1=$W/o1 NEW=$W/o1-new
it_mkobj_marked "$O1" "$MARK" $((3 * MiB + 321))
it_mkobj_marked "$NEW" "$MARK" $((3 * MiB + 99))
check_eq "bob creates a private bucket at radosgw" 200 \
	"$(direct bob -o /dev/null -w '%{http_code}' -X PUT "$UP/$B")"
check_eq "bob uploads o1 at radosgw" 200 \
	"$(direct bob -o /dev/null -w '%{http_code}' -T "$O1" "$UP/$B/o1")"

# --- bob's reads: each node fills its own copy once, hits are radosgw's 304s
g200=$(bob_gets 200)
get "a: bob's first GET" a bob 200 miss "$O1" "$UP/$B/o1"
check "a: its fills end" idle a
get "a: bob's second GET" a bob 200 hit "$O1" "$UP/$B/o1"
get "b: bob's first GET" b bob 200 miss "$O1" "$UP/$B/o1"
check "b: its fills end" idle b
c0=$(metric b "$SERVED_CACHE")
get "b: bob's second GET" b bob 200 hit "$O1" "$UP/$B/o1"
check_eq "b: the hit's bytes came from b's own store" $((c0 + 3 * MiB + 321)) \
	"$(metric b "$SERVED_CACHE")"
tail -c +$((1000000 + 1)) "$O1" | head -c 1500001 >"$W/part"
get "b: a range across extents" b bob 206 hit "$W/part" -H "Range: bytes=1000000-2500000" \
	"$UP/$B/o1"
it_wait_for 5 bob_gets_ge 304 3 || true
check_eq "radosgw answered bob's GET with the object once per node" $((g200 + 2)) "$(bob_gets 200)"
check "radosgw authorized the hits (its 304s)" bob_gets_ge 304 3
for n in a b; do
	check_eq "$n: no byte of bob's reads crossed the peer port" 0 "$(metric "$n" "$SERVED_PEER")"
done

# --- attacks on the cached copies: every node asks radosgw, no byte leaves the cache
for n in a b; do
	c0=$(metric "$n" "$SERVED_CACHE")
	for p in alice anonymous wrong unknown; do
		req "$n" "$p" "$UP/$B/o1"
		check_eq "$n: $p: 403" 403 "$ST"
		check "$n: $p: no byte of the object" bash -c "! grep -q -a -F -- '$MARK' '$W/body' '$W/hdr'"
		req "$n" "$p" -H "Range: bytes=0-99" "$UP/$B/o1"
		check_eq "$n: $p, a range: 403" 403 "$ST"
	done
	check_eq "$n: nothing was served from the cache meanwhile" "$c0" "$(metric "$n" "$SERVED_CACHE")"
done

# --- an overwrite at radosgw is seen through both nodes
check_eq "bob overwrites o1 at radosgw" 200 \
	"$(direct bob -o /dev/null -w '%{http_code}' -T "$NEW" "$UP/$B/o1")"
for n in a b; do
	get "$n: the next read has the new bytes" "$n" bob 200 miss "$NEW" "$UP/$B/o1"
	check "$n: its fills end" idle "$n"
	get "$n: and then is a hit of them" "$n" bob 200 hit "$NEW" "$UP/$B/o1"
done
# --- a key the nodes hold, signed for radosgw's own name (alice's redirected programs):
# verified here and read as a request signed for lotad's name is, through the cluster:
# each extent filled once in the cluster, by its owner, and read from it
BA=lota-cfk-alice
OA=$W/oa
it_mkobj_marked "$OA" "$MARK" $((2 * MiB + 77))
check_eq "alice creates a private bucket at radosgw" 200 \
	"$(direct alice -o /dev/null -w '%{http_code}' -X PUT "$UP/$BA")"
check_eq "alice uploads oa at radosgw" 200 \
	"$(direct alice -o /dev/null -w '%{http_code}' -T "$OA" "$UP/$BA/oa")"
# alice_gets: GETs of oa radosgw answered with its bytes (200 or 206) so far
alice_gets() {
	awk -v p="\"GET /$BA/oa" '/ beast: / && index($0, p) {
		n = split($0, q, "\""); split(q[3], r, " "); if (r[1] == 200 || r[1] == 206) c++ }
		END { print c + 0 }' "$RGW_DIR/log/client.rgw.a.log" 2>/dev/null || echo 0
}
get "a: alice's first GET of oa" a alice 200 miss "$OA" "$UP/$BA/oa"
check "a: its fills end" idle a
check "b: its fills end" idle b
sleep 0.5 # radosgw logs a request a moment after its answer
fills=$(alice_gets)
check_eq "radosgw sent oa's 3 extents once, to their owners" 3 "$fills"
# from_stores N: node N's bytes served from its store and from its members' so far
from_stores() { echo $(($(metric "$1" "$SERVED_CACHE") + $(metric "$1" "$SERVED_PEER"))); }
for n in a b b a; do
	c0=$(from_stores "$n")
	req "$n" alice "$UP/$BA/oa"
	check_eq "$n: alice's GET of oa: status" 200 "$ST"
	check "$n: ... its first byte from this node's store or its owner's (x-lota-cache: $XC)" \
		bash -c "[ '$XC' = hit ] || [ '$XC' = peer ]"
	check_eq "$n: ... bytes" "$(it_sha256 "$OA")" "$(it_sha256 "$W/body")"
	check_eq "$n: ... every one from this node's store or its owner's" $((c0 + 2 * MiB + 77)) \
		"$(from_stores "$n")"
done
sleep 0.5
check_eq "radosgw sent none of oa's bytes again" "$fills" "$(alice_gets)"
req b alice -I "$UP/$BA/oa"
check_eq "b: alice's HEAD of oa: 200" 200 "$ST"
check_eq "b: ... its Content-Length" $((2 * MiB + 77)) "$(hdr Content-Length)"
head -c 1000 "$OA" >"$W/small"
check_eq "alice uploads a small object at radosgw" 200 \
	"$(direct alice -o /dev/null -w '%{http_code}' -T "$W/small" "$UP/$BA/small")"
for n in a b; do
	get "$n: alice's GET of the small object (proxied)" "$n" alice 200 bypass "$W/small" \
		"$UP/$BA/small"
done
tail -c +$((1000000 + 1)) "$OA" | head -c 1100001 >"$W/part"
req a alice -H "Range: bytes=1000000-2100000" "$UP/$BA/oa"
check_eq "a: alice's range across extents of oa: 206" 206 "$ST"
check_eq "a: ... bytes" "$(it_sha256 "$W/part")" "$(it_sha256 "$W/body")"
for n in a b; do
	c0=$(metric "$n" "$SERVED_CACHE")
	for p in bob anonymous; do
		req "$n" "$p" "$UP/$BA/oa"
		check_eq "$n: $p on alice's cached oa: 403" 403 "$ST"
		check "$n: $p: no byte of it" bash -c "! grep -q -a -F -- '$MARK' '$W/body' '$W/hdr'"
	done
	check_eq "$n: nothing was served from the cache meanwhile" "$c0" "$(metric "$n" "$SERVED_CACHE")"
done

# --- a with --fill-credentials (an operator's key bob granted read): in a cluster the tee
# still stores what bob's answers carry on the node that took them
it_operator_create
O5=$W/o5
it_mkobj_marked "$O5" "$MARK" $((2 * MiB + 5))
rc=$(it_put_granted bob "$B" o5 "$O5") || true
check_eq "bob uploads o5 at radosgw, readable by operator" ok "$rc"
it_creds_with_operator "$W/creds-alice" "$W/creds-op"
IT_LOTAD_CREDENTIALS=$W/creds-op
IT_LOTAD_ARGS+=(--fill-credentials operator)
lotad_restart
check "a and b see each other up again" it_wait_for 20 both_up
get "a (fill credential): bob's first GET of o5" a bob 200 miss "$O5" "$UP/$B/o5"
check "a: its fills end" idle a
c0=$(metric a "$SERVED_CACHE")
get "a (fill credential): bob's second GET of o5" a bob 200 hit "$O5" "$UP/$B/o5"
check_eq "a: its bytes came from a's store" $((c0 + 2 * MiB + 5)) "$(metric a "$SERVED_CACHE")"
req a alice "$UP/$B/o5"
check_eq "a: alice on bob's cached o5: 403" 403 "$ST"

check "b is still running" kill -0 "$BPID"
check "a is still running" kill -0 "$IT_LOTAD_PID"

check "no sanitizer report in the logs of a and b" \
	bash -c "! grep -qE 'AddressSanitizer|LeakSanitizer|runtime error' '$IT_DIR'/lotad*.log"

it_finish
