#!/usr/bin/env bash
# test_cluster_ground.sh - the cluster on the multi-node test ground (netground.sh): three
# lotads, each in its own network namespace behind its own capped link, radosgw behind a
# slower one, --extent-size 4MiB so that objects have many extents (cluster_ground.sh:
# the ground, the helpers, the data). Needs root. Failures, restarts and a node added:
# test_cluster_ground_failover.sh.
#
# - one upstream fill per extent cluster-wide: seven objects read at the same time
#   through all three nodes; radosgw's own access log shows each object's bytes sent once
#   (one GET per extent), whatever node asked.
# - cached bytes not duplicated: the cache bytes of the three nodes add up to the data
#   size, and each extent's file is on exactly one node: the one `lota owner` names with
#   the members and weights of GET /cluster.
# - a large object (16 extents) is spread over all three nodes.
# - `lota cluster` and the client library (lota_client_owner, clients/ground_owner.c)
#   against the real GET /cluster name the node that holds the extent.
# - real clients (boto3, awscli) via every node: byte-exact by sha256.
# - bob and anonymous refused on every node (for extents held by another node).
# - the peer port, from a node's namespace: unauthenticated, wrongly signed, stale,
#   future, replayed requests and a non-member id get 403 and no byte
#   (clients/peer_sign.py); a member's signed request gets exactly the extent's bytes,
#   the same request without the secret from radosgw's namespace nothing.
# shellcheck source=lib.sh disable=SC2317 # (helpers run through check)
. "$(dirname "$0")/lib.sh"
# shellcheck source=cluster_ground.sh
. "$IT_LIB_DIR/cluster_ground.sh"
it_require_cmd "${LOTA_CC:-cc}"
cg_setup

# The client library's owner lookup, built against this build's liblota (with the
# build's compiler and sanitizers, as test_install does).
san=()
# shellcheck disable=SC2054 # one flag
[ "${LOTA_SANITIZE:-0}" = 1 ] && san=(-fsanitize=address,undefined)
"${LOTA_CC:-cc}" -std=c11 -O1 -Wall -Wextra -Werror "${san[@]}" -I "$SRC/include" \
	-o "$W/ground_owner" "$IT_CLIENTS_DIR/ground_owner.c" \
	-L "$BUILD/lib" -Wl,-rpath,"$(cd "$BUILD/lib" && pwd)" -llota ||
	it_die "cannot build clients/ground_owner.c against $BUILD/lib"

cg_dataset

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
# every extent filled once in the cluster, as the nodes' own fill counters say
fb=0 fs=0
for i in 1 2 3; do
	fb=$((fb + $(ng_metric "$i" lota_fill_bytes_total)))
	fs=$((fs + $(ng_metric "$i" 'lota_cache_fills_total{result="started"}')))
done
check_eq "lota_fill_bytes_total over the nodes: the data size" "$total" "$fb"
nx=0
for k in "${KEYS[@]}"; do nx=$((nx + $(nexts "$k"))); done
check_eq "lota_cache_fills_total{started} over the nodes: one per extent" "$nx" "$fs"
bad=0 misplaced=0 listed=""
declare -A HELD=()
for k in "${KEYS[@]}"; do
	for ((x = 0; x < $(nexts "$k"); x++)); do
		nm=$(ext_name "$k" $((x * EXT)))
		h=$(holders "$nm")
		o=$(owner "$k" $((x * EXT)) "${M3[@]}")
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
check_contains "lota cluster marks node 1 as the node that answered" "  (answered)" \
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

it_finish
