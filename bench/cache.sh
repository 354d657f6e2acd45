#!/usr/bin/env bash
# usage: bench/cache.sh hit [SECONDS [ROUNDS]] | cold [N] | cold-link [N] | ttfb [OBJECTS] | conns [SECONDS] | all
#
# cache.sh - benchmarks of lotad's node cache, each compared with its reference in one run
# (absolute figures drift on a shared VM; the ratios of one run are what to compare):
#
#   hit [SECONDS [ROUNDS]]
#                    hit throughput of 64 MiB objects at c=1, 8, 64 and 4 MiB objects at
#                    c=64: lotad with encryption at rest on and off, Varnish (malloc
#                    storage) and nginx proxy_cache, all serving the same objects from their
#                    warm caches; wrk runs SECONDS (default 5) per server, ROUNDS times
#                    (default 2) interleaved, per cell. Targets: on 64 MiB, lotad (off)
#                    >= 1.0x Varnish; lotad (on) >= 0.8x lotad (off). A third lotad with
#                    --metadata-ttl (no upstream HEAD per hit) is shown for reference.
#   cold [N]         N fresh 64 MiB objects per side (default 12), each read once: through
#                    lotad (cold miss, the extent is filled) vs other fresh objects read
#                    straight from radosgw; lotad without a cache dir (pure proxy), a socat
#                    relay (the bare extra hop), bench/rawserve's tee and tee-gcm (a relay
#                    that also writes every byte it relays to a file, as it came or
#                    sealed: the fewest moves of a cold miss that is stored, the floor of
#                    lotad off and on), nginx and Varnish cold misses for reference.
#                    Target: lotad >= 0.95x direct.
#   cold-link [N]    the cold miss of `cold` behind the cluster test ground's slowed link
#                    (root; bench_cold_link says more). Target: lotad >= 0.95x direct.
#   ttfb [OBJECTS]   time to first byte of 100-byte ranges of cold 1 GiB objects (default 3
#                    objects, 4 ranges in distinct extents each) through lotad vs the same
#                    ranged GET straight at radosgw. Target: median <= 2x direct.
#   conns [SECONDS]  300 connections (wrk -c 300 -t 2, default 20 s) on one cached 64 MiB
#                    object: wrk's errors (non-2xx included) must be 0, lotad's peak RSS
#                    (VmHWM) <= 256 MiB.
#   all              the four in turn, each in its own stack.
#
# Beside the throughput, `hit` and `cold` print the CPU seconds each server spent per GiB
# it served (utime + stime from /proc/PID/stat of the server and its child processes:
# Varnish's cache process, nginx's workers, lotad's threads; radosgw's own under "rgw"),
# and `hit` runs a baseline "raw" server (bench/rawserve.c: a blocking pread + send loop,
# and a sendfile one, of the same file from the page cache) in the same rounds, so lotad's
# figures stand beside the physical cost of a loopback copy. The per-core AES-256-GCM
# speed (`openssl speed`) is printed as the limit of encrypted hits.
# The other ways of sending a hit run as more raw columns (raw-WAY) in the same rounds:
# LOTA_BENCH_RAW_WAYS="WAY..." (rawserve's modes beside pread and sendfile; default
# "gcm gcm-mmap mmap splice", which makes `hit` 1.5 times as long; mmap-populate, uring
# and uring-zc are more; "" runs none). gcm and gcm-mmap decrypt a copy of the file
# sealed as lotad's store seals an extent: the fewest moves of a sealed hit, printed
# against lotad-off (the ceiling of the on/off target on this machine) and lotad-on
# against gcm-mmap (lotad's own way). A way rawserve was built without (uring without
# liburing) or this kernel lacks is skipped with a note. LOTA_BENCH_RAW_CHUNK sets the bytes per call of
# every raw server (default 262144, lotad's client buffer), LOTA_BENCH_RAW_SNDBUF their
# SO_SNDBUF (default 4194304, lotad's client_send_buffer; 0 = the kernel's autotuning);
# each rawserve's first log line (printed in the header) says what it obtained.
# `cold` compares alternatives in the same run: LOTA_BENCH_ALT_PROXY="FLAGS" adds a side
# "proxy2" (lotad without a cache, with FLAGS), LOTA_BENCH_ALT_COLD="FLAGS" a side "off2"
# (a cold lotad, encryption off, with FLAGS), e.g. LOTA_BENCH_ALT_COLD="--fill-io sync-range".
# LOTA_BENCH_PERF="NAME..." records a `perf` profile (perf record -g) of those servers
# (off, on, ttl, raw, rawsf, raw-WAY, varnish, nginx in `hit`: during the first round of each
# cell; proxy, proxy2, on, off, off2, raw-tee, raw-tee-gcm, nginx, varnish in `cold`: over all their reads) and prints the top of `perf report --sort symbol`;
# skipped with a message when perf cannot record here (Debian: linux-perf).
#
# Every run starts its own radosgw (scripts/stack.sh, RAM-backed), lotad instances with
# their cache dirs inside the stack's temp dir, and for `hit` and `cold` Varnish and nginx
# configured from bench/conf/; an EXIT trap stops all of them by PID and removes the dir.
# lotad authorizes every request with radosgw (an upstream HEAD per hit, by design);
# Varnish and nginx serve anonymous GETs of public-read objects without asking anyone.
# Clients reach lotad with presigned URLs made by `lota presign` (alice's key), radosgw
# with presigned URLs too, Varnish and nginx with plain URLs.
#
# Prints what it measured, the ratios and the targets. Exits non-zero only on a
# malfunction (a server that does not start, an error status, wrong bytes, a lotad that
# dies or does not serve from its cache), never on a missed target.
# Needs a built tree in build/ (or LOTA_BUILD_DIR) and the packages of scripts/deps.sh.
# LOTA_BENCH_LOTAD_ARGS adds flags to every caching lotad (e.g. --tcp-congestion reno).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/.." && pwd)
build=${LOTA_BUILD_DIR:-$src/build}
lota=$build/tools/lota
lotad=$build/daemon/lotad
MiB=$((1 << 20))
GiB=$((1 << 30))

usage() {
	sed -n '2p' "$0" | sed 's/^# //' >&2
	exit 2
}
die() {
	echo "cache.sh: $*" >&2
	exit 1
}

# ---------------------------------------------------------------- stack and servers

EXTRA_PIDS=()  # lotad instances, varnishd, nginx: stopped before the stack
declare -A LPORT LADMIN LPID

cleanup() {
	local p
	[ -z "$PERF_PID" ] || kill -INT "$PERF_PID" 2>/dev/null || true
	for p in "${EXTRA_PIDS[@]}"; do
		kill "$p" 2>/dev/null || continue
		wait "$p" 2>/dev/null || true
	done
	stack__cleanup || true
}

# ---------------------------------------------------------------- CPU time and profiles

