#!/usr/bin/env bash
# test_cache_label.sh - x-lota-cache says where the bytes came from: a read whose every
# byte comes from the local store is a hit, also when the extent's fill already holds
# every byte but is still being published (fdatasync + rename run on a background thread
# after the last byte); a read that waits on an upstream transfer is a miss. The counters
# lota_cache_hits_total / lota_cache_misses_total count the same way, and one cold read
# asks the store for each extent's fill once (lota_cache_fills_total{result="started"}).
#
# Six rounds, each with a fresh 64 MiB object (the default 64 MiB extent: one extent),
# uploaded at radosgw directly: a cold GET (miss), then at once, without waiting for the
# publication, a second GET: hit, and lota_bytes_served_total{source="upstream"} does not
# move during it. Then, once published, a third GET (hit). One more round with an object
# of 48 MiB + 333 bytes (its last 64 KiB block is short). Last, a cold object of three
# extents read once: exactly three fills started. Every body is compared by sha256.
# shellcheck source=lib.sh disable=SC2317 # (helpers run through check)
. "$(dirname "$0")/lib.sh"
[ "${LOTA_TEST_DIRECT:-0}" = 1 ] && it_skip "lotad-specific test (LOTA_TEST_DIRECT=1)"
it_require_rgw
it_require_cmd curl
IT_LOTAD_ARGS=(--cache-dir "$IT_DIR/cache:2GiB")
it_setup

W=$IT_DIR/work
mkdir -p "$W"
B=lota-label
E=$S3_ENDPOINT
R=$RGW_ENDPOINT
MiB=$((1024 * 1024))
ROUNDS=${LOTA_LABEL_ROUNDS:-6}

HITS=lota_cache_hits_total
MISSES=lota_cache_misses_total
UP='lota_bytes_served_total{source="upstream"}'
FROM_CACHE='lota_bytes_served_total{source="cache"}'
STARTED='lota_cache_fills_total{result="started"}'
INPROG=lota_cache_fills_in_progress

hdr() { tr -d '\r' <"$1" | sed -n "s/^$2: //Ip" | tail -n 1; }
# get KEY: GET through lotad as alice; sets ST (status), XC (x-lota-cache), SHA (of the
# body).
get() {
	: >"$W/body"
	: >"$W/hdr"
	ST=$(it_curl alice -o "$W/body" -D "$W/hdr" -w '%{http_code}' "$E/$B/$1" 2>/dev/null) || true
	XC=$(hdr "$W/hdr" x-lota-cache)
	SHA=$(it_sha256 "$W/body")
}
# twice KEY: two GETs of KEY back to back in one curl (no process start in between, so
# the second comes while the first one's fill is likely still being published), each
# followed by a snapshot of /metrics: $W/b1 $W/h1 $W/m1, then $W/b2 $W/h2 $W/m2. Sets ST1
# XC1 SHA1 and ST2 XC2 SHA2.
twice() {
	local sig metrics="http://127.0.0.1:$IT_LOTAD_ADMIN_PORT/metrics" n
	it_keys alice
	sig=(--aws-sigv4 "aws:amz:$RGW_REGION:s3" --user "$IT_AK:$IT_SK"
		-H "x-amz-content-sha256: UNSIGNED-PAYLOAD")
	rm -f "$W"/[bhm][12]
	timeout 300 curl -sS "${sig[@]}" -o "$W/b1" -D "$W/h1" "$E/$B/$1" \
		--next -sS -o "$W/m1" "$metrics" \
		--next -sS "${sig[@]}" -o "$W/b2" -D "$W/h2" "$E/$B/$1" \
		--next -sS -o "$W/m2" "$metrics" || true
	for n in 1 2; do
		touch "$W/b$n" "$W/h$n" "$W/m$n"
		printf -v "ST$n" '%s' "$(tr -d '\r' <"$W/h$n" | sed -n '1s/^HTTP\/[0-9.]* \([0-9]*\).*/\1/p')"
		printf -v "XC$n" '%s' "$(hdr "$W/h$n" x-lota-cache)"
		printf -v "SHA$n" '%s' "$(it_sha256 "$W/b$n")"
	done
}
# mval SERIES [FILE]: the metric's value now (or in a saved /metrics page), or "missing".
mval() {
	if [ $# -gt 1 ]; then
		awk -v s="$1" '$1 == s { print $2; found = 1; exit } END { exit !found }' "$2" ||
			echo missing
	else
		it_metric "$1" || echo missing
	fi
}
# mdiff OLD NEW: NEW - OLD, or "missing" when either is.
mdiff() {
	case "$1 $2" in
	*missing*) echo missing ;;
	*) echo $(($2 - $1)) ;;
	esac
}

