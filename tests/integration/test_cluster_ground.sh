#!/usr/bin/env bash
# test_cluster_ground.sh - the cluster on the multi-node test ground (netground.sh): three
# lotads, each in its own network namespace behind its own capped link, radosgw behind a
# slower one, --extent-size 4MiB so that objects have many extents. Needs root.
#
# - one upstream fill per extent cluster-wide: seven objects read at the same time
#   through all three nodes; radosgw's own access log shows each object's bytes sent once
#   (one GET per extent), whatever node asked.
# - cached bytes not duplicated: the cache bytes of the three nodes add up to the data
#   size, and each extent's file is on exactly one node: the one `lota owner` names.
# - a large object (16 extents) is spread over all three nodes.
# - `lota cluster` and the client library (lota_client_owner, clients/ground_owner.c)
#   against the real GET /cluster name the node that holds the extent.
# - real clients (boto3, awscli) via every node: byte-exact by sha256.
# - bob and anonymous refused on every node (for extents held by another node).
# - the peer port, from a node's namespace: unauthenticated, wrongly signed, stale,
#   future, replayed requests and a non-member id get 403 and no byte
#   (clients/peer_sign.py); a member's signed request gets exactly the extent's bytes.
# - a peer killed with kill -9 while it streams to a slow reader on another node: the
#   client sees no error and every byte right; /cluster shows it down, then up again
#   after a restart (it rejoins by itself), and it serves byte-exact again.
# - a fourth node added (every node's flags naming all four): `lota owner` moves about
#   1/4 of 300 extents, all to the new node; reads through it of the objects then come
#   from its peers (warm extents taken over from the previous owner), with no new
#   upstream GET, and it holds exactly the extents lota places on it.
# shellcheck source=lib.sh disable=SC2317 # (helpers run through check)
. "$(dirname "$0")/lib.sh"
# shellcheck source=netground.sh
. "$IT_LIB_DIR/netground.sh"
[ "${LOTA_TEST_DIRECT:-0}" = 1 ] && it_skip "lotad-specific test (LOTA_TEST_DIRECT=1)"
ng_require
it_require_boto3
it_require_cmd "$IT_AWS" md5sum "${LOTA_CC:-cc}"

BUILD=${LOTA_BUILD_DIR:-$IT_LIB_DIR/../../build}
SRC=${LOTA_SOURCE_DIR:-$IT_LIB_DIR/../..}
LOTA=$BUILD/tools/lota
[ -x "$LOTA" ] || it_die "the lota tool is not built ($LOTA)"
# shellcheck disable=SC2034 # read by netground.sh
LOTA_CLUSTER=on
"$(ng_lotad_bin)" --help 2>/dev/null | grep -q -- '--peer-listen' ||
	it_die "lotad has no cluster (--peer-listen not in its --help)"

MiB=$((1 << 20))
EXT=$((4 * MiB))
B=cground
W=$IT_DIR/work
mkdir -p "$W"

# The client library's owner lookup, built against this build's liblota (with the
# build's compiler and sanitizers, as test_install does).
san=()
# shellcheck disable=SC2054 # one flag
[ "${LOTA_SANITIZE:-0}" = 1 ] && san=(-fsanitize=address,undefined)
"${LOTA_CC:-cc}" -std=c11 -O1 -Wall -Wextra -Werror "${san[@]}" -I "$SRC/include" \
	-o "$W/ground_owner" "$IT_CLIENTS_DIR/ground_owner.c" \
	-L "$BUILD/lib" -Wl,-rpath,"$(cd "$BUILD/lib" && pwd)" -llota ||
	it_die "cannot build clients/ground_owner.c against $BUILD/lib"

ng_setup 3 "$IT_DIR/ground" || it_die "the ground did not come up"
# shellcheck disable=SC2034 # read by ng_lotad_start
NG_LOTAD_ARGS=(--extent-size 4MiB --min-object-size 1MiB --peer-timeout 2s)
ng_lotads_start || it_die "the lotads did not start"
it_log "ground $NG_ID: radosgw $NG_RGW_ADDR, nodes ${NG_ADDR[*]:1}"

