#!/usr/bin/env bash
# test_cache_hitpath.sh - the hit path of issue 14: the first bytes of a hit are read
# while the authorizing HEAD is in flight, and never sent unless its 200 names the very
# version read; the HEADs reuse the worker's upstream connections; every way plain hits
# reach the socket (--plain-hit-io pread|sendfile|mmap) and sealed hits give the exact
# bytes (--sealed-hit-io mmap|pread); `lota bench cipher` prints the cipher's speed per core.
#
# An encrypted lotad (--workers 1, 8 MiB extents) caches two 6 MiB objects of alice's.
# A hit and a ranged hit: byte-exact, each counted by lota_cache_preread_total{result=
# "used"}. Ten hits: the authorizing HEADs reuse the upstream connection (far fewer
# opened than sent, lota_cache_authorize_connections_opened_total vs _requests_total)
# and their latency histogram counts them. Then the attacks, each after the extent was
# pre-read (lota_cache_preread_total{result="dropped"} moves by one) and each serving no
# cached byte (lota_bytes_served_total{source="cache"} still): an overwrite at radosgw of
# the same size (another ETag) gives the new bytes only; bob's GET of alice's private object
# a 403 with S3's body; an If-Match of another ETag a 412; the object deleted at radosgw
# a 404. Then, for each plain hit way (sendfile with --client-send-buffer 4MiB) and for a
# sealed cache (decrypting from a mapping, the default, and by pread), a fresh object read cold
# and warm (whole, a range inside the extent, a range across extents): byte-exact. Then
# the RAM tier (--ram-cache-size 16MiB, sealed): the second hit of an extent comes from
# RAM (lota_ram_cache_hits_total), byte-exact, also a range; three 6 MiB copies keep it
# within its bound (one evicted); a PUT through lotad takes the copy with the extent;
# an overwrite at radosgw is read as the new version.
# shellcheck source=lib.sh disable=SC2317 # (helpers run through check)
. "$(dirname "$0")/lib.sh"
[ "${LOTA_TEST_DIRECT:-0}" = 1 ] && it_skip "lotad-specific test (LOTA_TEST_DIRECT=1)"
it_require_rgw
it_require_cmd curl cmp
COMMON=(--workers 1 --extent-size 8MiB --min-object-size 1MiB)
IT_LOTAD_ARGS=(--cache-dir "$IT_DIR/cache-enc:1GiB" "${COMMON[@]}")
it_setup

LOTA=${LOTA_BUILD_DIR:-$IT_LIB_DIR/../../build}/tools/lota
W=$IT_DIR/work
mkdir -p "$W"
B=lota-hitpath
E=$S3_ENDPOINT
R=$RGW_ENDPOINT
MiB=$((1024 * 1024))
USED='lota_cache_preread_total{result="used"}'
DROPPED='lota_cache_preread_total{result="dropped"}'
CACHE_BYTES='lota_bytes_served_total{source="cache"}'
AUTH_N=lota_cache_authorize_requests_total
AUTH_OPENED=lota_cache_authorize_connections_opened_total

hdr() { tr -d '\r' <"$W/hdr" | sed -n "s/^$1: //Ip" | tail -n 1; }
# get PROFILE KEY [CURL ARGS...]: GET through lotad; ST status, XC x-lota-cache, body $W/body.
get() {
	local p=$1 k=$2
	shift 2
	: >"$W/body"
	: >"$W/hdr"
	ST=$(it_curl "$p" -o "$W/body" -D "$W/hdr" -w '%{http_code}' "$@" "$E/$B/$k" 2>/dev/null) ||
		true
	XC=$(hdr x-lota-cache)
}
put_direct() { it_curl alice -sf -o /dev/null -T "$1" "$R/$B/$2"; }
# warm KEY: read KEY through lotad until it is a hit (the fill published).
warm() {
	local i
	for i in $(seq 1 100); do
		get alice "$1"
		[ "$XC" = hit ] && return 0
		sleep 0.1
	done
	return 1
}
m() { it_metric0 "$1"; }

