#!/usr/bin/env bash
# test_netground.sh - the multi-node test ground itself (netground.sh): radosgw and three
# lotad nodes, each in its own network namespace behind its own shaped link. Each node
# reaches radosgw only through its link; each node's lotad serves alice's objects
# byte-exact to boto3 and awscli run in that node's namespace, the second read a hit;
# bob and anonymous are refused on every node; a fourth node added to the running ground
# gets its own address, link and lotad flags (kept on a restart). Then, from outside the ground's shell:
# after its teardown no namespace, link or process of it is left, also when that shell
# fails half-way (lib.sh's trap, and netground's own trap without lib.sh) or is
# terminated.
#
# The ground runs in a child (`test_netground.sh inner`, checks counted by it_run_checks)
# so that its teardown has happened when this script looks for leftovers. Needs root.
. "$(dirname "$0")/lib.sh"
. "$IT_LIB_DIR/netground.sh"

# ---------------------------------------------------------------- the ground at work
# rgw_logged ADDR PATH: radosgw's log shows a GET of PATH from ADDR (it writes its log
# lines a moment after the answer).
rgw_logged() { [ "$(ng_rgw_gets "$1" "$2")" -ge 1 ]; }
# inside: a process has entered the ground (its teardown must find it).
inside() { [ -n "$(ng__pids_in_ground)" ]; }

