#!/usr/bin/env bash
# rgw.sh - a throw-away single-node Ceph cluster with radosgw on 127.0.0.1, the S3 server
# the integration tests run against.
#
#   rgw.sh start DIR    bootstrap mon + memstore osd + radosgw inside DIR (created, must
#                       not exist or be empty), create the test users, wait until the S3
#                       port answers, write DIR/rgw.env and print it
#   rgw.sh stop DIR     stop the daemons by PID, wait for them, remove DIR
#   rgw.sh env DIR      print DIR/rgw.env
#
# Environment: RGW_TLS=1 adds an HTTPS endpoint (RGW_TLS_PORT, CA in RGW_TLS_CA);
# RGW_MEMSTORE_BYTES sizes the RAM-backed OSD (default 3 GiB); RGW_BIND is the address
# radosgw's S3 frontend listens on (default 127.0.0.1; the monitor and the OSD stay on
# 127.0.0.1): tests/integration/netground.sh runs the cluster inside a network namespace
# and binds the frontend to that namespace's veth address.
# RGW_API_NAME names the cluster's region: the default zonegroup's api_name is set to it
# after radosgw's first start (then radosgw is restarted), so GetBucketLocation answers it
# and CreateBucket accepts it as LocationConstraint; rgw.env's RGW_REGION is then it
# (tests/integration/test_region.sh runs two clusters, two regions).
#
# The file can also be sourced: it then only defines rgw_start DIR / rgw_stop DIR and the
# RGW_* user constants.
#
# Invariants: every path the daemons use (conf, keyrings, mon/osd data, logs, pid files,
# admin sockets, run dir) is inside DIR; nothing touches /etc or /var. Ports (mon v2/v1 and
# radosgw) are chosen free at start, so several clusters can run side by side. A PID is
# only signalled after /proc/PID/cmdline shows it is a daemon of this DIR, so a recycled
# PID is never killed. rgw.env holds plain KEY=VALUE lines (sourceable by sh).

# Fixed test users: access key and secret key of each (valid S3 key shapes, test-only).
RGW_ALICE_ACCESS=AKIAALICE0000000TEST
RGW_ALICE_SECRET=alicesecret0000000000000000000000000test
RGW_BOB_ACCESS=AKIABOB00000000000TEST
RGW_BOB_SECRET=bobsecret00000000000000000000000000000test
RGW_REGION=us-east-1

# One line of diagnostics on stderr.
rgw__say() { echo "rgw.sh: $*" >&2; }

# Print the last lines of the named logs of DIR (after a failure).
rgw__tail_logs() {
	local dir=$1 f
	shift
	for f in "$@"; do
		[ -f "$dir/log/$f" ] || continue
		echo "---- last lines of $dir/log/$f" >&2
		tail -n 25 "$dir/log/$f" >&2
		if grep -qE 'FAILED ceph_assert|ERROR|error' "$dir/log/$f"; then
			echo "---- first error lines of $dir/log/$f" >&2
			grep -m 5 -E 'FAILED ceph_assert|ERROR|error' "$dir/log/$f" >&2
		fi
	done
}

# Three distinct free TCP ports on 127.0.0.1, for servers the caller starts later.
# They come from below the kernel's ephemeral range (ip_local_port_range), which the
# kernel never hands out to outgoing connections: a port picked there could be taken
# as the source port of some client's connection (of this test, or of one running beside
# it) before the server binds it, sometimes minutes later (a member started late in a
# cluster test). Each pick is bindable now and reserved for this script ($$) in
# ${TMPDIR:-/tmp}/lota-test-ports-UID, so that two tests running side by side never pick the
# same port; a reservation whose script has exited is free again (the bind check still
# skips a port a server of it holds).
rgw__free_ports() {
	/usr/bin/python3 - "$$" "${TMPDIR:-/tmp}/lota-test-ports-$(id -u)" <<'EOF'
import os, random, socket, sys
owner, rdir = sys.argv[1], sys.argv[2]
try:
    lo = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
except (OSError, ValueError, IndexError):
    lo = 32768
try:
    os.makedirs(rdir, exist_ok=True)
    reserving = os.access(rdir, os.W_OK)
except OSError:
    reserving = False  # no shared directory: the bind check alone

def alive(pid):
    try:
        os.kill(int(pid), 0)
        return True
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError):
        return True

