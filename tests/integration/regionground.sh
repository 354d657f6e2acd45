# shellcheck shell=bash
# regionground.sh - two regions on one machine (sourced by tests/integration/test_region.sh
# and bench/region.sh; never run by CTest): two single-node Ceph clusters started at once
# by rgw.sh, each naming its region through its zonegroup's api_name (RGW_API_NAME):
#
#   lota-local   on 127.0.0.1 (rgw.sh's default)
#   lota-remote  inside the network namespace lota-region<PID>, its S3 frontend on PFX.2,
#                reached from the host through a veth (host end lrg<PID>, PFX.1) shaped
#                with tc tbf on both ends (RG_RATE, default 300mbit): a link to another
#                region. PFX is a /24 nothing on the host uses (ng_pick_subnet; never
#                192.0.2.0/24).
#
#   . tests/integration/regionground.sh
#   rg_up DIR          both clusters in DIR/rgw-local and DIR/rgw-remote; sets
#                      RG_LOCAL_EP, RG_REMOTE_EP (http://addr:port), RG_LOCAL_DIR,
#                      RG_REMOTE_DIR. Returns 1 (after printing the start logs) on failure.
#   rg_down            stop both clusters by PID, delete the namespace and the veth
#                      (idempotent; the caller runs it on exit)
#
# Needs root (ip netns, veth, tc) and the Ceph packages; RGW_MEMSTORE_BYTES sizes each
# cluster's RAM-backed store (default here 1 GiB).

RG_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=netground.sh
. "$RG_LIB_DIR/netground.sh" # rgw.sh, ng_pick_subnet

RG_NS=lota-region$$
RG_HVETH=lrg$$
RG_LOCAL_DIR=
RG_REMOTE_DIR=
RG_LOCAL_EP=
RG_REMOTE_EP=
RG_NS_MADE=0

rg__say() { echo "regionground: $*" >&2; }

rg_down() {
	[ -n "$RG_REMOTE_DIR" ] && [ -d "$RG_REMOTE_DIR" ] && rgw_stop "$RG_REMOTE_DIR"
	[ -n "$RG_LOCAL_DIR" ] && [ -d "$RG_LOCAL_DIR" ] && rgw_stop "$RG_LOCAL_DIR"
	if [ "$RG_NS_MADE" = 1 ]; then
		ip netns del "$RG_NS" 2>/dev/null
		ip link del "$RG_HVETH" 2>/dev/null
		RG_NS_MADE=0
	fi
	return 0
}

rg_up() {
	local dir=${1:?usage: rg_up DIR} rate=${RG_RATE:-300mbit} pfx lpid rpid
	pfx=$(ng_pick_subnet) || {
		rg__say "no free /24 for the remote region's link"
		return 1
	}
	ip netns add "$RG_NS" || return 1
	RG_NS_MADE=1
	ip link add "$RG_HVETH" type veth peer name eth0 netns "$RG_NS" &&
		ip addr add "$pfx.1/24" dev "$RG_HVETH" && ip link set "$RG_HVETH" up &&
		ip -n "$RG_NS" link set lo up && ip -n "$RG_NS" addr add "$pfx.2/24" dev eth0 &&
		ip -n "$RG_NS" link set eth0 up &&
		tc qdisc add dev "$RG_HVETH" root tbf rate "$rate" burst 256kb latency 50ms &&
		tc -n "$RG_NS" qdisc add dev eth0 root tbf rate "$rate" burst 256kb latency 50ms || {
		rg__say "cannot set up the remote region's link"
		return 1
	}
	RG_LOCAL_DIR=$dir/rgw-local RG_REMOTE_DIR=$dir/rgw-remote
	(RGW_API_NAME=lota-local RGW_MEMSTORE_BYTES=${RGW_MEMSTORE_BYTES:-1073741824} \
		rgw_start "$RG_LOCAL_DIR") >"$dir/rgw-local.log" 2>&1 &
	lpid=$!
	ip netns exec "$RG_NS" env RGW_BIND="$pfx.2" RGW_API_NAME=lota-remote \
		RGW_MEMSTORE_BYTES="${RGW_MEMSTORE_BYTES:-1073741824}" \
		bash "$RG_LIB_DIR/rgw.sh" start "$RG_REMOTE_DIR" >"$dir/rgw-remote.log" 2>&1 &
	rpid=$!
	local ok=1
	wait "$lpid" || {
		rg__say "the local region's radosgw did not start:"
		sed 's/^/#   /' "$dir/rgw-local.log" >&2
		ok=0
	}
	wait "$rpid" || {
		rg__say "the remote region's radosgw did not start:"
		sed 's/^/#   /' "$dir/rgw-remote.log" >&2
		ok=0
	}
	[ $ok = 1 ] || return 1
	RG_LOCAL_EP=$(. "$RG_LOCAL_DIR/rgw.env" && echo "$RGW_ENDPOINT")
	RG_REMOTE_EP=$(. "$RG_REMOTE_DIR/rgw.env" && echo "$RGW_ENDPOINT")
	rg__say "lota-local on $RG_LOCAL_EP, lota-remote on $RG_REMOTE_EP behind tbf $rate"
}
