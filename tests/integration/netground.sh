# shellcheck shell=bash
# netground.sh - the multi-node test ground (sourced by tests, benchmarks and the cluster
# demo; never run by CTest, it is not a test_*.sh): radosgw and N lotad nodes (default 3),
# each in a network namespace of its own with its own address, joined by a bridge, the
# links capped with `tc tbf` so that radosgw sits behind a "remote storage" link.
#
#   . tests/integration/netground.sh
#   ng_require                    # root and the tools, else "SKIP: ..." and exit 77
#   ng_setup [N]                  # namespaces, links, radosgw (alice, bob), client configs
#   ng_lotad_start I [FLAGS...]   # lotad of node I (1..N), FLAGS added to its command line
#   ng_node_add                   # node N+1 on the running ground (then ng_lotad_start)
#   ng_aws I alice s3 cp s3://b/k /tmp/x    # a client inside node I's namespace
#   (teardown runs on exit: lotads and radosgw by PID, then every namespace)
#
# Topology (NG_ID = lota-gPID-RAND, unique per run; nothing is created in the host's
# namespace, so the host's network does not change and two grounds never clash):
#
#   NG_ID-rgw  eth0 PFX.2  ====tbf RGW_RATE both ways====  v-rgw ┐
#   NG_ID-n1   eth0 PFX.11 ====tbf NODE_RATE both ways===  v-n1  ├ br0 in NG_ID-br
#   NG_ID-nI   eth0 PFX.1I ...                             v-nI  ┘ (no address)
#
# PFX is a /24 that no address or route of the host uses (`ip -4 addr`, `ip -4 route`;
# 198.51.100.0/24 first, never 192.0.2.0/24). Each link is shaped on both of its ends
# (egress of each end), so the cap holds in both directions. The radosgw cluster (monitor,
# OSD, radosgw) runs inside NG_ID-rgw: monitor and OSD on that namespace's loopback, the
# S3 frontend on PFX.2 (rgw.sh's RGW_BIND). A node reaches radosgw only through its own
# link, the bridge and radosgw's link. Node I's lotad listens on PFX.(10+I):8080 (S3),
# :8081 (admin) and, once lotad has cluster flags, :8082 (peer port).
#
# Environment:
#   LOTA_GROUND_NODES       N when ng_setup gets none (default 3)
#   LOTA_GROUND_RGW_RATE    radosgw's link (tbf rate; default 1gbit; "off": not shaped)
#   LOTA_GROUND_NODE_RATE   each node's link (default 2gbit; "off": not shaped)
#   LOTA_GROUND_RGW_BURST / LOTA_GROUND_NODE_BURST   tbf bursts (256kb / 512kb)
#   LOTA_GROUND_QUEUE       how long a packet may wait in a shaped link's queue (tbf latency,
#                           default 50ms)
#   LOTA_GROUND_CACHE_SIZE  each node's cache dir capacity (default 2GiB; "none": no
#                           cache dir, for flags that bring their own)
#   LOTA_CLUSTER            auto (default: on when `lotad --help` lists --peer-listen),
#                           on or off: what ng_cluster_on answers
#   LOTA_BUILD_DIR          where daemon/lotad is (default <source>/build)
#   RGW_MEMSTORE_BYTES      radosgw's RAM-backed store (rgw.sh; default 3 GiB)
#   NG_CLIENT_TIMEOUT       seconds a client (ng_curl, ng_aws, ng_python) may run (300)
#   LOTA_TEST_KEEP=1        leave everything running and print how to remove it
#
# Invariants:
#   - Every process the ground starts is stopped by PID (lotad: SIGTERM, then SIGKILL
#     after 10 s; radosgw by rgw.sh). A process still inside one of the ground's
#     namespaces at teardown is the ground's (nobody else enters them) and is stopped by
#     PID too, loudly. Then every namespace is deleted, which deletes the veths and the
#     bridge in them.
#   - Teardown runs on every exit of the sourcing shell (normal, failure, INT, TERM): via
#     lib.sh's it_at_exit when lib.sh is loaded, else via an EXIT trap set by ng_setup.
#     It is idempotent. A SIGKILL of the sourcing shell skips it: `ip netns list | grep
#     lota-g` then shows what to remove by hand.
#   - Clients run inside a node's namespace with generated config files; the caller's
#     AWS_* and proxy variables never reach them.

