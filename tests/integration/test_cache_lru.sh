#!/usr/bin/env bash
# test_cache_lru.sh - the node cache is an LRU cache of a fixed capacity: a fill that does
# not fit evicts the least recently used extents nobody reads, and is refused (proxied,
# counted) only when everything left is pinned by readers.
#
# Set-ups, one lotad after the other on the same ports (lotad_restart), each with its own
# cache dir(s) holding N extents and half an extent more (the shape that froze the cache
# when a fill that did not fit was refused instead of evicting):
#   scan N=2 / 5 / 20   extents of 1 MiB; ten objects of 1 / 2 / 3 extents (more than the
#                       cache) read three times in turn, then the last one three times more
#   scan in two dirs    the same with --cache-dir of 2 and 5 extents
#   pinned              extents of 8 MiB, a cache of 2: both extents held by slow readers
#                       (a small receive window, 40 KiB/s) while a third object is read,
#                       then an object of three extents
# Checked: every body by sha256; the hot object is a hit; a scan larger than the cache hits
# nothing (LRU); lota_evictions_total grows; the sum of the files in a cache dir never
# exceeds its capacity (after every read) and neither does lota_cache_bytes (sampled all
# along, fills in progress included); with everything pinned the new object is served
# right as a miss, not cached, and lota_cache_fills_refused_total{reason="no_room"} grows
# by one per extent and read (a request asks the store for each extent's fill once);
# once the readers are gone the same object is filled and then a hit.
# shellcheck source=lib.sh disable=SC2317 # (helpers run through check)
. "$(dirname "$0")/lib.sh"
[ "${LOTA_TEST_DIRECT:-0}" = 1 ] && it_skip "lotad-specific test (LOTA_TEST_DIRECT=1)"
it_require_rgw
it_require_cmd curl find awk readlink

MiB=$((1024 * 1024))
# cap_of N EXTENT: bytes of a cache dir that holds N extents but not N + 1. An extent file
# is its data, a 4 KiB header page (more with a long key and metadata) and 16 bytes per
# 64 KiB block; 8 KiB + EXTENT/4096 per extent is more than that, and half an extent
# more leaves the room between the watermarks smaller than one extent.
cap_of() { echo $(($1 * ($2 + 8192 + $2 / 4096) + $2 / 2)); }

base_args() { # extent size
	echo --extent-size "$1" --min-object-size 1MiB --node-secret-file "$IT_DIR/node.secret"
}
# shellcheck disable=SC2207 # words without spaces
IT_LOTAD_ARGS=(--cache-dir "$IT_DIR/c-init:$(cap_of 2 $MiB)" $(base_args 1MiB))
it_setup

W=$IT_DIR/work
mkdir -p "$W"
B=lota-lru
E=$S3_ENDPOINT
R=$RGW_ENDPOINT
INPROG=lota_cache_fills_in_progress
EVICT=lota_evictions_total
REFUSED='lota_cache_fills_refused_total{reason="no_room"}'

# ------------------------------------------------------------------ helpers
hdr() { tr -d '\r' <"$W/hdr" | sed -n "s/^$1: //Ip" | tail -n 1; }
# get KEY: GET through lotad as alice; sets ST (status), XC (x-lota-cache), OK (1 when
# the status is 200 and the body is the uploaded object).
get() {
	: >"$W/body"
	: >"$W/hdr"
	ST=$(it_curl alice -o "$W/body" -D "$W/hdr" -w '%{http_code}' "$E/$B/$1" 2>/dev/null) || true
	XC=$(hdr x-lota-cache)
	OK=0
	[ "$ST" = 200 ] && [ "$(it_sha256 "$W/body")" = "$(sha_of "$1")" ] && OK=1
	return 0
}

mkobj() { # NAME SIZE: a random object, uploaded at radosgw itself
	it_random_file "$W/$1" "$2"
	printf -v "SHA_${1//[^a-zA-Z0-9]/_}" '%s' "$(it_sha256 "$W/$1")"
	it_curl alice -sf -o /dev/null -T "$W/$1" "$R/$B/$1" || it_fail "upload $1"
}
sha_of() { local v="SHA_${1//[^a-zA-Z0-9]/_}"; echo "${!v}"; }

mval() { it_metric "$1" || echo missing; }
# mdelta SERIES OLD: the series now minus OLD, or "missing" when either is.
mdelta() {
	local v
	v=$(mval "$1")
	case "$v $2" in
	*missing*) echo missing ;;
	*) echo $((v - $2)) ;;
	esac
}
wait_idle() { it_wait_metric 30 "$INPROG" 0; }
# Bytes of the regular files in a cache dir (extents and temp files of fills).
dir_bytes() { find "$1" -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }'; }

