#!/usr/bin/env bash
# test_cache_parallel_fill.sh - a whole GET of a large cold object fills several of its
# extents at once from the upstream (--fill-streams chains of ranged GETs pinned with
# If-Match to the ETag the authorizing HEAD gave), while the client is served in order:
#
# 1. A cold 256 MiB + 12345-byte object (4 MiB extents: 65) read once with curl: the body
#    is byte-exact; 4 fill GETs ran at once (lota_cache_fill_transfers_max =
#    --fill-streams 4); one fill started per extent, none failed, no direct read; lotad
#    filled exactly the object's bytes (lota_fill_bytes_total) and radosgw sent exactly
#    the object's bytes for it (its access log: no byte fetched twice); a second read is
#    a hit. lotad runs with --fill-io sync-range and --relay-send coalesce (the other
#    cache tests run the defaults); bad values of both are refused at start.
# 2. An overwrite while such a fill runs: lotad is stopped (SIGSTOP) once its first fills
#    started, the object is overwritten at radosgw, lotad goes on (SIGCONT). The fills
#    still to start get 412 on their If-Match and fail cleanly (counted as failed):
#    the client's transfer is cut short and what it got is a prefix of the old version
#    (never a byte of the new one); the cache dir (encryption off here, so extents can be
#    compared) holds no extent with the new version's bytes besides the new version's
#    own after the next read, which returns the new version byte-exact. If lotad had
#    already asked for every extent when it was stopped (a machine far faster than this
#    one), the round is repeated with a fresh object, at most 3 times.
# shellcheck source=lib.sh disable=SC2317 # (helpers run through check)
. "$(dirname "$0")/lib.sh"
[ "${LOTA_TEST_DIRECT:-0}" = 1 ] && it_skip "lotad-specific test (LOTA_TEST_DIRECT=1)"
it_require_rgw
it_require_cmd curl
EXT=$((4 * 1024 * 1024))
IT_LOTAD_ARGS=(--cache-dir "$IT_DIR/cache:3GiB" --extent-size 4MiB --fill-streams 4
	--no-encrypt --log-level warn --fill-io sync-range --relay-send coalesce)
it_setup

# refused_with ARGS...: lotad stops at start (exit 2) naming the key.
refused_with() {
	local key=$1 out st=0
	shift
	out=$("$(it_lotad_bin)" --upstream "$RGW_ENDPOINT" --listen 127.0.0.1:1 "$@" 2>&1) || st=$?
	[ "$st" = 2 ] && grep -qF "config key \"$key\"" <<<"$out"
}
check "--fill-io direct is refused" refused_with fill_io --cache-dir "$IT_DIR/x:1GiB" --fill-io direct
check "--relay-send copy is refused" refused_with relay_send --relay-send copy

W=$IT_DIR/work
mkdir -p "$W"
B=lota-pfill
E=$S3_ENDPOINT
R=$RGW_ENDPOINT
MiB=$((1024 * 1024))
STARTED='lota_cache_fills_total{result="started"}'
FAILED='lota_cache_fills_total{result="failed"}'
FILLED=lota_fill_bytes_total
DIRECT=lota_cache_direct_reads_total
PEAK=lota_cache_fill_transfers_max
INPROG=lota_cache_fills_in_progress
RGW_LOG=$IT_RGW_DIR/log/client.rgw.a.log

m() { it_metric0 "$1"; }
hdr() { tr -d '\r' <"$1" | sed -n "s/^$2: //Ip" | tail -n 1; }
# rgw_bytes PATH: body bytes radosgw sent in 200/206 answers to GETs of PATH (its access
# lines: beast: 0x..: 127.0.0.1 - alice [date] "GET /b/k HTTP/1.1" 206 4194304 - ...).
rgw_bytes() {
	awk -v p="$1" '/ beast: / {
		n = split($0, q, "\"")
		if (n < 3) next
		split(q[2], r, " ")
		if (r[1] != "GET" || r[2] != p) next
		split(q[3], s, " ")
		if (s[1] == "200" || s[1] == "206") sum += s[2]
	} END { printf "%.0f\n", sum }' "$RGW_LOG" 2>/dev/null || echo 0
}
rgw_bytes_are() { [ "$(rgw_bytes "$1")" = "$2" ]; }

check_eq "create bucket" 200 "$(it_curl alice -s -o /dev/null -w '%{http_code}' -X PUT "$E/$B")"

# ------------------------------------------------------------ 1. parallel fill
size=$((256 * MiB + 12345))
next=$(((size + EXT - 1) / EXT))
it_random_file "$W/big" "$size"
want=$(it_sha256 "$W/big")
check "upload the big object at radosgw" it_curl alice -sf -o /dev/null -T "$W/big" "$R/$B/big"
s0=$(m "$STARTED") f0=$(m "$FAILED") b0=$(m "$FILLED") d0=$(m "$DIRECT")
st=$(it_curl alice -o "$W/got" -D "$W/got.h" -w '%{http_code}' "$E/$B/big" 2>/dev/null) || true
check_eq "cold read: 200, byte-exact" "200 $want" "$st $(it_sha256 "$W/got")"
check_eq "cold read: a miss" miss "$(hdr "$W/got.h" x-lota-cache)"
check "the fills end" it_wait_metric 120 "$INPROG" 0
check_eq "4 extents were fetched at once ($PEAK = --fill-streams)" 4 "$(m "$PEAK")"
check_eq "no fill transfer left (lota_cache_fill_transfers)" 0 "$(m lota_cache_fill_transfers)"
check_eq "one fill started per extent ($next), none failed" "$next 0" \
	"$(($(m "$STARTED") - s0)) $(($(m "$FAILED") - f0))"