NG_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=rgw.sh
. "$NG_LIB_DIR/rgw.sh"

NG_S3_PORT=8080
NG_ADMIN_PORT=8081
NG_PEER_PORT=8082
NG_ID=
NG_DIR=
NG_OWN_DIR=0
NG_N=0
NG_PFX=
NG_RGW_ADDR=
NG_RGW_ENDPOINT=
NG_NS_BR=
NG_NS_RGW=
NG_NETNS=()      # every namespace created, in order (teardown deletes these)
NG_NS_INODES=()  # their nsfs inode numbers (to find processes inside them)
NG_NS_NODE=()    # [I] namespace of node I
NG_ADDR=()       # [I] address of node I
NG_LOTAD_PID=()  # [I] lotad of node I, empty when not running
NG_NODE_ARGS=()  # [I] node I's extra lotad flags (printf %q words), kept for restarts
NG_LOTAD_ARGS=() # extra lotad flags of every node (set before ng_lotad_start)
NG_CLUSTER_ARGS=()
NG_TORN_DOWN=0

ng__say() { echo "netground: $*" >&2; }

# ---------------------------------------------------------------- prerequisites
# ng_require: root and the tools, or a loud SKIP and exit 77 (CTest's SKIP code).
ng_require() {
	local c me
	me=$(basename "$0")
	if [ "$(id -u)" -ne 0 ]; then
		echo "SKIP: $me: the network test ground needs root (network namespaces, veth, tc)"
		exit 77
	fi
	for c in ip tc curl sha256sum /usr/bin/python3 ceph-mon ceph-osd radosgw \
		radosgw-admin monmaptool ceph-authtool ceph uuidgen; do
		if ! command -v "$c" >/dev/null 2>&1; then
			echo "SKIP: $me: missing $c"
			exit 77
		fi
	done
	if ! ip netns list >/dev/null 2>&1; then
		echo "SKIP: $me: 'ip netns' does not work here"
		exit 77
	fi
}

ng_lotad_bin() { echo "${LOTA_BUILD_DIR:-$NG_LIB_DIR/../../build}/daemon/lotad"; }
# True when that lotad has the cluster (--peer-listen in its --help; grep reads it all,
# so lotad never writes into a closed pipe).
ng_lotad_has_cluster() { "$(ng_lotad_bin)" --help 2>/dev/null | grep -- '--peer-listen' >/dev/null; }

# ---------------------------------------------------------------- addressing
# ng_pick_subnet: the first three octets of a /24 that no address or route of the host's
# namespace overlaps (candidates from the documentation ranges first; never 192.0.2.0/24,
# the machine's own network here).
ng_pick_subnet() {
	{
		ip -4 -o addr show | awk '{print $4}'
		ip -4 route show table all 2>/dev/null | awk '$1 != "default" && $1 != "broadcast" &&
			$1 != "local" {print $1} $1 == "local" || $1 == "broadcast" {print $2}'
	} | /usr/bin/python3 -c '
import ipaddress, sys
used = []
for line in sys.stdin:
    try:
        used.append(ipaddress.ip_network(line.strip(), strict=False))
    except ValueError:
        pass
for cand in ("198.51.100.0/24", "203.0.113.0/24", "198.18.77.0/24", "100.64.77.0/24",
             "10.201.77.0/24", "172.31.77.0/24"):
    net = ipaddress.ip_network(cand)
    if not any(net.overlaps(u) for u in used if u.version == 4):
        print(cand.rsplit(".", 1)[0])
        sys.exit(0)
sys.exit(1)
'
}

# ---------------------------------------------------------------- namespaces and links
# ng_ns WHERE: the namespace of WHERE (rgw, br, or a node number).
ng_ns() {
	case "$1" in
	rgw) echo "$NG_NS_RGW" ;;
	br) echo "$NG_NS_BR" ;;
	*) echo "${NG_NS_NODE[$1]}" ;;
	esac
}

# ng_addr WHERE: the address of rgw or of node I.
ng_addr() {
	case "$1" in
	rgw) echo "$NG_RGW_ADDR" ;;
	*) echo "${NG_ADDR[$1]}" ;;
	esac
}