inner() {
	ng_require
	it_require_boto3
	it_require_cmd "$IT_AWS"
	local N=3 i ns size mib=$((1 << 20))
	ng_net_up "$N" "$IT_DIR/ground" || it_die "the ground's network did not come up"
	cp "$NG_DIR/ground.env" "$NG_STATE"
	echo "NG_PFX=$NG_PFX" >>"$NG_STATE"
	it_log "ground $NG_ID: subnet $NG_PFX.0/24, radosgw $NG_RGW_ADDR, nodes ${NG_ADDR[*]}"

	# --- topology
	check_eq "$((N + 2)) namespaces named $NG_ID-*" $((N + 2)) \
		"$(ip netns list | grep -c "^$NG_ID-")"
	check_eq "the host has no address in $NG_PFX.0/24" 0 \
		"$(ip -4 -o addr show | grep -c " $NG_PFX\.")"
	check_eq "the host has no link of the ground" "" \
		"$(ip -d -o link show | grep -F "alias $NG_ID" | awk '{print $2}')"
	for ((i = 1; i <= N; i++)); do
		ns=${NG_NS_NODE[i]}
		check_eq "node $i has lo and eth0 only" "eth0 lo" \
			"$(ip -n "$ns" -o link show | awk -F': ' '{sub(/@.*/, "", $2); print $2}' | sort | xargs)"
		check_eq "node $i has one route, its subnet on eth0 (no default)" \
			"$NG_PFX.0/24 dev eth0" \
			"$(ip -n "$ns" -4 route show | awk '{print $1, $2, $3}')"
		check_contains "node $i reaches radosgw through eth0" "dev eth0" \
			"$(ip -n "$ns" route get "$NG_RGW_ADDR")"
		check_contains "node $i's link is capped (eth0)" "rate 2Gbit" \
			"$(tc -n "$ns" qdisc show dev eth0)"
		check_contains "node $i's link is capped (bridge side)" "rate 2Gbit" \
			"$(tc -n "$NG_NS_BR" qdisc show dev "v-n$i")"
	done
	check_contains "radosgw's link is capped (eth0)" "rate 1Gbit" \
		"$(tc -n "$NG_NS_RGW" qdisc show dev eth0)"
	check_contains "radosgw's link is capped (bridge side)" "rate 1Gbit" \
		"$(tc -n "$NG_NS_BR" qdisc show dev v-rgw)"

	# --- radosgw and the lotads
	ng_rgw_up || it_die "radosgw did not start in its namespace"
	ng_clients_write
	it_log "radosgw on $NG_RGW_ENDPOINT (started in $RGW_START_MS ms)"
	check_eq "radosgw listens on $NG_RGW_ADDR only (no wildcard)" "$NG_RGW_ADDR:$RGW_PORT" \
		"$(ip netns exec "$NG_NS_RGW" ss -Htln "sport = :$RGW_PORT" | awk '{print $4}')"
	for ((i = 1; i <= N; i++)); do
		ng_lotad_start "$i" || it_die "lotad of node $i did not start"
		check_eq "node $i's lotad runs inside node $i's namespace" \
			"$(stat -L -c 'net:[%i]' "/run/netns/${NG_NS_NODE[i]}")" \
			"$(readlink "/proc/${NG_LOTAD_PID[i]}/ns/net")"
	done

	code=$(ng_curl rgw alice -o /dev/null -w '%{http_code}' -X PUT "$NG_RGW_ENDPOINT/ground")
	check_eq "alice creates bucket ground at radosgw" 200 "$code"
	for ((i = 1; i <= N; i++)); do
		size=$((12 * mib + i * 4099))
		it_random_file "$IT_DIR/obj-$i" "$size"
		code=$(ng_curl rgw alice -o /dev/null -w '%{http_code}' -T "$IT_DIR/obj-$i" \
			"$NG_RGW_ENDPOINT/ground/obj-$i")
		check_eq "alice uploads obj-$i ($size bytes) at radosgw" 200 "$code"
	done

	# --- each node: cold read (boto3), link counters, warm reads (boto3, awscli)
	local j out rx0=() rx1=() rgw0 rgw1 tbf0 tbf1 up0 up1 hits0 hits1 want
	for ((i = 1; i <= N; i++)); do
		size=$(stat -c %s "$IT_DIR/obj-$i")
		want=$(it_sha256 "$IT_DIR/obj-$i")
		for ((j = 1; j <= N; j++)); do rx0[j]=$(ng_link_bytes "$j" rx); done
		rgw0=$(ng_link_bytes rgw tx)
		tbf0=$(ng_tbf_sent br "v-n$i")
		out=$(ng_python "$i" "$IT_CLIENTS_DIR/ground_boto3.py" get alice ground "obj-$i" \
			"$IT_DIR/got-$i.boto3-cold" 2>&1)
		check_eq "node $i: boto3 cold read of obj-$i is 200, a miss" "200 miss" "$out"
		check_eq "node $i: boto3 cold read, sha256" "$want" "$(it_sha256 "$IT_DIR/got-$i.boto3-cold")"
		for ((j = 1; j <= N; j++)); do rx1[j]=$(ng_link_bytes "$j" rx); done
		rgw1=$(ng_link_bytes rgw tx)
		tbf1=$(ng_tbf_sent br "v-n$i")
		check "node $i: its link carried the object ($((rx1[i] - rx0[i])) bytes in)" \
			test $((rx1[i] - rx0[i])) -ge "$size"
		check "node $i: radosgw's link sent it ($((rgw1 - rgw0)) bytes)" \
			test $((rgw1 - rgw0)) -ge "$size"
		check "node $i: through the cap of node $i's link ($((tbf1 - tbf0)) bytes)" \
			test $((tbf1 - tbf0)) -ge "$size"
		for ((j = 1; j <= N; j++)); do
			[ "$j" = "$i" ] && continue
			check "node $i: node $j's link did not carry it ($((rx1[j] - rx0[j])) bytes in)" \
				test $((rx1[j] - rx0[j])) -lt $((size / 8))
		done
		check "node $i: radosgw logged the GET of obj-$i from ${NG_ADDR[i]}" \
			it_wait_for 10 rgw_logged "${NG_ADDR[i]}" "/ground/obj-$i"

		up0=$(ng_metric "$i" 'lota_bytes_served_total{source="upstream"}')
		hits0=$(ng_metric "$i" lota_cache_hits_total)
		out=$(ng_python "$i" "$IT_CLIENTS_DIR/ground_boto3.py" get alice ground "obj-$i" \
			"$IT_DIR/got-$i.boto3-warm" 2>&1)
		check_eq "node $i: boto3 second read is 200, a hit" "200 hit" "$out"
		check_eq "node $i: boto3 second read, sha256" "$want" "$(it_sha256 "$IT_DIR/got-$i.boto3-warm")"
		check "node $i: awscli s3 cp" ng_aws "$i" alice s3 cp --only-show-errors \
			"s3://ground/obj-$i" "$IT_DIR/got-$i.awscli"
		check_eq "node $i: awscli read, sha256" "$want" "$(it_sha256 "$IT_DIR/got-$i.awscli")"
		up1=$(ng_metric "$i" 'lota_bytes_served_total{source="upstream"}')
		hits1=$(ng_metric "$i" lota_cache_hits_total)
		check_eq "node $i: no byte from the upstream for the warm reads" "$up0" "$up1"
		check "node $i: lota_cache_hits_total grew ($hits0 -> $hits1)" test "$hits1" -ge $((hits0 + 2))
		check_eq "node $i: radosgw sent obj-$i once" "$size" \
			"$(ng_rgw_get_bytes "${NG_ADDR[i]}" "/ground/obj-$i")"
	done

	# --- other users on every node
	for ((i = 1; i <= N; i++)); do
		out=$(ng_python "$i" "$IT_CLIENTS_DIR/ground_boto3.py" get bob ground "obj-$i" \
			"$IT_DIR/bob-$i" 2>&1)
		check_eq "node $i: bob's boto3 read of alice's cached object -> 403 AccessDenied" \
			"403 AccessDenied" "$out"
		out=$(ng_curl "$i" bob -o "$IT_DIR/bob-$i.curl" -w '%{http_code}' \
			"$(ng_url "$i")/ground/obj-$i")
		check_eq "node $i: bob's curl -> 403" 403 "$out"
		check "node $i: bob got no byte of the object ($(stat -c %s "$IT_DIR/bob-$i.curl") bytes of error)" \
			test "$(stat -c %s "$IT_DIR/bob-$i.curl")" -lt 1024
		out=$(ng_curl "$i" anonymous -o "$IT_DIR/anon-$i" -w '%{http_code}' \
			"$(ng_url "$i")/ground/obj-$i")
		check_eq "node $i: anonymous GET -> 403" 403 "$out"
		check "node $i: anonymous got no byte of the object" \
			test "$(stat -c %s "$IT_DIR/anon-$i")" -lt 1024
		check_eq "node $i: still one GET of obj-$i at radosgw" 1 \
			"$(ng_rgw_gets "${NG_ADDR[i]}" "/ground/obj-$i")"
	done

	# --- a node added to the running ground, with flags of its own (kept on a restart)
	ng_node_add || it_die "node 4 could not be added"
	cp "$NG_DIR/ground.env" "$NG_STATE"
	check_eq "node 4 gets the next address" "$NG_PFX.14" "${NG_ADDR[4]}"
	check_contains "node 4's link is capped" "rate 2Gbit" "$(tc -n "${NG_NS_NODE[4]}" qdisc show dev eth0)"
	ng_lotad_start 4 --extent-size 4MiB || it_die "lotad of node 4 did not start"
	for ((i = 1; i <= 2; i++)); do
		out=$(ng_python 4 "$IT_CLIENTS_DIR/ground_boto3.py" get alice ground "obj-$i" \
			"$IT_DIR/got-4-$i" 2>&1)
		check_eq "node 4: boto3 cold read of obj-$i is 200, a miss" "200 miss" "$out"
		check_eq "node 4: obj-$i, sha256" "$(it_sha256 "$IT_DIR/obj-$i")" "$(it_sha256 "$IT_DIR/got-4-$i")"
		check "node 4: radosgw logged its GET of obj-$i" \
			it_wait_for 10 rgw_logged "${NG_ADDR[4]}" "/ground/obj-$i"
		# node 4's own flag: 12 MiB + a few KiB in 4 MiB extents, four fills (node 1: one)
		check_eq "node 4: its --extent-size 4MiB made four fills of obj-$i" 4 \
			"$(ng_metric 4 'lota_cache_fills_total{result="started"}')"
		[ "$i" = 2 ] || ng_lotad_restart 4 || it_die "lotad of node 4 did not restart"
	done
	check_eq "node 1's default extent size made one fill" 1 \
		"$(ng_metric 1 'lota_cache_fills_total{result="started"}')"
	it_finish
}