# The sampler: lota_cache_bytes{dir} against lota_cache_capacity_bytes{dir} from the admin
# /metrics every 50 ms, in the background; over-capacity samples go to $W/over, and each
# sample adds a line to $W/samples.
SAMPLER=
sampler_loop() {
	while :; do
		curl -sf -m 2 "http://127.0.0.1:$IT_LOTAD_ADMIN_PORT/metrics" | awk '
			/^lota_cache_bytes\{/ { split($1, a, "\""); u[a[2]] = $2 }
			/^lota_cache_capacity_bytes\{/ { split($1, a, "\""); c[a[2]] = $2 }
			END {
				for (d in u) if (u[d] + 0 > c[d] + 0) print "dir " d ": " u[d] " > " c[d]
				if (length(u)) print "sample" > "/dev/stderr"
			}' >>"$W/over" 2>>"$W/samples"
		sleep 0.05
	done
}
sampler_start() {
	: >"$W/over"
	: >"$W/samples"
	sampler_loop &
	SAMPLER=$!
}
sampler_stop() {
	[ -n "$SAMPLER" ] || return 0
	kill "$SAMPLER" 2>/dev/null
	wait "$SAMPLER" 2>/dev/null
	SAMPLER=
}
it_at_exit sampler_stop

check_eq "create bucket" 200 "$(it_curl alice -s -o /dev/null -w '%{http_code}' -X PUT "$E/$B")"

# scan NAME PER_MIB DIR:CAP...: restart lotad on these cache dirs (extents of 1 MiB), read
# ten objects of PER_MIB MiB three times in turn, then the last one three times more.
scan() {
	local name=$1 per=$2 spec i d pass o used ev
	shift 2
	local dirs=() caps=() args=()
	for spec in "$@"; do
		dirs+=("${spec%:*}")
		caps+=("${spec##*:}")
		args+=(--cache-dir "$spec")
	done
	# shellcheck disable=SC2207
	IT_LOTAD_ARGS=("${args[@]}" $(base_args 1MiB))
	lotad_restart
	it_log "$name: ${IT_LOTAD_ARGS[*]}"
	for i in $(seq 1 10); do mkobj "$name-$i" $((per * MiB)); done
	local ev0 rf0
	ev0=$(mval "$EVICT") rf0=$(mval "$REFUSED")
	sampler_start
	local bad=() over=() hits=0 hot=() reads=0
	for pass in 1 2 3 4; do
		for o in $(seq 1 10); do
			[ "$pass" = 4 ] && [ "$o" != 10 ] && continue
			for i in 1 2 3; do
				[ "$pass" != 4 ] && [ "$i" != 1 ] && continue
				get "$name-$o"
				reads=$((reads + 1))
				[ "$OK" = 1 ] || bad+=("pass $pass $name-$o: $ST")
				if [ "$pass" = 4 ]; then
					hot+=("$XC")
				elif [ "$pass" -gt 1 ] && [ "$XC" = hit ]; then
					hits=$((hits + 1))
				fi
				wait_idle || bad+=("pass $pass $name-$o: fills still running after 30 s")
				for d in "${!dirs[@]}"; do
					used=$(dir_bytes "${dirs[$d]}")
					[ "$used" -le "${caps[$d]}" ] ||
						over+=("after pass $pass $name-$o: ${dirs[$d]##*/} holds $used > ${caps[$d]}")
				done
			done
		done
	done
	sampler_stop
	check_eq "$name: $reads GETs, each 200 with the object's bytes (failures)" "" "${bad[*]}"
	check_eq "$name: the hot object read three times more is a hit each time" \
		"hit hit hit" "${hot[*]}"
	check_eq "$name: the files of each cache dir never exceed its capacity (after each GET)" \
		"" "${over[*]}"
	check_eq "$name: lota_cache_bytes never above lota_cache_capacity_bytes (sampled)" \
		"" "$(head -n 5 "$W/over")"
	check "$name: the sampler saw lotad ($(wc -l <"$W/samples") samples)" test -s "$W/samples"
	ev=$(mdelta "$EVICT" "$ev0")
	check "$name: lota_evictions_total grew (by $ev)" test "$ev" -gt 0
	check_eq "$name: no fill refused" 0 "$(mdelta "$REFUSED" "$rf0")"
	if [ $# -eq 1 ]; then
		check_eq "$name: a scan larger than the cache hits nothing in passes 2 and 3 (LRU)" \
			0 "$hits"
	fi
}

# ================================================================== the scans
scan scan-2 1 "$IT_DIR/scan-2:$(cap_of 2 $MiB)"
scan scan-5 2 "$IT_DIR/scan-5:$(cap_of 5 $MiB)"
scan scan-20 3 "$IT_DIR/scan-20:$(cap_of 20 $MiB)"
scan scan-2dirs 1 "$IT_DIR/two-a:$(cap_of 2 $MiB)" "$IT_DIR/two-b:$(cap_of 5 $MiB)"

# ================================================================== everything pinned
PX=$((8 * MiB))
PDIR=$IT_DIR/pinned
PCAP=$(cap_of 2 $PX)
# shellcheck disable=SC2207
IT_LOTAD_ARGS=(--cache-dir "$PDIR:$PCAP" $(base_args 8MiB))
lotad_restart
it_log "pinned: ${IT_LOTAD_ARGS[*]}"
for k in pin-1 pin-2 pin-new; do mkobj "$k" "$PX"; done
mkobj pin-3x $((3 * PX))

# Extent files of the cache dir lotad holds open (published names, not deleted).
held() {
	local f
	for f in /proc/"$IT_LOTAD_PID"/fd/*; do
		readlink "$f" 2>/dev/null
	done | grep -E "^$PDIR/[0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{32}\$" | sort -u | wc -l
}
SLOW=()
slow_stop() {
	local p
	touch "$W/slow.stop"
	for p in "${SLOW[@]}"; do wait "$p" 2>/dev/null; done
	SLOW=()
}
it_at_exit slow_stop
# slow_get KEY: a cold GET read slowly in the background (clients/cache_boto3.py slow:
# a small fixed receive window, 40 KiB/s) until slow_stop: its reader in lotad pins the
# extent (filled at full speed meanwhile) that long.
slow_get() {
	it_python "$IT_CLIENTS_DIR/cache_boto3.py" slow "$B" "$1" "$W/slow.$1" "$W/slow.stop" \
		2>>"$W/slow.err" &
	SLOW+=($!)
}

sampler_start
slow_get pin-1
check "pinned: pin-1 filled while its slow reader runs" it_wait_metric 30 lota_cache_extents 1
wait_idle
slow_get pin-2
check "pinned: pin-2 filled while its slow reader runs" it_wait_metric 30 lota_cache_extents 2
wait_idle
held_is() { [ "$(held)" -eq "$1" ]; }
it_wait_for 30 held_is 2
check_eq "pinned: lotad holds both cached extents open" 2 "$(held)"
rf0=$(mval "$REFUSED") ev0=$(mval "$EVICT")
get pin-new
check_eq "pinned: the new object is served, 200 with its bytes" 1 "$OK"
check_eq "pinned: ... as a miss" miss "$XC"
wait_idle
check_eq "pinned: ... its one extent's fill refused once ($REFUSED)" 1 \
	"$(mdelta "$REFUSED" "$rf0")"
get pin-new
check_eq "pinned: read again, still 200 with its bytes" 1 "$OK"
check_eq "pinned: ... and still a miss (nothing could be evicted)" miss "$XC"
wait_idle
check_eq "pinned: ... refused once again" 2 "$(mdelta "$REFUSED" "$rf0")"
get pin-3x
check_eq "pinned: an object of three extents is served, 200 with its bytes" 1 "$OK"
check_eq "pinned: ... as a miss" miss "$XC"
wait_idle
rf2=$(mdelta "$REFUSED" "$rf0")
check_eq "pinned: ... each of its three extents refused once" 5 "$rf2"
check_eq "pinned: nothing was evicted" 0 "$(mdelta "$EVICT" "$ev0")"
check_eq "pinned: both pinned extents stay cached" 2 "$(mval lota_cache_extents)"
check_eq "pinned: the readers still hold both extents (the pins were real)" 2 "$(held)"
for k in pin-1 pin-2; do
	check "pinned: the slow reader of $k got a 200" \
		sh -c "head -c 12 '$W/slow.$k' | grep -qx 'HTTP/1.1 200'"
done
used=$(dir_bytes "$PDIR")
check "pinned: the cache dir holds $used <= $PCAP bytes" test "$used" -le "$PCAP"
slow_stop
check "pinned: lotad lets go of the extents once the readers are gone" \
	it_wait_for 30 held_is 0
get pin-new
check_eq "pinned, released: the new object is 200 with its bytes" 1 "$OK"
check_eq "pinned, released: a miss that fills" miss "$XC"
wait_idle
get pin-new
check_eq "pinned, released: then a hit" hit "$XC"
check_eq "pinned, released: with its bytes" 1 "$OK"
ev=$(mdelta "$EVICT" "$ev0")
check "pinned, released: its fill evicted (lota_evictions_total +$ev)" test "$ev" -ge 1
check_eq "pinned, released: no more refusals" "$rf2" "$(mdelta "$REFUSED" "$rf0")"
used=$(dir_bytes "$PDIR")
check "pinned, released: the cache dir holds $used <= $PCAP bytes" test "$used" -le "$PCAP"
sampler_stop
check_eq "pinned: lota_cache_bytes never above lota_cache_capacity_bytes (sampled)" \
	"" "$(head -n 5 "$W/over")"
it_finish