ng__netns_add() {
	local name=$1
	ip netns add "$name" || return 1
	NG_NETNS+=("$name")
	NG_NS_INODES+=("$(stat -L -c %i "/run/netns/$name")")
	ng_describe >"$NG_DIR/ground.env"
	ip -n "$name" link set lo up || return 1
	# No IPv6 on the ground: no router or neighbour solicitations on the links, so the
	# byte counters of a link carry only what a test sent.
	ip netns exec "$name" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
		net.ipv6.conf.default.disable_ipv6=1 >/dev/null 2>&1 || true
}

# ng__shape NS DEV RATE BURST: tbf on the egress of DEV in NS ("off": nothing).
ng__shape() {
	[ "$3" = off ] && return 0
	tc -n "$1" qdisc add dev "$2" root tbf rate "$3" burst "$4" latency "${LOTA_GROUND_QUEUE:-50ms}"
}

# ng__link NS NAME ADDR RATE BURST: a veth from NS (eth0, ADDR/24) to the bridge (NAME),
# shaped on both ends. Created inside the two namespaces directly: never in the host's.
ng__link() {
	local ns=$1 name=$2 addr=$3 rate=$4 burst=$5
	ip -n "$NG_NS_BR" link add "$name" type veth peer name eth0 netns "$ns" || return 1
	ip -n "$NG_NS_BR" link set "$name" alias "$NG_ID" master br0 up &&
		ip -n "$ns" link set eth0 alias "$NG_ID" &&
		ip -n "$ns" addr add "$addr/24" dev eth0 &&
		ip -n "$ns" link set eth0 up &&
		ng__shape "$ns" eth0 "$rate" "$burst" &&
		ng__shape "$NG_NS_BR" "$name" "$rate" "$burst"
}

# ng_net_up N [DIR]: the namespaces, the bridge and the shaped links of radosgw and N
# nodes; DIR (created when missing; default a new temp dir) holds every file of the
# ground. Registers the teardown first, so a failure half-way still removes everything.
ng_net_up() {
	local n=${1:-${LOTA_GROUND_NODES:-3}} i
	ng__register_teardown
	if [ -n "${2:-}" ]; then
		NG_DIR=$2
		mkdir -p "$NG_DIR" || return 1
	else
		NG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/lota-ground.XXXXXX") || return 1
		NG_OWN_DIR=1
	fi
	NG_DIR=$(cd "$NG_DIR" && pwd)
	NG_PFX=$(ng_pick_subnet) || {
		ng__say "no free /24 for the ground"
		return 1
	}
	# A unique prefix: the shell's PID and a random part; retried if taken.
	for _ in 1 2 3 4 5; do
		NG_ID=lota-g$$-$(od -An -N2 -tx2 /dev/urandom | tr -d ' ')
		ip netns list | grep -q "^$NG_ID-" || break
	done
	NG_NS_BR=$NG_ID-br NG_NS_RGW=$NG_ID-rgw NG_RGW_ADDR=$NG_PFX.2
	echo "$NG_ID" >"$NG_DIR/ground.id"
	ng__netns_add "$NG_NS_BR" &&
		ip -n "$NG_NS_BR" link add br0 type bridge &&
		ip -n "$NG_NS_BR" link set br0 alias "$NG_ID" up || {
		ng__say "cannot create the bridge namespace $NG_NS_BR"
		return 1
	}
	ng__netns_add "$NG_NS_RGW" &&
		ng__link "$NG_NS_RGW" v-rgw "$NG_RGW_ADDR" "${LOTA_GROUND_RGW_RATE:-1gbit}" \
			"${LOTA_GROUND_RGW_BURST:-256kb}" || {
		ng__say "cannot create radosgw's namespace and link"
		return 1
	}
	NG_N=0
	for ((i = 1; i <= n; i++)); do
		ng_node_add || return 1
	done
}

# ng_node_add: one more node (N+1) on the running ground: its namespace and capped link
# (no lotad yet). NG_N counts it at once, so ng_cluster_args then lists it as a member.
ng_node_add() {
	local i=$((NG_N + 1))
	[ "$i" -le 200 ] || return 1
	NG_N=$i
	NG_NS_NODE[i]=$NG_ID-n$i
	NG_ADDR[i]=$NG_PFX.$((10 + i))
	NG_LOTAD_PID[i]=
	ng__netns_add "${NG_NS_NODE[i]}" &&
		ng__link "${NG_NS_NODE[i]}" "v-n$i" "${NG_ADDR[i]}" \
			"${LOTA_GROUND_NODE_RATE:-2gbit}" "${LOTA_GROUND_NODE_BURST:-512kb}" || {
		ng__say "cannot create node $i's namespace and link"
		return 1
	}
}