# A ground that fails half-way: its network, a process left running inside node 1, then
# the shell ends with MODE: "term" (SIGTERM to itself, lib.sh's trap) or "plain" (a failed
# command under set -e in a shell without lib.sh: netground's own trap).
failing() {
	ng_net_up 2 "$IT_DIR/ground" || exit 1
	cp "$NG_DIR/ground.env" "$NG_STATE"
	ng_exec 1 sleep 600 &
	it_wait_for 10 inside
	kill -TERM $$
	sleep 30 # not reached: the TERM trap exits
}

case "${1:-}" in
inner)
	inner
	exit
	;;
term)
	failing
	exit 1
	;;
esac

# ---------------------------------------------------------------- from outside
ng_require
[ "${LOTA_TEST_DIRECT:-}" = 1 ] && it_skip "the ground tests lotad nodes; nothing to run directly"
[ -x "$(it_lotad_bin)" ] || it_die "lotad is not built ($(it_lotad_bin) missing)"

# leftovers STATE: what is left of the ground described in STATE (nothing = "").
leftovers() {
	local NG_ID NG_DIR NG_NETNS NG_NS_INODES f # (set by the state file)
	# shellcheck disable=SC1090
	. "$1"
	# shellcheck disable=SC2086
	ng_leftovers "$NG_ID" $NG_NS_INODES
	for f in /proc/[0-9]*/cmdline; do
		tr '\0' ' ' 2>/dev/null <"$f" | grep -qF -- "$NG_DIR" &&
			echo "process ${f#/proc/} names $NG_DIR"
	done
	[ ! -e "$NG_DIR" ] || echo "directory $NG_DIR"
}

