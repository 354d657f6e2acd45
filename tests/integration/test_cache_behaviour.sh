#!/usr/bin/env bash
# test_cache_behaviour.sh - lotad's node cache as a client sees it: cold GET = miss and the
# second GET = hit with the same bytes (curl, boto3, awscli); a 100-byte range of a cold
# 64 MiB object fills the whole extent; multi-extent objects read whole and in ranges
# (crossing extent boundaries, suffix, open, past the end: same status as radosgw);
# single-flight fills; read-after-write through lotad and out of band at radosgw; DELETE
# and PUT drop extents; Cache-Control / Pragma; the minimum object size; HEAD pre-staging
# (and --no-prestage-on-head); conditionals on a cached object; x-lota-cache on every
# GET/HEAD; the cache metrics; and (root only) a cache dir on a tiny tmpfs, where lotad
# must degrade to proxying without a client error.
#
# Every body is compared by sha256 with the file that was uploaded. Three lotad set-ups
# run one after the other on the same ports (lotad_restart), each on its own cache dir:
#   A  defaults (extent 64 MiB, min object 4 MiB, pre-stage on HEAD)
#   B  --extent-size 8MiB --min-object-size 1MiB --no-prestage-on-head
#   C  (root) a 6 MiB tmpfs declared as 1 GiB, --extent-size 8MiB --min-object-size 1MiB
# shellcheck source=lib.sh disable=SC2317 # (helpers run through check)
. "$(dirname "$0")/lib.sh"
[ "${LOTA_TEST_DIRECT:-0}" = 1 ] && it_skip "lotad-specific test (LOTA_TEST_DIRECT=1)"
it_require_rgw
it_require_boto3
it_require_cmd curl "$IT_AWS"
IT_LOTAD_ARGS=(--cache-dir "$IT_DIR/cache-a:1GiB")
it_setup

W=$IT_DIR/work
mkdir -p "$W"
B=lota-cache
E=$S3_ENDPOINT
R=$RGW_ENDPOINT
MiB=$((1024 * 1024))

# ------------------------------------------------------------------ helpers
NO_XC=() # GET/HEAD responses of lotad without x-lota-cache
NREQ=0   # GET/HEAD responses of lotad seen

hdr() { tr -d '\r' <"$W/hdr" | sed -n "s/^$1: //Ip" | tail -n 1; }