# ng_describe: the ground as sourceable KEY=VALUE lines (for a process that checks
# after the ground's shell has gone that nothing of it is left).
ng_describe() {
	echo "NG_ID=$NG_ID"
	echo "NG_DIR=$NG_DIR"
	echo "NG_NETNS='${NG_NETNS[*]}'"
	echo "NG_NS_INODES='${NG_NS_INODES[*]}'"
}

# ---------------------------------------------------------------- radosgw
# ng_rgw_up: the radosgw cluster inside its namespace, its S3 frontend on PFX.2; users
# alice and bob. Sets NG_RGW_ENDPOINT (and RGW_* of rgw.env).
ng_rgw_up() {
	if ! ip netns exec "$NG_NS_RGW" env RGW_BIND="$NG_RGW_ADDR" \
		RGW_MEMSTORE_BYTES="${RGW_MEMSTORE_BYTES:-3221225472}" \
		bash "$NG_LIB_DIR/rgw.sh" start "$NG_DIR/rgw" >"$NG_DIR/rgw-start.log" 2>&1; then
		ng__say "radosgw did not start in $NG_NS_RGW:"
		sed 's/^/#   /' "$NG_DIR/rgw-start.log" >&2
		return 1
	fi
	# shellcheck disable=SC1091
	. "$NG_DIR/rgw/rgw.env"
	NG_RGW_ENDPOINT=$RGW_ENDPOINT
}

# ng_rgw_log: radosgw's log (beast writes one access line per request in it).
ng_rgw_log() { echo "$NG_DIR/rgw/log/client.rgw.a.log"; }

# ng_rgw_get_bytes [ADDR [PATH_PREFIX]]: body bytes radosgw sent in answers 200/206 to
# GETs (from ADDR, of paths starting with PATH_PREFIX), read from its access lines:
#   beast: 0x..: 198.51.100.11 - alice [date] "GET /b/k HTTP/1.1" 206 67108864 - ...
ng_rgw_get_bytes() {
	awk -v a="${1:-}" -v p="${2:-}" '
		/ beast: / {
			n = split($0, q, "\"")
			if (n < 3) next
			split(q[2], r, " ")
			if (r[1] != "GET" || (p != "" && index(r[2], p) != 1)) next
			split(q[3], s, " ")
			if (s[1] != "200" && s[1] != "206") next
			if (a != "") {
				pre = q[1]; sub(/ - [^ ]* \[.*$/, "", pre); sub(/^.* /, "", pre)
				if (pre != a) next
			}
			sum += s[2]
		}
		END { printf "%.0f\n", sum }' "$(ng_rgw_log)" 2>/dev/null || echo 0
}

# ng_rgw_gets ADDR PATH: how many GETs of PATH (/bucket/key) from ADDR radosgw answered
# 200 or 206.
ng_rgw_gets() {
	awk -v a="$1" -v p="$2" '
		/ beast: / && index($0, " " a " - ") && index($0, "\"GET " p " ") {
			n = split($0, q, "\""); split(q[3], s, " ")
			if (s[1] == "200" || s[1] == "206") c++
		}
		END { print c + 0 }' "$(ng_rgw_log)" 2>/dev/null || echo 0
}

# ---------------------------------------------------------------- client configs
ng_clients_write() {
	local d=$NG_DIR/clients
	mkdir -p "$d"
	(
		umask 077
		cat >"$d/lotad-credentials" <<EOF
[alice]
aws_access_key_id = $RGW_ALICE_ACCESS
aws_secret_access_key = $RGW_ALICE_SECRET

[bob]
aws_access_key_id = $RGW_BOB_ACCESS
aws_secret_access_key = $RGW_BOB_SECRET
EOF
	)
	cp "$d/lotad-credentials" "$d/aws-credentials"
	cat >"$d/aws-config" <<EOF
[profile alice]
region = $RGW_REGION
output = json
s3 =
    addressing_style = path

[profile bob]
region = $RGW_REGION
output = json
s3 =
    addressing_style = path
EOF
}

# ng_setup [N [DIR]]: ng_net_up, ng_rgw_up and the client configs. lotads are started by
# the caller (ng_lotad_start / ng_lotads_start), each with its own flags.
ng_setup() {
	ng_net_up "$@" || return 1
	ng_rgw_up || return 1
	ng_clients_write
}

# ---------------------------------------------------------------- lotad per node
ng_url() { # WHERE: the S3 endpoint of node I's lotad, or radosgw's for "rgw"
	case "$1" in
	rgw) echo "$NG_RGW_ENDPOINT" ;;
	*) echo "http://${NG_ADDR[$1]}:$NG_S3_PORT" ;;
	esac
}
ng_admin_url() { echo "http://${NG_ADDR[$1]}:$NG_ADMIN_PORT"; }