def reserve(port):
    if not reserving:
        return True
    path = os.path.join(rdir, str(port))
    for _ in range(2):
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            os.write(fd, owner.encode())
            os.close(fd)
            return True
        except FileExistsError:
            try:
                held = open(path).read().strip()
            except OSError:
                continue
            if held and alive(held):
                return False
            try:
                os.unlink(path)  # its script has exited
            except OSError:
                pass
    return False

def bindable(port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()

picked = []
if lo > 12000:
    for _ in range(2000):
        port = random.randrange(10000, lo)
        if port in picked or not bindable(port) or not reserve(port):
            continue
        picked.append(port)
        if len(picked) == 3:
            break
if len(picked) < 3:  # no room below the ephemeral range: let the kernel pick
    socks = []
    for _ in range(3 - len(picked)):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    picked += [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
print(" ".join(str(p) for p in picked))
EOF
}

# Drop this script's port reservations (rgw__free_ports); run at exit.
rgw__free_ports_release() {
	local d=${TMPDIR:-/tmp}/lota-test-ports-$(id -u) f
	[ -d "$d" ] || return 0
	for f in "$d"/*; do
		[ -f "$f" ] && [ "$(cat "$f" 2>/dev/null)" = "$$" ] && rm -f "$f"
	done
	return 0
}

# The ceph CLI against DIR's cluster, never hanging.
rgw__ceph() {
	local dir=$1
	shift
	timeout 30 ceph -c "$dir/ceph.conf" --connect-timeout 10 "$@"
}

# True when PID is alive and is a daemon started with DIR's ceph.conf.
rgw__is_ours() {
	local pid=$1 dir=$2
	[ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
	# (stderr first: the process may exit between the test above and the read)
	tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -qF -- "$dir/ceph.conf"
}

# Start one daemon in the foreground mode, in the background of this shell; record the
# PID in DIR/pids/NAME.
rgw__spawn() {
	local dir=$1 name=$2
	shift 2
	# setsid: a Ctrl-C in the test's terminal must not kill the cluster before the
	# cleanup trap stops it in order.
	setsid "$@" >>"$dir/log/$name.out" 2>&1 </dev/null &
	local pid=$! i
	echo "$pid" >"$dir/pids/$name"
	# Until the child has exec'd the daemon (its command line names DIR's ceph.conf) or
	# died: before that, /proc shows this shell's fork, and a liveness check made right
	# away (rgw__alive) took the daemon for one that had exited.
	for ((i = 0; i < 50; i++)); do
		rgw__is_ours "$pid" "$dir" && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
}

# Poll CMD... until it succeeds or SECONDS pass (0.2 s steps). Returns 1 on timeout.
rgw__wait_for() {
	local secs=$1
	shift
	local deadline=$((SECONDS + secs))
	while ! "$@" >/dev/null 2>&1; do
		[ $SECONDS -lt $deadline ] || return 1
		sleep 0.2
	done
}

rgw__osd_up() {
	rgw__ceph "$1" osd dump -f json 2>/dev/null | grep -q '"up":1'
}

rgw__http_answers() {
	# Any HTTP status means the frontend is serving.
	local code
	code=$(curl -s -o /dev/null -m 2 -w '%{http_code}' "http://${RGW_BIND:-127.0.0.1}:$1/") ||
		return 1
	[ "$code" != 000 ]
}

rgw__alive() {
	local dir=$1 name=$2
	rgw__is_ours "$(cat "$dir/pids/$name" 2>/dev/null)" "$dir"
}

# Fail start-up: message, log tails, stop what was started. Returns 1.
rgw__fail() {
	local dir=$1 msg=$2
	shift 2
	rgw__say "start failed: $msg"
	rgw__tail_logs "$dir" "$@"
	rgw_stop "$dir"
	return 1
}

# Start radosgw of DIR and wait until its S3 port PORT answers (90 s).
rgw__radosgw() {
	local dir=$1 rgwp=$2
	rgw__spawn "$dir" rgw radosgw -f -c "$dir/ceph.conf" -n client.rgw.a
	local deadline=$((SECONDS + 90))
	while ! rgw__http_answers "$rgwp"; do
		if ! rgw__alive "$dir" rgw; then
			rgw__fail "$dir" "radosgw exited" rgw.out client.rgw.a.log || return 1
		fi
		if [ $SECONDS -ge $deadline ]; then
			rgw__fail "$dir" "radosgw did not answer on ${RGW_BIND:-127.0.0.1}:$rgwp within 90 s" \
				rgw.out client.rgw.a.log mon.a.log || return 1
		fi
		sleep 0.2
	done
}

rgw_start() {
	local dir=${1:?usage: rgw_start DIR}
	local start_ns
	start_ns=$(date +%s%N)
	local b
	for b in ceph-mon ceph-osd radosgw radosgw-admin monmaptool ceph-authtool ceph; do
		if ! command -v "$b" >/dev/null 2>&1; then
			rgw__say "missing $b (apt-get install ceph-mon ceph-osd radosgw)"
			return 2
		fi
	done
	if [ -e "$dir" ] && [ -n "$(ls -A "$dir" 2>/dev/null)" ]; then
		rgw__say "$dir exists and is not empty"
		return 1
	fi
	mkdir -p "$dir" || return 1
	dir=$(cd "$dir" && pwd) || return 1
	mkdir -p "$dir"/{run,log,pids,mon,osd,rgw,crash,tmp}

	local ports mon2 mon1 rgwp fsid osduuid
	ports=$(rgw__free_ports) || {
		rgw__say "cannot pick free ports"
		return 1
	}
	read -r mon2 mon1 rgwp <<<"$ports"
	fsid=$(uuidgen)
	osduuid=$(uuidgen)

	# RGW_TLS=1: radosgw also serves HTTPS, with a certificate for localhost/127.0.0.1
	# issued by a CA made here (DIR/tls/ca.pem; the CA key is thrown away).
	local tls_frontend="" tlsp=""
	if [ "${RGW_TLS:-0}" = 1 ]; then
		read -r tlsp _ <<<"$(rgw__free_ports)"
		mkdir -p "$dir/tls"
		(
			cd "$dir/tls" &&
				openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=lota test CA" \
					-keyout ca.key -out ca.pem &&
				openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
					-keyout key.pem -out req.pem &&
				printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >ext.cnf &&
				openssl x509 -req -in req.pem -CA ca.pem -CAkey ca.key -CAcreateserial \
					-days 2 -extfile ext.cnf -out cert.pem &&
				rm -f ca.key req.pem
		) >"$dir/log/tls.out" 2>&1 || {
			rgw__fail "$dir" "cannot make the TLS certificate" tls.out
			return 1
		}
		tls_frontend=" ssl_endpoint=127.0.0.1:$tlsp ssl_certificate=$dir/tls/cert.pem ssl_private_key=$dir/tls/key.pem"
	fi

	# $name, $cluster and $id are expanded by Ceph itself, hence the escapes.
	cat >"$dir/ceph.conf" <<EOF
[global]
fsid = $fsid
mon_host = [v2:127.0.0.1:$mon2,v1:127.0.0.1:$mon1]
public_addr = 127.0.0.1
cluster_addr = 127.0.0.1
auth_cluster_required = none
auth_service_required = none
auth_client_required = none
ms_mon_client_mode = crc
ms_client_mode = crc
ms_mon_service_mode = crc
ms_service_mode = crc
ms_cluster_mode = crc
ms_mon_cluster_mode = crc
osd_pool_default_size = 1
osd_pool_default_min_size = 1
mon_allow_pool_size_one = true
mon_warn_on_pool_no_redundancy = false
osd_pool_default_pg_num = 8
osd_pool_default_pgp_num = 8
osd_pool_default_pg_autoscale_mode = off
mon_max_pg_per_osd = 1000
# Commit monitor changes at once instead of once a second: rgw's first start and first
# bucket issue a dozen pool commands, each waiting a paxos round.
paxos_propose_interval = 0.01
paxos_min_wait = 0.001
mon_osd_prime_pg_temp = false
run_dir = $dir/run
crash_dir = $dir/crash
admin_socket = $dir/run/\$name.asok
pid_file = $dir/run/\$name.pid
log_file = $dir/log/\$name.log
keyring = $dir/keyring
mon_data = $dir/mon/\$cluster-\$id
osd_data = $dir/osd/\$cluster-\$id
osd_objectstore = memstore
memstore_device_bytes = ${RGW_MEMSTORE_BYTES:-3221225472}
osd_max_object_size = 134217728
osd_crush_chooseleaf_type = 0
osd_crush_update_on_start = true
mon_osd_min_up_ratio = 0
mon_osd_min_in_ratio = 0
log_to_stderr = false
err_to_stderr = false
log_to_syslog = false
debug_ms = 0
[mon.a]
[osd.0]
[client.rgw.a]
rgw_frontends = beast endpoint=${RGW_BIND:-127.0.0.1}:$rgwp$tls_frontend
rgw_dns_name = localhost
rgw_data = $dir/rgw
rgw_enable_usage_log = false
# Overwritten and deleted objects free their RAM-backed space within seconds (the
# default waits two hours), so long benchmarks do not fill the OSD.
rgw_gc_obj_min_wait = 1
rgw_gc_processor_period = 2
rgw_gc_processor_max_time = 2
debug_rgw = 1
EOF

	cat >"$dir/rgw.env" <<EOF
RGW_DIR=$dir
RGW_PORT=$rgwp
RGW_TLS_PORT=$tlsp
RGW_TLS_CA=${tlsp:+$dir/tls/ca.pem}
RGW_ENDPOINT=http://${RGW_BIND:-127.0.0.1}:$rgwp
RGW_MON_PORTS=$mon2,$mon1
RGW_REGION=${RGW_API_NAME:-$RGW_REGION}
RGW_ALICE_ACCESS=$RGW_ALICE_ACCESS
RGW_ALICE_SECRET=$RGW_ALICE_SECRET
RGW_BOB_ACCESS=$RGW_BOB_ACCESS
RGW_BOB_SECRET=$RGW_BOB_SECRET
EOF

	# --- monitor
	ceph-authtool --create-keyring "$dir/keyring" --gen-key -n mon. --cap mon 'allow *' \
		>"$dir/log/setup.out" 2>&1 ||
		rgw__fail "$dir" "ceph-authtool" setup.out || return 1
	monmaptool --create --fsid "$fsid" --addv a "[v2:127.0.0.1:$mon2,v1:127.0.0.1:$mon1]" \
		"$dir/tmp/monmap" >>"$dir/log/setup.out" 2>&1 ||
		rgw__fail "$dir" "monmaptool" setup.out || return 1
	timeout 30 ceph-mon -c "$dir/ceph.conf" --mkfs -i a --monmap "$dir/tmp/monmap" \
		--keyring "$dir/keyring" >>"$dir/log/setup.out" 2>&1 ||
		rgw__fail "$dir" "ceph-mon --mkfs" setup.out mon.a.log || return 1
	rgw__spawn "$dir" mon ceph-mon -f -c "$dir/ceph.conf" -i a
	rgw__wait_for 30 rgw__ceph "$dir" mon stat ||
		rgw__fail "$dir" "ceph-mon did not answer within 30 s" mon.out mon.a.log || return 1

	# --- OSD (memstore: RAM only)
	local id
	id=$(rgw__ceph "$dir" osd new "$osduuid" 2>>"$dir/log/setup.out") ||
		rgw__fail "$dir" "ceph osd new" setup.out mon.a.log || return 1
	mkdir -p "$dir/osd/ceph-$id"
	timeout 60 ceph-osd -c "$dir/ceph.conf" -i "$id" --mkfs --osd-uuid "$osduuid" \
		>>"$dir/log/setup.out" 2>&1 ||
		rgw__fail "$dir" "ceph-osd --mkfs" setup.out "osd.$id.log" || return 1
	rgw__spawn "$dir" osd ceph-osd -f -c "$dir/ceph.conf" -i "$id"
	rgw__wait_for 60 rgw__osd_up "$dir" ||
		rgw__fail "$dir" "osd.$id not up within 60 s" osd.out "osd.$id.log" mon.a.log ||
		return 1

	# --- radosgw (creates its pools on first start)
	rgw__radosgw "$dir" "$rgwp" || return 1
	if [ -n "${RGW_API_NAME:-}" ]; then
		timeout 60 radosgw-admin -c "$dir/ceph.conf" zonegroup modify \
			--rgw-zonegroup=default --api-name="$RGW_API_NAME" >>"$dir/log/setup.out" 2>&1 ||
			rgw__fail "$dir" "radosgw-admin zonegroup modify --api-name=$RGW_API_NAME" \
				setup.out client.admin.log || return 1
		# radosgw reads its zonegroup at start
		rgw__term_wait "$dir" rgw
		rgw__radosgw "$dir" "$rgwp" || return 1
	fi

	# --- users
	local u acc sec
	for u in alice bob; do
		if [ $u = alice ]; then
			acc=$RGW_ALICE_ACCESS sec=$RGW_ALICE_SECRET
		else
			acc=$RGW_BOB_ACCESS sec=$RGW_BOB_SECRET
		fi
		timeout 60 radosgw-admin -c "$dir/ceph.conf" user create --uid "$u" \
			--display-name "$u" --access-key "$acc" --secret-key "$sec" \
			>>"$dir/log/users.out" 2>&1 ||
			rgw__fail "$dir" "radosgw-admin user create $u" users.out \
				client.admin.log || return 1
	done

	local ms=$((($(date +%s%N) - start_ns) / 1000000))
	echo "RGW_START_MS=$ms" >>"$dir/rgw.env"
	echo "RGW_PIDS=\"$(cat "$dir/pids/mon") $(cat "$dir/pids/osd") $(cat "$dir/pids/rgw")\"" \
		>>"$dir/rgw.env"
	return 0
}

# SIGTERM the named daemons of DIR and wait up to 10 s for them to exit, then SIGKILL.
rgw__term_wait() {
	local dir=$1 name pid pids=() left
	shift
	for name in "$@"; do
		pid=$(cat "$dir/pids/$name" 2>/dev/null) || continue
		if rgw__is_ours "$pid" "$dir"; then
			kill -TERM "$pid" 2>/dev/null
			pids+=("$pid")
		fi
	done
	local deadline=$((SECONDS + 10))
	while :; do
		left=()
		for pid in "${pids[@]}"; do
			rgw__is_ours "$pid" "$dir" && left+=("$pid")
		done
		[ ${#left[@]} -eq 0 ] && return 0
		if [ $SECONDS -ge $deadline ]; then
			rgw__say "daemons ${left[*]} ignored SIGTERM for 10 s; SIGKILL"
			for pid in "${left[@]}"; do
				kill -KILL "$pid" 2>/dev/null
			done
			# until they are gone (SIGKILL cannot be ignored; a few seconds at most)
			local gone=$((SECONDS + 5))
			for pid in "${left[@]}"; do
				while rgw__is_ours "$pid" "$dir" && [ $SECONDS -lt $gone ]; do
					sleep 0.1
				done
			done
			return 0
		fi
		sleep 0.1
	done
}

rgw_stop() {
	local dir=${1:?usage: rgw_stop DIR}
	[ -d "$dir" ] || return 0
	dir=$(cd "$dir" && pwd) || return 1
	# One at a time, clients first: radosgw hangs in shutdown when its OSD vanishes, and an
	# OSD whose monitor is gone spends seconds trying to report its shutdown.
	rgw__term_wait "$dir" rgw
	rgw__term_wait "$dir" osd
	rgw__term_wait "$dir" mon
	# Marker files guard against removing a directory this script did not create.
	if [ -f "$dir/ceph.conf" ] && [ -f "$dir/rgw.env" ]; then
		rm -rf "$dir"
	else
		rgw__say "not removing $dir: it does not look like an rgw.sh directory"
	fi
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -u
	case "${1:-}" in
	start)
		[ $# -eq 2 ] || {
			echo "usage: $0 start DIR" >&2
			exit 2
		}
		rgw_start "$2" || exit $?
		cat "$2/rgw.env"
		;;
	stop)
		[ $# -eq 2 ] || {
			echo "usage: $0 stop DIR" >&2
			exit 2
		}
		rgw_stop "$2"
		;;
	env)
		cat "${2:?usage: $0 env DIR}/rgw.env"
		;;
	*)
		echo "usage: $0 start DIR | stop DIR | env DIR" >&2
		exit 2
		;;
	esac
fi