# req PROFILE METHOD URL [curl args...]: one request; sets ST (status), XC
# (x-lota-cache), CR (Content-Range), ETAG. Body in $W/body, head in $W/hdr. A GET/HEAD
# answered by lotad without x-lota-cache is recorded for the check at the end.
req() {
	local p=$1 m=$2 url=$3 how=()
	shift 3
	case $m in
	HEAD) how=(-I) ;;
	GET) ;;
	*) how=(-X "$m") ;;
	esac
	: >"$W/body"
	: >"$W/hdr"
	ST=$(it_curl "$p" "${how[@]}" -o "$W/body" -D "$W/hdr" -w '%{http_code}' "$@" "$url" 2>/dev/null) || true
	[ -n "$ST" ] || ST=000
	XC=$(hdr x-lota-cache)
	CR=$(hdr content-range)
	ETAG=$(hdr etag)
	case "$m:$url" in
	GET:"$E"/* | HEAD:"$E"/*)
		NREQ=$((NREQ + 1))
		[ -n "$XC" ] || NO_XC+=("$m ${url#"$E"} $* -> $ST")
		;;
	esac
}
body_sha() { it_sha256 "$W/body"; }

# put_direct FILE KEY: upload at radosgw itself (out of band: lotad never sees it).
put_direct() { it_curl alice -sf -o /dev/null -T "$1" "$R/$B/$2"; }
# put_lotad FILE KEY: upload through lotad.
put_lotad() { it_curl alice -sf -o /dev/null -T "$1" "$E/$B/$2"; }

# sha256 of LEN bytes of FILE at OFFSET.
slice_sha() { tail -c +"$(($2 + 1))" "$1" | head -c "$3" | sha256sum | cut -d' ' -f1; }

# mval SERIES: the metric's value, or "missing".
mval() { it_metric "$1" || echo missing; }
# mdiff OLD NEW: NEW - OLD, or "missing" when either is.
mdiff() {
	case "$1 $2" in
	*missing*) echo missing ;;
	*) echo $(($2 - $1)) ;;
	esac
}
FILL=lota_fill_bytes_total
INPROG=lota_cache_fills_in_progress
STARTED='lota_cache_fills_total{result="started"}'
SERVED_CACHE='lota_bytes_served_total{source="cache"}'
SERVED_UP='lota_bytes_served_total{source="upstream"}'

# wait_idle: no fill in progress (up to 30 s). A fill started in the background (by a
# HEAD or a short range) may begin a moment after the response, so callers that expect a
# fill first wait for the fill counter to move (wait_filled).
wait_idle() { it_wait_metric 30 "$INPROG" 0; }
# wait_filled OLD_FILL BYTES: until lota_fill_bytes_total >= OLD_FILL + BYTES (up to
# 30 s), then until no fill is in progress.
wait_filled() {
	local deadline=$((SECONDS + 30)) v
	while :; do
		v=$(mval "$FILL")
		[ "$v" != missing ] && [ "$v" -ge $(($1 + $2)) ] && break
		[ $SECONDS -ge $deadline ] && break
		sleep 0.1
	done
	wait_idle
}

# mkobj NAME SIZE: a random local file $W/NAME of SIZE bytes; sets its sha in SHA_<NAME>.
mkobj() {
	it_random_file "$W/$1" "$2"
	printf -v "SHA_${1//[^a-zA-Z0-9]/_}" '%s' "$(it_sha256 "$W/$1")"
}
sha_of() { local v="SHA_${1//[^a-zA-Z0-9]/_}"; echo "${!v}"; }

# get_check DESC KEY EXPECTED_XC [curl args...]: GET through lotad as alice; checks 200,
# the bytes and (unless EXPECTED_XC is "-") x-lota-cache.
get_check() {
	local d=$1 k=$2 x=$3
	shift 3
	req alice GET "$E/$B/$k" "$@"
	check_eq "$d: status" 200 "$ST"
	check_eq "$d: bytes" "$(sha_of "$k")" "$(body_sha)"
	[ "$x" = - ] || check_eq "$d: x-lota-cache" "$x" "$XC"
}

check_eq "create bucket" 200 "$(it_curl alice -s -o /dev/null -w '%{http_code}' -X PUT "$E/$B")"

# ================================================================== A: defaults
it_log "set-up A: $(it_lotad_bin) ${IT_LOTAD_ARGS[*]}"
OBJ=$((5 * MiB + 333)) # above the default 4 MiB minimum, one extent
for k in curl-1 boto3-1 aws-1 raw-lotad raw-direct put-drop del-1 nostore-1 pragma-1 \
	nocache-1 cond-1 head-1; do
	mkobj "$k" "$OBJ"
	put_direct "$W/$k" "$k" || it_fail "upload $k"
done

# --- cold miss, then hit, through curl --aws-sigv4 (with the metrics around each)
wait_idle
h0=$(mval lota_cache_hits_total) m0=$(mval lota_cache_misses_total)
c0=$(mval "$SERVED_CACHE") u0=$(mval "$SERVED_UP")
get_check "curl: cold GET" curl-1 miss
wait_idle
h1=$(mval lota_cache_hits_total) m1=$(mval lota_cache_misses_total)
c1=$(mval "$SERVED_CACHE") u1=$(mval "$SERVED_UP")
check_eq "metrics: a miss adds 1 to lota_cache_misses_total" 1 "$(mdiff "$m0" "$m1")"
check_eq "metrics: a miss adds 0 to lota_cache_hits_total" 0 "$(mdiff "$h0" "$h1")"
sc=$(mdiff "$c0" "$c1") su=$(mdiff "$u0" "$u1")
if [ "$sc" = missing ] || [ "$su" = missing ]; then
	check_eq "metrics: lota_bytes_served_total{source=cache|upstream} exist" present missing
else
	check_eq "metrics: a miss serves the object's size (cache + upstream)" "$OBJ" $((sc + su))
fi
get_check "curl: second GET" curl-1 hit
h2=$(mval lota_cache_hits_total) m2=$(mval lota_cache_misses_total)
c2=$(mval "$SERVED_CACHE") u2=$(mval "$SERVED_UP")
check_eq "metrics: a hit adds 1 to lota_cache_hits_total" 1 "$(mdiff "$h1" "$h2")"
check_eq "metrics: a hit adds 0 to lota_cache_misses_total" 0 "$(mdiff "$m1" "$m2")"
check_eq "metrics: a hit adds the object's size to bytes_served{source=cache}" "$OBJ" "$(mdiff "$c1" "$c2")"
check_eq "metrics: a hit adds nothing to bytes_served{source=upstream}" 0 "$(mdiff "$u1" "$u2")"
v=$(mval 'lota_cache_capacity_bytes{dir="0"}')
check_eq "metrics: lota_cache_capacity_bytes{dir=0} is the declared 1 GiB" $((1024 * MiB)) "$v"
v=$(mval 'lota_cache_bytes{dir="0"}')
check "metrics: lota_cache_bytes{dir=0} >= the cached object ($v)" test "${v/missing/0}" -ge "$OBJ"
v=$(mval lota_cache_extents)
check "metrics: lota_cache_extents >= 1 ($v)" test "${v/missing/0}" -ge 1
v=$(mval 'lota_cache_dir_degraded{dir="0"}')
check_eq "metrics: a healthy dir is not degraded" 0 "$v"

# --- boto3
xc=$(it_python "$IT_CLIENTS_DIR/cache_boto3.py" get "$B" boto3-1 "$W/boto3.out" 2>"$W/boto3.err")
check_eq "boto3: cold GET x-lota-cache" miss "$xc"
check_eq "boto3: cold GET bytes" "$(sha_of boto3-1)" "$(it_sha256 "$W/boto3.out" 2>/dev/null)"
wait_idle
xc=$(it_python "$IT_CLIENTS_DIR/cache_boto3.py" get "$B" boto3-1 "$W/boto3.out" 2>"$W/boto3.err")
check_eq "boto3: second GET x-lota-cache" hit "$xc"
check_eq "boto3: second GET bytes" "$(sha_of boto3-1)" "$(it_sha256 "$W/boto3.out" 2>/dev/null)"

# --- awscli (the header is read from botocore's debug log)
aws_xc() { grep -io "'x-lota-cache': '[a-z]*'" "$1" | tail -n 1 | sed "s/.*: '//; s/'//"; }
it_aws alice s3api get-object --bucket "$B" --key aws-1 "$W/aws.out" --debug >/dev/null 2>"$W/aws.dbg"
check_eq "awscli: cold GET x-lota-cache" miss "$(aws_xc "$W/aws.dbg")"
check_eq "awscli: cold GET bytes" "$(sha_of aws-1)" "$(it_sha256 "$W/aws.out" 2>/dev/null)"
wait_idle
it_aws alice s3api get-object --bucket "$B" --key aws-1 "$W/aws.out" --debug >/dev/null 2>"$W/aws.dbg"
check_eq "awscli: second GET x-lota-cache" hit "$(aws_xc "$W/aws.dbg")"
check_eq "awscli: second GET bytes" "$(sha_of aws-1)" "$(it_sha256 "$W/aws.out" 2>/dev/null)"

# --- a 100-byte range of a cold 64 MiB object fills the whole (single) extent
mkobj big64 $((64 * MiB))
put_direct "$W/big64" big64 || it_fail "upload big64"
wait_idle
r0=$(mval lota_range_requests_total)
req alice GET "$E/$B/big64" -H "Range: bytes=33554400-33554499"
check_eq "100-byte range of a cold 64 MiB object: status" 206 "$ST"
check_eq "100-byte range of a cold 64 MiB object: bytes" "$(slice_sha "$W/big64" 33554400 100)" "$(body_sha)"
check_eq "100-byte range of a cold 64 MiB object: x-lota-cache" miss "$XC"
check_eq "100-byte range: Content-Range" "bytes 33554400-33554499/$((64 * MiB))" "$CR"
r1=$(mval lota_range_requests_total) rd=$(mdiff "$r0" "$r1")
check "metrics: lota_range_requests_total moved ($r0 -> $r1)" test "${rd/missing/0}" -ge 1
check "lota_cache_fills_in_progress returns to 0 after the range" wait_idle
get_check "full GET of the 64 MiB object after the 100-byte range" big64 hit

# --- single-flight: 8 concurrent GETs of one cold object = one fill of its size
mkobj flight $((24 * MiB + 77))
put_direct "$W/flight" flight || it_fail "upload flight"
wait_idle
f0=$(mval "$FILL")
pids=()
for i in 1 2 3 4 5 6 7 8; do
	it_curl alice -sf -o "$W/flight.$i" "$E/$B/flight" &
	pids+=($!)
done
bad=0
for i in "${!pids[@]}"; do
	wait "${pids[$i]}" || bad=$((bad + 1))
	[ "$(it_sha256 "$W/flight.$((i + 1))" 2>/dev/null)" = "$(sha_of flight)" ] || bad=$((bad + 1))
done
check_eq "single-flight: 8 concurrent cold GETs all return the right bytes (failures)" 0 "$bad"
wait_idle
check_eq "single-flight: lota_fill_bytes_total grew by exactly the object size" \
	$((24 * MiB + 77)) "$(mdiff "$f0" "$(mval "$FILL")")"
get_check "single-flight: a later GET" flight hit

# --- read-after-write through lotad
get_check "raw-lotad: cold GET" raw-lotad miss
wait_idle
get_check "raw-lotad: cached" raw-lotad hit
mkobj raw-lotad "$OBJ" # same size, new bytes
check "raw-lotad: overwrite through lotad" put_lotad "$W/raw-lotad" raw-lotad
get_check "raw-lotad: GET after the overwrite through lotad returns the new bytes" raw-lotad -
wait_idle
get_check "raw-lotad: the new bytes are cached" raw-lotad hit

# --- read-after-write out of band (directly at radosgw, lotad never sees the PUT)
get_check "raw-direct: cold GET" raw-direct miss
wait_idle
get_check "raw-direct: cached" raw-direct hit
mkobj raw-direct "$OBJ"
check "raw-direct: overwrite directly at radosgw" put_direct "$W/raw-direct" raw-direct
get_check "raw-direct: GET after the out-of-band overwrite returns the new bytes" raw-direct -
check "raw-direct: that GET is not a hit of the old extent (x-lota-cache $XC)" test "$XC" != hit
wait_idle
get_check "raw-direct: the new bytes are cached" raw-direct hit
req alice HEAD "$E/$B/raw-direct"
check_eq "raw-direct: HEAD shows radosgw's current ETag" \
	"$(it_curl alice -sI "$R/$B/raw-direct" | tr -d '\r' | sed -n 's/^etag: //Ip')" "$ETAG"

# --- a PUT through lotad drops the old extents
get_check "put-drop: cold GET" put-drop miss
wait_idle
get_check "put-drop: cached" put-drop hit
e0=$(mval lota_cache_extents) b0=$(mval 'lota_cache_bytes{dir="0"}')
mkobj put-drop "$OBJ"
check "put-drop: overwrite through lotad" put_lotad "$W/put-drop" put-drop
drop_seen() { [ "$(mdiff "$e0" "$(mval lota_cache_extents)")" -lt 0 ] 2>/dev/null; }
it_wait_for 10 drop_seen
e1=$(mval lota_cache_extents) b1=$(mval 'lota_cache_bytes{dir="0"}')
check "put-drop: lota_cache_extents went down ($e0 -> $e1)" test "$(mdiff "$e0" "$e1" | sed 's/missing/0/')" -lt 0
check "put-drop: lota_cache_bytes{dir=0} went down ($b0 -> $b1)" test "$(mdiff "$b0" "$b1" | sed 's/missing/0/')" -lt 0
get_check "put-drop: GET after the PUT returns the new bytes" put-drop -

# --- DELETE through lotad
get_check "del-1: cold GET" del-1 miss
wait_idle
get_check "del-1: cached" del-1 hit
e0=$(mval lota_cache_extents)
req alice DELETE "$E/$B/del-1"
check_eq "del-1: DELETE through lotad" 204 "$ST"
req alice GET "$E/$B/del-1"
check_eq "del-1: GET after DELETE is 404" 404 "$ST"
check_eq "del-1: GET after DELETE is NoSuchKey" NoSuchKey "$(it_s3_code <"$W/body")"
req alice HEAD "$E/$B/del-1"
check_eq "del-1: HEAD after DELETE is 404" 404 "$ST"
it_wait_for 10 drop_seen
check "del-1: lota_cache_extents went down after DELETE ($e0 -> $(mval lota_cache_extents))" drop_seen

# --- Cache-Control: no-store and Pragma: no-cache: bypass, nothing filled
nofill_get() { # DESC KEY HEADER
	wait_idle
	local f0
	f0=$(mval "$FILL")
	get_check "$1" "$2" bypass -H "$3"
	wait_idle
	check_eq "$1: nothing filled" 0 "$(mdiff "$f0" "$(mval "$FILL")")"
}
nofill_get "Cache-Control: no-store on a cold object" nostore-1 "Cache-Control: no-store"
get_check "no-store left nothing: the next plain GET" nostore-1 miss
wait_idle
get_check "Cache-Control: no-store on a cached object is still a bypass" nostore-1 bypass \
	-H "Cache-Control: no-store"
nofill_get "Pragma: no-cache on a cold object" pragma-1 "Pragma: no-cache"
get_check "Pragma: no-cache left nothing: the next plain GET" pragma-1 miss

# --- Cache-Control: no-cache: a miss is not stored, a hit is served
wait_idle
f0=$(mval "$FILL")
get_check "no-cache on a cold object" nocache-1 miss -H "Cache-Control: no-cache"
wait_idle
check_eq "no-cache on a cold object: nothing filled" 0 "$(mdiff "$f0" "$(mval "$FILL")")"
get_check "no-cache again: still a miss (not stored)" nocache-1 miss -H "Cache-Control: no-cache"
get_check "plain GET of the no-cache object" nocache-1 miss
wait_idle
get_check "no-cache on a cached object is a hit" nocache-1 hit -H "Cache-Control: no-cache"

# --- below the minimum object size: never cached
mkobj small $((3 * MiB))
put_direct "$W/small" small || it_fail "upload small"
wait_idle
f0=$(mval "$FILL")
get_check "below min_object_size: first GET" small bypass
wait_idle
get_check "below min_object_size: second GET" small bypass
req alice HEAD "$E/$B/small"
check_eq "below min_object_size: HEAD x-lota-cache" bypass "$XC"
wait_idle
check_eq "below min_object_size: nothing filled" 0 "$(mdiff "$f0" "$(mval "$FILL")")"

# --- a plain HEAD pre-stages (default --prestage-on-head)
wait_idle
f0=$(mval "$FILL")
req alice HEAD "$E/$B/head-1"
check_eq "plain HEAD of a cold object: status" 200 "$ST"
check_eq "plain HEAD: Content-Length" "$OBJ" "$(hdr content-length)"
wait_filled "$f0" "$OBJ"
get_check "GET after a plain HEAD is a hit (pre-staged)" head-1 hit

# --- conditionals on a cached object: the same status as radosgw directly
get_check "cond-1: cold GET" cond-1 miss
wait_idle
get_check "cond-1: cached" cond-1 hit
ET=$ETAG
FUTURE=$(date -u -d '+2 days' '+%a, %d %b %Y %H:%M:%S GMT')
PAST=$(date -u -d '2001-01-01' '+%a, %d %b %Y %H:%M:%S GMT')
# no_obj_bytes BODY OBJECT: BODY is short and does not start like OBJECT.
no_obj_bytes() { [ "$(stat -c %s "$1")" -lt 4096 ] && ! cmp -s -n 32 "$1" "$2"; }
cond() { # METHOD HEADER EXPECTED_STATUS
	local m=$1 h=$2 want=$3 rst
	req alice "$m" "$R/$B/cond-1" -H "$h"
	rst=$ST
	req alice "$m" "$E/$B/cond-1" -H "$h"
	check_eq "cond-1 $m $h: radosgw says $want" "$want" "$rst"
	check_eq "cond-1 $m $h: lotad answers as radosgw" "$rst" "$ST"
	if [ "$m" = GET ] && [ "$ST" = 200 ]; then
		check_eq "cond-1 $m $h: bytes" "$(sha_of cond-1)" "$(body_sha)"
	fi
	if [ "$ST" = 304 ] || [ "$ST" = 412 ]; then
		check "cond-1 $m $h: no object bytes in the $ST body" no_obj_bytes "$W/body" "$W/cond-1"
	fi
}
for m in GET HEAD; do
	cond "$m" "If-None-Match: $ET" 304
	cond "$m" 'If-None-Match: "0123456789abcdef0123456789abcdef"' 200
	cond "$m" 'If-Match: "0123456789abcdef0123456789abcdef"' 412
	cond "$m" "If-Match: $ET" 200
	cond "$m" "If-Modified-Since: $FUTURE" 304
	cond "$m" "If-Modified-Since: $PAST" 200
	cond "$m" "If-Unmodified-Since: $PAST" 412
	cond "$m" "If-Unmodified-Since: $FUTURE" 200
done
req alice GET "$E/$B/cond-1" -H "If-Match: $ET" -H "Range: bytes=10-19"
check_eq "cond-1 If-Match + Range: 206" 206 "$ST"
check_eq "cond-1 If-Match + Range: bytes" "$(slice_sha "$W/cond-1" 10 10)" "$(body_sha)"
check_eq "cond-1 If-Match + Range: served from the cache" hit "$XC"

# ================================================================== B: multi-extent
IT_LOTAD_ARGS=(--cache-dir "$IT_DIR/cache-b:1GiB" --extent-size 8MiB --min-object-size 1MiB
	--no-prestage-on-head)
lotad_restart
it_log "set-up B: ${IT_LOTAD_ARGS[*]}"
M=$((20 * MiB + 12345)) # three extents of 8 MiB, the last one partial
for k in multi-1 multi-2 flight-b head-b0 head-b1; do
	mkobj "$k" "$M"
	put_direct "$W/$k" "$k" || it_fail "upload $k"
done

get_check "multi-extent: cold whole GET" multi-1 miss
wait_idle
get_check "multi-extent: second whole GET" multi-1 hit
v=$(mval lota_cache_extents)
check "multi-extent: three extents cached (lota_cache_extents = $v)" test "${v/missing/0}" -ge 3

E1=$((8 * MiB)) E2=$((16 * MiB))
RANGES=(
	"$((E1 - 100))-$((E1 + 99))"     # across the first extent boundary
	"$((E2 - 1))-$E2"                # the two bytes around the second boundary
	"1-$((M - 2))"                   # all three extents
	"$E1-$((E2 - 1))"                # exactly the middle extent
	"-1000"                          # suffix inside the last extent
	"-$((M - E1 + 5))"               # suffix across a boundary
	"-$((M + 100))"                  # suffix longer than the object
	"$((E2 - 10))-"                  # open range across a boundary
	"0-0"                            # the first byte
	"$((M - 1))-"                    # the last byte
	"$((M - 10))-$((M + 1000))"      # end past the size: clamped
	"$M-"                            # start at the size: 416
	"$((M + 5))-$((M + 10))"         # start past the size: 416
)
# range_pass KEY LABEL EXPECT_HIT: every range through lotad and at radosgw.
range_pass() {
	local k=$1 label=$2 hitp=$3 r rst rcr rsha rcode
	for r in "${RANGES[@]}"; do
		req alice GET "$R/$B/$k" -H "Range: bytes=$r"
		rst=$ST rcr=$CR rsha=$(body_sha) rcode=$(it_s3_code <"$W/body")
		req alice GET "$E/$B/$k" -H "Range: bytes=$r"
		check_eq "$label bytes=$r: status as radosgw" "$rst" "$ST"
		case $rst in
		206)
			check_eq "$label bytes=$r: Content-Range as radosgw" "$rcr" "$CR"
			check_eq "$label bytes=$r: bytes" "$rsha" "$(body_sha)"
			[ "$hitp" = hit ] && check_eq "$label bytes=$r: x-lota-cache" hit "$XC"
			;;
		200) check_eq "$label bytes=$r: bytes" "$(sha_of "$k")" "$(body_sha)" ;;
		*) check_eq "$label bytes=$r: error code as radosgw" "$rcode" "$(it_s3_code <"$W/body")" ;;
		esac
	done
}
range_pass multi-2 "multi-extent cold" -
wait_idle
get_check "multi-extent: whole GET after the ranges" multi-2 -
wait_idle
range_pass multi-2 "multi-extent cached" hit
range_pass multi-1 "multi-extent cached (whole-filled)" hit

# --- single-flight across extents
wait_idle
f0=$(mval "$FILL")
pids=()
for i in 1 2 3 4 5 6 7 8; do
	it_curl alice -sf -o "$W/flightb.$i" "$E/$B/flight-b" &
	pids+=($!)
done
bad=0
for i in "${!pids[@]}"; do
	wait "${pids[$i]}" || bad=$((bad + 1))
	[ "$(it_sha256 "$W/flightb.$((i + 1))" 2>/dev/null)" = "$(sha_of flight-b)" ] || bad=$((bad + 1))
done
check_eq "single-flight (3 extents): 8 concurrent cold GETs all right (failures)" 0 "$bad"
wait_idle
check_eq "single-flight (3 extents): lota_fill_bytes_total grew by exactly the object size" \
	"$M" "$(mdiff "$f0" "$(mval "$FILL")")"

# --- --no-prestage-on-head: a plain HEAD fills nothing; Range: bytes=0-0 still pre-stages
# lotad decides on a pre-stage (and counts a started fill) before it counts the HEAD as
# done: once the HEAD is counted, a wrong fill would show.
wait_idle
f0=$(mval "$FILL") s0=$(mval "$STARTED") n0=$(it_requests_done head_object)
req alice HEAD "$E/$B/head-b0"
check_eq "no-prestage: plain HEAD status" 200 "$ST"
check "no-prestage: lotad is done with the HEAD" it_wait_requests_done 30 head_object $((n0 + 1))
wait_idle
check_eq "no-prestage: a plain HEAD starts no fill" 0 "$(mdiff "$s0" "$(mval "$STARTED")")"
check_eq "no-prestage: a plain HEAD fills nothing" 0 "$(mdiff "$f0" "$(mval "$FILL")")"
get_check "no-prestage: GET after the plain HEAD is a miss" head-b0 miss
wait_idle
f0=$(mval "$FILL")
req alice HEAD "$E/$B/head-b1" -H "Range: bytes=0-0"
check "HEAD with Range: bytes=0-0: status 200 or 206 ($ST)" test "$ST" = 200 -o "$ST" = 206
wait_filled "$f0" "$M"
check_eq "HEAD with Range: bytes=0-0 pre-staged the whole object (fill bytes)" "$M" \
	"$(mdiff "$f0" "$(mval "$FILL")")"
get_check "GET after HEAD Range: bytes=0-0 is a hit" head-b1 hit

# ================================================================== C: degraded dir
TINY=$IT_DIR/tiny
tiny_umount() { mountpoint -q "$TINY" && umount "$TINY"; }
if [ "$(id -u)" -ne 0 ]; then
	echo "# SKIP (not root): the degraded cache dir check (tmpfs mount) did not run"
elif ! { mkdir -p "$TINY" && mount -t tmpfs -o size=6m,mode=0700 lota-it-tiny "$TINY"; }; then
	echo "# SKIP (mount -t tmpfs failed): the degraded cache dir check did not run"
else
	it_at_exit tiny_umount
	IT_LOTAD_ARGS=(--cache-dir "$TINY/c:1GiB" --extent-size 8MiB --min-object-size 1MiB)
	lotad_restart
	it_log "set-up C: ${IT_LOTAD_ARGS[*]} (a 6 MiB tmpfs)"
	mkobj deg $((32 * MiB + 1))
	put_direct "$W/deg" deg || it_fail "upload deg"
	for i in 1 2 3; do
		get_check "tiny cache dir: GET $i of a 32 MiB object" deg -
		wait_idle
	done
	req alice GET "$E/$B/deg" -H "Range: bytes=$((20 * MiB))-$((20 * MiB + 99))"
	check_eq "tiny cache dir: a range GET bytes" "$(slice_sha "$W/deg" $((20 * MiB)) 100)" "$(body_sha)"
	check "tiny cache dir: lota_cache_dir_degraded{dir=0} is 1" \
		it_wait_metric 10 'lota_cache_dir_degraded{dir="0"}' 1
	check "tiny cache dir: lotad is healthy" it_lotad_healthy
	v=$(find "$TINY/c" -name '*.tmp' 2>/dev/null | wc -l)
	check_eq "tiny cache dir: no temp file left by the failed fills" 0 "$v"
	lotad_stop
	tiny_umount
fi

# ------------------------------------------------------------------ every GET/HEAD
missing_xc=$(IFS=';' && echo "${NO_XC[*]}")
check_eq "x-lota-cache on every GET/HEAD answered by lotad ($NREQ seen; missing on)" "" "$missing_xc"
it_finish