ng__healthy() {
	ip netns exec "${NG_NS_NODE[$1]}" curl -sf -m 2 -o /dev/null "$(ng_admin_url "$1")/healthz"
}

# ng_lotad_start I [FLAGS...]: lotad of node I inside its namespace: S3 on PFX.(10+I):8080,
# admin on :8081, upstream radosgw, alice's and bob's keys, a cache dir of its own
# (LOTA_GROUND_CACHE_SIZE), then NG_LOTAD_ARGS and FLAGS. Waits for /healthz (20 s).
# Log: $NG_DIR/nI/lotad.log.
ng_lotad_start() {
	local i=$1
	shift
	NG_NODE_ARGS[i]=
	[ $# -eq 0 ] || NG_NODE_ARGS[i]=$(printf '%q ' "$@")
	ng__lotad_launch "$i"
}

ng__lotad_launch() {
	local i=$1 bin extra=() cache=() rc
	bin=$(ng_lotad_bin)
	if [ ! -x "$bin" ]; then
		ng__say "lotad is not built ($bin missing)"
		return 1
	fi
	eval "extra=(${NG_NODE_ARGS[i]:-})"
	mkdir -p "$NG_DIR/n$i"
	if [ "${LOTA_GROUND_CACHE_SIZE:-2GiB}" != none ]; then
		cache=(--cache-dir "$NG_DIR/n$i/cache:${LOTA_GROUND_CACHE_SIZE:-2GiB}")
	fi
	echo "# $(date -u +%FT%TZ) start: ${NG_LOTAD_ARGS[*]} ${extra[*]}" >>"$NG_DIR/n$i/lotad.log"
	# `ip netns exec` execs lotad itself: $! is lotad's PID.
	ip netns exec "${NG_NS_NODE[i]}" "$bin" \
		--listen "${NG_ADDR[i]}:$NG_S3_PORT" \
		--admin-listen "${NG_ADDR[i]}:$NG_ADMIN_PORT" \
		--upstream "$NG_RGW_ENDPOINT" \
		--credentials "$NG_DIR/clients/lotad-credentials" \
		"${cache[@]}" "${NG_LOTAD_ARGS[@]}" "${extra[@]}" \
		>>"$NG_DIR/n$i/lotad.log" 2>&1 </dev/null &
	NG_LOTAD_PID[i]=$!
	local deadline=$((SECONDS + 20))
	until ng__healthy "$i"; do
		if ! kill -0 "${NG_LOTAD_PID[i]}" 2>/dev/null; then
			rc=0
			wait "${NG_LOTAD_PID[i]}" 2>/dev/null || rc=$?
			NG_LOTAD_PID[i]=
			ng__say "lotad of node $i exited (status $rc); last lines of its log:"
			tail -n 20 "$NG_DIR/n$i/lotad.log" | sed 's/^/#   /' >&2
			return 1
		fi
		if [ $SECONDS -ge $deadline ]; then
			ng__say "lotad of node $i: /healthz silent for 20 s; last lines of its log:"
			tail -n 20 "$NG_DIR/n$i/lotad.log" | sed 's/^/#   /' >&2
			return 1
		fi
		sleep 0.1
	done
}

# ng_lotads_start: every node's lotad, each with its cluster flags when ng_cluster_on.
ng_lotads_start() {
	local i
	for ((i = 1; i <= NG_N; i++)); do
		NG_CLUSTER_ARGS=()
		if ng_cluster_on; then ng_cluster_args "$i"; fi
		ng_lotad_start "$i" "${NG_CLUSTER_ARGS[@]}" || return 1
	done
}

# ng_lotad_stop I: SIGTERM node I's lotad, wait up to 10 s, then SIGKILL. Fails (after
# stopping it) when SIGKILL was needed or the exit status was not 0.
ng_lotad_stop() {
	local i=$1 pid=${NG_LOTAD_PID[$1]:-} n rc=0
	[ -n "$pid" ] || return 0
	NG_LOTAD_PID[i]=
	kill -TERM "$pid" 2>/dev/null || return 0
	for ((n = 0; n < 100; n++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		ng__say "lotad of node $i ignored SIGTERM for 10 s: killed"
		return 1
	fi
	wait "$pid" 2>/dev/null || rc=$?
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 143 ]; then
		ng__say "lotad of node $i exited with status $rc after SIGTERM"
		return 1
	fi
	return 0
}

# ng_lotad_kill I: SIGKILL node I's lotad (a crash) and reap it.
ng_lotad_kill() {
	local pid=${NG_LOTAD_PID[$1]:-}
	[ -n "$pid" ] || return 0
	NG_LOTAD_PID[$1]=
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 0
}

# ng_lotad_restart I: stop (if running) and start again with the same flags.
ng_lotad_restart() {
	ng_lotad_stop "$1"
	ng__lotad_launch "$1"
}

# ---------------------------------------------------------------- cluster flags
# ng_cluster_on: whether nodes get cluster flags (LOTA_CLUSTER=auto|on|off; auto = when
# lotad's --help lists --peer-listen). "on" with a lotad that has no such flag fails.
ng_cluster_on() {
	case "${LOTA_CLUSTER:-auto}" in
	off) return 1 ;;
	on) return 0 ;;
	*) ng_lotad_has_cluster ;;
	esac
}

