#!/usr/bin/env bash
# test_cache_crash.sh - lotad killed with SIGKILL while it fills its cache, over and over,
# on the same cache dir: no fill's temp file survives a restart, the rebuilt index matches
# the extent files on disk, and every object still reads back byte-exact. Then damaged
# extent files of an encrypted cache: a flipped byte in the sealed header, in the first
# data block, in a middle block (mid-stream of a hit) and under a range: the block tag
# fails, the extent is dropped and refetched, and the client still gets the right bytes.
#
# One cycle: 3 new objects (8-40 MiB: server-side copies, made at radosgw, of a pool of
# random objects) -> GETs (some rate-limited so they are still running), ranged GETs and
# HEADs (pre-stage) of them, each object's requests at a random moment, and a GET of an
# older object -> kill -9 lotad after a random 0-1.5 s -> restart it on the same cache
# dir (--extent-size 4MiB: every object is several extents) -> check: no temp file, the
# index, every new object and an older one byte-exact. Objects older than 3 cycles are
# deleted at radosgw, so many cycles fit in its RAM store and the 1 GiB cache evicts.
#
# Environment: LOTA_CRASH_CYCLES (default 20), LOTA_CRASH_SEED (default: random; printed).
# bench/cache_crash.sh runs this with 200 cycles.
# shellcheck source=lib.sh disable=SC2317 # (helpers run through check)
. "$(dirname "$0")/lib.sh"
[ "${LOTA_TEST_DIRECT:-0}" = 1 ] && it_skip "lotad-specific test (LOTA_TEST_DIRECT=1)"
it_require_rgw
it_require_cmd curl od dd
CYCLES=${LOTA_CRASH_CYCLES:-20}
SEED=${LOTA_CRASH_SEED:-$((($$ ^ $(date +%s)) & 32767))}
RANDOM=$SEED
C=$IT_DIR/cache
IT_LOTAD_ARGS=(--cache-dir "$C:1GiB" --extent-size 4MiB --min-object-size 1MiB)
it_setup
it_log "crash cycles: $CYCLES, seed $SEED (LOTA_CRASH_SEED=$SEED reproduces the sizes and delays)"

W=$IT_DIR/work
mkdir -p "$W"
B=lota-crash
E=$S3_ENDPOINT
R=$RGW_ENDPOINT
MiB=$((1024 * 1024))

KEYS=() SHAS=() SIZES=() # every object ever uploaded (index = object number)
LIVE_FROM=0              # objects below this number were deleted at radosgw

# rand N: RND = a random integer in [0, N). Not in a $(...) subshell: bash reseeds
# RANDOM there, and the seed would no longer reproduce a run.
rand() { RND=$(((RANDOM * 32768 + RANDOM) % $1)); }
tmp_files() { find "$C/tmp" -name '*.tmp' 2>/dev/null | wc -l; }
extent_files() { find "$C" -path "$C/tmp" -prune -o -type f -name '[0-9a-f]*' -print | wc -l; }
wait_idle() { it_wait_metric 30 lota_cache_fills_in_progress 0; }
# get_ok N: GET object N through lotad; true when the bytes are right. XC = x-lota-cache.
get_ok() {
	local out=$W/get.$1 st
	XC=
	st=$(it_curl alice -s -o "$out" -D "$W/get.hdr" -w '%{http_code}' "$E/$B/${KEYS[$1]}" 2>/dev/null)
	XC=$(tr -d '\r' <"$W/get.hdr" | sed -n 's/^x-lota-cache: //Ip')
	[ "$st" = 200 ] && [ "$(it_sha256 "$out")" = "${SHAS[$1]}" ]
	local rc=$?
	rm -f "$out"
	return $rc
}
# A pool of 8 random objects (8-40 MiB, sizes not a multiple of anything), uploaded once.
# A cycle's new objects are server-side copies of 3 different pool objects under new
# keys (fast: no body crosses HTTP): new keys are new cache keys, so they are cold.
POOL=8
# new_object N P: object N is a copy of pool object P.
new_object() {
	KEYS[$1]=obj-$1 SHAS[$1]=${POOL_SHA[$2]} SIZES[$1]=${POOL_SIZE[$2]}
	it_curl alice -sf -o /dev/null -X PUT -H "x-amz-copy-source: /$B/pool-$2" "$R/$B/${KEYS[$1]}"
}
check_eq "create bucket" 200 "$(it_curl alice -s -o /dev/null -w '%{http_code}' -X PUT "$E/$B")"
POOL_SHA=() POOL_SIZE=()
pids=()
for ((p = 0; p < POOL; p++)); do
	rand 33
	POOL_SIZE[p]=$(((8 + RND) * MiB))
	rand 65536
	POOL_SIZE[p]=$((POOL_SIZE[p] + RND + 1))
	it_random_file "$W/pool.$p" "${POOL_SIZE[p]}"
	POOL_SHA[p]=$(it_sha256 "$W/pool.$p")
	it_curl alice -sf -o /dev/null -T "$W/pool.$p" "$R/$B/pool-$p" &
	pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || it_die "upload of the object pool at radosgw failed"; done
