#!/usr/bin/env bash
# usage: bench/cluster.sh        (root; tunables in the environment, see below)
#
# cluster.sh - epochs of a sharded dataset read by one client per node on the multi-node
# test ground (tests/integration/netground.sh): radosgw behind a link capped like remote
# storage, N lotad nodes (default 3) behind capped links of their own. One run measures:
#
#   direct   the clients read their shards straight from radosgw over the capped links
#   cold     the same shards through each node's own lotad, every cache empty
#   warm     the next epoch through each node's lotad (after the cold fills completed)
#   warm-1   node 1's client alone, the same shards as in the warm epoch
#
# and prints each epoch's MB/s (10^6 bytes per second: the dataset bytes the clients got
# over the epoch's wall time, and per node), the ratios of this one run (warm/cold,
# cold/direct, warm aggregate of N nodes / one node), the upstream bytes of each epoch
# (radosgw's own access log; bytes its link sent; lotad's lota_bytes_served_total and
# lota_fill_bytes_total; in a cluster also the extents the owners filled, from the
# upstream or a peer: lota_peer_fills_total) and where each node's bytes came from
# (lota_bytes_served_total by source). Targets (issue 9): warm >= 10x cold, cold >=
# 0.95x direct, upstream bytes over cold + warm = the dataset once, N nodes >= 2.7x one
# node. Absolute figures drift on a shared VM: compare the ratios of one run.
#
# Cluster: when lotad lists --peer-listen in --help (or LOTA_CLUSTER=on), every node gets
# netground's cluster flags (--node-id nI, --peer-listen, --peer for every member,
# --cluster-secret-file); otherwise the nodes are islands (each its own cache) and the
# output says so. LOTA_CLUSTER=off forces islands.
#
# Environment:
#   LOTA_BENCH_DATASET_MB   dataset size (default 2048), cut into shards
#   LOTA_BENCH_SHARD_MB     shard size (default 64)
#   LOTA_BENCH_READ         which shards a node's client reads in epoch E:
#                             share  (default) shard s when s mod N = node-1, every epoch
#                                    (each shard read once per epoch, by one node)
#                             rotate shard s when (s + E) mod N = node-1: each epoch a node
#                                    reads shards another node read before
#                             all    every shard (every node reads the whole dataset)
#   LOTA_BENCH_STREAMS      parallel GETs per client (default 2)
#   LOTA_BENCH_LOTAD_ARGS   more flags for every lotad (words)
#   LOTA_GROUND_NODES, LOTA_GROUND_RGW_RATE (1gbit), LOTA_GROUND_NODE_RATE (2gbit): the
#                           ground (netground.sh); LOTA_BUILD_DIR: where lotad is built
#
# Clients: curl --aws-sigv4 as alice (one curl per node, --parallel), inside the node's
# namespace, bodies discarded; every response must be a 200 with the shard's size, and
# after the epochs one shard per node is read again through its lotad and checked by
# sha256. Exits non-zero only on a malfunction (a server that does not start, an error
# status, a short body, wrong bytes), never on a missed target. Everything runs on the
# ground and is removed on exit (netground's teardown).
set -Eeuo pipefail
# A command that fails where errexit ends the run says so: which one, where, and its status
# (without this, a failing command substitution in an assignment ends the run silently).
trap 'echo "cluster.sh: line $LINENO${FUNCNAME:+ (in ${FUNCNAME[*]})}: exit status $? from: $BASH_COMMAND" >&2' ERR
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/.." && pwd)
export LOTA_BUILD_DIR=${LOTA_BUILD_DIR:-$src/build}
# shellcheck source=../tests/integration/netground.sh
. "$src/tests/integration/netground.sh"

MiB=$((1 << 20))
die() {
	echo "cluster.sh: $*" >&2
	exit 1
}