# ng_cluster_args I: sets NG_CLUSTER_ARGS to node I's cluster flags: its id nI, its peer
# port, every member (this node included) and the cluster secret (64 random hex bytes,
# 0600, made once per ground).
ng_cluster_args() {
	local i=$1 j
	if [ ! -s "$NG_DIR/cluster.secret" ]; then
		(
			umask 077
			od -An -N32 -tx1 /dev/urandom | tr -d ' \n' >"$NG_DIR/cluster.secret"
		)
	fi
	NG_CLUSTER_ARGS=(--node-id "n$i" --peer-listen "${NG_ADDR[i]}:$NG_PEER_PORT"
		--cluster-secret-file "$NG_DIR/cluster.secret")
	for ((j = 1; j <= NG_N; j++)); do
		NG_CLUSTER_ARGS+=(--peer "n$j=${NG_ADDR[j]}:$NG_PEER_PORT")
	done
}

# ---------------------------------------------------------------- clients
# ng_exec WHERE CMD...: CMD inside WHERE's namespace (rgw, br or a node number), without
# the caller's AWS_* and proxy variables.
ng_exec() {
	local ns
	ns=$(ng_ns "$1")
	shift
	ip netns exec "$ns" env -u http_proxy -u https_proxy -u HTTP_PROXY -u HTTPS_PROXY \
		-u all_proxy -u ALL_PROXY -u no_proxy -u NO_PROXY -u AWS_ACCESS_KEY_ID \
		-u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN -u AWS_PROFILE -u AWS_DEFAULT_PROFILE \
		-u AWS_ENDPOINT_URL -u AWS_CONFIG_FILE -u AWS_SHARED_CREDENTIALS_FILE \
		-u AWS_DEFAULT_REGION -u AWS_REGION -u AWS_CA_BUNDLE -u PYTHONHOME "$@"
}

ng__keys() { # PROFILE: sets NG_AK / NG_SK
	case "$1" in
	alice) NG_AK=$RGW_ALICE_ACCESS NG_SK=$RGW_ALICE_SECRET ;;
	bob) NG_AK=$RGW_BOB_ACCESS NG_SK=$RGW_BOB_SECRET ;;
	*)
		ng__say "unknown profile $1"
		return 1
		;;
	esac
}