# ---------------------------------------------------------------- helpers
# state I M: member M's state in node I's GET /cluster ("" when I does not answer)
state() {
	ip netns exec "${NG_NS_NODE[$1]}" curl -sf -m 5 "$(ng_admin_url "$1")/cluster" |
		/usr/bin/python3 -c '
import json, sys
d = json.load(sys.stdin)
print("".join(m["state"] for m in d["members"] if m["id"] == sys.argv[1]))' "$2" 2>/dev/null
}
is_state() { [ "$(state "$1" "$2")" = "$3" ]; }
all_up() {
	local i j
	for ((i = 1; i <= NG_N; i++)); do
		for ((j = 1; j <= NG_N; j++)); do
			is_state "$i" "n$j" up || return 1
		done
	done
}
idle() {
	local i
	for ((i = 1; i <= NG_N; i++)); do
		[ -z "${NG_LOTAD_PID[i]}" ] && continue
		[ "$(ng_metric "$i" lota_cache_fills_in_progress)" = 0 ] || return 1
	done
}
# rgw_path_gets PATH / rgw_path_bytes PATH: GETs of PATH (with or without a query: the
# owners' presigned fill tickets) radosgw answered 200/206, from any address; and their
# body bytes. From radosgw's own access lines.
rgw__awk() {
	awk -v p="$1" -v what="$2" '
		/ beast: / {
			n = split($0, q, "\"")
			if (n < 3) next
			split(q[2], r, " ")
			if (r[1] != "GET") next
			if (r[2] != p && index(r[2], p "?") != 1) next
			split(q[3], s, " ")
			if (s[1] != "200" && s[1] != "206") next
			c++; sum += s[2]
		}
		END { printf "%.0f\n", what == "bytes" ? sum : c }' "$(ng_rgw_log)" 2>/dev/null || echo 0
}
rgw_path_gets() { rgw__awk "$1" gets; }
rgw_path_bytes() { rgw__awk "$1" bytes; }
rgw_bytes_are() { [ "$(rgw_path_bytes "$1")" = "$2" ]; }
etag() { echo "\"$(md5sum "$W/$1" | cut -d' ' -f1)\""; }
# members I: the members up in node I's GET /cluster as `lota owner` takes them (ID=WEIGHT)
members() {
	ip netns exec "${NG_NS_NODE[$1]}" curl -sf -m 5 "$(ng_admin_url "$1")/cluster" |
		/usr/bin/python3 -c '
import json, sys
d = json.load(sys.stdin)
print(" ".join("%s=%r" % (m["id"], float(m["weight"])) for m in d["members"] if m["state"] == "up"))'
}
# owner KEY OFFSET NODE...: the node `lota owner` places the extent of KEY at OFFSET on
owner() {
	local k=$1 off=$2 n=() x
	shift 2
	for x in "$@"; do n+=(--node "$x"); done
	"$LOTA" owner "${n[@]}" --bucket "$B" --key "$k" --etag "$(etag "$k")" \
		--size "$(stat -c %s "$W/$k")" --extent-size "$EXT" --offset "$off" | sed -n '2s/^1 //p'
}
# ext_name KEY OFFSET: the extent's name (XXH3-128 of its cache key) as `lota owner` prints
ext_name() {
	"$LOTA" owner --node n1 --bucket "$B" --key "$1" --etag "$(etag "$1")" \
		--size "$(stat -c %s "$W/$1")" --extent-size "$EXT" --offset "$2" |
		sed -n '1s/^extent [0-9]* name //p'
}
# holders NAME: the nodes whose cache dir holds the extent file NAME (DIR/ab/cd/NAME)
holders() {
	local i hs=()
	for ((i = 1; i <= NG_N; i++)); do
		[ -f "$NG_DIR/n$i/cache/${1:0:2}/${1:2:2}/$1" ] && hs+=("n$i")
	done
	echo "${hs[*]}"
}
cache_bytes() { ng_metric_sum "$1" lota_cache_bytes; }
nexts() { echo $((($(stat -c %s "$W/$1") + EXT - 1) / EXT)); }
put() {
	ng_curl rgw alice -o /dev/null -w '%{http_code}' -T "$W/$1" "$NG_RGW_ENDPOINT/$B/$1"
}
url() { echo "$(ng_url "$1")/$B/$2"; }