rm -f "$W"/pool.*

MIDFILL=0     # kills that left temp files (a fill was cut)
INDEX_BAD=()  # cycles whose rebuilt index did not match the files
HITS_SEEN=0   # GETs of older objects after a restart that were hits
OLD_GETS=0
for ((cy = 1; cy <= CYCLES; cy++)); do
	# --- three new objects: copies of three different pool objects
	first=${#KEYS[@]}
	rand $POOL
	p=$RND
	for n in $first $((first + 1)) $((first + 2)); do
		new_object "$n" "$p" || it_die "cycle $cy: copy at radosgw failed"
		rand 2
		p=$(((p + 1 + RND) % POOL))
	done

	# --- load: GETs (every other one rate-limited), ranges, HEADs, an older object; each
	# object's requests start at their own random moment of the 1.5 s window, so the
	# kill lands in a fill more often than at the start or after the end of all of them
	pids=()
	for n in $first $((first + 1)) $((first + 2)); do
		lim=()
		rand 40
		[ $((n % 2)) = 0 ] && lim=(--limit-rate "$((20 + RND))M")
		rand $((SIZES[n] - 1000))
		off=$RND
		rand 1200
		d=$RND
		(
			sleep "$((d / 1000)).$(printf '%03d' $((d % 1000)))" # input: the start moment
			it_curl alice -s -o /dev/null "${lim[@]}" "$E/$B/${KEYS[$n]}" &
			it_curl alice -s -o /dev/null -H "Range: bytes=$off-$((off + 999))" "$E/$B/${KEYS[$n]}" &
			it_curl alice -s -o /dev/null -I "$E/$B/${KEYS[$n]}" &
			wait
		) >/dev/null 2>&1 &
		pids+=($!)
	done
	if [ "$first" -gt "$LIVE_FROM" ]; then
		rand $((first - LIVE_FROM))
		old=$((LIVE_FROM + RND))
		it_curl alice -s -o /dev/null "$E/$B/${KEYS[$old]}" >/dev/null 2>&1 &
		pids+=($!)
	fi
	rand 1501
	ms=$RND
	# The moment of the kill is the test's input (random, reproducible from the seed), not
	# a wait for an event: nothing is asserted about what happened before it.
	sleep "$((ms / 1000)).$(printf '%03d' $((ms % 1000)))"
	lotad_kill
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	t=$(tmp_files)
	[ "$t" -gt 0 ] && MIDFILL=$((MIDFILL + 1))

	# --- restart on the same cache dir
	lotad_restart
	check_eq "cycle $cy/$CYCLES (killed after $ms ms, $t fill temp files): no temp file after restart" \
		0 "$(tmp_files)"
	files=$(extent_files) idx=$(it_metric lota_cache_extents || echo missing)
	[ "$files" = "$idx" ] || INDEX_BAD+=("cycle $cy: $files files, lota_cache_extents $idx")

	# --- every object of this cycle (cold, partly filled or cached before the kill) and
	# an older one (cached before: hits from extents that survived the kills)
	bad=()
	for n in $first $((first + 1)) $((first + 2)); do
		get_ok "$n" || bad+=("${KEYS[$n]} (x-lota-cache $XC)")
	done
	if [ "$first" -gt "$LIVE_FROM" ]; then
		rand $((first - LIVE_FROM))
		old=$((LIVE_FROM + RND))
		get_ok "$old" || bad+=("${KEYS[$old]} (older object, x-lota-cache $XC)")
		OLD_GETS=$((OLD_GETS + 1))
		[ "$XC" = hit ] && HITS_SEEN=$((HITS_SEEN + 1))
	fi
	check_eq "cycle $cy/$CYCLES: every object reads back byte-exact (wrong ones)" "" "${bad[*]}"

	# --- keep radosgw's RAM store small: objects older than 3 cycles go
	while [ $((LIVE_FROM + 9)) -le $((first + 2)) ]; do
		it_curl alice -s -o /dev/null -X DELETE "$R/$B/${KEYS[$LIVE_FROM]}"
		LIVE_FROM=$((LIVE_FROM + 1))
	done
done
check_eq "after each restart the index (lota_cache_extents) matches the extent files on disk" \
	"" "$(IFS=';' && echo "${INDEX_BAD[*]}")"
echo "# summary: $CYCLES kill -9 cycles, $MIDFILL killed with fills in progress (temp files present)," \
	"$HITS_SEEN/$OLD_GETS GETs of older objects were hits, seed $SEED"

# ------------------------------------------------------------------ damaged extents
# The extent file of a new single-extent object (3 MiB + 100 bytes < 4 MiB extents).
n=${#KEYS[@]}
KEYS[n]=flip SIZES[n]=$((3 * MiB + 100))
it_random_file "$W/flip" "${SIZES[n]}"
SHAS[n]=$(it_sha256 "$W/flip")
check "flip: upload" it_curl alice -sf -o /dev/null -T "$W/flip" "$R/$B/flip"
list_extents() { find "$C" -path "$C/tmp" -prune -o -type f -name '[0-9a-f]*' -print | sort; }
wait_idle
list_extents >"$W/before"
check "flip: cold GET" get_ok "$n"
wait_idle
check "flip: second GET" get_ok "$n"
check_eq "flip: the second GET is a hit" hit "$XC"
list_extents >"$W/after"
comm -13 "$W/before" "$W/after" >"$W/new"
check_eq "flip: exactly one new extent file" 1 "$(wc -l <"$W/new")"
F=$(head -n 1 "$W/new")
BLOCK=$((64 * 1024 + 16)) # a sealed block: 64 KiB of data + its 16-byte tag

# data_off: u32 big-endian at byte 32 of the header
data_off() { od -An -tu1 -j32 -N4 "$F" | awk '{ print (($1 * 256 + $2) * 256 + $3) * 256 + $4 }'; }
# flip_at OFFSET: invert one byte of the extent file in place.
flip_at() {
	local b
	b=$(od -An -tu1 -j"$1" -N1 "$F" | tr -d ' ')
	printf '%b' "\\$(printf '%03o' $((b ^ 255)))" | dd of="$F" bs=1 seek="$1" conv=notrunc status=none
}
# refill: make sure the object is cached again (the damaged extent was dropped).
refill() {
	wait_idle
	get_ok "$n" >/dev/null
	wait_idle
	get_ok "$n" >/dev/null
	[ -f "$F" ]
}

if [ -f "$F" ]; then
	DO=$(data_off)
	check "flip: data_off is sane ($DO)" test "$DO" -ge 64 -a "$DO" -lt 65536
	flips=(
		"a byte of the sealed header (the key)|70|"
		"a byte of the first data block|$((DO + 1000))|"
		"a byte of block 30 (mid-stream of a hit)|$((DO + 30 * BLOCK + 12345))|"
		"a byte of block 10 under a range GET|$((DO + 10 * BLOCK + 500))|$((10 * 65536))-$((10 * 65536 + 99999))"
	)
	for spec in "${flips[@]}"; do
		IFS='|' read -r what off rng <<<"$spec"
		check "flip $what: the object is cached again first" refill
		[ -f "$F" ] || continue
		flip_at "$off"
		if [ -n "$rng" ]; then
			a=${rng%-*} z=${rng#*-}
			st=$(it_curl alice -s -o "$W/range.out" -w '%{http_code}' -H "Range: bytes=$rng" "$E/$B/flip")
			check_eq "flip $what: range status" 206 "$st"
			check_eq "flip $what: range bytes right" \
				"$(tail -c +$((a + 1)) "$W/flip" | head -c $((z - a + 1)) | sha256sum | cut -d' ' -f1)" \
				"$(it_sha256 "$W/range.out")"
		else
			check "flip $what: GET returns the right bytes" get_ok "$n"
		fi
		wait_idle
		check "flip $what: the next GET returns the right bytes" get_ok "$n"
	done
	check "lotad is healthy after the damaged extents" it_lotad_healthy
fi
it_finish