check_eq "create bucket" 200 "$(it_curl alice -s -o /dev/null -w '%{http_code}' -X PUT "$E/$B")"

pending=0 rounds=0
for i in $(seq 1 "$ROUNDS") short; do
	k=obj-$i
	size=$((64 * MiB))
	[ "$i" = short ] && size=$((48 * MiB + 333))
	it_random_file "$W/$k" "$size"
	rounds=$((rounds + 1))
	want=$(it_sha256 "$W/$k")
	check "round $i: upload at radosgw" it_curl alice -sf -o /dev/null -T "$W/$k" "$R/$B/$k"
	h0=$(mval "$HITS") m0=$(mval "$MISSES") s0=$(mval "$STARTED")
	u0=$(mval "$UP") c0=$(mval "$FROM_CACHE")

	twice "$k"
	check_eq "round $i, cold read: 200, the bytes" "200 $want" "$ST1 $SHA1"
	check_eq "round $i, cold read: a miss" miss "$XC1"
	check_eq "round $i, cold read: its bytes counted by source once the client has them" \
		"$size" $(($(mdiff "$u0" "$(mval "$UP" "$W/m1")") + $(mdiff "$c0" "$(mval "$FROM_CACHE" "$W/m1")")))
	check_eq "round $i, second read at once: 200, the bytes" "200 $want" "$ST2 $SHA2"
	check_eq "round $i, second read at once: a hit (every byte from the store)" hit "$XC2"
	check_eq "round $i, second read: no byte from the upstream ($UP)" 0 \
		"$(mdiff "$(mval "$UP" "$W/m1")" "$(mval "$UP" "$W/m2")")"
	check_eq "round $i, second read: every byte from the cache ($FROM_CACHE)" "$size" \
		"$(mdiff "$(mval "$FROM_CACHE" "$W/m1")" "$(mval "$FROM_CACHE" "$W/m2")")"
	check_eq "round $i: one miss, then one hit counted ($MISSES, $HITS)" "1 0 1 1" \
		"$(mdiff "$m0" "$(mval "$MISSES" "$W/m1")") $(mdiff "$h0" "$(mval "$HITS" "$W/m1")") $(mdiff "$m0" "$(mval "$MISSES" "$W/m2")") $(mdiff "$h0" "$(mval "$HITS" "$W/m2")")"
	check_eq "round $i: one fill started, for the one extent ($STARTED)" 1 \
		"$(mdiff "$s0" "$(mval "$STARTED" "$W/m2")")"
	[ "$(mval "$INPROG" "$W/m1")" = 0 ] || pending=$((pending + 1))

	check "round $i: the fill is published" it_wait_metric 30 "$INPROG" 0
	get "$k"
	check_eq "round $i, third read (published): a hit with the bytes" "200 hit $want" \
		"$ST $XC $SHA"
	rm -f "$W/$k"
done
# Not asserted (it depends on the disk's speed): how often the fill was still being
# published when the second read began, the case the rounds are there for.
it_log "the fill was still being published when the second read began in $pending of $rounds rounds"

# A cold object of three extents (64 + 64 + 1 MiB) read once: one fill per extent.
k=obj-3x
it_random_file "$W/$k" $((129 * MiB))
want=$(it_sha256 "$W/$k")
check "3 extents: upload at radosgw" it_curl alice -sf -o /dev/null -T "$W/$k" "$R/$B/$k"
s0=$(mval "$STARTED")
get "$k"
check_eq "3 extents, cold read: 200, a miss, the bytes" "200 miss $want" "$ST $XC $SHA"
check "3 extents: the fills are published" it_wait_metric 60 "$INPROG" 0
check_eq "3 extents: exactly three fills started ($STARTED)" 3 "$(mdiff "$s0" "$(mval "$STARTED")")"
get "$k"
check_eq "3 extents, read again: 200, a hit, the bytes" "200 hit $want" "$ST $XC $SHA"
check_eq "3 extents: no fill started by the hit" 3 "$(mdiff "$s0" "$(mval "$STARTED")")"

it_finish