# ---------------------------------------------------------------- data
check "every node's /cluster lists n1, n2 and n3 up" it_wait_for 20 all_up
read -ra M3 <<<"$(members 1)"
check_eq "node 1's /cluster: three members up, equal weights (equal caches)" "3 1" \
	"${#M3[@]} $(printf '%s\n' "${M3[@]#*=}" | sort -u | wc -l)"
check_eq "alice creates bucket $B at radosgw" 200 \
	"$(ng_curl rgw alice -o /dev/null -w '%{http_code}' -X PUT "$NG_RGW_ENDPOINT/$B")"
KEYS=()
for i in 1 2 3 4 5 6; do
	it_random_file "$W/s$i.bin" $((10 * MiB + 4099 * i)) # 3 extents, the last partial
	KEYS+=("s$i.bin")
done
it_random_file "$W/big.bin" $((64 * MiB)) # 16 extents
KEYS+=(big.bin)
total=0
for k in "${KEYS[@]}"; do
	check_eq "alice uploads $k at radosgw" 200 "$(put "$k")"
	total=$((total + $(stat -c %s "$W/$k")))
done

# ---------------------------------------------------------------- one fill per extent
# Every object read at the same time through all three nodes (curl, cold).
pids=()
for k in "${KEYS[@]}"; do
	for i in 1 2 3; do
		ng_curl "$i" alice -f -o "$W/$k.cold$i" "$(url "$i" "$k")" &
		pids+=($!)
	done
done
fails=0
for p in "${pids[@]}"; do wait "$p" || fails=$((fails + 1)); done
check_eq "21 cold reads at once (7 objects x 3 nodes): no client error" 0 "$fails"
for k in "${KEYS[@]}"; do
	want=$(it_sha256 "$W/$k")
	for i in 1 2 3; do
		check_eq "$k cold through node $i: sha256" "$want" "$(it_sha256 "$W/$k.cold$i")"
	done
done
check "every fill done" it_wait_for 30 idle
for k in "${KEYS[@]}"; do
	size=$(stat -c %s "$W/$k")
	check "radosgw's log: $k sent once in the whole cluster ($size bytes)" \
		it_wait_for 10 rgw_bytes_are "/$B/$k" "$size"
	check_eq "radosgw's log: $k in $(nexts "$k") GETs (one per extent)" "$(nexts "$k")" \
		"$(rgw_path_gets "/$B/$k")"
done

# ---------------------------------------------------------------- not duplicated
sum=0
for i in 1 2 3; do
	cb[i]=$(cache_bytes "$i")
	sum=$((sum + cb[i]))
done
it_log "cache bytes: n1 ${cb[1]}, n2 ${cb[2]}, n3 ${cb[3]}; data $total"
check "the nodes' cache bytes add up to the data size ($sum of $total bytes)" \
	test "$sum" -ge "$total" -a "$sum" -le $((total + total / 100))
bad=0 misplaced=0 listed=""
declare -A HELD=() OWN3=()
for k in "${KEYS[@]}"; do
	for ((x = 0; x < $(nexts "$k"); x++)); do
		nm=$(ext_name "$k" $((x * EXT)))
		h=$(holders "$nm")
		o=$(owner "$k" $((x * EXT)) "${M3[@]}")
		OWN3[$k:$x]=$o
		HELD[$k:$x]=$h
		case $h in
		n[1-9]) [ "$h" = "$o" ] || misplaced=$((misplaced + 1)) ;;
		*)
			bad=$((bad + 1))
			listed+=" $k:$x=[$h]"
			;;
		esac
	done
done
check_eq "each of the 34 extents is on exactly one node${listed:+ (not:$listed)}" 0 "$bad"
check_eq "... the node \`lota owner\` names (members and weights from /cluster)" 0 "$misplaced"
spread=""
for i in 1 2 3; do
	c=0
	for ((x = 0; x < 16; x++)); do [ "${HELD[big.bin:$x]}" = "n$i" ] && c=$((c + 1)); done
	spread+=" n$i:$c"
	check "big.bin (16 extents) has extents on node $i ($c)" test "$c" -ge 1
done
it_log "big.bin's extents per node:$spread"

# ---------------------------------------------------------------- lota and the library
out=$(ng_exec 1 "$LOTA" cluster --admin-url "$(ng_admin_url 1)" 2>&1)
for i in 1 2 3; do
	check_contains "lota cluster (node 1's /cluster) lists n$i up at ${NG_ADDR[i]}" \
		"$(printf '%-20s %-22s %-5s' "n$i" "${NG_ADDR[i]}:$NG_PEER_PORT" up)" "$out"