# ng_curl WHERE PROFILE ARGS...: curl inside WHERE, signed (--aws-sigv4) as alice or bob,
# or unsigned for PROFILE "anonymous". URLs are the caller's (ng_url).
ng_curl() {
	local where=$1 p=$2
	shift 2
	if [ "$p" = anonymous ]; then
		ng_exec "$where" timeout "${NG_CLIENT_TIMEOUT:-300}" curl -sS "$@"
		return
	fi
	ng__keys "$p" || return 1
	ng_exec "$where" timeout "${NG_CLIENT_TIMEOUT:-300}" curl -sS --aws-sigv4 "aws:amz:$RGW_REGION:s3" \
		--user "$NG_AK:$NG_SK" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "$@"
}

# ng_aws WHERE PROFILE ARGS...: /usr/bin/aws inside WHERE against node I's lotad (or
# radosgw for "rgw"; NG_ENDPOINT overrides).
ng_aws() {
	local where=$1 p=$2 ep
	shift 2
	ep=${NG_ENDPOINT:-$(ng_url "$where")}
	ng_exec "$where" AWS_SHARED_CREDENTIALS_FILE="$NG_DIR/clients/aws-credentials" \
		AWS_CONFIG_FILE="$NG_DIR/clients/aws-config" AWS_EC2_METADATA_DISABLED=true \
		AWS_PROFILE="$p" PYTHONDONTWRITEBYTECODE=1 \
		timeout "${NG_CLIENT_TIMEOUT:-300}" /usr/bin/aws --endpoint-url "$ep" --no-cli-pager "$@"
}

# ng_python WHERE SCRIPT ARGS...: Debian's python3 (boto3) inside WHERE, with
# NG_ENDPOINT_URL (node I's lotad, or radosgw for "rgw"; NG_ENDPOINT overrides),
# NG_REGION and the users' keys (NG_ALICE_ACCESS/SECRET, NG_BOB_ACCESS/SECRET) in its
# environment.
ng_python() {
	local where=$1 ep
	shift
	ep=${NG_ENDPOINT:-$(ng_url "$where")}
	ng_exec "$where" NG_ENDPOINT_URL="$ep" NG_REGION="$RGW_REGION" \
		NG_ALICE_ACCESS="$RGW_ALICE_ACCESS" NG_ALICE_SECRET="$RGW_ALICE_SECRET" \
		NG_BOB_ACCESS="$RGW_BOB_ACCESS" NG_BOB_SECRET="$RGW_BOB_SECRET" \
		AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_CONFIG_FILE=/dev/null \
		AWS_EC2_METADATA_DISABLED=true PYTHONDONTWRITEBYTECODE=1 \
		PYTHONPATH="$NG_LIB_DIR/clients" timeout "${NG_CLIENT_TIMEOUT:-300}" /usr/bin/python3 "$@"
}

# ---------------------------------------------------------------- observing
# ng_metrics I: node I's admin /metrics.
ng_metrics() {
	ip netns exec "${NG_NS_NODE[$1]}" curl -sf -m 5 "$(ng_admin_url "$1")/metrics"
}

# ng_metric I SERIES: one series of node I's /metrics, named exactly as printed
# (`lota_cache_hits_total`, `lota_bytes_served_total{source="cache"}`); 0 when lotad does
# not print it (a labelled counter appears at its first increment). Fails when lotad
# does not answer.
ng_metric() {
	local m
	m=$(ng_metrics "$1") || return 1
	awk -v s="$2" '$1 == s { v = $2 } END { printf "%.0f\n", v }' <<<"$m"
}

# ng_metric_sum I NAME: the sum of every sample of metric NAME on node I (all labels).
ng_metric_sum() {
	local m
	m=$(ng_metrics "$1") || return 1
	awk -v n="$2" '$1 == n || index($1, n "{") == 1 { s += $2 } END { printf "%.0f\n", s }' <<<"$m"
}

# ng_link_bytes WHERE rx|tx: bytes eth0 of WHERE received / sent so far.
ng_link_bytes() {
	ip netns exec "$(ng_ns "$1")" cat "/sys/class/net/eth0/statistics/${2}_bytes"
}

# ng_tbf_sent WHERE [DEV]: bytes the tbf qdisc on DEV (default eth0) in WHERE has sent.
ng_tbf_sent() {
	tc -s -n "$(ng_ns "$1")" qdisc show dev "${2:-eth0}" |
		awk '$1 == "qdisc" && $2 == "tbf" {t = 1} t && $1 == "Sent" {print $2; exit}'
}