check_eq "create bucket" 200 "$(it_curl alice -s -o /dev/null -w '%{http_code}' -X PUT "$R/$B")"
it_random_file "$W/a" $((6 * MiB))
it_random_file "$W/a2" $((6 * MiB))
it_random_file "$W/p" $((6 * MiB))
put_direct "$W/a" a || it_fail "upload a"
put_direct "$W/p" p || it_fail "upload p"
check "a: cached (miss, then a hit)" warm a
check "p: cached" warm p

# On loopback the upstream may answer the HEAD while curl is still sending it (curl reads
# right after its send): then there is nothing to overlap and nothing is pre-read
# (lota_cache_preread_total{result="answered_first"}). So each case below is tried until
# its pre-read happened (at most TRIES times), and every try is checked in full.
TRIES=20

# --- pre-read, used
# hit_case DESC RANGE|- EXPECTED_STATUS FILE_FOR_CMP: hits until one used its pre-read.
hit_case() {
	local d=$1 rg=$2 st=$3 want=$4 i u0 ok=0 bad=0 args=()
	[ "$rg" = - ] || args=(-r "$rg")
	for i in $(seq 1 $TRIES); do
		u0=$(m "$USED")
		get alice a "${args[@]}"
		[ "$XC:$ST" = "hit:$st" ] && cmp -s "$W/body" "$want" || bad=$((bad + 1))
		[ "$(m "$USED")" -gt "$u0" ] && ok=1 && break
	done
	check_eq "$d: every try a hit ($st), byte-exact" 0 "$bad"
	check_eq "$d: its first bytes were read during the HEAD and sent" 1 "$ok"
}
hit_case "a" - 200 "$W/a"
tail -c +1001 "$W/a" | head -c 299001 >"$W/a.range"
hit_case "a, a range" 1000-300000 206 "$W/a.range"

# --- the authorizing HEADs: connection reuse and latency
n0=$(m "$AUTH_N")
o0=$(m "$AUTH_OPENED")
for i in $(seq 1 10); do get alice a -r 0-99; done
n1=$(m "$AUTH_N")
o1=$(m "$AUTH_OPENED")
it_log "authorizing HEADs: $((n1 - n0)) sent, $((o1 - o0)) new upstream connections;" \
	"HEADs answered before a pre-read: $(m 'lota_cache_preread_total{result="answered_first"}')"
check_eq "ten hits: ten authorizing HEADs" 10 $((n1 - n0))
check "ten hits: the HEADs reuse the upstream connection ($((o1 - o0)) opened)" \
	test $((o1 - o0)) -le 2
check "the HEAD latency histogram counts them" \
	test "$(m lota_cache_authorize_seconds_count)" -ge "$n1"

# --- the attacks: pre-read, then refused or another version; no cached byte sent
# attack DESC STATUS CODE|- PROFILE KEY [CURL ARGS...]: tries until the extent was
# pre-read and dropped; every try must give STATUS (and S3's CODE), a body without the
# object's bytes, and no cached byte sent, nothing pre-read used.
attack() {
	local d=$1 st=$2 code=$3 p=$4 k=$5 i d0 c0 u0 ok=0 bad=0
	shift 5
	for i in $(seq 1 $TRIES); do
		d0=$(m "$DROPPED")
		c0=$(m "$CACHE_BYTES")
		u0=$(m "$USED")
		get "$p" "$k" "$@"
		[ "$ST" = "$st" ] || bad=$((bad + 1))
		[ "$code" = - ] || [ "$(it_s3_code <"$W/body")" = "$code" ] || bad=$((bad + 1))
		[ "$(stat -c %s "$W/body")" -lt 4096 ] || bad=$((bad + 1))
		[ "$(m "$CACHE_BYTES")" = "$c0" ] && [ "$(m "$USED")" = "$u0" ] || bad=$((bad + 1))
		[ "$(m "$DROPPED")" -gt "$d0" ] && ok=1 && break
	done
	check_eq "$d: every try $st${code#-}, no object byte, no cached byte sent" 0 "$bad"
	check_eq "$d: the extent was pre-read, then dropped" 1 "$ok"
}
attack "bob on alice's object" 403 AccessDenied bob p
attack "If-Match of another ETag" 412 - alice p -H 'If-Match: "0123456789abcdef0123456789abcdef"'
check "p: deleted at radosgw" it_curl alice -sf -o /dev/null -X DELETE "$R/$B/p"
attack "deleted at radosgw" 404 NoSuchKey alice p