it_run_checks "the ground at work" env NG_STATE="$IT_DIR/inner.env" bash "$0" inner
if [ -s "$IT_DIR/inner.env" ]; then
	check_eq "after the ground's teardown nothing of it is left" "" "$(leftovers "$IT_DIR/inner.env")"
else
	it_fail "the ground at work recorded no state"
fi

NG_STATE=$IT_DIR/term.env bash "$0" term >"$IT_DIR/term.out" 2>&1
rc=$?
check_eq "a ground terminated half-way exits 143" 143 "$rc"
check_contains "its teardown stopped the process left inside it" "processes left inside the ground" \
	"$(cat "$IT_DIR/term.out")"
if [ -s "$IT_DIR/term.env" ]; then
	check_eq "nothing of the terminated ground is left" "" "$(leftovers "$IT_DIR/term.env")"
else
	it_fail "the terminated ground recorded no state"
	sed 's/^/#   /' "$IT_DIR/term.out"
fi

# Without lib.sh: netground's own EXIT trap, a failure under set -e.
NG_STATE=$IT_DIR/plain.env bash -c '
	set -euo pipefail
	. "$1/netground.sh"
	ng_net_up 2
	cp "$NG_DIR/ground.env" "$NG_STATE"
	ng_exec 2 sleep 600 &
	until [ -n "$(ng__pids_in_ground)" ]; do sleep 0.05; done
	false
	echo "not reached"' _ "$IT_LIB_DIR" >"$IT_DIR/plain.out" 2>&1
rc=$?
check_eq "a ground whose shell fails under set -e exits 1" 1 "$rc"
check "and does not go on" test "$(grep -c 'not reached' "$IT_DIR/plain.out")" = 0
if [ -s "$IT_DIR/plain.env" ]; then
	check_eq "nothing of the failed ground is left (its own trap)" "" "$(leftovers "$IT_DIR/plain.env")"
else
	it_fail "the failed ground recorded no state"
	sed 's/^/#   /' "$IT_DIR/plain.out"
fi
it_finish