# ---------------------------------------------------------------- teardown
# ng__pids_in_ground: PIDs of processes inside one of the ground's namespaces.
ng__pids_in_ground() {
	local f ino link
	[ ${#NG_NS_INODES[@]} -gt 0 ] || return 0
	for f in /proc/[0-9]*/ns/net; do
		link=$(readlink "$f" 2>/dev/null) || continue
		for ino in "${NG_NS_INODES[@]}"; do
			if [ "$link" = "net:[$ino]" ]; then
				f=${f#/proc/}
				echo "${f%%/*}"
			fi
		done
	done
}

ng_teardown() {
	local -
	local i pids p n
	set +eu
	[ "$NG_TORN_DOWN" = 1 ] && return 0
	NG_TORN_DOWN=1
	if [ -n "${LOTA_TEST_KEEP:-}" ] && [ -n "$NG_ID" ]; then
		ng__say "LOTA_TEST_KEEP set: ground $NG_ID left running in $NG_DIR;" \
			"lotad PIDs ${NG_LOTAD_PID[*]}; remove it with: rgw.sh stop $NG_DIR/rgw," \
			"kill those PIDs, then ip netns del ${NG_NETNS[*]}"
		return 0
	fi
	for ((i = 1; i <= NG_N; i++)); do
		# Under lib.sh a lotad that does not stop cleanly is a failed check (printed
		# after the summary, counted by a caller's it_run_checks), as lib.sh's own.
		if ! ng_lotad_stop "$i" && declare -F it_fail >/dev/null; then
			it_fail "lotad of node $i exits 0 within 10 s of SIGTERM"
		fi
	done
	[ -n "$NG_DIR" ] && [ -f "$NG_DIR/rgw/rgw.env" ] && rgw_stop "$NG_DIR/rgw" >/dev/null 2>&1
	# Anything still inside the ground's namespaces was started by it (a client left
	# behind, a child of a killed daemon): stopped by PID, loudly.
	pids=$(ng__pids_in_ground)
	if [ -n "$pids" ]; then
		ng__say "processes left inside the ground, stopped: $(for p in $pids; do
			printf '%s(%s) ' "$p" "$(tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline" | cut -c1-60)"
		done)"
		# shellcheck disable=SC2086
		kill -TERM $pids 2>/dev/null
		for ((n = 0; n < 50; n++)); do
			[ -n "$(ng__pids_in_ground)" ] || break
			sleep 0.1
		done
		pids=$(ng__pids_in_ground)
		# shellcheck disable=SC2086
		[ -z "$pids" ] || kill -KILL $pids 2>/dev/null
	fi
	for ((i = ${#NG_NETNS[@]} - 1; i >= 0; i--)); do
		ip netns del "${NG_NETNS[i]}" 2>/dev/null || ng__say "cannot delete namespace ${NG_NETNS[i]}"
	done
	[ "$NG_OWN_DIR" = 1 ] && [ -n "$NG_DIR" ] && rm -rf "$NG_DIR"
	return 0
}

ng__on_exit() {
	local rc=$?
	trap - EXIT
	ng_teardown
	exit "$rc"
}

ng__register_teardown() {
	if declare -F it_at_exit >/dev/null; then
		it_at_exit ng_teardown
	else
		trap ng__on_exit EXIT
		trap 'exit 130' INT
		trap 'exit 143' TERM
	fi
}

# ng_leftovers ID INODES...: what is left of a ground after its teardown (run it from
# another shell; prints nothing when nothing is left): namespaces named ID-*, processes
# inside the ground's namespaces (their nsfs inodes), links of the host named with ID.
ng_leftovers() {
	local id=$1 f link ino
	shift
	ip netns list | awk -v p="$id-" 'index($1, p) == 1 {print "namespace " $1}'
	for f in /proc/[0-9]*/ns/net; do
		link=$(readlink "$f" 2>/dev/null) || continue
		for ino in "$@"; do
			[ "$link" = "net:[$ino]" ] && echo "process ${f#/proc/} in namespace $ino"
		done
	done
	ip -d -o link show 2>/dev/null | grep -F -- "alias $id" | awk '{print "link " $2}'
	return 0
}