check_eq "lotad filled the object's bytes once ($FILLED)" "$size" "$(($(m "$FILLED") - b0))"
check_eq "no direct read beside the fills ($DIRECT)" 0 "$(($(m "$DIRECT") - d0))"
check "radosgw sent the object's bytes once (access log)" \
	it_wait_for 20 rgw_bytes_are "/$B/big" "$size"
st=$(it_curl alice -o "$W/got" -D "$W/got.h" -w '%{http_code}' "$E/$B/big" 2>/dev/null) || true
check_eq "second read: a hit, byte-exact" "200 hit $want" \
	"$st $(hdr "$W/got.h" x-lota-cache) $(it_sha256 "$W/got")"
rm -f "$W/big" "$W/got"

# ------------------------------------------------------------ 2. overwrite mid-fill
# extent_shas FILE: the sha256 of each 4 MiB piece of FILE, one a line.
extent_shas() {
	local i n
	n=$(($(stat -c %s "$1") / EXT))
	for ((i = 0; i < n; i++)); do
		dd if="$1" bs="$EXT" skip="$i" count=1 status=none | sha256sum | cut -d' ' -f1
	done
}
# cached_files: every published extent file, one a line, sorted.
cached_files() {
	find "$IT_DIR/cache" -path "$IT_DIR/cache/tmp" -prune -o -type f \
		-regextype posix-extended -regex '.*/[0-9a-f]{32}' -print | sort
}
# data_shas: the sha256 of the data of each file named on stdin (plain extents of 4 MiB:
# the data is the last 4 MiB of the file, after its page-aligned header).
data_shas() {
	local f
	while read -r f; do tail -c "$EXT" "$f" | sha256sum | cut -d' ' -f1; done
}

exercised=0
for attempt in 1 2 3; do
	k=over-$attempt
	size=$((256 * MiB))
	it_random_file "$W/old" "$size"
	it_random_file "$W/new" "$size"
	check "attempt $attempt: upload the old version" \
		it_curl alice -sf -o /dev/null -T "$W/old" "$R/$B/$k"
	cached_files >"$W/before.files"
	s0=$(m "$STARTED") f0=$(m "$FAILED")
	it_curl alice -o "$W/got" -w '%{http_code}' "$E/$B/$k" >/dev/null 2>&1 &
	reader=$!
	# stop lotad as soon as its first fills started
	deadline=$((SECONDS + 60))
	while [ "$(m "$STARTED")" -le "$s0" ] && [ $SECONDS -lt $deadline ]; do :; done
	kill -STOP "$IT_LOTAD_PID"
	check "attempt $attempt: overwrite at radosgw while lotad is stopped" \
		it_curl alice -sf -o /dev/null -T "$W/new" "$R/$B/$k"
	kill -CONT "$IT_LOTAD_PID"
	wait "$reader" || true
	check "attempt $attempt: the fills end" it_wait_metric 120 "$INPROG" 0
	started=$(($(m "$STARTED") - s0)) failed=$(($(m "$FAILED") - f0))
	got=$(stat -c %s "$W/got")
	it_log "attempt $attempt: $started fills started, $failed failed, the client got" \
		"$got of $size bytes"
	# Whatever the timing, the client never has a byte of the new version: the old one
	# whole, or a transfer cut short holding a prefix of it.
	check "attempt $attempt: the client got a prefix of the old version only" \
		cmp -s -n "$got" "$W/got" "$W/old"
	if [ "$failed" -gt 0 ]; then
		exercised=1
		check "attempt $attempt: the transfer was cut short (not the whole object)" \
			test "$got" -lt "$size"
		break
	fi
	it_log "attempt $attempt: every extent was asked for before lotad was stopped; again"
done
check_eq "an overwrite made fills fail (within 3 attempts)" 1 "$exercised"
check "the upstream refused a fill on its If-Match (412 in lotad's log)" \
	grep -q "answered 412" "$IT_DIR/lotad.log"
s0=$(m "$STARTED") f0=$(m "$FAILED")
st=$(it_curl alice -o "$W/got" -D "$W/got.h" -w '%{http_code}' "$E/$B/$k" 2>/dev/null) || true
check_eq "after the overwrite: the new version, byte-exact, a miss" \
	"200 $(it_sha256 "$W/new") miss" "$st $(it_sha256 "$W/got") $(hdr "$W/got.h" x-lota-cache)"
check "the fills of the new version end" it_wait_metric 120 "$INPROG" 0
check_eq "the new version: one fill per extent, none failed" "$((256 * MiB / EXT)) 0" \
	"$(($(m "$STARTED") - s0)) $(($(m "$FAILED") - f0))"
# No stale extent: each extent cached since the attempt holds one 4 MiB piece of the old
# or of the new version, and no piece twice, so no extent named for the old version holds
# bytes of the new one (the new version's extents hold them once).
extent_shas "$W/old" >"$W/old.shas"
extent_shas "$W/new" >"$W/new.shas"
cached_files | comm -13 "$W/before.files" - | data_shas | sort >"$W/cached.shas"
check_eq "each new extent holds a piece of the old or the new version" 0 \
	"$(sort -u "$W/old.shas" "$W/new.shas" | comm -23 <(sort -u "$W/cached.shas") - | wc -l)"
check_eq "no piece is cached twice (nothing of the new version under the old name)" 0 \
	"$(uniq -d "$W/cached.shas" | wc -l)"
check_eq "the new version is cached whole ($((256 * MiB / EXT)) extents)" \
	"$((256 * MiB / EXT))" "$(sort -u "$W/new.shas" | comm -12 "$W/cached.shas" - | wc -l)"
it_finish
