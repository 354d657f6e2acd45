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
#   warm-I   node I's client alone, the same shards as in the warm epoch (each node in turn)
#   kill     (a cluster) the clients of nodes 1..N-1 read their shards again, each checked
#            by sha256, and node N's lotad, an owner of their extents, is killed with
#            kill -9 a second into it: the target is 0 client errors, 0 wrong bytes (its
#            extents come from the next member in their ranking, which fills them from
#            the upstream); then it is started again
#
# and prints each epoch's MB/s (10^6 bytes per second: the dataset bytes the clients got
# over the epoch's wall time, and per node), the ratios of this one run (warm/cold,
# cold/direct, N nodes / one node: see "scaling" below), the upstream bytes of each epoch
# (radosgw's own access log; bytes its link sent; lotad's lota_bytes_served_total and
# lota_fill_bytes_total; in a cluster also the extents the owners filled, from the
# upstream or a peer: lota_peer_fills_total) and where each node's bytes came from
# (lota_bytes_served_total by source). Targets (issue 9): warm >= 10x cold, cold >=
# 0.95x direct, upstream bytes over cold + warm = the dataset once, N nodes >= 2.7x one
# node. Absolute figures drift on a shared VM: compare the ratios of one run.
#
# Raw (cluster only): the same epoch's transfers made by a raw TCP client and server
# (bench/rawpeer.py), with lotad's placement (`lota owner` for every extent, the nodes
# weighted equally as their caches are): each node's client reads its shards with the
# same number of streams, a shard's extents one after the other, each from its owner over
# a kept-alive connection, its own extents for free. Run together and each node alone, it
# gives the scaling the links and this access pattern allow with nothing of lotad in the
# way, printed beside lotad's.
#
# Scaling, N nodes / one node: the sum of the N clients' rates in the warm epoch (each
# client's bytes over its own time) over the mean rate of a node alone (warm-I, each
# node's client with the others idle). It is the share of a node's speed alone that every
# node keeps when all read at once (N x that share at most). The epoch's wall-clock rate
# over node 1 alone is printed beside it: that one ends with the node whose shards fell
# least on its own disk and starts from node 1's share of local shards, so it measures
# where one run's extents fell as much as the cluster.
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
# shard_sha S: the sha256 of shard-S's bytes
shard_sha() {
	stamp "shard-$1"
	sha256sum <"$work/base" | cut -d' ' -f1
}
declare -A ETAG # of each shard, from radosgw's answer to its upload
code=$(ng_curl rgw alice -o /dev/null -w '%{http_code}' -X PUT "$NG_RGW_ENDPOINT/bench")
[ "$code" = 200 ] || die "create bucket: $code"
t0=$(date +%s%N)
for ((s = 0; s < nshards; s++)); do
	stamp "shard-$s"
	code=$(ng_curl rgw alice -o /dev/null -D "$work/put.h" -w '%{http_code}' -T "$work/base" \
		"$NG_RGW_ENDPOINT/bench/shard-$s")
	[ "$code" = 200 ] || die "upload of shard-$s: $code"
	ETAG[$s]=$(tr -d '\r' <"$work/put.h" | awk 'tolower($1) == "etag:" {print $2}')
	[ -n "${ETAG[$s]}" ] || die "upload of shard-$s: no ETag in radosgw's answer"
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

declare -A E_BYTES E_NS E_NODE E_LABELS E_UP_LOG E_UP_LINK E_UP_LOTAD E_FILL E_OWNER SRC E_BUSY E_LINKS

# cpu_ticks: "BUSY TOTAL" jiffies of the whole machine (/proc/stat; idle and iowait are idle).
cpu_ticks() { awk '$1 == "cpu" {t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t; exit}' /proc/stat; }
EPOCHS=()