done
check_contains "lota cluster marks node 1 as this node" "  (this node)" \
	"$(grep '^n1 ' <<<"$out")"
offs=()
for ((x = 0; x < 16; x++)); do offs+=($((x * EXT + 12345))); done
for i in 1 2 3; do
	lib=$(ng_exec "$i" env AWS_ACCESS_KEY_ID="$RGW_ALICE_ACCESS" \
		AWS_SECRET_ACCESS_KEY="$RGW_ALICE_SECRET" AWS_REGION="$RGW_REGION" \
		AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_CONFIG_FILE=/dev/null \
		"$W/ground_owner" "$(ng_url "$i")" "$(ng_admin_url "$i")" "$EXT" "$B" big.bin \
		"${offs[@]}" 2>&1)
	want=""
	for ((x = 0; x < 16; x++)); do
		want+="${offs[x]} ${HELD[big.bin:$x]}"$'\n'
	done
	check_eq "lota_client_owner via node $i: the holder of each of big.bin's 16 extents" \
		"$want" "$lib"$'\n'
done

# ---------------------------------------------------------------- real clients
want=$(it_sha256 "$W/big.bin")
for i in 1 2 3; do
	out=$(ng_python "$i" "$IT_CLIENTS_DIR/ground_boto3.py" get alice "$B" big.bin "$W/big.boto3.$i" 2>&1)
	check_contains "node $i: boto3 get big.bin is 200" "200 " "$out"
	check_eq "node $i: boto3 big.bin sha256" "$want" "$(it_sha256 "$W/big.boto3.$i")"
	check "node $i: awscli s3 cp big.bin" ng_aws "$i" alice s3 cp --only-show-errors \
		"s3://$B/big.bin" "$W/big.aws.$i"
	check_eq "node $i: awscli big.bin sha256" "$want" "$(it_sha256 "$W/big.aws.$i")"
	out=$(ng_python "$i" "$IT_CLIENTS_DIR/ground_boto3.py" get alice "$B" "s$i.bin" "$W/s.boto3.$i" 2>&1)
	check_eq "node $i: boto3 s$i.bin sha256 ($out)" "$(it_sha256 "$W/s$i.bin")" \
		"$(it_sha256 "$W/s.boto3.$i")"
done
check_eq "still one GET per extent of big.bin at radosgw" 16 "$(rgw_path_gets "/$B/big.bin")"

# ---------------------------------------------------------------- other users
for i in 1 2 3; do
	out=$(ng_python "$i" "$IT_CLIENTS_DIR/ground_boto3.py" get bob "$B" big.bin "$W/bob.$i" 2>&1)
	check_eq "node $i: bob's boto3 read of alice's cached big.bin -> 403 AccessDenied" \
		"403 AccessDenied" "$out"
	st=$(ng_curl "$i" bob -o "$W/bob.$i.curl" -w '%{http_code}' -r 0-1048575 "$(url "$i" big.bin)")
	check_eq "node $i: bob's ranged curl -> 403" 403 "$st"
	check "node $i: bob got no byte of it" test "$(stat -c %s "$W/bob.$i.curl")" -lt 1024
	st=$(ng_curl "$i" anonymous -o "$W/anon.$i" -w '%{http_code}' "$(url "$i" big.bin)")
	check_eq "node $i: anonymous GET -> 403" 403 "$st"
	check "node $i: anonymous got no byte of it" test "$(stat -c %s "$W/anon.$i")" -lt 1024
done

# ---------------------------------------------------------------- the peer port
for i in 1 2 3; do
	j=$((i % 3 + 1))
	it_run_checks "peer port of node $j from node $i's namespace" ng_exec "$i" \
		/usr/bin/python3 "$IT_CLIENTS_DIR/peer_sign.py" refusals "${NG_ADDR[j]}" \
		"$NG_PEER_PORT" "$NG_DIR/cluster.secret" "n$i"