CLK_TCK=$(getconf CLK_TCK)
proc_tree() { # PID: that process and its descendants, one a line
	local c
	echo "$1"
	for c in $(cat /proc/"$1"/task/*/children 2>/dev/null); do proc_tree "$c"; done
}
# cpu_ticks PID...: utime + stime of those processes and their descendants, and of the
# children they reaped (cutime + cstime: socat's per-connection children), in ticks.
cpu_ticks() {
	local p t=0 x
	for p in $(for x in "$@"; do proc_tree "$x"; done); do
		# fields after "pid (comm) ": utime, stime, cutime, cstime are the 12th to 15th
		x=$(sed 's/^.*) //' /proc/"$p"/stat 2>/dev/null | awk '{print $12 + $13 + $14 + $15}') ||
			continue
		t=$((t + ${x:-0}))
	done
	echo "$t"
}
# cpu_per_gib TICKS BYTES: CPU seconds per GiB served ("-" without bytes).
cpu_per_gib() {
	awk -v t="$1" -v b="$2" -v hz="$CLK_TCK" 'BEGIN {
		if (b > 0) printf "%.3f", t / hz / (b / 1073741824); else print "-" }'
}
# machine_ticks: busy ticks of the whole machine so far (every CPU: user, nice, system,
# irq, softirq, steal), from /proc/stat.
machine_ticks() {
	awk '$1 == "cpu" {print $2 + $3 + $4 + $7 + $8 + $9; exit}' /proc/stat
}
# aes_speed: the per-core AES-256-GCM speed of this machine's OpenSSL, as a line.
aes_speed() {
	local k
	k=$(openssl speed -evp aes-256-gcm -bytes 65536 -seconds 1 2>/dev/null |
		awk '/^(AES-256-GCM|aes-256-gcm)/ {v = $NF} END {sub(/k$/, "", v); print v}')
	if [ -z "$k" ]; then
		echo "# AES-256-GCM per core: unknown (openssl speed failed)"
		return 0
	fi
	awk -v k="$k" 'BEGIN {b = k * 1000
		f = "# AES-256-GCM per core (openssl speed, 64 KiB blocks): %.2f GB/s = %.3f"
		printf f " CPU-s per GiB: the limit of an encrypted hit\n", b / 1e9, 1073741824 / b}'
}

PERF_OK=
perf_check() { # whether perf can record here (tried once)
	if [ -z "$PERF_OK" ]; then
		PERF_OK=no
		if command -v perf >/dev/null &&
			perf record -q -o "$work/perf-probe.data" -- true >/dev/null 2>&1; then
			PERF_OK=yes
		else
			echo "# perf cannot record here (missing: Debian linux-perf, or" \
				"kernel.perf_event_paranoid): no profiles" >&2
		fi
	fi
	[ "$PERF_OK" = yes ]
}
perf_wanted() { # NAME: whether LOTA_BENCH_PERF names that server
	case " ${LOTA_BENCH_PERF:-} " in *" $1 "*) perf_check ;; *) return 1 ;; esac
}
# perf_start FILE PID...: record those processes (and their children's threads as they
# are now) until perf_stop; PERF_PID is the recorder.
PERF_PID=
perf_start() {
	local f=$1 pids
	shift
	pids=$(for p in "$@"; do proc_tree "$p"; done | paste -sd, -)
	perf record -q -g -o "$f" -p "$pids" >/dev/null 2>&1 &
	PERF_PID=$!
	sleep 0.5 # perf attaches to every thread before it samples
}
perf_stop() { # TITLE FILE: stop the recorder, print the top symbols
	kill -INT "$PERF_PID" 2>/dev/null || true
	wait "$PERF_PID" 2>/dev/null || true
	PERF_PID=
	echo "perf profile: $1 (perf report --no-children --sort symbol, top 25)"
	perf report -i "$2" --stdio --no-children --sort symbol -g none 2>/dev/null |
		grep -v '^#' | grep -v '^[[:space:]]*$' | head -n 25 | sed 's/^/  /' || true
}

# start_stack MEMSTORE_BYTES: radosgw and the stack's own lotad (no cache dir: a pure
# proxy, used as the no-cache reference), bucket "bench", alice's key in the environment.
start_stack() {
	# shellcheck disable=SC1091
	. "$src/scripts/stack.sh"
	RGW_MEMSTORE_BYTES=$1 stack_start "$lotad" --log-level warn
	trap cleanup EXIT
	work=$STACK_DIR
	export AWS_ACCESS_KEY_ID=$RGW_ALICE_ACCESS AWS_SECRET_ACCESS_KEY=$RGW_ALICE_SECRET
	export AWS_REGION=us-east-1
	LPORT[proxy]=$LOTAD_PORT LADMIN[proxy]=$LOTAD_ADMIN_PORT LPID[proxy]=$LOTAD_PID
	s3py create_bucket
	cat >"$work/summary.lua" <<'EOL'
-- One machine-readable line at the end of a wrk run: exact bytes and duration.
done = function(summary, latency, requests)
	local e = summary.errors
	io.write(string.format("BENCH %d %d %d %d %d %d %d %d\n", summary.bytes,
		summary.duration, summary.requests, e.connect, e.read, e.write, e.timeout,
		e.status))
end
EOL
}

# s3py create_bucket | public KEY...: bucket and ACL calls straight at radosgw (boto3).
s3py() {
	/usr/bin/python3 - "$RGW_ENDPOINT" "$@" <<'PY'
import sys, boto3
s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1")
if sys.argv[2] == "create_bucket":
    try:
        s3.create_bucket(Bucket="bench")
    except s3.exceptions.BucketAlreadyOwnedByYou:
        pass
else:
    for key in sys.argv[3:]:
        s3.put_object_acl(Bucket="bench", Key=key, ACL="public-read")
PY
}

# lotad_start NAME ARGS...: one more lotad in front of the stack's radosgw, with alice's key.
lotad_start() {
	local name=$1 port admin i
	shift
	read -r port admin _ <<<"$(rgw__free_ports)"
	# shellcheck disable=SC2086
	"$lotad" --listen "127.0.0.1:$port" --admin-listen "127.0.0.1:$admin" \
		--upstream "$RGW_ENDPOINT" --credentials "$work/credentials" --log-level warn \
		"$@" ${LOTA_BENCH_LOTAD_ARGS:-} >"$work/lotad-$name.log" 2>&1 </dev/null &
	LPID[$name]=$!
	EXTRA_PIDS+=("$!")
	LPORT[$name]=$port LADMIN[$name]=$admin
	for i in $(seq 100); do
		curl -sf -o /dev/null "http://127.0.0.1:$admin/healthz" && return 0
		kill -0 "${LPID[$name]}" 2>/dev/null || break
		sleep 0.1
	done
	tail -n 20 "$work/lotad-$name.log" >&2
	die "lotad ($name: $*) did not become healthy"
}

# lotad_alive NAME: die with its log when that lotad is gone.
lotad_alive() {
	kill -0 "${LPID[$1]}" 2>/dev/null && return 0
	local st=0
	wait "${LPID[$1]}" || st=$?
	echo "---- last lines of lotad ($1)'s log" >&2
	tail -n 30 "$work/lotad-$1.log" >&2
	die "lotad ($1) died (exit status $st)"
}

# A lotad caching in its own dir inside the stack: encryption at rest on (the default).
lotad_start_cached() { # NAME SIZE [ARGS...]
	local name=$1 size=$2
	shift 2
	lotad_start "$name" --cache-dir "$work/cache-$name:$size" "$@"
}

# varnish_start: varnishd in the foreground (-F, PID is ours), malloc storage, no jail
# (runs as the caller; every file is in the stack dir), VCL from bench/conf.
VARNISH_PORT='' VARNISH_PID=''
varnish_start() {
	local i
	read -r VARNISH_PORT _ <<<"$(rgw__free_ports)"
	mkdir -p "$work/varnish"
	sed "s/@RGW_PORT@/$RGW_PORT/g" "$here/conf/varnish.vcl.in" >"$work/varnish/bench.vcl"
	varnishd -F -j none -a "127.0.0.1:$VARNISH_PORT" -T none -n "$work/varnish/work" \
		-f "$work/varnish/bench.vcl" -s "malloc,$1" >"$work/varnish/out.log" 2>&1 </dev/null &
	VARNISH_PID=$!
	EXTRA_PIDS+=("$!")
	for i in $(seq 100); do
		[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$VARNISH_PORT/")" != 000 ] &&
			return 0
		sleep 0.1
	done
	cat "$work/varnish/out.log" >&2
	die "varnishd did not start"
}

# nginx_start: nginx (master in the foreground, daemon off) with proxy_cache in the stack.
NGINX_PORT='' NGINX_PID=''
nginx_start() {
	local i d=$work/nginx
	read -r NGINX_PORT _ <<<"$(rgw__free_ports)"
	mkdir -p "$d"
	sed -e "s#@DIR@#$d#g" -e "s/@PORT@/$NGINX_PORT/g" -e "s/@RGW_PORT@/$RGW_PORT/g" \
		"$here/conf/nginx.conf.in" >"$d/nginx.conf"
	nginx -p "$d" -c "$d/nginx.conf" -e "$d/error.log" >"$d/out.log" 2>&1 </dev/null &
	NGINX_PID=$!
	EXTRA_PIDS+=("$!")
	for i in $(seq 100); do
		[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$NGINX_PORT/")" != 000 ] &&
			return 0
		sleep 0.1
	done
	cat "$d/out.log" "$d/error.log" >&2
	die "nginx did not start"
}

# raw_start MODE: bench/rawserve (built in the build tree, else compiled here with cc,
# with liburing when pkg-config finds it) serving $work/raw/NAME at GET /NAME with MODE
# (pread, sendfile, or another of its modes; tee and tee-gcm relay to radosgw and write
# what they relay into $work/raw), LOTA_BENCH_RAW_CHUNK bytes per call and
# LOTA_BENCH_RAW_SNDBUF; RAW_PORT[MODE], RAW_PID[MODE], its log $work/raw-MODE.log.
# Returns 1 when rawserve says the mode is unavailable here (exit status 3).
declare -A RAW_PORT RAW_PID
raw_start() {
	local mode=$1 bin=$build/bench/rawserve port i st=0 uring=() crypto=()
	if [ ! -x "$bin" ]; then
		bin=$work/rawserve
		if [ ! -x "$bin" ]; then
			pkg-config --exists liburing 2>/dev/null &&
				read -ra uring <<<"-DLOTA_HAVE_LIBURING $(pkg-config --cflags --libs liburing)"
			read -ra crypto <<<"$(pkg-config --cflags --libs libcrypto)"
			cc -O2 -pthread -o "$bin" "$here/rawserve.c" "${uring[@]}" "${crypto[@]}" ||
				die "cannot compile bench/rawserve.c"
		fi
	fi
	mkdir -p "$work/raw"
	read -r port _ <<<"$(rgw__free_ports)"
	local up=()
	case $mode in tee | tee-gcm) up=("$RGW_PORT") ;; esac
	"$bin" "$port" "$work/raw" "$mode" "${up[@]}" "${LOTA_BENCH_RAW_CHUNK:-262144}" \
		"${LOTA_BENCH_RAW_SNDBUF:-4194304}" >"$work/raw-$mode.log" 2>&1 </dev/null &
	RAW_PID[$mode]=$! RAW_PORT[$mode]=$port
	EXTRA_PIDS+=("$!")
	for i in $(seq 100); do
		[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/-")" != 000 ] &&
			return 0
		kill -0 "${RAW_PID[$mode]}" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "${RAW_PID[$mode]}" 2>/dev/null || wait "${RAW_PID[$mode]}" || st=$?
	[ "$st" != 3 ] || return 1
	cat "$work/raw-$mode.log" >&2
	die "rawserve ($mode) did not start"
}

# relay_start: socat relaying TCP to radosgw (read + write of 256 KiB, a process per
# connection): the bare cost of one more loopback hop, beside the pure proxy. Clients sign
# for the relay's host:port, which radosgw verifies as it gets it. RELAY_PORT, RELAY_PID.
RELAY_PORT='' RELAY_PID=''
relay_start() {
	local i
	read -r RELAY_PORT _ <<<"$(rgw__free_ports)"
	socat -b 262144 "TCP-LISTEN:$RELAY_PORT,bind=127.0.0.1,reuseaddr,fork" \
		"TCP:127.0.0.1:$RGW_PORT" >"$work/socat.log" 2>&1 </dev/null &
	RELAY_PID=$!
	EXTRA_PIDS+=("$!")
	for i in $(seq 100); do
		[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$RELAY_PORT/")" != 000 ] &&
			return 0
		sleep 0.1
	done
	die "socat did not start"
}

# tee_stored MODE: how many 64 MiB answers rawserve's tee or tee-gcm has stored (written
# and synced, its log says); tee_wait MODE N: until that is more than N (its CPU time
# then counts the whole of its work, as lotad's counts until its fill is published).
tee_stored() {
	awk '$1 == "tee:" && $3 >= 67108864 {n++} END {print n + 0}' "$work/raw-$1.log"
}
tee_wait() {
	local i
	for i in $(seq 600); do
		[ "$(tee_stored "$1")" -gt "$2" ] && return 0
		sleep 0.05
	done
	cat "$work/raw-$1.log" >&2
	die "rawserve ($1) did not store the answer"
}

# server_pids NAME: the processes whose CPU time counts for that server.
server_pids() {
	case $1 in
	varnish) echo "$VARNISH_PID" ;;
	nginx) echo "$NGINX_PID" ;;
	raw) echo "${RAW_PID[pread]}" ;;
	rawsf) echo "${RAW_PID[sendfile]}" ;;
	raw-*) echo "${RAW_PID[${1#raw-}]}" ;;
	rgw) echo "$RGW_PIDS" ;;
	relay) echo "$RELAY_PID" ;;
	*) echo "${LPID[$1]}" ;;
	esac
}

# ---------------------------------------------------------------- objects and requests

# make_base FILE BYTES: random bytes; objects are this file with a distinct 16-byte head.
make_base() {
	head -c "$2" /dev/urandom >"$1"
}
stamp() { # FILE KEY: write the object's distinct head (the key, padded) into FILE
	printf '%-16.16s' "$2" | dd of="$1" bs=16 count=1 conv=notrunc status=none
}
# upload KEY FILE: presigned PUT straight at radosgw; FILE's head is stamped with KEY first.
upload() {
	stamp "$2" "$1"
	curl -sf -o /dev/null -X PUT -T "$2" "$(presign "$RGW_ENDPOINT" "$1" PUT)" ||
		die "upload of $1 to radosgw failed"
}
presign() { # ENDPOINT_URL KEY [METHOD]
	"$lota" presign --endpoint "$1" --method "${3:-GET}" --bucket bench --key "$2" --expires 2h
}
lotad_url() { # NAME KEY
	presign "http://127.0.0.1:${LPORT[$1]}" "$2"
}

# metric NAME_PORT METRIC: sum of the samples of METRIC on that lotad's /metrics (0 if none).
metric() {
	curl -sf "http://127.0.0.1:${LADMIN[$1]}/metrics" |
		awk -v n="$2" '$1 == n || index($1, n "{") == 1 {s += $2} END {printf "%.0f", s}'
}
# answers NAME: "OTHER GONE" from that lotad's lota_requests_total: OTHER = answers with a
# status other than 2xx and other than the "4xx" class, GONE = the "4xx" class, where
# lotad counts 499 (a client that went away mid-response, as each of wrk's connections
# does at the end of a run) together with the 4xx codes it has no label of its own for.
answers() {
	curl -sf "http://127.0.0.1:${LADMIN[$1]}/metrics" | awk '/^lota_requests_total\{/ {
		if (match($1, /status="[^"]*"/)) {
			st = substr($1, RSTART + 8, RLENGTH - 9)
			if (st == "4xx") g += $2
			else if (st !~ /^2/) o += $2
		} } END {printf "%.0f %.0f", o, g}'
}
# show_metrics NAME...: the cache counters of those lotads, indented.
show_metrics() {
	local n
	for n in "$@"; do
		echo "lotad ($n) counters after the run:"
		curl -sf "http://127.0.0.1:${LADMIN[$n]}/metrics" |
			grep -E '^lota_(cache_(hits|misses|bypass|fills|direct_reads)|fill_bytes|bytes_served|upstream_errors|ram_cache_(hits|fills)_total)' |
			grep -v ' 0$' | sed 's/^/  /' || true
	done
}
# wait_fills NAME...: until no fill is in progress on those lotads (at most 120 s).
wait_fills() {
	local n i
	for n in "$@"; do
		for i in $(seq 1200); do
			[ "$(metric "$n" lota_cache_fills_in_progress)" = 0 ] && break
			sleep 0.1
		done
		[ "$i" -lt 1200 ] || die "lotad ($n): a fill still in progress after 120 s"
		lotad_alive "$n"
	done
}
# hdr FILE NAME: value of header NAME in a curl -D dump (last response), lower case.
hdr() {
	tr -d '\r' <"$1" | awk -v n="$(echo "$2" | tr '[:upper:]' '[:lower:]')" -F': ' \
		'tolower($1) == n {v = tolower($2)} END {print v}'
}

# get_check WHAT URL FILE WANT_CACHE_HEADER CACHE_VALUE: one full GET into
# $work/got, which must be a 200 with FILE's exact bytes, and (unless CACHE_HEADER is
# empty) carry CACHE_HEADER: CACHE_VALUE.
get_check() {
	local what=$1 url=$2 file=$3 hname=$4 want=$5 code got
	code=$(curl -s -D "$work/got.h" -o "$work/got" -w '%{http_code}' "$url") || code=000
	[ "$code" = 200 ] || {
		cat "$work/got.h" >&2
		die "$what: GET answered $code, want 200"
	}
	cmp -s "$work/got" "$file" || die "$what: the body differs from the object's bytes"
	if [ -n "$hname" ]; then
		got=$(hdr "$work/got.h" "$hname")
		[ "$got" = "$want" ] || {
			cat "$work/got.h" >&2
			die "$what: $hname is '$got', want '$want'"
		}
	fi
}

# wrk_run URL CONNS SECONDS: sets W_MIBS, W_REQS (completed), W_BYTES, W_US (duration)
# and W_ERRORS; wrk's output in
# $work/wrk.out. Bytes are counted as they arrive (responses cut by the end of the run
# included). W_ERRORS = connect + read + write + timeout + status (non-2xx/3xx).
# W_HARD = the same without timeouts (a response slower than W_TIMEOUT, default 60 s).
W_MIBS='' W_REQS='' W_ERRORS='' W_HARD='' W_BYTES='' W_US=''
W_TIMEOUT=60s
wrk_run() {
	local t=$(($2 < 2 ? 1 : 2))
	wrk -t "$t" -c "$2" -d "${3}s" --timeout "$W_TIMEOUT" -s "$work/summary.lua" "$1" \
		>"$work/wrk.out" 2>&1 || {
		cat "$work/wrk.out" >&2
		die "wrk failed on $1"
	}
	grep -q '^BENCH ' "$work/wrk.out" || {
		cat "$work/wrk.out" >&2
		die "wrk printed no summary"
	}
	read -r W_MIBS W_REQS W_ERRORS W_HARD W_BYTES W_US <<<"$(awk '/^BENCH / {us = $3 / 1e6;
		printf "%.0f %d %d %d %.0f %.0f", $2 / 1048576 / us, $4, $5 + $6 + $7 + $8 + $9,
		$5 + $6 + $7 + $9, $2, $3}' "$work/wrk.out")"
}
wrk_errors() { # breakdown of the last run's errors
	awk '/^BENCH / {printf "connect %d, read %d, write %d, timeout %d, non-2xx %d",
		$5, $6, $7, $8, $9}' "$work/wrk.out"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "-"}'; }
# verdict RATIO OP TARGET: "met" / "MISSED"
verdict() {
	awk -v r="$1" -v op="$2" -v t="$3" 'BEGIN {
		ok = (op == ">=") ? (r + 0 >= t) : (r + 0 <= t)
		print (r == "-") ? "-" : (ok ? "met" : "MISSED") }'
}
median() { sort -g | awk '{v[NR] = $1} END {if (NR == 0) print "-";
	else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.6g\n", (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

machine_facts() {
	local rev
	rev=$(git -C "$src" rev-parse --short HEAD 2>/dev/null || echo unknown)
	echo "# commit $rev, nproc $(nproc), RAM $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo), kernel $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%Y-%m-%dT%H:%MZ)"
}

# ---------------------------------------------------------------- 1. hit throughput

bench_hit() {
	local secs=${1:-5} rounds=${2:-2}
	start_stack $((3 * GiB))
	lotad_start_cached on 2GiB
	lotad_start_cached off 2GiB --no-encrypt
	# For reference only: no upstream round trip per hit (relaxes authorization).
	lotad_start_cached ttl 2GiB --no-encrypt --metadata-ttl 1h
	# Encrypted at rest with a RAM tier (plaintext copies of hot extents): what the sealed
	# hit costs when the hottest extents need no decryption.
	lotad_start_cached ram 2GiB --ram-cache-size 512MiB
	varnish_start 1G
	nginx_start
	raw_start pread
	raw_start sendfile
	# The other ways of sending a hit, each a raw-WAY column (rawways) of its own.
	local way rawways=() rawnotes=()
	for way in ${LOTA_BENCH_RAW_WAYS-gcm gcm-mmap mmap splice}; do
		case $way in pread | sendfile) die "LOTA_BENCH_RAW_WAYS: $way is always measured" ;; esac
		if raw_start "$way"; then
			rawways+=("raw-$way")
		else
			rawnotes+=("# raw-$way skipped: $(head -n 1 "$work/raw-$way.log")")
		fi
	done
	machine_facts
	aes_speed
	for way in pread sendfile "${rawways[@]#raw-}"; do
		echo "# $(head -n 1 "$work/raw-$way.log")"
	done
	[ ${#rawnotes[@]} = 0 ] || printf '%s\n' "${rawnotes[@]}"
	echo "# hit throughput: per cell $rounds interleaved rounds of ${secs} s per server;" \
		"lotad authorizes each hit with a HEAD at radosgw"

	make_base "$work/o64" $((64 * MiB))
	make_base "$work/o4" $((4 * MiB))
	upload obj-64m "$work/o64"
	upload obj-4m "$work/o4"
	s3py public obj-64m obj-4m
	ln -f "$work/o64" "$work/raw/obj-64m"
	ln -f "$work/o4" "$work/raw/obj-4m"

	# Warm every cache: first GET (miss, fills), then a GET that must be a hit; both must
	# return the object's bytes.
	local key file s u
	declare -A url
	for key in obj-64m obj-4m; do
		file=$work/o64
		[ "$key" = obj-4m ] && file=$work/o4
		url[varnish.$key]="http://127.0.0.1:$VARNISH_PORT/bench/$key"
		url[nginx.$key]="http://127.0.0.1:$NGINX_PORT/bench/$key"
		url[raw.$key]="http://127.0.0.1:${RAW_PORT[pread]}/$key"
		url[rawsf.$key]="http://127.0.0.1:${RAW_PORT[sendfile]}/$key"
		get_check "raw (pread) $key" "${url[raw.$key]}" "$file" "" ""
		get_check "raw (sendfile) $key" "${url[rawsf.$key]}" "$file" "" ""
		for s in "${rawways[@]}"; do
			url[$s.$key]="http://127.0.0.1:${RAW_PORT[${s#raw-}]}/$key"
			get_check "$s $key" "${url[$s.$key]}" "$file" "" ""
		done
		get_check "varnish $key miss" "${url[varnish.$key]}" "$file" "" ""
		get_check "varnish $key hit" "${url[varnish.$key]}" "$file" x-cache hit
		get_check "nginx $key miss" "${url[nginx.$key]}" "$file" "" ""
		get_check "nginx $key hit" "${url[nginx.$key]}" "$file" x-cache hit
		for s in off on ttl ram; do
			u=$(lotad_url "$s" "$key")
			url[$s.$key]=$u
			get_check "lotad ($s) $key first GET" "$u" "$file" x-lota-cache miss
			wait_fills "$s"
			get_check "lotad ($s) $key second GET" "$u" "$file" x-lota-cache hit
		done
	done

	local spec conc label e fail=0 misses0 misses1 up0 up1 round j t0 pf
	local servers=(varnish nginx off on ttl ram raw rawsf "${rawways[@]}")
	local ns=${#servers[@]}
	declare -A mib bytes us ticks cpu mticks rticks wall
	local m0 r0 w0 line
	: >"$work/machine.table"
	# the raw-WAY columns go after raw-sf in both tables, each as wide as its name
	local wfmt='' wmib=() wcpu=()
	for s in "${rawways[@]}"; do wfmt+=" %$((${#s} > 8 ? ${#s} : 8))s"; done
	: >"$work/cpu.table"
	: >"$work/targets"
	# shellcheck disable=SC2059 # the format is built above
	printf "%-14s %8s %8s %10s %9s %10s %8s %8s %8s$wfmt %8s %9s %10s %7s %8s %8s\n" case \
		varnish nginx lotad-off lotad-on off+ttl on+ram raw raw-sf "${rawways[@]}" off/varn \
		off/nginx on/off off/raw ram/off
	for spec in "obj-64m 1 64MiB" "obj-64m 8 64MiB" "obj-64m 64 64MiB" "obj-4m 64 4MiB"; do
		read -r key conc label <<<"$spec"
		for s in "${servers[@]}"; do bytes[$s]=0 us[$s]=0 ticks[$s]=0 mticks[$s]=0 rticks[$s]=0 wall[$s]=0; done
		# Rounds in a rotated order: the load of a shared machine drifts, and each server
		# gets its share of every phase of it.
		for round in $(seq "$rounds"); do for j in $(seq 0 $((ns - 1))); do
			s=${servers[$(((round + j) % ns))]}
			case $s in on | off | ttl | ram)
				misses0=$(metric "$s" lota_cache_misses_total)
				up0=$(metric "$s" 'lota_bytes_served_total{source="upstream"}')
				;;
			esac
			pf=
			if [ "$round" = 1 ] && perf_wanted "$s"; then
				pf=$work/perf-$s-$label-c$conc.data
				# shellcheck disable=SC2046
				perf_start "$pf" $(server_pids "$s")
			fi
			# shellcheck disable=SC2046
			t0=$(cpu_ticks $(server_pids "$s"))
			# shellcheck disable=SC2086
			r0=$(cpu_ticks $RGW_PIDS) m0=$(machine_ticks) w0=$(date +%s%N)
			wrk_run "${url[$s.$key]}" "$conc" "$secs"
			# shellcheck disable=SC2046
			ticks[$s]=$((ticks[$s] + $(cpu_ticks $(server_pids "$s")) - t0))
			mticks[$s]=$((mticks[$s] + $(machine_ticks) - m0))
			# shellcheck disable=SC2086
			rticks[$s]=$((rticks[$s] + $(cpu_ticks $RGW_PIDS) - r0))
			wall[$s]=$((wall[$s] + $(date +%s%N) - w0))
			[ -z "$pf" ] || perf_stop "$s, $label c=$conc, ${secs} s" "$pf" >>"$work/perf.out"
			bytes[$s]=$((bytes[$s] + W_BYTES)) us[$s]=$((us[$s] + W_US)) e=$W_ERRORS
			if [ "$e" != 0 ]; then
				echo "# $s $label c=$conc: $e errors ($(wrk_errors))" >&2
				case $s in on | off | ttl | ram) [ "$W_HARD" = 0 ] || fail=1 ;; esac
			fi
			case $s in on | off | ttl | ram)
				lotad_alive "$s"
				misses1=$(metric "$s" lota_cache_misses_total)
				up1=$(metric "$s" 'lota_bytes_served_total{source="upstream"}')
				[ "$misses1" = "$misses0" ] && [ "$up1" = "$up0" ] ||
					echo "# lotad ($s) $label c=$conc: $((misses1 - misses0)) misses," \
						"$((up1 - up0)) bytes from the upstream during the run" >&2
				;;
			esac
		done; done
		for s in "${servers[@]}"; do
			mib[$s]=$(awk -v b="${bytes[$s]}" -v u="${us[$s]}" 'BEGIN {printf "%.0f", b / 1048576 / (u / 1e6)}')
			cpu[$s]=$(cpu_per_gib "${ticks[$s]}" "${bytes[$s]}")
		done
		wmib=() wcpu=()
		for s in "${rawways[@]}"; do wmib+=("${mib[$s]}") wcpu+=("${cpu[$s]}"); done
		# shellcheck disable=SC2059
		printf "%-14s %8s %8s %10s %9s %10s %8s %8s %8s$wfmt %8s %9s %10s %7s %8s %8s\n" \
			"$label c=$conc" "${mib[varnish]}" "${mib[nginx]}" "${mib[off]}" "${mib[on]}" \
			"${mib[ttl]}" "${mib[ram]}" "${mib[raw]}" "${mib[rawsf]}" "${wmib[@]}" \
			"$(ratio "${mib[off]}" "${mib[varnish]}")x" "$(ratio "${mib[off]}" "${mib[nginx]}")x" \
			"$(ratio "${mib[on]}" "${mib[off]}")x" "$(ratio "${mib[off]}" "${mib[raw]}")x" \
			"$(ratio "${mib[ram]}" "${mib[off]}")x" | tee -a "$work/table"
		# the sealed hit's floor: rawserve's fewest moves for the same sealed bytes
		local g1=- g2=- g3=-
		[ -z "${mib[raw-gcm]:-}" ] || g1=$(ratio "${mib[raw-gcm]}" "${mib[off]}")x
		[ -z "${mib[raw-gcm-mmap]:-}" ] || g2=$(ratio "${mib[raw-gcm-mmap]}" "${mib[off]}")x
		[ -z "${mib[raw-gcm-mmap]:-}" ] || g3=$(ratio "${mib[on]}" "${mib[raw-gcm-mmap]}")x
		echo "$label c=$conc $(ratio "${mib[off]}" "${mib[varnish]}")x" \
			"$(ratio "${mib[on]}" "${mib[off]}")x $g1 $g2 $g3" >>"$work/targets"
		# shellcheck disable=SC2059
		printf "%-14s %8s %8s %10s %9s %10s %8s %8s %8s$wfmt %9s %9s\n" "$label c=$conc" \
			"${cpu[varnish]}" "${cpu[nginx]}" "${cpu[off]}" "${cpu[on]}" "${cpu[ttl]}" \
			"${cpu[ram]}" "${cpu[raw]}" "${cpu[rawsf]}" "${wcpu[@]}" \
			"$(ratio "${cpu[off]}" "${cpu[raw]}")x" "$(ratio "${cpu[on]}" "${cpu[raw]}")x" \
			>>"$work/cpu.table"
		# the whole machine: how busy it was, its CPU per GiB, radosgw's share
		line=$(printf '%-14s' "$label c=$conc")
		for s in varnish nginx off on ttl ram rawsf; do
			line+=$(awk -v m="${mticks[$s]}" -v r="${rticks[$s]}" -v w="${wall[$s]}" \
				-v b="${bytes[$s]}" -v hz="$CLK_TCK" -v n="$(nproc)" 'BEGIN {
				busy = (w > 0) ? 100 * m / hz / (w / 1e9) / n : 0
				g = b / 1073741824
				if (g > 0) printf " %4.0f%% %5.3f %5.3f", busy, m / hz / g, r / hz / g
				else printf " %4s %5s %5s", "-", "-", "-" }')
		done
		echo "$line" >>"$work/machine.table"
	done
	echo "(MiB/s served; lotad-off = --no-encrypt, lotad-on = AES-256-GCM at rest, both"
	echo " authorizing every hit with radosgw; off+ttl = lotad-off with --metadata-ttl 1h,"
	echo " no upstream round trip per hit: for reference, not a target; on+ram = lotad-on"
	echo " with --ram-cache-size 512MiB (hot extents kept decrypted in RAM); raw / raw-sf ="
	echo " bench/rawserve, a blocking pread + send / sendfile loop of the same file: the"
	echo " loopback copy itself)"
	[ ${#rawways[@]} = 0 ] || echo "(${rawways[*]}: bench/rawserve sending the same file" \
		"by the other ways: gcm = the file sealed as lotad seals an extent, pread, each" \
		"block checked and decrypted into the send buffer, send; gcm-mmap = the same" \
		"decrypting from a mapping; mmap = send from a mapping, splice = file -> pipe ->" \
		"socket, uring = io_uring reads and sends, uring-zc = io_uring zerocopy sends)"
	echo "targets (64 MiB rows): lotad-off/varnish >= 1.0x, lotad-on/lotad-off >= 0.8x"
	awk '$1 == "64MiB" {print}' "$work/targets" |
		while read -r l c ov oo _; do
			echo "  $l $c: off/varnish ${ov} $(verdict "${ov%x}" ">=" 1.0), on/off ${oo} $(verdict "${oo%x}" ">=" 0.8)"
		done
	if [[ " ${rawways[*]} " == *" raw-gcm"[\ -]* ]]; then
		echo "the sealed hit's floor: a raw loop decrypting the same sealed bytes, over"
		echo " lotad-off (the ceiling of on/off on this machine), and lotad-on over it"
		awk '{printf "  %s %s: raw-gcm/off %s, raw-gcm-mmap/off %s, lotad-on/raw-gcm-mmap %s\n", $1, $2, $5, $6, $7}' \
			"$work/targets"
	fi
	echo
	echo "CPU seconds per GiB served (the server's processes and threads, utime + stime;"
	echo " lotad's upstream HEAD per hit costs radosgw CPU too, not counted here)"
	# shellcheck disable=SC2059
	printf "%-14s %8s %8s %10s %9s %10s %8s %8s %8s$wfmt %9s %9s\n" case varnish nginx \
		lotad-off lotad-on off+ttl on+ram raw raw-sf "${rawways[@]}" off/raw on/raw
	cat "$work/cpu.table"
	echo
	echo "The whole machine during each cell: busy % of all $(nproc) CPUs, machine CPU-s per GiB"
	echo " served (every process: server, radosgw, wrk, the kernel's softirqs), and radosgw's"
	echo " CPU-s per GiB (the authorizing HEADs of lotad-off/on/ram; ~0 elsewhere). When two"
	echo " cells both keep the machine busy, their throughput ratio is the inverse of their"
	echo " machine CPU per GiB: that is the ceiling a server's own CPU cannot lift."
	printf '%-14s' case
	for s in varnish nginx lotad-off lotad-on off+ttl on+ram raw-sf; do printf ' %-17s' "$s"; done
	echo
	printf '%-14s' ""
	for s in varnish nginx lotad-off lotad-on off+ttl on+ram raw-sf; do printf ' %-17s' "busy mach rgw"; done
	echo
	cat "$work/machine.table"
	for s in "${rawways[@]}"; do
		grep -h "uring-zc: the kernel copied" "$work/$s.log" | sed 's/^/# /' || true
	done
	[ ! -s "$work/perf.out" ] || cat "$work/perf.out"
	show_metrics off on ttl ram
	[ "$fail" = 0 ] || die "lotad answered with errors (see above)"
}

# ---------------------------------------------------------------- 2. cold misses

bench_cold() {
	local n=${1:-12}
	# 9 sides x N x 64 MiB, plus room.
	start_stack $((12 * n * 64 * MiB + 2 * GiB))
	lotad_start_cached on $((n * 64 + 512))MiB
	lotad_start_cached off $((n * 64 + 512))MiB --no-encrypt
	varnish_start $((n * 64 + 512))M
	nginx_start
	machine_facts
	echo "# cold GETs of fresh 64 MiB objects, $n per side, each read once (curl, sequential)"

	make_base "$work/o64" $((64 * MiB))
	local i s
	local sides=(direct proxy relay raw-tee raw-tee-gcm on off nginx varnish)
	relay_start
	raw_start tee
	raw_start tee-gcm
	# Alternatives measured in the same run (flags to compare): a second pure proxy, a
	# second cold lotad (encryption off).
	if [ -n "${LOTA_BENCH_ALT_PROXY:-}" ]; then
		# shellcheck disable=SC2086
		lotad_start proxy2 $LOTA_BENCH_ALT_PROXY
		sides+=(proxy2)
		echo "# proxy2 = lotad without a cache, with: $LOTA_BENCH_ALT_PROXY"
	fi
	if [ -n "${LOTA_BENCH_ALT_COLD:-}" ]; then
		# shellcheck disable=SC2086
		lotad_start_cached off2 $((n * 64 + 512))MiB --no-encrypt $LOTA_BENCH_ALT_COLD
		sides+=(off2)
		echo "# off2 = lotad cold miss, encryption off, with: $LOTA_BENCH_ALT_COLD"
	fi
	local ns=${#sides[@]}
	for i in $(seq "$n"); do
		for s in "${sides[@]}"; do upload "cold-$s-$i" "$work/o64"; done
	done
	# shellcheck disable=SC2046
	s3py public $(for i in $(seq "$n"); do echo "cold-nginx-$i cold-varnish-$i"; done)
	upload cold-check-on "$work/o64"
	upload cold-check-off "$work/o64"

	local j k u out code size t c t0 r0 t0n=0
	declare -A bytes took ticks rticks pf
	: >"$work/cold.times"
	for s in "${sides[@]}"; do bytes[$s]=0 took[$s]=0 ticks[$s]=0 rticks[$s]=0; done
	# Profiles over all the reads of a side (a server works only during its own reads).
	for s in proxy proxy2 on off off2 raw-tee raw-tee-gcm nginx varnish; do
		[[ " ${sides[*]} " == *" $s "* ]] || continue
		perf_wanted "$s" || continue
		pf[$s]=$work/perf-cold-$s.data
		# shellcheck disable=SC2046
		perf_start "${pf[$s]}" $(server_pids "$s")
		pf[$s.pid]=$PERF_PID
	done
	PERF_PID=
	for i in $(seq "$n"); do
		# Rotate the order every round so no side always goes first.
		for j in $(seq 0 $((ns - 1))); do
			s=${sides[$(((i + j) % ns))]}
			case $s in
			direct) u=$(presign "$RGW_ENDPOINT" "cold-$s-$i") ;;
			relay) u=$(presign "http://127.0.0.1:$RELAY_PORT" "cold-$s-$i") ;;
			raw-tee*) u=$(presign "http://127.0.0.1:${RAW_PORT[${s#raw-}]}" "cold-$s-$i") ;;
			nginx) u="http://127.0.0.1:$NGINX_PORT/bench/cold-$s-$i" ;;
			varnish) u="http://127.0.0.1:$VARNISH_PORT/bench/cold-$s-$i" ;;
			*) u=$(lotad_url "$s" "cold-$s-$i") ;;
			esac
			case $s in raw-tee*) t0n=$(tee_stored "${s#raw-}") ;; esac
			# CPU of this read: the server's (until its fill ended) and radosgw's
			# shellcheck disable=SC2046
			[ "$s" = direct ] && t0=0 || t0=$(cpu_ticks $(server_pids "$s"))
			# shellcheck disable=SC2086
			r0=$(cpu_ticks $RGW_PIDS)
			out=$(curl -s -D "$work/cold.h" -o /dev/null -w '%{http_code} %{size_download} %{time_total}' "$u") || true
			read -r code size t <<<"$out"
			if [ "$code" != 200 ] || [ "$size" != $((64 * MiB)) ]; then
				cat "$work/cold.h" >&2
				die "$s cold-$s-$i: status $code, $size bytes"
			fi
			case $s in
			on | off | off2)
				c=$(hdr "$work/cold.h" x-lota-cache)
				[ "$c" = miss ] || die "lotad ($s) cold-$s-$i: x-lota-cache '$c', want miss"
				wait_fills "$s"
				;;
			proxy | proxy2) lotad_alive "$s" ;;
			relay) sleep 0.2 ;; # socat reaps the connection's process (its CPU time)
			raw-tee*) tee_wait "${s#raw-}" "$t0n" ;;
			nginx | varnish)
				c=$(hdr "$work/cold.h" x-cache)
				[ "$c" = miss ] || die "$s cold-$s-$i: X-Cache '$c', want miss"
				sleep 0.3 # the cache file or object is completed after the response
				;;
			esac
			# shellcheck disable=SC2046
			[ "$s" = direct ] || ticks[$s]=$((ticks[$s] + $(cpu_ticks $(server_pids "$s")) - t0))
			# shellcheck disable=SC2086
			rticks[$s]=$((rticks[$s] + $(cpu_ticks $RGW_PIDS) - r0))
			bytes[$s]=$((bytes[$s] + size))
			took[$s]=$(awk -v a="${took[$s]}" -v b="$t" 'BEGIN {printf "%.6f", a + b}')
			echo "$s $t" >>"$work/cold.times"
		done
	done
	for s in proxy proxy2 on off off2 raw-tee raw-tee-gcm nginx varnish; do
		[ -n "${pf[$s]:-}" ] || continue
		PERF_PID=${pf[$s.pid]}
		perf_stop "$s, $n cold reads" "${pf[$s]}" >>"$work/perf.out"
	done
	# The bytes of a cold miss and of the hit after it are the object's.
	stamp "$work/o64" cold-check-on
	get_check "lotad (on) cold miss bytes" "$(lotad_url on cold-check-on)" "$work/o64" x-lota-cache miss
	wait_fills on
	get_check "lotad (on) hit bytes" "$(lotad_url on cold-check-on)" "$work/o64" x-lota-cache hit
	stamp "$work/o64" cold-check-off
	get_check "lotad (off) cold miss bytes" "$(lotad_url off cold-check-off)" "$work/o64" x-lota-cache miss
	wait_fills off
	get_check "lotad (off) hit bytes" "$(lotad_url off cold-check-off)" "$work/o64" x-lota-cache hit

	local m d
	declare -A rate
	printf '%-34s %9s %12s %10s %8s %10s %10s\n' side MiB/s median_s ratio target cpu_s/GiB \
		rgw_s/GiB
	for s in direct on off off2 proxy proxy2 relay raw-tee raw-tee-gcm nginx varnish; do
		[[ " ${sides[*]} " == *" $s "* ]] || continue
		rate[$s]=$(awk -v b="${bytes[$s]}" -v t="${took[$s]}" 'BEGIN {printf "%.0f", b / 1048576 / t}')
		m=$(awk -v s="$s" '$1 == s {print $2}' "$work/cold.times" | median)
		case $s in
		direct) d="radosgw direct" ;;
		proxy) d="lotad, no cache (pure proxy)" ;;
		proxy2) d="lotad, no cache, alternative" ;;
		relay) d="socat relay (one more hop)" ;;
		raw-tee) d="raw relay writing a file (tee)" ;;
		raw-tee-gcm) d="raw relay sealing a file (tee-gcm)" ;;
		off2) d="lotad cold miss, off, alternative" ;;
		on) d="lotad cold miss, encryption on" ;;
		off) d="lotad cold miss, encryption off" ;;
		nginx) d="nginx proxy_cache cold miss" ;;
		varnish) d="Varnish cold miss" ;;
		esac
		case $s in
		direct) printf '%-34s %9s %12s %10s %8s' "$d" "${rate[$s]}" "$m" - - ;;
		proxy | proxy2 | relay | raw-tee* | nginx | varnish) printf '%-34s %9s %12s %10s %8s' "$d" "${rate[$s]}" "$m" \
			"$(ratio "${rate[$s]}" "${rate[direct]}")x" "(info)" ;;
		*) printf '%-34s %9s %12s %10s %8s' "$d" "${rate[$s]}" "$m" \
			"$(ratio "${rate[$s]}" "${rate[direct]}")x" \
			"$(verdict "$(ratio "${rate[$s]}" "${rate[direct]}")" ">=" 0.95)" ;;
		esac
		printf ' %10s %10s\n' "$([ "$s" = direct ] && echo - || cpu_per_gib "${ticks[$s]}" "${bytes[$s]}")" \
			"$(cpu_per_gib "${rticks[$s]}" "${bytes[$s]}")"
	done
	echo "(MiB/s = bytes / summed GET times; target: lotad cold >= 0.95x direct; nginx and"
	echo " Varnish (anonymous GETs of public-read objects) show what a cache that stores a"
	echo " miss while serving it gets on this machine; cpu_s/GiB = the server's CPU seconds"
	echo " per GiB over its reads (and, for lotad, until its fill ended), rgw_s/GiB ="
	echo " radosgw's (mon, osd, rgw) over the same reads; the socat relay is the bare cost of"
	echo " one more loopback hop: the floor of the pure proxy; the raw tee relays also write"
	echo " what they relay to a file, as it came or sealed: the floor of a stored cold miss)"
	# the stored cold miss's floor: lotad against the fewest moves of the same work
	echo "# the stored cold miss's floor (bench/rawserve tee, tee-gcm, same run):"
	printf '  %-44s %s\n' "raw-tee / direct" "$(ratio "${rate[raw-tee]}" "${rate[direct]}")x" \
		"raw-tee-gcm / direct" "$(ratio "${rate[raw-tee-gcm]}" "${rate[direct]}")x" \
		"lotad off / raw-tee" "$(ratio "${rate[off]}" "${rate[raw-tee]}")x" \
		"lotad on / raw-tee-gcm" "$(ratio "${rate[on]}" "${rate[raw-tee-gcm]}")x"
	show_metrics on off
	[[ " ${sides[*]} " != *" off2 "* ]] || show_metrics off2
	[ ! -s "$work/perf.out" ] || cat "$work/perf.out"
}

# ---------------------------------------------------------------- 2b. cold over a link

# cold-link [N]: the cold miss behind the cluster test ground's slowed link (root; the
# ground of tests/integration/netground.sh with one node: radosgw behind a tbf-capped
# link, 1 Gbit/s by default). N fresh 64 MiB objects per side (default 6), read once each
# by curl inside the node's namespace, straight from radosgw and through the node's lotad
# (encryption on; LOTA_BENCH_LOTAD_ARGS adds flags), sides alternating. Target (issue 14):
# lotad >= 0.95x direct. Not part of `all` (root, and a minute of its own).
bench_cold_link() {
	local n=${1:-6} i s u out code size t c t0 pid
	# shellcheck source=../tests/integration/netground.sh
	. "$src/tests/integration/netground.sh"
	ng_require
	export LOTA_BUILD_DIR=$build
	LOTA_GROUND_CACHE_SIZE=$((n * 64 + 512))MiB RGW_MEMSTORE_BYTES=$((2 * n * 64 * MiB + GiB)) \
		ng_setup 1 || die "the ground did not come up"
	# shellcheck disable=SC2086
	ng_lotad_start 1 --log-level warn ${LOTA_BENCH_LOTAD_ARGS:-} || die "lotad did not start"
	pid=${NG_LOTAD_PID[1]}
	work=$NG_DIR
	machine_facts
	echo "# cold GETs of fresh 64 MiB objects behind the ground's link" \
		"(${LOTA_GROUND_RGW_RATE:-1gbit}), $n per side, curl in the node's namespace"
	code=$(ng_curl rgw alice -o /dev/null -w '%{http_code}' -X PUT "$NG_RGW_ENDPOINT/bench")
	[ "$code" = 200 ] || die "create bucket: $code"
	make_base "$work/o64" $((64 * MiB))
	for i in $(seq "$n"); do
		for s in direct lotad; do
			stamp "$work/o64" "cl-$s-$i"
			code=$(ng_curl rgw alice -o /dev/null -w '%{http_code}' -T "$work/o64" \
				"$NG_RGW_ENDPOINT/bench/cl-$s-$i")
			[ "$code" = 200 ] || die "upload of cl-$s-$i: $code"
		done
	done
	declare -A bytes took
	local lticks=0
	bytes[direct]=0 bytes[lotad]=0 took[direct]=0 took[lotad]=0
	for i in $(seq "$n"); do
		for s in direct lotad; do
			[ $((i % 2)) = 0 ] && s=$([ "$s" = direct ] && echo lotad || echo direct)
			u=$NG_RGW_ENDPOINT
			[ "$s" = lotad ] && u=$(ng_url 1)
			t0=$(cpu_ticks "$pid")
			out=$(ng_curl 1 alice -D "$work/cl.h" -o /dev/null \
				-w '%{http_code} %{size_download} %{time_total}' "$u/bench/cl-$s-$i") || true
			read -r code size t <<<"$out"
			[ "$code" = 200 ] && [ "$size" = $((64 * MiB)) ] ||
				die "$s cl-$s-$i: status $code, $size bytes"
			if [ "$s" = lotad ]; then
				c=$(hdr "$work/cl.h" x-lota-cache)
				[ "$c" = miss ] || die "lotad cl-$s-$i: x-lota-cache '$c', want miss"
				until [ "$(ng_metric 1 lota_cache_fills_in_progress)" = 0 ]; do sleep 0.1; done
				lticks=$((lticks + $(cpu_ticks "$pid") - t0))
			fi
			bytes[$s]=$((bytes[$s] + size))
			took[$s]=$(awk -v a="${took[$s]}" -v b="$t" 'BEGIN {printf "%.6f", a + b}')
		done
	done
	local rd rl r
	rd=$(awk -v b="${bytes[direct]}" -v t="${took[direct]}" 'BEGIN {printf "%.0f", b / 1048576 / t}')
	rl=$(awk -v b="${bytes[lotad]}" -v t="${took[lotad]}" 'BEGIN {printf "%.0f", b / 1048576 / t}')
	r=$(ratio "$rl" "$rd")
	printf '%-34s %9s %10s %8s %10s\n' side MiB/s ratio target cpu_s/GiB
	printf '%-34s %9s %10s %8s %10s\n' "radosgw direct, over the link" "$rd" - - -
	printf '%-34s %9s %10s %8s %10s\n' "lotad cold miss, over the link" "$rl" "${r}x" \
		"$(verdict "$r" ">=" 0.95)" "$(cpu_per_gib "$lticks" "${bytes[lotad]}")"
	echo "(MiB/s = bytes / summed GET times; lotad's CPU until its fill ended)"
}

# ---------------------------------------------------------------- 3. first byte of a range

bench_ttfb() {
	local k=${1:-3}
	start_stack $(((k + 2) * GiB))
	lotad_start_cached on $((k + 1))GiB
	lotad_start_cached off $((k + 1))GiB --no-encrypt
	machine_facts
	echo "# time to first byte of 100-byte ranges of cold 1 GiB objects ($k objects)"

	make_base "$work/o1g" "$GiB"
	local j
	for j in $(seq "$k"); do upload "ttfb-$j" "$work/o1g"; done

	# Each offset lies in its own 64 MiB extent (every lotad read is cold): two at the
	# start of an extent (512 MiB is the middle of the object), two inside one.
	local offs="536870912:start 134217728:start 310378503:inside 839861224:inside"
	local o kind s u out code t want c
	: >"$work/ttfb.times"
	for j in $(seq "$k"); do
		stamp "$work/o1g" "ttfb-$j"
		for o in $offs; do
			kind=${o#*:} o=${o%:*}
			want=$(dd if="$work/o1g" bs=4096 iflag=skip_bytes,count_bytes skip="$o" count=100 \
				status=none | od -An -tx1 | tr -d ' \n')
			for s in direct on off; do
				case $s in
				direct) u=$(presign "$RGW_ENDPOINT" "ttfb-$j") ;;
				*) u=$(lotad_url "$s" "ttfb-$j") ;;
				esac
				out=$(curl -s -D "$work/ttfb.h" -o "$work/ttfb.body" -r "$o-$((o + 99))" \
					-w '%{http_code} %{time_starttransfer}' "$u") || true
				read -r code t <<<"$out"
				[ "$code" = 206 ] || {
					cat "$work/ttfb.h" >&2
					die "$s ttfb-$j bytes=$o-$((o + 99)): status $code, want 206"
				}
				[ "$(od -An -tx1 "$work/ttfb.body" | tr -d ' \n')" = "$want" ] ||
					die "$s ttfb-$j bytes=$o-$((o + 99)): wrong bytes"
				if [ "$s" != direct ]; then
					c=$(hdr "$work/ttfb.h" x-lota-cache)
					[ "$c" = miss ] || die "lotad ($s) ttfb-$j bytes=$o-: x-lota-cache '$c', want miss"
					wait_fills "$s"
				fi
				echo "$s $kind $o $t" >>"$work/ttfb.times"
			done
		done
	done

	local d m r kind
	printf '%-40s %9s %12s %10s %8s\n' "range" side "median_ms" ratio target
	for kind in start inside; do
		d=$(awk -v k="$kind" '$1 == "direct" && $2 == k {print $4}' "$work/ttfb.times" | median)
		for s in direct on off; do
			m=$(awk -v s="$s" -v k="$kind" '$1 == s && $2 == k {print $4}' "$work/ttfb.times" | median)
			r=$(ratio "$m" "$d")
			case $kind in
			start) o="extent start (at 512 MiB, 128 MiB)" ;;
			inside) o="inside an extent (296 MiB+, 800 MiB+)" ;;
			esac
			printf '%-40s %9s %12s %10s %8s\n' "$o" "$s" \
				"$(awk -v m="$m" 'BEGIN {printf "%.2f", m * 1000}')" \
				"$(if [ "$s" = direct ]; then echo -; else echo "${r}x"; fi)" \
				"$(if [ "$s" = direct ]; then echo -; else verdict "$r" "<=" 2.0; fi)"
		done
	done
	echo "(curl time_starttransfer, new connection each; $k objects; lotad off = --no-encrypt;"
	echo " every lotad read is cold: it fetches the whole 64 MiB extent; target <= 2x direct)"
	echo "all samples (side kind offset seconds):"
	sed 's/^/  /' "$work/ttfb.times"
	show_metrics on off
}

# ---------------------------------------------------------------- 4. many connections

bench_conns() {
	local secs=${1:-20} s u m q e rss hwm fail=0 hits0 hits bad0 bad gone0 gone up0 up
	start_stack $((3 * GiB))
	lotad_start_cached on 1GiB
	lotad_start_cached off 1GiB --no-encrypt
	machine_facts
	echo "# 300 connections (wrk -t 2 -c 300, ${secs} s) on one cached 64 MiB object"
	make_base "$work/o64" $((64 * MiB))
	upload obj-64m "$work/o64"
	printf '%-18s %8s %9s %7s %15s %13s %8s\n' lotad MiB/s responses errors "RSS_before_MiB" \
		"peak_RSS_MiB" target
	for s in on off; do
		u=$(lotad_url "$s" obj-64m)
		get_check "lotad ($s) first GET" "$u" "$work/o64" x-lota-cache miss
		wait_fills "$s"
		get_check "lotad ($s) second GET" "$u" "$work/o64" x-lota-cache hit
		rss=$(awk '/^VmRSS/ {printf "%.0f", $2 / 1024}' "/proc/${LPID[$s]}/status")
		hits0=$(metric "$s" lota_cache_hits_total)
		read -r bad0 gone0 <<<"$(answers "$s")"
		up0=$(metric "$s" 'lota_bytes_served_total{source="upstream"}')
		# A round of 300 x 64 MiB takes ~20 GiB / throughput: time out only real stalls.
		W_TIMEOUT=120s wrk_run "$u" 300 "$secs"
		m=$W_MIBS q=$W_REQS e=$W_ERRORS
		lotad_alive "$s"
		hwm=$(awk '/^VmHWM/ {printf "%.0f", $2 / 1024}' "/proc/${LPID[$s]}/status")
		sleep 1 # lotad notices the connections wrk dropped at the end
		hits=$(($(metric "$s" lota_cache_hits_total) - hits0))
		read -r bad gone <<<"$(answers "$s")"
		bad=$((bad - bad0)) gone=$((gone - gone0))
		up=$(($(metric "$s" 'lota_bytes_served_total{source="upstream"}') - up0))
		# wrk sees a status only when a response completes; lotad's own counters see every
		# answer it started, so they back the error count up: every non-2xx answer, and
		# any "4xx" beyond the responses cut by the end of the run (hits - completed).
		[ "$gone" -le $((hits - q)) ] || bad=$((bad + gone - (hits - q)))
		[ "$bad" = 0 ] || e=$((e + bad))
		printf '%-18s %8s %9s %7s %15s %13s %8s\n' "encryption $s" "$m" "$q" "$e" "$rss" \
			"$hwm" "$(if [ "$e" = 0 ]; then verdict "$hwm" "<=" 256; else echo MISSED; fi)"
		if [ "$e" != 0 ]; then
			echo "# lotad ($s): $(wrk_errors)" >&2
			sed 's/^/#   /' "$work/wrk.out" >&2
			[ "$W_HARD" = 0 ] && [ "$bad" = 0 ] || fail=1
		fi
		echo "  lotad ($s): $hits hits started, $q completed, $gone cut by the end of the run" \
			"(499), $bad other non-2xx answers, $up bytes from the upstream"
		get_check "lotad ($s) GET after the run" "$u" "$work/o64" x-lota-cache hit
	done
	echo "(responses = completed 200s; errors = connect+read+write+timeout+non-2xx, target 0;"
	echo " peak RSS = VmHWM of the lotad process over its life, target <= 256 MiB)"
	[ "$fail" = 0 ] || die "lotad answered with errors under 300 connections"
}

# ---------------------------------------------------------------- main

[ $# -ge 1 ] || usage
cmd=$1
shift
case $cmd in
cold-link)
	for b in "$lota" "$lotad"; do [ -x "$b" ] || die "build first: $b missing"; done
	bench_cold_link "$@"
	;;
hit | cold | ttfb | conns)
	for b in "$lota" "$lotad"; do [ -x "$b" ] || die "build first: $b missing"; done
	for c in wrk curl /usr/bin/python3; do
		command -v "$c" >/dev/null || die "$c missing: run scripts/deps.sh"
	done
	if [ "$cmd" = hit ] || [ "$cmd" = cold ]; then
		for c in varnishd nginx; do
			command -v "$c" >/dev/null || die "$c missing: run scripts/deps.sh"
		done
	fi
	"bench_$cmd" "$@"
	;;
all)
	st=0
	for c in hit cold ttfb conns; do
		echo "== bench/cache.sh $c"
		"$0" "$c" || st=1
		echo
	done
	exit "$st"
	;;
*) usage ;;
esac