# run_epoch NAME TARGET EPOCH NODE...: each NODE's client reads its shards of EPOCH at
# once (TARGET lotad: its own node's lotad; direct: radosgw), all nodes in parallel.
run_epoch() {
	local name=$1 target=$2 e=$3 i s base f t0 t1 rc bytes=0 tmin=0 tmax=0 labels nexp
	shift 3
	local nodes=("$@") urls src v pids=()
	local up_log0 up_link0 up_lotad0=0 fill0=0 up_lotad1=0 fill1=0 pu0=0 pp0=0 pu1=0 pp1=0
	local busy0 total0 busy1 total1 links=""
	declare -A src0 rx0 tx0
	up_log0=$(rgw_get_bytes)
	up_link0=$(ng_link_bytes rgw tx)
	for ((i = 1; i <= N; i++)); do
		up_lotad0=$((up_lotad0 + $(ng_metric "$i" 'lota_bytes_served_total{source="upstream"}')))
		fill0=$((fill0 + $(ng_metric "$i" lota_fill_bytes_total)))
		pu0=$((pu0 + $(ng_metric "$i" 'lota_peer_fills_total{source="upstream"}')))
		pp0=$((pp0 + $(ng_metric "$i" 'lota_peer_fills_total{source="peer"}')))
		while read -r src v; do src0[$i.$src]=$v; done < <(sources_of "$i")
		rx0[$i]=$(ng_link_bytes "$i" rx)
		tx0[$i]=$(ng_link_bytes "$i" tx)
	done
	read -r busy0 total0 < <(cpu_ticks)
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
	read -r busy1 total1 < <(cpu_ticks)
	E_BUSY[$name]=$(awk -v b=$((busy1 - busy0)) -v t=$((total1 - total0)) 'BEGIN {if (t > 0) printf "%.0f", 100 * b / t; else print "-"}')
	for ((i = 1; i <= N; i++)); do
		links="$links $(($(ng_link_bytes "$i" rx) - rx0[$i])) $(($(ng_link_bytes "$i" tx) - tx0[$i]))"
	done
	E_LINKS[$name]=${links# }
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
for ((i = 1; i <= N; i++)); do run_epoch "warm-$i" lotad 1 "$i"; done

# ---------------------------------------------------------------- raw
# The warm epoch's transfers without lotad (see the header): plans from lotad's placement.
declare -A RAW
raw_port=8091
if [ "$cluster" = on ]; then
	lota_cli=$LOTA_BUILD_DIR/tools/lota
	[ -x "$lota_cli" ] || die "build first: $lota_cli missing"
	ext_size=64MiB
	# shellcheck disable=SC2086 # a list of words
	set -- ${LOTA_BENCH_LOTAD_ARGS:-}
	while [ $# -gt 0 ]; do
		case $1 in
		--extent-size) ext_size=${2:-$ext_size} && shift ;;
		--extent-size=*) ext_size=${1#*=} ;;
		esac
		shift
	done
	ext_bytes=$(numfmt --from=iec-i --suffix=B "$ext_size" 2>/dev/null || numfmt --from=iec "$ext_size")
	ext_bytes=${ext_bytes%B}
	nodes_args=()
	raw_addrs=()
	for ((i = 1; i <= N; i++)); do
		nodes_args+=(--node "n$i")
		raw_addrs+=("${NG_ADDR[i]}")
	done
	for ((i = 1; i <= N; i++)); do
		: >"$work/raw-plan-n$i"
		for s in $(shards_of "$i" 1); do
			line=""
			for ((off = 0; off < shard_bytes; off += ext_bytes)); do
				len=$((shard_bytes - off < ext_bytes ? shard_bytes - off : ext_bytes))
				o=$("$lota_cli" owner "${nodes_args[@]}" --bucket bench --key "shard-$s" \
					--etag "${ETAG[$s]}" --size "$shard_bytes" --extent-size "$ext_bytes" \
					--offset "$off" | awk '$1 == 1 {print substr($2, 2); exit}')
				[ -n "$o" ] || die "lota owner gave no owner for shard-$s at $off"
				if [ "$o" = "$i" ]; then line="$line $len:-"; else line="$line $len:$((o - 1))"; fi
			done
			echo "${line# }" >>"$work/raw-plan-n$i"
		done
	done
	raw_pids=()
	for ((i = 1; i <= N; i++)); do
		# (ip netns exec runs python in its own process: its PID is the server's)
		ip netns exec "$(ng_ns "$i")" python3 "$here/rawpeer.py" serve "${NG_ADDR[i]}" "$raw_port" &
		raw_pids+=("$!")
	done
	sleep 1
	# raw_epoch NAME NODE...: their raw readers at once; RAW[NAME.I] = "BYTES SECONDS"
	raw_epoch() {
		local name=$1 i
		shift
		local pids=()
		for i in "$@"; do
			ng_exec "$i" python3 "$here/rawpeer.py" read "$work/raw-plan-n$i" "$streams" \
				"$raw_port" "${raw_addrs[@]}" >"$work/raw-$name-n$i" &
			pids+=("$!")
		done
		wait "${pids[@]}"
		for i in "$@"; do
			RAW[$name.$i]=$(cat "$work/raw-$name-n$i")
			[ -n "${RAW[$name.$i]}" ] || die "raw epoch $name: node $i's reader printed nothing"
		done
	}
	raw_epoch raw "${all_nodes[@]}"
	for ((i = 1; i <= N; i++)); do raw_epoch "raw-$i" "$i"; done
	kill "${raw_pids[@]}" 2>/dev/null || true
	wait "${raw_pids[@]}" 2>/dev/null || true
fi

# ---------------------------------------------------------------- bytes check
for ((i = 1; i <= N; i++)); do
	# (awk reads to the end: `head` could leave shards_of a closed pipe, a SIGPIPE that
	# pipefail and errexit turn into the end of the run)
	s=$(shards_of "$i" 1 | awk 'NR == 1')
	[ -n "$s" ] || continue
	want=$(shard_sha "$s")
	got=$(ng_curl "$i" alice "$(ng_url "$i")/bench/shard-$s" | sha256sum | cut -d' ' -f1)
	[ "$got" = "$want" ] || die "node $i: shard-$s read through its lotad differs from what was uploaded"
done

# placement: the extents each node owns (before the kill below adds copies elsewhere)
held=""
if [ "$cluster" = on ]; then
	for ((i = 1; i <= N; i++)); do held="$held n$i:$(ng_metric "$i" lota_cache_extents)"; done
fi

# ---------------------------------------------------------------- an owner killed
# (see the header) Expected digests first, then the readers, then the kill.
kill_shards=0 kill_errors=0 kill_wrong=0 kill_sent=0 kill_s=0 kill_fo=0
if [ "$cluster" = on ] && [ "$N" -ge 2 ]; then
	declare -A WANT
	for ((i = 1; i < N; i++)); do
		for s in $(shards_of "$i" 1); do WANT[$s]=$(shard_sha "$s"); done
	done
	mkdir -p "$work/kill"
	# kill_reader NODE: its shards, $streams at a time: per shard F.rc (curl), F.h, F.sha
	kill_reader() {
		local i=$1 s f
		for s in $(shards_of "$i" 1); do
			while [ "$(jobs -rp | wc -l)" -ge "$streams" ]; do wait -n || true; done
			f=$work/kill/n$i-s$s
			(
				set +eo pipefail
				ng_curl "$i" alice -sS -D "$f.h" "$(ng_url "$i")/bench/shard-$s" 2>"$f.err" |
					sha256sum | cut -d' ' -f1 >"$f.sha"
				echo "${PIPESTATUS[0]}" >"$f.rc"
			) &
		done
		wait
	}
	for ((i = 1; i < N; i++)); do kill_fo=$((kill_fo - $(ng_metric "$i" lota_cache_peer_failovers_total))); done
	t0=$(date +%s%N)
	sent0=$(ng_link_bytes "$N" tx)
	kpids=()
	for ((i = 1; i < N; i++)); do
		kill_reader "$i" &
		kpids+=("$!")
	done
	sleep 1
	kill_sent=$(($(ng_link_bytes "$N" tx) - sent0))
	ng_lotad_kill "$N" || true # (its wait returns the signal status)
	wait "${kpids[@]}"
	kill_s=$(awk -v ns=$(($(date +%s%N) - t0)) 'BEGIN {printf "%.2f", ns / 1e9}')
	for ((i = 1; i < N; i++)); do kill_fo=$((kill_fo + $(ng_metric "$i" lota_cache_peer_failovers_total))); done
	for ((i = 1; i < N; i++)); do
		for s in $(shards_of "$i" 1); do
			f=$work/kill/n$i-s$s
			kill_shards=$((kill_shards + 1))
			if [ "$(cat "$f.rc" 2>/dev/null)" != 0 ] ||
				! awk 'NR == 1 {exit !/^HTTP\/1\.1 200/}' "$f.h" 2>/dev/null; then
				kill_errors=$((kill_errors + 1))
				echo "---- node $i, shard-$s: curl status $(cat "$f.rc" 2>/dev/null), $(awk 'NR == 1' "$f.h" 2>/dev/null)" >&2
				cat "$f.err" >&2
			elif [ "$(cat "$f.sha")" != "${WANT[$s]}" ]; then
				kill_wrong=$((kill_wrong + 1))
				echo "---- node $i, shard-$s: wrong bytes (sha256 $(cat "$f.sha"))" >&2
			fi
		done
	done
	ng_lotad_restart "$N" || die "lotad of node $N did not start again after the kill"
fi

# ---------------------------------------------------------------- report
mbs() { awk -v b="$1" -v ns="$2" 'BEGIN {if (ns > 0) printf "%.0f", b / 1e6 / (ns / 1e9); else print "-"}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "-"}'; }
# scaling SUM_TOGETHER SUM_ALONE N_ALONE: the sum of the rates together over the mean alone
scaling() { awk -v w="$1" -v a="$2" -v n="$3" 'BEGIN {if (a > 0 && n > 0) printf "%.2f", w / (a / n); else print "-"}'; }
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
echo "the machine's CPU busy over each epoch (100 % = all $(nproc) cores) and each node's link, MB/s in/out:"
for name in "${EPOCHS[@]}"; do
	printf '  %-8s busy %3s %%  %s\n' "$name" "${E_BUSY[$name]}" "$(awk -v ns="${E_NS[$name]}" '{
		for (i = 1; i + 1 <= NF; i += 2)
			printf "%sn%d %.0f/%.0f", (i > 1 ? "  " : ""), (i + 1) / 2, $i / 1e3 / (ns / 1e6), $(i + 1) / 1e3 / (ns / 1e6) }' <<<"${E_LINKS[$name]}")"
done
echo
r_wc=$(ratio "${RATE[warm]}" "${RATE[cold]}")
r_cd=$(ratio "${RATE[cold]}" "${RATE[direct]}")
r_n1=$(ratio "${RATE[warm]}" "${RATE[warm-1]}")
# scaling: the sum of the nodes' rates together over the mean of their rates alone
sum_warm=0 sum_alone=0 n_alone=0
for ((i = 1; i <= N; i++)); do
	[ -n "${E_NODE[warm.$i]:-}" ] && sum_warm=$((sum_warm + ${E_NODE[warm.$i]}))
	if [ -n "${E_NODE[warm-$i.$i]:-}" ]; then
		sum_alone=$((sum_alone + ${E_NODE[warm-$i.$i]}))
		n_alone=$((n_alone + 1))
	fi
done
r_scale=$(scaling "$sum_warm" "$sum_alone" "$n_alone")
# the same for the raw transfers: per node MB/s = bytes / seconds
raw_rate() { awk '{if ($2 > 0) printf "%.0f", $1 / 1e6 / $2}' <<<"${RAW[$1]:-}"; }
raw_sum=0 raw_alone=0 raw_n=0 raw_line="" raw_alone_line=""
for ((i = 1; i <= N; i++)); do
	[ -n "${RAW[raw.$i]:-}" ] || continue
	raw_n=$((raw_n + 1))
	raw_sum=$((raw_sum + $(raw_rate "raw.$i")))
	raw_alone=$((raw_alone + $(raw_rate "raw-$i.$i")))
	raw_line="$raw_line n$i:$(raw_rate "raw.$i")"
	raw_alone_line="$raw_alone_line n$i:$(raw_rate "raw-$i.$i")"
done
r_raw=$(scaling "$raw_sum" "$raw_alone" "$raw_n")
up=$((E_UP_LOG[cold] + E_UP_LOG[warm]))
r_up=$(ratio "$up" "$dataset_bytes")
echo "ratios of this run:"
printf '  %-46s %6sx  target >= 10    %s\n' "warm / cold" "$r_wc" "$(verdict "$r_wc" 10)"
printf '  %-46s %6sx  target >= 0.95  %s\n' "cold / direct" "$r_cd" "$(verdict "$r_cd" 0.95)"
if [ "$cluster" = on ]; then
	printf '  %-46s %6sx  target >= 2.7   %s  (sum %s MB/s; alone, mean of %s: %s MB/s)\n' \
		"warm, $N nodes together / one node alone" "$r_scale" "$(verdict "$r_scale" 2.7)" \
		"$sum_warm" "$n_alone" "$(awk -v a="$sum_alone" -v n="$n_alone" 'BEGIN {if (n > 0) printf "%.0f", a / n}')"
	printf '  %-46s %6sx  (wall clock; placement-dependent, see the header)\n' \
		"warm, epoch MB/s / node 1 alone" "$r_n1"
	printf '  %-46s %6sx  (raw TCP, the same transfers: together%s, alone%s MB/s)\n' \
		"raw, $N nodes together / one node alone" "$r_raw" "$raw_line" "$raw_alone_line"
	printf '  %-46s %6sx\n' "lotad's scaling / raw's" "$(ratio "$r_scale" "$r_raw")"
else
	printf '  %-46s %6sx  (islands: each node reads its own disk; the target is the cluster'"'"'s)\n' \
		"warm, $N nodes together / one node alone" "$r_scale"
fi
printf '  %-46s %6sx  target = 1.00 (%s of %s bytes)  %s\n' "upstream bytes over cold + warm / dataset" \
	"$r_up" "$up" "$dataset_bytes" "$(if [ "$up" = "$dataset_bytes" ]; then echo met; else echo MISSED; fi)"
if [ "$kill_shards" -gt 0 ]; then
	printf '  %-46s %s errors, %s wrong of %s shards  target 0, 0  %s\n' \
		"an owner killed (node $N, kill -9)" "$kill_errors" "$kill_wrong" "$kill_shards" \
		"$(if [ "$kill_errors" = 0 ] && [ "$kill_wrong" = 0 ]; then echo met; else echo MISSED; fi)"
	echo "    (nodes 1-$((N - 1)) read their shards again, each checked by sha256, in $kill_s s; node $N had"
	echo "     sent $((kill_sent / 1000000)) MB on its link when it was killed, 1 s in; reads the others took"
	echo "     on from it or from the next member (lota_cache_peer_failovers_total): $kill_fo; then it started again)"
fi
[ -z "$held" ] || echo "extents each node holds after the warm epochs (lota_cache_extents):$held"
echo "where each node's bytes came from (lota_bytes_served_total by source, per epoch):"
for name in cold warm $(for ((i = 1; i <= N; i++)); do echo "warm-$i"; done); do
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