# an overwrite at radosgw (same size, another ETag): only the new bytes. Each try
# overwrites again, once the version before is cached whole (so that it is pre-read).
ok=0 bad=0
for i in $(seq 1 $TRIES); do
	it_random_file "$W/a2" $((6 * MiB))
	put_direct "$W/a2" a || bad=$((bad + 1))
	d0=$(m "$DROPPED")
	u0=$(m "$USED")
	get alice a
	[ "$ST:$XC" = "200:miss" ] && cmp -s "$W/body" "$W/a2" || bad=$((bad + 1))
	[ "$(m "$USED")" = "$u0" ] || bad=$((bad + 1))
	[ "$(m "$DROPPED")" -gt "$d0" ] && ok=1 && break
	warm a || bad=$((bad + 1))
done
check_eq "overwrite: every try 200 miss, the new bytes only, nothing pre-read used" 0 "$bad"
check_eq "overwrite: the old version was pre-read, then dropped" 1 "$ok"

# --- every way a hit reaches the socket, byte-exact (plain: pread, sendfile, mmap;
# and sealed, through the multi-block reads)
# ways NAME: a fresh 20 MiB + 333 object (three extents) read cold, warm, and in ranges.
ways() {
	local k=obj-$1
	it_random_file "$W/$k" $((20 * MiB + 333))
	put_direct "$W/$k" "$k" || it_fail "upload $k"
	check "$1: cached" warm "$k"
	check "$1: warm read byte-exact" cmp -s "$W/body" "$W/$k"
	get alice "$k" -r 5000-7000000
	check_eq "$1: range inside an extent" "hit:206" "$XC:$ST"
	check "$1: that range byte-exact" cmp -s "$W/body" <(tail -c +5001 "$W/$k" | head -c 6995001)
	get alice "$k" -r 8000000-20971000
	check_eq "$1: range across extents" "hit:206" "$XC:$ST"
	check "$1: that range byte-exact" cmp -s "$W/body" \
		<(tail -c +8000001 "$W/$k" | head -c 12971001)
}
ways sealed
# sealed hits read by pread instead of from a mapping (--sealed-hit-io pread)
IT_LOTAD_ARGS=(--cache-dir "$IT_DIR/cache-sealed-pread:1GiB" --sealed-hit-io pread
	"${COMMON[@]}")
lotad_restart
ways sealed-pread
for io in pread sendfile mmap; do
	# sendfile with a fixed socket send buffer (--client-send-buffer) as well
	sb=()
	[ "$io" = sendfile ] && sb=(--client-send-buffer 4MiB)
	IT_LOTAD_ARGS=(--cache-dir "$IT_DIR/cache-$io:1GiB" --no-encrypt --plain-hit-io "$io"
		"${sb[@]}" "${COMMON[@]}")
	lotad_restart
	ways "$io"
done
check_fails_with "--client-send-buffer 128MiB refused" 'client-send-buffer' \
	"$(it_lotad_bin)" --upstream "$R" --client-send-buffer 128MiB
check_fails_with "--plain-hit-io splice refused" 'plain_hit_io' \
	"$(it_lotad_bin)" --upstream "$R" --plain-hit-io splice --cache-dir "$IT_DIR/cache-x:1GiB"