N=${LOTA_GROUND_NODES:-3}
dataset_mb=${LOTA_BENCH_DATASET_MB:-2048}
shard_mb=${LOTA_BENCH_SHARD_MB:-64}
read_mode=${LOTA_BENCH_READ:-share}
streams=${LOTA_BENCH_STREAMS:-2}
case $read_mode in share | rotate | all) ;; *) die "LOTA_BENCH_READ: share, rotate or all" ;; esac
nshards=$((dataset_mb / shard_mb))
[ "$nshards" -ge 1 ] || die "LOTA_BENCH_DATASET_MB ($dataset_mb) is smaller than a shard ($shard_mb MiB)"
shard_bytes=$((shard_mb * MiB))
dataset_bytes=$((nshards * shard_bytes))

ng_require
[ -x "$(ng_lotad_bin)" ] || die "build first: $(ng_lotad_bin) missing"

cluster=off
if ng_cluster_on; then cluster=on; fi
if [ "$cluster" = on ] && ! ng_lotad_has_cluster; then
	die "LOTA_CLUSTER=on but lotad has no --peer-listen"
fi

# radosgw holds the dataset in RAM; each node's cache may hold all of it (mode "all").
RGW_MEMSTORE_BYTES=$((dataset_bytes + dataset_bytes / 4 + (1 << 30)))
[ "$RGW_MEMSTORE_BYTES" -ge $((3 << 30)) ] || RGW_MEMSTORE_BYTES=$((3 << 30))
export RGW_MEMSTORE_BYTES
export LOTA_GROUND_CACHE_SIZE=$((dataset_bytes / MiB + 1024))MiB
export NG_CLIENT_TIMEOUT=3600

ng_setup "$N" || die "the ground did not come up"
work=$NG_DIR
# shellcheck disable=SC2206,SC2034 # a list of words; read by ng_lotad_start
NG_LOTAD_ARGS=(--log-level warn ${LOTA_BENCH_LOTAD_ARGS:-})
for ((i = 1; i <= N; i++)); do
	NG_CLUSTER_ARGS=()
	if [ "$cluster" = on ]; then ng_cluster_args "$i"; fi
	ng_lotad_start "$i" "${NG_CLUSTER_ARGS[@]}" || die "lotad of node $i did not start"
done

rev=$(git -C "$src" rev-parse --short HEAD 2>/dev/null || echo unknown)
echo "# commit $rev, nproc $(nproc), RAM $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo), kernel $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%Y-%m-%dT%H:%MZ)"
echo "# ground $NG_ID: $N nodes; radosgw's link ${LOTA_GROUND_RGW_RATE:-1gbit}, each node's link ${LOTA_GROUND_NODE_RATE:-2gbit} (tbf, both ways)"
if [ "$cluster" = on ]; then
	echo "# cluster: on (every node: --node-id, --peer-listen :$NG_PEER_PORT, --peer x$N, --cluster-secret-file)"
else
	echo "# cluster: off (lotad lists no --peer-listen, or LOTA_CLUSTER=off): $N islands, each its own cache"
fi
echo "# dataset: $nshards shards x $shard_mb MiB = $((dataset_bytes / MiB)) MiB; read mode '$read_mode'; $streams parallel GETs per client (curl --aws-sigv4)"

# ---------------------------------------------------------------- the dataset
# Shards are one random file with a distinct head (the shard's name) each; uploaded from
# radosgw's own namespace (its loopback: not through the capped link).
head -c "$shard_bytes" /dev/urandom >"$work/base"
stamp() { printf '%-32.32s' "$1" | dd of="$work/base" bs=32 count=1 conv=notrunc status=none; }
code=$(ng_curl rgw alice -o /dev/null -w '%{http_code}' -X PUT "$NG_RGW_ENDPOINT/bench")
[ "$code" = 200 ] || die "create bucket: $code"
t0=$(date +%s%N)
for ((s = 0; s < nshards; s++)); do
	stamp "shard-$s"
	code=$(ng_curl rgw alice -o /dev/null -w '%{http_code}' -T "$work/base" "$NG_RGW_ENDPOINT/bench/shard-$s")
	[ "$code" = 200 ] || die "upload of shard-$s: $code"
done
echo "# uploaded in $((($(date +%s%N) - t0) / 1000000)) ms"

