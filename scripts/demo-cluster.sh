#!/usr/bin/env bash
# The cluster demo (root): three lotad nodes and a radosgw on the multi-node test ground
# (tests/integration/netground.sh): each in its own network namespace, radosgw behind a
# link capped at 1 Gbit/s like remote storage, each node behind a 2 Gbit/s link. A dataset
# of 64 MiB shards is uploaded; then a boto3 client on every node reads its share of the
# shards through its own node's lotad, twice: a cold epoch (the bytes come from radosgw)
# and a warm one (from the caches). Every object is checked against its ETag while it
# streams. For each epoch: the MB/s, the x-lota-cache answers, what radosgw sent (its own
# access log), and where each node's bytes came from (lota_bytes_served_total by source
# on each node's /metrics; in a cluster also the extents each node filled as their owner,
# from radosgw or a peer: lota_peer_fills_total). In a cluster the membership is shown
# with `lota cluster` (the admin GET /cluster) first.
#
#   scripts/demo-cluster.sh [DATASET_MIB]      (default 768: 12 shards)
#
# When lotad lists --peer-listen in --help, the nodes form one cluster (netground's
# cluster flags: --node-id, --peer-listen, a --peer per member, a shared secret file);
# otherwise they are three islands, and the demo says so. LOTA_CLUSTER=off|on overrides.
# Builds lota in build/ first unless LOTA_BUILD_DIR names a built tree. Everything is
# removed at the end (processes by PID, then the namespaces).
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
size_mib=${1:-768}
shard_mib=64
cd "$src"
if [ "$(id -u)" -ne 0 ]; then
	echo "demo-cluster.sh: needs root (network namespaces, veth, tc)" >&2
	exit 1
fi
if [ -z "${LOTA_BUILD_DIR:-}" ]; then
	bash scripts/deps.sh
	echo "== building (build/)"
	cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build build -j "$(nproc)" >/dev/null
	export LOTA_BUILD_DIR=$src/build
fi
# shellcheck source=../tests/integration/netground.sh
. tests/integration/netground.sh
ng_require

nshards=$((size_mib / shard_mib))
[ "$nshards" -ge 3 ] || {
	echo "demo-cluster.sh: DATASET_MIB must be at least $((3 * shard_mib))" >&2
	exit 1
}
RGW_MEMSTORE_BYTES=$(((nshards * shard_mib + 1024) << 20))
[ "$RGW_MEMSTORE_BYTES" -ge $((3 << 30)) ] || RGW_MEMSTORE_BYTES=$((3 << 30))
export RGW_MEMSTORE_BYTES LOTA_GROUND_CACHE_SIZE=$((nshards * shard_mib + 512))MiB

echo "== the ground: radosgw and 3 nodes, each in its own network namespace"
ng_setup 3
cluster=islands
if ng_cluster_on; then cluster=cluster; fi
# shellcheck disable=SC2034 # read by ng_lotad_start
NG_LOTAD_ARGS=(--log-level warn)
for i in 1 2 3; do
	NG_CLUSTER_ARGS=()
	if [ "$cluster" = cluster ]; then ng_cluster_args "$i"; fi
	ng_lotad_start "$i" "${NG_CLUSTER_ARGS[@]}"
done
echo "   radosgw   $NG_RGW_ENDPOINT   link ${LOTA_GROUND_RGW_RATE:-1gbit} (namespace $NG_NS_RGW)"
for i in 1 2 3; do
	echo "   node $i    lotad $(ng_url "$i")   link ${LOTA_GROUND_NODE_RATE:-2gbit} (namespace ${NG_NS_NODE[i]})"
done
if [ "$cluster" = cluster ]; then
	echo "   the nodes form one cluster (peer port $NG_PEER_PORT, shared secret $NG_DIR/cluster.secret)"
	members_up() {
		ip netns exec "${NG_NS_NODE[1]}" curl -sf -m 5 "$(ng_admin_url 1)/cluster" |
			grep -o '"state":"up"' | wc -l | grep -qx 3
	}
	for _ in $(seq 200); do
		members_up && break
		sleep 0.1
	done
	echo "   lota cluster (node 1's admin endpoint):"
	ng_exec 1 "$LOTA_BUILD_DIR/tools/lota" cluster --admin-url "$(ng_admin_url 1)" | sed 's/^/     /' ||
		echo "     (lota cluster failed)"
else
	echo "   lotad has no cluster flags yet (no --peer-listen): three islands, each its own cache"
fi

echo "== uploading $nshards shards of $shard_mib MiB to radosgw (alice)"
work=$NG_DIR
head -c $((shard_mib << 20)) /dev/urandom >"$work/base"
ng_curl rgw alice -sf -o /dev/null -X PUT "$NG_RGW_ENDPOINT/dataset"
for ((s = 0; s < nshards; s++)); do
	printf '%-32.32s' "shard-$s" | dd of="$work/base" bs=32 count=1 conv=notrunc status=none
	ng_curl rgw alice -sf -o /dev/null -T "$work/base" "$NG_RGW_ENDPOINT/dataset/shard-$s"
