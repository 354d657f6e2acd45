# shellcheck shell=bash
# cluster_ground.sh - shared part of the cluster tests on the test ground
# (test_cluster_ground.sh, test_cluster_ground_failover.sh; sourced after lib.sh, never run
# by CTest): the checks that the ground, the cluster and the tools are there, three lotads
# as one cluster (--extent-size 4MiB, --min-object-size 1MiB, --peer-timeout 2s), helpers
# that read the cluster's state (GET /cluster, /metrics, radosgw's access log, the nodes'
# cache dirs, `lota owner`) and the data set: s1..s6.bin (3 extents each, the last
# partial) and big.bin (64 MiB, 16 extents), uploaded by alice straight to radosgw.
#
#   cg_setup          # root or SKIP (77); ground, lotads; sets BUILD SRC LOTA W ...
#   cg_dataset        # bucket $B, KEYS, total (bytes), M3 (members up, from /cluster)
# shellcheck source=netground.sh disable=SC2153 # IT_LIB_DIR: lib.sh's
. "$IT_LIB_DIR/netground.sh"

MiB=$((1 << 20))
EXT=$((4 * MiB))
B=cground
W=$IT_DIR/work
BUILD=${LOTA_BUILD_DIR:-$IT_LIB_DIR/../../build}
# shellcheck disable=SC2034 # read by the tests
SRC=${LOTA_SOURCE_DIR:-$IT_LIB_DIR/../..}
LOTA=$BUILD/tools/lota

cg_setup() {
	[ "${LOTA_TEST_DIRECT:-0}" = 1 ] && it_skip "lotad-specific test (LOTA_TEST_DIRECT=1)"
	ng_require
	it_require_boto3
	it_require_cmd "$IT_AWS" md5sum
	[ -x "$LOTA" ] || it_die "the lota tool is not built ($LOTA)"
	# shellcheck disable=SC2034 # read by netground.sh
	LOTA_CLUSTER=on
	ng_lotad_has_cluster ||
		it_die "lotad has no cluster (--peer-listen not in its --help)"
	mkdir -p "$W"
	ng_setup 3 "$IT_DIR/ground" || it_die "the ground did not come up"
	# shellcheck disable=SC2034 # read by ng_lotad_start
	NG_LOTAD_ARGS=(--extent-size 4MiB --min-object-size 1MiB --peer-timeout 2s)
	ng_lotads_start || it_die "the lotads did not start"
	it_log "ground $NG_ID: radosgw $NG_RGW_ADDR, nodes ${NG_ADDR[*]:1}"
}

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

cg_dataset() {
	local i k
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
}