# ---------------------------------------------------------------- epochs
# shards_of NODE EPOCH: the shard numbers NODE's client reads in EPOCH.
shards_of() {
	local i=$1 e=$2 s
	for ((s = 0; s < nshards; s++)); do
		case $read_mode in
		all) echo "$s" ;;
		share) if [ $((s % N)) -eq $((i - 1)) ]; then echo "$s"; fi ;;
		rotate) if [ $(((s + e) % N)) -eq $((i - 1)) ]; then echo "$s"; fi ;;
		esac
	done
}

# rgw_get_bytes: radosgw's GET bytes of the dataset so far, once its log has settled
# (it writes a line a moment after the answer): two equal reads 0.3 s apart.
rgw_get_bytes() {
	local a b n
	a=$(ng_rgw_get_bytes "" /bench/)
	for ((n = 0; n < 20; n++)); do
		sleep 0.3
		b=$(ng_rgw_get_bytes "" /bench/)
		[ "$a" = "$b" ] && break
		a=$b
	done
	echo "$a"
}

# sources_of I: node I's lota_bytes_served_total as "SOURCE VALUE" lines.
sources_of() {
	ng_metrics "$1" | awk '/^lota_bytes_served_total\{/ {
		if (match($1, /source="[^"]*"/)) printf "%s %.0f\n", substr($1, RSTART + 8, RLENGTH - 9), $2 }'
}

wait_fills() {
	local i n
	for ((i = 1; i <= N; i++)); do
		for ((n = 0; n < 1200; n++)); do
			[ "$(ng_metric "$i" lota_cache_fills_in_progress)" = 0 ] && break
			sleep 0.1
		done
		[ "$n" -lt 1200 ] || die "node $i: a fill still in progress after 120 s"
	done
}

declare -A E_BYTES E_NS E_NODE E_LABELS E_UP_LOG E_UP_LINK E_UP_LOTAD E_FILL E_OWNER SRC
EPOCHS=()

# run_epoch NAME TARGET EPOCH NODE...: each NODE's client reads its shards of EPOCH at
# once (TARGET lotad: its own node's lotad; direct: radosgw), all nodes in parallel.
run_epoch() {
	local name=$1 target=$2 e=$3 i s base f t0 t1 rc bytes=0 tmin=0 tmax=0 labels nexp
	shift 3
	local nodes=("$@") urls src v pids=()
	local up_log0 up_link0 up_lotad0=0 fill0=0 up_lotad1=0 fill1=0 pu0=0 pp0=0 pu1=0 pp1=0
	declare -A src0
	up_log0=$(rgw_get_bytes)
	up_link0=$(ng_link_bytes rgw tx)
	for ((i = 1; i <= N; i++)); do
		up_lotad0=$((up_lotad0 + $(ng_metric "$i" 'lota_bytes_served_total{source="upstream"}')))
		fill0=$((fill0 + $(ng_metric "$i" lota_fill_bytes_total)))
		pu0=$((pu0 + $(ng_metric "$i" 'lota_peer_fills_total{source="upstream"}')))
		pp0=$((pp0 + $(ng_metric "$i" 'lota_peer_fills_total{source="peer"}')))
		while read -r src v; do src0[$i.$src]=$v; done < <(sources_of "$i")
	done
	for i in "${nodes[@]}"; do
		base=$(ng_url "$i")
		[ "$target" = direct ] && base=$NG_RGW_ENDPOINT
		urls=()
		for s in $(shards_of "$i" "$e"); do urls+=(-o /dev/null "$base/bench/shard-$s"); done
		f=$work/epoch-$name-n$i
		: >"$f.out"
		[ ${#urls[@]} -gt 0 ] || continue
		(
			t0=$(date +%s%N)
			rc=0
			ng_curl "$i" alice --parallel --parallel-max "$streams" \
				-w '%{http_code} %{size_download} [%header{x-lota-cache}]\n' \
				"${urls[@]}" >"$f.out" 2>"$f.err" || rc=$?
			echo "$t0 $(date +%s%N) $rc" >"$f.time"
		) &
		pids+=("$!")
	done
	# (not a bare `wait`: the lotads are children of this shell too)
	wait "${pids[@]}"
	labels=""
	for i in "${nodes[@]}"; do
		f=$work/epoch-$name-n$i
		nexp=$(shards_of "$i" "$e" | wc -l)
		[ "$nexp" -gt 0 ] || continue
		read -r t0 t1 rc <"$f.time"
		if [ "$rc" != 0 ] || [ "$(wc -l <"$f.out")" != "$nexp" ] ||
			awk -v b="$shard_bytes" '$1 != 200 || $2 != b {bad = 1} END {exit !bad}' "$f.out"; then
			echo "---- node $i, epoch $name: curl status $rc, answers:" >&2
			sort "$f.out" | uniq -c >&2
			cat "$f.err" >&2
			tail -n 20 "$work/n$i/lotad.log" >&2
			die "epoch $name: node $i did not get every shard whole"
		fi
		bytes=$((bytes + $(awk '{s += $2} END {printf "%.0f", s}' "$f.out")))
		{ [ "$tmin" = 0 ] || [ "$t0" -lt "$tmin" ]; } && tmin=$t0
		[ "$t1" -gt "$tmax" ] && tmax=$t1
		E_NODE[$name.$i]=$(awk -v t0="$t0" -v t1="$t1" '{s += $2} END {printf "%.0f", s / 1e6 / ((t1 - t0) / 1e9)}' "$f.out")
		labels="$labels $(awk '{print $3}' "$f.out")"
	done
	E_BYTES[$name]=$bytes
	E_NS[$name]=$((tmax - tmin))
	E_LABELS[$name]=$(tr ' ' '\n' <<<"$labels" | grep -v '^$' | sort | uniq -c |
		awk '{l = $2; gsub(/[][]/, "", l); if (l == "") l = "-"; printf "%s%s:%d", sep, l, $1; sep = " "}')
	[ "$target" = direct ] || wait_fills
	E_UP_LOG[$name]=$(($(rgw_get_bytes) - up_log0))
	E_UP_LINK[$name]=$(($(ng_link_bytes rgw tx) - up_link0))
	for ((i = 1; i <= N; i++)); do
		up_lotad1=$((up_lotad1 + $(ng_metric "$i" 'lota_bytes_served_total{source="upstream"}')))
		fill1=$((fill1 + $(ng_metric "$i" lota_fill_bytes_total)))
		pu1=$((pu1 + $(ng_metric "$i" 'lota_peer_fills_total{source="upstream"}')))
		pp1=$((pp1 + $(ng_metric "$i" 'lota_peer_fills_total{source="peer"}')))
		while read -r src v; do
			SRC[$name.$i.$src]=$((v - ${src0[$i.$src]:-0}))
		done < <(sources_of "$i")
	done
	E_UP_LOTAD[$name]=$((up_lotad1 - up_lotad0))
	E_FILL[$name]=$((fill1 - fill0))
	E_OWNER[$name]="$((pu1 - pu0))+$((pp1 - pp0))"
	EPOCHS+=("$name")
}

all_nodes=()
for ((i = 1; i <= N; i++)); do all_nodes+=("$i"); done
run_epoch direct direct 0 "${all_nodes[@]}"
run_epoch cold lotad 0 "${all_nodes[@]}"
run_epoch warm lotad 1 "${all_nodes[@]}"
run_epoch warm-1 lotad 1 1

# ---------------------------------------------------------------- bytes check
for ((i = 1; i <= N; i++)); do
	s=$(shards_of "$i" 1 | head -n 1)
	[ -n "$s" ] || continue
	stamp "shard-$s"
	want=$(sha256sum <"$work/base" | cut -d' ' -f1)
	got=$(ng_curl "$i" alice "$(ng_url "$i")/bench/shard-$s" | sha256sum | cut -d' ' -f1)
	[ "$got" = "$want" ] || die "node $i: shard-$s read through its lotad differs from what was uploaded"
done

# ---------------------------------------------------------------- report
mbs() { awk -v b="$1" -v ns="$2" 'BEGIN {if (ns > 0) printf "%.0f", b / 1e6 / (ns / 1e9); else print "-"}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "-"}'; }
verdict() { awk -v r="$1" -v t="$2" 'BEGIN {print (r == "-") ? "-" : (r + 0 >= t ? "met" : "MISSED")}'; }

echo
owner_head=""
[ "$cluster" = on ] && owner_head=" (owner fills: upstream+peer extents)"
printf '%-8s %12s %9s %8s  %-28s %-22s %s\n' epoch bytes seconds MB/s "per node MB/s" \
	"x-lota-cache" "upstream bytes: rgw log / rgw link / lotad upstream / lotad filled$owner_head"
declare -A RATE
for name in "${EPOCHS[@]}"; do
	RATE[$name]=$(mbs "${E_BYTES[$name]}" "${E_NS[$name]}")
	per=""
	for ((i = 1; i <= N; i++)); do
		[ -n "${E_NODE[$name.$i]:-}" ] && per="$per n$i:${E_NODE[$name.$i]}"
	done
	owner=""
	[ "$cluster" = on ] && owner=" (${E_OWNER[$name]})"
	printf '%-8s %12s %9s %8s  %-28s %-22s %s / %s / %s / %s%s\n' "$name" "${E_BYTES[$name]}" \
		"$(awk -v ns="${E_NS[$name]}" 'BEGIN {printf "%.2f", ns / 1e9}')" "${RATE[$name]}" \
		"${per# }" "${E_LABELS[$name]}" "${E_UP_LOG[$name]}" "${E_UP_LINK[$name]}" \
		"${E_UP_LOTAD[$name]}" "${E_FILL[$name]}" "$owner"
done
echo
r_wc=$(ratio "${RATE[warm]}" "${RATE[cold]}")
r_cd=$(ratio "${RATE[cold]}" "${RATE[direct]}")
r_n1=$(ratio "${RATE[warm]}" "${RATE[warm-1]}")
up=$((E_UP_LOG[cold] + E_UP_LOG[warm]))
r_up=$(ratio "$up" "$dataset_bytes")
echo "ratios of this run:"
printf '  %-46s %6sx  target >= 10    %s\n' "warm / cold" "$r_wc" "$(verdict "$r_wc" 10)"
printf '  %-46s %6sx  target >= 0.95  %s\n' "cold / direct" "$r_cd" "$(verdict "$r_cd" 0.95)"
if [ "$cluster" = on ]; then
	printf '  %-46s %6sx  target >= 2.7   %s\n' "warm, $N nodes aggregate / node 1 alone" "$r_n1" "$(verdict "$r_n1" 2.7)"
else
	printf '  %-46s %6sx  (islands: each node reads its own disk; the target is the cluster'"'"'s)\n' \
		"warm, $N nodes aggregate / node 1 alone" "$r_n1"
fi
printf '  %-46s %6sx  target = 1.00 (%s of %s bytes)  %s\n' "upstream bytes over cold + warm / dataset" \
	"$r_up" "$up" "$dataset_bytes" "$(if [ "$up" = "$dataset_bytes" ]; then echo met; else echo MISSED; fi)"
echo "where each node's bytes came from (lota_bytes_served_total by source, per epoch):"
for name in cold warm warm-1; do
	for ((i = 1; i <= N; i++)); do
		line=""
		for key in "${!SRC[@]}"; do
			case $key in "$name.$i."*) line="$line ${key#"$name.$i."}=${SRC[$key]}" ;; esac
		done
		[ -n "$line" ] && printf '  %-7s n%s:%s\n' "$name" "$i" "$(tr ' ' '\n' <<<"$line" | sort | xargs)"
	done
done
echo "(MB/s = 10^6 bytes/s over the epoch's wall time, all clients together; per node: each"
echo " client's bytes over its own time. Upstream: radosgw's access log (GET bytes of the"
echo " dataset), bytes radosgw's link sent (headers and TCP included), lotad's"
echo " lota_bytes_served_total{source=\"upstream\"} and lota_fill_bytes_total summed over nodes."
if [ "$cluster" = on ]; then
	echo " In a cluster the owners fill for the front nodes: lota_peer_fills_total, in extents;"
	echo " a front node counts what an owner sent as \"peer\", also on a cold read."
fi
echo " Every response was a 200 of the shard's size; one shard per node checked by sha256.)"