done

sources() { # I: node I's lota_bytes_served_total as "source=value ..."
	ng_metrics "$1" | awk '/^lota_bytes_served_total\{/ && match($1, /source="[^"]*"/) {
		printf "%s%s=%.0f", sep, substr($1, RSTART + 8, RLENGTH - 9), $2; sep = " " }'
}
owner_fills() { # I: "U P": extents node I filled as owner, from radosgw and from a peer
	echo "$(ng_metric "$1" 'lota_peer_fills_total{source="upstream"}')" \
		"$(ng_metric "$1" 'lota_peer_fills_total{source="peer"}')"
}
declare -A fills_before
declare -A before
epoch() { # NAME: every node's client reads its share (shard s by node s mod 3 + 1)
	local name=$1 i s keys pids=() t0 t1 sent0 sent1 bytes=0 errs=0 src v
	sent0=$(ng_rgw_get_bytes "" /dataset/)
	for i in 1 2 3; do
		for src in $(sources "$i"); do before[$i.${src%%=*}]=${src#*=}; done
		fills_before[$i]=$(owner_fills "$i")
	done
	t0=$(date +%s%N)
	for i in 1 2 3; do
		keys=()
		for ((s = i - 1; s < nshards; s += 3)); do keys+=("shard-$s"); done
		ng_python "$i" tests/integration/clients/ground_boto3.py epoch alice dataset 2 \
			"${keys[@]}" >"$work/$name.n$i" 2>&1 &
		pids+=("$!")
	done
	wait "${pids[@]}" || true
	t1=$(date +%s%N)
	# radosgw writes its access line a moment after each answer: until two reads agree
	sent1=$(ng_rgw_get_bytes "" /dataset/)
	for _ in $(seq 20); do
		sleep 0.3
		v=$(ng_rgw_get_bytes "" /dataset/)
		[ "$v" = "$sent1" ] && break
		sent1=$v
	done
	echo "== $name epoch: each node's boto3 client reads its share of the shards through its own lotad"
	for i in 1 2 3; do
		read -r _ b secs _ e _ bad <<<"$(grep '^total ' "$work/$name.n$i" || echo "total 0 1 errors 1 bad 0")"
		bytes=$((bytes + b))
		errs=$((errs + e + bad))
		printf '   node %s: %5d MB in %5.2f s = %4.0f MB/s, x-lota-cache %s, ETag check %s\n' "$i" \
			$((b / 1000000)) "$secs" "$(awk -v b="$b" -v s="$secs" 'BEGIN {print b / 1e6 / s}')" \
			"$(awk 'NF == 4 && $1 != "total" {print $3}' "$work/$name.n$i" | sort | uniq -c | awk '{printf "%s%s x%d", sep, $2, $1; sep = ", "}')" \
			"$(if [ "$e" = 0 ] && [ "$bad" = 0 ]; then echo "ok for every object"; else echo "FAILED ($e errors, $bad wrong)"; fi)"
		line=""
		for src in $(sources "$i"); do
			v=$((${src#*=} - ${before[$i.${src%%=*}]:-0}))
			line="$line ${src%%=*} $((v / 1000000)) MB,"
		done
		echo "           bytes served by source (lota_bytes_served_total):${line%,}"
		if [ "$cluster" = cluster ]; then
			read -r fu fp <<<"$(owner_fills "$i")"
			read -r bu bp <<<"${fills_before[$i]}"
			echo "           as owner it filled $((fu - bu)) shard extent(s) from radosgw," \
				"$((fp - bp)) from a peer (lota_peer_fills_total)"
		fi
	done
	printf '   all nodes: %d MB in %.2f s = %.0f MB/s; radosgw sent %d MB of the dataset (its access log)\n' \
		$((bytes / 1000000)) "$(awk -v ns=$((t1 - t0)) 'BEGIN {print ns / 1e9}')" \
		"$(awk -v b="$bytes" -v ns=$((t1 - t0)) 'BEGIN {print b / 1e6 / (ns / 1e9)}')" \
		$(((sent1 - sent0) / 1000000))
	if [ "$errs" != 0 ]; then
		echo "demo-cluster.sh: the $name epoch had errors:" >&2
		cat "$work/$name".n* >&2
		exit 1
	fi
}
epoch cold
for i in 1 2 3; do # the warm epoch starts once every fill is published
	for _ in $(seq 1200); do
		[ "$(ng_metric "$i" lota_cache_fills_in_progress)" = 0 ] && break
		sleep 0.1
	done
done
epoch warm
echo "   (the clients check every object's MD5 in Python as it streams: on a small machine"
echo "    the warm figures are bound by the clients' CPU; bench/cluster.sh measures with curl)"
echo "== each node's /metrics now (excerpt)"
for i in 1 2 3; do
	ng_metrics "$i" | grep -E '^lota_(bytes_served_total|cache_(hits|misses)_total|fill_bytes_total|peer)' |
		sed "s/^/   node $i  /"
done
echo "== done: stopping the lotads and radosgw, removing the namespaces"