check_fails_with "--sealed-hit-io sendfile refused" 'sealed_hit_io' \
	"$(it_lotad_bin)" --upstream "$R" --sealed-hit-io sendfile --cache-dir "$IT_DIR/cache-x:1GiB"

# --- the RAM tier (--ram-cache-size): sealed extents read once from the disk (the copy
# made), then from RAM; bounded; gone with the extent (a PUT through lotad); another
# version is another extent
IT_LOTAD_ARGS=(--cache-dir "$IT_DIR/cache-ram:1GiB" --ram-cache-size 16MiB "${COMMON[@]}")
lotad_restart
RB=lota_ram_cache_bytes
RH=lota_ram_cache_hits_total
RF=lota_ram_cache_fills_total
for k in r1 r2 r3; do
	it_random_file "$W/$k" $((6 * MiB))
	put_direct "$W/$k" "$k" || it_fail "upload $k"
done
check "r1: cached" warm r1
check_eq "r1: the hit from the disk made its RAM copy" 1 "$(m "$RF")"
h0=$(m "$RH")
get alice r1
check_eq "r1: hit" hit "$XC"
check "r1: from RAM, byte-exact" cmp -s "$W/body" "$W/r1"
check_eq "r1: served from the RAM tier" $((h0 + 1)) "$(m "$RH")"
get alice r1 -r 777-4000000
check "r1: a range from RAM, byte-exact" cmp -s "$W/body" <(tail -c +778 "$W/r1" | head -c 3999224)
check "r2, r3: cached" warm r2
check "r3: cached" warm r3
check "r3: a hit again" warm r3
check "three 6 MiB copies in a 16 MiB tier: one evicted" \
	test "$(m lota_ram_cache_evictions_total)" -ge 1
check "the tier holds at most its bound" test "$(m "$RB")" -le $((16 * MiB))
check "r3: a PUT through lotad" it_curl alice -sf -o /dev/null -T "$W/r1" "$E/$B/r3"
check "r3: its RAM copy went with its extent" it_wait_metric 10 "$RB" $((6 * MiB))
get alice r3
check "r3: the new bytes" cmp -s "$W/body" "$W/r1"
check "r1: overwrite at radosgw" put_direct "$W/r2" r1
get alice r1
check "r1: the new version, not the RAM copy of the old" cmp -s "$W/body" "$W/r2"

# --- plain extents with a RAM tier (sendfile is the way without one): the first hit
# goes through the buffer and makes the copy, the next ones are sent from RAM
IT_LOTAD_ARGS=(--cache-dir "$IT_DIR/cache-ramp:1GiB" --ram-cache-size 16MiB --no-encrypt
	--plain-hit-io sendfile "${COMMON[@]}")
lotad_restart
it_random_file "$W/p1" $((6 * MiB + 5))
put_direct "$W/p1" p1 || it_fail "upload p1"
check "p1 (plain): cached" warm p1
check_eq "p1: the hit made its RAM copy (not sent by sendfile)" 1 "$(m "$RF")"
h0=$(m "$RH")
get alice p1
check_eq "p1: hit" hit "$XC"
check "p1: from RAM, byte-exact" cmp -s "$W/body" "$W/p1"
check_eq "p1: served from the RAM tier" $((h0 + 1)) "$(m "$RH")"
check "p1: overwrite at radosgw" put_direct "$W/r2" p1
get alice p1
check "p1: the new version, not the RAM copy of the old" cmp -s "$W/body" "$W/r2"

# --- the cipher's speed per core, printed for the benchmark
if [ -x "$LOTA" ]; then
	check "lota bench cipher exits 0" \
		sh -c '"$0" bench cipher --duration 100ms >"$1" 2>&1' "$LOTA" "$W/cipher"
	check "lota bench cipher prints MB/s" grep -q 'open (hit, key schedule kept) .* MB/s' "$W/cipher"
	it_log "$(cat "$W/cipher")"
else
	it_fail "the lota tool is not built ($LOTA missing)"
fi
it_finish