done
x=5 o=${HELD[big.bin:5]}
oi=${o#n} fi=$((oi % 3 + 1))
st=$(ng_exec "$fi" /usr/bin/python3 "$IT_CLIENTS_DIR/peer_sign.py" extent "${NG_ADDR[oi]}" \
	"$NG_PEER_PORT" "$NG_DIR/cluster.secret" "n$fi" "$B" big.bin "$(etag big.bin)" \
	$((64 * MiB)) "$x" bytes=1000-9191 "$W/peer.ext")
check_eq "node $fi's signed request for big.bin's extent $x to its owner $o: 206" 206 "$st"
check_eq "... exactly those bytes" \
	"$(tail -c +$((x * EXT + 1001)) "$W/big.bin" | head -c 8192 | sha256sum | cut -d' ' -f1)" \
	"$(it_sha256 "$W/peer.ext")"
st=$(ng_exec rgw /usr/bin/python3 "$IT_CLIENTS_DIR/peer_sign.py" extent "${NG_ADDR[oi]}" \
	"$NG_PEER_PORT" /dev/null "n$fi" "$B" big.bin "$(etag big.bin)" $((64 * MiB)) "$x" \
	bytes=1000-9191 "$W/peer.nosecret")
check_eq "the same request from radosgw's namespace without the secret: 403" 403 "$st"
check_eq "... no byte" 0 "$(stat -c %s "$W/peer.nosecret")"

# ---------------------------------------------------------------- kill -9 mid-stream
# k.bin: 32 MiB (8 extents) of which node 2 or 3 owns two or more of the last six; that
# node dies while it streams to a slow reader on node 1.
victim=
for _ in 1 2 3 4 5 6 7 8 9 10; do
	it_random_file "$W/k.bin" $((32 * MiB))
	declare -A cnt=([n2]=0 [n3]=0)
	for ((x = 2; x < 8; x++)); do
		o=$(owner k.bin $((x * EXT)) "${M3[@]}")
		[ "$o" = n1 ] || cnt[$o]=$((cnt[$o] + 1))
	done
	if [ "${cnt[n2]}" -ge 2 ]; then victim=2; elif [ "${cnt[n3]}" -ge 2 ]; then victim=3; fi
	[ -n "$victim" ] && break
done
[ -n "$victim" ] || it_die "no layout of k.bin with 2 late extents on node 2 or 3 in 10 tries"
check_eq "alice uploads k.bin" 200 "$(put k.bin)"
ng_curl 1 alice -f -o "$W/k.warm" "$(url 1 k.bin)"
check_eq "k.bin cold through node 1: sha256" "$(it_sha256 "$W/k.bin")" "$(it_sha256 "$W/k.warm")"
check "every fill done" it_wait_for 30 idle
in0=$(ng_metric "$victim" 'lota_peer_bytes_total{direction="in"}')
fo0=$(ng_metric 1 lota_cache_peer_failovers_total)
ng_curl 1 alice --limit-rate 6M -o "$W/k.slow" -w '%{http_code}' "$(url 1 k.bin)" \
	>"$W/k.status" 2>"$W/k.err" &
reader=$!
serving() { [ "$(ng_metric "$victim" 'lota_peer_bytes_total{direction="in"}')" -gt "$in0" ]; }
check "node $victim streams k.bin to node 1" it_wait_for 30 serving
check "the slow read is still under way when node $victim dies" kill -0 "$reader"
ng_lotad_kill "$victim"
wait "$reader"
check_eq "the slow read through node 1 completes with no error after kill -9 of node $victim" \
	"0 200" "$? $(cat "$W/k.status")"
check_eq "... byte-exact" "$(it_sha256 "$W/k.bin")" "$(it_sha256 "$W/k.slow")"
check "... the rest came from elsewhere (lota_cache_peer_failovers_total grew)" \
	test "$(ng_metric 1 lota_cache_peer_failovers_total)" -gt "$fo0"
check "node 1's /cluster shows n$victim down" it_wait_for 15 is_state 1 "n$victim" down
other=$((5 - victim)) # the third node
check "node $other's /cluster shows n$victim down" it_wait_for 15 is_state "$other" "n$victim" down
ng_curl "$other" alice -f -o "$W/k.down" "$(url "$other" k.bin)"
check_eq "k.bin through node $other while n$victim is down: sha256" \
	"$(it_sha256 "$W/k.bin")" "$(it_sha256 "$W/k.down")"
ng_lotad_restart "$victim" || it_die "node $victim did not restart"
check "after its restart n$victim rejoins: up on every node's /cluster" it_wait_for 20 all_up
ng_curl "$victim" alice -f -o "$W/k.back" "$(url "$victim" k.bin)"
check_eq "k.bin through the restarted node $victim: sha256" \
	"$(it_sha256 "$W/k.bin")" "$(it_sha256 "$W/k.back")"
check "every fill done" it_wait_for 30 idle

# ---------------------------------------------------------------- a fourth node
# About 1/4 of 300 extent keys move from three nodes to four, each to the new node.
moved=0 wrong=0
for ((x = 0; x < 300; x++)); do
	a=$("$LOTA" owner --node n1 --node n2 --node n3 --bucket "$B" --key "place-$x" \
		--etag '"0"' --size 1 | sed -n '2s/^1 //p')
	b=$("$LOTA" owner --node n1 --node n2 --node n3 --node n4 --bucket "$B" --key "place-$x" \
		--etag '"0"' --size 1 | sed -n '2s/^1 //p')
	[ "$a" = "$b" ] && continue
	moved=$((moved + 1))
	[ "$b" = n4 ] || wrong=$((wrong + 1))
done
check "adding n4 moves about 1/4 of 300 extents ($moved)" test "$moved" -ge 45 -a "$moved" -le 105
check_eq "... each of them to n4" 0 "$wrong"

ng_node_add || it_die "node 4 could not be added"
for i in 1 2 3; do
	# (not through check: ng_lotad_stop must run in this shell, which started lotad)
	if ng_lotad_stop "$i"; then
		it_pass "node $i stops cleanly (SIGTERM, exit 0) for its restart with 4 members"
	else
		it_fail "node $i stops cleanly (SIGTERM, exit 0) for its restart with 4 members"
	fi
	ng_cluster_args "$i"
	ng_lotad_start "$i" "${NG_CLUSTER_ARGS[@]}" || it_die "node $i did not restart with 4 members"
done
ng_cluster_args 4
ng_lotad_start 4 "${NG_CLUSTER_ARGS[@]}" || it_die "node 4 did not start"
check "every node's /cluster lists n1..n4 up" it_wait_for 20 all_up
read -ra M4 <<<"$(members 4)"
check_eq "node 4's /cluster: four members up" 4 "${#M4[@]}"
declare -A MOVED=()
nm4=0
for k in "${KEYS[@]}"; do
	for ((x = 0; x < $(nexts "$k"); x++)); do
		o=$(owner "$k" $((x * EXT)) "${M4[@]}")
		if [ "$o" = n4 ]; then
			MOVED[$k:$x]=1
			nm4=$((nm4 + 1))
		elif [ "$o" != "${OWN3[$k:$x]}" ]; then
			it_fail "$k extent $x moved from ${OWN3[$k:$x]} to $o, not to n4"
		fi
	done
done
it_log "n4 now owns $nm4 of the 34 extents"
check "n4 owns some of the 34 extents ($nm4) and not most" test "$nm4" -ge 2 -a "$nm4" -le 17
g0=0
for k in "${KEYS[@]}"; do g0=$((g0 + $(rgw_path_gets "/$B/$k"))); done
for k in "${KEYS[@]}"; do
	ng_curl 4 alice -f -o "$W/$k.n4" "$(url 4 "$k")"
	check_eq "$k through node 4: sha256" "$(it_sha256 "$W/$k")" "$(it_sha256 "$W/$k.n4")"
done
check "every fill done" it_wait_for 30 idle
g1=0
for k in "${KEYS[@]}"; do g1=$((g1 + $(rgw_path_gets "/$B/$k"))); done
check_eq "no new upstream GET of the 7 objects for the reads through n4" "$g0" "$g1"
check_eq "n4 took its $nm4 extents from the previous owners" "$nm4" \
	"$(ng_metric 4 'lota_peer_fills_total{source="peer"}')"
check_eq "n4 made no upstream fill" 0 "$(ng_metric 4 'lota_peer_fills_total{source="upstream"}')"
h4=0 stray=0
for k in "${KEYS[@]}"; do
	for ((x = 0; x < $(nexts "$k"); x++)); do
		case " $(holders "$(ext_name "$k" $((x * EXT)))") " in
		*" n4 "*) if [ -n "${MOVED[$k:$x]:-}" ]; then h4=$((h4 + 1)); else stray=$((stray + 1)); fi ;;
		esac
	done
done
check_eq "n4's cache holds the $nm4 extents lota places on it" "$nm4" "$h4"
check_eq "... and no other" 0 "$stray"
check "n4's bytes came from peers" test "$(ng_metric 4 'lota_bytes_served_total{source="peer"}')" -gt 0

it_finish
